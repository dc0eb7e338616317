//! ElectLeaders (key 43): preferred or unclean leader election on the
//! partitions named (all partitions when the list is null), as Kafka's
//! `kafka-leader-election.sh`. Needs ALTER on the cluster (else
//! CLUSTER_AUTHORIZATION_FAILED for the whole request).
//!
//! Cluster mode: each partition's election is decided over the latest
//! metadata image (`fjord_metadata::controller::elect_leader`) and all of
//! them are proposed to the quorum together; the answer comes once this
//! broker applied them. Per partition: ELECTION_NOT_NEEDED, PREFERRED_
//! LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE or
//! UNKNOWN_TOPIC_OR_PARTITION as Kafka answers (for a null list, as Kafka,
//! only the partitions that needed an election are answered). One node: this broker leads
//! every partition and is every partition's only replica, so every known
//! partition gets ELECTION_NOT_NEEDED.

use std::sync::Arc;

use fjord_metadata::controller::{elect_leader, Election, ElectionType};
use fjord_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use fjord_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::AclOperation;
use crate::state::BrokerState;

crate::handler!(ElectLeaders, 0, 2);

fn result(partition: i32, code: ErrorCode, message: Option<String>) -> PartitionResult {
    PartitionResult {
        partition_id: partition,
        error_code: code.code(),
        error_message: message.or_else(|| (code != ErrorCode::None).then(|| code.name().into())),
        ..Default::default()
    }
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: ElectLeadersRequest,
) -> ElectLeadersResponse {
    if !ctx.allowed_on_cluster(&state, AclOperation::Alter) {
        return ElectLeadersResponse {
            error_code: ErrorCode::ClusterAuthorizationFailed.code(),
            ..Default::default()
        };
    }
    let kind = match req.election_type {
        0 => ElectionType::Preferred,
        1 => ElectionType::Unclean,
        other => {
            tracing::info!(
                election_type = other,
                "ElectLeaders with an unknown election type"
            );
            return ElectLeadersResponse {
                error_code: ErrorCode::InvalidRequest.code(),
                ..Default::default()
            };
        }
    };
    // The partitions asked for: (topic, partitions), every partition when
    // the list is null (then, as Kafka, partitions that need no election
    // are left out of the answer).
    let all = req.topic_partitions.is_none();
    let wanted: Vec<(String, Vec<i32>)> = match req.topic_partitions {
        Some(list) => list.into_iter().map(|t| (t.topic, t.partitions)).collect(),
        None => match state.cluster() {
            Some(cluster) => cluster
                .image()
                .topics
                .values()
                .map(|t| (t.name.clone(), t.partitions.keys().copied().collect()))
                .collect(),
            None => state
                .all_topics()
                .iter()
                .map(|t| (t.name.clone(), (0..t.partitions.len() as i32).collect()))
                .collect(),
        },
    };
    let mut results = Vec::with_capacity(wanted.len());
    match state.cluster() {
        Some(cluster) => {
            let image = cluster.image();
            let mut records = Vec::new();
            let mut elected = Vec::new();
            for (topic, partitions) in wanted {
                let mut parts = Vec::with_capacity(partitions.len());
                for p in partitions {
                    let (election, record) = elect_leader(&image, &topic, p, kind);
                    let code = match election {
                        Election::Elected(_) => ErrorCode::None,
                        Election::NotNeeded => ErrorCode::ElectionNotNeeded,
                        Election::PreferredNotAvailable => ErrorCode::PreferredLeaderNotAvailable,
                        Election::NoEligibleLeader => ErrorCode::EligibleLeadersNotAvailable,
                        Election::UnknownPartition => ErrorCode::UnknownTopicOrPartition,
                    };
                    if let Some(r) = record {
                        records.push(r);
                        elected.push((results.len(), parts.len()));
                    }
                    parts.push(result(p, code, None));
                }
                results.push(ReplicaElectionResult {
                    topic,
                    partition_result: parts,
                    ..Default::default()
                });
            }
            if !records.is_empty() {
                let count = records.len();
                if let Err((code, message)) =
                    crate::cluster::admin::commit_changes(cluster, records).await
                {
                    for (t, p) in elected {
                        let r: &mut PartitionResult = &mut results[t].partition_result[p];
                        *r = result(r.partition_id, code, Some(message.clone()));
                    }
                } else {
                    tracing::info!(partitions = count, ?kind, "leaders elected");
                }
            }
        }
        None => {
            for (topic, partitions) in wanted {
                let known = state.topic(&topic);
                let parts = partitions
                    .into_iter()
                    .map(|p| match &known {
                        Some(t) if p >= 0 && (p as usize) < t.partitions.len() => {
                            result(p, ErrorCode::ElectionNotNeeded, None)
                        }
                        _ => result(p, ErrorCode::UnknownTopicOrPartition, None),
                    })
                    .collect();
                results.push(ReplicaElectionResult {
                    topic,
                    partition_result: parts,
                    ..Default::default()
                });
            }
        }
    }
    if all {
        for t in &mut results {
            t.partition_result
                .retain(|r| r.error_code != ErrorCode::ElectionNotNeeded.code());
        }
    }
    ElectLeadersResponse {
        error_code: ErrorCode::None.code(),
        replica_election_results: results,
        ..Default::default()
    }
}
