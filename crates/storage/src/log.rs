//! The partition log: open/recovery, append, group-commit sync, reads,
//! offsets, timestamp lookups, truncation, close and delete. Retention lives
//! in `retention.rs`, compaction (the log cleaner) in `cleaner.rs`.
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

use bytes::Bytes;
use fjord_protocol::records::{
    set_base_offset, set_log_append_time, set_partition_leader_epoch, BatchHeader, TimestampType,
};
use parking_lot::{Condvar, Mutex, RwLock};

use crate::checkpoint::{
    self, CLEANER_CHECKPOINT_FILE, CLEAN_SHUTDOWN_FILE, HIGH_WATERMARK_FILE, LOG_START_OFFSET_FILE,
    RECOVERY_POINT_FILE,
};
use crate::config::{FlushPolicy, LogConfig};
use crate::epoch::{EpochEntry, LeaderEpochCache};
use crate::error::{IoContext, Result, StorageError};
use crate::index::remove_if_exists;
use crate::records::find_record;
use crate::segment::{
    parse_segment_file_name, segment_file_name, BatchWalker, IndexCadence, Segment, INDEX_SUFFIX,
    LOG_SUFFIX, TIME_INDEX_SUFFIX,
};

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

struct BatchInfo {
    /// Position within the appended buffer.
    position: u64,
    size: u64,
    base_offset: i64,
    max_timestamp: i64,
}

/// State owned by the append path.
pub(crate) struct Writer {
    pub(crate) active: Arc<Segment>,
    pub(crate) cadence: IndexCadence,
    /// Files written since the last sync (segment data, sealed indexes).
    unsynced: Vec<Arc<File>>,
    /// Whether `active`'s data file is already in `unsynced`.
    active_unsynced: bool,
    /// A segment file was created since the last sync.
    pub(crate) dir_dirty: bool,
    /// A segment was sealed since the last sync (move the recovery point).
    sealed_since_sync: bool,
    scratch: Vec<BatchInfo>,
}

struct SyncState {
    in_progress: bool,
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
    durable: AtomicI64,
    recovery_point: AtomicI64,
    sync_state: Mutex<SyncState>,
    sync_cond: Condvar,
    sync_count: AtomicU64,
    pub(crate) closed: AtomicBool,
    offline: Mutex<Option<String>>,
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
    /// Opens (creating if needed) the log in `dir`, recovering it when the
    /// last shutdown was not clean. See the crate docs for the recovery
    /// rules.
    pub fn open(dir: impl AsRef<Path>, config: LogConfig) -> Result<Log> {
        config.validate()?;
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
        let marker = dir.join(CLEAN_SHUTDOWN_FILE);
        let clean = fs::symlink_metadata(&marker).is_ok();
        // A cleaner swap cut short by a crash is finished (or discarded)
        // before the segments are listed.
        crate::cleaner::finish_interrupted_swaps(&dir)?;
        let cleaner_ckpt = checkpoint::read_offset(&dir, CLEANER_CHECKPOINT_FILE)?;
        // Compacted logs have offset gaps; others must be contiguous.
        let allow_gaps = cleaner_ckpt.is_some();

        let mut bases = Vec::new();
        let mut index_files = Vec::new();
        for entry in fs::read_dir(&dir).ctx(|| format!("list {}", dir.display()))? {
            let entry = entry.ctx(|| format!("list {}", dir.display()))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(".tmp") {
                remove_if_exists(&entry.path())?;
                continue;
            }
            match parse_segment_file_name(name) {
                Some((base, LOG_SUFFIX)) => bases.push(base),
                Some((base, _)) => index_files.push((base, entry.path())),
                None => {}
            }
        }
        bases.sort_unstable();

        let recovery_point = if clean {
            i64::MAX
        } else {
            checkpoint::read_offset(&dir, RECOVERY_POINT_FILE)?.unwrap_or(0)
        };
        if !clean && !bases.is_empty() {
            tracing::info!(dir = %dir.display(), recovery_point, "log was not shut down cleanly; recovering");
        }
        let interval = config.index_interval_bytes;
        let mut segments: Vec<Arc<Segment>> = Vec::new();
        let mut cadence = IndexCadence::new();
        let mut next_offset = -1i64;
        let mut recovered_epochs = Vec::new();
        let mut to_sync: Vec<Arc<File>> = Vec::new();
        let mut n = bases.len();
        let mut i = 0;
        while i < n {
            let base = bases[i];
            let is_last = i + 1 == n;
            let must_recover = !clean && (base >= recovery_point || is_last);
            let loaded = if must_recover {
                None
            } else {
                match Segment::load(&dir, base, is_last, interval, allow_gaps) {
                    Ok(x) => Some(x),
                    Err(e) => {
                        tracing::warn!(dir = %dir.display(), base, "rebuilding segment indexes: {e}");
                        None
                    }
                }
            };
            let seg = match loaded {
                Some((seg, c, next)) => {
                    cadence = c;
                    next_offset = next;
                    seg
                }
                None => {
                    let next_base = bases.get(i + 1).copied().filter(|_| !is_last);
                    let (seg, c, info) =
                        Segment::recover(&dir, base, is_last, interval, allow_gaps, next_base)?;
                    recovered_epochs.extend(info.epochs);
                    to_sync.push(seg.file.clone());
                    to_sync.extend(info.index_files);
                    if info.truncated && !is_last && must_recover {
                        // Everything after a torn write is untrusted.
                        for &later in &bases[i + 1..] {
                            tracing::warn!(dir = %dir.display(), base = later, "deleting segment after a torn write");
                            for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
                                remove_if_exists(&dir.join(segment_file_name(later, suffix)))?;
                            }
                        }
                        n = i + 1;
                        seg.index.file.to_memory()?;
                        seg.time_index.file.to_memory()?;
                    } else if info.truncated {
                        tracing::error!(dir = %dir.display(), base, "corrupt data in a sealed segment was dropped");
                    }
                    cadence = c;
                    next_offset = info.next_offset;
                    seg
                }
            };
            segments.push(Arc::new(seg));
            i += 1;
        }
        let kept = &bases[..n];
        for (base, path) in index_files {
            if kept.binary_search(&base).is_err() {
                remove_if_exists(&path)?;
            }
        }

