//! Tests of the log cleaner through the log: what consumers see after
//! runs, tombstones, transactions, crash safety of the swap, races with
//! retention, truncation and deletion, and a throughput benchmark.

use std::collections::{BTreeMap, HashMap};

use fjord_protocol::records::{
    control_batch, records, BatchBuilder, BatchIter, Compression, ControlType, TimestampType,
};

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use fjord_protocol::records::{validate, BatchHeader, ATTR_DELETE_HORIZON};

use crate::cleaner::{cleaned_path, Filter, GroupWriter, OffsetMap, Transactions};
use crate::config::{CleanupPolicy, LogConfig};
use crate::error::StorageError;
use crate::log::Log;
use crate::segment::{BatchWalker, Segment, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};

type Consumed = Vec<(i64, Option<String>, Option<String>, i64)>;

fn compact_config() -> LogConfig {
    LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        segment_bytes: 2048,
        index_interval_bytes: 256,
        min_cleanable_dirty_ratio: 0.01,
        ..LogConfig::default()
    }
}

fn kv_batch(codec: Compression, recs: &[(Option<&str>, Option<&str>, i64)]) -> Vec<u8> {
    let mut b = BatchBuilder::new(codec);
    for (k, v, ts) in recs {
        b.append(*ts, k.map(str::as_bytes), v.map(str::as_bytes), &[])
            .unwrap();
    }
    b.build().unwrap().to_vec()
}

/// Appends one batch and commits it; returns its base offset.
fn append(log: &Log, mut batch: Vec<u8>, now: i64) -> i64 {
    let info = log.append(&mut batch, 0, now).unwrap();
    log.set_high_watermark(log.log_end_offset());
    info.first_offset
}

fn put(log: &Log, key: &str, value: Option<&str>, ts: i64) -> i64 {
    append(
        log,
        kv_batch(Compression::None, &[(Some(key), value, ts)]),
        ts,
    )
}

fn roll(log: &Log) {
    let mut w = log.writer.lock();
    let leo = log.log_end_offset();
    log.roll(&mut w, leo).unwrap();
}

fn text(b: &Option<Bytes>) -> Option<String> {
    b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned())
}

/// What a consumer reading from `from` sees: (offset, key, value,
/// timestamp) of every record, checking every batch on the way.
fn consume(log: &Log, from: i64) -> Consumed {
    let mut out = Vec::new();
    let mut off = from;
    loop {
        let r = log.read(off, 1 << 20, i64::MAX, true).unwrap();
        if r.is_empty() {
            break;
        }
        let bytes = r.to_bytes().unwrap();
        for b in BatchIter::new(&bytes) {
            let (h, raw) = b.unwrap();
            validate(raw).unwrap();
            if h.is_control() {
                continue;
            }
            let raw = Bytes::copy_from_slice(raw);
            for rec in records(&raw, 1 << 24).unwrap() {
                let rec = rec.unwrap();
                let o = rec.offset(h.base_offset);
                if o >= off {
                    out.push((o, text(&rec.key), text(&rec.value), rec.timestamp(&h)));
                }
            }
        }
        assert!(r.next_offset > off);
        off = r.next_offset;
    }
    out
}

/// Every batch header of the log, in order.
fn headers(log: &Log) -> Vec<BatchHeader> {
    let mut out = Vec::new();
    for s in log.segments_snapshot() {
        let file = s.file().unwrap();
        let mut w = BatchWalker::new(&file, 0, s.size());
        while let Some((_, h)) = w.next_batch().unwrap() {
            out.push(h);
        }
    }
    out
}

fn latest_by_key(recs: &Consumed) -> BTreeMap<Option<String>, (i64, Option<String>)> {
    let mut m = BTreeMap::new();
    for (o, k, v, _) in recs {
        m.insert(k.clone(), (*o, v.clone()));
    }
    m
}

/// Files of the partition directory other than the usual ones.
fn odd_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cleaned") || n.ends_with(".swap") || n.ends_with(".tmp"))
        .collect()
}

