//! JoinGroup (key 11): joins a classic group; the answer is held until the
//! join round completes (see `fjord_group_coordinator`). A consumer
//! (KIP-848) group takes classic members too, answered at once with the
//! coordinator's assignment to follow in SyncGroup.
//!
//! With an authorizer: READ on the group, else GROUP_AUTHORIZATION_FAILED
//! (as Kafka).

use std::sync::Arc;

use fjord_protocol::messages::{JoinGroupRequest, JoinGroupResponse};
use fjord_protocol::ErrorCode;

use super::consumer_group_heartbeat::BrokerTopics;
use super::{now_ms, RequestCtx};
use crate::acl::{AclOperation, ResourceType};
use crate::groups::wait_durable;
use crate::state::BrokerState;
use fjord_group_coordinator::consumer::ClassicEnv;
use fjord_group_coordinator::{join_error, resolve, JoinArgs};

crate::handler!(JoinGroup, 0, 9);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: JoinGroupRequest,
) -> JoinGroupResponse {
    let member_id = req.member_id.clone();
    if !ctx.allowed(
        &state,
        AclOperation::Read,
        ResourceType::Group,
        &req.group_id,
    ) {
        let mut resp = join_error(&member_id, ErrorCode::GroupAuthorizationFailed);
        if ctx.api_version < 7 {
            resp.protocol_name = Some(String::new());
        }
        return resp;
    }
    if let Err(code) = crate::cluster::coordinators::check_group(&state, &req.group_id) {
        let mut resp = join_error(&member_id, code);
        if ctx.api_version < 7 {
            resp.protocol_name = Some(String::new());
        }
        return resp;
    }
    let args = JoinArgs {
        group_id: req.group_id,
        member_id: req.member_id,
        group_instance_id: if ctx.api_version >= 5 {
            req.group_instance_id
        } else {
            None
        },
        client_id: ctx.client_id.clone().unwrap_or_default(),
        client_host: format!("/{}", ctx.peer.ip()),
        session_timeout_ms: req.session_timeout_ms,
        // v0 has no rebalance timeout: Kafka uses the session timeout.
        rebalance_timeout_ms: if ctx.api_version >= 1 {
            req.rebalance_timeout_ms
        } else {
            req.session_timeout_ms
        },
        protocol_type: req.protocol_type,
        protocols: req
            .protocols
            .into_iter()
            .map(|p| (p.name, p.metadata))
            .collect(),
        require_known_member_id: ctx.api_version >= 4,
        supports_skip_assignment: ctx.api_version >= 9,
    };
    // A consumer (KIP-848) group's classic members are served by the
    // consumer group, which assigns with the broker's topics.
    let (reply, durable) = {
        let broker = state.config();
        let topics = BrokerTopics(&state);
        let env = ClassicEnv {
            cfg: &broker.consumer_group,
            topics: &topics,
        };
        state.groups.join_with(args, Some(&env), now_ms())
    };
    let code = wait_durable(&state, durable).await;
    let mut resp = resolve(
        reply,
        join_error(&member_id, ErrorCode::CoordinatorNotAvailable),
    )
    .await;
    if code != ErrorCode::None && resp.error_code == ErrorCode::None.code() {
        resp = join_error(&member_id, code);
    }
    if ctx.api_version < 7 && resp.protocol_name.is_none() {
        resp.protocol_name = Some(String::new());
    }
    resp
}
