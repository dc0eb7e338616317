//! The transaction coordinator's state machine against a recording io.

use std::cell::RefCell;
use std::collections::HashMap;

use fjord_protocol::ErrorCode;

use super::*;

/// A marker written: (pid, epoch, commit, partitions).
type Marker = (i64, i16, bool, Vec<(String, i32)>);

#[derive(Default)]
struct MockIo {
    /// Every persisted record (transactional id, state, pid, epoch).
    log: RefCell<Vec<TxnMeta>>,
    markers: RefCell<Vec<Marker>>,
    next_pid: RefCell<i64>,
    fail_markers: RefCell<bool>,
    tombstones: RefCell<Vec<String>>,
}

impl TxnIo for MockIo {
    fn persist(&self, meta: &TxnMeta) -> Result<(), ErrorCode> {
        self.log.borrow_mut().push(meta.clone());
        Ok(())
    }
    fn write_markers(&self, meta: &TxnMeta, commit: bool) -> Result<(), ErrorCode> {
        if *self.fail_markers.borrow() {
            return Err(ErrorCode::KafkaStorageError);
        }
        self.markers.borrow_mut().push((
            meta.producer_id,
            meta.producer_epoch,
            commit,
            meta.partitions.iter().cloned().collect(),
        ));
        Ok(())
    }
    fn tombstone(&self, transactional_id: &str) -> Result<(), ErrorCode> {
        self.tombstones
            .borrow_mut()
            .push(transactional_id.to_string());
        Ok(())
    }
    fn allocate_producer_id(&self) -> Result<i64, ErrorCode> {
        let mut n = self.next_pid.borrow_mut();
        *n += 1;
        Ok(*n + 999)
    }
}

fn tp(t: &str, p: i32) -> (String, i32) {
    (t.to_string(), p)
}

fn states(io: &MockIo) -> Vec<TxnState> {
    io.log.borrow().iter().map(|m| m.state).collect()
}

#[test]
fn commit_flow_writes_prepare_markers_complete() {
    let c = TxnCoordinator::default();
    let io = MockIo::default();
    let (pid, epoch) = c.init_producer_id(&io, "t1", 60_000, None, 1).unwrap();
    assert_eq!((pid, epoch), (1000, 0));
    // Not in a transaction yet: produce is refused.
    assert_eq!(
        c.verify_produce("a", 0, pid, epoch).unwrap_err().0,
        ErrorCode::InvalidTxnState
    );
    c.add_partitions(&io, "t1", pid, epoch, &[tp("a", 0), tp("b", 1)], 2)
        .unwrap();
    assert!(c.verify_produce("a", 0, pid, epoch).is_ok());
    assert_eq!(
        c.verify_produce("a", 1, pid, epoch).unwrap_err().0,
        ErrorCode::InvalidTxnState
    );
    // AddPartitionsToTxn v4 verify-only.
    assert_eq!(
        c.verify_partitions("t1", pid, epoch, &[tp("a", 0), tp("z", 0)]),
        Ok(vec![ErrorCode::None, ErrorCode::InvalidTxnState])
    );
    assert_eq!(
        c.verify_partitions("t1", pid, epoch + 1, &[tp("a", 0)]),
        Err(ErrorCode::ProducerFenced)
    );
    // TxnOffsetCommit needs the group's offsets partition in the transaction.
    assert_eq!(
        c.with_ongoing("t1", pid, epoch, Some(&tp("__consumer_offsets", 3)), || 1),
        Err(ErrorCode::InvalidTxnState)
    );
    assert_eq!(
        c.with_ongoing("t1", pid, epoch, Some(&tp("a", 0)), || 1),
        Ok(1)
    );
    // Re-adding the same partitions logs nothing new.
    let before = io.log.borrow().len();
    c.add_partitions(&io, "t1", pid, epoch, &[tp("a", 0)], 3)
        .unwrap();
    assert_eq!(io.log.borrow().len(), before);
    c.end_txn(&io, "t1", pid, epoch, true, 4).unwrap();
    assert_eq!(
        states(&io),
        vec![
            TxnState::Empty,
            TxnState::Ongoing,
            TxnState::PrepareCommit,
            TxnState::CompleteCommit
        ]
    );
    assert_eq!(
        io.markers.borrow().as_slice(),
        &[(pid, epoch, true, vec![tp("a", 0), tp("b", 1)])]
    );
    // Produce after the commit is refused; a retried EndTxn succeeds.
    assert!(c.verify_produce("a", 0, pid, epoch).is_err());
    c.end_txn(&io, "t1", pid, epoch, true, 5).unwrap();
    assert_eq!(
        c.end_txn(&io, "t1", pid, epoch, false, 5),
        Err(ErrorCode::InvalidTxnState)
    );
    // A new transaction starts with a fresh partition set.
    c.add_partitions(&io, "t1", pid, epoch, &[tp("c", 0)], 6)
        .unwrap();
    let m = c.get("t1").unwrap();
    assert_eq!(m.state, TxnState::Ongoing);
    assert_eq!(
        m.partitions.iter().cloned().collect::<Vec<_>>(),
        vec![tp("c", 0)]
    );
    assert_eq!(m.start_ms, 6);
}

