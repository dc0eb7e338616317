//! ListPartitionReassignments (key 46): the reassignments in progress, as
//! `kafka-reassign-partitions.sh --list`: per partition its replicas and
//! the replicas being added and removed. Needs DESCRIBE on the cluster
//! (else CLUSTER_AUTHORIZATION_FAILED). A null topic list means every
//! partition; partitions named but unknown are left out, as Kafka's
//! controller does. One node: nothing is ever being reassigned.

use std::sync::Arc;

use fjord_metadata::reassign::in_progress;
use fjord_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use fjord_protocol::messages::{
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::AclOperation;
use crate::state::BrokerState;

crate::handler!(ListPartitionReassignments, 0, 0);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    if !ctx.allowed_on_cluster(&state, AclOperation::Describe) {
        return ListPartitionReassignmentsResponse {
            error_code: ErrorCode::ClusterAuthorizationFailed.code(),
            error_message: Some("Cluster authorization failed.".into()),
            ..Default::default()
        };
    }
    let Some(cluster) = state.cluster() else {
        return ListPartitionReassignmentsResponse::default();
    };
    let image = cluster.image();
    // The (topic, partitions) asked about; None: all of a topic.
    let wanted: Vec<(String, Option<Vec<i32>>)> = match req.topics {
        Some(topics) => topics
            .into_iter()
            .map(|t| (t.name, Some(t.partition_indexes)))
            .collect(),
        None => image.topic_ids.keys().map(|n| (n.clone(), None)).collect(),
    };
    let mut topics = Vec::new();
    for (name, partitions) in wanted {
        let Some(topic) = image.topic(&name) else {
            continue;
        };
        let ongoing: Vec<OngoingPartitionReassignment> = topic
            .partitions
            .iter()
            .filter(|(i, p)| in_progress(p) && partitions.as_ref().is_none_or(|w| w.contains(i)))
            .map(|(i, p)| OngoingPartitionReassignment {
                partition_index: *i,
                replicas: p.replicas.clone(),
                adding_replicas: p.adding_replicas.clone(),
                removing_replicas: p.removing_replicas.clone(),
                ..Default::default()
            })
            .collect();
        if !ongoing.is_empty() {
            topics.push(OngoingTopicReassignment {
                name,
                partitions: ongoing,
                ..Default::default()
            });
        }
    }
    ListPartitionReassignmentsResponse {
        topics,
        ..Default::default()
    }
}
