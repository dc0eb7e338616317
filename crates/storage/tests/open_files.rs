//! The process-wide file cache bounds the open segment and index files:
//! many logs with several segments each work (append, read, zero-copy
//! slices, retention, close and reopen) while the process holds only a
//! bounded number of descriptors. Its own test binary, since the limit is
//! process-wide.

#[path = "../src/test_util.rs"]
mod test_util;

use fjord_storage::{set_open_files_limit, Log, LogConfig};
use test_util::simple_batch;

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[test]
fn many_logs_with_many_segments_hold_a_bounded_number_of_files() {
    const LIMIT: usize = 32;
    const LOGS: usize = 150;
    set_open_files_limit(LIMIT);
    let d = tempfile::tempdir().unwrap();
    let before = fds();
    let config = LogConfig {
        segment_bytes: 300,
        index_interval_bytes: 1,
        ..LogConfig::default()
    };
    let logs: Vec<Log> = (0..LOGS)
        .map(|i| Log::open(d.path().join(format!("t-{i}")), config.clone()).unwrap())
        .collect();
    // Four rolls per log: 5 segments, 4 of them sealed with index files.
    for round in 0..5 {
        for log in &logs {
            log.append(&mut simple_batch(2, round, 100), 0, round)
                .unwrap();
            log.sync_to(log.log_end_offset()).unwrap();
        }
    }
    // A slice handed out for sendfile stays readable across evictions.
    let slice = logs[0].read(0, 1 << 20, i64::MAX, true).unwrap();
    let first = slice.to_bytes().unwrap();
    for log in &logs {
        assert_eq!(log.segment_base_offsets().len(), 5);
        assert_eq!(log.log_end_offset(), 10);
        for offset in [0, 4, 9] {
            let r = log.read(offset, 1 << 20, i64::MAX, true).unwrap();
            assert!(!r.is_empty());
            assert!(r.first_offset <= offset && offset < r.next_offset);
        }
        assert_eq!(log.offset_for_timestamp(3).unwrap().map(|x| x.0), Some(6));
    }
    assert_eq!(slice.to_bytes().unwrap(), first);
    let open = fds() - before;
    // Without the cache: 150 logs × (5 logs + 8 index files) ≈ 2,000.
    assert!(
        open <= LIMIT + 16,
        "{open} descriptors open for {LOGS} logs"
    );
    assert!(fjord_storage::open_files() <= LIMIT);
    for log in &logs {
        log.close().unwrap();
    }
    drop(logs);
    let logs: Vec<Log> = (0..LOGS)
        .map(|i| Log::open(d.path().join(format!("t-{i}")), config.clone()).unwrap())
        .collect();
    for log in &logs {
        assert_eq!(log.log_end_offset(), 10);
        let r = log.read(5, 1 << 20, i64::MAX, true).unwrap();
        assert!(!r.is_empty());
    }
    assert!(fds() - before <= LIMIT + 16);
}
