//! FindCoordinator (key 10): this node coordinates every consumer group
//! and every transactional id (key type 1; the first lookup creates
//! `__transaction_state`, as in Kafka). In cluster mode the lowest live
//! broker coordinates them all (see `cluster/mod.rs`).
//!
//! With an authorizer, as Kafka: a group key needs DESCRIBE on the group
//! (else GROUP_AUTHORIZATION_FAILED), a transactional id DESCRIBE on it
//! (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED).

use std::sync::Arc;

use fjord_protocol::messages::find_coordinator_response::Coordinator;
use fjord_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use fjord_protocol::ErrorCode;

use super::metadata::broker_endpoint;
use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::state::BrokerState;

crate::handler!(FindCoordinator, 0, 6);

fn lookup(
    state: &BrokerState,
    ctx: &RequestCtx,
    key_type: i8,
    key: &str,
) -> (ErrorCode, Option<String>, i32, String, i32) {
    let refused = |code: ErrorCode| (code, Some(code.name().to_string()), -1, String::new(), -1);
    match key_type {
        0 if !ctx.allowed(state, AclOperation::Describe, ResourceType::Group, key) => {
            return refused(ErrorCode::GroupAuthorizationFailed)
        }
        1 if !ctx.allowed(
            state,
            AclOperation::Describe,
            ResourceType::TransactionalId,
            key,
        ) =>
        {
            return refused(ErrorCode::TransactionalIdAuthorizationFailed)
        }
        _ => {}
    }
    // Cluster mode, this step: the lowest live broker coordinates every
    // group and transactional id, with its state local to it.
    if let (Some(cluster), 0 | 1) = (state.cluster(), key_type) {
        let image = cluster.image();
        match crate::cluster::coordinator(&image) {
            Some(id) if id == state.node_id => {}
            Some(id) => {
                if let Some(b) = crate::cluster::live_brokers(&image, &ctx.listener)
                    .into_iter()
                    .find(|b| b.id == id)
                {
                    return (ErrorCode::None, None, b.id, b.host, b.port);
                }
            }
            None => {
                return (
                    ErrorCode::CoordinatorNotAvailable,
                    Some("no live broker".into()),
                    -1,
                    String::new(),
                    -1,
                )
            }
        }
    }
    match key_type {
        0 | 1 if key_type == 0 || state.txns.is_ready() => {
            let (host, port) = broker_endpoint(state, ctx);
            (ErrorCode::None, None, state.node_id, host, port)
        }
        1 if !state.txns.is_ready() => (
            ErrorCode::CoordinatorNotAvailable,
            Some("the transaction state topic is not available".into()),
            -1,
            String::new(),
            -1,
        ),
        _ => (
            ErrorCode::InvalidRequest,
            Some(format!("unknown coordinator key type {key_type}")),
            -1,
            String::new(),
            -1,
        ),
    }
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let coordinating = state
        .cluster()
        .is_none_or(|c| c.coordinator() == Some(state.node_id));
    if ctx.api_version >= 1 && req.key_type == 1 && coordinating {
        // Failure shows as COORDINATOR_NOT_AVAILABLE below.
        let _ = crate::txn_io::ensure_topic(&state).await;
    }
    if ctx.api_version >= 4 {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|key| {
                let (code, msg, node_id, host, port) = lookup(&state, &ctx, req.key_type, key);
                Coordinator {
                    key: key.clone(),
                    node_id,
                    host,
                    port,
                    error_code: code.code(),
                    error_message: msg,
                    ..Default::default()
                }
            })
            .collect();
        return FindCoordinatorResponse {
            coordinators,
            ..Default::default()
        };
    }
    let key_type = if ctx.api_version >= 1 {
        req.key_type
    } else {
        0
    };
    let (code, msg, node_id, host, port) = lookup(&state, &ctx, key_type, &req.key);
    FindCoordinatorResponse {
        error_code: code.code(),
        error_message: msg,
        node_id,
        host,
        port,
        ..Default::default()
    }
}
