//! fjord's Kafka wire protocol: generated message types for every API and
//! internal record schema, request/response framing, record batches and
//! error codes.
//!
//! Architecture invariant: this crate does no I/O and has no async code.
//! Decoding never panics and never allocates on a length read from the
//! wire before checking it against the bytes actually present.

pub mod error_code;
pub mod frame;
pub mod internal_topics;
pub mod messages;
pub mod records;
pub mod wire;

#[cfg(test)]
mod roundtrip_tests;
#[cfg(test)]
mod testgen;

pub use error_code::ErrorCode;
pub use messages::{ApiKey, Request, Response};
pub use wire::{RawTaggedField, Uuid};

use bytes::{Bytes, BytesMut};

/// Why a decode failed. Always a value, never a panic.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error("truncated input: needed {needed} bytes, {remaining} remaining")]
    Truncated { needed: usize, remaining: usize },
    #[error("negative length {0}")]
    NegativeLength(i64),
    #[error("varint longer than its type allows")]
    VarintOverflow,
    #[error("string is not valid utf-8")]
    InvalidUtf8,
    #[error("null where the version does not allow null")]
    UnexpectedNull,
    #[error("tagged fields out of order at tag {0}")]
    TagOrder(u32),
    #[error("tagged field {0} has a size that does not match its content")]
    TaggedFieldSize(u32),
    #[error("unknown api key {0}")]
    UnknownApiKey(i16),
    #[error("unsupported version {version} of api key {api_key}")]
    UnsupportedVersion { api_key: i16, version: i16 },
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    #[error("invalid value: {0}")]
    Invalid(&'static str),
}

/// Why an encode failed (a value the chosen version cannot represent).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EncodeError {
    #[error("length {0} does not fit its prefix")]
    TooLong(usize),
    #[error("field {0} is null but not nullable in this version")]
    NullNotAllowed(&'static str),
    #[error("version {version} is not valid for {message}")]
    UnsupportedVersion { message: &'static str, version: i16 },
}

/// A message that can be written in any of its valid versions.
pub trait Encode {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError>;
}

/// A message that can be read in any of its valid versions.
pub trait Decode: Sized {
    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError>;
}

/// Static facts about a generated message.
pub trait Message {
    const NAME: &'static str;
    /// Lowest and highest valid versions.
    const VERSIONS: (i16, i16);
    /// First flexible version, or `None` if no version is flexible.
    const FLEXIBLE_FROM: Option<i16>;
}
