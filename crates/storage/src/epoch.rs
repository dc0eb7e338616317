//! Leader epoch cache and its `leader-epoch-checkpoint` file: the offset at
//! which each leader epoch started, used by OffsetForLeaderEpoch and for
//! replica truncation.
//!
//! File format (Kafka's): a version line `0`, a count line, then one
//! `epoch start_offset` line per entry.

use std::path::{Path, PathBuf};

use crate::checkpoint;
use crate::error::Result;

pub const LEADER_EPOCH_CHECKPOINT_FILE: &str = "leader-epoch-checkpoint";

/// One leader epoch and the first offset written in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

/// Entries sorted by epoch and by start offset, both strictly increasing.
#[derive(Clone, Debug)]
pub struct LeaderEpochCache {
    dir: PathBuf,
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    /// An empty cache for `dir` (nothing read or written).
    pub(crate) fn empty(dir: &Path) -> LeaderEpochCache {
        LeaderEpochCache {
            dir: dir.to_path_buf(),
            entries: Vec::new(),
        }
    }

    /// Loads the checkpoint. `Ok(None)` when it is missing or malformed
    /// (the caller rebuilds it from the log).
    pub(crate) fn load(dir: &Path) -> Result<Option<LeaderEpochCache>> {
        let Some(text) = checkpoint::read_optional(dir, LEADER_EPOCH_CHECKPOINT_FILE)? else {
            return Ok(None);
        };
        let parsed = parse(&text);
        if parsed.is_none() {
            tracing::warn!(dir = %dir.display(), "malformed leader-epoch-checkpoint; rebuilding");
        }
        Ok(parsed.map(|entries| LeaderEpochCache {
            dir: dir.to_path_buf(),
            entries,
        }))
    }

    /// Writes the checkpoint file atomically and durably.
    pub(crate) fn flush(&self) -> Result<()> {
        self.flush_with(checkpoint::Sync::Now)
    }

    /// Writes the checkpoint file atomically, durably as `sync` says.
    pub(crate) fn flush_with(&self, sync: checkpoint::Sync) -> Result<()> {
        let mut text = format!("0\n{}\n", self.entries.len());
        for e in &self.entries {
            text.push_str(&format!("{} {}\n", e.epoch, e.start_offset));
        }
        checkpoint::write_atomic_with(
            &self.dir,
            LEADER_EPOCH_CHECKPOINT_FILE,
            text.as_bytes(),
            sync,
        )
    }

    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn latest(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    /// Records that `epoch` starts at `start_offset` (a batch with a new
    /// epoch was appended). Entries that conflict (an epoch `>=` this one,
    /// or starting at or after `start_offset`) are removed first, as Kafka
    /// does. Returns whether anything changed.
    pub(crate) fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 {
            return false;
        }
        if let Some(last) = self.entries.last() {
            if last.epoch == epoch && last.start_offset <= start_offset {
                return false;
            }
        }
        self.entries
            .retain(|e| e.epoch < epoch && e.start_offset < start_offset);
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        true
    }

    /// Removes entries starting at or after `end_offset` (the log was
    /// truncated to end there).
    pub(crate) fn truncate_from_end(&mut self, end_offset: i64) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.start_offset < end_offset);
        before != self.entries.len()
    }

    /// Drops entries wholly below `start_offset`; the last entry starting
    /// below it is moved up to start there.
    pub(crate) fn truncate_from_start(&mut self, start_offset: i64) -> bool {
        let below = self
            .entries
            .partition_point(|e| e.start_offset < start_offset);
        if below == 0 {
            return false;
        }
        let mut keep = self.entries[below - 1];
        keep.start_offset = start_offset;
        // If the next entry also starts exactly at start_offset it wins.
        let next_starts_here = self
            .entries
            .get(below)
            .is_some_and(|e| e.start_offset == start_offset);
        self.entries.drain(..below);
        if !next_starts_here {
            self.entries.insert(0, keep);
        }
        true
    }

    /// OffsetForLeaderEpoch: `(epoch, end_offset)` where `end_offset` is the
    /// start offset of the first epoch above `requested`, or `log_end_offset`
    /// when `requested` is the latest epoch. For an epoch the cache does not
    /// hold, the answer is for the largest epoch below it (or `requested`
    /// itself when it is below every known epoch). `None` (Kafka's
    /// UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET) when the cache is empty,
    /// `requested` is negative, or it is above every known epoch.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> Option<(i32, i64)> {
        if requested < 0 {
            return None;
        }
        let latest = self.entries.last()?;
        if latest.epoch == requested {
            return Some((requested, log_end_offset));
        }
        let higher = self.entries.iter().find(|e| e.epoch > requested)?;
        let floor = self.entries.iter().rev().find(|e| e.epoch <= requested);
        Some((floor.map_or(requested, |f| f.epoch), higher.start_offset))
    }
}

