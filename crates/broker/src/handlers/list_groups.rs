//! ListGroups (key 16): every group, classic and consumer (KIP-848),
//! filtered by state (v4+) and type (v5+).
//!
//! With an authorizer, as Kafka: every group with DESCRIBE on the cluster,
//! otherwise only the groups the principal may DESCRIBE.

use std::sync::Arc;

use fjord_protocol::messages::list_groups_response::ListedGroup;
use fjord_protocol::messages::{ListGroupsRequest, ListGroupsResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::state::BrokerState;

crate::handler!(ListGroups, 0, 5);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: ListGroupsRequest,
) -> ListGroupsResponse {
    let states: Vec<String> = if ctx.api_version >= 4 {
        req.states_filter.iter().map(|s| s.to_lowercase()).collect()
    } else {
        Vec::new()
    };
    let types: Vec<String> = if ctx.api_version >= 5 {
        req.types_filter.iter().map(|s| s.to_lowercase()).collect()
    } else {
        Vec::new()
    };
    let all = ctx.visible(
        &state,
        AclOperation::Describe,
        ResourceType::Cluster,
        crate::acl::CLUSTER_NAME,
    );
    // Classic groups and KIP-848 consumer groups.
    let groups = state
        .groups
        .list_all_groups()
        .into_iter()
        .filter(|g| types.is_empty() || types.iter().any(|t| t == g.group_type))
        .filter(|g| states.is_empty() || states.contains(&g.state.to_lowercase()))
        .filter(|g| {
            all || ctx.visible(
                &state,
                AclOperation::Describe,
                ResourceType::Group,
                &g.group_id,
            )
        })
        .map(|g| ListedGroup {
            group_id: g.group_id,
            protocol_type: g.protocol_type,
            group_state: g.state,
            group_type: g.group_type.to_string(),
            ..Default::default()
        })
        .collect();
    ListGroupsResponse {
        error_code: ErrorCode::None.code(),
        groups,
        ..Default::default()
    }
}
