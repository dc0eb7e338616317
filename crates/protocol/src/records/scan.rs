//! An allocation-free pass over the records of a v2 batch, for the
//! produce path: it checks each record's framing exactly as
//! [`RecordIter`](super::RecordIter) does (same rules, same errors) but
//! reads a plain byte slice with a cursor and hands each record to a
//! callback as a [`RecordView`] of borrowed fields, instead of building a
//! [`Record`](super::Record) with `Bytes` slices and a header vector.
//!
//! Compressed batches are decompressed once (bounded) and scanned the same
//! way.

use bytes::Bytes;

use super::compression::decompress;
use super::{BatchHeader, Compression, RecordsError, BATCH_HEADER_LEN};

/// What the produce path needs of one record, borrowed from the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// The record's index in its batch.
    pub index: usize,
    pub attributes: i8,
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub header_count: usize,
}

impl RecordView<'_> {
    /// The record's absolute offset given its batch's base offset.
    pub fn offset(&self, base_offset: i64) -> i64 {
        super::record::record_offset(base_offset, self.offset_delta)
    }

    /// The record's timestamp as a consumer sees it (as
    /// [`Record::timestamp`](super::Record::timestamp)).
    pub fn timestamp(&self, batch: &BatchHeader) -> i64 {
        super::record::record_timestamp(batch, self.timestamp_delta)
    }
}

const SHORT: RecordsError = RecordsError::InvalidRecord("record shorter than its fields");
const OVERFLOW: RecordsError = RecordsError::InvalidRecord("varint overflow");

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn u8(&mut self) -> Result<u8, RecordsError> {
        let b = *self.buf.get(self.pos).ok_or(SHORT)?;
        self.pos += 1;
        Ok(b)
    }

    fn uvarint(&mut self) -> Result<u32, RecordsError> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let b = self.u8()?;
            if i == 4 && b > 0x0f {
                return Err(OVERFLOW);
            }
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(OVERFLOW)
    }

    fn varint(&mut self) -> Result<i32, RecordsError> {
        let v = self.uvarint()?;
        Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
    }

    fn varlong(&mut self) -> Result<i64, RecordsError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let b = self.u8()?;
            if i == 9 && b > 0x01 {
                return Err(OVERFLOW);
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
            }
        }
        Err(OVERFLOW)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], RecordsError> {
        if self.remaining() < len {
            return Err(RecordsError::InvalidRecord(
                "field length exceeds the record",
            ));
        }
        let s = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(s)
    }

    fn nullable(&mut self) -> Result<Option<&'a [u8]>, RecordsError> {
        match self.varint()? {
            -1 => Ok(None),
            n if n < 0 => Err(RecordsError::InvalidRecord("negative field length")),
            n => self.take(n as usize).map(Some),
        }
    }
}

/// Parses the record at the front of `cur`, confined to its declared length.
fn record<'a>(cur: &mut Cursor<'a>, index: usize) -> Result<RecordView<'a>, RecordsError> {
    let len = cur.varint()?;
    if len < 0 {
        return Err(RecordsError::InvalidRecord("negative record length"));
    }
    let len = len as usize;
    if cur.remaining() < len {
        return Err(RecordsError::InvalidRecord(
            "record length exceeds the batch",
        ));
    }
    let mut body = Cursor {
        buf: &cur.buf[cur.pos..cur.pos + len],
        pos: 0,
    };
    cur.pos += len;
    let attributes = body.u8()? as i8;
    let timestamp_delta = body.varlong()?;
    let offset_delta = body.varint()?;
    let key = body.nullable()?;
    let value = body.nullable()?;
    let count = body.varint()?;
    if count < 0 {
        return Err(RecordsError::InvalidRecord("negative header count"));
    }
    let count = count as usize;
    // Each header takes at least two bytes (two one-byte varints).
    if count > body.remaining() / 2 {
        return Err(RecordsError::InvalidRecord(
            "header count exceeds the record",
        ));
    }
    for _ in 0..count {
        let klen = body.varint()?;
        if klen < 0 {
            return Err(RecordsError::InvalidRecord("negative header key length"));
        }
        body.take(klen as usize)?;
        body.nullable()?;
    }
    if body.remaining() != 0 {
        return Err(RecordsError::InvalidRecord(
            "record length does not match its content",
        ));
    }
    Ok(RecordView {
        index,
        attributes,
        timestamp_delta,
        offset_delta,
        key,
        value,
        header_count: count,
    })
}

/// Scans `count` records laid out in `section` (a batch's records region,
/// decompressed), calling `f` for each; stops at the first error of the
/// framing or of `f`. Errors as [`RecordIter`](super::RecordIter): too few
/// records, or bytes left after the last one.
pub fn scan_section<'a>(
    section: &'a [u8],
    count: usize,
    mut f: impl FnMut(RecordView<'a>) -> Result<(), RecordsError>,
) -> Result<(), RecordsError> {
    let mut cur = Cursor {
        buf: section,
        pos: 0,
    };
    for index in 0..count {
        if cur.remaining() == 0 {
            return Err(RecordsError::InvalidRecord(
                "fewer records than the batch's record count",
            ));
        }
        f(record(&mut cur, index)?)?;
    }
    if cur.remaining() != 0 {
        return Err(RecordsError::InvalidRecord(
            "bytes left after the last record",
        ));
    }
    Ok(())
}

