//! The authorizer: Kafka's StandardAuthorizer decisions over the ACL
//! bindings of `security::acls`.
//!
//! Enabled by `authorizer.class.name` (Kafka's
//! `org.apache.kafka.metadata.authorizer.StandardAuthorizer`, or `fjord`);
//! without it every request is allowed and the ACL APIs answer
//! SECURITY_DISABLED, as Kafka does. A decision for (principal, host,
//! operation, resource type, name):
//!
//! - a principal of `super.users` is always allowed;
//! - the bindings that apply to the resource are those of its type with
//!   its literal name, the literal `*`, and PREFIXED names that start its
//!   name;
//! - of those, a binding counts when its principal is the requester's or
//!   `User:*` and its host is the client's address or `*`;
//! - a counting DENY for the operation (or ALL) denies, whatever else
//!   matches; else a counting ALLOW for the operation, ALL, or one that
//!   implies it (READ, WRITE, DELETE and ALTER imply DESCRIBE;
//!   ALTER_CONFIGS implies DESCRIBE_CONFIGS; implication never applies to
//!   DENY) allows;
//! - with no binding at all on the resource, `allow.everyone.if.no.acl.found`
//!   decides (default false); otherwise it is denied.
//!
//! Decisions are cheap: the bindings are indexed per resource type by
//! literal name (a hash map) and by prefix (a sorted map, walked from the
//! name downwards, jumping over names that are not prefixes), behind one
//! read lock; a decision allocates nothing. A denial asked with `audit`
//! is logged at info (principal, host, operation, resource; never a
//! secret) and counted in `fjord_authorization_denials_total`.
//!
//! Architecture invariant: handlers ask through `RequestCtx::allowed`
//! (`handlers/authz.rs`), which calls [`Authorizer::authorize`]; nothing
//! else matches bindings.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use super::acls::{AclBinding, AclFilter, AclStore};
use crate::acl::{AclOperation, PatternType, Permission, ResourceType, WILDCARD};
use crate::config::BrokerConfig;
use crate::metrics::Metrics;
use crate::state::StateError;

/// The class names `authorizer.class.name` accepts.
pub const CLASS_NAMES: &[&str] = &[
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "fjord",
];

/// The principal that matches every principal in a binding.
const WILDCARD_PRINCIPAL: &str = "User:*";

/// Parses `authorizer.class.name`: whether an authorizer is enabled.
pub fn parse_class(v: &str) -> Result<bool, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(false);
    }
    if CLASS_NAMES.contains(&v) {
        return Ok(true);
    }
    Err(format!(
        "unknown authorizer class {v:?}: fjord has {} (or leave it unset: no authorization)",
        CLASS_NAMES.join(" or ")
    ))
}

/// Parses `super.users` (`User:admin;User:ops`).
pub fn parse_super_users(v: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for p in v.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        match p.split_once(':') {
            Some((kind, name)) if !kind.is_empty() && !name.is_empty() => out.push(p.to_string()),
            _ => {
                return Err(format!(
                    "{p:?} is not a principal (Type:name, e.g. User:admin)"
                ))
            }
        }
    }
    Ok(out)
}

/// A binding's host.
#[derive(Debug)]
enum Host {
    Any,
    Ip(IpAddr),
    /// A string that is not an address: Kafka compares it with the
    /// client's address text, which it never equals.
    Never,
}

/// A binding as the index holds it (its resource is the index key).
#[derive(Debug)]
struct Entry {
    principal: Box<str>,
    host: Host,
    operation: AclOperation,
    permission: Permission,
}

impl Entry {
    /// The binding's verdict for this request, if it applies.
    fn verdict(&self, principal: &str, host: IpAddr, op: AclOperation) -> Option<Permission> {
        if &*self.principal != principal && &*self.principal != WILDCARD_PRINCIPAL {
            return None;
        }
        match self.host {
            Host::Any => {}
            Host::Ip(ip) if ip == host => {}
            _ => return None,
        }
        let applies = self.operation == AclOperation::All
            || self.operation == op
            || (self.permission == Permission::Allow && implies(self.operation, op));
        applies.then_some(self.permission)
    }
}

/// Whether an ALLOW of `granted` also allows `asked`.
fn implies(granted: AclOperation, asked: AclOperation) -> bool {
    use AclOperation::*;
    match asked {
        Describe => matches!(granted, Read | Write | Delete | Alter),
        DescribeConfigs => granted == AlterConfigs,
        _ => false,
    }
}

