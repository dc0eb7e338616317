//! SyncGroup (key 14): the leader hands out assignments; every member's
//! answer is held until the leader's arrives.
//!
//! With an authorizer: READ on the group, else GROUP_AUTHORIZATION_FAILED
//! (as Kafka).

use std::sync::Arc;

use fjord_protocol::messages::{SyncGroupRequest, SyncGroupResponse};
use fjord_protocol::ErrorCode;

use super::consumer_group_heartbeat::BrokerTopics;
use super::{now_ms, RequestCtx};
use crate::acl::{AclOperation, ResourceType};
use crate::groups::wait_durable;
use crate::state::BrokerState;
use fjord_group_coordinator::{resolve, sync_error, SyncArgs};

crate::handler!(SyncGroup, 0, 5);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: SyncGroupRequest,
) -> SyncGroupResponse {
    let v = ctx.api_version;
    if !ctx.allowed(
        &state,
        AclOperation::Read,
        ResourceType::Group,
        &req.group_id,
    ) {
        return sync_error(ErrorCode::GroupAuthorizationFailed);
    }
    if let Err(code) = crate::cluster::coordinators::check_group(&state, &req.group_id) {
        return sync_error(code);
    }
    let args = SyncArgs {
        group_id: req.group_id,
        generation_id: req.generation_id,
        member_id: req.member_id,
        group_instance_id: if v >= 3 { req.group_instance_id } else { None },
        protocol_type: if v >= 5 { req.protocol_type } else { None },
        protocol_name: if v >= 5 { req.protocol_name } else { None },
        assignments: req
            .assignments
            .into_iter()
            .map(|a| (a.member_id, a.assignment))
            .collect(),
    };
    let group_id = args.group_id.clone();
    let generation = args.generation_id;
    let (reply, durable) = state
        .groups
        .sync_with(args, Some(&BrokerTopics(&state)), now_ms());
    if durable.is_some() {
        // The leader's assignment was appended: once it is durable (or
        // failed), every member of the generation is answered together.
        let code = wait_durable(&state, durable).await;
        state
            .groups
            .assignment_stored(&group_id, generation, code, now_ms());
    }
    resolve(reply, sync_error(ErrorCode::RebalanceInProgress)).await
}
