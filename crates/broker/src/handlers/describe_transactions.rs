//! DescribeTransactions (key 65), version 0: the coordinator's view of
//! each transactional id (TRANSACTIONAL_ID_NOT_FOUND for unknown ones).
//!
//! With an authorizer, as Kafka: DESCRIBE on each transactional id (else
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED); the partitions listed are those
//! of topics the principal may DESCRIBE.

use std::sync::Arc;

use fjord_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use fjord_protocol::messages::{DescribeTransactionsRequest, DescribeTransactionsResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::state::BrokerState;
use fjord_txn_coordinator::TxnState;

crate::handler!(DescribeTransactions, 0, 0);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let transaction_states = req
        .transactional_ids
        .iter()
        .map(|id| match state.txns.get(id) {
            _ if !ctx.allowed(
                &state,
                AclOperation::Describe,
                ResourceType::TransactionalId,
                id,
            ) =>
            {
                TransactionState {
                    error_code: ErrorCode::TransactionalIdAuthorizationFailed.code(),
                    transactional_id: id.clone(),
                    transaction_start_time_ms: -1,
                    producer_id: -1,
                    producer_epoch: -1,
                    ..Default::default()
                }
            }
            Some(m) => {
                let mut topics: Vec<TopicData> = Vec::new();
                for (t, p) in &m.partitions {
                    if !ctx.visible(&state, AclOperation::Describe, ResourceType::Topic, t) {
                        continue;
                    }
                    match topics.last_mut() {
                        Some(last) if &last.topic == t => last.partitions.push(*p),
                        _ => topics.push(TopicData {
                            topic: t.clone(),
                            partitions: vec![*p],
                            ..Default::default()
                        }),
                    }
                }
                TransactionState {
                    error_code: ErrorCode::None.code(),
                    transactional_id: id.clone(),
                    transaction_state: m.state.name().to_string(),
                    transaction_timeout_ms: m.timeout_ms,
                    transaction_start_time_ms: if m.state == TxnState::Ongoing {
                        m.start_ms
                    } else {
                        -1
                    },
                    producer_id: m.producer_id,
                    producer_epoch: m.producer_epoch,
                    topics,
                    ..Default::default()
                }
            }
            None => TransactionState {
                error_code: ErrorCode::TransactionalIdNotFound.code(),
                transactional_id: id.clone(),
                transaction_start_time_ms: -1,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            },
        })
        .collect();
    DescribeTransactionsResponse {
        transaction_states,
        ..Default::default()
    }
}
