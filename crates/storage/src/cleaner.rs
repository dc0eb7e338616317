//! Log compaction (`cleanup.policy=compact`): the log cleaner keeps only
//! the latest record of each key in the sealed segments of a log.
//!
//! # One run of [`Log::compact`]
//!
//! The log is split at the cleaner checkpoint (`cleaner-offset-checkpoint`)
//! into a *clean* part, compacted before, and a *dirty* part. Only sealed
//! segments entirely below the high watermark (and the last stable offset
//! given to [`Log::compact_to`]) are cleanable, never the active one, and
//! with `min.compaction.lag.ms` only segments whose newest
//! record is at least that old. A run is due when the dirty bytes are more
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
//! the kept records are written as a new batch with the same base offset,
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
//! passes its last stable offset to [`Log::compact_to`], so that segments
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
//! is released. [`Log::open`] first finishes any swap whose manifest
//! exists and deletes `.cleaned` files without one. Readers holding a
//! [`crate::FileSlice`] of an old segment keep its open (unlinked) file and
//! read the old bytes.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use fjord_protocol::records::{
    compress, compute_crc, parse_control_record, records, validate, BatchHeader, Compression,
    ControlType, Record, ATTR_COMPRESSION_MASK, ATTR_DELETE_HORIZON, BATCH_HEADER_LEN,
    LOG_OVERHEAD,
};
use fjord_protocol::wire::{put_varint, put_varlong};

use crate::checkpoint::{self, CLEANER_CHECKPOINT_FILE};
use crate::error::{IoContext, Result, StorageError};
use crate::index::{remove_if_exists, IndexEntry};
use crate::log::Log;
use crate::offset_index::OffsetEntry;
use crate::segment::{
    segment_file_name, BatchWalker, FileReader, IndexCadence, Segment, INDEX_SUFFIX, LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
};
use crate::time_index::TimeEntry;

/// Largest decompressed records section the cleaner reads.
const DECOMPRESS_LIMIT: usize = 64 << 20;
/// The offset map stops growing (at a segment boundary) past this many
/// bytes, like Kafka's `log.cleaner.dedupe.buffer.size` (128 MiB).
const MAP_MEMORY_LIMIT: usize = 128 << 20;
/// Estimated bytes per map entry besides the key.
const MAP_ENTRY_OVERHEAD: usize = 64;
/// Reads of segments being cleaned are this large.
const READ_CHUNK: usize = 1 << 20;
const CLEANED_SUFFIX: &str = "cleaned";
const SWAP_SUFFIX: &str = "swap";
/// `delete_horizon` values.
const HORIZON_NONE: i64 = i64::MAX;
const HORIZON_UNKNOWN: i64 = i64::MIN;

/// What one [`Log::compact`] call did.
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

/// Key → offset of its latest record in the dirty range.
#[derive(Default)]
struct OffsetMap {
    map: HashMap<Box<[u8]>, i64>,
    memory: usize,
}

impl OffsetMap {
    fn put(&mut self, key: &[u8], offset: i64) {
        if let Some(o) = self.map.get_mut(key) {
            *o = (*o).max(offset);
        } else {
            self.memory += key.len() + MAP_ENTRY_OVERHEAD;
            self.map.insert(key.into(), offset);
        }
    }

    fn get(&self, key: &[u8]) -> Option<i64> {
        self.map.get(key).copied()
    }
}

/// How the transaction of a transactional batch ended, from the markers
/// (control batches) found anywhere after it in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TxnState {
    Committed,
    Aborted,
    /// No marker yet: the transaction is still open (only possible above
    /// the last stable offset).
    Open,
}

/// Per producer id, the offsets of its transaction markers and whether
/// each one was an ABORT, in log order.
#[derive(Default)]
struct Transactions {
    markers: HashMap<i64, Vec<(i64, bool)>>,
}

impl Transactions {
    /// The state of a transactional data batch: set by the first marker of
    /// its producer after it.
    fn state(&self, h: &BatchHeader) -> TxnState {
        let Some(m) = self.markers.get(&h.producer_id) else {
            return TxnState::Open;
        };
        let i = m.partition_point(|&(o, _)| o < h.base_offset);
        match m.get(i) {
            Some(&(_, true)) => TxnState::Aborted,
            Some(_) => TxnState::Committed,
            None => TxnState::Open,
        }
    }
}

/// Whether the records of data batch `h` take part in compaction: not
/// those of aborted transactions (dropped) or open ones (kept as they are).
fn is_live_data(h: &BatchHeader, txns: &Transactions) -> bool {
    !h.is_control() && (!h.is_transactional() || txns.state(h) == TxnState::Committed)
}

