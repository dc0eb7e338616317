//! The config catalogue: every key fjord accepts, declared once.
//!
//! Three tables hold them:
//! - storage's `LOG_SETTINGS`: topic configs that change how a log behaves
//!   (`retention.ms`, ...), each naming the broker config that supplies its
//!   default (`log.retention.ms`);
//! - [`TOPIC_KEYS`] (in `table.rs`): the other topic configs (kept as
//!   strings: applied by the broker, like `compression.type`, or accepted
//!   without effect on one node, like `min.insync.replicas`), with their
//!   broker synonyms;
//! - [`BROKER_KEYS`] (in `table.rs`): broker-only configs and the
//!   lower-priority synonyms of the others (`log.retention.hours`), and
//!   [`SECURITY_KEYS`] (in `security_table.rs`): listeners' protocols,
//!   `ssl.*` and `sasl.*`, and [`QUOTA_KEYS`] (in `quota_table.rs`): quota
//!   windows and connection limits, and [`CLUSTER_KEYS`] (in
//!   `cluster_table.rs`): the metadata quorum and roles of cluster mode;
//!   [`broker_keys`] joins them.
//!
//! This module defines their types and joins them: [`topic_defs`] and
//! [`broker_defs`] are the two lists everything else is derived from: the
//! TOML file, flags and environment variables, DescribeConfigs (values,
//! sources, synonyms, types, documentation), AlterConfigs validation,
//! `fjord config list` and the README's config table ([`markdown_table`]).

use fjord_storage::{LogSetting, ValueType, LOG_SETTINGS};

pub use super::cluster_table::CLUSTER_KEYS;
pub use super::quota_table::QUOTA_KEYS;
pub use super::security_table::SECURITY_KEYS;
pub use super::table::{split_host_port, BROKER_KEYS, TOPIC_KEYS};
use super::BrokerConfig;

/// Whether and where a broker config can be changed at runtime
/// (AlterConfigs / IncrementalAlterConfigs on a broker resource).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Set by the config file or a flag; read-only at runtime.
    ReadOnly,
    /// Kafka's "cluster-wide" dynamic configs: settable per broker and as
    /// the cluster default (the `<default>` resource, an empty name).
    ClusterWide,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::ReadOnly => "read-only",
            Mode::ClusterWide => "cluster-wide",
        }
    }
}

/// A command-line flag of `fjord broker` that sets a key.
pub struct Flag {
    /// The long flag without its dashes (`data-dir`).
    pub long: &'static str,
    /// The environment variable read when the flag is absent.
    pub env: &'static str,
}

/// How a broker key's value reaches the typed config.
pub enum Apply {
    /// Parsed into a field of [`BrokerConfig`] and read back from it.
    Field {
        set: fn(&mut BrokerConfig, &str) -> Result<(), String>,
        get: fn(&BrokerConfig) -> Option<String>,
    },
    /// A lower-priority synonym of the key `of` (`log.retention.hours` of
    /// `log.retention.ms`), converted to it. Among synonyms of one key a
    /// smaller `rank` wins, as Kafka orders them; the key itself wins over
    /// all of them.
    Synonym {
        of: &'static str,
        rank: u8,
        convert: fn(&str) -> Result<String, String>,
    },
}

/// Where a broker key's default comes from.
#[derive(Clone, Copy, Debug)]
pub enum KeyDefault {
    /// None (Kafka prints such a config as null).
    None,
    /// This value, parsed into the field by `BrokerConfig::default`.
    Value(&'static str),
    /// The typed default of the field, declared by the crate that owns the
    /// setting (the group coordinator's `GroupConfig` and
    /// `ConsumerGroupConfig`, the transaction coordinator's timeout bound),
    /// as storage's `LogConfig` declares the log defaults.
    Typed,
}

/// A broker-only config key.
pub struct BrokerKey {
    pub name: &'static str,
    pub ty: ValueType,
    pub default: KeyDefault,
    pub mode: Mode,
    pub flag: Option<Flag>,
    pub doc: &'static str,
    pub apply: Apply,
}

/// What a topic config not owned by storage accepts.
#[derive(Clone, Copy)]
pub enum TopicKind {
    /// Any value the check accepts is kept as the override.
    Stored(fn(&str) -> Result<(), String>),
    /// Only the default is supported (setting it is accepted).
    Fixed,
}

/// A topic config not owned by storage.
pub struct TopicKey {
    pub name: &'static str,
    /// Kafka's broker-level synonym, which supplies the default.
    pub broker_name: Option<&'static str>,
    pub ty: ValueType,
    pub default: &'static str,
    pub kind: TopicKind,
    pub doc: &'static str,
}

/// A topic config: one of storage's log settings or a [`TopicKey`].
#[derive(Clone, Copy)]
pub enum TopicDef {
    Log(&'static LogSetting),
    Other(&'static TopicKey),
}

impl TopicDef {
    pub fn name(self) -> &'static str {
        match self {
            TopicDef::Log(s) => s.name,
            TopicDef::Other(k) => k.name,
        }
    }

    /// The broker config that supplies the default.
    pub fn broker_name(self) -> Option<&'static str> {
        match self {
            TopicDef::Log(s) => Some(s.broker_name),
            TopicDef::Other(k) => k.broker_name,
        }
    }

