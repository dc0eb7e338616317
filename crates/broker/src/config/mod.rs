//! Broker configuration: zero-config defaults, a TOML file with Kafka's
//! config names, flags, and dynamic configs changed at runtime.
//!
//! Every key is declared once in the catalogue (`keys.rs`, over storage's
//! `LOG_SETTINGS`); [`BrokerConfig`] is the typed result of applying the
//! layers Kafka has, lowest precedence first: the catalogue's defaults,
//! the static config (file and flags), the dynamic cluster-wide default,
//! the dynamic per-broker config ([`Layers`]; the dynamic ones persisted
//! by `dynamic.rs`). Topic overrides sit above all of them (`LogConfig`
//! per topic, built from `log` here).

pub mod cluster_table;
pub mod dynamic;
pub mod keys;
pub mod listener_keys;
mod quota_table;
mod security_table;
mod table;

use std::collections::BTreeMap;
use std::path::PathBuf;

use fjord_storage::LogConfig;

use crate::security::listeners::{Endpoint, Listener, SecurityProtocol};

pub use fjord_group_coordinator::GroupConfig;
pub use keys::split_host_port;
use keys::{Apply, BrokerDef, TopicDef};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {msg}")]
    File { path: String, msg: String },
    #[error("invalid value for {key}: {msg}")]
    Invalid { key: String, msg: String },
}

/// The broker config layers, by Kafka's names. A key's value is taken from
/// the highest layer that has it: per broker, then cluster default, then
/// static, then the catalogue's default.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Layers {
    /// STATIC_BROKER_CONFIG: the config file and flags.
    pub statics: BTreeMap<String, String>,
    /// DYNAMIC_DEFAULT_BROKER_CONFIG: AlterConfigs on the `<default>`
    /// broker resource (empty name).
    pub cluster_default: BTreeMap<String, String>,
    /// DYNAMIC_BROKER_CONFIG: AlterConfigs on this broker's id.
    pub per_broker: BTreeMap<String, String>,
}

impl std::fmt::Debug for Layers {
    /// Secrets (PASSWORD-typed keys) are printed as `[hidden]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |layer: &BTreeMap<String, String>| -> BTreeMap<String, String> {
            layer
                .iter()
                .map(|(k, v)| {
                    let secret = keys::broker_def(k).is_some_and(|d| d.sensitive())
                        || listener_keys::parse_name(k).is_some();
                    (
                        k.clone(),
                        if secret { "[hidden]".into() } else { v.clone() },
                    )
                })
                .collect()
        };
        f.debug_struct("Layers")
            .field("statics", &shown(&self.statics))
            .field("cluster_default", &shown(&self.cluster_default))
            .field("per_broker", &shown(&self.per_broker))
            .finish()
    }
}

impl Layers {
    /// The value set for `name` in the highest layer that has it.
    pub fn get(&self, name: &str) -> Option<&String> {
        self.per_broker
            .get(name)
            .or_else(|| self.cluster_default.get(name))
            .or_else(|| self.statics.get(name))
    }
}

