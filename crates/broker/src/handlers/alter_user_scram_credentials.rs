//! AlterUserScramCredentials (key 51): upserts and deletes SCRAM
//! credentials in the user store. The client sends the salted password,
//! never the password; the broker keeps only the stored and server keys.
//!
//! Checked per user as Kafka does (one result per user; any error fails
//! all of that user's changes): an empty name or salt, iterations outside
//! 4096..=16384 (UNACCEPTABLE_CREDENTIAL), an unknown mechanism
//! (UNSUPPORTED_SASL_MECHANISM), a user/mechanism twice in one request
//! (DUPLICATE_RESOURCE), deleting a credential that does not exist
//! (RESOURCE_NOT_FOUND). The accepted changes are applied together and
//! answered only once durable: on one node in `meta/`, in cluster mode
//! once committed to the metadata log and applied on this broker
//! (`cluster::security_sync`), so every broker authenticates with them.
//!
//! With an authorizer, as Kafka: ALTER on the cluster, else every user gets
//! CLUSTER_AUTHORIZATION_FAILED.

use std::sync::Arc;

use fjord_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use fjord_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::AclOperation;
use crate::security::scram::{Credential, Mechanism, MAX_ITERATIONS, MIN_ITERATIONS};
use crate::security::users::Change;
use crate::state::BrokerState;

crate::handler!(AlterUserScramCredentials, 0, 0);

type Refusal = (ErrorCode, String);

fn mechanism(user: &str, wire: i8) -> Result<Mechanism, Refusal> {
    Mechanism::from_wire(wire).ok_or_else(|| {
        (
            ErrorCode::UnsupportedSaslMechanism,
            format!("Unknown SCRAM mechanism for user {user}"),
        )
    })
}

/// The changes of one request, or the refusal of each user's changes.
fn check(
    req: &AlterUserScramCredentialsRequest,
    users: &crate::security::users::Users,
) -> Vec<(String, Result<Vec<Change>, Refusal>)> {
    let mut per_user: Vec<(String, Result<Vec<Change>, Refusal>)> = Vec::new();
    let mut seen: Vec<(String, i8)> = Vec::new();
    let mut push = |user: &str, change: Result<Change, Refusal>, mech: i8| {
        let dup = seen.iter().any(|(u, m)| u == user && *m == mech);
        seen.push((user.to_string(), mech));
        let change = if dup {
            Err((
                ErrorCode::DuplicateResource,
                format!("A user credential cannot be altered twice in the same request: {user}"),
            ))
        } else {
            change
        };
        match per_user.iter_mut().find(|(u, _)| u == user) {
            Some((_, Ok(list))) => match change {
                Ok(c) => list.push(c),
                Err(e) => per_user.iter_mut().for_each(|(u, r)| {
                    if u == user {
                        *r = Err(e.clone());
                    }
                }),
            },
            Some((_, Err(_))) => {}
            None => per_user.push((user.to_string(), change.map(|c| vec![c]))),
        }
    };
    for d in &req.deletions {
        let change = (|| {
            if d.name.is_empty() {
                return Err((
                    ErrorCode::UnacceptableCredential,
                    "Username must not be empty".to_string(),
                ));
            }
            let m = mechanism(&d.name, d.mechanism)?;
            if !users.get(&d.name).is_some_and(|c| c.contains_key(&m)) {
                return Err((
                    ErrorCode::ResourceNotFound,
                    format!(
                        "Attempt to delete a user credential that does not exist: {}",
                        d.name
                    ),
                ));
            }
            Ok(Change::Delete {
                user: d.name.clone(),
                mechanism: m,
            })
        })();
        push(&d.name, change, d.mechanism);
    }
    for u in &req.upsertions {
        let change = (|| {
            if u.name.is_empty() {
                return Err((
                    ErrorCode::UnacceptableCredential,
                    "Username must not be empty".to_string(),
                ));
            }
            let m = mechanism(&u.name, u.mechanism)?;
            let iterations = u32::try_from(u.iterations).unwrap_or(0);
            if iterations < MIN_ITERATIONS {
                return Err((
                    ErrorCode::UnacceptableCredential,
                    format!(
                        "Too few iterations: {} (at least {MIN_ITERATIONS})",
                        u.iterations
                    ),
                ));
            }
            if iterations > MAX_ITERATIONS {
                return Err((
                    ErrorCode::UnacceptableCredential,
                    format!(
                        "Too many iterations: {} (at most {MAX_ITERATIONS})",
                        u.iterations
                    ),
                ));
            }
            if u.salt.is_empty() || u.salted_password.is_empty() {
                return Err((
                    ErrorCode::UnacceptableCredential,
                    "Credential must have a salt and a salted password".to_string(),
                ));
            }
            Ok(Change::Upsert {
                user: u.name.clone(),
                mechanism: m,
                credential: Credential::from_salted(m, &u.salted_password, &u.salt, iterations),
            })
        })();
        push(&u.name, change, u.mechanism);
    }
    per_user
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    if !ctx.allowed_on_cluster(&state, AclOperation::Alter) {
        let mut users: Vec<String> = Vec::new();
        for name in req
            .deletions
            .iter()
            .map(|d| &d.name)
            .chain(req.upsertions.iter().map(|u| &u.name))
        {
            if !users.contains(name) {
                users.push(name.clone());
            }
        }
        return AlterUserScramCredentialsResponse {
            results: users
                .into_iter()
                .map(|user| AlterUserScramCredentialsResult {
                    user,
                    error_code: ErrorCode::ClusterAuthorizationFailed.code(),
                    error_message: Some("Cluster authorization failed.".into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
    }
    let checked = check(&req, &state.users.snapshot());
    let changes: Vec<Change> = checked
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .flatten()
        .cloned()
        .collect();
    let applied: Result<(), Refusal> = match state.cluster() {
        // Cluster mode: committed to the metadata log, in force everywhere.
        Some(cluster) => crate::cluster::security_sync::alter_users(cluster, &changes).await,
        None => {
            super::meta_save::save_locally(&state, "credentials", move |st| {
                st.users.apply(&changes)
            })
            .await
        }
    };
    if let Err((code, e)) = &applied {
        tracing::warn!(?code, error = %e, "SCRAM credential changes not applied");
    }
    let results = checked
        .into_iter()
        .map(|(user, r)| {
            let (code, msg) = match (r, &applied) {
                (Err((code, msg)), _) => (code, Some(msg)),
                (Ok(_), Ok(())) => (ErrorCode::None, None),
                (Ok(_), Err((code, msg))) => (*code, Some(msg.clone())),
            };
            AlterUserScramCredentialsResult {
                user,
                error_code: code.code(),
                error_message: msg,
                ..Default::default()
            }
        })
        .collect();
    AlterUserScramCredentialsResponse {
        results,
        ..Default::default()
    }
}
