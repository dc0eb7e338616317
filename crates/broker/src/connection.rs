//! One client connection: reads size-prefixed frames, dispatches each to
//! its handler, and writes responses back in request order.
//!
//! Requests take effect in the order they were sent, as in Kafka, while
//! the reader keeps reading and decoding ahead; responses go out strictly
//! in order ([`crate::replies`]). A small request whose handler finishes
//! without waiting is answered inline by the reader; one that waits (an
//! fsync, a long poll, its turn) or a large one runs as a task of its own.
//! The [`Sequencer`] gives each request its turn: a request other than
//! Produce starts only once every earlier one has finished, so an
//! OffsetFetch sees the OffsetCommit sent before it and a ListOffsets the
//! Produce before it. Two relaxations keep
//! pipelining's throughput without changing what a client can observe:
//! a Produce starts as soon as the request before it has *applied* its
//! effects (for a Produce: its batches are in the logs), so pipelined
//! produces overlap their fsync waits; and a Fetch, which changes nothing,
//! lets a following Produce start while it long-polls.
//!
//! Each connection belongs to a listener: on an SSL or SASL_SSL listener
//! the TLS handshake comes first (bounded by
//! `fjord.request.read.timeout.ms`); on a SASL listener the
//! [`Authenticator`] judges every request until the client has
//! authenticated, answering SaslHandshake and SaslAuthenticate itself, so
//! no handler sees an unauthenticated request but ApiVersions. Before
//! authentication frames are bounded by `sasl.server.max.receive.size`.

use std::net::SocketAddr;
use std::sync::Arc;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use fjord_protocol::frame::{self, FrameError};
use fjord_protocol::{ApiKey, Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};

use crate::replies::{poll_now, run_or_spawn, Replies, Reply};
use crate::request_memory::RequestMemory;
use crate::sequencer::Sequencer;

use crate::handlers::{self, api_versions, RequestCtx};
use crate::security::listeners::SecurityProtocol;
use crate::security::sasl::{Authenticator, SaslSettings, Verdict};
use crate::security::Principal;
use crate::state::BrokerState;
use crate::zero_copy::{HoleWriter, Outgoing, Sink};

/// What a connection knows of the listener it was accepted on.
pub struct ListenerCtx {
    pub name: Arc<str>,
    pub protocol: SecurityProtocol,
    /// Set on SSL and SASL_SSL listeners.
    pub tls: Option<Arc<crate::security::tls::TlsContext>>,
    /// The OAUTHBEARER validator, on SASL listeners when enabled.
    pub oauth: Option<Arc<crate::security::oauth::OAuthValidator>>,
}

/// The reading side of a connection: plaintext through a read-ahead
/// buffer, or TLS (which rustls buffers).
enum Source {
    Plain(tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>),
    Tls(Box<dyn AsyncRead + Unpin + Send>),
}

impl Source {
    /// Whether a later request may be waiting behind this one: bytes of
    /// it are already read ahead, or (TLS) this cannot be known, which
    /// counts as queued so that nothing holds the reader up.
    fn more_queued(&self) -> bool {
        match self {
            Source::Plain(r) => !r.buffer().is_empty(),
            Source::Tls(_) => true,
        }
    }
}

impl AsyncRead for Source {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Source::Plain(r) => std::pin::Pin::new(r).poll_read(cx, buf),
            Source::Tls(r) => std::pin::Pin::new(r).poll_read(cx, buf),
        }
    }
}

/// The read-ahead buffer of a plaintext connection (TLS buffers in
/// rustls). Bodies larger than this are read straight into their own
/// buffer.
const READ_AHEAD_BYTES: usize = 4096;

/// A response that is ready now (answered by the connection itself).
fn ready(correlation_id: i32, api_key: ApiKey, version: i16, resp: &Response) -> Option<Outgoing> {
    let mut out = BytesMut::new();
    frame::encode_response(&mut out, correlation_id, api_key, version, resp).ok()?;
    Some(Outgoing {
        buf: out,
        holes: Vec::new(),
    })
}

/// Queues `out` to be written after `delay` (a failed authentication's).
async fn queue(replies: &mut Replies, out: Option<Outgoing>, delay: Duration) -> bool {
    let Some(slot) = replies.slot().await else {
        return false;
    };
    let reply = out.map_or(Reply::Skip, Reply::Send);
    run_or_spawn(async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        slot.deliver(reply).await;
    });
    !replies.closed()
}