/// Everything the broker needs to start. `Default` is the zero-config
/// developer setup (the catalogue's defaults).
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// `node.id`.
    pub node_id: i32,
    /// `log.dirs`.
    pub data_dir: PathBuf,
    /// `listeners`: the Kafka listeners, each `NAME://HOST:PORT`.
    pub listeners: Vec<Endpoint>,
    /// `advertised.listeners`: what clients of each listener name are told
    /// to connect to; a listener not named here advertises its own address.
    pub advertised_listeners: Vec<Endpoint>,
    /// `listener.security.protocol.map`: each listener name's protocol.
    pub protocol_map: Vec<(String, SecurityProtocol)>,
    /// `inter.broker.listener.name`: the listener other brokers are
    /// reached on (see [`BrokerConfig::inter_broker`]).
    pub inter_broker_listener: Option<String>,
    /// The `ssl.*` settings of TLS listeners.
    pub tls: crate::security::tls::TlsSettings,
    /// `sasl.enabled.mechanisms`.
    pub sasl_mechanisms: Vec<String>,
    /// `connection.failed.authentication.delay.ms`.
    pub failed_auth_delay_ms: u64,
    /// `sasl.server.max.receive.size`: the largest frame read before a
    /// SASL client has authenticated.
    pub sasl_max_receive_size: usize,
    /// `connections.max.reauth.ms` (0: sessions do not expire).
    pub connections_max_reauth_ms: i64,
    /// `sasl.oauthbearer.*`: how OAUTHBEARER tokens are validated.
    pub oauth: crate::security::oauth::OAuthSettings,
    /// `quota.window.*` and `controller.quota.window.*`.
    pub quota: crate::quotas::QuotaSettings,
    /// `max.connections`, `max.connections.per.ip(.overrides)`,
    /// `max.connection.creation.rate`.
    pub connection_limits: crate::quotas::connections::ConnectionLimits,
    /// `--add-scram`: credentials created or updated at start (not a
    /// config key: an action, as `kafka-storage format --add-scram`).
    pub add_scram: Vec<crate::security::users::AddScram>,
    /// `authorizer.class.name` is set: ACLs are enforced.
    pub authorizer_enabled: bool,
    /// `super.users`: principals every ACL check allows.
    pub super_users: Vec<String>,
    /// `allow.everyone.if.no.acl.found`.
    pub allow_everyone_if_no_acl_found: bool,
    /// `fjord.http.listener`: health, readiness and metrics.
    pub http: String,
    /// `fjord.schema.registry.listener`: the schema registry's listener.
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
    /// Defaults for every topic's log config (the `log.*` keys).
    pub log: LogConfig,
    /// The consumer group coordinator's settings.
    pub group: GroupConfig,
    /// `group.consumer.*`: consumer groups of the KIP-848 protocol.
    pub consumer_group: fjord_group_coordinator::consumer::ConsumerGroupConfig,
    /// The values given explicitly, per layer, by Kafka name: what
    /// DescribeConfigs reports as sources and synonyms.
    pub layers: Layers,
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
    /// `fjord.max.broker.partitions`: the most partitions this broker
    /// hosts (internal topics included); CreateTopics, CreatePartitions
    /// and auto-creation past it are refused with POLICY_VIOLATION.
    pub max_broker_partitions: i64,
    /// The metadata quorum and roles of cluster mode (`cluster_table.rs`).
    pub cluster: cluster_table::ClusterSettings,
    /// `security.inter.broker.protocol` (None: not set, PLAINTEXT).
    pub inter_broker_protocol: Option<SecurityProtocol>,
    /// `sasl.mechanism.inter.broker.protocol`.
    pub inter_broker_sasl_mechanism: Option<String>,
    /// `listener.name.<listener>.<mechanism>.sasl.jaas.config`, by
    /// (LISTENER, MECHANISM) in upper case (`listener_keys.rs`).
    pub listener_jaas: BTreeMap<(String, String), crate::security::Secret>,
}

impl Default for BrokerConfig {
    /// The catalogue's defaults applied over placeholders (every field
    /// below but the typed ones is overwritten by its key's default; a
    /// unit test checks that each default parses).
    fn default() -> Self {
        let mut c = BrokerConfig {
            node_id: 0,
            data_dir: PathBuf::new(),
            listeners: Vec::new(),
            advertised_listeners: Vec::new(),
            protocol_map: Vec::new(),
            inter_broker_listener: None,
            tls: Default::default(),
            sasl_mechanisms: Vec::new(),
            failed_auth_delay_ms: 0,
            sasl_max_receive_size: 0,
            connections_max_reauth_ms: 0,
            oauth: Default::default(),
            quota: Default::default(),
            connection_limits: Default::default(),
            add_scram: Vec::new(),
            authorizer_enabled: false,
            super_users: Vec::new(),
            allow_everyone_if_no_acl_found: false,
            http: String::new(),
            // No default value: unset means "try 127.0.0.1:8081".
            schema_registry: SchemaRegistryListen::Default,
            num_partitions: 0,
            auto_create_topics: false,
            socket_request_max_bytes: 0,
            retention_check_interval_ms: 0,
            delete_topic_enable: false,
            log_cleaner_enable: false,
            log_cleaner_backoff_ms: 0,
            offsets_topic_segment_bytes: 0,
            log: LogConfig::default(),
            // Typed defaults, owned by the coordinators (KeyDefault::Typed).
            group: GroupConfig::default(),
            consumer_group: Default::default(),
            layers: Layers::default(),
            transaction_max_timeout_ms: fjord_txn_coordinator::MAX_TIMEOUT_MS,
            slow_request_ms: 0,
            connections_max_idle_ms: 0,
            request_read_timeout_ms: 0,
            queued_max_request_bytes: 0,
            max_broker_partitions: 0,
            cluster: Default::default(),
            inter_broker_protocol: None,
            inter_broker_sasl_mechanism: None,
            listener_jaas: BTreeMap::new(),
        };
        for k in keys::broker_keys() {
            if let (keys::KeyDefault::Value(d), Apply::Field { set, .. }) = (k.default, &k.apply) {
                let applied = set(&mut c, d);
                debug_assert!(applied.is_ok(), "default of {}: {applied:?}", k.name);
            }
        }
        c
    }
}