#[test]
fn keeps_the_latest_value_per_key_at_its_offset() {
    let d = tempfile::tempdir().unwrap();
    let log = Log::open(d.path(), compact_config()).unwrap();
    for i in 0..300i64 {
        put(
            &log,
            &format!("k{}", i % 7),
            Some(&format!("v{i}")),
            1000 + i,
        );
    }
    let all = consume(&log, 0);
    assert_eq!(all.len(), 300);
    let bases = log.segment_base_offsets();
    assert!(bases.len() > 4, "{bases:?}");
    let active_base = *bases.last().unwrap();
    let active_path = log.writer.lock().active.log_path.clone();
    let active_bytes = fs::read(&active_path).unwrap();
    let size_before = log.size_bytes();

    let stats = log.compact(10_000).unwrap();
    assert!(stats.ran && stats.changed_log(), "{stats:?}");
    assert_eq!(stats.first_dirty_offset, 0);
    assert_eq!(stats.cleaned_up_to, active_base);
    assert_eq!(stats.records_before, active_base as u64);
    assert_eq!(stats.records_after, 7);
    assert_eq!(log.cleaner_checkpoint(), active_base);

    let after = consume(&log, 0);
    // Below the active segment: exactly the latest record of each key
    // there, at its original offset.
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    for (o, k, _, _) in all.iter().filter(|r| r.0 < active_base) {
        want.insert(k.clone().unwrap(), *o);
    }
    let cleaned: Vec<i64> = after
        .iter()
        .filter(|r| r.0 < active_base)
        .map(|r| r.0)
        .collect();
    let mut want_offsets: Vec<i64> = want.values().copied().collect();
    want_offsets.sort_unstable();
    assert_eq!(cleaned, want_offsets);
    for (o, _, v, ts) in &after {
        assert_eq!(v.as_deref(), Some(format!("v{o}").as_str()));
        assert_eq!(*ts, 1000 + o);
    }
    // The active segment is untouched and fully readable.
    assert_eq!(fs::read(&active_path).unwrap(), active_bytes);
    assert_eq!(
        after.iter().filter(|r| r.0 >= active_base).count() as i64,
        300 - active_base
    );
    // A consumer from the start sees the latest value of every key.
    assert_eq!(latest_by_key(&after), latest_by_key(&all));
    assert!(
        log.size_bytes() < size_before / 4,
        "{} -> {}",
        size_before,
        log.size_bytes()
    );
    assert!(log.segment_base_offsets().len() < bases.len());
    assert_eq!(log.log_start_offset(), 0);
    assert_eq!(log.log_end_offset(), 300);
    assert_eq!(
        stats.bytes_before - stats.bytes_after,
        size_before - log.size_bytes()
    );
    assert!(odd_files(d.path()).is_empty());

    // Nothing new is dirty: the next run does nothing.
    assert!(!log.compact(10_000).unwrap().ran);

    // Reopen after a clean shutdown, then after a crash (full recovery of
    // the gapped segments).
    log.close().unwrap();
    drop(log);
    let log = Log::open(d.path(), compact_config()).unwrap();
    assert_eq!(consume(&log, 0), after);
    drop(log);
    fs::write(d.path().join("recovery-point"), "0\n0\n").unwrap();
    let log = Log::open(d.path(), compact_config()).unwrap();
    assert_eq!(consume(&log, 0), after);
    assert_eq!(log.log_end_offset(), 300);
    let next = put(&log, "k0", Some("v300"), 1300);
    assert_eq!(next, 300);
}

#[test]
fn reading_a_removed_offset_returns_the_next_batch() {
    let d = tempfile::tempdir().unwrap();
    let log = Log::open(d.path(), compact_config()).unwrap();
    for i in 0..20i64 {
        put(&log, &format!("k{}", i % 3), Some(&format!("v{i}")), i);
    }
    roll(&log);
    put(&log, "tail", Some("x"), 99);
    // A reader that got the old segment before the swap keeps reading it.
    let old = log.read(0, 1 << 20, i64::MAX, true).unwrap();
    let old_bytes = old.to_bytes().unwrap();
    assert!(log.compact(1000).unwrap().changed_log());
    assert_eq!(
        old.records.as_ref().unwrap().read_to_bytes().unwrap(),
        old_bytes
    );

    let kept: Vec<i64> = consume(&log, 0).iter().map(|r| r.0).collect();
    assert_eq!(kept, vec![17, 18, 19, 20]);
    for from in [0, 5, 16, 17] {
        let r = log.read(from, 1 << 20, i64::MAX, true).unwrap();
        assert_eq!(r.first_offset, 17, "from {from}");
    }
    let r = log.read(18, 1 << 20, i64::MAX, true).unwrap();
    assert_eq!(r.first_offset, 18);
    // A consumer positioned inside a gap moves on to the next record.
    assert_eq!(consume(&log, 3)[0].0, 17);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((17, 17)));
}