#[derive(Default, Debug)]
struct TypeIndex {
    literal: HashMap<String, Vec<Entry>>,
    prefixed: BTreeMap<Box<[u8]>, Vec<Entry>>,
}

/// What a scan of bindings found.
#[derive(Default)]
struct Scan {
    /// Some binding names the resource (whoever it is for).
    found: bool,
    allowed: bool,
    denied: bool,
}

impl Scan {
    fn visit(&mut self, entries: &[Entry], principal: &str, host: IpAddr, op: AclOperation) {
        for e in entries {
            self.found = true;
            match e.verdict(principal, host, op) {
                Some(Permission::Deny) => {
                    self.denied = true;
                    return;
                }
                Some(Permission::Allow) => self.allowed = true,
                None => {}
            }
        }
    }
}

impl TypeIndex {
    fn scan(&self, principal: &str, host: IpAddr, op: AclOperation, name: &str) -> Scan {
        let mut scan = Scan::default();
        if let Some(e) = self.literal.get(name) {
            scan.visit(e, principal, host, op);
        }
        if name != WILDCARD {
            if let Some(e) = self.literal.get(WILDCARD) {
                scan.visit(e, principal, host, op);
            }
        }
        // Prefixes of `name`: the greatest key not above `upper` (always a
        // prefix of the name) either is a prefix, or shares `common` bytes
        // with it, and no key between it and `upper` can be a prefix
        // longer than `common`, so the walk continues below `upper[..common]`.
        let name = name.as_bytes();
        let mut upper: &[u8] = name;
        while !scan.denied && !upper.is_empty() {
            let Some((key, entries)) = self
                .prefixed
                .range::<[u8], _>((Bound::Unbounded, Bound::Included(upper)))
                .next_back()
            else {
                break;
            };
            if name.starts_with(key) {
                scan.visit(entries, principal, host, op);
                upper = &key[..key.len().saturating_sub(1)];
            } else {
                let common = key.iter().zip(upper).take_while(|(a, b)| a == b).count();
                upper = &upper[..common];
            }
        }
        scan
    }
}

/// The bindings and their index, swapped as a whole on change.
#[derive(Default)]
struct Snapshot {
    bindings: BTreeSet<AclBinding>,
    index: [TypeIndex; 6],
}

impl Snapshot {
    fn new(bindings: BTreeSet<AclBinding>) -> Snapshot {
        let mut index: [TypeIndex; 6] = Default::default();
        for b in &bindings {
            let entry = Entry {
                principal: b.principal.as_str().into(),
                host: match b.host.as_str() {
                    WILDCARD => Host::Any,
                    h => h.parse().map(Host::Ip).unwrap_or(Host::Never),
                },
                operation: b.operation,
                permission: b.permission,
            };
            let t = &mut index[b.resource_type.index()];
            match b.pattern {
                PatternType::Literal => t.literal.entry(b.name.clone()).or_default().push(entry),
                PatternType::Prefixed => t
                    .prefixed
                    .entry(b.name.as_bytes().into())
                    .or_default()
                    .push(entry),
            }
        }
        Snapshot { bindings, index }
    }
}

/// One broker's authorizer (also present, disabled, without
/// `authorizer.class.name`).
pub struct Authorizer {
    enabled: bool,
    super_users: Vec<String>,
    allow_if_no_acl: bool,
    store: AclStore,
    current: RwLock<Arc<Snapshot>>,
    metrics: Arc<Metrics>,
}

impl Authorizer {
    /// The authorizer `config` asks for, with the bindings stored under its
    /// data directory.
    pub fn open(config: &BrokerConfig, metrics: Arc<Metrics>) -> Result<Authorizer, StateError> {
        let (store, bindings) = AclStore::open(&config.data_dir)?;
        Ok(Authorizer {
            enabled: config.authorizer_enabled,
            super_users: config.super_users.clone(),
            allow_if_no_acl: config.allow_everyone_if_no_acl_found,
            store,
            current: RwLock::new(Arc::new(Snapshot::new(bindings))),
            metrics,
        })
    }

