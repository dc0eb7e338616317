//! Swapping a cleaned group in, crash-safely (see the `cleaner` module
//! docs): [`PreparedSwap`] writes the manifest under a temporary name and
//! opens the new segment; the log commits it under its append lock
//! ([`PreparedSwap::commit`], the rename of the manifest), then
//! [`PreparedSwap::apply`] unlinks the old segments and renames the cleaned
//! files into place. [`finish_interrupted_swaps`] completes or discards
//! swaps cut short by a crash when a log opens.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::files::{
    cleaned_path, discard_cleaned, swap_manifest_name, write_synced, CLEANED_SUFFIX, SWAP_SUFFIX,
};
use super::group::CleanedGroup;
use crate::checkpoint;
use crate::error::{IoContext, Result, StorageError};
use crate::index::remove_if_exists;
use crate::segment::{segment_file_name, Segment, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};

/// A cleaned group ready to replace the segments it was written from.
pub(crate) struct PreparedSwap {
    dir: PathBuf,
    /// Base offset of the group (its first segment's).
    pub(crate) base: i64,
    /// Base offsets of the segments it replaces.
    pub(crate) olds: Vec<i64>,
    manifest_tmp: PathBuf,
}

impl PreparedSwap {
    /// Writes and fsyncs the manifest `<base>.swap.tmp` listing the base
    /// offsets of `group`, and opens the cleaned files as a segment (to be
    /// put in the log once the swap is applied). Leaves nothing behind on
    /// error.
    pub(crate) fn prepare(
        dir: &Path,
        group: &[Arc<Segment>],
        cleaned: CleanedGroup,
    ) -> Result<(PreparedSwap, Segment)> {
        let base = cleaned.base;
        let olds: Vec<i64> = group.iter().map(|s| s.base_offset).collect();
        let manifest_tmp = dir.join(format!("{}.tmp", swap_manifest_name(base)));
        let text: String = std::iter::once("0".to_string())
            .chain(olds.iter().map(|b| b.to_string()))
            .map(|l| l + "\n")
            .collect();
        let swap = PreparedSwap {
            dir: dir.to_path_buf(),
            base,
            olds,
            manifest_tmp,
        };
        let prepared = write_synced(&swap.manifest_tmp, text.as_bytes()).and_then(|_| {
            Segment::from_cleaned(
                dir,
                base,
                cleaned.log,
                cleaned.size,
                cleaned.index,
                cleaned.time_index,
                cleaned.max_timestamp,
            )
        });
        match prepared {
            Ok(segment) => Ok((swap, segment)),
            Err(e) => {
                swap.abandon();
                Err(e)
            }
        }
    }

    /// Gives the swap up before its commit: removes the cleaned files and
    /// the temporary manifest.
    pub(crate) fn abandon(&self) {
        discard_cleaned(&self.dir, self.base);
        if let Err(e) = remove_if_exists(&self.manifest_tmp) {
            tracing::warn!("cannot remove a cleaner manifest: {e}");
        }
    }

    /// The commit point: renames the manifest to `<base>.swap` (durable
    /// with the directory fsync of [`PreparedSwap::apply`]). Abandons the
    /// swap on error.
    pub(crate) fn commit(&self) -> Result<()> {
        let manifest = self.dir.join(swap_manifest_name(self.base));
        if let Err(e) = fs::rename(&self.manifest_tmp, &manifest) {
            self.abandon();
            return Err(StorageError::io(
                format!("rename {}", self.manifest_tmp.display()),
                e,
            ));
        }
        Ok(())
    }

    /// After the commit: fsyncs the directory, then applies the swap (see
    /// [`apply_swap`]; `steps` below `usize::MAX` simulate a crash).
    pub(crate) fn apply(&self, steps: usize) -> Result<()> {
        checkpoint::sync_dir(&self.dir)
            .and_then(|_| apply_swap(&self.dir, self.base, &self.olds, steps))
    }