/// Scans every record of the batch at the start of `batch` (decompressing
/// it, with at most `decompress_limit` bytes of output, when compressed).
/// Does not check the CRC. Returns the batch header.
pub fn scan_records(
    batch: &Bytes,
    decompress_limit: usize,
    mut f: impl FnMut(&BatchHeader, RecordView<'_>) -> Result<(), RecordsError>,
) -> Result<BatchHeader, RecordsError> {
    let header = BatchHeader::parse(batch)?;
    let end = header.total_size();
    if batch.len() < end {
        return Err(RecordsError::Truncated);
    }
    if header.record_count < 0 {
        return Err(RecordsError::InvalidRecord("negative record count"));
    }
    let count = header.record_count as usize;
    let section = &batch[BATCH_HEADER_LEN..end];
    match header.compression()? {
        Compression::None => scan_section(section, count, |r| f(&header, r))?,
        codec => {
            let plain = decompress(codec, section, decompress_limit)?;
            scan_section(&plain, count, |r| f(&header, r))?
        }
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{records, BatchBuilder};
    use proptest::prelude::*;

    /// The scanner sees exactly what the record iterator sees, and fails
    /// exactly where it fails, on valid batches and on any corruption of
    /// their records region.
    fn same_as_iterator(batch: &Bytes) {
        let iterated: Result<Vec<_>, _> = records(batch, 1 << 20).and_then(|it| it.collect());
        let mut scanned = Vec::new();
        let r = scan_records(batch, 1 << 20, |_, v| {
            scanned.push((
                v.attributes,
                v.timestamp_delta,
                v.offset_delta,
                v.key.map(<[u8]>::to_vec),
                v.value.map(<[u8]>::to_vec),
                v.header_count,
            ));
            Ok(())
        });
        match iterated {
            Ok(recs) => {
                assert!(r.is_ok(), "{r:?}");
                let want: Vec<_> = recs
                    .iter()
                    .map(|x| {
                        (
                            x.attributes,
                            x.timestamp_delta,
                            x.offset_delta,
                            x.key.as_ref().map(|k| k.to_vec()),
                            x.value.as_ref().map(|k| k.to_vec()),
                            x.headers.len(),
                        )
                    })
                    .collect();
                assert_eq!(scanned, want);
            }
            Err(e) => assert_eq!(r.unwrap_err(), e),
        }
    }

    proptest! {
        #[test]
        fn scan_agrees_with_the_record_iterator(
            recs in proptest::collection::vec(
                (proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
                 proptest::option::of(proptest::collection::vec(any::<u8>(), 0..24)),
                 0usize..3),
                1..6),
            flip in proptest::option::of((any::<prop::sample::Index>(), any::<u8>())),
            cut in proptest::option::of(any::<prop::sample::Index>()),
        ) {
            let mut b = BatchBuilder::new(Compression::None);
            for (i, (k, v, h)) in recs.iter().enumerate() {
                let hk = [b"h".as_slice(); 3];
                let headers: Vec<(&[u8], Option<&[u8]>)> =
                    hk.iter().take(*h).map(|k| (*k, Some(b"v".as_slice()))).collect();
                b.append(1000 + i as i64, k.as_deref(), v.as_deref(), &headers).unwrap();
            }
            let batch = b.build().unwrap();
            same_as_iterator(&batch);
            let mut raw = batch.to_vec();
            if let Some((at, byte)) = flip {
                let i = BATCH_HEADER_LEN + at.index(raw.len() - BATCH_HEADER_LEN);
                raw[i] = byte;
            }
            if let Some(at) = cut {
                // Shorten the records region, keeping the header's length.
                let keep = BATCH_HEADER_LEN + at.index(raw.len() - BATCH_HEADER_LEN);
                raw.truncate(keep);
                let len = (raw.len() - 12) as i32;
                raw[8..12].copy_from_slice(&len.to_be_bytes());
            }
            same_as_iterator(&Bytes::from(raw));
        }
    }

    #[test]
    fn compressed_batches_are_scanned_after_decompression() {
        for codec in [
            Compression::Gzip,
            Compression::Zstd,
            Compression::Lz4,
            Compression::Snappy,
        ] {
            let mut b = BatchBuilder::new(codec);
            b.append(5, None, Some(b"a"), &[]).unwrap();
            b.append(6, Some(b"k"), None, &[(b"h", None)]).unwrap();
            let batch = b.build().unwrap();
            let mut seen = Vec::new();
            scan_records(&batch, 1 << 20, |_, v| {
                seen.push((v.index, v.key.is_none(), v.value.is_none(), v.header_count));
                Ok(())
            })
            .unwrap();
            assert_eq!(seen, vec![(0, true, false, 0), (1, false, true, 1)]);
        }
    }
}
