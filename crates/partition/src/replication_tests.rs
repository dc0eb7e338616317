//! A leader and a follower replica over real logs: the follower copies the
//! leader's batches verbatim, the leader's high watermark waits for the
//! in-sync follower, and a diverged follower truncates.

use std::sync::Arc;

use bytes::Bytes;
use fjord_protocol::records::{BatchBuilder, Compression};
use fjord_storage::{Log, LogConfig};

use crate::replica::Replication;
use crate::Partition;

fn batch(values: &[&str]) -> Bytes {
    let mut b = BatchBuilder::new(Compression::None);
    for v in values {
        b.append(1, None, Some(v.as_bytes()), &[]).unwrap();
    }
    b.build().unwrap()
}

fn replica(dir: &std::path::Path, local: i32, leader: i32, epoch: i32) -> Partition {
    let log = Arc::new(Log::open(dir, LogConfig::default()).unwrap());
    let r = Replication::new(local, leader, vec![1, 2], vec![1, 2], 0, 0);
    Partition::new_replicated("t", 0, log, epoch, r)
}

fn read_all(p: &Partition) -> Bytes {
    p.log
        .read(0, 1 << 20, i64::MAX, true)
        .unwrap()
        .to_bytes()
        .unwrap()
}

#[test]
fn the_high_watermark_waits_for_the_in_sync_follower() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = replica(a.path(), 1, 1, 3);
    let follower = replica(b.path(), 2, 1, 3);
    let crate::Appended::New(info) = leader
        .append(&batch(&["a", "b", "c"]), 0, |_| Ok(()))
        .unwrap()
    else {
        panic!("not appended")
    };
    // Durable on the leader, but the follower has not fetched it: hidden.
    leader.make_durable(info.last_offset + 1).unwrap();
    assert_eq!(leader.high_watermark(), 0);
    // Nor does the broker's periodic flush expose it.
    assert!(!leader.follow_durable());
    assert!(!follower.follow_durable());
    assert_eq!(leader.high_watermark(), 0);
    // The follower fetches from 0 and copies the batch verbatim.
    assert!(!leader.record_follower_fetch(2, 0, 1));
    follower
        .append_as_follower(&read_all(&leader), leader.high_watermark(), 1)
        .unwrap();
    assert_eq!(read_all(&follower), read_all(&leader));
    assert_eq!(follower.high_watermark(), 0);
    // Its next fetch (from 3) tells the leader it holds 0..3.
    assert!(leader.record_follower_fetch(2, 3, 2));
    assert_eq!(leader.high_watermark(), 3);
    follower
        .append_as_follower(&[], leader.high_watermark(), 2)
        .unwrap();
    assert_eq!(follower.high_watermark(), 3);
    // Out of the ISR, the follower no longer holds the leader back.
    leader.append(&batch(&["d"]), 3, |_| Ok(())).unwrap();
    leader.make_durable(4).unwrap();
    assert_eq!(leader.high_watermark(), 3);
    assert!(leader.update_replication(vec![1, 2], vec![1], 1));
    assert_eq!(leader.high_watermark(), 4);
}

#[test]
fn a_diverged_follower_truncates_and_follows_the_new_leader() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Broker 1 led epoch 0 and wrote 2 records its follower never got.
    let old = replica(a.path(), 1, 1, 0);
    old.append(&batch(&["x", "y"]), 0, |_| Ok(())).unwrap();
    old.append(&batch(&["lost"]), 0, |_| Ok(())).unwrap();
    let new_leader = replica(b.path(), 2, 2, 1);
    let first = old
        .log
        .read(0, 1, i64::MAX, true)
        .unwrap()
        .to_bytes()
        .unwrap();
    new_leader.append_as_follower(&first, 0, 0).unwrap();
    assert_eq!(new_leader.log.log_end_offset(), 2);
    // Broker 2 leads epoch 1 and appends.
    new_leader.append(&batch(&["z"]), 0, |_| Ok(())).unwrap();
    // The old leader asks where its epoch 0 ends on the new leader: 2.
    assert_eq!(new_leader.log.end_offset_for_epoch(0), Some((0, 2)));
    old.truncate_to(2, 0).unwrap();
    assert_eq!(old.log.log_end_offset(), 2);
    let rest = new_leader
        .log
        .read(2, 1 << 20, i64::MAX, true)
        .unwrap()
        .to_bytes()
        .unwrap();
    old.append_as_follower(&rest, 3, 0).unwrap();
    assert_eq!(read_all(&old), read_all(&new_leader));
    assert_eq!(old.log.epoch_entries(), new_leader.log.epoch_entries());
}

#[test]
fn a_replaced_partition_appends_nothing_more() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = replica(a.path(), 1, 1, 3);
    leader.append(&batch(&["a"]), 0, |_| Ok(())).unwrap();
    let follower = replica(b.path(), 2, 1, 3);
    // The follower's object is replaced at a new epoch (it becomes the
    // leader): the old object refuses the fetcher's late append and a
    // truncation, so the new one's producer state (loaded after) is whole.
    follower.retire();
    assert!(follower.is_retired());
    assert!(matches!(
        follower.append_as_follower(&read_all(&leader), 0, 1),
        Err(fjord_storage::StorageError::Closed)
    ));
    assert!(follower.truncate_to(0, 1).is_err());
    assert_eq!(follower.log.log_end_offset(), 0);
    let replacement = Partition::new_replicated(
        "t",
        0,
        follower.log.clone(),
        4,
        Replication::new(2, 2, vec![1, 2], vec![1, 2], 1, 0),
    );
    replacement
        .append_as_follower(&read_all(&leader), 0, 1)
        .unwrap();
    assert_eq!(replacement.log.log_end_offset(), 1);
}
