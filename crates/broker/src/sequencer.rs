//! The order of one connection's requests (Kafka's rule: a connection's
//! requests take effect in the order they were sent). Requests are
//! numbered as they are read; request `n` waits for its turn before its
//! handler runs: a Produce once every earlier request has *applied* its
//! effects (a Produce applies when its batches are in the logs, before
//! its fsync wait; a Fetch at once, since it changes nothing), anything
//! else once every earlier request has *completed*. So an OffsetFetch
//! sees the OffsetCommit sent before it, a ListOffsets the Produce before
//! it, and pipelined produces still overlap their fsync waits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::signal::Signal;

/// Orders one connection's requests. Requests are numbered from 0 in the
/// order read; request `n` has *applied* once its effects are visible to
/// later requests, and *completed* once its response is ready.
///
/// The counts are atomics, so a request whose turn has come (the common
/// case) passes without a lock; only while some request waits does a
/// change wake the waiters.
pub struct Sequencer {
    /// One past the highest request number that has applied. Requests
    /// apply in order, so this is also how many have applied.
    applied: AtomicU64,
    /// How many requests have completed.
    completed: AtomicU64,
    /// Woken when either count moves while a request waits.
    changed: Signal,
}

impl Sequencer {
    pub fn new() -> Arc<Sequencer> {
        Arc::new(Sequencer {
            applied: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            changed: Signal::default(),
        })
    }

    fn turn_has_come(&self, seq: u64, produce: bool) -> bool {
        let done = if produce {
            &self.applied
        } else {
            &self.completed
        };
        done.load(Ordering::SeqCst) >= seq
    }

    /// Waits for request `seq`'s turn: every earlier request applied (a
    /// Produce) or completed (anything else). Only requests before `seq`
    /// can have started while it waits, so a count is enough.
    pub async fn wait_turn(&self, seq: u64, produce: bool) {
        self.changed
            .wait_until(|| self.turn_has_come(seq, produce).then_some(()))
            .await
    }

    pub fn mark_applied(&self, seq: u64) {
        if self.applied.fetch_max(seq + 1, Ordering::SeqCst) < seq + 1 {
            self.changed.wake();
        }
    }

    pub fn mark_completed(&self, seq: u64) {
        self.applied.fetch_max(seq + 1, Ordering::SeqCst);
        self.completed.fetch_add(1, Ordering::SeqCst);
        self.changed.wake();
    }
}

/// A request's place in its connection's order. Dropping it (or calling
/// [`ApplyTurn::applied`]) tells the sequencer that the request's effects
/// are in place, so a following Produce may start.
pub struct ApplyTurn {
    seq: u64,
    sequencer: Arc<Sequencer>,
}

impl Sequencer {
    /// The turn of request `seq`, for its handler to release.
    pub fn turn(self: &Arc<Self>, seq: u64) -> ApplyTurn {
        ApplyTurn {
            seq,
            sequencer: self.clone(),
        }
    }

    /// Whether requests before `next_seq` are still being handled.
    pub fn in_flight(&self, next_seq: u64) -> bool {
        self.completed.load(Ordering::SeqCst) < next_seq
    }
}

impl ApplyTurn {
    /// The request's effects are applied; later produces may go ahead.
    pub fn applied(self) {}
}

impl Drop for ApplyTurn {
    fn drop(&mut self) {
        self.sequencer.mark_applied(self.seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn turns_follow_applied_and_completed_requests() {
        let s = Sequencer::new();
        // Request 0's turn is there at once.
        s.wait_turn(0, false).await;
        let (s1, s2) = (s.clone(), s.clone());
        let produce = tokio::spawn(async move { s1.wait_turn(1, true).await });
        let other = tokio::spawn(async move { s2.wait_turn(1, false).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!produce.is_finished() && !other.is_finished());
        assert!(s.in_flight(1));
        // Request 0 applied: a Produce may start, anything else not yet.
        drop(s.turn(0));
        tokio::time::timeout(Duration::from_secs(5), produce)
            .await
            .expect("produce woken once request 0 applied")
            .expect("task");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!other.is_finished());
        s.mark_completed(0);
        tokio::time::timeout(Duration::from_secs(5), other)
            .await
            .expect("woken once request 0 completed")
            .expect("task");
        assert!(!s.in_flight(1));
        assert_eq!(s.changed.waiters(), 0);
    }

    #[tokio::test]
    async fn a_cancelled_wait_is_counted_out() {
        let s = Sequencer::new();
        let waited = tokio::time::timeout(Duration::from_millis(10), s.wait_turn(3, false)).await;
        assert!(waited.is_err());
        assert_eq!(s.changed.waiters(), 0);
    }
}
