//! Topics: Metadata views of them, CreateTopics, DeleteTopics and
//! CreatePartitions.

use fjord_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use fjord_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use fjord_protocol::messages::delete_topics_request::DeleteTopicState;
use fjord_protocol::messages::metadata_response::MetadataResponseTopic;
use fjord_protocol::messages::{CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest};
use fjord_protocol::{ApiKey, ErrorCode, Request, Uuid};

use super::{backoff, RETRIES};
use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::{expect_response, versions};

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

impl Client {
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
}
