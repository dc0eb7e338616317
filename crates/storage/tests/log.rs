//! Integration tests of the partition log.

#[path = "../src/test_util.rs"]
mod test_util;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use fjord_protocol::records::{validate, BatchHeader, BatchIter, TimestampType};
use fjord_storage::{
    list_partition_dirs, partition_dir, FlushPolicy, Log, LogConfig, StorageError,
};
use proptest::prelude::*;
use test_util::{batch, batch_with_attrs, simple_batch};

/// The stored form of each appended batch: (base offset, bytes).
type Model = Vec<(i64, Vec<u8>)>;

fn small_config(segment_bytes: u64, interval: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        index_interval_bytes: interval,
        ..LogConfig::default()
    }
}

fn append(log: &Log, model: &mut Model, mut bytes: Vec<u8>, epoch: i32, now: i64) {
    let info = log.append(&mut bytes, epoch, now).unwrap();
    let mut off = info.first_offset;
    for b in BatchIter::new(&bytes) {
        let (h, raw) = b.unwrap();
        assert_eq!(h.base_offset, off);
        assert_eq!(h.partition_leader_epoch, epoch);
        validate(raw).unwrap();
        model.push((off, raw.to_vec()));
        off = h.next_offset();
    }
    assert_eq!(off, info.last_offset + 1);
    assert_eq!(log.log_end_offset(), off);
}

fn read_all(log: &Log, from: i64, max_bytes: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut off = from;
    loop {
        let r = log.read(off, max_bytes, i64::MAX, true).unwrap();
        if r.is_empty() {
            break;
        }
        let bytes = r.to_bytes().unwrap();
        assert_eq!(bytes.len(), r.len());
        // Whole batches only.
        let mut n = 0;
        for b in BatchIter::new(&bytes) {
            validate(b.unwrap().1).unwrap();
            n += 1;
        }
        assert!(n >= 1);
        assert!(r.next_offset > off);
        out.extend_from_slice(&bytes);
        off = r.next_offset;
    }
    out
}

fn model_bytes(model: &Model) -> Vec<u8> {
    model.iter().flat_map(|(_, b)| b.iter().copied()).collect()
}

fn segment_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some(ext))
        .collect();
    v.sort();
    v
}

fn append_many(log: &Log, model: &mut Model, n: usize, now: i64) {
    for i in 0..n {
        let records = 1 + i % 4;
        let value_len = 10 + (i * 37) % 300;
        append(
            log,
            model,
            simple_batch(records, now + i as i64, value_len),
            0,
            now,
        );
    }
}

#[test]
fn round_trip_across_segment_rolls() {
    let d = tempfile::tempdir().unwrap();
    let log = Log::open(d.path(), small_config(4096, 512)).unwrap();
    assert_eq!(log.log_end_offset(), 0);
    let mut model = Model::new();
    append_many(&log, &mut model, 400, 1_000);
    assert!(log.segment_base_offsets().len() > 10);
    assert_eq!(read_all(&log, 0, 1 << 20), model_bytes(&model));
    assert_eq!(read_all(&log, 0, 1000), model_bytes(&model));
    assert_eq!(read_all(&log, 0, 1), model_bytes(&model));
    // Every segment's base is a batch base, and segments respect the size.
    for p in segment_files(d.path(), "log") {
        let len = fs::metadata(&p).unwrap().len();
        assert!(len <= 4096, "{} is {len} bytes", p.display());
    }
    let leo = log.log_end_offset();
    log.close().unwrap();
    assert!(matches!(
        log.append(&mut simple_batch(1, 0, 1), 0, 0),
        Err(StorageError::Closed)
    ));

    // Clean reopen trusts the files and sees the same log.
    let log = Log::open(d.path(), small_config(4096, 512)).unwrap();
    assert_eq!(log.log_end_offset(), leo);
    assert_eq!(read_all(&log, 0, 1 << 20), model_bytes(&model));
    append_many(&log, &mut model, 50, 5_000);
    assert_eq!(read_all(&log, 0, 3000), model_bytes(&model));
}

