//! LeaveGroup (key 13): one member (v0-2) or a batch (v3+) leaves, which
//! starts a rebalance.
//!
//! With an authorizer: READ on the group, else GROUP_AUTHORIZATION_FAILED
//! (as Kafka).

use std::sync::Arc;

use fjord_protocol::messages::leave_group_response::MemberResponse;
use fjord_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};
use fjord_protocol::ErrorCode;

use super::{now_ms, RequestCtx};
use crate::acl::{AclOperation, ResourceType};
use crate::groups::wait_durable;
use crate::state::BrokerState;

crate::handler!(LeaveGroup, 0, 5);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let leaving: Vec<(String, Option<String>)> = if ctx.api_version >= 3 {
        req.members
            .iter()
            .map(|m| (m.member_id.clone(), m.group_instance_id.clone()))
            .collect()
    } else {
        vec![(req.member_id.clone(), None)]
    };
    if !ctx.allowed(
        &state,
        AclOperation::Read,
        ResourceType::Group,
        &req.group_id,
    ) {
        return LeaveGroupResponse {
            error_code: ErrorCode::GroupAuthorizationFailed.code(),
            ..Default::default()
        };
    }
    if req.group_id.is_empty() {
        return LeaveGroupResponse {
            error_code: ErrorCode::InvalidGroupId.code(),
            ..Default::default()
        };
    }
    if let Err(code) = crate::cluster::coordinators::check_group(&state, &req.group_id) {
        return LeaveGroupResponse {
            error_code: code.code(),
            ..Default::default()
        };
    }
    let (top, errors, durable) = state.groups.leave(&req.group_id, &leaving, now_ms());
    let _ = wait_durable(&state, durable).await;
    if ctx.api_version < 3 {
        let code = if top != ErrorCode::None {
            top
        } else {
            errors.first().copied().unwrap_or(ErrorCode::None)
        };
        return LeaveGroupResponse {
            error_code: code.code(),
            ..Default::default()
        };
    }
    LeaveGroupResponse {
        error_code: top.code(),
        members: leaving
            .into_iter()
            .zip(errors)
            .map(|((member_id, group_instance_id), e)| MemberResponse {
                member_id,
                group_instance_id,
                error_code: e.code(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
