//! Automatic preferred-leader rebalancing (Kafka's
//! `auto.leader.rebalance.enable`): every
//! `leader.imbalance.check.interval.seconds`, the active controller moves
//! leadership back to each partition's preferred replica (its first) where
//! that broker is alive and in the ISR and the share of its preferred
//! partitions led elsewhere is above
//! `leader.imbalance.per.broker.percentage`
//! (`fjord_metadata::reassign::rebalance_records`). A broker that was
//! killed and came back thus gets its leadership back without an admin
//! call. Settings are read at each round.

use std::sync::Arc;
use std::time::Duration;

use fjord_metadata::reassign::rebalance_records;
use tokio::sync::watch;

use super::Cluster;
use crate::state::BrokerState;

/// Rebalances leadership while this node is the active controller, until
/// `stop`.
pub async fn run(state: Arc<BrokerState>, cluster: Arc<Cluster>, mut stop: watch::Receiver<bool>) {
    loop {
        let settings = state.config().cluster.clone();
        let interval = Duration::from_secs(settings.leader_imbalance_check_interval_s.max(1));
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
        if !settings.auto_leader_rebalance || !cluster.quorum.is_leader() {
            continue;
        }
        let records = rebalance_records(&cluster.image(), settings.leader_imbalance_per_broker_pct);
        if records.is_empty() {
            continue;
        }
        let count = records.len();
        // Each election on its own: one refused (the replica fell out of
        // the ISR meanwhile) does not hold back the others.
        let mut moved = 0;
        for record in records {
            if cluster.quorum.propose(vec![record]).await.is_ok() {
                moved += 1;
            }
        }
        tracing::info!(
            moved,
            of = count,
            "leadership rebalanced to preferred replicas"
        );
    }
}
