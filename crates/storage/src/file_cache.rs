//! A process-wide, bounded set of open segment and index files.
//!
//! A broker with tens of thousands of partitions cannot keep every
//! segment's `.log` and sealed index files open: the process would run out
//! of file descriptors long before the disk runs out of space. Each such
//! file is a [`CachedFile`] instead: its path, plus an open handle while
//! the file is in the cache. [`CachedFile::get`] returns the handle,
//! opening the file again if it was evicted; once more than the capacity
//! ([`set_open_files_limit`]) are open, the least recently used ones are
//! closed. A handle already given out (an `Arc<File>`: a read in
//! progress, a zero-copy `FileSlice` waiting for `sendfile`, a file waiting
//! for its fsync) stays valid: eviction only drops the cache's reference.
//!
//! Reopening by path is right only while the path still names the same
//! file. Before a segment's files are unlinked or replaced (retention,
//! truncation, a cleaner swap), its handles are *pinned* ([`CachedFile::pin`]):
//! kept open outside the cache for as long as the segment object lives, so
//! readers that still hold it read the old data, as before. Files written
//! under a temporary name and renamed into place (the cleaner's output) are
//! pinned until the rename is done.
//!
//! fsync works per inode on Linux, so syncing through a reopened handle
//! makes the earlier writes of an evicted one durable too.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;

use crate::error::{IoContext, Result};

/// Open files kept when nobody set a limit.
const DEFAULT_CAPACITY: usize = 4096;

struct Registry {
    capacity: AtomicUsize,
    /// Files whose handle the cache holds (not pinned), by id.
    open: Mutex<HashMap<u64, Weak<Inner>>>,
    /// Use counter: the ordering of `Inner::last_used`.
    clock: AtomicU64,
    next_id: AtomicU64,
    /// Files (re)opened because they were not in the cache.
    misses: AtomicU64,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        capacity: AtomicUsize::new(DEFAULT_CAPACITY),
        open: Mutex::new(HashMap::new()),
        clock: AtomicU64::new(0),
        next_id: AtomicU64::new(0),
        misses: AtomicU64::new(0),
    })
}

/// Sets how many segment and index files the process keeps open at most
/// (handles given out to readers aside). The broker derives it from the
/// file descriptor limit at start.
pub fn set_open_files_limit(n: usize) {
    let r = registry();
    r.capacity.store(n.max(16), Ordering::Release);
    r.evict_over_capacity();
}

/// The current limit (see [`set_open_files_limit`]).
pub fn open_files_limit() -> usize {
    registry().capacity.load(Ordering::Acquire)
}

/// Files the cache holds open now.
pub fn open_files() -> usize {
    registry().open.lock().len()
}

/// How often a file had to be opened again after an eviction (or lazily).
pub fn open_file_misses() -> u64 {
    registry().misses.load(Ordering::Relaxed)
}

struct Slot {
    handle: Option<Arc<File>>,
    /// Held outside the cache (see the module docs); never evicted.
    pinned: bool,
}

struct Inner {
    id: u64,
    path: PathBuf,
    writable: bool,
    last_used: AtomicU64,
    slot: Mutex<Slot>,
}

/// A file opened on demand through the process-wide cache. Owned by one
/// segment or index; dropping it forgets the file (open handles given out
/// stay valid).
pub(crate) struct CachedFile(Arc<Inner>);

impl CachedFile {
    fn build(path: PathBuf, writable: bool, handle: Option<File>, pinned: bool) -> CachedFile {
        let r = registry();
        let has_handle = handle.is_some();
        let inner = Arc::new(Inner {
            id: r.next_id.fetch_add(1, Ordering::Relaxed),
            path,
            writable,
            last_used: AtomicU64::new(r.clock.fetch_add(1, Ordering::Relaxed)),
            slot: Mutex::new(Slot {
                handle: handle.map(Arc::new),
                pinned,
            }),
        });
        if has_handle && !pinned {
            r.register(&inner);
        }
        CachedFile(inner)
    }

    /// A file opened at first use (`writable`: read and write, else read
    /// only).
    pub fn lazy(path: PathBuf, writable: bool) -> CachedFile {
        CachedFile::build(path, writable, None, false)
    }

    /// A file whose handle the caller already opened, placed in the cache.
    pub fn with_handle(path: PathBuf, writable: bool, file: File) -> CachedFile {
        CachedFile::build(path, writable, Some(file), false)
    }

