//! Names and creation of the cleaner's own files: `<base>.log.cleaned`
//! (and `.index.cleaned`, `.timeindex.cleaned`) for a cleaned group being
//! written, and the `<base>.swap` manifest that commits its swap.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
use crate::index::remove_if_exists;
use crate::segment::{segment_file_name, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};

pub(crate) const CLEANED_SUFFIX: &str = "cleaned";
pub(crate) const SWAP_SUFFIX: &str = "swap";

/// `<base>.<suffix>.cleaned` in `dir`.
pub(crate) fn cleaned_path(dir: &Path, base: i64, suffix: &str) -> PathBuf {
    dir.join(format!(
        "{}.{CLEANED_SUFFIX}",
        segment_file_name(base, suffix)
    ))
}

/// `<base>.swap`.
pub(crate) fn swap_manifest_name(base: i64) -> String {
    segment_file_name(base, SWAP_SUFFIX)
}

/// Creates (or empties) a file for reading and writing.
pub(crate) fn create_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .ctx(|| format!("create {}", path.display()))
}

/// Writes and fsyncs a file.
pub(crate) fn write_synced(path: &Path, contents: &[u8]) -> Result<File> {
    let mut f = create_file(path)?;
    f.write_all(contents)
        .and_then(|_| f.sync_all())
        .ctx(|| format!("write {}", path.display()))?;
    Ok(f)
}

/// Removes the `.cleaned` files of group `base` (best effort).
pub(crate) fn discard_cleaned(dir: &Path, base: i64) {
    for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
        if let Err(e) = remove_if_exists(&cleaned_path(dir, base, suffix)) {
            tracing::warn!("cannot remove a cleaned file: {e}");
        }
    }
}
