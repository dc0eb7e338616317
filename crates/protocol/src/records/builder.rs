//! Building magic v2 record batches.

use bytes::{BufMut, Bytes, BytesMut};

use super::compression::compress;
use super::{
    compute_crc, BatchHeader, Compression, Record, RecordsError, TimestampType,
    ATTR_COMPRESSION_MASK, ATTR_CONTROL, ATTR_DELETE_HORIZON, ATTR_TIMESTAMP_TYPE,
    ATTR_TRANSACTIONAL, BATCH_HEADER_LEN, LOG_OVERHEAD,
};
use crate::wire::{put_varint, put_varlong, varint_len, varlong_len};

/// Kafka's "no timestamp" value.
pub const NO_TIMESTAMP: i64 = -1;

/// Attribute bits [`BatchBuilder::attributes`] keeps as given: all but the
/// codec, the timestamp type, transactional, control and delete-horizon
/// bits, which have their own setters.
const ATTR_OTHER: i16 = !(ATTR_COMPRESSION_MASK
    | ATTR_TIMESTAMP_TYPE
    | ATTR_TRANSACTIONAL
    | ATTR_CONTROL
    | ATTR_DELETE_HORIZON);

/// Largest records section that keeps `batch_length` within an i32.
const MAX_SECTION: usize = i32::MAX as usize - (BATCH_HEADER_LEN - LOG_OVERHEAD);

/// Writes the fixed fields of `h` into the first [`BATCH_HEADER_LEN`] bytes
/// of `out` (the CRC as given; see [`fill_crc`]).
pub(crate) fn write_header(h: &BatchHeader, out: &mut [u8]) {
    out[0..8].copy_from_slice(&h.base_offset.to_be_bytes());
    out[8..12].copy_from_slice(&h.batch_length.to_be_bytes());
    out[12..16].copy_from_slice(&h.partition_leader_epoch.to_be_bytes());
    out[16] = h.magic as u8;
    out[17..21].copy_from_slice(&h.crc.to_be_bytes());
    out[21..23].copy_from_slice(&h.attributes.to_be_bytes());
    out[23..27].copy_from_slice(&h.last_offset_delta.to_be_bytes());
    out[27..35].copy_from_slice(&h.first_timestamp.to_be_bytes());
    out[35..43].copy_from_slice(&h.max_timestamp.to_be_bytes());
    out[43..51].copy_from_slice(&h.producer_id.to_be_bytes());
    out[51..53].copy_from_slice(&h.producer_epoch.to_be_bytes());
    out[53..57].copy_from_slice(&h.base_sequence.to_be_bytes());
    out[57..61].copy_from_slice(&h.record_count.to_be_bytes());
}

