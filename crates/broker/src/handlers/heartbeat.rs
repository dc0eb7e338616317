//! Heartbeat (key 12): keeps a member's session alive; answers
//! REBALANCE_IN_PROGRESS while the group is preparing a rebalance.
//!
//! With an authorizer: READ on the group, else GROUP_AUTHORIZATION_FAILED
//! (as Kafka).

use std::sync::Arc;

use fjord_protocol::messages::{HeartbeatRequest, HeartbeatResponse};
use fjord_protocol::ErrorCode;

use super::{now_ms, RequestCtx};
use crate::acl::{AclOperation, ResourceType};
use crate::state::BrokerState;

crate::handler!(Heartbeat, 0, 4);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: HeartbeatRequest,
) -> HeartbeatResponse {
    if !ctx.allowed(
        &state,
        AclOperation::Read,
        ResourceType::Group,
        &req.group_id,
    ) {
        return HeartbeatResponse {
            error_code: ErrorCode::GroupAuthorizationFailed.code(),
            ..Default::default()
        };
    }
    if let Err(code) = crate::cluster::coordinators::check_group(&state, &req.group_id) {
        return HeartbeatResponse {
            error_code: code.code(),
            ..Default::default()
        };
    }
    let instance = if ctx.api_version >= 3 {
        req.group_instance_id.as_deref()
    } else {
        None
    };
    let code = state.groups.heartbeat(
        &req.group_id,
        req.generation_id,
        &req.member_id,
        instance,
        now_ms(),
    );
    HeartbeatResponse {
        error_code: code.code(),
        ..Default::default()
    }
}
