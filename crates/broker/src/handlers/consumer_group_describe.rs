//! ConsumerGroupDescribe (key 69): state, epochs, assignor and members
//! (current and target assignments) of KIP-848 consumer groups. Other ids
//! get GROUP_ID_NOT_FOUND, as from Kafka (clients then fall back to
//! DescribeGroups for classic groups). A group the principal may not
//! DESCRIBE gets GROUP_AUTHORIZATION_FAILED.

use std::sync::Arc;

use fjord_protocol::messages::consumer_group_describe_response::DescribedGroup;
use fjord_protocol::messages::{ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse};
use fjord_protocol::ErrorCode;

use super::consumer_group_heartbeat::BrokerTopics;
use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::state::BrokerState;

crate::handler!(ConsumerGroupDescribe, 0, 0);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    let topics = BrokerTopics(&state);
    let groups = req
        .group_ids
        .into_iter()
        .map(|id| {
            if id.is_empty() {
                return DescribedGroup {
                    error_code: ErrorCode::InvalidGroupId.code(),
                    error_message: Some("GroupId can't be empty.".into()),
                    group_id: id,
                    ..Default::default()
                };
            }
            if !ctx.allowed(&state, AclOperation::Describe, ResourceType::Group, &id) {
                return DescribedGroup {
                    error_code: ErrorCode::GroupAuthorizationFailed.code(),
                    error_message: Some(format!("Not authorized to describe group {id}")),
                    group_id: id,
                    ..Default::default()
                };
            }
            let mut g =
                state
                    .groups
                    .consumer_describe(&id, &topics, &state.config().consumer_group);
            g.authorized_operations = ctx.operations_if_requested(
                &state,
                req.include_authorized_operations,
                ResourceType::Group,
                &id,
            );
            g
        })
        .collect();
    ConsumerGroupDescribeResponse {
        groups,
        ..Default::default()
    }
}
