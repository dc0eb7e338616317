//! A sorted array of fixed-size index entries, kept in memory while its
//! segment is active and read from its file with `pread` once sealed.
//!
//! The active segment's entries live only in memory (no write syscall per
//! index entry); the file is written when the segment is sealed (rolled) or
//! the log is closed. After a crash the active segment's indexes are rebuilt
//! by recovery, so the file never needs to be current while active. Sealed
//! indexes stay on disk and cost no memory: a lookup is a binary search of
//! `pread`s over the (page-cached) file.

use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::error::{IoContext, Result, StorageError};
use crate::file_cache::CachedFile;

/// One fixed-size, big-endian index entry.
pub(crate) trait IndexEntry: Copy + Debug + PartialEq + Send + Sync + 'static {
    const SIZE: usize;
    fn encode(&self, out: &mut [u8]);
    fn decode(b: &[u8]) -> Self;
}

enum State<E> {
    Memory(Vec<E>),
    Disk {
        /// Opened on demand through the file cache.
        file: CachedFile,
        len: usize,
        last: Option<E>,
    },
}

/// Reads this many bytes at once when the whole index is small.
const READ_ALL_BELOW: usize = 8192;

pub(crate) struct IndexFile<E> {
    path: PathBuf,
    state: RwLock<State<E>>,
}

impl<E: IndexEntry> IndexFile<E> {
    /// An in-memory (active) index; the file is not touched.
    pub fn in_memory(path: PathBuf, entries: Vec<E>) -> IndexFile<E> {
        IndexFile {
            path,
            state: RwLock::new(State::Memory(entries)),
        }
    }

    /// Opens an existing index file for `pread` lookups.
    pub fn open_disk(path: PathBuf) -> Result<IndexFile<E>> {
        let file = File::open(&path).ctx(|| format!("open {}", path.display()))?;
        IndexFile::from_handle(path, file, false)
    }

    /// An on-disk index read through `file`, an open handle of the index
    /// that is about to be renamed to `path`: the handle stays pinned
    /// until [`IndexFile::unpin`].
    pub fn from_file(path: PathBuf, file: File) -> Result<IndexFile<E>> {
        IndexFile::from_handle(path, file, true)
    }

    fn from_handle(path: PathBuf, file: File, pinned: bool) -> Result<IndexFile<E>> {
        let bytes = file
            .metadata()
            .ctx(|| format!("stat {}", path.display()))?
            .len() as usize;
        if !bytes.is_multiple_of(E::SIZE) {
            return Err(StorageError::Corrupt(format!(
                "{}: size {bytes} is not a multiple of {}",
                path.display(),
                E::SIZE
            )));
        }
        let len = bytes / E::SIZE;
        let last = if len > 0 {
            Some(read_entry::<E>(&file, &path, len - 1)?)
        } else {
            None
        };
        let file = if pinned {
            CachedFile::pinned(path.clone(), false, file)
        } else {
            CachedFile::with_handle(path.clone(), false, file)
        };
        Ok(IndexFile {
            path,
            state: RwLock::new(State::Disk { file, len, last }),
        })
    }

