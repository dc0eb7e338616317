//! Zero-copy iteration over the records of a v2 batch.
//!
//! Record layout: varint length (of what follows), i8 attributes, varlong
//! timestampDelta, varint offsetDelta, varint keyLength (-1 = null) + key,
//! varint valueLength (-1 = null) + value, varint header count, then per
//! header varint keyLength + key and varint valueLength (-1 = null) + value.
//!
//! For uncompressed batches keys, values and header fields are [`Bytes`]
//! slices of the input; compressed batches are decompressed once (bounded)
//! and the records slice that buffer.

use bytes::{Buf, Bytes};

use super::compression::decompress;
use super::{validate, BatchHeader, Compression, RecordsError, TimestampType, BATCH_HEADER_LEN};
use crate::wire::{get_varint, get_varlong};
use crate::DecodeError;

/// One record header.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Kafka defines header keys as UTF-8 strings; kept as bytes so a batch
    /// round-trips exactly. See [`Header::key_str`].
    pub key: Bytes,
    pub value: Option<Bytes>,
}

impl Header {
    pub fn key_str(&self) -> Result<&str, RecordsError> {
        std::str::from_utf8(&self.key)
            .map_err(|_| RecordsError::InvalidRecord("header key is not valid utf-8"))
    }
}

/// One record of a v2 batch.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Record {
    pub attributes: i8,
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
}

impl Record {
    /// The record's absolute offset given its batch's base offset.
    pub fn offset(&self, base_offset: i64) -> i64 {
        record_offset(base_offset, self.offset_delta)
    }

    /// The record's timestamp as a consumer sees it: the batch's max
    /// timestamp for LogAppendTime batches, else first timestamp + delta.
    pub fn timestamp(&self, batch: &BatchHeader) -> i64 {
        record_timestamp(batch, self.timestamp_delta)
    }
}

/// A record's absolute offset from its batch's base offset and its delta.
pub(super) fn record_offset(base_offset: i64, offset_delta: i32) -> i64 {
    base_offset.wrapping_add(i64::from(offset_delta))
}

/// A record's timestamp as a consumer sees it (see [`Record::timestamp`]).
pub(super) fn record_timestamp(batch: &BatchHeader, timestamp_delta: i64) -> i64 {
    match batch.timestamp_type() {
        TimestampType::LogAppendTime => batch.max_timestamp,
        TimestampType::CreateTime => batch.first_timestamp.wrapping_add(timestamp_delta),
    }
}

fn map_decode(e: DecodeError) -> RecordsError {
    match e {
        DecodeError::VarintOverflow => RecordsError::InvalidRecord("varint overflow"),
        _ => RecordsError::InvalidRecord("record shorter than its fields"),
    }
}

fn varint(buf: &mut Bytes) -> Result<i32, RecordsError> {
    get_varint(buf).map_err(map_decode)
}

fn take(buf: &mut Bytes, len: usize) -> Result<Bytes, RecordsError> {
    if buf.len() < len {
        return Err(RecordsError::InvalidRecord(
            "field length exceeds the record",
        ));
    }
    Ok(buf.split_to(len))
}

fn nullable_bytes(buf: &mut Bytes) -> Result<Option<Bytes>, RecordsError> {
    match varint(buf)? {
        -1 => Ok(None),
        n if n < 0 => Err(RecordsError::InvalidRecord("negative field length")),
        n => take(buf, n as usize).map(Some),
    }
}

