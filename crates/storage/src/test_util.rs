//! Builds valid magic-v2 batches for tests (uncompressed records, CRC32C).
//! Shared by the unit tests and, through `#[path]`, the integration tests.
#![allow(dead_code)]

use bytes::BytesMut;
use fjord_protocol::records::{compute_crc, BatchHeader};
use fjord_protocol::wire;

/// Appends `v` as a zigzag varlong (the protocol crate's encoding).
fn put_varint(buf: &mut Vec<u8>, v: i64) {
    let mut b = BytesMut::new();
    wire::put_varlong(&mut b, v);
    buf.extend_from_slice(&b);
}

/// A batch of records `(timestamp, value)` with the given attributes
/// (compression bits are only a label: the records are never compressed).
pub fn batch_with_attrs(attributes: i16, records: &[(i64, &[u8])]) -> Vec<u8> {
    assert!(!records.is_empty());
    let first_ts = records[0].0;
    let max_ts = records.iter().map(|r| r.0).max().unwrap_or(-1);
    let mut body = Vec::new();
    for (i, (ts, value)) in records.iter().enumerate() {
        let mut rec = Vec::new();
        rec.push(0u8); // attributes
        put_varint(&mut rec, ts - first_ts);
        put_varint(&mut rec, i as i64);
        put_varint(&mut rec, -1); // null key
        put_varint(&mut rec, value.len() as i64);
        rec.extend_from_slice(value);
        put_varint(&mut rec, 0); // no headers
        put_varint(&mut body, rec.len() as i64);
        body.extend_from_slice(&rec);
    }
    let mut b = Vec::with_capacity(61 + body.len());
    b.extend_from_slice(&0i64.to_be_bytes()); // base offset
    b.extend_from_slice(&((49 + body.len()) as i32).to_be_bytes()); // batch length
    b.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    b.push(2); // magic
    b.extend_from_slice(&0u32.to_be_bytes()); // crc, set below
    b.extend_from_slice(&attributes.to_be_bytes());
    b.extend_from_slice(&((records.len() - 1) as i32).to_be_bytes());
    b.extend_from_slice(&first_ts.to_be_bytes());
    b.extend_from_slice(&max_ts.to_be_bytes());
    b.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    b.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    b.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    b.extend_from_slice(&(records.len() as i32).to_be_bytes());
    b.extend_from_slice(&body);
    let crc = compute_crc(&b);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    debug_assert!(BatchHeader::parse(&b).is_ok());
    b
}

/// An uncompressed batch of records `(timestamp, value)`.
pub fn batch(records: &[(i64, &[u8])]) -> Vec<u8> {
    batch_with_attrs(0, records)
}

/// `count` records at timestamp `ts`, each with a `value_len`-byte value.
pub fn simple_batch(count: usize, ts: i64, value_len: usize) -> Vec<u8> {
    let value = vec![b'x'; value_len];
    let records: Vec<(i64, &[u8])> = (0..count).map(|_| (ts, value.as_slice())).collect();
    batch(&records)
}
