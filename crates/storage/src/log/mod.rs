//! The partition log: the [`Log`] type, append, group-commit sync,
//! offsets and delete. Its other operations live in submodules:
//! `open` (open and crash recovery), `close` (the clean close, single and
//! batched), `read` (reads and timestamp lookups),
//! `truncate` (replica truncation) and `compact` (runs of the log cleaner,
//! `crate::cleaner`, over this log). Retention lives in `retention.rs`.
//! The submodules import from this one, never the other way round.
//!
//! Locking: `writer` (a mutex) serializes appends, rolls, truncation and
//! retention. Readers never take it: they load the published log end offset
//! and segment sizes (atomics), clone the segment `Arc`s under a briefly
//! held `RwLock`, and `pread` the files. `sync_to` takes `writer` only to
//! grab the list of files to fsync and fsyncs outside it, so appends
//! continue during an fsync. Lock order: `sync_state` → `writer` →
//! `segments` / `epochs`.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use fjord_protocol::records::{
    set_base_offset, set_log_append_time, set_partition_leader_epoch, BatchHeader, TimestampType,
};
use parking_lot::{Condvar, Mutex, RwLock};

use crate::checkpoint::{
    self, CLEAN_SHUTDOWN_FILE, HIGH_WATERMARK_FILE, LOG_START_OFFSET_FILE, RECOVERY_POINT_FILE,
};
use crate::config::{FlushPolicy, LogConfig};
use crate::epoch::{EpochEntry, LeaderEpochCache};
use crate::error::{IoContext, Result, StorageError};
use crate::index::remove_if_exists;
use crate::segment::{IndexCadence, Segment};

mod close;
mod compact;
mod open;
pub(crate) mod read;
#[cfg(test)]
mod tests;
mod truncate;
mod waiters;

pub use waiters::SyncDone;

/// In SyncBeforeAck mode, `flush_if_due` still syncs writes nobody waited
/// for (acks=0) this often.
const UNACKED_FLUSH_INTERVAL_MS: i64 = 1000;
/// `flush_if_due` rewrites the high-watermark checkpoint at most this often.
const HW_CHECKPOINT_INTERVAL_MS: i64 = 5000;

/// What `append` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    /// Base offset given to the first batch.
    pub first_offset: i64,
    /// Last offset of the last batch.
    pub last_offset: i64,
    /// Largest batch max timestamp (the append time for LogAppendTime).
    pub max_timestamp: i64,
    /// `now_ms` for LogAppendTime topics, else -1 (for ProduceResponse).
    pub log_append_time: i64,
    /// Log start offset after the append (for ProduceResponse).
    pub log_start_offset: i64,
}

struct BatchInfo {
    /// Position within the appended buffer.
    position: u64,
    size: u64,
    base_offset: i64,
    max_timestamp: i64,
}

/// Bytes of a batch's head that a leader's append rewrites: base offset,
/// batch length (kept) and partition leader epoch.
const PATCHED_HEAD: usize = 16;

/// The batches an append writes: a buffer it may rewrite in place, or a
/// shared one it must leave untouched.
enum Batches<'a> {
    Owned(&'a mut [u8]),
    Shared(&'a [u8]),
}

impl Batches<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Batches::Owned(b) => b,
            Batches::Shared(b) => b,
        }
    }
}

/// State owned by the append path.
pub(crate) struct Writer {
    pub(crate) active: Arc<Segment>,
    pub(crate) cadence: IndexCadence,
    /// Files written since the last sync (segment data, sealed indexes).
    pub(crate) unsynced: Vec<Arc<File>>,
    /// Whether `active`'s data file is already in `unsynced`.
    pub(crate) active_unsynced: bool,
    /// A segment file was created since the last sync.
    pub(crate) dir_dirty: bool,
    /// The partition directory itself was created and its entry in the
    /// data directory is not yet durable.
    parent_dirty: bool,
    /// A segment was sealed since the last sync (move the recovery point).
    sealed_since_sync: bool,
    scratch: Vec<BatchInfo>,
}