/// Parses one record from the front of `buf`, advancing it.
fn parse_record(buf: &mut Bytes) -> Result<Record, RecordsError> {
    let len = varint(buf)?;
    if len < 0 {
        return Err(RecordsError::InvalidRecord("negative record length"));
    }
    let len = len as usize;
    if buf.len() < len {
        return Err(RecordsError::InvalidRecord(
            "record length exceeds the batch",
        ));
    }
    // Every read below is confined to the declared length.
    let mut body = buf.split_to(len);
    if body.is_empty() {
        return Err(RecordsError::InvalidRecord(
            "record shorter than its fields",
        ));
    }
    let attributes = body.get_i8();
    let timestamp_delta = get_varlong(&mut body).map_err(map_decode)?;
    let offset_delta = varint(&mut body)?;
    let key = nullable_bytes(&mut body)?;
    let value = nullable_bytes(&mut body)?;
    let count = varint(&mut body)?;
    if count < 0 {
        return Err(RecordsError::InvalidRecord("negative header count"));
    }
    // Each header takes at least two bytes (two one-byte varints).
    let count = count as usize;
    if count > body.len() / 2 {
        return Err(RecordsError::InvalidRecord(
            "header count exceeds the record",
        ));
    }
    let mut headers = Vec::with_capacity(count);
    for _ in 0..count {
        let klen = varint(&mut body)?;
        if klen < 0 {
            return Err(RecordsError::InvalidRecord("negative header key length"));
        }
        let key = take(&mut body, klen as usize)?;
        let value = nullable_bytes(&mut body)?;
        headers.push(Header { key, value });
    }
    if !body.is_empty() {
        return Err(RecordsError::InvalidRecord(
            "record length does not match its content",
        ));
    }
    Ok(Record {
        attributes,
        timestamp_delta,
        offset_delta,
        key,
        value,
        headers,
    })
}

/// Iterator over the records of one batch. Yields an error (then stops) on
/// the first malformed record, on fewer records than the header's count,
/// and on bytes left over after the last counted record.
#[derive(Clone, Debug)]
pub struct RecordIter {
    header: BatchHeader,
    buf: Bytes,
    remaining: usize,
    done: bool,
}

impl RecordIter {
    /// The batch header the records belong to.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// Records still to come according to the header's count.
    pub fn remaining(&self) -> usize {
        self.remaining
    }
}

impl Iterator for RecordIter {
    type Item = Result<Record, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.remaining == 0 {
            self.done = true;
            if !self.buf.is_empty() {
                return Some(Err(RecordsError::InvalidRecord(
                    "bytes left after the last record",
                )));
            }
            return None;
        }
        if self.buf.is_empty() {
            self.done = true;
            return Some(Err(RecordsError::InvalidRecord(
                "fewer records than the batch's record count",
            )));
        }
        match parse_record(&mut self.buf) {
            Ok(r) => {
                self.remaining -= 1;
                Some(Ok(r))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            (0, Some(self.remaining + 1))
        }
    }
}

/// The (decompressed) records section of the batch at the start of `batch`.
/// Does not check the CRC; see [`validate`] / [`validate_records`].
fn records_section(
    batch: &Bytes,
    decompress_limit: usize,
) -> Result<(BatchHeader, Bytes), RecordsError> {
    let header = BatchHeader::parse(batch)?;
    let end = header.total_size();
    if batch.len() < end {
        return Err(RecordsError::Truncated);
    }
    if header.record_count < 0 {
        return Err(RecordsError::InvalidRecord("negative record count"));
    }
    let section = batch.slice(BATCH_HEADER_LEN..end);
    let buf = match header.compression()? {
        Compression::None => section,
        codec => Bytes::from(decompress(codec, &section, decompress_limit)?),
    };
    Ok((header, buf))
}

/// Iterates the records of the batch at the start of `batch` (bytes after
/// the batch are ignored). Uncompressed records are slices of `batch`;
/// compressed ones slice one buffer decompressed with at most
/// `decompress_limit` bytes of output. Does not check the CRC.
pub fn records(batch: &Bytes, decompress_limit: usize) -> Result<RecordIter, RecordsError> {
    let (header, buf) = records_section(batch, decompress_limit)?;
    Ok(RecordIter {
        header,
        buf,
        remaining: header.record_count as usize,
        done: false,
    })
}

/// Fully checks one batch: the CRC, that `batch` is exactly one batch, that
/// every record parses, that the number of records matches the header's
/// count, and that offset deltas are strictly increasing and no larger
/// than the header's last offset delta (compaction may remove records, so
/// they need not be contiguous). Control batches must have a control key on
/// every record.
///
/// Produce-time requirements that only hold for fresh batches (`count ==
/// last_offset_delta + 1`, count > 0) are left to the caller.
pub fn validate_records(
    batch: &Bytes,
    decompress_limit: usize,
) -> Result<BatchHeader, RecordsError> {
    validate_scan(batch, decompress_limit, |_, _| {})
}

