//! DeleteGroups (key 42): deletes Empty groups and their offsets
//! (tombstones in `__consumer_offsets`).
//!
//! With an authorizer: DELETE on each group, else GROUP_AUTHORIZATION_FAILED
//! for it (as Kafka).

use std::sync::Arc;

use fjord_protocol::messages::delete_groups_response::DeletableGroupResult;
use fjord_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};
use fjord_protocol::ErrorCode;

use super::{now_ms, RequestCtx};
use crate::acl::{AclOperation, ResourceType};
use crate::groups::wait_durable;
use crate::state::BrokerState;

crate::handler!(DeleteGroups, 0, 2);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let mut results = Vec::with_capacity(req.groups_names.len());
    for group_id in req.groups_names {
        // An empty id names no group (Kafka accepts it as a valid id).
        let code = if !ctx.allowed(&state, AclOperation::Delete, ResourceType::Group, &group_id) {
            ErrorCode::GroupAuthorizationFailed
        } else if group_id.is_empty() {
            ErrorCode::GroupIdNotFound
        } else {
            let (code, durable) = state.groups.delete_group(&group_id, now_ms());
            let sync = wait_durable(&state, durable).await;
            if code == ErrorCode::None {
                sync
            } else {
                code
            }
        };
        results.push(DeletableGroupResult {
            group_id,
            error_code: code.code(),
            ..Default::default()
        });
    }
    DeleteGroupsResponse {
        results,
        ..Default::default()
    }
}
