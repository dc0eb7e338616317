//! The security part of the cluster metadata (issues 12 and 13): SCRAM
//! credentials, ACL entries and client quotas, as Kafka keeps them in
//! `__cluster_metadata` (`UserScramCredentialRecord`,
//! `RemoveUserScramCredentialRecord`, `AccessControlEntryRecord`,
//! `RemoveAccessControlEntryRecord`, `ClientQuotaRecord`).
//!
//! This crate knows no broker: ACL entries and quota entities are kept with
//! Kafka's wire codes and names, checked here only as far as the image
//! needs to stay well formed (known codes, non-empty names, positive
//! finite values). The broker turns them into its authorizer's bindings,
//! its user store's credentials and its quota manager's entities when it
//! replays an image, and checks a change fully before proposing it.
//!
//! A credential is never a password: the salt, the iteration count and
//! the two keys derived from the salted password (RFC 5802), as Kafka
//! stores them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::image::ImageError;
use crate::records::{MetadataRecord, Uuid};

/// Kafka's SCRAM mechanism codes (`ScramMechanism`): SCRAM-SHA-256 is 1,
/// SCRAM-SHA-512 is 2.
pub const SCRAM_MECHANISMS: [i8; 2] = [1, 2];

/// Kafka's bounds on a SCRAM credential's iteration count.
pub const MIN_SCRAM_ITERATIONS: u32 = 4096;
pub const MAX_SCRAM_ITERATIONS: u32 = 16384;

/// Kafka's name of the one cluster resource.
pub const CLUSTER_RESOURCE_NAME: &str = "kafka-cluster";

/// The quota entity types: `user`, `client-id` and `ip` (KIP-612).
pub const QUOTA_ENTITY_TYPES: [&str; 3] = ["user", "client-id", "ip"];

/// Bytes serialised as lowercase hex in the log and snapshots.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        serializer.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bad = || serde::de::Error::custom("bytes are an even number of hex digits");
        if text.len() % 2 != 0 {
            return Err(bad());
        }
        let mut out = Vec::with_capacity(text.len() / 2);
        for i in (0..text.len()).step_by(2) {
            let pair = text.get(i..i + 2).ok_or_else(bad)?;
            out.push(u8::from_str_radix(pair, 16).map_err(|_| bad())?);
        }
        Ok(Bytes(out))
    }
}

/// One user's credential for one mechanism (never the password).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    pub salt: Bytes,
    pub iterations: u32,
    pub stored_key: Bytes,
    pub server_key: Bytes,
}

impl fmt::Debug for ScramCredential {
    /// The keys stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramCredential")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// One ACL entry, with Kafka's codes (`AccessControlEntryRecord`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AclEntry {
    /// TOPIC 2, GROUP 3, CLUSTER 4, TRANSACTIONAL_ID 5, DELEGATION_TOKEN 6,
    /// USER 7.
    pub resource_type: i8,
    pub resource_name: String,
    /// LITERAL 3, PREFIXED 4.
    pub pattern_type: i8,
    /// `User:alice`, `User:*`.
    pub principal: String,
    /// An address or `*`.
    pub host: String,
    /// ALL 2 … DESCRIBE_TOKENS 14.
    pub operation: i8,
    /// DENY 2, ALLOW 3.
    pub permission_type: i8,
}

/// One part of a quota entity: its type and its name (None: `<default>`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct QuotaEntityPart {
    pub entity_type: String,
    pub name: Option<String>,
}

/// A quota value; equal when bit-for-bit equal, so records stay `Eq`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QuotaValue(pub f64);

impl PartialEq for QuotaValue {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for QuotaValue {}

/// One entity's quotas.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientQuotaEntry {
    /// The entity's parts, sorted by type.
    pub entity: Vec<QuotaEntityPart>,
    pub quotas: BTreeMap<String, QuotaValue>,
}

/// The users, ACLs and client quotas of the cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityImage {
    /// SCRAM credentials: user → mechanism code → credential.
    #[serde(default)]
    pub scram: BTreeMap<String, BTreeMap<i8, ScramCredential>>,
    /// ACL entries by their id.
    #[serde(default)]
    pub acls: BTreeMap<Uuid, AclEntry>,
    /// Client quotas by [`entity_key`] of their entity.
    #[serde(default)]
    pub client_quotas: BTreeMap<String, ClientQuotaEntry>,
}

