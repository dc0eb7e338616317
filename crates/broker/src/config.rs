//! Broker configuration: zero-config defaults, a TOML file with Kafka's
//! config names, and the broker-level log defaults topics inherit.

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use fjord_group_coordinator::GroupConfig;
use fjord_storage::LogConfig;

/// Maps a broker-level log setting to the topic-level name it defaults.
pub const BROKER_TO_TOPIC: &[(&str, &str)] = &[
    ("log.segment.bytes", "segment.bytes"),
    ("log.roll.ms", "segment.ms"),
    ("log.retention.ms", "retention.ms"),
    ("log.retention.bytes", "retention.bytes"),
    ("log.index.interval.bytes", "index.interval.bytes"),
    ("log.flush.interval.messages", "flush.messages"),
    ("log.flush.interval.ms", "flush.ms"),
    ("message.max.bytes", "max.message.bytes"),
    ("log.message.timestamp.type", "message.timestamp.type"),
    ("log.cleanup.policy", "cleanup.policy"),
    ("log.segment.delete.delay.ms", "file.delete.delay.ms"),
    ("log.cleaner.delete.retention.ms", "delete.retention.ms"),
    (
        "log.cleaner.min.cleanable.ratio",
        "min.cleanable.dirty.ratio",
    ),
    ("log.cleaner.min.compaction.lag.ms", "min.compaction.lag.ms"),
    ("log.cleaner.max.compaction.lag.ms", "max.compaction.lag.ms"),
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {msg}")]
    File { path: String, msg: String },
    #[error("invalid value for {key}: {msg}")]
    Invalid { key: String, msg: String },
}

/// Everything the broker needs to start. `Default` is the zero-config
/// developer setup.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    pub node_id: i32,
    pub data_dir: PathBuf,
    /// Kafka listener address.
    pub listen: String,
    /// Address given to clients in metadata; defaults to `listen`.
    pub advertise: Option<String>,
    /// HTTP listener (health, later metrics).
    pub http: String,
    /// The schema registry's listener.
    pub schema_registry: SchemaRegistryListen,
    /// `num.partitions` for auto-created topics.
    pub num_partitions: i32,
    /// `auto.create.topics.enable`.
    pub auto_create_topics: bool,
    /// `socket.request.max.bytes`: larger frames are refused unread.
    pub socket_request_max_bytes: usize,
    /// `log.retention.check.interval.ms`.
    pub retention_check_interval_ms: u64,
    /// `delete.topic.enable`.
    pub delete_topic_enable: bool,
    /// `log.cleaner.enable`: whether the log cleaner compacts topics whose
    /// `cleanup.policy` includes `compact`.
    pub log_cleaner_enable: bool,
    /// `log.cleaner.backoff.ms`: how often the log cleaner looks for logs
    /// to compact.
    pub log_cleaner_backoff_ms: u64,
    /// `offsets.topic.segment.bytes`: `segment.bytes` of `__consumer_offsets`
    /// when it is created.
    pub offsets_topic_segment_bytes: i32,
    /// Defaults for every topic's log config.
    pub log: LogConfig,
    /// The consumer group coordinator's settings.
    pub group: GroupConfig,
    /// `group.consumer.*`: consumer groups of the KIP-848 protocol.
    pub consumer_group: fjord_group_coordinator::consumer::ConsumerGroupConfig,
    /// Broker-level settings given explicitly (by file), Kafka names.
    pub static_overrides: BTreeMap<String, String>,
    /// `transaction.max.timeout.ms`: the longest `transaction.timeout.ms`
    /// a transactional producer may ask for.
    pub transaction_max_timeout_ms: i32,
    /// `fjord.slow.request.ms`: requests taking longer are logged at warn
    /// (0 turns it off). Waiting by design does not count (see `metrics`).
    pub slow_request_ms: u64,
    /// `connections.max.idle.ms`: a connection with no bytes moving and no
    /// request in flight for this long is closed.
    pub connections_max_idle_ms: u64,
    /// `fjord.request.read.timeout.ms`: once a request's length has
    /// arrived, its whole body must arrive within this time.
    pub request_read_timeout_ms: u64,
    /// `queued.max.request.bytes`: request bytes held in memory across all
    /// connections before reading more waits (negative: no limit).
    pub queued_max_request_bytes: i64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            node_id: 1,
            data_dir: PathBuf::from("fjord-data"),
            listen: "127.0.0.1:9092".into(),
            advertise: None,
            http: "127.0.0.1:9644".into(),
            schema_registry: SchemaRegistryListen::Default,
            num_partitions: 1,
            auto_create_topics: true,
            socket_request_max_bytes: 100 * 1024 * 1024,
            retention_check_interval_ms: 300_000,
            delete_topic_enable: true,
            log_cleaner_enable: true,
            log_cleaner_backoff_ms: 15_000,
            offsets_topic_segment_bytes: 100 * 1024 * 1024,
            log: LogConfig::default(),
            group: GroupConfig::default(),
            consumer_group: Default::default(),
            static_overrides: BTreeMap::new(),
            slow_request_ms: 1000,
            connections_max_idle_ms: 600_000,
            request_read_timeout_ms: 30_000,
            queued_max_request_bytes: 100 * 1024 * 1024,
            transaction_max_timeout_ms: fjord_txn_coordinator::MAX_TIMEOUT_MS,
        }
    }
}