        let log_start_ckpt = checkpoint::read_offset(&dir, LOG_START_OFFSET_FILE)?;
        let mut dir_dirty = false;
        if segments.is_empty() {
            let base = log_start_ckpt.unwrap_or(0).max(0);
            segments.push(Arc::new(Segment::create(&dir, base)?));
            cadence = IndexCadence::new();
            next_offset = base;
            dir_dirty = true;
        }
        let active = segments[segments.len() - 1].clone();
        next_offset = next_offset.max(active.base_offset);
        if active.size() > 0 {
            active.set_created_ms(wall_clock_ms());
        }
        let first_base = segments[0].base_offset;
        let log_start = log_start_ckpt.unwrap_or(first_base).max(first_base);
        let loaded_epochs = LeaderEpochCache::load(&dir)?;
        let epochs_missing = loaded_epochs.is_none();
        let mut epochs = match loaded_epochs {
            Some(c) => c,
            None if next_offset > first_base => rebuild_epochs(&dir, &segments)?,
            None => LeaderEpochCache::empty(&dir),
        };

        let map: BTreeMap<i64, Arc<Segment>> = segments
            .iter()
            .map(|s| (s.base_offset, s.clone()))
            .collect();
        for (e, o) in recovered_epochs {
            epochs.assign(e, o);
        }
        let log = Log {
            dir: dir.clone(),
            config: RwLock::new(Arc::new(config)),
            writer: Mutex::new(Writer {
                active,
                cadence,
                unsynced: Vec::new(),
                active_unsynced: false,
                dir_dirty,
                sealed_since_sync: false,
                scratch: Vec::new(),
            }),
            segments: RwLock::new(map),
            epochs: Mutex::new(epochs),
            log_start: AtomicI64::new(log_start),
            log_end: AtomicI64::new(next_offset),
            high_watermark: AtomicI64::new(log_start),
            durable: AtomicI64::new(next_offset),
            recovery_point: AtomicI64::new(if clean { i64::MAX } else { recovery_point }),
            sync_state: Mutex::new(SyncState { in_progress: false }),
            sync_cond: Condvar::new(),
            sync_count: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            offline: Mutex::new(None),
            last_flush_ms: AtomicI64::new(wall_clock_ms()),
            hw_checkpoint: Mutex::new((-1, wall_clock_ms())),
            cleaner: Mutex::new(()),
            cleaner_checkpoint: AtomicI64::new(cleaner_ckpt.unwrap_or(-1)),
            delete_horizon: AtomicI64::new(i64::MIN),
            truncations: AtomicU64::new(0),
            #[cfg(test)]
            fail_write_after: Mutex::new(None),
            #[cfg(test)]
            crash_swap_after: Mutex::new(None),
        };