/// Everything a record decision needs.
struct Filter<'a> {
    map: &'a OffsetMap,
    txns: &'a Transactions,
    /// Producer id → base offset of its last batch in the log.
    last_batches: &'a HashMap<i64, i64>,
    now_ms: i64,
    delete_retention_ms: i64,
    /// The log's closed flag: a run stops once the log is closed or
    /// deleted.
    closed: &'a AtomicBool,
}

/// What becomes of one batch.
enum Outcome {
    /// Copied as it is.
    Verbatim,
    /// Left out.
    Dropped,
    /// Replaced by these bytes.
    Rewritten(Bytes),
}

struct BatchResult {
    outcome: Outcome,
    records_before: u64,
    records_after: u64,
    tombstones_removed: u64,
}

/// The delete horizon of a batch, when it has one.
fn delete_horizon(h: &BatchHeader) -> Option<i64> {
    (h.attributes & ATTR_DELETE_HORIZON != 0).then_some(h.first_timestamp)
}

fn is_tombstone(r: &Record) -> bool {
    r.key.is_some() && r.value.is_none()
}

fn put_nullable(buf: &mut BytesMut, b: Option<&Bytes>) {
    match b {
        None => put_varint(buf, -1),
        Some(b) => {
            put_varint(buf, b.len() as i32);
            buf.put_slice(b);
        }
    }
}

fn write_header(h: &BatchHeader, out: &mut [u8]) {
    out[0..8].copy_from_slice(&h.base_offset.to_be_bytes());
    out[8..12].copy_from_slice(&h.batch_length.to_be_bytes());
    out[12..16].copy_from_slice(&h.partition_leader_epoch.to_be_bytes());
    out[16] = h.magic as u8;
    out[17..21].copy_from_slice(&h.crc.to_be_bytes());
    out[21..23].copy_from_slice(&h.attributes.to_be_bytes());
    out[23..27].copy_from_slice(&h.last_offset_delta.to_be_bytes());
    out[27..35].copy_from_slice(&h.first_timestamp.to_be_bytes());
    out[35..43].copy_from_slice(&h.max_timestamp.to_be_bytes());
    out[43..51].copy_from_slice(&h.producer_id.to_be_bytes());
    out[51..53].copy_from_slice(&h.producer_epoch.to_be_bytes());
    out[53..57].copy_from_slice(&h.base_sequence.to_be_bytes());
    out[57..61].copy_from_slice(&h.record_count.to_be_bytes());
}

/// A complete batch from a header (whose length, CRC and count are set
/// here) and a records section as stored (already compressed if need be).
fn assemble(mut h: BatchHeader, section: &[u8], count: usize) -> Result<Bytes> {
    let too_large = || StorageError::InvalidBatch("cleaned batch is too large".into());
    h.batch_length =
        i32::try_from(BATCH_HEADER_LEN - LOG_OVERHEAD + section.len()).map_err(|_| too_large())?;
    h.record_count = i32::try_from(count).map_err(|_| too_large())?;
    h.crc = 0;
    let mut out = vec![0u8; BATCH_HEADER_LEN + section.len()];
    write_header(&h, &mut out);
    out[BATCH_HEADER_LEN..].copy_from_slice(section);
    let crc = compute_crc(&out);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(Bytes::from(out))
}

/// The kept `recs` of batch `h` as a new batch (see the module docs).
fn rebuild_batch(h: &BatchHeader, recs: &[Record], horizon: Option<i64>) -> Result<Bytes> {
    let codec = h
        .compression()
        .map_err(|e| StorageError::Corrupt(format!("batch at offset {}: {e}", h.base_offset)))?;
    // The stored (CreateTime) timestamp of each record.
    let stored = |r: &Record| h.first_timestamp.wrapping_add(r.timestamp_delta);
    let base_ts = horizon.unwrap_or_else(|| recs.first().map_or(-1, stored));
    let mut section = BytesMut::new();
    let mut body = BytesMut::new();
    let mut max_ts = -1i64;
    for r in recs {
        let ts = stored(r);
        max_ts = max_ts.max(ts);
        body.clear();
        body.put_i8(r.attributes);
        put_varlong(&mut body, ts.wrapping_sub(base_ts));
        put_varint(&mut body, r.offset_delta);
        put_nullable(&mut body, r.key.as_ref());
        put_nullable(&mut body, r.value.as_ref());
        put_varint(&mut body, r.headers.len() as i32);
        for hd in &r.headers {
            put_nullable(&mut body, Some(&hd.key));
            put_nullable(&mut body, hd.value.as_ref());
        }
        let len = i32::try_from(body.len())
            .map_err(|_| StorageError::InvalidBatch("record too large".into()))?;
        put_varint(&mut section, len);
        section.put_slice(&body);
    }
    let compressed;
    let section: &[u8] = match codec {
        Compression::None => &section,
        c => {
            compressed = compress(c, &section).map_err(|e| {
                StorageError::Corrupt(format!("recompressing batch {}: {e}", h.base_offset))
            })?;
            &compressed
        }
    };
    let mut out = *h;
    out.attributes &= !ATTR_DELETE_HORIZON;
    if horizon.is_some() {
        out.attributes |= ATTR_DELETE_HORIZON;
    }
    out.first_timestamp = base_ts;
    if h.timestamp_type() == fjord_protocol::records::TimestampType::CreateTime {
        out.max_timestamp = max_ts;
    }
    assemble(out, section, recs.len())
}