#[test]
fn init_fences_and_aborts_ongoing() {
    let c = TxnCoordinator::default();
    let io = MockIo::default();
    let (pid, e0) = c.init_producer_id(&io, "t", 60_000, None, 1).unwrap();
    c.add_partitions(&io, "t", pid, e0, &[tp("a", 0)], 2)
        .unwrap();
    // A second producer with the same id: the open transaction is aborted
    // with a bumped epoch, then the epoch is bumped again for it.
    let (pid2, e2) = c.init_producer_id(&io, "t", 60_000, None, 3).unwrap();
    assert_eq!(pid2, pid);
    assert_eq!(e2, e0 + 2);
    assert_eq!(
        io.markers.borrow().as_slice(),
        &[(pid, e0 + 1, false, vec![tp("a", 0)])]
    );
    // The old producer is fenced everywhere.
    assert_eq!(
        c.add_partitions(&io, "t", pid, e0, &[tp("a", 0)], 4),
        Err(ErrorCode::ProducerFenced)
    );
    assert_eq!(
        c.end_txn(&io, "t", pid, e0, true, 4),
        Err(ErrorCode::ProducerFenced)
    );
    assert_eq!(
        c.with_ongoing("t", pid, e0, None, || ()),
        Err(ErrorCode::ProducerFenced)
    );
    assert_eq!(
        c.end_txn(&io, "t", pid + 7, e2, true, 4),
        Err(ErrorCode::InvalidProducerIdMapping)
    );
    assert_eq!(
        c.end_txn(&io, "unknown", pid, e2, true, 4),
        Err(ErrorCode::InvalidProducerIdMapping)
    );
    // KIP-360: a stale expected (pid, epoch) is fenced; the current one bumps.
    assert_eq!(
        c.init_producer_id(&io, "t", 60_000, Some((pid, e0)), 5),
        Err(ErrorCode::ProducerFenced)
    );
    assert_eq!(
        c.init_producer_id(&io, "t", 60_000, Some((pid, e2)), 5),
        Ok((pid, e2 + 1))
    );
}

#[test]
fn timeouts_and_limits() {
    let c = TxnCoordinator::new(10_000);
    let io = MockIo::default();
    assert_eq!(
        c.init_producer_id(&io, "t", 10_001, None, 0),
        Err(ErrorCode::InvalidTransactionTimeout)
    );
    assert_eq!(
        c.init_producer_id(&io, "t", 0, None, 0),
        Err(ErrorCode::InvalidTransactionTimeout)
    );
    let (pid, e) = c.init_producer_id(&io, "t", 1_000, None, 0).unwrap();
    c.add_partitions(&io, "t", pid, e, &[tp("a", 0)], 100)
        .unwrap();
    c.tick(&io, 1_000);
    assert_eq!(c.get("t").unwrap().state, TxnState::Ongoing);
    c.tick(&io, 1_101);
    let m = c.get("t").unwrap();
    assert_eq!(m.state, TxnState::CompleteAbort);
    assert_eq!(m.producer_epoch, e + 1);
    assert_eq!(io.markers.borrow().len(), 1);
    // The timed-out producer is fenced.
    assert_eq!(
        c.end_txn(&io, "t", pid, e, true, 1_200),
        Err(ErrorCode::ProducerFenced)
    );
}

#[test]
fn idle_ids_expire() {
    let c = TxnCoordinator::default();
    let io = MockIo::default();
    let (pid, e) = c.init_producer_id(&io, "idle", 60_000, None, 0).unwrap();
    c.init_producer_id(&io, "busy", 60_000, None, 0).unwrap();
    let (bp, be) = (c.get("busy").unwrap().producer_id, 0);
    c.add_partitions(&io, "busy", bp, be, &[tp("a", 0)], 0)
        .unwrap();
    let later = ID_EXPIRATION_MS + 1;
    // "busy" times out (aborted) first; "idle" expires.
    c.tick(&io, later);
    assert_eq!(io.tombstones.borrow().as_slice(), &["idle".to_string()]);
    assert!(c.get("idle").is_none());
    assert_eq!(c.get("busy").unwrap().state, TxnState::CompleteAbort);
    assert_eq!(
        c.end_txn(&io, "idle", pid, e, true, later),
        Err(ErrorCode::InvalidProducerIdMapping)
    );
}

