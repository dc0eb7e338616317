//! Golden tests of the log cleaner's output: each case builds the same log
//! from scratch, compacts it at fixed times and compares every resulting
//! segment file (`.log`, `.index`, `.timeindex`), the cleaner checkpoint
//! and the run's stats byte for byte with the files under
//! `tests/fixtures/cleaner/<case>/`.
//!
//! The fixtures were written by the cleaner as it was before it wrote
//! batches through `fjord_protocol::records::BatchBuilder`, so these tests
//! prove that refactorings of the cleaner leave its output unchanged.
//! After a deliberate change of the output format, rewrite them with
//! `FJORD_BLESS_GOLDEN=1 cargo test -p fjord-storage --test cleaner_golden`
//! and review the diff.

use std::fs;
use std::path::{Path, PathBuf};

use fjord_protocol::records::TimestampType;
use fjord_protocol::records::{control_batch, BatchBuilder, Compression, ControlType};
use fjord_storage::{CleanupPolicy, Log, LogConfig};

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

fn config() -> LogConfig {
    LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        segment_bytes: 2048,
        index_interval_bytes: 256,
        min_cleanable_dirty_ratio: 0.01,
        delete_retention_ms: 1000,
        ..LogConfig::default()
    }
}

type Rec<'a> = (Option<&'a str>, Option<&'a str>, i64);

fn batch(codec: Compression, recs: &[Rec<'_>]) -> BatchBuilder {
    let mut b = BatchBuilder::new(codec);
    for (i, (k, v, ts)) in recs.iter().enumerate() {
        let headers: Vec<(&[u8], Option<&[u8]>)> = if i % 3 == 1 {
            vec![(b"h1", Some(b"x")), (b"h2", None)]
        } else {
            Vec::new()
        };
        b.append(*ts, k.map(str::as_bytes), v.map(str::as_bytes), &headers)
            .unwrap();
    }
    b
}

fn append(log: &Log, b: BatchBuilder, now: i64) {
    let mut bytes = b.build().unwrap().to_vec();
    log.append(&mut bytes, 3, now).unwrap();
    log.set_high_watermark(log.log_end_offset());
}

fn put(log: &Log, key: &str, value: Option<&str>, ts: i64) {
    append(log, batch(Compression::None, &[(Some(key), value, ts)]), ts);
}

/// The directory's segment files and cleaner checkpoint, sorted by name.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.ends_with(".log")
                || n.ends_with(".index")
                || n.ends_with(".timeindex")
                || n == "cleaner-offset-checkpoint"
        })
        .map(|n| {
            let bytes = fs::read(dir.join(&n)).unwrap();
            (n, bytes)
        })
        .collect();
    out.sort();
    out
}

fn fixture_dir(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cleaner")
        .join(case)
}

/// Closes `log` (so the active segment's indexes are on disk) and compares
/// its files and `stats` (one line per run) with the fixture `case`.
fn check(case: &str, log: Log, stats: &[String]) {
    log.close().unwrap();
    let mut files = snapshot(log.dir());
    let mut text = stats.join("\n");
    text.push('\n');
    files.push(("stats.txt".into(), text.into_bytes()));
    let fixture = fixture_dir(case);
    if std::env::var_os("FJORD_BLESS_GOLDEN").is_some() {
        let _ = fs::remove_dir_all(&fixture);
        fs::create_dir_all(&fixture).unwrap();
        for (name, bytes) in &files {
            fs::write(fixture.join(name), bytes).unwrap();
        }
        return;
    }
    let expected = snapshot_fixture(&fixture);
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&files), names(&expected), "{case}: file names");
    for ((name, got), (_, want)) in files.iter().zip(&expected) {
        if got != want {
            let at = got.iter().zip(want).position(|(a, b)| a != b);
            panic!(
                "{case}: {name} differs from the fixture ({} vs {} bytes, first difference at {at:?}){}",
                got.len(),
                want.len(),
                if name == "stats.txt" {
                    format!(
                        "\n got: {}\nwant: {}",
                        String::from_utf8_lossy(got),
                        String::from_utf8_lossy(want)
                    )
                } else {
                    String::new()
                }
            );
        }
    }
}

fn snapshot_fixture(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("missing fixture {}: {e}", dir.display()))
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