fn parse(text: &str) -> Option<Vec<EpochEntry>> {
    let mut lines = text.lines();
    if lines.next()?.trim() != "0" {
        return None;
    }
    let count: usize = lines.next()?.trim().parse().ok()?;
    let mut entries = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let line = lines.next()?;
        let mut parts = line.split_whitespace();
        let epoch = parts.next()?.parse().ok()?;
        let start_offset = parts.next()?.parse().ok()?;
        entries.push(EpochEntry {
            epoch,
            start_offset,
        });
    }
    let sorted = entries
        .windows(2)
        .all(|w| w[0].epoch < w[1].epoch && w[0].start_offset < w[1].start_offset);
    sorted.then_some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(entries: &[(i32, i64)]) -> LeaderEpochCache {
        let mut c = LeaderEpochCache::empty(Path::new("/nonexistent"));
        for &(e, o) in entries {
            assert!(c.assign(e, o));
        }
        c
    }

    #[test]
    fn end_offsets() {
        let c = cache(&[(1, 0), (3, 100), (5, 250)]);
        assert_eq!(c.end_offset_for(5, 300), Some((5, 300)));
        assert_eq!(c.end_offset_for(3, 300), Some((3, 250)));
        assert_eq!(c.end_offset_for(4, 300), Some((3, 250)));
        assert_eq!(c.end_offset_for(2, 300), Some((1, 100)));
        assert_eq!(c.end_offset_for(0, 300), Some((0, 0)));
        assert_eq!(c.end_offset_for(6, 300), None);
        assert_eq!(c.end_offset_for(-1, 300), None);
        assert_eq!(cache(&[]).end_offset_for(0, 0), None);
    }

    #[test]
    fn assign_and_truncate() {
        let mut c = cache(&[(1, 0), (3, 100), (5, 250)]);
        assert!(!c.assign(5, 260));
        // A lower epoch at a later offset replaces the conflicting ones.
        assert!(c.assign(4, 200));
        assert_eq!(
            c.entries(),
            &[
                EpochEntry {
                    epoch: 1,
                    start_offset: 0
                },
                EpochEntry {
                    epoch: 3,
                    start_offset: 100
                },
                EpochEntry {
                    epoch: 4,
                    start_offset: 200
                }
            ]
        );
        assert!(c.truncate_from_end(150));
        assert_eq!(
            c.latest(),
            Some(EpochEntry {
                epoch: 3,
                start_offset: 100
            })
        );
        assert!(c.truncate_from_start(120));
        assert_eq!(
            c.entries(),
            &[EpochEntry {
                epoch: 3,
                start_offset: 120
            }]
        );
        assert!(!c.truncate_from_start(120));
        let mut c = cache(&[(1, 0), (3, 100)]);
        assert!(c.truncate_from_start(100));
        assert_eq!(
            c.entries(),
            &[EpochEntry {
                epoch: 3,
                start_offset: 100
            }]
        );
    }

    #[test]
    fn checkpoint_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let mut c = LeaderEpochCache::empty(d.path());
        c.assign(0, 0);
        c.assign(7, 42);
        c.flush().unwrap();
        let loaded = LeaderEpochCache::load(d.path()).unwrap().unwrap();
        assert_eq!(loaded.entries(), c.entries());
        std::fs::write(d.path().join(LEADER_EPOCH_CHECKPOINT_FILE), "0\n2\n1 5\n").unwrap();
        assert!(LeaderEpochCache::load(d.path()).unwrap().is_none());
    }
}