    pub fn ty(self) -> ValueType {
        match self {
            TopicDef::Log(s) => s.value_type,
            TopicDef::Other(k) => k.ty,
        }
    }

    pub fn doc(self) -> &'static str {
        match self {
            TopicDef::Log(s) => s.doc,
            TopicDef::Other(k) => k.doc,
        }
    }

    /// fjord's built-in default.
    pub fn default_value(self) -> String {
        match self {
            TopicDef::Log(s) => s.default_value(),
            TopicDef::Other(k) => k.default.to_string(),
        }
    }

    /// Checks a value of a [`TopicKey`] (storage's settings check their
    /// own when applied).
    pub fn check(self, value: &str) -> Result<(), String> {
        match self {
            TopicDef::Log(s) => s.apply(&mut fjord_storage::LogConfig::default(), value),
            TopicDef::Other(k) => match k.kind {
                TopicKind::Stored(check) => check(value),
                TopicKind::Fixed if value.trim() == k.default => Ok(()),
                TopicKind::Fixed => Err(format!("fjord supports only {}={}", k.name, k.default)),
            },
        }
    }
}

/// Every topic config, sorted by name.
pub fn topic_defs() -> Vec<TopicDef> {
    let mut all: Vec<TopicDef> = LOG_SETTINGS
        .iter()
        .map(TopicDef::Log)
        .chain(TOPIC_KEYS.iter().map(TopicDef::Other))
        .collect();
    all.sort_by_key(|d| d.name());
    all
}

pub fn topic_def(name: &str) -> Option<TopicDef> {
    fjord_storage::log_setting(name)
        .map(TopicDef::Log)
        .or_else(|| {
            TOPIC_KEYS
                .iter()
                .find(|k| k.name == name)
                .map(TopicDef::Other)
        })
}

/// A broker config: a [`BrokerKey`] or the broker-level default of a
/// topic config (`log.retention.ms` of `retention.ms`).
#[derive(Clone, Copy)]
pub enum BrokerDef {
    Own(&'static BrokerKey),
    TopicDefault(&'static str, TopicDef),
}

impl BrokerDef {
    pub fn name(self) -> &'static str {
        match self {
            BrokerDef::Own(k) => k.name,
            BrokerDef::TopicDefault(name, _) => name,
        }
    }

    pub fn ty(self) -> ValueType {
        match self {
            BrokerDef::Own(k) => k.ty,
            BrokerDef::TopicDefault(_, t) => t.ty(),
        }
    }

    pub fn doc(self) -> &'static str {
        match self {
            BrokerDef::Own(k) => k.doc,
            BrokerDef::TopicDefault(_, t) => t.doc(),
        }
    }

    /// Whether the value is secret (a password, an inline key): described
    /// as sensitive with a null value, as Kafka does.
    pub fn sensitive(self) -> bool {
        self.ty() == ValueType::Password
    }

    /// Kafka makes every broker-level default of a topic config dynamic.
    pub fn mode(self) -> Mode {
        match self {
            BrokerDef::Own(k) => k.mode,
            BrokerDef::TopicDefault(..) => Mode::ClusterWide,
        }
    }

