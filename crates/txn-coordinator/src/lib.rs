//! The transaction coordinator (KIP-98): one [`TxnMeta`] per
//! transactional id, persisted in `__transaction_state` with Kafka's
//! TransactionLogKey/Value schemas (partition by the hash of the
//! transactional id, as for groups).
//!
//! States follow Kafka's: Empty → Ongoing (AddPartitionsToTxn /
//! AddOffsetsToTxn) → PrepareCommit|PrepareAbort (EndTxn, logged and
//! fsynced first) → markers written → CompleteCommit|CompleteAbort. This
//! node leads every partition, so EndTxn writes the markers itself before
//! answering: COMMIT/ABORT control batches carrying the producer id and
//! epoch go to every partition of the transaction; the
//! `__consumer_offsets` partition of a group added with AddOffsetsToTxn
//! gets its marker through the group coordinator, which then applies (or
//! drops) the offsets TxnOffsetCommit wrote there as transactional
//! records.
//!
//! InitProducerId bumps the epoch (a new producer id once the epoch is
//! exhausted), which fences the previous producer; an Ongoing transaction
//! of the old epoch is first aborted with the bumped epoch. Transactions
//! open longer than their `transaction.timeout.ms` are aborted the same
//! way by [`tick`]. At start the log is replayed: a PrepareCommit or
//! PrepareAbort is completed, so a crash never leaves a transaction half
//! visible; an Ongoing transaction continues (its producer may still
//! commit it) until its timeout.
//!
//! Concurrency: one mutex over all transactional ids, held across the log
//! writes of an operation (run on blocking threads). Produce checks
//! transactional batches against a separate index of ongoing
//! transactions while holding the partition's producer-state lock; EndTxn
//! removes the transaction from that index before writing markers, so no
//! transactional batch can land after its transaction's marker.

pub mod log;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use fjord_protocol::ErrorCode;

use fjord_partition::Partition;
use fjord_protocol::internal_topics::partition_for;
pub use fjord_protocol::internal_topics::TXN_TOPIC;
/// Kafka's `transaction.state.log.num.partitions` default.
pub const TXN_TOPIC_PARTITIONS: i32 = 50;
/// Kafka's `transaction.max.timeout.ms` default (15 minutes).
pub const MAX_TIMEOUT_MS: i32 = 900_000;
/// Kafka's `transactional.id.expiration.ms` default (7 days): an id idle
/// this long with no open transaction is forgotten (tombstoned).
pub const ID_EXPIRATION_MS: i64 = 604_800_000;
/// Segment size of `__transaction_state` (Kafka's
/// `transaction.state.log.segment.bytes` default).
pub const TXN_TOPIC_SEGMENT_BYTES: i32 = 104_857_600;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
    Dead,
    PrepareEpochFence,
}

