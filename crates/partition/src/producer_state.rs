//! Idempotent-producer state of one partition: for each producer id, its
//! epoch and the sequence ranges and offsets of its last five batches, so
//! a retried batch is answered with its original offset instead of being
//! written twice, and a gap in sequences is refused.
//!
//! The state is rebuilt at start from a snapshot (written at clean
//! shutdown and periodically) plus a replay of the batch headers after it;
//! without a snapshot the whole log is replayed. Entries idle for longer
//! than `producer.id.expiration.ms` are dropped.
//!
//! Transactions: each producer's open transaction is tracked by the
//! offset of its first transactional batch, which gives the partition's
//! last stable offset (the first offset of the earliest open transaction).
//! A transaction marker (control batch) closes it; an ABORT marker adds
//! the transaction to the aborted-transaction index that read_committed
//! fetches return. The index lives in the snapshot and is rebuilt from the
//! log after it (fjord keeps no `.txnindex` files).

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use fjord_protocol::records::{BatchHeader, BatchIter, ControlType};
use fjord_protocol::ErrorCode;
use fjord_storage::Log;
use serde::{Deserialize, Serialize};

/// Kafka keeps the metadata of this many batches per producer.
pub const BATCHES_KEPT: usize = 5;
/// `producer.id.expiration.ms` default (one day).
pub const EXPIRATION_MS: i64 = 86_400_000;
const SNAPSHOT_FILE: &str = "producer-state.json";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchMeta {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProducerEntry {
    pub epoch: i16,
    pub batches: VecDeque<BatchMeta>,
    pub last_timestamp: i64,
    /// Coordinator epoch of the last transaction marker (transactions).
    pub coordinator_epoch: i32,
    /// First offset of this producer's open transaction.
    #[serde(default)]
    pub txn_first_offset: Option<i64>,
}

/// An aborted transaction's range in this partition: its first data
/// offset and the offset of its ABORT marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Snapshot {
    /// Offset up to which (exclusive) the snapshot reflects the log.
    offset: i64,
    producers: HashMap<i64, ProducerEntry>,
    #[serde(default)]
    aborted: Vec<AbortedTxn>,
}

/// The verdict on an incoming idempotent batch.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// Append it.
    Append,
    /// Already written: answer with this original base offset.
    Duplicate { base_offset: i64 },
    /// Refuse it with this error.
    Reject(ErrorCode, String),
}

#[derive(Default)]
pub struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
    /// Aborted transactions in marker (offset) order.
    aborted: Vec<AbortedTxn>,
}

fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX {
        0
    } else {
        seq + 1
    }
}

impl ProducerStates {
    /// Decides what to do with a batch from an idempotent producer.
    pub fn check(&self, h: &BatchHeader) -> Check {
        let Some(entry) = self.producers.get(&h.producer_id) else {
            // Unknown producer (new, or expired): it must start a sequence.
            if h.base_sequence == 0 {
                return Check::Append;
            }
            return Check::Reject(
                ErrorCode::UnknownProducerId,
                format!(
                    "unknown producer id {} with sequence {}",
                    h.producer_id, h.base_sequence
                ),
            );
        };
        if h.producer_epoch < entry.epoch {
            return Check::Reject(
                ErrorCode::InvalidProducerEpoch,
                format!(
                    "producer epoch {} is older than {}",
                    h.producer_epoch, entry.epoch
                ),
            );
        }
        if h.producer_epoch > entry.epoch {
            if h.base_sequence == 0 {
                return Check::Append;
            }
            return Check::Reject(
                ErrorCode::OutOfOrderSequenceNumber,
                format!(
                    "new epoch {} must start at sequence 0, got {}",
                    h.producer_epoch, h.base_sequence
                ),
            );
        }
        let last_seq = h.last_sequence();
        if let Some(dup) = entry
            .batches
            .iter()
            .find(|b| b.first_seq == h.base_sequence && b.last_seq == last_seq)
        {
            return Check::Duplicate {
                base_offset: dup.first_offset,
            };
        }
        match entry.batches.back() {
            Some(last) if h.base_sequence != next_seq(last.last_seq) => Check::Reject(
                ErrorCode::OutOfOrderSequenceNumber,
                format!(
                    "expected sequence {}, got {}",
                    next_seq(last.last_seq),
                    h.base_sequence
                ),
            ),
            None if h.base_sequence != 0 => Check::Reject(
                ErrorCode::OutOfOrderSequenceNumber,
                format!("expected sequence 0, got {}", h.base_sequence),
            ),
            _ => Check::Append,
        }
    }

    /// Records a batch that is now in the log (at its assigned offsets).
    pub fn record(&mut self, h: &BatchHeader) {
        if h.producer_id < 0 {
            return;
        }
        let entry = self.producers.entry(h.producer_id).or_default();
        if h.producer_epoch != entry.epoch {
            entry.batches.clear();
            entry.epoch = h.producer_epoch;
        }
        entry.last_timestamp = entry.last_timestamp.max(h.max_timestamp);
        if h.is_control() {
            return;
        }
        if h.is_transactional() && entry.txn_first_offset.is_none() {
            entry.txn_first_offset = Some(h.base_offset);
        }
        if h.base_sequence >= 0 {
            entry.batches.push_back(BatchMeta {
                first_seq: h.base_sequence,
                last_seq: h.last_sequence(),
                first_offset: h.base_offset,
                last_offset: h.last_offset(),
            });
            while entry.batches.len() > BATCHES_KEPT {
                entry.batches.pop_front();
            }
        }
    }

