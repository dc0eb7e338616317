//! Primitive encoders and decoders for the Kafka wire format.
//!
//! Every reader checks the bytes actually present before it reads or
//! allocates: a length or count taken from the wire is compared with
//! `buf.remaining()` first, so hostile input can never make us allocate
//! more than the frame we already hold. Readers take `&mut Bytes` so that
//! `bytes` and `records` fields come out as zero-copy slices of the frame.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::{DecodeError, EncodeError};

/// A 16-byte UUID as Kafka sends it (two big-endian longs).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    pub const ZERO: Uuid = Uuid([0; 16]);

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl std::fmt::Debug for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Uuid(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// A tagged field this code does not know, kept so it survives a re-encode.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RawTaggedField {
    pub tag: u32,
    pub data: Bytes,
}

#[inline]
fn need(buf: &Bytes, n: usize) -> Result<(), DecodeError> {
    if buf.remaining() < n {
        Err(DecodeError::Truncated {
            needed: n,
            remaining: buf.remaining(),
        })
    } else {
        Ok(())
    }
}

pub fn get_bool(buf: &mut Bytes) -> Result<bool, DecodeError> {
    need(buf, 1)?;
    Ok(buf.get_u8() != 0)
}
pub fn get_i8(buf: &mut Bytes) -> Result<i8, DecodeError> {
    need(buf, 1)?;
    Ok(buf.get_i8())
}
pub fn get_i16(buf: &mut Bytes) -> Result<i16, DecodeError> {
    need(buf, 2)?;
    Ok(buf.get_i16())
}
pub fn get_u16(buf: &mut Bytes) -> Result<u16, DecodeError> {
    need(buf, 2)?;
    Ok(buf.get_u16())
}
pub fn get_i32(buf: &mut Bytes) -> Result<i32, DecodeError> {
    need(buf, 4)?;
    Ok(buf.get_i32())
}
pub fn get_u32(buf: &mut Bytes) -> Result<u32, DecodeError> {
    need(buf, 4)?;
    Ok(buf.get_u32())
}
pub fn get_i64(buf: &mut Bytes) -> Result<i64, DecodeError> {
    need(buf, 8)?;
    Ok(buf.get_i64())
}
pub fn get_f64(buf: &mut Bytes) -> Result<f64, DecodeError> {
    need(buf, 8)?;
    Ok(buf.get_f64())
}
pub fn get_uuid(buf: &mut Bytes) -> Result<Uuid, DecodeError> {
    need(buf, 16)?;
    let mut u = [0u8; 16];
    buf.copy_to_slice(&mut u);
    Ok(Uuid(u))
}

/// Unsigned LEB128 varint of at most 5 bytes (32 bits).
pub fn get_uvarint(buf: &mut Bytes) -> Result<u32, DecodeError> {
    let mut value: u32 = 0;
    for i in 0..5 {
        need(buf, 1)?;
        let b = buf.get_u8();
        if i == 4 && b > 0x0f {
            return Err(DecodeError::VarintOverflow);
        }
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::VarintOverflow)
}

