//! SCRAM users, ACLs and client quotas in cluster mode (issues 12 and 13):
//! they live in the metadata log (`fjord_metadata::security`), not in the
//! `meta/` files of one node.
//!
//! Two directions:
//! - replay: [`apply`] installs each committed image's users, ACLs and
//!   quotas into this broker's user store, authorizer and quota manager
//!   (in memory; the `meta/` files are never written in cluster mode, and
//!   what they hold is replaced by the image's at start). The replay task calls it before it publishes the applied
//!   offset, so a change is in force here once its proposal is answered.
//! - proposals: AlterUserScramCredentials, CreateAcls, DeleteAcls and
//!   AlterClientQuotas, once their handler has checked the request, turn
//!   the accepted changes into records here and commit them through the
//!   quorum ([`super::admin::commit_changes`]), answering only once they
//!   are committed and applied on this broker. Every other broker applies
//!   the same records from the log, so Describe*, authentication,
//!   authorization and throttling agree everywhere.
//!
//! `--add-scram` ([`add_scram`]) is Kafka's `kafka-storage format
//! --add-scram`: the credentials are proposed once the quorum has a leader,
//! skipped when the image already holds a credential the password verifies
//! at the same iteration count (so restarting with the same flags adds no
//! record), created or replaced otherwise.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use fjord_metadata::image::ImageError;
use fjord_metadata::records::{MetadataRecord, Uuid};
use fjord_metadata::security::{
    AclEntry, Bytes, QuotaEntityPart, QuotaValue, ScramCredential, SecurityImage,
};
use fjord_metadata::{MetadataImage, ProposeError};
use tokio::sync::watch;

use super::admin::{applied_here, commit_changes, propose_error, AdminError};
use super::Cluster;
use crate::acl::{AclOperation, PatternType, Permission, ResourceType};
use crate::quotas::store::{Change as QuotaChange, Entity, Quotas};
use crate::security::acls::{AclBinding, AclFilter};
use crate::security::scram::{Credential, Mechanism};
use crate::security::users::{AddScram, Change as UserChange, Users};
use crate::state::BrokerState;

/// How many times DeleteAcls recomputes its removals when a concurrent
/// deletion removed one of its entries first.
const DELETE_ATTEMPTS: usize = 3;

/// How long `--add-scram` waits between attempts while the quorum has no
/// leader or the proposal fails.
const ADD_SCRAM_RETRY: Duration = Duration::from_millis(500);

/// Installs the users, ACLs and quotas of `image` into the broker's stores
/// (each only when it differs from `previous`', the image applied before).
pub fn apply(state: &BrokerState, image: &MetadataImage, previous: Option<&MetadataImage>) {
    let now = &image.security;
    let before = previous.map(|p| &p.security);
    if before.is_none_or(|b| b.scram != now.scram) {
        state.users.replace(users_of(now));
    }
    if before.is_none_or(|b| b.acls != now.acls) {
        state.authorizer.replace(bindings_of(now));
    }
    if before.is_none_or(|b| b.client_quotas != now.client_quotas) {
        state.quotas.replace(quotas_of(now));
    }
}

/// The user store's view of the image's credentials.
pub fn users_of(image: &SecurityImage) -> Users {
    let mut users = Users::new();
    for (user, creds) in &image.scram {
        for (code, c) in creds {
            let Some(mech) = Mechanism::from_wire(*code) else {
                tracing::warn!(user = %user, mechanism = code, "skipping a SCRAM credential of an unknown mechanism");
                continue;
            };
            users.entry(user.clone()).or_default().insert(
                mech,
                Credential {
                    salt: c.salt.0.clone(),
                    iterations: c.iterations,
                    stored_key: c.stored_key.0.clone(),
                    server_key: c.server_key.0.clone(),
                },
            );
        }
    }
    users
}

/// An image entry as the authorizer's binding (checked as CreateAcls
/// checks a new one).
fn binding_of(e: &AclEntry) -> Result<AclBinding, String> {
    AclBinding::from_wire(
        e.resource_type,
        &e.resource_name,
        e.pattern_type,
        &e.principal,
        &e.host,
        e.operation,
        e.permission_type,
    )
}

