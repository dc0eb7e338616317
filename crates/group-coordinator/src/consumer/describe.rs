//! Views of consumer groups for admin requests: ConsumerGroupDescribe,
//! DescribeGroups (the classic API, with the consumer protocol encodings)
//! and ListGroups over classic and consumer groups.

use std::collections::{BTreeMap, HashSet};

use bytes::{BufMut, Bytes, BytesMut};
use fjord_protocol::messages::{
    consumer_group_describe_response as cgd, describe_groups_response as dg,
    ConsumerProtocolAssignment, ConsumerProtocolSubscription,
};
use fjord_protocol::{Encode, ErrorCode};

use super::group::Group;
use super::reconcile::Assignment;
use super::{ConsumerGroupConfig, ConsumerGroupState, ListedGroupInfo, Topics};
use crate::GroupCoordinator;

/// `m` encoded at `version`, preceded by that version (the consumer
/// protocol's framing of subscriptions and assignments).
pub(super) fn versioned<M: Encode>(m: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(version);
    if m.encode(&mut buf, version).is_err() {
        return Bytes::new();
    }
    buf.freeze()
}

impl GroupCoordinator {
    /// ConsumerGroupDescribe of one group.
    pub fn consumer_describe(
        &self,
        group_id: &str,
        topics: &dyn Topics,
        cfg: &ConsumerGroupConfig,
    ) -> cgd::DescribedGroup {
        let not_found = |msg: String| cgd::DescribedGroup {
            error_code: ErrorCode::GroupIdNotFound.code(),
            error_message: Some(msg),
            group_id: group_id.to_string(),
            ..Default::default()
        };
        let Ok(groups) = self.consumer.groups.lock() else {
            return cgd::DescribedGroup {
                error_code: ErrorCode::CoordinatorNotAvailable.code(),
                group_id: group_id.to_string(),
                ..Default::default()
            };
        };
        let Some(g) = groups.get(group_id) else {
            drop(groups);
            let classic = self
                .groups
                .lock()
                .map(|gs| {
                    gs.get(group_id).is_some_and(|g| {
                        g.state != crate::GroupState::Dead
                            && (g.generation > 0 || !g.members.is_empty())
                    })
                })
                .unwrap_or(false);
            return if classic {
                not_found(format!("Group {group_id} is not a consumer group."))
            } else {
                not_found(format!("Group {group_id} not found."))
            };
        };
        let describe_assignment = |a: &Assignment| cgd::Assignment {
            topic_partitions: a
                .iter()
                .map(|(t, ps)| cgd::TopicPartitions {
                    topic_id: *t,
                    topic_name: g.topic_name(t, Some(topics)).unwrap_or_default(),
                    partitions: ps.iter().copied().collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let empty = Assignment::new();
        cgd::DescribedGroup {
            error_code: ErrorCode::None.code(),
            group_id: group_id.to_string(),
            group_state: g.state().name().to_string(),
            group_epoch: g.epoch,
            assignment_epoch: g.assignment_epoch,
            assignor_name: g.assignor(cfg),
            members: g
                .members
                .values()
                .map(|m| cgd::Member {
                    member_id: m.id.clone(),
                    instance_id: m.meta.instance_id.clone(),
                    rack_id: m.meta.rack_id.clone(),
                    member_epoch: m.current.member_epoch,
                    client_id: m.meta.client_id.clone(),
                    client_host: m.meta.client_host.clone(),
                    subscribed_topic_names: m.meta.subscribed_topic_names.clone(),
                    subscribed_topic_regex: m.meta.subscribed_topic_regex.clone(),
                    assignment: describe_assignment(&m.current.assigned),
                    target_assignment: describe_assignment(g.target.get(&m.id).unwrap_or(&empty)),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    /// DescribeGroups (the classic API) of a consumer group: its state,
    /// protocol type "consumer", the assignor as protocol, and each member
    /// with its subscription and current assignment in the classic
    /// consumer protocol encoding. `None` if not a consumer group.
    pub fn consumer_describe_classic(
        &self,
        group_id: &str,
        topics: &dyn Topics,
        cfg: &ConsumerGroupConfig,
    ) -> Option<dg::DescribedGroup> {
        let groups = self.consumer.groups.lock().ok()?;
        let g = groups.get(group_id)?;
        let members = g
            .members
            .values()
            .map(|m| {
                let sub = ConsumerProtocolSubscription {
                    topics: m.meta.subscribed_topic_names.clone(),
                    ..Default::default()
                };
                let mut by_name: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                for (t, ps) in &m.current.assigned {
                    if let Some(n) = g.topic_name(t, Some(topics)) {
                        by_name.entry(n).or_default().extend(ps.iter().copied());
                    }
                }
                let asg = ConsumerProtocolAssignment {
                    assigned_partitions: by_name
                        .into_iter()
                        .map(|(topic, partitions)| {
                            fjord_protocol::messages::consumer_protocol_assignment::TopicPartition {
                                topic,
                                partitions,
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                };
                dg::DescribedGroupMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.meta.instance_id.clone(),
                    client_id: m.meta.client_id.clone(),
                    client_host: m.meta.client_host.clone(),
                    // A classic member's own subscription, as it joined.
                    member_metadata: m
                        .meta
                        .classic
                        .as_ref()
                        .and_then(|c| c.protocols.first())
                        .map(|p| p.1.clone())
                        .unwrap_or_else(|| versioned(&sub, 0)),
                    member_assignment: versioned(&asg, 0),
                    ..Default::default()
                }
            })
            .collect();
        Some(dg::DescribedGroup {
            error_code: ErrorCode::None.code(),
            group_id: group_id.to_string(),
            group_state: g.state().name().to_string(),
            protocol_type: "consumer".to_string(),
            protocol_data: g.assignor(cfg),
            members,
            ..Default::default()
        })
    }

    /// Every group for ListGroups: classic groups (including offsets-only
    /// ones) and consumer groups, by id.
    pub fn list_all_groups(&self) -> Vec<ListedGroupInfo> {
        let consumer: Vec<ListedGroupInfo> = match self.consumer.groups.lock() {
            Ok(groups) => groups
                .values()
                .map(|g| ListedGroupInfo {
                    group_id: g.id.clone(),
                    protocol_type: "consumer".to_string(),
                    state: g.state().name().to_string(),
                    group_type: "consumer",
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let ids: HashSet<&str> = consumer.iter().map(|g| g.group_id.as_str()).collect();
        let mut out: Vec<ListedGroupInfo> = self
            .list()
            .into_iter()
            .filter(|(id, _, _)| !ids.contains(id.as_str()))
            .map(|(group_id, protocol_type, s)| ListedGroupInfo {
                group_id,
                protocol_type,
                state: s.name().to_string(),
                group_type: "classic",
            })
            .collect();
        out.extend(consumer);
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    /// The state of a consumer group (tests, status).
    pub fn consumer_group_state(&self, group_id: &str) -> Option<ConsumerGroupState> {
        self.consumer
            .groups
            .lock()
            .ok()?
            .get(group_id)
            .map(Group::state)
    }
}
