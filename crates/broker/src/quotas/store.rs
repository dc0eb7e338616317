//! Client quota entities and their values, as AlterClientQuotas sets them
//! and DescribeClientQuotas lists them, persisted in
//! `meta/client-quotas.json` (replaced atomically and durably before a
//! change is answered) on one node; in cluster mode they live in the
//! metadata log and the store holds the last committed image's quotas
//! ([`QuotaStore::replace`]).
//!
//! An entity is a user, a client id, or both; either part may be the
//! default (`<default>`, a null name on the wire). Or it is an `ip` alone
//! (an address, or the default for every address; KIP-612), whose only key
//! is `connection_creation_rate`. Host names are not resolved: an `ip`
//! entity names an IPv4 or IPv6 address.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};

use crate::state::StateError;

const FILE: &str = "client-quotas.json";

/// Entity type names on the wire.
pub const USER: &str = "user";
pub const CLIENT_ID: &str = "client-id";
pub const IP: &str = "ip";

/// The key of `ip` entities: new connections per second (Kafka's INT).
pub const CONNECTION_CREATION_RATE: &str = "connection_creation_rate";

/// The quota keys of user and client-id entities, and whether each must be
/// a whole number (Kafka's LONG type).
pub const KEYS: &[(&str, bool)] = &[
    ("producer_byte_rate", true),
    ("consumer_byte_rate", true),
    ("request_percentage", false),
    ("controller_mutation_rate", false),
];

/// One part of an entity.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Slot {
    /// The entity has no such part.
    #[default]
    Absent,
    /// `<default>`: every user (or client id) without its own entry.
    Default,
    Named(String),
}

impl Slot {
    fn wire(&self) -> Option<Option<String>> {
        match self {
            Slot::Absent => None,
            Slot::Default => Some(None),
            Slot::Named(n) => Some(Some(n.clone())),
        }
    }
}

/// A quota entity: the user part and the client-id part, or the ip part
/// alone.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Entity {
    pub user: Slot,
    pub client_id: Slot,
    /// An address or `<default>`; never with a user or client id. Absent
    /// in files written before ip entities existed.
    #[serde(default)]
    pub ip: Slot,
}

impl Entity {
    /// A user and/or client-id entity.
    pub fn client(user: Slot, client_id: Slot) -> Entity {
        Entity {
            user,
            client_id,
            ip: Slot::Absent,
        }
    }

    /// The entity as wire entries `(type, name)`, user first.
    pub fn wire(&self) -> Vec<(String, Option<String>)> {
        let mut out = Vec::new();
        if let Some(n) = self.user.wire() {
            out.push((USER.to_string(), n));
        }
        if let Some(n) = self.client_id.wire() {
            out.push((CLIENT_ID.to_string(), n));
        }
        if let Some(n) = self.ip.wire() {
            out.push((IP.to_string(), n));
        }
        out
    }

    /// Whether this is an `ip` entity.
    pub fn is_ip(&self) -> bool {
        self.ip != Slot::Absent
    }

    /// Parses wire entries the way Kafka validates them.
    pub fn parse(entries: &[(String, Option<String>)]) -> Result<Entity, String> {
        if entries.is_empty() {
            return Err("Invalid empty client quota entity".into());
        }
        let mut e = Entity::client(Slot::Absent, Slot::Absent);
        for (ty, name) in entries {
            let slot = match name {
                None => Slot::Default,
                Some(n) if n.is_empty() => return Err(format!("Empty {ty} not supported")),
                Some(n) => Slot::Named(n.clone()),
            };
            let target = match ty.as_str() {
                USER => &mut e.user,
                CLIENT_ID => &mut e.client_id,
                IP => &mut e.ip,
                other => return Err(format!("Unhandled client quota entity type: {other}")),
            };
            if *target != Slot::Absent {
                return Err(format!(
                    "Invalid client quota entity, duplicate entity entry {ty}"
                ));
            }
            *target = slot;
        }
        if e.is_ip() {
            if e.user != Slot::Absent || e.client_id != Slot::Absent {
                return Err(
                    "Invalid quota entity combination, IP entity should not be combined \
                     with User or ClientId"
                        .into(),
                );
            }
            if let Slot::Named(n) = &e.ip {
                if n.parse::<IpAddr>().is_err() {
                    return Err(format!(
                        "{n} is not a valid IP address (fjord does not resolve host names)"
                    ));
                }
            }
        }
        Ok(e)
    }
}