/// [`validate_records`], also showing every record to `each` during the
/// same pass (the produce path's per-topic checks: keys on compacted
/// topics, timestamp bounds), so a batch is parsed and decompressed once.
/// `each` sees the records of a batch that may still turn out invalid
/// further on: act on what it found only when this returns `Ok`. A `dyn`
/// callback keeps the scan compiled (and its reads inlined) in this crate;
/// [`validate_records`] has no callback at all, for the common case.
pub fn validate_records_with(
    batch: &Bytes,
    decompress_limit: usize,
    each: &mut dyn FnMut(&BatchHeader, &super::RecordView<'_>),
) -> Result<BatchHeader, RecordsError> {
    validate_scan(batch, decompress_limit, each)
}

fn validate_scan(
    batch: &Bytes,
    decompress_limit: usize,
    mut each: impl FnMut(&BatchHeader, &super::RecordView<'_>),
) -> Result<BatchHeader, RecordsError> {
    let header = validate(batch)?;
    if batch.len() != header.total_size() {
        return Err(RecordsError::InvalidLength(header.batch_length));
    }
    if header.last_offset_delta < 0 {
        return Err(RecordsError::InvalidRecord("negative last offset delta"));
    }
    let mut previous: Option<i32> = None;
    let mut found: i64 = 0;
    super::scan::scan_records(batch, decompress_limit, |_, record| {
        found += 1;
        if record.offset_delta < 0 || previous.is_some_and(|p| record.offset_delta <= p) {
            return Err(RecordsError::InvalidRecord(
                "offset deltas not strictly increasing",
            ));
        }
        if record.offset_delta > header.last_offset_delta {
            return Err(RecordsError::InvalidRecord(
                "offset delta beyond the last offset delta",
            ));
        }
        previous = Some(record.offset_delta);
        if header.is_control() {
            super::control::control_record_type(record.key.unwrap_or(&[]))?;
        }
        each(&header, &record);
        Ok(())
    })?;
    if found != i64::from(header.record_count) {
        return Err(RecordsError::InvalidRecord(
            "record count does not match the header",
        ));
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{BatchBuilder, ATTR_COMPRESSION_MASK, CRC_START};
    use bytes::{BufMut, BytesMut};
    use proptest::prelude::*;

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    const LIMIT: usize = 64 << 20;

    fn collect(batch: &Bytes) -> Vec<Record> {
        records(batch, LIMIT)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    }

    #[test]
    fn builder_round_trip_every_codec() {
        let big = vec![0xabu8; 1 << 20];
        for codec in ALL {
            let mut b = BatchBuilder::new(codec).base_offset(1000);
            b.append(10, None, Some(b"v0"), &[]).unwrap();
            b.append(12, Some(b"k1"), Some(b""), &[]).unwrap();
            b.append(
                11,
                Some(b""),
                None,
                &[(b"h1", Some(b"x")), (b"h2", None), (b"", Some(b""))],
            )
            .unwrap();
            b.append(15, Some(b"big"), Some(&big), &[]).unwrap();
            let batch = b.build().unwrap();
            let h = validate_records(&batch, LIMIT).unwrap();
            assert_eq!(h.compression().unwrap(), codec);
            assert_eq!(h.base_offset, 1000);
            assert_eq!(h.record_count, 4);
            assert_eq!(h.last_offset_delta, 3);
            assert_eq!(h.first_timestamp, 10);
            assert_eq!(h.max_timestamp, 15);
            assert_eq!(h.producer_id, -1);
            assert_eq!(h.producer_epoch, -1);
            assert_eq!(h.base_sequence, -1);
            let rs = collect(&batch);
            assert_eq!(rs.len(), 4);
            assert_eq!(rs[0].key, None);
            assert_eq!(rs[0].value.as_deref(), Some(&b"v0"[..]));
            assert_eq!(rs[0].timestamp(&h), 10);
            assert_eq!(rs[1].key.as_deref(), Some(&b"k1"[..]));
            assert_eq!(rs[1].value.as_deref(), Some(&b""[..]));
            assert_eq!(rs[2].key.as_deref(), Some(&b""[..]));
            assert_eq!(rs[2].value, None);
            assert_eq!(rs[2].timestamp(&h), 11);
            assert_eq!(rs[2].offset(h.base_offset), 1002);
            assert_eq!(
                rs[2].headers,
                vec![
                    Header {
                        key: Bytes::from_static(b"h1"),
                        value: Some(Bytes::from_static(b"x"))
                    },
                    Header {
                        key: Bytes::from_static(b"h2"),
                        value: None
                    },
                    Header {
                        key: Bytes::new(),
                        value: Some(Bytes::new())
                    },
                ]
            );
            assert_eq!(rs[2].headers[0].key_str().unwrap(), "h1");
            assert_eq!(rs[3].value.as_deref(), Some(&big[..]));
            for (i, r) in rs.iter().enumerate() {
                assert_eq!(r.offset_delta, i as i32);
                assert_eq!(r.attributes, 0);
            }
            // Bounded decompression of the records section.
            if codec != Compression::None {
                assert_eq!(
                    records(&batch, 1 << 20).unwrap_err(),
                    RecordsError::TooLarge(1 << 20)
                );
            }
        }
    }

    #[test]
    fn uncompressed_is_zero_copy() {
        let mut b = BatchBuilder::new(Compression::None);
        b.append(0, Some(b"key"), Some(b"value"), &[(b"h", Some(b"hv"))])
            .unwrap();
        let batch = b.build().unwrap();
        let r = collect(&batch).pop().unwrap();
        let range = batch.as_ptr() as usize..batch.as_ptr() as usize + batch.len();
        for part in [r.key.unwrap(), r.value.unwrap(), r.headers[0].key.clone()] {
            assert!(range.contains(&(part.as_ptr() as usize)));
        }
    }

    #[test]
    fn many_records_every_codec() {
        for codec in ALL {
            let mut b = BatchBuilder::new(codec);
            for i in 0..10_000u32 {
                let k = i.to_be_bytes();
                let v = format!("value-{i}");
                b.append(
                    1_700_000_000_000 + i64::from(i % 97),
                    Some(&k),
                    Some(v.as_bytes()),
                    &[],
                )
                .unwrap();
            }
            let batch = b.build().unwrap();
            let h = validate_records(&batch, LIMIT).unwrap();
            assert_eq!(h.record_count, 10_000);
            assert_eq!(h.max_timestamp, 1_700_000_000_000 + 96);
            for (i, r) in records(&batch, LIMIT).unwrap().enumerate() {
                let r = r.unwrap();
                assert_eq!(r.key.as_deref(), Some(&(i as u32).to_be_bytes()[..]));
                assert_eq!(r.value.as_deref(), Some(format!("value-{i}").as_bytes()));
            }
        }
    }

    #[test]
    fn crc_after_log_append_time() {
        for codec in ALL {
            let mut b = BatchBuilder::new(codec);
            b.append(5, None, Some(b"a"), &[]).unwrap();
            b.append(7, None, Some(b"b"), &[]).unwrap();
            let mut batch = BytesMut::from(&b.build().unwrap()[..]);
            crate::records::set_log_append_time(&mut batch, 99).unwrap();
            crate::records::set_base_offset(&mut batch, 42);
            let batch = batch.freeze();
            let h = validate_records(&batch, LIMIT).unwrap();
            assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
            for r in collect(&batch) {
                assert_eq!(r.timestamp(&h), 99);
            }
        }
    }

    /// Builds a one-record uncompressed batch around a hand-written record
    /// section, with a correct CRC.
    fn raw_batch(count: i32, section: &[u8]) -> Bytes {
        let mut b = BatchBuilder::new(Compression::None);
        b.append(0, None, None, &[]).unwrap();
        let template = b.build().unwrap();
        let mut out = BytesMut::new();
        out.put_slice(&template[..BATCH_HEADER_LEN]);
        out.put_slice(section);
        let len = (out.len() - 12) as i32;
        out[8..12].copy_from_slice(&len.to_be_bytes());
        out[57..61].copy_from_slice(&count.to_be_bytes());
        let crc = crc32c::crc32c(&out[CRC_START..]);
        out[17..21].copy_from_slice(&crc.to_be_bytes());
        out.freeze()
    }

    fn first_error(batch: &Bytes) -> RecordsError {
        records(batch, LIMIT)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .unwrap_err()
    }

    #[test]
    fn malformed_records() {
        // A valid null/null record: len 6, attrs, ts 0, off 0, key -1, value -1, 0 headers.
        let good = [12u8, 0, 0, 0, 1, 1, 0];
        assert_eq!(collect(&raw_batch(1, &good)).len(), 1);
        // Declared length longer than the record's content.
        assert_eq!(
            first_error(&raw_batch(1, &[14, 0, 0, 0, 1, 1, 0, 0])),
            RecordsError::InvalidRecord("record length does not match its content")
        );
        // Declared length shorter than the record's content.
        assert_eq!(
            first_error(&raw_batch(1, &[10, 0, 0, 0, 1, 1, 0])),
            RecordsError::InvalidRecord("record shorter than its fields")
        );
        // Length beyond the batch.
        assert_eq!(
            first_error(&raw_batch(1, &[100, 0, 0, 0, 1, 1, 0])),
            RecordsError::InvalidRecord("record length exceeds the batch")
        );
        // Negative record length.
        assert_eq!(
            first_error(&raw_batch(1, &[1, 0, 0, 0, 1, 1, 0])),
            RecordsError::InvalidRecord("negative record length")
        );
        // Key length beyond the record.
        assert_eq!(
            first_error(&raw_batch(1, &[12, 0, 0, 0, 20, 1, 0])),
            RecordsError::InvalidRecord("field length exceeds the record")
        );
        // Key length -2.
        assert_eq!(
            first_error(&raw_batch(1, &[12, 0, 0, 0, 3, 1, 0])),
            RecordsError::InvalidRecord("negative field length")
        );
        // Huge header count.
        assert_eq!(
            first_error(&raw_batch(
                1,
                &[20, 0, 0, 0, 1, 1, 0xfe, 0xff, 0xff, 0xff, 0x07]
            )),
            RecordsError::InvalidRecord("header count exceeds the record")
        );
        // Negative header count.
        assert_eq!(
            first_error(&raw_batch(1, &[12, 0, 0, 0, 1, 1, 1])),
            RecordsError::InvalidRecord("negative header count")
        );
        // Over-long varint.
        assert_eq!(
            first_error(&raw_batch(1, &[0xff, 0xff, 0xff, 0xff, 0xff, 0x01])),
            RecordsError::InvalidRecord("varint overflow")
        );
        // Count says two, one present.
        assert_eq!(
            first_error(&raw_batch(2, &good)),
            RecordsError::InvalidRecord("fewer records than the batch's record count")
        );
        // Count says one, two present.
        let mut two = good.to_vec();
        two.extend_from_slice(&good);
        assert_eq!(
            first_error(&raw_batch(1, &two)),
            RecordsError::InvalidRecord("bytes left after the last record")
        );
        // Negative count.
        assert_eq!(
            first_error(&raw_batch(-1, &good)),
            RecordsError::InvalidRecord("negative record count")
        );
        // Duplicate offset deltas fail validation but iterate.
        assert_eq!(collect(&raw_batch(2, &two)).len(), 2);
        assert_eq!(
            validate_records(&raw_batch(2, &two), LIMIT).unwrap_err(),
            RecordsError::InvalidRecord("offset deltas not strictly increasing")
        );
    }

    #[test]
    fn validate_records_checks_crc_and_length() {
        let mut b = BatchBuilder::new(Compression::Lz4);
        b.append(0, Some(b"k"), Some(b"v"), &[]).unwrap();
        let batch = b.build().unwrap();
        let mut bad = BytesMut::from(&batch[..]);
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(
            validate_records(&bad.freeze(), LIMIT),
            Err(RecordsError::CrcMismatch { .. })
        ));
        let mut extra = BytesMut::from(&batch[..]);
        extra.put_u8(0);
        assert!(matches!(
            validate_records(&extra.freeze(), LIMIT),
            Err(RecordsError::InvalidLength(_))
        ));
    }

    #[test]
    fn truncated_batches_error() {
        for codec in ALL {
            let mut b = BatchBuilder::new(codec);
            for i in 0..20 {
                b.append(
                    i,
                    Some(b"key"),
                    Some(b"some value bytes"),
                    &[(b"h", Some(b"v"))],
                )
                .unwrap();
            }
            let batch = b.build().unwrap();
            for cut in 0..batch.len() {
                assert!(
                    records(&batch.slice(..cut), LIMIT).is_err(),
                    "{codec:?} cut {cut}"
                );
            }
        }
    }

    type ArbRecord = (
        i64,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Vec<(Vec<u8>, Option<Vec<u8>>)>,
    );

    fn arb_records() -> impl Strategy<Value = (usize, Vec<ArbRecord>)> {
        (
            0usize..5,
            proptest::collection::vec(
                (
                    any::<i64>(),
                    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
                    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
                    proptest::collection::vec(
                        (
                            proptest::collection::vec(any::<u8>(), 0..5),
                            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..5)),
                        ),
                        0..3,
                    ),
                ),
                0..12,
            ),
        )
    }

    fn build(codec: usize, recs: &[ArbRecord]) -> Bytes {
        let mut b = BatchBuilder::new(ALL[codec]);
        for (ts, k, v, hs) in recs {
            let hs: Vec<(&[u8], Option<&[u8]>)> =
                hs.iter().map(|(k, v)| (&k[..], v.as_deref())).collect();
            b.append(*ts, k.as_deref(), v.as_deref(), &hs).unwrap();
        }
        b.build().unwrap()
    }

    fn arb_batch() -> impl Strategy<Value = Bytes> {
        arb_records().prop_map(|(codec, recs)| build(codec, &recs))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_records_round_trip((codec, recs) in arb_records()) {
            let batch = build(codec, &recs);
            let h = validate_records(&batch, LIMIT).unwrap();
            prop_assert_eq!(h.record_count as usize, recs.len());
            let got: Vec<Record> = records(&batch, LIMIT).unwrap().map(Result::unwrap).collect();
            prop_assert_eq!(got.len(), recs.len());
            for (i, (g, (ts, k, v, hs))) in got.iter().zip(&recs).enumerate() {
                prop_assert_eq!(g.offset_delta, i as i32);
                prop_assert_eq!(g.timestamp(&h), *ts);
                prop_assert_eq!(g.key.as_deref(), k.as_deref());
                prop_assert_eq!(g.value.as_deref(), v.as_deref());
                let ghs: Vec<(Vec<u8>, Option<Vec<u8>>)> = g
                    .headers
                    .iter()
                    .map(|x| (x.key.to_vec(), x.value.as_ref().map(|v| v.to_vec())))
                    .collect();
                prop_assert_eq!(&ghs, hs);
            }
            if let Some(max) = recs.iter().map(|r| r.0).max() {
                prop_assert_eq!(h.max_timestamp, max);
            }
        }

        #[test]
        fn mutated_batches_never_panic(
            batch in arb_batch(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
            cut in any::<usize>(),
            force_none in any::<bool>(),
        ) {
            let mut m = BytesMut::from(&batch[..]);
            for (at, x) in flips {
                let i = at % m.len();
                m[i] ^= x;
            }
            if force_none {
                // Parse the (possibly compressed) bytes as plain records too.
                let attrs = i16::from_be_bytes([m[21], m[22]]) & !ATTR_COMPRESSION_MASK;
                m[21..23].copy_from_slice(&attrs.to_be_bytes());
            }
            let m = m.freeze();
            let cut = cut % (m.len() + 1);
            for b in [m.clone(), m.slice(..cut)] {
                if let Ok(it) = records(&b, 1 << 16) {
                    for r in it {
                        let _ = r;
                    }
                }
                let _ = validate_records(&b, 1 << 16);
            }
        }

        #[test]
        fn random_bytes_never_panic(
            section in proptest::collection::vec(any::<u8>(), 0..200),
            count in -2i32..20,
        ) {
            let b = raw_batch(count, &section);
            if let Ok(it) = records(&b, 1 << 16) {
                for r in it {
                    let _ = r;
                }
            }
        }
    }
}
