//! Unit tests of reassignment, rebalancing and unregistration on
//! hand-built images.

use super::*;
use crate::controller::tests::{add_topic, apply_all, cluster};
use crate::image::MetadataImage;

/// Brokers 1..=5 registered (at epoch 100 + id) and unfenced, and topic
/// `t` with the given partitions (replicas, isr, leader) at leader epoch
/// 4, partition epoch 9.
fn image(parts: &[(&[i32], &[i32], i32)]) -> (MetadataImage, Uuid) {
    let mut image = cluster(&[(1, None), (2, None), (3, None), (4, None), (5, None)]);
    let id = add_topic(&mut image, parts);
    (image, id)
}

/// (replicas, isr, leader, adding, removing, leader epoch, partition epoch)
type State = (Vec<i32>, Vec<i32>, i32, Vec<i32>, Vec<i32>, i32, i32);

fn state(image: &MetadataImage, id: Uuid) -> State {
    let p = image.partition(id, 0).unwrap();
    (
        p.replicas.clone(),
        p.isr.clone(),
        p.leader,
        p.adding_replicas.clone(),
        p.removing_replicas.clone(),
        p.leader_epoch,
        p.partition_epoch,
    )
}

#[test]
fn a_move_adds_first_then_switches_once_the_new_replicas_are_in_sync() {
    let (mut image, id) = image(&[(&[1, 2, 3], &[1, 2, 3], 1)]);
    let record = reassign_records(&image, "t", 0, Some(&[3, 4, 5]))
        .unwrap()
        .unwrap();
    apply_all(&mut image, &[record]);
    // Target first, then the replicas leaving; the leader and its epoch stay.
    assert_eq!(
        state(&image, id),
        (
            vec![3, 4, 5, 1, 2],
            vec![1, 2, 3],
            1,
            vec![4, 5],
            vec![1, 2],
            4,
            10
        )
    );
    assert!(complete_reassignments(&image).is_empty(), "4 and 5 lag");
    // The leader adds 4 (not yet 5): still not complete.
    let alter = |isr: Vec<i32>, pe: i32| MetadataRecord::AlterPartition {
        topic_id: id,
        partition: 0,
        leader_epoch: 4,
        partition_epoch: pe,
        isr,
    };
    apply_all(&mut image, &[alter(vec![1, 2, 3, 4], 10)]);
    assert!(complete_reassignments(&image).is_empty());
    apply_all(&mut image, &[alter(vec![1, 2, 3, 4, 5], 11)]);
    let done = complete_reassignments(&image);
    assert_eq!(done.len(), 1);
    apply_all(&mut image, &done);
    // The old leader left: the first target replica in sync leads, at a new
    // leader epoch.
    assert_eq!(
        state(&image, id),
        (vec![3, 4, 5], vec![3, 4, 5], 3, vec![], vec![], 5, 13)
    );
    assert!(complete_reassignments(&image).is_empty());
}

#[test]
fn a_removal_or_reordering_completes_at_once() {
    let (mut image, id) = image(&[(&[1, 2, 3], &[1, 2, 3], 1)]);
    let record = reassign_records(&image, "t", 0, Some(&[1, 2]))
        .unwrap()
        .unwrap();
    apply_all(&mut image, &[record]);
    // The leader stays but its epoch moves: replica 3 is fenced off.
    assert_eq!(
        state(&image, id),
        (vec![1, 2], vec![1, 2], 1, vec![], vec![], 5, 10)
    );
    let record = reassign_records(&image, "t", 0, Some(&[2, 1]))
        .unwrap()
        .unwrap();
    apply_all(&mut image, &[record]);
    assert_eq!(
        state(&image, id),
        (vec![2, 1], vec![1, 2], 1, vec![], vec![], 5, 11)
    );
    assert_eq!(reassign_records(&image, "t", 0, Some(&[2, 1])), Ok(None));
}

#[test]
fn cancelling_reverts_to_the_original_replicas() {
    let (mut image, id) = image(&[(&[1, 2, 3], &[1, 2, 3], 2)]);
    let record = reassign_records(&image, "t", 0, Some(&[1, 4]))
        .unwrap()
        .unwrap();
    apply_all(&mut image, &[record]);
    assert_eq!(
        state(&image, id),
        (
            vec![1, 4, 2, 3],
            vec![1, 2, 3],
            2,
            vec![4],
            vec![2, 3],
            4,
            10
        )
    );
    let cancel = reassign_records(&image, "t", 0, None).unwrap().unwrap();
    apply_all(&mut image, &[cancel]);
    assert_eq!(
        state(&image, id),
        (vec![1, 2, 3], vec![1, 2, 3], 2, vec![], vec![], 5, 11)
    );
    assert_eq!(
        reassign_records(&image, "t", 0, None),
        Err(ReassignError::NoReassignmentInProgress)
    );
}

