//! The cluster: DescribeQuorum (the metadata quorum's leader, epoch and
//! voters), ElectLeaders (preferred or unclean leader election),
//! partition reassignment (AlterPartitionReassignments,
//! ListPartitionReassignments) and UnregisterBroker.

use fjord_protocol::messages::describe_quorum_request::{
    PartitionData as QuorumPartition, TopicData as QuorumTopic,
};
use fjord_protocol::messages::elect_leaders_request::TopicPartitions;
use fjord_protocol::messages::{DescribeQuorumRequest, ElectLeadersRequest};
use fjord_protocol::Request;

use crate::client::{Client, Target};
use crate::error::{ClientError, Result};
use crate::{expect_response, versions};

/// DescribeQuorum versions this client speaks (v2 adds the voters'
/// listeners, which it does not use).
const DESCRIBE_QUORUM: versions::Range = (0, 2);
/// ElectLeaders versions this client speaks (v1 adds the top-level error).
const ELECT_LEADERS: versions::Range = (0, 2);

/// One voter of the metadata quorum (-1: unknown to the answering node).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumVoter {
    pub id: i32,
    pub log_end_offset: i64,
    pub last_fetch_ms: i64,
    pub last_caught_up_ms: i64,
}

/// The metadata quorum as DescribeQuorum reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumStatus {
    pub leader_id: i32,
    pub leader_epoch: i32,
    pub high_watermark: i64,
    pub voters: Vec<QuorumVoter>,
    pub observers: Vec<QuorumVoter>,
}

/// Kafka's election types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionKind {
    Preferred,
    Unclean,
}

/// One partition's election result: `None` when a leader was elected.
pub type ElectionResult = (String, i32, Option<ClientError>);

