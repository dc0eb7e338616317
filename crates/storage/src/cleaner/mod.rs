//! Log compaction (`cleanup.policy=compact`): the log cleaner keeps only
//! the latest record of each key in the sealed segments of a log.
//!
//! # One run of [`Log::compact`](crate::Log::compact)
//!
//! The log is split at the cleaner checkpoint (`cleaner-offset-checkpoint`)
//! into a *clean* part, compacted before, and a *dirty* part. Only sealed
//! segments entirely below the high watermark (and the last stable offset
//! given to [`Log::compact_to`](crate::Log::compact_to)) are cleanable,
//! never the active one, and with `min.compaction.lag.ms` only segments
//! whose newest record is at least that old. A run is due when the dirty bytes are more
//! than `min.cleanable.dirty.ratio` of the cleanable bytes, when the
//! oldest dirty record is older than `max.compaction.lag.ms`, or when the
//! delete horizon of a tombstone in the clean part has passed.
//!
//! 1. Build a key → latest offset map over the dirty segments (stopping
//!    at a segment boundary once the map holds about 128 MiB), after noting
//!    the last data batch of every producer id and the transaction markers
//!    in the whole log (headers, and the control batches).
//! 2. Rewrite every segment from the start of the log to the end of the
//!    mapped range, in groups of neighbouring segments whose cleaned output
//!    fits in `segment.bytes` (so small cleaned segments merge). A record
//!    is kept when no later offset of its key is in the map. Records with a
//!    null key are kept (Kafka refuses them at produce time on compacted
//!    topics; fjord's produce path does not check that yet). Records keep
//!    their offsets; the log gets gaps.
//! 3. Move the checkpoint to the end of the mapped range.
//!
//! # Batches
//!
//! A batch whose records are all kept is copied byte for byte. Otherwise
//! the kept records are written, with the protocol crate's `BatchBuilder`
//! (`rewrite.rs`), as a new batch with the same base offset,
//! last offset delta (so the producer's last sequence is unchanged),
//! producer id/epoch/base sequence, leader epoch, attributes and codec (the
//! records are decompressed, filtered and compressed again with the same
//! codec), with the first timestamp, max timestamp (CreateTime), record
//! count and CRC recomputed. A batch left without records is dropped,
//! except the last data batch of a producer id, kept as an empty batch (no
//! records, same offsets and producer fields) so idempotent producer state
//! survives, as Kafka does. A batch whose records cannot be read (unknown
//! codec, over 64 MiB decompressed) is kept whole and its keys are ignored.
//!
//! # Transactions
//!
//! Control batches (COMMIT/ABORT markers) are kept. The outcome of a
//! transactional batch is the next marker of its producer id in the log:
//! records of aborted transactions are dropped and never supersede
//! anything; a transaction without a marker yet is still open, so its
//! batches are kept as they are and supersede nothing either. The broker
//! passes its last stable offset to `Log::compact_to`, so that segments
//! holding open transactions are not cleaned at all, as in Kafka.
//!
//! # Tombstones
//!
//! As in Kafka since KIP-534: when the cleaner writes a batch that holds a
//! tombstone (a record with a key and a null value) and the batch has no
//! delete horizon yet, it sets one: `now + delete.retention.ms`, stored in
//! the batch's first-timestamp field with attribute bit 6 set, record
//! timestamp deltas being relative to it (so consumers still read each
//! record's own timestamp). Tombstones of a batch whose horizon has passed
//! are dropped by the next run.
//!
//! # Crash safety
//!
//! A group is written to `<base>.log.cleaned`, `<base>.index.cleaned` and
//! `<base>.timeindex.cleaned` (base = the group's first segment) and
//! fsynced, with the manifest `<base>.swap.tmp` listing the group's base
//! offsets, all without the log's locks. The swap then runs under the
//! append lock: it checks the group's segments are still in the log
//! (retention or truncation may have removed them meanwhile; then the group
//! is dropped), renames the manifest to `<base>.swap` and fsyncs the
//! directory (the commit point), unlinks the old segments' files, renames
//! the `.cleaned` files to their final names (indexes first, the log last)
//! and fsyncs the directory again; the manifest is removed after the lock
//! is released. `Log::open` first finishes any swap whose manifest
//! exists and deletes `.cleaned` files without one. Readers holding a
//! [`crate::FileSlice`] of an old segment keep its open (unlinked) file and
//! read the old bytes.

