//! DescribeCluster (key 60): the cluster id, this node as the only broker
//! and as the controller, and the cluster's authorized operations when
//! asked for (with an authorizer, as Kafka: 0 without DESCRIBE on the
//! cluster; the request itself needs no ACL).

use std::sync::Arc;

use fjord_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use fjord_protocol::messages::{DescribeClusterRequest, DescribeClusterResponse};
use fjord_protocol::ErrorCode;

use super::metadata::{broker_endpoint, CLUSTER_NAME};
use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType, NOT_REQUESTED};
use crate::state::BrokerState;

crate::handler!(DescribeCluster, 0, 1);

/// `EndpointType` ids (v1+).
const ENDPOINT_BROKER: i8 = 1;
const ENDPOINT_CONTROLLER: i8 = 2;

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let refuse = |v1_code: ErrorCode, message: String| DescribeClusterResponse {
        error_code: if ctx.api_version == 0 {
            ErrorCode::InvalidRequest
        } else {
            v1_code
        }
        .code(),
        error_message: Some(message),
        endpoint_type: ENDPOINT_BROKER,
        ..Default::default()
    };
    match req.endpoint_type {
        ENDPOINT_BROKER => {}
        ENDPOINT_CONTROLLER => {
            return refuse(
                ErrorCode::MismatchedEndpointType,
                "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"
                    .into(),
            )
        }
        other => return refuse(ErrorCode::UnsupportedEndpointType, format!("Unsupported endpoint type {other}")),
    }
    let (host, port) = broker_endpoint(&state, &ctx);
    let (brokers, controller_id) = match state.cluster() {
        Some(cluster) => (
            cluster
                .live_brokers(&ctx.listener)
                .into_iter()
                .map(|b| DescribeClusterBroker {
                    broker_id: b.id,
                    host: b.host,
                    port: b.port,
                    rack: b.rack,
                    ..Default::default()
                })
                .collect(),
            cluster.controller_id().unwrap_or(-1),
        ),
        None => (
            vec![DescribeClusterBroker {
                broker_id: state.node_id,
                host,
                port,
                rack: None,
                ..Default::default()
            }],
            state.node_id,
        ),
    };
    DescribeClusterResponse {
        error_code: ErrorCode::None.code(),
        error_message: None,
        endpoint_type: ENDPOINT_BROKER,
        cluster_id: state.cluster_id.clone(),
        controller_id,
        brokers,
        cluster_authorized_operations: if !req.include_cluster_authorized_operations {
            NOT_REQUESTED
        } else if ctx.allowed_on_cluster(&state, AclOperation::Describe) {
            ctx.authorized_operations(&state, ResourceType::Cluster, CLUSTER_NAME)
        } else {
            0
        },
        ..Default::default()
    }
}