#[test]
fn epoch_exhaustion_gives_a_new_producer_id() {
    let c = TxnCoordinator::default();
    let io = MockIo::default();
    let (pid, _) = c.init_producer_id(&io, "t", 1_000, None, 0).unwrap();
    let mut metas = HashMap::new();
    let mut m = c.get("t").unwrap();
    m.producer_epoch = i16::MAX - 1;
    metas.insert("t".to_string(), m);
    c.load(metas);
    let (pid2, e2) = c.init_producer_id(&io, "t", 1_000, None, 1).unwrap();
    assert_ne!(pid2, pid);
    assert_eq!(e2, 0);

    // An open transaction at the last epoch is aborted with its own
    // producer id (no bump), then the new id is handed out.
    let mut m = c.get("t").unwrap();
    m.producer_epoch = i16::MAX - 1;
    m.state = TxnState::Ongoing;
    m.partitions = [tp("a", 0)].into_iter().collect();
    c.load(HashMap::from([("t".to_string(), m)]));
    let (pid3, e3) = c.init_producer_id(&io, "t", 1_000, None, 2).unwrap();
    assert_eq!(
        io.markers.borrow().last().cloned(),
        Some((pid2, i16::MAX - 1, false, vec![tp("a", 0)]))
    );
    assert!(pid3 != pid2 && e3 == 0);
}

#[test]
fn failed_markers_are_retried_and_recovery_completes() {
    let c = TxnCoordinator::default();
    let io = MockIo::default();
    let (pid, e) = c.init_producer_id(&io, "t", 60_000, None, 0).unwrap();
    c.add_partitions(&io, "t", pid, e, &[tp("a", 0)], 1)
        .unwrap();
    *io.fail_markers.borrow_mut() = true;
    assert_eq!(
        c.end_txn(&io, "t", pid, e, true, 2),
        Err(ErrorCode::KafkaStorageError)
    );
    assert_eq!(c.get("t").unwrap().state, TxnState::PrepareCommit);
    // Nothing may be added while the commit is pending.
    assert_eq!(
        c.add_partitions(&io, "t", pid, e, &[tp("b", 0)], 3),
        Err(ErrorCode::ConcurrentTransactions)
    );
    assert_eq!(
        c.end_txn(&io, "t", pid, e, false, 3),
        Err(ErrorCode::ConcurrentTransactions)
    );
    *io.fail_markers.borrow_mut() = false;
    c.tick(&io, 4);
    assert_eq!(c.get("t").unwrap().state, TxnState::CompleteCommit);
    assert_eq!(io.markers.borrow().len(), 1);
    assert!(io.markers.borrow()[0].2);

    // Recovery after a restart: PrepareCommit completed; a replayed
    // Ongoing transaction continues until its timeout, which counts from
    // its logged start.
    let c2 = TxnCoordinator::default();
    let io2 = MockIo::default();
    let mut metas = HashMap::new();
    let base = TxnMeta {
        transactional_id: "o".into(),
        producer_id: 5,
        producer_epoch: 3,
        timeout_ms: 60_000,
        state: TxnState::Ongoing,
        partitions: [tp("a", 0)].into_iter().collect(),
        start_ms: 0,
        last_update_ms: 0,
    };
    metas.insert("o".to_string(), base.clone());
    metas.insert(
        "p".to_string(),
        TxnMeta {
            transactional_id: "p".into(),
            producer_id: 6,
            state: TxnState::PrepareCommit,
            ..base
        },
    );
    c2.load(metas);
    c2.recover(&io2, 10);
    assert_eq!(c2.get("o").unwrap().state, TxnState::Ongoing);
    assert_eq!(c2.get("o").unwrap().producer_epoch, 3);
    assert_eq!(c2.get("p").unwrap().state, TxnState::CompleteCommit);
    assert_eq!(io2.markers.borrow().len(), 1);
    c2.tick(&io2, 60_001);
    assert_eq!(c2.get("o").unwrap().state, TxnState::CompleteAbort);
    assert_eq!(c2.get("o").unwrap().producer_epoch, 4);
    let mut m = io2.markers.borrow().clone();
    m.sort();
    assert_eq!(
        m,
        vec![
            (5, 4, false, vec![tp("a", 0)]),
            (6, 3, true, vec![tp("a", 0)])
        ]
    );
}

#[test]
fn log_records_round_trip() {
    let m = TxnMeta {
        transactional_id: "tx".into(),
        producer_id: 42,
        producer_epoch: 7,
        timeout_ms: 60_000,
        state: TxnState::Ongoing,
        partitions: [tp("a", 0), tp("a", 2), tp("b", 1)].into_iter().collect(),
        start_ms: 11,
        last_update_ms: 12,
    };
    let k = log::key("tx");
    let v = log::value(&m);
    assert_eq!(&k[..2], &[0, 0]);
    assert_eq!(&v[..2], &[0, 0]);
    assert_eq!(
        log::decode(&k, Some(&v)),
        Some(("tx".to_string(), Some(m.clone())))
    );
    assert_eq!(log::decode(&k, None), Some(("tx".to_string(), None)));
    let empty = TxnMeta {
        state: TxnState::Empty,
        partitions: Default::default(),
        ..m
    };
    let v = log::value(&empty);
    assert_eq!(
        log::decode(&k, Some(&v)),
        Some(("tx".to_string(), Some(empty)))
    );
    // Garbage never panics.
    assert_eq!(log::decode(&bytes::Bytes::from_static(&[0]), None), None);
    assert_eq!(
        log::decode(&k, Some(&bytes::Bytes::from_static(&[0, 0, 1]))),
        None
    );
}
