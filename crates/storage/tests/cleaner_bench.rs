//! Timing of one log cleaner run over a sizeable log (about 100 MB of
//! uncompressed batches, and the same records in LZ4 batches, ~2/3 the size), where most
//! batches lose some records and are rewritten. Ignored by default:
//!
//! `cargo test --release -p fjord-storage --test cleaner_bench -- --ignored --nocapture`

use std::time::Instant;

use fjord_protocol::records::{BatchBuilder, Compression};
use fjord_storage::{CleanupPolicy, Log, LogConfig};

const BATCHES: u64 = 8_000;
const RECORDS_PER_BATCH: u64 = 100;
const KEYS: u64 = 200_000;
const VALUE_LEN: usize = 100;

#[test]
#[ignore = "benchmark"]
fn cleaner_run_on_100_mb() {
    for codec in [Compression::None, Compression::Lz4] {
        let d = tempfile::tempdir().unwrap();
        let config = LogConfig {
            cleanup_policy: CleanupPolicy::Compact,
            // Sealed segments hold all but the last few MB (the active
            // segment is never cleaned).
            segment_bytes: 16 << 20,
            index_interval_bytes: 4096,
            min_cleanable_dirty_ratio: 0.01,
            ..LogConfig::default()
        };
        let log = Log::open(d.path(), config).unwrap();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        // Half of each value varies, so LZ4 batches are about 2/3 the size.
        let mut value: Vec<u8> = (0..VALUE_LEN).map(|i| b'a' + (i % 26) as u8).collect();
        for b in 0..BATCHES {
            let mut builder = BatchBuilder::new(codec);
            for i in 0..RECORDS_PER_BATCH {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let key = format!("key-{:08}", x % KEYS);
                for (j, v) in value[..VALUE_LEN / 2].iter_mut().enumerate() {
                    *v = (x >> (j % 8 * 8)) as u8 ^ j as u8;
                }
                let ts = 1_000 + (b * RECORDS_PER_BATCH + i) as i64;
                builder
                    .append(ts, Some(key.as_bytes()), Some(&value), &[])
                    .unwrap();
            }
            let mut bytes = builder.build().unwrap().to_vec();
            log.append(&mut bytes, 0, 1_000).unwrap();
        }
        let size = log.size_bytes();
        log.set_high_watermark(log.log_end_offset());
        let t = Instant::now();
        let stats = log.compact(10_000).unwrap();
        let took = t.elapsed();
        assert!(stats.ran);
        eprintln!(
            "{codec:?}: {:.1} MiB, {} records in {} segments -> {:.1} MiB, {} records: {:.3} s ({:.0} MiB/s)",
            size as f64 / 1048576.0,
            stats.records_before,
            stats.segments_before,
            stats.bytes_after as f64 / 1048576.0,
            stats.records_after,
            took.as_secs_f64(),
            stats.bytes_before as f64 / 1048576.0 / took.as_secs_f64(),
        );
    }
}
