//! Replica truncation: cutting the log back to an offset, or emptying it
//! and restarting it at an offset; what the cleaner knew about the cut
//! range is reset.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Log, Writer};
use crate::checkpoint::{
    self, CLEANER_CHECKPOINT_FILE, LOG_START_OFFSET_FILE, RECOVERY_POINT_FILE,
};
use crate::cleaner::HORIZON_UNKNOWN;
use crate::epoch::LeaderEpochCache;
use crate::error::{Result, StorageError};
use crate::segment::{BatchWalker, IndexCadence, Segment};

impl Log {
    /// Removes every batch at or after `offset` (replica truncation). A
    /// batch containing `offset` is removed whole, so the new log end may be
    /// below `offset`. Truncating below the log start (or the first
    /// segment) empties the log and restarts it at `offset`. Concurrent
    /// readers of the cut range may see short reads.
    pub fn truncate_to(&self, offset: i64) -> Result<()> {
        // Keep syncs out: one in flight would publish a durable offset past
        // the new end.
        let _ = self.take_sync_hold(|_| None);
        let result = self.truncate_inner(offset);
        let st = self.sync_state.lock();
        drop(self.end_sync_hold(st, None));
        result
    }

    fn truncate_inner(&self, offset: i64) -> Result<()> {
        let config = self.config();
        let mut guard = self.writer.lock();
        self.check_writable()?;
        let w = &mut *guard;
        let leo = self.log_end_offset();
        if offset >= leo {
            return Ok(());
        }
        self.reset_cleaner_state(offset)?;
        let first_base = self.segments.read().keys().next().copied().unwrap_or(leo);
        if offset < self.log_start_offset() || offset <= first_base {
            return self.truncate_fully(w, offset.max(0));
        }
        let doomed: Vec<Arc<Segment>> = {
            let mut segs = self.segments.write();
            let keys: Vec<i64> = segs.range(offset..).map(|(k, _)| *k).collect();
            keys.iter().filter_map(|k| segs.remove(k)).collect()
        };
        for s in &doomed {
            if let Err(e) = s.delete_files() {
                tracing::warn!("cannot delete truncated segment: {e}");
            }
        }
        let Some(seg) = self.segments.read().values().next_back().cloned() else {
            return Err(StorageError::Corrupt(
                "no segment left after truncation".into(),
            ));
        };
        seg.index.file.to_memory()?;
        seg.time_index.file.to_memory()?;
        let end = seg.size();
        let cut = seg.find_batch(offset, end)?.map_or(end, |(pos, _)| pos);
        seg.set_size(cut);
        let seg_file = seg.file()?;
        if let Err(e) = seg_file.set_len(cut).and_then(|_| seg_file.sync_all()) {
            let err = StorageError::io(format!("truncate {}", seg.log_path.display()), e);
            self.go_offline(err.to_string());
            return Err(err);
        }
        seg.index.truncate_to_position(cut);
        let walk_from = seg.index.last_position();
        let mut batches = Vec::new();
        let mut next = seg.base_offset;
        let mut walker = BatchWalker::new(&seg_file, walk_from, cut);
        while let Some((p, h)) = walker.next_batch()? {
            next = h.next_offset();
            batches.push((p, h));
        }
        seg.time_index.truncate_to_offset(next);
        let mut cadence = IndexCadence::new();
        if let Some((ts, off)) = seg.time_index.last() {
            cadence.max_timestamp = ts;
            cadence.offset_of_max_timestamp = off;
            cadence.last_time_entry = ts;
        }
        for (p, h) in batches {
            let (o, t) = cadence.on_batch(
                config.index_interval_bytes,
                h.base_offset,
                h.max_timestamp,
                p,
                h.total_size() as u64,
            );
            if let Some((off, pos)) = o {
                seg.index.push(off, pos);
            }
            if let Some((ts, off)) = t {
                seg.time_index.push(ts, off);
            }
        }
        seg.set_max_timestamp(cadence.max_timestamp, cadence.offset_of_max_timestamp);
        w.active = seg.clone();
        w.cadence = cadence;
        w.active_unsynced = false;
        self.log_end.store(next, Ordering::Release);
        self.high_watermark.fetch_min(next, Ordering::AcqRel);
        self.durable.fetch_min(next, Ordering::AcqRel);
        {
            let mut epochs = self.epochs.lock();
            if epochs.truncate_from_end(next) {
                epochs.flush()?;
            }
        }
        if seg.base_offset < self.recovery_point.load(Ordering::Acquire) {
            checkpoint::write_offset(&self.dir, RECOVERY_POINT_FILE, seg.base_offset)?;
            self.recovery_point
                .store(seg.base_offset, Ordering::Release);
        }
        checkpoint::sync_dir(&self.dir)
    }

    /// Deletes every segment and restarts the log, empty, at `offset`.
    pub(crate) fn truncate_fully(&self, w: &mut Writer, offset: i64) -> Result<()> {
        self.reset_cleaner_state(offset)?;
        let old: Vec<Arc<Segment>> = std::mem::take(&mut *self.segments.write())
            .into_values()
            .collect();
        for s in &old {
            if let Err(e) = s.delete_files() {
                tracing::warn!("cannot delete segment: {e}");
            }
        }
        let new = match Segment::create(&self.dir, offset) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                self.go_offline(format!("cannot create a segment: {e}"));
                return Err(e);
            }
        };
        self.segments.write().insert(offset, new.clone());
        w.active = new;
        w.cadence = IndexCadence::new();
        w.active_unsynced = false;
        w.dir_dirty = true;
        self.log_start.store(offset, Ordering::Release);
        self.log_end.store(offset, Ordering::Release);
        self.high_watermark.store(offset, Ordering::Release);
        self.durable.store(offset, Ordering::Release);
        checkpoint::write_offset(&self.dir, LOG_START_OFFSET_FILE, offset)?;
        checkpoint::write_offset(&self.dir, RECOVERY_POINT_FILE, offset)?;
        self.recovery_point.store(offset, Ordering::Release);
        let mut epochs = self.epochs.lock();
        *epochs = LeaderEpochCache::empty(&self.dir);
        epochs.flush()
    }

    /// After a truncation at `offset`: what the cleaner knew about the log
    /// above it is void.
    fn reset_cleaner_state(&self, offset: i64) -> Result<()> {
        self.truncations.fetch_add(1, Ordering::AcqRel);
        self.delete_horizon
            .store(HORIZON_UNKNOWN, Ordering::Release);
        let ckpt = self.cleaner_checkpoint.load(Ordering::Acquire);
        if ckpt > offset {
            self.cleaner_checkpoint.store(offset, Ordering::Release);
            checkpoint::write_offset(&self.dir, CLEANER_CHECKPOINT_FILE, offset)?;
        }
        Ok(())
    }
}
