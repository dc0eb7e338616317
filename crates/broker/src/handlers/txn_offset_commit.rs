//! TxnOffsetCommit (key 28), versions 0-4: offsets consumed inside a
//! transaction. They are written to `__consumer_offsets` as transactional
//! records right away and become visible to OffsetFetch only when the
//! transaction commits (see `coordinator::txn_offsets`).
//!
//! With an authorizer, as Kafka: WRITE on the transactional id (else every
//! partition gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED), READ on the group
//! (else GROUP_AUTHORIZATION_FAILED) and READ on each topic (else
//! TOPIC_AUTHORIZATION_FAILED on its partitions).

use std::sync::Arc;

use fjord_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use fjord_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};
use fjord_protocol::ErrorCode;

use super::{now_ms, RequestCtx};
use crate::acl::{AclOperation, ResourceType};
use crate::groups::wait_durable;
use crate::state::BrokerState;
use fjord_group_coordinator::{store, OffsetToCommit};
use fjord_protocol::internal_topics::OFFSETS_TOPIC;

crate::handler!(TxnOffsetCommit, 0, 4);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let v = ctx.api_version;
    let mut slots: Vec<Vec<Result<usize, ErrorCode>>> = Vec::new();
    let mut valid: Vec<OffsetToCommit> = Vec::new();
    let whole = if !ctx.allowed(
        &state,
        AclOperation::Write,
        ResourceType::TransactionalId,
        &req.transactional_id,
    ) {
        Some(ErrorCode::TransactionalIdAuthorizationFailed)
    } else if !ctx.allowed(
        &state,
        AclOperation::Read,
        ResourceType::Group,
        &req.group_id,
    ) {
        Some(ErrorCode::GroupAuthorizationFailed)
    } else {
        crate::cluster::coordinators::check_group(&state, &req.group_id).err()
    };
    for t in &req.topics {
        let topic = state.topic(&t.name);
        let refused = whole.or_else(|| {
            (!ctx.allowed(&state, AclOperation::Read, ResourceType::Topic, &t.name))
                .then_some(ErrorCode::TopicAuthorizationFailed)
        });
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
                leader_epoch: if v >= 2 { p.committed_leader_epoch } else { -1 },
                metadata: p.committed_metadata.clone(),
            });
        }
        slots.push(row);
    }
    let mut errors = if valid.is_empty() {
        Vec::new()
    } else {
        let st = state.clone();
        let group = req.group_id.clone();
        let txn_id = req.transactional_id.clone();
        let (pid, epoch) = (req.producer_id, req.producer_epoch);
        let (generation, member, instance) = if v >= 3 {
            (
                req.generation_id,
                req.member_id.clone(),
                req.group_instance_id.clone(),
            )
        } else {
            (-1, String::new(), None)
        };
        let n = valid.len();
        // The group's offsets partition must be in the transaction, or the
        // transaction's marker would never reach these offsets.
        let offsets_partition = state.topic(OFFSETS_TOPIC).map(|t| {
            (
                OFFSETS_TOPIC.to_string(),
                store::partition_for(&req.group_id, t.partitions.len() as i32),
            )
        });
        let task = tokio::task::spawn_blocking(move || {
            st.txns
                .with_ongoing(&txn_id, pid, epoch, offsets_partition.as_ref(), || {
                    st.groups.txn_commit_offsets(
                        &group,
                        pid,
                        epoch,
                        generation,
                        &member,
                        instance.as_deref(),
                        &valid,
                        now_ms(),
                    )
                })
        })
        .await;
        match task {
            Ok(Ok((errors, durable))) => {
                let code = wait_durable(&state, durable).await;
                errors
                    .into_iter()
                    .map(|e| if e == ErrorCode::None { code } else { e })
                    .collect()
            }
            Ok(Err(code)) => vec![fjord_txn_coordinator::fenced_for(code, v, 3); n],
            Err(_) => vec![ErrorCode::UnknownServerError; n],
        }
    };
    let count = slots.iter().flatten().filter(|s| s.is_ok()).count();
    errors.resize(count, ErrorCode::UnknownServerError);
    let topics = req
        .topics
        .iter()
        .zip(slots)
        .map(|(t, row)| TxnOffsetCommitResponseTopic {
            name: t.name.clone(),
            partitions: t
                .partitions
                .iter()
                .zip(row)
                .map(|(p, slot)| TxnOffsetCommitResponsePartition {
                    partition_index: p.partition_index,
                    error_code: match slot {
                        Ok(i) => errors
                            .get(i)
                            .copied()
                            .unwrap_or(ErrorCode::UnknownServerError)
                            .code(),
                        Err(e) => e.code(),
                    },
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    TxnOffsetCommitResponse {
        topics,
        ..Default::default()
    }
}
