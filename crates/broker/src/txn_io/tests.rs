//! The transaction coordinator against a real broker state: replay and
//! recovery at open.
use std::collections::BTreeMap;

use bytes::BytesMut;
use fjord_protocol::records::{BatchBuilder, BatchIter, Compression};

use super::*;
use crate::config::BrokerConfig;
use crate::state::BrokerState;
use fjord_txn_coordinator::{TxnState, TXN_TOPIC};

fn config(dir: &std::path::Path) -> BrokerConfig {
    BrokerConfig {
        data_dir: dir.to_path_buf(),
        ..BrokerConfig::default()
    }
}

/// Appends a transactional batch as Produce does.
fn produce(st: &BrokerState, pid: i64, epoch: i16, seq: i32) {
    let p = st.partition("t", 0).unwrap();
    let mut b = BatchBuilder::new(Compression::None)
        .producer(pid, epoch, seq)
        .transactional(true);
    b.append(1, Some(b"k"), Some(b"v"), &[]).unwrap();
    let mut buf = BytesMut::from(&b.build().unwrap()[..]);
    let mut states = p.producers.lock().unwrap();
    st.txns.verify_produce("t", 0, pid, epoch).unwrap();
    p.log.append(&mut buf, p.leader_epoch, 1).unwrap();
    for (h, _) in BatchIter::new(&buf).flatten() {
        states.record(&h);
    }
    drop(states);
    st.make_visible(&p, p.log.log_end_offset()).unwrap();
}

/// Opens a broker with topic `t` and the transaction state topic.
fn open(dir: &std::path::Path) -> BrokerState {
    let st = BrokerState::open(config(dir)).unwrap();
    // As the server does right after opening the state.
    crate::txn_io::open(&st);
    if st.topic("t").is_none() {
        st.create_topic("t", 1, BTreeMap::new()).unwrap();
    }
    if st.topic(TXN_TOPIC).is_none() {
        let t = st.create_topic(TXN_TOPIC, 3, BTreeMap::new()).unwrap();
        st.txns.set_partitions(t.partitions.clone());
    }
    st
}

#[test]
fn crash_after_prepare_commit_completes_and_ongoing_continues() {
    let dir = std::env::temp_dir().join(format!("fjord-txn-broker-{}", rand::random::<u64>()));
    let (pid_c, pid_a);
    // Real clock: recovery at open checks id expiry against it.
    let now = crate::handlers::now_ms();
    {
        let st = open(&dir);
        let io = BrokerIo { state: &st };
        let (pc, ec) = st
            .txns
            .init_producer_id(&io, "c", 60_000, None, now)
            .unwrap();
        let (pa, ea) = st
            .txns
            .init_producer_id(&io, "a", 60_000, None, now)
            .unwrap();
        (pid_c, pid_a) = (pc, pa);
        let t0 = vec![("t".to_string(), 0)];
        st.txns.add_partitions(&io, "c", pc, ec, &t0, now).unwrap();
        st.txns.add_partitions(&io, "a", pa, ea, &t0, now).unwrap();
        produce(&st, pc, ec, 0);
        produce(&st, pa, ea, 0);
        produce(&st, pc, ec, 1);
        let p = st.partition("t", 0).unwrap();
        assert_eq!(p.last_stable_offset(), 0);
        assert_eq!(p.high_watermark(), 3);
        // "c" logged PrepareCommit, then the broker died before markers.
        let mut m = st.txns.get("c").unwrap();
        m.state = TxnState::PrepareCommit;
        io.persist(&m).unwrap();
        // No close: like kill -9 (the data is in the page cache).
    }
    let st = open(&dir);
    let c = st.txns.get("c").unwrap();
    assert_eq!(c.state, TxnState::CompleteCommit);
    // "a" was Ongoing: it stays open (its producer may still end it), and
    // its first batch still holds the last stable offset.
    let a = st.txns.get("a").unwrap();
    assert_eq!((a.state, a.producer_epoch), (TxnState::Ongoing, 0));
    let p = st.partition("t", 0).unwrap();
    assert_eq!(p.high_watermark(), 4, "c's marker after the three batches");
    assert_eq!(p.last_stable_offset(), 1);
    // A new producer under "a" fences the old one: its transaction is
    // aborted with a bumped epoch, then the new producer gets the next.
    let io = BrokerIo { state: &st };
    let (pid, epoch) = st
        .txns
        .init_producer_id(&io, "a", 60_000, None, now)
        .unwrap();
    assert_eq!((pid, epoch), (pid_a, 2));
    assert_eq!(p.high_watermark(), 5);
    assert_eq!(p.last_stable_offset(), 5);
    let aborted = p.producers.lock().unwrap().aborted_between(0, 5);
    assert_eq!(aborted.len(), 1);
    assert_eq!(
        (aborted[0].producer_id, aborted[0].first_offset),
        (pid_a, 1)
    );
    assert!(aborted.iter().all(|x| x.producer_id != pid_c));
    st.close_all();
    drop(st);
    // A clean restart reads the same from the producer snapshot.
    let st = open(&dir);
    let p = st.partition("t", 0).unwrap();
    assert_eq!(p.last_stable_offset(), 5);
    assert_eq!(p.producers.lock().unwrap().aborted_between(0, 5).len(), 1);
    assert_eq!(st.txns.get("a").unwrap().producer_epoch, 2);
    let _ = std::fs::remove_dir_all(&dir);
}