#[test]
fn tombstones_stay_for_delete_retention_ms() {
    let d = tempfile::tempdir().unwrap();
    let config = LogConfig {
        delete_retention_ms: 1000,
        ..compact_config()
    };
    let log = Log::open(d.path(), config.clone()).unwrap();
    put(&log, "a", Some("1"), 100);
    put(&log, "b", Some("1"), 101);
    put(&log, "a", None, 102);
    put(&log, "c", Some("1"), 103);
    roll(&log);
    put(&log, "d", Some("1"), 104);

    let stats = log.compact(10_000).unwrap();
    assert!(stats.ran);
    assert_eq!(stats.tombstones_removed, 0);
    let recs = consume(&log, 0);
    let keys: Vec<_> = recs.iter().map(|r| (r.0, r.2.clone())).collect();
    assert_eq!(
        keys,
        vec![
            (1, Some("1".into())),
            (2, None),
            (3, Some("1".into())),
            (4, Some("1".into()))
        ]
    );
    // The tombstone's batch carries its delete horizon; the record keeps
    // its own timestamp.
    let h = headers(&log)
        .into_iter()
        .find(|h| h.base_offset == 2)
        .unwrap();
    assert_ne!(h.attributes & ATTR_DELETE_HORIZON, 0);
    assert_eq!(h.first_timestamp, 11_000);
    assert_eq!(recs[1].3, 102);

    // Before the horizon nothing is due (no dirty data either).
    assert!(!log.compact(10_999).unwrap().ran);
    assert_eq!(consume(&log, 0).len(), 4);
    // A restart forgets the horizon and finds it again in the headers.
    log.close().unwrap();
    drop(log);
    let log = Log::open(d.path(), config).unwrap();
    assert!(!log.compact(10_500).unwrap().ran);
    let stats = log.compact(11_000).unwrap();
    assert!(stats.ran);
    assert_eq!(stats.tombstones_removed, 1);
    let offsets: Vec<i64> = consume(&log, 0).iter().map(|r| r.0).collect();
    assert_eq!(offsets, vec![1, 3, 4]);
    assert!(headers(&log)
        .iter()
        .all(|h| h.attributes & ATTR_DELETE_HORIZON == 0));
    assert!(!log.compact(20_000).unwrap().ran);
}

#[test]
fn compressed_batches_are_filtered_and_recompressed() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let d = tempfile::tempdir().unwrap();
        let log = Log::open(d.path(), compact_config()).unwrap();
        let mut all = Vec::new();
        for b in 0..4i64 {
            let recs: Vec<(String, String, i64)> = (0..10i64)
                .map(|i| {
                    let n = b * 10 + i;
                    // Keys k0..k5; the last batch updates only k0..k2.
                    let key = if b == 3 { n % 3 } else { n % 6 };
                    (format!("k{key}"), format!("value-{n}"), 5000 - n)
                })
                .collect();
            let refs: Vec<(Option<&str>, Option<&str>, i64)> = recs
                .iter()
                .map(|(k, v, ts)| (Some(k.as_str()), Some(v.as_str()), *ts))
                .collect();
            append(&log, kv_batch(codec, &refs), 0);
            all.extend(recs);
        }
        roll(&log);
        put(&log, "tail", Some("x"), 1);
        let stats = log.compact(10_000).unwrap();
        assert!(stats.changed_log(), "{codec:?}: {stats:?}");

        let hs = headers(&log);
        for h in &hs[..hs.len() - 1] {
            assert_eq!(h.compression().unwrap(), codec);
            assert_eq!(h.last_offset_delta, 9, "{codec:?}");
            assert_eq!(h.base_offset % 10, 0);
        }
        let recs = consume(&log, 0);
        let got: Vec<(i64, String)> = recs
            .iter()
            .filter(|r| r.0 < 40)
            .map(|r| (r.0, r.2.clone().unwrap()))
            .collect();
        // k3, k4, k5 last written in batch 2 (offsets 27, 28, 29); k0..k2
        // in batch 3 (37, 38, 39).
        let want: Vec<(i64, String)> = [27, 28, 29, 37, 38, 39]
            .iter()
            .map(|&o| (o, format!("value-{o}")))
            .collect();
        assert_eq!(got, want, "{codec:?}");
        for r in recs.iter().filter(|r| r.0 < 40) {
            assert_eq!(r.3, 5000 - r.0, "{codec:?} timestamp of {}", r.0);
        }
        let b2 = hs.iter().find(|h| h.base_offset == 20).unwrap();
        assert_eq!(b2.record_count, 3);
        assert_eq!(b2.max_timestamp, 5000 - 27);
        assert_eq!(b2.first_timestamp, 5000 - 27);
        // Batches 0 and 1 are gone; batch 3 keeps its last three.
        assert_eq!(hs.len(), 3, "{codec:?}");
        let b3 = hs.iter().find(|h| h.base_offset == 30).unwrap();
        assert_eq!(b3.record_count, 3);
        assert_eq!(b3.max_timestamp, 5000 - 37);
        assert_eq!(latest_by_key(&recs).len(), 7);
    }
}

