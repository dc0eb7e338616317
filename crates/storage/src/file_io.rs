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
    advance_written(|i| parts[i].len(), parts.len(), &mut at, &mut skip, 0);
    while at < parts.len() {
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
        let n = n as usize;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        pos += n as u64;
        advance_written(|i| parts[i].len(), parts.len(), &mut at, &mut skip, n);
    }
    Ok(())
}

/// After a vectored write of `n` bytes that began at byte `skip` of part
/// `at` (of `count` parts, part `i` being `len_of(i)` bytes long), moves
/// `at` and `skip` past what was written and past any empty parts after
/// it. Shared by every writer of vectored buffers (files here, sockets in
/// the broker).
pub fn advance_written(
    len_of: impl Fn(usize) -> usize,
    count: usize,
    at: &mut usize,
    skip: &mut usize,
    mut n: usize,
) {
    while *at < count {
        let left = len_of(*at) - *skip;
        if n < left {
            *skip += n;
            return;
        }
        n -= left;
        *at += 1;
        *skip = 0;
    }
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
