//! Sparse offset index (`.index`): 8-byte entries of (offset relative to
//! the segment base u32, file position u32), big-endian, one entry per
//! `index.interval.bytes` of log, each pointing at the *start of a batch*
//! (its base offset). Sorted by both fields.

use std::path::PathBuf;

use crate::error::{Result, StorageError};
use crate::index::{IndexEntry, IndexFile};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

impl IndexEntry for OffsetEntry {
    const SIZE: usize = 8;

    fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.relative_offset.to_be_bytes());
        out[4..8].copy_from_slice(&self.position.to_be_bytes());
    }

    fn decode(b: &[u8]) -> OffsetEntry {
        OffsetEntry {
            relative_offset: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            position: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

pub(crate) struct OffsetIndex {
    base_offset: i64,
    pub(crate) file: IndexFile<OffsetEntry>,
}

impl OffsetIndex {
    pub fn in_memory(path: PathBuf, base_offset: i64, entries: Vec<OffsetEntry>) -> OffsetIndex {
        OffsetIndex {
            base_offset,
            file: IndexFile::in_memory(path, entries),
        }
    }

    /// A sealed index read through an already open `file` (see
    /// [`IndexFile::from_file`]).
    pub fn from_file(path: PathBuf, base_offset: i64, file: std::fs::File) -> Result<OffsetIndex> {
        Ok(OffsetIndex {
            base_offset,
            file: IndexFile::from_file(path, file)?,
        })
    }

    pub fn open_disk(path: PathBuf, base_offset: i64) -> Result<OffsetIndex> {
        Ok(OffsetIndex {
            base_offset,
            file: IndexFile::open_disk(path)?,
        })
    }

    /// Checks the entries against the log file: sorted, and every
    /// position inside the log.
    pub fn check_entries(entries: &[OffsetEntry], log_size: u64) -> Result<()> {
        let mut prev: Option<OffsetEntry> = None;
        for e in entries {
            if u64::from(e.position) >= log_size {
                return Err(StorageError::Corrupt(format!(
                    "index entry position {} beyond log size {log_size}",
                    e.position
                )));
            }
            if let Some(p) = prev {
                if e.relative_offset <= p.relative_offset || e.position <= p.position {
                    return Err(StorageError::Corrupt("index entries out of order".into()));
                }
            }
            prev = Some(*e);
        }
        Ok(())
    }

    /// Cheap sanity check of a sealed index: its last entry lies inside
    /// the log.
    pub fn check_last(&self, log_size: u64) -> Result<()> {
        match self.file.last() {
            Some(e) if u64::from(e.position) >= log_size => Err(StorageError::Corrupt(format!(
                "{}: last entry position {} beyond log size {log_size}",
                self.file.path().display(),
                e.position
            ))),
            _ => Ok(()),
        }
    }

    fn absolute(&self, e: OffsetEntry) -> (i64, u64) {
        (
            self.base_offset + i64::from(e.relative_offset),
            u64::from(e.position),
        )
    }

    /// The (offset, position) of the last indexed batch whose base offset is
    /// `<= offset`; `(base, 0)` when there is none.
    pub fn lookup(&self, offset: i64) -> Result<(i64, u64)> {
        let rel = offset - self.base_offset;
        let found = self
            .file
            .find_last(|e| i64::from(e.relative_offset) <= rel)?;
        Ok(found.map_or((self.base_offset, 0), |e| self.absolute(e)))
    }

    /// The last indexed batch starting at or before `max_position` whose
    /// base offset is `<= max_offset`.
    pub fn lookup_bounded(&self, max_position: u64, max_offset: i64) -> Result<Option<(i64, u64)>> {
        let rel = max_offset - self.base_offset;
        let found = self.file.find_last(|e| {
            u64::from(e.position) <= max_position && i64::from(e.relative_offset) <= rel
        })?;
        Ok(found.map(|e| self.absolute(e)))
    }

    pub fn push(&self, offset: i64, position: u64) {
        self.file.push(OffsetEntry {
            relative_offset: (offset - self.base_offset) as u32,
            position: position as u32,
        });
    }

    /// The position of the last entry, 0 when empty.
    pub fn last_position(&self) -> u64 {
        self.file.last().map_or(0, |e| u64::from(e.position))
    }

    /// Drops entries at or beyond `position` (in-memory index).
    pub fn truncate_to_position(&self, position: u64) {
        self.file
            .truncate_while(|e| u64::from(e.position) < position);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<OffsetEntry> {
        (1..=2000u32)
            .map(|i| OffsetEntry {
                relative_offset: i * 10,
                position: i * 1000,
            })
            .collect()
    }

    #[test]
    fn lookup_memory_and_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000100.index");
        let idx = OffsetIndex::in_memory(path.clone(), 100, entries());
        assert_eq!(idx.lookup(100).unwrap(), (100, 0));
        assert_eq!(idx.lookup(109).unwrap(), (100, 0));
        assert_eq!(idx.lookup(110).unwrap(), (110, 1000));
        assert_eq!(idx.lookup(555).unwrap(), (550, 45000));
        assert_eq!(idx.lookup(50_000).unwrap(), (20_100, 2_000_000));
        assert_eq!(
            idx.lookup_bounded(45_500, 10_000).unwrap(),
            Some((550, 45000))
        );
        assert_eq!(idx.lookup_bounded(45_500, 300).unwrap(), Some((300, 20000)));
        assert_eq!(idx.lookup_bounded(999, 10_000).unwrap(), None);
        idx.file.seal().unwrap();
        let disk = OffsetIndex::open_disk(path, 100).unwrap();
        for probe in (0i64..21_000).step_by(7) {
            assert_eq!(
                disk.lookup(probe).unwrap(),
                idx.lookup(probe).unwrap(),
                "{probe}"
            );
        }
        for (p, o) in [
            (45_500u64, 10_000i64),
            (45_500, 300),
            (999, 10_000),
            (10, 0),
        ] {
            assert_eq!(
                disk.lookup_bounded(p, o).unwrap(),
                idx.lookup_bounded(p, o).unwrap()
            );
        }
        OffsetIndex::check_entries(&entries(), 2_000_001).unwrap();
        assert!(OffsetIndex::check_entries(&entries(), 2_000_000).is_err());
    }
}
