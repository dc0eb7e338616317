//! Partition reassignment in the broker (KIP-455; the decisions are
//! `fjord_metadata::reassign`'s). Two parts:
//!
//! - [`run`], on the active controller: after every committed image it
//!   proposes the completion of each reassignment whose new replicas are
//!   all in the ISR (the leader adds them through AlterPartition once they
//!   caught up, `isr.rs`). The record is a compare-and-set on the
//!   partition epoch, so one decided over a stale image is rejected and
//!   decided again over the next.
//! - [`drop_removed_replicas`], called by the replay for every image: a
//!   partition whose replicas no longer include this broker (it was
//!   removed by a completed or cancelled reassignment) has its local log
//!   deleted and an empty one put in its place (every broker keeps a local
//!   log per partition in this step; see ARCHITECTURE.md). A log found at
//!   start for a partition this broker is not a replica of (removed while
//!   it was down) is deleted too, as Kafka's stray-replica cleanup.

use std::sync::Arc;
use std::time::Duration;

use fjord_metadata::image::TopicImage;
use fjord_metadata::reassign::complete_reassignments;
use fjord_metadata::MetadataImage;
use tokio::sync::watch;

use super::Cluster;
use crate::state::BrokerState;

/// How often the loop looks again when no image arrives.
const TICK: Duration = Duration::from_secs(1);

/// Completes reassignments while this node is the active controller, until
/// `stop`.
pub async fn run(cluster: Arc<Cluster>, mut stop: watch::Receiver<bool>) {
    let mut images = cluster.quorum.subscribe();
    loop {
        if cluster.quorum.is_leader() {
            // One proposal per partition: a stale one does not hold back
            // the others.
            for record in complete_reassignments(&cluster.image()) {
                match cluster.quorum.propose(vec![record]).await {
                    Ok(_) => tracing::info!("partition reassignment completed"),
                    Err(e) => {
                        tracing::debug!(error = %e, "reassignment completion not applied")
                    }
                }
            }
        }
        tokio::select! {
            changed = images.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(TICK) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Whether broker `node` is a replica of partition `index` of `topic` in
/// `image`.
fn is_replica(image: &MetadataImage, topic: &TopicImage, index: i32, node: i32) -> bool {
    image
        .partition(topic.id, index)
        .is_some_and(|p| p.replicas.contains(&node))
}

/// Deletes the local logs of `topic`'s partitions this broker stopped
/// replicating between `previous` and `image` (see the module header);
/// false if a deletion failed (logged; the replay retries the image).
pub fn drop_removed_replicas(
    state: &BrokerState,
    node: i32,
    topic: &TopicImage,
    image: &MetadataImage,
    previous: Option<&MetadataImage>,
) -> bool {
    let Some(local) = state.topic(&topic.name) else {
        return true;
    };
    let mut ok = true;
    for index in topic.partitions.keys() {
        if is_replica(image, topic, *index, node) {
            continue;
        }
        let Some(part) = usize::try_from(*index)
            .ok()
            .and_then(|i| local.partitions.get(i))
        else {
            continue;
        };
        let removed = match previous {
            Some(prev) => prev
                .topics
                .get(&topic.id)
                .is_some_and(|t| is_replica(prev, t, *index, node)),
            // At start: a stray log of a replica removed while this
            // broker was down.
            None => part.log.log_end_offset() > 0,
        };
        if !removed {
            continue;
        }
        // The topic may have been replaced by an earlier partition's reset.
        let Some(current) = state.topic(&topic.name) else {
            continue;
        };
        match state.reset_partition(&current, *index) {
            Ok(()) => tracing::info!(
                topic = %topic.name,
                partition = index,
                "deleted the local log of a replica this broker no longer holds"
            ),
            Err(e) => {
                tracing::error!(topic = %topic.name, partition = index, error = %e, "deleting a removed replica's log failed");
                ok = false;
            }
        }
    }
    ok
}