//!
//! # Modules
//!
//! The cleaner never names the log: the log (`log/compact.rs`) takes a
//! consistent view of itself, calls [`run`] with it and implements the
//! narrow [`CleanerLog`] trait for what a run needs back (its closed flag,
//! its cached delete horizon, the first cleaner checkpoint and the swap
//! under its lock). Inside, imports point one way: this module (the run)
//! uses all of them; `swap` → `group` → `rewrite` → `plan`, and `swap`,
//! `group` → `files`; none uses this module.

mod files;
mod group;
mod plan;
mod rewrite;
mod swap;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::config::LogConfig;
use crate::error::Result;
use crate::segment::Segment;

#[cfg(test)]
pub(crate) use files::cleaned_path;
pub(crate) use group::{CleanedGroup, GroupWriter};
#[cfg(test)]
pub(crate) use plan::Transactions;
pub(crate) use plan::{segment_horizon, OffsetMap, HORIZON_NONE, HORIZON_UNKNOWN};
pub(crate) use rewrite::Filter;
pub(crate) use swap::{finish_interrupted_swaps, PreparedSwap};

/// What one [`Log::compact`](crate::Log::compact) call did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompactionStats {
    /// Whether a cleaning pass ran (false: not a compacted log, or nothing
    /// was due).
    pub ran: bool,
    /// Dirty bytes / cleanable bytes when the run was decided.
    pub dirty_ratio: f64,
    /// Start of the dirty part before the run.
    pub first_dirty_offset: i64,
    /// End of the range cleaned: the new cleaner checkpoint.
    pub cleaned_up_to: i64,
    /// Segments (and their bytes) in the cleaned range before the run.
    pub segments_before: usize,
    pub bytes_before: u64,
    /// Segments (and their bytes) covering that range after the run.
    pub segments_after: usize,
    pub bytes_after: u64,
    /// Records read in the cleaned range and records kept.
    pub records_before: u64,
    pub records_after: u64,
    /// Tombstones dropped because their delete horizon had passed.
    pub tombstones_removed: u64,
    /// Segment groups not swapped in because the log changed meanwhile.
    pub groups_skipped: usize,
}

impl CompactionStats {
    /// Whether the run changed anything on disk.
    pub fn changed_log(&self) -> bool {
        self.ran
            && (self.bytes_after != self.bytes_before
                || self.segments_after != self.segments_before)
    }
}

/// What a run needs from the log it cleans. Implemented by the log, so the
/// cleaner never depends on it.
pub(crate) trait CleanerLog {
    /// The partition directory.
    fn log_dir(&self) -> &Path;
    /// Set once the log is closed or deleted: a run stops at its next batch.
    fn closed_flag(&self) -> &AtomicBool;
    /// The earliest delete horizon of a batch in `clean` segments
    /// ([`HORIZON_NONE`]: none); the log caches it between runs.
    fn earliest_delete_horizon(&self, clean: &[Arc<Segment>]) -> Result<i64>;
    /// Called before the first swap: a log without a cleaner checkpoint
    /// gets one at `first_dirty` (recovery must know about offset gaps).
    fn ensure_cleaner_checkpoint(&self, first_dirty: i64) -> Result<()>;
    /// Replaces the segments of `group` by `cleaned` under the log's append
    /// lock. `Ok(false)`: the log changed meanwhile and the group was
    /// dropped.
    fn swap_in(&self, group: &[Arc<Segment>], cleaned: CleanedGroup) -> Result<bool>;
}

/// A consistent view of the log for one run, taken by the log.
pub(crate) struct RunInput<'a> {
    pub(crate) config: &'a LogConfig,
    /// Every segment, oldest first; the last one is active.
    pub(crate) segments: Vec<Arc<Segment>>,
    /// Only segments entirely below this are cleaned: the high watermark,
    /// or the last stable offset when lower.
    pub(crate) stable_end: i64,
    /// Start of the dirty part: the cleaner checkpoint or the log start.
    pub(crate) first_dirty: i64,
    pub(crate) now_ms: i64,
}

