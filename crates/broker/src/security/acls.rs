//! ACL bindings and their store: what CreateAcls adds, DescribeAcls
//! lists and DeleteAcls removes, persisted in `<data-dir>/meta/acls.json`.
//!
//! A binding is Kafka's `AclBinding`: a resource pattern (type, name,
//! LITERAL or PREFIXED) and an entry (principal `User:x` or `User:*`,
//! host or `*`, operation, ALLOW or DENY). A filter is Kafka's
//! `AclBindingFilter`: null fields and ANY codes match everything, and the
//! MATCH pattern type matches every binding that applies to the named
//! resource (its literal name, the literal `*`, and prefixes of it).
//!
//! The store keeps the bindings as a sorted set (creating one twice keeps
//! one). A change is applied to a copy, written to a uniquely named temp
//! file, fsynced, renamed over the file and the directory fsynced, as
//! `security::users` does; only then is it visible and acknowledged. With
//! the cluster work the bindings move into the Raft metadata log; this
//! file is the one-node stand-in.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::acl::{
    AclOperation, PatternType, Permission, ResourceType, ANY, CLUSTER_NAME, PATTERN_ANY,
    PATTERN_MATCH, WILDCARD,
};
use crate::state::StateError;

const FILE: &str = "acls.json";

/// One ACL.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AclBinding {
    pub resource_type: ResourceType,
    pub name: String,
    pub pattern: PatternType,
    pub principal: String,
    pub host: String,
    pub operation: AclOperation,
    pub permission: Permission,
}

impl AclBinding {
    /// A binding from CreateAcls' codes, checked as Kafka checks a new ACL
    /// (the message is Kafka's INVALID_REQUEST text).
    pub fn from_wire(
        resource_type: i8,
        name: &str,
        pattern: i8,
        principal: &str,
        host: &str,
        operation: i8,
        permission: i8,
    ) -> Result<AclBinding, String> {
        let resource_type = ResourceType::from_code(resource_type)
            .ok_or_else(|| format!("Invalid resourceType {resource_type}"))?;
        let pattern = PatternType::from_code(pattern)
            .ok_or_else(|| format!("Invalid patternType {pattern}"))?;
        let operation = AclOperation::from_code(operation)
            .ok_or_else(|| format!("Invalid operation {operation}"))?;
        let permission = Permission::from_code(permission)
            .ok_or_else(|| format!("Invalid permissionType {permission}"))?;
        let binding = AclBinding {
            resource_type,
            name: name.to_string(),
            pattern,
            principal: principal.to_string(),
            host: host.to_string(),
            operation,
            permission,
        };
        binding.validate()?;
        Ok(binding)
    }

    /// Kafka's checks of a new binding.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("Resource name should not be empty".into());
        }
        if self.resource_type == ResourceType::Cluster && self.name != CLUSTER_NAME {
            return Err(format!(
                "The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
            ));
        }
        match self.principal.split_once(':') {
            Some((kind, name)) if !kind.is_empty() && !name.is_empty() => {}
            _ => {
                return Err(format!(
                    "Could not parse principal from `{}` (no colon is found between principal type and principal name)",
                    self.principal
                ))
            }
        }
        if self.host.is_empty() {
            return Err("Invalid empty host".into());
        }
        Ok(())
    }
}

/// The resource part of a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternFilter {
    /// Any pattern type whose name equals the filter's (or any name).
    Any,
    /// Bindings that apply to the named resource: its literal name, the
    /// literal `*` and the prefixes of its name.
    Match,
    Exactly(PatternType),
}

/// Kafka's `AclBindingFilter`: `None` matches anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclFilter {
    pub resource_type: Option<ResourceType>,
    pub name: Option<String>,
    pub pattern: PatternFilter,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: Option<AclOperation>,
    pub permission: Option<Permission>,
}