fn compact(log: &Log, now: i64, lso: i64, stats: &mut Vec<String>) {
    let s = log.compact_to(now, lso).unwrap();
    stats.push(format!("{s:?}"));
}

/// Multi-record batches of one codec, keys repeating across segments,
/// some records with headers, a few tombstones; two runs.
fn codec_case(codec: Compression) {
    let d = tempfile::tempdir().unwrap();
    let log = Log::open(d.path(), config()).unwrap();
    let mut stats = Vec::new();
    let values: Vec<String> = (0..400)
        .map(|i| format!("value-{i}-{}", "x".repeat(i % 17)))
        .collect();
    let keys: Vec<String> = (0..11).map(|k| format!("key-{k}")).collect();
    let mut n = 0usize;
    for b in 0..60i64 {
        let recs: Vec<Rec<'_>> = (0..5)
            .map(|i| {
                n += 1;
                let key = &keys[(n * 7) % keys.len()];
                let value = if n.is_multiple_of(23) {
                    None
                } else {
                    Some(values[n % values.len()].as_str())
                };
                (Some(key.as_str()), value, 1_000 + b * 10 + (i * 3) % 5)
            })
            .collect();
        append(&log, batch(codec, &recs), 1_000 + b);
    }
    compact(&log, 10_000, i64::MAX, &mut stats);
    for b in 0..20i64 {
        let recs: Vec<Rec<'_>> = (0..3)
            .map(|i| {
                let key = &keys[((b * 3 + i) as usize * 5) % keys.len()];
                (Some(key.as_str()), Some("later"), 20_000 + b)
            })
            .collect();
        append(&log, batch(codec, &recs), 20_000 + b);
    }
    compact(&log, 30_000, i64::MAX, &mut stats);
    check(&format!("codec-{}", codec.name()), log, &stats);
}

#[test]
fn uncompressed() {
    codec_case(Compression::None);
}

#[test]
fn gzip() {
    codec_case(Compression::Gzip);
}

#[test]
fn snappy() {
    codec_case(Compression::Snappy);
}

#[test]
fn lz4() {
    codec_case(Compression::Lz4);
}

#[test]
fn zstd() {
    codec_case(Compression::Zstd);
}

/// Aborted, committed and open transactions with their markers, cleaned
/// below the last stable offset first, then up to the high watermark.
#[test]
fn transactional() {
    for codec in CODECS {
        let d = tempfile::tempdir().unwrap();
        let log = Log::open(d.path(), config()).unwrap();
        let mut stats = Vec::new();
        let txn = |pid: i64, seq: i32, recs: &[Rec<'_>]| {
            batch(codec, recs).producer(pid, 1, seq).transactional(true)
        };
        let marker = |log: &Log, kind: ControlType, pid: i64, ts: i64| {
            let mut m = control_batch(kind, pid, 1, 0, ts, 0).to_vec();
            log.append(&mut m, 3, ts).unwrap();
            log.set_high_watermark(log.log_end_offset());
        };
        for round in 0..6i64 {
            let ts = 100 + round * 10;
            put(&log, "a", Some("plain"), ts);
            append(
                &log,
                txn(
                    5,
                    (round * 3) as i32,
                    &[
                        (Some("a"), Some("aborted"), ts),
                        (Some("b"), Some("aborted"), ts + 1),
                        (Some("c"), None, ts + 2),
                    ],
                ),
                ts,
            );
            marker(&log, ControlType::Abort, 5, ts + 3);
            append(
                &log,
                txn(
                    6,
                    (round * 2) as i32,
                    &[
                        (Some("a"), Some("committed"), ts + 4),
                        (Some("d"), Some("committed"), ts + 5),
                    ],
                ),
                ts,
            );
            marker(&log, ControlType::Commit, 6, ts + 6);
            put(&log, "d", Some("plain"), ts + 7);
        }
        let lso = log.log_end_offset();
        append(&log, txn(7, 0, &[(Some("a"), Some("open"), 500)]), 500);
        put(&log, "e", Some("plain"), 501);
        for i in 0..30 {
            put(
                &log,
                &format!("pad{}", i % 4),
                Some("padding value"),
                600 + i,
            );
        }
        compact(&log, 10_000, lso, &mut stats);
        compact(&log, 10_000, i64::MAX, &mut stats);
        check(&format!("transactional-{}", codec.name()), log, &stats);
    }
}

