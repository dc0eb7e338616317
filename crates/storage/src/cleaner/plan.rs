//! What a cleaner run works from: which sealed segments are clean, dirty
//! and due ([`plan`]), the transaction markers and the last batch of each
//! producer over the whole log ([`ProducerScan`]), and the key → latest
//! offset map over the dirty segments ([`OffsetMap`]).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use fjord_protocol::records::{
    parse_control_record, records, BatchHeader, ControlType, Record, ATTR_DELETE_HORIZON,
};

use crate::config::LogConfig;
use crate::error::Result;
use crate::segment::{for_each_batch, BatchWalker, Segment};

/// Largest decompressed records section the cleaner reads.
pub(crate) const DECOMPRESS_LIMIT: usize = 64 << 20;
/// The offset map stops growing (at a segment boundary) past this many
/// bytes, like Kafka's `log.cleaner.dedupe.buffer.size` (128 MiB).
const MAP_MEMORY_LIMIT: usize = 128 << 20;
/// Estimated bytes per map entry besides the key.
const MAP_ENTRY_OVERHEAD: usize = 64;
/// Reads of segments being cleaned are this large.
pub(crate) const READ_CHUNK: usize = 1 << 20;
/// Delete horizon values: no batch has one.
pub(crate) const HORIZON_NONE: i64 = i64::MAX;
/// Delete horizon values: not known (scan the headers).
pub(crate) const HORIZON_UNKNOWN: i64 = i64::MIN;

/// Key → offset of its latest record in the dirty range.
#[derive(Default)]
pub(crate) struct OffsetMap {
    map: HashMap<Box<[u8]>, i64>,
    memory: usize,
}

impl OffsetMap {
    fn put(&mut self, key: &[u8], offset: i64) {
        if let Some(o) = self.map.get_mut(key) {
            *o = (*o).max(offset);
        } else {
            self.memory += key.len() + MAP_ENTRY_OVERHEAD;
            self.map.insert(key.into(), offset);
        }
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<i64> {
        self.map.get(key).copied()
    }
}

/// How the transaction of a transactional batch ended, from the markers
/// (control batches) found anywhere after it in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxnState {
    Committed,
    Aborted,
    /// No marker yet: the transaction is still open (only possible above
    /// the last stable offset).
    Open,
}

/// Per producer id, the offsets of its transaction markers and whether
/// each one was an ABORT, in log order.
#[derive(Default)]
pub(crate) struct Transactions {
    markers: HashMap<i64, Vec<(i64, bool)>>,
}

impl Transactions {
    /// The state of a transactional data batch: set by the first marker of
    /// its producer after it.
    pub(crate) fn state(&self, h: &BatchHeader) -> TxnState {
        let Some(m) = self.markers.get(&h.producer_id) else {
            return TxnState::Open;
        };
        let i = m.partition_point(|&(o, _)| o < h.base_offset);
        match m.get(i) {
            Some(&(_, true)) => TxnState::Aborted,
            Some(_) => TxnState::Committed,
            None => TxnState::Open,
        }
    }
}

/// Whether the records of data batch `h` take part in compaction: not
/// those of aborted transactions (dropped) or open ones (kept as they are).
fn is_live_data(h: &BatchHeader, txns: &Transactions) -> bool {
    !h.is_control() && (!h.is_transactional() || txns.state(h) == TxnState::Committed)
}

/// The delete horizon of a batch, when it has one.
pub(crate) fn delete_horizon(h: &BatchHeader) -> Option<i64> {
    (h.attributes & ATTR_DELETE_HORIZON != 0).then_some(h.first_timestamp)
}

/// The earliest delete horizon of a batch in `seg` (`HORIZON_NONE`: none).
pub(crate) fn segment_horizon(seg: &Segment) -> Result<i64> {
    let mut horizon = HORIZON_NONE;
    let file = seg.file()?;
    let mut walker = BatchWalker::new(&file, 0, seg.size());
    while let Some((_, h)) = walker.next_batch()? {
        if let Some(t) = delete_horizon(&h) {
            horizon = horizon.min(t);
        }
    }
    Ok(horizon)
}

/// The max timestamp of the first batch of `seg` (Kafka's "first batch
/// timestamp" for `max.compaction.lag.ms`).
fn first_batch_timestamp(seg: &Segment) -> Result<Option<i64>> {
    let file = seg.file()?;
    let mut walker = BatchWalker::new(&file, 0, seg.size());
    Ok(walker.next_batch()?.map(|(_, h)| h.max_timestamp))
}

/// Which sealed segments a run looks at, and why it is due.
pub(crate) struct Plan {
    /// `sealed[..n_clean]` were compacted before (below the checkpoint).
    pub(crate) n_clean: usize,
    /// `sealed[n_clean..end]` are dirty and cleanable.
    pub(crate) end: usize,
    /// Dirty bytes / cleanable bytes.
    pub(crate) dirty_ratio: f64,
    /// The dirty segments are due (ratio or max lag).
    pub(crate) dirty_due: bool,
    /// A delete horizon in the clean part has passed.
    pub(crate) horizon_due: bool,
}