#[test]
fn a_new_target_replaces_the_one_in_progress_from_the_original_replicas() {
    let (mut image, id) = image(&[(&[1, 2, 3], &[1, 2, 3], 1)]);
    let first = reassign_records(&image, "t", 0, Some(&[1, 2, 4]))
        .unwrap()
        .unwrap();
    apply_all(&mut image, &[first]);
    let second = reassign_records(&image, "t", 0, Some(&[1, 2, 5]))
        .unwrap()
        .unwrap();
    apply_all(&mut image, &[second]);
    let (replicas, isr, leader, adding, removing, ..) = state(&image, id);
    assert_eq!(
        (replicas, isr, leader, adding, removing),
        (vec![1, 2, 5, 3], vec![1, 2, 3], 1, vec![5], vec![3])
    );
}

#[test]
fn bad_targets_are_refused_as_kafka_does() {
    let (image, _) = image(&[(&[1, 2, 3], &[1, 2, 3], 1)]);
    let invalid =
        |r: Result<_, ReassignError>| matches!(r, Err(ReassignError::InvalidAssignment(_)));
    assert!(invalid(reassign_records(&image, "t", 0, Some(&[]))));
    assert!(invalid(reassign_records(&image, "t", 0, Some(&[1, 1]))));
    assert!(invalid(reassign_records(&image, "t", 0, Some(&[1, 9]))));
    assert_eq!(
        reassign_records(&image, "t", 1, Some(&[1])),
        Err(ReassignError::UnknownPartition)
    );
    assert_eq!(
        reassign_records(&image, "nope", 0, Some(&[1])),
        Err(ReassignError::UnknownPartition)
    );
}

#[test]
fn a_stale_reassignment_record_is_rejected_whole() {
    let (mut image, id) = image(&[(&[1, 2, 3], &[1, 2, 3], 1)]);
    let record = reassign_records(&image, "t", 0, Some(&[3, 4, 5]))
        .unwrap()
        .unwrap();
    // The ISR moved meanwhile (partition epoch 10).
    apply_all(
        &mut image,
        &[MetadataRecord::AlterPartition {
            topic_id: id,
            partition: 0,
            leader_epoch: 4,
            partition_epoch: 9,
            isr: vec![1, 2],
        }],
    );
    let before = image.clone();
    assert!(matches!(
        image.apply(99, &record),
        Err(ImageError::StalePartitionEpoch { .. })
    ));
    assert_eq!(image, before);
}

#[test]
fn rebalancing_moves_leadership_back_past_the_imbalance_threshold() {
    // Broker 1 prefers partitions 0 and 1 and leads neither; broker 2
    // prefers 2 and leads it.
    let (image, id) = image(&[
        (&[1, 2], &[1, 2], 2),
        (&[1, 3], &[3, 1], 3),
        (&[2, 1], &[2, 1], 2),
    ]);
    let records = rebalance_records(&image, 10);
    let mut moved = image.clone();
    apply_all(&mut moved, &records);
    assert_eq!(moved.partition(id, 0).unwrap().leader, 1);
    assert_eq!(moved.partition(id, 1).unwrap().leader, 1);
    assert_eq!(moved.partition(id, 2).unwrap().leader, 2);
    // Half of broker 1's partitions imbalanced: not above 50%.
    let (image, _) = image_half();
    assert!(rebalance_records(&image, 50).is_empty());
    assert_eq!(rebalance_records(&image, 49).len(), 1);
}

fn image_half() -> (MetadataImage, Uuid) {
    image(&[(&[1, 2], &[1, 2], 2), (&[1, 2], &[1, 2], 1)])
}

#[test]
fn rebalancing_skips_a_preferred_replica_out_of_the_isr_or_fenced() {
    let (mut image, _) = image(&[(&[1, 2], &[2], 2), (&[3, 2], &[3, 2], 2)]);
    apply_all(
        &mut image,
        &[MetadataRecord::FenceBroker {
            broker_id: 3,
            epoch: 103,
        }],
    );
    assert!(rebalance_records(&image, 0).is_empty());
}

#[test]
fn unregistering_moves_leadership_and_keeps_the_id_as_a_replica() {
    let (mut image, id) = image(&[(&[1, 2, 3], &[1, 2, 3], 1)]);
    let records = unregister_broker_records(&image, 1, false).unwrap();
    apply_all(&mut image, &records);
    assert!(!image.brokers.contains_key(&1));
    let (replicas, isr, leader, ..) = state(&image, id);
    assert_eq!((replicas, isr, leader), (vec![1, 2, 3], vec![2, 3], 2));
    assert_eq!(
        unregister_broker_records(&image, 1, false),
        Err(UnregisterError::NotRegistered(1))
    );
    // The unregistered id cannot be a reassignment target.
    assert!(matches!(
        reassign_records(&image, "t", 0, Some(&[1, 2])),
        Err(ReassignError::InvalidAssignment(_))
    ));
}
