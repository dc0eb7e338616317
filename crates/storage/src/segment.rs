//! One log segment: `<base>.log` holding back-to-back v2 batches exactly as
//! appended, plus its `.index` and `.timeindex`. Also the scanning code
//! used by reads (header walks), by recovery (full CRC validation) and by
//! the log cleaner (whole batches, CRC checked).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use bytes::Bytes;
use fjord_protocol::records::{validate, BatchHeader, BATCH_HEADER_LEN};
use parking_lot::Mutex;

use crate::error::{IoContext, Result, StorageError};
use crate::file_cache::CachedFile;
use crate::index::{remove_if_exists, IndexFile};
use crate::offset_index::{OffsetEntry, OffsetIndex};
use crate::time_index::{TimeEntry, TimeIndex};

pub(crate) const LOG_SUFFIX: &str = "log";
pub(crate) const INDEX_SUFFIX: &str = "index";
pub(crate) const TIME_INDEX_SUFFIX: &str = "timeindex";

/// `00000000000000000042.log` and friends.
pub(crate) fn segment_file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:020}.{suffix}")
}

/// Parses a segment file name into (base offset, suffix).
pub(crate) fn parse_segment_file_name(name: &str) -> Option<(i64, &str)> {
    let (stem, suffix) = name.split_once('.')?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if ![LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX].contains(&suffix) {
        return None;
    }
    Some((stem.parse().ok()?, suffix))
}

/// An offset index entry to add: (offset, position).
pub(crate) type OffsetPoint = (i64, u64);
/// A time index entry to add: (timestamp, offset).
pub(crate) type TimePoint = (i64, i64);

/// Decides where index entries go. Append and recovery feed it the same
/// batches and so build identical indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IndexCadence {
    /// Bytes appended since the last offset index entry.
    pub bytes_since_index: u64,
    /// The segment's running max timestamp (-1: none yet).
    pub max_timestamp: i64,
    /// Base offset of the first batch that reached `max_timestamp`.
    pub offset_of_max_timestamp: i64,
    /// Timestamp of the last time index entry (-1: none).
    pub last_time_entry: i64,
}

impl IndexCadence {
    pub fn new() -> IndexCadence {
        IndexCadence {
            bytes_since_index: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            last_time_entry: -1,
        }
    }

    /// Accounts for one batch at `position`; returns the offset index entry
    /// (offset, position) and the time index entry (timestamp, offset) to
    /// add, if any.
    pub fn on_batch(
        &mut self,
        interval: u64,
        base_offset: i64,
        max_timestamp: i64,
        position: u64,
        size: u64,
    ) -> (Option<OffsetPoint>, Option<TimePoint>) {
        if max_timestamp > self.max_timestamp {
            self.max_timestamp = max_timestamp;
            self.offset_of_max_timestamp = base_offset;
        }
        let mut entries = (None, None);
        if self.bytes_since_index > interval {
            entries.0 = Some((base_offset, position));
            entries.1 = self.time_entry();
            self.bytes_since_index = 0;
        }
        self.bytes_since_index += size;
        entries
    }

    /// A time index entry for the running max, if it grew since the last.
    pub fn time_entry(&mut self) -> Option<(i64, i64)> {
        if self.max_timestamp > self.last_time_entry {
            self.last_time_entry = self.max_timestamp;
            Some((self.max_timestamp, self.offset_of_max_timestamp))
        } else {
            None
        }
    }
}

/// Offsets whose arithmetic cannot overflow (garbage can hold anything).
fn sane_offsets(h: &BatchHeader) -> bool {
    h.base_offset >= 0
        && h.last_offset_delta >= 0
        && h.base_offset < i64::MAX - i64::from(i32::MAX) - 1
}

/// Reads a file range through a buffer.
pub(crate) struct FileReader<'a> {
    file: &'a File,
    end: u64,
    buf: Vec<u8>,
    buf_start: u64,
    chunk: usize,
}

