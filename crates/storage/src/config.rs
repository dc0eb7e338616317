//! Per-log configuration: Kafka's topic configs that change how a log
//! behaves, declared once each in [`LOG_SETTINGS`] (name, the broker-level
//! config that supplies its default, type, documentation, parser and
//! printer) over the typed [`LogConfig`] whose `Default` holds the
//! defaults. The broker's config catalogue builds on this table; storage
//! itself knows nothing of Kafka requests.

use fjord_protocol::records::TimestampType;

use crate::error::{Result, StorageError};

/// `cleanup.policy`: time and size retention run when it includes
/// `delete`, the log cleaner ([`crate::Log::compact`]) when it includes
/// `compact`. The order the list was given in is kept, as Kafka keeps it;
/// the empty list (`None`) keeps everything forever: nothing is deleted
/// or compacted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CleanupPolicy {
    Delete,
    Compact,
    /// `compact,delete`.
    CompactDelete,
    /// `delete,compact`.
    DeleteCompact,
    /// The empty list.
    None,
}

impl CleanupPolicy {
    /// Whether time/size retention applies.
    pub fn deletes(self) -> bool {
        matches!(
            self,
            CleanupPolicy::Delete | CleanupPolicy::CompactDelete | CleanupPolicy::DeleteCompact
        )
    }

    pub fn compacts(self) -> bool {
        matches!(
            self,
            CleanupPolicy::Compact | CleanupPolicy::CompactDelete | CleanupPolicy::DeleteCompact
        )
    }

    /// Kafka's spelling (a comma-separated list, in the order given).
    pub fn name(self) -> &'static str {
        match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
            CleanupPolicy::CompactDelete => "compact,delete",
            CleanupPolicy::DeleteCompact => "delete,compact",
            CleanupPolicy::None => "",
        }
    }

    /// Parses a list of `delete` and `compact` (duplicates collapse onto
    /// the first occurrence; the empty list is allowed).
    pub fn parse(value: &str) -> std::result::Result<CleanupPolicy, String> {
        let mut seen: Vec<&str> = Vec::new();
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part != "delete" && part != "compact" {
                return Err(format!(
                    "Invalid value {part} for configuration cleanup.policy: String must be one of: compact, delete"
                ));
            }
            if !seen.contains(&part) {
                seen.push(part);
            }
        }
        Ok(match seen.as_slice() {
            [] => CleanupPolicy::None,
            ["delete"] => CleanupPolicy::Delete,
            ["compact"] => CleanupPolicy::Compact,
            ["compact", "delete"] => CleanupPolicy::CompactDelete,
            _ => CleanupPolicy::DeleteCompact,
        })
    }
}

/// How the broker should make acknowledged writes durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushPolicy {
    /// fjord's default (`fjord.flush.before.ack=true`), and Kafka's
    /// `flush.messages=1` / `flush.ms=0`: call [`crate::Log::sync_to`]
    /// before acknowledging an acks=1/acks=all produce. Concurrent
    /// producers share fsyncs (group commit).
    SyncBeforeAck,
    /// Page-cache mode (`fjord.flush.before.ack=false`, Kafka's behaviour):
    /// acknowledge once written; call [`crate::Log::flush_if_due`] after
    /// appends and periodically, which syncs every `messages` messages or
    /// every `interval_ms` (`None`: Kafka's default `Long.MAX_VALUE`, never
    /// by count or time: flushing is left to the OS).
    PageCache {
        messages: Option<u64>,
        interval_ms: Option<u64>,
    },
}

