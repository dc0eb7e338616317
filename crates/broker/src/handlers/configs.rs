//! What CreateTopics, DescribeConfigs, AlterConfigs and
//! IncrementalAlterConfigs share about configs: validation of topic
//! overrides and of dynamic broker configs, applying them, and describing
//! configs (value, source, synonyms, type, documentation) by Kafka's rules.
//! The keys themselves come from the config catalogue (`config::keys`).
//!
//! Sources and synonyms follow Kafka's `ConfigHelper`: a broker config's
//! synonyms are the layers that set it or one of its synonyms
//! (`log.retention.ms`, `log.retention.minutes`, `log.retention.hours`), per
//! broker first, then the cluster default, the static config and the
//! built-in default, dropping those before the first entry for the config's
//! own name. A topic config adds its override in front of its broker
//! synonym's list. The source is the first synonym's, else DEFAULT_CONFIG.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use fjord_protocol::ErrorCode;
use fjord_storage::{LogConfig, ValueType};

use crate::config::keys::{self, BrokerDef, Mode, TopicDef};
use crate::config::BrokerConfig;
use crate::state::{validate_topic_name, BrokerState, Topic};

/// `ConfigResource.Type` ids.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
pub const RESOURCE_BROKER_LOGGER: i8 = 8;

/// Kafka's ACL check of a config resource: `op` (DESCRIBE_CONFIGS or
/// ALTER_CONFIGS) on the topic (TOPIC_AUTHORIZATION_FAILED) or, for a
/// broker or broker logger, on the cluster (CLUSTER_AUTHORIZATION_FAILED).
/// Other types are left to the caller's own checks.
pub fn authorize(
    state: &BrokerState,
    ctx: &super::RequestCtx,
    op: crate::acl::AclOperation,
    resource_type: i8,
    name: &str,
) -> Result<(), ConfigError> {
    use crate::acl::{ResourceType, CLUSTER_NAME};
    let (rt, name, code) = match resource_type {
        RESOURCE_TOPIC => (
            ResourceType::Topic,
            name,
            ErrorCode::TopicAuthorizationFailed,
        ),
        RESOURCE_BROKER | RESOURCE_BROKER_LOGGER => (
            ResourceType::Cluster,
            CLUSTER_NAME,
            ErrorCode::ClusterAuthorizationFailed,
        ),
        _ => return Ok(()),
    };
    if ctx.allowed(state, op, rt, name) {
        Ok(())
    } else {
        Err(ConfigError::new(code, "Authorization failed."))
    }
}

/// `DescribeConfigsResponse.ConfigSource` ids.
pub const SOURCE_DYNAMIC_TOPIC: i8 = 1;
pub const SOURCE_DYNAMIC_BROKER: i8 = 2;
pub const SOURCE_DYNAMIC_DEFAULT_BROKER: i8 = 3;
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
pub const TYPE_PASSWORD: i8 = 9;

/// The wire id of a value type.
pub fn type_id(t: ValueType) -> i8 {
    match t {
        ValueType::Boolean => TYPE_BOOLEAN,
        ValueType::String => TYPE_STRING,
        ValueType::Int => TYPE_INT,
        ValueType::Long => TYPE_LONG,
        ValueType::Double => TYPE_DOUBLE,
        ValueType::List => TYPE_LIST,
        ValueType::Password => TYPE_PASSWORD,
    }
}

/// Whether `name` is a topic config fjord accepts.
pub fn is_topic_config(name: &str) -> bool {
    keys::topic_def(name).is_some()
}

/// Whether `name` is a list config (IncrementalAlterConfigs APPEND/SUBTRACT).
pub fn is_list_config(name: &str) -> bool {
    keys::topic_def(name).is_some_and(|d| d.ty() == ValueType::List)
}

/// The value a topic config has without a topic override.
pub fn topic_default_value(broker: &BrokerConfig, name: &str) -> Option<String> {
    broker.topic_default(name)
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
        let Some(def) = keys::topic_def(name) else {
            return Err(ConfigError::new(
                ErrorCode::InvalidConfig,
                format!("Unknown topic config name: {name}"),
            ));
        };
        let checked = match def {
            TopicDef::Log(s) => s.apply(&mut log, value),
            TopicDef::Other(_) => def.check(value),
        };
        checked.map_err(|reason| ConfigError::invalid_value(name, value, &reason))?;
    }
    log.validate().map_err(|e| match e {
        fjord_storage::StorageError::InvalidConfig { reason, .. } => {
            ConfigError::new(ErrorCode::InvalidConfig, reason)
        }
        other => ConfigError::new(ErrorCode::InvalidConfig, other.to_string()),
    })?;
    Ok(log)
}