impl<'a> FileReader<'a> {
    pub fn new(file: &'a File, end: u64, chunk: usize) -> FileReader<'a> {
        FileReader {
            file,
            end,
            buf: Vec::new(),
            buf_start: 0,
            chunk,
        }
    }

    /// Bytes `[pos, pos + n)`; the range must lie below `end`.
    pub fn get(&mut self, pos: u64, n: usize) -> Result<&[u8]> {
        let want_end = pos + n as u64;
        if want_end > self.end {
            return Err(StorageError::Corrupt(format!(
                "read of {n} bytes at {pos} past the end ({})",
                self.end
            )));
        }
        let have_end = self.buf_start + self.buf.len() as u64;
        if pos < self.buf_start || want_end > have_end {
            let len = (n.max(self.chunk) as u64).min(self.end - pos) as usize;
            self.buf.resize(len, 0);
            self.file
                .read_exact_at(&mut self.buf, pos)
                .ctx(|| format!("read {len} bytes at {pos}"))?;
            self.buf_start = pos;
        }
        let at = (pos - self.buf_start) as usize;
        Ok(&self.buf[at..at + n])
    }
}

/// Reads the whole batches of one segment through a `chunk`-byte buffer,
/// checking each one's CRC (the log cleaner's reads).
pub(crate) fn for_each_batch(
    seg: &Segment,
    chunk: usize,
    mut f: impl FnMut(&BatchHeader, Bytes) -> Result<()>,
) -> Result<()> {
    let end = seg.size();
    let file = seg.file()?;
    let mut reader = FileReader::new(&file, end, chunk);
    let mut pos = 0u64;
    while pos < end {
        let header = reader.get(pos, BATCH_HEADER_LEN.min((end - pos) as usize))?;
        let h = BatchHeader::parse(header).map_err(|e| {
            StorageError::Corrupt(format!("{}: batch at {pos}: {e}", seg.log_path.display()))
        })?;
        let size = h.total_size();
        let raw = reader.get(pos, size)?;
        validate(raw).map_err(|e| {
            StorageError::Corrupt(format!("{}: batch at {pos}: {e}", seg.log_path.display()))
        })?;
        f(&h, Bytes::copy_from_slice(raw))?;
        pos += size as u64;
    }
    Ok(())
}

/// Walks batch headers (no CRC check) from `pos` to `end`.
pub(crate) struct BatchWalker<'a> {
    reader: FileReader<'a>,
    pos: u64,
    end: u64,
}

/// Reads issued by header walks are this large, so that runs of small
/// batches cost one `pread`.
pub(crate) const WALK_CHUNK: usize = 8192;

impl<'a> BatchWalker<'a> {
    pub fn new(file: &'a File, pos: u64, end: u64) -> BatchWalker<'a> {
        BatchWalker {
            reader: FileReader::new(file, end, WALK_CHUNK),
            pos,
            end,
        }
    }

    /// The next batch as (position, header).
    pub fn next_batch(&mut self) -> Result<Option<(u64, BatchHeader)>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let pos = self.pos;
        if self.end - pos < BATCH_HEADER_LEN as u64 {
            return Err(StorageError::Corrupt(format!(
                "partial batch header at position {pos}"
            )));
        }
        let bytes = self.reader.get(pos, BATCH_HEADER_LEN)?;
        let h = BatchHeader::parse(bytes)
            .map_err(|e| StorageError::Corrupt(format!("batch at position {pos}: {e}")))?;
        if !sane_offsets(&h) {
            return Err(StorageError::Corrupt(format!(
                "batch at position {pos} has impossible offsets"
            )));
        }
        let size = h.total_size() as u64;
        if pos + size > self.end {
            return Err(StorageError::Corrupt(format!(
                "batch at position {pos} runs past the end of the segment"
            )));
        }
        self.pos = pos + size;
        Ok(Some((pos, h)))
    }
}

/// What recovery learned about a segment.
#[derive(Debug)]
pub(crate) struct Recovered {
    /// The file was cut at a torn or corrupt batch.
    pub truncated: bool,
    /// Offset after the last valid batch (the base offset if none).
    pub next_offset: i64,
    /// (epoch, start offset) at each change of partition leader epoch.
    pub epochs: Vec<(i32, i64)>,
    /// Index files written for a sealed segment, to fsync.
    pub index_files: Vec<Arc<File>>,
}

pub(crate) struct Segment {
    pub base_offset: i64,
    /// The `.log` file, opened on demand through the file cache.
    file: CachedFile,
    pub log_path: PathBuf,
    /// Bytes of whole batches, published after each write.
    size: AtomicU64,
    pub index: OffsetIndex,
    pub time_index: TimeIndex,
    /// (max timestamp, base offset of the first batch with it).
    max_timestamp: Mutex<(i64, i64)>,
    /// Wall clock of the first append, for `segment.ms` (-1: not yet).
    created_ms: AtomicI64,
}

