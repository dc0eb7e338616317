//! The topic and broker config catalogue shared by CreateTopics,
//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs: which names
//! fjord accepts, how values are validated, and how configs are described
//! (value, source, synonyms, type, documentation) the way Kafka does.
//!
//! Topic configs come in three kinds:
//! - storage's [`LogConfig`] names, which change how the log behaves;
//! - Kafka configs accepted and persisted as topic overrides but with no
//!   effect on a single-node broker (`min.insync.replicas`,
//!   `preallocate`, ...);
//! - configs fixed at one value (`remote.storage.enable=false`, ...):
//!   described as read-only, setting them to their fixed value is
//!   accepted, anything else is INVALID_CONFIG.
//!
//! `compression.type` is stored and applied by Produce (`recompress`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use fjord_protocol::ErrorCode;
use fjord_storage::LogConfig;

use crate::config::{BrokerConfig, BROKER_TO_TOPIC};
use crate::state::{validate_topic_name, BrokerState, Topic};

/// `ConfigResource.Type` ids.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
pub const RESOURCE_BROKER_LOGGER: i8 = 8;

/// `DescribeConfigsResponse.ConfigSource` ids.
pub const SOURCE_DYNAMIC_TOPIC: i8 = 1;
pub const SOURCE_STATIC_BROKER: i8 = 4;
pub const SOURCE_DEFAULT: i8 = 5;

/// `DescribeConfigsResponse.ConfigType` ids.
pub const TYPE_UNKNOWN: i8 = 0;
pub const TYPE_BOOLEAN: i8 = 1;
pub const TYPE_STRING: i8 = 2;
pub const TYPE_INT: i8 = 3;
pub const TYPE_LONG: i8 = 5;
pub const TYPE_DOUBLE: i8 = 6;
pub const TYPE_LIST: i8 = 7;

const LONG_MAX: &str = "9223372036854775807";

#[derive(Clone, Copy)]
enum Kind {
    /// Owned by storage's `LogConfig`: validated and applied by it.
    Log,
    /// Accepted and persisted; checked by the validator; no effect here.
    Stored(fn(&str) -> Result<(), String>),
    /// Only this value is supported.
    Fixed,
}

struct TopicDef {
    name: &'static str,
    kind: Kind,
    ty: i8,
    /// Default value for `Stored`/`Fixed` (for `Log`, storage's default).
    default: &'static str,
    /// The broker-level config that supplies the default.
    broker: Option<&'static str>,
    doc: &'static str,
}

fn long_at_least(min: i64) -> impl Fn(&str) -> Result<(), String> {
    move |v| match v.trim().parse::<i64>() {
        Ok(n) if n >= min => Ok(()),
        Ok(_) => Err(format!("Value must be at least {min}")),
        Err(_) => Err("Not a number of type LONG".to_string()),
    }
}

fn int_at_least(min: i32) -> impl Fn(&str) -> Result<(), String> {
    move |v| match v.trim().parse::<i32>() {
        Ok(n) if n >= min => Ok(()),
        Ok(_) => Err(format!("Value must be at least {min}")),
        Err(_) => Err("Not a number of type INT".to_string()),
    }
}

fn v_long_ge0(v: &str) -> Result<(), String> {
    long_at_least(0)(v)
}

fn v_int_ge1(v: &str) -> Result<(), String> {
    int_at_least(1)(v)
}

fn v_int_ge4(v: &str) -> Result<(), String> {
    int_at_least(4)(v)
}

fn v_bool(v: &str) -> Result<(), String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "false" => Ok(()),
        _ => Err("Expected value to be either true or false".to_string()),
    }
}

fn v_compression_type(v: &str) -> Result<(), String> {
    if crate::recompress::VALUES.contains(&v.trim()) {
        Ok(())
    } else {
        Err(format!(
            "String must be one of: {}",
            crate::recompress::VALUES.join(", ")
        ))
    }
}

/// `""`, `"*"` or a list of `partition:broker` pairs.
fn v_throttled_replicas(v: &str) -> Result<(), String> {
    let v = v.trim();
    if v.is_empty() || v == "*" {
        return Ok(());
    }
    let ok = v.split(',').map(str::trim).all(|pair| {
        pair.split_once(':').is_some_and(|(p, b)| {
            p.trim().parse::<u32>().is_ok() && b.trim().parse::<u32>().is_ok()
        })
    });
    if ok {
        Ok(())
    } else {
        Err(
            "must be the literal '*' or a list of replicas in the form partitionId:brokerId"
                .to_string(),
        )
    }
}

