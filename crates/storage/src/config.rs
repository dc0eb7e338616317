//! Per-log configuration with Kafka's topic config names and defaults.

use fjord_protocol::records::TimestampType;

use crate::error::{Result, StorageError};

/// `cleanup.policy`: time and size retention run when it includes
/// `delete`, the log cleaner ([`crate::Log::compact`]) when it includes
/// `compact`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CleanupPolicy {
    Delete,
    Compact,
    CompactDelete,
}

impl CleanupPolicy {
    /// Whether time/size retention applies.
    pub fn deletes(self) -> bool {
        matches!(self, CleanupPolicy::Delete | CleanupPolicy::CompactDelete)
    }

    pub fn compacts(self) -> bool {
        matches!(self, CleanupPolicy::Compact | CleanupPolicy::CompactDelete)
    }

    /// Kafka's spelling.
    pub fn name(self) -> &'static str {
        match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
            CleanupPolicy::CompactDelete => "compact,delete",
        }
    }
}

/// How the broker should make acknowledged writes durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushPolicy {
    /// The default (neither `flush.messages` nor `flush.ms` set, or
    /// `flush.messages=1`, or `flush.ms=0`): call [`crate::Log::sync_to`]
    /// before acknowledging an acks=1/acks=all produce. Concurrent producers
    /// share fsyncs (group commit).
    SyncBeforeAck,
    /// Page-cache mode (Kafka's default): acknowledge once written; call
    /// [`crate::Log::flush_if_due`] after appends and periodically, which
    /// syncs every `messages` messages or every `interval_ms`.
    PageCache {
        messages: Option<u64>,
        interval_ms: Option<u64>,
    },
}

/// Config of one partition log. Field names follow Kafka's topic configs
/// (`segment.bytes` is `segment_bytes`, ...); use [`LogConfig::set`] to
/// apply string key/values and [`LogConfig::entries`] to describe them.
#[derive(Clone, Debug, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`: roll the active segment before it would exceed this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll the active segment once it is this old.
    pub segment_ms: i64,
    /// `retention.ms`: delete segments whose newest record is older; -1 = unlimited.
    pub retention_ms: i64,
    /// `retention.bytes`: delete oldest segments while the log is larger; -1 = unlimited.
    pub retention_bytes: i64,
    /// `index.interval.bytes`: bytes between sparse offset index entries.
    pub index_interval_bytes: u64,
    /// `flush.messages`: `i64::MAX` (the default) means not set.
    pub flush_messages: i64,
    /// `flush.ms`: `i64::MAX` (the default) means not set.
    pub flush_ms: i64,
    /// `max.message.bytes`: largest batch accepted by `append`.
    pub max_message_bytes: usize,
    /// `message.timestamp.type`.
    pub message_timestamp_type: TimestampType,
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `file.delete.delay.ms`: accepted and ignored (files are unlinked at
    /// once; readers holding a segment's file keep reading it).
    pub file_delete_delay_ms: i64,
    /// `delete.retention.ms`: how long a tombstone stays in a compacted log
    /// after the cleaner first saw it (its batch's delete horizon).
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`: compact once the uncleaned part is more
    /// than this fraction of the cleanable log (0 to 1).
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`: segments holding a record younger than this
    /// are not compacted yet.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: compact regardless of the dirty ratio once
    /// the oldest uncleaned record is older than this.
    pub max_compaction_lag_ms: i64,
}

/// `min.cleanable.dirty.ratio` is validated to lie in `[0, 1]`, never NaN,
/// so equality is reflexive.
impl Eq for LogConfig {}

