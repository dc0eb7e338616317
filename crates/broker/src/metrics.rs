//! Metrics for `/metrics` on the HTTP listener, built with the
//! `prometheus-client` crate.
//!
//! Two kinds, by where their cost falls:
//!
//! - Counters bumped on the request path: requests and latency per API,
//!   messages and bytes in/out per topic, connections. These are relaxed
//!   atomics reached without a lock or a map lookup: per-API slots are an
//!   array indexed by api key, and each topic of the broker state carries
//!   its own [`TopicMetrics`] handles (clones of the counters in the
//!   registry's families), resolved once when the topic is opened.
//! - Gauges that describe state (partition offsets, consumer group offsets
//!   and lag, replica state, bytes on disk, process memory and CPU) are read
//!   at scrape time by collectors, so nothing on the hot path keeps them
//!   current.
//!
//! This module is the registry and the counters; it knows nothing of the
//! broker's state or its handlers. The APIs to count come in as a table
//! ([`Metrics::new`]), and the gauges read from the broker state are
//! encoded by `metrics_state`, plugged in after log recovery as a
//! [`ScrapeSource`] ([`Metrics::attach`]). Process gauges (`process`) read
//! `/proc` and need nothing else.
//!
//! Partition and consumer group gauges use the names kafka_exporter
//! publishes (`kafka_topic_partition_current_offset`,
//! `kafka_consumergroup_lag`, ...), so existing dashboards work; the rest
//! are `fjord_*` and the standard `process_*` names.
//!
//! The registry encodes OpenMetrics text; [`Metrics::encode`] serves that
//! to scrapers that ask for it and the classic Prometheus text format
//! (version 0.0.4) to everyone else.

mod process;
#[cfg(test)]
pub(crate) mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use fjord_protocol::{ApiKey, Request};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

pub use process::{parse_stat, parse_statm, ProcessStats};

/// Content type of the OpenMetrics exposition.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of the classic Prometheus text exposition.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the request latency buckets, in nanoseconds
/// (100 µs … 30 s; a last bucket catches the rest).
const LATENCY_BUCKETS_NS: [u64; 17] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
];

/// A latency histogram of atomics: one `fetch_add` per bucket hit and one
/// for the sum; the count is the sum of the buckets.
#[derive(Debug)]
struct LatencyHistogram {
    /// Non-cumulative counts; the last slot is +Inf.
    buckets: [AtomicU64; LATENCY_BUCKETS_NS.len() + 1],
    sum_ns: AtomicU64,
}

impl LatencyHistogram {
    fn new() -> LatencyHistogram {
        LatencyHistogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_ns: AtomicU64::new(0),
        }
    }

    fn observe(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        // First bucket whose bound is >= ns (Prometheus buckets are `le`).
        let i = LATENCY_BUCKETS_NS.partition_point(|&b| b < ns);
        if let Some(b) = self.buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// (sum in seconds, count, [(upper bound in seconds, non-cumulative count)]).
    fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let mut buckets = Vec::with_capacity(self.buckets.len());
        let mut count = 0u64;
        for (i, b) in self.buckets.iter().enumerate() {
            let n = b.load(Ordering::Relaxed);
            count = count.saturating_add(n);
            let bound = LATENCY_BUCKETS_NS
                .get(i)
                .map_or(f64::INFINITY, |&ns| ns as f64 / 1e9);
            buckets.push((bound, n));
        }
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        (sum, count, buckets)
    }
}

/// Request counters of one API: one per served version, and a histogram.
#[derive(Debug)]
struct ApiSlot {
    key: ApiKey,
    min_version: i16,
    by_version: Box<[AtomicU64]>,
    latency: LatencyHistogram,
}

/// Per-API request metrics, indexed by api key.
#[derive(Debug)]
struct RequestTable {
    slots: Vec<Option<ApiSlot>>,
}

impl RequestTable {
    fn new(apis: &[(ApiKey, i16, i16)]) -> RequestTable {
        let len = apis
            .iter()
            .map(|(k, _, _)| *k as usize + 1)
            .max()
            .unwrap_or(0);
        let mut slots: Vec<Option<ApiSlot>> = (0..len).map(|_| None).collect();
        for &(key, min, max) in apis {
            let versions = usize::try_from(i32::from(max) - i32::from(min) + 1).unwrap_or(0);
            if let Some(slot) = slots.get_mut(key as usize) {
                *slot = Some(ApiSlot {
                    key,
                    min_version: min,
                    by_version: (0..versions).map(|_| AtomicU64::new(0)).collect(),
                    latency: LatencyHistogram::new(),
                });
            }
        }
        RequestTable { slots }
    }

