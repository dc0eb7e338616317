//! One partition replica hosted by a broker: its log, leader epoch, the
//! high watermark that gates what consumers see, and its producer state.
//!
//! The partition owns the rules of writing to it: [`Partition::append`]
//! applies the idempotent and transactional producer checks and records
//! the appended batches; [`Partition::make_durable`] is the one place where
//! the high watermark follows what is durable under the log's flush
//! policy. Handlers and coordinators call these; none re-implements them.
//!
//! Architecture invariant: this crate knows partitions and record batches,
//! not requests, connections or coordinators (a transactional batch is
//! checked through a hook the caller passes).
//!
//! Lifecycle: created when its topic is created or loaded at start,
//! dropped (and its directory deleted) when the topic is deleted. The
//! broker leads every partition it hosts while single-node, but leader
//! epochs, the high watermark and the log start offset are tracked as a
//! replicated partition needs them.

pub mod producer_state;
pub mod replica;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use fjord_protocol::records::{control_batch, BatchHeader, BatchIter, ControlType};
use fjord_protocol::ErrorCode;
use fjord_storage::clock::now_ms;
use fjord_storage::{AppendInfo, Log, StorageError};

use crate::producer_state::{Check, ProducerStates};
use crate::replica::Replication;

/// What [`Partition::append`] did.
#[derive(Debug)]
pub enum Appended {
    /// The batches were appended.
    New(AppendInfo),
    /// An idempotent producer retried its last batch: it is in the log
    /// already, at `base_offset`, and was not written again.
    Duplicate { base_offset: i64 },
}

/// Why an append was refused: the Kafka error and a message for the client.
pub type AppendError = (ErrorCode, String);

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
    /// Cluster mode: the replica set, ISR and followers' progress, which
    /// bound the high watermark (see `replica.rs`). None while
    /// single-node: the high watermark then follows the durable log end.
    replication: Option<std::sync::Mutex<Replication>>,
    /// Set once a newer `Partition` replaced this one over the same log
    /// (cluster mode, a leader epoch change): appends through this object
    /// are refused from then on, so the new object's producer state, loaded
    /// from the log after [`Partition::retire`], misses no batch.
    retired: std::sync::atomic::AtomicBool,
}

