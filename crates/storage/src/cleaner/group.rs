//! Writing one cleaned group: [`GroupWriter`] appends the cleaned batches
//! of neighbouring segments to `<base>.log.cleaned`, keeps their offset and
//! time indexes in memory like the append path, can take the last segment
//! out again (when the group outgrew `segment.bytes`), and finishes by
//! fsyncing the log and writing the indexes ([`CleanedGroup`]).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use fjord_protocol::records::BatchHeader;

use super::files::{cleaned_path, create_file, discard_cleaned, write_synced};
use super::plan::{delete_horizon, HORIZON_NONE, READ_CHUNK};
use super::rewrite::{Filter, Outcome};
use crate::error::{IoContext, Result, StorageError};
use crate::index::IndexEntry;
use crate::offset_index::OffsetEntry;
use crate::segment::{
    for_each_batch, IndexCadence, Segment, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX,
};
use crate::time_index::TimeEntry;

/// The files of one cleaned group, written and fsynced.
pub(crate) struct CleanedGroup {
    pub(crate) base: i64,
    pub(crate) log: File,
    pub(crate) size: u64,
    pub(crate) index: File,
    pub(crate) time_index: File,
    pub(crate) max_timestamp: (i64, i64),
    /// Earliest delete horizon among its batches (`HORIZON_NONE`: none).
    pub(crate) horizon: i64,
}

/// Per-segment record counts, added to the run's stats once the segment
/// stays in its group.
#[derive(Clone, Copy, Default)]
pub(crate) struct Counts {
    pub(crate) records_before: u64,
    pub(crate) records_after: u64,
    pub(crate) tombstones_removed: u64,
}

/// Where a [`GroupWriter`] stood before a segment was added.
pub(crate) struct Mark {
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
pub(crate) struct GroupWriter {
    dir: PathBuf,
    base: i64,
    log_path: PathBuf,
    out: Option<BufWriter<File>>,
    /// Bytes written so far.
    pub(crate) pos: u64,
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
    pub(crate) fn new(dir: &Path, base: i64, interval: u64) -> Result<GroupWriter> {
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
    pub(crate) fn add(&mut self, seg: &Segment, filter: &Filter<'_>) -> Result<Counts> {
        filter.check_open()?;
        let mut counts = Counts::default();
        self.segments += 1;
        if self.segments > 1 {
            self.changed = true;
        }
        for_each_batch(seg, READ_CHUNK, |h, raw| {
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

    pub(crate) fn mark(&self) -> Mark {
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
    pub(crate) fn rollback(&mut self, m: Mark) -> Result<()> {
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
    pub(crate) fn finish(mut self) -> Result<Option<CleanedGroup>> {
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

/// Writes and fsyncs an index file holding `entries`.
fn write_index_file<E: IndexEntry>(path: &Path, entries: &[E]) -> Result<File> {
    let mut buf = vec![0u8; entries.len() * E::SIZE];
    for (e, out) in entries.iter().zip(buf.chunks_exact_mut(E::SIZE)) {
        e.encode(out);
    }
    write_synced(path, &buf)
}