#[test]
fn last_batch_of_a_producer_survives_empty() {
    let d = tempfile::tempdir().unwrap();
    let log = Log::open(d.path(), compact_config()).unwrap();
    let producer_batch = |seq: i32, value: &str| {
        let mut b = BatchBuilder::new(Compression::Lz4).producer(7, 3, seq);
        b.append(10, Some(b"a"), Some(value.as_bytes()), &[])
            .unwrap();
        b.append(11, Some(b"a"), Some(value.as_bytes()), &[])
            .unwrap();
        b.build().unwrap().to_vec()
    };
    append(&log, producer_batch(0, "1"), 0);
    append(&log, producer_batch(2, "2"), 0);
    put(&log, "a", Some("3"), 12);
    roll(&log);
    put(&log, "z", Some("z"), 13);
    assert!(log.compact(1000).unwrap().changed_log());
    let hs = headers(&log);
    assert_eq!(hs.len(), 3, "{hs:?}");
    let empty = hs[0];
    assert_eq!(empty.base_offset, 2);
    assert_eq!(empty.record_count, 0);
    assert_eq!(empty.last_offset_delta, 1);
    assert_eq!(empty.producer_id, 7);
    assert_eq!(empty.producer_epoch, 3);
    assert_eq!(empty.base_sequence, 2);
    assert_eq!(empty.last_sequence(), 3);
    assert_eq!(hs[1].base_offset, 4);
    let recs = consume(&log, 0);
    assert_eq!(recs.iter().map(|r| r.0).collect::<Vec<_>>(), vec![4, 5]);
    // A second run keeps the empty batch (still the producer's last).
    put(&log, "z", Some("z2"), 14);
    roll(&log);
    log.compact(2000).unwrap();
    assert!(headers(&log)
        .iter()
        .any(|h| h.producer_id == 7 && h.record_count == 0));
}

#[test]
fn transactions_aborted_data_goes_and_open_data_stays() {
    let d = tempfile::tempdir().unwrap();
    let log = Log::open(d.path(), compact_config()).unwrap();
    let txn_batch = |pid: i64, recs: &[(&str, &str)]| {
        let mut b = BatchBuilder::new(Compression::Zstd)
            .producer(pid, 0, 0)
            .transactional(true);
        for (k, v) in recs {
            b.append(5, Some(k.as_bytes()), Some(v.as_bytes()), &[])
                .unwrap();
        }
        b.build().unwrap().to_vec()
    };
    let marker = |kind: ControlType, pid: i64| control_batch(kind, pid, 0, 0, 5, 0).to_vec();
    put(&log, "a", Some("1"), 5); // 0
    append(&log, txn_batch(5, &[("a", "2"), ("b", "1")]), 5); // 1, 2
    append(&log, marker(ControlType::Abort, 5), 5); // 3
    append(&log, txn_batch(6, &[("a", "3")]), 5); // 4
    append(&log, marker(ControlType::Commit, 6), 5); // 5
    roll(&log);
    append(&log, txn_batch(7, &[("a", "4")]), 5); // 6, still open
    put(&log, "c", Some("1"), 5); // 7
    roll(&log);
    put(&log, "z", Some("z"), 5); // 8

    // The last stable offset is 6: only the first segment is cleaned.
    let stats = log.compact_to(1000, 6).unwrap();
    assert_eq!(stats.cleaned_up_to, 6);
    let hs = headers(&log);
    let summary: Vec<(i64, i32, bool)> = hs
        .iter()
        .map(|h| (h.base_offset, h.record_count, h.is_control()))
        .collect();
    // a=1 superseded by the committed a=3; the aborted batch kept empty
    // (the last data batch of producer 5); both markers kept.
    assert_eq!(
        summary,
        vec![
            (1, 0, false),
            (3, 1, true),
            (4, 1, false),
            (5, 1, true),
            (6, 1, false),
            (7, 1, false),
            (8, 1, false)
        ]
    );
    assert_eq!(hs[0].last_offset_delta, 1);
    assert_eq!(hs[0].producer_id, 5);
    assert!(hs[0].is_transactional());

    // Even cleaned up to the high watermark, the open transaction's a=4
    // neither goes nor removes the committed a=3.
    log.compact(1000).unwrap();
    let vals: Vec<_> = consume(&log, 0).into_iter().map(|r| (r.0, r.2)).collect();
    assert_eq!(
        vals,
        vec![
            (4, Some("3".into())),
            (6, Some("4".into())),
            (7, Some("1".into())),
            (8, Some("z".into()))
        ]
    );
}