impl BrokerConfig {
    /// Applies one broker setting by its Kafka name. Unknown names are
    /// reported back as `Ok(false)` so the caller can warn.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        let invalid = |msg: String| ConfigError::Invalid {
            key: key.to_string(),
            msg,
        };
        let parse_i64 = |v: &str| {
            v.trim()
                .parse::<i64>()
                .map_err(|e| invalid(format!("{v:?}: {e}")))
        };
        let parse_in = |v: &str, min: i64, max: i64| {
            let n = parse_i64(v)?;
            if !(min..=max).contains(&n) {
                return Err(invalid(format!("{n} is not between {min} and {max}")));
            }
            Ok(n)
        };
        match key {
            "node.id" | "broker.id" => {
                self.node_id =
                    i32::try_from(parse_i64(value)?).map_err(|e| invalid(e.to_string()))?;
            }
            "log.dirs" | "log.dir" => self.data_dir = PathBuf::from(value),
            "num.partitions" => {
                let n = parse_i64(value)?;
                if !(1..=100_000).contains(&n) {
                    return Err(invalid(format!("{n} is not between 1 and 100000")));
                }
                self.num_partitions = n as i32;
            }
            "auto.create.topics.enable" => {
                self.auto_create_topics = parse_bool(value).map_err(invalid)?
            }
            "delete.topic.enable" => {
                self.delete_topic_enable = parse_bool(value).map_err(invalid)?
            }
            "socket.request.max.bytes" => {
                let n = parse_i64(value)?;
                if n < 1024 {
                    return Err(invalid(format!("{n} is below 1024")));
                }
                self.socket_request_max_bytes = n as usize;
            }
            "log.retention.check.interval.ms" => {
                let n = parse_i64(value)?;
                if n < 1 {
                    return Err(invalid(format!("{n} must be positive")));
                }
                self.retention_check_interval_ms = n as u64;
            }
            "fjord.slow.request.ms" => {
                let n = parse_i64(value)?;
                self.slow_request_ms =
                    u64::try_from(n).map_err(|_| invalid(format!("{n} must not be negative")))?;
            }
            "connections.max.idle.ms" => {
                self.connections_max_idle_ms = parse_in(value, 1, i64::MAX)? as u64
            }
            "fjord.request.read.timeout.ms" => {
                self.request_read_timeout_ms = parse_in(value, 1, i64::MAX)? as u64
            }
            "queued.max.request.bytes" => {
                let n = parse_i64(value)?;
                if n == 0 || n < -1 {
                    return Err(invalid(format!("{n} must be positive or -1 (no limit)")));
                }
                self.queued_max_request_bytes = n;
            }
            "log.cleaner.enable" => self.log_cleaner_enable = parse_bool(value).map_err(invalid)?,
            "log.cleaner.backoff.ms" => {
                let n = parse_i64(value)?;
                if n < 1 {
                    return Err(invalid(format!("{n} must be positive")));
                }
                self.log_cleaner_backoff_ms = n as u64;
            }
            "transaction.max.timeout.ms" => {
                self.transaction_max_timeout_ms = parse_in(value, 1, i64::from(i32::MAX))? as i32;
            }
            "offsets.topic.segment.bytes" => {
                let n = parse_i64(value)?;
                self.offsets_topic_segment_bytes = i32::try_from(n)
                    .ok()
                    .filter(|n| *n >= 14)
                    .ok_or_else(|| invalid(format!("{n} is not between 14 and 2147483647")))?;
            }
            "log.retention.hours" => {
                return self.set(
                    "log.retention.ms",
                    &(parse_i64(value)? * 3_600_000).to_string(),
                )
            }
            "log.retention.minutes" => {
                return self.set(
                    "log.retention.ms",
                    &(parse_i64(value)? * 60_000).to_string(),
                )
            }
            "group.initial.rebalance.delay.ms" => {
                self.group.initial_rebalance_delay_ms = parse_in(value, 0, i64::from(i32::MAX))?
            }
            "offsets.topic.num.partitions" => {
                self.group.offsets_topic_num_partitions = parse_in(value, 1, 100_000)? as i32
            }
            "offsets.retention.minutes" => {
                self.group.offsets_retention_ms = parse_in(value, 1, i64::from(i32::MAX))? * 60_000
            }
            "offsets.retention.check.interval.ms" => {
                self.group.offsets_retention_check_interval_ms = parse_in(value, 1, i64::MAX)?
            }
            "group.min.session.timeout.ms" => {
                self.group.min_session_timeout_ms = parse_in(value, 0, i64::from(i32::MAX))? as i32
            }
            "group.max.session.timeout.ms" => {
                self.group.max_session_timeout_ms = parse_in(value, 0, i64::from(i32::MAX))? as i32
            }
            "offset.metadata.max.bytes" => {
                self.group.offset_metadata_max_bytes =
                    parse_in(value, 0, i64::from(i32::MAX))? as usize
            }
            "log.roll.hours" => {
                return self.set("log.roll.ms", &(parse_i64(value)? * 3_600_000).to_string())
            }
            k if k.starts_with("group.consumer.") => {
                if !self.consumer_group.set(k, value).map_err(invalid)? {
                    return Ok(false);
                }
            }
            _ => {
                let Some((_, topic_key)) = BROKER_TO_TOPIC.iter().find(|(b, _)| *b == key) else {
                    return Ok(false);
                };
                self.log
                    .set(topic_key, value)
                    .map_err(|e| invalid(e.to_string()))?;
            }
        }
        self.static_overrides
            .insert(key.to_string(), value.to_string());
        Ok(true)
    }

    /// Loads a TOML file of `"kafka.name" = value` pairs (nested tables are
    /// flattened with dots). Returns the keys fjord does not know.
    pub fn load_toml(&mut self, path: &std::path::Path) -> Result<Vec<String>, ConfigError> {
        let file_err = |msg: String| ConfigError::File {
            path: path.display().to_string(),
            msg,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| file_err(e.to_string()))?;
        let mut flat = Vec::new();
        flatten("", &table, &mut flat);
        let mut unknown = Vec::new();
        for (k, v) in flat {
            if !self.set(&k, &v)? {
                unknown.push(k);
            }
        }
        self.validate()?;
        Ok(unknown)
    }

    /// Checks settings that constrain each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.group.min_session_timeout_ms > self.group.max_session_timeout_ms {
            return Err(ConfigError::Invalid {
                key: "group.min.session.timeout.ms".into(),
                msg: format!(
                    "{} is above group.max.session.timeout.ms ({})",
                    self.group.min_session_timeout_ms, self.group.max_session_timeout_ms
                ),
            });
        }
        Ok(())
    }

    /// The address clients are told to connect to.
    pub fn advertised(&self) -> &str {
        self.advertise.as_deref().unwrap_or(&self.listen)
    }
}

