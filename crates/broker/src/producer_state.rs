//! Idempotent-producer state of one partition: for each producer id, its
//! epoch and the sequence ranges and offsets of its last five batches, so
//! a retried batch is answered with its original offset instead of being
//! written twice, and a gap in sequences is refused.
//!
//! The state is rebuilt at start from a snapshot (written at clean
//! shutdown and periodically) plus a replay of the batch headers after it;
//! without a snapshot the whole log is replayed. Entries idle for longer
//! than `producer.id.expiration.ms` are dropped.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use fjord_protocol::records::{BatchHeader, BatchIter};
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
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Snapshot {
    /// Offset up to which (exclusive) the snapshot reflects the log.
    offset: i64,
    producers: HashMap<i64, ProducerEntry>,
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
            e.last_timestamp < 0 || now_ms.saturating_sub(e.last_timestamp) <= expiration_ms
        });
    }

    fn snapshot_path(dir: &Path) -> PathBuf {
        dir.join(SNAPSHOT_FILE)
    }

    /// Writes the state as of `offset` (exclusive) atomically.
    pub fn write_snapshot(&self, dir: &Path, offset: i64) -> std::io::Result<()> {
        let snap = Snapshot {
            offset,
            producers: self.producers.clone(),
        };
        let text = serde_json::to_vec(&snap).map_err(std::io::Error::other)?;
        let tmp = dir.join(format!("{SNAPSHOT_FILE}.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::File::open(&tmp)?.sync_all()?;
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
            for (h, _) in BatchIter::new(&bytes).flatten() {
                if h.last_offset() >= offset {
                    self.record(&h);
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