/// Config of one partition log. Field names follow Kafka's topic configs
/// (`segment.bytes` is `segment_bytes`, ...); use [`LogConfig::set`] to
/// apply string key/values and [`LogConfig::get`] to describe them.
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
    /// `flush.messages`: in page-cache mode, fsync every this many
    /// messages; `i64::MAX` (Kafka's default) never by count.
    pub flush_messages: i64,
    /// `flush.ms`: in page-cache mode, fsync at least this often;
    /// `i64::MAX` (Kafka's default) never by time.
    pub flush_ms: i64,
    /// `fjord.flush.before.ack`: fsync before acknowledging (fjord's
    /// default); false selects Kafka's page-cache mode.
    pub flush_before_ack: bool,
    /// `max.message.bytes`: largest batch accepted by `append`.
    pub max_message_bytes: usize,
    /// `message.timestamp.type`.
    pub message_timestamp_type: TimestampType,
    /// `message.timestamp.before.max.ms`: with CreateTime, a record
    /// timestamp more than this far in the past is refused by Produce.
    pub message_timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`: with CreateTime, a record
    /// timestamp more than this far in the future is refused by Produce.
    pub message_timestamp_after_max_ms: i64,
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
    /// `local.retention.ms`: tiered storage's local retention (-2: use
    /// `retention.ms`). Kept for when tiered storage exists; no effect yet.
    pub local_retention_ms: i64,
    /// `local.retention.bytes`: as `local.retention.ms`, by size.
    pub local_retention_bytes: i64,
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
pub const FLUSH_BEFORE_ACK: &str = "fjord.flush.before.ack";
pub const MAX_MESSAGE_BYTES: &str = "max.message.bytes";
pub const MESSAGE_TIMESTAMP_TYPE: &str = "message.timestamp.type";
pub const MESSAGE_TIMESTAMP_BEFORE_MAX_MS: &str = "message.timestamp.before.max.ms";
pub const MESSAGE_TIMESTAMP_AFTER_MAX_MS: &str = "message.timestamp.after.max.ms";
pub const CLEANUP_POLICY: &str = "cleanup.policy";
pub const FILE_DELETE_DELAY_MS: &str = "file.delete.delay.ms";
pub const DELETE_RETENTION_MS: &str = "delete.retention.ms";
pub const MIN_CLEANABLE_DIRTY_RATIO: &str = "min.cleanable.dirty.ratio";
pub const MIN_COMPACTION_LAG_MS: &str = "min.compaction.lag.ms";
pub const MAX_COMPACTION_LAG_MS: &str = "max.compaction.lag.ms";
pub const LOCAL_RETENTION_MS: &str = "local.retention.ms";
pub const LOCAL_RETENTION_BYTES: &str = "local.retention.bytes";

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
            flush_before_ack: true,
            max_message_bytes: 1_048_588,
            message_timestamp_type: TimestampType::CreateTime,
            message_timestamp_before_max_ms: i64::MAX,
            message_timestamp_after_max_ms: i64::MAX,
            cleanup_policy: CleanupPolicy::Delete,
            file_delete_delay_ms: 60_000,
            delete_retention_ms: 86_400_000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            local_retention_ms: -2,
            local_retention_bytes: -2,
        }
    }
}

/// The type of a setting's value, as Kafka's `ConfigDef` types it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    Boolean,
    String,
    Int,
    Long,
    Double,
    List,
    /// A secret (Kafka's PASSWORD type): never shown.
    Password,
}

impl ValueType {
    /// Kafka's lowercase name of the type (as its docs print it).
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Boolean => "boolean",
            ValueType::String => "string",
            ValueType::Int => "int",
            ValueType::Long => "long",
            ValueType::Double => "double",
            ValueType::List => "list",
            ValueType::Password => "password",
        }
    }
}

/// One topic-level log setting, declared once: its topic config name, the
/// broker config that supplies its default when a topic does not override
/// it, its type and documentation, and how it is parsed into and printed
/// from a [`LogConfig`]. Its default is `LogConfig::default()`'s field.
pub struct LogSetting {
    pub name: &'static str,
    /// Kafka's broker-level synonym (`retention.ms` → `log.retention.ms`).
    pub broker_name: &'static str,
    pub value_type: ValueType,
    pub doc: &'static str,
    parse: fn(&mut LogConfig, &str) -> std::result::Result<(), String>,
    show: fn(&LogConfig) -> String,
}

impl LogSetting {
    /// Parses `value` into `config` (the reason on failure).
    pub fn apply(&self, config: &mut LogConfig, value: &str) -> std::result::Result<(), String> {
        (self.parse)(config, value)
    }

    /// This setting's value in `config`, as Kafka prints it.
    pub fn value(&self, config: &LogConfig) -> String {
        (self.show)(config)
    }

    /// The default value, as Kafka prints it.
    pub fn default_value(&self) -> String {
        (self.show)(&LogConfig::default())
    }
}

/// Parses an integer in `min..=max`, with Kafka's wording on failure.
pub fn parse_long(value: &str, min: i64, max: i64) -> std::result::Result<i64, String> {
    let v: i64 = value
        .trim()
        .parse()
        .map_err(|_| "Not a number of type LONG".to_string())?;
    if v < min {
        return Err(format!("Value must be at least {min}"));
    }
    if v > max {
        return Err(format!("Value must be no more than {max}"));
    }
    Ok(v)
}

/// [`parse_long`] within `i32`'s range, named INT.
pub fn parse_int(value: &str, min: i64, max: i64) -> std::result::Result<i64, String> {
    let v: i32 = value
        .trim()
        .parse()
        .map_err(|_| "Not a number of type INT".to_string())?;
    parse_long(&v.to_string(), min, max)
}

/// Kafka's boolean parsing (case-insensitive `true` / `false`).
pub fn parse_bool(value: &str) -> std::result::Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("Expected value to be either true or false".to_string()),
    }
}

const I32_MAX: i64 = i32::MAX as i64;

/// Every setting storage owns, sorted by name.
pub const LOG_SETTINGS: &[LogSetting] = &[
    LogSetting {
        name: CLEANUP_POLICY,
        broker_name: "log.cleanup.policy",
        value_type: ValueType::List,
        doc: "A list of \"delete\" and/or \"compact\" (order kept). \"delete\" discards old segments by time or size; \
              \"compact\" lets the log cleaner keep only the latest record of each key; the empty list keeps \
              everything (nothing is deleted or compacted).",
        parse: |c, v| {
            c.cleanup_policy = CleanupPolicy::parse(v)?;
            Ok(())
        },
        show: |c| c.cleanup_policy.name().to_string(),
    },
    LogSetting {
        name: DELETE_RETENTION_MS,
        broker_name: "log.cleaner.delete.retention.ms",
        value_type: ValueType::Long,
        doc: "How long delete tombstones are kept on compacted topics after the cleaner first sees them.",
        parse: |c, v| {
            c.delete_retention_ms = parse_long(v, 0, i64::MAX)?;
            Ok(())
        },
        show: |c| c.delete_retention_ms.to_string(),
    },
    LogSetting {
        name: FILE_DELETE_DELAY_MS,
        broker_name: "log.segment.delete.delay.ms",
        value_type: ValueType::Long,
        doc: "The time to wait before deleting a file from the filesystem (accepted; fjord unlinks at once).",
        parse: |c, v| {
            c.file_delete_delay_ms = parse_long(v, 0, i64::MAX)?;
            Ok(())
        },
        show: |c| c.file_delete_delay_ms.to_string(),
    },
    LogSetting {
        name: FLUSH_BEFORE_ACK,
        broker_name: "fjord.log.flush.before.ack",
        value_type: ValueType::Boolean,
        doc: "fjord: fsync a partition's new records before acknowledging a produce (acks=1/all), so an \
              acknowledged write survives a machine crash; concurrent producers share fsyncs. false selects \
              Kafka's page-cache mode, where flush.messages and flush.ms decide when to fsync.",
        parse: |c, v| {
            c.flush_before_ack = parse_bool(v)?;
            Ok(())
        },
        show: |c| c.flush_before_ack.to_string(),
    },
    LogSetting {
        name: FLUSH_MESSAGES,
        broker_name: "log.flush.interval.messages",
        value_type: ValueType::Long,
        doc: "In page-cache mode (fjord.flush.before.ack=false), fsync the log every this many messages; \
              the default (Long.MAX_VALUE) leaves flushing to the OS, 1 fsyncs before every acknowledgement.",
        parse: |c, v| {
            c.flush_messages = parse_long(v, 1, i64::MAX)?;
            Ok(())
        },
        show: |c| c.flush_messages.to_string(),
    },
    LogSetting {
        name: FLUSH_MS,
        broker_name: "log.flush.interval.ms",
        value_type: ValueType::Long,
        doc: "In page-cache mode (fjord.flush.before.ack=false), fsync the log at least this often; the \
              default (Long.MAX_VALUE) leaves flushing to the OS, 0 fsyncs before every acknowledgement.",
        parse: |c, v| {
            c.flush_ms = parse_long(v, 0, i64::MAX)?;
            Ok(())
        },
        show: |c| c.flush_ms.to_string(),
    },
    LogSetting {
        name: INDEX_INTERVAL_BYTES,
        broker_name: "log.index.interval.bytes",
        value_type: ValueType::Int,
        doc: "How many bytes of log lie between offset index entries.",
        parse: |c, v| {
            c.index_interval_bytes = parse_int(v, 0, I32_MAX)? as u64;
            Ok(())
        },
        show: |c| c.index_interval_bytes.to_string(),
    },
    LogSetting {
        name: LOCAL_RETENTION_BYTES,
        broker_name: "log.local.retention.bytes",
        value_type: ValueType::Long,
        doc: "Tiered storage: the local part of the log is kept up to this size (-2: retention.bytes). \
              Kept for tiered storage; fjord has none yet, so it has no effect.",
        parse: |c, v| {
            c.local_retention_bytes = parse_long(v, -2, i64::MAX)?;
            Ok(())
        },
        show: |c| c.local_retention_bytes.to_string(),
    },
    LogSetting {
        name: LOCAL_RETENTION_MS,
        broker_name: "log.local.retention.ms",
        value_type: ValueType::Long,
        doc: "Tiered storage: the local part of the log is kept this long (-2: retention.ms). Kept for \
              tiered storage; fjord has none yet, so it has no effect.",
        parse: |c, v| {
            c.local_retention_ms = parse_long(v, -2, i64::MAX)?;
            Ok(())
        },
        show: |c| c.local_retention_ms.to_string(),
    },
    LogSetting {
        name: MAX_COMPACTION_LAG_MS,
        broker_name: "log.cleaner.max.compaction.lag.ms",
        value_type: ValueType::Long,
        doc: "Compact regardless of the dirty ratio once the oldest uncompacted record is this old \
              (the active segment is not rolled for it).",
        parse: |c, v| {
            c.max_compaction_lag_ms = parse_long(v, 1, i64::MAX)?;
            Ok(())
        },
        show: |c| c.max_compaction_lag_ms.to_string(),
    },
    LogSetting {
        name: MAX_MESSAGE_BYTES,
        broker_name: "message.max.bytes",
        value_type: ValueType::Int,
        doc: "The largest record batch size allowed.",
        parse: |c, v| {
            c.max_message_bytes = parse_int(v, 0, I32_MAX)? as usize;
            Ok(())
        },
        show: |c| c.max_message_bytes.to_string(),
    },
    LogSetting {
        name: MESSAGE_TIMESTAMP_AFTER_MAX_MS,
        broker_name: "log.message.timestamp.after.max.ms",
        value_type: ValueType::Long,
        doc: "With CreateTime, Produce refuses (INVALID_TIMESTAMP) a record whose timestamp is more than \
              this many milliseconds ahead of the broker's clock.",
        parse: |c, v| {
            c.message_timestamp_after_max_ms = parse_long(v, 0, i64::MAX)?;
            Ok(())
        },
        show: |c| c.message_timestamp_after_max_ms.to_string(),
    },
    LogSetting {
        name: MESSAGE_TIMESTAMP_BEFORE_MAX_MS,
        broker_name: "log.message.timestamp.before.max.ms",
        value_type: ValueType::Long,
        doc: "With CreateTime, Produce refuses (INVALID_TIMESTAMP) a record whose timestamp is more than \
              this many milliseconds behind the broker's clock.",
        parse: |c, v| {
            c.message_timestamp_before_max_ms = parse_long(v, 0, i64::MAX)?;
            Ok(())
        },
        show: |c| c.message_timestamp_before_max_ms.to_string(),
    },
    LogSetting {
        name: MESSAGE_TIMESTAMP_TYPE,
        broker_name: "log.message.timestamp.type",
        value_type: ValueType::String,
        doc: "CreateTime (the producer's timestamp) or LogAppendTime (the broker's).",
        parse: |c, v| {
            c.message_timestamp_type = match v.trim() {
                "CreateTime" => TimestampType::CreateTime,
                "LogAppendTime" => TimestampType::LogAppendTime,
                _ => return Err("String must be one of: CreateTime, LogAppendTime".into()),
            };
            Ok(())
        },
        show: |c| match c.message_timestamp_type {
            TimestampType::CreateTime => "CreateTime".to_string(),
            TimestampType::LogAppendTime => "LogAppendTime".to_string(),
        },
    },
    LogSetting {
        name: MIN_CLEANABLE_DIRTY_RATIO,
        broker_name: "log.cleaner.min.cleanable.ratio",
        value_type: ValueType::Double,
        doc: "Compact once the uncompacted part is more than this fraction of the cleanable log.",
        parse: |c, v| {
            let r: f64 = v
                .trim()
                .parse()
                .map_err(|_| "Not a number of type DOUBLE".to_string())?;
            if !(0.0..=1.0).contains(&r) {
                return Err("Value must be between 0 and 1".into());
            }
            c.min_cleanable_dirty_ratio = r;
            Ok(())
        },
        // Debug keeps the ".0" of whole numbers, as Kafka (Java) prints doubles.
        show: |c| format!("{:?}", c.min_cleanable_dirty_ratio),
    },
    LogSetting {
        name: MIN_COMPACTION_LAG_MS,
        broker_name: "log.cleaner.min.compaction.lag.ms",
        value_type: ValueType::Long,
        doc: "The shortest a message stays uncompacted.",
        parse: |c, v| {
            c.min_compaction_lag_ms = parse_long(v, 0, i64::MAX)?;
            Ok(())
        },
        show: |c| c.min_compaction_lag_ms.to_string(),
    },
    LogSetting {
        name: RETENTION_BYTES,
        broker_name: "log.retention.bytes",
        value_type: ValueType::Long,
        doc: "Delete the oldest segments while a partition is larger than this; -1 means no size limit.",
        parse: |c, v| {
            c.retention_bytes = parse_long(v, i64::MIN, i64::MAX)?;
            Ok(())
        },
        show: |c| c.retention_bytes.to_string(),
    },
    LogSetting {
        name: RETENTION_MS,
        broker_name: "log.retention.ms",
        value_type: ValueType::Long,
        doc: "Delete segments whose newest record is older than this; -1 means no time limit.",
        parse: |c, v| {
            c.retention_ms = parse_long(v, -1, i64::MAX)?;
            Ok(())
        },
        show: |c| c.retention_ms.to_string(),
    },
    LogSetting {
        name: SEGMENT_BYTES,
        broker_name: "log.segment.bytes",
        value_type: ValueType::Int,
        doc: "The segment file size: a new segment is rolled before one would grow past this.",
        parse: |c, v| {
            c.segment_bytes = parse_int(v, 14, I32_MAX)? as u64;
            Ok(())
        },
        show: |c| c.segment_bytes.to_string(),
    },
    LogSetting {
        name: SEGMENT_MS,
        broker_name: "log.roll.ms",
        value_type: ValueType::Long,
        doc: "Roll a new segment once the active one is this old.",
        parse: |c, v| {
            c.segment_ms = parse_long(v, 1, i64::MAX)?;
            Ok(())
        },
        show: |c| c.segment_ms.to_string(),
    },
];

fn invalid(name: &str, value: &str, reason: &str) -> StorageError {
    StorageError::InvalidConfig {
        name: name.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// The setting named `name`, if storage owns it.
pub fn log_setting(name: &str) -> Option<&'static LogSetting> {
    LOG_SETTINGS.iter().find(|s| s.name == name)
}

impl LogConfig {
    /// The config names this type understands.
    pub fn names() -> impl Iterator<Item = &'static str> {
        LOG_SETTINGS.iter().map(|s| s.name)
    }

    /// Applies one Kafka-style key/value. Returns `Ok(false)` for a name
    /// storage does not own (the broker handles it), an error for a bad
    /// value of a name it does own.
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool> {
        let Some(setting) = log_setting(name) else {
            return Ok(false);
        };
        setting
            .apply(self, value)
            .map_err(|reason| invalid(name, value, &reason))?;
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
        log_setting(name).map(|s| s.value(self))
    }

    /// Checks the constraints `set` enforces, for configs built by hand,
    /// and those between settings (`min.compaction.lag.ms` ≤
    /// `max.compaction.lag.ms`).
    pub fn validate(&self) -> Result<()> {
        for s in LOG_SETTINGS {
            let v = s.value(self);
            let mut probe = LogConfig::default();
            s.apply(&mut probe, &v)
                .map_err(|reason| invalid(s.name, &v, &reason))?;
        }
        if self.min_compaction_lag_ms > self.max_compaction_lag_ms {
            return Err(invalid(
                MIN_COMPACTION_LAG_MS,
                &self.min_compaction_lag_ms.to_string(),
                &format!(
                    "conflict topic config setting min.compaction.lag.ms ({}) > max.compaction.lag.ms ({})",
                    self.min_compaction_lag_ms, self.max_compaction_lag_ms
                ),
            ));
        }
        Ok(())
    }

    /// See [`FlushPolicy`]. `flush.messages=1` and `flush.ms=0` mean an
    /// fsync before every acknowledgement in Kafka too.
    pub fn flush_policy(&self) -> FlushPolicy {
        if self.flush_before_ack || self.flush_messages <= 1 || self.flush_ms == 0 {
            return FlushPolicy::SyncBeforeAck;
        }
        FlushPolicy::PageCache {
            messages: (self.flush_messages != i64::MAX).then_some(self.flush_messages as u64),
            interval_ms: (self.flush_ms != i64::MAX).then_some(self.flush_ms as u64),
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
        assert!(!c.set("min.insync.replicas", "2").unwrap());
        assert!(c.set(SEGMENT_BYTES, "10").is_err());
        assert!(c.set(CLEANUP_POLICY, "delete,compact").unwrap());
        assert_eq!(c.cleanup_policy, CleanupPolicy::DeleteCompact);
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
        assert!(c.set(LOCAL_RETENTION_MS, "3600000").unwrap());
        assert!(c.set(LOCAL_RETENTION_BYTES, "-3").is_err());
        assert!(c.set(MESSAGE_TIMESTAMP_BEFORE_MAX_MS, "1000").unwrap());
        assert!(c.set(MESSAGE_TIMESTAMP_AFTER_MAX_MS, "-1").is_err());
        c.validate().unwrap();
        assert!(LOG_SETTINGS.windows(2).all(|w| w[0].name < w[1].name));
        for s in LOG_SETTINGS {
            let mut d = LogConfig::default();
            s.apply(&mut d, &s.default_value()).unwrap();
            assert_eq!(d, LogConfig::default(), "{} default round trip", s.name);
        }
    }

    #[test]
    fn cleanup_policy_lists() {
        let parse = |v| CleanupPolicy::parse(v).unwrap();
        assert_eq!(parse("compact,delete"), CleanupPolicy::CompactDelete);
        assert_eq!(parse("delete, compact"), CleanupPolicy::DeleteCompact);
        assert_eq!(parse("delete,compact").name(), "delete,compact");
        assert_eq!(parse(""), CleanupPolicy::None);
        assert!(!parse("").deletes() && !parse("").compacts());
        assert_eq!(parse("delete,delete"), CleanupPolicy::Delete);
        assert!(CleanupPolicy::parse("remove").is_err());
    }

    #[test]
    fn flush_before_ack_is_its_own_switch() {
        // Kafka's defaults for flush.messages/flush.ms keep fjord durable.
        let mut c = LogConfig::default();
        assert_eq!(
            c.get(FLUSH_MESSAGES).as_deref(),
            Some("9223372036854775807")
        );
        assert_eq!(c.flush_policy(), FlushPolicy::SyncBeforeAck);
        // An interval alone no longer switches fsync-before-ack off.
        assert!(c.set(FLUSH_MESSAGES, "1000").unwrap());
        assert_eq!(c.flush_policy(), FlushPolicy::SyncBeforeAck);
        assert!(c.set(FLUSH_BEFORE_ACK, "false").unwrap());
        assert_eq!(
            c.flush_policy(),
            FlushPolicy::PageCache {
                messages: Some(1000),
                interval_ms: None
            }
        );
        // Kafka's defaults in page-cache mode: flushing is left to the OS.
        let os = LogConfig {
            flush_before_ack: false,
            ..LogConfig::default()
        };
        assert_eq!(
            os.flush_policy(),
            FlushPolicy::PageCache {
                messages: None,
                interval_ms: None
            }
        );
        assert!(c.set(FLUSH_MESSAGES, "1").unwrap());
        assert_eq!(c.flush_policy(), FlushPolicy::SyncBeforeAck);
        assert!(c.set(FLUSH_BEFORE_ACK, "maybe").is_err());
    }
}