/// Every topic config fjord describes, sorted by name.
const TOPIC_CONFIGS: &[TopicDef] = &[
    TopicDef {
        name: "cleanup.policy",
        kind: Kind::Log,
        ty: TYPE_LIST,
        default: "",
        broker: Some("log.cleanup.policy"),
        doc: "A list of \"delete\" and/or \"compact\". \"delete\" discards old segments by time or size; \
              \"compact\" lets the log cleaner keep only the latest record of each key.",
    },
    TopicDef {
        name: "compression.type",
        kind: Kind::Stored(v_compression_type),
        ty: TYPE_STRING,
        default: "producer",
        broker: Some("compression.type"),
        doc: "The codec of the topic's batches: \"producer\" keeps what the producer sent; \"uncompressed\", \"gzip\", \"snappy\", \"lz4\" or \"zstd\" has the broker rewrite each produced batch with it.",
    },
    TopicDef {
        name: "delete.retention.ms",
        kind: Kind::Log,
        ty: TYPE_LONG,
        default: "",
        broker: Some("log.cleaner.delete.retention.ms"),
        doc: "How long delete tombstones are kept on compacted topics after the cleaner first sees them.",
    },
    TopicDef {
        name: "file.delete.delay.ms",
        kind: Kind::Log,
        ty: TYPE_LONG,
        default: "",
        broker: Some("log.segment.delete.delay.ms"),
        doc: "The time to wait before deleting a file from the filesystem (accepted; fjord unlinks at once).",
    },
    TopicDef {
        name: "flush.messages",
        kind: Kind::Log,
        ty: TYPE_LONG,
        default: "",
        broker: Some("log.flush.interval.messages"),
        doc: "fsync the log every this many messages. Unset (with flush.ms unset), fjord fsyncs before \
              acknowledging a produce.",
    },
    TopicDef {
        name: "flush.ms",
        kind: Kind::Log,
        ty: TYPE_LONG,
        default: "",
        broker: Some("log.flush.interval.ms"),
        doc: "fsync the log at least this often. Unset (with flush.messages unset), fjord fsyncs before \
              acknowledging a produce.",
    },
    TopicDef {
        name: "follower.replication.throttled.replicas",
        kind: Kind::Stored(v_throttled_replicas),
        ty: TYPE_LIST,
        default: "",
        broker: None,
        doc: "Replicas whose follower replication is throttled (stored; fjord has no followers).",
    },
    TopicDef {
        name: "index.interval.bytes",
        kind: Kind::Log,
        ty: TYPE_INT,
        default: "",
        broker: Some("log.index.interval.bytes"),
        doc: "How many bytes of log lie between offset index entries.",
    },
    TopicDef {
        name: "leader.replication.throttled.replicas",
        kind: Kind::Stored(v_throttled_replicas),
        ty: TYPE_LIST,
        default: "",
        broker: None,
        doc: "Replicas whose leader-side replication is throttled (stored; fjord has no followers).",
    },
    TopicDef {
        name: "local.retention.bytes",
        kind: Kind::Fixed,
        ty: TYPE_LONG,
        default: "-2",
        broker: Some("log.local.retention.bytes"),
        doc: "Tiered storage local retention; fjord has no tiered storage.",
    },
    TopicDef {
        name: "local.retention.ms",
        kind: Kind::Fixed,
        ty: TYPE_LONG,
        default: "-2",
        broker: Some("log.local.retention.ms"),
        doc: "Tiered storage local retention; fjord has no tiered storage.",
    },
    TopicDef {
        name: "max.compaction.lag.ms",
        kind: Kind::Log,
        ty: TYPE_LONG,
        default: "",
        broker: Some("log.cleaner.max.compaction.lag.ms"),
        doc: "Compact regardless of the dirty ratio once the oldest uncompacted record is this old \
              (the active segment is not rolled for it).",
    },
    TopicDef {
        name: "max.message.bytes",
        kind: Kind::Log,
        ty: TYPE_INT,
        default: "",
        broker: Some("message.max.bytes"),
        doc: "The largest record batch size allowed.",
    },
    TopicDef {
        name: "message.timestamp.after.max.ms",
        kind: Kind::Fixed,
        ty: TYPE_LONG,
        default: LONG_MAX,
        broker: Some("log.message.timestamp.after.max.ms"),
        doc: "How far a record timestamp may lie in the future; fjord does not limit it.",
    },
    TopicDef {
        name: "message.timestamp.before.max.ms",
        kind: Kind::Fixed,
        ty: TYPE_LONG,
        default: LONG_MAX,
        broker: Some("log.message.timestamp.before.max.ms"),
        doc: "How far a record timestamp may lie in the past; fjord does not limit it.",
    },
    TopicDef {
        name: "message.timestamp.type",
        kind: Kind::Log,
        ty: TYPE_STRING,
        default: "",
        broker: Some("log.message.timestamp.type"),
        doc: "CreateTime (the producer's timestamp) or LogAppendTime (the broker's).",
    },
    TopicDef {
        name: "min.cleanable.dirty.ratio",
        kind: Kind::Log,
        ty: TYPE_DOUBLE,
        default: "",
        broker: Some("log.cleaner.min.cleanable.ratio"),
        doc: "Compact once the uncompacted part is more than this fraction of the cleanable log.",
    },
    TopicDef {
        name: "min.compaction.lag.ms",
        kind: Kind::Log,
        ty: TYPE_LONG,
        default: "",
        broker: Some("log.cleaner.min.compaction.lag.ms"),
        doc: "The shortest a message stays uncompacted.",
    },
    TopicDef {
        name: "min.insync.replicas",
        kind: Kind::Stored(v_int_ge1),
        ty: TYPE_INT,
        default: "1",
        broker: Some("min.insync.replicas"),
        doc: "The minimum number of in-sync replicas for an acks=all produce to succeed.",
    },
    TopicDef {
        name: "preallocate",
        kind: Kind::Stored(v_bool),
        ty: TYPE_BOOLEAN,
        default: "false",
        broker: Some("log.preallocate"),
        doc: "Whether to preallocate segment files (stored; fjord does not preallocate).",
    },
    TopicDef {
        name: "remote.storage.enable",
        kind: Kind::Fixed,
        ty: TYPE_BOOLEAN,
        default: "false",
        broker: None,
        doc: "Tiered storage; fjord has none.",
    },
    TopicDef {
        name: "retention.bytes",
        kind: Kind::Log,
        ty: TYPE_LONG,
        default: "",
        broker: Some("log.retention.bytes"),
        doc: "Delete the oldest segments while a partition is larger than this; -1 means no size limit.",
    },
    TopicDef {
        name: "retention.ms",
        kind: Kind::Log,
        ty: TYPE_LONG,
        default: "",
        broker: Some("log.retention.ms"),
        doc: "Delete segments whose newest record is older than this; -1 means no time limit.",
    },
    TopicDef {
        name: "segment.bytes",
        kind: Kind::Log,
        ty: TYPE_INT,
        default: "",
        broker: Some("log.segment.bytes"),
        doc: "The segment file size: a new segment is rolled before one would grow past this.",
    },
    TopicDef {
        name: "segment.index.bytes",
        kind: Kind::Stored(v_int_ge4),
        ty: TYPE_INT,
        default: "10485760",
        broker: Some("log.index.size.max.bytes"),
        doc: "The maximum offset index size (stored; fjord's indexes grow as needed).",
    },
    TopicDef {
        name: "segment.jitter.ms",
        kind: Kind::Stored(v_long_ge0),
        ty: TYPE_LONG,
        default: "0",
        broker: Some("log.roll.jitter.ms"),
        doc: "Random jitter subtracted from segment.ms (stored; not applied).",
    },
    TopicDef {
        name: "segment.ms",
        kind: Kind::Log,
        ty: TYPE_LONG,
        default: "",
        broker: Some("log.roll.ms"),
        doc: "Roll a new segment once the active one is this old.",
    },
    TopicDef {
        name: "unclean.leader.election.enable",
        kind: Kind::Stored(v_bool),
        ty: TYPE_BOOLEAN,
        default: "false",
        broker: Some("unclean.leader.election.enable"),
        doc: "Whether out-of-sync replicas may become leader (stored; a single node is always in sync).",
    },
];