fn flatten(prefix: &str, t: &toml::Table, out: &mut Vec<(String, String)>) {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(inner) => flatten(&key, inner, out),
            toml::Value::String(s) => out.push((key, s.clone())),
            other => out.push((key, other.to_string())),
        }
    }
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("{other:?} is not true or false")),
    }
}

/// Splits `host:port` (IPv6 in brackets) for metadata responses.
pub fn split_host_port(addr: &str) -> Option<(String, i32)> {
    let (host, port) = addr.rsplit_once(':')?;
    let port: i32 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_names_map_to_topic_defaults() {
        let mut c = BrokerConfig::default();
        assert!(c.set("log.retention.hours", "1").unwrap());
        assert_eq!(c.log.retention_ms, 3_600_000);
        assert!(c.set("num.partitions", "3").unwrap());
        assert!(!c.set("no.such.key", "1").unwrap());
        assert!(c.set("num.partitions", "zero").is_err());
        assert!(c.set("log.segment.bytes", "-5").is_err());
    }

    #[test]
    fn cleaner_settings() {
        let mut c = BrokerConfig::default();
        assert!(c.log_cleaner_enable);
        assert_eq!(c.log_cleaner_backoff_ms, 15_000);
        assert_eq!(c.offsets_topic_segment_bytes, 104_857_600);
        assert!(c.set("log.cleaner.backoff.ms", "200").unwrap());
        assert!(c.set("log.cleaner.enable", "false").unwrap());
        assert!(c.set("offsets.topic.segment.bytes", "4096").unwrap());
        assert!(c.set("log.cleaner.min.cleanable.ratio", "0.1").unwrap());
        assert!(c.set("log.cleaner.delete.retention.ms", "1000").unwrap());
        assert_eq!(
            (c.log_cleaner_backoff_ms, c.log_cleaner_enable),
            (200, false)
        );
        assert_eq!(c.offsets_topic_segment_bytes, 4096);
        assert_eq!(c.log.min_cleanable_dirty_ratio, 0.1);
        assert_eq!(c.log.delete_retention_ms, 1000);
        assert!(c.set("log.cleaner.backoff.ms", "0").is_err());
        assert!(c.set("offsets.topic.segment.bytes", "10").is_err());
        assert!(c.set("log.cleaner.min.cleanable.ratio", "2").is_err());
    }

    #[test]
    fn group_settings() {
        let mut c = BrokerConfig::default();
        assert_eq!(c.group, GroupConfig::default());
        assert_eq!(c.group.offsets_retention_ms, 7 * 24 * 3_600_000);
        assert!(c.set("group.initial.rebalance.delay.ms", "3000").unwrap());
        assert!(c.set("offsets.topic.num.partitions", "3").unwrap());
        assert!(c.set("offsets.retention.minutes", "2").unwrap());
        assert!(c.set("offsets.retention.check.interval.ms", "500").unwrap());
        assert!(c.set("group.min.session.timeout.ms", "1000").unwrap());
        assert!(c.set("group.max.session.timeout.ms", "60000").unwrap());
        assert!(c.set("offset.metadata.max.bytes", "10").unwrap());
        assert_eq!(
            c.group,
            GroupConfig {
                initial_rebalance_delay_ms: 3000,
                offsets_topic_num_partitions: 3,
                offsets_retention_ms: 120_000,
                offsets_retention_check_interval_ms: 500,
                min_session_timeout_ms: 1000,
                max_session_timeout_ms: 60_000,
                offset_metadata_max_bytes: 10,
            }
        );
        assert!(c.validate().is_ok());
        assert!(c.set("offsets.topic.num.partitions", "0").is_err());
        assert!(c.set("group.initial.rebalance.delay.ms", "-1").is_err());
        assert!(c.set("offsets.retention.minutes", "0").is_err());
        assert!(c.set("group.min.session.timeout.ms", "90000").unwrap());
        assert!(c.validate().is_err());
    }

    #[test]
    fn host_port() {
        assert_eq!(
            split_host_port("127.0.0.1:9092"),
            Some(("127.0.0.1".into(), 9092))
        );
        assert_eq!(split_host_port("[::1]:9"), Some(("::1".into(), 9)));
        assert_eq!(split_host_port("nohost"), None);
    }
}

/// Where the schema registry listens (`--schema-registry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaRegistryListen {
    /// `127.0.0.1:8081`; if that port is taken, the broker runs without a
    /// registry and logs a warning.
    Default,
    /// An address given explicitly: failing to bind it is a startup error.
    Addr(String),
    /// `--schema-registry off`.
    Off,
}

impl SchemaRegistryListen {
    /// Parses the flag's value: `off`, or HOST:PORT.
    pub fn parse(s: &str) -> Result<SchemaRegistryListen, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(SchemaRegistryListen::Off);
        }
        if split_host_port(s).is_none() {
            return Err(format!(
                "schema registry address {s:?} is not HOST:PORT or off"
            ));
        }
        Ok(SchemaRegistryListen::Addr(s.to_string()))
    }
}