pub const SEGMENT_BYTES: &str = "segment.bytes";
pub const SEGMENT_MS: &str = "segment.ms";
pub const RETENTION_MS: &str = "retention.ms";
pub const RETENTION_BYTES: &str = "retention.bytes";
pub const INDEX_INTERVAL_BYTES: &str = "index.interval.bytes";
pub const FLUSH_MESSAGES: &str = "flush.messages";
pub const FLUSH_MS: &str = "flush.ms";
pub const MAX_MESSAGE_BYTES: &str = "max.message.bytes";
pub const MESSAGE_TIMESTAMP_TYPE: &str = "message.timestamp.type";
pub const CLEANUP_POLICY: &str = "cleanup.policy";
pub const FILE_DELETE_DELAY_MS: &str = "file.delete.delay.ms";
pub const DELETE_RETENTION_MS: &str = "delete.retention.ms";
pub const MIN_CLEANABLE_DIRTY_RATIO: &str = "min.cleanable.dirty.ratio";
pub const MIN_COMPACTION_LAG_MS: &str = "min.compaction.lag.ms";
pub const MAX_COMPACTION_LAG_MS: &str = "max.compaction.lag.ms";

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            index_interval_bytes: 4096,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            max_message_bytes: 1_048_588,
            message_timestamp_type: TimestampType::CreateTime,
            cleanup_policy: CleanupPolicy::Delete,
            file_delete_delay_ms: 60_000,
            delete_retention_ms: 86_400_000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
        }
    }
}

