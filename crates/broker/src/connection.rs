//! One client connection: reads size-prefixed frames, dispatches each to
//! its handler, and writes responses back in request order.
//!
//! Requests take effect in the order they were sent, as in Kafka, while
//! the reader keeps reading and decoding ahead and a writer task sends
//! responses strictly in order. The [`Sequencer`] gives each request its
//! turn: a request other than Produce starts only once every earlier one
//! has finished, so an OffsetFetch sees the OffsetCommit sent before it
//! and a ListOffsets the Produce before it. Two relaxations keep
//! pipelining's throughput without changing what a client can observe:
//! a Produce starts as soon as the request before it has *applied* its
//! effects (for a Produce: its batches are in the logs), so pipelined
//! produces overlap their fsync waits; and a Fetch, which changes nothing,
//! lets a following Produce start while it long-polls.

use std::net::SocketAddr;
use std::sync::Arc;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use fjord_protocol::frame::{self, FrameError};
use fjord_protocol::{ApiKey, Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};

use crate::request_memory::RequestMemory;
use crate::sequencer::Sequencer;

use crate::handlers::{self, api_versions, RequestCtx};
use crate::state::BrokerState;
use crate::zero_copy::{write_outgoing, HoleWriter, Outgoing};

/// Most requests one connection may have in flight before we stop reading.
const MAX_IN_FLIGHT: usize = 128;

type Reply = oneshot::Receiver<Option<Outgoing>>;

/// Why the reader stopped reading requests.
enum ReadEnd {
    /// EOF, a read error or a broker shutdown: nothing to log above debug.
    Closed,
    /// The connection was closed by us for a reason already logged.
    Refused,
}

/// Per-connection timers: when bytes last moved in each direction.
struct Activity {
    opened: Instant,
    /// Milliseconds after `opened` of the last response written.
    last_write_ms: AtomicU64,
}

impl Activity {
    fn last_write(&self) -> Instant {
        self.opened + Duration::from_millis(self.last_write_ms.load(Ordering::Relaxed))
    }

    fn wrote(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_write_ms.store(ms, Ordering::Relaxed);
    }
}

/// Reads the 4-byte length prefix of the next request. The connection is
/// closed once it has been idle (`connections.max.idle.ms`: no byte read
/// or written and no request in flight) for `idle`.
async fn read_length(
    rd: &mut OwnedReadHalf,
    shutdown: &mut watch::Receiver<bool>,
    idle: Duration,
    activity: &Activity,
    in_flight: impl Fn() -> bool,
    peer: SocketAddr,
) -> Result<[u8; 4], ReadEnd> {
    let mut len_buf = [0u8; 4];
    let mut got = 0;
    let mut last_read = Instant::now();
    while got < 4 {
        let idle_at = last_read.max(activity.last_write()) + idle;
        tokio::select! {
            r = rd.read(&mut len_buf[got..]) => match r {
                Ok(0) | Err(_) => return Err(ReadEnd::Closed),
                Ok(n) => {
                    got += n;
                    last_read = Instant::now();
                }
            },
            _ = shutdown.changed() => return Err(ReadEnd::Closed),
            _ = tokio::time::sleep_until(idle_at.into()) => {
                if in_flight() {
                    // Waiting on our own answer is not idleness.
                    last_read = Instant::now();
                } else if last_read.max(activity.last_write()) + idle <= Instant::now() {
                    tracing::info!(%peer, idle_ms = idle.as_millis() as u64, partial_length_bytes = got, "closing idle connection (connections.max.idle.ms)");
                    return Err(ReadEnd::Refused);
                }
            }
        }
    }
    Ok(len_buf)
}

