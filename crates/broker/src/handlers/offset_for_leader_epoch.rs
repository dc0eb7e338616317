//! OffsetForLeaderEpoch (key 23): the end offset of a leader epoch, which
//! consumers use to detect log truncation after a leader change.
//!
//! With an authorizer, as Kafka: CLUSTER_ACTION on the cluster allows every
//! topic; otherwise each topic needs DESCRIBE (else its partitions get
//! TOPIC_AUTHORIZATION_FAILED).

use std::sync::Arc;

use fjord_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use fjord_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::state::BrokerState;

crate::handler!(OffsetForLeaderEpoch, 2, 4);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let replica = ctx.visible(
        &state,
        AclOperation::ClusterAction,
        ResourceType::Cluster,
        crate::acl::CLUSTER_NAME,
    );
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let refused = !replica
                && !ctx.allowed(
                    &state,
                    AclOperation::Describe,
                    ResourceType::Topic,
                    &t.topic,
                );
            let partitions = t
                .partitions
                .iter()
                .map(|rp| {
                    let mut r = EpochEndOffset {
                        error_code: ErrorCode::None.code(),
                        partition: rp.partition,
                        leader_epoch: -1,
                        end_offset: -1,
                        ..Default::default()
                    };
                    if refused {
                        r.error_code = ErrorCode::TopicAuthorizationFailed.code();
                        return r;
                    }
                    let Some(p) = state.partition(&t.topic, rp.partition) else {
                        r.error_code = ErrorCode::UnknownTopicOrPartition.code();
                        return r;
                    };
                    if rp.current_leader_epoch >= 0 && rp.current_leader_epoch != p.leader_epoch {
                        r.error_code = if rp.current_leader_epoch < p.leader_epoch {
                            ErrorCode::FencedLeaderEpoch.code()
                        } else {
                            ErrorCode::UnknownLeaderEpoch.code()
                        };
                        return r;
                    }
                    if rp.leader_epoch >= p.leader_epoch {
                        // The current epoch ends at the log end.
                        r.leader_epoch = p.leader_epoch;
                        r.end_offset = p.log.log_end_offset();
                    } else if let Some((epoch, end)) = p.log.end_offset_for_epoch(rp.leader_epoch) {
                        r.leader_epoch = epoch;
                        r.end_offset = end;
                    }
                    r
                })
                .collect();
            OffsetForLeaderTopicResult {
                topic: t.topic,
                partitions,
                ..Default::default()
            }
        })
        .collect();
    OffsetForLeaderEpochResponse {
        topics,
        ..Default::default()
    }
}
