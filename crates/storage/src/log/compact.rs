//! Runs of the log cleaner over this log ([`Log::compact`]): the log takes
//! a consistent view of itself, hands it to [`cleaner::run`] and implements
//! [`CleanerLog`] for what the run needs back: the delete horizon it
//! caches, the first cleaner checkpoint, and the swap of a cleaned group
//! under the append lock. Moving the checkpoint after the run happens here
//! too. The rules of a run are in the `cleaner` module docs.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::Log;
use crate::checkpoint::{self, CLEANER_CHECKPOINT_FILE};
use crate::cleaner::{
    self, segment_horizon, CleanedGroup, CleanerLog, CompactionStats, PreparedSwap, RunInput,
    HORIZON_NONE, HORIZON_UNKNOWN,
};
use crate::error::Result;
use crate::segment::Segment;

#[cfg(test)]
mod tests;

impl Log {
    /// Runs the log cleaner once if this log's `cleanup.policy` includes
    /// `compact` and cleaning is due (see the module docs of `cleaner`
    /// for the rules). Blocking (reads and rewrites segments); appends and
    /// reads continue meanwhile, except during each segment group's swap.
    /// At most one run per log at a time: a concurrent call returns at
    /// once with `ran == false`. Only segments below the high watermark are
    /// cleaned; see [`Log::compact_to`] when transactions may be open.
    pub fn compact(&self, now_ms: i64) -> Result<CompactionStats> {
        self.compact_to(now_ms, i64::MAX)
    }

    /// [`Log::compact`], cleaning only segments entirely below
    /// `last_stable_offset` too (Kafka's first unstable offset: the records
    /// of a transaction still open must not supersede older ones).
    pub fn compact_to(&self, now_ms: i64, last_stable_offset: i64) -> Result<CompactionStats> {
        let config = self.config();
        if !config.cleanup_policy.compacts() {
            return Ok(CompactionStats::default());
        }
        let Some(_running) = self.cleaner.try_lock() else {
            return Ok(CompactionStats::default());
        };
        self.check_open()?;
        let truncations = self.truncations.load(Ordering::Acquire);
        let input = RunInput {
            config: &config,
            segments: self.segments_snapshot(),
            stable_end: self.high_watermark().min(last_stable_offset),
            first_dirty: self
                .cleaner_checkpoint
                .load(Ordering::Acquire)
                .max(self.log_start_offset()),
            now_ms,
        };
        let out = cleaner::run(self, input)?;
        let stats = out.stats;
        if !stats.ran {
            return Ok(stats);
        }

        // Move the checkpoint, unless the log changed under the run.
        let _w = self.writer.lock();
        let current = self.cleaner_checkpoint.load(Ordering::Acquire);
        if stats.groups_skipped == 0
            && self.truncations.load(Ordering::Acquire) == truncations
            && self.check_writable().is_ok()
        {
            if stats.cleaned_up_to > current {
                checkpoint::write_offset(&self.dir, CLEANER_CHECKPOINT_FILE, stats.cleaned_up_to)?;
                self.cleaner_checkpoint
                    .store(stats.cleaned_up_to, Ordering::Release);
            }
            self.delete_horizon.store(out.horizon, Ordering::Release);
        } else {
            self.delete_horizon
                .store(HORIZON_UNKNOWN, Ordering::Release);
        }
        Ok(stats)
    }

    /// The cleaner checkpoint: offsets below it were compacted (-1: the log
    /// was never compacted).
    pub fn cleaner_checkpoint(&self) -> i64 {
        self.cleaner_checkpoint.load(Ordering::Acquire)
    }

    /// Replaces the segments of `group` by `cleaned` (see the `cleaner`
    /// module docs). `Ok(false)`: the log changed meanwhile and the group
    /// was dropped. Appends wait for two directory fsyncs (commit, then the
    /// renames).
    pub(crate) fn swap_in(&self, group: &[Arc<Segment>], cleaned: CleanedGroup) -> Result<bool> {
        let dir = &self.dir;
        let size = cleaned.size;
        let (swap, new) = PreparedSwap::prepare(dir, group, cleaned)?;
        let base = swap.base;
        let w = self.writer.lock();
        let still_there = {
            let segs = self.segments.read();
            group.iter().all(|o| {
                !Arc::ptr_eq(o, &w.active)
                    && segs.get(&o.base_offset).is_some_and(|s| Arc::ptr_eq(s, o))
            })
        };
        if !still_there || self.check_writable().is_err() {
            swap.abandon();
            return Ok(false);
        }
        swap.commit()?;
        // Committed once the rename is durable; from here on a failure is
        // finished by recovery (the cleaned files must stay).
        #[cfg(test)]
        if let Some(steps) = self.crash_swap_after.lock().take() {
            let r = swap.apply(steps);
            self.go_offline(format!("simulated crash after {steps} swap steps: {r:?}"));
            return Err(crate::error::StorageError::Offline(
                "simulated crash".into(),
            ));
        }
        // Readers still holding the old segments keep their files.
        for o in group {
            o.pin_files();
        }
        if let Err(e) = swap.apply(usize::MAX) {
            self.go_offline(format!("cleaner swap of segment {base} failed: {e}"));
            return Err(e);
        }
        let mut segs = self.segments.write();
        for o in &swap.olds {
            segs.remove(o);
        }
        new.unpin_files();
        segs.insert(base, Arc::new(new));
        drop(segs);
        drop(w);
        // Outside the lock: the manifest is no longer needed (recovery
        // would only redo what is done).
        if let Err(e) = swap.finish() {
            tracing::warn!(dir = %dir.display(), base, "cannot remove the cleaner manifest: {e}");
        }
        tracing::debug!(dir = %dir.display(), base, replaced = swap.olds.len(), size, "swapped in a cleaned segment");
        Ok(true)
    }
}

impl CleanerLog for Log {
    fn log_dir(&self) -> &Path {
        &self.dir
    }

    fn closed_flag(&self) -> &AtomicBool {
        &self.closed
    }

    /// Scans the headers once after open or truncation, then answers from
    /// the value the last run left.
    fn earliest_delete_horizon(&self, clean: &[Arc<Segment>]) -> Result<i64> {
        let known = self.delete_horizon.load(Ordering::Acquire);
        if known != HORIZON_UNKNOWN {
            return Ok(known);
        }
        let mut horizon = HORIZON_NONE;
        for s in clean {
            horizon = horizon.min(segment_horizon(s)?);
        }
        self.delete_horizon.store(horizon, Ordering::Release);
        Ok(horizon)
    }

    fn ensure_cleaner_checkpoint(&self, first_dirty: i64) -> Result<()> {
        if self.cleaner_checkpoint.load(Ordering::Acquire) < 0 {
            checkpoint::write_offset(&self.dir, CLEANER_CHECKPOINT_FILE, first_dirty)?;
            self.cleaner_checkpoint
                .fetch_max(first_dirty, Ordering::AcqRel);
        }
        Ok(())
    }

    fn swap_in(&self, group: &[Arc<Segment>], cleaned: CleanedGroup) -> Result<bool> {
        Log::swap_in(self, group, cleaned)
    }
}