#[test]
fn null_keys_are_kept() {
    let d = tempfile::tempdir().unwrap();
    let log = Log::open(d.path(), compact_config()).unwrap();
    append(
        &log,
        kv_batch(
            Compression::None,
            &[
                (None, Some("n1"), 1),
                (Some("a"), Some("1"), 1),
                (None, Some("n2"), 1),
            ],
        ),
        0,
    );
    put(&log, "a", Some("2"), 2);
    roll(&log);
    put(&log, "z", Some("z"), 3);
    assert!(log.compact(1000).unwrap().changed_log());
    let vals: Vec<_> = consume(&log, 0).into_iter().map(|r| (r.0, r.2)).collect();
    assert_eq!(
        vals,
        vec![
            (0, Some("n1".into())),
            (2, Some("n2".into())),
            (3, Some("2".into())),
            (4, Some("z".into()))
        ]
    );
    let h = headers(&log)[0];
    assert_eq!(
        (h.base_offset, h.last_offset_delta, h.record_count),
        (0, 2, 2)
    );
}

#[test]
fn when_compaction_is_due() {
    let d = tempfile::tempdir().unwrap();
    let config = LogConfig {
        min_cleanable_dirty_ratio: 0.5,
        min_compaction_lag_ms: 5000,
        ..compact_config()
    };
    let log = Log::open(d.path(), config.clone()).unwrap();
    for i in 0..40i64 {
        put(&log, &format!("k{}", i % 2), Some("v"), 1000);
    }
    roll(&log);
    put(&log, "z", Some("z"), 1000);
    // Too young for min.compaction.lag.ms.
    assert!(!log.compact(3000).unwrap().ran);
    let stats = log.compact(7000).unwrap();
    assert!(stats.ran && stats.dirty_ratio == 1.0);
    // A little new dirty data: the ratio stays below 0.5.
    put(&log, "k0", Some("w"), 1000);
    roll(&log);
    put(&log, "k1", Some("w"), 1000);
    roll(&log);
    let stats = log.compact(7000).unwrap();
    assert!(stats.ran, "{stats:?}");
    for i in 0..10 {
        put(&log, &format!("x{i}"), Some("w"), 1000);
    }
    roll(&log);
    let small = LogConfig {
        min_cleanable_dirty_ratio: 0.9,
        ..config.clone()
    };
    log.update_config(small.clone()).unwrap();
    let stats = log.compact(7000).unwrap();
    assert!(!stats.ran && stats.dirty_ratio < 0.9, "{stats:?}");
    // max.compaction.lag.ms forces it.
    log.update_config(LogConfig {
        max_compaction_lag_ms: 5000,
        ..small
    })
    .unwrap();
    assert!(log.compact(7000).unwrap().ran);
    // Not a compacted topic: never.
    log.update_config(LogConfig {
        cleanup_policy: CleanupPolicy::Delete,
        min_cleanable_dirty_ratio: 0.0,
        ..config
    })
    .unwrap();
    put(&log, "k0", Some("y"), 1000);
    roll(&log);
    assert!(!log.compact(7000).unwrap().ran);
}

/// A log of three small sealed segments (one group) and an active one.
fn crash_fixture(dir: &Path) -> Log {
    let config = LogConfig {
        segment_bytes: 1 << 20,
        ..compact_config()
    };
    let log = Log::open(dir, config).unwrap();
    for s in 0..3i64 {
        for i in 0..10i64 {
            let n = s * 10 + i;
            put(&log, &format!("k{}", n % 4), Some(&format!("v{n}")), n);
        }
        roll(&log);
    }
    put(&log, "tail", Some("t"), 99);
    log
}

#[test]
fn a_crash_during_a_swap_recovers_to_a_consistent_log() {
    let reference = tempfile::tempdir().unwrap();
    let log = crash_fixture(reference.path());
    let original = consume(&log, 0);
    assert!(log.compact(1000).unwrap().changed_log());
    let compacted = consume(&log, 0);
    assert_eq!(compacted.len(), 5);
    drop(log);

    // Steps: 0 = manifest written only, 1 = old segments unlinked,
    // 2/3 = index/time index renamed, 4 = log renamed (manifest left).
    for steps in 0..=4 {
        let d = tempfile::tempdir().unwrap();
        let log = crash_fixture(d.path());
        *log.crash_swap_after.lock() = Some(steps);
        assert!(log.compact(1000).is_err());
        assert!(log.is_offline());
        drop(log);
        let log = Log::open(d.path(), compact_config()).unwrap();
        log.set_high_watermark(log.log_end_offset());
        assert_eq!(consume(&log, 0), compacted, "crash after {steps} steps");
        assert_eq!(log.segment_base_offsets(), vec![0, 30], "{steps}");
        assert!(
            odd_files(d.path()).is_empty(),
            "{steps}: {:?}",
            odd_files(d.path())
        );
        assert_eq!(log.log_end_offset(), 31);
        // The cleaner checkpoint did not move: the next run redoes the
        // (now trivial) work and leaves the same log.
        assert!(log.compact(1000).unwrap().ran);
        assert_eq!(consume(&log, 0), compacted);
    }

    // A crash before the manifest: the cleaned files are discarded.
    let d = tempfile::tempdir().unwrap();
    let log = crash_fixture(d.path());
    drop(log);
    for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
        fs::write(cleaned_path(d.path(), 0, suffix), b"partial").unwrap();
    }
    let log = Log::open(d.path(), compact_config()).unwrap();
    assert!(odd_files(d.path()).is_empty());
    assert_eq!(consume(&log, 0), original);
}