fn open_log_file(path: &Path, create: bool) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(create)
        .open(path)
        .ctx(|| format!("open {}", path.display()))
}

impl Segment {
    pub(crate) fn paths(dir: &Path, base: i64) -> (PathBuf, PathBuf, PathBuf) {
        (
            dir.join(segment_file_name(base, LOG_SUFFIX)),
            dir.join(segment_file_name(base, INDEX_SUFFIX)),
            dir.join(segment_file_name(base, TIME_INDEX_SUFFIX)),
        )
    }

    /// Creates a new, empty active segment (replacing stale files).
    pub fn create(dir: &Path, base: i64) -> Result<Segment> {
        let (log_path, index_path, time_path) = Segment::paths(dir, base);
        remove_if_exists(&index_path)?;
        remove_if_exists(&time_path)?;
        let file = open_log_file(&log_path, true)?;
        Ok(Segment {
            base_offset: base,
            file: CachedFile::with_handle(log_path.clone(), true, file),
            log_path,
            size: AtomicU64::new(0),
            index: OffsetIndex::in_memory(index_path, base, Vec::new()),
            time_index: TimeIndex::in_memory(time_path, base, Vec::new()),
            max_timestamp: Mutex::new((-1, -1)),
            created_ms: AtomicI64::new(-1),
        })
    }

    /// Opens a segment trusting its index files (clean shutdown, or below
    /// the recovery point). Only sanity checks: entries inside the log, and
    /// for the `active` segment a header walk from the last index entry to
    /// the end of the file, which also yields the next offset. Any failure
    /// means the caller should [`Segment::recover`] instead. `allow_gaps`:
    /// the log has been compacted, so offsets only need to increase.
    pub fn load(
        dir: &Path,
        base: i64,
        active: bool,
        interval: u64,
        allow_gaps: bool,
    ) -> Result<(Segment, IndexCadence, i64)> {
        let (log_path, index_path, time_path) = Segment::paths(dir, base);
        // A sealed segment's file is opened when first read (the file
        // cache bounds how many are open); the active one is read now.
        let file = if active {
            Some(open_log_file(&log_path, false)?)
        } else {
            None
        };
        let size = match &file {
            Some(f) => f.metadata(),
            None => std::fs::metadata(&log_path),
        }
        .ctx(|| format!("stat {}", log_path.display()))?
        .len();
        if size > u64::from(u32::MAX) {
            return Err(StorageError::Corrupt(format!(
                "{} is larger than 4 GiB",
                log_path.display()
            )));
        }
        let mut cadence = IndexCadence::new();
        let (index, time_index, next_offset) = if let Some(file) = &file {
            // An empty active segment needs no index files (a new log's
            // first clean close writes none).
            let empty = size == 0 && !index_path.exists() && !time_path.exists();
            let entries = if empty {
                Vec::new()
            } else {
                IndexFile::<OffsetEntry>::read_all(&index_path)?
            };
            OffsetIndex::check_entries(&entries, size)?;
            let times = if empty {
                Vec::new()
            } else {
                IndexFile::<TimeEntry>::read_all(&time_path)?
            };
            TimeIndex::check_entries(&times)?;
            let index = OffsetIndex::in_memory(index_path, base, entries);
            let time_index = TimeIndex::in_memory(time_path, base, times);
            if let Some((ts, off)) = time_index.last() {
                cadence.max_timestamp = ts;
                cadence.offset_of_max_timestamp = off;
                cadence.last_time_entry = ts;
            }
            // Validate the unindexed tail (at most about one index interval
            // plus one batch): whole batches with good CRCs and increasing
            // offsets, ending exactly at the end of the file.
            let from = index.last_position();
            let mut walker = BatchWalker::new(file, from, size);
            let mut reader = FileReader::new(file, size, 1 << 16);
            let mut next_offset = base;
            if from > 0 {
                // The indexed batch must be where the index says.
                next_offset = index.lookup(i64::MAX)?.0;
            }
            while let Some((pos, h)) = walker.next_batch()? {
                let misplaced = if allow_gaps {
                    h.base_offset < next_offset
                } else {
                    h.base_offset != next_offset
                };
                if misplaced {
                    return Err(StorageError::Corrupt(format!(
                        "{}: batch at {pos} has offset {}, expected {next_offset}",
                        log_path.display(),
                        h.base_offset
                    )));
                }
                validate(reader.get(pos, h.total_size())?).map_err(|e| {
                    StorageError::Corrupt(format!("{}: batch at {pos}: {e}", log_path.display()))
                })?;
                let (o, t) = cadence.on_batch(
                    interval,
                    h.base_offset,
                    h.max_timestamp,
                    pos,
                    h.total_size() as u64,
                );
                if let Some((off, p)) = o {
                    index.push(off, p);
                }
                if let Some((ts, off)) = t {
                    time_index.push(ts, off);
                }
                next_offset = h.next_offset();
            }
            (index, time_index, next_offset)
        } else {
            let index = OffsetIndex::open_disk(index_path, base)?;
            index.check_last(size)?;
            let time_index = TimeIndex::open_disk(time_path, base)?;
            if let Some((ts, off)) = time_index.last() {
                cadence.max_timestamp = ts;
                cadence.offset_of_max_timestamp = off;
                cadence.last_time_entry = ts;
            }
            (index, time_index, -1)
        };
        let file = match file {
            Some(f) => CachedFile::with_handle(log_path.clone(), true, f),
            None => CachedFile::lazy(log_path.clone(), true),
        };
        let seg = Segment {
            base_offset: base,
            file,
            log_path,
            size: AtomicU64::new(size),
            index,
            time_index,
            max_timestamp: Mutex::new((cadence.max_timestamp, cadence.offset_of_max_timestamp)),
            created_ms: AtomicI64::new(-1),
        };
        Ok((seg, cadence, next_offset))
    }

