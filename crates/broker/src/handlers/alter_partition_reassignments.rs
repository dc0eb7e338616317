//! AlterPartitionReassignments (key 45): start, replace or cancel (a null
//! replica list) the reassignment of partitions to new replicas, as
//! Kafka's `kafka-reassign-partitions.sh --execute` (KIP-455). Needs ALTER
//! on the cluster (else CLUSTER_AUTHORIZATION_FAILED for the whole
//! request).
//!
//! Cluster mode: each partition's record is decided over the latest
//! metadata image (`fjord_metadata::reassign::reassign_records`) and all of
//! them are proposed together; the answer comes once this broker applied
//! them (the move itself completes later, once the new replicas are in
//! sync: `cluster::reassign`). Per partition, as Kafka:
//! UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT (empty list,
//! duplicates, a broker not registered), NO_REASSIGNMENT_IN_PROGRESS for a
//! cancellation with nothing to cancel. One node: the only possible
//! assignment is this broker alone, which needs no move.

use std::sync::Arc;

use fjord_metadata::image::ImageError;
use fjord_metadata::reassign::{reassign_records, ReassignError};
use fjord_metadata::ProposeError;
use fjord_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use fjord_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse,
};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::AclOperation;
use crate::state::BrokerState;

crate::handler!(AlterPartitionReassignments, 0, 0);

/// How many times a proposal over a stale image is decided again.
const ATTEMPTS: usize = 5;

fn result(
    partition: i32,
    code: ErrorCode,
    message: Option<String>,
) -> ReassignablePartitionResponse {
    ReassignablePartitionResponse {
        partition_index: partition,
        error_code: code.code(),
        error_message: message.or_else(|| (code != ErrorCode::None).then(|| code.name().into())),
        ..Default::default()
    }
}

/// Kafka's error code of a refused reassignment.
pub(crate) fn reassign_error(e: &ReassignError) -> ErrorCode {
    match e {
        ReassignError::UnknownPartition => ErrorCode::UnknownTopicOrPartition,
        ReassignError::InvalidAssignment(_) => ErrorCode::InvalidReplicaAssignment,
        ReassignError::NoReassignmentInProgress => ErrorCode::NoReassignmentInProgress,
    }
}

/// One node: only "this broker alone" is a valid target, already in place.
fn single_node(
    state: &BrokerState,
    topic: &str,
    partition: i32,
    target: Option<&[i32]>,
) -> ErrorCode {
    let known = state
        .topic(topic)
        .is_some_and(|t| partition >= 0 && (partition as usize) < t.partitions.len());
    match target {
        _ if !known => ErrorCode::UnknownTopicOrPartition,
        None => ErrorCode::NoReassignmentInProgress,
        Some(t) if t == [state.node_id] => ErrorCode::None,
        Some(_) => ErrorCode::InvalidReplicaAssignment,
    }
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: AlterPartitionReassignmentsRequest,
) -> AlterPartitionReassignmentsResponse {
    if !ctx.allowed_on_cluster(&state, AclOperation::Alter) {
        return AlterPartitionReassignmentsResponse {
            error_code: ErrorCode::ClusterAuthorizationFailed.code(),
            error_message: Some("Cluster authorization failed.".into()),
            ..Default::default()
        };
    }
    let Some(cluster) = state.cluster() else {
        let responses = req
            .topics
            .iter()
            .map(|t| ReassignableTopicResponse {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        let code =
                            single_node(&state, &t.name, p.partition_index, p.replicas.as_deref());
                        result(p.partition_index, code, None)
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        return AlterPartitionReassignmentsResponse {
            responses,
            ..Default::default()
        };
    };
    for attempt in 1..=ATTEMPTS {
        let image = cluster.image();
        let mut records = Vec::new();
        // (topic index, partition index) of each partition with a record.
        let mut proposed = Vec::new();
        let mut responses = Vec::with_capacity(req.topics.len());
        for (ti, t) in req.topics.iter().enumerate() {
            let mut parts = Vec::with_capacity(t.partitions.len());
            for (pi, p) in t.partitions.iter().enumerate() {
                match reassign_records(&image, &t.name, p.partition_index, p.replicas.as_deref()) {
                    Ok(record) => {
                        if let Some(r) = record {
                            records.push(r);
                            proposed.push((ti, pi));
                        }
                        parts.push(result(p.partition_index, ErrorCode::None, None));
                    }
                    Err(e) => {
                        let code = reassign_error(&e);
                        parts.push(result(p.partition_index, code, Some(e.to_string())));
                    }
                }
            }
            responses.push(ReassignableTopicResponse {
                name: t.name.clone(),
                partitions: parts,
                ..Default::default()
            });
        }
        if !records.is_empty() {
            // A record decided over an image another change overtook is
            // rejected by the image (partition epoch): decide again.
            let stale = match cluster.quorum.propose(records.clone()).await {
                Err(ProposeError::Rejected {
                    error: ImageError::StalePartitionEpoch { .. },
                    ..
                }) => true,
                Ok(offset) => {
                    if !cluster
                        .wait_applied(offset, std::time::Duration::from_secs(10))
                        .await
                    {
                        tracing::warn!("a reassignment committed but is not applied here yet");
                    }
                    false
                }
                Err(e) => {
                    let (code, message) = crate::cluster::admin::propose_error(e);
                    for (t, p) in &proposed {
                        let r = &mut responses[*t].partitions[*p];
                        *r = result(r.partition_index, code, Some(message.clone()));
                    }
                    false
                }
            };
            if stale && attempt < ATTEMPTS {
                continue;
            }
            if !stale {
                tracing::info!(
                    partitions = proposed.len(),
                    "partition reassignments proposed"
                );
            } else {
                for (t, p) in &proposed {
                    let r = &mut responses[*t].partitions[*p];
                    *r = result(
                        r.partition_index,
                        ErrorCode::RequestTimedOut,
                        Some("the partition kept changing; try again".into()),
                    );
                }
            }
        }
        return AlterPartitionReassignmentsResponse {
            responses,
            ..Default::default()
        };
    }
    AlterPartitionReassignmentsResponse::default()
}
