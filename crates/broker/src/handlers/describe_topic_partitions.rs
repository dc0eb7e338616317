//! DescribeTopicPartitions (key 75, KIP-966): the paged topic description
//! Kafka 4.0 admin clients use. Topics are named or all (an empty list),
//! answered in name order; at most `ResponsePartitionLimit` partitions go
//! in one response (capped by Kafka's `max.request.partition.size.limit`
//! default, at least 1), and `NextCursor` names the topic and partition to
//! resume from. A `Cursor` in the request starts there: named topics
//! before it are skipped, and it must name one of the listed topics.
//! A named topic that does not exist gets UNKNOWN_TOPIC_OR_PARTITION
//! (INVALID_TOPIC_EXCEPTION for an illegal name); when listing all topics
//! there is nothing to miss. Every topic entry carries its authorized
//! operations, as Kafka's handler fills them unconditionally. With an
//! authorizer, a listing holds only topics the principal may DESCRIBE, and
//! a named topic without DESCRIBE gets TOPIC_AUTHORIZATION_FAILED whether
//! it exists or not.

use std::collections::BTreeSet;
use std::sync::Arc;

use fjord_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use fjord_protocol::messages::{DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse};
use fjord_protocol::{ErrorCode, Uuid};

use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::state::{is_internal_topic, validate_topic_name, BrokerState, Topic};

crate::handler!(DescribeTopicPartitions, 0, 0);

/// Kafka's `max.request.partition.size.limit` default: the most
/// partitions one response describes, whatever the client asks.
pub const MAX_PARTITIONS_PER_RESPONSE: i32 = 2000;

/// The answer to a malformed request: every named topic with `code`.
fn refuse(
    req: &DescribeTopicPartitionsRequest,
    code: ErrorCode,
) -> DescribeTopicPartitionsResponse {
    DescribeTopicPartitionsResponse {
        topics: req
            .topics
            .iter()
            .map(|t| DescribeTopicPartitionsResponseTopic {
                error_code: code.code(),
                name: Some(t.name.clone()),
                topic_id: Uuid::ZERO,
                is_internal: false,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn partition_entry(
    state: &BrokerState,
    t: &Topic,
    index: usize,
) -> Option<DescribeTopicPartitionsResponsePartition> {
    let p = t.partitions.get(index)?;
    Some(DescribeTopicPartitionsResponsePartition {
        error_code: ErrorCode::None.code(),
        partition_index: p.index,
        leader_id: state.node_id,
        leader_epoch: p.leader_epoch,
        replica_nodes: vec![state.node_id],
        isr_nodes: vec![state.node_id],
        // One replica, always in sync: no eligible leader replicas (KIP-966)
        // beyond the ISR, none last known, none offline.
        eligible_leader_replicas: Some(Vec::new()),
        last_known_elr: Some(Vec::new()),
        offline_replicas: Vec::new(),
        ..Default::default()
    })
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    let all_topics = req.topics.is_empty();
    let cursor_topic = req.cursor.as_ref().map_or("", |c| c.topic_name.as_str());
    let names: BTreeSet<String> = if all_topics {
        state
            .all_topics()
            .iter()
            .map(|t| t.name.clone())
            .filter(|n| n.as_str() >= cursor_topic)
            .filter(|n| ctx.visible(&state, AclOperation::Describe, ResourceType::Topic, n))
            .collect()
    } else {
        req.topics
            .iter()
            .map(|t| t.name.clone())
            .filter(|n| n.as_str() >= cursor_topic)
            .collect()
    };
    let cursor_partition = match &req.cursor {
        None => 0,
        Some(c) if !all_topics && !names.contains(&c.topic_name) => {
            tracing::debug!(cursor = %c.topic_name, "DescribeTopicPartitions cursor topic not among the listed topics");
            return refuse(&req, ErrorCode::InvalidRequest);
        }
        Some(c) if c.partition_index < 0 => {
            tracing::debug!(
                partition = c.partition_index,
                "DescribeTopicPartitions cursor partition is negative"
            );
            return refuse(&req, ErrorCode::InvalidRequest);
        }
        Some(c) => c.partition_index,
    };
    let limit = req
        .response_partition_limit
        .clamp(1, MAX_PARTITIONS_PER_RESPONSE);
    let mut remaining = usize::try_from(limit).unwrap_or(1);
    let mut topics = Vec::new();
    let mut next_cursor = None;
    for name in names {
        if remaining == 0 {
            // Every earlier topic is complete: resume at this one's start.
            next_cursor = Some(Cursor {
                topic_name: name,
                partition_index: 0,
                ..Default::default()
            });
            break;
        }
        if !all_topics && !ctx.allowed(&state, AclOperation::Describe, ResourceType::Topic, &name) {
            topics.push(DescribeTopicPartitionsResponseTopic {
                error_code: ErrorCode::TopicAuthorizationFailed.code(),
                topic_authorized_operations: ctx.authorized_operations(
                    &state,
                    ResourceType::Topic,
                    &name,
                ),
                name: Some(name),
                topic_id: Uuid::ZERO,
                ..Default::default()
            });
            continue;
        }
        let Some(t) = state.topic(&name) else {
            if !all_topics {
                let code = if validate_topic_name(&name).is_err() {
                    ErrorCode::InvalidTopicException
                } else {
                    ErrorCode::UnknownTopicOrPartition
                };
                topics.push(DescribeTopicPartitionsResponseTopic {
                    error_code: code.code(),
                    is_internal: is_internal_topic(&name),
                    topic_authorized_operations: ctx.authorized_operations(
                        &state,
                        ResourceType::Topic,
                        &name,
                    ),
                    name: Some(name),
                    topic_id: Uuid::ZERO,
                    ..Default::default()
                });
            }
            continue;
        };
        let start = if name == cursor_topic {
            usize::try_from(cursor_partition).unwrap_or(0)
        } else {
            0
        };
        let count = t.partitions.len();
        let end = count.min(start.saturating_add(remaining));
        let partitions: Vec<_> = (start..end)
            .filter_map(|i| partition_entry(&state, &t, i))
            .collect();
        remaining = remaining.saturating_sub(partitions.len());
        topics.push(DescribeTopicPartitionsResponseTopic {
            error_code: ErrorCode::None.code(),
            name: Some(t.name.clone()),
            topic_id: t.id,
            is_internal: t.internal,
            partitions,
            topic_authorized_operations: ctx.authorized_operations(
                &state,
                ResourceType::Topic,
                &t.name,
            ),
            ..Default::default()
        });
        if end < count {
            next_cursor = Some(Cursor {
                topic_name: name,
                partition_index: i32::try_from(end).unwrap_or(i32::MAX),
                ..Default::default()
            });
            break;
        }
    }
    DescribeTopicPartitionsResponse {
        topics,
        next_cursor,
        ..Default::default()
    }
}
