//! A connection's responses, written in request order by whichever task
//! finishes the reply that is next in line.
//!
//! Each request takes a place in the order ([`Replies::slot`]) when it is
//! read. When its handler finishes, its task hands the reply in
//! ([`ReplySlot::deliver`]): if every earlier reply has been written, the
//! task writes its own, then any later ones that finished meanwhile, and
//! leaves; otherwise it parks the reply for the task that completes the
//! gap. No writer task sits between them, so a request answered at once
//! costs no wake-up of another task, and replies that are ready together
//! go out in one vectored write.
//!
//! At most [`MAX_IN_FLIGHT`] replies are outstanding; the reader waits for
//! a place beyond that, which is the connection's back-pressure.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};

use crate::zero_copy::{Outgoing, Sink};

/// Most requests one connection may have in flight before we stop reading.
pub const MAX_IN_FLIGHT: usize = 128;

/// Polls `fut` once, with a waker that does nothing: `Some(output)` if it
/// finished without waiting. A future left pending must then be polled
/// by an owner with a real waker (spawned or awaited); its next poll
/// registers its wake-ups afresh, so nothing is lost.
pub fn poll_now<F: Future + Unpin>(fut: &mut F) -> Option<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(fut).poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Runs `fut` to its end: inline if it finishes without waiting (no task,
/// no wake-up), else as a task of its own.
pub fn run_or_spawn(fut: impl Future<Output = ()> + Send + 'static) {
    let mut fut = Box::pin(fut);
    if poll_now(&mut fut).is_none() {
        tokio::spawn(fut);
    }
}

/// What to do in one place of the response order.
pub enum Reply {
    Send(Outgoing),
    /// Nothing to write (acks=0, or a request answered by closing).
    Skip,
    /// Close the connection here (a response that could not be encoded,
    /// or a handler that never answered).
    Close,
}

/// The writing side, shared by every task that delivers a reply.
struct Output {
    state: Mutex<OutState>,
    /// Set once nothing more will be written: a write failed or a reply
    /// closed the connection.
    closed: AtomicBool,
    /// Called after every successful write (the idle timer).
    wrote: Box<dyn Fn() + Send + Sync>,
    peer: SocketAddr,
}

struct OutState {
    /// None once closed.
    sink: Option<Sink>,
    /// The place whose reply is written next.
    next: u64,
    /// Replies that finished before an earlier one, by place.
    parked: BTreeMap<u64, (Reply, OwnedSemaphorePermit)>,
}

impl Output {
    /// Puts `reply` in place `seq`; writes every reply that is now next
    /// in line. The permits go back as their replies are written.
    async fn place(&self, seq: u64, reply: Reply, permit: OwnedSemaphorePermit) {
        let mut st = self.state.lock().await;
        if seq != st.next {
            st.parked.insert(seq, (reply, permit));
            return;
        }
        let mut run = vec![(reply, permit)];
        st.next += 1;
        loop {
            let next = st.next;
            let Some(r) = st.parked.remove(&next) else {
                break;
            };
            run.push(r);
            st.next += 1;
        }
        self.write_run(&mut st, run).await;
    }

    /// Writes consecutive replies in order; hole-free ones that follow
    /// each other go out in one vectored write.
    async fn write_run(&self, st: &mut OutState, run: Vec<(Reply, OwnedSemaphorePermit)>) {
        let mut batch: Vec<Outgoing> = Vec::new();
        let mut permits = Vec::with_capacity(run.len());
        for (reply, permit) in run {
            permits.push(permit);
            let Some(sink) = st.sink.as_mut() else {
                continue;
            };
            match reply {
                Reply::Send(out) if out.holes.is_empty() => batch.push(out),
                Reply::Send(out) => {
                    if !self.flush(sink, &mut batch).await {
                        st.sink = None;
                        continue;
                    }
                    if let Err(e) = sink.write_outgoing(&out).await {
                        self.failed(&e);
                        st.sink = None;
                        continue;
                    }
                    (self.wrote)();
                }
                Reply::Skip => {}
                Reply::Close => {
                    let ok = self.flush(sink, &mut batch).await;
                    if ok {
                        let _ = sink.shutdown().await;
                    }
                    self.closed.store(true, Ordering::Release);
                    st.sink = None;
                }
            }
        }
        if let Some(sink) = st.sink.as_mut() {
            if !self.flush(sink, &mut batch).await {
                st.sink = None;
            }
        }
        drop(permits);
    }

    /// Writes the gathered hole-free replies; false if the write failed.
    async fn flush(&self, sink: &mut Sink, batch: &mut Vec<Outgoing>) -> bool {
        if batch.is_empty() {
            return true;
        }
        let result = sink.write_many(batch).await;
        batch.clear();
        match result {
            Ok(()) => {
                (self.wrote)();
                true
            }
            Err(e) => {
                self.failed(&e);
                false
            }
        }
    }

    fn failed(&self, e: &std::io::Error) {
        tracing::debug!(peer = %self.peer, error = %e, "write failed");
        self.closed.store(true, Ordering::Release);
    }
}

/// Hands out places in a connection's response order.
pub struct Replies {
    output: Arc<Output>,
    next: u64,
    permits: Arc<Semaphore>,
}

impl Replies {
    /// The response order of a connection writing to `sink`; `wrote` is
    /// called after each successful write.
    pub fn new(sink: Sink, peer: SocketAddr, wrote: impl Fn() + Send + Sync + 'static) -> Replies {
        Replies {
            output: Arc::new(Output {
                state: Mutex::new(OutState {
                    sink: Some(sink),
                    next: 0,
                    parked: BTreeMap::new(),
                }),
                closed: AtomicBool::new(false),
                wrote: Box::new(wrote),
                peer,
            }),
            next: 0,
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        }
    }

    /// The next place in the order; waits while [`MAX_IN_FLIGHT`] replies
    /// are outstanding. None once the output is closed.
    pub async fn slot(&mut self) -> Option<ReplySlot> {
        if self.closed() {
            return None;
        }
        let permit = self.permits.clone().acquire_owned().await.ok()?;
        let seq = self.next;
        self.next += 1;
        Some(ReplySlot {
            seq,
            output: self.output.clone(),
            permit: Some(permit),
        })
    }

    /// Whether the output stopped (a write failed or a reply closed it).
    pub fn closed(&self) -> bool {
        self.output.closed.load(Ordering::Acquire)
    }

    /// Waits until every reply handed out has been written, then closes
    /// the writing side.
    pub async fn finish(self) {
        // Closed already (a failed write, a close in place): nothing more
        // will be written, so the replies still out are not waited for.
        if self.closed() {
            return;
        }
        let all = u32::try_from(MAX_IN_FLIGHT).unwrap_or(u32::MAX);
        let _all = self.permits.acquire_many(all).await;
        let mut st = self.output.state.lock().await;
        if let Some(mut sink) = st.sink.take() {
            let _ = sink.shutdown().await;
        }
    }
}

/// One reply's place in the write order. Dropped without a reply (a
/// handler that panicked or was cancelled) it closes the connection in
/// its place: nothing after it may be written.
pub struct ReplySlot {
    seq: u64,
    output: Arc<Output>,
    permit: Option<OwnedSemaphorePermit>,
}

impl ReplySlot {
    /// Puts the reply in its place, writing it (and whatever follows it
    /// and is ready) when every earlier reply has been written.
    pub async fn deliver(mut self, reply: Reply) {
        if let Some(permit) = self.permit.take() {
            self.output.place(self.seq, reply, permit).await;
        }
    }
}

impl Drop for ReplySlot {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let output = self.output.clone();
        let seq = self.seq;
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move { output.place(seq, Reply::Close, permit).await });
            }
            // No runtime left (shutting down): nothing more is written.
            Err(_) => output.closed.store(true, Ordering::Release),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    fn frame(text: &str) -> Reply {
        Reply::Send(Outgoing {
            buf: BytesMut::from(text.as_bytes()),
            holes: Vec::new(),
        })
    }

    async fn pair() -> (Replies, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        let client = TcpStream::connect(addr).await.expect("connect");
        let (server, peer) = l.accept().await.expect("accept");
        let (_rd, wr) = server.into_split();
        (Replies::new(Sink::Plain(wr), peer, || {}), client)
    }

    async fn read_all(mut c: TcpStream) -> String {
        let mut s = String::new();
        c.read_to_string(&mut s).await.expect("read");
        s
    }

    #[tokio::test]
    async fn replies_are_written_in_place_order_whoever_finishes_first() {
        let (mut replies, client) = pair().await;
        let a = replies.slot().await.expect("slot");
        let b = replies.slot().await.expect("slot");
        let c = replies.slot().await.expect("slot");
        let d = replies.slot().await.expect("slot");
        c.deliver(frame("c")).await;
        b.deliver(Reply::Skip).await;
        d.deliver(frame("d")).await;
        a.deliver(frame("a")).await;
        replies.finish().await;
        assert_eq!(read_all(client).await, "acd");
    }

    #[tokio::test]
    async fn a_dropped_slot_closes_the_connection_in_its_place() {
        let (mut replies, client) = pair().await;
        let a = replies.slot().await.expect("slot");
        let b = replies.slot().await.expect("slot");
        let c = replies.slot().await.expect("slot");
        c.deliver(frame("c")).await;
        drop(b);
        a.deliver(frame("a")).await;
        replies.finish().await;
        assert_eq!(read_all(client).await, "a");
    }

    #[tokio::test]
    async fn no_place_is_handed_out_after_a_close() {
        let (mut replies, _client) = pair().await;
        let a = replies.slot().await.expect("slot");
        a.deliver(Reply::Close).await;
        assert!(replies.closed());
        assert!(replies.slot().await.is_none());
    }

    #[test]
    fn poll_now_runs_what_needs_no_wait_and_leaves_the_rest() {
        assert_eq!(poll_now(&mut std::future::ready(7)), Some(7));
        assert_eq!(poll_now(&mut std::future::pending::<u8>()), None);
    }
}
