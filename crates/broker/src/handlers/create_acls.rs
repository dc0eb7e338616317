//! CreateAcls (key 30): adds ACL bindings, answered once they are durable
//! (on one node in `meta/acls.json`; in cluster mode once committed to the
//! metadata log and applied here, see `cluster::security_sync`).
//! Needs ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED for every
//! creation otherwise); SECURITY_DISABLED without an authorizer; a binding
//! Kafka would refuse (ANY or UNKNOWN codes, MATCH pattern, empty name, a
//! cluster resource not named `kafka-cluster`, a principal without a type)
//! gets INVALID_REQUEST and the others are still created. v0 was removed
//! in Kafka 4.0 (KIP-896).

use std::sync::Arc;

use fjord_protocol::messages::create_acls_response::AclCreationResult;
use fjord_protocol::messages::{CreateAclsRequest, CreateAclsResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::AclOperation;
use crate::security::acls::AclBinding;
use crate::state::BrokerState;

crate::handler!(CreateAcls, 1, 3);

fn failed(code: ErrorCode, msg: &str) -> AclCreationResult {
    AclCreationResult {
        error_code: code.code(),
        error_message: Some(msg.to_string()),
        ..Default::default()
    }
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: CreateAclsRequest,
) -> CreateAclsResponse {
    let all = |r: AclCreationResult| CreateAclsResponse {
        results: req.creations.iter().map(|_| r.clone()).collect(),
        ..Default::default()
    };
    if let Some((code, msg)) = ctx.acl_admin_refusal(&state, AclOperation::Alter) {
        return all(failed(code, msg));
    }
    let checked: Vec<Result<AclBinding, String>> = req
        .creations
        .iter()
        .map(|c| {
            AclBinding::from_wire(
                c.resource_type,
                &c.resource_name,
                c.resource_pattern_type,
                &c.principal,
                &c.host,
                c.operation,
                c.permission_type,
            )
        })
        .collect();
    let valid: Vec<AclBinding> = checked.iter().filter_map(|r| r.clone().ok()).collect();
    let saved: Result<(), (ErrorCode, String)> = match state.cluster() {
        // Cluster mode: committed to the metadata log, enforced everywhere.
        Some(cluster) => crate::cluster::security_sync::create_acls(cluster, &valid).await,
        None => {
            super::meta_save::save_locally(&state, "ACLs", move |st| st.authorizer.create(&valid))
                .await
        }
    };
    let results = checked
        .into_iter()
        .map(|r| match (r, &saved) {
            (Err(msg), _) => failed(ErrorCode::InvalidRequest, &msg),
            (Ok(b), Ok(())) => {
                tracing::info!(target: "fjord::audit", by = %ctx.principal, acl = ?b, "ACL created");
                AclCreationResult::default()
            }
            (Ok(_), Err((code, msg))) => failed(*code, msg),
        })
        .collect();
    CreateAclsResponse {
        results,
        ..Default::default()
    }
}