    fn observe(&self, key: ApiKey, version: i16, elapsed: Duration) {
        let Some(Some(slot)) = self.slots.get(key as usize) else {
            return;
        };
        let idx = usize::try_from(i32::from(version) - i32::from(slot.min_version)).ok();
        if let Some(c) = idx.and_then(|i| slot.by_version.get(i)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        slot.latency.observe(elapsed);
    }

    /// APIs that have seen at least one request.
    fn used(&self) -> impl Iterator<Item = &ApiSlot> {
        self.slots
            .iter()
            .flatten()
            .filter(|s| s.by_version.iter().any(|c| c.load(Ordering::Relaxed) > 0))
    }
}

/// `fjord_requests_total{api, version}`.
#[derive(Debug)]
struct RequestCounts(Arc<RequestTable>);

impl EncodeMetric for RequestCounts {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for slot in self.0.used() {
            for (i, c) in slot.by_version.iter().enumerate() {
                let n = c.load(Ordering::Relaxed);
                if n == 0 {
                    continue;
                }
                let version = i32::from(slot.min_version) + i as i32;
                let labels = ([("api", slot.key.name())], [("version", version)]);
                encoder
                    .encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
            }
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// `fjord_request_duration_seconds{api}`.
#[derive(Debug)]
struct RequestLatency(Arc<RequestTable>);

impl EncodeMetric for RequestLatency {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for slot in self.0.used() {
            let (sum, count, buckets) = slot.latency.snapshot();
            let labels = [("api", slot.key.name())];
            encoder
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct TopicLabel {
    topic: String,
}

impl EncodeLabelSet for TopicLabel {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder,
    ) -> Result<(), std::fmt::Error> {
        [("topic", self.topic.as_str())].encode(encoder)
    }
}

/// One topic's traffic counters, held by its `Topic`: bumping them is a
/// relaxed atomic add, with no lookup.
#[derive(Clone, Debug, Default)]
pub struct TopicMetrics {
    messages_in: Counter,
    bytes_in: Counter,
    messages_out: Counter,
    bytes_out: Counter,
}

impl TopicMetrics {
    /// Records appended by Produce.
    pub fn produced(&self, messages: u64, bytes: u64) {
        self.messages_in.inc_by(messages);
        self.bytes_in.inc_by(bytes);
    }

    /// Records returned by Fetch (`messages` counts the offsets the
    /// returned batches span).
    pub fn fetched(&self, messages: u64, bytes: u64) {
        self.messages_out.inc_by(messages);
        self.bytes_out.inc_by(bytes);
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ThrottleLabel {
    quota: &'static str,
    user: String,
    client_id: String,
}

#[derive(Default)]
struct TopicFamilies {
    messages_in: Family<TopicLabel, Counter>,
    bytes_in: Family<TopicLabel, Counter>,
    messages_out: Family<TopicLabel, Counter>,
    bytes_out: Family<TopicLabel, Counter>,
}

/// Gauges encoded at scrape time by someone who owns what they describe
/// (the broker state): [`Metrics::attach`] plugs one in.
pub trait ScrapeSource: Send + Sync {
    /// Encodes the source's metric families.
    fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> std::fmt::Result;
}

/// The registry's collector for the attached [`ScrapeSource`].
struct SourceCollector {
    source: Arc<OnceLock<Box<dyn ScrapeSource>>>,
}

impl std::fmt::Debug for SourceCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceCollector")
            .field("attached", &self.source.get().is_some())
            .finish()
    }
}

impl Collector for SourceCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        match self.source.get() {
            Some(source) => source.encode(&mut encoder),
            None => Ok(()),
        }
    }
}

/// Everything `/metrics` shows; one per broker.
pub struct Metrics {
    registry: Registry,
    requests: Arc<RequestTable>,
    topics: TopicFamilies,
    connections: Gauge,
    connections_opened: Counter,
    connections_refused: Family<ReasonLabel, Counter>,
    throttled: Family<ThrottleLabel, Counter>,
    throttle_ms: Family<ThrottleLabel, Counter>,
    /// Gauges read from elsewhere at scrape time (the broker state, once
    /// its logs are open); empty before.
    source: Arc<OnceLock<Box<dyn ScrapeSource>>>,
    /// The schema registry's collector, once it runs.
    schema_registry: LateCollector,
    /// Requests the authorizer refused, by operation and resource type.
    denials: Family<DenialLabel, Counter>,
    /// SASL exchanges decided, by listener, mechanism and outcome.
    authentications: Family<AuthLabel, Counter>,
    /// ISR changes this broker made as a partition leader (cluster mode).
    isr_shrinks: Counter,
    isr_expands: Counter,
    /// Connections to other brokers that failed, by kind (connect, tls,
    /// auth).
    inter_broker_failures: Family<ReasonLabel, Counter>,
}

/// Labels of `fjord_authentication_total`. The listener comes from the
/// broker's config and the mechanism from `sasl.enabled.mechanisms`, so
/// a client cannot grow the label set.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AuthLabel {
    listener: String,
    mechanism: String,
    result: &'static str,
}

/// Labels of `fjord_authorization_denials`.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct DenialLabel {
    operation: &'static str,
    resource_type: &'static str,
}