    pub fn flag(self) -> Option<&'static Flag> {
        match self {
            BrokerDef::Own(k) => k.flag.as_ref(),
            BrokerDef::TopicDefault(..) => None,
        }
    }

    /// The topic config this key supplies the default of.
    pub fn topic(self) -> Option<TopicDef> {
        match self {
            BrokerDef::Own(_) => None,
            BrokerDef::TopicDefault(_, t) => Some(t),
        }
    }

    /// The default as Kafka's DEFAULT_CONFIG layer holds it: none for a
    /// key whose default comes from a lower-priority synonym
    /// (`log.retention.ms` defaults through `log.retention.hours=168`).
    pub fn own_default(self) -> Option<String> {
        match self {
            BrokerDef::Own(k) => match (k.default, &k.apply) {
                (KeyDefault::None, _) => None,
                (KeyDefault::Value(v), _) => Some(v.to_string()),
                (KeyDefault::Typed, Apply::Field { get, .. }) => get(&BrokerConfig::default()),
                (KeyDefault::Typed, Apply::Synonym { .. }) => None,
            },
            BrokerDef::TopicDefault(name, t) => {
                let via_synonym = broker_keys().any(|k| {
                    matches!(k.default, KeyDefault::Value(_))
                        && matches!(k.apply, Apply::Synonym { of, .. } if of == name)
                });
                (!via_synonym).then(|| t.default_value())
            }
        }
    }

    /// The default shown to people (`fjord config list`, README): the own
    /// default, else the one a synonym gives.
    pub fn effective_default(self) -> Option<String> {
        match self {
            BrokerDef::TopicDefault(_, t) => Some(t.default_value()),
            BrokerDef::Own(_) => self.own_default(),
        }
    }
}

/// Every broker-only key: [`BROKER_KEYS`], [`SECURITY_KEYS`], [`QUOTA_KEYS`]
/// and [`CLUSTER_KEYS`].
pub fn broker_keys() -> impl Iterator<Item = &'static BrokerKey> {
    BROKER_KEYS
        .iter()
        .chain(SECURITY_KEYS)
        .chain(QUOTA_KEYS)
        .chain(CLUSTER_KEYS)
}

/// Every broker config, sorted by name.
pub fn broker_defs() -> Vec<BrokerDef> {
    let mut all: Vec<BrokerDef> = broker_keys().map(BrokerDef::Own).collect();
    for t in topic_defs() {
        if let Some(b) = t.broker_name() {
            all.push(BrokerDef::TopicDefault(b, t));
        }
    }
    all.sort_by_key(|d| d.name());
    all
}

pub fn broker_def(name: &str) -> Option<BrokerDef> {
    if let Some(k) = broker_keys().find(|k| k.name == name) {
        return Some(BrokerDef::Own(k));
    }
    topic_defs()
        .into_iter()
        .find_map(|t| match t.broker_name() {
            Some(b) if b == name => Some(BrokerDef::TopicDefault(b, t)),
            _ => None,
        })
}

/// Kafka's synonyms of a broker config, highest priority first: the key
/// its synonyms convert to, then those synonyms by rank
/// (`log.retention.ms`, `log.retention.minutes`, `log.retention.hours`).
/// A key without synonyms is its own list.
pub fn synonym_group(name: &str) -> Vec<&'static str> {
    let primary = match broker_keys().find(|k| k.name == name) {
        Some(BrokerKey {
            apply: Apply::Synonym { of, .. },
            ..
        }) => *of,
        _ => match broker_def(name) {
            Some(d) => d.name(),
            None => return Vec::new(),
        },
    };
    let mut lower: Vec<(u8, &'static str)> = BROKER_KEYS
        .iter()
        .filter_map(|k| match k.apply {
            Apply::Synonym { of, rank, .. } if of == primary => Some((rank, k.name)),
            _ => None,
        })
        .collect();
    lower.sort();
    std::iter::once(primary)
        .chain(lower.into_iter().map(|(_, n)| n))
        .collect()
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The README's config table: every broker config with its topic-level
/// counterpart, default, dynamic mode, flag and documentation.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| broker config | topic config | type | default | dynamic | flag / env | description |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for d in broker_defs() {
        let topic = d
            .topic()
            .map(|t| format!("`{}`", t.name()))
            .unwrap_or_default();
        let default = match d.effective_default() {
            Some(v) if v.is_empty() => "(empty)".to_string(),
            Some(v) => format!("`{}`", cell(&v)),
            None => "none".to_string(),
        };
        let flag = d
            .flag()
            .map(|f| format!("`--{}` `{}`", f.long, f.env))
            .unwrap_or_default();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} |\n",
            d.name(),
            topic,
            d.ty().name(),
            default,
            d.mode().name(),
            flag,
            cell(d.doc())
        ));
    }
    for t in topic_defs() {
        if t.broker_name().is_none() {
            out.push_str(&format!(
                "| | `{}` | {} | `{}` | | | {} |\n",
                t.name(),
                t.ty().name(),
                cell(&t.default_value()),
                cell(t.doc())
            ));
        }
    }
    out
}
