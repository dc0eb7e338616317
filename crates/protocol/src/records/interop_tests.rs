//! Cross-checks against an independent implementation (the kafka-protocol
//! crate, whose LZ4 is the C liblz4 and whose snappy writes the xerial
//! framing the Java client uses).

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as KCompression, Record as KRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType as KTs,
};

use super::*;

const PAIRS: [(Compression, KCompression); 5] = [
    (Compression::None, KCompression::None),
    (Compression::Gzip, KCompression::Gzip),
    (Compression::Snappy, KCompression::Snappy),
    (Compression::Lz4, KCompression::Lz4),
    (Compression::Zstd, KCompression::Zstd),
];

fn value(i: usize) -> Vec<u8> {
    // Large enough to span several snappy (32 KiB) and LZ4 (64 KiB) blocks.
    (0..20_000 + i).map(|j| (j % 13) as u8 + i as u8).collect()
}

fn their_records(n: usize) -> Vec<KRecord> {
    (0..n)
        .map(|i| {
            let mut headers: Vec<(StrBytes, Option<Bytes>)> = Vec::new();
            if i % 2 == 0 {
                headers.push((
                    StrBytes::from_string(format!("h{i}")),
                    Some(Bytes::from(vec![i as u8; 3])),
                ));
                headers.push((StrBytes::from_string("null".to_string()), None));
            }
            KRecord {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 5,
                producer_id: 42,
                producer_epoch: 1,
                timestamp_type: KTs::Creation,
                offset: 100 + i as i64,
                sequence: 7 + i as i32,
                timestamp: 1_000 + i as i64,
                key: (i % 3 != 0).then(|| Bytes::from(format!("key{i}"))),
                value: Some(Bytes::from(value(i))),
                headers: headers.into_iter().collect(),
            }
        })
        .collect()
}

#[test]
fn we_read_their_batches() {
    for (ours, theirs) in PAIRS {
        let want = their_records(6);
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &want,
            &RecordEncodeOptions {
                version: 2,
                compression: theirs,
            },
        )
        .unwrap();
        let batch = buf.freeze();
        if ours == Compression::Snappy {
            assert_eq!(
                &batch[BATCH_HEADER_LEN..BATCH_HEADER_LEN + 8],
                &XERIAL_MAGIC
            );
        }
        let h = validate_records(&batch, 1 << 22).unwrap();
        assert_eq!(h.compression().unwrap(), ours);
        assert_eq!(h.base_offset, 100);
        assert_eq!(h.base_sequence, 7);
        assert_eq!(h.producer_id, 42);
        let got: Vec<Record> = records(&batch, 1 << 22)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.offset(h.base_offset), w.offset);
            assert_eq!(g.timestamp(&h), w.timestamp);
            assert_eq!(g.key, w.key);
            assert_eq!(g.value, w.value);
            let hs: Vec<(Bytes, Option<Bytes>)> = w
                .headers
                .iter()
                .map(|(k, v)| (Bytes::copy_from_slice(k.as_bytes()), v.clone()))
                .collect();
            let ghs: Vec<(Bytes, Option<Bytes>)> = g
                .headers
                .iter()
                .map(|x| (x.key.clone(), x.value.clone()))
                .collect();
            assert_eq!(ghs, hs);
        }
    }
}

#[test]
fn they_read_our_batches() {
    for (ours, theirs) in PAIRS {
        let mut b = BatchBuilder::new(ours)
            .base_offset(10)
            .producer(3, 4, 5)
            .partition_leader_epoch(6);
        for i in 0..6 {
            let key = format!("k{i}");
            let v = value(i);
            let hv = [i as u8];
            let headers: Vec<(&[u8], Option<&[u8]>)> = vec![(b"hdr", Some(&hv)), (b"none", None)];
            b.append(
                2_000 + i as i64,
                (i != 2).then_some(key.as_bytes()),
                Some(&v),
                &headers,
            )
            .unwrap();
        }
        let mut batch = b.build().unwrap();
        let set = RecordBatchDecoder::decode(&mut batch).unwrap();
        assert_eq!(set.compression, theirs);
        assert_eq!(set.records.len(), 6);
        for (i, r) in set.records.iter().enumerate() {
            assert_eq!(r.offset, 10 + i as i64);
            assert_eq!(r.sequence, 5 + i as i32);
            assert_eq!(r.producer_id, 3);
            assert_eq!(r.producer_epoch, 4);
            assert_eq!(r.partition_leader_epoch, 6);
            assert_eq!(r.timestamp, 2_000 + i as i64);
            assert_eq!(r.key.is_none(), i == 2);
            assert_eq!(r.value.as_deref(), Some(&value(i)[..]));
            assert_eq!(r.headers.len(), 2);
        }
    }
}

#[test]
fn they_read_our_control_batches() {
    let mut batch = control_batch(ControlType::Commit, 77, 2, 9, 123, 4);
    let set = RecordBatchDecoder::decode(&mut batch).unwrap();
    assert_eq!(set.records.len(), 1);
    let r = &set.records[0];
    assert!(r.control && r.transactional);
    assert_eq!(r.producer_id, 77);
    assert_eq!(r.key.as_deref(), Some(&[0, 0, 0, 1][..]));
    assert_eq!(r.value.as_deref(), Some(&[0, 0, 0, 0, 0, 9][..]));
}
