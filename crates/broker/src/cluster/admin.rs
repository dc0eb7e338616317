//! CreateTopics, DeleteTopics and CreatePartitions in cluster mode: the
//! change is decided over the latest image with the controller's pure
//! functions (`fjord_metadata::controller`), proposed to the quorum (which
//! forwards it to the active controller), and answered once it is
//! committed and applied to this broker's local topics. The image checks
//! each record again when it commits, so two brokers racing to create one
//! name end with one topic and one TOPIC_ALREADY_EXISTS.

use std::collections::BTreeMap;
use std::time::Duration;

use fjord_metadata::controller::{self, CreateTopicError, PlacementError};
use fjord_metadata::image::ImageError;
use fjord_metadata::records::{MetadataRecord, Uuid};
use fjord_metadata::ProposeError;
use fjord_protocol::ErrorCode;

use super::Cluster;

/// A refusal: Kafka's error code and a message.
pub type AdminError = (ErrorCode, String);

/// How long an admin request waits for its records to reach local topics.
const APPLY_WAIT: Duration = Duration::from_secs(10);

fn placement_error(e: PlacementError) -> AdminError {
    let code = match e {
        PlacementError::InvalidPartitions(_) => ErrorCode::InvalidPartitions,
        PlacementError::InvalidReplicationFactor { .. } => ErrorCode::InvalidReplicationFactor,
    };
    (code, e.to_string())
}

pub(crate) fn propose_error(e: ProposeError) -> AdminError {
    let code = match &e {
        ProposeError::NotLeader { .. } | ProposeError::Shutdown => ErrorCode::NotController,
        ProposeError::Timeout | ProposeError::Failed(_) => ErrorCode::RequestTimedOut,
        ProposeError::Rejected { error, .. } => match error {
            ImageError::TopicExists(_) | ImageError::TopicIdExists(_) => {
                ErrorCode::TopicAlreadyExists
            }
            ImageError::UnknownTopic(_) => ErrorCode::UnknownTopicOrPartition,
            ImageError::PartitionExists { .. } => ErrorCode::InvalidPartitions,
            _ => ErrorCode::InvalidRequest,
        },
    };
    (code, e.to_string())
}

/// Proposes `records` and waits until they are applied here.
async fn commit(cluster: &Cluster, records: Vec<MetadataRecord>) -> Result<(), AdminError> {
    let offset = cluster
        .quorum
        .propose(records)
        .await
        .map_err(propose_error)?;
    if cluster.wait_applied(offset, APPLY_WAIT).await {
        Ok(())
    } else {
        Err((
            ErrorCode::RequestTimedOut,
            "the change committed but this broker has not applied it yet".into(),
        ))
    }
}

/// Proposes partition changes decided by a handler over the latest image
/// (ElectLeaders) and waits until they are applied here.
pub async fn commit_changes(
    cluster: &Cluster,
    records: Vec<MetadataRecord>,
) -> Result<(), AdminError> {
    commit(cluster, records).await
}

/// Creates a topic with replicas placed by the controller (`-1`: the
/// default replication factor, 1 in this step).
pub async fn create_topic(
    cluster: &Cluster,
    name: &str,
    partitions: i32,
    replication_factor: i16,
    configs: &BTreeMap<String, String>,
) -> Result<fjord_protocol::Uuid, AdminError> {
    let rf = if replication_factor == -1 {
        1
    } else {
        replication_factor
    };
    let id = Uuid(*uuid::Uuid::new_v4().as_bytes());
    let records =
        controller::create_topic_records(&cluster.image(), name, id, partitions, rf, configs)
            .map_err(|e| match e {
                CreateTopicError::InvalidName { .. } => {
                    (ErrorCode::InvalidTopicException, e.to_string())
                }
                CreateTopicError::Exists(_) => (ErrorCode::TopicAlreadyExists, e.to_string()),
                CreateTopicError::Placement(p) => placement_error(p),
            })?;
    commit(cluster, records).await?;
    Ok(fjord_protocol::Uuid(id.0))
}

/// Deletes a topic of the image.
pub async fn delete_topic(cluster: &Cluster, name: &str) -> Result<(), AdminError> {
    let Some(topic) = cluster.image().topic(name).map(|t| t.id) else {
        return Err((
            ErrorCode::UnknownTopicOrPartition,
            format!("topic {name} does not exist"),
        ));
    };
    commit(
        cluster,
        vec![MetadataRecord::RemoveTopic { topic_id: topic }],
    )
    .await
}

/// The records that grow `name` to `count` partitions, placed with the
/// replication factor of its first partition.
pub fn grow_records(
    image: &fjord_metadata::MetadataImage,
    name: &str,
    count: i32,
) -> Result<Vec<MetadataRecord>, AdminError> {
    let Some(topic) = image.topic(name) else {
        return Err((
            ErrorCode::UnknownTopicOrPartition,
            format!("topic {name} does not exist"),
        ));
    };
    let existing = topic.partitions.len() as i32;
    if count <= existing {
        return Err((
            ErrorCode::InvalidPartitions,
            format!("topic {name} has {existing} partitions; the new count must be larger"),
        ));
    }
    let rf = topic
        .partitions
        .values()
        .next()
        .map_or(1, |p| p.replicas.len() as i16);
    let placed = controller::place_from(image, count - existing, rf, existing as usize)
        .map_err(placement_error)?;
    Ok(placed
        .into_iter()
        .enumerate()
        .map(|(i, replicas)| MetadataRecord::Partition {
            topic_id: topic.id,
            partition: existing + i as i32,
            leader: replicas.first().copied().unwrap_or(-1),
            isr: replicas.clone(),
            replicas,
            leader_epoch: 0,
            partition_epoch: 0,
        })
        .collect())
}

/// Grows a topic of the image to `count` partitions.
pub async fn create_partitions(
    cluster: &Cluster,
    name: &str,
    count: i32,
) -> Result<(), AdminError> {
    let records = grow_records(&cluster.image(), name, count)?;
    commit(cluster, records).await
}