/// The key of an entity in [`SecurityImage::client_quotas`]: its sorted
/// parts as JSON (JSON maps are keyed by strings).
pub fn entity_key(entity: &[QuotaEntityPart]) -> String {
    let mut sorted = entity.to_vec();
    sorted.sort();
    serde_json::to_string(&sorted).unwrap_or_default()
}

fn invalid(why: impl Into<String>) -> ImageError {
    ImageError::Invalid(why.into())
}

/// The checks of a credential record.
fn check_credential(user: &str, mechanism: i8, c: &ScramCredential) -> Result<(), ImageError> {
    if user.is_empty() {
        return Err(invalid("a SCRAM user needs a name"));
    }
    if !SCRAM_MECHANISMS.contains(&mechanism) {
        return Err(invalid(format!("unknown SCRAM mechanism {mechanism}")));
    }
    if !(MIN_SCRAM_ITERATIONS..=MAX_SCRAM_ITERATIONS).contains(&c.iterations) {
        return Err(invalid(format!(
            "SCRAM iterations {} outside {MIN_SCRAM_ITERATIONS}..={MAX_SCRAM_ITERATIONS}",
            c.iterations
        )));
    }
    if c.salt.0.is_empty() || c.stored_key.0.is_empty() || c.server_key.0.is_empty() {
        return Err(invalid("a SCRAM credential needs a salt and both keys"));
    }
    Ok(())
}

/// The checks of an ACL entry: Kafka's codes of a concrete binding (no
/// ANY/MATCH/UNKNOWN), a name, a typed principal and a host.
fn check_acl(e: &AclEntry) -> Result<(), ImageError> {
    if !(2..=7).contains(&e.resource_type) {
        return Err(invalid(format!("ACL resource type {}", e.resource_type)));
    }
    if !(3..=4).contains(&e.pattern_type) {
        return Err(invalid(format!("ACL pattern type {}", e.pattern_type)));
    }
    if !(2..=14).contains(&e.operation) {
        return Err(invalid(format!("ACL operation {}", e.operation)));
    }
    if !(2..=3).contains(&e.permission_type) {
        return Err(invalid(format!("ACL permission {}", e.permission_type)));
    }
    if e.resource_name.is_empty() || e.host.is_empty() {
        return Err(invalid("an ACL needs a resource name and a host"));
    }
    if e.resource_type == 4 && e.resource_name != CLUSTER_RESOURCE_NAME {
        return Err(invalid(format!(
            "the cluster resource is named {CLUSTER_RESOURCE_NAME}"
        )));
    }
    match e.principal.split_once(':') {
        Some((kind, name)) if !kind.is_empty() && !name.is_empty() => Ok(()),
        _ => Err(invalid(format!("ACL principal {:?}", e.principal))),
    }
}

/// The checks of a quota entity and value.
fn check_quota(
    entity: &[QuotaEntityPart],
    key: &str,
    value: Option<QuotaValue>,
) -> Result<(), ImageError> {
    if entity.is_empty() || key.is_empty() {
        return Err(invalid("a client quota needs an entity and a key"));
    }
    let mut types: Vec<&str> = entity.iter().map(|p| p.entity_type.as_str()).collect();
    types.sort_unstable();
    types.dedup();
    if types.len() != entity.len() {
        return Err(invalid("a quota entity names a type twice"));
    }
    if let Some(t) = types.iter().find(|t| !QUOTA_ENTITY_TYPES.contains(t)) {
        return Err(invalid(format!("unknown quota entity type {t}")));
    }
    if types.contains(&"ip") && types.len() > 1 {
        return Err(invalid("an ip quota entity stands alone"));
    }
    if entity.iter().any(|p| p.name.as_deref() == Some("")) {
        return Err(invalid("an empty quota entity name"));
    }
    if let Some(QuotaValue(v)) = value {
        if !v.is_finite() || v <= 0.0 {
            return Err(invalid(format!("quota {key} must be a positive number")));
        }
    }
    Ok(())
}