/// A batch without records standing for `h` (a producer's last batch).
fn empty_batch(h: &BatchHeader) -> Result<Bytes> {
    let mut out = *h;
    out.attributes &= !(ATTR_COMPRESSION_MASK | ATTR_DELETE_HORIZON);
    out.first_timestamp = h.max_timestamp;
    assemble(out, &[], 0)
}

impl Filter<'_> {
    /// Whether `h` is the last data batch of its producer in the log.
    fn is_last_of_producer(&self, h: &BatchHeader) -> bool {
        h.has_producer_id() && self.last_batches.get(&h.producer_id) == Some(&h.base_offset)
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StorageError::Closed);
        }
        Ok(())
    }

    /// Decides what becomes of the batch `raw` (whole, CRC checked).
    fn batch(&self, h: &BatchHeader, raw: &Bytes) -> Result<BatchResult> {
        let count = u64::try_from(h.record_count).unwrap_or(0);
        let verbatim = |n: u64| BatchResult {
            outcome: Outcome::Verbatim,
            records_before: n,
            records_after: n,
            tombstones_removed: 0,
        };
        if h.is_control() {
            return Ok(verbatim(count));
        }
        if h.is_transactional() {
            match self.txns.state(h) {
                TxnState::Committed => {}
                TxnState::Open => return Ok(verbatim(count)),
                TxnState::Aborted => {
                    let outcome = if self.is_last_of_producer(h) {
                        if count == 0 {
                            Outcome::Verbatim
                        } else {
                            Outcome::Rewritten(empty_batch(h)?)
                        }
                    } else {
                        Outcome::Dropped
                    };
                    return Ok(BatchResult {
                        outcome,
                        records_before: count,
                        records_after: 0,
                        tombstones_removed: 0,
                    });
                }
            }
        }
        let iter = match records(raw, DECOMPRESS_LIMIT) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(
                    offset = h.base_offset,
                    "cleaner keeps an unreadable batch: {e}"
                );
                return Ok(verbatim(count));
            }
        };
        let mut all = Vec::with_capacity(count as usize);
        for r in iter {
            match r {
                Ok(r) => all.push(r),
                Err(e) => {
                    tracing::warn!(
                        offset = h.base_offset,
                        "cleaner keeps an unreadable batch: {e}"
                    );
                    return Ok(verbatim(count));
                }
            }
        }
        let horizon = delete_horizon(h);
        let horizon_passed = horizon.is_some_and(|t| self.now_ms >= t);
        let before = all.len() as u64;
        let mut removed_tombstones = 0u64;
        let kept: Vec<Record> = all
            .into_iter()
            .filter(|r| {
                let Some(key) = &r.key else { return true };
                let offset = r.offset(h.base_offset);
                if self.map.get(key).is_some_and(|latest| offset < latest) {
                    return false;
                }
                if r.value.is_none() && horizon_passed {
                    removed_tombstones += 1;
                    return false;
                }
                true
            })
            .collect();
        let after = kept.len() as u64;
        let result = |outcome| BatchResult {
            outcome,
            records_before: before,
            records_after: after,
            tombstones_removed: removed_tombstones,
        };
        if kept.is_empty() {
            if !self.is_last_of_producer(h) {
                return Ok(result(Outcome::Dropped));
            }
            if before == 0 {
                return Ok(result(Outcome::Verbatim));
            }
            return Ok(result(Outcome::Rewritten(empty_batch(h)?)));
        }
        let has_tombstones = kept.iter().any(is_tombstone);
        let new_horizon = if has_tombstones {
            Some(horizon.unwrap_or_else(|| self.now_ms.saturating_add(self.delete_retention_ms)))
        } else {
            None
        };
        if after == before && (new_horizon == horizon || !has_tombstones) {
            return Ok(result(Outcome::Verbatim));
        }
        Ok(result(Outcome::Rewritten(rebuild_batch(
            h,
            &kept,
            new_horizon,
        )?)))
    }
}

