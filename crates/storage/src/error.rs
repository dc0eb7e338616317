//! The storage error type.

use std::io;

/// Everything that can go wrong in a partition log.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An I/O call failed; `context` says which call on which file.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// A read or DeleteRecords asked for an offset outside
    /// `[log_start, log_end]`.
    #[error("offset {requested} is out of range (log start {log_start}, log end {log_end})")]
    OffsetOutOfRange {
        requested: i64,
        log_start: i64,
        log_end: i64,
    },
    /// On-disk data that should be valid is not (found outside recovery).
    #[error("corrupt log data: {0}")]
    Corrupt(String),
    /// The buffer passed to `append` is not a run of whole v2 batches.
    #[error("invalid record batch: {0}")]
    InvalidBatch(String),
    /// One batch is larger than `max.message.bytes`.
    #[error("record batch of {size} bytes exceeds max.message.bytes ({max})")]
    RecordTooLarge { size: usize, max: usize },
    /// A config value is missing its constraints.
    #[error("invalid value {value:?} for {name}: {reason}")]
    InvalidConfig {
        name: String,
        value: String,
        reason: String,
    },
    /// The log was closed or deleted.
    #[error("log is closed")]
    Closed,
    /// An earlier fsync or rollback failed; the log refuses writes because
    /// the kernel may have dropped dirty pages (the broker should take the
    /// partition offline and reopen it, which runs recovery).
    #[error("log is offline after an I/O failure: {0}")]
    Offline(String),
}

/// `Result` with [`StorageError`].
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

const ENOSPC: i32 = 28;

impl StorageError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> StorageError {
        StorageError::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether this is an I/O error caused by a full disk (ENOSPC).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StorageError::Io { source, .. } if source.raw_os_error() == Some(ENOSPC))
    }
}

/// Adds context to `io::Result`s.
pub(crate) trait IoContext<T> {
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|e| StorageError::io(f(), e))
    }
}

/// The Kafka error a client gets for a storage failure.
impl From<&StorageError> for fjord_protocol::ErrorCode {
    fn from(e: &StorageError) -> Self {
        use fjord_protocol::ErrorCode;
        match e {
            StorageError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
            StorageError::RecordTooLarge { .. } => ErrorCode::MessageTooLarge,
            StorageError::InvalidConfig { .. } => ErrorCode::InvalidConfig,
            StorageError::InvalidBatch(_) => ErrorCode::CorruptMessage,
            _ => ErrorCode::KafkaStorageError,
        }
    }
}
