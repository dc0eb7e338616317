//! InitProducerId (key 22) for idempotent producers: every call hands out
//! a fresh producer id with epoch 0, as Kafka does without a
//! transactional id (so KIP-360's epoch-bump request also gets a new id).

use std::sync::Arc;

use fjord_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::state::BrokerState;

crate::handler!(InitProducerId, 0, 5);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let fail = |code: ErrorCode| InitProducerIdResponse {
        error_code: code.code(),
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    if req
        .transactional_id
        .as_deref()
        .is_some_and(|t| !t.is_empty())
    {
        // Transactions need the transaction coordinator (not yet built).
        tracing::info!(peer = %ctx.peer, "transactional producer refused: transactions are not supported yet");
        return fail(ErrorCode::CoordinatorNotAvailable);
    }
    let st = state.clone();
    match tokio::task::spawn_blocking(move || st.allocate_producer_id()).await {
        Ok(Ok(id)) => InitProducerIdResponse {
            error_code: ErrorCode::None.code(),
            producer_id: id,
            producer_epoch: 0,
            ..Default::default()
        },
        Ok(Err(e)) => {
            tracing::error!(error = %e, "producer id allocation failed");
            fail(ErrorCode::KafkaStorageError)
        }
        Err(e) => {
            tracing::error!(error = %e, "producer id task failed");
            fail(ErrorCode::UnknownServerError)
        }
    }
}
