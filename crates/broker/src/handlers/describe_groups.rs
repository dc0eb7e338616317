//! DescribeGroups (key 15): state, protocol and members of groups; an
//! unknown group is described as Dead, as Kafka does before v6. A group
//! the principal may not DESCRIBE gets GROUP_AUTHORIZATION_FAILED.

use std::sync::Arc;

use fjord_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use fjord_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::state::BrokerState;

crate::handler!(DescribeGroups, 0, 5);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let wants_ops = ctx.api_version >= 3 && req.include_authorized_operations;
    let groups: Vec<DescribedGroup> = req
        .groups
        .into_iter()
        .map(|group_id| {
            if !ctx.allowed(
                &state,
                AclOperation::Describe,
                ResourceType::Group,
                &group_id,
            ) {
                return DescribedGroup {
                    error_code: ErrorCode::GroupAuthorizationFailed.code(),
                    group_id,
                    ..Default::default()
                };
            }
            let ops =
                ctx.operations_if_requested(&state, wants_ops, ResourceType::Group, &group_id);
            match state.groups.describe(&group_id) {
                Some(s) => DescribedGroup {
                    error_code: ErrorCode::None.code(),
                    group_id,
                    group_state: s.state.name().to_string(),
                    protocol_type: s.protocol_type,
                    protocol_data: s.protocol,
                    members: s
                        .members
                        .into_iter()
                        .map(|m| DescribedGroupMember {
                            member_id: m.member_id,
                            group_instance_id: m.instance_id,
                            client_id: m.client_id,
                            client_host: m.client_host,
                            member_metadata: m.metadata,
                            member_assignment: m.assignment,
                            ..Default::default()
                        })
                        .collect(),
                    authorized_operations: ops,
                    ..Default::default()
                },
                None => DescribedGroup {
                    error_code: ErrorCode::None.code(),
                    group_id,
                    group_state: "Dead".to_string(),
                    authorized_operations: ops,
                    ..Default::default()
                },
            }
        })
        .collect();
    // KIP-848 consumer groups, shown in the classic consumer encoding.
    let topics = super::consumer_group_heartbeat::BrokerTopics(&state);
    let groups = groups
        .into_iter()
        .map(|g| {
            if g.error_code != ErrorCode::None.code() {
                return g;
            }
            let config = state.config();
            match state.groups.consumer_describe_classic(
                &g.group_id,
                &topics,
                &config.consumer_group,
            ) {
                Some(c) => DescribedGroup {
                    authorized_operations: g.authorized_operations,
                    ..c
                },
                None => g,
            }
        })
        .collect();
    DescribeGroupsResponse {
        groups,
        ..Default::default()
    }
}