#[test]
fn retention_or_truncation_during_cleaning_wins() {
    let d = tempfile::tempdir().unwrap();
    let log = crash_fixture(d.path());
    // Truncation makes a cleaned segment the active one again: the swap
    // must see that the group changed.
    let segs = log.segments_snapshot();
    let group: Vec<Arc<Segment>> = segs[..3].to_vec();
    log.truncate_to(25).unwrap();
    let map = OffsetMap::default();
    let last = HashMap::new();
    let closed = AtomicBool::new(false);
    let txns = Transactions::default();
    let filter = Filter {
        map: &map,
        txns: &txns,
        last_batches: &last,
        now_ms: 0,
        delete_retention_ms: 0,
        closed: &closed,
    };
    let mut gw = GroupWriter::new(d.path(), 0, 256).unwrap();
    for s in &group {
        gw.add(s, &filter).unwrap();
    }
    let cleaned = gw.finish().unwrap().unwrap();
    assert!(!log.swap_in(&group, cleaned).unwrap());
    assert!(odd_files(d.path()).is_empty());
    assert_eq!(log.log_end_offset(), 25);
    assert_eq!(consume(&log, 0).len(), 25);
    assert!(log.compact(1000).unwrap().changed_log());
    let kept: Vec<i64> = consume(&log, 0).iter().map(|r| r.0).collect();
    assert_eq!(kept, vec![16, 17, 18, 19, 20, 21, 22, 23, 24]);
}

#[test]
fn log_append_time_batches() {
    let d = tempfile::tempdir().unwrap();
    let config = LogConfig {
        message_timestamp_type: TimestampType::LogAppendTime,
        ..compact_config()
    };
    let log = Log::open(d.path(), config).unwrap();
    append(
        &log,
        kv_batch(
            Compression::Zstd,
            &[(Some("a"), Some("1"), 1), (Some("b"), Some("1"), 2)],
        ),
        500,
    );
    put(&log, "a", Some("2"), 3);
    roll(&log);
    put(&log, "z", Some("z"), 4);
    log.compact(1000).unwrap();
    let h = headers(&log)[0];
    assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(h.max_timestamp, 500);
    assert_eq!(h.record_count, 1);
    let recs = consume(&log, 0);
    assert_eq!((recs[0].0, recs[0].3), (1, 500));
    let by_key: HashMap<_, _> = recs.iter().map(|r| (r.1.clone(), r.2.clone())).collect();
    assert_eq!(by_key[&Some("a".to_string())], Some("2".into()));
}

/// What was written at one offset, for the random workloads.
#[derive(Clone, Debug, PartialEq)]
struct Written {
    key: Option<String>,
    value: Option<String>,
    /// In a transaction that was aborted.
    aborted: bool,
    /// A transaction marker.
    control: bool,
}

/// Checks what a consumer from the start sees against everything written
/// (`written[offset]`).
fn check_against(log: &Log, written: &[Written]) {
    let recs = consume(log, 0);
    let ckpt = log.cleaner_checkpoint();
    assert_eq!(log.log_end_offset(), written.len() as i64);
    assert!(recs.windows(2).all(|w| w[0].0 < w[1].0));
    for (o, k, v, _) in &recs {
        let w = &written[*o as usize];
        assert!(!w.control);
        assert_eq!((k, v), (&w.key, &w.value), "offset {o}");
        assert!(
            !w.aborted || *o >= ckpt,
            "aborted record {o} below the checkpoint {ckpt}"
        );
    }
    let present: std::collections::HashSet<i64> = recs.iter().map(|r| r.0).collect();
    let mut latest: HashMap<&str, usize> = HashMap::new();
    for (o, w) in written.iter().enumerate() {
        if w.aborted || w.control {
            continue;
        }
        match &w.key {
            Some(k) => {
                latest.insert(k, o);
            }
            None => assert!(
                present.contains(&(o as i64)),
                "null-key record {o} lost ({:?})",
                w.value
            ),
        }
    }
    for (k, &o) in &latest {
        if written[o].value.is_some() {
            assert!(
                present.contains(&(o as i64)),
                "latest value of {k} at {o} lost"
            );
        }
    }
    // The compacted part holds each key at most once.
    let mut seen = std::collections::HashSet::new();
    for (o, k, _, _) in &recs {
        if let (true, Some(k)) = (*o < ckpt, k) {
            assert!(
                seen.insert(k.clone()),
                "{k} twice below the checkpoint {ckpt}"
            );
        }
    }
}