/// Reads the whole batches of one segment with a large buffer, checking
/// each one's CRC.
fn for_each_batch(
    seg: &Segment,
    mut f: impl FnMut(&BatchHeader, Bytes) -> Result<()>,
) -> Result<()> {
    let end = seg.size();
    let mut reader = FileReader::new(&seg.file, end, READ_CHUNK);
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

/// Adds the keys of a dirty segment to the map.
fn map_segment(seg: &Segment, map: &mut OffsetMap, txns: &Transactions) -> Result<()> {
    for_each_batch(seg, |h, raw| {
        if !is_live_data(h, txns) {
            return Ok(());
        }
        let Ok(iter) = records(&raw, DECOMPRESS_LIMIT) else {
            return Ok(());
        };
        let recs: std::result::Result<Vec<Record>, _> = iter.collect();
        // An unreadable batch is kept whole by the rewrite; its keys must
        // not remove older records either.
        let Ok(recs) = recs else { return Ok(()) };
        for r in recs {
            if let Some(key) = &r.key {
                map.put(key, r.offset(h.base_offset));
            }
        }
        Ok(())
    })
}

fn cleaned_path(dir: &Path, base: i64, suffix: &str) -> PathBuf {
    dir.join(format!(
        "{}.{CLEANED_SUFFIX}",
        segment_file_name(base, suffix)
    ))
}

fn swap_manifest_name(base: i64) -> String {
    segment_file_name(base, SWAP_SUFFIX)
}

fn create_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .ctx(|| format!("create {}", path.display()))
}

fn write_index_file<E: IndexEntry>(path: &Path, entries: &[E]) -> Result<File> {
    let mut buf = vec![0u8; entries.len() * E::SIZE];
    for (e, out) in entries.iter().zip(buf.chunks_exact_mut(E::SIZE)) {
        e.encode(out);
    }
    let mut f = create_file(path)?;
    f.write_all(&buf)
        .and_then(|_| f.sync_all())
        .ctx(|| format!("write {}", path.display()))?;
    Ok(f)
}

/// The files of one cleaned group, written and fsynced.
struct CleanedGroup {
    base: i64,
    log: File,
    size: u64,
    index: File,
    time_index: File,
    max_timestamp: (i64, i64),
    /// Earliest delete horizon among its batches (`HORIZON_NONE`: none).
    horizon: i64,
}

fn discard_cleaned(dir: &Path, base: i64) {
    for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
        if let Err(e) = remove_if_exists(&cleaned_path(dir, base, suffix)) {
            tracing::warn!("cannot remove a cleaned file: {e}");
        }
    }
}

/// Per-segment record counts, added to the run's stats once the segment
/// stays in its group.
#[derive(Clone, Copy, Default)]
struct Counts {
    records_before: u64,
    records_after: u64,
    tombstones_removed: u64,
}

/// Where a [`GroupWriter`] stood before a segment was added.
struct Mark {
    pos: u64,
    index_len: usize,
    times_len: usize,
    cadence: IndexCadence,
    horizon: i64,
    changed: bool,
}

/// Writes one group of neighbouring segments, cleaned, into the
/// `.cleaned` files of its first segment's base offset. Dropping it
/// unfinished removes them.
struct GroupWriter {
    dir: PathBuf,
    base: i64,
    log_path: PathBuf,
    out: Option<BufWriter<File>>,
    pos: u64,
    interval: u64,
    cadence: IndexCadence,
    index: Vec<OffsetEntry>,
    times: Vec<TimeEntry>,
    /// Earliest delete horizon among the written batches.
    horizon: i64,
    /// Something differs from the input (a batch dropped or rewritten, or
    /// segments merged).
    changed: bool,
    segments: usize,
}

impl Drop for GroupWriter {
    fn drop(&mut self) {
        if self.out.is_some() {
            self.out = None;
            discard_cleaned(&self.dir, self.base);
        }
    }
}

impl GroupWriter {
    fn new(dir: &Path, base: i64, interval: u64) -> Result<GroupWriter> {
        let log_path = cleaned_path(dir, base, LOG_SUFFIX);
        let mut w = GroupWriter {
            dir: dir.to_path_buf(),
            base,
            log_path: log_path.clone(),
            out: None,
            pos: 0,
            interval,
            cadence: IndexCadence::new(),
            index: Vec::new(),
            times: Vec::new(),
            horizon: HORIZON_NONE,
            changed: false,
            segments: 0,
        };
        let file = create_file(&log_path);
        // Set even on error, so that Drop cleans up.
        w.out = Some(BufWriter::with_capacity(READ_CHUNK, file?));
        Ok(w)
    }

    fn out(&mut self) -> Result<&mut BufWriter<File>> {
        self.out.as_mut().ok_or(StorageError::Closed)
    }

