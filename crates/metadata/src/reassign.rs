//! Partition reassignment (KIP-455), automatic preferred-leader
//! rebalancing and broker unregistration: the controller's decisions as
//! pure functions over a [`MetadataImage`], and the image's side of the
//! [`MetadataRecord::ReassignPartition`] record.
//!
//! A reassignment follows Kafka's KRaft controller. Asked to move a
//! partition from its replicas `R` to a target `T`, the controller writes
//! replicas `T ++ (R − T)`, adding `T − R`, removing `R − T`: the new
//! replicas join the replica set and fetch from the leader, the leader adds
//! them to the ISR once caught up (AlterPartition), and as soon as every
//! adding replica is in the ISR (and an ISR member outside the removing
//! ones remains) the controller completes it: replicas `T`, ISR without the
//! removed ones, a new leader from the target when the old one leaves, the
//! leader epoch bumped when a replica leaves (so it is fenced). Cancelling
//! (a null target) reverts to the original replicas `R`. A move that needs
//! no catch-up (a reordering, a pure removal) completes in one record.
//!
//! Nothing here does I/O: the broker's cluster module proposes what these
//! functions return, and [`apply`] re-checks each record when it commits.

use crate::controller::{fence_broker_records, ElectionType};
use crate::image::{check_partition, ImageError, MetadataImage, PartitionImage};
use crate::records::{MetadataRecord, Uuid};

/// Why a reassignment could not be started or cancelled (Kafka's error
/// code in brackets).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReassignError {
    /// UNKNOWN_TOPIC_OR_PARTITION (3).
    #[error("unknown topic or partition")]
    UnknownPartition,
    /// INVALID_REPLICA_ASSIGNMENT (39).
    #[error("{0}")]
    InvalidAssignment(String),
    /// NO_REASSIGNMENT_IN_PROGRESS (85).
    #[error("no partition reassignment is in progress")]
    NoReassignmentInProgress,
}

/// Whether a reassignment is in progress on the partition.
pub fn in_progress(p: &PartitionImage) -> bool {
    !p.adding_replicas.is_empty() || !p.removing_replicas.is_empty()
}

/// The partition's replicas before the reassignment in progress (its
/// replicas when none is).
pub fn original_replicas(p: &PartitionImage) -> Vec<i32> {
    without(&p.replicas, &p.adding_replicas)
}

/// The replicas the reassignment in progress moves to (its replicas when
/// none is).
pub fn target_replicas(p: &PartitionImage) -> Vec<i32> {
    without(&p.replicas, &p.removing_replicas)
}

/// `list` without the members of `drop`, in order.
fn without(list: &[i32], drop: &[i32]) -> Vec<i32> {
    list.iter().copied().filter(|b| !drop.contains(b)).collect()
}

/// Checks a requested target as Kafka's controller does: not empty, no
/// duplicate, every broker registered.
pub fn validate_target(image: &MetadataImage, target: &[i32]) -> Result<(), ReassignError> {
    let invalid = |why: String| Err(ReassignError::InvalidAssignment(why));
    if target.is_empty() {
        return invalid("the replica list is empty".into());
    }
    let mut sorted = target.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != target.len() {
        return invalid(format!("duplicate replicas in {target:?}"));
    }
    if let Some(b) = target.iter().find(|b| !image.brokers.contains_key(b)) {
        return invalid(format!(
            "the assignment includes broker {b}, but no such broker is registered"
        ));
    }
    Ok(())
}

/// The record that starts (target `Some`), replaces or cancels (target
/// `None`) the reassignment of one partition; Ok(None) when the partition
/// is already where it is asked to be.
pub fn reassign_records(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    target: Option<&[i32]>,
) -> Result<Option<MetadataRecord>, ReassignError> {
    let t = image.topic(topic).ok_or(ReassignError::UnknownPartition)?;
    let state = t
        .partitions
        .get(&partition)
        .ok_or(ReassignError::UnknownPartition)?;
    let original = original_replicas(state);
    let next = match target {
        Some(target) => {
            validate_target(image, target)?;
            let mut replicas = target.to_vec();
            replicas.extend(original.iter().copied().filter(|b| !target.contains(b)));
            let mut next = state.clone();
            next.isr = state
                .isr
                .iter()
                .copied()
                .filter(|b| replicas.contains(b))
                .collect();
            next.adding_replicas = without(target, &original);
            next.removing_replicas = without(&original, target);
            next.replicas = replicas;
            next
        }
        None => {
            if !in_progress(state) {
                return Err(ReassignError::NoReassignmentInProgress);
            }
            let mut next = state.clone();
            next.isr = without(&state.isr, &state.adding_replicas);
            if next.isr.is_empty() {
                return Err(ReassignError::InvalidAssignment(
                    "cannot cancel: none of the original replicas is in sync".into(),
                ));
            }
            next.replicas = original;
            next.adding_replicas.clear();
            next.removing_replicas.clear();
            next
        }
    };
    let next = settle(image, complete(next));
    Ok(record_for(t.id, partition, state, next))
}

