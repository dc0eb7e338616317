//! The registry's only view of storage: an append-only log of key/value
//! records (the `_schemas` topic). The broker implements [`SchemaLog`] over
//! a partition; tests use [`MemLog`].
//!
//! Calls may block (an append waits for fsync): the registry makes them on
//! blocking threads.

use std::sync::Mutex;

/// One record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub offset: i64,
    pub key: Vec<u8>,
    /// `None`: a tombstone.
    pub value: Option<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
#[error("schema log: {0}")]
pub struct LogError(pub String);

/// A durable, ordered log of records.
pub trait SchemaLog: Send + Sync + 'static {
    /// Appends records atomically (one batch) and returns the offset of the
    /// last once they are durable (fsynced), as an acks=all produce would be
    /// acknowledged. `None` values are tombstones.
    fn append(&self, records: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<i64, LogError>;
    /// Records at offsets `>= from`, at most about `max_bytes` of them (at
    /// least one if any), and the offset to read from next.
    fn read(&self, from: i64, max_bytes: usize) -> Result<(Vec<LogRecord>, i64), LogError>;
    /// The offset the next append will get.
    fn end_offset(&self) -> i64;
}

/// An in-memory log for tests.
#[derive(Default)]
pub struct MemLog {
    records: Mutex<Vec<LogRecord>>,
}

impl SchemaLog for MemLog {
    fn append(&self, records: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<i64, LogError> {
        let mut r = self
            .records
            .lock()
            .map_err(|_| LogError("poisoned".into()))?;
        for (key, value) in records {
            let offset = r.len() as i64;
            r.push(LogRecord {
                offset,
                key: key.clone(),
                value: value.clone(),
            });
        }
        Ok(r.len() as i64 - 1)
    }

    fn read(&self, from: i64, max_bytes: usize) -> Result<(Vec<LogRecord>, i64), LogError> {
        let r = self
            .records
            .lock()
            .map_err(|_| LogError("poisoned".into()))?;
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut next = from.max(0);
        for rec in r
            .iter()
            .skip(usize::try_from(from.max(0)).unwrap_or(usize::MAX))
        {
            if !out.is_empty() && bytes >= max_bytes {
                break;
            }
            bytes += rec.key.len() + rec.value.as_ref().map_or(0, Vec::len);
            next = rec.offset + 1;
            out.push(rec.clone());
        }
        Ok((out, next))
    }

    fn end_offset(&self) -> i64 {
        self.records.lock().map_or(0, |r| r.len() as i64)
    }
}
