//! DescribeUserScramCredentials (key 50): the mechanisms and iteration
//! counts of users' SCRAM credentials (never salts or keys). A null or
//! empty user list describes every user; a user named twice gets DUPLICATE_RESOURCE,
//! an unknown one RESOURCE_NOT_FOUND, as Kafka answers.
//!
//! With an authorizer, as Kafka: DESCRIBE on the cluster, else
//! CLUSTER_AUTHORIZATION_FAILED.

use std::sync::Arc;

use fjord_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use fjord_protocol::messages::{
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::AclOperation;
use crate::state::BrokerState;

crate::handler!(DescribeUserScramCredentials, 0, 0);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    if !ctx.allowed_on_cluster(&state, AclOperation::Describe) {
        return DescribeUserScramCredentialsResponse {
            error_code: ErrorCode::ClusterAuthorizationFailed.code(),
            error_message: Some("Cluster authorization failed.".into()),
            // As Kafka: one unnamed result per requested user.
            results: req
                .users
                .iter()
                .flatten()
                .map(|_| DescribeUserScramCredentialsResult {
                    error_code: ErrorCode::ClusterAuthorizationFailed.code(),
                    error_message: Some("Cluster authorization failed.".into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
    }
    let users = state.users.snapshot();
    let found = |name: &str| {
        users
            .get(name)
            .map(|creds| DescribeUserScramCredentialsResult {
                user: name.to_string(),
                error_code: ErrorCode::None.code(),
                error_message: None,
                credential_infos: creds
                    .iter()
                    .map(|(m, c)| CredentialInfo {
                        mechanism: m.wire(),
                        iterations: i32::try_from(c.iterations).unwrap_or(i32::MAX),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
    };
    let failed = |name: &str, code: ErrorCode, msg: String| DescribeUserScramCredentialsResult {
        user: name.to_string(),
        error_code: code.code(),
        error_message: Some(msg),
        ..Default::default()
    };
    // As Kafka: a null or empty user list describes every user.
    let results = match req.users.filter(|l| !l.is_empty()) {
        None => users.keys().filter_map(|u| found(u)).collect(),
        Some(list) => {
            let names: Vec<&str> = list.iter().map(|u| u.name.as_str()).collect();
            let mut out = Vec::new();
            for (i, name) in names.iter().enumerate() {
                if names[..i].contains(name) {
                    continue;
                }
                if names.iter().filter(|n| *n == name).count() > 1 {
                    out.push(failed(
                        name,
                        ErrorCode::DuplicateResource,
                        format!("Cannot describe SCRAM credentials for the same user twice in a single request: {name}"),
                    ));
                    continue;
                }
                out.push(found(name).unwrap_or_else(|| {
                    failed(
                        name,
                        ErrorCode::ResourceNotFound,
                        format!(
                            "Attempt to describe a user credential that does not exist: {name}"
                        ),
                    )
                }));
            }
            out
        }
    };
    DescribeUserScramCredentialsResponse {
        results,
        ..Default::default()
    }
}