impl Partition {
    /// Stops appends through this object (see `retired`) and waits for one
    /// in flight to finish: call before opening a replacement over the log.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        // Appends that touch producer state hold this lock from their
        // check to their record: taking it waits for the one in flight.
        drop(self.producers.lock());
    }

    /// Whether a newer object replaced this one.
    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }
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
        Partition::build(topic, index, log, leader_epoch, hw, None)
    }

    /// A replica of a replicated partition (cluster mode). Its high
    /// watermark starts at the log's checkpoint, never at the log end: a
    /// replica's tail may not be on the other in-sync replicas yet.
    pub fn new_replicated(
        topic: &str,
        index: i32,
        log: Arc<Log>,
        leader_epoch: i32,
        replication: Replication,
    ) -> Partition {
        let hw = log.high_watermark();
        Partition::build(topic, index, log, leader_epoch, hw, Some(replication))
    }

    fn build(
        topic: &str,
        index: i32,
        log: Arc<Log>,
        leader_epoch: i32,
        high_watermark: i64,
        replication: Option<Replication>,
    ) -> Partition {
        let producers = ProducerStates::load(&log, now_ms());
        Partition {
            topic: topic.to_string(),
            index,
            log,
            leader_epoch,
            high_watermark: AtomicI64::new(high_watermark),
            producers: std::sync::Mutex::new(producers),
            replication: replication.map(std::sync::Mutex::new),
            retired: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether this is a replicated partition (cluster mode).
    pub fn is_replicated(&self) -> bool {
        self.replication.is_some()
    }

    /// A copy of the replication state (None while single-node).
    pub fn replication(&self) -> Option<Replication> {
        let r = self.replication.as_ref()?;
        r.lock().ok().map(|r| r.clone())
    }

    /// Takes the image's replica set, ISR and partition epoch (the leader
    /// epoch unchanged); true if the high watermark moved (an ISR member
    /// that held it back left).
    pub fn update_replication(
        &self,
        replicas: Vec<i32>,
        isr: Vec<i32>,
        partition_epoch: i32,
    ) -> bool {
        let Some(r) = &self.replication else {
            return false;
        };
        let to = match r.lock() {
            Ok(mut r) => {
                r.update(replicas, isr, partition_epoch);
                r.is_leader()
                    .then(|| r.high_watermark(self.local_durable()))
            }
            Err(_) => None,
        };
        to.is_some_and(|to| self.advance_high_watermark(to))
    }

    /// A follower fetched from `fetch_offset` (so holds everything
    /// below): recorded, and the high watermark moved if the ISR allows.
    /// Returns whether it moved.
    pub fn record_follower_fetch(&self, replica: i32, fetch_offset: i64, now: i64) -> bool {
        let Some(r) = &self.replication else {
            return false;
        };
        let leader_end = self.log.log_end_offset();
        let to = match r.lock() {
            Ok(mut r) => {
                r.record_fetch(replica, fetch_offset, leader_end, now);
                r.high_watermark(self.local_durable())
            }
            Err(_) => return false,
        };
        self.advance_high_watermark(to)
    }

    /// Moves the high watermark over what became durable since (the
    /// broker's periodic flush): single-node, to the log's durable offset;
    /// replicated, only as far as the ISR allows, and only on the leader
    /// (a follower takes its leader's). Returns whether it moved.
    pub fn follow_durable(&self) -> bool {
        let Some(r) = &self.replication else {
            return self.advance_high_watermark(self.log.durable_offset());
        };
        let to = match r.lock() {
            Ok(r) if r.is_leader() => r.high_watermark(self.local_durable()),
            _ => return false,
        };
        self.advance_high_watermark(to)
    }

    /// What this broker holds durably under the log's flush policy.
    fn local_durable(&self) -> i64 {
        match self.log.flush_policy() {
            fjord_storage::FlushPolicy::SyncBeforeAck => self.log.durable_offset(),
            fjord_storage::FlushPolicy::PageCache { .. } => self.log.log_end_offset(),
        }
    }

    /// A follower's append of batches fetched from the leader, verbatim
    /// (offsets, epochs and CRCs kept; see `Log::append_replicated`).
    /// Batches wholly below the log end are skipped, a partial batch at
    /// the end (a fetch cut by its byte limit) is left for the next fetch.
    /// The producer state records them as the leader's did. Then the
    /// appended data is made durable under the flush policy and the high
    /// watermark follows the leader's, bounded by this log's end. Returns
    /// whether the high watermark moved. Blocking.
    pub fn append_as_follower(
        &self,
        data: &[u8],
        leader_high_watermark: i64,
        now: i64,
    ) -> Result<bool, StorageError> {
        let leo = self.log.log_end_offset();
        let (mut start, mut end) = (None, 0usize);
        let mut pos = 0usize;
        for (h, raw) in BatchIter::new(data).flatten() {
            if h.last_offset() >= leo && start.is_none() {
                start = Some(pos);
            }
            pos += raw.len();
            end = pos;
        }
        if let Some(start) = start.filter(|s| *s < end) {
            let mut buf = data[start..end].to_vec();
            let mut states = self
                .producers
                .lock()
                .map_err(|_| StorageError::Offline("producer state lock poisoned".into()))?;
            if self.is_retired() {
                // Replaced at a new leader epoch: the fetcher takes the
                // current object next round.
                return Err(StorageError::Closed);
            }
            self.log.append_replicated(&mut buf, now)?;
            for (h, raw) in BatchIter::new(&buf).flatten() {
                states.record_batch(&h, raw);
            }
        }
        let durable = match self.log.flush_policy() {
            fjord_storage::FlushPolicy::SyncBeforeAck => {
                self.log.sync_to(self.log.log_end_offset())?;
                self.log.durable_offset()
            }
            fjord_storage::FlushPolicy::PageCache { .. } => {
                self.log.flush_if_due(now)?;
                self.log.log_end_offset()
            }
        };
        Ok(self.advance_high_watermark(leader_high_watermark.min(durable)))
    }

    /// Cuts the log back to `offset` (a follower diverging from its new
    /// leader; see `Log::truncate_to`), lowers the high watermark with it
    /// and rebuilds the producer state from the log. Blocking.
    pub fn truncate_to(&self, offset: i64, now: i64) -> Result<(), StorageError> {
        let mut states = self
            .producers
            .lock()
            .map_err(|_| StorageError::Offline("producer state lock poisoned".into()))?;
        if self.is_retired() {
            return Err(StorageError::Closed);
        }
        self.log.truncate_to(offset)?;
        let end = self.log.log_end_offset();
        self.high_watermark.fetch_min(end, Ordering::AcqRel);
        *states = ProducerStates::load(&self.log, now);
        Ok(())
    }

    /// Snapshots producer state, then syncs and closes the log.
    pub fn close(&self) -> Result<(), StorageError> {
        self.snapshot_producers(true);
        self.log.close()
    }

    /// As [`Partition::close`] without any fsync and without the log's
    /// clean-shutdown marker: the first half of the broker's batched close
    /// (see `BrokerState::close_all`).
    pub fn close_deferred(&self) -> Result<(), StorageError> {
        // Unchanged since the start: the snapshot on disk is still right.
        if !self.log.unchanged_since_open() {
            self.snapshot_producers(false);
        }
        self.log.close_deferred()
    }

    /// A snapshot that cannot be written is not an error: the next start
    /// replays the log from the previous one. Logged at debug (a full disk
    /// would otherwise log it for every partition at a stop).
    fn snapshot_producers(&self, sync: bool) {
        if let Ok(states) = self.producers.lock() {
            if let Err(e) = states.write_snapshot(self.log.dir(), self.log.log_end_offset(), sync) {
                tracing::debug!(topic = %self.topic, partition = self.index, error = %e, "producer snapshot failed");
            }
        }
    }

    /// Replicas and in-sync replicas of this partition, by node id. While
    /// single-node the hosting broker is the only replica, in sync unless
    /// its log went offline after an I/O error; in cluster mode they are
    /// the image's. `/metrics` derives under-replication from them.
    pub fn replica_sets(&self, local_node: i32) -> (Vec<i32>, Vec<i32>) {
        if let Some(r) = self.replication() {
            return (r.replicas, r.isr);
        }
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

    /// Appends one produce payload (a run of v2 batches, already validated)
    /// at `now`. Batches with a producer id go through the idempotence
    /// checks: a retried last batch is answered as a [`Appended::Duplicate`],
    /// a sequence gap or a stale epoch is refused; `check_txn` is asked
    /// about every transactional batch (is the partition in the producer's
    /// transaction?). The appended batches are recorded in the producer
    /// state under the same lock, so check and record are atomic.
    pub fn append(
        &self,
        data: &Bytes,
        now: i64,
        check_txn: impl Fn(&BatchHeader) -> Result<(), AppendError>,
    ) -> Result<Appended, AppendError> {
        let first = BatchIter::new(data)
            .next()
            .and_then(|r| r.ok())
            .map(|(h, _)| h)
            .ok_or((ErrorCode::CorruptMessage, "no record batch".to_string()))?;
        let storage_err = |e: StorageError| {
            tracing::error!(topic = %self.topic, partition = self.index, error = %e, "append failed");
            (ErrorCode::from(&e), e.to_string())
        };
        if !first.has_producer_id() {
            return self
                .log
                .append_shared(data, self.leader_epoch, now)
                .map(Appended::New)
                .map_err(storage_err);
        }
        let mut states = self.producers.lock().map_err(|_| {
            (
                ErrorCode::UnknownServerError,
                "producer state lock poisoned".to_string(),
            )
        })?;
        if self.is_retired() {
            // A newer object (new leader epoch) serves this partition; its
            // producer state may not hold what this one would record.
            return Err((
                ErrorCode::NotLeaderOrFollower,
                "the partition's leadership changed".into(),
            ));
        }
        let batches = BatchIter::new(data).count();
        for item in BatchIter::new(data) {
            let (h, _) = item.map_err(|e| (ErrorCode::CorruptMessage, e.to_string()))?;
            if h.producer_id != first.producer_id || h.producer_epoch != first.producer_epoch {
                return Err((
                    ErrorCode::InvalidRecord,
                    "batches of one partition must share a producer".into(),
                ));
            }
            if h.is_transactional() {
                check_txn(&h)?;
            }
            match states.check(&h) {
                Check::Append => {}
                Check::Duplicate { base_offset } if batches == 1 => {
                    return Ok(Appended::Duplicate { base_offset });
                }
                Check::Duplicate { .. } => {
                    return Err((
                        ErrorCode::DuplicateSequenceNumber,
                        "duplicate batch in a multi-batch request".into(),
                    ));
                }
                Check::Reject(code, msg) => return Err((code, msg)),
            }
        }
        let info = self
            .log
            .append_shared(data, self.leader_epoch, now)
            .map_err(storage_err)?;
        // The batches as written: consecutive offsets from the first.
        let mut next = info.first_offset;
        for (mut h, _) in BatchIter::new(data).flatten() {
            h.base_offset = next;
            h.partition_leader_epoch = self.leader_epoch;
            if info.log_append_time >= 0 {
                h.max_timestamp = info.log_append_time;
            }
            next += i64::from(h.last_offset_delta) + 1;
            states.record(&h);
        }
        Ok(Appended::New(info))
    }

    /// Appends a transaction marker (a COMMIT or ABORT control batch) for
    /// a producer and records it in the producer state under the same lock
    /// (closing the producer's open transaction; an abort enters the
    /// aborted-transaction index). Returns the offset after the marker.
    pub fn append_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        commit: bool,
        now: i64,
    ) -> Result<i64, StorageError> {
        let kind = if commit {
            ControlType::Commit
        } else {
            ControlType::Abort
        };
        let batch = control_batch(
            kind,
            producer_id,
            producer_epoch,
            coordinator_epoch,
            now,
            self.leader_epoch,
        );
        let mut buf = BytesMut::from(&batch[..]);
        let mut states = self
            .producers
            .lock()
            .map_err(|_| StorageError::Offline("producer state lock poisoned".into()))?;
        let info = self.log.append(&mut buf, self.leader_epoch, now)?;
        for (h, _) in BatchIter::new(&buf).flatten() {
            states.record(&h);
            states.record_marker(&h, kind, coordinator_epoch);
        }
        Ok(info.last_offset + 1)
    }

    /// Makes what was appended below `next_offset` durable as the log's
    /// flush policy asks (fsync, or page cache plus a due flush), then
    /// moves the high watermark over what is now durable: the one place
    /// that keeps "the high watermark never passes what is durable".
    /// Returns whether the high watermark moved (long-poll fetches should
    /// be woken). Blocking: call from a blocking context.
    pub fn make_durable(&self, next_offset: i64) -> Result<bool, StorageError> {
        let log = &self.log;
        let durable = match log.flush_policy() {
            fjord_storage::FlushPolicy::SyncBeforeAck => {
                log.sync_to(next_offset)?;
                log.durable_offset()
            }
            fjord_storage::FlushPolicy::PageCache { .. } => {
                log.flush_if_due(now_ms())?;
                log.log_end_offset()
            }
        };
        Ok(self.follow(durable))
    }

    /// [`Partition::make_durable`] when that needs no I/O: in page-cache
    /// mode with no flush due, or with everything below `next_offset`
    /// already fsynced. Then it never blocks, so an async caller saves the
    /// hand-off to a blocking thread: `Some(whether the high watermark
    /// moved)`. `None`: an fsync or a file write is due; call
    /// `make_durable` from a blocking context. (An append by someone else
    /// that makes a flush due after this check is flushed by that
    /// appender's own call, which sees it due.)
    pub fn make_durable_now(&self, next_offset: i64) -> Option<bool> {
        let log = &self.log;
        let durable = match log.flush_policy() {
            fjord_storage::FlushPolicy::SyncBeforeAck => {
                let durable = log.durable_offset();
                if durable < next_offset.min(log.log_end_offset()) {
                    return None;
                }
                durable
            }
            fjord_storage::FlushPolicy::PageCache { .. } => {
                if log.flush_pending(now_ms()) {
                    return None;
                }
                log.log_end_offset()
            }
        };
        Some(self.follow(durable))
    }

    /// Moves the high watermark over `durable` (what this broker holds
    /// durably), as far as the in-sync replicas allow; true if it moved.
    fn follow(&self, durable: i64) -> bool {
        // Replicated: only as far as every in-sync replica holds too.
        let to = match &self.replication {
            None => durable,
            Some(r) => match r.lock() {
                Ok(r) => r.high_watermark(durable),
                Err(_) => return false,
            },
        };
        self.advance_high_watermark(to)
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

#[cfg(test)]
mod replication_tests;

#[cfg(test)]
mod durable_tests {
    use super::*;
    use fjord_protocol::records::{BatchBuilder, Compression};
    use fjord_storage::LogConfig;

    fn append_one(p: &Partition) -> i64 {
        let mut b = BatchBuilder::new(Compression::None);
        b.append(1, None, Some(b"v"), &[]).unwrap();
        match p.append(&b.build().unwrap(), 1, |_| Ok(())).unwrap() {
            Appended::New(info) => info.last_offset + 1,
            Appended::Duplicate { .. } => unreachable!(),
        }
    }

    #[test]
    fn make_durable_now_only_when_no_io_is_due() {
        let d = tempfile::tempdir().unwrap();
        // fsync mode: not before the fsync, and then without one.
        let log = Arc::new(Log::open(d.path().join("a"), LogConfig::default()).unwrap());
        let p = Partition::new("t", 0, log, 0);
        let next = append_one(&p);
        assert_eq!(p.make_durable_now(next), None);
        assert_eq!(p.high_watermark(), 0);
        assert!(p.make_durable(next).unwrap());
        assert_eq!(p.make_durable_now(next), Some(false));
        // Page-cache mode (flushing left to the OS): visible at once.
        let config = LogConfig {
            flush_before_ack: false,
            ..LogConfig::default()
        };
        let log = Arc::new(Log::open(d.path().join("b"), config).unwrap());
        let p = Partition::new("t", 0, log, 0);
        let next = append_one(&p);
        assert_eq!(p.make_durable_now(next), Some(true));
        assert_eq!(p.high_watermark(), next);
        assert_eq!(p.log.durable_offset(), 0);
    }
}
