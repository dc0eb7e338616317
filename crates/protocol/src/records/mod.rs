//! Record batches (magic v2): header view, validation, in-place rewrites,
//! record iteration, building, control batches and compression.

mod builder;
mod compression;
mod control;
mod header;
#[cfg(test)]
mod interop_tests;
mod recompress;
mod record;
mod scan;

pub use builder::{BatchBuilder, NO_TIMESTAMP};
pub use compression::{compress, decompress, XERIAL_MAGIC};
pub use control::{
    control_batch, control_record_type, parse_control_record, parse_end_txn_marker, ControlType,
    EndTxnMarker,
};
pub use header::*;
pub use recompress::recompress;
pub use record::{records, validate_records, validate_records_with, Header, Record, RecordIter};
pub use scan::{scan_records, scan_section, RecordView};

/// Why a record batch was rejected.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum RecordsError {
    #[error("record batch is truncated")]
    Truncated,
    #[error("unsupported record batch magic {0}")]
    UnsupportedMagic(i8),
    #[error("invalid batch length {0}")]
    InvalidLength(i32),
    #[error("crc mismatch: header says {expected:#010x}, computed {actual:#010x}")]
    CrcMismatch { expected: u32, actual: u32 },
    #[error("unknown compression codec {0}")]
    UnknownCompression(i16),
    #[error("decompressed size exceeds the limit of {0} bytes")]
    TooLarge(usize),
    #[error("compression error: {0}")]
    Codec(String),
    #[error("malformed record: {0}")]
    InvalidRecord(&'static str),
    #[error("unknown control record type {0}")]
    UnknownControlType(i16),
}

/// Compression codec in the low three attribute bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    None = 0,
    Gzip = 1,
    Snappy = 2,
    Lz4 = 3,
    Zstd = 4,
}

impl Compression {
    pub fn from_attributes(attributes: i16) -> Result<Compression, RecordsError> {
        match attributes & ATTR_COMPRESSION_MASK {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            other => Err(RecordsError::UnknownCompression(other)),
        }
    }

    /// Kafka's config name (`compression.type` values).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// Whether timestamps were set by the producer or by the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}