#[test]
fn offsets_are_consecutive_and_multi_batch_appends_work() {
    let d = tempfile::tempdir().unwrap();
    let log = Log::open(d.path(), LogConfig::default()).unwrap();
    let mut buf = Vec::new();
    buf.extend(simple_batch(3, 10, 5));
    buf.extend(simple_batch(1, 30, 5));
    buf.extend(simple_batch(5, 20, 5));
    let info = log.append(&mut buf, 7, 1234).unwrap();
    assert_eq!(info.first_offset, 0);
    assert_eq!(info.last_offset, 8);
    assert_eq!(info.max_timestamp, 30);
    assert_eq!(info.log_append_time, -1);
    assert_eq!(info.log_start_offset, 0);
    let bases: Vec<i64> = BatchIter::new(&buf)
        .map(|b| b.unwrap().0.base_offset)
        .collect();
    assert_eq!(bases, vec![0, 3, 4]);
    let info = log.append(&mut simple_batch(2, 40, 5), 7, 1234).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (9, 10));
    assert_eq!(log.log_end_offset(), 11);
    let r = log.read(0, 1 << 20, i64::MAX, false).unwrap();
    assert_eq!(
        r.to_bytes().unwrap().len(),
        buf.len() + simple_batch(2, 40, 5).len()
    );

    // Bad input leaves the log alone.
    let mut torn = simple_batch(2, 1, 5);
    torn.pop();
    assert!(matches!(
        log.append(&mut torn, 7, 0),
        Err(StorageError::InvalidBatch(_))
    ));
    assert!(matches!(
        log.append(&mut [], 7, 0),
        Err(StorageError::InvalidBatch(_))
    ));
    let cfg = LogConfig {
        max_message_bytes: 100,
        ..LogConfig::default()
    };
    log.update_config(cfg).unwrap();
    assert!(matches!(
        log.append(&mut simple_batch(1, 1, 200), 7, 0),
        Err(StorageError::RecordTooLarge { .. })
    ));
    assert_eq!(log.log_end_offset(), 11);
}

#[test]
fn log_append_time_rewrites_timestamps() {
    let d = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        message_timestamp_type: TimestampType::LogAppendTime,
        ..LogConfig::default()
    };
    let log = Log::open(d.path(), cfg).unwrap();
    let mut b = simple_batch(3, 5, 10);
    let info = log.append(&mut b, 0, 99_000).unwrap();
    assert_eq!(info.log_append_time, 99_000);
    assert_eq!(info.max_timestamp, 99_000);
    let stored = log
        .read(0, 1 << 20, i64::MAX, true)
        .unwrap()
        .to_bytes()
        .unwrap();
    let h = validate(&stored).unwrap();
    assert_eq!(h.max_timestamp, 99_000);
    assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(log.offset_for_timestamp(50_000).unwrap(), Some((0, 99_000)));
}

