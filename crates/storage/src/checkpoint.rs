//! Small checkpoint files in the partition directory, replaced atomically
//! (write a temporary file, fsync, rename, fsync the directory).

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::Path;

use crate::error::{IoContext, Result};

/// `log-start-offset`: the log start offset moved by DeleteRecords/retention.
pub const LOG_START_OFFSET_FILE: &str = "log-start-offset";
/// `high-watermark`: last high watermark written on flush/close.
pub const HIGH_WATERMARK_FILE: &str = "high-watermark";
/// `recovery-point`: every segment below this base offset (and its indexes)
/// is known to be durable; recovery after a crash rescans from here.
pub const RECOVERY_POINT_FILE: &str = "recovery-point";
/// `cleaner-offset-checkpoint`: offsets below it have been compacted. Its
/// presence also tells recovery that the log may have offset gaps.
pub const CLEANER_CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";
/// `.clean-shutdown`: written last by `Log::close`, removed before the
/// first change after `Log::open`.
pub const CLEAN_SHUTDOWN_FILE: &str = ".clean-shutdown";

const VERSION: &str = "0";

/// fsyncs a directory so that creations, renames and unlinks in it are
/// durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .ctx(|| format!("fsync directory {}", dir.display()))
}

/// Atomically replaces `dir/name` with `contents`, durably.
pub(crate) fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> Result<()> {
    write_atomic_with(dir, name, contents, Sync::Now)
}

/// When a write becomes durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sync {
    /// fsync of the file and its directory before returning.
    Now,
    /// Not here: the caller syncs the whole filesystem once for many
    /// writes ([`crate::sync_filesystem`]) before relying on them. A
    /// process crash cannot lose them (the page cache survives it).
    Deferred,
}

/// Atomically replaces `dir/name` with `contents` (tmp file, rename),
/// durably before returning with [`Sync::Now`].
pub(crate) fn write_atomic_with(dir: &Path, name: &str, contents: &[u8], sync: Sync) -> Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let target = dir.join(name);
    let mut f = File::create(&tmp).ctx(|| format!("create {}", tmp.display()))?;
    f.write_all(contents)
        .and_then(|_| {
            if sync == Sync::Now {
                f.sync_all()
            } else {
                Ok(())
            }
        })
        .ctx(|| format!("write {}", tmp.display()))?;
    drop(f);
    fs::rename(&tmp, &target)
        .ctx(|| format!("rename {} to {}", tmp.display(), target.display()))?;
    if sync == Sync::Now {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Makes every write to the filesystem holding `path` durable with one
/// `syncfs(2)`: what batched opens and closes of many logs use instead of
/// several fsyncs per log.
pub fn sync_filesystem(path: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    let f = File::open(path).ctx(|| format!("open {}", path.display()))?;
    // SAFETY: syncfs only reads the descriptor, which `f` keeps open.
    if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| format!("syncfs {}", path.display()));
    }
    Ok(())
}

/// Reads a whole file, `None` when it does not exist.
pub(crate) fn read_optional(dir: &Path, name: &str) -> Result<Option<String>> {
    let path = dir.join(name);
    match fs::read(&path) {
        Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).ctx(|| format!("read {}", path.display())),
    }
}

/// Writes a single-offset checkpoint (`version\nvalue\n`).
pub(crate) fn write_offset(dir: &Path, name: &str, value: i64) -> Result<()> {
    write_offset_with(dir, name, value, Sync::Now)
}

/// [`write_offset`] with the given durability.
pub(crate) fn write_offset_with(dir: &Path, name: &str, value: i64, sync: Sync) -> Result<()> {
    write_atomic_with(dir, name, format!("{VERSION}\n{value}\n").as_bytes(), sync)
}

/// Reads a single-offset checkpoint. A missing or malformed file reads as
/// `None` (malformed ones are logged): every such checkpoint has a safe
/// fallback.
pub(crate) fn read_offset(dir: &Path, name: &str) -> Result<Option<i64>> {
    let Some(text) = read_optional(dir, name)? else {
        return Ok(None);
    };
    let mut lines = text.lines();
    let parsed = match (lines.next(), lines.next()) {
        (Some(VERSION), Some(v)) => v.trim().parse::<i64>().ok(),
        _ => None,
    };
    if parsed.is_none() {
        tracing::warn!(dir = %dir.display(), name, "ignoring malformed checkpoint file");
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_round_trip() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read_offset(d.path(), "x").unwrap(), None);
        write_offset(d.path(), "x", 42).unwrap();
        assert_eq!(read_offset(d.path(), "x").unwrap(), Some(42));
        std::fs::write(d.path().join("x"), "garbage").unwrap();
        assert_eq!(read_offset(d.path(), "x").unwrap(), None);
    }
}
