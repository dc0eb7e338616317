//! Partition logs for fjord: segments, sparse indexes, recovery, retention,
//! leader epochs. Synchronous std code with internal locking; the broker
//! calls the blocking parts (`sync_to`, `close`, retention) from
//! `spawn_blocking`.
//!
//! # What storage deliberately does not know
//!
//! Nothing about Kafka requests, the network, producers or transactions.
//! It stores magic-v2 record batches byte for byte as the broker hands them
//! over (already validated), rewriting only the header fields a broker
//! owns: base offset, partition leader epoch and, for `LogAppendTime`
//! topics, the max timestamp (+CRC). The append and read paths never
//! decompress; timestamp lookups are exact for uncompressed batches and
//! batch-level for compressed ones. The one exception is the log cleaner
//! ([`Log::compact`], `cleanup.policy=compact`), which decompresses sealed
//! batches, drops records superseded by a later record with the same key,
//! and writes the rest back with the batch's codec (see `cleaner`). It
//! uses `fjord-protocol` for the batch header view and record iteration,
//! and writes batches only through its `BatchBuilder` (the cleaner's
//! rewritten batches); storage has no varint or batch-format code of its
//! own.
//!
//! # Module dependencies
//!
//! Imports between modules point one way (an arrow reads "uses"):
//!
//! ```text
//! retention ──> log ──> cleaner ──> segment ──> offset_index, time_index ──> index
//!                │         │           │                                          │
//!                │         │           └──────────────> file_cache <──────────────┘
//!                │         └──────> config, checkpoint               (all ──> error)
//!                ├──> epoch ──> checkpoint
//!                └──> records (timestamp lookups)
//! ```
//!
//! - `log` owns the `Log` type; its submodules `open`, `close`, `read`,
//!   `truncate` and `compact` extend it and import from `log`, never the reverse.
//! - `cleaner` never names `Log`: `log::compact` hands a run a view of the
//!   log and implements the narrow `cleaner::CleanerLog` trait for what the
//!   run needs back (its swap under the append lock, cached state).
//!   Inside the cleaner: `cleaner` (the run) ──> `swap` ──> `group` ──>
//!   `rewrite` ──> `plan`, with `swap` and `group` ──> `files`.
//! - `retention` extends `Log` from outside; `log` does not use it.
//!
//! # Durability: fsync before ack by default
//!
//! With `fjord.flush.before.ack=true` (the default, unlike Kafka),
//! [`Log::flush_policy`] is [`FlushPolicy::SyncBeforeAck`]: the
//! broker calls [`Log::sync_to`]`(last_offset + 1)` before acknowledging an
//! acks=1/acks=all produce. This costs one `fdatasync` per *group* of
//! produces, not per produce: callers arriving while an fsync runs wait and
//! the next fsync covers all of them (group commit), and the fsync runs
//! outside the append lock, so appends and reads continue meanwhile. Expect
//! the produce latency to include one fsync (tens of microseconds on NVMe
//! with power-loss protection, milliseconds on consumer SSDs and cloud
//! block storage) and throughput to stay high under concurrency, since one
//! fsync amortizes over every partition-local produce that queued behind
//! it. `fjord.flush.before.ack=false` selects page-cache mode
//! ([`FlushPolicy::PageCache`], Kafka's behaviour): acks after the write,
//! durability by [`Log::flush_if_due`] every `flush.messages` messages or
//! `flush.ms` ms, which keep Kafka's defaults and meaning (`Long.MAX_VALUE`:
//! never, flushing is left to the OS; `flush.messages=1` or `flush.ms=0`:
//! an fsync before every ack). Benchmarks against Kafka should compare
//! like with like (Kafka defaults to page-cache mode).
//!
//! # File layout
//!
//! A partition lives in `<data dir>/<topic>-<partition>` ([`partition_dir`]):
//!
//! - `<base offset, 20 digits>.log`: back-to-back batches as appended.
//! - `<base>.index`: sparse offset index, 8-byte big-endian entries
//!   (offset − base as u32, file position as u32) every
//!   `index.interval.bytes` of log, each at a batch start.
//! - `<base>.timeindex`: 12-byte entries (timestamp i64, offset − base
//!   u32), added with an offset index entry when the segment's max
//!   timestamp has grown, plus a final entry when sealed/closed.
//! - `leader-epoch-checkpoint`: `0`, count, then `epoch start_offset` lines.
//! - `log-start-offset`, `high-watermark`, `recovery-point`: `0` then one
//!   offset, replaced atomically (tmp + fsync + rename + dir fsync).
//! - `.clean-shutdown`: written last by [`Log::close`] (and, unsynced, for
//!   a new empty log); it stays while the log is opened and only read, and
//!   is removed (durably) before the first change to its segments, so a
//!   crash costs recovery only to logs written since the start, and a
//!   close of an unchanged log writes nothing.
//! - `cleaner-offset-checkpoint`: offsets below it were compacted; present
//!   once the log cleaner ran, which also tells recovery that offsets may
//!   have gaps.
//! - `<base>.log.cleaned` (+ `.index.cleaned`, `.timeindex.cleaned`) and
//!   `<base>.swap`: a cleaned segment group being swapped in, and the
//!   manifest that commits the swap (finished or discarded at open).
//!
//! The active segment's indexes live in memory (no write syscall per index
//! entry) and are written when the segment is sealed (rolled) or the log
//! closed; sealed indexes are read with `pread` binary searches and cost no
//! memory. Segment and sealed index files are opened on demand through a
//! bounded process-wide cache (`file_cache.rs`, [`set_open_files_limit`]);
//! readers get an `Arc<File>` + position + length of whole batches for
//! `sendfile`, valid even if the cache closes its handle or retention
//! unlinks the file meanwhile.
//!
//! # Benchmarking notes
//!
//! - `append` is one `pwrite` plus in-memory index updates under a mutex;
//!   no allocation per call once warm. Measure it without `sync_to` for raw
//!   write throughput, and with it for acked-produce latency.
//! - `sync_count()` divided by the number of acked appends is the group
//!   commit ratio; it should fall as concurrency rises.
//! - `read` costs an index binary search (in memory for the active segment)
//!   and about two 8 KiB `pread`s of headers, whatever `max_bytes` is; the
//!   data itself is meant to go out with `sendfile` from the returned
//!   [`FileSlice`] (`ReadResult::to_bytes` copies, for tests or TLS).
//! - Tmpfs makes fsync free; measure durability on the real disk.
//!
//! # Recovery
//!
//! With the clean-shutdown marker present, [`Log::open`] trusts the files
//! (it checks index entries lie inside their logs and walks the active
//! segment's unindexed tail). Without it, every segment from the
//! `recovery-point` on (always at least the last one) is scanned: each
//! batch's header, length, CRC32C and offsets (contiguous, or only
//! increasing once the log was compacted) are checked, the file is
//! truncated at the first torn or corrupt batch, segments after a torn one
//! are deleted, and the indexes are rebuilt. Missing or corrupt indexes of
//! any segment are rebuilt the same way. The log end offset is the last
//! batch's last offset + 1; leader epochs found in scanned batches are
//! re-assigned and the cache truncated to the log.