    fn write(&mut self, h: &BatchHeader, bytes: &[u8]) -> Result<()> {
        let path = self.log_path.clone();
        self.out()?
            .write_all(bytes)
            .ctx(|| format!("write {}", path.display()))?;
        let size = bytes.len() as u64;
        let base = self.base;
        let (o, t) = self.cadence.on_batch(
            self.interval,
            h.base_offset,
            h.max_timestamp,
            self.pos,
            size,
        );
        if let Some((off, p)) = o {
            self.index.push(OffsetEntry {
                relative_offset: (off - base) as u32,
                position: p as u32,
            });
        }
        if let Some((ts, off)) = t {
            self.times.push(TimeEntry {
                timestamp: ts,
                relative_offset: (off - base) as u32,
            });
        }
        if let Some(t) = delete_horizon(h) {
            self.horizon = self.horizon.min(t);
        }
        self.pos += size;
        Ok(())
    }

    /// Appends the cleaned batches of `seg`.
    fn add(&mut self, seg: &Segment, filter: &Filter<'_>) -> Result<Counts> {
        filter.check_open()?;
        let mut counts = Counts::default();
        self.segments += 1;
        if self.segments > 1 {
            self.changed = true;
        }
        for_each_batch(seg, |h, raw| {
            filter.check_open()?;
            let r = filter.batch(h, &raw)?;
            counts.records_before += r.records_before;
            counts.records_after += r.records_after;
            counts.tombstones_removed += r.tombstones_removed;
            match r.outcome {
                Outcome::Verbatim => self.write(h, &raw),
                Outcome::Dropped => {
                    self.changed = true;
                    Ok(())
                }
                Outcome::Rewritten(bytes) => {
                    self.changed = true;
                    let nh = BatchHeader::parse(&bytes)
                        .map_err(|e| StorageError::Corrupt(format!("rebuilt batch: {e}")))?;
                    self.write(&nh, &bytes)
                }
            }
        })?;
        Ok(counts)
    }

    fn mark(&self) -> Mark {
        Mark {
            pos: self.pos,
            index_len: self.index.len(),
            times_len: self.times.len(),
            cadence: self.cadence,
            horizon: self.horizon,
            changed: self.changed,
        }
    }

    /// Takes the last added segment out again.
    fn rollback(&mut self, m: Mark) -> Result<()> {
        let path = self.log_path.clone();
        let out = self.out()?;
        out.flush().ctx(|| format!("write {}", path.display()))?;
        out.get_ref()
            .set_len(m.pos)
            .ctx(|| format!("truncate {}", path.display()))?;
        std::io::Seek::seek(out, std::io::SeekFrom::Start(m.pos))
            .ctx(|| format!("seek {}", path.display()))?;
        self.pos = m.pos;
        self.index.truncate(m.index_len);
        self.times.truncate(m.times_len);
        self.cadence = m.cadence;
        self.horizon = m.horizon;
        self.changed = m.changed;
        self.segments -= 1;
        Ok(())
    }

    /// Syncs the data and writes the indexes. `None` (and no files left)
    /// when the group is one segment that did not change.
    fn finish(mut self) -> Result<Option<CleanedGroup>> {
        let path = self.log_path.clone();
        let out = self.out.take().ok_or(StorageError::Closed)?;
        let file = out
            .into_inner()
            .map_err(|e| StorageError::io(format!("write {}", path.display()), e.into_error()));
        let file = match file {
            Ok(f) if self.changed => f,
            other => {
                discard_cleaned(&self.dir, self.base);
                return other.map(|_| None);
            }
        };
        if let Some((ts, off)) = self.cadence.time_entry() {
            self.times.push(TimeEntry {
                timestamp: ts,
                relative_offset: (off - self.base) as u32,
            });
        }
        let (dir, base) = (&self.dir, self.base);
        let written = (|| -> Result<(File, File)> {
            file.sync_all()
                .ctx(|| format!("fsync {}", path.display()))?;
            let index = write_index_file(&cleaned_path(dir, base, INDEX_SUFFIX), &self.index)?;
            let time_index =
                write_index_file(&cleaned_path(dir, base, TIME_INDEX_SUFFIX), &self.times)?;
            Ok((index, time_index))
        })();
        match written {
            Ok((index, time_index)) => Ok(Some(CleanedGroup {
                base,
                log: file,
                size: self.pos,
                index,
                time_index,
                max_timestamp: (
                    self.cadence.max_timestamp,
                    self.cadence.offset_of_max_timestamp,
                ),
                horizon: self.horizon,
            })),
            Err(e) => {
                discard_cleaned(dir, base);
                Err(e)
            }
        }
    }
}