/// A binding as an image entry.
fn entry_of(b: &AclBinding) -> AclEntry {
    AclEntry {
        resource_type: ResourceType::code(b.resource_type),
        resource_name: b.name.clone(),
        pattern_type: PatternType::code(b.pattern),
        principal: b.principal.clone(),
        host: b.host.clone(),
        operation: AclOperation::code(b.operation),
        permission_type: Permission::code(b.permission),
    }
}

/// The image's ACL entries with their bindings (an entry the broker cannot
/// read is logged and left out).
fn bindings_by_id(image: &SecurityImage) -> Vec<(Uuid, AclBinding)> {
    image
        .acls
        .iter()
        .filter_map(|(id, e)| match binding_of(e) {
            Ok(b) => Some((*id, b)),
            Err(why) => {
                tracing::warn!(acl = %id, error = %why, "skipping an ACL of the metadata image");
                None
            }
        })
        .collect()
}

/// The authorizer's bindings of the image.
pub fn bindings_of(image: &SecurityImage) -> BTreeSet<AclBinding> {
    bindings_by_id(image).into_iter().map(|(_, b)| b).collect()
}

/// The quota manager's view of the image's client quotas.
pub fn quotas_of(image: &SecurityImage) -> Quotas {
    let mut quotas = Quotas::new();
    for entry in image.client_quotas.values() {
        let wire: Vec<(String, Option<String>)> = entry
            .entity
            .iter()
            .map(|p| (p.entity_type.clone(), p.name.clone()))
            .collect();
        match Entity::parse(&wire) {
            Ok(entity) => {
                let values = entry.quotas.iter().map(|(k, v)| (k.clone(), v.0)).collect();
                quotas.insert(entity, values);
            }
            Err(why) => {
                tracing::warn!(entity = ?wire, error = %why, "skipping a client quota of the metadata image")
            }
        }
    }
    quotas
}

/// The record that creates or replaces one credential.
fn credential_record(user: &str, mechanism: Mechanism, c: &Credential) -> MetadataRecord {
    MetadataRecord::UserScramCredential {
        user: user.to_string(),
        mechanism: mechanism.wire(),
        credential: ScramCredential {
            salt: Bytes(c.salt.clone()),
            iterations: c.iterations,
            stored_key: Bytes(c.stored_key.clone()),
            server_key: Bytes(c.server_key.clone()),
        },
    }
}

/// The records of AlterUserScramCredentials' accepted changes.
pub fn user_records(changes: &[UserChange]) -> Vec<MetadataRecord> {
    changes
        .iter()
        .map(|c| match c {
            UserChange::Upsert {
                user,
                mechanism,
                credential,
            } => credential_record(user, *mechanism, credential),
            UserChange::Delete { user, mechanism } => MetadataRecord::RemoveUserScramCredential {
                user: user.clone(),
                mechanism: mechanism.wire(),
            },
        })
        .collect()
}

/// Commits `records` (all or none); nothing to commit is done at once.
async fn commit(cluster: &Cluster, records: Vec<MetadataRecord>) -> Result<(), AdminError> {
    if records.is_empty() {
        return Ok(());
    }
    commit_changes(cluster, records).await
}

/// Commits credential changes (all or none).
pub async fn alter_users(cluster: &Cluster, changes: &[UserChange]) -> Result<(), AdminError> {
    commit(cluster, user_records(changes)).await
}

/// The records that add the `bindings` the image does not hold yet, each
/// under a fresh id (creating a binding twice keeps one, as on one node).
pub fn create_acl_records(image: &SecurityImage, bindings: &[AclBinding]) -> Vec<MetadataRecord> {
    let mut have = bindings_of(image);
    bindings
        .iter()
        .filter(|b| have.insert((*b).clone()))
        .map(|b| MetadataRecord::AccessControlEntry {
            id: Uuid(*uuid::Uuid::new_v4().as_bytes()),
            entry: entry_of(b),
        })
        .collect()
}

