//! What becomes of one batch in a cleaner run ([`Filter::batch`]): copied,
//! dropped, or rewritten with only its kept records. Rewritten batches are
//! built with the protocol crate's [`BatchBuilder`], keeping the original
//! batch's offsets (each record its own offset delta, and the last offset
//! delta), producer fields, leader epoch, attributes and codec; see the
//! `cleaner` module docs for the rules.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use fjord_protocol::records::{
    records, BatchBuilder, BatchHeader, Compression, Record, RecordsError, TimestampType,
};

use super::plan::{delete_horizon, OffsetMap, Transactions, TxnState, DECOMPRESS_LIMIT};
use crate::error::{Result, StorageError};

/// Everything a record decision needs.
pub(crate) struct Filter<'a> {
    pub(crate) map: &'a OffsetMap,
    pub(crate) txns: &'a Transactions,
    /// Producer id → base offset of its last batch in the log.
    pub(crate) last_batches: &'a HashMap<i64, i64>,
    pub(crate) now_ms: i64,
    pub(crate) delete_retention_ms: i64,
    /// The log's closed flag: a run stops once the log is closed or
    /// deleted.
    pub(crate) closed: &'a AtomicBool,
}

/// What becomes of one batch.
pub(crate) enum Outcome {
    /// Copied as it is.
    Verbatim,
    /// Left out.
    Dropped,
    /// Replaced by these bytes.
    Rewritten(Bytes),
}

/// What becomes of one batch, and its record counts.
pub(crate) struct BatchResult {
    pub(crate) outcome: Outcome,
    pub(crate) records_before: u64,
    pub(crate) records_after: u64,
    pub(crate) tombstones_removed: u64,
}

fn is_tombstone(r: &Record) -> bool {
    r.key.is_some() && r.value.is_none()
}

/// Maps a builder error of the rebuild of batch `h`.
fn rebuild_error(h: &BatchHeader, e: RecordsError) -> StorageError {
    StorageError::Corrupt(format!("rebuilding batch {}: {e}", h.base_offset))
}

/// A builder for a batch standing for `h`: same base offset, last offset
/// delta (so the producer's last sequence is unchanged), leader epoch,
/// producer id/epoch/base sequence and attributes.
fn builder_like(h: &BatchHeader, codec: Compression) -> BatchBuilder {
    BatchBuilder::new(codec)
        .base_offset(h.base_offset)
        .partition_leader_epoch(h.partition_leader_epoch)
        .producer(h.producer_id, h.producer_epoch, h.base_sequence)
        .attributes(h.attributes)
        .last_offset_delta(h.last_offset_delta)
}

/// The kept `recs` of batch `h` as a new batch (see the module docs).
fn rebuild_batch(h: &BatchHeader, recs: &[Record], horizon: Option<i64>) -> Result<Bytes> {
    let codec = h
        .compression()
        .map_err(|e| StorageError::Corrupt(format!("batch at offset {}: {e}", h.base_offset)))?;
    // The stored (CreateTime) timestamp of each record.
    let stored = |r: &Record| h.first_timestamp.wrapping_add(r.timestamp_delta);
    let max_timestamp = if h.timestamp_type() == TimestampType::CreateTime {
        recs.iter().map(stored).fold(-1, i64::max)
    } else {
        h.max_timestamp
    };
    let mut b = builder_like(h, codec)
        .delete_horizon(horizon)
        .max_timestamp(max_timestamp);
    for r in recs {
        b.append_record(r, stored(r))
            .map_err(|e| rebuild_error(h, e))?;
    }
    b.build().map_err(|e| rebuild_error(h, e))
}

/// A batch without records standing for `h` (a producer's last batch),
/// uncompressed, both timestamps `h`'s max timestamp.
fn empty_batch(h: &BatchHeader) -> Result<Bytes> {
    builder_like(h, Compression::None)
        .base_timestamp(h.max_timestamp)
        .max_timestamp(h.max_timestamp)
        .build()
        .map_err(|e| rebuild_error(h, e))
}

impl Filter<'_> {
    /// Whether `h` is the last data batch of its producer in the log.
    fn is_last_of_producer(&self, h: &BatchHeader) -> bool {
        h.has_producer_id() && self.last_batches.get(&h.producer_id) == Some(&h.base_offset)
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StorageError::Closed);
        }
        Ok(())
    }

    /// Decides what becomes of the batch `raw` (whole, CRC checked).
    pub(crate) fn batch(&self, h: &BatchHeader, raw: &Bytes) -> Result<BatchResult> {
        let count = u64::try_from(h.record_count).unwrap_or(0);
        let verbatim = |n: u64| BatchResult {
            outcome: Outcome::Verbatim,
            records_before: n,
            records_after: n,
            tombstones_removed: 0,
        };
        if h.is_control() {
            return Ok(verbatim(count));
        }
        if h.is_transactional() {
            match self.txns.state(h) {
                TxnState::Committed => {}
                TxnState::Open => return Ok(verbatim(count)),
                TxnState::Aborted => {
                    let outcome = if self.is_last_of_producer(h) {
                        if count == 0 {
                            Outcome::Verbatim
                        } else {
                            Outcome::Rewritten(empty_batch(h)?)
                        }
                    } else {
                        Outcome::Dropped
                    };
                    return Ok(BatchResult {
                        outcome,
                        records_before: count,
                        records_after: 0,
                        tombstones_removed: 0,
                    });
                }
            }
        }
        let iter = match records(raw, DECOMPRESS_LIMIT) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(
                    offset = h.base_offset,
                    "cleaner keeps an unreadable batch: {e}"
                );
                return Ok(verbatim(count));
            }
        };
        let mut all = Vec::with_capacity(count as usize);
        for r in iter {
            match r {
                Ok(r) => all.push(r),
                Err(e) => {
                    tracing::warn!(
                        offset = h.base_offset,
                        "cleaner keeps an unreadable batch: {e}"
                    );
                    return Ok(verbatim(count));
                }
            }
        }
        let horizon = delete_horizon(h);
        let horizon_passed = horizon.is_some_and(|t| self.now_ms >= t);
        let before = all.len() as u64;
        let mut removed_tombstones = 0u64;
        let kept: Vec<Record> = all
            .into_iter()
            .filter(|r| {
                let Some(key) = &r.key else { return true };
                let offset = r.offset(h.base_offset);
                if self.map.get(key).is_some_and(|latest| offset < latest) {
                    return false;
                }
                if r.value.is_none() && horizon_passed {
                    removed_tombstones += 1;
                    return false;
                }
                true
            })
            .collect();
        let after = kept.len() as u64;
        let result = |outcome| BatchResult {
            outcome,
            records_before: before,
            records_after: after,
            tombstones_removed: removed_tombstones,
        };
        if kept.is_empty() {
            if !self.is_last_of_producer(h) {
                return Ok(result(Outcome::Dropped));
            }
            if before == 0 {
                return Ok(result(Outcome::Verbatim));
            }
            return Ok(result(Outcome::Rewritten(empty_batch(h)?)));
        }
        let has_tombstones = kept.iter().any(is_tombstone);
        let new_horizon = if has_tombstones {
            Some(horizon.unwrap_or_else(|| self.now_ms.saturating_add(self.delete_retention_ms)))
        } else {
            None
        };
        if after == before && (new_horizon == horizon || !has_tombstones) {
            return Ok(result(Outcome::Verbatim));
        }
        Ok(result(Outcome::Rewritten(rebuild_batch(
            h,
            &kept,
            new_horizon,
        )?)))
    }
}