/// What an AlterConfigs / IncrementalAlterConfigs resource names.
pub enum AlterTarget {
    Topic(Arc<Topic>),
    /// This broker's dynamic configs (`per_broker`) or the cluster-wide
    /// defaults (the `<default>` resource, an empty name).
    Broker {
        per_broker: bool,
    },
}

/// Resolves the resource of an AlterConfigs / IncrementalAlterConfigs.
pub fn alter_target(
    state: &BrokerState,
    resource_type: i8,
    name: &str,
) -> Result<AlterTarget, ConfigError> {
    match resource_type {
        RESOURCE_TOPIC => {
            validate_topic_name(name)
                .map_err(|m| ConfigError::new(ErrorCode::InvalidTopicException, m))?;
            state.topic(name).map(AlterTarget::Topic).ok_or_else(|| {
                ConfigError::new(
                    ErrorCode::UnknownTopicOrPartition,
                    format!("The topic '{name}' does not exist."),
                )
            })
        }
        RESOURCE_BROKER => {
            if name.is_empty() {
                return Ok(AlterTarget::Broker { per_broker: false });
            }
            let id: i32 = name.trim().parse().map_err(|_| {
                ConfigError::new(
                    ErrorCode::InvalidRequest,
                    format!("Node id must be an integer, but it is: {name}"),
                )
            })?;
            if id != state.node_id {
                return Err(ConfigError::new(
                    ErrorCode::InvalidRequest,
                    format!(
                        "Unexpected broker id, expected {}, but received {name}",
                        state.node_id
                    ),
                ));
            }
            Ok(AlterTarget::Broker { per_broker: true })
        }
        RESOURCE_BROKER_LOGGER => Err(ConfigError::new(
            ErrorCode::InvalidRequest,
            "fjord's log levels are set by FJORD_LOG at start, not per logger",
        )),
        other => Err(ConfigError::new(
            ErrorCode::InvalidRequest,
            format!("Unsupported resource type: {other}"),
        )),
    }
}

/// The current dynamic layer a broker resource addresses.
pub fn broker_layer(state: &BrokerState, per_broker: bool) -> BTreeMap<String, String> {
    let config = state.config();
    if per_broker {
        config.layers.per_broker.clone()
    } else {
        config.layers.cluster_default.clone()
    }
}

/// Checks a new dynamic layer for a broker resource as Kafka does (only
/// dynamic configs; values of their type and range; Kafka answers
/// INVALID_REQUEST for all of these) and builds the config it gives.
pub fn validate_broker_configs(
    state: &BrokerState,
    per_broker: bool,
    layer: &BTreeMap<String, String>,
) -> Result<BrokerConfig, ConfigError> {
    let unknown: Vec<&str> = layer
        .keys()
        .filter(|k| keys::broker_def(k).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(ConfigError::new(
            ErrorCode::InvalidRequest,
            format!("Unknown broker configs: {}", unknown.join(", ")),
        ));
    }
    let fixed: Vec<&str> = layer
        .keys()
        .filter(|k| keys::broker_def(k).is_some_and(|d| d.mode() == Mode::ReadOnly))
        .map(String::as_str)
        .collect();
    if !fixed.is_empty() {
        return Err(ConfigError::new(
            ErrorCode::InvalidRequest,
            format!(
                "Cannot update these configs dynamically: {}",
                fixed.join(", ")
            ),
        ));
    }
    let current = state.config();
    let (cluster_default, per) = if per_broker {
        (current.layers.cluster_default.clone(), layer.clone())
    } else {
        (layer.clone(), current.layers.per_broker.clone())
    };
    state
        .static_config()
        .with_dynamic(cluster_default, per)
        .map_err(|e| ConfigError::new(ErrorCode::InvalidRequest, e.to_string()))
}

/// Persists the dynamic layers of `config` (built by
/// [`validate_broker_configs`]) and makes it the broker's config: topics
/// without an override of a changed default take it at once. The caller
/// holds `admin_lock`.
pub fn apply_broker_configs(state: &BrokerState, config: BrokerConfig) -> Result<(), ConfigError> {
    let storage_err = |e: String| ConfigError::new(ErrorCode::KafkaStorageError, e);
    let saved = crate::config::dynamic::DynamicConfigs {
        cluster_default: config.layers.cluster_default.clone(),
        per_broker: config.layers.per_broker.clone(),
    };
    crate::config::dynamic::save(&state.static_config().data_dir, &saved)
        .map_err(|e| storage_err(format!("Saving the dynamic broker configs failed: {e}")))?;
    state
        .replace_config(config)
        .map_err(|e| storage_err(format!("Applying the broker configs failed: {e}")))
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

/// One synonym: (name, value, source).
pub type Synonym = (String, Option<String>, i8);

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
    pub synonyms: Vec<Synonym>,
}

