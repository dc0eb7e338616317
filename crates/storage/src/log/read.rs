//! Reading a log: whole batches as file ranges for zero-copy sends
//! ([`Log::read`]), and the timestamp lookups of ListOffsets.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;

use super::Log;
use crate::error::{IoContext, Result, StorageError};
use crate::records::find_record;
use crate::segment::{BatchWalker, Segment};

/// A byte range of a segment file holding whole batches; send it with
/// `sendfile`/`splice` from `file` at `position`. The file may have been
/// unlinked by retention meanwhile: the open handle keeps it readable.
#[derive(Clone, Debug)]
pub struct FileSlice {
    pub file: Arc<File>,
    pub position: u64,
    pub len: usize,
}

impl FileSlice {
    /// Copies the bytes into memory (for TLS, tests, or small reads).
    pub fn read_to_bytes(&self) -> Result<Bytes> {
        let mut buf = vec![0u8; self.len];
        self.file
            .read_exact_at(&mut buf, self.position)
            .ctx(|| format!("read {} bytes at {}", self.len, self.position))?;
        Ok(Bytes::from(buf))
    }
}

/// The answer to [`Log::read`].
#[derive(Clone, Debug)]
pub struct ReadResult {
    /// Whole batches, `None` when nothing is readable.
    pub records: Option<FileSlice>,
    /// Base offset of the first returned batch (may be below the requested
    /// offset: batches are returned whole); the requested offset if empty.
    pub first_offset: i64,
    /// Offset after the last returned batch; the requested offset if empty.
    pub next_offset: i64,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
}

impl ReadResult {
    pub fn is_empty(&self) -> bool {
        self.records.is_none()
    }

    /// Bytes of records returned.
    pub fn len(&self) -> usize {
        self.records.as_ref().map_or(0, |r| r.len)
    }

    /// The records copied into memory (empty when none).
    pub fn to_bytes(&self) -> Result<Bytes> {
        match &self.records {
            Some(r) => r.read_to_bytes(),
            None => Ok(Bytes::new()),
        }
    }
}

impl Log {
    fn segment_after(&self, base: i64) -> Option<Arc<Segment>> {
        self.segments
            .read()
            .range(base + 1..)
            .next()
            .map(|(_, s)| s.clone())
    }

    /// Where a read continues after finding nothing at or above its offset
    /// in `s`: the next segment, unless the cleaner replaced `s` meanwhile
    /// by a (merged) segment covering its offsets, which is then read.
    pub(crate) fn next_segment_to_read(&self, s: &Arc<Segment>) -> Option<Arc<Segment>> {
        let covering = self
            .segments
            .read()
            .range(..=s.base_offset)
            .next_back()
            .map(|(_, c)| c.clone());
        match covering {
            Some(c) if !Arc::ptr_eq(&c, s) => Some(c),
            _ => self.segment_after(s.base_offset),
        }
    }

    /// Reads whole batches starting with the one that contains
    /// `start_offset`, up to `max_bytes` (but at least one batch when
    /// `min_one_batch`, even a larger one, as KIP-74 wants), and only
    /// batches that end below `max_offset` (exclusive, e.g. the high
    /// watermark). Returns a file range for zero-copy sends; the range
    /// never spans two segments. `OffsetOutOfRange` when `start_offset` is
    /// below the log start or above the log end.
    pub fn read(
        &self,
        start_offset: i64,
        max_bytes: usize,
        max_offset: i64,
        min_one_batch: bool,
    ) -> Result<ReadResult> {
        // Log end first: every segment and byte it covers is published.
        let leo = self.log_end_offset();
        let lso = self.log_start_offset();
        let mut result = ReadResult {
            records: None,
            first_offset: start_offset,
            next_offset: start_offset,
            high_watermark: self.high_watermark(),
            log_start_offset: lso,
            log_end_offset: leo,
        };
        if start_offset < lso || start_offset > leo {
            return Err(StorageError::OffsetOutOfRange {
                requested: start_offset,
                log_start: lso,
                log_end: leo,
            });
        }
        let limit = max_offset.min(leo);
        if start_offset >= limit {
            return Ok(result);
        }
        let mut seg = self
            .segments
            .read()
            .range(..=start_offset)
            .next_back()
            .map(|(_, s)| s.clone());
        if seg.is_none() {
            // Retention deleted the segment since we looked at the log start.
            return Err(StorageError::OffsetOutOfRange {
                requested: start_offset,
                log_start: self.log_start_offset(),
                log_end: leo,
            });
        }
        while let Some(s) = seg {
            let end = s.size();
            let Some((pos, h)) = s.find_batch(start_offset, end)? else {
                seg = self.next_segment_to_read(&s);
                continue;
            };
            if h.last_offset() >= limit {
                return Ok(result);
            }
            let first_size = h.total_size() as u64;
            if first_size > max_bytes as u64 && !min_one_batch {
                return Ok(result);
            }
            let budget_end = pos + (max_bytes as u64).max(first_size);
            let mut end_pos = pos + first_size;
            let mut next = h.next_offset();
            // Jump over whole index intervals, then walk the last stretch.
            if let Some((off, p)) = s.index.lookup_bounded(budget_end.min(end), limit)? {
                if p > end_pos {
                    end_pos = p;
                    next = off;
                }
            }
            let file = s.file()?;
            let mut walker = BatchWalker::new(&file, end_pos, end);
            while let Some((p, bh)) = walker.next_batch()? {
                let batch_end = p + bh.total_size() as u64;
                if bh.last_offset() >= limit || batch_end > budget_end {
                    break;
                }
                end_pos = batch_end;
                next = bh.next_offset();
            }
            result.records = Some(FileSlice {
                file: file.clone(),
                position: pos,
                len: (end_pos - pos) as usize,
            });
            result.first_offset = h.base_offset;
            result.next_offset = next;
            return Ok(result);
        }
        Ok(result)
    }