/// Applies one key to `c` (no layer bookkeeping). `Ok(false)` for a name
/// the catalogue does not have.
fn apply_key(c: &mut BrokerConfig, key: &str, value: &str) -> Result<bool, ConfigError> {
    let invalid = |msg: String| ConfigError::Invalid {
        key: key.to_string(),
        msg: format!("{value:?}: {msg}"),
    };
    if let Some(applied) = listener_keys::apply(c, key, value) {
        // The value is a secret: the error names the key only.
        applied.map_err(|msg| ConfigError::Invalid {
            key: key.to_string(),
            msg,
        })?;
        return Ok(true);
    }
    let Some(def) = keys::broker_def(key) else {
        return Ok(false);
    };
    match def {
        BrokerDef::Own(k) => match &k.apply {
            Apply::Field { set, .. } => set(c, value).map_err(invalid)?,
            Apply::Synonym { of, convert, .. } => {
                let converted = convert(value).map_err(invalid)?;
                apply_key(c, of, &converted).map_err(|e| match e {
                    ConfigError::Invalid { msg, .. } => invalid(msg),
                    other => other,
                })?;
            }
        },
        BrokerDef::TopicDefault(_, TopicDef::Log(s)) => {
            s.apply(&mut c.log, value).map_err(invalid)?
        }
        BrokerDef::TopicDefault(_, t @ TopicDef::Other(_)) => t.check(value).map_err(invalid)?,
    }
    Ok(true)
}

/// Applies one layer: synonyms first (lowest priority first), so that a
/// key given together with its synonyms wins, as in Kafka.
fn apply_layer(c: &mut BrokerConfig, layer: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    let rank = |k: &str| match keys::broker_def(k) {
        Some(BrokerDef::Own(keys::BrokerKey {
            apply: Apply::Synonym { rank, .. },
            ..
        })) => u16::from(*rank),
        _ => 0,
    };
    let mut ordered: Vec<(&String, &String)> = layer.iter().collect();
    ordered.sort_by_key(|(k, _)| std::cmp::Reverse(rank(k)));
    for (k, v) in ordered {
        apply_key(c, k, v)?;
    }
    Ok(())
}

impl BrokerConfig {
    /// Builds the typed config from its layers (unknown names in them are
    /// ignored; the loader warns about them).
    pub fn from_layers(layers: Layers) -> Result<BrokerConfig, ConfigError> {
        let c = Self::from_layers_unchecked(layers)?;
        c.validate()?;
        Ok(c)
    }

    /// [`BrokerConfig::from_layers`] without the checks of settings that
    /// constrain each other (each value is still parsed).
    fn from_layers_unchecked(layers: Layers) -> Result<BrokerConfig, ConfigError> {
        let mut c = BrokerConfig::default();
        apply_layer(&mut c, &layers.statics)?;
        apply_layer(&mut c, &layers.cluster_default)?;
        apply_layer(&mut c, &layers.per_broker)?;
        c.layers = layers;
        Ok(c)
    }

    /// This static config (file and flags, no dynamic layer applied yet)
    /// with the dynamic layers applied over it.
    pub fn with_dynamic(
        &self,
        cluster_default: BTreeMap<String, String>,
        per_broker: BTreeMap<String, String>,
    ) -> Result<BrokerConfig, ConfigError> {
        let mut c = self.clone();
        apply_layer(&mut c, &cluster_default)?;
        apply_layer(&mut c, &per_broker)?;
        c.layers.cluster_default = cluster_default;
        c.layers.per_broker = per_broker;
        c.validate()?;
        Ok(c)
    }