/// The records that complete every reassignment whose adding replicas
/// are all in sync (the active controller proposes them after each image).
pub fn complete_reassignments(image: &MetadataImage) -> Vec<MetadataRecord> {
    let mut records = Vec::new();
    for topic in image.topics.values() {
        for (partition, state) in &topic.partitions {
            if !in_progress(state) {
                continue;
            }
            let next = complete(state.clone());
            if in_progress(&next) {
                continue;
            }
            if let Some(r) = record_for(topic.id, *partition, state, settle(image, next)) {
                records.push(r);
            }
        }
    }
    records
}

/// `p` with its reassignment completed when every adding replica is in
/// the ISR and the ISR keeps a member outside the removing ones (as
/// Kafka's `PartitionReassignmentReplicas.maybeCompleteReassignment`);
/// `p` unchanged otherwise.
fn complete(mut p: PartitionImage) -> PartitionImage {
    if !in_progress(&p) {
        return p;
    }
    let isr = without(&p.isr, &p.removing_replicas);
    if isr.is_empty() || !p.adding_replicas.iter().all(|b| isr.contains(b)) {
        return p;
    }
    p.replicas = target_replicas(&p);
    p.isr = isr;
    p.adding_replicas.clear();
    p.removing_replicas.clear();
    p
}

/// `p` with a valid leader: the current one if it is still a replica, in
/// the ISR and alive, else the first replica in replica order that is
/// (-1 when none is).
fn settle(image: &MetadataImage, mut p: PartitionImage) -> PartitionImage {
    let valid = |b: i32| p.replicas.contains(&b) && p.isr.contains(&b) && image.is_alive(b);
    if p.leader >= 0 && valid(p.leader) {
        return p;
    }
    p.leader = p.replicas.iter().copied().find(|b| valid(*b)).unwrap_or(-1);
    p
}

/// The `ReassignPartition` record moving `from` to `to`; None if nothing
/// changes.
fn record_for(
    topic_id: Uuid,
    partition: i32,
    from: &PartitionImage,
    to: PartitionImage,
) -> Option<MetadataRecord> {
    if to == *from {
        return None;
    }
    Some(MetadataRecord::ReassignPartition {
        topic_id,
        partition,
        partition_epoch: from.partition_epoch,
        replicas: to.replicas,
        isr: to.isr,
        leader: to.leader,
        adding_replicas: to.adding_replicas,
        removing_replicas: to.removing_replicas,
    })
}

/// Applies a [`MetadataRecord::ReassignPartition`] to `image`; any other
/// record is left alone. On error the image is unchanged.
pub(crate) fn apply(image: &mut MetadataImage, record: &MetadataRecord) -> Result<(), ImageError> {
    let MetadataRecord::ReassignPartition {
        topic_id,
        partition,
        partition_epoch,
        replicas,
        isr,
        leader,
        adding_replicas,
        removing_replicas,
    } = record
    else {
        return Ok(());
    };
    let current = image.partition_mut(*topic_id, *partition)?;
    if current.partition_epoch != *partition_epoch {
        return Err(ImageError::StalePartitionEpoch {
            current: current.partition_epoch,
            given: *partition_epoch,
        });
    }
    if let Some(b) = isr.iter().find(|b| !current.isr.contains(b)) {
        return Err(ImageError::InvalidPartition(format!(
            "a reassignment never adds to the ISR (broker {b})"
        )));
    }
    let mut next = current.clone();
    next.replicas = replicas.clone();
    next.isr = isr.clone();
    next.adding_replicas = adding_replicas.clone();
    next.removing_replicas = removing_replicas.clone();
    let shrinks = current.replicas.iter().any(|b| !replicas.contains(b));
    if *leader != current.leader || shrinks {
        next.leader_epoch = next.leader_epoch.saturating_add(1);
    }
    next.leader = *leader;
    next.partition_epoch = next.partition_epoch.saturating_add(1);
    check_partition(&next)?;
    check_reassignment(&next)?;
    *current = next;
    Ok(())
}

