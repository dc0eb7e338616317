//! Unit tests of the metadata image: each record's effect and validation.

use super::*;

fn register(id: i32, epoch: i64) -> MetadataRecord {
    MetadataRecord::RegisterBroker {
        broker_id: id,
        incarnation_id: format!("inc-{id}-{epoch}"),
        broker_epoch: epoch,
        endpoints: vec![],
        rack: None,
    }
}

const T: Uuid = Uuid([7; 16]);

fn with_topic() -> MetadataImage {
    let mut image = MetadataImage::default();
    for (i, r) in [
        register(1, 10),
        register(2, 11),
        register(3, 12),
        MetadataRecord::Topic {
            name: "t".into(),
            topic_id: T,
        },
        MetadataRecord::Partition {
            topic_id: T,
            partition: 0,
            replicas: vec![1, 2, 3],
            isr: vec![1, 2, 3],
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
        },
    ]
    .iter()
    .enumerate()
    {
        image.apply(i as u64, r).unwrap();
    }
    image
}

#[test]
fn brokers_register_fenced_and_unfence_at_their_epoch() {
    let mut image = MetadataImage::default();
    image.apply(0, &register(1, 5)).unwrap();
    assert!(image.brokers[&1].fenced);
    assert!(!image.is_alive(1));
    let stale = MetadataRecord::UnfenceBroker {
        broker_id: 1,
        epoch: 4,
    };
    assert_eq!(
        image.apply(1, &stale),
        Err(ImageError::StaleBrokerEpoch {
            broker_id: 1,
            current: 5,
            given: 4
        })
    );
    image
        .apply(
            1,
            &MetadataRecord::UnfenceBroker {
                broker_id: 1,
                epoch: 5,
            },
        )
        .unwrap();
    assert!(image.is_alive(1));
    // A re-registration needs a higher epoch and starts fenced again.
    assert!(image.apply(2, &register(1, 5)).is_err());
    image.apply(2, &register(1, 9)).unwrap();
    assert!(!image.is_alive(1));
    assert_eq!(image.offset, Some(2));
    image
        .apply(
            3,
            &MetadataRecord::UnregisterBroker {
                broker_id: 1,
                broker_epoch: 9,
            },
        )
        .unwrap();
    assert!(image.brokers.is_empty());
    assert_eq!(
        image.apply(
            4,
            &MetadataRecord::FenceBroker {
                broker_id: 1,
                epoch: 9
            }
        ),
        Err(ImageError::UnknownBroker(1))
    );
}

#[test]
fn topics_are_found_by_name_and_id_and_names_stay_unique() {
    let mut image = with_topic();
    assert_eq!(image.topic("t").map(|t| t.id), Some(T));
    assert_eq!(image.partition(T, 0).map(|p| p.leader), Some(1));
    let again = MetadataRecord::Topic {
        name: "t".into(),
        topic_id: Uuid([8; 16]),
    };
    assert_eq!(
        image.apply(9, &again),
        Err(ImageError::TopicExists("t".into()))
    );
    let same_id = MetadataRecord::Topic {
        name: "u".into(),
        topic_id: T,
    };
    assert_eq!(image.apply(9, &same_id), Err(ImageError::TopicIdExists(T)));
}

#[test]
fn partition_change_bumps_epochs_as_kafka() {
    let mut image = with_topic();
    // ISR shrink only: partition epoch moves, leader epoch does not.
    image
        .apply(
            5,
            &MetadataRecord::PartitionChange {
                topic_id: T,
                partition: 0,
                isr: Some(vec![1, 2]),
                leader: None,
                replicas: None,
            },
        )
        .unwrap();
    let p = image.partition(T, 0).unwrap();
    assert_eq!((p.leader_epoch, p.partition_epoch), (0, 1));
    assert_eq!(p.isr, vec![1, 2]);
    // Leader change: both move.
    image
        .apply(
            6,
            &MetadataRecord::PartitionChange {
                topic_id: T,
                partition: 0,
                isr: Some(vec![2]),
                leader: Some(2),
                replicas: None,
            },
        )
        .unwrap();
    let p = image.partition(T, 0).unwrap();
    assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (2, 1, 2));
    // Same leader named again: no leader epoch bump.
    image
        .apply(
            7,
            &MetadataRecord::PartitionChange {
                topic_id: T,
                partition: 0,
                isr: None,
                leader: Some(2),
                replicas: None,
            },
        )
        .unwrap();
    let p = image.partition(T, 0).unwrap();
    assert_eq!((p.leader_epoch, p.partition_epoch), (1, 3));
}

#[test]
fn invalid_changes_are_errors_and_change_nothing() {
    let mut image = with_topic();
    let before = image.clone();
    let unknown = MetadataRecord::PartitionChange {
        topic_id: T,
        partition: 9,
        isr: Some(vec![1]),
        leader: None,
        replicas: None,
    };
    assert_eq!(
        image.apply(5, &unknown),
        Err(ImageError::UnknownPartition {
            topic_id: T,
            partition: 9
        })
    );
    let leader_outside_isr = MetadataRecord::PartitionChange {
        topic_id: T,
        partition: 0,
        isr: Some(vec![2, 3]),
        leader: Some(1),
        replicas: None,
    };
    assert!(matches!(
        image.apply(5, &leader_outside_isr),
        Err(ImageError::InvalidPartition(_))
    ));
    let isr_outside_replicas = MetadataRecord::PartitionChange {
        topic_id: T,
        partition: 0,
        isr: None,
        leader: None,
        replicas: Some(vec![1, 2]),
    };
    assert!(image.apply(5, &isr_outside_replicas).is_err());
    let duplicate = MetadataRecord::Partition {
        topic_id: T,
        partition: 1,
        replicas: vec![1, 1],
        isr: vec![1],
        leader: 1,
        leader_epoch: 0,
        partition_epoch: 0,
    };
    assert!(image.apply(5, &duplicate).is_err());
    let existing = MetadataRecord::Partition {
        topic_id: T,
        partition: 0,
        replicas: vec![1],
        isr: vec![1],
        leader: 1,
        leader_epoch: 0,
        partition_epoch: 0,
    };
    assert_eq!(
        image.apply(5, &existing),
        Err(ImageError::PartitionExists {
            topic_id: T,
            partition: 0
        })
    );
    assert_eq!(image, before);
}