    /// Scans the whole segment validating every batch (header, length,
    /// CRC32C, contiguous offsets from the segment's base), truncates the file at the first bad
    /// one and rebuilds both indexes. A non-`active` segment gets its index
    /// files written (not yet fsynced).
    ///
    /// In a compacted log (`allow_gaps`) offsets need only increase, and
    /// stay below `next_base` (the next segment's base offset), since the
    /// cleaner removes records and whole batches.
    pub fn recover(
        dir: &Path,
        base: i64,
        active: bool,
        interval: u64,
        allow_gaps: bool,
        next_base: Option<i64>,
    ) -> Result<(Segment, IndexCadence, Recovered)> {
        let (log_path, index_path, time_path) = Segment::paths(dir, base);
        let file = open_log_file(&log_path, false)?;
        let file_len = file
            .metadata()
            .ctx(|| format!("stat {}", log_path.display()))?
            .len();
        let mut reader = FileReader::new(&file, file_len, 1 << 20);
        let mut cadence = IndexCadence::new();
        let mut index = Vec::new();
        let mut times = Vec::new();
        let mut epochs: Vec<(i32, i64)> = Vec::new();
        let mut next_offset = base;
        let mut pos = 0u64;
        let mut problem = None;
        while pos < file_len {
            let remaining = file_len - pos;
            if remaining < BATCH_HEADER_LEN as u64 {
                problem = Some(format!("{remaining} stray bytes"));
                break;
            }
            let h = match BatchHeader::parse(reader.get(pos, BATCH_HEADER_LEN)?) {
                Ok(h) => h,
                Err(e) => {
                    problem = Some(format!("bad batch header: {e}"));
                    break;
                }
            };
            let size = h.total_size() as u64;
            if size > remaining {
                problem = Some(format!("torn batch of {size} bytes, {remaining} present"));
                break;
            }
            // Offsets are contiguous unless compacted: this also catches
            // corruption of the base offset, which the CRC does not cover.
            let misplaced = if allow_gaps {
                h.base_offset < next_offset || next_base.is_some_and(|n| h.last_offset() >= n)
            } else {
                h.base_offset != next_offset
            };
            if !sane_offsets(&h)
                || misplaced
                || h.last_offset() - base > i64::from(u32::MAX)
                || pos + size > u64::from(u32::MAX)
            {
                problem = Some(format!(
                    "batch offsets {}..={} where {next_offset} was expected",
                    h.base_offset,
                    h.last_offset()
                ));
                break;
            }
            if let Err(e) = validate(reader.get(pos, size as usize)?) {
                problem = Some(format!("invalid batch: {e}"));
                break;
            }
            let (o, t) = cadence.on_batch(interval, h.base_offset, h.max_timestamp, pos, size);
            if let Some((off, p)) = o {
                index.push(OffsetEntry {
                    relative_offset: (off - base) as u32,
                    position: p as u32,
                });
            }
            if let Some((ts, off)) = t {
                times.push(TimeEntry {
                    timestamp: ts,
                    relative_offset: (off - base) as u32,
                });
            }
            let epoch = h.partition_leader_epoch;
            if epoch >= 0 && epochs.last().is_none_or(|&(e, _)| e != epoch) {
                epochs.push((epoch, h.base_offset));
            }
            next_offset = h.next_offset();
            pos += size;
        }
        drop(reader);
        let truncated = problem.is_some();
        if let Some(problem) = problem {
            tracing::warn!(
                segment = %log_path.display(),
                position = pos,
                dropped_bytes = file_len - pos,
                "recovery truncates segment: {problem}"
            );
            file.set_len(pos)
                .ctx(|| format!("truncate {} to {pos}", log_path.display()))?;
        }
        let seg = Segment {
            base_offset: base,
            file: CachedFile::with_handle(log_path.clone(), true, file),
            log_path,
            size: AtomicU64::new(pos),
            index: OffsetIndex::in_memory(index_path, base, index),
            time_index: TimeIndex::in_memory(time_path, base, times),
            max_timestamp: Mutex::new((cadence.max_timestamp, cadence.offset_of_max_timestamp)),
            created_ms: AtomicI64::new(-1),
        };
        let index_files = if active {
            Vec::new()
        } else {
            match seg.seal(&mut cadence) {
                Ok(files) => files,
                // No room for the index files: the indexes stay in memory
                // (the broker starts read-only on a full disk).
                Err(e) if e.is_disk_full() => {
                    tracing::warn!(segment = %seg.log_path.display(), "disk full: rebuilt indexes kept in memory: {e}");
                    Vec::new()
                }
                Err(e) => return Err(e),
            }
        };
        Ok((
            seg,
            cadence,
            Recovered {
                truncated,
                next_offset,
                epochs,
                index_files,
            },
        ))
    }

