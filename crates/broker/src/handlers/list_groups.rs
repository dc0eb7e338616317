//! ListGroups (key 16): every group, filtered by state (v4+) and type (v5+).

use std::sync::Arc;

use fjord_protocol::messages::list_groups_response::ListedGroup;
use fjord_protocol::messages::{ListGroupsRequest, ListGroupsResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
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
    // Every group here is a classic group.
    let type_ok = types.is_empty() || types.iter().any(|t| t == "classic");
    let groups = state
        .groups
        .list()
        .into_iter()
        .filter(|_| type_ok)
        .filter(|(_, _, s)| states.is_empty() || states.contains(&s.name().to_lowercase()))
        .map(|(group_id, protocol_type, s)| ListedGroup {
            group_id,
            protocol_type,
            group_state: s.name().to_string(),
            group_type: "classic".to_string(),
            ..Default::default()
        })
        .collect();
    ListGroupsResponse {
        error_code: ErrorCode::None.code(),
        groups,
        ..Default::default()
    }
}
