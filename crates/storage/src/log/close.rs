//! Closing a log: the single clean close, and the two halves of the
//! batched close the broker runs over all partitions at a stop (no fsync
//! per log; one filesystem sync before and one after the markers).

use std::sync::atomic::Ordering;

use super::Log;
use crate::checkpoint::{
    self, Sync, CLEAN_SHUTDOWN_FILE, HIGH_WATERMARK_FILE, LOG_START_OFFSET_FILE,
    RECOVERY_POINT_FILE,
};
use crate::error::{IoContext, Result, StorageError};

impl Log {
    /// Syncs everything, writes the index files and checkpoints, then the
    /// clean-shutdown marker (`.clean-shutdown` in the partition dir), so
    /// the next `open` skips recovery. Appends fail afterwards; reads still
    /// work. An offline log is not marked clean.
    pub fn close(&self) -> Result<()> {
        if self.close_with(Sync::Now)? {
            checkpoint::write_atomic(&self.dir, CLEAN_SHUTDOWN_FILE, b"")?;
        }
        Ok(())
    }

    /// The first half of a batched clean close: as [`Log::close`] without
    /// any fsync and without the marker. The caller closes many logs this
    /// way, calls [`crate::sync_filesystem`], then
    /// [`Log::mark_clean_deferred`] on each and syncs once more, so a
    /// marker is never durable before what it vouches for.
    pub fn close_deferred(&self) -> Result<()> {
        if self.close_with(Sync::Deferred)? {
            self.close_prepared.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Writes the clean-shutdown marker of a log whose
    /// [`Log::close_deferred`] succeeded (not fsynced; see there).
    pub fn mark_clean_deferred(&self) -> Result<()> {
        if !self.close_prepared.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        checkpoint::write_atomic_with(&self.dir, CLEAN_SHUTDOWN_FILE, b"", Sync::Deferred)
    }

    /// Closes the log for appends and writes its index files and
    /// checkpoints; `Ok(false)` when it was already closed.
    fn close_with(&self, sync: Sync) -> Result<bool> {
        let mut guard = self.writer.lock();
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(false);
        }
        if let Some(reason) = &*self.offline.lock() {
            return Err(StorageError::Offline(reason.clone()));
        }
        if self.unchanged_since_open() {
            // Its marker and files are as the last clean close (or the
            // creation) left them: nothing to write.
            return Ok(false);
        }
        let w = &mut *guard;
        let active = w.active.clone();
        let index_files = active.write_index_files(&mut w.cadence)?;
        let unsynced = std::mem::take(&mut w.unsynced);
        if sync == Sync::Now {
            for f in &index_files {
                f.sync_data()
                    .ctx(|| format!("fsync indexes in {}", self.dir.display()))?;
            }
            for f in &unsynced {
                f.sync_data()
                    .ctx(|| format!("fsync segment in {}", self.dir.display()))?;
            }
            active
                .file()?
                .sync_data()
                .ctx(|| format!("fsync {}", active.log_path.display()))?;
        }
        drop((index_files, unsynced));
        w.active_unsynced = false;
        self.durable.store(self.log_end_offset(), Ordering::Release);
        let dir = &self.dir;
        checkpoint::write_offset_with(dir, LOG_START_OFFSET_FILE, self.log_start_offset(), sync)?;
        checkpoint::write_offset_with(dir, HIGH_WATERMARK_FILE, self.high_watermark(), sync)?;
        checkpoint::write_offset_with(dir, RECOVERY_POINT_FILE, active.base_offset, sync)?;
        self.epochs.lock().flush_with(sync)?;
        Ok(true)
    }
}