/// Commits the creation of `bindings`.
pub async fn create_acls(cluster: &Cluster, bindings: &[AclBinding]) -> Result<(), AdminError> {
    commit(
        cluster,
        create_acl_records(&cluster.image().security, bindings),
    )
    .await
}

/// What DeleteAcls removes: per filter, the bindings it selects (sorted),
/// and the records removing every selected entry once.
pub fn delete_acl_records(
    image: &SecurityImage,
    filters: &[AclFilter],
) -> (Vec<Vec<AclBinding>>, Vec<MetadataRecord>) {
    let entries = bindings_by_id(image);
    let mut ids = BTreeSet::new();
    let removed = filters
        .iter()
        .map(|f| {
            let mut selected: Vec<AclBinding> = entries
                .iter()
                .filter(|(_, b)| f.matches(b))
                .map(|(id, b)| {
                    ids.insert(*id);
                    b.clone()
                })
                .collect();
            // In binding order, as on one node (ids are random).
            selected.sort();
            selected
        })
        .collect();
    let records = ids
        .into_iter()
        .map(|id| MetadataRecord::RemoveAccessControlEntry { id })
        .collect();
    (removed, records)
}

/// Commits the removal of what `filters` select, and returns per filter
/// the bindings removed. A concurrent deletion that removed one of the
/// entries first makes the proposal fail whole; it is then recomputed.
pub async fn delete_acls(
    cluster: &Cluster,
    filters: &[AclFilter],
) -> Result<Vec<Vec<AclBinding>>, AdminError> {
    let mut attempt = 1;
    loop {
        let (removed, records) = delete_acl_records(&cluster.image().security, filters);
        if records.is_empty() {
            return Ok(removed);
        }
        match cluster.quorum.propose(records).await {
            Ok(offset) => {
                return applied_here(cluster, offset).await.map(|()| removed);
            }
            Err(ProposeError::Rejected {
                error: ImageError::NotFound(_),
                ..
            }) if attempt < DELETE_ATTEMPTS => attempt += 1,
            Err(e) => return Err(propose_error(e)),
        }
    }
}

/// A quota entity as the image's parts.
fn entity_parts(entity: &Entity) -> Vec<QuotaEntityPart> {
    entity
        .wire()
        .into_iter()
        .map(|(entity_type, name)| QuotaEntityPart { entity_type, name })
        .collect()
}

/// The records of AlterClientQuotas' accepted changes.
pub fn quota_records(changes: &[QuotaChange]) -> Vec<MetadataRecord> {
    changes
        .iter()
        .map(|c| MetadataRecord::ClientQuota {
            entity: entity_parts(&c.entity),
            key: c.key.clone(),
            value: c.value.map(QuotaValue),
        })
        .collect()
}

/// Commits quota changes (all or none).
pub async fn alter_quotas(cluster: &Cluster, changes: &[QuotaChange]) -> Result<(), AdminError> {
    commit(cluster, quota_records(changes)).await
}

/// The records `--add-scram` still needs over `image`: none for a
/// credential the image holds at the same iteration count that the
/// password verifies.
pub fn add_scram_records(image: &SecurityImage, adds: &[AddScram]) -> Vec<MetadataRecord> {
    adds.iter()
        .filter(|a| {
            let held = image
                .scram
                .get(&a.user)
                .and_then(|c| c.get(&a.mechanism.wire()));
            !held.is_some_and(|c| {
                c.iterations == a.iterations
                    && Credential {
                        salt: c.salt.0.clone(),
                        iterations: c.iterations,
                        stored_key: c.stored_key.0.clone(),
                        server_key: c.server_key.0.clone(),
                    }
                    .verify_password(a.mechanism, &a.password.0)
            })
        })
        .flat_map(|a| user_records(&[a.change()]))
        .collect()
}