impl SecurityImage {
    /// Applies one security record; on error nothing changed. Any other
    /// record is refused (the caller routes only these here).
    pub fn apply(&mut self, record: &MetadataRecord) -> Result<(), ImageError> {
        match record {
            MetadataRecord::UserScramCredential {
                user,
                mechanism,
                credential,
            } => {
                check_credential(user, *mechanism, credential)?;
                self.scram
                    .entry(user.clone())
                    .or_default()
                    .insert(*mechanism, credential.clone());
            }
            MetadataRecord::RemoveUserScramCredential { user, mechanism } => {
                let creds = self
                    .scram
                    .get_mut(user)
                    .filter(|c| c.contains_key(mechanism))
                    .ok_or_else(|| {
                        ImageError::NotFound(format!("SCRAM credential {mechanism} of {user}"))
                    })?;
                creds.remove(mechanism);
                if creds.is_empty() {
                    self.scram.remove(user);
                }
            }
            MetadataRecord::AccessControlEntry { id, entry } => {
                if *id == Uuid::ZERO {
                    return Err(invalid("the zero ACL id"));
                }
                if self.acls.contains_key(id) {
                    return Err(invalid(format!("ACL id {id} already exists")));
                }
                check_acl(entry)?;
                self.acls.insert(*id, entry.clone());
            }
            MetadataRecord::RemoveAccessControlEntry { id } => {
                self.acls
                    .remove(id)
                    .ok_or_else(|| ImageError::NotFound(format!("ACL {id}")))?;
            }
            MetadataRecord::ClientQuota { entity, key, value } => {
                check_quota(entity, key, *value)?;
                let k = entity_key(entity);
                match value {
                    Some(v) => {
                        let mut sorted = entity.clone();
                        sorted.sort();
                        self.client_quotas
                            .entry(k)
                            .or_insert_with(|| ClientQuotaEntry {
                                entity: sorted,
                                quotas: BTreeMap::new(),
                            })
                            .quotas
                            .insert(key.clone(), *v);
                    }
                    None => {
                        if let Some(e) = self.client_quotas.get_mut(&k) {
                            e.quotas.remove(key);
                            if e.quotas.is_empty() {
                                self.client_quotas.remove(&k);
                            }
                        }
                    }
                }
            }
            other => {
                return Err(invalid(format!(
                    "{} is not a security record",
                    other.kind()
                )))
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetadataImage;

    fn cred(iterations: u32) -> ScramCredential {
        ScramCredential {
            salt: Bytes(vec![1, 2, 3]),
            iterations,
            stored_key: Bytes(vec![4; 32]),
            server_key: Bytes(vec![5; 32]),
        }
    }

    fn acl(name: &str) -> AclEntry {
        AclEntry {
            resource_type: 2,
            resource_name: name.into(),
            pattern_type: 3,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: 3,
            permission_type: 3,
        }
    }

    fn part(t: &str, n: Option<&str>) -> QuotaEntityPart {
        QuotaEntityPart {
            entity_type: t.into(),
            name: n.map(str::to_string),
        }
    }

    #[test]
    fn credentials_are_upserted_removed_and_checked() {
        let mut image = MetadataImage::default();
        let up = |iterations| MetadataRecord::UserScramCredential {
            user: "alice".into(),
            mechanism: 2,
            credential: cred(iterations),
        };
        image.apply(0, &up(4096)).unwrap();
        image.apply(1, &up(8192)).unwrap();
        assert_eq!(image.security.scram["alice"][&2].iterations, 8192);
        assert!(image.apply(2, &up(100)).is_err());
        let bad_mech = MetadataRecord::UserScramCredential {
            user: "alice".into(),
            mechanism: 3,
            credential: cred(4096),
        };
        assert!(image.apply(2, &bad_mech).is_err());
        let remove = |m| MetadataRecord::RemoveUserScramCredential {
            user: "alice".into(),
            mechanism: m,
        };
        assert!(matches!(
            image.apply(2, &remove(1)),
            Err(ImageError::NotFound(_))
        ));
        image.apply(2, &remove(2)).unwrap();
        assert!(image.security.scram.is_empty());
        assert_eq!(image.offset, Some(2));
        // The keys never reach a log line.
        assert!(!format!("{:?}", up(4096)).contains("stored_key"));
    }

    #[test]
    fn acl_entries_are_added_and_removed_by_id() {
        let mut image = MetadataImage::default();
        let id = Uuid([3; 16]);
        let add = MetadataRecord::AccessControlEntry {
            id,
            entry: acl("orders"),
        };
        image.apply(0, &add).unwrap();
        assert!(image.apply(1, &add).is_err(), "an id is used once");
        let mut any_op = acl("x");
        any_op.operation = 1;
        let mut cluster = acl("c");
        cluster.resource_type = 4;
        let mut no_type = acl("x");
        no_type.principal = "alice".into();
        for entry in [any_op, cluster, no_type] {
            let r = MetadataRecord::AccessControlEntry {
                id: Uuid([4; 16]),
                entry,
            };
            assert!(image.apply(1, &r).is_err());
        }
        let remove = MetadataRecord::RemoveAccessControlEntry { id };
        image.apply(1, &remove).unwrap();
        assert!(image.security.acls.is_empty());
        assert!(matches!(
            image.apply(2, &remove),
            Err(ImageError::NotFound(_))
        ));
    }

    #[test]
    fn client_quotas_are_set_per_entity_and_removed_per_key() {
        let mut image = MetadataImage::default();
        let set =
            |entity: Vec<QuotaEntityPart>, key: &str, v: Option<f64>| MetadataRecord::ClientQuota {
                entity,
                key: key.into(),
                value: v.map(QuotaValue),
            };
        let e1 = vec![part("user", Some("bob")), part("client-id", None)];
        let e2 = vec![part("client-id", None), part("user", Some("bob"))];
        image
            .apply(0, &set(e1.clone(), "producer_byte_rate", Some(1024.0)))
            .unwrap();
        image
            .apply(1, &set(e2, "consumer_byte_rate", Some(2048.0)))
            .unwrap();
        assert_eq!(image.security.client_quotas.len(), 1, "one entity");
        let entry = &image.security.client_quotas[&entity_key(&e1)];
        assert_eq!(entry.quotas.len(), 2);
        for bad in [
            set(vec![], "k", Some(1.0)),
            set(vec![part("group", Some("g"))], "k", Some(1.0)),
            set(vec![part("ip", None), part("user", None)], "k", Some(1.0)),
            set(vec![part("user", Some(""))], "k", Some(1.0)),
            set(e1.clone(), "k", Some(0.0)),
            set(e1.clone(), "k", Some(f64::NAN)),
        ] {
            assert!(image.apply(2, &bad).is_err(), "{bad:?}");
        }
        image
            .apply(2, &set(e1.clone(), "producer_byte_rate", None))
            .unwrap();
        image
            .apply(3, &set(e1, "consumer_byte_rate", None))
            .unwrap();
        assert!(image.security.client_quotas.is_empty());
    }

    #[test]
    fn the_security_image_survives_a_snapshot_and_old_snapshots_load() {
        let mut image = MetadataImage::default();
        image
            .apply(
                0,
                &MetadataRecord::UserScramCredential {
                    user: "a".into(),
                    mechanism: 1,
                    credential: cred(4096),
                },
            )
            .unwrap();
        image
            .apply(
                1,
                &MetadataRecord::AccessControlEntry {
                    id: Uuid([9; 16]),
                    entry: acl("t"),
                },
            )
            .unwrap();
        image
            .apply(
                2,
                &MetadataRecord::ClientQuota {
                    entity: vec![part("ip", Some("127.0.0.1"))],
                    key: "connection_creation_rate".into(),
                    value: Some(QuotaValue(5.0)),
                },
            )
            .unwrap();
        let json = serde_json::to_string(&image).unwrap();
        let back: MetadataImage = serde_json::from_str(&json).unwrap();
        assert_eq!(back, image);
        // A snapshot written before these records existed has no field.
        let mut old: serde_json::Value = serde_json::to_value(MetadataImage::default()).unwrap();
        old.as_object_mut().unwrap().remove("security");
        let loaded: MetadataImage = serde_json::from_value(old).unwrap();
        assert_eq!(loaded.security, SecurityImage::default());
    }
}
