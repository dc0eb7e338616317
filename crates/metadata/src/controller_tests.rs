//! Unit tests of the controller's decisions on hand-built images.

use super::*;
use crate::image::MetadataImage;

/// An image with brokers `(id, rack)`, all registered at epoch 100 + id and
/// unfenced.
pub(crate) fn cluster(brokers: &[(i32, Option<&str>)]) -> MetadataImage {
    let mut image = MetadataImage::default();
    let mut offset = 0;
    for (id, rack) in brokers {
        let epoch = 100 + i64::from(*id);
        for record in [
            MetadataRecord::RegisterBroker {
                broker_id: *id,
                incarnation_id: format!("i{id}"),
                broker_epoch: epoch,
                endpoints: vec![],
                rack: rack.map(str::to_string),
            },
            MetadataRecord::UnfenceBroker {
                broker_id: *id,
                epoch,
            },
        ] {
            image.apply(offset, &record).unwrap();
            offset += 1;
        }
    }
    image
}

pub(crate) fn apply_all(image: &mut MetadataImage, records: &[MetadataRecord]) {
    let first = image.offset.map_or(0, |o| o + 1);
    for (offset, record) in (first..).zip(records) {
        image.apply(offset, record).unwrap();
    }
}

#[test]
fn placement_spreads_leaders_round_robin_from_the_start_index() {
    let image = cluster(&[(1, None), (2, None), (3, None)]);
    let assignment = place_from(&image, 6, 2, 1).unwrap();
    assert_eq!(
        assignment,
        vec![
            vec![2, 3],
            vec![3, 1],
            vec![1, 2],
            vec![2, 3],
            vec![3, 1],
            vec![1, 2]
        ]
    );
    for replicas in &assignment {
        let mut distinct = replicas.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), 2);
    }
}

#[test]
fn placement_uses_only_unfenced_brokers() {
    let mut image = cluster(&[(1, None), (2, None), (3, None)]);
    let records = fence_broker_records(&image, 2, false);
    apply_all(&mut image, &records);
    let assignment = place_from(&image, 4, 2, 0).unwrap();
    assert!(assignment.iter().flatten().all(|b| *b != 2));
    assert_eq!(
        place(&image, 1, 3),
        Err(PlacementError::InvalidReplicationFactor {
            replication_factor: 3,
            live_brokers: 2
        })
    );
    assert!(matches!(
        place(&image, 1, 0),
        Err(PlacementError::InvalidReplicationFactor { .. })
    ));
    assert_eq!(
        place(&image, 0, 1),
        Err(PlacementError::InvalidPartitions(0))
    );
}

#[test]
fn placement_puts_replicas_on_distinct_racks_first() {
    // Rack a holds 1, 2, 3; rack b holds 4; rack c holds 5.
    let image = cluster(&[
        (1, Some("a")),
        (2, Some("a")),
        (3, Some("a")),
        (4, Some("b")),
        (5, Some("c")),
    ]);
    let rack_of = |id: i32| image.brokers[&id].rack.clone();
    let assignment = place_from(&image, 10, 3, 0).unwrap();
    for replicas in &assignment {
        let mut racks: Vec<_> = replicas.iter().map(|b| rack_of(*b)).collect();
        racks.sort();
        racks.dedup();
        assert_eq!(racks.len(), 3, "{replicas:?} should span the three racks");
    }
    // Leaders rotate over every broker.
    let leaders: BTreeSet<i32> = assignment.iter().map(|r| r[0]).collect();
    assert_eq!(leaders.len(), 5);
    // With rf above the number of racks, racks repeat only once all are used.
    let assignment = place_from(&image, 5, 4, 0).unwrap();
    for replicas in &assignment {
        let first_three: BTreeSet<_> = replicas[..3].iter().map(|b| rack_of(*b)).collect();
        assert_eq!(first_three.len(), 3, "{replicas:?}");
        let distinct: BTreeSet<_> = replicas.iter().collect();
        assert_eq!(distinct.len(), 4);
    }
}

