//! AddOffsetsToTxn (key 25), versions 0-4: adds the group's
//! `__consumer_offsets` partition to the producer's transaction, so the
//! transaction's marker reaches the offsets TxnOffsetCommit writes there.
//!
//! With an authorizer, as Kafka: WRITE on the transactional id (else
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and READ on the group (else
//! GROUP_AUTHORIZATION_FAILED).

use std::sync::Arc;

use fjord_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::state::BrokerState;
use fjord_group_coordinator::store;
use fjord_protocol::internal_topics::OFFSETS_TOPIC;

crate::handler!(AddOffsetsToTxn, 0, 4);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let answer = |code: ErrorCode| AddOffsetsToTxnResponse {
        error_code: code.code(),
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
    if !ctx.allowed(
        &state,
        AclOperation::Read,
        ResourceType::Group,
        &req.group_id,
    ) {
        return answer(ErrorCode::GroupAuthorizationFailed);
    }
    if req.group_id.is_empty() {
        return answer(ErrorCode::InvalidGroupId);
    }
    if let Err(code) = crate::txn_io::ensure_topic(&state, &req.transactional_id).await {
        return answer(code);
    }
    let Some(offsets) = state.topic(OFFSETS_TOPIC) else {
        return answer(ErrorCode::CoordinatorNotAvailable);
    };
    let partition = store::partition_for(&req.group_id, offsets.partitions.len() as i32);
    let wanted = vec![(OFFSETS_TOPIC.to_string(), partition)];
    let (id, pid, epoch) = (
        req.transactional_id.clone(),
        req.producer_id,
        req.producer_epoch,
    );
    let r = crate::txn_io::run(&state, move |c, io, now| {
        c.add_partitions(io, &id, pid, epoch, &wanted, now)
    })
    .await;
    match r {
        Ok(()) => answer(ErrorCode::None),
        Err(code) => answer(fjord_txn_coordinator::fenced_for(code, ctx.api_version, 2)),
    }
}