/// Unsigned LEB128 varint of at most 10 bytes (64 bits).
pub fn get_uvarlong(buf: &mut Bytes) -> Result<u64, DecodeError> {
    let mut value: u64 = 0;
    for i in 0..10 {
        need(buf, 1)?;
        let b = buf.get_u8();
        if i == 9 && b > 0x01 {
            return Err(DecodeError::VarintOverflow);
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::VarintOverflow)
}

/// Zig-zag signed varint (32 bits).
pub fn get_varint(buf: &mut Bytes) -> Result<i32, DecodeError> {
    let v = get_uvarint(buf)?;
    Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
}

/// Zig-zag signed varlong (64 bits).
pub fn get_varlong(buf: &mut Bytes) -> Result<i64, DecodeError> {
    let v = get_uvarlong(buf)?;
    Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// Reads a length prefix: i16/i32 for classic encodings (-1 = null) or
/// unsigned varint N+1 for compact ones (0 = null). Returns `None` for null.
fn get_len(buf: &mut Bytes, compact: bool, wide: bool) -> Result<Option<usize>, DecodeError> {
    let len: i64 = if compact {
        i64::from(get_uvarint(buf)?) - 1
    } else if wide {
        i64::from(get_i32(buf)?)
    } else {
        i64::from(get_i16(buf)?)
    };
    if len == -1 {
        return Ok(None);
    }
    if len < 0 {
        return Err(DecodeError::NegativeLength(len));
    }
    Ok(Some(len as usize))
}

fn take(buf: &mut Bytes, len: usize) -> Result<Bytes, DecodeError> {
    need(buf, len)?;
    Ok(buf.split_to(len))
}

pub fn get_nullable_string(buf: &mut Bytes, compact: bool) -> Result<Option<String>, DecodeError> {
    match get_len(buf, compact, false)? {
        None => Ok(None),
        Some(len) => {
            let raw = take(buf, len)?;
            let s = std::str::from_utf8(&raw).map_err(|_| DecodeError::InvalidUtf8)?;
            Ok(Some(s.to_owned()))
        }
    }
}

pub fn get_string(buf: &mut Bytes, compact: bool) -> Result<String, DecodeError> {
    get_nullable_string(buf, compact)?.ok_or(DecodeError::UnexpectedNull)
}

pub fn get_nullable_bytes(buf: &mut Bytes, compact: bool) -> Result<Option<Bytes>, DecodeError> {
    match get_len(buf, compact, true)? {
        None => Ok(None),
        Some(len) => Ok(Some(take(buf, len)?)),
    }
}

pub fn get_bytes(buf: &mut Bytes, compact: bool) -> Result<Bytes, DecodeError> {
    get_nullable_bytes(buf, compact)?.ok_or(DecodeError::UnexpectedNull)
}

/// Reads an array length. The count is bounded by the bytes left, assuming
/// each element takes at least `min_elem_size` bytes, so a hostile count can
/// never drive a large allocation.
pub fn get_array_len(
    buf: &mut Bytes,
    compact: bool,
    min_elem_size: usize,
) -> Result<Option<usize>, DecodeError> {
    let len = get_len(buf, compact, true)?;
    if let Some(n) = len {
        let min = n.saturating_mul(min_elem_size.max(1));
        if min > buf.remaining() {
            return Err(DecodeError::Truncated {
                needed: min,
                remaining: buf.remaining(),
            });
        }
    }
    Ok(len)
}

/// Reads a tagged-field section, calling `known` for each tag; tags it
/// declines (returns `Ok(false)`) are collected as raw fields.
pub fn get_tagged_fields(
    buf: &mut Bytes,
    unknown: &mut Vec<RawTaggedField>,
    mut known: impl FnMut(u32, &mut Bytes) -> Result<bool, DecodeError>,
) -> Result<(), DecodeError> {
    let count = get_uvarint(buf)? as usize;
    // Each tagged field takes at least two bytes (tag and size).
    if count.saturating_mul(2) > buf.remaining() {
        return Err(DecodeError::Truncated {
            needed: count * 2,
            remaining: buf.remaining(),
        });
    }
    let mut last: Option<u32> = None;
    for _ in 0..count {
        let tag = get_uvarint(buf)?;
        if let Some(prev) = last {
            if tag <= prev {
                return Err(DecodeError::TagOrder(tag));
            }
        }
        last = Some(tag);
        let size = get_uvarint(buf)? as usize;
        let mut data = take(buf, size)?;
        if !known(tag, &mut data)? {
            unknown.push(RawTaggedField { tag, data });
        } else if data.has_remaining() {
            return Err(DecodeError::TaggedFieldSize(tag));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- encoders

pub fn put_uvarint(buf: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

pub fn put_uvarlong(buf: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

pub fn put_varint(buf: &mut BytesMut, v: i32) {
    put_uvarint(buf, ((v << 1) ^ (v >> 31)) as u32);
}

pub fn put_varlong(buf: &mut BytesMut, v: i64) {
    put_uvarlong(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Number of bytes `put_uvarint` writes for `v`.
pub fn uvarint_len(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0x0fff_ffff => 4,
        _ => 5,
    }
}

/// Number of bytes `put_varint` writes for `v`.
pub fn varint_len(v: i32) -> usize {
    uvarint_len(((v << 1) ^ (v >> 31)) as u32)
}

/// Number of bytes `put_varlong` writes for `v`.
pub fn varlong_len(v: i64) -> usize {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    let mut n = 1;
    while z >= 0x80 {
        z >>= 7;
        n += 1;
    }
    n
}

fn put_len(
    buf: &mut BytesMut,
    len: Option<usize>,
    compact: bool,
    wide: bool,
) -> Result<(), EncodeError> {
    match (len, compact) {
        (None, true) => put_uvarint(buf, 0),
        (None, false) if wide => buf.put_i32(-1),
        (None, false) => buf.put_i16(-1),
        (Some(n), true) => {
            let n1 = u32::try_from(n + 1).map_err(|_| EncodeError::TooLong(n))?;
            put_uvarint(buf, n1)
        }
        (Some(n), false) if wide => {
            buf.put_i32(i32::try_from(n).map_err(|_| EncodeError::TooLong(n))?)
        }
        (Some(n), false) => buf.put_i16(i16::try_from(n).map_err(|_| EncodeError::TooLong(n))?),
    }
    Ok(())
}

pub fn put_nullable_string(
    buf: &mut BytesMut,
    s: Option<&str>,
    compact: bool,
) -> Result<(), EncodeError> {
    put_len(buf, s.map(str::len), compact, false)?;
    if let Some(s) = s {
        buf.put_slice(s.as_bytes());
    }
    Ok(())
}

pub fn put_string(buf: &mut BytesMut, s: &str, compact: bool) -> Result<(), EncodeError> {
    put_nullable_string(buf, Some(s), compact)
}

pub fn put_nullable_bytes(
    buf: &mut BytesMut,
    b: Option<&[u8]>,
    compact: bool,
) -> Result<(), EncodeError> {
    put_len(buf, b.map(<[u8]>::len), compact, true)?;
    if let Some(b) = b {
        buf.put_slice(b);
    }
    Ok(())
}

pub fn put_bytes(buf: &mut BytesMut, b: &[u8], compact: bool) -> Result<(), EncodeError> {
    put_nullable_bytes(buf, Some(b), compact)
}

pub fn put_array_len(
    buf: &mut BytesMut,
    len: Option<usize>,
    compact: bool,
) -> Result<(), EncodeError> {
    put_len(buf, len, compact, true)
}

pub fn put_uuid(buf: &mut BytesMut, u: &Uuid) {
    buf.put_slice(&u.0);
}

/// Writes one tagged field whose body is produced by `body`.
pub fn put_tagged_field(
    buf: &mut BytesMut,
    tag: u32,
    body: impl FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let mut tmp = BytesMut::new();
    body(&mut tmp)?;
    put_uvarint(buf, tag);
    put_uvarint(
        buf,
        u32::try_from(tmp.len()).map_err(|_| EncodeError::TooLong(tmp.len()))?,
    );
    buf.put_slice(&tmp);
    Ok(())
}

pub fn put_raw_tagged_field(buf: &mut BytesMut, f: &RawTaggedField) -> Result<(), EncodeError> {
    put_uvarint(buf, f.tag);
    put_uvarint(
        buf,
        u32::try_from(f.data.len()).map_err(|_| EncodeError::TooLong(f.data.len()))?,
    );
    buf.put_slice(&f.data);
    Ok(())
}

/// Where `records` fields go when a message is encoded. The default,
/// [`InlineRecords`], copies them into the buffer; a broker can instead
/// write only the length prefix and send the bytes itself (zero-copy).
pub trait RecordsWriter {
    fn put_records(
        &mut self,
        buf: &mut BytesMut,
        records: Option<&Bytes>,
        compact: bool,
        nullable: bool,
    ) -> Result<(), EncodeError>;
}

/// Copies record bytes into the output buffer.
pub struct InlineRecords;

impl RecordsWriter for InlineRecords {
    fn put_records(
        &mut self,
        buf: &mut BytesMut,
        records: Option<&Bytes>,
        compact: bool,
        nullable: bool,
    ) -> Result<(), EncodeError> {
        match records {
            Some(r) => put_bytes(buf, r, compact),
            None if nullable => put_nullable_bytes(buf, None, compact),
            None => Err(EncodeError::NullNotAllowed("Records")),
        }
    }
}

/// Writes only the length prefix of a records field of `len` bytes.
pub fn put_records_len(buf: &mut BytesMut, len: usize, compact: bool) -> Result<(), EncodeError> {
    put_len(buf, Some(len), compact, true)
}

/// Writes a tagged-field section: known fields (already encoded, with
/// their tags) merged with unknown ones kept from decoding, in tag order.
pub fn put_tagged_section(
    buf: &mut BytesMut,
    mut known: Vec<(u32, BytesMut)>,
    unknown: &[RawTaggedField],
) -> Result<(), EncodeError> {
    let count = known.len() + unknown.len();
    put_uvarint(
        buf,
        u32::try_from(count).map_err(|_| EncodeError::TooLong(count))?,
    );
    if count == 0 {
        return Ok(());
    }
    if unknown.is_empty() {
        known.sort_by_key(|(t, _)| *t);
        for (tag, data) in &known {
            put_uvarint(buf, *tag);
            put_uvarint(
                buf,
                u32::try_from(data.len()).map_err(|_| EncodeError::TooLong(data.len()))?,
            );
            buf.put_slice(data);
        }
        return Ok(());
    }
    let mut all: Vec<(u32, &[u8])> = known.iter().map(|(t, d)| (*t, &d[..])).collect();
    all.extend(unknown.iter().map(|f| (f.tag, &f.data[..])));
    all.sort_by_key(|(t, _)| *t);
    for (tag, data) in all {
        put_uvarint(buf, tag);
        put_uvarint(
            buf,
            u32::try_from(data.len()).map_err(|_| EncodeError::TooLong(data.len()))?,
        );
        buf.put_slice(data);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip_edges() {
        for v in [0i32, 1, -1, 63, -64, 64, i32::MAX, i32::MIN] {
            let mut b = BytesMut::new();
            put_varint(&mut b, v);
            assert_eq!(b.len(), varint_len(v));
            let mut r = b.freeze();
            assert_eq!(get_varint(&mut r).unwrap(), v);
        }
        for v in [0i64, -1, i64::MAX, i64::MIN, 1 << 40] {
            let mut b = BytesMut::new();
            put_varlong(&mut b, v);
            assert_eq!(b.len(), varlong_len(v));
            let mut r = b.freeze();
            assert_eq!(get_varlong(&mut r).unwrap(), v);
        }
    }

    #[test]
    fn overlong_varint_is_rejected() {
        let mut b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert!(matches!(
            get_uvarint(&mut b),
            Err(DecodeError::VarintOverflow)
        ));
        let mut b = Bytes::from_static(&[0xff; 11]);
        assert!(matches!(
            get_uvarlong(&mut b),
            Err(DecodeError::VarintOverflow)
        ));
    }

    #[test]
    fn hostile_array_count_does_not_allocate() {
        let mut b = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0]);
        assert!(matches!(
            get_array_len(&mut b, false, 4),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn negative_and_truncated_lengths() {
        let mut b = Bytes::from_static(&[0xff, 0xfe]);
        assert!(matches!(
            get_nullable_string(&mut b, false),
            Err(DecodeError::NegativeLength(-2))
        ));
        let mut b = Bytes::from_static(&[0x00, 0x05, b'a']);
        assert!(matches!(
            get_string(&mut b, false),
            Err(DecodeError::Truncated { .. })
        ));
        let mut b = Bytes::from_static(&[0x00, 0x02, 0xff, 0xfe]);
        assert!(matches!(
            get_string(&mut b, false),
            Err(DecodeError::InvalidUtf8)
        ));
    }
}