mod checkpoint;
mod cleaner;
pub mod clock;
pub mod config;
mod epoch;
mod error;
mod file_cache;
mod file_io;
pub use file_io::advance_written;
mod index;
mod log;
mod offset_index;
mod records;
mod retention;
mod segment;
#[cfg(test)]
mod test_util;
mod time_index;

use std::fs;
use std::path::{Path, PathBuf};

pub use checkpoint::sync_filesystem;
pub use cleaner::CompactionStats;
pub use config::{
    log_setting, CleanupPolicy, FlushPolicy, LogConfig, LogSetting, ValueType, LOG_SETTINGS,
};
pub use epoch::{EpochEntry, LeaderEpochCache};
pub use error::{Result, StorageError};
pub use file_cache::{open_file_misses, open_files, open_files_limit, set_open_files_limit};
pub use log::read::{FileSlice, ReadResult};
pub use log::{AppendInfo, Log, SyncDone};

/// Config names, for callers that build configs from key/values.
pub mod config_names {
    pub use crate::config::{
        CLEANUP_POLICY, DELETE_RETENTION_MS, FILE_DELETE_DELAY_MS, FLUSH_MESSAGES, FLUSH_MS,
        INDEX_INTERVAL_BYTES, MAX_COMPACTION_LAG_MS, MAX_MESSAGE_BYTES, MESSAGE_TIMESTAMP_TYPE,
        MIN_CLEANABLE_DIRTY_RATIO, MIN_COMPACTION_LAG_MS, RETENTION_BYTES, RETENTION_MS,
        SEGMENT_BYTES, SEGMENT_MS,
    };
}

/// The directory of one partition: `<data_dir>/<topic>-<partition>`.
pub fn partition_dir(data_dir: impl AsRef<Path>, topic: &str, partition: i32) -> PathBuf {
    data_dir.as_ref().join(format!("{topic}-{partition}"))
}

/// Parses a partition directory name (`<topic>-<partition>`). Topics may
/// contain `-`; the partition is the part after the last one. Names such
/// as Kafka's `topic-0.uuid-delete` do not parse.
pub fn parse_partition_dir(name: &str) -> Option<(String, i32)> {
    let (topic, partition) = name.rsplit_once('-')?;
    if topic.is_empty() || partition.is_empty() || !partition.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let partition: i32 = partition.parse().ok()?;
    Some((topic.to_string(), partition))
}

/// Every partition directory under `data_dir` as (topic, partition, path),
/// sorted. A missing `data_dir` yields an empty list.
pub fn list_partition_dirs(data_dir: impl AsRef<Path>) -> Result<Vec<(String, i32, PathBuf)>> {
    let data_dir = data_dir.as_ref();
    let entries = match fs::read_dir(data_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StorageError::io(format!("list {}", data_dir.display()), e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| StorageError::io(format!("list {}", data_dir.display()), e))?;
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        let name = entry.file_name();
        if let (true, Some((topic, partition))) =
            (is_dir, name.to_str().and_then(parse_partition_dir))
        {
            out.push((topic, partition, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_dirs() {
        let d = Path::new("/data");
        assert_eq!(
            partition_dir(d, "my-topic", 3),
            PathBuf::from("/data/my-topic-3")
        );
        assert_eq!(
            parse_partition_dir("my-topic-3"),
            Some(("my-topic".into(), 3))
        );
        assert_eq!(parse_partition_dir("t-0"), Some(("t".into(), 0)));
        assert_eq!(parse_partition_dir("topic"), None);
        assert_eq!(parse_partition_dir("-1"), None);
        assert_eq!(parse_partition_dir("t-0.abc-delete"), None);
        assert_eq!(parse_partition_dir("t-x"), None);
        assert_eq!(parse_partition_dir("t-+1"), None);
    }
}