fn invalid(name: &str, value: &str, reason: &str) -> StorageError {
    StorageError::InvalidConfig {
        name: name.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn parse_i64(name: &str, value: &str, min: i64, max: i64) -> Result<i64> {
    let v: i64 = value
        .trim()
        .parse()
        .map_err(|_| invalid(name, value, "not an integer"))?;
    if v < min || v > max {
        return Err(invalid(
            name,
            value,
            &format!("must be between {min} and {max}"),
        ));
    }
    Ok(v)
}

impl LogConfig {
    /// The config names this type understands.
    pub const NAMES: &'static [&'static str] = &[
        SEGMENT_BYTES,
        SEGMENT_MS,
        RETENTION_MS,
        RETENTION_BYTES,
        INDEX_INTERVAL_BYTES,
        FLUSH_MESSAGES,
        FLUSH_MS,
        MAX_MESSAGE_BYTES,
        MESSAGE_TIMESTAMP_TYPE,
        CLEANUP_POLICY,
        FILE_DELETE_DELAY_MS,
        DELETE_RETENTION_MS,
        MIN_CLEANABLE_DIRTY_RATIO,
        MIN_COMPACTION_LAG_MS,
        MAX_COMPACTION_LAG_MS,
    ];

    /// Applies one Kafka-style key/value. Returns `Ok(false)` for a name
    /// storage does not own (the broker handles it), an error for a bad
    /// value of a name it does own.
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool> {
        match name {
            SEGMENT_BYTES => {
                self.segment_bytes = parse_i64(name, value, 14, i64::from(i32::MAX))? as u64
            }
            SEGMENT_MS => self.segment_ms = parse_i64(name, value, 1, i64::MAX)?,
            RETENTION_MS => self.retention_ms = parse_i64(name, value, -1, i64::MAX)?,
            RETENTION_BYTES => self.retention_bytes = parse_i64(name, value, i64::MIN, i64::MAX)?,
            INDEX_INTERVAL_BYTES => {
                self.index_interval_bytes = parse_i64(name, value, 0, i64::from(i32::MAX))? as u64
            }
            FLUSH_MESSAGES => self.flush_messages = parse_i64(name, value, 1, i64::MAX)?,
            FLUSH_MS => self.flush_ms = parse_i64(name, value, 0, i64::MAX)?,
            MAX_MESSAGE_BYTES => {
                self.max_message_bytes = parse_i64(name, value, 0, i64::from(i32::MAX))? as usize
            }
            MESSAGE_TIMESTAMP_TYPE => {
                self.message_timestamp_type = match value.trim() {
                    "CreateTime" => TimestampType::CreateTime,
                    "LogAppendTime" => TimestampType::LogAppendTime,
                    _ => return Err(invalid(name, value, "must be CreateTime or LogAppendTime")),
                }
            }
            CLEANUP_POLICY => {
                let mut delete = false;
                let mut compact = false;
                for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    match part {
                        "delete" => delete = true,
                        "compact" => compact = true,
                        _ => return Err(invalid(name, value, "must be delete and/or compact")),
                    }
                }
                self.cleanup_policy = match (delete, compact) {
                    (true, true) => CleanupPolicy::CompactDelete,
                    (false, true) => CleanupPolicy::Compact,
                    (true, false) => CleanupPolicy::Delete,
                    (false, false) => return Err(invalid(name, value, "empty policy")),
                };
            }
            FILE_DELETE_DELAY_MS => {
                self.file_delete_delay_ms = parse_i64(name, value, 0, i64::MAX)?
            }
            DELETE_RETENTION_MS => self.delete_retention_ms = parse_i64(name, value, 0, i64::MAX)?,
            MIN_CLEANABLE_DIRTY_RATIO => {
                let v: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| invalid(name, value, "not a number"))?;
                if !(0.0..=1.0).contains(&v) {
                    return Err(invalid(name, value, "must be between 0 and 1"));
                }
                self.min_cleanable_dirty_ratio = v;
            }
            MIN_COMPACTION_LAG_MS => {
                self.min_compaction_lag_ms = parse_i64(name, value, 0, i64::MAX)?
            }
            MAX_COMPACTION_LAG_MS => {
                self.max_compaction_lag_ms = parse_i64(name, value, 1, i64::MAX)?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Builds a config from defaults plus key/values; unknown names are
    /// ignored.
    pub fn from_pairs<'a, I>(pairs: I) -> Result<LogConfig>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut config = LogConfig::default();
        for (k, v) in pairs {
            config.set(k, v)?;
        }
        config.validate()?;
        Ok(config)
    }

    /// The value of one config as Kafka would describe it.
    pub fn get(&self, name: &str) -> Option<String> {
        Some(match name {
            SEGMENT_BYTES => self.segment_bytes.to_string(),
            SEGMENT_MS => self.segment_ms.to_string(),
            RETENTION_MS => self.retention_ms.to_string(),
            RETENTION_BYTES => self.retention_bytes.to_string(),
            INDEX_INTERVAL_BYTES => self.index_interval_bytes.to_string(),
            FLUSH_MESSAGES => self.flush_messages.to_string(),
            FLUSH_MS => self.flush_ms.to_string(),
            MAX_MESSAGE_BYTES => self.max_message_bytes.to_string(),
            MESSAGE_TIMESTAMP_TYPE => match self.message_timestamp_type {
                TimestampType::CreateTime => "CreateTime".to_string(),
                TimestampType::LogAppendTime => "LogAppendTime".to_string(),
            },
            CLEANUP_POLICY => self.cleanup_policy.name().to_string(),
            FILE_DELETE_DELAY_MS => self.file_delete_delay_ms.to_string(),
            DELETE_RETENTION_MS => self.delete_retention_ms.to_string(),
            // Debug keeps the ".0" of whole numbers, as Kafka (Java) prints doubles.
            MIN_CLEANABLE_DIRTY_RATIO => format!("{:?}", self.min_cleanable_dirty_ratio),
            MIN_COMPACTION_LAG_MS => self.min_compaction_lag_ms.to_string(),
            MAX_COMPACTION_LAG_MS => self.max_compaction_lag_ms.to_string(),
            _ => return None,
        })
    }

    /// All `(name, value, is_default)` triples, for DescribeConfigs.
    pub fn entries(&self) -> Vec<(&'static str, String, bool)> {
        let defaults = LogConfig::default();
        LogConfig::NAMES
            .iter()
            .map(|&n| {
                let v = self.get(n).unwrap_or_default();
                let is_default = defaults.get(n).as_deref() == Some(v.as_str());
                (n, v, is_default)
            })
            .collect()
    }

    /// Checks the constraints `set` enforces, for configs built by hand.
    pub fn validate(&self) -> Result<()> {
        let check = |ok: bool, name: &str, value: String, reason: &str| {
            if ok {
                Ok(())
            } else {
                Err(invalid(name, &value, reason))
            }
        };
        check(
            (14..=i32::MAX as u64).contains(&self.segment_bytes),
            SEGMENT_BYTES,
            self.segment_bytes.to_string(),
            "must be between 14 and 2147483647",
        )?;
        check(
            self.segment_ms >= 1,
            SEGMENT_MS,
            self.segment_ms.to_string(),
            "must be at least 1",
        )?;
        check(
            self.retention_ms >= -1,
            RETENTION_MS,
            self.retention_ms.to_string(),
            "must be at least -1",
        )?;
        check(
            self.index_interval_bytes <= i32::MAX as u64,
            INDEX_INTERVAL_BYTES,
            self.index_interval_bytes.to_string(),
            "too large",
        )?;
        check(
            self.flush_messages >= 1,
            FLUSH_MESSAGES,
            self.flush_messages.to_string(),
            "must be at least 1",
        )?;
        check(
            self.flush_ms >= 0,
            FLUSH_MS,
            self.flush_ms.to_string(),
            "must be at least 0",
        )?;
        check(
            self.delete_retention_ms >= 0,
            DELETE_RETENTION_MS,
            self.delete_retention_ms.to_string(),
            "must be at least 0",
        )?;
        check(
            (0.0..=1.0).contains(&self.min_cleanable_dirty_ratio),
            MIN_CLEANABLE_DIRTY_RATIO,
            self.min_cleanable_dirty_ratio.to_string(),
            "must be between 0 and 1",
        )?;
        check(
            self.min_compaction_lag_ms >= 0,
            MIN_COMPACTION_LAG_MS,
            self.min_compaction_lag_ms.to_string(),
            "must be at least 0",
        )?;
        check(
            self.max_compaction_lag_ms >= 1,
            MAX_COMPACTION_LAG_MS,
            self.max_compaction_lag_ms.to_string(),
            "must be at least 1",
        )?;
        Ok(())
    }

    /// See [`FlushPolicy`].
    pub fn flush_policy(&self) -> FlushPolicy {
        let messages_set = self.flush_messages != i64::MAX;
        let ms_set = self.flush_ms != i64::MAX;
        if (!messages_set && !ms_set) || self.flush_messages <= 1 || self.flush_ms == 0 {
            FlushPolicy::SyncBeforeAck
        } else {
            FlushPolicy::PageCache {
                messages: messages_set.then_some(self.flush_messages as u64),
                interval_ms: ms_set.then_some(self.flush_ms as u64),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_set() {
        let mut c = LogConfig::default();
        assert_eq!(c.get(SEGMENT_BYTES).as_deref(), Some("1073741824"));
        assert_eq!(c.flush_policy(), FlushPolicy::SyncBeforeAck);
        assert!(c.set(FLUSH_MESSAGES, "1000").unwrap());
        assert_eq!(
            c.flush_policy(),
            FlushPolicy::PageCache {
                messages: Some(1000),
                interval_ms: None
            }
        );
        assert!(c.set(FLUSH_MESSAGES, "1").unwrap());
        assert_eq!(c.flush_policy(), FlushPolicy::SyncBeforeAck);
        assert!(!c.set("min.insync.replicas", "2").unwrap());
        assert!(c.set(SEGMENT_BYTES, "10").is_err());
        assert!(c.set(CLEANUP_POLICY, "delete,compact").unwrap());
        assert_eq!(c.cleanup_policy, CleanupPolicy::CompactDelete);
        assert!(c.set(MESSAGE_TIMESTAMP_TYPE, "LogAppendTime").unwrap());
        assert_eq!(c.get(MIN_CLEANABLE_DIRTY_RATIO).as_deref(), Some("0.5"));
        assert_eq!(c.get(DELETE_RETENTION_MS).as_deref(), Some("86400000"));
        assert_eq!(
            c.get(MAX_COMPACTION_LAG_MS).as_deref(),
            Some("9223372036854775807")
        );
        assert!(c.set(MIN_CLEANABLE_DIRTY_RATIO, "0.01").unwrap());
        assert_eq!(c.min_cleanable_dirty_ratio, 0.01);
        assert_eq!(c.get(MIN_CLEANABLE_DIRTY_RATIO).as_deref(), Some("0.01"));
        assert!(c.set(MIN_CLEANABLE_DIRTY_RATIO, "1").unwrap());
        assert_eq!(c.get(MIN_CLEANABLE_DIRTY_RATIO).as_deref(), Some("1.0"));
        assert!(c.set(MIN_CLEANABLE_DIRTY_RATIO, "1.5").is_err());
        assert!(c.set(MIN_CLEANABLE_DIRTY_RATIO, "NaN").is_err());
        assert!(c.set(MAX_COMPACTION_LAG_MS, "0").is_err());
        assert!(c.set(MIN_COMPACTION_LAG_MS, "100").unwrap());
        let entries = c.entries();
        assert_eq!(entries.len(), LogConfig::NAMES.len());
        assert!(entries
            .iter()
            .any(|(n, v, d)| *n == MESSAGE_TIMESTAMP_TYPE && v == "LogAppendTime" && !d));
        c.validate().unwrap();
    }
}