        if log_start > next_offset {
            tracing::warn!(dir = %dir.display(), log_start, log_end = next_offset,
                "log start offset is past the recovered log end; starting empty at the log start");
            let mut w = log.writer.lock();
            log.truncate_fully(&mut w, log_start)?;
        }
        let leo = log.log_end_offset();
        let lso = log.log_start_offset();
        {
            let mut epochs = log.epochs.lock();
            let a = epochs.truncate_from_end(leo);
            let b = epochs.truncate_from_start(lso);
            if a || b || epochs_missing || !clean {
                epochs.flush()?;
            }
        }
        let hw = checkpoint::read_offset(&dir, HIGH_WATERMARK_FILE)?
            .unwrap_or(lso)
            .max(lso)
            .min(leo);
        log.high_watermark.store(hw, Ordering::Release);
        *log.hw_checkpoint.lock() = (hw, wall_clock_ms());

        {
            let w = log.writer.lock();
            // Recovered data may only be in the page cache (the process died,
            // not the machine): make it durable before calling it durable.
            for f in &to_sync {
                f.sync_data()
                    .ctx(|| format!("fsync segment in {}", dir.display()))?;
            }
            w.active
                .file
                .sync_data()
                .ctx(|| format!("fsync {}", w.active.log_path.display()))?;
        }
        if clean {
            // A crash from now on must trigger recovery.
            remove_if_exists(&marker)?;
        } else {
            let base = log.writer.lock().active.base_offset;
            checkpoint::write_offset(&dir, RECOVERY_POINT_FILE, base)?;
            log.recovery_point.store(base, Ordering::Release);
        }
        checkpoint::sync_dir(&dir)?;
        log.writer.lock().dir_dirty = false;
        log.durable.store(leo, Ordering::Release);
        Ok(log)
    }

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

    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StorageError::Closed);
        }
        if let Some(reason) = &*self.offline.lock() {
            return Err(StorageError::Offline(reason.clone()));
        }
        Ok(())
    }

    pub(crate) fn go_offline(&self, reason: String) {
        tracing::error!(dir = %self.dir.display(), "log goes offline: {reason}");
        let mut offline = self.offline.lock();
        if offline.is_none() {
            *offline = Some(reason);
        }
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
        let config = self.config();
        let mut guard = self.writer.lock();
        self.check_writable()?;
        let w = &mut *guard;
        let first_offset = self.log_end.load(Ordering::Acquire);
        let log_append = config.message_timestamp_type == TimestampType::LogAppendTime;
        let mut next = first_offset;
        let mut max_timestamp = -1i64;
        w.scratch.clear();
        let mut pos = 0usize;
        while pos < batches.len() {
            let h = BatchHeader::parse(&batches[pos..]).map_err(|e| invalid_batch(pos, e))?;
            let size = h.total_size();
            if batches.len() - pos < size {
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
            let batch = &mut batches[pos..pos + size];
            set_base_offset(batch, next);
            set_partition_leader_epoch(batch, leader_epoch);
            let ts = if log_append {
                set_log_append_time(batch, now_ms).map_err(|e| invalid_batch(pos, e))?;
                now_ms
            } else {
                h.max_timestamp
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
        let total = batches.len() as u64;

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

        if leader_epoch >= 0 {
            let mut epochs = self.epochs.lock();
            if epochs.latest().map(|e| e.epoch) != Some(leader_epoch) {
                let mut updated = epochs.clone();
                if updated.assign(leader_epoch, first_offset) {
                    updated.flush()?;
                    *epochs = updated;
                }
            }
        }

        if let Err(e) = self.write_at(&active, batches, write_pos) {
            if let Err(e2) = active.file.set_len(write_pos) {
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
            w.unsynced.push(active.file.clone());
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
            seg.file.write_all_at(&buf[..n], pos).ctx(context)?;
            return Err(StorageError::io(
                context(),
                std::io::Error::from_raw_os_error(28),
            ));
        }
        seg.file.write_all_at(buf, pos).ctx(context)
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
        let mut st = self.sync_state.lock();
        loop {
            if self.durable.load(Ordering::Acquire) >= target {
                return Ok(());
            }
            if let Some(reason) = &*self.offline.lock() {
                return Err(StorageError::Offline(reason.clone()));
            }
            if !st.in_progress {
                break;
            }
            self.sync_cond.wait(&mut st);
        }
        st.in_progress = true;
        drop(st);
        let result = self.sync_round();
        let mut st = self.sync_state.lock();
        st.in_progress = false;
        self.sync_cond.notify_all();
        drop(st);
        result
    }

    fn sync_round(&self) -> Result<()> {
        let (files, dir_dirty, sealed, leo, active_base) = {
            let mut w = self.writer.lock();
            w.active_unsynced = false;
            (
                std::mem::take(&mut w.unsynced),
                std::mem::take(&mut w.dir_dirty),
                std::mem::take(&mut w.sealed_since_sync),
                self.log_end.load(Ordering::Acquire),
                w.active.base_offset,
            )
        };
        for f in &files {
            if let Err(e) = f.sync_data() {
                let err = StorageError::io(format!("fsync in {}", self.dir.display()), e);
                self.go_offline(err.to_string());
                return Err(err);
            }
        }
        if dir_dirty {
            if let Err(e) = checkpoint::sync_dir(&self.dir) {
                self.go_offline(e.to_string());
                return Err(e);
            }
        }
        self.sync_count.fetch_add(1, Ordering::AcqRel);
        self.durable.fetch_max(leo, Ordering::AcqRel);
        if sealed && active_base > self.recovery_point.load(Ordering::Acquire) {
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
        let leo = self.log_end_offset();
        let unflushed = leo - self.durable_offset();
        let since = now_ms.saturating_sub(self.last_flush_ms.load(Ordering::Acquire));
        let due = unflushed > 0
            && match self.flush_policy() {
                FlushPolicy::SyncBeforeAck => since >= UNACKED_FLUSH_INTERVAL_MS,
                FlushPolicy::PageCache {
                    messages,
                    interval_ms,
                } => {
                    messages.is_some_and(|m| unflushed as u64 >= m)
                        || interval_ms.is_some_and(|ms| since >= ms as i64)
                }
            };
        if due {
            self.sync_to(leo)?;
            self.last_flush_ms.store(now_ms, Ordering::Release);
        } else if unflushed == 0 {
            self.last_flush_ms.store(now_ms, Ordering::Release);
        }
        let (written, at) = *self.hw_checkpoint.lock();
        if written != self.high_watermark()
            && now_ms.saturating_sub(at) >= HW_CHECKPOINT_INTERVAL_MS
        {
            self.checkpoint_high_watermark()?;
        }
        Ok(due)
    }

    /// Writes the `high-watermark` checkpoint now.
    pub fn checkpoint_high_watermark(&self) -> Result<()> {
        let mut ckpt = self.hw_checkpoint.lock();
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
            let mut walker = BatchWalker::new(&s.file, end_pos, end);
            while let Some((p, bh)) = walker.next_batch()? {
                let batch_end = p + bh.total_size() as u64;
                if bh.last_offset() >= limit || batch_end > budget_end {
                    break;
                }
                end_pos = batch_end;
                next = bh.next_offset();
            }
            result.records = Some(FileSlice {
                file: s.file.clone(),
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
            let mut walker = BatchWalker::new(&s.file, start_pos, end);
            while let Some((pos, h)) = walker.next_batch()? {
                if h.max_timestamp < timestamp || h.last_offset() < lso {
                    continue;
                }
                let batch = s.read_at(pos, h.total_size())?;
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
        let mut walker = BatchWalker::new(&s.file, start_pos, end);
        while let Some((pos, h)) = walker.next_batch()? {
            if h.max_timestamp != ts {
                continue;
            }
            let batch = s.read_at(pos, h.total_size())?;
            return Ok(Some(match find_record(&batch, &h, |_, t| t == ts) {
                Some(Some(found)) => found,
                _ => (h.base_offset, ts),
            }));
        }
        Ok(Some((off, ts)))
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

    /// Removes every batch at or after `offset` (replica truncation). A
    /// batch containing `offset` is removed whole, so the new log end may be
    /// below `offset`. Truncating below the log start (or the first
    /// segment) empties the log and restarts it at `offset`. Concurrent
    /// readers of the cut range may see short reads.
    pub fn truncate_to(&self, offset: i64) -> Result<()> {
        // Keep syncs out: one in flight would publish a durable offset past
        // the new end.
        let mut st = self.sync_state.lock();
        while st.in_progress {
            self.sync_cond.wait(&mut st);
        }
        st.in_progress = true;
        drop(st);
        let result = self.truncate_inner(offset);
        let mut st = self.sync_state.lock();
        st.in_progress = false;
        self.sync_cond.notify_all();
        drop(st);
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
        if let Err(e) = seg.file.set_len(cut).and_then(|_| seg.file.sync_all()) {
            let err = StorageError::io(format!("truncate {}", seg.log_path.display()), e);
            self.go_offline(err.to_string());
            return Err(err);
        }
        seg.index.truncate_to_position(cut);
        let walk_from = seg.index.last_position();
        let mut batches = Vec::new();
        let mut next = seg.base_offset;
        let mut walker = BatchWalker::new(&seg.file, walk_from, cut);
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
        self.delete_horizon.store(i64::MIN, Ordering::Release);
        let ckpt = self.cleaner_checkpoint.load(Ordering::Acquire);
        if ckpt > offset {
            self.cleaner_checkpoint.store(offset, Ordering::Release);
            checkpoint::write_offset(&self.dir, CLEANER_CHECKPOINT_FILE, offset)?;
        }
        Ok(())
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

    /// Syncs everything, writes the index files and checkpoints, then the
    /// clean-shutdown marker (`.clean-shutdown` in the partition dir), so
    /// the next `open` skips recovery. Appends fail afterwards; reads still
    /// work. An offline log is not marked clean.
    pub fn close(&self) -> Result<()> {
        let mut guard = self.writer.lock();
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        if let Some(reason) = &*self.offline.lock() {
            return Err(StorageError::Offline(reason.clone()));
        }
        let w = &mut *guard;
        let active = w.active.clone();
        let index_files = active.write_index_files(&mut w.cadence)?;
        for f in &index_files {
            f.sync_data()
                .ctx(|| format!("fsync indexes in {}", self.dir.display()))?;
        }
        for f in w.unsynced.drain(..) {
            f.sync_data()
                .ctx(|| format!("fsync segment in {}", self.dir.display()))?;
        }
        active
            .file
            .sync_data()
            .ctx(|| format!("fsync {}", active.log_path.display()))?;
        w.active_unsynced = false;
        self.durable.store(self.log_end_offset(), Ordering::Release);
        checkpoint::write_offset(&self.dir, LOG_START_OFFSET_FILE, self.log_start_offset())?;
        checkpoint::write_offset(&self.dir, HIGH_WATERMARK_FILE, self.high_watermark())?;
        checkpoint::write_offset(&self.dir, RECOVERY_POINT_FILE, active.base_offset)?;
        self.epochs.lock().flush()?;
        checkpoint::write_atomic(&self.dir, CLEAN_SHUTDOWN_FILE, b"")?;
        Ok(())
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
        fs::remove_dir_all(&self.dir).ctx(|| format!("remove {}", self.dir.display()))
    }
}

/// Rebuilds the leader epoch cache from the batch headers of every segment
/// (when the checkpoint is missing or malformed).
fn rebuild_epochs(dir: &Path, segments: &[Arc<Segment>]) -> Result<LeaderEpochCache> {
    tracing::warn!(dir = %dir.display(), "rebuilding the leader epoch cache from the log");
    let mut cache = LeaderEpochCache::empty(dir);
    for s in segments {
        let mut walker = BatchWalker::new(&s.file, 0, s.size());
        while let Some((_, h)) = walker.next_batch()? {
            cache.assign(h.partition_leader_epoch, h.base_offset);
        }
    }
    Ok(cache)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::simple_batch;

    #[test]
    fn failed_write_is_cut_off_and_the_log_continues() {
        let d = tempfile::tempdir().unwrap();
        let log = Log::open(d.path(), LogConfig::default()).unwrap();
        log.append(&mut simple_batch(2, 1, 10), 0, 0).unwrap();
        let size = log.size_bytes();
        *log.fail_write_after.lock() = Some(30);
        let err = log.append(&mut simple_batch(3, 1, 10), 0, 0).unwrap_err();
        assert!(err.is_disk_full(), "{err}");
        assert_eq!(log.log_end_offset(), 2);
        assert_eq!(log.size_bytes(), size);
        let path = log.writer.lock().active.log_path.clone();
        assert_eq!(fs::metadata(&path).unwrap().len(), size);
        let info = log.append(&mut simple_batch(3, 1, 10), 0, 0).unwrap();
        assert_eq!(info.first_offset, 2);
        let r = log.read(0, 1 << 20, i64::MAX, true).unwrap();
        assert_eq!(r.next_offset, 5);
        drop(log);
        let log = Log::open(d.path(), LogConfig::default()).unwrap();
        assert_eq!(log.log_end_offset(), 5);
    }

    #[test]
    fn open_is_idempotent_and_marker_is_removed() {
        let d = tempfile::tempdir().unwrap();
        let log = Log::open(d.path(), LogConfig::default()).unwrap();
        log.append(&mut simple_batch(2, 1, 10), 3, 0).unwrap();
        log.close().unwrap();
        log.close().unwrap();
        assert!(d.path().join(CLEAN_SHUTDOWN_FILE).exists());
        let log = Log::open(d.path(), LogConfig::default()).unwrap();
        assert!(!d.path().join(CLEAN_SHUTDOWN_FILE).exists());
        assert_eq!(log.log_end_offset(), 2);
        assert_eq!(log.durable_offset(), 2);
        assert_eq!(log.latest_epoch(), Some(3));
    }
}
