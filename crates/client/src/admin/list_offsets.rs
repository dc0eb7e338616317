//! ListOffsets: the earliest, latest or first-after-a-timestamp offset of
//! partitions, asked of each partition's leader and retried while
//! leadership moves.

use std::collections::BTreeMap;

use fjord_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use fjord_protocol::messages::ListOffsetsRequest;
use fjord_protocol::{ErrorCode, Request};

use super::{backoff, RETRIES};
use crate::client::{Client, Target};
use crate::error::{ClientError, Result};
use crate::{expect_response, versions};

/// Which offset ListOffsets should find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The high watermark (the last stable offset under read_committed).
    Latest,
    /// The first offset whose timestamp is at or after this (ms).
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::Timestamp(t) => t,
        }
    }
}

fn is_leader_change(e: &ClientError) -> bool {
    matches!(
        e.code(),
        Some(ErrorCode::LeaderNotAvailable | ErrorCode::NotLeaderOrFollower)
    ) || matches!(e, ClientError::Io { .. } | ClientError::Timeout { .. })
}

impl Client {
    /// ListOffsets on each partition's leader: partition → (offset,
    /// timestamp). For [`OffsetSpec::Timestamp`] the offset is -1 when no
    /// record is that recent.
    pub async fn list_offsets(
        &mut self,
        topic: &str,
        partitions: &[i32],
        spec: OffsetSpec,
        read_committed: bool,
    ) -> Result<BTreeMap<i32, (i64, i64)>> {
        let mut attempt = 0;
        loop {
            match self
                .list_offsets_once(topic, partitions, spec, read_committed)
                .await
            {
                Err(e) if is_leader_change(&e) && attempt < RETRIES => {
                    tracing::debug!(error = %e, "list offsets: retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn list_offsets_once(
        &mut self,
        topic: &str,
        partitions: &[i32],
        spec: OffsetSpec,
        read_committed: bool,
    ) -> Result<BTreeMap<i32, (i64, i64)>> {
        let info = self.topic(topic).await?;
        let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for &p in partitions {
            let Some(pi) = info.partition(p) else {
                return Err(ClientError::Other(format!(
                    "topic {topic} has no partition {p} (it has {})",
                    info.partitions.len()
                )));
            };
            if pi.leader < 0 {
                return Err(ClientError::Kafka {
                    context: format!("partition {topic}-{p}"),
                    code: ErrorCode::LeaderNotAvailable.code(),
                    message: None,
                });
            }
            by_leader.entry(pi.leader).or_default().push(p);
        }
        let mut out = BTreeMap::new();
        for (leader, parts) in by_leader {
            let req = ListOffsetsRequest {
                replica_id: -1,
                isolation_level: i8::from(read_committed),
                topics: vec![ListOffsetsTopic {
                    name: topic.to_string(),
                    partitions: parts
                        .iter()
                        .map(|&p| ListOffsetsPartition {
                            partition_index: p,
                            current_leader_epoch: -1,
                            timestamp: spec.wire(),
                            max_num_offsets: 1,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                timeout_ms: self.timeout_ms(),
                ..Default::default()
            };
            let (_, resp) = self
                .send(
                    Target::Node(leader),
                    Request::ListOffsets(req),
                    versions::LIST_OFFSETS,
                    None,
                )
                .await?;
            let resp = expect_response!(resp, ListOffsets);
            for t in resp.topics {
                for p in t.partitions {
                    if let Some(e) = ClientError::from_code(
                        format!("partition {topic}-{}", p.partition_index),
                        p.error_code,
                        None,
                    ) {
                        return Err(e);
                    }
                    out.insert(p.partition_index, (p.offset, p.timestamp));
                }
            }
        }
        for &p in partitions {
            if !out.contains_key(&p) {
                return Err(ClientError::Other(format!(
                    "partition {topic}-{p}: missing from the ListOffsets response"
                )));
            }
        }
        Ok(out)
    }
}