    /// A sealed segment assembled from files the log cleaner wrote: open
    /// handles of the data and index files, which are (or are about to be
    /// renamed to) the segment's regular paths.
    #[allow(clippy::too_many_arguments)]
    pub fn from_cleaned(
        dir: &Path,
        base: i64,
        file: File,
        size: u64,
        index_file: File,
        time_index_file: File,
        max_timestamp: (i64, i64),
    ) -> Result<Segment> {
        let (log_path, index_path, time_path) = Segment::paths(dir, base);
        Ok(Segment {
            base_offset: base,
            file: CachedFile::pinned(log_path.clone(), true, file),
            log_path,
            size: AtomicU64::new(size),
            index: OffsetIndex::from_file(index_path, base, index_file)?,
            time_index: TimeIndex::from_file(time_path, base, time_index_file)?,
            max_timestamp: Mutex::new(max_timestamp),
            created_ms: AtomicI64::new(-1),
        })
    }

    /// The open `.log` file (reopened if the file cache closed it).
    pub fn file(&self) -> Result<Arc<File>> {
        self.file.get()
    }

    /// Keeps this segment's files open for as long as it lives: its paths
    /// are about to be unlinked or replaced, and readers holding it must
    /// keep reading the old data.
    pub fn pin_files(&self) {
        self.file.pin();
        self.index.file.pin();
        self.time_index.file.pin();
    }

    /// Returns files pinned by [`Segment::from_cleaned`] to the file cache
    /// once they were renamed to the segment's paths.
    pub fn unpin_files(&self) {
        self.file.unpin();
        self.index.file.unpin();
        self.time_index.file.unpin();
    }

    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    pub fn set_size(&self, size: u64) {
        self.size.store(size, Ordering::Release);
    }

    pub fn max_timestamp(&self) -> (i64, i64) {
        *self.max_timestamp.lock()
    }

    pub fn set_max_timestamp(&self, ts: i64, offset: i64) {
        *self.max_timestamp.lock() = (ts, offset);
    }