/// Tombstones get a delete horizon on the first run, survive a run before
/// it and go in a run after it.
#[test]
fn tombstones() {
    for codec in [Compression::None, Compression::Zstd] {
        let d = tempfile::tempdir().unwrap();
        let log = Log::open(d.path(), config()).unwrap();
        let mut stats = Vec::new();
        for i in 0..80i64 {
            let k = format!("k{}", i % 10);
            let v = (i % 4 != 3).then_some("some value");
            let k2 = format!("j{}", i % 6);
            append(
                &log,
                batch(
                    codec,
                    &[(Some(&k), v, 1_000 + i), (Some(&k2), None, 1_000 + i)],
                ),
                1_000 + i,
            );
        }
        // First run: horizon now + 1000 on batches holding tombstones.
        compact(&log, 5_000, i64::MAX, &mut stats);
        for i in 0..20i64 {
            put(&log, &format!("m{}", i % 3), Some("v"), 5_100 + i);
        }
        // Before the horizon: tombstones stay.
        compact(&log, 5_500, i64::MAX, &mut stats);
        let before = snapshot(log.dir());
        for i in 0..20i64 {
            put(&log, &format!("n{}", i % 3), None, 5_600 + i);
        }
        // Past the horizon: the old tombstones go, the new get one.
        compact(&log, 7_000, i64::MAX, &mut stats);
        assert_ne!(before, snapshot(log.dir()));
        check(&format!("tombstones-{}", codec.name()), log, &stats);
    }
}

/// An idempotent producer's last batch whose records are all superseded is
/// kept empty with its offsets and sequence numbers; so is a producer's
/// last batch in an aborted transaction.
#[test]
fn producer_last_batch_emptied() {
    for codec in CODECS {
        let d = tempfile::tempdir().unwrap();
        let log = Log::open(d.path(), config()).unwrap();
        let mut stats = Vec::new();
        for seq in 0..4 {
            let b = batch(
                codec,
                &[
                    (Some("a"), Some("p"), 10 + i64::from(seq)),
                    (Some("b"), Some("p"), 11),
                    (Some("a"), Some("q"), 12),
                ],
            )
            .producer(7, 3, seq * 3);
            append(&log, b, 10);
        }
        let b = batch(
            codec,
            &[(Some("x"), Some("t"), 20), (Some("y"), Some("t"), 21)],
        )
        .producer(8, 0, 0)
        .transactional(true);
        append(&log, b, 20);
        let mut m = control_batch(ControlType::Abort, 8, 0, 0, 22, 0).to_vec();
        log.append(&mut m, 3, 22).unwrap();
        for i in 0..40 {
            put(
                &log,
                ["a", "b", "x", "y"][i % 4],
                Some("later value"),
                30 + i as i64,
            );
        }
        log.set_high_watermark(log.log_end_offset());
        compact(&log, 1_000, i64::MAX, &mut stats);
        check(
            &format!("producer-last-batch-{}", codec.name()),
            log,
            &stats,
        );
    }
}

/// LogAppendTime batches keep their max timestamp; CreateTime batches with
/// negative timestamps; a producer batch partially superseded.
#[test]
fn timestamps() {
    for (name, ts_type) in [
        ("log-append-time", TimestampType::LogAppendTime),
        ("create-time", TimestampType::CreateTime),
    ] {
        let d = tempfile::tempdir().unwrap();
        let log = Log::open(
            d.path(),
            LogConfig {
                message_timestamp_type: ts_type,
                ..config()
            },
        )
        .unwrap();
        let mut stats = Vec::new();
        for i in 0..40i64 {
            let codec = CODECS[i as usize % CODECS.len()];
            let k1 = format!("k{}", i % 5);
            let k2 = format!("k{}", (i + 2) % 7);
            let b = batch(
                codec,
                &[
                    (Some(&k1), Some("v1"), -5 - i),
                    (Some(&k2), Some("v2"), -7),
                    (None, Some("nokey"), i - 3),
                ],
            )
            .producer(100 + i % 3, 0, i as i32 * 3);
            append(&log, b, 50_000 + i);
        }
        compact(&log, 60_000, i64::MAX, &mut stats);
        check(&format!("timestamps-{name}"), log, &stats);
    }
}