/// Proposes the `--add-scram` credentials once the quorum can commit them,
/// retrying until they are committed or `stop`.
pub async fn add_scram(
    cluster: Arc<Cluster>,
    adds: Vec<AddScram>,
    mut stop: watch::Receiver<bool>,
) {
    if adds.is_empty() {
        return;
    }
    loop {
        let image = cluster.image();
        let adds_now = adds.clone();
        let security = image.security.clone();
        // Deriving keys runs PBKDF2: off the async workers.
        let records = tokio::task::spawn_blocking(move || add_scram_records(&security, &adds_now))
            .await
            .unwrap_or_default();
        if records.is_empty() {
            tracing::info!(
                credentials = adds.len(),
                "the --add-scram credentials are in the cluster metadata"
            );
            return;
        }
        match commit(&cluster, records).await {
            Ok(()) => {
                for a in &adds {
                    tracing::info!(user = %a.user, mechanism = a.mechanism.name(), "SCRAM credential set in the cluster metadata (--add-scram)");
                }
                return;
            }
            Err((code, why)) => {
                tracing::debug!(?code, error = %why, "--add-scram not committed yet; retrying")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(ADD_SCRAM_RETRY) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(name: &str, principal: &str) -> AclBinding {
        AclBinding::from_wire(2, name, 3, principal, "*", 3, 3).unwrap()
    }

    fn applied(records: &[MetadataRecord]) -> MetadataImage {
        let mut image = MetadataImage::default();
        for (i, r) in records.iter().enumerate() {
            image.apply(i as u64, r).unwrap();
        }
        image
    }

    #[test]
    fn acls_round_trip_through_records_once_each() {
        let a = binding("orders", "User:alice");
        let b = binding("orders", "User:bob");
        let records = create_acl_records(
            &SecurityImage::default(),
            &[a.clone(), a.clone(), b.clone()],
        );
        assert_eq!(
            records.len(),
            2,
            "a binding twice in one request is one entry"
        );
        let image = applied(&records);
        assert_eq!(bindings_of(&image.security), [a.clone(), b.clone()].into());
        assert!(create_acl_records(&image.security, std::slice::from_ref(&a)).is_empty());
        let alice = AclFilter::from_wire(1, None, 1, Some("User:alice"), None, 1, 1).unwrap();
        let everything = AclFilter::from_wire(1, None, 1, None, None, 1, 1).unwrap();
        let (removed, records) = delete_acl_records(&image.security, &[alice, everything]);
        assert_eq!(removed, vec![vec![a.clone()], vec![a, b]]);
        assert_eq!(
            records.len(),
            2,
            "an entry two filters select is removed once"
        );
        let mut image = image;
        for r in &records {
            image.apply(9, r).unwrap();
        }
        assert!(image.security.acls.is_empty());
    }

    #[test]
    fn credentials_and_quotas_round_trip_through_records() {
        let add = AddScram::parse("SCRAM-SHA-512=[name=alice,password=wonderland]").unwrap();
        let records = add_scram_records(&SecurityImage::default(), std::slice::from_ref(&add));
        assert_eq!(records.len(), 1);
        let image = applied(&records);
        let users = users_of(&image.security);
        assert!(users["alice"][&Mechanism::Sha512].verify_password(Mechanism::Sha512, "wonderland"));
        assert!(
            add_scram_records(&image.security, &[add]).is_empty(),
            "the same --add-scram again adds nothing"
        );
        let other = AddScram::parse("SCRAM-SHA-512=[name=alice,password=changed]").unwrap();
        assert_eq!(add_scram_records(&image.security, &[other]).len(), 1);

        let entity = Entity::parse(&[
            ("user".into(), Some("bob".into())),
            ("client-id".into(), None),
        ])
        .unwrap();
        let changes = [QuotaChange {
            entity: entity.clone(),
            key: "producer_byte_rate".into(),
            value: Some(1024.0),
        }];
        let image = applied(&quota_records(&changes));
        let quotas = quotas_of(&image.security);
        assert_eq!(quotas[&entity]["producer_byte_rate"], 1024.0);
    }
}
