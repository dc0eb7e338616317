//! The quorum's durable Raft log (openraft's `RaftLogStorage`).
//!
//! Layout under the quorum directory:
//! - `log/<first index, 20 digits>.log`: segments of entries, each framed as
//!   `length u32 BE | crc32c u32 BE | JSON entry`; a new segment starts once
//!   the active one reaches `segment_bytes`.
//! - `vote.json`, `committed.json`, `purged.json`: the vote, the last
//!   committed log id and the last purged log id, each replaced atomically.
//!
//! Durability: appends are written and fsynced before openraft's callback
//! fires; truncation is fsynced before it returns; the vote is durable
//! before `save_vote` returns. At open the segments are scanned: the first
//! frame that is short, fails its CRC, does not parse or breaks the index
//! sequence is a torn tail: the segment is cut there and later segments go,
//! as Kafka's log recovery. Purged segments are deleted whole once every
//! entry in them is behind the purge point.
//!
//! The un-purged entries are also kept in memory (the metadata log is small
//! and purged behind snapshots), so reads never touch the disk; file I/O
//! runs on blocking threads.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftLogReader, Vote};

use super::fsutil::{read_json, remove_temp_files, sync_dir, write_json};
use super::{Entry, NodeId, StorageError, TypeConfig};

/// Frame header: length then CRC32C of the payload.
const FRAME_HEADER: usize = 8;
/// No entry is larger than this; a larger length is a torn or corrupt frame.
const MAX_ENTRY_BYTES: usize = 64 << 20;

/// The in-memory view of the log, shared with readers.
#[derive(Default)]
struct MemLog {
    entries: BTreeMap<u64, Entry>,
    last_purged: Option<LogId<NodeId>>,
}

/// One segment file.
struct Segment {
    path: PathBuf,
    /// Bytes of valid frames in the file.
    len: u64,
}

/// The segment files; touched only on blocking threads, one at a time.
struct Disk {
    log_dir: PathBuf,
    segments: BTreeMap<u64, Segment>,
    /// Where each un-purged entry starts: (segment base, byte position).
    positions: BTreeMap<u64, (u64, u64)>,
    /// The last segment, open for appending.
    active: Option<File>,
    segment_bytes: u64,
}

/// openraft's log storage for the metadata quorum.
pub struct LogStore {
    dir: PathBuf,
    mem: Arc<RwLock<MemLog>>,
    disk: Arc<Mutex<Disk>>,
}

/// A cheap reader of the in-memory log, for openraft's replication tasks.
#[derive(Clone)]
pub struct LogReader {
    mem: Arc<RwLock<MemLog>>,
}

fn io_err(subject: ErrorSubject<NodeId>, verb: ErrorVerb, e: io::Error) -> StorageError {
    StorageError::from_io_error(subject, verb, e)
}

/// Replaces one of the pointer files (vote, committed) atomically, on a
/// blocking thread.
async fn write_pointer<T>(
    path: PathBuf,
    value: T,
    subject: ErrorSubject<NodeId>,
) -> Result<(), StorageError>
where
    T: serde::Serialize + Send + 'static,
{
    tokio::task::spawn_blocking(move || write_json(&path, &value))
        .await
        .map_err(io::Error::other)
        .and_then(|r| r)
        .map_err(|e| io_err(subject, ErrorVerb::Write, e))
}

fn segment_name(base: u64) -> String {
    format!("{base:020}.log")
}

/// Runs `f` on the disk state on a blocking thread.
async fn with_disk<T: Send + 'static>(
    disk: &Arc<Mutex<Disk>>,
    f: impl FnOnce(&mut Disk) -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let disk = Arc::clone(disk);
    tokio::task::spawn_blocking(move || {
        let mut guard = disk.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    })
    .await
    .map_err(io::Error::other)?
}