#[test]
fn random_workloads_keep_the_latest_value_of_every_key() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let codecs = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    for round in 0..4u64 {
        let d = tempfile::tempdir().unwrap();
        let config = LogConfig {
            segment_bytes: 500 + 500 * round,
            index_interval_bytes: 100,
            delete_retention_ms: 50,
            min_cleanable_dirty_ratio: [0.0, 0.3, 0.6, 0.01][round as usize],
            ..compact_config()
        };
        let mut log = Log::open(d.path(), config.clone()).unwrap();
        let mut written: Vec<Written> = Vec::new();
        let mut now = 1000i64;
        let mut compactions = 0;
        for step in 0..700 {
            now += 3;
            match rnd(25) {
                0 | 1 => {
                    if log.compact(now).unwrap().ran {
                        compactions += 1;
                    }
                    check_against(&log, &written);
                }
                2 => {
                    if step % 2 == 0 {
                        log.close().unwrap();
                    }
                    drop(log);
                    log = Log::open(d.path(), config.clone()).unwrap();
                    log.set_high_watermark(log.log_end_offset());
                    check_against(&log, &written);
                }
                3 => {
                    // A transaction of one or two batches, then its marker.
                    let pid = 60 + rnd(3) as i64;
                    let aborted = rnd(2) == 0;
                    for _ in 0..1 + rnd(2) {
                        let n = 1 + rnd(3) as usize;
                        let mut b = BatchBuilder::new(codecs[rnd(5) as usize])
                            .producer(pid, 0, 0)
                            .transactional(true);
                        for i in 0..n {
                            let key = format!("k{}", rnd(12));
                            let value = format!("v{}", written.len() + i);
                            b.append(now, Some(key.as_bytes()), Some(value.as_bytes()), &[])
                                .unwrap();
                            written.push(Written {
                                key: Some(key),
                                value: Some(value),
                                aborted,
                                control: false,
                            });
                        }
                        append(&log, b.build().unwrap().to_vec(), now);
                    }
                    let kind = if aborted {
                        ControlType::Abort
                    } else {
                        ControlType::Commit
                    };
                    append(&log, control_batch(kind, pid, 0, 0, now, 0).to_vec(), now);
                    written.push(Written {
                        key: None,
                        value: None,
                        aborted: false,
                        control: true,
                    });
                }
                _ => {
                    let n = 1 + rnd(4) as usize;
                    let recs: Vec<(Option<String>, Option<String>)> = (0..n)
                        .map(|_| {
                            let key = (rnd(30) != 0).then(|| format!("k{}", rnd(12)));
                            let value = (rnd(8) != 0).then(|| format!("v{}", written.len()));
                            (key, value)
                        })
                        .collect();
                    let refs: Vec<(Option<&str>, Option<&str>, i64)> = recs
                        .iter()
                        .map(|(k, v)| (k.as_deref(), v.as_deref(), now))
                        .collect();
                    let codec = codecs[rnd(5) as usize];
                    let batch = if rnd(3) == 0 {
                        let mut b = BatchBuilder::new(codec).producer(40 + rnd(3) as i64, 0, 0);
                        for (k, v, ts) in &refs {
                            b.append(*ts, k.map(str::as_bytes), v.map(str::as_bytes), &[])
                                .unwrap();
                        }
                        b.build().unwrap().to_vec()
                    } else {
                        kv_batch(codec, &refs)
                    };
                    append(&log, batch, now);
                    written.extend(recs.into_iter().map(|(key, value)| Written {
                        key,
                        value,
                        aborted: false,
                        control: false,
                    }));
                }
            }
        }
        roll(&log);
        // Clean the dirty rest whatever its ratio, then let the horizons pass.
        log.update_config(LogConfig {
            min_cleanable_dirty_ratio: 0.0,
            ..config.clone()
        })
        .unwrap();
        for _ in 0..3 {
            now += 1000;
            log.compact(now).unwrap();
            check_against(&log, &written);
        }
        assert!(compactions > 5, "round {round}: {compactions}");
        // Every tombstone is gone once its horizon passed.
        let recs = consume(&log, 0);
        let left: Vec<_> = recs
            .iter()
            .filter(|r| r.1.is_some() && r.2.is_none())
            .collect();
        assert!(left.is_empty(), "round {round}: tombstones left: {left:?}");
        assert!(odd_files(d.path()).is_empty());
    }
}

