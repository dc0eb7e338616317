//! ApiVersions (key 18): advertises exactly the handler table.

use std::sync::Arc;

use fjord_protocol::messages::api_versions_response::ApiVersion;
use fjord_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use fjord_protocol::ErrorCode;

use super::{RequestCtx, HANDLERS};
use crate::state::BrokerState;

crate::handler!(ApiVersions, 0, 4);

fn ranges() -> Vec<ApiVersion> {
    let mut v: Vec<ApiVersion> = HANDLERS
        .iter()
        .map(|h| ApiVersion {
            api_key: h.key as i16,
            min_version: h.min_version,
            max_version: h.max_version,
            ..Default::default()
        })
        .collect();
    v.sort_by_key(|a| a.api_key);
    v
}

async fn handle(
    _state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: ApiVersionsRequest,
) -> ApiVersionsResponse {
    tracing::debug!(
        peer = %ctx.peer,
        client = req.client_software_name.as_str(),
        version = req.client_software_version.as_str(),
        "api versions"
    );
    ApiVersionsResponse {
        error_code: ErrorCode::None.code(),
        api_keys: ranges(),
        ..Default::default()
    }
}

/// KIP-511: a too-new ApiVersions request gets UNSUPPORTED_VERSION with
/// our ranges, encoded as v0 so any client can read it.
pub fn unsupported_version_response() -> fjord_protocol::Response {
    fjord_protocol::Response::ApiVersions(ApiVersionsResponse {
        error_code: ErrorCode::UnsupportedVersion.code(),
        api_keys: ranges(),
        ..Default::default()
    })
}
