//! Zero-copy view of a magic v2 record batch header, CRC32C validation and
//! the in-place rewrites a broker makes (base offset, leader epoch,
//! LogAppendTime).
//!
//! Layout (big-endian): base offset i64 @0, batch length i32 @8 (bytes after
//! this field), partition leader epoch i32 @12, magic i8 @16, crc u32 @17
//! (CRC32C of everything from the attributes to the end), attributes i16
//! @21, last offset delta i32 @23, first timestamp i64 @27, max timestamp
//! i64 @35, producer id i64 @43, producer epoch i16 @51, base sequence i32
//! @53, record count i32 @57; records follow at @61.

use super::{Compression, RecordsError, TimestampType};

/// Size of the fixed v2 batch header.
pub const BATCH_HEADER_LEN: usize = 61;
/// Base offset plus batch length: the part not counted in `batch_length`.
pub const LOG_OVERHEAD: usize = 12;
/// Offset of the first byte covered by the CRC.
pub const CRC_START: usize = 21;

pub const ATTR_COMPRESSION_MASK: i16 = 0x07;
pub const ATTR_TIMESTAMP_TYPE: i16 = 0x08;
pub const ATTR_TRANSACTIONAL: i16 = 0x10;
pub const ATTR_CONTROL: i16 = 0x20;
pub const ATTR_DELETE_HORIZON: i16 = 0x40;

/// The decoded fixed fields of one v2 batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub first_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(x)
}

impl BatchHeader {
    /// Parses the header at the start of `buf`. Checks the magic byte and
    /// that the declared length is sane, but not that the whole batch is
    /// present (see [`BatchHeader::total_size`]) nor the CRC.
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, RecordsError> {
        if buf.len() < BATCH_HEADER_LEN {
            // Magic is at byte 16; report an old format when we can see it.
            if buf.len() > 16 && buf[16] != 2 {
                return Err(RecordsError::UnsupportedMagic(buf[16] as i8));
            }
            return Err(RecordsError::Truncated);
        }
        let magic = buf[16] as i8;
        if magic != 2 {
            return Err(RecordsError::UnsupportedMagic(magic));
        }
        let batch_length = be_i32(buf, 8);
        if (batch_length as i64) < (BATCH_HEADER_LEN - LOG_OVERHEAD) as i64 {
            return Err(RecordsError::InvalidLength(batch_length));
        }
        Ok(BatchHeader {
            base_offset: be_i64(buf, 0),
            batch_length,
            partition_leader_epoch: be_i32(buf, 12),
            magic,
            crc: u32::from_be_bytes([buf[17], buf[18], buf[19], buf[20]]),
            attributes: be_i16(buf, 21),
            last_offset_delta: be_i32(buf, 23),
            first_timestamp: be_i64(buf, 27),
            max_timestamp: be_i64(buf, 35),
            producer_id: be_i64(buf, 43),
            producer_epoch: be_i16(buf, 51),
            base_sequence: be_i32(buf, 53),
            record_count: be_i32(buf, 57),
        })
    }

    /// Bytes the whole batch occupies, header included.
    pub fn total_size(&self) -> usize {
        self.batch_length as usize + LOG_OVERHEAD
    }

    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// The offset the next batch will get.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    pub fn compression(&self) -> Result<Compression, RecordsError> {
        Compression::from_attributes(self.attributes)
    }

    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & ATTR_TIMESTAMP_TYPE != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    /// Whether the batch carries an idempotent/transactional producer id.
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }

    /// The sequence number of the last record, wrapping as Kafka does.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return -1;
        }
        let last = i64::from(self.base_sequence) + i64::from(self.last_offset_delta);
        if last > i64::from(i32::MAX) {
            (last - i64::from(i32::MAX) - 1) as i32
        } else {
            last as i32
        }
    }
}

/// CRC32C over the CRC-covered part of a complete batch.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[CRC_START..])
}

/// Checks that `batch` holds exactly one whole batch whose CRC matches.
pub fn validate(batch: &[u8]) -> Result<BatchHeader, RecordsError> {
    let h = BatchHeader::parse(batch)?;
    if batch.len() < h.total_size() {
        return Err(RecordsError::Truncated);
    }
    let actual = compute_crc(&batch[..h.total_size()]);
    if actual != h.crc {
        return Err(RecordsError::CrcMismatch {
            expected: h.crc,
            actual,
        });
    }
    Ok(h)
}

/// Rewrites the base offset (outside the CRC, so no recompute).
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Rewrites the partition leader epoch (outside the CRC).
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    batch[12..16].copy_from_slice(&epoch.to_be_bytes());
}

/// Marks the batch as LogAppendTime with `timestamp` as its max timestamp
/// and recomputes the CRC, as a broker does for topics with
/// `message.timestamp.type=LogAppendTime`.
pub fn set_log_append_time(batch: &mut [u8], timestamp: i64) -> Result<(), RecordsError> {
    let h = BatchHeader::parse(batch)?;
    let end = h.total_size();
    if batch.len() < end {
        return Err(RecordsError::Truncated);
    }
    let attrs = h.attributes | ATTR_TIMESTAMP_TYPE;
    batch[21..23].copy_from_slice(&attrs.to_be_bytes());
    batch[35..43].copy_from_slice(&timestamp.to_be_bytes());
    let crc = compute_crc(&batch[..end]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// Splits a buffer of back-to-back batches (a produce payload or a slice of
/// a log segment). Yields each batch's header and bytes; stops with an
/// error on the first batch that is cut short or malformed.
pub struct BatchIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> BatchIter<'a> {
    pub fn new(buf: &'a [u8]) -> BatchIter<'a> {
        BatchIter { buf, pos: 0 }
    }

    /// Byte position of the next batch in the original buffer.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<(BatchHeader, &'a [u8]), RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.buf[self.pos..];
        if rest.is_empty() {
            return None;
        }
        let h = match BatchHeader::parse(rest) {
            Ok(h) => h,
            Err(e) => {
                self.pos = self.buf.len();
                return Some(Err(e));
            }
        };
        let size = h.total_size();
        if rest.len() < size {
            self.pos = self.buf.len();
            return Some(Err(RecordsError::Truncated));
        }
        self.pos += size;
        Some(Ok((h, &rest[..size])))
    }
}
