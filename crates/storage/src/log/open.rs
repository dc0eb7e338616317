//! Opening a log: finishing interrupted cleaner swaps, loading the
//! segments, and crash recovery when the last shutdown was not clean (see
//! the crate docs for the rules); rebuilding a lost leader epoch cache.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};

use super::{wall_clock_ms, Log, SyncState, Writer};
use crate::checkpoint::{
    self, Sync, CLEANER_CHECKPOINT_FILE, CLEAN_SHUTDOWN_FILE, HIGH_WATERMARK_FILE,
    LOG_START_OFFSET_FILE, RECOVERY_POINT_FILE,
};
use crate::cleaner::{finish_interrupted_swaps, HORIZON_UNKNOWN};
use crate::config::LogConfig;
use crate::epoch::LeaderEpochCache;
use crate::error::{IoContext, Result, StorageError};
use crate::index::remove_if_exists;
use crate::segment::{
    parse_segment_file_name, segment_file_name, BatchWalker, IndexCadence, Segment, INDEX_SUFFIX,
    LOG_SUFFIX, TIME_INDEX_SUFFIX,
};

impl Log {
    /// Opens (creating if needed) the log in `dir`, recovering it when the
    /// last shutdown was not clean. See the crate docs for the recovery
    /// rules.
    pub fn open(dir: impl AsRef<Path>, config: LogConfig) -> Result<Log> {
        Log::open_with(dir.as_ref(), config, Sync::Now)
    }

    /// As [`Log::open`], but nothing it writes (recovery's truncations and
    /// rebuilt indexes, checkpoints, the removal of the clean-shutdown
    /// marker) is fsynced: the caller opens many logs this way and then
    /// calls [`crate::sync_filesystem`] once, before appending to any or
    /// counting on what recovery found as durable.
    pub fn open_deferred(dir: impl AsRef<Path>, config: LogConfig) -> Result<Log> {
        Log::open_with(dir.as_ref(), config, Sync::Deferred)
    }

    fn open_with(dir: &Path, config: LogConfig, sync: Sync) -> Result<Log> {
        config.validate()?;
        let dir = dir.to_path_buf();
        // A new partition: an empty log that a crash may lose entirely
        // (it would be created again, empty), so it needs no fsync here;
        // its first sync makes the directory itself durable.
        let fresh = match fs::read_dir(&dir) {
            Ok(mut entries) => entries.next().is_none(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => return Err(StorageError::io(format!("list {}", dir.display()), e)),
        };
        let sync = if fresh { Sync::Deferred } else { sync };
        fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
        let marker = dir.join(CLEAN_SHUTDOWN_FILE);
        let clean = fs::symlink_metadata(&marker).is_ok();
        // A cleaner swap cut short by a crash is finished (or discarded)
        // before the segments are listed.
        finish_interrupted_swaps(&dir)?;
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
                    to_sync.push(seg.file()?);
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
                parent_dirty: false,
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
            sync_state: Mutex::new(SyncState {
                in_progress: false,
                runner: false,
                blocked: 0,
                waiters: Vec::new(),
            }),
            sync_cond: Condvar::new(),
            sync_count: AtomicU64::new(0),
            sync_micros: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            close_prepared: AtomicBool::new(false),
            marker_present: AtomicBool::new(false),
            marker_lock: Mutex::new(false),
            offline: Mutex::new(None),
            last_flush_ms: AtomicI64::new(wall_clock_ms()),
            hw_checkpoint: Mutex::new((-1, wall_clock_ms())),
            cleaner: Mutex::new(()),
            cleaner_checkpoint: AtomicI64::new(cleaner_ckpt.unwrap_or(-1)),
            delete_horizon: AtomicI64::new(HORIZON_UNKNOWN),
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
            // A missing checkpoint of an empty cache needs no file.
            let rebuilt = epochs_missing && !epochs.entries().is_empty();
            if (a || b || rebuilt || !clean) && !fresh {
                tolerate_full_disk(&dir, epochs.flush_with(sync))?;
            }
        }
        let hw = checkpoint::read_offset(&dir, HIGH_WATERMARK_FILE)?
            .unwrap_or(lso)
            .max(lso)
            .min(leo);
        log.high_watermark.store(hw, Ordering::Release);
        *log.hw_checkpoint.lock() = (hw, wall_clock_ms());

        if sync == Sync::Now && !clean {
            let w = log.writer.lock();
            // Recovered data may only be in the page cache (the process died,
            // not the machine): make it durable before calling it durable.
            for f in &to_sync {
                f.sync_data()
                    .ctx(|| format!("fsync segment in {}", dir.display()))?;
            }
            w.active
                .file()?
                .sync_data()
                .ctx(|| format!("fsync {}", w.active.log_path.display()))?;
        }
        drop(to_sync);
        if clean {
            // The marker stays until the first write (`check_writable`).
            log.set_marker_present(true);
        } else if fresh {
            // An empty new log is consistent as it is: marked clean (no
            // fsync: losing the marker costs only an empty log's recovery).
            let written = fs::File::create(&marker).ctx(|| format!("create {}", marker.display()));
            tolerate_full_disk(&dir, written.map(drop))?;
            log.set_marker_present(marker.exists());
        } else {
            let base = log.writer.lock().active.base_offset;
            let written = checkpoint::write_offset_with(&dir, RECOVERY_POINT_FILE, base, sync);
            if written.is_ok() {
                log.recovery_point.store(base, Ordering::Release);
            }
            tolerate_full_disk(&dir, written)?;
        }
        if sync == Sync::Now {
            checkpoint::sync_dir(&dir)?;
        }
        {
            let mut w = log.writer.lock();
            w.dir_dirty = fresh;
            w.parent_dirty = fresh;
        }
        log.durable.store(leo, Ordering::Release);
        Ok(log)
    }
}

/// Checkpoints written while opening a log can all be rebuilt (a missing
/// one means a longer recovery next time), so a full disk does not stop a
/// log from opening: it is read, and writes to it fail until there is
/// room (the broker starts read-only then).
fn tolerate_full_disk(dir: &Path, r: Result<()>) -> Result<()> {
    match r {
        Err(e) if e.is_disk_full() => {
            tracing::warn!(dir = %dir.display(), "disk full: a checkpoint was not written at open: {e}");
            Ok(())
        }
        other => other,
    }
}

/// Rebuilds the leader epoch cache from the batch headers of every segment
/// (when the checkpoint is missing or malformed).
fn rebuild_epochs(dir: &Path, segments: &[Arc<Segment>]) -> Result<LeaderEpochCache> {
    tracing::warn!(dir = %dir.display(), "rebuilding the leader epoch cache from the log");
    let mut cache = LeaderEpochCache::empty(dir);
    for s in segments {
        let file = s.file()?;
        let mut walker = BatchWalker::new(&file, 0, s.size());
        while let Some((_, h)) = walker.next_batch()? {
            cache.assign(h.partition_leader_epoch, h.base_offset);
        }
    }
    Ok(cache)
}