    /// Reads every entry of an index file.
    pub fn read_all(path: &Path) -> Result<Vec<E>> {
        let bytes = fs::read(path).ctx(|| format!("read {}", path.display()))?;
        if !bytes.len().is_multiple_of(E::SIZE) {
            return Err(StorageError::Corrupt(format!(
                "{}: size {} is not a multiple of {}",
                path.display(),
                bytes.len(),
                E::SIZE
            )));
        }
        Ok(bytes.chunks_exact(E::SIZE).map(E::decode).collect())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn last(&self) -> Option<E> {
        match &*self.state.read() {
            State::Memory(v) => v.last().copied(),
            State::Disk { last, .. } => *last,
        }
    }

    /// The last entry for which `pred` holds, assuming the entries are
    /// partitioned (`pred` true for a prefix, false after).
    pub fn find_last<P: Fn(&E) -> bool>(&self, pred: P) -> Result<Option<E>> {
        let state = self.state.read();
        match &*state {
            State::Memory(v) => {
                let n = v.partition_point(|e| pred(e));
                Ok(n.checked_sub(1).map(|i| v[i]))
            }
            State::Disk { file, len, last } => {
                let len = *len;
                if len == 0 {
                    return Ok(None);
                }
                // Most lookups are near the end (consumers tailing the log).
                if let Some(l) = last {
                    if pred(l) {
                        return Ok(Some(*l));
                    }
                }
                let file = &*file.get()?;
                if len * E::SIZE <= READ_ALL_BELOW {
                    let mut buf = vec![0u8; len * E::SIZE];
                    file.read_exact_at(&mut buf, 0)
                        .ctx(|| format!("read {}", self.path.display()))?;
                    let mut found = None;
                    for e in buf.chunks_exact(E::SIZE).map(E::decode) {
                        if !pred(&e) {
                            break;
                        }
                        found = Some(e);
                    }
                    return Ok(found);
                }
                // Invariant: entries < lo satisfy pred, entries >= hi do not.
                let (mut lo, mut hi) = (0usize, len - 1);
                let mut found = None;
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    let e = read_entry::<E>(file, &self.path, mid)?;
                    if pred(&e) {
                        found = Some(e);
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                Ok(found)
            }
        }
    }

    /// Appends an entry to an in-memory index. Sealed indexes ignore it
    /// (an index is sparse: a missing entry only lengthens a scan).
    pub fn push(&self, e: E) {
        match &mut *self.state.write() {
            State::Memory(v) => v.push(e),
            State::Disk { .. } => {}
        }
    }

    /// Switches a sealed index back to memory (its segment became active
    /// again, after a truncation).
    pub fn to_memory(&self) -> Result<()> {
        let mut state = self.state.write();
        if let State::Disk { .. } = &*state {
            let entries = IndexFile::<E>::read_all(&self.path)?;
            *state = State::Memory(entries);
        }
        Ok(())
    }

    /// Keeps the longest prefix of entries for which `keep` holds (the
    /// index must be in memory).
    pub fn truncate_while(&self, keep: impl Fn(&E) -> bool) {
        if let State::Memory(v) = &mut *self.state.write() {
            let n = v.partition_point(|e| keep(e));
            v.truncate(n);
        }
    }

    fn write_entries(&self, entries: &[E]) -> Result<File> {
        let mut buf = vec![0u8; entries.len() * E::SIZE];
        for (e, out) in entries.iter().zip(buf.chunks_exact_mut(E::SIZE)) {
            e.encode(out);
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.path)
            .ctx(|| format!("create {}", self.path.display()))?;
        file.write_all(&buf)
            .ctx(|| format!("write {}", self.path.display()))?;
        Ok(file)
    }

    /// Writes the in-memory entries to the file (the index stays in
    /// memory); returns the file for the caller to fsync.
    pub fn write_file(&self) -> Result<Option<File>> {
        let state = self.state.read();
        match &*state {
            State::Memory(v) => self.write_entries(v).map(Some),
            State::Disk { .. } => Ok(None),
        }
    }

    /// Writes the file and switches to `pread` lookups, freeing the memory.
    /// Returns the file so the caller can fsync it later. On error the
    /// index stays in memory, unchanged.
    pub fn seal(&self) -> Result<Arc<File>> {
        let mut state = self.state.write();
        match &*state {
            State::Memory(v) => {
                let file = self.write_entries(v)?;
                let synced = Arc::new(
                    file.try_clone()
                        .ctx(|| format!("duplicate the handle of {}", self.path.display()))?,
                );
                let len = v.len();
                let last = v.last().copied();
                *state = State::Disk {
                    file: CachedFile::with_handle(self.path.clone(), false, file),
                    len,
                    last,
                };
                Ok(synced)
            }
            State::Disk { file, .. } => file.get(),
        }
    }

    /// See [`CachedFile::pin`] (an in-memory index has no file to keep).
    pub fn pin(&self) {
        if let State::Disk { file, .. } = &*self.state.read() {
            file.pin();
        }
    }

    /// See [`CachedFile::unpin`].
    pub fn unpin(&self) {
        if let State::Disk { file, .. } = &*self.state.read() {
            file.unpin();
        }
    }

    /// Unlinks the file (missing is fine).
    pub fn delete_file(&self) -> Result<()> {
        remove_if_exists(&self.path)
    }
}

pub(crate) fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).ctx(|| format!("remove {}", path.display())),
    }
}

fn read_entry<E: IndexEntry>(file: &File, path: &Path, i: usize) -> Result<E> {
    let mut buf = [0u8; 16];
    let buf = &mut buf[..E::SIZE];
    file.read_exact_at(buf, (i * E::SIZE) as u64)
        .ctx(|| format!("read {} entry {i}", path.display()))?;
    Ok(E::decode(buf))
}
