//! Positioned vectored writes (`pwritev`), which std has no stable call for.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// Buffers per `pwritev` call (Linux's IOV_MAX is 1024).
const MAX_IOV: usize = 512;

/// Writes `parts` back to back at `pos`, retrying short writes and EINTR.
pub(crate) fn write_all_vectored_at(file: &File, parts: &[&[u8]], pos: u64) -> io::Result<()> {
    let mut pos = pos;
    let mut at = 0usize; // first part not fully written
    let mut skip = 0usize; // bytes of it already written
    while at < parts.len() {
        if parts[at].len() == skip {
            at += 1;
            skip = 0;
            continue;
        }
        let iov: Vec<libc::iovec> = parts[at..]
            .iter()
            .take(MAX_IOV)
            .enumerate()
            .map(|(i, p)| {
                let p = if i == 0 { &p[skip..] } else { p };
                libc::iovec {
                    iov_base: p.as_ptr() as *mut libc::c_void,
                    iov_len: p.len(),
                }
            })
            .collect();
        let offset = libc::off_t::try_from(pos).map_err(io::Error::other)?;
        let count = libc::c_int::try_from(iov.len()).map_err(io::Error::other)?;
        // SAFETY: every iovec points into a slice of `parts`, borrowed for
        // the whole call; the descriptor is open while `file` is borrowed.
        let n = unsafe { libc::pwritev(file.as_raw_fd(), iov.as_ptr(), count, offset) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let mut n = n as usize;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        pos += n as u64;
        while n > 0 && at < parts.len() {
            let left = parts[at].len() - skip;
            if n >= left {
                n -= left;
                at += 1;
                skip = 0;
            } else {
                skip += n;
                n = 0;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn writes_every_part_in_order_at_the_position() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("f"))
            .expect("open");
        file.write_all_at(b"0123", 0).expect("write");
        let many: Vec<Vec<u8>> = (0..1500).map(|i| vec![b'a' + (i % 26) as u8; 3]).collect();
        let mut parts: Vec<&[u8]> = vec![b"xy", b"", b"z"];
        parts.extend(many.iter().map(|v| v.as_slice()));
        write_all_vectored_at(&file, &parts, 2).expect("pwritev");
        let expected: Vec<u8> = b"01".iter().copied().chain(parts.concat()).collect();
        let mut got = vec![0u8; expected.len()];
        file.read_exact_at(&mut got, 0).expect("read");
        assert_eq!(got, expected);
    }
}