impl AclFilter {
    /// A filter from DescribeAcls' or DeleteAcls' codes; UNKNOWN codes are
    /// INVALID_REQUEST as in Kafka.
    #[allow(clippy::too_many_arguments)]
    pub fn from_wire(
        resource_type: i8,
        name: Option<&str>,
        pattern: i8,
        principal: Option<&str>,
        host: Option<&str>,
        operation: i8,
        permission: i8,
    ) -> Result<AclFilter, String> {
        let resource_type = match resource_type {
            ANY => None,
            c => Some(
                ResourceType::from_code(c)
                    .ok_or_else(|| format!("Invalid resourceType filter {c}"))?,
            ),
        };
        let pattern = match pattern {
            PATTERN_ANY => PatternFilter::Any,
            PATTERN_MATCH => PatternFilter::Match,
            c => PatternFilter::Exactly(
                PatternType::from_code(c)
                    .ok_or_else(|| format!("Invalid patternType filter {c}"))?,
            ),
        };
        let operation = match operation {
            ANY => None,
            c => Some(
                AclOperation::from_code(c)
                    .ok_or_else(|| format!("Invalid operation filter {c}"))?,
            ),
        };
        let permission = match permission {
            ANY => None,
            c => Some(
                Permission::from_code(c)
                    .ok_or_else(|| format!("Invalid permissionType filter {c}"))?,
            ),
        };
        Ok(AclFilter {
            resource_type,
            name: name.map(str::to_string),
            pattern,
            principal: principal.map(str::to_string),
            host: host.map(str::to_string),
            operation,
            permission,
        })
    }

    /// Whether `b` is one of the bindings this filter selects.
    pub fn matches(&self, b: &AclBinding) -> bool {
        let some_eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        if self.resource_type.is_some_and(|t| t != b.resource_type)
            || !some_eq(&self.principal, &b.principal)
            || !some_eq(&self.host, &b.host)
            || self.operation.is_some_and(|o| o != b.operation)
            || self.permission.is_some_and(|p| p != b.permission)
        {
            return false;
        }
        match (self.pattern, self.name.as_deref()) {
            (PatternFilter::Any, name) => name.is_none_or(|n| n == b.name),
            (PatternFilter::Exactly(p), name) => p == b.pattern && name.is_none_or(|n| n == b.name),
            (PatternFilter::Match, None) => true,
            (PatternFilter::Match, Some(n)) => match b.pattern {
                PatternType::Literal => b.name == n || b.name == WILDCARD,
                PatternType::Prefixed => n.starts_with(b.name.as_str()),
            },
        }
    }
}

#[derive(Serialize, Deserialize)]
struct StoredAcl {
    resource_type: String,
    name: String,
    pattern_type: String,
    principal: String,
    host: String,
    operation: String,
    permission: String,
}

#[derive(Serialize, Deserialize, Default)]
struct StoredFile {
    acls: Vec<StoredAcl>,
}

/// The bindings and their file.
pub struct AclStore {
    path: PathBuf,
    /// Serializes changes: each is written from the latest set.
    writer: Mutex<()>,
}

impl AclStore {
    /// Opens the store under `data_dir` and reads its bindings (none when
    /// the file was never written).
    pub fn open(data_dir: &Path) -> Result<(AclStore, BTreeSet<AclBinding>), StateError> {
        let path = data_dir.join("meta").join(FILE);
        let bindings = match crate::meta_store::read_meta_file(&path)? {
            Some(text) => {
                decode(&text).map_err(|e| StateError::Corrupt(path.display().to_string(), e))?
            }
            None => BTreeSet::new(),
        };
        Ok((
            AclStore {
                path,
                writer: Mutex::new(()),
            },
            bindings,
        ))
    }

    /// Whether `name` is a temp file a crash mid-save left behind.
    pub fn is_stale_temp(name: &str) -> bool {
        crate::meta_store::is_meta_temp(name, FILE)
    }

    /// Holds off other writers while a change is computed and saved.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `bindings` durably (call with [`AclStore::lock`] held).
    pub fn save(&self, bindings: &BTreeSet<AclBinding>) -> Result<(), StateError> {
        let text = encode(bindings)
            .map_err(|e| StateError::Corrupt(self.path.display().to_string(), e))?;
        crate::meta_store::replace_meta_file(&self.path, &text)
    }
}