    /// Records a batch from the log given its bytes: control batches
    /// carrying a transaction marker close the producer's transaction.
    pub fn record_batch(&mut self, h: &BatchHeader, raw: &[u8]) {
        let marker = if h.is_control() && h.is_transactional() {
            fjord_protocol::records::records(&bytes::Bytes::copy_from_slice(raw), 1 << 16)
                .ok()
                .and_then(|mut it| it.next())
                .and_then(|r| r.ok())
                .and_then(|r| fjord_protocol::records::parse_end_txn_marker(&r).ok())
        } else {
            None
        };
        self.record(h);
        if let Some(m) = marker {
            self.record_marker(h, m.control_type, m.coordinator_epoch);
        }
    }

    /// Applies a transaction marker at `h.base_offset` (after `record`).
    pub fn record_marker(&mut self, h: &BatchHeader, kind: ControlType, coordinator_epoch: i32) {
        let Some(entry) = self.producers.get_mut(&h.producer_id) else {
            return;
        };
        entry.coordinator_epoch = coordinator_epoch;
        if let Some(first) = entry.txn_first_offset.take() {
            if kind == ControlType::Abort {
                self.aborted.push(AbortedTxn {
                    producer_id: h.producer_id,
                    first_offset: first,
                    last_offset: h.base_offset,
                });
            }
        }
    }