    /// Applies one static setting (file or flag) by its Kafka name.
    /// Unknown names are reported back as `Ok(false)` so the caller can
    /// warn.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        if !apply_key(self, key, value)? {
            return Ok(false);
        }
        self.layers
            .statics
            .insert(key.to_string(), value.to_string());
        Ok(true)
    }

    /// Loads a TOML file of `"kafka.name" = value` pairs (nested tables are
    /// flattened with dots). Returns the keys fjord does not know. Settings
    /// that constrain each other are not checked here (flags may complete
    /// them, `--listen` the listeners an `inter.broker.listener.name`
    /// names): call [`BrokerConfig::validate`] once everything is set.
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
        let mut layer = self.layers.statics.clone();
        for (k, v) in flat {
            if keys::broker_def(&k).is_some() || listener_keys::parse_name(&k).is_some() {
                layer.insert(k, v);
            } else {
                unknown.push(k);
            }
        }
        *self = BrokerConfig::from_layers_unchecked(Layers {
            statics: layer,
            ..self.layers.clone()
        })?;
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
        if self.sasl_mechanisms.iter().any(|m| m == "OAUTHBEARER") && self.oauth.jwks_url.is_empty()
        {
            return Err(ConfigError::Invalid {
                key: "sasl.enabled.mechanisms".into(),
                msg: "OAUTHBEARER needs sasl.oauthbearer.jwks.endpoint.url (a JWKS file or URL); \
                      unsecured tokens are not accepted"
                    .into(),
            });
        }
        self.listeners_resolved()
            .map_err(|msg| ConfigError::Invalid {
                key: "listeners".into(),
                msg,
            })?;
        self.cluster
            .role(self.node_id)
            .map_err(|msg| ConfigError::Invalid {
                key: "process.roles".into(),
                msg,
            })?;
        self.inter_broker().map_err(|msg| ConfigError::Invalid {
            key: "inter.broker.listener.name".into(),
            msg,
        })?;
        self.log.validate().map_err(|e| ConfigError::Invalid {
            key: "log defaults".into(),
            msg: e.to_string(),
        })
    }

    /// The listeners to bind, with their protocols and advertised
    /// addresses (see `security::listeners::resolve`).
    pub fn listeners_resolved(&self) -> Result<Vec<Listener>, String> {
        crate::security::listeners::resolve(
            &self.listeners,
            &self.advertised_listeners,
            &self.protocol_map,
            self.inter_broker_listener.as_deref(),
        )
    }

    /// The inter-broker listener, by Kafka's rules: `inter.broker.listener.name`,
    /// else the listener named as `security.inter.broker.protocol`
    /// (default PLAINTEXT); giving both is an error. Returns its name and,
    /// when it is one of `listeners`, its protocol. In cluster mode the
    /// listener must exist, and a SASL one needs
    /// `sasl.mechanism.inter.broker.protocol` (enabled) and that mechanism's
    /// `listener.name.<l>.<m>.sasl.jaas.config`.
    pub fn inter_broker(&self) -> Result<(String, Option<SecurityProtocol>), String> {
        let name =
            match (&self.inter_broker_listener, self.inter_broker_protocol) {
                (Some(_), Some(_)) => return Err(
                    "only one of inter.broker.listener.name and security.inter.broker.protocol \
                     may be set"
                        .into(),
                ),
                (Some(n), None) => n.clone(),
                (None, p) => p.unwrap_or(SecurityProtocol::Plaintext).name().to_string(),
            };
        let protocol = self
            .listeners_resolved()?
            .into_iter()
            .find(|l| l.name == name)
            .map(|l| l.protocol);
        if !self.cluster.enabled() {
            return Ok((name, protocol));
        }
        let Some(p) = protocol else {
            return Err(format!(
                "the inter-broker listener {name} is not in listeners (set \
                 inter.broker.listener.name to one of them)"
            ));
        };
        if p.sasl() {
            let Some(m) = &self.inter_broker_sasl_mechanism else {
                return Err(format!(
                    "the inter-broker listener {name} is {}: set \
                     sasl.mechanism.inter.broker.protocol (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)",
                    p.name()
                ));
            };
            if !self.sasl_mechanisms.contains(m) {
                return Err(format!(
                    "sasl.mechanism.inter.broker.protocol {m} is not in sasl.enabled.mechanisms"
                ));
            }
            if !self.listener_jaas.contains_key(&(name.clone(), m.clone())) {
                return Err(format!(
                    "no login for the inter-broker listener: set listener.name.{}.{}.sasl.jaas.config",
                    name.to_ascii_lowercase(),
                    m.to_ascii_lowercase()
                ));
            }
        }
        Ok((name, Some(p)))
    }

    /// What clients of listener `name` are told to connect to.
    pub fn advertised_for(&self, name: &str) -> Option<Endpoint> {
        self.advertised_listeners
            .iter()
            .chain(&self.listeners)
            .find(|e| e.name == name)
            .cloned()
    }

    /// The address clients of the first listener are told to connect to
    /// (the startup banner's).
    pub fn advertised(&self) -> String {
        self.listeners
            .first()
            .and_then(|l| self.advertised_for(&l.name))
            .map(|e| e.addr)
            .unwrap_or_default()
    }

    /// The first listener's address.
    pub fn listen(&self) -> String {
        self.listeners
            .first()
            .map(|l| l.addr.clone())
            .unwrap_or_default()
    }

    /// The effective value of broker config `def`: what DescribeConfigs
    /// reports (none for a synonym nobody set and without a default).
    pub fn value_of(&self, def: BrokerDef) -> Option<String> {
        match def {
            BrokerDef::Own(k) => match &k.apply {
                Apply::Field { get, .. } => get(self),
                Apply::Synonym { .. } => self
                    .layers
                    .get(k.name)
                    .cloned()
                    .or_else(|| def.own_default()),
            },
            BrokerDef::TopicDefault(_, TopicDef::Log(s)) => Some(s.value(&self.log)),
            BrokerDef::TopicDefault(name, t @ TopicDef::Other(_)) => Some(
                self.layers
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| t.default_value()),
            ),
        }
    }

    /// The value a topic config has without a topic override.
    pub fn topic_default(&self, name: &str) -> Option<String> {
        let def = keys::topic_def(name)?;
        match (def, def.broker_name()) {
            (TopicDef::Log(s), _) => Some(s.value(&self.log)),
            (TopicDef::Other(_), Some(b)) => self.layers.get(b).cloned(),
            (TopicDef::Other(_), None) => None,
        }
        .or_else(|| Some(def.default_value()))
    }

    /// A topic's effective value of `name`: its override, else the broker's
    /// default for it.
    pub fn topic_value(&self, overrides: &BTreeMap<String, String>, name: &str) -> Option<String> {
        overrides
            .get(name)
            .cloned()
            .or_else(|| self.topic_default(name))
    }

    /// A topic's effective `min.insync.replicas` (at least 1; a value that
    /// does not parse counts as 1, as validation refuses such values).
    pub fn min_insync_replicas(&self, overrides: &BTreeMap<String, String>) -> usize {
        self.topic_value(overrides, "min.insync.replicas")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(1)
            .max(1)
    }

    /// The log config of a topic with `overrides` (already validated when
    /// they were set; a value that no longer parses keeps the default).
    pub fn topic_log_config(&self, overrides: &BTreeMap<String, String>) -> LogConfig {
        let mut log = self.log.clone();
        for (k, v) in overrides {
            if let Err(e) = log.set(k, v) {
                tracing::warn!(config = %k, error = %e, "topic config ignored");
            }
        }
        log
    }
}

/// Where the schema registry listens (`fjord.schema.registry.listener`,
/// `--schema-registry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaRegistryListen {
    /// `127.0.0.1:8081`; if that port is taken, the broker runs without a
    /// registry and logs a warning.
    Default,
    /// An address given explicitly: failing to bind it is a startup error.
    Addr(String),
    /// `off`.
    Off,
}

impl SchemaRegistryListen {
    /// Parses the config's value: `off`, or HOST:PORT.
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

    /// The value as the config prints it (none when not set: then the
    /// registry tries `127.0.0.1:8081`, which is not the same as giving
    /// that address).
    pub fn value(&self) -> Option<String> {
        match self {
            SchemaRegistryListen::Default => None,
            SchemaRegistryListen::Addr(a) => Some(a.clone()),
            SchemaRegistryListen::Off => Some("off".to_string()),
        }
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
            toml::Value::Array(items) => out.push((
                key,
                items
                    .iter()
                    .map(|i| match i {
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            )),
            other => out.push((key, other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests;
