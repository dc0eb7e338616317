//! Admin requests: topics, configs, partitions, offsets and groups. Errors
//! come back per topic, partition or group and are turned into
//! [`ClientError::Kafka`] with Kafka's error name and what they were about.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use fjord_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use fjord_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use fjord_protocol::messages::delete_topics_request::DeleteTopicState;
use fjord_protocol::messages::describe_configs_request::DescribeConfigsResource;
use fjord_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use fjord_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use fjord_protocol::messages::metadata_response::MetadataResponseTopic;
use fjord_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use fjord_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use fjord_protocol::messages::{
    ConsumerProtocolAssignment, CreatePartitionsRequest, CreateTopicsRequest, DeleteGroupsRequest,
    DeleteTopicsRequest, DescribeConfigsRequest, DescribeGroupsRequest, FindCoordinatorRequest,
    IncrementalAlterConfigsRequest, ListGroupsRequest, ListOffsetsRequest, OffsetCommitRequest,
    OffsetFetchRequest,
};
use fjord_protocol::{ApiKey, Decode, ErrorCode, Request, Uuid};

use crate::client::{BrokerInfo, Client, Target};
use crate::conn::is_coordinator_error;
use crate::error::{ClientError, Result};
use crate::{expect_response, versions};

/// Kafka's resource type for topics in config requests.
const RESOURCE_TOPIC: i8 = 2;
/// How often a retriable error (coordinator loading, leader moving) is retried.
const RETRIES: u32 = 10;

pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 * u64::from(attempt.min(10) + 1))
}

#[derive(Clone, Debug, Default)]
pub struct NewTopic {
    pub name: String,
    /// `None`: the broker's `num.partitions`.
    pub partitions: Option<i32>,
    /// `None`: the broker's default replication factor.
    pub replication_factor: Option<i16>,
    pub configs: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    pub partition: i32,
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline: Vec<i32>,
    pub error_code: i16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub topic_id: Uuid,
    pub internal: bool,
    /// Sorted by partition index.
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    pub fn partition(&self, index: i32) -> Option<&PartitionInfo> {
        self.partitions.iter().find(|p| p.partition == index)
    }

    /// Replication factor as the replica count of partition 0.
    pub fn replication_factor(&self) -> usize {
        self.partitions.first().map_or(0, |p| p.replicas.len())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    /// Kafka's config source code (1 = dynamic topic config, 5 = default, ...).
    pub source: i8,
    pub read_only: bool,
    pub sensitive: bool,
}

impl ConfigEntry {
    /// Kafka's name for the config source, as its tools print it.
    pub fn source_name(&self) -> &'static str {
        match self.source {
            1 => "DYNAMIC_TOPIC_CONFIG",
            2 => "DYNAMIC_BROKER_CONFIG",
            3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
            4 => "STATIC_BROKER_CONFIG",
            5 => "DEFAULT_CONFIG",
            6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
            7 => "CLIENT_METRICS_CONFIG",
            8 => "GROUP_CONFIG",
            _ => "UNKNOWN",
        }
    }
}

/// One IncrementalAlterConfigs operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigOp {
    Set(String, String),
    Delete(String),
}

/// Which offset ListOffsets should find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The high watermark (the last stable offset under read_committed).
    Latest,
    /// The first offset whose timestamp is at or after this (ms).
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::Timestamp(t) => t,
        }
    }
}

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

fn topic_info(t: MetadataResponseTopic) -> TopicInfo {
    let mut partitions: Vec<PartitionInfo> = t
        .partitions
        .into_iter()
        .map(|p| PartitionInfo {
            partition: p.partition_index,
            leader: p.leader_id,
            leader_epoch: p.leader_epoch,
            replicas: p.replica_nodes,
            isr: p.isr_nodes,
            offline: p.offline_replicas,
            error_code: p.error_code,
        })
        .collect();
    partitions.sort_by_key(|p| p.partition);
    TopicInfo {
        name: t.name.unwrap_or_default(),
        topic_id: t.topic_id,
        internal: t.is_internal,
        partitions,
    }
}

fn is_leader_change(e: &ClientError) -> bool {
    matches!(
        e.code(),
        Some(ErrorCode::LeaderNotAvailable | ErrorCode::NotLeaderOrFollower)
    ) || matches!(e, ClientError::Io { .. } | ClientError::Timeout { .. })
}

impl Client {
    fn timeout_ms(&self) -> i32 {
        i32::try_from(self.config().request_timeout.as_millis()).unwrap_or(i32::MAX)
    }

