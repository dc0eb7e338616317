//! DescribeProducers (key 61), version 0: the active producers of each
//! partition from its producer-state table (epoch, last sequence and
//! timestamp, and the first offset of an open transaction).
//!
//! With an authorizer, as Kafka: READ on each topic, else its partitions
//! get TOPIC_AUTHORIZATION_FAILED (whether it exists or not).

use std::sync::Arc;

use fjord_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use fjord_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::state::BrokerState;

crate::handler!(DescribeProducers, 0, 0);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            (
                t,
                !ctx.allowed(&state, AclOperation::Read, ResourceType::Topic, &t.name),
            )
        })
        .map(|(t, refused)| TopicResponse {
            name: t.name.clone(),
            partitions: t
                .partition_indexes
                .iter()
                .map(|&i| {
                    if refused {
                        return PartitionResponse {
                            partition_index: i,
                            error_code: ErrorCode::TopicAuthorizationFailed.code(),
                            ..Default::default()
                        };
                    }
                    let Some(p) = state.partition(&t.name, i) else {
                        return PartitionResponse {
                            partition_index: i,
                            error_code: ErrorCode::UnknownTopicOrPartition.code(),
                            ..Default::default()
                        };
                    };
                    let entries = p.producers.lock().map(|s| s.entries()).unwrap_or_default();
                    PartitionResponse {
                        partition_index: i,
                        error_code: ErrorCode::None.code(),
                        active_producers: entries
                            .into_iter()
                            .map(|(pid, e)| ProducerState {
                                producer_id: pid,
                                producer_epoch: i32::from(e.epoch),
                                last_sequence: e.batches.back().map_or(-1, |b| b.last_seq),
                                last_timestamp: e.last_timestamp,
                                coordinator_epoch: e.coordinator_epoch,
                                current_txn_start_offset: e.txn_first_offset.unwrap_or(-1),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    DescribeProducersResponse {
        topics,
        ..Default::default()
    }
}
