//! ConsumerGroupHeartbeat (key 68): the KIP-848 consumer group protocol.
//! Joins, heartbeats and leaves in one API; the coordinator assigns the
//! partitions (see `fjord_group_coordinator::consumer`). Answered once the
//! group's records are durable.
//!
//! With an authorizer, as Kafka: READ on the group (else
//! GROUP_AUTHORIZATION_FAILED) and DESCRIBE on every subscribed topic name
//! (else TOPIC_AUTHORIZATION_FAILED naming them).

use std::sync::Arc;

use fjord_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use fjord_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use fjord_protocol::{ErrorCode, Uuid};

use super::{now_ms, RequestCtx};
use crate::acl::{AclOperation, ResourceType};
use crate::groups::wait_durable;
use crate::state::BrokerState;
use fjord_group_coordinator::consumer::reconcile::Assignment as Partitions;
use fjord_group_coordinator::consumer::{HeartbeatArgs, TopicInfo, Topics};

crate::handler!(ConsumerGroupHeartbeat, 0, 1);

/// The broker's topic registry as the consumer group coordinator sees it.
pub struct BrokerTopics<'a>(pub &'a BrokerState);

impl Topics for BrokerTopics<'_> {
    fn by_name(&self, name: &str) -> Option<TopicInfo> {
        let t = self.0.topic(name)?;
        Some(TopicInfo {
            name: t.name.clone(),
            id: t.id,
            partitions: t.partitions.len() as i32,
        })
    }

    fn by_id(&self, id: &Uuid) -> Option<TopicInfo> {
        let t = self.0.topic_by_id(id)?;
        Some(TopicInfo {
            name: t.name.clone(),
            id: t.id,
            partitions: t.partitions.len() as i32,
        })
    }

    fn names(&self) -> Vec<String> {
        self.0
            .all_topics()
            .into_iter()
            .filter(|t| !t.internal)
            .map(|t| t.name.clone())
            .collect()
    }
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: ConsumerGroupHeartbeatRequest,
) -> ConsumerGroupHeartbeatResponse {
    if !ctx.allowed(
        &state,
        AclOperation::Read,
        ResourceType::Group,
        &req.group_id,
    ) {
        return ConsumerGroupHeartbeatResponse {
            error_code: ErrorCode::GroupAuthorizationFailed.code(),
            ..Default::default()
        };
    }
    if let Err(code) = crate::cluster::coordinators::check_group(&state, &req.group_id) {
        return ConsumerGroupHeartbeatResponse {
            error_code: code.code(),
            ..Default::default()
        };
    }
    let hidden: Vec<&str> = req
        .subscribed_topic_names
        .iter()
        .flatten()
        .map(String::as_str)
        .filter(|t| !ctx.allowed(&state, AclOperation::Describe, ResourceType::Topic, t))
        .collect();
    if !hidden.is_empty() {
        return ConsumerGroupHeartbeatResponse {
            error_code: ErrorCode::TopicAuthorizationFailed.code(),
            error_message: Some(format!(
                "The following topics are not authorized: {}",
                hidden.join(", ")
            )),
            ..Default::default()
        };
    }
    let owned = req.topic_partitions.map(|tps| {
        let mut a = Partitions::new();
        for tp in tps {
            a.entry(tp.topic_id).or_default().extend(tp.partitions);
        }
        a.retain(|_, ps| !ps.is_empty());
        a
    });
    let args = HeartbeatArgs {
        group_id: req.group_id,
        member_id: req.member_id,
        member_epoch: req.member_epoch,
        instance_id: req.instance_id,
        rack_id: req.rack_id,
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        subscribed_topic_names: req.subscribed_topic_names,
        subscribed_topic_regex: if ctx.api_version >= 1 {
            req.subscribed_topic_regex
        } else {
            None
        },
        server_assignor: req.server_assignor,
        owned,
        client_id: ctx.client_id.clone().unwrap_or_default(),
        client_host: format!("/{}", ctx.peer.ip()),
    };
    let (result, durable) = {
        let topics = BrokerTopics(&state);
        state
            .groups
            .consumer_heartbeat(args, &state.config().consumer_group, &topics, now_ms())
    };
    let code = wait_durable(&state, durable).await;
    if code != ErrorCode::None && result.error_code == ErrorCode::None.code() {
        return ConsumerGroupHeartbeatResponse {
            error_code: code.code(),
            error_message: Some("writing the group's records failed".into()),
            ..Default::default()
        };
    }
    ConsumerGroupHeartbeatResponse {
        error_code: result.error_code,
        error_message: result.error_message,
        member_id: result.member_id,
        member_epoch: result.member_epoch,
        heartbeat_interval_ms: result.heartbeat_interval_ms,
        assignment: result.assignment.map(|a| Assignment {
            topic_partitions: a
                .into_iter()
                .map(|(topic_id, ps)| TopicPartitions {
                    topic_id,
                    partitions: ps.into_iter().collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}
