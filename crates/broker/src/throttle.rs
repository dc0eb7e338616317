//! Client quotas around a handler (the connection calls this; the
//! arithmetic is in `quotas`). After a handler returns, Produce request
//! bytes and the handler's running time are recorded against the client's
//! `producer_byte_rate` and `request_percentage`; the largest throttle time
//! among those and what the handler set itself (Fetch's
//! `consumer_byte_rate`, the controller mutation quota of CreateTopics,
//! CreatePartitions and DeleteTopics) goes into the response's
//! `throttle_time_ms`, and the connection reads nothing more from the
//! client for that long (KIP-219). A client too old to throttle itself
//! gets its response late instead.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use fjord_protocol::{ApiKey, Response};

use crate::quotas::{Client, QuotaType};
use crate::security::Principal;
use crate::state::BrokerState;

/// A handler future that sums the time spent inside its `poll` (the
/// request's share of a worker thread, as Kafka's request quota counts
/// handler thread time, not waits).
pub struct Timed<F: ?Sized> {
    inner: Pin<Box<F>>,
    busy: Duration,
}

impl<F: Future + ?Sized> Timed<F> {
    pub fn new(inner: Pin<Box<F>>) -> Timed<F> {
        Timed {
            inner,
            busy: Duration::ZERO,
        }
    }
}

impl<F: Future + ?Sized> Future for Timed<F> {
    type Output = (F::Output, Duration);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let t = Instant::now();
        let r = self.inner.as_mut().poll(cx);
        self.busy += t.elapsed();
        let busy = self.busy;
        r.map(|out| (out, busy))
    }
}

/// APIs the request quota does not count (connection setup).
fn exempt_from_request_quota(api: ApiKey) -> bool {
    matches!(
        api,
        ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
    )
}

/// Whether a client sending `api` at `version` throttles itself on a
/// throttle time (KIP-219); older ones get the response late instead.
pub fn client_throttles_itself(api: ApiKey, version: i16) -> bool {
    let first = match api {
        ApiKey::Produce => 6,
        ApiKey::Fetch => 8,
        ApiKey::Metadata => 6,
        ApiKey::ListOffsets => 3,
        ApiKey::OffsetCommit | ApiKey::OffsetFetch => 4,
        ApiKey::CreateTopics | ApiKey::JoinGroup => 3,
        ApiKey::FindCoordinator
        | ApiKey::Heartbeat
        | ApiKey::LeaveGroup
        | ApiKey::SyncGroup
        | ApiKey::DescribeGroups
        | ApiKey::ListGroups
        | ApiKey::ApiVersions
        | ApiKey::DeleteTopics
        | ApiKey::DescribeConfigs => 2,
        _ => 1,
    };
    version >= first
}

/// What a request cost, for the quotas.
pub struct Usage<'a> {
    pub api: ApiKey,
    pub principal: &'a Principal,
    pub client_id: &'a str,
    pub request_bytes: usize,
    pub busy: Duration,
    /// A Produce with acks=0 (no response; the request quota does not
    /// apply, the byte rate does).
    pub no_response: bool,
}

/// Records `usage` and returns the throttle time in milliseconds, set into
/// `response` (0: not throttled).
pub fn apply(state: &BrokerState, usage: &Usage<'_>, response: &mut Response) -> u64 {
    let quotas = &state.quotas;
    let set_by_handler = response
        .throttle_time_ms_mut()
        .map(|t| u64::try_from(*t).unwrap_or(0))
        .unwrap_or(0);
    if !quotas.active() {
        return set_by_handler;
    }
    let c = Client::new(usage.principal, usage.client_id);
    let bandwidth = if usage.api == ApiKey::Produce {
        quotas.record(QuotaType::Produce, c, usage.request_bytes as f64)
    } else {
        0
    };
    let request = if exempt_from_request_quota(usage.api) || usage.no_response {
        0
    } else {
        // Percent-seconds: a rate of them per second is percent of a thread.
        quotas.record(QuotaType::Request, c, usage.busy.as_secs_f64() * 100.0)
    };
    let metrics = &state.metrics;
    if bandwidth > 0 {
        metrics.throttled("Produce", c.user, c.client_id, bandwidth);
    }
    if request > 0 {
        metrics.throttled("Request", c.user, c.client_id, request);
    }
    if set_by_handler > 0 {
        let quota = if usage.api == ApiKey::Fetch {
            QuotaType::Fetch
        } else {
            QuotaType::ControllerMutation
        };
        metrics.throttled(quota.label(), c.user, c.client_id, set_by_handler);
    }
    let t = bandwidth.max(request).max(set_by_handler);
    if t > 0 {
        tracing::debug!(
            user = c.user,
            client_id = c.client_id,
            api = usage.api.name(),
            bandwidth,
            request,
            set_by_handler,
            "quota throttle"
        );
    }
    if let Some(field) = response.throttle_time_ms_mut() {
        *field = i32::try_from(t).unwrap_or(i32::MAX);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn timed_counts_time_in_poll_not_waits() {
        let fut = Box::pin(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            7
        });
        let (out, busy) = Timed::new(fut).await;
        assert_eq!(out, 7);
        assert!(busy < Duration::from_millis(20), "{busy:?}");
    }

    #[test]
    fn old_clients_are_throttled_by_a_late_response() {
        assert!(!client_throttles_itself(ApiKey::Produce, 5));
        assert!(client_throttles_itself(ApiKey::Produce, 6));
        assert!(!client_throttles_itself(ApiKey::Fetch, 7));
        assert!(client_throttles_itself(ApiKey::Fetch, 8));
        assert!(client_throttles_itself(ApiKey::DescribeClientQuotas, 1));
    }
}
