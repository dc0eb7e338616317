//! Unit tests of cluster mode's pure decisions: who may serve a
//! partition, which brokers are listed and fenced, registration epochs.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use fjord_metadata::controller::topic_records;
use fjord_metadata::records::{Endpoint, MetadataRecord, Uuid};
use fjord_metadata::MetadataImage;
use fjord_protocol::ErrorCode;

use super::liveness::{next_epoch, silent_brokers};
use super::*;

fn image_with_brokers(ids: &[i32]) -> MetadataImage {
    let brokers: Vec<(i32, Option<&str>)> = ids.iter().map(|id| (*id, None)).collect();
    image_with_racks(&brokers)
}

/// Registered, unfenced brokers, each with its rack (or none).
pub(super) fn image_with_racks(brokers: &[(i32, Option<&str>)]) -> MetadataImage {
    let mut image = MetadataImage::default();
    let mut offset = 0;
    for (id, rack) in brokers {
        let register = MetadataRecord::RegisterBroker {
            broker_id: *id,
            incarnation_id: format!("inc-{id}"),
            broker_epoch: 10,
            endpoints: vec![Endpoint {
                listener: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 9000 + *id as u16,
                security_protocol: 0,
            }],
            rack: rack.map(str::to_string),
        };
        image.apply(offset, &register).unwrap();
        offset += 1;
        let unfence = MetadataRecord::UnfenceBroker {
            broker_id: *id,
            epoch: 10,
        };
        image.apply(offset, &unfence).unwrap();
        offset += 1;
    }
    image
}

/// `image` with topic "t" (id 7s) of the given assignment.
pub(super) fn with_topic(mut image: MetadataImage, assignment: Vec<Vec<i32>>) -> MetadataImage {
    let first = image.offset.unwrap_or(0) + 1;
    let records = topic_records("t", Uuid([7; 16]), assignment, &BTreeMap::new());
    for (offset, r) in (first..).zip(records) {
        image.apply(offset, &r).unwrap();
    }
    image
}

#[test]
fn only_the_leader_at_the_current_epoch_serves_a_partition() {
    let image = with_topic(image_with_brokers(&[1, 2]), vec![vec![1], vec![2]]);
    assert!(check_leader(&image, 1, "t", 0, -1).is_ok());
    assert!(check_leader(&image, 1, "t", 0, 0).is_ok());
    assert_eq!(
        check_leader(&image, 1, "t", 1, -1),
        Err(ErrorCode::NotLeaderOrFollower)
    );
    assert_eq!(
        check_leader(&image, 1, "t", 2, -1),
        Err(ErrorCode::UnknownTopicOrPartition)
    );
    assert_eq!(
        check_leader(&image, 1, "nope", 0, -1),
        Err(ErrorCode::UnknownTopicOrPartition)
    );
    assert_eq!(
        check_leader(&image, 1, "t", 0, 1),
        Err(ErrorCode::UnknownLeaderEpoch)
    );
}

#[test]
fn a_stale_epoch_is_fenced_after_a_leader_change() {
    let mut image = with_topic(image_with_brokers(&[1, 2]), vec![vec![1, 2]]);
    let topic_id = Uuid([7; 16]);
    let offset = image.offset.unwrap() + 1;
    image
        .apply(
            offset,
            &MetadataRecord::PartitionChange {
                topic_id,
                partition: 0,
                isr: Some(vec![2]),
                leader: Some(2),
                replicas: None,
            },
        )
        .unwrap();
    assert_eq!(
        check_leader(&image, 2, "t", 0, 0),
        Err(ErrorCode::FencedLeaderEpoch)
    );
    assert!(check_leader(&image, 2, "t", 0, 1).is_ok());
    assert_eq!(
        check_leader(&image, 1, "t", 0, 1),
        Err(ErrorCode::NotLeaderOrFollower)
    );
}

#[test]
fn fenced_brokers_are_not_listed() {
    let mut image = image_with_brokers(&[1, 2, 3]);
    let live: Vec<i32> = live_brokers(&image, "PLAINTEXT")
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(live, vec![1, 2, 3]);
    assert_eq!(live_brokers(&image, "PLAINTEXT")[1].port, 9002);
    let offset = image.offset.unwrap() + 1;
    image
        .apply(
            offset,
            &MetadataRecord::FenceBroker {
                broker_id: 1,
                epoch: 10,
            },
        )
        .unwrap();
    assert_eq!(live_brokers(&image, "PLAINTEXT").len(), 2);
}

