//! Groups and their offsets: FindCoordinator, ListGroups, DescribeGroups,
//! OffsetFetch, OffsetCommit and DeleteGroups, each sent to the group's
//! coordinator and retried while it is loading or moving.

use std::collections::BTreeMap;

use bytes::Bytes;
use fjord_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use fjord_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use fjord_protocol::messages::{
    ConsumerProtocolAssignment, DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest,
    ListGroupsRequest, OffsetCommitRequest, OffsetFetchRequest,
};
use fjord_protocol::{ApiKey, Decode, ErrorCode, Request};

use super::{backoff, RETRIES};
use crate::client::{BrokerInfo, Client, Target};
use crate::conn::is_coordinator_error;
use crate::error::{ClientError, Result};
use crate::{expect_response, versions};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedGroup {
    pub group_id: String,
    pub protocol_type: String,
    /// Empty when the broker is too old to say (ListGroups < v4).
    pub state: String,
    pub coordinator: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMemberInfo {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// Decoded when the group uses the consumer protocol.
    pub assignment: Vec<(String, Vec<i32>)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescribedGroup {
    pub group_id: String,
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub coordinator: BrokerInfo,
    pub members: Vec<GroupMemberInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupOffset {
    pub topic: String,
    pub partition: i32,
    /// -1 when the group has no offset for the partition.
    pub offset: i64,
    pub metadata: Option<String>,
}

/// Decodes a consumer-protocol assignment (i16 version, then the body).
pub(crate) fn decode_assignment(bytes: &Bytes) -> Option<Vec<(String, Vec<i32>)>> {
    if bytes.len() < 2 {
        return Some(Vec::new());
    }
    let version = i16::from_be_bytes([bytes[0], bytes[1]]);
    if version < 0 {
        return None;
    }
    let mut body = bytes.slice(2..);
    // Later versions only add fields at the end: read them as our newest.
    let a = ConsumerProtocolAssignment::decode(&mut body, version.min(3)).ok()?;
    Some(
        a.assigned_partitions
            .into_iter()
            .map(|tp| (tp.topic, tp.partitions))
            .collect(),
    )
}

impl Client {
    /// The coordinator of `group` (retries while it is loading).
    pub async fn find_coordinator(&mut self, group: &str) -> Result<BrokerInfo> {
        let context = format!("group {group}");
        let mut attempt = 0;
        loop {
            let v = self
                .version_for(
                    Target::Any,
                    ApiKey::FindCoordinator,
                    versions::FIND_COORDINATOR,
                )
                .await?;
            let req = if v >= 4 {
                FindCoordinatorRequest {
                    key_type: 0,
                    coordinator_keys: vec![group.to_string()],
                    ..Default::default()
                }
            } else {
                FindCoordinatorRequest {
                    key: group.to_string(),
                    key_type: 0,
                    ..Default::default()
                }
            };
            let (v, resp) = self
                .send(
                    Target::Any,
                    Request::FindCoordinator(req),
                    versions::FIND_COORDINATOR,
                    None,
                )
                .await?;
            let r = expect_response!(resp, FindCoordinator);
            let (code, message, node_id, host, port) = if v >= 4 {
                let Some(c) = r.coordinators.into_iter().next() else {
                    return Err(ClientError::Other(format!(
                        "{context}: no coordinator in the response"
                    )));
                };
                (c.error_code, c.error_message, c.node_id, c.host, c.port)
            } else {
                (r.error_code, r.error_message, r.node_id, r.host, r.port)
            };
            match ClientError::from_code(context.clone(), code, message) {
                None => {
                    let info = BrokerInfo {
                        node_id,
                        host,
                        port,
                        rack: None,
                    };
                    self.learn_broker(info.clone());
                    return Ok(info);
                }
                Some(e) if e.is_retriable() && attempt < RETRIES => {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                Some(e) => return Err(e),
            }
        }
    }

    /// Groups known to every broker, sorted by id.
    pub async fn list_groups(&mut self) -> Result<Vec<ListedGroup>> {
        self.metadata(Some(&[]), false).await?;
        let mut out: BTreeMap<String, ListedGroup> = BTreeMap::new();
        for b in self.brokers() {
            let (_, resp) = self
                .send(
                    Target::Node(b.node_id),
                    Request::ListGroups(ListGroupsRequest::default()),
                    versions::LIST_GROUPS,
                    None,
                )
                .await?;
            let resp = expect_response!(resp, ListGroups);
            if let Some(e) =
                ClientError::from_code(format!("broker {}", b.node_id), resp.error_code, None)
            {
                return Err(e);
            }
            for g in resp.groups {
                out.insert(
                    g.group_id.clone(),
                    ListedGroup {
                        group_id: g.group_id,
                        protocol_type: g.protocol_type,
                        state: g.group_state,
                        coordinator: b.node_id,
                    },
                );
            }
        }
        Ok(out.into_values().collect())
    }

    /// DescribeGroups on the coordinator. A group the coordinator does not
    /// know comes back in state `Dead` (Kafka's answer).
    pub async fn describe_group(&mut self, group: &str) -> Result<DescribedGroup> {
        let context = format!("group {group}");
        let mut attempt = 0;
        loop {
            let coordinator = self.find_coordinator(group).await?;
            let req = DescribeGroupsRequest {
                groups: vec![group.to_string()],
                include_authorized_operations: false,
                ..Default::default()
            };
            let (_, resp) = self
                .send(
                    Target::Node(coordinator.node_id),
                    Request::DescribeGroups(req),
                    versions::DESCRIBE_GROUPS,
                    None,
                )
                .await?;
            let resp = expect_response!(resp, DescribeGroups);
            let Some(g) = resp.groups.into_iter().next() else {
                return Err(ClientError::Other(format!(
                    "{context}: missing from the response"
                )));
            };
            if is_coordinator_error(g.error_code) && attempt < RETRIES {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            if g.error_code == ErrorCode::GroupIdNotFound.code() {
                return Ok(DescribedGroup {
                    group_id: group.to_string(),
                    state: "Dead".into(),
                    protocol_type: String::new(),
                    protocol: String::new(),
                    coordinator,
                    members: Vec::new(),
                });
            }
            if let Some(e) = ClientError::from_code(context.clone(), g.error_code, None) {
                return Err(e);
            }
            let consumer = g.protocol_type == "consumer";
            let members = g
                .members
                .into_iter()
                .map(|m| GroupMemberInfo {
                    assignment: if consumer {
                        decode_assignment(&m.member_assignment).unwrap_or_default()
                    } else {
                        Vec::new()
                    },
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                })
                .collect();
            return Ok(DescribedGroup {
                group_id: g.group_id,
                state: g.group_state,
                protocol_type: g.protocol_type,
                protocol: g.protocol_data,
                coordinator,
                members,
            });
        }
    }

    /// The group's committed offsets: all of them (`None`) or for the given
    /// partitions (-1 where there is none).
    pub async fn committed_offsets(
        &mut self,
        group: &str,
        topics: Option<&[(String, Vec<i32>)]>,
    ) -> Result<Vec<GroupOffset>> {
        let context = format!("group {group}");
        let mut attempt = 0;
        loop {
            let coordinator = self.find_coordinator(group).await?.node_id;
            let target = Target::Node(coordinator);
            let v = self
                .version_for(target, ApiKey::OffsetFetch, versions::OFFSET_FETCH)
                .await?;
            let req = if v >= 8 {
                OffsetFetchRequest {
                    groups: vec![OffsetFetchRequestGroup {
                        group_id: group.to_string(),
                        member_id: None,
                        member_epoch: -1,
                        topics: topics.map(|ts| {
                            ts.iter()
                                .map(|(t, ps)| OffsetFetchRequestTopics {
                                    name: t.clone(),
                                    partition_indexes: ps.clone(),
                                    ..Default::default()
                                })
                                .collect()
                        }),
                        ..Default::default()
                    }],
                    require_stable: false,
                    ..Default::default()
                }
            } else {
                OffsetFetchRequest {
                    group_id: group.to_string(),
                    topics: topics.map(|ts| {
                        ts.iter()
                            .map(|(t, ps)| OffsetFetchRequestTopic {
                                name: t.clone(),
                                partition_indexes: ps.clone(),
                                ..Default::default()
                            })
                            .collect()
                    }),
                    require_stable: false,
                    ..Default::default()
                }
            };
            let (v, resp) = self
                .send(
                    target,
                    Request::OffsetFetch(req),
                    versions::OFFSET_FETCH,
                    None,
                )
                .await?;
            let resp = expect_response!(resp, OffsetFetch);
            let (code, entries) = if v >= 8 {
                let Some(g) = resp.groups.into_iter().next() else {
                    return Err(ClientError::Other(format!(
                        "{context}: missing from the response"
                    )));
                };
                let entries: Vec<(String, i32, i64, Option<String>, i16)> = g
                    .topics
                    .into_iter()
                    .flat_map(|t| {
                        let name = t.name;
                        t.partitions.into_iter().map(move |p| {
                            (
                                name.clone(),
                                p.partition_index,
                                p.committed_offset,
                                p.metadata,
                                p.error_code,
                            )
                        })
                    })
                    .collect();
                (g.error_code, entries)
            } else {
                let entries = resp
                    .topics
                    .into_iter()
                    .flat_map(|t| {
                        let name = t.name;
                        t.partitions.into_iter().map(move |p| {
                            (
                                name.clone(),
                                p.partition_index,
                                p.committed_offset,
                                p.metadata,
                                p.error_code,
                            )
                        })
                    })
                    .collect();
                (resp.error_code, entries)
            };
            if is_coordinator_error(code) && attempt < RETRIES {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            if let Some(e) = ClientError::from_code(context.clone(), code, None) {
                return Err(e);
            }
            let mut out = Vec::with_capacity(entries.len());
            for (topic, partition, offset, metadata, code) in entries {
                // A partition of a deleted topic simply has no offset.
                if code != 0 && code != ErrorCode::UnknownTopicOrPartition.code() {
                    if let Some(e) = ClientError::from_code(
                        format!("{context}, partition {topic}-{partition}"),
                        code,
                        None,
                    ) {
                        return Err(e);
                    }
                }
                out.push(GroupOffset {
                    topic,
                    partition,
                    offset: if code == 0 { offset } else { -1 },
                    metadata,
                });
            }
            out.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
            return Ok(out);
        }
    }

    /// OffsetCommit. `generation` -1 with an empty `member_id` is an admin
    /// commit, which Kafka accepts only for a group without members.
    pub async fn commit_offsets(
        &mut self,
        group: &str,
        generation: i32,
        member_id: &str,
        offsets: &[(String, i32, i64)],
    ) -> Result<()> {
        let context = format!("group {group}");
        let mut by_topic: BTreeMap<&str, Vec<(i32, i64)>> = BTreeMap::new();
        for (t, p, o) in offsets {
            by_topic.entry(t.as_str()).or_default().push((*p, *o));
        }
        let mut attempt = 0;
        loop {
            let coordinator = self.find_coordinator(group).await?.node_id;
            let req = OffsetCommitRequest {
                group_id: group.to_string(),
                generation_id_or_member_epoch: generation,
                member_id: member_id.to_string(),
                group_instance_id: None,
                retention_time_ms: -1,
                topics: by_topic
                    .iter()
                    .map(|(t, ps)| OffsetCommitRequestTopic {
                        name: t.to_string(),
                        partitions: ps
                            .iter()
                            .map(|&(p, o)| OffsetCommitRequestPartition {
                                partition_index: p,
                                committed_offset: o,
                                committed_leader_epoch: -1,
                                commit_timestamp: -1,
                                committed_metadata: Some(String::new()),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            let (_, resp) = self
                .send(
                    Target::Node(coordinator),
                    Request::OffsetCommit(req),
                    versions::OFFSET_COMMIT,
                    None,
                )
                .await?;
            let resp = expect_response!(resp, OffsetCommit);
            let first_error = resp
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(move |p| (t.name.as_str(), p)))
                .find(|(_, p)| p.error_code != 0)
                .map(|(t, p)| {
                    (
                        format!("{context}, partition {t}-{}", p.partition_index),
                        p.error_code,
                    )
                });
            match first_error {
                None => return Ok(()),
                Some((_, code)) if is_coordinator_error(code) && attempt < RETRIES => {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                Some((ctx, code)) => {
                    return Err(ClientError::from_code(ctx, code, None)
                        .unwrap_or_else(|| ClientError::Other("commit failed".into())))
                }
            }
        }
    }

    pub async fn delete_group(&mut self, group: &str) -> Result<()> {
        let context = format!("group {group}");
        let mut attempt = 0;
        loop {
            let coordinator = self.find_coordinator(group).await?.node_id;
            let req = DeleteGroupsRequest {
                groups_names: vec![group.to_string()],
                ..Default::default()
            };
            let (_, resp) = self
                .send(
                    Target::Node(coordinator),
                    Request::DeleteGroups(req),
                    versions::DELETE_GROUPS,
                    None,
                )
                .await?;
            let resp = expect_response!(resp, DeleteGroups);
            let Some(r) = resp.results.into_iter().next() else {
                return Err(ClientError::Other(format!(
                    "{context}: no result in the response"
                )));
            };
            if is_coordinator_error(r.error_code) && attempt < RETRIES {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            return match ClientError::from_code(context.clone(), r.error_code, None) {
                None => Ok(()),
                Some(e) => Err(e),
            };
        }
    }
}