    /// ListOffsets by timestamp: the first record (at or after the log
    /// start) whose timestamp is `>= timestamp`, as (offset, timestamp).
    /// Exact for uncompressed and LogAppendTime batches; for compressed
    /// CreateTime batches (storage does not decompress) the answer is the
    /// first batch whose max timestamp qualifies: (its base offset, its max
    /// timestamp). The broker should drop answers at or above the high
    /// watermark / LSO.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>> {
        let lso = self.log_start_offset();
        let segs = self.segments_snapshot();
        for (i, s) in segs.iter().enumerate() {
            if segs.get(i + 1).is_some_and(|n| n.base_offset <= lso) {
                continue;
            }
            let (max_ts, _) = s.max_timestamp();
            if max_ts < timestamp {
                continue;
            }
            let from = s
                .time_index
                .lookup_before(timestamp)?
                .map_or(s.base_offset, |(_, off)| off)
                .max(lso);
            let end = s.size();
            let start_pos = match s.index.lookup_bounded(end.saturating_sub(1), from)? {
                Some((_, p)) => p,
                None => 0,
            };
            let file = s.file()?;
            let mut walker = BatchWalker::new(&file, start_pos, end);
            while let Some((pos, h)) = walker.next_batch()? {
                if h.max_timestamp < timestamp || h.last_offset() < lso {
                    continue;
                }
                let batch = Bytes::from(s.read_at(pos, h.total_size())?);
                match find_record(&batch, &h, |o, t| o >= lso && t >= timestamp) {
                    Some(Some(found)) => return Ok(Some(found)),
                    Some(None) => continue,
                    None => return Ok(Some((h.base_offset.max(lso), h.max_timestamp))),
                }
            }
        }
        Ok(None)
    }

    /// ListOffsets MAX_TIMESTAMP (-3): the record with the largest
    /// timestamp as (offset, timestamp); the first such record when several
    /// share it. For compressed CreateTime batches, the batch's base offset.
    /// `None` when no record has a timestamp.
    pub fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>> {
        let lso = self.log_start_offset();
        let segs = self.segments_snapshot();
        let mut best: Option<(&Arc<Segment>, i64, i64)> = None;
        for (i, s) in segs.iter().enumerate() {
            if segs.get(i + 1).is_some_and(|n| n.base_offset <= lso) {
                continue;
            }
            let (ts, off) = s.max_timestamp();
            if ts >= 0 && best.is_none_or(|(_, b, _)| ts > b) {
                best = Some((s, ts, off));
            }
        }
        let Some((s, ts, off)) = best else {
            return Ok(None);
        };
        let end = s.size();
        let start_pos = s
            .index
            .lookup_bounded(end.saturating_sub(1), off)?
            .map_or(0, |(_, p)| p);
        let file = s.file()?;
        let mut walker = BatchWalker::new(&file, start_pos, end);
        while let Some((pos, h)) = walker.next_batch()? {
            if h.max_timestamp != ts {
                continue;
            }
            let batch = Bytes::from(s.read_at(pos, h.total_size())?);
            return Ok(Some(match find_record(&batch, &h, |_, t| t == ts) {
                Some(Some(found)) => found,
                _ => (h.base_offset, ts),
            }));
        }
        Ok(Some((off, ts)))
    }
}