/// Recomputes and stores the CRC of a complete batch.
pub(crate) fn fill_crc(batch: &mut [u8]) {
    let crc = compute_crc(batch);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

fn len_i32(len: usize) -> Result<i32, RecordsError> {
    i32::try_from(len).map_err(|_| RecordsError::TooLarge(i32::MAX as usize))
}

fn nullable_len(b: Option<&[u8]>) -> Result<usize, RecordsError> {
    Ok(match b {
        None => varint_len(-1),
        Some(b) => varint_len(len_i32(b.len())?) + b.len(),
    })
}

fn put_nullable(buf: &mut BytesMut, b: Option<&[u8]>) {
    match b {
        None => put_varint(buf, -1),
        Some(b) => {
            put_varint(buf, b.len() as i32);
            buf.put_slice(b);
        }
    }
}

/// Builds one v2 batch. Defaults follow Kafka: base offset 0, no producer
/// id (-1/-1/-1), partition leader epoch -1, CreateTime, not transactional.
///
/// Producers append records with consecutive offset deltas
/// ([`append`](Self::append)). The log cleaner rewrites a batch it
/// compacted with [`append_record`](Self::append_record) (each record keeps
/// its offset delta, so deltas may have gaps) and keeps the original
/// header with [`attributes`](Self::attributes),
/// [`last_offset_delta`](Self::last_offset_delta),
/// [`base_timestamp`](Self::base_timestamp) /
/// [`delete_horizon`](Self::delete_horizon) and
/// [`max_timestamp`](Self::max_timestamp).
///
/// ```
/// # use fjord_protocol::records::*;
/// let mut b = BatchBuilder::new(Compression::Lz4).producer(7, 0, 0);
/// b.append(1_700_000_000_000, Some(b"key"), Some(b"value"), &[(b"h", Some(b"v"))]).unwrap();
/// let batch = b.build().unwrap();
/// assert_eq!(validate(&batch).unwrap().record_count, 1);
/// ```
#[derive(Clone, Debug)]
pub struct BatchBuilder {
    base_offset: i64,
    partition_leader_epoch: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    control: bool,
    compression: Compression,
    timestamp_type: TimestampType,
    /// Attribute bits without a setter of their own, kept as given so a
    /// rewritten batch keeps bits a newer Kafka may define.
    other_attributes: i16,
    /// KIP-534: the first timestamp holds the delete horizon.
    delete_horizon: bool,
    /// The max timestamp as given (LogAppendTime, or a rewritten batch's);
    /// `None`: computed from the records.
    max_timestamp_override: Option<i64>,
    /// The last offset delta as given (a compacted batch keeps the one of
    /// its removed last record); `None`: the last record's.
    last_offset_delta_override: Option<i32>,
    /// Header placeholder followed by the uncompressed records.
    buf: BytesMut,
    count: i32,
    /// Offset delta of the last appended record (-1: none yet).
    last_delta: i32,
    /// The base timestamp record deltas are relative to: the first
    /// record's timestamp unless set before the first append.
    first_timestamp: Option<i64>,
    max_timestamp: i64,
}

impl Default for BatchBuilder {
    fn default() -> Self {
        BatchBuilder::new(Compression::None)
    }
}

impl BatchBuilder {
    pub fn new(compression: Compression) -> BatchBuilder {
        let mut buf = BytesMut::with_capacity(512);
        buf.put_bytes(0, BATCH_HEADER_LEN);
        BatchBuilder {
            base_offset: 0,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
            control: false,
            compression,
            timestamp_type: TimestampType::CreateTime,
            other_attributes: 0,
            delete_horizon: false,
            max_timestamp_override: None,
            last_offset_delta_override: None,
            buf,
            count: 0,
            last_delta: -1,
            first_timestamp: None,
            max_timestamp: NO_TIMESTAMP,
        }
    }

    pub fn base_offset(mut self, base_offset: i64) -> Self {
        self.base_offset = base_offset;
        self
    }

    pub fn partition_leader_epoch(mut self, epoch: i32) -> Self {
        self.partition_leader_epoch = epoch;
        self
    }

    /// Producer id, epoch and the sequence number of the first record.
    pub fn producer(mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    pub fn transactional(mut self, transactional: bool) -> Self {
        self.transactional = transactional;
        self
    }

    pub fn control(mut self, control: bool) -> Self {
        self.control = control;
        self
    }

    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Sets the timestamp type bit. With `LogAppendTime` and no
    /// [`log_append_time`](Self::log_append_time), the max timestamp is
    /// still computed from the records.
    pub fn timestamp_type(mut self, timestamp_type: TimestampType) -> Self {
        self.timestamp_type = timestamp_type;
        self
    }

    /// LogAppendTime with `timestamp` as the batch's max timestamp.
    pub fn log_append_time(mut self, timestamp: i64) -> Self {
        self.timestamp_type = TimestampType::LogAppendTime;
        self.max_timestamp_override = Some(timestamp);
        self
    }

    /// Takes the attribute bits of an existing batch: timestamp type,
    /// transactional, control, and the bits Kafka does not define (7-15),
    /// kept as they are. Not the codec (see [`compression`](Self::compression))
    /// nor the delete horizon flag (see [`delete_horizon`](Self::delete_horizon)).
    pub fn attributes(mut self, attributes: i16) -> Self {
        self.timestamp_type = if attributes & ATTR_TIMESTAMP_TYPE != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        };
        self.transactional = attributes & ATTR_TRANSACTIONAL != 0;
        self.control = attributes & ATTR_CONTROL != 0;
        self.other_attributes = attributes & ATTR_OTHER;
        self
    }

    /// The batch's first (base) timestamp; record timestamps are stored as
    /// deltas from it. Without it, the first record's timestamp (or -1 for
    /// a batch without records). Set it before the first append: records
    /// already appended keep deltas from the old base.
    pub fn base_timestamp(mut self, timestamp: i64) -> Self {
        debug_assert!(self.count == 0, "base timestamp set after an append");
        self.first_timestamp = Some(timestamp);
        self
    }

    /// KIP-534 delete horizon: sets attribute bit 6 and stores `horizon` as
    /// the base timestamp (see [`base_timestamp`](Self::base_timestamp);
    /// consumers still read each record's own timestamp). `None` leaves the
    /// flag clear.
    pub fn delete_horizon(mut self, horizon: Option<i64>) -> Self {
        self.delete_horizon = horizon.is_some();
        match horizon {
            Some(h) => self.base_timestamp(h),
            None => self,
        }
    }

    /// The batch's max timestamp as given, instead of the largest record
    /// timestamp (see also [`log_append_time`](Self::log_append_time)).
    pub fn max_timestamp(mut self, timestamp: i64) -> Self {
        self.max_timestamp_override = Some(timestamp);
        self
    }

    /// The batch's last offset delta as given, instead of the last record's
    /// (a compacted batch whose last record was removed keeps its range, so
    /// the producer's last sequence number stays the same). [`build`]
    /// fails when a record's offset delta is above it.
    ///
    /// [`build`]: Self::build
    pub fn last_offset_delta(mut self, last_offset_delta: i32) -> Self {
        self.last_offset_delta_override = Some(last_offset_delta);
        self
    }

    /// Number of records appended so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size the batch would have uncompressed.
    pub fn uncompressed_size(&self) -> usize {
        self.buf.len()
    }

    /// Appends a record with the next offset delta (one above the previous
    /// record's) and returns that delta. Header keys are UTF-8 strings in
    /// Kafka; pass `s.as_bytes()`.
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&[u8], Option<&[u8]>)],
    ) -> Result<i32, RecordsError> {
        let offset_delta = self
            .last_delta
            .checked_add(1)
            .ok_or(RecordsError::TooLarge(i32::MAX as usize))?;
        self.push(
            0,
            offset_delta,
            timestamp,
            key,
            value,
            headers.iter().map(|(k, v)| (*k, *v)),
        )?;
        Ok(offset_delta)
    }

    /// Appends `record` as it was in another batch: its attributes, offset
    /// delta (above the previous record's; gaps are allowed), key, value
    /// and headers, with `timestamp` (absolute) as its timestamp.
    pub fn append_record(&mut self, record: &Record, timestamp: i64) -> Result<(), RecordsError> {
        if record.offset_delta <= self.last_delta {
            return Err(RecordsError::InvalidRecord(
                "offset deltas not strictly increasing",
            ));
        }
        self.push(
            record.attributes,
            record.offset_delta,
            timestamp,
            record.key.as_deref(),
            record.value.as_deref(),
            record
                .headers
                .iter()
                .map(|h| (&h.key[..], h.value.as_deref())),
        )
    }

    /// Writes one record; `offset_delta` is above the previous one.
    fn push<'h>(
        &mut self,
        attributes: i8,
        offset_delta: i32,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: impl ExactSizeIterator<Item = (&'h [u8], Option<&'h [u8]>)> + Clone,
    ) -> Result<(), RecordsError> {
        let base = self.first_timestamp.unwrap_or(timestamp);
        let timestamp_delta = timestamp.wrapping_sub(base);
        let mut body = 1 + varlong_len(timestamp_delta) + varint_len(offset_delta);
        body += nullable_len(key)? + nullable_len(value)?;
        let header_count = len_i32(headers.len())?;
        body += varint_len(header_count);
        for (k, v) in headers.clone() {
            body += nullable_len(Some(k))? + nullable_len(v)?;
        }
        let body_i32 = len_i32(body)?;
        let total = varint_len(body_i32) + body;
        if self.buf.len() - BATCH_HEADER_LEN + total > MAX_SECTION {
            return Err(RecordsError::TooLarge(MAX_SECTION));
        }
        self.buf.reserve(total);
        put_varint(&mut self.buf, body_i32);
        self.buf.put_i8(attributes);
        put_varlong(&mut self.buf, timestamp_delta);
        put_varint(&mut self.buf, offset_delta);
        put_nullable(&mut self.buf, key);
        put_nullable(&mut self.buf, value);
        put_varint(&mut self.buf, header_count);
        for (k, v) in headers {
            put_nullable(&mut self.buf, Some(k));
            put_nullable(&mut self.buf, v);
        }
        self.first_timestamp = Some(base);
        self.max_timestamp = if self.count == 0 {
            timestamp
        } else {
            self.max_timestamp.max(timestamp)
        };
        self.count += 1;
        self.last_delta = offset_delta;
        Ok(())
    }

    /// The last offset delta the header gets, checked against the records.
    fn header_last_offset_delta(&self) -> Result<i32, RecordsError> {
        match self.last_offset_delta_override {
            None => Ok(self.last_delta.max(0)),
            Some(d) if d < self.last_delta || d < 0 => Err(RecordsError::InvalidRecord(
                "offset delta beyond the last offset delta",
            )),
            Some(d) => Ok(d),
        }
    }

    fn header(
        &self,
        batch_length: i32,
        compression: Compression,
        last_offset_delta: i32,
    ) -> BatchHeader {
        let mut attributes = compression as i16 | self.other_attributes;
        if self.timestamp_type == TimestampType::LogAppendTime {
            attributes |= ATTR_TIMESTAMP_TYPE;
        }
        if self.transactional {
            attributes |= ATTR_TRANSACTIONAL;
        }
        if self.control {
            attributes |= ATTR_CONTROL;
        }
        if self.delete_horizon {
            attributes |= ATTR_DELETE_HORIZON;
        }
        BatchHeader {
            base_offset: self.base_offset,
            batch_length,
            partition_leader_epoch: self.partition_leader_epoch,
            magic: 2,
            crc: 0,
            attributes,
            last_offset_delta,
            first_timestamp: self.first_timestamp.unwrap_or(NO_TIMESTAMP),
            max_timestamp: self.max_timestamp_override.unwrap_or(self.max_timestamp),
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            base_sequence: self.base_sequence,
            record_count: self.count,
        }
    }

    /// Finishes an uncompressed batch in place (cannot fail: `append` keeps
    /// the size within range and the producer's offset deltas need no
    /// check).
    pub(crate) fn build_uncompressed(self) -> Bytes {
        let last_offset_delta = self.last_delta.max(0);
        self.finish_uncompressed(last_offset_delta)
    }

    fn finish_uncompressed(mut self, last_offset_delta: i32) -> Bytes {
        let batch_length = (self.buf.len() - LOG_OVERHEAD) as i32;
        let h = self.header(batch_length, Compression::None, last_offset_delta);
        write_header(&h, &mut self.buf);
        fill_crc(&mut self.buf);
        self.buf.freeze()
    }

    /// Finishes the batch: offsets, timestamps and count from the appended
    /// records, the records section compressed with the chosen codec, CRC.
    /// A batch with no records gets count 0 and timestamps -1 (unless set)
    /// and, with a codec, a compressed empty records section.
    pub fn build(self) -> Result<Bytes, RecordsError> {
        let codec = self.compression;
        let last_offset_delta = self.header_last_offset_delta()?;
        if codec == Compression::None {
            return Ok(self.finish_uncompressed(last_offset_delta));
        }
        let compressed = compress(codec, &self.buf[BATCH_HEADER_LEN..])?;
        if compressed.len() > MAX_SECTION {
            return Err(RecordsError::TooLarge(MAX_SECTION));
        }
        let mut out = BytesMut::with_capacity(BATCH_HEADER_LEN + compressed.len());
        out.put_bytes(0, BATCH_HEADER_LEN);
        out.put_slice(&compressed);
        let h = self.header((out.len() - LOG_OVERHEAD) as i32, codec, last_offset_delta);
        write_header(&h, &mut out);
        fill_crc(&mut out);
        Ok(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{records, validate, validate_records};

    #[test]
    fn header_fields() {
        let mut b = BatchBuilder::new(Compression::Zstd)
            .base_offset(77)
            .partition_leader_epoch(9)
            .producer(1234, 5, 100)
            .transactional(true);
        b.append(50, None, Some(b"a"), &[]).unwrap();
        b.append(40, None, Some(b"b"), &[]).unwrap();
        assert_eq!(b.len(), 2);
        let batch = b.build().unwrap();
        let h = validate(&batch).unwrap();
        assert_eq!(h.total_size(), batch.len());
        assert_eq!(h.base_offset, 77);
        assert_eq!(h.partition_leader_epoch, 9);
        assert_eq!(h.producer_id, 1234);
        assert_eq!(h.producer_epoch, 5);
        assert_eq!(h.base_sequence, 100);
        assert_eq!(h.last_sequence(), 101);
        assert!(h.is_transactional());
        assert!(!h.is_control());
        assert_eq!(
            h.attributes & ATTR_COMPRESSION_MASK,
            Compression::Zstd as i16
        );
        assert_eq!(h.first_timestamp, 50);
        assert_eq!(h.max_timestamp, 50);
        assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
        let rs: Vec<_> = records(&batch, 1 << 20)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rs[1].timestamp(&h), 40);
        assert_eq!(rs[1].timestamp_delta, -10);
    }

    #[test]
    fn log_append_time_and_empty() {
        let mut b = BatchBuilder::new(Compression::None).log_append_time(500);
        b.append(1, None, None, &[]).unwrap();
        let h = validate(&b.build().unwrap()).unwrap();
        assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(h.max_timestamp, 500);
        assert_eq!(h.first_timestamp, 1);

        let empty = BatchBuilder::new(Compression::Gzip).build().unwrap();
        let h = validate_records(&empty, 1 << 20).unwrap();
        assert_eq!(h.record_count, 0);
        assert_eq!(h.last_offset_delta, 0);
        assert_eq!(h.first_timestamp, NO_TIMESTAMP);
        assert_eq!(h.max_timestamp, NO_TIMESTAMP);
    }

    #[test]
    fn rewrite_keeps_offsets_producer_fields_and_header() {
        // A batch as a producer wrote it: offsets 10..=14, LogAppendTime,
        // transactional, an undefined attribute bit set.
        let mut orig = BatchBuilder::new(Compression::Snappy)
            .base_offset(10)
            .partition_leader_epoch(4)
            .producer(99, 2, 40)
            .transactional(true)
            .log_append_time(7_000);
        for i in 0..5i64 {
            let v = format!("v{i}");
            orig.append(100 + i, Some(b"k"), Some(v.as_bytes()), &[(b"h", None)])
                .unwrap();
        }
        let orig = orig.build().unwrap();
        let oh = validate(&orig).unwrap();
        let attrs = oh.attributes | 0x0100;
        let kept: Vec<_> = records(&orig, 1 << 20)
            .unwrap()
            .map(Result::unwrap)
            .filter(|r| r.offset_delta % 2 == 1)
            .collect();
        let mut b = BatchBuilder::new(Compression::Lz4)
            .base_offset(oh.base_offset)
            .partition_leader_epoch(oh.partition_leader_epoch)
            .producer(oh.producer_id, oh.producer_epoch, oh.base_sequence)
            .attributes(attrs)
            .last_offset_delta(oh.last_offset_delta)
            .delete_horizon(Some(50_000))
            .max_timestamp(oh.max_timestamp);
        for r in &kept {
            b.append_record(r, 100 + i64::from(r.offset_delta)).unwrap();
        }
        let batch = b.build().unwrap();
        let h = validate_records(&batch, 1 << 20).unwrap();
        assert_eq!(h.base_offset, 10);
        assert_eq!(h.partition_leader_epoch, 4);
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (99, 2, 40)
        );
        assert_eq!(h.last_offset_delta, 4);
        assert_eq!(h.last_sequence(), 44);
        assert_eq!(h.record_count, 2);
        assert_eq!(h.first_timestamp, 50_000);
        assert_eq!(h.max_timestamp, 7_000);
        assert_eq!(
            h.attributes,
            (attrs & !ATTR_COMPRESSION_MASK) | ATTR_DELETE_HORIZON | Compression::Lz4 as i16
        );
        let rs: Vec<_> = records(&batch, 1 << 20)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            rs.iter().map(|r| r.offset_delta).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_eq!(rs[1].value.as_deref(), Some(&b"v3"[..]));
        assert_eq!(rs[1].headers, kept[1].headers);
        assert_eq!(h.first_timestamp + rs[1].timestamp_delta, 103);
    }

    #[test]
    fn empty_batch_keeps_its_range_and_timestamps() {
        let b = BatchBuilder::new(Compression::None)
            .base_offset(5)
            .producer(3, 0, 7)
            .last_offset_delta(2)
            .base_timestamp(900)
            .max_timestamp(900);
        let h = validate_records(&b.build().unwrap(), 1 << 20).unwrap();
        assert_eq!((h.record_count, h.last_offset_delta), (0, 2));
        assert_eq!((h.first_timestamp, h.max_timestamp), (900, 900));
        assert_eq!(h.last_sequence(), 9);
    }

    #[test]
    fn rewrite_rejects_bad_offset_deltas() {
        let rec = |d: i32| Record {
            attributes: 0,
            timestamp_delta: 0,
            offset_delta: d,
            key: None,
            value: None,
            headers: Vec::new(),
        };
        let mut b = BatchBuilder::new(Compression::None);
        b.append_record(&rec(3), 1).unwrap();
        assert!(b.append_record(&rec(3), 1).is_err());
        assert!(b.append_record(&rec(-1), 1).is_err());
        // Sequential appends continue after the last delta.
        assert_eq!(b.append(1, None, None, &[]).unwrap(), 4);
        assert!(b.clone().last_offset_delta(3).build().is_err());
        let h = validate_records(&b.last_offset_delta(6).build().unwrap(), 1 << 20).unwrap();
        assert_eq!((h.record_count, h.last_offset_delta), (2, 6));
    }

    #[test]
    fn extreme_timestamps_round_trip() {
        let mut b = BatchBuilder::new(Compression::None);
        b.append(i64::MAX, None, None, &[]).unwrap();
        b.append(i64::MIN, None, None, &[]).unwrap();
        let batch = b.build().unwrap();
        let h = validate(&batch).unwrap();
        let ts: Vec<_> = records(&batch, 1 << 20)
            .unwrap()
            .map(|r| r.unwrap().timestamp(&h))
            .collect();
        assert_eq!(ts, vec![i64::MAX, i64::MIN]);
    }

    #[test]
    fn matches_kafka_protocol_crate() {
        // Cross-check our encoding against an independent implementation.
        use kafka_protocol::records::{RecordBatchDecoder, TimestampType as KTs};
        let mut b = BatchBuilder::new(Compression::None)
            .base_offset(3)
            .producer(8, 1, 2);
        b.append(
            1000,
            Some(b"k"),
            Some(b"v"),
            &[(b"hk", Some(b"hv")), (b"n", None)],
        )
        .unwrap();
        b.append(1003, None, Some(b"w"), &[]).unwrap();
        let batch = b.build().unwrap();
        let mut buf = batch.clone();
        let set = RecordBatchDecoder::decode(&mut buf).unwrap();
        assert_eq!(set.records.len(), 2);
        let r0 = &set.records[0];
        assert_eq!(r0.offset, 3);
        assert_eq!(r0.timestamp, 1000);
        assert_eq!(r0.timestamp_type, KTs::Creation);
        assert_eq!(r0.producer_id, 8);
        assert_eq!(r0.sequence, 2);
        assert_eq!(r0.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(r0.headers.len(), 2);
        let r1 = &set.records[1];
        assert_eq!(r1.offset, 4);
        assert_eq!(r1.timestamp, 1003);
        assert_eq!(r1.key, None);
        assert_eq!(r1.sequence, 3);
    }
}