impl LogStore {
    /// Opens (or creates) the log under `dir`, recovering a torn tail.
    pub fn open(dir: &Path, segment_bytes: u64) -> io::Result<LogStore> {
        let log_dir = dir.join("log");
        fs::create_dir_all(&log_dir)?;
        remove_temp_files(dir)?;
        let last_purged: Option<LogId<NodeId>> = read_json(&dir.join("purged.json"))?;
        let mut disk = Disk {
            log_dir: log_dir.clone(),
            segments: BTreeMap::new(),
            positions: BTreeMap::new(),
            active: None,
            segment_bytes: segment_bytes.max(1),
        };
        let mut bases = Vec::new();
        for dirent in fs::read_dir(&log_dir)? {
            let dirent = dirent?;
            let name = dirent.file_name();
            let name = name.to_string_lossy();
            if let Some(base) = name
                .strip_suffix(".log")
                .and_then(|b| b.parse::<u64>().ok())
            {
                bases.push(base);
            }
        }
        bases.sort_unstable();
        let mut entries = BTreeMap::new();
        let mut next_index: Option<u64> = None;
        let mut torn = false;
        for base in bases {
            let path = log_dir.join(segment_name(base));
            if torn {
                tracing::warn!(segment = %path.display(), "removing a segment after a torn log tail");
                fs::remove_file(&path)?;
                continue;
            }
            let bytes = fs::read(&path)?;
            let (valid_len, found) = scan(&bytes, &mut next_index);
            if valid_len < bytes.len() as u64 {
                tracing::warn!(
                    segment = %path.display(),
                    valid = valid_len,
                    size = bytes.len(),
                    "truncating a torn log tail"
                );
                let file = OpenOptions::new().write(true).open(&path)?;
                file.set_len(valid_len)?;
                file.sync_all()?;
                torn = true;
            }
            for (pos, entry) in found {
                let index = entry.log_id.index;
                disk.positions.insert(index, (base, pos));
                entries.insert(index, entry);
            }
            disk.segments.insert(
                base,
                Segment {
                    path,
                    len: valid_len,
                },
            );
        }
        if torn {
            sync_dir(&log_dir)?;
        }
        if let Some(purged) = last_purged {
            entries.retain(|index, _| *index > purged.index);
            disk.drop_purged(purged.index)?;
        }
        disk.open_active()?;
        Ok(LogStore {
            dir: dir.to_path_buf(),
            mem: Arc::new(RwLock::new(MemLog {
                entries,
                last_purged,
            })),
            disk: Arc::new(Mutex::new(disk)),
        })
    }

    fn mem_read(&self) -> std::sync::RwLockReadGuard<'_, MemLog> {
        self.mem.read().unwrap_or_else(|p| p.into_inner())
    }

    fn mem_write(&self) -> std::sync::RwLockWriteGuard<'_, MemLog> {
        self.mem.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// One entry as a frame: length, CRC32C, JSON.
fn encode_frame(entry: &Entry) -> Result<Vec<u8>, serde_json::Error> {
    let payload = serde_json::to_vec(entry)?;
    let mut frame = Vec::with_capacity(FRAME_HEADER + payload.len());
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&crc32c::crc32c(&payload).to_be_bytes());
    frame.extend_from_slice(&payload);
    Ok(frame)
}

/// Parses the frames of one segment; returns the length of the valid
/// prefix and its entries with their positions. `next_index` carries the
/// expected index across segments.
fn scan(bytes: &[u8], next_index: &mut Option<u64>) -> (u64, Vec<(u64, Entry)>) {
    let mut pos = 0usize;
    let mut found = Vec::new();
    while bytes.len() - pos >= FRAME_HEADER {
        let len = u32::from_be_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]])
            as usize;
        let crc = u32::from_be_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]);
        if len > MAX_ENTRY_BYTES || bytes.len() - pos - FRAME_HEADER < len {
            break;
        }
        let payload = &bytes[pos + FRAME_HEADER..pos + FRAME_HEADER + len];
        if crc32c::crc32c(payload) != crc {
            break;
        }
        let Ok(entry) = serde_json::from_slice::<Entry>(payload) else {
            break;
        };
        if next_index.is_some_and(|next| entry.log_id.index != next) {
            break;
        }
        *next_index = Some(entry.log_id.index + 1);
        found.push((pos as u64, entry));
        pos += FRAME_HEADER + len;
    }
    (pos as u64, found)
}

impl Disk {
    /// Opens the last segment for appending, if there is one.
    fn open_active(&mut self) -> io::Result<()> {
        self.active = match self.segments.values().next_back() {
            Some(segment) => Some(OpenOptions::new().append(true).open(&segment.path)?),
            None => None,
        };
        Ok(())
    }

    /// Appends framed entries and fsyncs them.
    fn append(&mut self, frames: Vec<(u64, Vec<u8>)>) -> io::Result<()> {
        let mut rolled = false;
        for (index, frame) in frames {
            let full = self
                .segments
                .values()
                .next_back()
                .map_or(true, |s| s.len >= self.segment_bytes);
            if full || self.active.is_none() {
                if let Some(file) = self.active.take() {
                    file.sync_data()?;
                }
                let path = self.log_dir.join(segment_name(index));
                let file = OpenOptions::new()
                    .create(true)
                    .truncate(true)
                    .write(true)
                    .open(&path)?;
                drop(file);
                self.segments.insert(index, Segment { path, len: 0 });
                self.open_active()?;
                rolled = true;
            }
            let (base, segment) = self
                .segments
                .iter_mut()
                .next_back()
                .ok_or_else(|| io::Error::other("no active segment"))?;
            let file = self
                .active
                .as_mut()
                .ok_or_else(|| io::Error::other("no active segment"))?;
            file.write_all(&frame)?;
            self.positions.insert(index, (*base, segment.len));
            segment.len += frame.len() as u64;
        }
        if let Some(file) = &self.active {
            file.sync_data()?;
        }
        if rolled {
            sync_dir(&self.log_dir)?;
        }
        Ok(())
    }

