//! Time index (`.timeindex`): 12-byte entries of (timestamp i64, offset
//! relative to the segment base u32), big-endian. An entry is added next to
//! an offset index entry when the segment's running max timestamp has
//! grown since the last time entry, plus a final one when the segment is
//! sealed or the log closed; so the last entry of a sealed segment holds
//! its max timestamp. The offset is the base offset of the first batch
//! that reached that max. Timestamps strictly increase, offsets never
//! decrease.

use std::path::PathBuf;

use crate::error::{Result, StorageError};
use crate::index::{IndexEntry, IndexFile};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: u32,
}

impl IndexEntry for TimeEntry {
    const SIZE: usize = 12;

    fn encode(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.relative_offset.to_be_bytes());
    }

    fn decode(b: &[u8]) -> TimeEntry {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[0..8]);
        TimeEntry {
            timestamp: i64::from_be_bytes(ts),
            relative_offset: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        }
    }
}

pub(crate) struct TimeIndex {
    base_offset: i64,
    pub(crate) file: IndexFile<TimeEntry>,
}

impl TimeIndex {
    pub fn in_memory(path: PathBuf, base_offset: i64, entries: Vec<TimeEntry>) -> TimeIndex {
        TimeIndex {
            base_offset,
            file: IndexFile::in_memory(path, entries),
        }
    }

    /// A sealed index read through an already open `file` (see
    /// [`IndexFile::from_file`]).
    pub fn from_file(path: PathBuf, base_offset: i64, file: std::fs::File) -> Result<TimeIndex> {
        Ok(TimeIndex {
            base_offset,
            file: IndexFile::from_file(path, file)?,
        })
    }

    pub fn open_disk(path: PathBuf, base_offset: i64) -> Result<TimeIndex> {
        Ok(TimeIndex {
            base_offset,
            file: IndexFile::open_disk(path)?,
        })
    }

    /// Checks ordering.
    pub fn check_entries(entries: &[TimeEntry]) -> Result<()> {
        for w in entries.windows(2) {
            if w[1].timestamp <= w[0].timestamp || w[1].relative_offset < w[0].relative_offset {
                return Err(StorageError::Corrupt(
                    "time index entries out of order".into(),
                ));
            }
        }
        Ok(())
    }

    /// The last entry as (timestamp, absolute offset).
    pub fn last(&self) -> Option<(i64, i64)> {
        self.file
            .last()
            .map(|e| (e.timestamp, self.base_offset + i64::from(e.relative_offset)))
    }

    /// The last entry whose timestamp is `< timestamp`: every batch before
    /// its offset has a max timestamp below `timestamp`.
    pub fn lookup_before(&self, timestamp: i64) -> Result<Option<(i64, i64)>> {
        let found = self.file.find_last(|e| e.timestamp < timestamp)?;
        Ok(found.map(|e| (e.timestamp, self.base_offset + i64::from(e.relative_offset))))
    }

    pub fn push(&self, timestamp: i64, offset: i64) {
        self.file.push(TimeEntry {
            timestamp,
            relative_offset: (offset - self.base_offset) as u32,
        });
    }

    /// Drops entries whose offset is `>= offset` (in-memory index).
    pub fn truncate_to_offset(&self, offset: i64) {
        let rel = offset - self.base_offset;
        self.file
            .truncate_while(|e| i64::from(e.relative_offset) < rel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.timeindex");
        let entries: Vec<TimeEntry> = (0..1000u32)
            .map(|i| TimeEntry {
                timestamp: 1000 + i64::from(i) * 10,
                relative_offset: i * 3,
            })
            .collect();
        TimeIndex::check_entries(&entries).unwrap();
        let idx = TimeIndex::in_memory(path.clone(), 50, entries);
        assert_eq!(idx.lookup_before(1000).unwrap(), None);
        assert_eq!(idx.lookup_before(1001).unwrap(), Some((1000, 50)));
        assert_eq!(idx.lookup_before(1015).unwrap(), Some((1010, 53)));
        assert_eq!(idx.last(), Some((10_990, 50 + 2997)));
        idx.file.seal().unwrap();
        let disk = TimeIndex::open_disk(path, 50).unwrap();
        for ts in (900..11_100).step_by(3) {
            assert_eq!(
                disk.lookup_before(ts).unwrap(),
                idx.lookup_before(ts).unwrap()
            );
        }
        assert_eq!(disk.last(), idx.last());
    }
}
