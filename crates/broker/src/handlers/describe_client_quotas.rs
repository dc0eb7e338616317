//! DescribeClientQuotas (key 48): the quotas of the entities that match
//! the filter's components (exact name, `<default>`, or any), `strict`
//! keeping only entities with no other part, as Kafka filters them. A bad
//! filter (a type named twice, an exact match without a name, an unknown
//! match type) gets INVALID_REQUEST with no entries.
//!
//! With an authorizer, as Kafka: DESCRIBE_CONFIGS on the cluster, else
//! CLUSTER_AUTHORIZATION_FAILED.

use std::sync::Arc;

use fjord_protocol::messages::describe_client_quotas_response::{EntityData, EntryData, ValueData};
use fjord_protocol::messages::{DescribeClientQuotasRequest, DescribeClientQuotasResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::AclOperation;
use crate::quotas::store::{matches, parse_filter};
use crate::state::BrokerState;

crate::handler!(DescribeClientQuotas, 0, 1);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: DescribeClientQuotasRequest,
) -> DescribeClientQuotasResponse {
    if !ctx.allowed_on_cluster(&state, AclOperation::DescribeConfigs) {
        return DescribeClientQuotasResponse {
            error_code: ErrorCode::ClusterAuthorizationFailed.code(),
            error_message: Some("Cluster authorization failed.".into()),
            ..Default::default()
        };
    }
    let parts: Vec<(String, i8, Option<String>)> = req
        .components
        .iter()
        .map(|c| (c.entity_type.clone(), c.match_type, c.r#match.clone()))
        .collect();
    let filter = match parse_filter(&parts) {
        Ok(f) => f,
        Err(m) => {
            return DescribeClientQuotasResponse {
                error_code: ErrorCode::InvalidRequest.code(),
                error_message: Some(m),
                entries: None,
                ..Default::default()
            }
        }
    };
    let quotas = state.quotas.quotas();
    let entries = quotas
        .iter()
        .filter(|(entity, _)| matches(entity, &filter, req.strict))
        .map(|(entity, values)| EntryData {
            entity: entity
                .wire()
                .into_iter()
                .map(|(entity_type, entity_name)| EntityData {
                    entity_type,
                    entity_name,
                    ..Default::default()
                })
                .collect(),
            values: values
                .iter()
                .map(|(key, value)| ValueData {
                    key: key.clone(),
                    value: *value,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    DescribeClientQuotasResponse {
        error_code: ErrorCode::None.code(),
        error_message: None,
        entries: Some(entries),
        ..Default::default()
    }
}