fn encode(bindings: &BTreeSet<AclBinding>) -> Result<String, String> {
    let file = StoredFile {
        acls: bindings
            .iter()
            .map(|b| StoredAcl {
                resource_type: b.resource_type.name().into(),
                name: b.name.clone(),
                pattern_type: b.pattern.name().into(),
                principal: b.principal.clone(),
                host: b.host.clone(),
                operation: b.operation.name().into(),
                permission: b.permission.name().into(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&file).map_err(|e| e.to_string())
}

fn decode(text: &str) -> Result<BTreeSet<AclBinding>, String> {
    let file: StoredFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut out = BTreeSet::new();
    for a in file.acls {
        let bad = |what: &str, v: &str| format!("acl on {}: unknown {what} {v}", a.name);
        let b = AclBinding {
            resource_type: ResourceType::from_name(&a.resource_type)
                .ok_or_else(|| bad("resource type", &a.resource_type))?,
            name: a.name.clone(),
            pattern: PatternType::from_name(&a.pattern_type)
                .ok_or_else(|| bad("pattern type", &a.pattern_type))?,
            principal: a.principal.clone(),
            host: a.host.clone(),
            operation: AclOperation::from_name(&a.operation)
                .ok_or_else(|| bad("operation", &a.operation))?,
            permission: Permission::from_name(&a.permission)
                .ok_or_else(|| bad("permission", &a.permission))?,
        };
        b.validate()
            .map_err(|e| format!("acl on {}: {e}", a.name))?;
        out.insert(b);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(name: &str, pattern: PatternType) -> AclBinding {
        AclBinding {
            resource_type: ResourceType::Topic,
            name: name.into(),
            pattern,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission: Permission::Allow,
        }
    }

    #[test]
    fn new_bindings_are_checked_as_kafka_does() {
        let ok = AclBinding::from_wire(2, "t", 3, "User:a", "*", 3, 3);
        assert!(ok.is_ok());
        for (rt, name, pat, principal, host, op, perm) in [
            (1, "t", 3, "User:a", "*", 3, 3), // ANY resource type
            (0, "t", 3, "User:a", "*", 3, 3), // UNKNOWN
            (2, "t", 2, "User:a", "*", 3, 3), // MATCH pattern
            (2, "t", 1, "User:a", "*", 3, 3), // ANY pattern
            (2, "t", 3, "User:a", "*", 1, 3), // ANY operation
            (2, "t", 3, "User:a", "*", 3, 1), // ANY permission
            (2, "", 3, "User:a", "*", 3, 3),  // empty name
            (4, "c", 3, "User:a", "*", 3, 3), // cluster not kafka-cluster
            (2, "t", 3, "alice", "*", 3, 3),  // principal without a type
        ] {
            assert!(
                AclBinding::from_wire(rt, name, pat, principal, host, op, perm).is_err(),
                "{rt} {name} {pat} {principal} {op} {perm}"
            );
        }
    }

    #[test]
    fn filters_select_as_kafka_does() {
        let lit = binding("orders", PatternType::Literal);
        let star = binding("*", PatternType::Literal);
        let pre = binding("ord", PatternType::Prefixed);
        let other = binding("payments", PatternType::Literal);
        let f = |name: Option<&str>, pattern: i8| {
            AclFilter::from_wire(2, name, pattern, None, None, 1, 1).unwrap()
        };
        let sel = |f: &AclFilter| {
            [&lit, &star, &pre, &other]
                .iter()
                .filter(|b| f.matches(b))
                .map(|b| b.name.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            sel(&f(Some("orders"), PATTERN_MATCH)),
            ["orders", "*", "ord"]
        );
        assert_eq!(sel(&f(Some("orders"), PATTERN_ANY)), ["orders"]);
        assert_eq!(sel(&f(Some("ord"), 4)), ["ord"]);
        assert_eq!(sel(&f(Some("ord"), 3)), Vec::<&str>::new());
        assert_eq!(sel(&f(None, PATTERN_ANY)).len(), 4);
        assert_eq!(sel(&f(None, 3)).len(), 3);
        let by_principal = AclFilter::from_wire(1, None, 1, Some("User:bob"), None, 1, 1).unwrap();
        assert!(!by_principal.matches(&lit));
        assert!(AclFilter::from_wire(0, None, 1, None, None, 1, 1).is_err());
        assert!(AclFilter::from_wire(1, None, 0, None, None, 1, 1).is_err());
    }

    #[test]
    fn bindings_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("fjord-acls-{}", rand::random::<u64>()));
        std::fs::create_dir_all(dir.join("meta")).unwrap();
        let (store, mut set) = AclStore::open(&dir).unwrap();
        assert!(set.is_empty());
        set.insert(binding("orders", PatternType::Prefixed));
        set.insert(binding("orders", PatternType::Prefixed));
        {
            let _w = store.lock();
            store.save(&set).unwrap();
        }
        let (_, reopened) = AclStore::open(&dir).unwrap();
        assert_eq!(reopened, set);
        assert_eq!(reopened.len(), 1);
        let files: Vec<_> = std::fs::read_dir(dir.join("meta"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(files.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
