//! FindCoordinator (key 10): on one node this node coordinates every
//! consumer group and every transactional id (key type 1; the first lookup
//! creates `__transaction_state`, as in Kafka). In cluster mode the leader
//! of the key's `__consumer_offsets` / `__transaction_state` partition
//! does, and the first lookup creates the topic through the quorum (see
//! `cluster/coordinators.rs`).
//!
//! With an authorizer, as Kafka: a group key needs DESCRIBE on the group
//! (else GROUP_AUTHORIZATION_FAILED), a transactional id DESCRIBE on it
//! (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED).

use std::sync::Arc;

use fjord_protocol::messages::find_coordinator_response::Coordinator;
use fjord_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use fjord_protocol::ErrorCode;

use super::metadata::broker_endpoint;
use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::cluster::coordinators;
use crate::state::BrokerState;

crate::handler!(FindCoordinator, 0, 6);

fn lookup(
    state: &BrokerState,
    ctx: &RequestCtx,
    key_type: i8,
    key: &str,
) -> (ErrorCode, Option<String>, i32, String, i32) {
    let refused = |code: ErrorCode| (code, Some(code.name().to_string()), -1, String::new(), -1);
    match key_type {
        0 if !ctx.allowed(state, AclOperation::Describe, ResourceType::Group, key) => {
            return refused(ErrorCode::GroupAuthorizationFailed)
        }
        1 if !ctx.allowed(
            state,
            AclOperation::Describe,
            ResourceType::TransactionalId,
            key,
        ) =>
        {
            return refused(ErrorCode::TransactionalIdAuthorizationFailed)
        }
        _ => {}
    }
    // Cluster mode: the leader of the key's internal partition.
    if let (Some(cluster), Some(topic)) = (state.cluster(), coordinators::topic_of(key_type)) {
        let leader = coordinators::coordinator_of(cluster, topic, key).and_then(|id| {
            crate::cluster::live_brokers(&cluster.image(), &ctx.listener)
                .into_iter()
                .find(|b| b.id == id)
                .ok_or(ErrorCode::CoordinatorNotAvailable)
        });
        return match leader {
            Ok(b) => (ErrorCode::None, None, b.id, b.host, b.port),
            Err(code) => (
                code,
                Some(format!("no live leader of the {topic} partition yet")),
                -1,
                String::new(),
                -1,
            ),
        };
    }
    match key_type {
        0 | 1 if key_type == 0 || state.txns.is_ready() => {
            let (host, port) = broker_endpoint(state, ctx);
            (ErrorCode::None, None, state.node_id, host, port)
        }
        1 if !state.txns.is_ready() => (
            ErrorCode::CoordinatorNotAvailable,
            Some("the transaction state topic is not available".into()),
            -1,
            String::new(),
            -1,
        ),
        _ => (
            ErrorCode::InvalidRequest,
            Some(format!("unknown coordinator key type {key_type}")),
            -1,
            String::new(),
            -1,
        ),
    }
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let key_type = if ctx.api_version >= 1 {
        req.key_type
    } else {
        0
    };
    // Failure shows as COORDINATOR_NOT_AVAILABLE below.
    match (state.cluster(), coordinators::topic_of(key_type)) {
        (Some(cluster), Some(topic)) => coordinators::ensure_topic(&state, cluster, topic).await,
        (None, Some(_)) if key_type == 1 => {
            let _ = crate::txn_io::ensure_single_node_topic(&state).await;
        }
        _ => {}
    }
    if ctx.api_version >= 4 {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|key| {
                let (code, msg, node_id, host, port) = lookup(&state, &ctx, key_type, key);
                Coordinator {
                    key: key.clone(),
                    node_id,
                    host,
                    port,
                    error_code: code.code(),
                    error_message: msg,
                    ..Default::default()
                }
            })
            .collect();
        return FindCoordinatorResponse {
            coordinators,
            ..Default::default()
        };
    }
    let (code, msg, node_id, host, port) = lookup(&state, &ctx, key_type, &req.key);
    FindCoordinatorResponse {
        error_code: code.code(),
        error_message: msg,
        node_id,
        host,
        port,
        ..Default::default()
    }
}
