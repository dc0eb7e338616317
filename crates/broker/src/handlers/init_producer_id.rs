//! InitProducerId (key 22). Idempotent producers: every call hands out a
//! fresh producer id with epoch 0, as Kafka does without a transactional
//! id (so KIP-360's epoch-bump request also gets a new id). With a
//! transactional id the transaction coordinator (`txn`) keeps the id and
//! bumps its epoch, fencing the previous producer.
//!
//! With an authorizer, as Kafka: a transactional id needs WRITE on it (else
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED); an idempotent producer needs
//! IDEMPOTENT_WRITE on the cluster or WRITE on some topic (else
//! CLUSTER_AUTHORIZATION_FAILED).

use std::sync::Arc;

use fjord_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
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
    if let Some(txn_id) = req.transactional_id.clone().filter(|t| !t.is_empty()) {
        if !ctx.allowed(
            &state,
            AclOperation::Write,
            ResourceType::TransactionalId,
            &txn_id,
        ) {
            return fail(ErrorCode::TransactionalIdAuthorizationFailed);
        }
        if let Err(code) = crate::txn_io::ensure_topic(&state, &txn_id).await {
            return fail(code);
        }
        let timeout = req.transaction_timeout_ms;
        let expected = (ctx.api_version >= 3 && req.producer_id >= 0)
            .then_some((req.producer_id, req.producer_epoch));
        let r = crate::txn_io::run(&state, move |c, io, now| {
            c.init_producer_id(io, &txn_id, timeout, expected, now)
        })
        .await;
        return match r {
            Ok((producer_id, producer_epoch)) => InitProducerIdResponse {
                error_code: ErrorCode::None.code(),
                producer_id,
                producer_epoch,
                ..Default::default()
            },
            Err(code) => {
                tracing::debug!(peer = %ctx.peer, code = %code, "transactional InitProducerId failed");
                fail(fjord_txn_coordinator::fenced_for(code, ctx.api_version, 4))
            }
        };
    }
    if !ctx.allowed_on_cluster(&state, AclOperation::IdempotentWrite)
        && !ctx.allowed_on_any(&state, AclOperation::Write, ResourceType::Topic)
    {
        return fail(ErrorCode::ClusterAuthorizationFailed);
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
