//! SaslAuthenticate (key 36). On a SASL listener the connection handles
//! it itself (`security::sasl`); one that reaches this handler came
//! without a handshake in progress and is refused with ILLEGAL_SASL_STATE.

use std::sync::Arc;

use fjord_protocol::messages::{SaslAuthenticateRequest, SaslAuthenticateResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::state::BrokerState;

crate::handler!(SaslAuthenticate, 0, 2);

async fn handle(
    _state: Arc<BrokerState>,
    _ctx: RequestCtx,
    _req: SaslAuthenticateRequest,
) -> SaslAuthenticateResponse {
    SaslAuthenticateResponse {
        error_code: ErrorCode::IllegalSaslState.code(),
        error_message: Some(
            "SaslAuthenticate request received without a SaslHandshake in progress".into(),
        ),
        ..Default::default()
    }
}
