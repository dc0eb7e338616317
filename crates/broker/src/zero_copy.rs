//! Zero-copy fetch responses: record bytes go from the segment file to the
//! socket with `sendfile`, never through user space.
//!
//! The fetch handler leaves a [`FileSlice`] for each partition's records;
//! encoding writes only the length prefix there and notes a hole, and the
//! connection's writer sends the frame as buffer, file, buffer, file, ...
//!
//! A TLS connection encrypts in user space, so `sendfile` cannot serve it:
//! [`Sink::Tls`] copies the file bytes into memory (off the async
//! workers) and writes them through the TLS session; plaintext keeps
//! `sendfile`.

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsRawFd;

use bytes::{Bytes, BytesMut};
use fjord_protocol::wire::{self, RecordsWriter};
use fjord_protocol::EncodeError;
use fjord_storage::FileSlice;
use tokio::io::{AsyncWriteExt, Interest, WriteHalf};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// Where a connection's responses go.
pub enum Sink {
    /// A plain TCP socket: holes are filled with `sendfile`.
    Plain(OwnedWriteHalf),
    /// A TLS session: holes are copied through it.
    Tls(WriteHalf<TlsStream<TcpStream>>),
}

impl Sink {
    /// Writes a response frame, filling its holes.
    pub async fn write_outgoing(&mut self, out: &Outgoing) -> io::Result<()> {
        match self {
            Sink::Plain(wr) => write_outgoing(wr, out).await,
            Sink::Tls(wr) => {
                let mut pos = 0usize;
                for (at, slice) in &out.holes {
                    wr.write_all(&out.buf[pos..*at]).await?;
                    let s = slice.clone();
                    let bytes = tokio::task::spawn_blocking(move || s.read_to_bytes())
                        .await
                        .map_err(io::Error::other)?
                        .map_err(io::Error::other)?;
                    wr.write_all(&bytes).await?;
                    pos = *at;
                }
                wr.write_all(&out.buf[pos..]).await?;
                wr.flush().await
            }
        }
    }

    /// Writes hole-free response frames back to back: one vectored write
    /// on a plain socket (as many as the kernel takes per call).
    pub async fn write_many(&mut self, outs: &[Outgoing]) -> io::Result<()> {
        match self {
            Sink::Plain(wr) => write_vectored_all(wr, outs).await,
            Sink::Tls(wr) => {
                for out in outs {
                    wr.write_all(&out.buf).await?;
                }
                wr.flush().await
            }
        }
    }

    pub async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(wr) => wr.shutdown().await,
            Sink::Tls(wr) => wr.shutdown().await,
        }
    }
}

/// Slices smaller than this are copied; a syscall per tiny slice costs more.
pub const MIN_ZERO_COPY: usize = 16 * 1024;

/// A response frame with holes to fill from files.
pub struct Outgoing {
    pub buf: BytesMut,
    /// (position in `buf`, bytes to send there), in ascending position.
    pub holes: Vec<(usize, FileSlice)>,
}

/// Feeds the file slices, in encoding order, to the records fields.
pub struct HoleWriter {
    pub slices: VecDeque<Option<FileSlice>>,
    pub holes: Vec<(usize, FileSlice)>,
}

impl HoleWriter {
    pub fn external_len(slices: &VecDeque<Option<FileSlice>>) -> usize {
        slices.iter().flatten().map(|s| s.len).sum()
    }
}

impl RecordsWriter for HoleWriter {
    fn put_records(
        &mut self,
        buf: &mut BytesMut,
        records: Option<&Bytes>,
        compact: bool,
        nullable: bool,
    ) -> Result<(), EncodeError> {
        match self.slices.pop_front().flatten() {
            Some(slice) => {
                wire::put_records_len(buf, slice.len, compact)?;
                self.holes.push((buf.len(), slice));
                Ok(())
            }
            None => wire::InlineRecords.put_records(buf, records, compact, nullable),
        }
    }
}

/// Writes every buffer of `outs`, in order, with as few `writev` calls
/// as the socket allows.
async fn write_vectored_all(wr: &mut OwnedWriteHalf, outs: &[Outgoing]) -> io::Result<()> {
    if let [one] = outs {
        return wr.write_all(&one.buf).await;
    }
    let mut at = 0usize; // first buffer not fully written
    let mut skip = 0usize; // bytes of it already written
    fjord_storage::advance_written(|i| outs[i].buf.len(), outs.len(), &mut at, &mut skip, 0);
    while at < outs.len() {
        let iov: Vec<io::IoSlice<'_>> = outs[at..]
            .iter()
            .enumerate()
            .map(|(i, o)| io::IoSlice::new(if i == 0 { &o.buf[skip..] } else { &o.buf[..] }))
            .take(MAX_IOV)
            .collect();
        let n = wr.write_vectored(&iov).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        fjord_storage::advance_written(|i| outs[i].buf.len(), outs.len(), &mut at, &mut skip, n);
    }
    Ok(())
}

/// Buffers per `writev` (Linux's IOV_MAX is 1024).
const MAX_IOV: usize = 64;

/// Writes a frame, filling its holes with `sendfile`.
pub async fn write_outgoing(wr: &mut OwnedWriteHalf, out: &Outgoing) -> io::Result<()> {
    let mut pos = 0usize;
    for (at, slice) in &out.holes {
        wr.write_all(&out.buf[pos..*at]).await?;
        send_file(wr, slice).await?;
        pos = *at;
    }
    wr.write_all(&out.buf[pos..]).await
}

async fn send_file(wr: &mut OwnedWriteHalf, slice: &FileSlice) -> io::Result<()> {
    let stream = wr.as_ref();
    let in_fd = slice.file.as_raw_fd();
    let out_fd = stream.as_raw_fd();
    let mut offset = i64::try_from(slice.position).map_err(io::Error::other)?;
    let mut left = slice.len;
    while left > 0 {
        stream.writable().await?;
        let sent = stream.try_io(Interest::WRITABLE, || {
            // SAFETY: both descriptors are open for the duration of the call
            // (the socket is borrowed, the file is held by `slice`), and
            // `offset` is a valid pointer to an off_t that sendfile updates.
            let n = unsafe {
                libc::sendfile(
                    out_fd,
                    in_fd,
                    &mut offset as *mut i64 as *mut libc::off_t,
                    left,
                )
            };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        });
        match sent {
            // The file is shorter than the slice (truncated under us): the
            // frame cannot be completed, so the connection must close.
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "segment file shorter than expected",
                ))
            }
            Ok(n) => left -= n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