pub(crate) struct SyncState {
    /// Someone (a round, a truncation) holds the sync.
    in_progress: bool,
    /// A `run_syncs` runner is active or about to be.
    runner: bool,
    /// Blocking callers waiting to take the sync.
    blocked: usize,
    /// Callers of `sync_to_then` waiting for (offset, callback).
    waiters: Vec<(i64, SyncDone)>,
}

/// One partition's log in its own directory. Share it as `Arc<Log>`; all
/// methods take `&self`.
pub struct Log {
    pub(crate) dir: PathBuf,
    config: RwLock<Arc<LogConfig>>,
    pub(crate) writer: Mutex<Writer>,
    pub(crate) segments: RwLock<BTreeMap<i64, Arc<Segment>>>,
    pub(crate) epochs: Mutex<LeaderEpochCache>,
    pub(crate) log_start: AtomicI64,
    pub(crate) log_end: AtomicI64,
    pub(crate) high_watermark: AtomicI64,
    pub(crate) durable: AtomicI64,
    recovery_point: AtomicI64,
    sync_state: Mutex<SyncState>,
    sync_cond: Condvar,
    sync_count: AtomicU64,
    /// How long fsync rounds take lately, in µs: a decaying maximum (a
    /// slow round counts at once, and fades by an eighth per round).
    sync_micros: AtomicU64,
    pub(crate) closed: AtomicBool,
    /// The clean-shutdown marker is on disk (opened clean or created, and
    /// nothing written since); `marker_lock` serializes its removal.
    marker_present: AtomicBool,
    marker_lock: Mutex<bool>,
    /// `close_deferred` succeeded; `mark_clean_deferred` may write the
    /// marker.
    pub(crate) close_prepared: AtomicBool,
    pub(crate) offline: Mutex<Option<String>>,
    last_flush_ms: AtomicI64,
    /// (value, wall ms) of the last high-watermark checkpoint written.
    hw_checkpoint: Mutex<(i64, i64)>,
    /// Held for a whole [`Log::compact`] run (one cleaner per log).
    pub(crate) cleaner: Mutex<()>,
    /// Offsets below this have been compacted (`cleaner-offset-checkpoint`;
    /// -1: never).
    pub(crate) cleaner_checkpoint: AtomicI64,
    /// Earliest delete horizon of a batch in the cleaned part of the log
    /// (`i64::MAX`: none; `i64::MIN`: unknown, scan the headers).
    pub(crate) delete_horizon: AtomicI64,
    /// Bumped by every truncation, so a cleaner run that raced one does not
    /// move the cleaner checkpoint.
    pub(crate) truncations: AtomicU64,
    #[cfg(test)]
    pub(crate) fail_write_after: Mutex<Option<usize>>,
    /// Makes the next cleaner swap stop after this many steps, as a crash.
    #[cfg(test)]
    pub(crate) crash_swap_after: Mutex<Option<usize>>,
}

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn invalid_batch(pos: usize, e: impl std::fmt::Display) -> StorageError {
    StorageError::InvalidBatch(format!("at byte {pos}: {e}"))
}

impl Log {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current config.
    pub fn config(&self) -> Arc<LogConfig> {
        self.config.read().clone()
    }

    /// Replaces the config (AlterConfigs); applies to later appends, rolls
    /// and retention runs.
    pub fn update_config(&self, config: LogConfig) -> Result<()> {
        config.validate()?;
        *self.config.write() = Arc::new(config);
        Ok(())
    }

    /// Whether acks need [`Log::sync_to`] (the default) or the log runs in
    /// page-cache mode.
    pub fn flush_policy(&self) -> FlushPolicy {
        self.config().flush_policy()
    }