impl Client {
    /// The metadata quorum (`__cluster_metadata` partition 0).
    pub async fn describe_quorum(&mut self) -> Result<QuorumStatus> {
        let req = DescribeQuorumRequest {
            topics: vec![QuorumTopic {
                topic_name: "__cluster_metadata".into(),
                partitions: vec![QuorumPartition {
                    partition_index: 0,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let (_, resp) = self
            .send(
                Target::Any,
                Request::DescribeQuorum(req),
                DESCRIBE_QUORUM,
                None,
            )
            .await?;
        let resp = expect_response!(resp, DescribeQuorum);
        if let Some(e) = ClientError::from_code("the quorum", resp.error_code, resp.error_message) {
            return Err(e);
        }
        let p = resp
            .topics
            .into_iter()
            .flat_map(|t| t.partitions)
            .next()
            .ok_or_else(|| ClientError::Other("the quorum: no partition in the answer".into()))?;
        if let Some(e) = ClientError::from_code("the quorum", p.error_code, p.error_message) {
            return Err(e);
        }
        let voter =
            |r: fjord_protocol::messages::describe_quorum_response::ReplicaState| QuorumVoter {
                id: r.replica_id,
                log_end_offset: r.log_end_offset,
                last_fetch_ms: r.last_fetch_timestamp,
                last_caught_up_ms: r.last_caught_up_timestamp,
            };
        Ok(QuorumStatus {
            leader_id: p.leader_id,
            leader_epoch: p.leader_epoch,
            high_watermark: p.high_watermark,
            voters: p.current_voters.into_iter().map(voter).collect(),
            observers: p.observers.into_iter().map(voter).collect(),
        })
    }

    /// Elects leaders for `partitions` (`None`: every partition; then only
    /// the partitions that needed an election are answered).
    pub async fn elect_leaders(
        &mut self,
        kind: ElectionKind,
        partitions: Option<Vec<(String, Vec<i32>)>>,
    ) -> Result<Vec<ElectionResult>> {
        let req = ElectLeadersRequest {
            election_type: match kind {
                ElectionKind::Preferred => 0,
                ElectionKind::Unclean => 1,
            },
            topic_partitions: partitions.map(|list| {
                list.into_iter()
                    .map(|(topic, partitions)| TopicPartitions {
                        topic,
                        partitions,
                        ..Default::default()
                    })
                    .collect()
            }),
            timeout_ms: i32::try_from(self.config().request_timeout.as_millis())
                .unwrap_or(i32::MAX),
            ..Default::default()
        };
        let (_, resp) = self
            .send(Target::Any, Request::ElectLeaders(req), ELECT_LEADERS, None)
            .await?;
        let resp = expect_response!(resp, ElectLeaders);
        if let Some(e) = ClientError::from_code("leader election", resp.error_code, None) {
            return Err(e);
        }
        Ok(resp
            .replica_election_results
            .into_iter()
            .flat_map(|t| {
                let topic = t.topic;
                t.partition_result.into_iter().map(move |p| {
                    let err = ClientError::from_code(
                        format!("{topic}-{}", p.partition_id),
                        p.error_code,
                        p.error_message,
                    );
                    (topic.clone(), p.partition_id, err)
                })
            })
            .collect())
    }
}

/// AlterPartitionReassignments, ListPartitionReassignments and
/// UnregisterBroker versions this client speaks (v0 is the only one).
const REASSIGN: versions::Range = (0, 0);

/// One partition's reassignment request: the target replicas, `None` to
/// cancel the one in progress.
pub type ReassignRequest = (String, i32, Option<Vec<i32>>);

/// One partition's reassignment in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reassignment {
    pub topic: String,
    pub partition: i32,
    /// The target replicas followed by those leaving.
    pub replicas: Vec<i32>,
    pub adding: Vec<i32>,
    pub removing: Vec<i32>,
}

impl Client {
    /// Starts, replaces or cancels (`None`) partition reassignments; one
    /// result per partition (`None` when accepted).
    pub async fn alter_partition_reassignments(
        &mut self,
        moves: Vec<ReassignRequest>,
    ) -> Result<Vec<ElectionResult>> {
        use fjord_protocol::messages::alter_partition_reassignments_request::{
            ReassignablePartition, ReassignableTopic,
        };
        let mut topics: Vec<ReassignableTopic> = Vec::new();
        for (topic, partition, replicas) in moves {
            let p = ReassignablePartition {
                partition_index: partition,
                replicas,
                ..Default::default()
            };
            match topics.iter_mut().find(|t| t.name == topic) {
                Some(t) => t.partitions.push(p),
                None => topics.push(ReassignableTopic {
                    name: topic,
                    partitions: vec![p],
                    ..Default::default()
                }),
            }
        }
        let req = fjord_protocol::messages::AlterPartitionReassignmentsRequest {
            timeout_ms: self.timeout_ms(),
            topics,
            ..Default::default()
        };
        let (_, resp) = self
            .send(
                Target::Any,
                Request::AlterPartitionReassignments(req),
                REASSIGN,
                None,
            )
            .await?;
        let resp = expect_response!(resp, AlterPartitionReassignments);
        if let Some(e) = ClientError::from_code("reassignment", resp.error_code, resp.error_message)
        {
            return Err(e);
        }
        Ok(resp
            .responses
            .into_iter()
            .flat_map(|t| {
                let topic = t.name;
                t.partitions.into_iter().map(move |p| {
                    let err = ClientError::from_code(
                        format!("{topic}-{}", p.partition_index),
                        p.error_code,
                        p.error_message,
                    );
                    (topic.clone(), p.partition_index, err)
                })
            })
            .collect())
    }

    /// The reassignments in progress (`None`: of every partition).
    pub async fn list_partition_reassignments(
        &mut self,
        partitions: Option<Vec<(String, Vec<i32>)>>,
    ) -> Result<Vec<Reassignment>> {
        use fjord_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
        let req = fjord_protocol::messages::ListPartitionReassignmentsRequest {
            timeout_ms: self.timeout_ms(),
            topics: partitions.map(|list| {
                list.into_iter()
                    .map(
                        |(name, partition_indexes)| ListPartitionReassignmentsTopics {
                            name,
                            partition_indexes,
                            ..Default::default()
                        },
                    )
                    .collect()
            }),
            ..Default::default()
        };
        let (_, resp) = self
            .send(
                Target::Any,
                Request::ListPartitionReassignments(req),
                REASSIGN,
                None,
            )
            .await?;
        let resp = expect_response!(resp, ListPartitionReassignments);
        if let Some(e) =
            ClientError::from_code("reassignments", resp.error_code, resp.error_message)
        {
            return Err(e);
        }
        Ok(resp
            .topics
            .into_iter()
            .flat_map(|t| {
                let topic = t.name;
                t.partitions.into_iter().map(move |p| Reassignment {
                    topic: topic.clone(),
                    partition: p.partition_index,
                    replicas: p.replicas,
                    adding: p.adding_replicas,
                    removing: p.removing_replicas,
                })
            })
            .collect())
    }

    /// Removes broker `id`'s registration from the cluster.
    pub async fn unregister_broker(&mut self, id: i32) -> Result<()> {
        let req = fjord_protocol::messages::UnregisterBrokerRequest {
            broker_id: id,
            ..Default::default()
        };
        let (_, resp) = self
            .send(Target::Any, Request::UnregisterBroker(req), REASSIGN, None)
            .await?;
        let resp = expect_response!(resp, UnregisterBroker);
        match ClientError::from_code(format!("broker {id}"), resp.error_code, resp.error_message) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
