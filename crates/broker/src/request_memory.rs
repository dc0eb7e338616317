//! The broker-wide budget for request bytes held in memory
//! (`queued.max.request.bytes`).
//!
//! A connection takes a share of the budget for a request as soon as the
//! request's length prefix arrives, before it reads or allocates the body,
//! and gives it back when the request has been answered. While the budget
//! is used up, connections wait before reading further requests: clients
//! see back-pressure (TCP flow control), the broker never allocates more.
//! As in Kafka's memory pool, a request is let in whenever any budget is
//! left, so one request of up to `socket.request.max.bytes` always fits,
//! and what is held in large requests never exceeds the budget plus one
//! request. Small requests (up to [`SMALL_REQUEST`]) are counted but never
//! wait: heartbeats, metadata and commits keep flowing while large
//! produces fill the budget (each connection has at most a bounded number
//! of requests in flight, so their memory is bounded too).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};

use crate::signal::Signal;

/// Requests up to this size are admitted even when the budget is used up.
pub const SMALL_REQUEST: usize = 64 * 1024;

pub struct RequestMemory {
    /// The budget; `usize::MAX` for none (Kafka's -1).
    limit: usize,
    /// Bytes of requests read or being read and not yet answered.
    used: AtomicUsize,
    /// Woken when bytes are given back, if anyone waits.
    freed: Signal,
    /// Request buffers kept for reuse (see [`RequestMemory::buffer`]).
    spare: Mutex<Spare>,
}

/// Answered requests' buffers, kept so the next large request is read
/// into memory that is already mapped: a fresh large allocation costs a
/// page fault and a page clear per 4 KiB, more than reading into it.
#[derive(Default)]
struct Spare {
    buffers: Vec<BytesMut>,
    /// Sum of the kept buffers' capacities, at most [`SPARE_TOTAL`].
    bytes: usize,
}

/// Buffers from this size up are worth keeping (smaller ones come from
/// the allocator's own free lists).
const SPARE_MIN: usize = 64 * 1024;
/// Larger buffers are not kept.
const SPARE_MAX: usize = 4 << 20;
/// What all kept buffers may hold together.
const SPARE_TOTAL: usize = 8 << 20;

/// A share of the budget; given back on drop.
pub struct Reservation {
    bytes: usize,
    pool: Arc<RequestMemory>,
}

impl RequestMemory {
    /// `limit` as configured: negative means no limit.
    pub fn new(limit: i64) -> Arc<RequestMemory> {
        Arc::new(RequestMemory {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            used: AtomicUsize::new(0),
            freed: Signal::default(),
            spare: Mutex::default(),
        })
    }

    /// An empty buffer for a request body of `len` bytes: a kept one
    /// that holds `len` if there is one, else a new one with room for
    /// `len` or `chunk`, whichever is smaller (memory then grows with what
    /// actually arrives).
    pub fn buffer(&self, len: usize, chunk: usize) -> BytesMut {
        if len >= SPARE_MIN {
            let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
            let fits = spare.buffers.iter().position(|b| b.capacity() >= len);
            if let Some(i) = fits {
                let buf = spare.buffers.swap_remove(i);
                spare.bytes -= buf.capacity();
                return buf;
            }
        }
        BytesMut::with_capacity(len.min(chunk))
    }

    /// Keeps an answered request's buffer for reuse, if nothing else
    /// holds a part of it and the kept buffers have room.
    pub fn recycle(&self, frame: Bytes) {
        let Ok(mut buf) = frame.try_into_mut() else {
            return;
        };
        let cap = buf.capacity();
        if !(SPARE_MIN..=SPARE_MAX).contains(&cap) {
            return;
        }
        buf.clear();
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        if spare.bytes + cap <= SPARE_TOTAL {
            spare.bytes += cap;
            spare.buffers.push(buf);
        }
    }

    /// Bytes currently held by requests.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Takes `bytes` of the budget, waiting while none is left.
    pub async fn reserve(self: &Arc<Self>, bytes: usize) -> Reservation {
        self.freed.wait_until(|| self.try_reserve(bytes)).await
    }

    /// Takes `bytes` of the budget if it admits them now.
    fn try_reserve(self: &Arc<Self>, bytes: usize) -> Option<Reservation> {
        loop {
            let cur = self.used.load(Ordering::SeqCst);
            if cur >= self.limit && bytes > SMALL_REQUEST {
                return None;
            }
            let taken = self.used.compare_exchange(
                cur,
                cur.saturating_add(bytes),
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
            if taken.is_ok() {
                return Some(Reservation {
                    bytes,
                    pool: self.clone(),
                });
            }
            // Lost a race with another reservation or a release: retry.
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.pool.used.fetch_sub(self.bytes, Ordering::SeqCst);
        self.pool.freed.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_while_the_budget_is_used_up() {
        let mib = 1 << 20;
        let pool = RequestMemory::new(100 * mib as i64);
        let a = pool.reserve(60 * mib).await;
        // Below the limit: admitted even though it goes over (one request
        // must always fit).
        let b = pool.reserve(60 * mib).await;
        assert_eq!(pool.used(), 120 * mib);
        // Small requests still get through.
        drop(pool.reserve(SMALL_REQUEST).await);
        let p = pool.clone();
        let waiting = tokio::spawn(async move { p.reserve(SMALL_REQUEST + 1).await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "admitted over the budget");
        drop(a);
        let c = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("woken when memory was freed")
            .expect("task");
        assert_eq!(pool.used(), 60 * mib + SMALL_REQUEST + 1);
        drop((b, c));
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn answered_buffers_are_reused_within_bounds() {
        let pool = RequestMemory::new(-1);
        let mut a = pool.buffer(200_000, 1 << 20);
        a.extend_from_slice(&[7u8; 200_000]);
        let ptr = a.as_ptr();
        let frame = a.freeze();
        // Still shared (a slice is held): not kept.
        let slice = frame.slice(10..20);
        pool.recycle(frame.clone());
        assert_eq!(pool.spare.lock().unwrap().bytes, 0);
        drop(slice);
        pool.recycle(frame);
        let b = pool.buffer(150_000, 1 << 20);
        assert_eq!((b.as_ptr(), b.len()), (ptr, 0), "the same memory, emptied");
        assert!(b.capacity() >= 200_000);
        // Small requests and over-large buffers are not pooled.
        assert!(pool.buffer(1000, 1 << 20).capacity() < SPARE_MIN);
        pool.recycle(BytesMut::with_capacity(SPARE_MAX + 1).freeze());
        // At most SPARE_TOTAL is kept.
        for _ in 0..(SPARE_TOTAL / SPARE_MAX + 2) {
            let mut big = BytesMut::with_capacity(SPARE_MAX);
            big.extend_from_slice(&[1]);
            pool.recycle(big.freeze());
        }
        assert!(pool.spare.lock().unwrap().bytes <= SPARE_TOTAL);
    }

    #[tokio::test]
    async fn negative_limit_is_unbounded() {
        let pool = RequestMemory::new(-1);
        let _a = pool.reserve(usize::MAX / 2).await;
        let _b = pool.reserve(usize::MAX / 4).await;
    }
}