#[test]
fn create_topic_records_build_the_topic() {
    let mut image = cluster(&[(1, None), (2, None), (3, None)]);
    let id = Uuid([5; 16]);
    let configs = BTreeMap::from([("retention.ms".to_string(), "60000".to_string())]);
    let records = create_topic_records(&image, "orders", id, 3, 3, &configs).unwrap();
    assert_eq!(records.len(), 1 + 3 + 1);
    apply_all(&mut image, &records);
    let topic = image.topic("orders").unwrap();
    assert_eq!(topic.partitions.len(), 3);
    for p in topic.partitions.values() {
        assert_eq!(p.isr, p.replicas);
        assert_eq!(p.leader, p.replicas[0]);
        assert_eq!((p.leader_epoch, p.partition_epoch), (0, 0));
    }
    assert_eq!(
        image
            .configs_of(ConfigResourceType::Topic, "orders")
            .unwrap()["retention.ms"],
        "60000"
    );
    assert_eq!(
        create_topic_records(&image, "orders", Uuid([6; 16]), 1, 1, &BTreeMap::new()),
        Err(CreateTopicError::Exists("orders".into()))
    );
    for bad in ["", ".", "..", "a b", &"x".repeat(250)] {
        assert!(matches!(
            create_topic_records(&image, bad, Uuid([6; 16]), 1, 1, &BTreeMap::new()),
            Err(CreateTopicError::InvalidName { .. })
        ));
    }
    assert!(matches!(
        create_topic_records(&image, "big", Uuid([6; 16]), 1, 4, &BTreeMap::new()),
        Err(CreateTopicError::Placement(
            PlacementError::InvalidReplicationFactor { .. }
        ))
    ));
}

/// A cluster of brokers 1..=3 and topic `t` with the given partitions
/// (replicas, isr, leader).
fn with_partitions(parts: &[(&[i32], &[i32], i32)]) -> (MetadataImage, Uuid) {
    let mut image = cluster(&[(1, None), (2, None), (3, None)]);
    let id = add_topic(&mut image, parts);
    (image, id)
}

/// Adds topic `t` with the given partitions (replicas, isr, leader) at
/// leader epoch 4, partition epoch 9; returns its id.
pub(crate) fn add_topic(image: &mut MetadataImage, parts: &[(&[i32], &[i32], i32)]) -> Uuid {
    let id = Uuid([3; 16]);
    let mut records = vec![MetadataRecord::Topic {
        name: "t".into(),
        topic_id: id,
    }];
    for (i, (replicas, isr, leader)) in parts.iter().enumerate() {
        records.push(MetadataRecord::Partition {
            topic_id: id,
            partition: i as i32,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader: *leader,
            leader_epoch: 4,
            partition_epoch: 9,
        });
    }
    apply_all(image, &records);
    id
}

#[test]
fn fencing_a_leader_elects_the_first_alive_isr_replica() {
    let (mut image, id) = with_partitions(&[
        (&[1, 2, 3], &[1, 2, 3], 1),
        (&[2, 1, 3], &[2, 1, 3], 2),
        (&[3, 2, 1], &[3, 1], 3),
    ]);
    // Broker 2 is fenced first, then broker 1.
    let records = fence_broker_records(&image, 2, false);
    apply_all(&mut image, &records);
    let p1 = image.partition(id, 1).unwrap();
    assert_eq!((p1.leader, p1.isr.clone()), (1, vec![1, 3]));
    assert_eq!((p1.leader_epoch, p1.partition_epoch), (5, 10));
    // Partition 0: 2 was a follower, only the ISR shrinks.
    let p0 = image.partition(id, 0).unwrap();
    assert_eq!((p0.leader, p0.isr.clone()), (1, vec![1, 3]));
    assert_eq!((p0.leader_epoch, p0.partition_epoch), (4, 10));
    // Partition 2 did not involve 2.
    assert_eq!(image.partition(id, 2).unwrap().partition_epoch, 9);

    let records = fence_broker_records(&image, 1, false);
    assert!(matches!(
        records[0],
        MetadataRecord::FenceBroker { broker_id: 1, .. }
    ));
    apply_all(&mut image, &records);
    // The first replica in replica order that is in the ISR and alive: 3
    // (2 is fenced and out of the ISR).
    for p in 0..2 {
        let state = image.partition(id, p).unwrap();
        assert_eq!(
            (state.leader, state.isr.clone()),
            (3, vec![3]),
            "partition {p}"
        );
    }
    assert!(!image.is_alive(1));
}

#[test]
fn fencing_the_last_isr_member_leaves_the_partition_offline() {
    let (mut image, id) = with_partitions(&[(&[1, 2], &[1], 1)]);
    let records = fence_broker_records(&image, 1, false);
    apply_all(&mut image, &records);
    let p = image.partition(id, 0).unwrap();
    assert_eq!(p.leader, -1);
    assert_eq!(p.isr, vec![1], "the ISR keeps its last member");
    assert_eq!(p.leader_epoch, 5);
    // Coming back, the last ISR member leads again.
    let records = unfence_broker_records(&image, 1);
    apply_all(&mut image, &records);
    let p = image.partition(id, 0).unwrap();
    assert_eq!((p.leader, p.leader_epoch), (1, 6));
}

