//! AddPartitionsToTxn (key 24), versions 0-5: adds partitions to the
//! producer's transaction (v4+: several transactions per request, and
//! verify-only checks). Unknown partitions fail with
//! UNKNOWN_TOPIC_OR_PARTITION and the rest with OPERATION_NOT_ATTEMPTED,
//! as Kafka answers. Version 5 only tells the broker the caller
//! understands TRANSACTION_ABORTABLE (KIP-890), which fjord never returns
//! here, so it is answered exactly as version 4.
//!
//! With an authorizer, as Kafka: v0-3 (from producers) need WRITE on the
//! transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED on every
//! partition) and WRITE on each topic (else TOPIC_AUTHORIZATION_FAILED on
//! its partitions, OPERATION_NOT_ATTEMPTED on the others); v4+ (from
//! brokers) need CLUSTER_ACTION on the cluster (else
//! CLUSTER_AUTHORIZATION_FAILED).

use std::sync::Arc;

use fjord_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use fjord_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use fjord_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::state::BrokerState;

crate::handler!(AddPartitionsToTxn, 0, 5);

fn results(
    topics: &[AddPartitionsToTxnTopic],
    mut code_of: impl FnMut(&str, i32) -> ErrorCode,
) -> Vec<AddPartitionsToTxnTopicResult> {
    topics
        .iter()
        .map(|t| AddPartitionsToTxnTopicResult {
            name: t.name.clone(),
            results_by_partition: t
                .partitions
                .iter()
                .map(|p| AddPartitionsToTxnPartitionResult {
                    partition_index: *p,
                    partition_error_code: code_of(&t.name, *p).code(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn add_one(
    state: &Arc<BrokerState>,
    ctx: &RequestCtx,
    version: i16,
    txn_id: &str,
    pid: i64,
    epoch: i16,
    verify_only: bool,
    topics: &[AddPartitionsToTxnTopic],
) -> Vec<AddPartitionsToTxnTopicResult> {
    if version < 4
        && !ctx.allowed(
            state,
            AclOperation::Write,
            ResourceType::TransactionalId,
            txn_id,
        )
    {
        return results(topics, |_, _| ErrorCode::TransactionalIdAuthorizationFailed);
    }
    if let Err(code) = crate::txn_io::ensure_topic(state, txn_id).await {
        return results(topics, |_, _| code);
    }
    let refused: Vec<&str> = topics
        .iter()
        .map(|t| t.name.as_str())
        .filter(|t| version < 4 && !ctx.allowed(state, AclOperation::Write, ResourceType::Topic, t))
        .collect();
    if !refused.is_empty() {
        return results(topics, |t, p| {
            if refused.contains(&t) {
                ErrorCode::TopicAuthorizationFailed
            } else if !crate::state::is_internal_topic(t) && state.partition(t, p).is_some() {
                ErrorCode::OperationNotAttempted
            } else {
                ErrorCode::UnknownTopicOrPartition
            }
        });
    }
    // In cluster mode a partition exists when the image holds it (this
    // broker may host no replica of it).
    let exists = |t: &str, p: i32| {
        !crate::state::is_internal_topic(t)
            && match state.cluster() {
                Some(c) => c
                    .image()
                    .topic(t)
                    .is_some_and(|tp| tp.partitions.contains_key(&p)),
                None => state.partition(t, p).is_some(),
            }
    };
    let wanted: Vec<(String, i32)> = topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.name.clone(), *p)))
        .collect();
    if wanted.iter().any(|(t, p)| !exists(t, *p)) {
        return results(topics, |t, p| {
            if exists(t, p) {
                ErrorCode::OperationNotAttempted
            } else {
                ErrorCode::UnknownTopicOrPartition
            }
        });
    }
    if verify_only {
        return match state.txns.verify_partitions(txn_id, pid, epoch, &wanted) {
            Ok(codes) => {
                let mut it = codes.into_iter();
                results(topics, |_, _| {
                    it.next().unwrap_or(ErrorCode::InvalidTxnState)
                })
            }
            Err(code) => results(topics, |_, _| code),
        };
    }
    let id = txn_id.to_string();
    let r = crate::txn_io::run(state, move |c, io, now| {
        c.add_partitions(io, &id, pid, epoch, &wanted, now)
    })
    .await;
    let code = match r {
        Ok(()) => ErrorCode::None,
        Err(code) => fjord_txn_coordinator::fenced_for(code, version, 2),
    };
    results(topics, |_, _| code)
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    if ctx.api_version >= 4 {
        if !ctx.allowed_on_cluster(&state, AclOperation::ClusterAction) {
            return AddPartitionsToTxnResponse {
                error_code: ErrorCode::ClusterAuthorizationFailed.code(),
                ..Default::default()
            };
        }
        let mut out = Vec::with_capacity(req.transactions.len());
        for t in &req.transactions {
            out.push(AddPartitionsToTxnResult {
                transactional_id: t.transactional_id.clone(),
                topic_results: add_one(
                    &state,
                    &ctx,
                    ctx.api_version,
                    &t.transactional_id,
                    t.producer_id,
                    t.producer_epoch,
                    t.verify_only,
                    &t.topics,
                )
                .await,
                ..Default::default()
            });
        }
        return AddPartitionsToTxnResponse {
            error_code: ErrorCode::None.code(),
            results_by_transaction: out,
            ..Default::default()
        };
    }
    let results = add_one(
        &state,
        &ctx,
        ctx.api_version,
        &req.v3_and_below_transactional_id,
        req.v3_and_below_producer_id,
        req.v3_and_below_producer_epoch,
        false,
        &req.v3_and_below_topics,
    )
    .await;
    AddPartitionsToTxnResponse {
        results_by_topic_v3_and_below: results,
        ..Default::default()
    }
}
