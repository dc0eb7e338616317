//! OffsetCommit (key 8): validates the member and generation, appends the
//! offsets to `__consumer_offsets` and answers once they are durable.
//!
//! With an authorizer, as Kafka: READ on the group (else every partition
//! gets GROUP_AUTHORIZATION_FAILED) and READ on each topic (else its
//! partitions get TOPIC_AUTHORIZATION_FAILED).

use std::sync::Arc;

use fjord_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use fjord_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use fjord_protocol::ErrorCode;

use super::{now_ms, RequestCtx};
use crate::acl::{AclOperation, ResourceType};
use crate::groups::wait_durable;
use crate::state::BrokerState;
use fjord_group_coordinator::OffsetToCommit;

crate::handler!(OffsetCommit, 0, 9);

/// How Kafka's group coordinator reports a failed write of committed
/// offsets: storage errors (a full disk among them) become NOT_COORDINATOR,
/// which clients retry after looking the coordinator up again; an oversized
/// record INVALID_COMMIT_OFFSET_SIZE.
fn storage_error_for_commit(code: ErrorCode) -> ErrorCode {
    match code {
        ErrorCode::KafkaStorageError | ErrorCode::NotLeaderOrFollower => ErrorCode::NotCoordinator,
        ErrorCode::MessageTooLarge | ErrorCode::RecordListTooLarge => {
            ErrorCode::InvalidCommitOffsetSize
        }
        other => other,
    }
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let v = ctx.api_version;
    // (topic index, partition index, Some(position in `valid`) or an error)
    let mut slots: Vec<Vec<Result<usize, ErrorCode>>> = Vec::new();
    let mut valid: Vec<OffsetToCommit> = Vec::new();
    let group_ok = ctx.allowed(
        &state,
        AclOperation::Read,
        ResourceType::Group,
        &req.group_id,
    );
    for t in &req.topics {
        let topic = state.topic(&t.name);
        let refused = if !group_ok {
            Some(ErrorCode::GroupAuthorizationFailed)
        } else if let Err(code) = crate::cluster::coordinators::check_group(&state, &req.group_id) {
            Some(code)
        } else if !ctx.allowed(&state, AclOperation::Read, ResourceType::Topic, &t.name) {
            Some(ErrorCode::TopicAuthorizationFailed)
        } else {
            None
        };
        let mut row = Vec::new();
        for p in &t.partitions {
            if let Some(code) = refused {
                row.push(Err(code));
                continue;
            }
            let exists = topic.as_ref().is_some_and(|tp| {
                p.partition_index >= 0 && (p.partition_index as usize) < tp.partitions.len()
            });
            if !exists {
                row.push(Err(ErrorCode::UnknownTopicOrPartition));
                continue;
            }
            row.push(Ok(valid.len()));
            valid.push(OffsetToCommit {
                topic: t.name.clone(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: if v >= 6 { p.committed_leader_epoch } else { -1 },
                metadata: p.committed_metadata.clone(),
            });
        }
        slots.push(row);
    }
    let (generation, member_id) = if v >= 1 {
        (req.generation_id_or_member_epoch, req.member_id.as_str())
    } else {
        (-1, "")
    };
    let instance = if v >= 7 {
        req.group_instance_id.as_deref()
    } else {
        None
    };
    let mut errors = if valid.is_empty() {
        Vec::new()
    } else {
        let (errors, durable) = state.groups.commit_offsets(
            &req.group_id,
            generation,
            member_id,
            instance,
            &valid,
            now_ms(),
        );
        let code = wait_durable(&state, durable).await;
        if code != ErrorCode::None {
            errors
                .into_iter()
                .map(|e| if e == ErrorCode::None { code } else { e })
                .collect()
        } else {
            errors
        }
    };
    errors.resize(valid.len(), ErrorCode::UnknownServerError);
    for e in errors.iter_mut() {
        *e = storage_error_for_commit(*e);
    }
    let topics = req
        .topics
        .iter()
        .zip(slots)
        .map(|(t, row)| OffsetCommitResponseTopic {
            name: t.name.clone(),
            partitions: t
                .partitions
                .iter()
                .zip(row)
                .map(|(p, slot)| OffsetCommitResponsePartition {
                    partition_index: p.partition_index,
                    error_code: match slot {
                        Ok(i) => errors[i].code(),
                        Err(e) => e.code(),
                    },
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    OffsetCommitResponse {
        topics,
        ..Default::default()
    }
}
