//! OffsetDelete (key 47): deletes committed offsets of topics the group
//! is not subscribed to (any, when the group is Empty).

use std::sync::Arc;

use fjord_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use fjord_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};
use fjord_protocol::ErrorCode;

use super::{now_ms, RequestCtx};
use crate::groups::wait_durable;
use crate::state::BrokerState;

crate::handler!(OffsetDelete, 0, 0);

async fn handle(
    state: Arc<BrokerState>,
    _ctx: RequestCtx,
    req: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let mut wanted = Vec::new();
    let mut slots = Vec::new();
    for t in &req.topics {
        let topic = state.topic(&t.name);
        let mut row = Vec::new();
        for p in &t.partitions {
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