impl EncodeLabelSet for DenialLabel {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder,
    ) -> Result<(), std::fmt::Error> {
        [
            ("operation", self.operation),
            ("resource_type", self.resource_type),
        ]
        .encode(encoder)
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Counts a connection while it is open.
pub struct ConnectionGuard(Gauge);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    /// Metrics counting requests of the APIs in `apis`, each
    /// `(api, lowest served version, highest served version)`. Requests of
    /// other APIs are not counted; a version outside its API's range is
    /// timed but not counted.
    pub fn new(apis: &[(ApiKey, i16, i16)]) -> Metrics {
        let requests = Arc::new(RequestTable::new(apis));
        let topics = TopicFamilies::default();
        let connections = Gauge::default();
        let connections_opened = Counter::default();
        let connections_refused = Family::<ReasonLabel, Counter>::default();
        let throttled = Family::<ThrottleLabel, Counter>::default();
        let throttle_ms = Family::<ThrottleLabel, Counter>::default();
        let source = Arc::new(OnceLock::new());
        let mut registry = Registry::default();
        registry.register(
            "fjord_requests",
            "Kafka requests handled, by API and version",
            RequestCounts(requests.clone()),
        );
        registry.register_with_unit(
            "fjord_request_duration",
            "Time from a request's arrival to its response being ready, by API (includes Fetch long-poll waits and held JoinGroup/SyncGroup answers)",
            Unit::Seconds,
            RequestLatency(requests.clone()),
        );
        registry.register(
            "fjord_topic_messages_in",
            "Records appended by Produce, per topic",
            topics.messages_in.clone(),
        );
        registry.register(
            "fjord_topic_bytes_in",
            "Record batch bytes appended by Produce, per topic",
            topics.bytes_in.clone(),
        );
        registry.register(
            "fjord_topic_messages_out",
            "Records sent by Fetch (offsets spanned by the returned batches), per topic",
            topics.messages_out.clone(),
        );
        registry.register(
            "fjord_topic_bytes_out",
            "Record batch bytes sent by Fetch, per topic",
            topics.bytes_out.clone(),
        );
        registry.register(
            "fjord_connections",
            "Open Kafka client connections",
            connections.clone(),
        );
        registry.register(
            "fjord_connections_opened",
            "Kafka client connections accepted since start",
            connections_opened.clone(),
        );
        let denials = Family::<DenialLabel, Counter>::default();
        registry.register(
            "fjord_authorization_denials",
            "Operations the authorizer refused, by operation and resource type",
            denials.clone(),
        );
        let authentications = Family::<AuthLabel, Counter>::default();
        registry.register(
            "fjord_authentication",
            "SASL authentications decided, by listener, mechanism and result (success or failure)",
            authentications.clone(),
        );
        let inter_broker_failures = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "fjord_inter_broker_connection_failures",
            "Connections to other brokers that failed, by kind: connect (unreachable), tls (handshake, certificate), auth (SASL)",
            inter_broker_failures.clone(),
        );
        let isr_shrinks = Counter::default();
        registry.register(
            "fjord_isr_shrinks",
            "In-sync replica sets this broker shrank as a partition leader (cluster mode)",
            isr_shrinks.clone(),
        );
        let isr_expands = Counter::default();
        registry.register(
            "fjord_isr_expands",
            "In-sync replica sets this broker expanded as a partition leader (cluster mode)",
            isr_expands.clone(),
        );
        registry.register(
            "fjord_connections_refused",
            "Connections closed at accept by a connection limit, by the limit",
            connections_refused.clone(),
        );
        registry.register(
            "fjord_client_throttled_requests",
            "Responses that carried a quota throttle time, by quota type, user and client id",
            throttled.clone(),
        );
        registry.register(
            "fjord_client_throttle_time_ms",
            "Total quota throttle time given to clients in milliseconds, by quota type, user and client id",
            throttle_ms.clone(),
        );
        // Registration order is exposition order: the attached gauges come
        // before the process ones.
        registry.register_collector(Box::new(SourceCollector {
            source: source.clone(),
        }));
        registry.register_collector(Box::new(process::ProcessCollector));
        let schema_registry = LateCollector::default();
        registry.register_collector(Box::new(schema_registry.clone()));
        Metrics {
            registry,
            requests,
            topics,
            connections,
            connections_opened,
            connections_refused,
            throttled,
            throttle_ms,
            source,
            schema_registry,
            denials,
            authentications,
            isr_shrinks,
            isr_expands,
            inter_broker_failures,
        }
    }

    /// Counts one failed connection to another broker.
    pub fn inter_broker_failure(&self, kind: &'static str) {
        self.inter_broker_failures
            .get_or_create(&ReasonLabel { reason: kind })
            .inc();
    }

    /// Counts one ISR change this broker committed as a leader.
    pub fn isr_changed(&self, shrink: bool) {
        if shrink {
            self.isr_shrinks.inc();
        } else {
            self.isr_expands.inc();
        }
    }

    /// Counts one SASL authentication the broker decided.
    pub fn authentication(&self, listener: &str, mechanism: &str, success: bool) {
        self.authentications
            .get_or_create(&AuthLabel {
                listener: listener.to_string(),
                mechanism: mechanism.to_string(),
                result: if success { "success" } else { "failure" },
            })
            .inc();
    }

    /// Counts one operation the authorizer refused.
    pub fn authorization_denied(&self, operation: &'static str, resource_type: &'static str) {
        self.denials
            .get_or_create(&DenialLabel {
                operation,
                resource_type,
            })
            .inc();
    }

    /// Adds the schema registry's metrics (once, when it starts).
    pub fn attach_schema_registry(&self, c: fjord_schema_registry::metrics::Collector) {
        self.schema_registry.set(c);
    }

    /// Plugs in the gauges read at scrape time from outside this module
    /// (the broker state, once after log recovery). Only the first call
    /// counts; later ones are ignored.
    pub fn attach(&self, source: Box<dyn ScrapeSource>) {
        let _ = self.source.set(source);
    }

    /// Counts a connection closed at accept by `limit`.
    pub fn connection_refused(&self, limit: &'static str) {
        self.connections_refused
            .get_or_create(&ReasonLabel { reason: limit })
            .inc();
    }

    /// Counts a response throttled for `ms` by the quota of `quota`.
    pub fn throttled(&self, quota: &'static str, user: &str, client_id: &str, ms: u64) {
        let l = ThrottleLabel {
            quota,
            user: user.to_string(),
            client_id: client_id.to_string(),
        };
        self.throttled.get_or_create(&l).inc();
        self.throttle_ms.get_or_create(&l).inc_by(ms);
    }

    /// Counts one handled request.
    pub fn observe_request(&self, key: ApiKey, version: i16, elapsed: Duration) {
        self.requests.observe(key, version, elapsed);
    }

    /// Counts a connection as open until the guard is dropped.
    pub fn connection_opened(&self) -> ConnectionGuard {
        self.connections.inc();
        self.connections_opened.inc();
        ConnectionGuard(self.connections.clone())
    }

    /// The counters of topic `name` (created at zero if new).
    pub fn topic(&self, name: &str) -> TopicMetrics {
        let label = TopicLabel {
            topic: name.to_string(),
        };
        TopicMetrics {
            messages_in: self.topics.messages_in.get_or_create_owned(&label),
            bytes_in: self.topics.bytes_in.get_or_create_owned(&label),
            messages_out: self.topics.messages_out.get_or_create_owned(&label),
            bytes_out: self.topics.bytes_out.get_or_create_owned(&label),
        }
    }

    /// Drops a deleted topic's series.
    pub fn forget_topic(&self, name: &str) {
        let label = TopicLabel {
            topic: name.to_string(),
        };
        self.topics.messages_in.remove(&label);
        self.topics.bytes_in.remove(&label);
        self.topics.messages_out.remove(&label);
        self.topics.bytes_out.remove(&label);
    }

    /// The exposition and its content type: OpenMetrics if the scraper's
    /// `Accept` header asks for it, else Prometheus text 0.0.4.
    pub fn encode(&self, accept: Option<&str>) -> (String, &'static str) {
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        if accept.is_some_and(|a| a.contains("application/openmetrics-text")) {
            (text, OPENMETRICS_CONTENT_TYPE)
        } else {
            (openmetrics_to_prometheus(&text), PROMETHEUS_CONTENT_TYPE)
        }
    }
}