#[test]
fn remove_topic_drops_its_partitions_and_configs() {
    let mut image = with_topic();
    let set = |key: &str, value: Option<&str>| MetadataRecord::Config {
        resource_type: ConfigResourceType::Topic,
        resource_name: "t".into(),
        key: key.into(),
        value: value.map(str::to_string),
    };
    image.apply(5, &set("retention.ms", Some("1000"))).unwrap();
    image
        .apply(6, &set("cleanup.policy", Some("compact")))
        .unwrap();
    image.apply(7, &set("cleanup.policy", None)).unwrap();
    assert_eq!(
        image
            .configs_of(ConfigResourceType::Topic, "t")
            .map(|c| c.len()),
        Some(1)
    );
    image
        .apply(8, &MetadataRecord::RemoveTopic { topic_id: T })
        .unwrap();
    assert!(image.topic("t").is_none());
    assert!(image.topics.is_empty());
    assert!(image.configs.is_empty());
    assert_eq!(
        image.apply(9, &MetadataRecord::RemoveTopic { topic_id: T }),
        Err(ImageError::UnknownTopic(T))
    );
}

#[test]
fn producer_ids_only_move_forward() {
    let mut image = with_topic();
    let block = |next| MetadataRecord::ProducerIds {
        broker_id: 1,
        broker_epoch: 10,
        next_producer_id: next,
    };
    image.apply(5, &block(1000)).unwrap();
    assert_eq!(image.next_producer_id, 1000);
    assert_eq!(
        image.apply(6, &block(1000)),
        Err(ImageError::ProducerIdsBackwards {
            current: 1000,
            given: 1000
        })
    );
}

#[test]
fn reserved_producer_ids_raise_the_next_id_and_never_lower_it() {
    let mut image = with_topic();
    let reserve = |next| MetadataRecord::ReserveProducerIds {
        next_producer_id: next,
    };
    image.apply(5, &reserve(5000)).unwrap();
    assert_eq!(image.next_producer_id, 5000);
    // A lower floor (a retried migration after a block was handed out)
    // changes nothing.
    image.apply(6, &reserve(10)).unwrap();
    assert_eq!(image.next_producer_id, 5000);
    assert!(matches!(
        image.apply(7, &reserve(-1)),
        Err(ImageError::Invalid(_))
    ));
    // A broker's next block starts above the reserved ids.
    let block = MetadataRecord::ProducerIds {
        broker_id: 1,
        broker_epoch: 10,
        next_producer_id: 6000,
    };
    image.apply(8, &block).unwrap();
    assert_eq!(image.next_producer_id, 6000);
}

#[test]
fn an_image_round_trips_through_json() {
    let mut image = with_topic();
    image
        .apply(
            5,
            &MetadataRecord::Config {
                resource_type: ConfigResourceType::Broker,
                resource_name: "".into(),
                key: "log.retention.ms".into(),
                value: Some("5".into()),
            },
        )
        .unwrap();
    let json = serde_json::to_vec(&image).unwrap();
    let back: MetadataImage = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, image);
}

#[test]
fn alter_partition_is_a_compare_and_set_on_the_partition_epoch() {
    let mut image = with_topic();
    let alter = |partition_epoch: i32, isr: Vec<i32>| MetadataRecord::AlterPartition {
        topic_id: T,
        partition: 0,
        leader_epoch: 0,
        partition_epoch,
        isr,
    };
    // Shrink at the current epoch: applied, the partition epoch moves.
    image.apply(10, &alter(0, vec![1, 2])).unwrap();
    let p = &image.topic("t").unwrap().partitions[&0];
    assert_eq!(
        (p.isr.clone(), p.partition_epoch, p.leader_epoch),
        (vec![1, 2], 1, 0)
    );
    // A proposal made against the old epoch is stale.
    assert_eq!(
        image.apply(11, &alter(0, vec![1])),
        Err(ImageError::StalePartitionEpoch {
            current: 1,
            given: 0
        })
    );
    // The leader cannot leave; a fenced broker (all are, never unfenced
    // here) cannot join.
    assert!(image.apply(11, &alter(1, vec![2])).is_err());
    assert!(image.apply(11, &alter(1, vec![1, 2, 3])).is_err());
    image
        .apply(
            11,
            &MetadataRecord::UnfenceBroker {
                broker_id: 3,
                epoch: 12,
            },
        )
        .unwrap();
    image.apply(12, &alter(1, vec![1, 2, 3])).unwrap();
    assert_eq!(image.topic("t").unwrap().partitions[&0].isr, vec![1, 2, 3]);
}