    /// All topics (`None`) or the named ones, sorted by name. A named topic
    /// that does not exist is an error.
    pub async fn topics(&mut self, names: Option<&[String]>) -> Result<Vec<TopicInfo>> {
        let md = self.metadata(names, false).await?;
        let mut out = Vec::with_capacity(md.topics.len());
        for t in md.topics {
            let name = t.name.clone().unwrap_or_default();
            if let Some(e) = ClientError::from_code(format!("topic {name}"), t.error_code, None) {
                return Err(e);
            }
            out.push(topic_info(t));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// One topic; waits briefly for leaders of a topic that is being created.
    pub async fn topic(&mut self, name: &str) -> Result<TopicInfo> {
        self.topic_inner(name, false).await
    }

    pub(crate) async fn topic_inner(&mut self, name: &str, auto_create: bool) -> Result<TopicInfo> {
        let names = [name.to_string()];
        let mut attempt = 0;
        loop {
            let md = self.metadata(Some(&names), auto_create).await?;
            let Some(t) = md.topics.into_iter().next() else {
                return Err(ClientError::Other(format!(
                    "topic {name}: missing from the metadata response"
                )));
            };
            let err = ClientError::from_code(format!("topic {name}"), t.error_code, None);
            let leaderless =
                t.partitions.is_empty() || t.partitions.iter().any(|p| p.leader_id < 0);
            match err {
                None if !leaderless => return Ok(topic_info(t)),
                // Auto-created topics answer LEADER_NOT_AVAILABLE (or
                // UNKNOWN_TOPIC_OR_PARTITION) until they are ready.
                Some(e)
                    if !(e.code() == Some(ErrorCode::LeaderNotAvailable)
                        || (auto_create
                            && e.code() == Some(ErrorCode::UnknownTopicOrPartition))) =>
                {
                    return Err(e)
                }
                _ if attempt >= RETRIES => {
                    return Err(ClientError::from_code(
                        format!("topic {name}"),
                        ErrorCode::LeaderNotAvailable.code(),
                        None,
                    )
                    .unwrap_or_else(|| ClientError::Other(format!("topic {name} has no leader"))))
                }
                _ => {}
            }
            tokio::time::sleep(backoff(attempt)).await;
            attempt += 1;
        }
    }

    pub async fn create_topic(&mut self, t: &NewTopic) -> Result<()> {
        let context = format!("topic {}", t.name);
        let mut attempt = 0;
        loop {
            let target = self.controller_target().await?;
            let v = self
                .version_for(target, ApiKey::CreateTopics, versions::CREATE_TOPICS)
                .await?;
            // Before v4 the request cannot ask for the broker's defaults.
            let fallback = if v >= 4 { -1 } else { 1 };
            let req = CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    name: t.name.clone(),
                    num_partitions: t.partitions.unwrap_or(fallback),
                    replication_factor: t.replication_factor.unwrap_or(fallback as i16),
                    assignments: Vec::new(),
                    configs: t
                        .configs
                        .iter()
                        .map(|(k, v)| CreatableTopicConfig {
                            name: k.clone(),
                            value: Some(v.clone()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                timeout_ms: self.timeout_ms(),
                validate_only: false,
                ..Default::default()
            };
            let (_, resp) = self
                .send(
                    target,
                    Request::CreateTopics(req),
                    versions::CREATE_TOPICS,
                    None,
                )
                .await?;
            let resp = expect_response!(resp, CreateTopics);
            let Some(r) = resp.topics.into_iter().find(|r| r.name == t.name) else {
                return Err(ClientError::Other(format!(
                    "{context}: no result in the response"
                )));
            };
            match ClientError::from_code(context.clone(), r.error_code, r.error_message) {
                None => return Ok(()),
                Some(e) if e.code() == Some(ErrorCode::NotController) && attempt < 3 => {
                    self.metadata(Some(&[]), false).await?;
                }
                Some(e) => return Err(e),
            }
            attempt += 1;
        }
    }

    /// Deletes topics; one result per name.
    pub async fn delete_topics(&mut self, names: &[String]) -> Result<Vec<(String, Result<()>)>> {
        let target = self.controller_target().await?;
        let v = self
            .version_for(target, ApiKey::DeleteTopics, versions::DELETE_TOPICS)
            .await?;
        let req = if v >= 6 {
            DeleteTopicsRequest {
                topics: names
                    .iter()
                    .map(|n| DeleteTopicState {
                        name: Some(n.clone()),
                        topic_id: Uuid::ZERO,
                        ..Default::default()
                    })
                    .collect(),
                timeout_ms: self.timeout_ms(),
                ..Default::default()
            }
        } else {
            DeleteTopicsRequest {
                topic_names: names.to_vec(),
                timeout_ms: self.timeout_ms(),
                ..Default::default()
            }
        };
        let (_, resp) = self
            .send(
                target,
                Request::DeleteTopics(req),
                versions::DELETE_TOPICS,
                None,
            )
            .await?;
        let resp = expect_response!(resp, DeleteTopics);
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let r = resp
                .responses
                .iter()
                .find(|r| r.name.as_deref() == Some(name.as_str()));
            let result = match r {
                None => Err(ClientError::Other(format!(
                    "topic {name}: no result in the response"
                ))),
                Some(r) => match ClientError::from_code(
                    format!("topic {name}"),
                    r.error_code,
                    r.error_message.clone(),
                ) {
                    None => Ok(()),
                    Some(e) => Err(e),
                },
            };
            out.push((name.clone(), result));
        }
        Ok(out)
    }

    /// The topic's configs with their sources, sorted by name.
    pub async fn describe_topic_configs(&mut self, name: &str) -> Result<Vec<ConfigEntry>> {
        let req = DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type: RESOURCE_TOPIC,
                resource_name: name.to_string(),
                configuration_keys: None,
                ..Default::default()
            }],
            include_synonyms: false,
            include_documentation: false,
            ..Default::default()
        };
        let (_, resp) = self
            .send(
                Target::Any,
                Request::DescribeConfigs(req),
                versions::DESCRIBE_CONFIGS,
                None,
            )
            .await?;
        let resp = expect_response!(resp, DescribeConfigs);
        let Some(r) = resp.results.into_iter().next() else {
            return Err(ClientError::Other(format!(
                "topic {name}: no configs in the response"
            )));
        };
        if let Some(e) =
            ClientError::from_code(format!("topic {name}"), r.error_code, r.error_message)
        {
            return Err(e);
        }
        let mut out: Vec<ConfigEntry> = r
            .configs
            .into_iter()
            .map(|c| ConfigEntry {
                name: c.name,
                value: c.value,
                source: c.config_source,
                read_only: c.read_only,
                sensitive: c.is_sensitive,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub async fn alter_topic_config(&mut self, name: &str, ops: &[ConfigOp]) -> Result<()> {
        let req = IncrementalAlterConfigsRequest {
            resources: vec![AlterConfigsResource {
                resource_type: RESOURCE_TOPIC,
                resource_name: name.to_string(),
                configs: ops
                    .iter()
                    .map(|op| match op {
                        ConfigOp::Set(k, v) => AlterableConfig {
                            name: k.clone(),
                            config_operation: 0,
                            value: Some(v.clone()),
                            ..Default::default()
                        },
                        ConfigOp::Delete(k) => AlterableConfig {
                            name: k.clone(),
                            config_operation: 1,
                            value: None,
                            ..Default::default()
                        },
                    })
                    .collect(),
                ..Default::default()
            }],
            validate_only: false,
            ..Default::default()
        };
        let (_, resp) = self
            .send(
                Target::Any,
                Request::IncrementalAlterConfigs(req),
                versions::INCREMENTAL_ALTER_CONFIGS,
                None,
            )
            .await?;
        let resp = expect_response!(resp, IncrementalAlterConfigs);
        let Some(r) = resp.responses.into_iter().next() else {
            return Err(ClientError::Other(format!(
                "topic {name}: no result in the response"
            )));
        };
        match ClientError::from_code(format!("topic {name}"), r.error_code, r.error_message) {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// Grows the topic to `total` partitions.
    pub async fn create_partitions(&mut self, name: &str, total: i32) -> Result<()> {
        let target = self.controller_target().await?;
        let req = CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic {
                name: name.to_string(),
                count: total,
                assignments: None,
                ..Default::default()
            }],
            timeout_ms: self.timeout_ms(),
            validate_only: false,
            ..Default::default()
        };
        let (_, resp) = self
            .send(
                target,
                Request::CreatePartitions(req),
                versions::CREATE_PARTITIONS,
                None,
            )
            .await?;
        let resp = expect_response!(resp, CreatePartitions);
        let Some(r) = resp.results.into_iter().next() else {
            return Err(ClientError::Other(format!(
                "topic {name}: no result in the response"
            )));
        };
        match ClientError::from_code(format!("topic {name}"), r.error_code, r.error_message) {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// ListOffsets on each partition's leader: partition → (offset,
    /// timestamp). For [`OffsetSpec::Timestamp`] the offset is -1 when no
    /// record is that recent.
    pub async fn list_offsets(
        &mut self,
        topic: &str,
        partitions: &[i32],
        spec: OffsetSpec,
        read_committed: bool,
    ) -> Result<BTreeMap<i32, (i64, i64)>> {
        let mut attempt = 0;
        loop {
            match self
                .list_offsets_once(topic, partitions, spec, read_committed)
                .await
            {
                Err(e) if is_leader_change(&e) && attempt < RETRIES => {
                    tracing::debug!(error = %e, "list offsets: retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn list_offsets_once(
        &mut self,
        topic: &str,
        partitions: &[i32],
        spec: OffsetSpec,
        read_committed: bool,
    ) -> Result<BTreeMap<i32, (i64, i64)>> {
        let info = self.topic(topic).await?;
        let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for &p in partitions {
            let Some(pi) = info.partition(p) else {
                return Err(ClientError::Other(format!(
                    "topic {topic} has no partition {p} (it has {})",
                    info.partitions.len()
                )));
            };
            if pi.leader < 0 {
                return Err(ClientError::Kafka {
                    context: format!("partition {topic}-{p}"),
                    code: ErrorCode::LeaderNotAvailable.code(),
                    message: None,
                });
            }
            by_leader.entry(pi.leader).or_default().push(p);
        }
        let mut out = BTreeMap::new();
        for (leader, parts) in by_leader {
            let req = ListOffsetsRequest {
                replica_id: -1,
                isolation_level: i8::from(read_committed),
                topics: vec![ListOffsetsTopic {
                    name: topic.to_string(),
                    partitions: parts
                        .iter()
                        .map(|&p| ListOffsetsPartition {
                            partition_index: p,
                            current_leader_epoch: -1,
                            timestamp: spec.wire(),
                            max_num_offsets: 1,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                timeout_ms: self.timeout_ms(),
                ..Default::default()
            };
            let (_, resp) = self
                .send(
                    Target::Node(leader),
                    Request::ListOffsets(req),
                    versions::LIST_OFFSETS,
                    None,
                )
                .await?;
            let resp = expect_response!(resp, ListOffsets);
            for t in resp.topics {
                for p in t.partitions {
                    if let Some(e) = ClientError::from_code(
                        format!("partition {topic}-{}", p.partition_index),
                        p.error_code,
                        None,
                    ) {
                        return Err(e);
                    }
                    out.insert(p.partition_index, (p.offset, p.timestamp));
                }
            }
        }
        for &p in partitions {
            if !out.contains_key(&p) {
                return Err(ClientError::Other(format!(
                    "partition {topic}-{p}: missing from the ListOffsets response"
                )));
            }
        }
        Ok(out)
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use fjord_protocol::messages::consumer_protocol_assignment::TopicPartition;
    use fjord_protocol::Encode;

    #[test]
    fn assignments_decode_with_their_version_prefix() {
        let a = ConsumerProtocolAssignment {
            assigned_partitions: vec![TopicPartition {
                topic: "t".into(),
                partitions: vec![0, 2],
                ..Default::default()
            }],
            user_data: None,
            ..Default::default()
        };
        for version in [0i16, 1, 3] {
            let mut buf = BytesMut::new();
            buf.extend_from_slice(&version.to_be_bytes());
            a.encode(&mut buf, version).unwrap();
            assert_eq!(
                decode_assignment(&buf.freeze()),
                Some(vec![("t".to_string(), vec![0, 2])])
            );
        }
        assert_eq!(decode_assignment(&Bytes::new()), Some(vec![]));
        assert_eq!(decode_assignment(&Bytes::from_static(&[0, 0, 0xff])), None);
    }

    #[test]
    fn config_sources_have_kafka_names() {
        let mut c = ConfigEntry {
            name: "retention.ms".into(),
            value: Some("1".into()),
            source: 1,
            read_only: false,
            sensitive: false,
        };
        assert_eq!(c.source_name(), "DYNAMIC_TOPIC_CONFIG");
        c.source = 5;
        assert_eq!(c.source_name(), "DEFAULT_CONFIG");
        c.source = 0;
        assert_eq!(c.source_name(), "UNKNOWN");
    }
}