/// Checks that `key` is a quota key of `entity`'s kind.
pub fn check_key(entity: &Entity, key: &str) -> Result<(), String> {
    let known = if entity.is_ip() {
        key == CONNECTION_CREATION_RATE
    } else {
        KEYS.iter().any(|(k, _)| *k == key)
    };
    if known {
        Ok(())
    } else {
        Err(format!("Invalid configuration key {key}"))
    }
}

/// Checks one quota key and value of `entity` as Kafka does.
pub fn validate(entity: &Entity, key: &str, value: f64) -> Result<(), String> {
    check_key(entity, key)?;
    if value.is_nan() || value <= 0.0 {
        return Err(format!("Quota {key} must be greater than 0"));
    }
    if !value.is_finite() {
        return Err(format!("Quota {key} must be a finite number"));
    }
    let whole = if entity.is_ip() {
        // Kafka's INT.
        if value > i32::MAX as f64 {
            return Err(format!("Proposed value for {key} is too large for an INT."));
        }
        true
    } else {
        KEYS.iter().any(|(k, whole)| *k == key && *whole)
    };
    if whole {
        if value > i64::MAX as f64 {
            return Err(format!("Proposed value for {key} is too large for a LONG."));
        }
        if (value % 1.0).abs() > 1e-6 {
            return Err(format!("{key} cannot be a fractional value."));
        }
    }
    Ok(())
}

/// The `connection_creation_rate` quotas: per address, and the default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IpRates {
    pub default: Option<u32>,
    pub per_ip: HashMap<IpAddr, u32>,
}

impl IpRates {
    /// The ip entities of `quotas`.
    pub fn of(quotas: &Quotas) -> IpRates {
        let mut out = IpRates::default();
        for (e, values) in quotas {
            let Some(v) = values.get(CONNECTION_CREATION_RATE) else {
                continue;
            };
            let rate = v.clamp(1.0, i32::MAX as f64) as u32;
            match &e.ip {
                Slot::Default => out.default = Some(rate),
                Slot::Named(n) => {
                    if let Ok(ip) = n.parse() {
                        out.per_ip.insert(ip, rate);
                    }
                }
                Slot::Absent => {}
            }
        }
        out
    }

    /// The rate that applies to `ip`: its own, else the default.
    pub fn rate_for(&self, ip: IpAddr) -> Option<u32> {
        self.per_ip.get(&ip).copied().or(self.default)
    }

    pub fn is_empty(&self) -> bool {
        self.default.is_none() && self.per_ip.is_empty()
    }
}

/// Every entity with at least one quota, and its values by key.
pub type Quotas = BTreeMap<Entity, BTreeMap<String, f64>>;

/// One change of AlterClientQuotas: set (`Some`) or remove (`None`) a key.
pub struct Change {
    pub entity: Entity,
    pub key: String,
    pub value: Option<f64>,
}

#[derive(Serialize, Deserialize)]
struct StoredFile {
    entries: Vec<StoredEntry>,
}

#[derive(Serialize, Deserialize)]
struct StoredEntry {
    entity: Entity,
    quotas: BTreeMap<String, f64>,
}

/// The persisted quotas.
pub struct QuotaStore {
    path: PathBuf,
    quotas: RwLock<Arc<Quotas>>,
    writer: Mutex<()>,
}

