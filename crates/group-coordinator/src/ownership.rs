//! Which `__consumer_offsets` partitions this coordinator owns. On one node
//! it owns them all (`load`); in a cluster it owns those whose replica this
//! broker leads: it loads a partition's groups and offsets when it becomes
//! its leader (Kafka's `onElection`) and drops them when it stops leading it
//! (`onResignation`). Answers held for a dropped group's members are
//! dropped with it, so their handlers answer with their fallback error.

use std::collections::BTreeMap;
use std::sync::Arc;

use fjord_partition::Partition;
use fjord_protocol::internal_topics::partition_for;
use fjord_protocol::ErrorCode;

use crate::GroupCoordinator;

/// The owned partitions, by index, out of `count`.
#[derive(Default)]
pub(crate) struct OffsetsPartitions {
    /// The topic's partition count (what group ids hash over); 0 = none
    /// at all, memory only.
    count: i32,
    by_index: BTreeMap<i32, Arc<Partition>>,
}

impl OffsetsPartitions {
    /// Every partition of the topic (one node).
    pub(crate) fn all(partitions: Vec<Arc<Partition>>) -> OffsetsPartitions {
        OffsetsPartitions {
            count: partitions.len() as i32,
            by_index: partitions.into_iter().map(|p| (p.index, p)).collect(),
        }
    }

    /// See [`GroupCoordinator::offsets_partition`].
    pub(crate) fn for_group(&self, group_id: &str) -> Result<Option<Arc<Partition>>, ErrorCode> {
        if self.count == 0 {
            return Ok(None);
        }
        let index = partition_for(group_id, self.count);
        match self.by_index.get(&index) {
            Some(p) => Ok(Some(p.clone())),
            None => Err(ErrorCode::NotCoordinator),
        }
    }

    /// Partition `index`, if owned.
    pub(crate) fn get(&self, index: i32) -> Option<Arc<Partition>> {
        self.by_index.get(&index).cloned()
    }
}

impl GroupCoordinator {
    /// Becomes the coordinator of the groups in `partition` (one of
    /// `count`): replays its log and owns it. Blocking (reads the log).
    pub fn load_partition(&self, partition: Arc<Partition>, count: i32, now: i64) {
        let index = partition.index;
        let Ok(mut groups) = self.groups.lock() else {
            return;
        };
        let (offsets, consumer_records) =
            self.replay(&mut groups, std::slice::from_ref(&partition), now);
        groups.retain(|id, g| {
            partition_for(id, count) != index
                || !g.members.is_empty()
                || !g.offsets.is_empty()
                || g.generation > 0
        });
        drop(groups);
        self.consumer_load(consumer_records, now);
        if let Ok(mut p) = self.partitions.write() {
            p.count = count;
            p.by_index.insert(index, partition);
        }
        tracing::info!(
            partition = index,
            offsets,
            "loaded a __consumer_offsets partition"
        );
    }

    /// Stops coordinating the groups of partition `index`: forgets them,
    /// their pending transactional offsets and the partition.
    pub fn unload_partition(&self, index: i32) {
        let count = match self.partitions.write() {
            Ok(mut p) => {
                p.by_index.remove(&index);
                p.count
            }
            Err(_) => return,
        };
        if count == 0 {
            return;
        }
        let gone = |id: &str| partition_for(id, count) == index;
        let consumer = self.consumer_unload(gone);
        let Ok(mut groups) = self.groups.lock() else {
            return;
        };
        let before = groups.len();
        groups.retain(|id, _| !gone(id));
        let classic = before - groups.len();
        if let Ok(mut pending) = self.txn_offsets.lock() {
            pending.drop_partition(index);
        }
        tracing::info!(
            partition = index,
            groups = classic + consumer,
            "unloaded a __consumer_offsets partition"
        );
    }

    /// Whether this coordinator owns the partition of `group_id` (always
    /// true when it has no partitions at all, memory only).
    pub fn owns(&self, group_id: &str) -> bool {
        self.partitions
            .read()
            .is_ok_and(|p| p.for_group(group_id).is_ok())
    }
}
