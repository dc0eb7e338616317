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
use tokio::sync::watch;

use super::Cluster;
use crate::state::BrokerState;

/// How often the leaders look at their followers.
const TICK: Duration = Duration::from_millis(500);

/// Proposes ISR changes until `stop`.
pub async fn run(state: Arc<BrokerState>, cluster: Arc<Cluster>, mut stop: watch::Receiver<bool>) {
    loop {
        let lag = state.config().cluster.replica_lag_time_max_ms;
        let proposals = changes(&state, &cluster, i64::try_from(lag).unwrap_or(i64::MAX));
        for (record, topic, partition, isr) in proposals {
            let before = state
                .partition(&topic, partition)
                .and_then(|p| p.replication())
                .map_or(0, |r| r.isr.len());
            match cluster.quorum.propose(vec![record]).await {
                Ok(_) => {
                    state.metrics.isr_changed(isr.len() < before);
                    tracing::info!(topic, partition, ?isr, "ISR changed")
                }
                Err(e) => tracing::debug!(topic, partition, error = %e, "ISR change not applied"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The ISR changes due now: (record, topic, partition, new ISR).
fn changes(
    state: &BrokerState,
    cluster: &Cluster,
    lag_ms: i64,
) -> Vec<(MetadataRecord, String, i32, Vec<i32>)> {
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