/// Reads a swap manifest: the base offsets of the replaced segments.
fn read_manifest(dir: &Path, name: &str) -> Result<Option<Vec<i64>>> {
    let Some(text) = checkpoint::read_optional(dir, name)? else {
        return Ok(None);
    };
    let mut lines = text.lines();
    if lines.next() != Some("0") {
        return Ok(None);
    }
    let bases: std::result::Result<Vec<i64>, _> = lines.map(|l| l.trim().parse()).collect();
    Ok(bases.ok().filter(|b| !b.is_empty()))
}

/// Completes the swap of group `base` replacing `olds` once its manifest
/// is durable. Idempotent: recovery may run it again after a crash.
fn complete_swap(dir: &Path, base: i64, olds: &[i64]) -> Result<()> {
    apply_swap(dir, base, olds, usize::MAX)?;
    drop_manifest(dir, base)
}

/// Unlinks the old segments, renames the cleaned files into place and
/// fsyncs the directory; stops after `steps` of those steps (unlink, index,
/// time index, log), which tests use to simulate crashes.
fn apply_swap(dir: &Path, base: i64, olds: &[i64], steps: usize) -> Result<()> {
    if steps == 0 {
        return Ok(());
    }
    for &old in olds {
        if old == base {
            continue;
        }
        for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            remove_if_exists(&dir.join(segment_file_name(old, suffix)))?;
        }
    }
    // Indexes first: once the log is renamed the swap is complete.
    for (step, suffix) in [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX]
        .into_iter()
        .enumerate()
    {
        if step + 1 >= steps {
            return Ok(());
        }
        let from = cleaned_path(dir, base, suffix);
        let to = dir.join(segment_file_name(base, suffix));
        match fs::rename(&from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StorageError::io(
                    format!("rename {} to {}", from.display(), to.display()),
                    e,
                ))
            }
        }
    }
    checkpoint::sync_dir(dir)
}

/// The last step of a swap: the manifest goes.
fn drop_manifest(dir: &Path, base: i64) -> Result<()> {
    remove_if_exists(&dir.join(swap_manifest_name(base)))?;
    checkpoint::sync_dir(dir)
}

/// Writes and fsyncs a file (the manifest, under a temporary name).
fn write_synced(path: &Path, contents: &[u8]) -> Result<()> {
    let mut f = create_file(path)?;
    f.write_all(contents)
        .and_then(|_| f.sync_all())
        .ctx(|| format!("write {}", path.display()))
}

/// Run by [`Log::open`] before it lists segments: finishes every swap
/// whose manifest was written (the cleaned files are complete and durable
/// then) and deletes `.cleaned` files of swaps that never committed.
pub(crate) fn finish_interrupted_swaps(dir: &Path) -> Result<()> {
    let list = || -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir).ctx(|| format!("list {}", dir.display()))? {
            let entry = entry.ctx(|| format!("list {}", dir.display()))?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_string());
            }
        }
        Ok(names)
    };
    let names = list()?;
    let mut touched = false;
    for name in &names {
        let Some(stem) = name.strip_suffix(&format!(".{SWAP_SUFFIX}")) else {
            continue;
        };
        let Some(base) = (stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
            .then(|| stem.parse::<i64>().ok())
            .flatten()
        else {
            continue;
        };
        touched = true;
        match read_manifest(dir, name)? {
            Some(olds) => {
                tracing::info!(dir = %dir.display(), base, segments = olds.len(), "finishing an interrupted cleaner swap");
                complete_swap(dir, base, &olds)?;
            }
            None => {
                tracing::error!(dir = %dir.display(), name, "ignoring a malformed cleaner swap manifest");
                remove_if_exists(&dir.join(name))?;
            }
        }
    }
    for name in list()? {
        if name.ends_with(&format!(".{CLEANED_SUFFIX}")) {
            tracing::info!(dir = %dir.display(), name, "deleting an unfinished cleaned segment");
            remove_if_exists(&dir.join(&name))?;
            touched = true;
        }
    }
    if touched {
        checkpoint::sync_dir(dir)?;
    }
    Ok(())
}