    /// The last step, outside the log's lock: removes the manifest.
    pub(crate) fn finish(&self) -> Result<()> {
        drop_manifest(&self.dir, self.base)
    }
}

/// Reads a swap manifest: the base offsets of the replaced segments.
fn read_manifest(dir: &Path, name: &str) -> Result<Option<Vec<i64>>> {
    let Some(text) = checkpoint::read_optional(dir, name)? else {
        return Ok(None);
    };
    let mut lines = text.lines();
    if lines.next() != Some("0") {
        return Ok(None);
    }
    let bases: std::result::Result<Vec<i64>, _> = lines.map(|l| l.trim().parse()).collect();
    Ok(bases.ok().filter(|b| !b.is_empty()))
}

/// Completes the swap of group `base` replacing `olds` once its manifest
/// is durable. Idempotent: recovery may run it again after a crash.
fn complete_swap(dir: &Path, base: i64, olds: &[i64]) -> Result<()> {
    apply_swap(dir, base, olds, usize::MAX)?;
    drop_manifest(dir, base)
}

/// Unlinks the old segments, renames the cleaned files into place and
/// fsyncs the directory; stops after `steps` of those steps (unlink, index,
/// time index, log), which tests use to simulate crashes.
pub(crate) fn apply_swap(dir: &Path, base: i64, olds: &[i64], steps: usize) -> Result<()> {
    if steps == 0 {
        return Ok(());
    }
    for &old in olds {
        if old == base {
            continue;
        }
        for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            remove_if_exists(&dir.join(segment_file_name(old, suffix)))?;
        }
    }
    // Indexes first: once the log is renamed the swap is complete.
    for (step, suffix) in [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX]
        .into_iter()
        .enumerate()
    {
        if step + 1 >= steps {
            return Ok(());
        }
        let from = cleaned_path(dir, base, suffix);
        let to = dir.join(segment_file_name(base, suffix));
        match fs::rename(&from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StorageError::io(
                    format!("rename {} to {}", from.display(), to.display()),
                    e,
                ))
            }
        }
    }
    checkpoint::sync_dir(dir)
}

/// The last step of a swap: the manifest goes.
fn drop_manifest(dir: &Path, base: i64) -> Result<()> {
    remove_if_exists(&dir.join(swap_manifest_name(base)))?;
    checkpoint::sync_dir(dir)
}

/// Run by [`crate::Log::open`] before it lists segments: finishes every swap
/// whose manifest was written (the cleaned files are complete and durable
/// then) and deletes `.cleaned` files of swaps that never committed.
pub(crate) fn finish_interrupted_swaps(dir: &Path) -> Result<()> {
    let list = || -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir).ctx(|| format!("list {}", dir.display()))? {
            let entry = entry.ctx(|| format!("list {}", dir.display()))?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_string());
            }
        }
        Ok(names)
    };
    let names = list()?;
    let mut touched = false;
    for name in &names {
        let Some(stem) = name.strip_suffix(&format!(".{SWAP_SUFFIX}")) else {
            continue;
        };
        let Some(base) = (stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
            .then(|| stem.parse::<i64>().ok())
            .flatten()
        else {
            continue;
        };
        touched = true;
        match read_manifest(dir, name)? {
            Some(olds) => {
                tracing::info!(dir = %dir.display(), base, segments = olds.len(), "finishing an interrupted cleaner swap");
                complete_swap(dir, base, &olds)?;
            }
            None => {
                tracing::error!(dir = %dir.display(), name, "ignoring a malformed cleaner swap manifest");
                remove_if_exists(&dir.join(name))?;
            }
        }
    }
    for name in list()? {
        if name.ends_with(&format!(".{CLEANED_SUFFIX}")) {
            tracing::info!(dir = %dir.display(), name, "deleting an unfinished cleaned segment");
            remove_if_exists(&dir.join(&name))?;
            touched = true;
        }
    }
    if touched {
        checkpoint::sync_dir(dir)?;
    }
    Ok(())
}