/// What a run did.
pub(crate) struct RunOutput {
    pub(crate) stats: CompactionStats,
    /// Earliest delete horizon in the cleaned range after the run.
    pub(crate) horizon: i64,
}

/// One cleaner run over `input` (see the module docs). `stats.ran` is
/// false when nothing was due.
pub(crate) fn run(log: &dyn CleanerLog, input: RunInput<'_>) -> Result<RunOutput> {
    let RunInput {
        config,
        segments: segs,
        stable_end,
        first_dirty,
        now_ms,
    } = input;
    let mut stats = CompactionStats::default();
    let mut horizon = HORIZON_NONE;
    if segs.len() < 2 {
        return Ok(RunOutput { stats, horizon });
    }
    let sealed = &segs[..segs.len() - 1];
    let upper = |i: usize| segs[i + 1].base_offset;
    stats.first_dirty_offset = first_dirty;
    let p = plan::plan(&segs, config, first_dirty, stable_end, now_ms, |clean| {
        log.earliest_delete_horizon(clean)
    })?;
    stats.dirty_ratio = p.dirty_ratio;
    if !p.dirty_due && !p.horizon_due {
        return Ok(RunOutput { stats, horizon });
    }
    stats.ran = true;
    let producers = plan::ProducerScan::scan(&segs)?;

    // 1. The offset map over the dirty segments.
    let (map, mapped) = if p.dirty_due {
        plan::map_dirty(&sealed[p.n_clean..p.end], &producers.txns)?
    } else {
        (OffsetMap::default(), 0)
    };
    let map_end = p.n_clean + mapped;
    stats.cleaned_up_to = upper(map_end - 1);
    log.ensure_cleaner_checkpoint(first_dirty)?;

    // 2. Rewrite [first segment, map_end) in groups.
    let filter = Filter {
        map: &map,
        txns: &producers.txns,
        last_batches: &producers.last_batches,
        now_ms,
        delete_retention_ms: config.delete_retention_ms,
        closed: log.closed_flag(),
    };
    let mut i = 0;
    while i < map_end {
        // Add neighbours while the cleaned output stays within
        // segment.bytes (a segment that overflows it is taken out again
        // and starts the next group) and offsets fit the index.
        let start = i;
        let base = sealed[start].base_offset;
        let mut gw = GroupWriter::new(log.log_dir(), base, config.index_interval_bytes)?;
        let mut counts = vec![gw.add(&sealed[i], &filter)?];
        i += 1;
        while i < map_end && upper(i) - 1 - base <= i64::from(i32::MAX) {
            let mark = gw.mark();
            let c = gw.add(&sealed[i], &filter)?;
            if gw.pos > config.segment_bytes {
                gw.rollback(mark)?;
                break;
            }
            counts.push(c);
            i += 1;
        }
        for c in counts {
            stats.records_before += c.records_before;
            stats.records_after += c.records_after;
            stats.tombstones_removed += c.tombstones_removed;
        }
        let group = &sealed[start..i];
        let size: u64 = group.iter().map(|s| s.size()).sum();
        stats.segments_before += group.len();
        stats.bytes_before += size;
        match gw.finish()? {
            None => {
                // Unchanged single segment.
                stats.segments_after += 1;
                stats.bytes_after += size;
                horizon = horizon.min(segment_horizon(&group[0])?);
            }
            Some(cleaned) => {
                let (cleaned_size, cleaned_horizon) = (cleaned.size, cleaned.horizon);
                if log.swap_in(group, cleaned)? {
                    stats.segments_after += 1;
                    stats.bytes_after += cleaned_size;
                    horizon = horizon.min(cleaned_horizon);
                } else {
                    stats.groups_skipped += 1;
                    stats.segments_after += group.len();
                    stats.bytes_after += size;
                }
            }
        }
    }
    Ok(RunOutput { stats, horizon })
}
