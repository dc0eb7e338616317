//! The `__transaction_state` record formats: Kafka's TransactionLogKey
//! (version 0) and TransactionLogValue (version 0), each prefixed by its
//! i16 version, as Kafka's transaction coordinator writes them.

use std::collections::BTreeSet;

use bytes::{BufMut, Bytes, BytesMut};
use fjord_protocol::messages::transaction_log_value::PartitionsSchema;
use fjord_protocol::messages::{TransactionLogKey, TransactionLogValue};
use fjord_protocol::{Decode, Encode};

use super::{TxnMeta, TxnState};

fn encode_versioned<M: Encode>(m: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i16(version);
    if let Err(e) = m.encode(&mut buf, version) {
        tracing::error!(error = %e, "encoding a __transaction_state record failed");
    }
    buf.freeze()
}

fn split_version(b: &Bytes) -> Option<(i16, Bytes)> {
    let v = b.first_chunk::<2>()?;
    Some((i16::from_be_bytes(*v), b.slice(2..)))
}

pub fn key(transactional_id: &str) -> Bytes {
    encode_versioned(
        &TransactionLogKey {
            transactional_id: transactional_id.to_string(),
            ..Default::default()
        },
        0,
    )
}

pub fn value(m: &TxnMeta) -> Bytes {
    // Kafka writes null partitions for Empty transactions.
    let partitions = if m.state == TxnState::Empty {
        None
    } else {
        let mut out: Vec<PartitionsSchema> = Vec::new();
        for (t, p) in &m.partitions {
            match out.last_mut() {
                Some(last) if &last.topic == t => last.partition_ids.push(*p),
                _ => out.push(PartitionsSchema {
                    topic: t.clone(),
                    partition_ids: vec![*p],
                    ..Default::default()
                }),
            }
        }
        Some(out)
    };
    encode_versioned(
        &TransactionLogValue {
            producer_id: m.producer_id,
            previous_producer_id: -1,
            next_producer_id: -1,
            producer_epoch: m.producer_epoch,
            transaction_timeout_ms: m.timeout_ms,
            transaction_status: m.state.code(),
            transaction_partitions: partitions,
            transaction_last_update_timestamp_ms: m.last_update_ms,
            transaction_start_timestamp_ms: m.start_ms,
            ..Default::default()
        },
        0,
    )
}

/// Decodes a record: the transactional id and its metadata (`None` for a
/// tombstone). `None` overall for a record this broker cannot read.
pub fn decode(key: &Bytes, value: Option<&Bytes>) -> Option<(String, Option<TxnMeta>)> {
    let (kv, mut k) = split_version(key)?;
    if kv != 0 {
        return None;
    }
    let key = TransactionLogKey::decode(&mut k, 0).ok()?;
    let Some(value) = value else {
        return Some((key.transactional_id, None));
    };
    let (vv, mut b) = split_version(value)?;
    if !(0..=1).contains(&vv) {
        return None;
    }
    let v = TransactionLogValue::decode(&mut b, vv).ok()?;
    let state = TxnState::from_code(v.transaction_status)?;
    let partitions: BTreeSet<(String, i32)> = v
        .transaction_partitions
        .unwrap_or_default()
        .into_iter()
        .flat_map(|ps| {
            let topic = ps.topic;
            ps.partition_ids
                .into_iter()
                .map(move |p| (topic.clone(), p))
        })
        .collect();
    Some((
        key.transactional_id.clone(),
        Some(TxnMeta {
            transactional_id: key.transactional_id,
            producer_id: v.producer_id,
            producer_epoch: v.producer_epoch,
            timeout_ms: v.transaction_timeout_ms,
            state,
            partitions,
            start_ms: v.transaction_start_timestamp_ms,
            last_update_ms: v.transaction_last_update_timestamp_ms,
        }),
    ))
}