impl Described {
    pub fn is_default(&self) -> bool {
        self.source == SOURCE_DEFAULT
    }
}

/// Kafka's synonyms of broker config `name` (see the module docs).
pub fn broker_synonyms(broker: &BrokerConfig, name: &str) -> Vec<Synonym> {
    let group = keys::synonym_group(name);
    let layers = [
        (&broker.layers.per_broker, SOURCE_DYNAMIC_BROKER),
        (
            &broker.layers.cluster_default,
            SOURCE_DYNAMIC_DEFAULT_BROKER,
        ),
        (&broker.layers.statics, SOURCE_STATIC_BROKER),
    ];
    let mut out: Vec<Synonym> = Vec::new();
    for (layer, source) in layers {
        for n in &group {
            if let Some(v) = layer.get(*n) {
                out.push((n.to_string(), Some(v.clone()), source));
            }
        }
    }
    for n in &group {
        if let Some(d) = keys::broker_def(n).and_then(|d| d.own_default()) {
            out.push((n.to_string(), Some(d), SOURCE_DEFAULT));
        }
    }
    let first = out.iter().position(|s| s.0 == name).unwrap_or(out.len());
    out.split_off(first)
}

/// Every config of a topic with `overrides` (its `Topic::configs`) and the
/// effective `log` config (its `Topic::log_config`).
pub fn describe_topic(
    broker: &BrokerConfig,
    overrides: &BTreeMap<String, String>,
    log: &LogConfig,
) -> Vec<Described> {
    let mut out = Vec::new();
    for def in keys::topic_defs() {
        let name = def.name();
        let value = match def {
            TopicDef::Log(s) => Some(s.value(log)),
            TopicDef::Other(_) => broker.topic_value(overrides, name),
        };
        let mut synonyms = Vec::new();
        if overrides.contains_key(name) {
            synonyms.push((name.to_string(), value.clone(), SOURCE_DYNAMIC_TOPIC));
        }
        if let Some(b) = def.broker_name() {
            synonyms.extend(broker_synonyms(broker, b));
        }
        out.push(Described {
            name: name.to_string(),
            value,
            // Kafka never marks topic configs read-only.
            read_only: false,
            source: synonyms.first().map_or(SOURCE_DEFAULT, |s| s.2),
            sensitive: false,
            config_type: type_id(def.ty()),
            documentation: Some(def.doc()),
            synonyms,
        });
    }
    // Overrides fjord does not know (kept from elsewhere) are still shown.
    for (name, value) in overrides {
        if keys::topic_def(name).is_none() {
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

/// Every config of this broker (the resource named by its id).
pub fn describe_broker(broker: &BrokerConfig) -> Vec<Described> {
    keys::broker_defs()
        .into_iter()
        .map(|def| {
            let mut synonyms = broker_synonyms(broker, def.name());
            let sensitive = def.sensitive();
            if sensitive {
                // As Kafka: a secret's value is never sent back.
                for s in &mut synonyms {
                    s.1 = None;
                }
            }
            Described {
                name: def.name().to_string(),
                value: broker.value_of(def).filter(|_| !sensitive),
                read_only: def.mode() == Mode::ReadOnly,
                source: synonyms.first().map_or(SOURCE_DEFAULT, |s| s.2),
                sensitive,
                config_type: type_id(def.ty()),
                documentation: Some(def.doc()),
                synonyms,
            }
        })
        .collect()
}

/// The cluster-wide dynamic defaults (the `<default>` broker resource):
/// only what is set there, as Kafka describes it.
pub fn describe_cluster_default(broker: &BrokerConfig) -> Vec<Described> {
    broker
        .layers
        .cluster_default
        .iter()
        .filter_map(|(name, value)| {
            let def: BrokerDef = keys::broker_def(name)?;
            let synonyms: Vec<Synonym> = broker_synonyms(broker, name)
                .into_iter()
                .filter(|s| s.2 == SOURCE_DYNAMIC_DEFAULT_BROKER)
                .collect();
            Some(Described {
                name: name.clone(),
                value: Some(value.clone()),
                read_only: def.mode() == Mode::ReadOnly,
                source: synonyms.first().map_or(SOURCE_DEFAULT, |s| s.2),
                sensitive: false,
                config_type: type_id(def.ty()),
                documentation: Some(def.doc()),
                synonyms,
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "configs_tests.rs"]
mod tests;