#[test]
fn a_read_that_raced_a_swap_continues_in_the_merged_segment() {
    let d = tempfile::tempdir().unwrap();
    let log = crash_fixture(d.path());
    let old = log.segments_snapshot();
    assert!(log.compact(1000).unwrap().changed_log());
    // The three sealed segments were merged into one at base 0. A reader
    // that found nothing more in its copy of the old segment at base 10
    // goes on in the merged segment covering those offsets, not in the
    // segment after it.
    assert_eq!(log.segment_base_offsets(), vec![0, 30]);
    let next = log.next_segment_to_read(&old[1]).unwrap();
    assert_eq!(next.base_offset, 0);
    assert!(!Arc::ptr_eq(&next, &old[0]));
    let again = log.next_segment_to_read(&next).unwrap();
    assert_eq!(again.base_offset, 30);
}

#[test]
fn deleting_a_log_stops_a_running_cleaner() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("t-0");
    let log = Arc::new(Log::open(&dir, compact_config()).unwrap());
    for i in 0..3000i64 {
        put(&log, &format!("k{}", i % 50), Some("some value"), i);
    }
    let l = log.clone();
    let cleaner = std::thread::spawn(move || {
        let mut n = 0;
        while l.compact(10_000).is_ok() {
            n += 1;
            std::thread::sleep(std::time::Duration::from_micros(100));
        }
        n
    });
    std::thread::sleep(std::time::Duration::from_millis(2));
    log.delete().unwrap();
    assert!(!dir.exists());
    cleaner.join().unwrap();
    assert!(matches!(log.compact(20_000), Err(StorageError::Closed)));
}

/// `cargo test --release -p fjord-storage --lib cleaner_throughput -- --ignored --nocapture`
#[test]
#[ignore = "benchmark"]
fn cleaner_throughput() {
    for codec in [Compression::None, Compression::Lz4] {
        let d = tempfile::tempdir().unwrap();
        let config = LogConfig {
            segment_bytes: 16 << 20,
            index_interval_bytes: 4096,
            ..compact_config()
        };
        let log = Arc::new(Log::open(d.path(), config).unwrap());
        let value = vec![b'v'; 100];
        let value = std::str::from_utf8(&value).unwrap();
        let keys: Vec<String> = (0..10_000).map(|k| format!("key-{k:05}")).collect();
        for b in 0..4000usize {
            let recs: Vec<(Option<&str>, Option<&str>, i64)> = (0..100)
                .map(|i| {
                    (
                        Some(keys[(b * 100 + i) % keys.len()].as_str()),
                        Some(value),
                        1,
                    )
                })
                .collect();
            append(&log, kv_batch(codec, &recs), 1);
        }
        roll(&log);
        let size = log.size_bytes();
        // An appender measures how long its appends wait meanwhile.
        let stop = Arc::new(AtomicBool::new(false));
        let (l, st) = (log.clone(), stop.clone());
        let appender = std::thread::spawn(move || {
            let mut worst = std::time::Duration::ZERO;
            let mut n = 0;
            while !st.load(Ordering::Acquire) {
                let t = std::time::Instant::now();
                put(&l, "appender", Some("x"), 2);
                worst = worst.max(t.elapsed());
                n += 1;
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            (worst, n)
        });
        let t = std::time::Instant::now();
        let stats = log.compact(10_000).unwrap();
        let took = t.elapsed();
        stop.store(true, Ordering::Release);
        let (worst, n) = appender.join().unwrap();
        eprintln!(
            "{codec:?}: {} records / {:.1} MiB in {} segments -> {} records / {:.2} MiB in {} segments: \
             {:.2} s ({:.0} MiB/s, {:.1} M records/s); {n} concurrent appends, slowest {:.1} ms",
            stats.records_before,
            size as f64 / 1048576.0,
            stats.segments_before,
            stats.records_after,
            stats.bytes_after as f64 / 1048576.0,
            stats.segments_after,
            took.as_secs_f64(),
            size as f64 / 1048576.0 / took.as_secs_f64(),
            stats.records_before as f64 / 1e6 / took.as_secs_f64(),
            worst.as_secs_f64() * 1000.0,
        );
    }
}
