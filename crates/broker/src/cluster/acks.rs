//! `acks=all` in cluster mode: a produce to a replicated partition is
//! answered once the partition's high watermark covers its batches, that
//! is once every in-sync replica holds them (Kafka's delayed produce).

use std::time::Duration;

use fjord_partition::Partition;
use fjord_protocol::ErrorCode;
use tokio::time::Instant;

use crate::state::BrokerState;

/// How often a waiting produce looks again without a wake-up (the ISR
/// and leadership change through the metadata image, not `data_version`).
const RECHECK: Duration = Duration::from_millis(100);

/// Waits until `partition`'s high watermark reaches `next_offset`.
/// NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank below `min_isr`
/// meanwhile, NOT_LEADER_OR_FOLLOWER if this broker stopped leading it,
/// REQUEST_TIMED_OUT at `deadline`.
pub async fn wait_replicated(
    state: &BrokerState,
    partition: &Partition,
    next_offset: i64,
    min_isr: usize,
    deadline: Instant,
) -> Result<(), ErrorCode> {
    let mut changes = state.data_version.subscribe();
    loop {
        changes.borrow_and_update();
        if partition.high_watermark() >= next_offset {
            return Ok(());
        }
        let Some(r) = partition.replication() else {
            return Ok(());
        };
        let current = state.partition(&partition.topic, partition.index);
        let replaced = current.is_none_or(|p| p.leader_epoch != partition.leader_epoch);
        if !r.is_leader() || replaced {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        if r.isr.len() < min_isr {
            return Err(ErrorCode::NotEnoughReplicasAfterAppend);
        }
        if Instant::now() >= deadline {
            return Err(ErrorCode::RequestTimedOut);
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep(RECHECK) => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}
