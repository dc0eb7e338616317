//! EndTxn (key 26), versions 0-4: commits or aborts the producer's
//! transaction. The PrepareCommit/PrepareAbort record is durable in
//! `__transaction_state` before any marker is written, and the answer
//! comes once every partition holds its marker.
//!
//! With an authorizer, as Kafka: WRITE on the transactional id, else
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED.

use std::sync::Arc;

use fjord_protocol::messages::{EndTxnRequest, EndTxnResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::state::BrokerState;

crate::handler!(EndTxn, 0, 4);

async fn handle(state: Arc<BrokerState>, ctx: RequestCtx, req: EndTxnRequest) -> EndTxnResponse {
    let answer = |code: ErrorCode| EndTxnResponse {
        error_code: code.code(),
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    if !ctx.allowed(
        &state,
        AclOperation::Write,
        ResourceType::TransactionalId,
        &req.transactional_id,
    ) {
        return answer(ErrorCode::TransactionalIdAuthorizationFailed);
    }
    if let Err(code) = crate::txn_io::ensure_topic(&state, &req.transactional_id).await {
        return answer(code);
    }
    let (id, pid, epoch, commit) = (
        req.transactional_id.clone(),
        req.producer_id,
        req.producer_epoch,
        req.committed,
    );
    let r = crate::txn_io::run(&state, move |c, io, now| {
        c.end_txn(io, &id, pid, epoch, commit, now)
    })
    .await;
    match r {
        Ok(()) => answer(ErrorCode::None),
        Err(code) => {
            tracing::debug!(transactional_id = %req.transactional_id, code = %code, commit, "EndTxn failed");
            answer(fjord_txn_coordinator::fenced_for(code, ctx.api_version, 2))
        }
    }
}
