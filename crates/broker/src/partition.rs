//! One partition replica hosted by this broker: its log, leader epoch and
//! the high watermark that gates what consumers see.
//!
//! Lifecycle: created when its topic is created or loaded at start,
//! dropped (and its directory deleted) when the topic is deleted. The
//! broker leads every partition it hosts while single-node, but leader
//! epochs, the high watermark and the log start offset are tracked as a
//! replicated partition needs them.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use fjord_storage::Log;

use crate::producer_state::ProducerStates;

pub struct Partition {
    pub topic: String,
    pub index: i32,
    pub log: Arc<Log>,
    /// Bumped on every leadership change (here: every broker start).
    pub leader_epoch: i32,
    /// Offsets below this are committed: durable under the default flush
    /// policy (the only replica is this one), visible to consumers.
    high_watermark: AtomicI64,
    /// Idempotent producers' sequence state; appends of batches with a
    /// producer id hold this lock from check to record.
    pub producers: std::sync::Mutex<ProducerStates>,
}

impl Partition {
    /// Calls `f` with every batch of the log, from the log start to the log
    /// end, in order (the replay of an internal topic at start). A read
    /// error is logged and ends the replay of this partition.
    pub fn for_each_batch(
        &self,
        mut f: impl FnMut(&fjord_protocol::records::BatchHeader, bytes::Bytes),
    ) {
        let log = &self.log;
        let mut offset = log.log_start_offset();
        let end = log.log_end_offset();
        while offset < end {
            let read = match log.read(offset, 1 << 20, end, true) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(topic = %self.topic, partition = self.index, offset, error = %e, "replaying the log failed");
                    return;
                }
            };
            if read.is_empty() || read.next_offset <= offset {
                return;
            }
            offset = read.next_offset;
            let data = match read.to_bytes() {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(topic = %self.topic, partition = self.index, offset, error = %e, "replaying the log failed");
                    return;
                }
            };
            let mut pos = 0usize;
            for item in fjord_protocol::records::BatchIter::new(&data) {
                let Ok((h, raw)) = item else { break };
                let batch = data.slice(pos..pos + raw.len());
                pos += raw.len();
                f(&h, batch);
            }
        }
    }

    pub fn new(topic: &str, index: i32, log: Arc<Log>, leader_epoch: i32) -> Partition {
        // After a restart everything recovered from disk is committed:
        // this broker is the whole ISR.
        let hw = log.log_end_offset();
        log.set_high_watermark(hw);
        let producers = ProducerStates::load(&log, crate::handlers::now_ms());
        Partition {
            topic: topic.to_string(),
            index,
            log,
            leader_epoch,
            high_watermark: AtomicI64::new(hw),
            producers: std::sync::Mutex::new(producers),
        }
    }

    /// Snapshots producer state, then syncs and closes the log.
    pub fn close(&self) -> Result<(), fjord_storage::StorageError> {
        if let Ok(states) = self.producers.lock() {
            if let Err(e) = states.write_snapshot(self.log.dir(), self.log.log_end_offset()) {
                tracing::warn!(topic = %self.topic, partition = self.index, error = %e, "producer snapshot failed");
            }
        }
        self.log.close()
    }

    /// Replicas and in-sync replicas of this partition, by node id. While
    /// single-node the hosting broker is the only replica, in sync unless
    /// its log went offline after an I/O error; replication will keep
    /// these sets here, and `/metrics` derives under-replication from them.
    pub fn replica_sets(&self, local_node: i32) -> (Vec<i32>, Vec<i32>) {
        let isr = if self.log.is_offline() {
            Vec::new()
        } else {
            vec![local_node]
        };
        (vec![local_node], isr)
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    /// The last stable offset: the first offset of the earliest open
    /// transaction, or the high watermark when none is open below it.
    pub fn last_stable_offset(&self) -> i64 {
        let hw = self.high_watermark();
        match self.producers.lock() {
            Ok(s) => s.first_unstable_offset().map_or(hw, |f| f.min(hw)),
            Err(_) => hw,
        }
    }

    /// Makes what was appended below `next_offset` durable as the log's
    /// flush policy asks (fsync, or page cache plus a due flush), then
    /// moves the high watermark over what is now durable: the one place
    /// that keeps "the high watermark never passes what is durable".
    /// Returns whether the high watermark moved (long-poll fetches should
    /// be woken). Blocking: call from a blocking context.
    pub fn make_durable(&self, next_offset: i64) -> Result<bool, fjord_storage::StorageError> {
        let log = &self.log;
        let durable = match log.flush_policy() {
            fjord_storage::FlushPolicy::SyncBeforeAck => {
                log.sync_to(next_offset)?;
                log.durable_offset()
            }
            fjord_storage::FlushPolicy::PageCache { .. } => {
                log.flush_if_due(crate::handlers::now_ms())?;
                log.log_end_offset()
            }
        };
        Ok(self.advance_high_watermark(durable))
    }

    /// Moves the high watermark forward (never back); true if it moved.
    pub fn advance_high_watermark(&self, to: i64) -> bool {
        let prev = self.high_watermark.fetch_max(to, Ordering::AcqRel);
        if to > prev {
            self.log.set_high_watermark(to);
            true
        } else {
            false
        }
    }
}
