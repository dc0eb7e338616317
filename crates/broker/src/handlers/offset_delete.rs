//! OffsetDelete (key 47): deletes committed offsets of topics the group
//! is not subscribed to (any, when the group is Empty).
//!
//! With an authorizer, as Kafka: DELETE on the group (else
//! GROUP_AUTHORIZATION_FAILED) and READ on each topic (else its partitions
//! get TOPIC_AUTHORIZATION_FAILED).

use std::sync::Arc;

use fjord_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use fjord_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};
use fjord_protocol::ErrorCode;

use super::{now_ms, RequestCtx};
use crate::acl::{AclOperation, ResourceType};
use crate::groups::wait_durable;
use crate::state::BrokerState;

crate::handler!(OffsetDelete, 0, 0);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    if !ctx.allowed(
        &state,
        AclOperation::Delete,
        ResourceType::Group,
        &req.group_id,
    ) {
        return OffsetDeleteResponse {
            error_code: ErrorCode::GroupAuthorizationFailed.code(),
            ..Default::default()
        };
    }
    let mut wanted = Vec::new();
    let mut slots = Vec::new();
    for t in &req.topics {
        let topic = state.topic(&t.name);
        let refused = !ctx.allowed(&state, AclOperation::Read, ResourceType::Topic, &t.name);
        let mut row = Vec::new();
        for p in &t.partitions {
            if refused {
                row.push(Err(ErrorCode::TopicAuthorizationFailed));
                continue;
            }
            let exists = topic.as_ref().is_some_and(|tp| {
                p.partition_index >= 0 && (p.partition_index as usize) < tp.partitions.len()
            });
            if exists {
                row.push(Ok(wanted.len()));
                wanted.push((t.name.clone(), p.partition_index));
            } else {
                row.push(Err(ErrorCode::UnknownTopicOrPartition));
            }
        }
        slots.push(row);
    }
    let (top, errors, durable) = state
        .groups
        .delete_offsets(&req.group_id, &wanted, now_ms());
    let sync = wait_durable(&state, durable).await;
    let top = if top == ErrorCode::None { sync } else { top };
    if top != ErrorCode::None {
        return OffsetDeleteResponse {
            error_code: top.code(),
            ..Default::default()
        };
    }
    OffsetDeleteResponse {
        error_code: ErrorCode::None.code(),
        topics: req
            .topics
            .iter()
            .zip(slots)
            .map(|(t, row)| OffsetDeleteResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .zip(row)
                    .map(|(p, slot)| OffsetDeleteResponsePartition {
                        partition_index: p.partition_index,
                        error_code: match slot {
                            Ok(i) => errors.get(i).copied().unwrap_or(ErrorCode::None).code(),
                            Err(e) => e.code(),
                        },
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