impl Log {
    /// Runs the log cleaner once if this log's `cleanup.policy` includes
    /// `compact` and cleaning is due (see the module docs of `cleaner.rs`
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
        let mut stats = CompactionStats::default();
        if !config.cleanup_policy.compacts() {
            return Ok(stats);
        }
        let Some(_running) = self.cleaner.try_lock() else {
            return Ok(stats);
        };
        self.check_writable()?;
        let truncations = self.truncations.load(Ordering::Acquire);
        let segs = self.segments_snapshot();
        if segs.len() < 2 {
            return Ok(stats);
        }
        let sealed = &segs[..segs.len() - 1];
        let upper = |i: usize| segs[i + 1].base_offset;
        let hw = self.high_watermark().min(last_stable_offset);
        let lso = self.log_start_offset();
        let first_dirty = self.cleaner_checkpoint.load(Ordering::Acquire).max(lso);
        stats.first_dirty_offset = first_dirty;
        let n_clean = (0..sealed.len())
            .take_while(|&i| upper(i) <= first_dirty)
            .count();
        let mut end = n_clean;
        while end < sealed.len() && upper(end) <= hw {
            if config.min_compaction_lag_ms > 0
                && now_ms.saturating_sub(sealed[end].retention_timestamp())
                    < config.min_compaction_lag_ms
            {
                break;
            }
            end += 1;
        }
        let clean_bytes: u64 = sealed[..n_clean].iter().map(|s| s.size()).sum();
        let dirty_bytes: u64 = sealed[n_clean..end].iter().map(|s| s.size()).sum();
        let total = clean_bytes + dirty_bytes;
        stats.dirty_ratio = if total == 0 {
            0.0
        } else {
            dirty_bytes as f64 / total as f64
        };
        let max_lag_due = end > n_clean
            && config.max_compaction_lag_ms < i64::MAX
            && first_batch_timestamp(&sealed[n_clean])?.is_some_and(|ts| {
                ts >= 0 && now_ms.saturating_sub(ts) > config.max_compaction_lag_ms
            });
        let dirty_due =
            end > n_clean && (stats.dirty_ratio > config.min_cleanable_dirty_ratio || max_lag_due);
        let horizon_due =
            n_clean > 0 && self.earliest_delete_horizon(&sealed[..n_clean])? <= now_ms;
        if !dirty_due && !horizon_due {
            return Ok(stats);
        }
        stats.ran = true;

        // The last data batch of every producer id and the transaction
        // markers, over the whole log (headers, and control batches).
        let mut last_batches: HashMap<i64, i64> = HashMap::new();
        let mut txns = Transactions::default();
        for s in &segs {
            let mut walker = BatchWalker::new(&s.file, 0, s.size());
            while let Some((pos, h)) = walker.next_batch()? {
                if !h.is_control() {
                    if h.has_producer_id() {
                        last_batches.insert(h.producer_id, h.base_offset);
                    }
                    continue;
                }
                let raw = Bytes::from(s.read_at(pos, h.total_size())?);
                let kind = records(&raw, DECOMPRESS_LIMIT)
                    .ok()
                    .and_then(|mut recs| recs.next())
                    .and_then(|r| r.ok())
                    .and_then(|r| r.key)
                    .and_then(|k| parse_control_record(&k).ok());
                if let Some(kind) = kind {
                    txns.markers
                        .entry(h.producer_id)
                        .or_default()
                        .push((h.base_offset, kind == ControlType::Abort));
                }
            }
        }

        // 1. The offset map over the dirty segments.
        let mut map = OffsetMap::default();
        let mut map_end = n_clean;
        if dirty_due {
            for seg in &sealed[n_clean..end] {
                map_segment(seg, &mut map, &txns)?;
                map_end += 1;
                if map.memory > MAP_MEMORY_LIMIT {
                    break;
                }
            }
        }
        let cleaned_up_to = upper(map_end - 1);
        stats.cleaned_up_to = cleaned_up_to;
        // Recovery must know about gaps before the first swap.
        if self.cleaner_checkpoint.load(Ordering::Acquire) < 0 {
            checkpoint::write_offset(&self.dir, CLEANER_CHECKPOINT_FILE, first_dirty)?;
            self.cleaner_checkpoint
                .fetch_max(first_dirty, Ordering::AcqRel);
        }

