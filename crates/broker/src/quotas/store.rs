//! Client quota entities and their values, as AlterClientQuotas sets them
//! and DescribeClientQuotas lists them, persisted in
//! `meta/client-quotas.json` (replaced atomically and durably before a
//! change is answered). With the cluster work they move into the metadata
//! log; nothing outside this module knows where they are kept.
//!
//! An entity is a user, a client id, or both; either part may be the
//! default (`<default>`, a null name on the wire). Kafka's `ip` entities
//! (`connection_creation_rate`) are refused: fjord does not enforce them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};

use crate::state::StateError;

const FILE: &str = "client-quotas.json";

/// Entity type names on the wire.
pub const USER: &str = "user";
pub const CLIENT_ID: &str = "client-id";
pub const IP: &str = "ip";

/// The quota keys of user and client-id entities, and whether each must be
/// a whole number (Kafka's LONG type).
pub const KEYS: &[(&str, bool)] = &[
    ("producer_byte_rate", true),
    ("consumer_byte_rate", true),
    ("request_percentage", false),
    ("controller_mutation_rate", false),
];

/// One part of an entity.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Slot {
    /// The entity has no such part.
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

/// A quota entity: the user part and the client-id part.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Entity {
    pub user: Slot,
    pub client_id: Slot,
}

impl Entity {
    /// The entity as wire entries `(type, name)`, user first.
    pub fn wire(&self) -> Vec<(String, Option<String>)> {
        let mut out = Vec::new();
        if let Some(n) = self.user.wire() {
            out.push((USER.to_string(), n));
        }
        if let Some(n) = self.client_id.wire() {
            out.push((CLIENT_ID.to_string(), n));
        }
        out
    }

    /// Parses wire entries the way Kafka validates them.
    pub fn parse(entries: &[(String, Option<String>)]) -> Result<Entity, String> {
        if entries.is_empty() {
            return Err("Invalid empty client quota entity".into());
        }
        let mut e = Entity {
            user: Slot::Absent,
            client_id: Slot::Absent,
        };
        for (ty, name) in entries {
            let slot = match name {
                None => Slot::Default,
                Some(n) if n.is_empty() => return Err(format!("Empty {ty} not supported")),
                Some(n) => Slot::Named(n.clone()),
            };
            let target =
                match ty.as_str() {
                    USER => &mut e.user,
                    CLIENT_ID => &mut e.client_id,
                    IP => return Err(
                        "ip quota entities (connection_creation_rate) are not supported by fjord"
                            .into(),
                    ),
                    other => return Err(format!("Unhandled client quota entity type: {other}")),
                };
            if *target != Slot::Absent {
                return Err(format!(
                    "Invalid client quota entity, duplicate entity entry {ty}"
                ));
            }
            *target = slot;
        }
        Ok(e)
    }
}

/// Checks one quota key and value as Kafka does.
pub fn validate(key: &str, value: f64) -> Result<(), String> {
    let Some((_, whole)) = KEYS.iter().find(|(k, _)| *k == key) else {
        return Err(format!("Invalid configuration key {key}"));
    };
    if value.is_nan() || value <= 0.0 {
        return Err(format!("Quota {key} must be greater than 0"));
    }
    if !value.is_finite() {
        return Err(format!("Quota {key} must be a finite number"));
    }
    if *whole {
        if value > i64::MAX as f64 {
            return Err(format!("Proposed value for {key} is too large for a LONG."));
        }
        if (value % 1.0).abs() > 1e-6 {
            return Err(format!("{key} cannot be a fractional value."));
        }
    }
    Ok(())
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
                        validate(k, *v).map_err(|m| {
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
        let parts = [USER, CLIENT_ID]
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
        assert!(Entity::parse(&[("ip".into(), None)]).is_err());
    }

    #[test]
    fn values_are_validated_as_kafka_does() {
        assert!(validate("producer_byte_rate", 1024.0).is_ok());
        assert!(validate("producer_byte_rate", 1024.5).is_err());
        assert!(validate("request_percentage", 12.5).is_ok());
        assert!(validate("consumer_byte_rate", 0.0).is_err());
        assert!(validate("consumer_byte_rate", -1.0).is_err());
        assert!(validate("request_percentage", f64::NAN).is_err());
        assert!(validate("retention.ms", 1.0).is_err());
    }

    #[test]
    fn filters_match_exact_default_any_and_strict() {
        let ua = Entity {
            user: named("alice"),
            client_id: Slot::Absent,
        };
        let ua_cd = Entity {
            user: named("alice"),
            client_id: Slot::Default,
        };
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
        let e = Entity {
            user: Slot::Default,
            client_id: named("app"),
        };
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
