//! Control records: the transaction markers (COMMIT / ABORT) a transaction
//! coordinator has partition leaders write.
//!
//! Key: i16 version (0), i16 type. Value (end-transaction marker): i16
//! version (0), i32 coordinator epoch.

use bytes::Bytes;

use super::builder::BatchBuilder;
use super::{Compression, Record, RecordsError};

/// Control record types this broker writes and interprets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ControlType {
    Abort = 0,
    Commit = 1,
}

impl ControlType {
    pub fn from_i16(t: i16) -> Result<ControlType, RecordsError> {
        match t {
            0 => Ok(ControlType::Abort),
            1 => Ok(ControlType::Commit),
            other => Err(RecordsError::UnknownControlType(other)),
        }
    }
}

/// Key and value size of an end-transaction marker record (version 0).
const CONTROL_KEY_LEN: usize = 4;
const END_TXN_VALUE_LEN: usize = 6;

/// The raw type id of a control record key, whatever the type (KRaft
/// defines types beyond COMMIT/ABORT). Rejects short keys and negative
/// versions, as Kafka does; newer versions are read as version 0.
pub fn control_record_type(key: &[u8]) -> Result<i16, RecordsError> {
    let Some(k) = key.first_chunk::<CONTROL_KEY_LEN>() else {
        return Err(RecordsError::InvalidRecord("control record key too short"));
    };
    let version = i16::from_be_bytes([k[0], k[1]]);
    if version < 0 {
        return Err(RecordsError::InvalidRecord(
            "negative control record key version",
        ));
    }
    Ok(i16::from_be_bytes([k[2], k[3]]))
}

/// The transaction marker type of a control record key.
pub fn parse_control_record(key: &[u8]) -> Result<ControlType, RecordsError> {
    ControlType::from_i16(control_record_type(key)?)
}

/// A decoded end-transaction marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndTxnMarker {
    pub control_type: ControlType,
    pub coordinator_epoch: i32,
}

/// Decodes the end-transaction marker of a control batch's record.
pub fn parse_end_txn_marker(record: &Record) -> Result<EndTxnMarker, RecordsError> {
    let key = record
        .key
        .as_deref()
        .ok_or(RecordsError::InvalidRecord("control record without a key"))?;
    let control_type = parse_control_record(key)?;
    let value = record.value.as_deref().ok_or(RecordsError::InvalidRecord(
        "transaction marker without a value",
    ))?;
    let Some(v) = value.first_chunk::<END_TXN_VALUE_LEN>() else {
        return Err(RecordsError::InvalidRecord(
            "transaction marker value too short",
        ));
    };
    let version = i16::from_be_bytes([v[0], v[1]]);
    if version < 0 {
        return Err(RecordsError::InvalidRecord(
            "negative transaction marker version",
        ));
    }
    Ok(EndTxnMarker {
        control_type,
        coordinator_epoch: i32::from_be_bytes([v[2], v[3], v[4], v[5]]),
    })
}

/// A one-record, uncompressed, transactional control batch holding an
/// end-transaction marker. Base offset 0 (the log assigns it), base
/// sequence -1.
pub fn control_batch(
    kind: ControlType,
    producer_id: i64,
    producer_epoch: i16,
    coordinator_epoch: i32,
    timestamp: i64,
    partition_leader_epoch: i32,
) -> Bytes {
    let mut key = [0u8; CONTROL_KEY_LEN];
    key[2..4].copy_from_slice(&(kind as i16).to_be_bytes());
    let mut value = [0u8; END_TXN_VALUE_LEN];
    value[2..6].copy_from_slice(&coordinator_epoch.to_be_bytes());
    let mut b = BatchBuilder::new(Compression::None)
        .partition_leader_epoch(partition_leader_epoch)
        .producer(producer_id, producer_epoch, -1)
        .transactional(true)
        .control(true);
    // A first append of a few bytes cannot exceed any size limit.
    let _ = b.append(timestamp, Some(&key), Some(&value), &[]);
    b.build_uncompressed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{records, validate_records};

    #[test]
    fn control_batch_round_trip() {
        for kind in [ControlType::Abort, ControlType::Commit] {
            let batch = control_batch(kind, 4000, 3, 17, 1_234_567, 8);
            let h = validate_records(&batch, 1 << 20).unwrap();
            assert!(h.is_control());
            assert!(h.is_transactional());
            assert_eq!(h.compression().unwrap(), Compression::None);
            assert_eq!(h.producer_id, 4000);
            assert_eq!(h.producer_epoch, 3);
            assert_eq!(h.base_sequence, -1);
            assert_eq!(h.partition_leader_epoch, 8);
            assert_eq!(h.base_offset, 0);
            assert_eq!(h.record_count, 1);
            assert_eq!(h.first_timestamp, 1_234_567);
            assert_eq!(h.max_timestamp, 1_234_567);
            let rs: Vec<_> = records(&batch, 1 << 20)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(rs.len(), 1);
            assert_eq!(rs[0].key.as_deref(), Some(&[0, 0, 0, kind as u8][..]));
            assert_eq!(
                parse_control_record(rs[0].key.as_deref().unwrap()).unwrap(),
                kind
            );
            assert_eq!(
                parse_end_txn_marker(&rs[0]).unwrap(),
                EndTxnMarker {
                    control_type: kind,
                    coordinator_epoch: 17
                }
            );
        }
    }

    #[test]
    fn malformed_control_keys() {
        assert!(parse_control_record(&[0, 0, 0]).is_err());
        assert!(parse_control_record(&[0xff, 0xff, 0, 0]).is_err());
        assert_eq!(
            parse_control_record(&[0, 0, 0, 5]),
            Err(RecordsError::UnknownControlType(5))
        );
        assert_eq!(control_record_type(&[0, 0, 0, 5]), Ok(5));
        // A newer key version is still read.
        assert_eq!(
            parse_control_record(&[0, 1, 0, 1, 9]),
            Ok(ControlType::Commit)
        );
        let mut r = Record {
            attributes: 0,
            timestamp_delta: 0,
            offset_delta: 0,
            key: Some(Bytes::from_static(&[0, 0, 0, 1])),
            value: Some(Bytes::from_static(&[0, 0, 0, 0, 0])),
            headers: vec![],
        };
        assert!(parse_end_txn_marker(&r).is_err());
        r.value = None;
        assert!(parse_end_txn_marker(&r).is_err());
        r.value = Some(Bytes::from_static(&[0xff, 0xff, 0, 0, 0, 0]));
        assert!(parse_end_txn_marker(&r).is_err());
        r.key = None;
        assert!(parse_end_txn_marker(&r).is_err());
    }
}
