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
use std::sync::Arc;

use tokio::sync::Notify;

/// Requests up to this size are admitted even when the budget is used up.
pub const SMALL_REQUEST: usize = 64 * 1024;

pub struct RequestMemory {
    /// The budget; `usize::MAX` for none (Kafka's -1).
    limit: usize,
    /// Bytes of requests read or being read and not yet answered.
    used: AtomicUsize,
    /// Woken when bytes are given back.
    freed: Notify,
}

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
            freed: Notify::new(),
        })
    }

    /// Bytes currently held by requests.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Takes `bytes` of the budget, waiting while none is left.
    pub async fn reserve(self: &Arc<Self>, bytes: usize) -> Reservation {
        loop {
            // Register for a wake-up before checking, so a release between
            // the check and the wait is not missed.
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let cur = self.used.load(Ordering::Acquire);
            let admit = cur < self.limit || bytes <= SMALL_REQUEST;
            if admit
                && self
                    .used
                    .compare_exchange(
                        cur,
                        cur.saturating_add(bytes),
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    )
                    .is_ok()
            {
                return Reservation {
                    bytes,
                    pool: self.clone(),
                };
            }
            if admit {
                continue; // lost a race with another reservation: retry
            }
            freed.await;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.pool.used.fetch_sub(self.bytes, Ordering::AcqRel);
        self.pool.freed.notify_waiters();
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

    #[tokio::test]
    async fn negative_limit_is_unbounded() {
        let pool = RequestMemory::new(-1);
        let _a = pool.reserve(usize::MAX / 2).await;
        let _b = pool.reserve(usize::MAX / 4).await;
    }
}
