//! ListTransactions (key 66), versions 0-1: transactional ids with their
//! producer id and state, filtered by state names, producer ids and (v1)
//! how long they have been running.
//!
//! With an authorizer, as Kafka: only transactional ids the principal may
//! DESCRIBE are listed.

use std::sync::Arc;

use fjord_protocol::messages::list_transactions_response::TransactionState;
use fjord_protocol::messages::{ListTransactionsRequest, ListTransactionsResponse};
use fjord_protocol::ErrorCode;

use super::{now_ms, RequestCtx};
use crate::acl::{AclOperation, ResourceType};
use crate::state::BrokerState;
use fjord_txn_coordinator::TxnState;

crate::handler!(ListTransactions, 0, 1);

const STATES: &[TxnState] = &[
    TxnState::Empty,
    TxnState::Ongoing,
    TxnState::PrepareCommit,
    TxnState::PrepareAbort,
    TxnState::CompleteCommit,
    TxnState::CompleteAbort,
    TxnState::Dead,
    TxnState::PrepareEpochFence,
];

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let unknown_state_filters: Vec<String> = req
        .state_filters
        .iter()
        .filter(|f| !STATES.iter().any(|s| s.name() == f.as_str()))
        .cloned()
        .collect();
    let now = now_ms();
    let duration = if ctx.api_version >= 1 {
        req.duration_filter
    } else {
        -1
    };
    let transaction_states = state
        .txns
        .all()
        .into_iter()
        .filter(|m| {
            req.state_filters.is_empty() || req.state_filters.iter().any(|f| f == m.state.name())
        })
        .filter(|m| {
            req.producer_id_filters.is_empty() || req.producer_id_filters.contains(&m.producer_id)
        })
        // Running longer than the duration filter: only ongoing ones have a start.
        .filter(|m| duration < 0 || (m.start_ms >= 0 && now - m.start_ms > duration))
        .filter(|m| {
            ctx.visible(
                &state,
                AclOperation::Describe,
                ResourceType::TransactionalId,
                &m.transactional_id,
            )
        })
        .map(|m| TransactionState {
            transactional_id: m.transactional_id,
            producer_id: m.producer_id,
            transaction_state: m.state.name().to_string(),
            ..Default::default()
        })
        .collect();
    ListTransactionsResponse {
        error_code: ErrorCode::None.code(),
        unknown_state_filters,
        transaction_states,
        ..Default::default()
    }
}