        // 2. Rewrite [first segment, map_end) in groups.
        let filter = Filter {
            map: &map,
            txns: &txns,
            last_batches: &last_batches,
            now_ms,
            delete_retention_ms: config.delete_retention_ms,
            closed: &self.closed,
        };
        let mut horizon = HORIZON_NONE;
        let mut i = 0;
        while i < map_end {
            // Add neighbours while the cleaned output stays within
            // segment.bytes (a segment that overflows it is taken out again
            // and starts the next group) and offsets fit the index.
            let start = i;
            let base = sealed[start].base_offset;
            let mut gw = GroupWriter::new(&self.dir, base, config.index_interval_bytes)?;
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
                    if self.swap_in(group, cleaned)? {
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

        // 3. Move the checkpoint, unless the log changed under us.
        let _w = self.writer.lock();
        let current = self.cleaner_checkpoint.load(Ordering::Acquire);
        if stats.groups_skipped == 0
            && self.truncations.load(Ordering::Acquire) == truncations
            && self.check_writable().is_ok()
        {
            if cleaned_up_to > current {
                checkpoint::write_offset(&self.dir, CLEANER_CHECKPOINT_FILE, cleaned_up_to)?;
                self.cleaner_checkpoint
                    .store(cleaned_up_to, Ordering::Release);
            }
            self.delete_horizon.store(horizon, Ordering::Release);
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

    /// The earliest delete horizon in `clean` segments, scanning headers
    /// once after open or truncation.
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

    /// Replaces the segments of `group` by `cleaned` (see the module docs).
    /// `Ok(false)`: the log changed meanwhile and the group was dropped.
    /// Appends wait for two directory fsyncs (commit, then the renames).
    fn swap_in(&self, group: &[Arc<Segment>], cleaned: CleanedGroup) -> Result<bool> {
        let dir = &self.dir;
        let base = cleaned.base;
        let olds: Vec<i64> = group.iter().map(|s| s.base_offset).collect();
        let manifest = dir.join(swap_manifest_name(base));
        let manifest_tmp = dir.join(format!("{}.tmp", swap_manifest_name(base)));
        let text: String = std::iter::once("0".to_string())
            .chain(olds.iter().map(|b| b.to_string()))
            .map(|l| l + "\n")
            .collect();
        let size = cleaned.size;
        let prepared = write_synced(&manifest_tmp, text.as_bytes()).and_then(|_| {
            Segment::from_cleaned(
                dir,
                base,
                cleaned.log,
                cleaned.size,
                cleaned.index,
                cleaned.time_index,
                cleaned.max_timestamp,
            )
        });
        let abandon = || {
            discard_cleaned(dir, base);
            if let Err(e) = remove_if_exists(&manifest_tmp) {
                tracing::warn!("cannot remove a cleaner manifest: {e}");
            }
        };
        let new = match prepared {
            Ok(n) => n,
            Err(e) => {
                abandon();
                return Err(e);
            }
        };
        let w = self.writer.lock();
        let still_there = {
            let segs = self.segments.read();
            group.iter().all(|o| {
                !Arc::ptr_eq(o, &w.active)
                    && segs.get(&o.base_offset).is_some_and(|s| Arc::ptr_eq(s, o))
            })
        };
        if !still_there || self.check_writable().is_err() {
            abandon();
            return Ok(false);
        }
        if let Err(e) = fs::rename(&manifest_tmp, &manifest) {
            abandon();
            return Err(StorageError::io(
                format!("rename {}", manifest_tmp.display()),
                e,
            ));
        }
        // Committed once the rename is durable; from here on a failure is
        // finished by recovery (the cleaned files must stay).
        #[cfg(test)]
        if let Some(steps) = self.crash_swap_after.lock().take() {
            let r = checkpoint::sync_dir(dir).and_then(|_| apply_swap(dir, base, &olds, steps));
            self.go_offline(format!("simulated crash after {steps} swap steps: {r:?}"));
            return Err(StorageError::Offline("simulated crash".into()));
        }
        let applied =
            checkpoint::sync_dir(dir).and_then(|_| apply_swap(dir, base, &olds, usize::MAX));
        if let Err(e) = applied {
            self.go_offline(format!("cleaner swap of segment {base} failed: {e}"));
            return Err(e);
        }
        let mut segs = self.segments.write();
        for o in &olds {
            segs.remove(o);
        }
        segs.insert(base, Arc::new(new));
        drop(segs);
        drop(w);
        // Outside the lock: the manifest is no longer needed (recovery
        // would only redo what is done).
        if let Err(e) = drop_manifest(dir, base) {
            tracing::warn!(dir = %dir.display(), base, "cannot remove the cleaner manifest: {e}");
        }
        tracing::debug!(dir = %dir.display(), base, replaced = olds.len(), size, "swapped in a cleaned segment");
        Ok(true)
    }
}

/// The max timestamp of the first batch of `seg` (Kafka's "first batch
/// timestamp" for `max.compaction.lag.ms`).
fn first_batch_timestamp(seg: &Segment) -> Result<Option<i64>> {
    let mut walker = BatchWalker::new(&seg.file, 0, seg.size());
    Ok(walker.next_batch()?.map(|(_, h)| h.max_timestamp))
}

/// The earliest delete horizon of a batch in `seg` (`HORIZON_NONE`: none).
fn segment_horizon(seg: &Segment) -> Result<i64> {
    let mut horizon = HORIZON_NONE;
    let mut walker = BatchWalker::new(&seg.file, 0, seg.size());
    while let Some((_, h)) = walker.next_batch()? {
        if let Some(t) = delete_horizon(&h) {
            horizon = horizon.min(t);
        }
    }
    Ok(horizon)
}

#[cfg(test)]
mod tests;