impl QuotaStore {
    pub fn open(data_dir: &Path) -> Result<QuotaStore, StateError> {
        let path = data_dir.join("meta").join(FILE);
        let quotas = match crate::meta_store::read_meta_file(&path)? {
            Some(text) => {
                let file: StoredFile = serde_json::from_str(&text)
                    .map_err(|e| StateError::Corrupt(path.display().to_string(), e.to_string()))?;
                let mut q = Quotas::new();
                for e in file.entries {
                    for (k, v) in &e.quotas {
                        validate(&e.entity, k, *v).map_err(|m| {
                            StateError::Corrupt(path.display().to_string(), m.clone())
                        })?;
                    }
                    if !e.quotas.is_empty() {
                        q.insert(e.entity, e.quotas);
                    }
                }
                q
            }
            None => Quotas::new(),
        };
        Ok(QuotaStore {
            path,
            quotas: RwLock::new(Arc::new(quotas)),
            writer: Mutex::new(()),
        })
    }

    /// Whether `name` is a temp file a crash mid-save left behind.
    pub fn is_stale_temp(name: &str) -> bool {
        crate::meta_store::is_meta_temp(name, FILE)
    }

    pub fn snapshot(&self) -> Arc<Quotas> {
        self.quotas
            .read()
            .map(|q| q.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Replaces every quota in memory, writing nothing (cluster mode: the
    /// quotas live in the metadata image).
    pub fn replace(&self, quotas: Quotas) -> Arc<Quotas> {
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let next = Arc::new(quotas);
        let mut q = self.quotas.write().unwrap_or_else(|p| p.into_inner());
        *q = next.clone();
        next
    }

    /// Applies `changes` together; returns once they are durable, with the
    /// new quotas.
    pub fn apply(&self, changes: &[Change]) -> Result<Arc<Quotas>, StateError> {
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut next: Quotas = (*self.snapshot()).clone();
        for c in changes {
            match c.value {
                Some(v) => {
                    next.entry(c.entity.clone())
                        .or_default()
                        .insert(c.key.clone(), v);
                }
                None => {
                    if let Some(m) = next.get_mut(&c.entity) {
                        m.remove(&c.key);
                        if m.is_empty() {
                            next.remove(&c.entity);
                        }
                    }
                }
            }
        }
        let file = StoredFile {
            entries: next
                .iter()
                .map(|(e, q)| StoredEntry {
                    entity: e.clone(),
                    quotas: q.clone(),
                })
                .collect(),
        };
        let text = serde_json::to_string_pretty(&file)
            .map_err(|e| StateError::Corrupt(self.path.display().to_string(), e.to_string()))?;
        crate::meta_store::replace_meta_file(&self.path, &text)?;
        let next = Arc::new(next);
        let mut q = self.quotas.write().unwrap_or_else(|p| p.into_inner());
        *q = next.clone();
        Ok(next)
    }
}

/// A DescribeClientQuotas filter component.
pub struct Component {
    pub entity_type: String,
    pub kind: Match,
}

pub enum Match {
    Exact(String),
    Default,
    Any,
}

/// Parses DescribeClientQuotas components (`match_type` 0 exact, 1
/// default, 2 any).
pub fn parse_filter(parts: &[(String, i8, Option<String>)]) -> Result<Vec<Component>, String> {
    let mut out: Vec<Component> = Vec::new();
    for (ty, match_type, name) in parts {
        if out.iter().any(|c| c.entity_type == *ty) {
            return Err(format!("Duplicate {ty} filter component entity type"));
        }
        if ty != USER && ty != CLIENT_ID && ty != IP {
            return Err(format!("Custom entity type '{ty}' not supported"));
        }
        if (ty == IP && out.iter().any(|c| c.entity_type != IP))
            || (ty != IP && out.iter().any(|c| c.entity_type == IP))
        {
            return Err(
                "Invalid entity filter component combination. IP filter component \
                 should not be used with user or clientId filter component."
                    .into(),
            );
        }
        let kind = match (match_type, name) {
            (0, Some(n)) => Match::Exact(n.clone()),
            (0, None) => {
                return Err(format!(
                    "Request specified an exact match for {ty} without a name"
                ))
            }
            (1, _) => Match::Default,
            (2, _) => Match::Any,
            (m, _) => return Err(format!("Unexpected match type {m}")),
        };
        out.push(Component {
            entity_type: ty.clone(),
            kind,
        });
    }
    Ok(out)
}

/// Whether `entity` passes `filter` (strict: it has no other part).
pub fn matches(entity: &Entity, filter: &[Component], strict: bool) -> bool {
    let slot = |ty: &str| match ty {
        USER => Some(&entity.user),
        CLIENT_ID => Some(&entity.client_id),
        IP => Some(&entity.ip),
        _ => None,
    };
    for c in filter {
        let Some(s) = slot(&c.entity_type) else {
            return false;
        };
        let ok = match (&c.kind, s) {
            (_, Slot::Absent) => false,
            (Match::Any, _) => true,
            (Match::Default, Slot::Default) => true,
            (Match::Exact(n), Slot::Named(m)) => n == m,
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    if strict {
        let parts = [USER, CLIENT_ID, IP]
            .iter()
            .filter(|ty| slot(ty).is_some_and(|s| *s != Slot::Absent))
            .count();
        if parts != filter.len() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(s: &str) -> Slot {
        Slot::Named(s.into())
    }

    #[test]
    fn entities_are_validated_as_kafka_does() {
        let e = Entity::parse(&[
            ("client-id".into(), None),
            ("user".into(), Some("alice".into())),
        ])
        .unwrap();
        assert_eq!(e.user, named("alice"));
        assert_eq!(e.client_id, Slot::Default);
        assert_eq!(
            e.wire(),
            vec![
                ("user".to_string(), Some("alice".to_string())),
                ("client-id".to_string(), None)
            ]
        );
        assert!(Entity::parse(&[]).is_err());
        assert!(Entity::parse(&[("user".into(), Some(String::new()))]).is_err());
        assert!(Entity::parse(&[("user".into(), None), ("user".into(), None)]).is_err());
        assert!(Entity::parse(&[("group".into(), None)]).is_err());
    }

    #[test]
    fn ip_entities_are_an_address_or_the_default_and_stand_alone() {
        let e = Entity::parse(&[("ip".into(), None)]).unwrap();
        assert_eq!(e.ip, Slot::Default);
        assert_eq!(e.wire(), vec![("ip".to_string(), None)]);
        let e = Entity::parse(&[("ip".into(), Some("::1".into()))]).unwrap();
        assert_eq!(e.ip, named("::1"));
        let err = Entity::parse(&[("ip".into(), Some("broker.example".into()))]).unwrap_err();
        assert!(err.contains("not a valid IP address"), "{err}");
        let err =
            Entity::parse(&[("ip".into(), None), ("user".into(), Some("a".into()))]).unwrap_err();
        assert!(err.contains("should not be combined"), "{err}");
        assert!(Entity::parse(&[("ip".into(), None), ("ip".into(), None)]).is_err());
        // Filters: ip alone, never with user or client-id.
        let f = parse_filter(&[("ip".into(), 0, Some("::1".into()))]).unwrap();
        assert!(matches(&e, &f, true));
        assert!(!matches(
            &Entity::client(named("a"), Slot::Absent),
            &f,
            false
        ));
        let f = parse_filter(&[("ip".into(), 2, None)]).unwrap();
        assert!(matches(&e, &f, true));
        assert!(parse_filter(&[("ip".into(), 2, None), ("user".into(), 2, None)]).is_err());
        assert!(parse_filter(&[("user".into(), 2, None), ("ip".into(), 1, None)]).is_err());
        // A user filter never lists ip entities; an empty one lists all.
        let f = parse_filter(&[("user".into(), 2, None)]).unwrap();
        assert!(!matches(&e, &f, false));
        assert!(matches(&e, &[], false));
        // The rates: an address's own, else the default.
        let mut q = Quotas::new();
        q.insert(
            e.clone(),
            BTreeMap::from([(CONNECTION_CREATION_RATE.to_string(), 5.0)]),
        );
        let rates = IpRates::of(&q);
        assert_eq!(rates.rate_for("::1".parse().unwrap()), Some(5));
        assert_eq!(rates.rate_for("127.0.0.1".parse().unwrap()), None);
        q.insert(
            Entity::parse(&[("ip".into(), None)]).unwrap(),
            BTreeMap::from([(CONNECTION_CREATION_RATE.to_string(), 50.0)]),
        );
        let rates = IpRates::of(&q);
        assert_eq!(rates.rate_for("127.0.0.1".parse().unwrap()), Some(50));
        assert_eq!(rates.rate_for("::1".parse().unwrap()), Some(5));
    }

    #[test]
    fn values_are_validated_as_kafka_does() {
        let u = Entity::client(Slot::Default, Slot::Absent);
        assert!(validate(&u, "producer_byte_rate", 1024.0).is_ok());
        assert!(validate(&u, "producer_byte_rate", 1024.5).is_err());
        assert!(validate(&u, "request_percentage", 12.5).is_ok());
        assert!(validate(&u, "consumer_byte_rate", 0.0).is_err());
        assert!(validate(&u, "consumer_byte_rate", -1.0).is_err());
        assert!(validate(&u, "request_percentage", f64::NAN).is_err());
        assert!(validate(&u, "retention.ms", 1.0).is_err());
        assert!(validate(&u, "connection_creation_rate", 5.0).is_err());
        let ip = Entity::parse(&[("ip".into(), Some("127.0.0.1".into()))]).unwrap();
        assert!(validate(&ip, "connection_creation_rate", 5.0).is_ok());
        assert!(validate(&ip, "connection_creation_rate", 5.5).is_err());
        assert!(validate(&ip, "connection_creation_rate", 3e9).is_err());
        assert!(validate(&ip, "producer_byte_rate", 5.0).is_err());
    }

    #[test]
    fn filters_match_exact_default_any_and_strict() {
        let ua = Entity::client(named("alice"), Slot::Absent);
        let ua_cd = Entity::client(named("alice"), Slot::Default);
        let f = parse_filter(&[("user".into(), 0, Some("alice".into()))]).unwrap();
        assert!(matches(&ua, &f, false));
        assert!(matches(&ua_cd, &f, false));
        assert!(matches(&ua, &f, true));
        assert!(!matches(&ua_cd, &f, true));
        let f = parse_filter(&[("client-id".into(), 1, None)]).unwrap();
        assert!(matches(&ua_cd, &f, false));
        assert!(!matches(&ua, &f, false));
        let f = parse_filter(&[("client-id".into(), 2, None)]).unwrap();
        assert!(!matches(&ua_cd, &f, true));
        assert!(matches(&ua_cd, &f, false));
        assert!(matches(&ua, &[], false));
        assert!(parse_filter(&[("user".into(), 0, None)]).is_err());
        assert!(parse_filter(&[("user".into(), 2, None), ("user".into(), 1, None)]).is_err());
    }

    #[test]
    fn quotas_survive_a_reopen() {
        let dir = std::env::temp_dir().join(format!("fjord-quotas-{}", rand::random::<u64>()));
        std::fs::create_dir_all(dir.join("meta")).unwrap();
        let s = QuotaStore::open(&dir).unwrap();
        let e = Entity::client(Slot::Default, named("app"));
        s.apply(&[Change {
            entity: e.clone(),
            key: "producer_byte_rate".into(),
            value: Some(1_048_576.0),
        }])
        .unwrap();
        let again = QuotaStore::open(&dir).unwrap();
        assert_eq!(again.snapshot()[&e]["producer_byte_rate"], 1_048_576.0);
        again
            .apply(&[Change {
                entity: e.clone(),
                key: "producer_byte_rate".into(),
                value: None,
            }])
            .unwrap();
        assert!(QuotaStore::open(&dir).unwrap().snapshot().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