/// Reads a request body of `len` bytes. Memory grows with what actually
/// arrives (never `len` up front), and the whole body must arrive within
/// `deadline` (`fjord.request.read.timeout.ms`).
async fn read_body(
    rd: &mut OwnedReadHalf,
    len: usize,
    deadline: Duration,
    peer: SocketAddr,
) -> Result<BytesMut, ReadEnd> {
    const CHUNK: usize = 1 << 20;
    let read = async {
        let mut buf = BytesMut::with_capacity(len.min(CHUNK));
        while buf.len() < len {
            let remaining = len - buf.len();
            if buf.capacity() == buf.len() {
                buf.reserve(remaining.min(buf.len().max(CHUNK)));
            }
            match (&mut *rd).take(remaining as u64).read_buf(&mut buf).await {
                Ok(0) => {
                    tracing::debug!(%peer, got = buf.len(), size = len, "connection closed mid-frame");
                    return Err(ReadEnd::Closed);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "connection failed mid-frame");
                    return Err(ReadEnd::Closed);
                }
            }
        }
        Ok(buf)
    };
    match tokio::time::timeout(deadline, read).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!(%peer, size = len, timeout_ms = deadline.as_millis() as u64, "request not received in time (fjord.request.read.timeout.ms); closing connection");
            Err(ReadEnd::Refused)
        }
    }
}

pub async fn serve(
    state: Arc<BrokerState>,
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
    memory: Arc<RequestMemory>,
) {
    let _ = stream.set_nodelay(true);
    let _open = state.metrics.connection_opened();
    let slow_threshold = std::time::Duration::from_millis(state.config().slow_request_ms);
    let idle = Duration::from_millis(state.config().connections_max_idle_ms);
    let read_deadline = Duration::from_millis(state.config().request_read_timeout_ms);
    let activity = Arc::new(Activity {
        opened: Instant::now(),
        last_write_ms: AtomicU64::new(0),
    });
    // Clients send one client id on every request: share it between them.
    let mut client: Arc<str> = Arc::from("");
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Reply>(MAX_IN_FLIGHT);

    let writer_activity = activity.clone();
    let writer = tokio::spawn(async move {
        while let Some(reply) = rx.recv().await {
            match reply.await {
                Ok(Some(out)) => {
                    if let Err(e) = write_outgoing(&mut wr, &out).await {
                        tracing::debug!(%peer, error = %e, "write failed");
                        break;
                    }
                    writer_activity.wrote();
                }
                Ok(None) => {}
                Err(_) => break,
            }
        }
        let _ = wr.shutdown().await;
    });

    let sequencer = Sequencer::new();
    let mut next_seq: u64 = 0;
    let max = state.config().socket_request_max_bytes;
    loop {
        let in_flight = || sequencer.in_flight(next_seq);
        let len_buf =
            match read_length(&mut rd, &mut shutdown, idle, &activity, in_flight, peer).await {
                Ok(b) => b,
                Err(_) => break,
            };
        let len = i32::from_be_bytes(len_buf);
        if len < 0 || len as usize > max {
            tracing::warn!(%peer, size = len, limit = max, "request size out of bounds; closing connection");
            break;
        }
        let len = len as usize;
        // Back-pressure: wait for room in the broker-wide request budget
        // before reading (and allocating) the body.
        let reservation = tokio::select! {
            r = memory.reserve(len) => r,
            _ = shutdown.changed() => break,
        };
        let frame_buf = match read_body(&mut rd, len, read_deadline, peer).await {
            Ok(b) => b,
            Err(_) => break,
        };
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
        let seq = next_seq;
        next_seq += 1;
        let records_out = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        let ctx = RequestCtx {
            api_version,
            correlation_id,
            client_id: parsed.client_id,
            peer,
            apply_turn: Some(sequencer.turn(seq)),
            records_out: records_out.clone(),
        };
        let (otx, orx) = oneshot::channel();
        let st = state.clone();
        let metrics = state.metrics.clone();
        let sequencer = sequencer.clone();
        tokio::spawn(async move {
            // The request's bytes count against the budget until answered.
            let _reservation = reservation;
            sequencer.wait_turn(seq, api_key == ApiKey::Produce).await;
            let response: Response = (handler.handle)(st, ctx, request).await;
            sequencer.mark_completed(seq);
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