/// Decides a run over `segs` (the log's segments, the last one active):
/// segments entirely below `first_dirty` are clean, the following ones up
/// to `stable_end` (and old enough for `min.compaction.lag.ms`) dirty.
/// `earliest_horizon` gives the earliest delete horizon of the clean
/// segments (the log caches it).
pub(crate) fn plan(
    segs: &[Arc<Segment>],
    config: &LogConfig,
    first_dirty: i64,
    stable_end: i64,
    now_ms: i64,
    earliest_horizon: impl FnOnce(&[Arc<Segment>]) -> Result<i64>,
) -> Result<Plan> {
    let sealed = &segs[..segs.len() - 1];
    let upper = |i: usize| segs[i + 1].base_offset;
    let n_clean = (0..sealed.len())
        .take_while(|&i| upper(i) <= first_dirty)
        .count();
    let mut end = n_clean;
    while end < sealed.len() && upper(end) <= stable_end {
        if config.min_compaction_lag_ms > 0
            && now_ms.saturating_sub(sealed[end].retention_timestamp())
                < config.min_compaction_lag_ms
        {
            break;
        }
        end += 1;
    }
    let clean_bytes: u64 = sealed[..n_clean].iter().map(|s| s.size()).sum();
    let dirty_bytes: u64 = sealed[n_clean..end].iter().map(|s| s.size()).sum();
    let total = clean_bytes + dirty_bytes;
    let dirty_ratio = if total == 0 {
        0.0
    } else {
        dirty_bytes as f64 / total as f64
    };
    let max_lag_due = end > n_clean
        && config.max_compaction_lag_ms < i64::MAX
        && first_batch_timestamp(&sealed[n_clean])?
            .is_some_and(|ts| ts >= 0 && now_ms.saturating_sub(ts) > config.max_compaction_lag_ms);
    let dirty_due =
        end > n_clean && (dirty_ratio > config.min_cleanable_dirty_ratio || max_lag_due);
    let horizon_due = n_clean > 0 && earliest_horizon(&sealed[..n_clean])? <= now_ms;
    Ok(Plan {
        n_clean,
        end,
        dirty_ratio,
        dirty_due,
        horizon_due,
    })
}

/// The last data batch of every producer id and the transaction markers,
/// over the whole log (headers, and the control batches).
#[derive(Default)]
pub(crate) struct ProducerScan {
    /// Producer id → base offset of its last data batch in the log.
    pub(crate) last_batches: HashMap<i64, i64>,
    pub(crate) txns: Transactions,
}

impl ProducerScan {
    pub(crate) fn scan(segs: &[Arc<Segment>]) -> Result<ProducerScan> {
        let mut out = ProducerScan::default();
        for s in segs {
            let file = s.file()?;
            let mut walker = BatchWalker::new(&file, 0, s.size());
            while let Some((pos, h)) = walker.next_batch()? {
                if !h.is_control() {
                    if h.has_producer_id() {
                        out.last_batches.insert(h.producer_id, h.base_offset);
                    }
                    continue;
                }
                let raw = Bytes::from(s.read_at(pos, h.total_size())?);
                let kind = records(&raw, DECOMPRESS_LIMIT)
                    .ok()
                    .and_then(|mut recs| recs.next())
                    .and_then(|r| r.ok())
                    .and_then(|r| r.key)
                    .and_then(|k| parse_control_record(&k).ok());
                if let Some(kind) = kind {
                    out.txns
                        .markers
                        .entry(h.producer_id)
                        .or_default()
                        .push((h.base_offset, kind == ControlType::Abort));
                }
            }
        }
        Ok(out)
    }
}

/// Builds the offset map over `dirty` segments, stopping at a segment
/// boundary once it holds about 128 MiB; returns it and how many segments
/// it covers.
pub(crate) fn map_dirty(dirty: &[Arc<Segment>], txns: &Transactions) -> Result<(OffsetMap, usize)> {
    let mut map = OffsetMap::default();
    let mut mapped = 0;
    for seg in dirty {
        map_segment(seg, &mut map, txns)?;
        mapped += 1;
        if map.memory > MAP_MEMORY_LIMIT {
            break;
        }
    }
    Ok((map, mapped))
}

/// Adds the keys of a dirty segment to the map.
fn map_segment(seg: &Segment, map: &mut OffsetMap, txns: &Transactions) -> Result<()> {
    for_each_batch(seg, READ_CHUNK, |h, raw| {
        if !is_live_data(h, txns) {
            return Ok(());
        }
        let Ok(iter) = records(&raw, DECOMPRESS_LIMIT) else {
            return Ok(());
        };
        let recs: std::result::Result<Vec<Record>, _> = iter.collect();
        // An unreadable batch is kept whole by the rewrite; its keys must
        // not remove older records either.
        let Ok(recs) = recs else { return Ok(()) };
        for r in recs {
            if let Some(key) = &r.key {
                map.put(key, r.offset(h.base_offset));
            }
        }
        Ok(())
    })
}
