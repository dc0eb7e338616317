//! Buffered stdout. A closed pipe (`fjord consume t | head`) ends the
//! command quietly instead of panicking in `println!`.

use std::io::{BufWriter, Stdout, Write};

use super::CliError;

pub struct Out {
    w: BufWriter<Stdout>,
}

fn map(e: std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        CliError::Quiet
    } else {
        CliError::Failed(format!("cannot write to stdout: {e}"))
    }
}

impl Out {
    pub fn new() -> Out {
        Out {
            w: BufWriter::new(std::io::stdout()),
        }
    }

    pub fn bytes(&mut self, b: &[u8]) -> Result<(), CliError> {
        self.w.write_all(b).map_err(map)
    }

    /// Writes `s` and a newline unless `s` already ends with one.
    pub fn line(&mut self, s: &str) -> Result<(), CliError> {
        self.bytes(s.as_bytes())?;
        if !s.ends_with('\n') {
            self.bytes(b"\n")?;
        }
        Ok(())
    }

    /// One JSON document on one line.
    pub fn json(&mut self, v: &serde_json::Value) -> Result<(), CliError> {
        self.line(&v.to_string())
    }

    pub fn flush(&mut self) -> Result<(), CliError> {
        self.w.flush().map_err(map)
    }
}

/// Whether stdout is a pipe whose reader has gone away (`| head` done), so
/// that a consumer waiting for new records can stop before its next write.
#[cfg(unix)]
pub fn stdout_closed() -> bool {
    let mut fd = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: 0,
        revents: 0,
    };
    // SAFETY: `fd` is one valid pollfd for the duration of the call and
    // the timeout is zero, so poll neither blocks nor keeps the pointer.
    let n = unsafe { libc::poll(&mut fd, 1, 0) };
    n > 0 && (fd.revents & (libc::POLLERR | libc::POLLHUP)) != 0
}

#[cfg(not(unix))]
pub fn stdout_closed() -> bool {
    false
}

impl Drop for Out {
    fn drop(&mut self) {
        let _ = self.w.flush();
    }
}
