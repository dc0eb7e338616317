//! One client connection: reads size-prefixed frames, dispatches each to
//! its handler, and writes responses back in request order.
//!
//! Requests are pipelined: the reader keeps reading while earlier requests
//! are still being handled (a long-poll fetch does not stall the ones
//! behind it), and a writer task sends responses strictly in order.
//! Produce requests take the connection's append turn in order, so two
//! pipelined produces to one partition are appended in the order sent,
//! while their fsync waits overlap.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use fjord_protocol::frame::{self, FrameError};
use fjord_protocol::{ApiKey, ErrorCode, Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};

use crate::handlers::{self, api_versions, RequestCtx};
use crate::state::BrokerState;
use crate::zero_copy::{write_outgoing, HoleWriter, Outgoing};

/// Most requests one connection may have in flight before we stop reading.
const MAX_IN_FLIGHT: usize = 128;

type Reply = oneshot::Receiver<Option<Outgoing>>;

pub async fn serve(
    state: Arc<BrokerState>,
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let _open = state.metrics.connection_opened();
    let slow_threshold = std::time::Duration::from_millis(state.config.slow_request_ms);
    // Clients send one client id on every request: share it between them.
    let mut client: Arc<str> = Arc::from("");
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Reply>(MAX_IN_FLIGHT);

    let writer = tokio::spawn(async move {
        while let Some(reply) = rx.recv().await {
            match reply.await {
                Ok(Some(out)) => {
                    if let Err(e) = write_outgoing(&mut wr, &out).await {
                        tracing::debug!(%peer, error = %e, "write failed");
                        break;
                    }
                }
                Ok(None) => {}
                Err(_) => break,
            }
        }
        let _ = wr.shutdown().await;
    });

    let append_turn = Arc::new(tokio::sync::Mutex::new(()));
    let max = state.config.socket_request_max_bytes;
    loop {
        let mut len_buf = [0u8; 4];
        let read = tokio::select! {
            r = rd.read_exact(&mut len_buf) => r,
            _ = shutdown.changed() => break,
        };
        if read.is_err() {
            break;
        }
        let len = i32::from_be_bytes(len_buf);
        if len < 0 || len as usize > max {
            tracing::warn!(%peer, size = len, limit = max, "request size out of bounds; closing connection");
            break;
        }
        let mut frame_buf = BytesMut::zeroed(len as usize);
        if let Err(e) = rd.read_exact(&mut frame_buf).await {
            tracing::debug!(%peer, error = %e, "connection closed mid-frame");
            break;
        }
        let started = std::time::Instant::now();
        let frame_bytes = frame_buf.freeze();
        let parsed = match frame::parse_request(frame_bytes) {
            Ok(f) => f,
            Err(FrameError::UnsupportedVersion {
                api_key: ApiKey::ApiVersions,
                api_version,
                correlation_id,
                ..
            }) => {
                tracing::info!(%peer, api_version, "ApiVersions version too new; answering with v0 and our ranges");
                let resp = api_versions::unsupported_version_response();
                let (otx, orx) = oneshot::channel();
                let mut out = BytesMut::new();
                if frame::encode_response(&mut out, correlation_id, ApiKey::ApiVersions, 0, &resp)
                    .is_ok()
                {
                    let _ = otx.send(Some(Outgoing {
                        buf: out,
                        holes: Vec::new(),
                    }));
                }
                if tx.send(orx).await.is_err() {
                    break;
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "bad request frame; closing connection");
                break;
            }
        };
        let api_key = parsed.api_key;
        let api_version = parsed.api_version;
        let correlation_id = parsed.correlation_id;
        let Some(handler) = handlers::find(api_key, api_version) else {
            tracing::warn!(%peer, api = ?api_key, api_version, "api not supported by this broker; closing connection");
            break;
        };
        let request = match parsed.decode() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%peer, api = ?api_key, api_version, error = %e, "malformed request body; closing connection");
                break;
            }
        };
        let no_response = matches!(&request, Request::Produce(p) if p.acks == 0);
        let wait_allowance = crate::metrics::wait_allowance(&request);
        if *client != *parsed.client_id.as_deref().unwrap_or("") {
            client = Arc::from(parsed.client_id.as_deref().unwrap_or(""));
        }
        let client_id = client.clone();
        let append_guard = if api_key == ApiKey::Produce {
            Some(append_turn.clone().lock_owned().await)
        } else {
            None
        };
        let records_out = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        let ctx = RequestCtx {
            api_version,
            correlation_id,
            client_id: parsed.client_id,
            peer,
            append_guard,
            records_out: records_out.clone(),
        };
        let (otx, orx) = oneshot::channel();
        let st = state.clone();
        let metrics = state.metrics.clone();
        tokio::spawn(async move {
            let response: Response = (handler.handle)(st, ctx, request).await;
            let elapsed = started.elapsed();
            metrics.observe_request(api_key, api_version, elapsed);
            if crate::metrics::is_slow(slow_threshold, wait_allowance, elapsed) {
                tracing::warn!(%peer, api = api_key.name(), api_version, client_id = %client_id, ms = elapsed.as_millis() as u64, "slow request");
            }
            if no_response {
                let _ = otx.send(None);
                return;
            }
            let slices = records_out
                .lock()
                .map(|mut s| std::mem::take(&mut *s))
                .unwrap_or_default();
            let external = HoleWriter::external_len(&slices);
            let mut writer = HoleWriter {
                slices,
                holes: Vec::new(),
            };
            let mut out = BytesMut::new();
            let encoded = frame::encode_response_with(
                &mut out,
                correlation_id,
                api_key,
                api_version,
                &response,
                &mut writer,
                external,
            );
            match encoded {
                Ok(()) => {
                    let _ = otx.send(Some(Outgoing {
                        buf: out,
                        holes: writer.holes,
                    }));
                }
                Err(e) => {
                    tracing::error!(%peer, api = ?api_key, api_version, error = %e, "could not encode response");
                    drop(otx);
                }
            }
        });
        if tx.send(orx).await.is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
    tracing::debug!(%peer, "connection closed");
}

/// Maps a storage error to the code a client understands.
pub fn storage_error_code(e: &fjord_storage::StorageError) -> ErrorCode {
    use fjord_storage::StorageError as S;
    match e {
        S::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        S::RecordTooLarge { .. } => ErrorCode::MessageTooLarge,
        S::InvalidConfig { .. } => ErrorCode::InvalidConfig,
        S::InvalidBatch(_) => ErrorCode::CorruptMessage,
        _ => ErrorCode::KafkaStorageError,
    }
}