fn topic_def(name: &str) -> Option<&'static TopicDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// Whether `name` is a topic config fjord accepts.
pub fn is_topic_config(name: &str) -> bool {
    topic_def(name).is_some()
}

/// Whether `name` is a list config (IncrementalAlterConfigs APPEND/SUBTRACT).
pub fn is_list_config(name: &str) -> bool {
    topic_def(name).is_some_and(|d| d.ty == TYPE_LIST)
}

/// The value a topic config has without a topic override: the broker's
/// default for storage configs, Kafka's default for the others.
pub fn topic_default_value(broker: &BrokerConfig, name: &str) -> Option<String> {
    let def = topic_def(name)?;
    match def.kind {
        Kind::Log => broker.log.get(name),
        Kind::Stored(_) | Kind::Fixed => Some(def.default.to_string()),
    }
}

/// A refused config change: the error code and message for the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub code: ErrorCode,
    pub message: String,
}

impl ConfigError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ConfigError {
        ConfigError {
            code,
            message: message.into(),
        }
    }

    fn invalid_value(name: &str, value: &str, reason: &str) -> ConfigError {
        ConfigError::new(
            ErrorCode::InvalidConfig,
            format!("Invalid value {value} for configuration {name}: {reason}"),
        )
    }
}

/// Checks a complete set of topic overrides and builds the effective log
/// config (the broker defaults with the overrides applied), as
/// `BrokerState` will when it opens the topic's logs.
pub fn validate_topic_configs(
    broker: &BrokerConfig,
    overrides: &BTreeMap<String, String>,
) -> Result<LogConfig, ConfigError> {
    let mut log = broker.log.clone();
    for (name, value) in overrides {
        let Some(def) = topic_def(name) else {
            return Err(ConfigError::new(
                ErrorCode::InvalidConfig,
                format!("Unknown topic config name: {name}"),
            ));
        };
        match def.kind {
            Kind::Log => match log.set(name, value) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(ConfigError::new(
                        ErrorCode::InvalidConfig,
                        format!("Unknown topic config name: {name}"),
                    ))
                }
                Err(fjord_storage::StorageError::InvalidConfig { reason, .. }) => {
                    return Err(ConfigError::invalid_value(name, value, &reason))
                }
                Err(e) => return Err(ConfigError::invalid_value(name, value, &e.to_string())),
            },
            Kind::Stored(check) => {
                check(value).map_err(|reason| ConfigError::invalid_value(name, value, &reason))?
            }
            Kind::Fixed => {
                if value.trim() != def.default {
                    return Err(ConfigError::invalid_value(
                        name,
                        value,
                        &format!("fjord supports only {}={}", def.name, def.default),
                    ));
                }
            }
        }
    }
    if let Err(e) = log.validate() {
        return Err(ConfigError::new(ErrorCode::InvalidConfig, e.to_string()));
    }
    let lag = |name: &str| -> i64 {
        overrides
            .get(name)
            .cloned()
            .or_else(|| topic_default_value(broker, name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let (min_lag, max_lag) = (lag("min.compaction.lag.ms"), lag("max.compaction.lag.ms"));
    if min_lag > max_lag {
        return Err(ConfigError::new(
            ErrorCode::InvalidConfig,
            format!("conflict topic config setting min.compaction.lag.ms ({min_lag}) > max.compaction.lag.ms ({max_lag})"),
        ));
    }
    Ok(log)
}

/// The topic an AlterConfigs / IncrementalAlterConfigs resource names.
/// Broker configs are static in fjord (set in the config file).
pub fn alter_target(
    state: &BrokerState,
    resource_type: i8,
    name: &str,
) -> Result<Arc<Topic>, ConfigError> {
    match resource_type {
        RESOURCE_TOPIC => {
            validate_topic_name(name)
                .map_err(|m| ConfigError::new(ErrorCode::InvalidTopicException, m))?;
            state.topic(name).ok_or_else(|| {
                ConfigError::new(
                    ErrorCode::UnknownTopicOrPartition,
                    format!("The topic '{name}' does not exist."),
                )
            })
        }
        RESOURCE_BROKER | RESOURCE_BROKER_LOGGER => Err(ConfigError::new(
            ErrorCode::InvalidRequest,
            "fjord does not support dynamic broker configs; set them in the broker's config file",
        )),
        other => Err(ConfigError::new(
            ErrorCode::InvalidRequest,
            format!("Unsupported resource type: {other}"),
        )),
    }
}

/// The (type, name) pairs that occur more than once in a request.
pub fn duplicate_resources<'a>(
    resources: impl IntoIterator<Item = (i8, &'a str)>,
) -> HashSet<(i8, String)> {
    let mut counts: HashMap<(i8, &str), usize> = HashMap::new();
    for r in resources {
        *counts.entry(r).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|((t, name), _)| (t, name.to_string()))
        .collect()
}

/// Gives `topic` new overrides and the effective `log` config built from
/// them by [`validate_topic_configs`]: persists the topic and points every
/// partition's log at the new config. The caller holds `admin_lock`.
pub fn apply_topic_configs(
    state: &BrokerState,
    topic: &Topic,
    overrides: BTreeMap<String, String>,
    log: LogConfig,
) -> Result<(), ConfigError> {
    let storage_err = |e: String| ConfigError::new(ErrorCode::KafkaStorageError, e);
    state
        .replace_topic(Topic {
            name: topic.name.clone(),
            id: topic.id,
            metrics: topic.metrics.clone(),
            configs: overrides,
            log_config: log.clone(),
            partitions: topic.partitions.clone(),
            internal: topic.internal,
        })
        .map_err(|e| storage_err(format!("Saving the topic configs failed: {e}")))?;
    for p in &topic.partitions {
        p.log.update_config(log.clone()).map_err(|e| {
            storage_err(format!(
                "Applying the configs to partition {} failed: {e}",
                p.index
            ))
        })?;
    }
    Ok(())
}

/// One described config, independent of the response type that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub name: String,
    pub value: Option<String>,
    pub read_only: bool,
    pub source: i8,
    pub sensitive: bool,
    pub config_type: i8,
    pub documentation: Option<&'static str>,
    /// Most specific first, starting with the entry's own source.
    pub synonyms: Vec<(String, Option<String>, i8)>,
}

impl Described {
    pub fn is_default(&self) -> bool {
        self.source == SOURCE_DEFAULT
    }
}

/// Every config of a topic with `overrides` (its `Topic::configs`) and the
/// effective `log` config (its `Topic::log_config`).
pub fn describe_topic(
    broker: &BrokerConfig,
    overrides: &BTreeMap<String, String>,
    log: &LogConfig,
) -> Vec<Described> {
    let storage_defaults = LogConfig::default();
    let mut out = Vec::with_capacity(TOPIC_CONFIGS.len());
    for def in TOPIC_CONFIGS {
        let over = overrides.get(def.name);
        let (value, default) = match def.kind {
            Kind::Log => (log.get(def.name), storage_defaults.get(def.name)),
            Kind::Stored(_) | Kind::Fixed => (
                Some(over.cloned().unwrap_or_else(|| def.default.to_string())),
                Some(def.default.to_string()),
            ),
        };
        let mut synonyms = Vec::new();
        if let Some(v) = over {
            let v = match def.kind {
                Kind::Log => value.clone(),
                _ => Some(v.clone()),
            };
            synonyms.push((def.name.to_string(), v, SOURCE_DYNAMIC_TOPIC));
        }
        let broker_name = def.broker.unwrap_or(def.name);
        if let Some(b) = def.broker {
            if broker.static_overrides.contains_key(b) {
                let v = match def.kind {
                    Kind::Log => broker.log.get(def.name),
                    _ => broker.static_overrides.get(b).cloned(),
                };
                synonyms.push((b.to_string(), v, SOURCE_STATIC_BROKER));
            }
        }
        synonyms.push((broker_name.to_string(), default, SOURCE_DEFAULT));
        out.push(Described {
            name: def.name.to_string(),
            value,
            read_only: matches!(def.kind, Kind::Fixed),
            source: synonyms[0].2,
            sensitive: false,
            config_type: def.ty,
            documentation: Some(def.doc),
            synonyms,
        });
    }
    // Overrides fjord does not know (kept from elsewhere) are still shown.
    for (name, value) in overrides {
        if topic_def(name).is_none() {
            out.push(Described {
                name: name.clone(),
                value: Some(value.clone()),
                read_only: false,
                source: SOURCE_DYNAMIC_TOPIC,
                sensitive: false,
                config_type: TYPE_UNKNOWN,
                documentation: None,
                synonyms: vec![(name.clone(), Some(value.clone()), SOURCE_DYNAMIC_TOPIC)],
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The broker's own configs (all static: fjord has no dynamic broker
/// configs, so every one is read-only).
pub fn describe_broker(broker: &BrokerConfig) -> Vec<Described> {
    let defaults = BrokerConfig::default();
    let listener = |addr: &str| format!("PLAINTEXT://{addr}");
    // (name, type, value, default value, doc)
    let mut rows: Vec<(String, i8, String, String, &'static str)> = vec![
        (
            "advertised.listeners".into(),
            TYPE_LIST,
            listener(broker.advertised()),
            listener(defaults.advertised()),
            "The address given to clients in metadata.",
        ),
        (
            "auto.create.topics.enable".into(),
            TYPE_BOOLEAN,
            broker.auto_create_topics.to_string(),
            defaults.auto_create_topics.to_string(),
            "Whether Metadata requests create unknown topics.",
        ),
        (
            "broker.id".into(),
            TYPE_INT,
            broker.node_id.to_string(),
            defaults.node_id.to_string(),
            "This broker's id (the same as node.id).",
        ),
        (
            "default.replication.factor".into(),
            TYPE_INT,
            "1".into(),
            "1".into(),
            "The replication factor of created topics; fjord is a single node.",
        ),
        (
            "delete.topic.enable".into(),
            TYPE_BOOLEAN,
            broker.delete_topic_enable.to_string(),
            defaults.delete_topic_enable.to_string(),
            "Whether DeleteTopics is allowed.",
        ),
        (
            "group.initial.rebalance.delay.ms".into(),
            TYPE_INT,
            broker.group.initial_rebalance_delay_ms.to_string(),
            defaults.group.initial_rebalance_delay_ms.to_string(),
            "How long the first rebalance of an empty group waits for more members (Kafka's default is 3000).",
        ),
        (
            "group.max.session.timeout.ms".into(),
            TYPE_INT,
            broker.group.max_session_timeout_ms.to_string(),
            defaults.group.max_session_timeout_ms.to_string(),
            "The longest session timeout a group member may ask for.",
        ),
        (
            "group.min.session.timeout.ms".into(),
            TYPE_INT,
            broker.group.min_session_timeout_ms.to_string(),
            defaults.group.min_session_timeout_ms.to_string(),
            "The shortest session timeout a group member may ask for.",
        ),
        (
            "listeners".into(),
            TYPE_LIST,
            listener(&broker.listen),
            listener(&defaults.listen),
            "The address the Kafka listener binds.",
        ),
        (
            "log.dirs".into(),
            TYPE_STRING,
            broker.data_dir.display().to_string(),
            defaults.data_dir.display().to_string(),
            "The data directory.",
        ),
        (
            "log.cleaner.backoff.ms".into(),
            TYPE_LONG,
            broker.log_cleaner_backoff_ms.to_string(),
            defaults.log_cleaner_backoff_ms.to_string(),
            "How often the log cleaner looks for compacted topics to clean.",
        ),
        (
            "log.cleaner.enable".into(),
            TYPE_BOOLEAN,
            broker.log_cleaner_enable.to_string(),
            defaults.log_cleaner_enable.to_string(),
            "Whether the log cleaner compacts topics with cleanup.policy=compact.",
        ),
        (
            "offsets.topic.segment.bytes".into(),
            TYPE_INT,
            broker.offsets_topic_segment_bytes.to_string(),
            defaults.offsets_topic_segment_bytes.to_string(),
            "segment.bytes of __consumer_offsets when it is created.",
        ),
        (
            "log.retention.check.interval.ms".into(),
            TYPE_LONG,
            broker.retention_check_interval_ms.to_string(),
            defaults.retention_check_interval_ms.to_string(),
            "How often retention runs.",
        ),
        (
            "node.id".into(),
            TYPE_INT,
            broker.node_id.to_string(),
            defaults.node_id.to_string(),
            "This broker's id.",
        ),
        (
            "num.partitions".into(),
            TYPE_INT,
            broker.num_partitions.to_string(),
            defaults.num_partitions.to_string(),
            "The partition count of auto-created topics and of CreateTopics with -1 partitions.",
        ),
        (
            "offset.metadata.max.bytes".into(),
            TYPE_INT,
            broker.group.offset_metadata_max_bytes.to_string(),
            defaults.group.offset_metadata_max_bytes.to_string(),
            "The longest metadata string an offset commit may carry.",
        ),
        (
            "offsets.retention.check.interval.ms".into(),
            TYPE_LONG,
            broker.group.offsets_retention_check_interval_ms.to_string(),
            defaults.group.offsets_retention_check_interval_ms.to_string(),
            "How often expired committed offsets are removed.",
        ),
        (
            "offsets.retention.minutes".into(),
            TYPE_INT,
            (broker.group.offsets_retention_ms / 60_000).to_string(),
            (defaults.group.offsets_retention_ms / 60_000).to_string(),
            "How long committed offsets of a group without members are kept.",
        ),
        (
            "offsets.topic.num.partitions".into(),
            TYPE_INT,
            broker.group.offsets_topic_num_partitions.to_string(),
            defaults.group.offsets_topic_num_partitions.to_string(),
            "The partition count of __consumer_offsets when it is created (Kafka's default is 50).",
        ),
        (
            "connections.max.idle.ms".into(),
            TYPE_LONG,
            broker.connections_max_idle_ms.to_string(),
            defaults.connections_max_idle_ms.to_string(),
            "A connection with no traffic and no request in flight for this long is closed.",
        ),
        (
            "fjord.request.read.timeout.ms".into(),
            TYPE_LONG,
            broker.request_read_timeout_ms.to_string(),
            defaults.request_read_timeout_ms.to_string(),
            "Once a request's size has arrived, its whole body must arrive within this time.",
        ),
        (
            "queued.max.request.bytes".into(),
            TYPE_LONG,
            broker.queued_max_request_bytes.to_string(),
            defaults.queued_max_request_bytes.to_string(),
            "Request bytes held in memory across connections before reading more waits (-1: no limit; Kafka's default is -1).",
        ),
        (
            "socket.request.max.bytes".into(),
            TYPE_INT,
            broker.socket_request_max_bytes.to_string(),
            defaults.socket_request_max_bytes.to_string(),
            "The largest request the broker reads.",
        ),
        (
            "transaction.max.timeout.ms".into(),
            TYPE_INT,
            broker.transaction_max_timeout_ms.to_string(),
            defaults.transaction_max_timeout_ms.to_string(),
            "The longest transaction.timeout.ms a transactional producer may ask for.",
        ),
    ];
    // Broker-level defaults of topic configs.
    for def in TOPIC_CONFIGS {
        let Some(b) = def.broker else { continue };
        if rows.iter().any(|r| r.0 == b) {
            continue;
        }
        let (value, default) = match def.kind {
            Kind::Log => (
                broker.log.get(def.name).unwrap_or_default(),
                LogConfig::default().get(def.name).unwrap_or_default(),
            ),
            _ => (def.default.to_string(), def.default.to_string()),
        };
        rows.push((b.to_string(), def.ty, value, default, def.doc));
    }
    debug_assert!(BROKER_TO_TOPIC
        .iter()
        .all(|(b, _)| rows.iter().any(|r| r.0 == *b)));
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.into_iter()
        .map(|(name, ty, value, default, doc)| {
            let is_static = broker.static_overrides.contains_key(&name) || value != default;
            let mut synonyms = Vec::new();
            if is_static {
                synonyms.push((name.clone(), Some(value.clone()), SOURCE_STATIC_BROKER));
            }
            synonyms.push((name.clone(), Some(default), SOURCE_DEFAULT));
            Described {
                source: synonyms[0].2,
                name,
                value: Some(value),
                read_only: true,
                sensitive: false,
                config_type: ty,
                documentation: Some(doc),
                synonyms,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