/// Rewrites the OpenMetrics text this module produces as Prometheus text
/// 0.0.4: counter families take their `_total` sample name, `unknown`
/// becomes `untyped`, and `# UNIT` and `# EOF` lines go.
pub fn openmetrics_to_prometheus(text: &str) -> String {
    let counters: std::collections::HashSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(text.len() + 16 * counters.len());
    for line in text.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let rewritten = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            let tail = if *prefix == "# TYPE " && tail == "unknown" {
                "untyped"
            } else {
                tail
            };
            let suffix = if counters.contains(name) {
                "_total"
            } else {
                ""
            };
            Some(format!("{prefix}{name}{suffix} {tail}"))
        });
        match rewritten {
            Some(l) => out.push_str(&l),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Whether a request that took `elapsed` should be logged as slow, given
/// the configured `threshold` (zero: never). Requests that wait by design
/// are judged on their own terms: a Fetch may wait its `max_wait_ms` on top
/// of the threshold, and JoinGroup/SyncGroup (held until the other members
/// of the group arrive) are never slow for that.
pub fn is_slow(threshold: Duration, allowance: Option<Duration>, elapsed: Duration) -> bool {
    match allowance {
        Some(extra) if !threshold.is_zero() => elapsed > threshold.saturating_add(extra),
        _ => false,
    }
}

/// How long a request may wait by design before the slow-request threshold
/// starts counting; `None` for requests whose wait is unbounded by design.
pub fn wait_allowance(request: &Request) -> Option<Duration> {
    match request {
        Request::Fetch(f) => Some(Duration::from_millis(
            u64::try_from(f.max_wait_ms).unwrap_or(0),
        )),
        Request::JoinGroup(_) | Request::SyncGroup(_) => None,
        _ => Some(Duration::ZERO),
    }
}

// ---- Encoding helpers for collectors --------------------------------------

/// Encodes one gauge family from `(labels, value)` rows.
pub(crate) fn gauge_family<L: EncodeLabelSet, V: prometheus_client::encoding::EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    rows: impl Iterator<Item = (L, V)>,
) -> Result<(), std::fmt::Error> {
    let mut m = encoder.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (labels, v) in rows {
        m.encode_family(&labels)?.encode_gauge(&v)?;
    }
    Ok(())
}

/// Encodes one counter without labels.
pub(crate) fn counter_value<V: prometheus_client::encoding::EncodeCounterValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    v: V,
) -> Result<(), std::fmt::Error> {
    encoder
        .encode_descriptor(name, help, unit, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

/// Encodes one gauge without labels.
pub(crate) fn gauge_value<V: prometheus_client::encoding::EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    v: V,
) -> Result<(), std::fmt::Error> {
    encoder
        .encode_descriptor(name, help, unit, MetricType::Gauge)?
        .encode_gauge(&v)
}

/// A collector registered when `/metrics` is built and filled in when the
/// schema registry starts (the registry opens after the metrics exist).
#[derive(Debug, Clone, Default)]
pub struct LateCollector(Arc<OnceLock<fjord_schema_registry::metrics::Collector>>);

impl LateCollector {
    pub fn set(&self, c: fjord_schema_registry::metrics::Collector) {
        let _ = self.0.set(c);
    }
}

impl prometheus_client::collector::Collector for LateCollector {
    fn encode(
        &self,
        encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        match self.0.get() {
            Some(c) => c.encode(encoder),
            None => Ok(()),
        }
    }
}