impl TxnState {
    /// The status byte of TransactionLogValue.
    pub fn code(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    pub fn from_code(c: i8) -> Option<TxnState> {
        Some(match c {
            0 => TxnState::Empty,
            1 => TxnState::Ongoing,
            2 => TxnState::PrepareCommit,
            3 => TxnState::PrepareAbort,
            4 => TxnState::CompleteCommit,
            5 => TxnState::CompleteAbort,
            6 => TxnState::Dead,
            7 => TxnState::PrepareEpochFence,
            _ => return None,
        })
    }

    /// Kafka's names (DescribeTransactions / ListTransactions).
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TxnMeta {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    /// Partitions in the current transaction (topic, partition).
    pub partitions: BTreeSet<(String, i32)>,
    pub start_ms: i64,
    pub last_update_ms: i64,
}

/// The coordinator's side effects, so the state machine can be tested
/// without a broker.
pub trait TxnIo {
    /// Appends `meta` to the transaction log and waits for durability.
    fn persist(&self, meta: &TxnMeta) -> Result<(), ErrorCode>;
    /// Writes (durably) the COMMIT or ABORT marker to every partition of
    /// `meta`, with its producer id and epoch.
    fn write_markers(&self, meta: &TxnMeta, commit: bool) -> Result<(), ErrorCode>;
    fn allocate_producer_id(&self) -> Result<i64, ErrorCode>;
    /// Appends a tombstone for an expired transactional id.
    fn tombstone(&self, transactional_id: &str) -> Result<(), ErrorCode>;
}

/// Producer ids of transactional producers: the current epoch and, while
/// a transaction is ongoing, its partitions.
type OngoingIndex = HashMap<i64, (i16, Option<HashSet<(String, i32)>>)>;

pub struct TxnCoordinator {
    txns: Mutex<HashMap<String, TxnMeta>>,
    ongoing: RwLock<OngoingIndex>,
    /// `__transaction_state` partitions by index (the topic's partition
    /// count); empty until the topic exists. In a cluster only the
    /// partitions this broker leads are Some (see `load_partition`).
    partitions: RwLock<Vec<Option<Arc<Partition>>>>,
    max_timeout_ms: i32,
}

impl Default for TxnCoordinator {
    fn default() -> Self {
        TxnCoordinator::new(MAX_TIMEOUT_MS)
    }
}

fn bump_epoch(meta: &mut TxnMeta, io: &dyn TxnIo) -> Result<(), ErrorCode> {
    // Kafka hands out a new producer id once the epoch would overflow.
    if meta.producer_epoch >= i16::MAX - 1 {
        meta.producer_id = io.allocate_producer_id()?;
        meta.producer_epoch = 0;
    } else {
        meta.producer_epoch += 1;
    }
    Ok(())
}

impl TxnCoordinator {
    pub fn new(max_timeout_ms: i32) -> TxnCoordinator {
        TxnCoordinator {
            txns: Mutex::new(HashMap::new()),
            ongoing: RwLock::new(HashMap::new()),
            partitions: RwLock::new(Vec::new()),
            max_timeout_ms,
        }
    }

    /// Whether `__transaction_state` is open (in a cluster: whether this
    /// broker coordinates any of its partitions).
    pub fn is_ready(&self) -> bool {
        self.partitions
            .read()
            .map(|p| p.iter().any(Option::is_some))
            .unwrap_or(false)
    }

    /// Owns every partition of the topic (one node).
    pub fn set_partitions(&self, parts: Vec<Arc<Partition>>) {
        if let Ok(mut p) = self.partitions.write() {
            *p = parts.into_iter().map(Some).collect();
        }
    }

    /// The `__transaction_state` partition of a transactional id, if this
    /// coordinator owns it.
    pub fn log_partition(&self, transactional_id: &str) -> Option<Arc<Partition>> {
        let parts = self.partitions.read().ok()?;
        let i = partition_for(transactional_id, parts.len() as i32);
        parts.get(usize::try_from(i).ok()?).cloned().flatten()
    }

    /// Becomes the coordinator of the transactional ids of `partition`
    /// (one of `count`): takes the metadata replayed from it (see
    /// [`replay_partition`]) and owns it. Transactions it finds in
    /// PrepareCommit or PrepareAbort are completed by the next `tick`.
    pub fn load_partition(
        &self,
        partition: Arc<Partition>,
        count: i32,
        metas: HashMap<String, TxnMeta>,
    ) {
        let Ok(index) = usize::try_from(partition.index) else {
            return;
        };
        if let Ok(mut p) = self.partitions.write() {
            let count = usize::try_from(count).unwrap_or(0).max(index + 1);
            if p.len() != count {
                p.resize(count, None);
            }
            p[index] = Some(partition);
        }
        if let Ok(mut t) = self.txns.lock() {
            for m in metas.values() {
                self.index(m.producer_id, m);
            }
            t.extend(metas);
        }
    }

    /// Stops coordinating the transactional ids of partition `index`.
    pub fn unload_partition(&self, index: i32) {
        let count = match self.partitions.write() {
            Ok(mut p) => {
                if let Some(slot) = usize::try_from(index).ok().and_then(|i| p.get_mut(i)) {
                    *slot = None;
                }
                p.len() as i32
            }
            Err(_) => return,
        };
        let Ok(mut txns) = self.txns.lock() else {
            return;
        };
        let gone: Vec<String> = txns
            .keys()
            .filter(|id| partition_for(id, count) == index)
            .cloned()
            .collect();
        if let Ok(mut idx) = self.ongoing.write() {
            for id in &gone {
                if let Some(m) = txns.remove(id) {
                    idx.remove(&m.producer_id);
                }
            }
        }
        tracing::info!(
            partition = index,
            transactions = gone.len(),
            "unloaded a __transaction_state partition"
        );
    }

    fn index(&self, old_pid: i64, meta: &TxnMeta) {
        if let Ok(mut idx) = self.ongoing.write() {
            idx.remove(&old_pid);
            let parts = (meta.state == TxnState::Ongoing)
                .then(|| meta.partitions.iter().cloned().collect());
            idx.insert(meta.producer_id, (meta.producer_epoch, parts));
        }
    }

    /// Loads replayed metadata (the last record per id wins).
    pub fn load(&self, metas: HashMap<String, TxnMeta>) {
        if let Ok(mut t) = self.txns.lock() {
            for m in metas.values() {
                self.index(m.producer_id, m);
            }
            *t = metas;
        }
    }

    /// Completes what a stop interrupted: a logged PrepareCommit or
    /// PrepareAbort is finished. An Ongoing transaction continues, as in
    /// Kafka after a coordinator reload: its producer may go on adding
    /// partitions and end it; if it never comes back, its timeout (counted
    /// from its start, which the log keeps) aborts it.
    pub fn recover(&self, io: &dyn TxnIo, now: i64) {
        self.tick(io, now);
    }

    /// Aborts transactions past their timeout and retries unfinished
    /// completions.
    pub fn tick(&self, io: &dyn TxnIo, now: i64) {
        let Ok(mut txns) = self.txns.lock() else {
            return;
        };
        for meta in txns.values_mut() {
            let result = match meta.state {
                TxnState::PrepareCommit => self.end(io, meta, true, now),
                TxnState::PrepareAbort => self.end(io, meta, false, now),
                TxnState::Ongoing
                    if now.saturating_sub(meta.start_ms) > i64::from(meta.timeout_ms) =>
                {
                    tracing::info!(transactional_id = %meta.transactional_id, producer_id = meta.producer_id, epoch = meta.producer_epoch, "aborting a transaction that timed out");
                    self.fence_and_abort(io, meta, now)
                }
                _ => Ok(()),
            };
            if let Err(code) = result {
                tracing::warn!(transactional_id = %meta.transactional_id, code = %code, "completing a transaction failed; will retry");
            }
        }
        // Idle ids with nothing open are forgotten.
        let expired: Vec<(String, i64)> = txns
            .values()
            .filter(|m| {
                matches!(
                    m.state,
                    TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
                ) && now.saturating_sub(m.last_update_ms) > ID_EXPIRATION_MS
            })
            .map(|m| (m.transactional_id.clone(), m.producer_id))
            .collect();
        for (id, pid) in expired {
            if io.tombstone(&id).is_ok() {
                tracing::info!(transactional_id = %id, "transactional id expired");
                txns.remove(&id);
                if let Ok(mut idx) = self.ongoing.write() {
                    idx.remove(&pid);
                }
            }
        }
    }

    /// Bumps the epoch (fencing the producer) and aborts its transaction.
    fn fence_and_abort(
        &self,
        io: &dyn TxnIo,
        meta: &mut TxnMeta,
        now: i64,
    ) -> Result<(), ErrorCode> {
        let old_pid = meta.producer_id;
        let mut next = meta.clone();
        // The markers must carry the transaction's producer id: at an
        // exhausted epoch the abort goes without a bump (as in Kafka).
        if next.producer_epoch < i16::MAX - 1 {
            next.producer_epoch += 1;
        }
        next.state = TxnState::PrepareAbort;
        next.last_update_ms = now;
        self.index(old_pid, &next);
        io.persist(&next)?;
        *meta = next;
        self.end(io, meta, false, now)
    }

    /// Drives a transaction from Ongoing or Prepare* to Complete*.
    fn end(
        &self,
        io: &dyn TxnIo,
        meta: &mut TxnMeta,
        commit: bool,
        now: i64,
    ) -> Result<(), ErrorCode> {
        let prepare = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        if meta.state != prepare {
            let mut next = meta.clone();
            next.state = prepare;
            next.last_update_ms = now;
            // Produce refuses the transaction's batches from here on.
            self.index(meta.producer_id, &next);
            io.persist(&next)?;
            *meta = next;
        }
        io.write_markers(meta, commit)?;
        let mut done = meta.clone();
        done.state = if commit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        done.partitions.clear();
        done.last_update_ms = now;
        io.persist(&done)?;
        *meta = done;
        Ok(())
    }

    /// InitProducerId with a transactional id: (producer id, epoch).
    pub fn init_producer_id(
        &self,
        io: &dyn TxnIo,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
        now: i64,
    ) -> Result<(i64, i16), ErrorCode> {
        if timeout_ms <= 0 || timeout_ms > self.max_timeout_ms {
            return Err(ErrorCode::InvalidTransactionTimeout);
        }
        let mut txns = self
            .txns
            .lock()
            .map_err(|_| ErrorCode::CoordinatorNotAvailable)?;
        let Some(meta) = txns.get_mut(transactional_id) else {
            if expected.is_some() {
                return Err(ErrorCode::ProducerFenced);
            }
            let meta = TxnMeta {
                transactional_id: transactional_id.to_string(),
                producer_id: io.allocate_producer_id()?,
                producer_epoch: 0,
                timeout_ms,
                state: TxnState::Empty,
                partitions: BTreeSet::new(),
                start_ms: -1,
                last_update_ms: now,
            };
            io.persist(&meta)?;
            self.index(meta.producer_id, &meta);
            let r = (meta.producer_id, meta.producer_epoch);
            txns.insert(transactional_id.to_string(), meta);
            return Ok(r);
        };
        if let Some(e) = expected {
            if e != (meta.producer_id, meta.producer_epoch) {
                return Err(ErrorCode::ProducerFenced);
            }
        }
        match meta.state {
            TxnState::PrepareCommit => self
                .end(io, meta, true, now)
                .map_err(|_| ErrorCode::ConcurrentTransactions)?,
            TxnState::PrepareAbort => self
                .end(io, meta, false, now)
                .map_err(|_| ErrorCode::ConcurrentTransactions)?,
            TxnState::Ongoing => self.fence_and_abort(io, meta, now)?,
            _ => {}
        }
        let old_pid = meta.producer_id;
        let mut next = meta.clone();
        bump_epoch(&mut next, io)?;
        next.state = TxnState::Empty;
        next.partitions.clear();
        next.timeout_ms = timeout_ms;
        next.start_ms = -1;
        next.last_update_ms = now;
        io.persist(&next)?;
        self.index(old_pid, &next);
        *meta = next;
        Ok((meta.producer_id, meta.producer_epoch))
    }

    /// Checks the producer of a transactional request.
    fn check_producer(meta: Option<&TxnMeta>, pid: i64, epoch: i16) -> Result<(), ErrorCode> {
        let meta = meta.ok_or(ErrorCode::InvalidProducerIdMapping)?;
        if meta.producer_id != pid {
            return Err(ErrorCode::InvalidProducerIdMapping);
        }
        if meta.producer_epoch != epoch {
            return Err(ErrorCode::ProducerFenced);
        }
        Ok(())
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn: adds partitions to the
    /// producer's transaction (starting one if none is open).
    pub fn add_partitions(
        &self,
        io: &dyn TxnIo,
        transactional_id: &str,
        pid: i64,
        epoch: i16,
        partitions: &[(String, i32)],
        now: i64,
    ) -> Result<(), ErrorCode> {
        let mut txns = self
            .txns
            .lock()
            .map_err(|_| ErrorCode::CoordinatorNotAvailable)?;
        let meta = txns.get_mut(transactional_id);
        Self::check_producer(meta.as_deref(), pid, epoch)?;
        let Some(meta) = meta else {
            return Err(ErrorCode::InvalidProducerIdMapping);
        };
        match meta.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => {
                return Err(ErrorCode::ConcurrentTransactions)
            }
            TxnState::Dead | TxnState::PrepareEpochFence => return Err(ErrorCode::InvalidTxnState),
            _ => {}
        }
        if meta.state == TxnState::Ongoing && partitions.iter().all(|p| meta.partitions.contains(p))
        {
            return Ok(());
        }
        let mut next = meta.clone();
        if next.state != TxnState::Ongoing {
            next.state = TxnState::Ongoing;
            next.start_ms = now;
            next.partitions.clear();
        }
        next.partitions.extend(partitions.iter().cloned());
        next.last_update_ms = now;
        io.persist(&next)?;
        self.index(meta.producer_id, &next);
        *meta = next;
        Ok(())
    }

    /// AddPartitionsToTxn v4+ verify-only: whether each partition is in
    /// the producer's ongoing transaction.
    pub fn verify_partitions(
        &self,
        transactional_id: &str,
        pid: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        let txns = self
            .txns
            .lock()
            .map_err(|_| ErrorCode::CoordinatorNotAvailable)?;
        let meta = txns.get(transactional_id);
        Self::check_producer(meta, pid, epoch)?;
        Ok(partitions
            .iter()
            .map(|p| match meta {
                Some(m) if m.state == TxnState::Ongoing && m.partitions.contains(p) => {
                    ErrorCode::None
                }
                _ => ErrorCode::InvalidTxnState,
            })
            .collect())
    }

    /// Runs `f` while the transaction is Ongoing for this producer, with
    /// the coordinator locked (TxnOffsetCommit writes under it, so its
    /// records precede the transaction's markers).
    /// `partition`, when given, must be in the transaction (the group's
    /// offsets partition, added by AddOffsetsToTxn).
    pub fn with_ongoing<R>(
        &self,
        transactional_id: &str,
        pid: i64,
        epoch: i16,
        partition: Option<&(String, i32)>,
        f: impl FnOnce() -> R,
    ) -> Result<R, ErrorCode> {
        let txns = self
            .txns
            .lock()
            .map_err(|_| ErrorCode::CoordinatorNotAvailable)?;
        let meta = txns.get(transactional_id);
        Self::check_producer(meta, pid, epoch)?;
        if let (Some(m), Some(p)) = (meta, partition) {
            if m.state == TxnState::Ongoing && !m.partitions.contains(p) {
                return Err(ErrorCode::InvalidTxnState);
            }
        }
        match meta.map(|m| m.state) {
            Some(TxnState::Ongoing) => Ok(f()),
            Some(TxnState::PrepareCommit | TxnState::PrepareAbort) => {
                Err(ErrorCode::ConcurrentTransactions)
            }
            _ => Err(ErrorCode::InvalidTxnState),
        }
    }

    /// EndTxn: commits or aborts the producer's transaction, markers
    /// written before returning.
    pub fn end_txn(
        &self,
        io: &dyn TxnIo,
        transactional_id: &str,
        pid: i64,
        epoch: i16,
        commit: bool,
        now: i64,
    ) -> Result<(), ErrorCode> {
        let mut txns = self
            .txns
            .lock()
            .map_err(|_| ErrorCode::CoordinatorNotAvailable)?;
        let meta = txns.get_mut(transactional_id);
        Self::check_producer(meta.as_deref(), pid, epoch)?;
        let Some(meta) = meta else {
            return Err(ErrorCode::InvalidProducerIdMapping);
        };
        match (meta.state, commit) {
            (TxnState::Ongoing, _)
            | (TxnState::PrepareCommit, true)
            | (TxnState::PrepareAbort, false) => self.end(io, meta, commit, now),
            (TxnState::PrepareCommit | TxnState::PrepareAbort, _) => {
                Err(ErrorCode::ConcurrentTransactions)
            }
            // A retried EndTxn whose first attempt completed.
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(()),
            _ => Err(ErrorCode::InvalidTxnState),
        }
    }

    /// Produce's check of a transactional batch: the producer must have
    /// added this partition to its ongoing transaction.
    pub fn verify_produce(
        &self,
        topic: &str,
        partition: i32,
        pid: i64,
        epoch: i16,
    ) -> Result<(), (ErrorCode, String)> {
        let idx = self.ongoing.read().map_err(|_| {
            (
                ErrorCode::CoordinatorNotAvailable,
                "transaction index lock poisoned".to_string(),
            )
        })?;
        match idx.get(&pid) {
            None => Err((
                ErrorCode::InvalidTxnState,
                format!("producer {pid} has no ongoing transaction"),
            )),
            Some((e, _)) if epoch < *e => Err((
                ErrorCode::InvalidProducerEpoch,
                format!("producer epoch {epoch} is older than {e}"),
            )),
            Some((e, _)) if epoch != *e => Err((
                ErrorCode::InvalidTxnState,
                format!("producer epoch {epoch} does not match the transaction's {e}"),
            )),
            Some((_, None)) => Err((
                ErrorCode::InvalidTxnState,
                format!("producer {pid} has no ongoing transaction"),
            )),
            Some((_, Some(parts))) if !parts.contains(&(topic.to_string(), partition)) => Err((
                ErrorCode::InvalidTxnState,
                format!("{topic}-{partition} was not added to the transaction of producer {pid}"),
            )),
            Some(_) => Ok(()),
        }
    }

    /// Every transaction's metadata (Describe/ListTransactions).
    pub fn all(&self) -> Vec<TxnMeta> {
        let mut v: Vec<TxnMeta> = self
            .txns
            .lock()
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default();
        v.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        v
    }

    pub fn get(&self, transactional_id: &str) -> Option<TxnMeta> {
        self.txns.lock().ok()?.get(transactional_id).cloned()
    }
}

/// Replays one `__transaction_state` partition into `metas` (the latest
/// record of each transactional id; a tombstone removes it).
pub fn replay_partition(p: &Partition, metas: &mut HashMap<String, TxnMeta>) {
    p.for_each_batch(|h, batch| {
        if h.is_control() {
            return;
        }
        let Ok(recs) = fjord_protocol::records::records(&batch, 64 << 20) else {
            return;
        };
        for rec in recs.flatten() {
            let Some(key) = &rec.key else { continue };
            match log::decode(key, rec.value.as_ref()) {
                Some((id, Some(meta))) => {
                    metas.insert(id, meta);
                }
                Some((id, None)) => {
                    metas.remove(&id);
                }
                None => {}
            }
        }
    });
}

/// Kafka's mapping of PRODUCER_FENCED for request versions from before
/// KIP-588: older clients get INVALID_PRODUCER_EPOCH.
pub fn fenced_for(code: ErrorCode, version: i16, first_with_fenced: i16) -> ErrorCode {
    if code == ErrorCode::ProducerFenced && version < first_with_fenced {
        ErrorCode::InvalidProducerEpoch
    } else {
        code
    }
}