    /// A file whose handle must stay open until [`CachedFile::unpin`]
    /// (it is about to be renamed to `path`).
    pub fn pinned(path: PathBuf, writable: bool, file: File) -> CachedFile {
        CachedFile::build(path, writable, Some(file), true)
    }

    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// The open handle, opening the file if the cache does not hold it.
    pub fn get(&self) -> Result<Arc<File>> {
        let r = registry();
        let inner = &self.0;
        inner
            .last_used
            .store(r.clock.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        let file = {
            let mut slot = inner.slot.lock();
            if let Some(h) = &slot.handle {
                return Ok(h.clone());
            }
            let file = Arc::new(open(&inner.path, inner.writable)?);
            slot.handle = Some(file.clone());
            if slot.pinned {
                return Ok(file);
            }
            file
        };
        r.misses.fetch_add(1, Ordering::Relaxed);
        // Outside the slot lock: eviction locks other files' slots.
        r.register(inner);
        Ok(file)
    }

    /// Keeps the handle open, outside the cache, for as long as this lives
    /// (the path is about to be unlinked or replaced). Opens the file if
    /// needed; a file already gone cannot be pinned and is left as it is.
    pub fn pin(&self) {
        let inner = &self.0;
        let mut slot = inner.slot.lock();
        if slot.pinned {
            return;
        }
        if slot.handle.is_none() {
            match open(&inner.path, inner.writable) {
                Ok(f) => slot.handle = Some(Arc::new(f)),
                Err(_) => return,
            }
        }
        slot.pinned = true;
        drop(slot);
        registry().open.lock().remove(&inner.id);
    }

    /// Returns a pinned file to the cache (its path names it now).
    pub fn unpin(&self) {
        let inner = &self.0;
        let mut slot = inner.slot.lock();
        if !slot.pinned {
            return;
        }
        slot.pinned = false;
        let open = slot.handle.is_some();
        drop(slot);
        if open {
            registry().register(inner);
        }
    }
}

impl Drop for CachedFile {
    fn drop(&mut self) {
        registry().open.lock().remove(&self.0.id);
    }
}

fn open(path: &Path, writable: bool) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(writable)
        .open(path)
        .ctx(|| format!("open {}", path.display()))
}

impl Registry {
    fn register(&self, inner: &Arc<Inner>) {
        self.open.lock().insert(inner.id, Arc::downgrade(inner));
        self.evict_over_capacity();
    }

    /// Past the capacity, closes the least recently used eighth of the
    /// open files (one sort per many opens, not one per open).
    fn evict_over_capacity(&self) {
        let capacity = self.capacity.load(Ordering::Acquire);
        let mut open = self.open.lock();
        if open.len() <= capacity {
            return;
        }
        let mut by_use: Vec<(u64, u64)> = Vec::with_capacity(open.len());
        open.retain(|id, w| match w.upgrade() {
            Some(i) => {
                by_use.push((i.last_used.load(Ordering::Relaxed), *id));
                true
            }
            None => false,
        });
        if open.len() <= capacity {
            return;
        }
        let evict = (open.len() - capacity).max(capacity / 8).min(open.len());
        by_use.sort_unstable();
        for &(_, id) in by_use.iter().take(evict) {
            let Some(inner) = open.remove(&id).and_then(|w| w.upgrade()) else {
                continue;
            };
            let mut slot = inner.slot.lock();
            if !slot.pinned {
                slot.handle = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicted_files_reopen_and_given_out_handles_stay_valid() {
        use std::os::unix::fs::FileExt;
        let d = tempfile::tempdir().unwrap();
        let files: Vec<CachedFile> = (0..40)
            .map(|i| {
                let p = d.path().join(format!("f{i}"));
                std::fs::write(&p, format!("file {i:02}")).unwrap();
                CachedFile::lazy(p, false)
            })
            .collect();
        let held = files[0].get().unwrap();
        // The limit is process-wide; other tests may add files meanwhile,
        // so only what is local to these files is checked.
        for (i, f) in files.iter().enumerate() {
            let h = f.get().unwrap();
            let mut buf = [0u8; 7];
            h.read_exact_at(&mut buf, 0).unwrap();
            assert_eq!(&buf, format!("file {i:02}").as_bytes());
        }
        let mut buf = [0u8; 7];
        held.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"file 00");
        // A pinned file survives its path being replaced.
        files[1].pin();
        let other = d.path().join("other");
        std::fs::write(&other, "replaced").unwrap();
        std::fs::rename(&other, files[1].path()).unwrap();
        let h = files[1].get().unwrap();
        h.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"file 01");
    }
}
