//! The order of one connection's requests (Kafka's rule: a connection's
//! requests take effect in the order they were sent). Requests are
//! numbered as they are read; request `n` waits for its turn before its
//! handler runs: a Produce once every earlier request has *applied* its
//! effects (a Produce applies when its batches are in the logs, before
//! its fsync wait; a Fetch at once, since it changes nothing), anything
//! else once every earlier request has *completed*. So an OffsetFetch
//! sees the OffsetCommit sent before it, a ListOffsets the Produce before
//! it, and pipelined produces still overlap their fsync waits.

use std::sync::Arc;

use tokio::sync::watch;

/// Orders one connection's requests. Requests are numbered from 0 in the
/// order read; request `n` has *applied* once its effects are visible to
/// later requests, and *completed* once its response is ready.
pub struct Sequencer {
    /// One past the highest request number that has applied. Requests
    /// apply in order, so this is also how many have applied.
    applied: watch::Sender<u64>,
    /// How many requests have completed.
    completed: watch::Sender<u64>,
}

impl Sequencer {
    pub fn new() -> Arc<Sequencer> {
        Arc::new(Sequencer {
            applied: watch::channel(0).0,
            completed: watch::channel(0).0,
        })
    }

    /// Waits for request `seq`'s turn: every earlier request applied (a
    /// Produce) or completed (anything else). Only requests before `seq`
    /// can have started while it waits, so a count is enough.
    pub async fn wait_turn(&self, seq: u64, produce: bool) {
        let mut rx = if produce {
            self.applied.subscribe()
        } else {
            self.completed.subscribe()
        };
        let _ = rx.wait_for(|n| *n >= seq).await;
    }

    pub fn mark_applied(&self, seq: u64) {
        self.applied.send_if_modified(|n| {
            let moved = *n < seq + 1;
            *n = (*n).max(seq + 1);
            moved
        });
    }

    pub fn mark_completed(&self, seq: u64) {
        self.mark_applied(seq);
        self.completed.send_modify(|n| *n += 1);
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
        *self.completed.borrow() < next_seq
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