    /// Removes every entry from `index` on, durably.
    fn truncate(&mut self, index: u64) -> io::Result<()> {
        let Some(&(base, pos)) = self.positions.get(&index) else {
            return Ok(());
        };
        self.active = None;
        let later: Vec<u64> = self.segments.range(base + 1..).map(|(b, _)| *b).collect();
        for b in later {
            if let Some(segment) = self.segments.remove(&b) {
                fs::remove_file(&segment.path)?;
            }
        }
        if let Some(segment) = self.segments.get_mut(&base) {
            let file = OpenOptions::new().write(true).open(&segment.path)?;
            file.set_len(pos)?;
            file.sync_all()?;
            segment.len = pos;
        }
        self.positions.split_off(&index);
        sync_dir(&self.log_dir)?;
        self.open_active()
    }

    /// Deletes the segments whose entries are all at or behind `index`.
    fn drop_purged(&mut self, index: u64) -> io::Result<()> {
        let last_index = self.positions.keys().next_back().copied();
        let bases: Vec<u64> = self.segments.keys().copied().collect();
        let mut removed = false;
        for (i, base) in bases.iter().enumerate() {
            let segment_last = match bases.get(i + 1) {
                Some(next) => next.checked_sub(1),
                None => last_index.filter(|last| *last >= *base),
            };
            // An empty last segment (no entries) holds nothing to keep.
            let behind = match segment_last {
                Some(last) => last <= index,
                None => i + 1 == bases.len() && *base <= index,
            };
            if !behind {
                break;
            }
            if i + 1 == bases.len() {
                self.active = None;
            }
            if let Some(segment) = self.segments.remove(base) {
                fs::remove_file(&segment.path)?;
                removed = true;
            }
        }
        self.positions = self.positions.split_off(&(index + 1));
        if removed {
            sync_dir(&self.log_dir)?;
        }
        Ok(())
    }
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let mem = self.mem.read().unwrap_or_else(|p| p.into_inner());
        Ok(mem.entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let mem = self.mem_read();
        Ok(mem.entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let mem = self.mem_read();
        let last = mem
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(mem.last_purged);
        Ok(LogState {
            last_purged_log_id: mem.last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        LogReader {
            mem: Arc::clone(&self.mem),
        }
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        write_pointer(self.dir.join("vote.json"), *vote, ErrorSubject::Vote).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        read_json(&self.dir.join("vote.json"))
            .map_err(|e| io_err(ErrorSubject::Vote, ErrorVerb::Read, e))
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError> {
        write_pointer(
            self.dir.join("committed.json"),
            committed,
            ErrorSubject::Store,
        )
        .await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError> {
        let committed: Option<Option<LogId<NodeId>>> = read_json(&self.dir.join("committed.json"))
            .map_err(|e| io_err(ErrorSubject::Store, ErrorVerb::Read, e))?;
        let committed = committed.flatten();
        // A committed pointer past the end of the log means the tail it
        // covered was lost (a torn or corrupt tail cut at open): only what
        // is still here can be re-applied; the leader sends the rest again.
        let mem = self.mem_read();
        let last = mem
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(mem.last_purged);
        match (committed, last) {
            (Some(c), Some(l)) if c.index > l.index => {
                tracing::warn!(committed = %c, last = %l, "committed pointer past the log end");
                Ok(Some(l))
            }
            (Some(c), None) => {
                tracing::warn!(committed = %c, "committed pointer on an empty log");
                Ok(None)
            }
            _ => Ok(committed),
        }
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let mut frames = Vec::with_capacity(entries.len());
        for entry in &entries {
            let frame = encode_frame(entry).map_err(|e| {
                io_err(
                    ErrorSubject::Log(entry.log_id),
                    ErrorVerb::Write,
                    io::Error::other(e),
                )
            })?;
            frames.push((entry.log_id.index, frame));
        }
        {
            // Readers may see entries before they are durable: Raft counts
            // this node's copy only once the callback fires.
            let mut mem = self.mem_write();
            for entry in entries {
                mem.entries.insert(entry.log_id.index, entry);
            }
        }
        let result = with_disk(&self.disk, move |disk| disk.append(frames)).await;
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                let message = e.to_string();
                callback.log_io_completed(Err(e));
                Err(io_err(
                    ErrorSubject::Logs,
                    ErrorVerb::Write,
                    io::Error::other(message),
                ))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError> {
        self.mem_write().entries.split_off(&log_id.index);
        let index = log_id.index;
        with_disk(&self.disk, move |disk| disk.truncate(index))
            .await
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, e))
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError> {
        let path = self.dir.join("purged.json");
        let index = log_id.index;
        with_disk(&self.disk, move |disk| {
            write_json(&path, &Some(log_id))?;
            disk.drop_purged(index)
        })
        .await
        .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, e))?;
        let mut mem = self.mem_write();
        mem.entries = mem.entries.split_off(&(index + 1));
        mem.last_purged = Some(log_id);
        Ok(())
    }
}

#[cfg(test)]
#[path = "log_store_tests.rs"]
mod tests;