#[test]
fn reads_return_the_batch_containing_the_offset() {
    let d = tempfile::tempdir().unwrap();
    let log = Log::open(d.path(), small_config(8192, 300)).unwrap();
    let mut model = Model::new();
    append_many(&log, &mut model, 300, 0);
    let leo = log.log_end_offset();
    for target in 0..leo {
        let r = log.read(target, 1, i64::MAX, true).unwrap();
        let bytes = r.to_bytes().unwrap();
        let h = BatchHeader::parse(&bytes).unwrap();
        assert!(
            h.base_offset <= target && target <= h.last_offset(),
            "{target}"
        );
        assert_eq!(bytes.len(), h.total_size());
        assert_eq!(r.first_offset, h.base_offset);
        assert_eq!(r.next_offset, h.next_offset());
        let expected = model.iter().find(|(b, _)| *b == h.base_offset).unwrap();
        assert_eq!(&bytes[..], &expected.1[..]);
    }
    // A read at the log end is empty; past it is out of range.
    assert!(log.read(leo, 100, i64::MAX, true).unwrap().is_empty());
    assert!(matches!(
        log.read(leo + 1, 100, i64::MAX, true),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    // max_bytes below the first batch: empty unless min_one_batch.
    assert!(log.read(0, 1, i64::MAX, false).unwrap().is_empty());
    // max_offset (e.g. the high watermark) bounds the batches returned.
    let hw = model[10].0;
    let r = log.read(0, 1 << 20, hw, true).unwrap();
    assert_eq!(r.next_offset, hw);
    assert_eq!(r.to_bytes().unwrap(), model_bytes(&model[..10].to_vec()));
    assert!(log.read(hw, 1 << 20, hw, true).unwrap().is_empty());
    // max_bytes is honoured with whole batches.
    let r = log.read(0, 2000, i64::MAX, true).unwrap();
    let total: usize = model
        .iter()
        .map(|(_, b)| b.len())
        .scan(0, |acc, l| {
            *acc += l;
            Some(*acc)
        })
        .take_while(|&acc| acc <= 2000)
        .last()
        .unwrap();
    assert_eq!(r.len(), total);
}

#[test]
fn offset_for_timestamp_and_max_timestamp() {
    let d = tempfile::tempdir().unwrap();
    let log = Log::open(d.path(), small_config(2048, 200)).unwrap();
    let mut model = Model::new();
    // Timestamps that mostly grow, with dips, several records per batch.
    let mut expected: Vec<(i64, i64)> = Vec::new(); // (offset, ts) per record
    let mut offset = 0i64;
    for i in 0..200i64 {
        let base_ts = 10_000 + i * 10 - if i % 7 == 0 { 500 } else { 0 };
        let v = vec![b'v'; 40];
        let recs: Vec<(i64, &[u8])> = (0..3).map(|j| (base_ts + j * 3, v.as_slice())).collect();
        for (j, r) in recs.iter().enumerate() {
            expected.push((offset + j as i64, r.0));
        }
        offset += 3;
        append(&log, &mut model, batch(&recs), 0, 0);
    }
    assert!(log.segment_base_offsets().len() > 3);
    let check = |log: &Log| {
        for ts in (9_000..12_100).step_by(7) {
            let want = expected.iter().find(|(_, t)| *t >= ts).copied();
            assert_eq!(log.offset_for_timestamp(ts).unwrap(), want, "ts {ts}");
        }
        let max = expected.iter().map(|e| e.1).max().unwrap();
        let first_max = expected.iter().find(|e| e.1 == max).copied();
        assert_eq!(log.max_timestamp_offset().unwrap(), first_max);
    };
    check(&log);
    log.close().unwrap();
    let log = Log::open(d.path(), small_config(2048, 200)).unwrap();
    check(&log);

    // Compressed batches: batch-level answers.
    let d = tempfile::tempdir().unwrap();
    let log = Log::open(d.path(), LogConfig::default()).unwrap();
    let v = b"abc".as_slice();
    log.append(&mut batch_with_attrs(1, &[(100, v), (300, v)]), 0, 0)
        .unwrap();
    log.append(&mut batch_with_attrs(1, &[(200, v), (500, v)]), 0, 0)
        .unwrap();
    assert_eq!(log.offset_for_timestamp(250).unwrap(), Some((0, 300)));
    assert_eq!(log.offset_for_timestamp(400).unwrap(), Some((2, 500)));
    assert_eq!(log.offset_for_timestamp(600).unwrap(), None);
    assert_eq!(log.max_timestamp_offset().unwrap(), Some((2, 500)));
}

fn last_log_file(dir: &Path) -> PathBuf {
    segment_files(dir, "log").pop().unwrap()
}

fn model_end(model: &Model) -> i64 {
    model
        .last()
        .map_or(0, |(_, raw)| BatchHeader::parse(raw).unwrap().next_offset())
}

fn append_to_file(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn recovery_truncates_a_torn_tail() {
    let d = tempfile::tempdir().unwrap();
    let cfg = small_config(4096, 256);
    let mut model = Model::new();
    {
        let log = Log::open(d.path(), cfg.clone()).unwrap();
        append_many(&log, &mut model, 100, 0);
        log.sync_to(log.log_end_offset()).unwrap();
        // The sync after rolls moved the recovery point to the active
        // segment: only it is rescanned after a crash.
        let active = *log.segment_base_offsets().last().unwrap();
        assert!(active > 0);
        assert_eq!(
            fs::read_to_string(d.path().join("recovery-point")).unwrap(),
            format!("0\n{active}\n")
        );
        // Dropped without close: a crash.
    }
    let leo = model_end(&model);
    let last = last_log_file(d.path());
    let good_len = fs::metadata(&last).unwrap().len();
    // Half a batch.
    let mut half = simple_batch(3, 1, 100);
    half.truncate(half.len() / 2);
    append_to_file(&last, &half);
    {
        let log = Log::open(d.path(), cfg.clone()).unwrap();
        assert_eq!(log.log_end_offset(), leo);
        assert_eq!(fs::metadata(&last).unwrap().len(), good_len);
        assert_eq!(read_all(&log, 0, 5000), model_bytes(&model));
    }
    // Garbage.
    append_to_file(&last, &[0xAB; 777]);
    {
        let log = Log::open(d.path(), cfg.clone()).unwrap();
        assert_eq!(log.log_end_offset(), leo);
        assert_eq!(fs::metadata(&last).unwrap().len(), good_len);
        assert_eq!(read_all(&log, 0, 5000), model_bytes(&model));
    }
    // A whole batch with a bad CRC.
    let mut bad = simple_batch(2, 1, 10);
    set_offset(&mut bad, leo);
    let n = bad.len();
    bad[n - 1] ^= 0xFF;
    append_to_file(&last, &bad);
    let log = Log::open(d.path(), cfg.clone()).unwrap();
    assert_eq!(log.log_end_offset(), leo);
    assert_eq!(fs::metadata(&last).unwrap().len(), good_len);
    assert_eq!(read_all(&log, 0, 5000), model_bytes(&model));
    // Appending continues where it left off.
    append_many(&log, &mut model, 20, 0);
    log.close().unwrap();
    // Even with the clean-shutdown marker, a bad tail is noticed and cut.
    let last = last_log_file(d.path());
    let good_len = fs::metadata(&last).unwrap().len();
    set_offset(&mut bad, model_end(&model));
    append_to_file(&last, &bad);
    let log = Log::open(d.path(), cfg).unwrap();
    assert_eq!(fs::metadata(&last).unwrap().len(), good_len);
    assert_eq!(log.log_end_offset(), model_end(&model));
    assert_eq!(read_all(&log, 0, 5000), model_bytes(&model));
}

fn set_offset(batch: &mut [u8], offset: i64) {
    batch[0..8].copy_from_slice(&offset.to_be_bytes());
}

#[test]
fn recovery_deletes_segments_after_a_torn_one() {
    let d = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    {
        let log = Log::open(d.path(), small_config(2048, 256)).unwrap();
        append_many(&log, &mut model, 60, 0);
        // No sync: the recovery point stays at 0, so all segments are
        // rescanned.
    }
    let logs = segment_files(d.path(), "log");
    assert!(logs.len() >= 4);
    // Tear the second segment in the middle of a batch.
    let victim = &logs[1];
    let len = fs::metadata(victim).unwrap().len();
    let f = OpenOptions::new().write(true).open(victim).unwrap();
    f.set_len(len - 10).unwrap();
    drop(f);
    let log = Log::open(d.path(), small_config(2048, 256)).unwrap();
    assert_eq!(log.segment_base_offsets().len(), 2);
    let kept: Vec<_> = model
        .iter()
        .filter(|(b, _)| *b < log.log_end_offset())
        .cloned()
        .collect();
    assert!(kept.len() < model.len());
    assert_eq!(read_all(&log, 0, 5000), model_bytes(&kept));
    let mut model = kept;
    append_many(&log, &mut model, 10, 0);
    assert_eq!(read_all(&log, 0, 5000), model_bytes(&model));
}

#[test]
fn missing_or_corrupt_indexes_are_rebuilt() {
    let d = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    let cfg = small_config(4096, 128);
    {
        let log = Log::open(d.path(), cfg.clone()).unwrap();
        append_many(&log, &mut model, 200, 0);
        log.close().unwrap();
    }
    let indexes = segment_files(d.path(), "index");
    assert!(indexes.len() >= 4);
    let original = fs::read(&indexes[1]).unwrap();
    assert!(!original.is_empty());
    fs::remove_file(&indexes[0]).unwrap();
    fs::write(&indexes[1], [1u8, 2, 3]).unwrap();
    fs::write(&indexes[2], [0xFFu8; 16]).unwrap();
    let last = indexes.last().unwrap();
    fs::write(last, [0xFFu8; 8]).unwrap();
    let times = segment_files(d.path(), "timeindex");
    assert!(times.len() > 4);
    let original_times = fs::read(&times[3]).unwrap();
    assert!(!original_times.is_empty());
    fs::remove_file(&times[3]).unwrap();
    let log = Log::open(d.path(), cfg.clone()).unwrap();
    for target in (0..log.log_end_offset()).step_by(3) {
        let r = log.read(target, 1, i64::MAX, true).unwrap();
        let h = BatchHeader::parse(&r.to_bytes().unwrap()).unwrap();
        assert!(h.base_offset <= target && target <= h.last_offset());
    }
    assert_eq!(read_all(&log, 0, 3000), model_bytes(&model));
    assert_eq!(fs::read(&indexes[1]).unwrap(), original);
    assert_eq!(fs::read(&times[3]).unwrap(), original_times);
    assert!(indexes[0].exists());
    log.close().unwrap();
    // The rebuilt active index was written on close.
    assert_eq!(fs::read(last).unwrap().len() % 8, 0);
    let log = Log::open(d.path(), cfg).unwrap();
    assert_eq!(read_all(&log, 0, 3000), model_bytes(&model));
}

#[test]
fn retention_by_time_and_size() {
    let d = tempfile::tempdir().unwrap();
    let day = 24 * 3600 * 1000i64;
    let cfg = LogConfig {
        segment_bytes: 2048,
        retention_ms: day,
        ..LogConfig::default()
    };
    let log = Log::open(d.path(), cfg.clone()).unwrap();
    let mut model = Model::new();
    // Old data, then new data.
    append_many(&log, &mut model, 60, 0);
    let old_end = log.log_end_offset();
    append_many(&log, &mut model, 60, 10 * day);
    let segs = log.segment_base_offsets().len();
    let held = log.read(0, 1 << 20, i64::MAX, true).unwrap();
    // Nothing is deleted above the high watermark.
    assert_eq!(log.enforce_retention(10 * day + 1000).unwrap(), 0);
    log.set_high_watermark(log.log_end_offset());
    let deleted = log.enforce_retention(10 * day + 1000).unwrap();
    assert!(deleted > 0);
    assert_eq!(log.segment_base_offsets().len(), segs - deleted);
    let lso = log.log_start_offset();
    assert_eq!(lso, log.segment_base_offsets()[0]);
    // A reader still holding a deleted segment's file can send it.
    assert!(!d.path().join("00000000000000000000.log").exists());
    assert_eq!(held.to_bytes().unwrap().len(), held.len());
    assert!(lso > 0 && lso <= old_end);
    assert!(matches!(
        log.read(0, 100, i64::MAX, true),
        Err(StorageError::OffsetOutOfRange { requested: 0, .. })
    ));
    let kept: Model = model.iter().filter(|(b, _)| *b >= lso).cloned().collect();
    assert_eq!(read_all(&log, lso, 4000), model_bytes(&kept));
    // The log start offset survives a reopen.
    log.close().unwrap();
    let log = Log::open(d.path(), cfg.clone()).unwrap();
    assert_eq!(log.log_start_offset(), lso);

    // Size: keep the newest segments holding at least retention.bytes.
    let mut cfg2 = cfg.clone();
    cfg2.retention_ms = -1;
    cfg2.retention_bytes = 5000;
    log.update_config(cfg2).unwrap();
    log.set_high_watermark(log.log_end_offset());
    assert!(log.size_bytes() > 7000);
    let deleted = log.enforce_retention(10 * day).unwrap();
    assert!(deleted > 0);
    let first_len = fs::metadata(&segment_files(d.path(), "log")[0])
        .unwrap()
        .len();
    assert!(log.size_bytes() >= 5000);
    assert!(log.size_bytes() - first_len < 5000);

    // Everything expired: the active segment is rolled and deleted too.
    log.update_config(cfg).unwrap();
    let leo = log.log_end_offset();
    let deleted = log.enforce_retention(100 * day).unwrap();
    assert_eq!(log.enforce_retention(100 * day).unwrap(), 0);
    assert!(deleted >= 1);
    assert_eq!(log.segment_base_offsets(), vec![leo]);
    assert_eq!(log.log_start_offset(), leo);
    assert_eq!(log.log_end_offset(), leo);
    assert!(log.read(leo, 100, i64::MAX, true).unwrap().is_empty());
    let info = log
        .append(&mut simple_batch(1, 100 * day, 5), 0, 0)
        .unwrap();
    assert_eq!(info.first_offset, leo);
}

#[test]
fn delete_records_moves_log_start() {
    let d = tempfile::tempdir().unwrap();
    let cfg = small_config(2048, 256);
    let log = Log::open(d.path(), cfg.clone()).unwrap();
    let mut model = Model::new();
    append_many(&log, &mut model, 80, 0);
    let segs = log.segment_base_offsets();
    let target = segs[2] + 1;
    assert!(matches!(
        log.delete_records_before(target),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(log.delete_records_before(target).unwrap(), target);
    assert_eq!(log.segment_base_offsets()[0], segs[2]);
    assert_eq!(log.log_start_offset(), target);
    assert!(log.read(target - 1, 10, i64::MAX, true).is_err());
    let r = log.read(target, 10, i64::MAX, true).unwrap();
    assert!(r.first_offset <= target && r.next_offset > target);
    drop(log); // crash: the checkpoint still holds
    let log = Log::open(d.path(), cfg).unwrap();
    assert_eq!(log.log_start_offset(), target);
    assert_eq!(log.delete_records_before(target - 5).unwrap(), target);
}

#[test]
fn leader_epochs_survive_reopen() {
    let d = tempfile::tempdir().unwrap();
    let cfg = small_config(4096, 256);
    {
        let log = Log::open(d.path(), cfg.clone()).unwrap();
        let mut model = Model::new();
        append(&log, &mut model, simple_batch(5, 0, 10), 1, 0); // 0..5
        append(&log, &mut model, simple_batch(5, 0, 10), 1, 0); // 5..10
        append(&log, &mut model, simple_batch(5, 0, 10), 3, 0); // 10..15
        append(&log, &mut model, simple_batch(5, 0, 10), 4, 0); // 15..20
        assert_eq!(log.latest_epoch(), Some(4));
        assert_eq!(log.end_offset_for_epoch(1), Some((1, 10)));
        log.close().unwrap();
    }
    let log = Log::open(d.path(), cfg.clone()).unwrap();
    assert_eq!(log.latest_epoch(), Some(4));
    assert_eq!(log.end_offset_for_epoch(1), Some((1, 10)));
    assert_eq!(log.end_offset_for_epoch(2), Some((1, 10)));
    assert_eq!(log.end_offset_for_epoch(3), Some((3, 15)));
    assert_eq!(log.end_offset_for_epoch(4), Some((4, 20)));
    assert_eq!(log.end_offset_for_epoch(0), Some((0, 0)));
    assert_eq!(log.end_offset_for_epoch(9), None);
    // Truncation drops later epochs.
    log.truncate_to(12).unwrap();
    assert_eq!(log.log_end_offset(), 10);
    assert_eq!(log.latest_epoch(), Some(1));
    assert_eq!(log.end_offset_for_epoch(1), Some((1, 10)));
    drop(log);
    // After a crash the epochs come back from the checkpoint and the scan.
    fs::remove_file(d.path().join("leader-epoch-checkpoint")).unwrap();
    let log = Log::open(d.path(), cfg).unwrap();
    assert_eq!(log.log_end_offset(), 10);
    assert_eq!(
        log.epoch_entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect::<Vec<_>>(),
        vec![(1, 0)]
    );
}

#[test]
fn truncate_to_across_segments() {
    let d = tempfile::tempdir().unwrap();
    let cfg = small_config(2048, 200);
    let log = Log::open(d.path(), cfg.clone()).unwrap();
    let mut model = Model::new();
    append_many(&log, &mut model, 100, 0);
    let segs = log.segment_base_offsets();
    let target = model[model.len() / 3].0;
    log.truncate_to(target).unwrap();
    assert_eq!(log.log_end_offset(), target);
    assert!(log.segment_base_offsets().len() < segs.len());
    model.retain(|(b, _)| *b < target);
    assert_eq!(read_all(&log, 0, 3000), model_bytes(&model));
    append_many(&log, &mut model, 30, 0);
    assert_eq!(read_all(&log, 0, 3000), model_bytes(&model));
    for target in (0..log.log_end_offset()).step_by(5) {
        let r = log.read(target, 1, i64::MAX, true).unwrap();
        let h = BatchHeader::parse(&r.to_bytes().unwrap()).unwrap();
        assert!(h.base_offset <= target && target <= h.last_offset());
    }
    // Crash after truncation: recovery agrees.
    drop(log);
    let log = Log::open(d.path(), cfg.clone()).unwrap();
    assert_eq!(read_all(&log, 0, 3000), model_bytes(&model));
    // Truncating to zero empties the log.
    log.truncate_to(0).unwrap();
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.segment_base_offsets(), vec![0]);
    assert!(log.read(0, 10, i64::MAX, true).unwrap().is_empty());
    let info = log.append(&mut simple_batch(1, 0, 1), 0, 0).unwrap();
    assert_eq!(info.first_offset, 0);
}

#[test]
fn concurrent_sync_to_shares_fsyncs() {
    let d = tempfile::tempdir().unwrap();
    let log = Arc::new(Log::open(d.path(), LogConfig::default()).unwrap());
    assert_eq!(log.flush_policy(), FlushPolicy::SyncBeforeAck);
    let threads = 8;
    let rounds = 20;
    // Deterministic: all threads append, then all sync; the first syncer's
    // fsync covers everybody, so there is exactly one fsync per round.
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let log = log.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    barrier.wait();
                    let info = log.append(&mut simple_batch(1, 0, 100), 0, 0).unwrap();
                    barrier.wait();
                    log.sync_to(info.last_offset + 1).unwrap();
                    assert!(log.durable_offset() > info.last_offset);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(log.durable_offset(), (threads * rounds) as i64);
    assert_eq!(log.sync_count(), rounds as u64);

    // Free-running producers: never more fsyncs than appends, and every
    // acknowledged offset is durable.
    let before = log.sync_count();
    let per_thread = 50;
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let log = log.clone();
            std::thread::spawn(move || {
                for _ in 0..per_thread {
                    let info = log.append(&mut simple_batch(1, 0, 100), 0, 0).unwrap();
                    log.sync_to(info.last_offset + 1).unwrap();
                    assert!(log.durable_offset() > info.last_offset);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let syncs = log.sync_count() - before;
    assert!(syncs >= 1 && syncs <= (threads * per_thread) as u64);
    // Already durable: no new fsync.
    let now = log.sync_count();
    log.sync_to(1).unwrap();
    assert_eq!(log.sync_count(), now);
}

#[test]
fn readers_only_see_whole_batches_while_appending() {
    let d = tempfile::tempdir().unwrap();
    let log = Arc::new(Log::open(d.path(), small_config(16 * 1024, 512)).unwrap());
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let log = log.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let mut reads = 0u64;
                let mut off = 0;
                while !done.load(std::sync::atomic::Ordering::Acquire) || reads == 0 {
                    let res = log.read(off, 700 + r * 300, i64::MAX, true).unwrap();
                    if res.is_empty() {
                        std::thread::yield_now();
                        continue;
                    }
                    let bytes = res.to_bytes().unwrap();
                    let mut expect = res.first_offset;
                    for b in BatchIter::new(&bytes) {
                        let (h, raw) = b.unwrap();
                        validate(raw).unwrap();
                        assert_eq!(h.base_offset, expect);
                        expect = h.next_offset();
                    }
                    assert_eq!(expect, res.next_offset);
                    off = res.next_offset;
                    reads += 1;
                }
                off
            })
        })
        .collect();
    for i in 0..3000usize {
        let mut b = simple_batch(1 + i % 3, i as i64, 20 + (i * 7) % 500);
        log.append(&mut b, 0, 0).unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
}

#[test]
fn page_cache_mode_flushes_when_due() {
    let d = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        flush_messages: 10,
        flush_before_ack: false,
        ..LogConfig::default()
    };
    let log = Log::open(d.path(), cfg).unwrap();
    assert_eq!(
        log.flush_policy(),
        FlushPolicy::PageCache {
            messages: Some(10),
            interval_ms: None
        }
    );
    log.append(&mut simple_batch(5, 0, 10), 0, 0).unwrap();
    assert!(!log.flush_pending(0));
    assert!(!log.flush_if_due(0).unwrap());
    assert_eq!(log.durable_offset(), 0);
    log.append(&mut simple_batch(5, 0, 10), 0, 0).unwrap();
    assert!(log.flush_pending(0));
    assert!(log.flush_if_due(0).unwrap());
    assert_eq!(log.durable_offset(), 10);
    assert!(!log.flush_pending(0));
}

#[test]
fn high_watermark_checkpoint_and_delete() {
    let data = tempfile::tempdir().unwrap();
    let dir = partition_dir(data.path(), "orders-eu", 2);
    let log = Log::open(&dir, LogConfig::default()).unwrap();
    log.append(&mut simple_batch(5, 0, 10), 0, 0).unwrap();
    log.sync_to(5).unwrap();
    log.set_high_watermark(100);
    assert_eq!(log.high_watermark(), 5);
    log.close().unwrap();
    let log = Log::open(&dir, LogConfig::default()).unwrap();
    assert_eq!(log.high_watermark(), 5);
    assert_eq!(
        list_partition_dirs(data.path()).unwrap(),
        vec![("orders-eu".to_string(), 2, dir.clone())]
    );
    log.delete().unwrap();
    assert!(!dir.exists());
    assert!(list_partition_dirs(data.path()).unwrap().is_empty());
}

/// The broker's flusher and retention thread hold their own handles on a
/// partition's log; a topic deletion removes the directory under them.
/// They must find nothing to do (issue 11: one "flush failed … No such
/// file or directory" ERROR per partition after each delete).
#[test]
fn a_deleted_log_leaves_the_flusher_and_retention_quietly() {
    let data = tempfile::tempdir().unwrap();
    let dir = partition_dir(data.path(), "gone", 0);
    let cfg = LogConfig {
        retention_ms: 0,
        ..LogConfig::default()
    };
    let log = Log::open(&dir, cfg).unwrap();
    // Unsynced data (acks=0 style) and a moved high watermark: both would
    // make the next flush write files in the partition directory.
    log.append(&mut simple_batch(5, 0, 10), 0, 0).unwrap();
    log.set_high_watermark(5);
    log.delete().unwrap();
    assert!(!dir.exists());
    assert!(!log.flush_if_due(i64::MAX / 2).unwrap());
    log.checkpoint_high_watermark().unwrap();
    assert!(matches!(
        log.enforce_retention(i64::MAX / 2),
        Err(StorageError::Closed)
    ));
    assert!(!dir.exists(), "nothing recreated the deleted directory");
}

#[test]
fn segment_ms_rolls_segments() {
    let d = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_ms: 1000,
        ..LogConfig::default()
    };
    let log = Log::open(d.path(), cfg).unwrap();
    log.append(&mut simple_batch(1, 0, 10), 0, 10_000).unwrap();
    log.append(&mut simple_batch(1, 0, 10), 0, 10_500).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0]);
    log.append(&mut simple_batch(1, 0, 10), 0, 11_001).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random batch sizes, segment sizes and reads agree with a model, also
    /// after a crash-reopen.
    #[test]
    fn reads_match_model(
        sizes in prop::collection::vec((1usize..5, 0usize..400), 1..80),
        segment_bytes in 300u64..3000,
        interval in 0u64..600,
        probes in prop::collection::vec((0.0f64..1.0, 1usize..3000), 1..30),
    ) {
        let d = tempfile::tempdir().unwrap();
        let cfg = small_config(segment_bytes, interval);
        let mut model = Model::new();
        {
            let log = Log::open(d.path(), cfg.clone()).unwrap();
            for (i, (records, value_len)) in sizes.iter().enumerate() {
                append(&log, &mut model, simple_batch(*records, i as i64, *value_len), 0, 0);
            }
        }
        let log = Log::open(d.path(), cfg).unwrap();
        let leo = log.log_end_offset();
        prop_assert_eq!(read_all(&log, 0, 2000), model_bytes(&model));
        for (frac, max_bytes) in probes {
            let target = ((leo as f64) * frac) as i64;
            let r = log.read(target, max_bytes, i64::MAX, true).unwrap();
            let bytes = r.to_bytes().unwrap();
            let first = model.iter().position(|(b, raw)| {
                *b <= target && target < BatchHeader::parse(raw).unwrap().next_offset()
            }).unwrap();
            // Expected: whole batches from `first` while within max_bytes
            // (at least one), stopping at a segment boundary.
            prop_assert_eq!(&bytes[..model[first].1.len()], &model[first].1[..]);
            prop_assert!(bytes.len() <= max_bytes.max(model[first].1.len()));
            let mut n = 0;
            let mut expect = Vec::new();
            for (_, raw) in &model[first..] {
                if n >= bytes.len() { break; }
                expect.extend_from_slice(raw);
                n += raw.len();
            }
            prop_assert_eq!(&bytes[..], &expect[..]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// After a crash, any single corruption of any segment file (a flipped
    /// byte, a cut, appended garbage) recovers to a prefix of what was
    /// written, and the log accepts appends again.
    #[test]
    fn recovery_yields_a_prefix(
        batches in prop::collection::vec((1usize..4, 0usize..200), 1..60),
        file_frac in 0.0f64..1.0,
        pos_frac in 0.0f64..1.0,
        kind in 0u8..3,
        garbage in prop::collection::vec(any::<u8>(), 1..300),
    ) {
        let d = tempfile::tempdir().unwrap();
        let cfg = small_config(1500, 200);
        let mut model = Model::new();
        {
            let log = Log::open(d.path(), cfg.clone()).unwrap();
            for (i, (records, value_len)) in batches.iter().enumerate() {
                append(&log, &mut model, simple_batch(*records, i as i64, *value_len), 0, 0);
            }
        }
        let logs = segment_files(d.path(), "log");
        let victim = &logs[((logs.len() as f64) * file_frac) as usize];
        let mut bytes = fs::read(victim).unwrap();
        let len = bytes.len();
        let at = ((len as f64) * pos_frac) as usize;
        // The partition leader epoch (bytes 12..16) is the one field neither
        // the CRC nor the offset checks cover: a flip there goes unnoticed.
        let mut start = 0;
        for b in BatchIter::new(&bytes) {
            let size = b.unwrap().1.len();
            if kind == 0 && at >= start + 12 && at < start + 16 {
                prop_assume!(false);
            }
            start += size;
        }
        match kind {
            0 if len > 0 => bytes[at.min(len - 1)] ^= 0x5A,
            1 => bytes.truncate(at),
            _ => bytes.extend_from_slice(&garbage),
        }
        fs::write(victim, &bytes).unwrap();
        let log = Log::open(d.path(), cfg.clone()).unwrap();
        let leo = log.log_end_offset();
        prop_assert!(leo <= model_end(&model));
        let kept: Model = model.iter().filter(|(b, _)| *b < leo).cloned().collect();
        prop_assert_eq!(model_end(&kept), leo);
        prop_assert_eq!(read_all(&log, 0, 1000), model_bytes(&kept));
        let mut kept = kept;
        append(&log, &mut kept, simple_batch(2, 0, 10), 0, 0);
        log.close().unwrap();
        let log = Log::open(d.path(), cfg).unwrap();
        prop_assert_eq!(read_all(&log, 0, 1000), model_bytes(&kept));
    }
}
