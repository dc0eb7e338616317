//! DescribeAcls (key 29): the ACL bindings one filter selects, grouped by
//! resource pattern. Needs DESCRIBE on the cluster
//! (CLUSTER_AUTHORIZATION_FAILED); SECURITY_DISABLED without an authorizer;
//! INVALID_REQUEST for a filter with UNKNOWN codes. v0 was removed in
//! Kafka 4.0 (KIP-896).

use std::sync::Arc;

use fjord_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use fjord_protocol::messages::{DescribeAclsRequest, DescribeAclsResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::AclOperation;
use crate::security::acls::AclFilter;
use crate::state::BrokerState;

crate::handler!(DescribeAcls, 1, 3);

fn failed(code: ErrorCode, msg: String) -> DescribeAclsResponse {
    DescribeAclsResponse {
        error_code: code.code(),
        error_message: Some(msg),
        ..Default::default()
    }
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: DescribeAclsRequest,
) -> DescribeAclsResponse {
    if let Some((code, msg)) = ctx.acl_admin_refusal(&state, AclOperation::Describe) {
        return failed(code, msg.into());
    }
    let filter = match AclFilter::from_wire(
        req.resource_type_filter,
        req.resource_name_filter.as_deref(),
        req.pattern_type_filter,
        req.principal_filter.as_deref(),
        req.host_filter.as_deref(),
        req.operation,
        req.permission_type,
    ) {
        Ok(f) => f,
        Err(msg) => return failed(ErrorCode::InvalidRequest, msg),
    };
    // The bindings come sorted by resource, so a resource's are together.
    let mut resources: Vec<DescribeAclsResource> = Vec::new();
    for b in state.authorizer.describe(&filter) {
        let acl = AclDescription {
            principal: b.principal,
            host: b.host,
            operation: b.operation.code(),
            permission_type: b.permission.code(),
            ..Default::default()
        };
        match resources.last_mut() {
            Some(r)
                if r.resource_type == b.resource_type.code()
                    && r.resource_name == b.name
                    && r.pattern_type == b.pattern.code() =>
            {
                r.acls.push(acl)
            }
            _ => resources.push(DescribeAclsResource {
                resource_type: b.resource_type.code(),
                resource_name: b.name,
                pattern_type: b.pattern.code(),
                acls: vec![acl],
                ..Default::default()
            }),
        }
    }
    DescribeAclsResponse {
        resources,
        ..Default::default()
    }
}
