//! A small blocking HTTP/1.1 client for the registry's REST API, used by
//! the `fjord schema` CLI and the benchmark: plain `http://` only (the
//! registry is served on loopback while fjord has no TLS), one kept-alive
//! connection, bounded reads.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Largest response body accepted.
const MAX_BODY: usize = 64 << 20;
/// Largest header section accepted.
const MAX_HEADER_LINES: usize = 100;

pub struct Client {
    host_port: String,
    conn: Option<BufReader<TcpStream>>,
    timeout: Duration,
}

/// A response: status and body text.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_str(&self.body).map_err(|e| format!("bad JSON from the registry: {e}"))
    }
    /// The registry's error message when the status is not 2xx.
    pub fn error(&self) -> Option<String> {
        if (200..300).contains(&self.status) {
            return None;
        }
        let msg = self
            .json()
            .ok()
            .and_then(|v| {
                let code = v.get("error_code")?.as_i64()?;
                let m = v.get("message")?.as_str()?.to_string();
                Some(format!("{m} (error {code})"))
            })
            .unwrap_or_else(|| self.body.trim().to_string());
        Some(format!("HTTP {}: {msg}", self.status))
    }
}

impl Client {
    /// `url`: `http://HOST:PORT` (a trailing `/` is ignored).
    pub fn new(url: &str) -> Result<Client, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("registry URL {url:?} must start with http://"))?;
        let host_port = rest.trim_end_matches('/').to_string();
        if host_port.is_empty() || host_port.contains('/') {
            return Err(format!("registry URL {url:?} must be http://HOST:PORT"));
        }
        Ok(Client {
            host_port,
            conn: None,
            timeout: Duration::from_secs(30),
        })
    }

    fn connect(&mut self) -> Result<&mut BufReader<TcpStream>, String> {
        if self.conn.is_none() {
            let s = TcpStream::connect(&self.host_port).map_err(|e| {
                format!(
                    "cannot connect to the schema registry at {}: {e}",
                    self.host_port
                )
            })?;
            let _ = s.set_nodelay(true);
            let _ = s.set_read_timeout(Some(self.timeout));
            let _ = s.set_write_timeout(Some(self.timeout));
            self.conn = Some(BufReader::new(s));
        }
        self.conn
            .as_mut()
            .ok_or_else(|| "no connection".to_string())
    }

    /// Sends one request; retries once on a fresh connection if a kept-alive
    /// one was closed by the server.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Reply, String> {
        let reused = self.conn.is_some();
        match self.try_request(method, path, body) {
            Ok(r) => Ok(r),
            Err(e) => {
                self.conn = None;
                if reused {
                    self.try_request(method, path, body)
                        .inspect_err(|_| self.conn = None)
                } else {
                    Err(e)
                }
            }
        }
    }

    fn try_request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Reply, String> {
        let host = self.host_port.clone();
        let conn = self.connect()?;
        let body = body.unwrap_or("");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/vnd.schemaregistry.v1+json, application/json\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let s = conn.get_mut();
        s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
        s.write_all(body.as_bytes()).map_err(|e| e.to_string())?;
        let mut line = String::new();
        conn.read_line(&mut line).map_err(|e| e.to_string())?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad HTTP status line {line:?}"))?;
        let mut length: Option<usize> = None;
        let mut chunked = false;
        let mut close = false;
        for _ in 0..MAX_HEADER_LINES {
            line.clear();
            conn.read_line(&mut line).map_err(|e| e.to_string())?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let Some((k, v)) = l.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            match k.as_str() {
                "content-length" => length = v.parse().ok(),
                "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                "connection" => close = v.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let mut buf = Vec::new();
        if chunked {
            loop {
                line.clear();
                conn.read_line(&mut line).map_err(|e| e.to_string())?;
                let size = usize::from_str_radix(line.trim(), 16).map_err(|_| "bad chunk size")?;
                if buf.len() + size > MAX_BODY {
                    return Err("response too large".into());
                }
                let start = buf.len();
                buf.resize(start + size, 0);
                conn.read_exact(&mut buf[start..])
                    .map_err(|e| e.to_string())?;
                line.clear();
                conn.read_line(&mut line).map_err(|e| e.to_string())?;
                if size == 0 {
                    break;
                }
            }
        } else if let Some(n) = length {
            if n > MAX_BODY {
                return Err("response too large".into());
            }
            buf.resize(n, 0);
            conn.read_exact(&mut buf).map_err(|e| e.to_string())?;
        } else {
            conn.take(MAX_BODY as u64)
                .read_to_end(&mut buf)
                .map_err(|e| e.to_string())?;
            close = true;
        }
        if close {
            self.conn = None;
        }
        Ok(Reply {
            status,
            body: String::from_utf8_lossy(&buf).into_owned(),
        })
    }
}

/// Percent-encodes a path segment (a subject name).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
