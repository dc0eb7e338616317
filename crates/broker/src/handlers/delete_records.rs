//! DeleteRecords (key 21): moves partitions' log start offsets forward
//! (to the high watermark for offset -1), deleting whole segments below.
//!
//! With an authorizer, as Kafka: DELETE on each topic, else its partitions
//! get TOPIC_AUTHORIZATION_FAILED (whether it exists or not).

use std::sync::Arc;

use fjord_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use fjord_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::state::BrokerState;
use fjord_partition::Partition;

crate::handler!(DeleteRecords, 0, 2);

/// Offset -1 in the request: up to the high watermark.
const HIGH_WATERMARK: i64 = -1;

/// The new low watermark (log start offset), or the error.
async fn delete(p: &Arc<Partition>, deletes_allowed: bool, offset: i64) -> Result<i64, ErrorCode> {
    if !deletes_allowed {
        // Kafka: records of a topic without cleanup.policy=delete cannot be deleted.
        return Err(ErrorCode::PolicyViolation);
    }
    let hw = p.high_watermark();
    let offset = if offset == HIGH_WATERMARK { hw } else { offset };
    if offset < 0 || offset > hw {
        return Err(ErrorCode::OffsetOutOfRange);
    }
    if offset <= p.log.log_start_offset() {
        return Ok(p.log.log_start_offset());
    }
    // Deleting segments and checkpointing the log start offset block.
    let part = p.clone();
    match tokio::task::spawn_blocking(move || part.log.delete_records_before(offset)).await {
        Ok(Ok(low)) => Ok(low),
        Ok(Err(e)) => {
            tracing::warn!(topic = %p.topic, partition = p.index, offset, error = %e, "delete records failed");
            Err(fjord_protocol::ErrorCode::from(&e))
        }
        Err(e) => {
            tracing::error!(topic = %p.topic, partition = p.index, error = %e, "delete records task failed");
            Err(ErrorCode::UnknownServerError)
        }
    }
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let refused = !ctx.allowed(&state, AclOperation::Delete, ResourceType::Topic, &t.name);
        let topic = state.topic(&t.name).filter(|_| !refused);
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for rp in t.partitions {
            let found = topic.as_ref().and_then(|topic| {
                usize::try_from(rp.partition_index)
                    .ok()
                    .and_then(|i| topic.partitions.get(i))
                    .map(|p| (p.clone(), topic.log_config.cleanup_policy.deletes()))
            });
            let outcome = match found {
                Some((p, deletes_allowed)) => delete(&p, deletes_allowed, rp.offset).await,
                None if refused => Err(ErrorCode::TopicAuthorizationFailed),
                None => Err(ErrorCode::UnknownTopicOrPartition),
            };
            let (low_watermark, code) = match outcome {
                Ok(low) => (low, ErrorCode::None),
                Err(code) => (-1, code),
            };
            partitions.push(DeleteRecordsPartitionResult {
                partition_index: rp.partition_index,
                low_watermark,
                error_code: code.code(),
                ..Default::default()
            });
        }
        topics.push(DeleteRecordsTopicResult {
            name: t.name,
            partitions,
            ..Default::default()
        });
    }
    DeleteRecordsResponse {
        topics,
        ..Default::default()
    }
}
