//! SaslHandshake (key 17). On a SASL listener the connection answers it
//! itself (`security::sasl`) before the client has authenticated; a
//! handshake that reaches this handler came where none is expected (a
//! listener without SASL, or an authenticated connection when
//! `connections.max.reauth.ms` is 0) and is refused with
//! ILLEGAL_SASL_STATE, as Kafka refuses it.

use std::sync::Arc;

use fjord_protocol::messages::{SaslHandshakeRequest, SaslHandshakeResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::state::BrokerState;

crate::handler!(SaslHandshake, 0, 1);

async fn handle(
    state: Arc<BrokerState>,
    _ctx: RequestCtx,
    _req: SaslHandshakeRequest,
) -> SaslHandshakeResponse {
    SaslHandshakeResponse {
        error_code: ErrorCode::IllegalSaslState.code(),
        mechanisms: state.config().sasl_mechanisms.clone(),
        ..Default::default()
    }
}
