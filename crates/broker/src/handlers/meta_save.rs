//! The single-node save of a `meta/` store change (SCRAM users, ACLs),
//! shared by the handlers that change them: run off the async workers, a
//! failure logged and answered as UNKNOWN_SERVER_ERROR. In cluster mode
//! those handlers commit to the metadata log instead
//! (`cluster::security_sync`).

use std::sync::Arc;

use fjord_protocol::ErrorCode;

use crate::state::{BrokerState, StateError};

/// Runs `change` on the broker's stores and returns its result, or the
/// refusal "Saving the `what` failed".
pub async fn save_locally<T: Send + 'static>(
    state: &Arc<BrokerState>,
    what: &'static str,
    change: impl FnOnce(&BrokerState) -> Result<T, StateError> + Send + 'static,
) -> Result<T, (ErrorCode, String)> {
    let st = state.clone();
    tokio::task::spawn_blocking(move || change(&st))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
        .map_err(|e| {
            tracing::error!(error = %e, what, "saving a meta store change failed");
            (
                ErrorCode::UnknownServerError,
                format!("Saving the {what} failed"),
            )
        })
}