#[test]
fn the_controller_fences_brokers_it_has_not_heard_from() {
    let image = image_with_brokers(&[1, 2, 3]);
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    let timeout = Duration::from_secs(9);
    let heard = BTreeMap::from([(2, t0 + Duration::from_secs(5))]);
    // Just became leader: nobody is fenced before a session timeout.
    assert!(silent_brokers(
        &image,
        1,
        &heard,
        t0,
        None,
        t0 + Duration::from_secs(8),
        timeout
    )
    .is_empty());
    // 3 never answered since t0; 2 answered at t0+5.
    assert_eq!(
        silent_brokers(
            &image,
            1,
            &heard,
            t0,
            None,
            t0 + Duration::from_secs(10),
            timeout
        ),
        vec![3]
    );
    assert_eq!(
        silent_brokers(
            &image,
            1,
            &heard,
            t0,
            None,
            t0 + Duration::from_secs(15),
            timeout
        ),
        vec![2, 3]
    );
}

#[test]
fn the_previous_quorum_leader_is_timed_from_its_last_heartbeat() {
    let image = image_with_brokers(&[1, 2, 3]);
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    let timeout = Duration::from_secs(1);
    // Node 1 followed 3 (last heartbeat at t0) and 2 answered votes at
    // t0 - 30 s; node 1 became leader at t0 + 1.5 s.
    let heard = BTreeMap::from([(3, t0), (2, t0 - Duration::from_secs(30))]);
    let since = t0 + Duration::from_millis(1500);
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    // 3 has been silent for 1.7 s, but the election was 0.2 s ago (within
    // the grace, a quarter of the session): nobody yet.
    assert!(silent_brokers(&image, 1, &heard, since, Some(3), at(1700), timeout).is_empty());
    // After the grace 3 is fenced; 2, timed from the election, is not.
    assert_eq!(
        silent_brokers(&image, 1, &heard, since, Some(3), at(1800), timeout),
        vec![3]
    );
    // Without knowing the previous leader, everyone gets a whole session
    // from the election.
    assert!(silent_brokers(&image, 1, &heard, since, None, at(2100), timeout).is_empty());
    // The previous leader alive: it answered the new leader at t0 + 1.6 s.
    let mut alive = heard.clone();
    alive.insert(3, at(1600));
    assert!(silent_brokers(&image, 1, &alive, since, Some(3), at(2500), timeout).is_empty());
}

#[test]
fn a_new_registration_epoch_moves_forward() {
    let image = image_with_brokers(&[1]);
    assert_eq!(next_epoch(&image, 1, 5), 11);
    assert_eq!(next_epoch(&image, 1, 1_000), 1_000);
    assert_eq!(next_epoch(&image, 2, 7), 7);
}

#[test]
fn the_leader_hint_names_a_live_leader_and_its_epoch() {
    let image = with_topic(image_with_brokers(&[1, 2]), vec![vec![2]]);
    let (epoch, broker) = leader_hint(&image, "t", 0, "PLAINTEXT").unwrap();
    assert_eq!((epoch, broker.id, broker.port), (0, 2, 9002));
    assert!(leader_hint(&image, "t", 1, "PLAINTEXT").is_none());
    assert!(leader_hint(&image, "other", 0, "PLAINTEXT").is_none());
}

#[test]
fn clients_are_given_a_live_broker_as_controller() {
    let image = image_with_brokers(&[4, 5]);
    // Combined mode: the active controller is a live broker.
    assert_eq!(controller_for_clients(&image, Some(5), 0), Some(5));
    // A controller-only leader (not a broker): some live broker.
    assert_eq!(controller_for_clients(&image, Some(1), 0), Some(4));
    assert_eq!(controller_for_clients(&image, Some(1), 3), Some(5));
    assert_eq!(controller_for_clients(&image, None, 2), Some(4));
    assert_eq!(
        controller_for_clients(&MetadataImage::default(), Some(1), 0),
        None
    );
}
