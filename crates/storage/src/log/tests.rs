//! Unit tests of the log that need its internals (injected write
//! failures, the clean-shutdown marker).

use super::*;
use crate::test_util::simple_batch;

#[test]
fn failed_write_is_cut_off_and_the_log_continues() {
    let d = tempfile::tempdir().unwrap();
    let log = Log::open(d.path(), LogConfig::default()).unwrap();
    log.append(&mut simple_batch(2, 1, 10), 0, 0).unwrap();
    let size = log.size_bytes();
    *log.fail_write_after.lock() = Some(30);
    let err = log.append(&mut simple_batch(3, 1, 10), 0, 0).unwrap_err();
    assert!(err.is_disk_full(), "{err}");
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(log.size_bytes(), size);
    let path = log.writer.lock().active.log_path.clone();
    assert_eq!(fs::metadata(&path).unwrap().len(), size);
    let info = log.append(&mut simple_batch(3, 1, 10), 0, 0).unwrap();
    assert_eq!(info.first_offset, 2);
    let r = log.read(0, 1 << 20, i64::MAX, true).unwrap();
    assert_eq!(r.next_offset, 5);
    drop(log);
    let log = Log::open(d.path(), LogConfig::default()).unwrap();
    assert_eq!(log.log_end_offset(), 5);
}

#[test]
fn open_is_idempotent_and_marker_is_removed_by_the_first_write() {
    let d = tempfile::tempdir().unwrap();
    let marker = d.path().join(CLEAN_SHUTDOWN_FILE);
    let log = Log::open(d.path(), LogConfig::default()).unwrap();
    // A new, empty log is clean until written to.
    assert!(marker.exists() && log.unchanged_since_open());
    log.append(&mut simple_batch(2, 1, 10), 3, 0).unwrap();
    assert!(!marker.exists() && !log.unchanged_since_open());
    log.close().unwrap();
    log.close().unwrap();
    assert!(marker.exists());
    let log = Log::open(d.path(), LogConfig::default()).unwrap();
    // Reopened clean and not written: the marker stays, so a crash now
    // needs no recovery, and a close writes nothing.
    assert!(marker.exists() && log.unchanged_since_open());
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(log.durable_offset(), 2);
    assert_eq!(log.latest_epoch(), Some(3));
    drop(log);
    let log = Log::open(d.path(), LogConfig::default()).unwrap();
    assert!(log.unchanged_since_open());
    log.append(&mut simple_batch(1, 1, 10), 3, 0).unwrap();
    assert!(!marker.exists());
    drop(log);
    // A crash after that write: recovered, nothing lost.
    let log = Log::open(d.path(), LogConfig::default()).unwrap();
    assert!(!log.unchanged_since_open());
    assert_eq!(log.log_end_offset(), 3);
}

#[test]
fn replicated_append_keeps_offsets_and_epochs_and_refuses_gaps() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = Log::open(a.path(), LogConfig::default()).unwrap();
    let follower = Log::open(b.path(), LogConfig::default()).unwrap();
    leader.append(&mut simple_batch(2, 1, 10), 4, 0).unwrap();
    leader.append(&mut simple_batch(3, 1, 10), 6, 0).unwrap();
    let all = leader
        .read(0, 1 << 20, i64::MAX, true)
        .unwrap()
        .to_bytes()
        .unwrap();
    // A batch that does not start at the follower's log end is refused.
    let second = leader
        .read(2, 1 << 20, i64::MAX, true)
        .unwrap()
        .to_bytes()
        .unwrap();
    assert!(follower.append_replicated(&mut second.to_vec(), 0).is_err());
    assert_eq!(follower.log_end_offset(), 0);
    // A corrupted CRC is refused.
    let mut bad = all.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    assert!(follower.append_replicated(&mut bad, 0).is_err());
    let info = follower.append_replicated(&mut all.to_vec(), 0).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (0, 4));
    let copied = follower
        .read(0, 1 << 20, i64::MAX, true)
        .unwrap()
        .to_bytes()
        .unwrap();
    assert_eq!(
        copied, all,
        "the follower holds the leader's bytes verbatim"
    );
    assert_eq!(follower.epoch_entries(), leader.epoch_entries());
    assert_eq!(follower.end_offset_for_epoch(4), Some((4, 2)));
}

#[test]
fn a_shared_append_writes_what_an_in_place_append_writes_and_leaves_its_input() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let owned = Log::open(a.path(), LogConfig::default()).unwrap();
    let shared = Log::open(b.path(), LogConfig::default()).unwrap();
    // Two appends, the second of two batches back to back.
    let first = simple_batch(3, 7, 20);
    let mut second = simple_batch(2, 8, 5);
    second.extend(simple_batch(4, 9, 40));
    for (data, epoch) in [(&first, 4), (&second, 5)] {
        let original = data.clone();
        let x = owned.append(&mut data.clone(), epoch, 100).unwrap();
        let y = shared.append_shared(data, epoch, 100).unwrap();
        assert_eq!(data, &original, "append_shared must not touch its input");
        assert_eq!(
            (x.first_offset, x.last_offset),
            (y.first_offset, y.last_offset)
        );
    }
    let read = |log: &Log| {
        let r = log.read(0, 1 << 20, i64::MAX, true).unwrap();
        (r.next_offset, r.records.map(|s| s.read_to_bytes().unwrap()))
    };
    let (x, y) = (read(&owned), read(&shared));
    assert_eq!(x.0, 9);
    assert_eq!(x, y);
    // A failed vectored write is cut off as a plain one is.
    let size = shared.size_bytes();
    *shared.fail_write_after.lock() = Some(30);
    let err = shared.append_shared(&first, 5, 0).unwrap_err();
    assert!(err.is_disk_full(), "{err}");
    assert_eq!((shared.log_end_offset(), shared.size_bytes()), (9, size));
    drop(shared);
    let reopened = Log::open(b.path(), LogConfig::default()).unwrap();
    assert_eq!(read(&reopened), y);
}
