//! DeleteAcls (key 31): removes the ACL bindings each filter selects and
//! returns them per filter, once the removal is durable (in cluster mode:
//! committed to the metadata log and applied here). Needs ALTER on the
//! cluster (CLUSTER_AUTHORIZATION_FAILED for every filter);
//! SECURITY_DISABLED without an authorizer; INVALID_REQUEST for a filter
//! with UNKNOWN codes (the other filters still apply). v0 was removed in
//! Kafka 4.0 (KIP-896).

use std::sync::Arc;

use fjord_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use fjord_protocol::messages::{DeleteAclsRequest, DeleteAclsResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::AclOperation;
use crate::security::acls::AclFilter;
use crate::state::BrokerState;

crate::handler!(DeleteAcls, 1, 3);

fn failed(code: ErrorCode, msg: &str) -> DeleteAclsFilterResult {
    DeleteAclsFilterResult {
        error_code: code.code(),
        error_message: Some(msg.to_string()),
        ..Default::default()
    }
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: DeleteAclsRequest,
) -> DeleteAclsResponse {
    let all = |r: DeleteAclsFilterResult| DeleteAclsResponse {
        filter_results: req.filters.iter().map(|_| r.clone()).collect(),
        ..Default::default()
    };
    if let Some((code, msg)) = ctx.acl_admin_refusal(&state, AclOperation::Alter) {
        return all(failed(code, msg));
    }
    let checked: Vec<Result<AclFilter, String>> = req
        .filters
        .iter()
        .map(|f| {
            AclFilter::from_wire(
                f.resource_type_filter,
                f.resource_name_filter.as_deref(),
                f.pattern_type_filter,
                f.principal_filter.as_deref(),
                f.host_filter.as_deref(),
                f.operation,
                f.permission_type,
            )
        })
        .collect();
    let valid: Vec<AclFilter> = checked.iter().filter_map(|r| r.clone().ok()).collect();
    let deleted: Result<_, (ErrorCode, String)> = match state.cluster() {
        // Cluster mode: committed to the metadata log, in force everywhere.
        Some(cluster) => crate::cluster::security_sync::delete_acls(cluster, &valid).await,
        None => {
            super::meta_save::save_locally(&state, "ACLs", move |st| st.authorizer.delete(&valid))
                .await
        }
    };
    let mut removed = deleted.map(Vec::into_iter);
    let filter_results = checked
        .into_iter()
        .map(|r| match (r, removed.as_mut()) {
            (Err(msg), _) => failed(ErrorCode::InvalidRequest, &msg),
            (Ok(_), Err((code, msg))) => failed(*code, msg),
            (Ok(_), Ok(it)) => DeleteAclsFilterResult {
                matching_acls: it
                    .next()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|b| {
                        tracing::info!(target: "fjord::audit", by = %ctx.principal, acl = ?b, "ACL deleted");
                        DeleteAclsMatchingAcl {
                            resource_type: b.resource_type.code(),
                            resource_name: b.name,
                            pattern_type: b.pattern.code(),
                            principal: b.principal,
                            host: b.host,
                            operation: b.operation.code(),
                            permission_type: b.permission.code(),
                            ..Default::default()
                        }
                    })
                    .collect(),
                ..Default::default()
            },
        })
        .collect();
    DeleteAclsResponse {
        filter_results,
        ..Default::default()
    }
}
