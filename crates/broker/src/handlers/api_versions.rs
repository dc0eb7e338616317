//! ApiVersions (key 18): advertises the handler table, with one exception
//! Kafka 4.0 makes too: Produce is advertised from version 0
//! ([`produce::ADVERTISED_MIN_VERSION`]) although only 3+ is served.
//! librdkafka before 2.10 enables gzip, snappy and lz4 only when the
//! broker lists Produce v0 (KAFKA-18659, librdkafka#4956), and clients
//! pick the highest version both sides know, so none sends v0–v2 to a
//! broker advertising v11. A request of a version outside the served range
//! still closes the connection, as Kafka's socket server does.

use std::sync::Arc;

use fjord_protocol::messages::api_versions_response::ApiVersion;
use fjord_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use fjord_protocol::{ApiKey, ErrorCode};

use super::{produce, RequestCtx, HANDLERS};
use crate::state::BrokerState;

crate::handler!(ApiVersions, 0, 4);

fn ranges() -> Vec<ApiVersion> {
    let mut v: Vec<ApiVersion> = HANDLERS
        .iter()
        .map(|h| ApiVersion {
            api_key: h.key as i16,
            min_version: if h.key == ApiKey::Produce {
                produce::ADVERTISED_MIN_VERSION
            } else {
                h.min_version
            },
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
