//! ListOffsets (key 2): earliest (-2), latest (-1), max timestamp (-3),
//! earliest local (-4), and the first offset at or after a timestamp.
//!
//! Version 10 (KIP-1075) adds `TimeoutMs`, the longest a broker may wait
//! for offsets it must read from remote (tiered) storage. fjord keeps
//! every segment local, so each lookup is answered at once from the local
//! log and the timeout never has anything to bound. Version 0 stays
//! unserved: Kafka 4.0 removed it (KIP-896).
//!
//! With an authorizer, each topic needs DESCRIBE (else its partitions get
//! TOPIC_AUTHORIZATION_FAILED, whether it exists or not).

use std::sync::Arc;

use fjord_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use fjord_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::state::BrokerState;
use fjord_partition::Partition;

crate::handler!(ListOffsets, 1, 10);

pub const LATEST: i64 = -1;
pub const EARLIEST: i64 = -2;
pub const MAX_TIMESTAMP: i64 = -3;
pub const EARLIEST_LOCAL: i64 = -4;
pub const LATEST_TIERED: i64 = -5;

fn lookup(p: &Partition, timestamp: i64, read_committed: bool) -> Result<(i64, i64), ErrorCode> {
    // What a consumer of this isolation level may fetch.
    let fetchable = if read_committed {
        p.last_stable_offset()
    } else {
        p.high_watermark()
    };
    match timestamp {
        EARLIEST | EARLIEST_LOCAL => Ok((-1, p.log.log_start_offset())),
        // read_committed consumers see up to the last stable offset.
        LATEST if read_committed => Ok((-1, fetchable)),
        LATEST | LATEST_TIERED => Ok((-1, p.high_watermark())),
        MAX_TIMESTAMP => match p.log.max_timestamp_offset() {
            Ok(Some((offset, ts))) if offset < fetchable => Ok((ts, offset)),
            Ok(_) => Ok((-1, -1)),
            Err(e) => Err(fjord_protocol::ErrorCode::from(&e)),
        },
        ts if ts < 0 => Err(ErrorCode::InvalidRequest),
        ts => match p.log.offset_for_timestamp(ts) {
            Ok(Some((offset, found_ts))) if offset < fetchable => Ok((found_ts, offset)),
            Ok(_) => Ok((-1, -1)),
            Err(e) => Err(fjord_protocol::ErrorCode::from(&e)),
        },
    }
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let topic = state.topic(&t.name);
        let refused = !ctx.allowed(&state, AclOperation::Describe, ResourceType::Topic, &t.name);
        let mut parts = Vec::with_capacity(t.partitions.len());
        for rp in t.partitions {
            let mut r = ListOffsetsPartitionResponse {
                partition_index: rp.partition_index,
                error_code: ErrorCode::None.code(),
                timestamp: -1,
                offset: -1,
                leader_epoch: -1,
                ..Default::default()
            };
            if refused {
                r.error_code = ErrorCode::TopicAuthorizationFailed.code();
                parts.push(r);
                continue;
            }
            let p = topic.as_ref().and_then(|t| {
                usize::try_from(rp.partition_index)
                    .ok()
                    .and_then(|i| t.partitions.get(i))
            });
            let Some(p) = p else {
                r.error_code = ErrorCode::UnknownTopicOrPartition.code();
                parts.push(r);
                continue;
            };
            if let Some(cluster) = state.cluster() {
                if let Err(code) =
                    cluster.check_leader(&t.name, rp.partition_index, rp.current_leader_epoch)
                {
                    r.error_code = code.code();
                    parts.push(r);
                    continue;
                }
            }
            if rp.current_leader_epoch >= 0 && rp.current_leader_epoch != p.leader_epoch {
                r.error_code = if rp.current_leader_epoch < p.leader_epoch {
                    ErrorCode::FencedLeaderEpoch.code()
                } else {
                    ErrorCode::UnknownLeaderEpoch.code()
                };
                parts.push(r);
                continue;
            }
            match lookup(p, rp.timestamp, req.isolation_level == 1) {
                Ok((ts, offset)) => {
                    r.timestamp = ts;
                    r.offset = offset;
                    r.old_style_offsets = if offset >= 0 {
                        vec![offset]
                    } else {
                        Vec::new()
                    };
                    r.leader_epoch = if offset >= 0 { p.leader_epoch } else { -1 };
                }
                Err(code) => r.error_code = code.code(),
            }
            parts.push(r);
        }
        topics.push(ListOffsetsTopicResponse {
            name: t.name,
            partitions: parts,
            ..Default::default()
        });
    }
    ListOffsetsResponse {
        topics,
        ..Default::default()
    }
}