    /// Whether `authorizer.class.name` is set.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn is_super(&self, principal: &str) -> bool {
        self.super_users.iter().any(|s| s == principal)
    }

    /// Whether `principal` connecting from `host` may perform `op` on the
    /// resource `name` of type `rt`. With `audit`, a denial is logged and
    /// counted (filtering a listing passes false, as Kafka does).
    pub fn authorize(
        &self,
        principal: &str,
        host: IpAddr,
        op: AclOperation,
        rt: ResourceType,
        name: &str,
        audit: bool,
    ) -> bool {
        if !self.enabled || self.is_super(principal) {
            return true;
        }
        let scan = {
            let snap = self.current.read().unwrap_or_else(|p| p.into_inner());
            snap.index[rt.index()].scan(principal, host, op, name)
        };
        let allowed = if scan.denied {
            false
        } else if scan.allowed {
            true
        } else {
            !scan.found && self.allow_if_no_acl
        };
        if !allowed && audit {
            tracing::info!(
                target: "fjord::audit",
                principal,
                host = %host,
                operation = op.name(),
                resource_type = rt.name(),
                resource = name,
                "authorization denied"
            );
            self.metrics.authorization_denied(op.name(), rt.name());
        }
        allowed
    }

    /// Whether `op` is allowed on at least one resource of type `rt` (Kafka's
    /// `authorizeByResourceType`, which lets a producer without
    /// IDEMPOTENT_WRITE on the cluster be idempotent when it may WRITE some
    /// topic): an ALLOW binding for the principal not cancelled by a DENY
    /// that covers all it names.
    pub fn authorize_any(
        &self,
        principal: &str,
        host: IpAddr,
        op: AclOperation,
        rt: ResourceType,
    ) -> bool {
        if !self.enabled || self.is_super(principal) {
            return true;
        }
        let snap = self.snapshot();
        let t = &snap.index[rt.index()];
        if t.literal.is_empty() && t.prefixed.is_empty() {
            return self.allow_if_no_acl;
        }
        let applies = |b: &&AclBinding| {
            b.resource_type == rt
                && (b.operation == op || b.operation == AclOperation::All)
                && (b.principal == principal || b.principal == WILDCARD_PRINCIPAL)
                && (b.host == WILDCARD || b.host.parse::<IpAddr>().ok() == Some(host))
        };
        let mine: Vec<&AclBinding> = snap.bindings.iter().filter(applies).collect();
        let denies: Vec<&AclBinding> = mine
            .iter()
            .copied()
            .filter(|b| b.permission == Permission::Deny)
            .collect();
        let denied = |name: &str, pattern: PatternType| {
            denies.iter().any(|d| match d.pattern {
                PatternType::Literal => {
                    d.name == WILDCARD || (pattern == PatternType::Literal && d.name == name)
                }
                PatternType::Prefixed => name.starts_with(d.name.as_str()),
            })
        };
        mine.iter()
            .filter(|b| b.permission == Permission::Allow)
            .any(|b| !denied(&b.name, b.pattern))
    }

    /// The bindings `filter` selects.
    pub fn describe(&self, filter: &AclFilter) -> Vec<AclBinding> {
        let snap = self.snapshot();
        snap.bindings
            .iter()
            .filter(|b| filter.matches(b))
            .cloned()
            .collect()
    }

    /// Adds `bindings` and returns once they are durable.
    pub fn create(&self, bindings: &[AclBinding]) -> Result<(), StateError> {
        let _w = self.store.lock();
        let mut next = self.snapshot().bindings.clone();
        next.extend(bindings.iter().cloned());
        self.store.save(&next)?;
        self.swap(next);
        Ok(())
    }

    /// Removes what each filter selects and returns, per filter, the
    /// bindings it removed, once durable.
    pub fn delete(&self, filters: &[AclFilter]) -> Result<Vec<Vec<AclBinding>>, StateError> {
        let _w = self.store.lock();
        let mut next = self.snapshot().bindings.clone();
        let removed: Vec<Vec<AclBinding>> = filters
            .iter()
            .map(|f| next.iter().filter(|b| f.matches(b)).cloned().collect())
            .collect();
        if removed.iter().all(Vec::is_empty) {
            return Ok(removed);
        }
        next.retain(|b| !filters.iter().any(|f| f.matches(b)));
        self.store.save(&next)?;
        self.swap(next);
        Ok(removed)
    }

    /// Replaces every binding in memory, writing nothing: in cluster mode
    /// the ACLs live in the metadata image and each committed image is
    /// installed here (`cluster::security_sync`).
    pub fn replace(&self, bindings: BTreeSet<AclBinding>) {
        let _w = self.store.lock();
        self.swap(bindings);
    }

    fn swap(&self, bindings: BTreeSet<AclBinding>) {
        let snap = Arc::new(Snapshot::new(bindings));
        let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
        *cur = snap;
    }
}

#[cfg(test)]
#[path = "authorizer_tests.rs"]
mod tests;