/// The reassignment invariants: adding and removing replicas are
/// replicas, distinct from each other, and some replica stays.
fn check_reassignment(p: &PartitionImage) -> Result<(), ImageError> {
    let invalid = |why: String| Err(ImageError::InvalidPartition(why));
    let outside = |list: &[i32]| list.iter().find(|b| !p.replicas.contains(b)).copied();
    if let Some(b) = outside(&p.adding_replicas).or(outside(&p.removing_replicas)) {
        return invalid(format!("reassigned broker {b} is not a replica"));
    }
    if let Some(b) = p
        .adding_replicas
        .iter()
        .find(|b| p.removing_replicas.contains(b))
    {
        return invalid(format!("broker {b} is both added and removed"));
    }
    if p.removing_replicas.len() >= p.replicas.len() {
        return invalid("a reassignment cannot remove every replica".into());
    }
    Ok(())
}

/// Automatic preferred-leader rebalancing (Kafka's
/// `auto.leader.rebalance.enable`): for every broker whose share of
/// partitions it prefers (is the first replica of) but does not lead
/// exceeds `imbalance_percentage` percent, the records electing it back
/// where it is alive and in the ISR. Partitions under reassignment are
/// left alone, as Kafka's controller does.
pub fn rebalance_records(image: &MetadataImage, imbalance_percentage: u32) -> Vec<MetadataRecord> {
    use std::collections::BTreeMap;
    /// A broker's preferred partitions: how many, and (topic, partition)
    /// of those it does not lead.
    type Preferred<'a> = (usize, Vec<(&'a str, i32)>);
    let mut counts: BTreeMap<i32, Preferred> = BTreeMap::new();
    for topic in image.topics.values() {
        for (partition, state) in &topic.partitions {
            let Some(&preferred) = state.replicas.first() else {
                continue;
            };
            let entry = counts.entry(preferred).or_default();
            entry.0 += 1;
            if state.leader != preferred && !in_progress(state) {
                entry.1.push((topic.name.as_str(), *partition));
            }
        }
    }
    let mut records = Vec::new();
    for (total, imbalanced) in counts.values() {
        if *total == 0 || imbalanced.len() * 100 <= *total * imbalance_percentage as usize {
            continue;
        }
        for (topic, partition) in imbalanced {
            let (_, record) =
                crate::controller::elect_leader(image, topic, *partition, ElectionType::Preferred);
            records.extend(record);
        }
    }
    records
}

/// Why a broker could not be unregistered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnregisterError {
    /// BROKER_ID_NOT_REGISTERED (102).
    #[error("broker {0} is not currently registered")]
    NotRegistered(i32),
}

/// The records that unregister broker `broker_id` (Kafka's KRaft
/// `unregisterBroker`): it leaves every ISR and leadership moves away as
/// when it is fenced, then its registration goes. Partitions keep its id
/// in their replicas (an offline replica until it registers again or the
/// partitions are reassigned).
pub fn unregister_broker_records(
    image: &MetadataImage,
    broker_id: i32,
    unclean_default: bool,
) -> Result<Vec<MetadataRecord>, UnregisterError> {
    let broker = image
        .brokers
        .get(&broker_id)
        .ok_or(UnregisterError::NotRegistered(broker_id))?;
    let mut records: Vec<MetadataRecord> = fence_broker_records(image, broker_id, unclean_default)
        .into_iter()
        .filter(|r| !matches!(r, MetadataRecord::FenceBroker { .. }))
        .collect();
    records.push(MetadataRecord::UnregisterBroker {
        broker_id,
        broker_epoch: broker.epoch,
    });
    Ok(records)
}

#[cfg(test)]
#[path = "reassign_tests.rs"]
mod tests;
