//! ISR changes proposed by partition leaders (Kafka's AlterPartition,
//! KIP-497, here a proposal through the quorum). Every [`TICK`], for each
//! partition this broker leads: ISR members not caught up for
//! `replica.lag.time.max.ms` are dropped, and replicas outside the ISR
//! whose log reached the high watermark (and this leader's first offset)
//! are added. The proposal names the partition and leader epochs this
//! broker saw, so a stale one is rejected whole when applied (the
//! compare-and-set of `MetadataRecord::AlterPartition`); the replay then
//! hands the new ISR to the partition, which bounds the high watermark.

use std::sync::Arc;
use std::time::Duration;

use fjord_metadata::records::{MetadataRecord, Uuid as MetaUuid};
use fjord_metadata::ProposeError;
use tokio::sync::watch;

use super::Cluster;
use crate::state::BrokerState;

/// How often the leaders look at their followers.
const TICK: Duration = Duration::from_millis(500);

/// Most ISR changes proposed together (one Raft entry).
const BATCH: usize = 512;

/// Proposes ISR changes until `stop`.
pub async fn run(state: Arc<BrokerState>, cluster: Arc<Cluster>, mut stop: watch::Receiver<bool>) {
    loop {
        let lag = state.config().cluster.replica_lag_time_max_ms;
        let proposals = changes(&state, &cluster, i64::try_from(lag).unwrap_or(i64::MAX));
        for chunk in proposals.chunks(BATCH) {
            propose(&state, &cluster, chunk).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Proposes `changes` as one entry (a broker that just restarted rejoins
/// thousands of ISRs at once: one commit each would take minutes). The
/// records apply all or none, so when one of them is stale (its partition
/// moved on meanwhile) the others are proposed again one by one.
async fn propose(state: &BrokerState, cluster: &Cluster, changes: &[Change]) {
    let before: Vec<usize> = changes
        .iter()
        .map(|(_, topic, partition, _)| {
            state
                .partition(topic, *partition)
                .and_then(|p| p.replication())
                .map_or(0, |r| r.isr.len())
        })
        .collect();
    let applied = |i: usize| {
        let (_, topic, partition, isr) = &changes[i];
        state.metrics.isr_changed(isr.len() < before[i]);
        tracing::info!(topic, partition, ?isr, "ISR changed");
    };
    let records = changes.iter().map(|c| c.0.clone()).collect();
    match cluster.quorum.propose(records).await {
        Ok(_) => (0..changes.len()).for_each(applied),
        Err(e) if changes.len() > 1 && matches!(e, ProposeError::Rejected { .. }) => {
            for (i, (record, topic, partition, _)) in changes.iter().enumerate() {
                match cluster.quorum.propose(vec![record.clone()]).await {
                    Ok(_) => applied(i),
                    Err(e) => {
                        tracing::debug!(topic, partition, error = %e, "ISR change not applied")
                    }
                }
            }
        }
        Err(e) => tracing::debug!(changes = changes.len(), error = %e, "ISR changes not applied"),
    }
}

/// An ISR change: (record, topic, partition, new ISR).
type Change = (MetadataRecord, String, i32, Vec<i32>);

/// The ISR changes due now: (record, topic, partition, new ISR).
fn changes(state: &BrokerState, cluster: &Cluster, lag_ms: i64) -> Vec<Change> {
    let now = fjord_storage::clock::now_ms();
    let image = cluster.image();
    let mut out = Vec::new();
    for topic in state.all_topics() {
        let Some(meta) = image.topic(&topic.name) else {
            continue;
        };
        for p in &topic.partitions {
            let Some(r) = p.replication() else { continue };
            if !r.is_leader() {
                continue;
            }
            // Propose only against the image's current state (the replay
            // has applied it here).
            let Some(current) = meta.partitions.get(&p.index) else {
                continue;
            };
            if current.partition_epoch != r.partition_epoch
                || current.leader_epoch != p.leader_epoch
            {
                continue;
            }
            let epoch_start = p
                .log
                .epoch_entries()
                .iter()
                .find(|e| e.epoch == p.leader_epoch)
                .map_or(p.high_watermark(), |e| e.start_offset);
            let lagging = r.lagging(now, lag_ms);
            let joining = r.caught_up_outside_isr(p.high_watermark(), epoch_start);
            if lagging.is_empty() && joining.is_empty() {
                continue;
            }
            let mut isr: Vec<i32> = r
                .isr
                .iter()
                .filter(|b| !lagging.contains(b))
                .copied()
                .collect();
            isr.extend(joining.iter().filter(|b| image.is_alive(**b)));
            if isr == r.isr {
                continue;
            }
            out.push((
                MetadataRecord::AlterPartition {
                    topic_id: MetaUuid(topic.id.0),
                    partition: p.index,
                    leader_epoch: p.leader_epoch,
                    partition_epoch: r.partition_epoch,
                    isr: isr.clone(),
                },
                topic.name.clone(),
                p.index,
                isr,
            ));
        }
    }
    out
}