#[test]
fn unclean_election_picks_an_alive_replica_outside_the_isr() {
    let (mut image, id) = with_partitions(&[(&[1, 2], &[1], 1)]);
    let records = fence_broker_records(&image, 1, true);
    apply_all(&mut image, &records);
    let p = image.partition(id, 0).unwrap();
    assert_eq!((p.leader, p.isr.clone()), (2, vec![2]));

    // The topic's own config wins over the default.
    let (mut image, id) = with_partitions(&[(&[1, 2], &[1], 1)]);
    apply_all(
        &mut image,
        &[MetadataRecord::Config {
            resource_type: ConfigResourceType::Topic,
            resource_name: "t".into(),
            key: UNCLEAN_LEADER_ELECTION.into(),
            value: Some("true".into()),
        }],
    );
    let records = fence_broker_records(&image, 1, false);
    apply_all(&mut image, &records);
    assert_eq!(image.partition(id, 0).unwrap().leader, 2);
}

#[test]
fn fencing_an_unknown_broker_yields_nothing() {
    let (image, _) = with_partitions(&[(&[1, 2], &[1, 2], 1)]);
    assert!(fence_broker_records(&image, 42, false).is_empty());
    assert!(unfence_broker_records(&image, 42).is_empty());
}

#[test]
fn producer_id_blocks_follow_each_other() {
    let mut image = cluster(&[(1, None)]);
    let (record, first, count) = allocate_producer_ids(&image, 1, 101).unwrap();
    assert_eq!((first, count), (0, PRODUCER_ID_BLOCK_SIZE));
    apply_all(&mut image, &[record]);
    let (_, first, _) = allocate_producer_ids(&image, 1, 101).unwrap();
    assert_eq!(first, PRODUCER_ID_BLOCK_SIZE);
    assert!(allocate_producer_ids(&image, 1, 100).is_none());
    assert!(allocate_producer_ids(&image, 2, 101).is_none());
}

#[test]
fn preferred_election_moves_leadership_back_to_the_first_replica() {
    // p0: 2 leads, preferred 1 in sync; p1: preferred 1 leads; p2:
    // preferred 3 out of the ISR.
    let (mut image, id) = with_partitions(&[
        (&[1, 2, 3], &[1, 2, 3], 2),
        (&[1, 2, 3], &[1, 2, 3], 1),
        (&[3, 2, 1], &[2, 1], 2),
    ]);
    let (e, record) = elect_leader(&image, "t", 0, ElectionType::Preferred);
    assert_eq!(e, Election::Elected(1));
    apply_all(&mut image, &[record.unwrap()]);
    let p0 = image.partition(id, 0).unwrap();
    assert_eq!(
        (p0.leader, p0.leader_epoch, p0.isr.clone()),
        (1, 5, vec![1, 2, 3])
    );
    assert_eq!(
        elect_leader(&image, "t", 1, ElectionType::Preferred),
        (Election::NotNeeded, None)
    );
    assert_eq!(
        elect_leader(&image, "t", 2, ElectionType::Preferred),
        (Election::PreferredNotAvailable, None)
    );
    assert_eq!(
        elect_leader(&image, "t", 9, ElectionType::Preferred),
        (Election::UnknownPartition, None)
    );
    assert_eq!(
        elect_leader(&image, "nope", 0, ElectionType::Preferred),
        (Election::UnknownPartition, None)
    );
    // A fenced preferred replica is not elected.
    let records = fence_broker_records(&image, 1, false);
    apply_all(&mut image, &records);
    assert_eq!(
        elect_leader(&image, "t", 0, ElectionType::Preferred).0,
        Election::PreferredNotAvailable
    );
}

#[test]
fn unclean_election_gives_an_offline_partition_an_alive_replica() {
    let (mut image, id) = with_partitions(&[(&[1, 2], &[1], 1), (&[2, 3], &[2, 3], 2)]);
    let records = fence_broker_records(&image, 1, false);
    apply_all(&mut image, &records);
    assert_eq!(image.partition(id, 0).unwrap().leader, -1);
    let (e, record) = elect_leader(&image, "t", 0, ElectionType::Unclean);
    assert_eq!(e, Election::Elected(2));
    apply_all(&mut image, &[record.unwrap()]);
    let p0 = image.partition(id, 0).unwrap();
    assert_eq!((p0.leader, p0.isr.clone()), (2, vec![2]));
    // A partition with a live leader needs none.
    assert_eq!(
        elect_leader(&image, "t", 1, ElectionType::Unclean),
        (Election::NotNeeded, None)
    );
    // Nobody alive: no eligible leader.
    for b in [2, 3] {
        let records = fence_broker_records(&image, b, false);
        apply_all(&mut image, &records);
    }
    assert_eq!(
        elect_leader(&image, "t", 1, ElectionType::Unclean),
        (Election::NoEligibleLeader, None)
    );
}
