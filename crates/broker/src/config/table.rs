//! The tables of the config catalogue: [`TOPIC_KEYS`] (topic configs
//! storage does not own) and [`BROKER_KEYS`] (broker-only configs and
//! synonyms), with the parsers their entries use. `keys.rs` joins them
//! with storage's `LOG_SETTINGS`.

use fjord_storage::config::{parse_bool, parse_int, parse_long};
use fjord_storage::ValueType;

use super::keys::{Apply, BrokerKey, Flag, KeyDefault, Mode, TopicKey, TopicKind};
use crate::security::listeners;

fn ms_from(factor: i64) -> impl Fn(&str) -> Result<String, String> {
    move |v| {
        let n = parse_long(v, i64::MIN / factor, i64::MAX / factor)?;
        // As Kafka: any negative time means "no limit" (-1).
        Ok(if n < 0 { -1 } else { n * factor }.to_string())
    }
}

fn bool_field(v: &str) -> Result<bool, String> {
    parse_bool(v)
}

/// Splits `host:port` (IPv6 in brackets) for metadata responses.
pub fn split_host_port(addr: &str) -> Option<(String, i32)> {
    let (host, port) = addr.rsplit_once(':')?;
    let port: i32 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_string(), port))
}

fn check_compression(v: &str) -> Result<(), String> {
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
fn check_throttled_replicas(v: &str) -> Result<(), String> {
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

/// Every topic config not owned by storage, sorted by name.
pub const TOPIC_KEYS: &[TopicKey] = &[
    TopicKey {
        name: "compression.type",
        broker_name: Some("compression.type"),
        ty: ValueType::String,
        default: "producer",
        kind: TopicKind::Stored(check_compression),
        doc: "The codec of the topic's batches: \"producer\" keeps what the producer sent; \"uncompressed\", \
              \"gzip\", \"snappy\", \"lz4\" or \"zstd\" has the broker rewrite each produced batch with it.",
    },
    TopicKey {
        name: "follower.replication.throttled.replicas",
        broker_name: None,
        ty: ValueType::List,
        default: "",
        kind: TopicKind::Stored(check_throttled_replicas),
        doc: "Replicas whose follower replication is throttled (stored; fjord has no followers).",
    },
    TopicKey {
        name: "leader.replication.throttled.replicas",
        broker_name: None,
        ty: ValueType::List,
        default: "",
        kind: TopicKind::Stored(check_throttled_replicas),
        doc: "Replicas whose leader-side replication is throttled (stored; fjord has no followers).",
    },
    TopicKey {
        name: "min.insync.replicas",
        broker_name: Some("min.insync.replicas"),
        ty: ValueType::Int,
        default: "1",
        kind: TopicKind::Stored(|v| parse_int(v, 1, i64::from(i32::MAX)).map(drop)),
        doc: "The minimum number of in-sync replicas for an acks=all produce to succeed (one node has one).",
    },
    TopicKey {
        name: "preallocate",
        broker_name: Some("log.preallocate"),
        ty: ValueType::Boolean,
        default: "false",
        kind: TopicKind::Stored(|v| parse_bool(v).map(drop)),
        doc: "Whether to preallocate segment files (stored; fjord does not preallocate).",
    },
    TopicKey {
        name: "remote.storage.enable",
        broker_name: None,
        ty: ValueType::Boolean,
        default: "false",
        kind: TopicKind::Fixed,
        doc: "Tiered storage; fjord has none, so only false is accepted.",
    },
    TopicKey {
        name: "segment.index.bytes",
        broker_name: Some("log.index.size.max.bytes"),
        ty: ValueType::Int,
        default: "10485760",
        kind: TopicKind::Stored(|v| parse_int(v, 4, i64::from(i32::MAX)).map(drop)),
        doc: "The maximum offset index size (stored; fjord's indexes grow as needed).",
    },
    TopicKey {
        name: "segment.jitter.ms",
        broker_name: Some("log.roll.jitter.ms"),
        ty: ValueType::Long,
        default: "0",
        kind: TopicKind::Stored(|v| parse_long(v, 0, i64::MAX).map(drop)),
        doc: "Random jitter subtracted from segment.ms (stored; not applied).",
    },
    TopicKey {
        name: "unclean.leader.election.enable",
        broker_name: Some("unclean.leader.election.enable"),
        ty: ValueType::Boolean,
        default: "false",
        kind: TopicKind::Stored(|v| parse_bool(v).map(drop)),
        doc: "Whether out-of-sync replicas may become leader (stored; a single node is always in sync).",
    },
];

macro_rules! field {
    ($set:expr, $get:expr) => {
        Apply::Field {
            set: $set,
            get: $get,
        }
    };
}

/// Broker-only keys (and synonyms), sorted by name.
pub const BROKER_KEYS: &[BrokerKey] = &[
    BrokerKey {
        name: "advertised.listeners",
        ty: ValueType::String,
        default: KeyDefault::None,
        mode: Mode::ReadOnly,
        flag: Some(Flag {
            long: "advertise",
            env: "FJORD_ADVERTISE",
        }),
        doc: "What clients are told to connect to, per listener name (NAME://HOST:PORT,...; a bare \
              HOST:PORT is the PLAINTEXT listener); a listener not named here advertises its own address.",
        apply: field!(
            |c, v| {
                c.advertised_listeners = listeners::parse_endpoints(v)?;
                Ok(())
            },
            |c| Some(listeners::print_endpoints(&c.advertised_listeners)).filter(|s| !s.is_empty())
        ),
    },
    BrokerKey {
        name: "auto.create.topics.enable",
        ty: ValueType::Boolean,
        default: KeyDefault::Value("true"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "Whether Metadata requests create unknown topics (with num.partitions partitions).",
        apply: field!(
            |c, v| {
                c.auto_create_topics = bool_field(v)?;
                Ok(())
            },
            |c| Some(c.auto_create_topics.to_string())
        ),
    },
    BrokerKey {
        name: "broker.id",
        ty: ValueType::Int,
        default: KeyDefault::None,
        mode: Mode::ReadOnly,
        flag: None,
        doc: "This broker's id; the same as node.id.",
        apply: field!(
            |c, v| {
                c.node_id = parse_int(v, 0, i64::from(i32::MAX))? as i32;
                Ok(())
            },
            |c| Some(c.node_id.to_string())
        ),
    },
    BrokerKey {
        name: "connections.max.idle.ms",
        ty: ValueType::Long,
        default: KeyDefault::Value("600000"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "A connection with no traffic and no request in flight for this long is closed.",
        apply: field!(
            |c, v| {
                c.connections_max_idle_ms = parse_long(v, 1, i64::MAX)? as u64;
                Ok(())
            },
            |c| Some(c.connections_max_idle_ms.to_string())
        ),
    },
    BrokerKey {
        name: "default.replication.factor",
        ty: ValueType::Int,
        default: KeyDefault::Value("1"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "The replication factor of created topics; fjord is a single node, so only 1.",
        apply: field!(
            |_, v| match parse_int(v, 1, 1) {
                Ok(_) => Ok(()),
                Err(_) => Err("fjord is a single node: only 1".into()),
            },
            |_| Some("1".into())
        ),
    },
    BrokerKey {
        name: "delete.topic.enable",
        ty: ValueType::Boolean,
        default: KeyDefault::Value("true"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "Whether DeleteTopics is allowed.",
        apply: field!(
            |c, v| {
                c.delete_topic_enable = bool_field(v)?;
                Ok(())
            },
            |c| Some(c.delete_topic_enable.to_string())
        ),
    },
    BrokerKey {
        name: "fjord.http.listener",
        ty: ValueType::String,
        default: KeyDefault::Value("127.0.0.1:9644"),
        mode: Mode::ReadOnly,
        flag: Some(Flag {
            long: "http",
            env: "FJORD_HTTP",
        }),
        doc: "fjord: HOST:PORT of the HTTP listener (/health, /ready, /metrics).",
        apply: field!(
            |c, v| {
                let v = v.trim();
                split_host_port(v).ok_or_else(|| format!("{v:?} is not HOST:PORT"))?;
                c.http = v.to_string();
                Ok(())
            },
            |c| Some(c.http.clone())
        ),
    },
    BrokerKey {
        name: "fjord.max.broker.partitions",
        ty: ValueType::Int,
        default: KeyDefault::Value("100000"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "fjord: the most partitions this broker hosts (internal topics included); CreateTopics, \
              CreatePartitions and auto-creation past it are refused with POLICY_VIOLATION (KIP-578 \
              proposed this limit as max.broker.partitions).",
        apply: field!(
            |c, v| {
                c.max_broker_partitions = parse_int(v, 1, i64::from(i32::MAX))?;
                Ok(())
            },
            |c| Some(c.max_broker_partitions.to_string())
        ),
    },
    BrokerKey {
        name: "fjord.request.read.timeout.ms",
        ty: ValueType::Long,
        default: KeyDefault::Value("30000"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "fjord: once a request's size has arrived, its whole body must arrive within this time.",
        apply: field!(
            |c, v| {
                c.request_read_timeout_ms = parse_long(v, 1, i64::MAX)? as u64;
                Ok(())
            },
            |c| Some(c.request_read_timeout_ms.to_string())
        ),
    },
    BrokerKey {
        name: "fjord.schema.registry.listener",
        ty: ValueType::String,
        default: KeyDefault::None,
        mode: Mode::ReadOnly,
        flag: Some(Flag {
            long: "schema-registry",
            env: "FJORD_SCHEMA_REGISTRY",
        }),
        doc: "fjord: HOST:PORT of the schema registry (Confluent's REST API), or off. Unset, it tries \
              127.0.0.1:8081 and runs without a registry (with a warning) if that port is taken; an \
              address given explicitly must bind.",
        apply: field!(
            |c, v| {
                c.schema_registry = super::SchemaRegistryListen::parse(v)?;
                Ok(())
            },
            |c| c.schema_registry.value()
        ),
    },
    BrokerKey {
        name: "fjord.slow.request.ms",
        ty: ValueType::Long,
        default: KeyDefault::Value("1000"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "fjord: requests slower than this are logged at warn (0 turns it off); waiting by design \
              (Fetch max_wait_ms, JoinGroup, SyncGroup) does not count.",
        apply: field!(
            |c, v| {
                c.slow_request_ms = parse_long(v, 0, i64::MAX)? as u64;
                Ok(())
            },
            |c| Some(c.slow_request_ms.to_string())
        ),
    },
    BrokerKey {
        name: "group.consumer.assignors",
        ty: ValueType::List,
        default: KeyDefault::Typed,
        mode: Mode::ReadOnly,
        flag: None,
        doc: "Server-side assignors of consumer groups (KIP-848); the first is the default. fjord has \
              uniform and range (Kafka's class names are accepted too).",
        apply: field!(
            |c, v| {
                c.consumer_group.assignors = fjord_group_coordinator::consumer::parse_assignors(v)?;
                Ok(())
            },
            |c| Some(c.consumer_group.assignors.join(","))
        ),
    },
    BrokerKey {
        name: "group.consumer.heartbeat.interval.ms",
        ty: ValueType::Int,
        default: KeyDefault::Typed,
        mode: Mode::ReadOnly,
        flag: None,
        doc: "How often members of consumer groups (KIP-848) heartbeat.",
        apply: field!(
            |c, v| {
                c.consumer_group.heartbeat_interval_ms = parse_int(v, 1, i64::from(i32::MAX))? as i32;
                Ok(())
            },
            |c| Some(c.consumer_group.heartbeat_interval_ms.to_string())
        ),
    },
    BrokerKey {
        name: "group.consumer.max.size",
        ty: ValueType::Int,
        default: KeyDefault::Typed,
        mode: Mode::ReadOnly,
        flag: None,
        doc: "The most members a consumer group (KIP-848) may have.",
        apply: field!(
            |c, v| {
                c.consumer_group.max_size = parse_int(v, 1, i64::from(i32::MAX))? as usize;
                Ok(())
            },
            |c| Some(c.consumer_group.max_size.to_string())
        ),
    },
    BrokerKey {
        name: "group.consumer.migration.policy",
        ty: ValueType::String,
        default: KeyDefault::Typed,
        mode: Mode::ReadOnly,
        flag: None,
        doc: "Online migration between classic and consumer (KIP-848) groups: bidirectional (Kafka \
              4.0's default), upgrade, downgrade or disabled. Upgrade: a ConsumerGroupHeartbeat \
              joining a classic group converts it; downgrade: a consumer group left with only \
              classic members becomes a classic group again. Classic members may join a consumer \
              group unless disabled.",
        apply: field!(
            |c, v| {
                c.group.consumer_migration_policy =
                    fjord_group_coordinator::consumer::MigrationPolicy::parse(v)?;
                Ok(())
            },
            |c| Some(c.group.consumer_migration_policy.name().to_string())
        ),
    },
    BrokerKey {
        name: "group.consumer.session.timeout.ms",
        ty: ValueType::Int,
        default: KeyDefault::Typed,
        mode: Mode::ReadOnly,
        flag: None,
        doc: "A consumer group (KIP-848) member that does not heartbeat within this time is removed.",
        apply: field!(
            |c, v| {
                c.consumer_group.session_timeout_ms = parse_int(v, 1, i64::from(i32::MAX))? as i32;
                Ok(())
            },
            |c| Some(c.consumer_group.session_timeout_ms.to_string())
        ),
    },
    BrokerKey {
        name: "group.initial.rebalance.delay.ms",
        ty: ValueType::Int,
        default: KeyDefault::Typed,
        mode: Mode::ReadOnly,
        flag: None,
        doc: "How long the first rebalance of an empty classic group waits for more members. Kafka's \
              default is 3000; fjord's 0 lets a lone consumer start at once.",
        apply: field!(
            |c, v| {
                c.group.initial_rebalance_delay_ms = parse_int(v, 0, i64::from(i32::MAX))?;
                Ok(())
            },
            |c| Some(c.group.initial_rebalance_delay_ms.to_string())
        ),
    },
    BrokerKey {
        name: "group.max.session.timeout.ms",
        ty: ValueType::Int,
        default: KeyDefault::Typed,
        mode: Mode::ReadOnly,
        flag: None,
        doc: "The longest session timeout a classic group member may ask for.",
        apply: field!(
            |c, v| {
                c.group.max_session_timeout_ms = parse_int(v, 0, i64::from(i32::MAX))? as i32;
                Ok(())
            },
            |c| Some(c.group.max_session_timeout_ms.to_string())
        ),
    },
    BrokerKey {
        name: "group.min.session.timeout.ms",
        ty: ValueType::Int,
        default: KeyDefault::Typed,
        mode: Mode::ReadOnly,
        flag: None,
        doc: "The shortest session timeout a classic group member may ask for (shorter: INVALID_SESSION_TIMEOUT).",
        apply: field!(
            |c, v| {
                c.group.min_session_timeout_ms = parse_int(v, 0, i64::from(i32::MAX))? as i32;
                Ok(())
            },
            |c| Some(c.group.min_session_timeout_ms.to_string())
        ),
    },
    BrokerKey {
        name: "listeners",
        ty: ValueType::String,
        default: KeyDefault::Value("PLAINTEXT://127.0.0.1:9092"),
        mode: Mode::ReadOnly,
        flag: Some(Flag {
            long: "listen",
            env: "FJORD_LISTEN",
        }),
        doc: "The Kafka listeners, NAME://HOST:PORT,... (a bare HOST:PORT is PLAINTEXT), each its own \
              accept loop; listener.security.protocol.map gives each name its security protocol. In the \
              config file it replaces --listen (giving both is an error).",
        apply: field!(
            |c, v| {
                c.listeners = listeners::parse_endpoints(v)?;
                Ok(())
            },
            |c| Some(listeners::print_endpoints(&c.listeners))
        ),
    },
    BrokerKey {
        name: "log.cleaner.backoff.ms",
        ty: ValueType::Long,
        default: KeyDefault::Value("15000"),
        mode: Mode::ClusterWide,
        flag: None,
        doc: "How often the log cleaner looks for compacted topics to clean.",
        apply: field!(
            |c, v| {
                c.log_cleaner_backoff_ms = parse_long(v, 1, i64::MAX)? as u64;
                Ok(())
            },
            |c| Some(c.log_cleaner_backoff_ms.to_string())
        ),
    },
    BrokerKey {
        name: "log.cleaner.enable",
        ty: ValueType::Boolean,
        default: KeyDefault::Value("true"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "Whether the log cleaner compacts topics whose cleanup.policy includes compact.",
        apply: field!(
            |c, v| {
                c.log_cleaner_enable = bool_field(v)?;
                Ok(())
            },
            |c| Some(c.log_cleaner_enable.to_string())
        ),
    },
    BrokerKey {
        name: "log.dir",
        ty: ValueType::String,
        default: KeyDefault::None,
        mode: Mode::ReadOnly,
        flag: None,
        doc: "The data directory, used when log.dirs is not set.",
        apply: Apply::Synonym {
            of: "log.dirs",
            rank: 1,
            convert: |v| Ok(v.to_string()),
        },
    },
    BrokerKey {
        name: "log.dirs",
        ty: ValueType::String,
        default: KeyDefault::Value("fjord-data"),
        mode: Mode::ReadOnly,
        flag: Some(Flag {
            long: "data-dir",
            env: "FJORD_DATA_DIR",
        }),
        doc: "The data directory (one; created and formatted on first start).",
        apply: field!(
            |c, v| {
                if v.contains(',') {
                    return Err("fjord uses one data directory".into());
                }
                c.data_dir = std::path::PathBuf::from(v.trim());
                Ok(())
            },
            |c| Some(c.data_dir.display().to_string())
        ),
    },
    BrokerKey {
        name: "log.flush.scheduler.interval.ms",
        ty: ValueType::Long,
        default: KeyDefault::Value("9223372036854775807"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "Kafka: how often the flusher looks for logs to flush; in fjord only the fallback of \
              log.flush.interval.ms (the flusher runs every second).",
        apply: Apply::Synonym {
            of: "log.flush.interval.ms",
            rank: 1,
            convert: |v| parse_long(v, 0, i64::MAX).map(|n| n.to_string()),
        },
    },
    BrokerKey {
        name: "log.retention.check.interval.ms",
        ty: ValueType::Long,
        default: KeyDefault::Value("300000"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "How often retention runs.",
        apply: field!(
            |c, v| {
                c.retention_check_interval_ms = parse_long(v, 1, i64::MAX)? as u64;
                Ok(())
            },
            |c| Some(c.retention_check_interval_ms.to_string())
        ),
    },
    BrokerKey {
        name: "log.retention.hours",
        ty: ValueType::Int,
        default: KeyDefault::Value("168"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "log.retention.ms in hours, used when neither log.retention.ms nor log.retention.minutes is set.",
        apply: Apply::Synonym {
            of: "log.retention.ms",
            rank: 2,
            convert: |v| ms_from(3_600_000)(v),
        },
    },
    BrokerKey {
        name: "log.retention.minutes",
        ty: ValueType::Int,
        default: KeyDefault::None,
        mode: Mode::ReadOnly,
        flag: None,
        doc: "log.retention.ms in minutes, used when log.retention.ms is not set.",
        apply: Apply::Synonym {
            of: "log.retention.ms",
            rank: 1,
            convert: |v| ms_from(60_000)(v),
        },
    },
    BrokerKey {
        name: "log.roll.hours",
        ty: ValueType::Int,
        default: KeyDefault::Value("168"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "log.roll.ms in hours, used when log.roll.ms is not set.",
        apply: Apply::Synonym {
            of: "log.roll.ms",
            rank: 1,
            convert: |v| ms_from(3_600_000)(v),
        },
    },
    BrokerKey {
        name: "node.id",
        ty: ValueType::Int,
        default: KeyDefault::Value("1"),
        mode: Mode::ReadOnly,
        flag: Some(Flag {
            long: "node-id",
            env: "FJORD_NODE_ID",
        }),
        doc: "This broker's id (kept in the data directory from its first start).",
        apply: field!(
            |c, v| {
                c.node_id = parse_int(v, 0, i64::from(i32::MAX))? as i32;
                Ok(())
            },
            |c| Some(c.node_id.to_string())
        ),
    },
    BrokerKey {
        name: "num.partitions",
        ty: ValueType::Int,
        default: KeyDefault::Value("1"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "The partition count of auto-created topics and of CreateTopics with -1 partitions.",
        apply: field!(
            |c, v| {
                c.num_partitions = parse_int(v, 1, 100_000)? as i32;
                Ok(())
            },
            |c| Some(c.num_partitions.to_string())
        ),
    },
    BrokerKey {
        name: "offset.metadata.max.bytes",
        ty: ValueType::Int,
        default: KeyDefault::Typed,
        mode: Mode::ReadOnly,
        flag: None,
        doc: "The longest metadata string an offset commit may carry (longer: OFFSET_METADATA_TOO_LARGE).",
        apply: field!(
            |c, v| {
                c.group.offset_metadata_max_bytes = parse_int(v, 0, i64::from(i32::MAX))? as usize;
                Ok(())
            },
            |c| Some(c.group.offset_metadata_max_bytes.to_string())
        ),
    },
    BrokerKey {
        name: "offsets.retention.check.interval.ms",
        ty: ValueType::Long,
        default: KeyDefault::Typed,
        mode: Mode::ReadOnly,
        flag: None,
        doc: "How often expired committed offsets are removed.",
        apply: field!(
            |c, v| {
                c.group.offsets_retention_check_interval_ms = parse_long(v, 1, i64::MAX)?;
                Ok(())
            },
            |c| Some(c.group.offsets_retention_check_interval_ms.to_string())
        ),
    },
    BrokerKey {
        name: "offsets.retention.minutes",
        ty: ValueType::Int,
        default: KeyDefault::Typed,
        mode: Mode::ReadOnly,
        flag: None,
        doc: "Committed offsets of a group without members expire this long after the last commit or \
              the group emptying.",
        apply: field!(
            |c, v| {
                c.group.offsets_retention_ms = parse_int(v, 1, i64::from(i32::MAX))? * 60_000;
                Ok(())
            },
            |c| Some((c.group.offsets_retention_ms / 60_000).to_string())
        ),
    },
    BrokerKey {
        name: "offsets.topic.num.partitions",
        ty: ValueType::Int,
        default: KeyDefault::Typed,
        mode: Mode::ReadOnly,
        flag: None,
        doc: "The partition count of __consumer_offsets when it is created (an existing topic keeps its \
              count). Kafka's default is 50, sized for a cluster; fjord's is 8.",
        apply: field!(
            |c, v| {
                c.group.offsets_topic_num_partitions = parse_int(v, 1, 100_000)? as i32;
                Ok(())
            },
            |c| Some(c.group.offsets_topic_num_partitions.to_string())
        ),
    },
    BrokerKey {
        name: "offsets.topic.segment.bytes",
        ty: ValueType::Int,
        default: KeyDefault::Value("104857600"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "segment.bytes of __consumer_offsets when it is created.",
        apply: field!(
            |c, v| {
                c.offsets_topic_segment_bytes = parse_int(v, 14, i64::from(i32::MAX))? as i32;
                Ok(())
            },
            |c| Some(c.offsets_topic_segment_bytes.to_string())
        ),
    },
    BrokerKey {
        name: "queued.max.request.bytes",
        ty: ValueType::Long,
        default: KeyDefault::Value("104857600"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "Request bytes held in memory across connections before reading more waits (-1: no limit, \
              Kafka's default).",
        apply: field!(
            |c, v| {
                let n = parse_long(v, -1, i64::MAX)?;
                if n == 0 {
                    return Err("must be positive or -1 (no limit)".into());
                }
                c.queued_max_request_bytes = n;
                Ok(())
            },
            |c| Some(c.queued_max_request_bytes.to_string())
        ),
    },
    BrokerKey {
        name: "socket.request.max.bytes",
        ty: ValueType::Int,
        default: KeyDefault::Value("104857600"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "The largest request the broker reads; larger frames are refused unread.",
        apply: field!(
            |c, v| {
                c.socket_request_max_bytes = parse_int(v, 1024, i64::from(i32::MAX))? as usize;
                Ok(())
            },
            |c| Some(c.socket_request_max_bytes.to_string())
        ),
    },
    BrokerKey {
        name: "transaction.max.timeout.ms",
        ty: ValueType::Int,
        default: KeyDefault::Typed,
        mode: Mode::ReadOnly,
        flag: None,
        doc: "The longest transaction.timeout.ms a transactional producer may ask for.",
        apply: field!(
            |c, v| {
                c.transaction_max_timeout_ms = parse_int(v, 1, i64::from(i32::MAX))? as i32;
                Ok(())
            },
            |c| Some(c.transaction_max_timeout_ms.to_string())
        ),
    },
];