    /// Fails once the log is closed or offline.
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StorageError::Closed);
        }
        if let Some(reason) = &*self.offline.lock() {
            return Err(StorageError::Offline(reason.clone()));
        }
        Ok(())
    }

    /// Called before anything changes the segments: fails once the log is
    /// closed or offline, and on the first change since the log was opened
    /// clean removes its clean-shutdown marker, durably, so that a crash
    /// from then on triggers recovery. A log nobody writes to keeps its
    /// marker: a `kill -9` costs it no recovery and a stop no work.
    pub(crate) fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        if self.marker_present.load(Ordering::Acquire) {
            let mut present = self.marker_lock.lock();
            if *present {
                remove_if_exists(&self.dir.join(CLEAN_SHUTDOWN_FILE))?;
                checkpoint::sync_dir(&self.dir)?;
                *present = false;
                self.marker_present.store(false, Ordering::Release);
            }
        }
        Ok(())
    }

    /// Whether nothing changed the segments since the log was opened clean
    /// (or created): its clean-shutdown marker is still in place.
    pub fn unchanged_since_open(&self) -> bool {
        self.marker_present.load(Ordering::Acquire)
    }

    pub(crate) fn go_offline(&self, reason: String) {
        tracing::error!(dir = %self.dir.display(), "log goes offline: {reason}");
        let mut offline = self.offline.lock();
        if offline.is_none() {
            *offline = Some(reason);
        }
    }

    pub(crate) fn set_marker_present(&self, present: bool) {
        *self.marker_lock.lock() = present;
        self.marker_present.store(present, Ordering::Release);
    }

    /// Whether an earlier I/O failure took the log offline.
    pub fn is_offline(&self) -> bool {
        self.offline.lock().is_some()
    }

    /// Appends one or more back-to-back v2 batches (already validated by
    /// the broker). Rewrites each batch in place: base offset (consecutive
    /// from the log end offset), partition leader epoch, and for
    /// LogAppendTime topics the max timestamp and CRC. Writes them with one
    /// `pwrite` to the active segment (rolling first when needed), then
    /// publishes them to readers. Does not fsync: see [`Log::sync_to`].
    ///
    /// On a write error (ENOSPC, ...) the partial write is cut off again and
    /// the log is unchanged; `batches` may already have been rewritten.
    pub fn append(&self, batches: &mut [u8], leader_epoch: i32, now_ms: i64) -> Result<AppendInfo> {
        self.append_with(Batches::Owned(batches), Some(leader_epoch), now_ms)
    }

    /// [`Log::append`] without touching `batches`: each batch's first 16
    /// bytes (base offset, length, partition leader epoch) are written
    /// from a patched copy and the rest straight from `batches`, in one
    /// vectored write, so a produce payload is never copied in memory.
    /// A LogAppendTime topic rewrites timestamps and CRCs, so there the
    /// payload is copied once and appended as by [`Log::append`].
    pub fn append_shared(
        &self,
        batches: &[u8],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo> {
        if self.config().message_timestamp_type == TimestampType::LogAppendTime {
            let mut copy = batches.to_vec();
            return self.append(&mut copy, leader_epoch, now_ms);
        }
        self.append_with(Batches::Shared(batches), Some(leader_epoch), now_ms)
    }

    /// Appends batches copied from the partition leader (a follower's
    /// append): offsets, leader epochs, timestamps and CRCs are kept
    /// verbatim. The first batch must start at the log end offset and each
    /// next one where the previous ended; every CRC is checked. The leader
    /// epoch cache follows the batches' epochs.
    pub fn append_replicated(&self, batches: &mut [u8], now_ms: i64) -> Result<AppendInfo> {
        self.append_with(Batches::Owned(batches), None, now_ms)
    }

    /// `leader_epoch` None: a replicated append (see
    /// [`Log::append_replicated`]).
    fn append_with(
        &self,
        mut batches: Batches<'_>,
        leader_epoch: Option<i32>,
        now_ms: i64,
    ) -> Result<AppendInfo> {
        let config = self.config();
        let len = batches.bytes().len();
        let mut guard = self.writer.lock();
        self.check_writable()?;
        let w = &mut *guard;
        let first_offset = self.log_end.load(Ordering::Acquire);
        let log_append = config.message_timestamp_type == TimestampType::LogAppendTime;
        let mut next = first_offset;
        let mut max_timestamp = -1i64;
        w.scratch.clear();
        // Replicated appends: (epoch, first offset) of each leader epoch
        // the batches start (empty for a leader's append).
        let mut new_epochs: Vec<(i32, i64)> = Vec::new();
        let mut pos = 0usize;
        while pos < len {
            let h =
                BatchHeader::parse(&batches.bytes()[pos..]).map_err(|e| invalid_batch(pos, e))?;
            let size = h.total_size();
            if len - pos < size {
                return Err(invalid_batch(pos, "batch is truncated"));
            }
            if size > config.max_message_bytes {
                return Err(StorageError::RecordTooLarge {
                    size,
                    max: config.max_message_bytes,
                });
            }
            if h.last_offset_delta < 0 {
                return Err(invalid_batch(pos, "negative last offset delta"));
            }
            let Some(leader_epoch) = leader_epoch else {
                let batch = &batches.bytes()[pos..pos + size];
                if h.base_offset != next {
                    return Err(invalid_batch(
                        pos,
                        format!("replicated batch at {}, log end is {next}", h.base_offset),
                    ));
                }
                fjord_protocol::records::validate(batch).map_err(|e| invalid_batch(pos, e))?;
                if h.partition_leader_epoch >= 0
                    && new_epochs.last().map(|(e, _)| *e) != Some(h.partition_leader_epoch)
                {
                    new_epochs.push((h.partition_leader_epoch, next));
                }
                max_timestamp = max_timestamp.max(h.max_timestamp);
                w.scratch.push(BatchInfo {
                    position: pos as u64,
                    size: size as u64,
                    base_offset: next,
                    max_timestamp: h.max_timestamp,
                });
                next += i64::from(h.last_offset_delta) + 1;
                pos += size;
                continue;
            };
            let ts = match &mut batches {
                Batches::Owned(b) => {
                    let batch = &mut b[pos..pos + size];
                    set_base_offset(batch, next);
                    set_partition_leader_epoch(batch, leader_epoch);
                    if log_append {
                        set_log_append_time(batch, now_ms).map_err(|e| invalid_batch(pos, e))?;
                        now_ms
                    } else {
                        h.max_timestamp
                    }
                }
                // `append_shared` never takes LogAppendTime batches.
                Batches::Shared(_) => h.max_timestamp,
            };
            max_timestamp = max_timestamp.max(ts);
            w.scratch.push(BatchInfo {
                position: pos as u64,
                size: size as u64,
                base_offset: next,
                max_timestamp: ts,
            });
            next += i64::from(h.last_offset_delta) + 1;
            pos += size;
        }
        if w.scratch.is_empty() {
            return Err(StorageError::InvalidBatch("no record batches".into()));
        }
        let last_offset = next - 1;
        let total = len as u64;

        let active = w.active.clone();
        let size = active.size();
        if size > 0 {
            let created = active.created_ms();
            let too_big = size + total > config.segment_bytes;
            let too_old = created >= 0 && now_ms.saturating_sub(created) > config.segment_ms;
            let offsets_overflow = last_offset - active.base_offset > i64::from(i32::MAX);
            if too_big || too_old || offsets_overflow {
                self.roll(w, first_offset)?;
            }
        }
        let active = w.active.clone();
        let write_pos = active.size();
        if write_pos + total > u64::from(u32::MAX)
            || last_offset - active.base_offset > i64::from(u32::MAX)
        {
            return Err(StorageError::InvalidBatch(format!(
                "append of {total} bytes does not fit in a segment"
            )));
        }

        if let Some(leader_epoch) = leader_epoch.filter(|e| *e >= 0) {
            let mut epochs = self.epochs.lock();
            if epochs.latest().map(|e| e.epoch) != Some(leader_epoch) {
                let mut updated = epochs.clone();
                if updated.assign(leader_epoch, first_offset) {
                    updated.flush()?;
                    *epochs = updated;
                }
            }
        }
        // A replicated append: the cache follows the batches' epochs.
        if !new_epochs.is_empty() {
            let mut epochs = self.epochs.lock();
            let latest = epochs.latest().map(|e| e.epoch);
            if new_epochs.iter().any(|(e, _)| Some(*e) != latest) {
                let mut updated = (*epochs).clone();
                let mut changed = false;
                for (epoch, start) in &new_epochs {
                    if updated.latest().map(|e| e.epoch) != Some(*epoch) {
                        changed |= updated.assign(*epoch, *start);
                    }
                }
                if changed {
                    updated.flush()?;
                    *epochs = updated;
                }
            }
        }

        let written = match &batches {
            Batches::Owned(b) => self.write_at(&active, b, write_pos),
            Batches::Shared(b) => self.write_patched(
                &active,
                b,
                &w.scratch,
                leader_epoch.unwrap_or(-1),
                write_pos,
            ),
        };
        if let Err(e) = written {
            if let Err(e2) = active.file().and_then(|f| {
                f.set_len(write_pos)
                    .ctx(|| format!("truncate {}", active.log_path.display()))
            }) {
                self.go_offline(format!(
                    "cannot cut a failed write off {}: {e2}",
                    active.log_path.display()
                ));
            }
            return Err(e);
        }
        if active.created_ms() < 0 {
            active.set_created_ms(now_ms);
        }
        let interval = config.index_interval_bytes;
        for b in &w.scratch {
            let (o, t) = w.cadence.on_batch(
                interval,
                b.base_offset,
                b.max_timestamp,
                write_pos + b.position,
                b.size,
            );
            if let Some((off, p)) = o {
                active.index.push(off, p);
            }
            if let Some((ts, off)) = t {
                active.time_index.push(ts, off);
            }
        }
        active.set_max_timestamp(w.cadence.max_timestamp, w.cadence.offset_of_max_timestamp);
        if !w.active_unsynced {
            w.unsynced.push(active.file()?);
            w.active_unsynced = true;
        }
        // Publish: readers see the bytes only after they are written.
        active.set_size(write_pos + total);
        self.log_end.store(next, Ordering::Release);
        Ok(AppendInfo {
            first_offset,
            last_offset,
            max_timestamp,
            log_append_time: if log_append { now_ms } else { -1 },
            log_start_offset: self.log_start_offset(),
        })
    }

    fn write_at(&self, seg: &Segment, buf: &[u8], pos: u64) -> Result<()> {
        let context = || {
            format!(
                "write {} bytes at {pos} to {}",
                buf.len(),
                seg.log_path.display()
            )
        };
        #[cfg(test)]
        if let Some(n) = self.fail_write_after.lock().take() {
            let n = n.min(buf.len());
            seg.file()?.write_all_at(&buf[..n], pos).ctx(context)?;
            return Err(StorageError::io(
                context(),
                std::io::Error::from_raw_os_error(28),
            ));
        }
        seg.file()?.write_all_at(buf, pos).ctx(context)
    }

    /// Writes `batches` at `pos` with each batch's first 16 bytes patched
    /// (base offset from `infos`, leader epoch), in vectored writes.
    fn write_patched(
        &self,
        seg: &Segment,
        batches: &[u8],
        infos: &[BatchInfo],
        leader_epoch: i32,
        pos: u64,
    ) -> Result<()> {
        let context = || {
            format!(
                "write {} bytes at {pos} to {}",
                batches.len(),
                seg.log_path.display()
            )
        };
        let heads: Vec<[u8; PATCHED_HEAD]> = infos
            .iter()
            .map(|b| {
                let at = b.position as usize;
                let mut head = [0u8; PATCHED_HEAD];
                head.copy_from_slice(&batches[at..at + PATCHED_HEAD]);
                set_base_offset(&mut head, b.base_offset);
                set_partition_leader_epoch(&mut head, leader_epoch);
                head
            })
            .collect();
        let mut parts: Vec<&[u8]> = Vec::with_capacity(2 * infos.len());
        for (b, head) in infos.iter().zip(&heads) {
            let at = b.position as usize;
            parts.push(head);
            parts.push(&batches[at + PATCHED_HEAD..at + b.size as usize]);
        }
        #[cfg(test)]
        if let Some(n) = self.fail_write_after.lock().take() {
            let joined = parts.concat();
            let n = n.min(joined.len());
            seg.file()?.write_all_at(&joined[..n], pos).ctx(context)?;
            return Err(StorageError::io(
                context(),
                std::io::Error::from_raw_os_error(28),
            ));
        }
        let file = seg.file()?;
        crate::file_io::write_all_vectored_at(&file, &parts, pos).ctx(context)
    }

    /// Seals the active segment and starts a new one at `base`.
    pub(crate) fn roll(&self, w: &mut Writer, base: i64) -> Result<()> {
        let new = Arc::new(Segment::create(&self.dir, base)?);
        let old = w.active.clone();
        match old.seal(&mut w.cadence) {
            Ok(files) => w.unsynced.extend(files),
            Err(e) => {
                if let Err(e2) = new.delete_files() {
                    tracing::warn!("cannot remove {}: {e2}", new.log_path.display());
                }
                return Err(e);
            }
        }
        self.segments.write().insert(base, new.clone());
        w.active = new;
        w.cadence = IndexCadence::new();
        w.active_unsynced = false;
        w.dir_dirty = true;
        w.sealed_since_sync = true;
        Ok(())
    }

    /// Makes every offset below `offset` durable (fdatasync of the files
    /// written since the last sync, outside the append lock). Callers whose
    /// offset is covered by an fsync already in flight wait for it; others
    /// wait for it to finish and then one of them runs the next fsync for
    /// everybody (group commit). `offset` is clamped to the log end offset.
    ///
    /// An fsync failure takes the log offline (dirty pages may be lost).
    pub fn sync_to(&self, offset: i64) -> Result<()> {
        let target = offset.min(self.log_end_offset());
        if self.durable.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        let satisfied = |log: &Log| {
            if log.durable.load(Ordering::Acquire) >= target {
                return Some(Ok(()));
            }
            let offline = log.offline.lock().clone();
            offline.map(|reason| Err(StorageError::Offline(reason)))
        };
        if let Some(done) = self.take_sync_hold(satisfied) {
            return done;
        }
        let result = self.sync_round();
        let st = self.sync_state.lock();
        drop(self.end_sync_hold(st, result.as_ref().err().map(|e| e.to_string())));
        result
    }

    fn sync_round(&self) -> Result<()> {
        let started = std::time::Instant::now();
        let result = self.sync_round_timed();
        let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let before = self.sync_micros.load(Ordering::Relaxed);
        self.sync_micros
            .store(took.max(before - before / 8), Ordering::Relaxed);
        result
    }

    fn sync_round_timed(&self) -> Result<()> {
        let (files, dir_dirty, parent_dirty, sealed, leo, active_base) = {
            let mut w = self.writer.lock();
            w.active_unsynced = false;
            (
                std::mem::take(&mut w.unsynced),
                std::mem::take(&mut w.dir_dirty),
                std::mem::take(&mut w.parent_dirty),
                std::mem::take(&mut w.sealed_since_sync),
                self.log_end.load(Ordering::Acquire),
                w.active.base_offset,
            )
        };
        for f in &files {
            if let Err(e) = f.sync_data() {
                if self.is_closed() {
                    return Err(StorageError::Closed);
                }
                let err = StorageError::io(format!("fsync in {}", self.dir.display()), e);
                self.go_offline(err.to_string());
                return Err(err);
            }
        }
        if dir_dirty {
            if let Err(e) = checkpoint::sync_dir(&self.dir) {
                // A directory removed by `delete` meanwhile is not a disk
                // failure.
                if self.is_closed() {
                    return Err(StorageError::Closed);
                }
                self.go_offline(e.to_string());
                return Err(e);
            }
        }
        if parent_dirty {
            if let Some(parent) = self.dir.parent() {
                if let Err(e) = checkpoint::sync_dir(parent) {
                    self.go_offline(e.to_string());
                    return Err(e);
                }
            }
        }
        self.sync_count.fetch_add(1, Ordering::AcqRel);
        self.durable.fetch_max(leo, Ordering::AcqRel);
        if sealed && active_base > self.recovery_point.load(Ordering::Acquire) && !self.is_closed()
        {
            match checkpoint::write_offset(&self.dir, RECOVERY_POINT_FILE, active_base) {
                Ok(()) => self.recovery_point.store(active_base, Ordering::Release),
                Err(e) => {
                    tracing::warn!(dir = %self.dir.display(), "cannot write recovery point: {e}")
                }
            }
        }
        Ok(())
    }

    /// Syncs everything appended so far and checkpoints the high watermark.
    pub fn flush(&self) -> Result<()> {
        self.sync_to(self.log_end_offset())?;
        self.checkpoint_high_watermark()
    }

    /// Periodic/after-append flush for page-cache mode: syncs when
    /// `flush.messages` messages are unsynced or `flush.ms` passed since
    /// the last flush. In SyncBeforeAck mode it syncs writes nobody waited
    /// for (acks=0) once a second. Also rewrites the high-watermark
    /// checkpoint every few seconds. Returns whether it synced.
    pub fn flush_if_due(&self, now_ms: i64) -> Result<bool> {
        // A closed or deleted log has nothing left to flush (`close` synced
        // it; `delete` removed its directory).
        if self.is_closed() {
            return Ok(false);
        }
        let leo = self.log_end_offset();
        let unflushed = leo - self.durable_offset();
        let due = self.sync_due(unflushed, now_ms);
        if due {
            self.sync_to(leo)?;
            self.last_flush_ms.store(now_ms, Ordering::Release);
        } else if unflushed == 0 {
            self.last_flush_ms.store(now_ms, Ordering::Release);
        }
        if self.hw_checkpoint_due(now_ms) {
            self.checkpoint_high_watermark()?;
        }
        Ok(due)
    }

    /// Whether [`Log::flush_if_due`] at `now_ms` would sync or write a
    /// file (else it only reads atomics and may be called where blocking
    /// is not allowed, e.g. on an async runtime's worker thread).
    pub fn flush_pending(&self, now_ms: i64) -> bool {
        if self.is_closed() {
            return false;
        }
        let unflushed = self.log_end_offset() - self.durable_offset();
        self.sync_due(unflushed, now_ms) || self.hw_checkpoint_due(now_ms)
    }

    /// Whether `unflushed` offsets are due for a sync under the flush
    /// policy at `now_ms`.
    fn sync_due(&self, unflushed: i64, now_ms: i64) -> bool {
        let since = now_ms.saturating_sub(self.last_flush_ms.load(Ordering::Acquire));
        unflushed > 0
            && match self.flush_policy() {
                FlushPolicy::SyncBeforeAck => since >= UNACKED_FLUSH_INTERVAL_MS,
                FlushPolicy::PageCache {
                    messages,
                    interval_ms,
                } => {
                    messages.is_some_and(|m| unflushed as u64 >= m)
                        || interval_ms.is_some_and(|ms| since >= ms as i64)
                }
            }
    }

    /// Whether the high-watermark checkpoint is stale and old enough to
    /// be rewritten.
    fn hw_checkpoint_due(&self, now_ms: i64) -> bool {
        let (written, at) = *self.hw_checkpoint.lock();
        written != self.high_watermark() && now_ms.saturating_sub(at) >= HW_CHECKPOINT_INTERVAL_MS
    }

    /// Writes the `high-watermark` checkpoint now.
    pub fn checkpoint_high_watermark(&self) -> Result<()> {
        let mut ckpt = self.hw_checkpoint.lock();
        if self.is_closed() {
            // `close` wrote its own checkpoint; `delete` holds this lock
            // while it removes the directory, so none is recreated.
            return Ok(());
        }
        let hw = self.high_watermark();
        if ckpt.0 != hw {
            checkpoint::write_offset(&self.dir, HIGH_WATERMARK_FILE, hw)?;
        }
        *ckpt = (hw, wall_clock_ms());
        Ok(())
    }

    /// Offsets below this are on disk (fsynced).
    pub fn durable_offset(&self) -> i64 {
        self.durable.load(Ordering::Acquire)
    }

    /// How many fsync rounds `sync_to` ran (each covers all waiting callers).
    pub fn sync_count(&self) -> u64 {
        self.sync_count.load(Ordering::Acquire)
    }

    /// How long this log's fsync rounds take lately: a maximum that
    /// forgets an eighth per round (zero before the first round).
    pub fn recent_sync_time(&self) -> std::time::Duration {
        std::time::Duration::from_micros(self.sync_micros.load(Ordering::Relaxed))
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start.load(Ordering::Acquire)
    }

    /// The offset the next appended record gets.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end.load(Ordering::Acquire)
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    /// Sets the high watermark (clamped to `[log start, log end]`).
    /// Retention only deletes data below it. Persisted by `flush`,
    /// `flush_if_due` and `close`.
    pub fn set_high_watermark(&self, hw: i64) {
        let hw = hw.min(self.log_end_offset()).max(self.log_start_offset());
        self.high_watermark.store(hw, Ordering::Release);
    }

    /// Total bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.read().values().map(|s| s.size()).sum()
    }

    /// Base offsets of the segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments.read().keys().copied().collect()
    }

    pub(crate) fn segments_snapshot(&self) -> Vec<Arc<Segment>> {
        self.segments.read().values().cloned().collect()
    }

    /// The latest leader epoch with data in the log.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.epochs.lock().latest().map(|e| e.epoch)
    }

    /// OffsetForLeaderEpoch; see [`LeaderEpochCache::end_offset_for`].
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, i64)> {
        let epochs = self.epochs.lock();
        epochs.end_offset_for(epoch, self.log_end_offset())
    }

    /// The leader epoch cache entries.
    pub fn epoch_entries(&self) -> Vec<EpochEntry> {
        self.epochs.lock().entries().to_vec()
    }

    /// Moves the log start offset forward (never back) and persists it.
    pub(crate) fn advance_log_start(&self, offset: i64) -> Result<bool> {
        if offset <= self.log_start_offset() {
            return Ok(false);
        }
        self.log_start.store(offset, Ordering::Release);
        self.high_watermark.fetch_max(offset, Ordering::AcqRel);
        checkpoint::write_offset(&self.dir, LOG_START_OFFSET_FILE, offset)?;
        let mut epochs = self.epochs.lock();
        if epochs.truncate_from_start(offset) {
            epochs.flush()?;
        }
        Ok(true)
    }

    /// Whether `close` or `delete` ran.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Removes the partition directory (topic deletion). The log is closed
    /// first; readers holding segment files keep reading them.
    pub fn delete(&self) -> Result<()> {
        // A cleaner run stops at its next batch once the log is closed; wait
        // for it so that it creates no file in the directory being removed.
        self.closed.store(true, Ordering::Release);
        let _cleaner = self.cleaner.lock();
        let _guard = self.writer.lock();
        let _hw = self.hw_checkpoint.lock();
        fs::remove_dir_all(&self.dir).ctx(|| format!("remove {}", self.dir.display()))
    }
}