    pub fn created_ms(&self) -> i64 {
        self.created_ms.load(Ordering::Relaxed)
    }

    pub fn set_created_ms(&self, ms: i64) {
        self.created_ms.store(ms, Ordering::Relaxed);
    }

    /// The timestamp retention.ms compares against: the max record
    /// timestamp, or the file's mtime when no record carries one.
    pub fn retention_timestamp(&self) -> i64 {
        let (ts, _) = self.max_timestamp();
        if ts >= 0 {
            return ts;
        }
        // By path: no need to open an evicted file for its mtime.
        std::fs::metadata(&self.log_path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(-1, |d| d.as_millis() as i64)
    }

    /// Adds the final time index entry, writes both index files and
    /// switches them to on-disk lookups. Returns the files to fsync.
    pub fn seal(&self, cadence: &mut IndexCadence) -> Result<Vec<Arc<File>>> {
        if let Some((ts, off)) = cadence.time_entry() {
            self.time_index.push(ts, off);
        }
        let a = self.index.file.seal()?;
        let b = self.time_index.file.seal()?;
        Ok(vec![a, b])
    }

    /// Writes the (in-memory) index files of the active segment with the
    /// final time entry, for a clean shutdown. Returns the files to fsync.
    pub fn write_index_files(&self, cadence: &mut IndexCadence) -> Result<Vec<File>> {
        if let Some((ts, off)) = cadence.time_entry() {
            self.time_index.push(ts, off);
        }
        let mut files = Vec::new();
        files.extend(self.index.file.write_file()?);
        files.extend(self.time_index.file.write_file()?);
        Ok(files)
    }

    /// Unlinks the segment's files. Open handles (readers) keep working.
    pub fn delete_files(&self) -> Result<()> {
        self.pin_files();
        remove_if_exists(&self.log_path)?;
        self.index.file.delete_file()?;
        self.time_index.file.delete_file()
    }

    /// The first batch below position `end` whose last offset is
    /// `>= target`, as (position, header).
    pub fn find_batch(&self, target: i64, end: u64) -> Result<Option<(u64, BatchHeader)>> {
        if end == 0 {
            return Ok(None);
        }
        let start = self
            .index
            .lookup_bounded(end - 1, target)?
            .map_or(0, |(_, pos)| pos);
        let file = self.file()?;
        let mut walker = BatchWalker::new(&file, start, end);
        while let Some((pos, h)) = walker.next_batch()? {
            if h.last_offset() >= target {
                return Ok(Some((pos, h)));
            }
        }
        Ok(None)
    }

    /// Reads `len` bytes at `pos`.
    pub fn read_at(&self, pos: u64, len: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.file()?
            .read_exact_at(&mut buf, pos)
            .ctx(|| format!("read {} at {pos}", self.log_path.display()))?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            segment_file_name(42, LOG_SUFFIX),
            "00000000000000000042.log"
        );
        assert_eq!(
            parse_segment_file_name("00000000000000000042.timeindex"),
            Some((42, TIME_INDEX_SUFFIX))
        );
        assert_eq!(parse_segment_file_name("0000000000000000042.log"), None);
        assert_eq!(
            parse_segment_file_name("00000000000000000042.log.tmp"),
            None
        );
        assert_eq!(parse_segment_file_name("leader-epoch-checkpoint"), None);
    }

    #[test]
    fn cadence() {
        let mut c = IndexCadence::new();
        assert_eq!(c.on_batch(100, 0, 5, 0, 60), (None, None));
        assert_eq!(c.on_batch(100, 1, 3, 60, 60), (None, None));
        // 120 bytes since the last entry > 100: index this batch.
        assert_eq!(
            c.on_batch(100, 2, 4, 120, 60),
            (Some((2, 120)), Some((5, 0)))
        );
        // Max did not grow: offset entry only.
        assert_eq!(c.on_batch(100, 3, 4, 180, 60), (None, None));
        assert_eq!(c.on_batch(100, 4, 4, 240, 60), (Some((4, 240)), None));
        assert_eq!(c.on_batch(100, 5, 9, 300, 60), (None, None));
        assert_eq!(c.time_entry(), Some((9, 5)));
        assert_eq!(c.time_entry(), None);
    }
}
