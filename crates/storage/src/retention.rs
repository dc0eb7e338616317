//! Retention: deleting whole segments by time, by size, and below the log
//! start offset (DeleteRecords).

use std::sync::Arc;

use crate::checkpoint::{self, LOG_START_OFFSET_FILE};
use crate::error::{Result, StorageError};
use crate::log::{Log, Writer};
use crate::segment::Segment;

impl Log {
    /// Deletes the oldest segments that are entirely below the high
    /// watermark and either (a) entirely below the log start offset,
    /// (b) older than `retention.ms` (newest record timestamp, or file mtime
    /// when records carry none), or (c) not needed to stay within
    /// `retention.bytes`. (b) and (c) apply only when `cleanup.policy`
    /// includes `delete`. Deletion stops at the first segment that is kept.
    /// When every segment qualifies, the active one is rolled first, so the
    /// log keeps an empty active segment at the log end. Advances the log
    /// start offset. Returns the number of segments deleted.
    ///
    /// Call it periodically (Kafka: `log.retention.check.interval.ms`,
    /// 5 minutes). Segments above the high watermark are never deleted, so
    /// the broker must keep the high watermark current.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<usize> {
        let config = self.config();
        let mut guard = self.writer.lock();
        self.check_open()?;
        let w = &mut *guard;
        let segs = self.segments_snapshot();
        let leo = self.log_end_offset();
        let hw = self.high_watermark();
        let lso = self.log_start_offset();
        let deletes = config.cleanup_policy.deletes();
        let time_on = deletes && config.retention_ms >= 0;
        let size_on = deletes && config.retention_bytes >= 0;
        let total: u64 = segs.iter().map(|s| s.size()).sum();
        let mut excess = if size_on {
            total as i128 - i128::from(config.retention_bytes)
        } else {
            0
        };
        let mut count = 0;
        for (i, s) in segs.iter().enumerate() {
            let is_active = i + 1 == segs.len();
            let upper = if is_active {
                leo
            } else {
                segs[i + 1].base_offset
            };
            let size = s.size();
            if (is_active && size == 0) || upper > hw {
                break;
            }
            let by_start = !is_active && upper <= lso;
            let by_time =
                time_on && now_ms.saturating_sub(s.retention_timestamp()) > config.retention_ms;
            let by_size = size_on && excess >= i128::from(size);
            if !(by_start || by_time || by_size) {
                break;
            }
            excess -= i128::from(size);
            count += 1;
        }
        if count == 0 {
            return Ok(0);
        }
        self.check_writable()?;
        if count == segs.len() {
            self.roll(w, leo)?;
        }
        self.delete_oldest(w, count)?;
        Ok(count)
    }

    /// DeleteRecords: moves the log start offset up to `offset` (at most the
    /// high watermark) and deletes the segments entirely below it. The
    /// active segment is kept (reads below the log start are refused).
    /// Returns the new log start offset.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64> {
        let mut guard = self.writer.lock();
        self.check_writable()?;
        let w = &mut *guard;
        let lso = self.log_start_offset();
        if offset < 0 || offset > self.high_watermark() {
            return Err(StorageError::OffsetOutOfRange {
                requested: offset,
                log_start: lso,
                log_end: self.log_end_offset(),
            });
        }
        if offset <= lso {
            return Ok(lso);
        }
        // On a full disk the checkpoint cannot be written until segments
        // are gone: delete them first (freeing space), then record it.
        let disk_full = match self.advance_log_start(offset) {
            Ok(_) => false,
            Err(e) if e.is_disk_full() => true,
            Err(e) => return Err(e),
        };
        let count = self
            .segments_snapshot()
            .windows(2)
            .take_while(|pair| pair[1].base_offset <= offset)
            .count();
        // (No segment handle is held here: a deleted segment's space comes
        // back once its last holder lets go.)
        if count > 0 {
            self.delete_oldest(w, count)?;
        }
        if disk_full {
            let start = self.log_start_offset();
            checkpoint::write_offset(&self.dir, LOG_START_OFFSET_FILE, start)?;
            let mut epochs = self.epochs.lock();
            if epochs.truncate_from_start(start) {
                epochs.flush()?;
            }
        }
        Ok(self.log_start_offset())
    }

    /// Removes the `count` oldest segments (never all of them) and moves
    /// the log start offset to the new first segment if that is higher.
    fn delete_oldest(&self, w: &mut Writer, count: usize) -> Result<()> {
        let removed: Vec<Arc<Segment>> = {
            let mut segs = self.segments.write();
            let count = count.min(segs.len().saturating_sub(1));
            (0..count)
                .filter_map(|_| segs.pop_first().map(|(_, s)| s))
                .collect()
        };
        for s in &removed {
            tracing::info!(dir = %self.dir.display(), base = s.base_offset, "deleting segment");
            if let Err(e) = s.delete_files() {
                tracing::warn!("cannot delete segment files: {e}");
            }
        }
        w.dir_dirty = true;
        let first = self.segments.read().keys().next().copied();
        if let Some(first) = first {
            self.advance_log_start(first)?;
        }
        Ok(())
    }
}
