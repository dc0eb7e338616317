//! A plain connection from this broker to another one, for the replica
//! fetcher: one request at a time, fixed API versions (every node runs
//! fjord), bounded frames and timeouts. PLAINTEXT listeners only in this
//! step.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use fjord_protocol::{frame, Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response frame accepted from a peer.
const MAX_FRAME: usize = 64 << 20;

pub struct Peer {
    stream: TcpStream,
    correlation_id: i32,
    client_id: String,
    out: BytesMut,
}

impl Peer {
    pub async fn connect(
        addr: &str,
        client_id: String,
        timeout: Duration,
    ) -> std::io::Result<Peer> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
        let _ = stream.set_nodelay(true);
        Ok(Peer {
            stream,
            correlation_id: 0,
            client_id,
            out: BytesMut::new(),
        })
    }

    /// Sends `req` at `version` and returns the response. After an error
    /// the connection is out of step: drop it.
    pub async fn call(
        &mut self,
        version: i16,
        req: &Request,
        timeout: Duration,
    ) -> std::io::Result<Response> {
        let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let cid = self.correlation_id;
        self.out.clear();
        frame::encode_request(&mut self.out, cid, Some(&self.client_id), version, req)
            .map_err(|e| invalid(e.to_string()))?;
        let exchange = async {
            self.stream.write_all(&self.out).await?;
            let mut len = [0u8; 4];
            self.stream.read_exact(&mut len).await?;
            let n = usize::try_from(i32::from_be_bytes(len)).unwrap_or(usize::MAX);
            if !(4..=MAX_FRAME).contains(&n) {
                return Err(invalid(format!("a response frame of {n} bytes")));
            }
            let mut body = vec![0u8; n];
            self.stream.read_exact(&mut body).await?;
            Ok(Bytes::from(body))
        };
        let body = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "request timed out")
            })??;
        let (got, resp) = frame::parse_response(body, req.api_key(), version)
            .map_err(|e| invalid(e.to_string()))?;
        if got != cid {
            return Err(invalid(format!("correlation id {got}, expected {cid}")));
        }
        Ok(resp)
    }
}