    /// First offset of the earliest open transaction, if any.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.producers
            .values()
            .filter_map(|e| e.txn_first_offset)
            .min()
    }

    /// Open transactions: (producer id, epoch, first offset).
    pub fn open_transactions(&self) -> Vec<(i64, i16, i64)> {
        self.producers
            .iter()
            .filter_map(|(pid, e)| e.txn_first_offset.map(|f| (*pid, e.epoch, f)))
            .collect()
    }

    /// Aborted transactions overlapping offsets `[from, to)`.
    pub fn aborted_between(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.aborted
            .iter()
            .filter(|a| a.last_offset >= from && a.first_offset < to)
            .copied()
            .collect()
    }

    /// Forgets aborted transactions wholly below the log start offset.
    pub fn prune_aborted(&mut self, log_start: i64) {
        self.aborted.retain(|a| a.last_offset >= log_start);
    }

    /// Every producer's entry (DescribeProducers), by producer id.
    pub fn entries(&self) -> Vec<(i64, ProducerEntry)> {
        let mut v: Vec<_> = self
            .producers
            .iter()
            .map(|(k, e)| (*k, e.clone()))
            .collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    pub fn epoch_of(&self, producer_id: i64) -> Option<i16> {
        self.producers.get(&producer_id).map(|e| e.epoch)
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Drops producers idle since before `now_ms - expiration_ms`.
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) {
        self.producers.retain(|_, e| {
            e.txn_first_offset.is_some()
                || e.last_timestamp < 0
                || now_ms.saturating_sub(e.last_timestamp) <= expiration_ms
        });
    }

    fn snapshot_path(dir: &Path) -> PathBuf {
        dir.join(SNAPSHOT_FILE)
    }

    /// Writes the state as of `offset` (exclusive) atomically; fsynced when
    /// `sync` (else the caller syncs the filesystem).
    pub fn write_snapshot(&self, dir: &Path, offset: i64, sync: bool) -> std::io::Result<()> {
        let snap = Snapshot {
            offset,
            producers: self.producers.clone(),
            aborted: self.aborted.clone(),
        };
        let text = serde_json::to_vec(&snap).map_err(std::io::Error::other)?;
        let tmp = dir.join(format!("{SNAPSHOT_FILE}.tmp"));
        std::fs::write(&tmp, text)?;
        if sync {
            std::fs::File::open(&tmp)?.sync_all()?;
        }
        std::fs::rename(tmp, Self::snapshot_path(dir))
    }

    /// Loads the snapshot (if any and sane) and replays the log after it.
    pub fn load(log: &Log, now_ms: i64) -> ProducerStates {
        let mut states = ProducerStates::default();
        let mut from = log.log_start_offset();
        let leo = log.log_end_offset();
        if let Ok(text) = std::fs::read(Self::snapshot_path(log.dir())) {
            match serde_json::from_slice::<Snapshot>(&text) {
                Ok(s) if s.offset <= leo && s.offset >= from => {
                    states.producers = s.producers;
                    states.aborted = s.aborted;
                    from = s.offset;
                }
                Ok(s) => {
                    tracing::warn!(dir = %log.dir().display(), offset = s.offset, "producer snapshot beyond the log; replaying all")
                }
                Err(e) => {
                    tracing::warn!(dir = %log.dir().display(), error = %e, "producer snapshot unreadable; replaying all")
                }
            }
        }
        states.replay(log, from, leo);
        states.prune_aborted(log.log_start_offset());
        states.expire(now_ms, EXPIRATION_MS);
        states
    }

    fn replay(&mut self, log: &Log, mut offset: i64, end: i64) {
        while offset < end {
            let slice = match log.read(offset, 1 << 20, end, true) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(dir = %log.dir().display(), offset, error = %e, "producer state replay stopped");
                    return;
                }
            };
            let next = slice.next_offset;
            let bytes = match slice.to_bytes() {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(dir = %log.dir().display(), offset, error = %e, "producer state replay read failed");
                    return;
                }
            };
            for (h, raw) in BatchIter::new(&bytes).flatten() {
                if h.last_offset() >= offset {
                    self.record_batch(&h, raw);
                }
            }
            if next <= offset {
                return;
            }
            offset = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, count: i32, base_offset: i64) -> BatchHeader {
        BatchHeader {
            base_offset,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            first_timestamp: 1,
            max_timestamp: 1,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            record_count: count,
        }
    }

    #[test]
    fn duplicates_gaps_and_epochs() {
        let mut s = ProducerStates::default();
        let b0 = header(7, 0, 0, 3, 0);
        assert_eq!(s.check(&b0), Check::Append);
        s.record(&b0);
        // Retry of the same batch gets its original offset.
        assert_eq!(
            s.check(&header(7, 0, 0, 3, -1)),
            Check::Duplicate { base_offset: 0 }
        );
        // A gap is refused.
        assert!(matches!(
            s.check(&header(7, 0, 5, 1, -1)),
            Check::Reject(ErrorCode::OutOfOrderSequenceNumber, _)
        ));
        let b1 = header(7, 0, 3, 2, 3);
        assert_eq!(s.check(&b1), Check::Append);
        s.record(&b1);
        // A new epoch must restart at sequence 0; then the old one is fenced.
        assert!(matches!(
            s.check(&header(7, 1, 5, 1, -1)),
            Check::Reject(ErrorCode::OutOfOrderSequenceNumber, _)
        ));
        assert_eq!(s.check(&header(7, 1, 0, 1, -1)), Check::Append);
        s.record(&header(7, 1, 0, 1, 5));
        assert!(matches!(
            s.check(&header(7, 0, 5, 1, -1)),
            Check::Reject(ErrorCode::InvalidProducerEpoch, _)
        ));
        // Unknown producer mid-sequence.
        assert!(matches!(
            s.check(&header(9, 0, 4, 1, -1)),
            Check::Reject(ErrorCode::UnknownProducerId, _)
        ));
    }

    #[test]
    fn transactions_set_lso_and_aborted_index() {
        let mut s = ProducerStates::default();
        let txn = |pid, seq, count, base| {
            let mut h = header(pid, 0, seq, count, base);
            h.attributes = fjord_protocol::records::ATTR_TRANSACTIONAL;
            h
        };
        let marker = |pid, base| {
            let mut h = header(pid, 0, -1, 1, base);
            h.attributes =
                fjord_protocol::records::ATTR_TRANSACTIONAL | fjord_protocol::records::ATTR_CONTROL;
            h
        };
        assert_eq!(s.first_unstable_offset(), None);
        s.record(&txn(1, 0, 2, 10));
        s.record(&txn(2, 0, 1, 12));
        s.record(&txn(1, 2, 1, 13));
        assert_eq!(s.first_unstable_offset(), Some(10));
        // Producer 1 aborts: 10..=14 is an aborted range; 2 is still open.
        s.record(&marker(1, 14));
        s.record_marker(&marker(1, 14), ControlType::Abort, 0);
        assert_eq!(s.first_unstable_offset(), Some(12));
        s.record(&marker(2, 15));
        s.record_marker(&marker(2, 15), ControlType::Commit, 0);
        assert_eq!(s.first_unstable_offset(), None);
        let a = AbortedTxn {
            producer_id: 1,
            first_offset: 10,
            last_offset: 14,
        };
        assert_eq!(s.aborted_between(0, 11), vec![a]);
        assert_eq!(s.aborted_between(14, 20), vec![a]);
        assert!(s.aborted_between(15, 20).is_empty());
        assert!(s.aborted_between(0, 10).is_empty());
        // Open transactions keep their producer from expiring.
        s.record(&txn(3, 0, 1, 16));
        s.expire(i64::MAX, 1);
        assert_eq!(s.open_transactions(), vec![(3, 0, 16)]);
        s.prune_aborted(15);
        assert!(s.aborted_between(0, 100).is_empty());
    }

    #[test]
    fn keeps_five_batches() {
        let mut s = ProducerStates::default();
        for i in 0..8 {
            s.record(&header(1, 0, i, 1, i64::from(i)));
        }
        assert_eq!(
            s.check(&header(1, 0, 3, 1, -1)),
            Check::Duplicate { base_offset: 3 }
        );
        // Batch 2 fell out of the window: it's neither a duplicate nor next.
        assert!(matches!(
            s.check(&header(1, 0, 2, 1, -1)),
            Check::Reject(..)
        ));
    }
}