/// Requests up to this size are tried inline by the reader (see `serve`).
const INLINE_MAX_BYTES: usize = 64 * 1024;

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

/// The idle deadline of a connection (`connections.max.idle.ms`), kept
/// as one timer for its whole life: requests only move `last_read`, and
/// the timer is re-armed only when it fires early (at most once per idle
/// period), so a request registers no timer of its own.
struct IdleTimer {
    limit: Duration,
    last_read: Instant,
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl IdleTimer {
    fn new(limit: Duration) -> Self {
        // Bounded so that deadlines never overflow `Instant`.
        let limit = limit.min(Duration::from_secs(100 * 365 * 24 * 3600));
        let now = Instant::now();
        IdleTimer {
            limit,
            last_read: now,
            timer: Box::pin(tokio::time::sleep_until((now + limit).into())),
        }
    }
}

/// Reads the 4-byte length prefix of the next request. The connection is
/// closed once it has been idle (`connections.max.idle.ms`: no byte read
/// or written and no request in flight) for `idle.limit`; it is closed
/// quietly once `stop` (the broker's shutdown) resolves.
async fn read_length(
    rd: &mut Source,
    stop: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    idle: &mut IdleTimer,
    activity: &Activity,
    in_flight: impl Fn() -> bool,
    peer: SocketAddr,
) -> Result<[u8; 4], ReadEnd> {
    let mut len_buf = [0u8; 4];
    let mut got = 0;
    // The length is usually there already (or in the read-ahead buffer).
    match poll_now(&mut std::pin::pin!(rd.read(&mut len_buf))) {
        Some(Ok(0) | Err(_)) => return Err(ReadEnd::Closed),
        Some(Ok(n)) => got = n,
        None => {}
    }
    idle.last_read = Instant::now();
    while got < 4 {
        tokio::select! {
            biased;
            r = rd.read(&mut len_buf[got..]) => match r {
                Ok(0) | Err(_) => return Err(ReadEnd::Closed),
                Ok(n) => {
                    got += n;
                    idle.last_read = Instant::now();
                }
            },
            _ = stop.as_mut() => return Err(ReadEnd::Closed),
            _ = idle.timer.as_mut() => {
                let now = Instant::now();
                if in_flight() {
                    // Waiting on our own answer is not idleness.
                    idle.last_read = now;
                }
                let due = idle.last_read.max(activity.last_write()) + idle.limit;
                if due <= now {
                    tracing::info!(%peer, idle_ms = idle.limit.as_millis() as u64, partial_length_bytes = got, "closing idle connection (connections.max.idle.ms)");
                    return Err(ReadEnd::Refused);
                }
                idle.timer.as_mut().reset(due.into());
            }
        }
    }
    Ok(len_buf)
}

/// Whether a failed TLS handshake refused the client's certificate (or
/// its absence under `ssl.client.auth=required`), as opposed to a client
/// that does not speak TLS or went away.
fn client_certificate_refused(e: &std::io::Error) -> bool {
    matches!(
        e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
    )
}

/// Reads a request body of `len` bytes. Memory grows with what actually
/// arrives (never `len` up front), and the whole body must arrive within
/// `deadline` (`fjord.request.read.timeout.ms`).
async fn read_body(
    rd: &mut Source,
    len: usize,
    deadline: Duration,
    peer: SocketAddr,
    memory: &RequestMemory,
) -> Result<BytesMut, ReadEnd> {
    const CHUNK: usize = 1 << 20;
    let read = async {
        let mut buf = memory.buffer(len, CHUNK);
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
    // A body that has fully arrived needs no deadline timer.
    let mut read = std::pin::pin!(read);
    if let Some(r) = poll_now(&mut read) {
        return r;
    }
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
    listener: Arc<ListenerCtx>,
    mut shutdown: watch::Receiver<bool>,
    memory: Arc<RequestMemory>,
) {
    let _ = stream.set_nodelay(true);
    let _open = state.metrics.connection_opened();
    let config = state.config();
    let slow_threshold = std::time::Duration::from_millis(config.slow_request_ms);
    let idle = Duration::from_millis(config.connections_max_idle_ms);
    let read_deadline = Duration::from_millis(config.request_read_timeout_ms);
    let (mut rd, wr, mut principal): (Source, Sink, Principal) = match &listener.tls {
        None => {
            let (r, w) = stream.into_split();
            // Read ahead: a small request's length and body (and any
            // request pipelined behind it) come in one `recv`.
            let r = tokio::io::BufReader::with_capacity(READ_AHEAD_BYTES, r);
            (Source::Plain(r), Sink::Plain(w), Principal::anonymous())
        }
        Some(ctx) => {
            match tokio::time::timeout(read_deadline, ctx.acceptor().accept(stream)).await {
                Ok(Ok(tls)) => {
                    let cert = tls.get_ref().1.peer_certificates().and_then(|c| c.first());
                    let principal = match cert.map(|c| ctx.principal(c)) {
                        None => Principal::anonymous(),
                        Some(Ok(p)) => p,
                        // SASL_SSL: SASL names the principal instead.
                        Some(Err(_)) if listener.protocol.sasl() => Principal::anonymous(),
                        Some(Err(error)) => {
                            tracing::info!(%peer, listener = %listener.name, %error, "client certificate refused; closing connection");
                            return;
                        }
                    };
                    tracing::debug!(%peer, listener = %listener.name, %principal, "TLS connection established");
                    // mTLS on an SSL listener is its authentication: count it
                    // (SASL listeners count their SASL exchange instead).
                    let has_cert = tls.get_ref().1.peer_certificates().is_some();
                    if has_cert && !listener.protocol.sasl() {
                        state.metrics.authentication(&listener.name, "SSL", true);
                    }
                    let (r, w) = tokio::io::split(tls);
                    (Source::Tls(Box::new(r)), Sink::Tls(w), principal)
                }
                Ok(Err(e)) => {
                    tracing::info!(%peer, listener = %listener.name, error = %e, "TLS handshake failed; closing connection");
                    if client_certificate_refused(&e) && !listener.protocol.sasl() {
                        state.metrics.authentication(&listener.name, "SSL", false);
                    }
                    return;
                }
                Err(_) => {
                    tracing::info!(%peer, listener = %listener.name, "TLS handshake not completed in time; closing connection");
                    return;
                }
            }
        }
    };
    let mut auth = listener.protocol.sasl().then(|| {
        Authenticator::new(
            SaslSettings {
                mechanisms: config.sasl_mechanisms.clone(),
                oauth: listener.oauth.clone(),
                failed_delay: Duration::from_millis(config.failed_auth_delay_ms),
                reauth_ms: config.connections_max_reauth_ms,
                metrics: Some(state.metrics.clone()),
            },
            state.users.clone(),
            peer,
            &listener.name,
        )
    });
    let mut principal_arc = Arc::new(principal.clone());
    // The broker's shutdown: one future for the connection's life (a fresh
    // `changed()` per wait would register with the shared Notify, under
    // its lock, for every request).
    let stop = async move {
        let _ = shutdown.changed().await;
    };
    let mut stop = std::pin::pin!(stop);
    let mut idle = IdleTimer::new(idle);
    let activity = Arc::new(Activity {
        opened: Instant::now(),
        last_write_ms: AtomicU64::new(0),
    });
    // Clients send one client id on every request: share it between them.
    let mut client: Arc<str> = Arc::from("");
    let writer_activity = activity.clone();
    let mut replies = Replies::new(wr, peer, move || writer_activity.wrote());

    // Quotas: the connection reads nothing until this instant (KIP-219).
    // (Milliseconds after `muted_since`; 0: not muted.)
    let muted_until: Arc<AtomicU64> = Arc::default();
    let muted_since = tokio::time::Instant::now();
    // Whether this client has a quota (then: one request at a time), and
    // for which (client id, principal, quota generation) that was decided.
    let mut limited = false;
    let mut limited_for: Option<(Arc<str>, Arc<Principal>, u64)> = None;
    let sequencer = Sequencer::new();
    let mut next_seq: u64 = 0;
    let max = config.socket_request_max_bytes;
    let sasl_max = config.sasl_max_receive_size.min(max);
    loop {
        let mute = muted_until.load(Ordering::Acquire);
        if mute > 0 {
            let until = muted_since + Duration::from_millis(mute);
            if until > tokio::time::Instant::now() {
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => {}
                    _ = stop.as_mut() => break,
                }
            }
        }
        let in_flight = || sequencer.in_flight(next_seq);
        let len_buf =
            match read_length(&mut rd, &mut stop, &mut idle, &activity, in_flight, peer).await {
                Ok(b) => b,
                Err(_) => break,
            };
        let len = i32::from_be_bytes(len_buf);
        let unauthenticated = auth.as_ref().is_some_and(|a| !a.authenticated());
        let limit = if unauthenticated { sasl_max } else { max };
        if len < 0 || len as usize > limit {
            if listener.tls.is_none() && len_buf[0] == 0x16 && len_buf[1] == 0x03 {
                tracing::warn!(%peer, listener = %listener.name, "TLS handshake on a listener without TLS; closing connection");
            } else if unauthenticated {
                tracing::warn!(%peer, listener = %listener.name, size = len, limit, "request before SASL authentication larger than sasl.server.max.receive.size; closing connection");
            } else {
                tracing::warn!(%peer, size = len, limit = max, "request size out of bounds; closing connection");
            }
            break;
        }
        let len = len as usize;
        // Back-pressure: wait for room in the broker-wide request budget
        // before reading (and allocating) the body.
        let reservation = tokio::select! {
            biased;
            r = memory.reserve(len) => r,
            _ = stop.as_mut() => break,
        };
        let frame_buf = match read_body(&mut rd, len, read_deadline, peer, &memory).await {
            Ok(b) => b,
            Err(_) => break,
        };
        let started = std::time::Instant::now();
        let frame_bytes = frame_buf.freeze();
        if let Some(a) = auth.as_mut().filter(|a| a.expects_raw_token()) {
            // After a v0 SaslHandshake: a raw token, no Kafka header.
            match a.on_raw_token(&frame_bytes).await {
                Verdict::RawAnswer(token) => {
                    let mut buf = BytesMut::with_capacity(4 + token.len());
                    buf.extend_from_slice(&(token.len() as u32).to_be_bytes());
                    buf.extend_from_slice(&token);
                    let out = Outgoing {
                        buf,
                        holes: Vec::new(),
                    };
                    if !queue(&mut replies, Some(out), Duration::ZERO).await {
                        break;
                    }
                    if let Some(p) = a.principal() {
                        principal_arc = Arc::new(p.clone());
                    }
                    continue;
                }
                Verdict::Close(delay) | Verdict::AnswerAndClose(_, delay) => {
                    tokio::time::sleep(delay).await;
                    break;
                }
                Verdict::Pass | Verdict::Answer(_) => break,
            }
        }
        // Kept to hand the buffer back once the request is answered.
        let frame_keep = frame_bytes.clone();
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
                let out = ready(correlation_id, ApiKey::ApiVersions, 0, &resp);
                if !queue(&mut replies, out, Duration::ZERO).await {
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
        if let Some(a) = auth.as_mut() {
            let verdict = a.on_request(api_key, api_version, &request).await;
            if let Some(p) = a.principal() {
                if *p != principal {
                    principal = p.clone();
                    principal_arc = Arc::new(principal.clone());
                }
            }
            match verdict {
                Verdict::Pass => {}
                Verdict::Answer(resp) => {
                    let out = ready(correlation_id, api_key, api_version, &resp);
                    if !queue(&mut replies, out, Duration::ZERO).await {
                        break;
                    }
                    continue;
                }
                Verdict::AnswerAndClose(resp, delay) => {
                    let out = ready(correlation_id, api_key, api_version, &resp);
                    let _ = queue(&mut replies, out, delay).await;
                    break;
                }
                Verdict::Close(delay) => {
                    tokio::time::sleep(delay).await;
                    break;
                }
                Verdict::RawAnswer(_) => break,
            }
        }
        let no_response = matches!(&request, Request::Produce(p) if p.acks == 0);
        let wait_allowance = crate::metrics::wait_allowance(&request);
        if *client != *parsed.client_id.as_deref().unwrap_or("") {
            client = Arc::from(parsed.client_id.as_deref().unwrap_or(""));
        }
        let client_id = client.clone();
        let quotas = &state.quotas;
        if quotas.active() || limited {
            let generation = quotas.generation();
            let fresh = limited_for.as_ref().is_some_and(|(c, p, g)| {
                Arc::ptr_eq(c, &client_id) && Arc::ptr_eq(p, &principal_arc) && *g == generation
            });
            if !fresh {
                limited = quotas.limits(crate::quotas::Client::new(&principal_arc, &client_id));
                limited_for = Some((client_id.clone(), principal_arc.clone(), generation));
            }
        }
        // Only a limited connection waits for its request to finish.
        let (done_tx, done_rx) = match limited {
            true => {
                let (t, r) = oneshot::channel::<()>();
                (Some(t), Some(r))
            }
            false => (None, None),
        };
        // The request quota needs the handler's running time.
        let timed = quotas.active();
        let seq = next_seq;
        next_seq += 1;
        // Nothing of the frame may outlive the request but what the
        // handler keeps (then its buffer is not reused).
        let frame::RequestFrame {
            client_id: frame_client,
            body,
            header_tagged_fields,
            ..
        } = parsed;
        drop((body, header_tagged_fields));
        let records_out = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        let ctx = RequestCtx {
            api_version,
            correlation_id,
            client_id: frame_client,
            peer,
            apply_turn: Some(sequencer.turn(seq)),
            records_out: records_out.clone(),
            listener: listener.name.clone(),
            principal: principal_arc.clone(),
            more_queued: rd.more_queued(),
        };
        let Some(slot) = replies.slot().await else {
            break;
        };
        let st = state.clone();
        let principal_of_request = principal_arc.clone();
        let muted = muted_until.clone();
        let request_bytes = len;
        let metrics = state.metrics.clone();
        let sequencer = sequencer.clone();
        let buffers = memory.clone();
        let fut = async move {
            // The request's bytes count against the budget until answered.
            let _reservation = reservation;
            sequencer.wait_turn(seq, api_key == ApiKey::Produce).await;
            let handling = (handler.handle)(st.clone(), ctx, request);
            let (mut response, busy): (Response, _) = if timed {
                crate::throttle::Timed::new(handling).await
            } else {
                (handling.await, Duration::ZERO)
            };
            sequencer.mark_completed(seq);
            buffers.recycle(frame_keep);
            let usage = crate::throttle::Usage {
                api: api_key,
                principal: &principal_of_request,
                client_id: &client_id,
                request_bytes,
                busy,
                no_response,
            };
            let throttle_ms = crate::throttle::apply(&st, &usage, &mut response);
            let mut late = Duration::ZERO;
            if throttle_ms > 0 {
                let t = Duration::from_millis(throttle_ms);
                let until = (tokio::time::Instant::now() + t).duration_since(muted_since);
                let until = u64::try_from(until.as_millis()).unwrap_or(u64::MAX).max(1);
                muted.fetch_max(until, Ordering::AcqRel);
                if !crate::throttle::client_throttles_itself(api_key, api_version) {
                    late = t;
                }
            }
            if let Some(done) = done_tx {
                let _ = done.send(());
            }
            let elapsed = started.elapsed();
            metrics.observe_request(api_key, api_version, elapsed);
            if crate::metrics::is_slow(slow_threshold, wait_allowance, elapsed) {
                tracing::warn!(%peer, api = api_key.name(), api_version, client_id = %client_id, ms = elapsed.as_millis() as u64, "slow request");
            }
            if no_response {
                slot.deliver(Reply::Skip).await;
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
            if !late.is_zero() {
                tokio::time::sleep(late).await;
            }
            let reply = match encoded {
                Ok(()) => Reply::Send(Outgoing {
                    buf: out,
                    holes: writer.holes,
                }),
                Err(e) => {
                    tracing::error!(%peer, api = ?api_key, api_version, error = %e, "could not encode response");
                    Reply::Close
                }
            };
            slot.deliver(reply).await;
        };
        // A small request that needs no wait (the common produce in
        // page-cache mode) is answered inline: no task, no wake-up. A large
        // one runs as its own task, so the next is read meanwhile.
        if len <= INLINE_MAX_BYTES {
            run_or_spawn(fut);
        } else {
            tokio::spawn(fut);
        }
        if replies.closed() {
            break;
        }
        if let Some(done) = done_rx {
            tokio::select! {
                biased;
                _ = done => {}
                _ = stop.as_mut() => break,
            }
        }
    }
    replies.finish().await;
    tracing::debug!(%peer, "connection closed");
}
