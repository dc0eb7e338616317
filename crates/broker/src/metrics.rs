//! Metrics for `/metrics` on the HTTP listener, built with the
//! `prometheus-client` crate.
//!
//! Two kinds, by where their cost falls:
//!
//! - Counters bumped on the request path: requests and latency per API,
//!   messages and bytes in/out per topic, connections. These are relaxed
//!   atomics reached without a lock or a map lookup: per-API slots are an
//!   array indexed by api key, and each [`Topic`](crate::state::Topic)
//!   carries its own [`TopicMetrics`] handles (clones of the counters in the
//!   registry's families), resolved once when the topic is opened.
//! - Gauges that describe state (partition offsets, consumer group offsets
//!   and lag, replica state, bytes on disk, process memory and CPU) are read
//!   from the broker at scrape time by collectors, so nothing on the hot
//!   path keeps them current.
//!
//! Partition and consumer group gauges use the names kafka_exporter
//! publishes (`kafka_topic_partition_current_offset`,
//! `kafka_consumergroup_lag`, ...), so existing dashboards work; the rest
//! are `fjord_*` and the standard `process_*` names.
//!
//! The registry encodes OpenMetrics text; [`Metrics::encode`] serves that
//! to scrapers that ask for it and the classic Prometheus text format
//! (version 0.0.4) to everyone else.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
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

use crate::state::BrokerState;

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

#[derive(Default)]
struct TopicFamilies {
    messages_in: Family<TopicLabel, Counter>,
    bytes_in: Family<TopicLabel, Counter>,
    messages_out: Family<TopicLabel, Counter>,
    bytes_out: Family<TopicLabel, Counter>,
}

/// Everything `/metrics` shows; one per broker.
pub struct Metrics {
    registry: Registry,
    requests: Arc<RequestTable>,
    topics: TopicFamilies,
    connections: Gauge,
    connections_opened: Counter,
    /// The broker, once its logs are open; state gauges are empty before.
    state: Arc<OnceLock<Weak<BrokerState>>>,
    /// The schema registry's collector, once it runs.
    schema_registry: crate::schemas::LateCollector,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
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
    /// Metrics for the APIs in the handler table.
    pub fn new() -> Metrics {
        let apis: Vec<(ApiKey, i16, i16)> = crate::handlers::HANDLERS
            .iter()
            .map(|h| (h.key, h.min_version, h.max_version))
            .collect();
        let requests = Arc::new(RequestTable::new(&apis));
        let topics = TopicFamilies::default();
        let connections = Gauge::default();
        let connections_opened = Counter::default();
        let state = Arc::new(OnceLock::new());
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
        registry.register_collector(Box::new(StateCollector {
            state: state.clone(),
        }));
        registry.register_collector(Box::new(ProcessCollector));
        let schema_registry = crate::schemas::LateCollector::default();
        registry.register_collector(Box::new(schema_registry.clone()));
        Metrics {
            registry,
            requests,
            topics,
            connections,
            connections_opened,
            state,
            schema_registry,
        }
    }

    /// Adds the schema registry's metrics (once, when it starts).
    pub fn attach_schema_registry(&self, c: fjord_schema_registry::metrics::Collector) {
        self.schema_registry.set(c);
    }

    /// Points the state collectors at the broker (once, after log recovery).
    pub fn attach(&self, state: &Arc<BrokerState>) {
        let _ = self.state.set(Arc::downgrade(state));
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

// ---- Collectors ------------------------------------------------------------

/// Encodes one gauge family from `(labels, value)` rows.
fn gauge_family<L: EncodeLabelSet, V: prometheus_client::encoding::EncodeGaugeValue>(
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

fn counter_value<V: prometheus_client::encoding::EncodeCounterValue>(
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

fn gauge_value<V: prometheus_client::encoding::EncodeGaugeValue>(
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

/// One partition as the gauges show it.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionRow {
    pub topic: Arc<str>,
    pub partition: i32,
    pub log_start: i64,
    pub log_end: i64,
    pub high_watermark: i64,
    pub size_bytes: u64,
    pub leader: i32,
    pub replicas: usize,
    pub in_sync: usize,
}

/// One committed offset as the gauges show it; `lag` is `None` when the
/// partition is not hosted here (deleted topic) or the offset is unset.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupOffsetRow {
    pub group: Arc<str>,
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    pub lag: Option<i64>,
}

/// What the state collector reads from the broker, in one pass.
#[derive(Debug, Default)]
pub struct StateSnapshot {
    pub node_id: i32,
    pub data_dir: PathBuf,
    /// (topic, partition count), sorted by topic.
    pub topics: Vec<(Arc<str>, usize)>,
    pub partitions: Vec<PartitionRow>,
    /// (group, members).
    pub groups: Vec<(Arc<str>, usize)>,
    pub group_offsets: Vec<GroupOffsetRow>,
}

/// Lag of a committed offset: high watermark − offset, never negative.
pub fn consumer_lag(high_watermark: i64, committed: i64) -> i64 {
    high_watermark.saturating_sub(committed).max(0)
}

impl StateSnapshot {
    pub fn read(state: &BrokerState) -> StateSnapshot {
        let mut snap = StateSnapshot {
            node_id: state.node_id,
            data_dir: state.config.data_dir.clone(),
            ..Default::default()
        };
        let mut hw_of = std::collections::HashMap::new();
        for t in state.all_topics() {
            let name: Arc<str> = Arc::from(t.name.as_str());
            snap.topics.push((name.clone(), t.partitions.len()));
            for p in &t.partitions {
                let (replicas, isr) = p.replica_sets(state.node_id);
                let hw = p.high_watermark();
                hw_of.insert((name.clone(), p.index), hw);
                snap.partitions.push(PartitionRow {
                    topic: name.clone(),
                    partition: p.index,
                    log_start: p.log.log_start_offset(),
                    log_end: p.log.log_end_offset(),
                    high_watermark: hw,
                    size_bytes: p.log.size_bytes(),
                    leader: state.node_id,
                    replicas: replicas.len(),
                    in_sync: isr.iter().filter(|r| replicas.contains(r)).count(),
                });
            }
        }
        for (group, _, _) in state.groups.list() {
            let gname: Arc<str> = Arc::from(group.as_str());
            let members = state.groups.describe(&group).map_or(0, |g| g.members.len());
            snap.groups.push((gname.clone(), members));
            let Ok(offsets) = state.groups.fetch_offsets(&group, None) else {
                continue;
            };
            for (topic, parts) in offsets {
                let tname: Arc<str> = Arc::from(topic.as_str());
                for (partition, committed) in parts {
                    let Some(c) = committed else { continue };
                    let lag = hw_of
                        .get(&(tname.clone(), partition))
                        .filter(|_| c.offset >= 0)
                        .map(|&hw| consumer_lag(hw, c.offset));
                    snap.group_offsets.push(GroupOffsetRow {
                        group: gname.clone(),
                        topic: tname.clone(),
                        partition,
                        offset: c.offset,
                        lag,
                    });
                }
            }
        }
        snap
    }

    /// Encodes the snapshot's gauge families.
    pub fn encode(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        gauge_value(
            encoder,
            "kafka_brokers",
            "Brokers in the cluster.",
            None,
            1i64,
        )?;
        gauge_family(
            encoder,
            "kafka_topic_partitions",
            "Partitions of the topic.",
            None,
            self.topics
                .iter()
                .map(|(t, n)| ([("topic", &**t)], *n as i64)),
        )?;
        gauge_family(
            encoder,
            "kafka_topic_partition_current_offset",
            "High watermark of the partition (the latest offset consumers see).",
            None,
            self.partitions.iter().map(|r| (part(r), r.high_watermark)),
        )?;
        gauge_family(
            encoder,
            "kafka_topic_partition_oldest_offset",
            "Log start offset of the partition.",
            None,
            self.partitions.iter().map(|r| (part(r), r.log_start)),
        )?;
        gauge_family(
            encoder,
            "fjord_partition_log_end_offset",
            "Offset the next appended record gets (may lead the high watermark until the write is durable).",
            None,
            self.partitions.iter().map(|r| (part(r), r.log_end)),
        )?;
        gauge_family(
            encoder,
            "fjord_partition_high_watermark",
            "High watermark of the partition.",
            None,
            self.partitions.iter().map(|r| (part(r), r.high_watermark)),
        )?;
        gauge_family(
            encoder,
            "fjord_partition_log_size",
            "Bytes of the partition's log segments.",
            Some(&Unit::Bytes),
            self.partitions.iter().map(|r| (part(r), r.size_bytes)),
        )?;
        gauge_family(
            encoder,
            "kafka_topic_partition_leader",
            "Node id of the partition's leader.",
            None,
            self.partitions.iter().map(|r| (part(r), r.leader)),
        )?;
        gauge_family(
            encoder,
            "kafka_topic_partition_replicas",
            "Replicas of the partition.",
            None,
            self.partitions.iter().map(|r| (part(r), r.replicas as i64)),
        )?;
        gauge_family(
            encoder,
            "kafka_topic_partition_in_sync_replica",
            "In-sync replicas of the partition.",
            None,
            self.partitions.iter().map(|r| (part(r), r.in_sync as i64)),
        )?;
        gauge_family(
            encoder,
            "kafka_topic_partition_under_replicated_partition",
            "1 if the partition has fewer in-sync replicas than replicas.",
            None,
            self.partitions
                .iter()
                .map(|r| (part(r), i64::from(r.in_sync < r.replicas))),
        )?;
        let dir = self.data_dir.display().to_string();
        let total: u64 = self.partitions.iter().map(|r| r.size_bytes).sum();
        gauge_family(
            encoder,
            "fjord_log_dir_size",
            "Bytes of log segments in the log directory.",
            Some(&Unit::Bytes),
            std::iter::once(([("dir", dir.as_str())], total)),
        )?;
        if let Some((size, avail)) = filesystem_space(&self.data_dir) {
            gauge_family(
                encoder,
                "fjord_log_dir_filesystem_size",
                "Size of the filesystem holding the log directory.",
                Some(&Unit::Bytes),
                std::iter::once(([("dir", dir.as_str())], size)),
            )?;
            gauge_family(
                encoder,
                "fjord_log_dir_filesystem_available",
                "Bytes available to the broker on the filesystem holding the log directory.",
                Some(&Unit::Bytes),
                std::iter::once(([("dir", dir.as_str())], avail)),
            )?;
        }
        gauge_family(
            encoder,
            "kafka_consumergroup_members",
            "Members of the consumer group.",
            None,
            self.groups
                .iter()
                .map(|(g, n)| ([("consumergroup", &**g)], *n as i64)),
        )?;
        gauge_family(
            encoder,
            "kafka_consumergroup_current_offset",
            "Committed offset of the consumer group for the partition.",
            None,
            self.group_offsets.iter().map(|r| (gpart(r), r.offset)),
        )?;
        gauge_family(
            encoder,
            "kafka_consumergroup_lag",
            "High watermark minus the committed offset (never negative).",
            None,
            self.group_offsets
                .iter()
                .filter_map(|r| Some((gpart(r), r.lag?))),
        )?;
        // Per (group, topic) sums, as kafka_exporter adds them.
        let mut sums: std::collections::BTreeMap<(&str, &str), (i64, i64)> = Default::default();
        for r in &self.group_offsets {
            let e = sums.entry((&*r.group, &*r.topic)).or_default();
            e.0 = e.0.saturating_add(r.offset.max(0));
            e.1 = e.1.saturating_add(r.lag.unwrap_or(0));
        }
        gauge_family(
            encoder,
            "kafka_consumergroup_current_offset_sum",
            "Sum of the consumer group's committed offsets over the topic's partitions.",
            None,
            sums.iter()
                .map(|((g, t), v)| ([("consumergroup", *g), ("topic", *t)], v.0)),
        )?;
        gauge_family(
            encoder,
            "kafka_consumergroup_lag_sum",
            "Sum of the consumer group's lag over the topic's partitions.",
            None,
            sums.iter()
                .map(|((g, t), v)| ([("consumergroup", *g), ("topic", *t)], v.1)),
        )?;
        Ok(())
    }
}

type PartLabels<'a> = ([(&'static str, &'a str); 1], [(&'static str, i32); 1]);

fn part(r: &PartitionRow) -> PartLabels<'_> {
    ([("topic", &*r.topic)], [("partition", r.partition)])
}

type GroupLabels<'a> = ([(&'static str, &'a str); 2], [(&'static str, i32); 1]);

fn gpart(r: &GroupOffsetRow) -> GroupLabels<'_> {
    (
        [("consumergroup", &*r.group), ("topic", &*r.topic)],
        [("partition", r.partition)],
    )
}

/// (size, available) bytes of the filesystem holding `path`.
// statvfs field types differ between platforms (u64 here, u32 elsewhere).
#[allow(clippy::unnecessary_cast)]
fn filesystem_space(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated path and `st` is a writable
    // statvfs buffer; it is read only if the call succeeded.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled the buffer.
    let st = unsafe { st.assume_init() };
    let frsize = st.f_frsize as u64;
    Some((
        (st.f_blocks as u64).saturating_mul(frsize),
        (st.f_bavail as u64).saturating_mul(frsize),
    ))
}

/// Partition, topic and consumer group gauges, read at scrape time.
#[derive(Debug)]
struct StateCollector {
    state: Arc<OnceLock<Weak<BrokerState>>>,
}

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(state) = self.state.get().and_then(Weak::upgrade) else {
            return Ok(());
        };
        StateSnapshot::read(&state).encode(&mut encoder)
    }
}

/// What `/proc/self` says about this process.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProcessStats {
    pub resident_bytes: Option<u64>,
    pub virtual_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub threads: Option<u64>,
    pub start_time_seconds: Option<f64>,
    pub open_fds: Option<u64>,
}

/// Parses `/proc/self/statm` (sizes in pages) into (virtual, resident) bytes.
pub fn parse_statm(text: &str, page_size: u64) -> Option<(u64, u64)> {
    let mut it = text.split_whitespace().map(|f| f.parse::<u64>().ok());
    let size = it.next()??;
    let resident = it.next()??;
    Some((
        size.saturating_mul(page_size),
        resident.saturating_mul(page_size),
    ))
}

/// Parses `/proc/self/stat` into (user+system CPU ticks, threads, start
/// time in ticks since boot). The command name may hold spaces and
/// parentheses, so fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<(u64, u64, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime is field 14, stime 15,
    // num_threads 20, starttime 22.
    let get = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    Some((get(14)?.saturating_add(get(15)?), get(20)?, get(22)?))
}

impl ProcessStats {
    pub fn read() -> ProcessStats {
        let mut s = ProcessStats::default();
        // SAFETY: sysconf only reads configuration values.
        let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        // SAFETY: as above.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if let Ok(text) = std::fs::read_to_string("/proc/self/statm") {
            if let Some((virt, res)) = parse_statm(&text, u64::try_from(page_size).unwrap_or(4096))
            {
                s.virtual_bytes = Some(virt);
                s.resident_bytes = Some(res);
            }
        }
        let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
        if let Some((cpu, threads, start)) = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .as_deref()
            .and_then(parse_stat)
        {
            s.cpu_seconds = Some(cpu as f64 / ticks);
            s.threads = Some(threads);
            let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("btime "))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            });
            s.start_time_seconds = boot.map(|b| b as f64 + start as f64 / ticks);
        }
        s.open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64);
        s
    }
}

/// The standard `process_*` metrics, read from `/proc` at scrape time.
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = ProcessStats::read();
        let e = &mut encoder;
        if let Some(v) = s.resident_bytes {
            gauge_value(
                e,
                "process_resident_memory",
                "Resident memory size.",
                Some(&Unit::Bytes),
                v,
            )?;
        }
        if let Some(v) = s.virtual_bytes {
            gauge_value(
                e,
                "process_virtual_memory",
                "Virtual memory size.",
                Some(&Unit::Bytes),
                v,
            )?;
        }
        if let Some(v) = s.cpu_seconds {
            counter_value(
                e,
                "process_cpu",
                "User and system CPU time spent.",
                Some(&Unit::Seconds),
                v,
            )?;
        }
        if let Some(v) = s.threads {
            gauge_value(e, "process_threads", "OS threads of the process.", None, v)?;
        }
        if let Some(v) = s.open_fds {
            gauge_value(e, "process_open_fds", "Open file descriptors.", None, v)?;
        }
        if let Some(v) = s.start_time_seconds {
            gauge_value(
                e,
                "process_start_time",
                "Start time of the process since the Unix epoch.",
                Some(&Unit::Seconds),
                v,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposition(m: &Metrics) -> String {
        m.encode(None).0
    }

    fn sample(text: &str, prefix: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(prefix) && l[prefix.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn histogram_buckets_are_le() {
        let h = LatencyHistogram::new();
        h.observe(Duration::from_micros(100)); // exactly on the first bound
        h.observe(Duration::from_micros(101));
        h.observe(Duration::from_secs(60)); // past the last bound
        let (sum, count, buckets) = h.snapshot();
        assert_eq!(count, 3);
        assert_eq!(buckets[0], (0.0001, 1));
        assert_eq!(buckets[1], (0.00025, 1));
        assert_eq!(buckets.last().map(|b| b.1), Some(1));
        assert!(buckets.last().is_some_and(|b| b.0.is_infinite()));
        assert!((sum - 60.000201).abs() < 1e-6, "{sum}");
    }

    #[test]
    fn request_counts_by_api_and_version() {
        let m = Metrics::new();
        m.observe_request(ApiKey::Produce, 9, Duration::from_millis(3));
        m.observe_request(ApiKey::Produce, 9, Duration::from_millis(30));
        m.observe_request(ApiKey::Metadata, 12, Duration::from_micros(50));
        // Outside the served range or not served: ignored, no panic.
        m.observe_request(ApiKey::Produce, 100, Duration::from_millis(1));
        m.observe_request(ApiKey::Produce, -1, Duration::from_millis(1));
        m.observe_request(ApiKey::ReadShareGroupStateSummary, 0, Duration::ZERO);
        let text = exposition(&m);
        assert!(
            text.contains("# TYPE fjord_requests_total counter"),
            "{text}"
        );
        assert_eq!(
            sample(&text, r#"fjord_requests_total{api="Produce",version="9"}"#),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"fjord_requests_total{api="Metadata",version="12"}"#
            ),
            Some(1.0)
        );
        // Three Produce observations made it into the histogram (the one
        // with an unknown version still has a latency).
        assert_eq!(
            sample(
                &text,
                r#"fjord_request_duration_seconds_count{api="Produce"}"#
            ),
            Some(4.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"fjord_request_duration_seconds_bucket{le="0.005",api="Produce"}"#
            ),
            Some(3.0)
        );
        assert!(!text.contains(r#"api="Fetch""#), "unused APIs are left out");
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn topic_counters_are_shared_handles() {
        let m = Metrics::new();
        let a = m.topic("orders");
        let b = m.topic("orders");
        a.produced(10, 1000);
        b.produced(5, 500);
        a.fetched(7, 700);
        let text = exposition(&m);
        assert_eq!(
            sample(&text, r#"fjord_topic_messages_in_total{topic="orders"}"#),
            Some(15.0)
        );
        assert_eq!(
            sample(&text, r#"fjord_topic_bytes_in_total{topic="orders"}"#),
            Some(1500.0)
        );
        assert_eq!(
            sample(&text, r#"fjord_topic_messages_out_total{topic="orders"}"#),
            Some(7.0)
        );
        assert_eq!(
            sample(&text, r#"fjord_topic_bytes_out_total{topic="orders"}"#),
            Some(700.0)
        );
        m.forget_topic("orders");
        assert!(!exposition(&m).contains(r#"topic="orders""#));
    }

    #[test]
    fn connection_gauge_follows_guards() {
        let m = Metrics::new();
        let g1 = m.connection_opened();
        let g2 = m.connection_opened();
        assert_eq!(sample(&exposition(&m), "fjord_connections"), Some(2.0));
        drop(g1);
        assert_eq!(sample(&exposition(&m), "fjord_connections"), Some(1.0));
        drop(g2);
        let text = exposition(&m);
        assert_eq!(sample(&text, "fjord_connections"), Some(0.0));
        assert_eq!(sample(&text, "fjord_connections_opened_total"), Some(2.0));
    }

    #[test]
    fn openmetrics_is_kept_for_scrapers_that_ask() {
        let m = Metrics::new();
        m.topic("t").produced(1, 1);
        let (text, ct) = m.encode(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        ));
        assert_eq!(ct, OPENMETRICS_CONTENT_TYPE);
        assert!(text.ends_with("# EOF\n"));
        assert!(text.contains("# TYPE fjord_topic_messages_in counter"));
        assert!(text.contains("# UNIT fjord_request_duration_seconds seconds"));
        let (_, ct) = m.encode(Some("text/plain"));
        assert_eq!(ct, PROMETHEUS_CONTENT_TYPE);
    }

    #[test]
    fn conversion_to_prometheus_text() {
        let om = "# HELP a_bytes Some help.\n# TYPE a_bytes counter\n# UNIT a_bytes bytes\na_bytes_total{x=\"1\"} 5\n# HELP g Gauge.\n# TYPE g gauge\ng 1\n# HELP u U.\n# TYPE u unknown\nu 2\n# EOF\n";
        assert_eq!(
            openmetrics_to_prometheus(om),
            "# HELP a_bytes_total Some help.\n# TYPE a_bytes_total counter\na_bytes_total{x=\"1\"} 5\n# HELP g Gauge.\n# TYPE g gauge\ng 1\n# HELP u U.\n# TYPE u untyped\nu 2\n"
        );
    }

    #[test]
    fn lag_is_never_negative() {
        assert_eq!(consumer_lag(10, 4), 6);
        assert_eq!(consumer_lag(10, 10), 0);
        // A commit past the high watermark (e.g. after truncation).
        assert_eq!(consumer_lag(10, 12), 0);
        assert_eq!(consumer_lag(i64::MAX, -5), i64::MAX);
    }

    #[test]
    fn state_snapshot_encodes_kafka_exporter_names() {
        let snap = StateSnapshot {
            node_id: 1,
            data_dir: PathBuf::from("/nonexistent/fjord-data"),
            topics: vec![(Arc::from("t"), 2)],
            partitions: vec![
                PartitionRow {
                    topic: Arc::from("t"),
                    partition: 0,
                    log_start: 2,
                    log_end: 11,
                    high_watermark: 10,
                    size_bytes: 700,
                    leader: 1,
                    replicas: 1,
                    in_sync: 1,
                },
                PartitionRow {
                    topic: Arc::from("t"),
                    partition: 1,
                    log_start: 0,
                    log_end: 0,
                    high_watermark: 0,
                    size_bytes: 0,
                    leader: 1,
                    replicas: 1,
                    in_sync: 0,
                },
            ],
            groups: vec![(Arc::from("g\"1"), 3)],
            group_offsets: vec![
                GroupOffsetRow {
                    group: Arc::from("g\"1"),
                    topic: Arc::from("t"),
                    partition: 0,
                    offset: 4,
                    lag: Some(6),
                },
                GroupOffsetRow {
                    group: Arc::from("g\"1"),
                    topic: Arc::from("gone"),
                    partition: 0,
                    offset: 9,
                    lag: None,
                },
            ],
        };
        let mut text = String::new();
        {
            struct C(StateSnapshot);
            impl std::fmt::Debug for C {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("C")
                }
            }
            impl Collector for C {
                fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
                    self.0.encode(&mut e)
                }
            }
            let mut r = Registry::default();
            r.register_collector(Box::new(C(snap)));
            prometheus_client::encoding::text::encode(&mut text, &r).unwrap();
        }
        let p = |s: &str| sample(&text, s);
        assert_eq!(p(r#"kafka_topic_partitions{topic="t"}"#), Some(2.0));
        assert_eq!(
            p(r#"kafka_topic_partition_current_offset{topic="t",partition="0"}"#),
            Some(10.0)
        );
        assert_eq!(
            p(r#"kafka_topic_partition_oldest_offset{topic="t",partition="0"}"#),
            Some(2.0)
        );
        assert_eq!(
            p(r#"fjord_partition_log_end_offset{topic="t",partition="0"}"#),
            Some(11.0)
        );
        assert_eq!(
            p(r#"kafka_topic_partition_under_replicated_partition{topic="t",partition="0"}"#),
            Some(0.0)
        );
        assert_eq!(
            p(r#"kafka_topic_partition_under_replicated_partition{topic="t",partition="1"}"#),
            Some(1.0)
        );
        assert_eq!(
            p(r#"fjord_log_dir_size_bytes{dir="/nonexistent/fjord-data"}"#),
            Some(700.0)
        );
        // Group ids are escaped in label values.
        assert_eq!(
            p(
                r#"kafka_consumergroup_current_offset{consumergroup="g\"1",topic="t",partition="0"}"#
            ),
            Some(4.0)
        );
        assert_eq!(
            p(r#"kafka_consumergroup_lag{consumergroup="g\"1",topic="t",partition="0"}"#),
            Some(6.0)
        );
        assert!(!text.contains(r#"kafka_consumergroup_lag{consumergroup="g\"1",topic="gone""#));
        assert_eq!(
            p(r#"kafka_consumergroup_lag_sum{consumergroup="g\"1",topic="t"}"#),
            Some(6.0)
        );
        assert_eq!(
            p(r#"kafka_consumergroup_members{consumergroup="g\"1"}"#),
            Some(3.0)
        );
    }

    #[test]
    fn snapshot_reads_broker_state() {
        use fjord_group_coordinator::OffsetToCommit;
        let dir =
            std::env::temp_dir().join(format!("fjord-metrics-test-{}", rand::random::<u64>()));
        let config = crate::config::BrokerConfig {
            data_dir: dir.clone(),
            ..Default::default()
        };
        let state = Arc::new(BrokerState::open(config).unwrap());
        state.metrics.attach(&state);
        let topic = state
            .create_topic("orders", 2, std::collections::BTreeMap::new())
            .unwrap();
        let p0 = &topic.partitions[0];
        let mut b = fjord_protocol::records::BatchBuilder::default();
        for i in 0..10u8 {
            b.append(1_700_000_000_000, None, Some(&[i]), &[]).unwrap();
        }
        let mut buf = bytes::BytesMut::from(&b.build().unwrap()[..]);
        let info = p0.log.append(&mut buf, p0.leader_epoch, 0).unwrap();
        p0.log.sync_to(info.last_offset + 1).unwrap();
        p0.advance_high_watermark(p0.log.durable_offset());
        let commit = |partition, offset| OffsetToCommit {
            topic: "orders".into(),
            partition,
            offset,
            leader_epoch: -1,
            metadata: None,
        };
        // A simple (generation -1) consumer: 4 of 10 on partition 0, and an
        // offset past the end of partition 1 (lag clamps at 0).
        let (errs, _) = state.groups.commit_offsets(
            "billing",
            -1,
            "",
            None,
            &[commit(0, 4), commit(1, 7)],
            crate::handlers::now_ms(),
        );
        assert!(
            errs.iter().all(|e| *e == fjord_protocol::ErrorCode::None),
            "{errs:?}"
        );

        let snap = StateSnapshot::read(&state);
        let row = snap
            .partitions
            .iter()
            .find(|r| &*r.topic == "orders" && r.partition == 0)
            .cloned()
            .unwrap();
        assert_eq!(
            (row.log_start, row.log_end, row.high_watermark),
            (0, 10, 10)
        );
        assert!(row.size_bytes > 0);
        assert_eq!(
            (row.replicas, row.in_sync, row.leader),
            (1, 1, state.node_id)
        );
        assert!(snap.topics.iter().any(|(t, n)| &**t == "orders" && *n == 2));
        let lag = |p| {
            snap.group_offsets
                .iter()
                .find(|r| &*r.group == "billing" && r.partition == p)
                .map(|r| (r.offset, r.lag))
        };
        assert_eq!(lag(0), Some((4, Some(6))));
        assert_eq!(lag(1), Some((7, Some(0))));

        let text = state.metrics.encode(None).0;
        assert_eq!(
            sample(
                &text,
                r#"kafka_consumergroup_lag{consumergroup="billing",topic="orders",partition="0"}"#
            ),
            Some(6.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"kafka_topic_partition_current_offset{topic="orders",partition="0"}"#
            ),
            Some(10.0)
        );
        assert!(text.contains("process_resident_memory_bytes"));
        state.close_all();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn slow_request_threshold_is_configurable() {
        let mut c = crate::config::BrokerConfig::default();
        assert_eq!(c.slow_request_ms, 1000);
        assert!(c.set("fjord.slow.request.ms", "250").unwrap());
        assert_eq!(c.slow_request_ms, 250);
        assert!(c.set("fjord.slow.request.ms", "-1").is_err());
    }

    /// The request-path cost: `cargo nextest run --release -p fjord-broker
    /// --run-ignored only hot_path_cost --no-capture`.
    #[test]
    #[ignore = "timing, run by hand"]
    fn hot_path_cost() {
        let m = Metrics::new();
        let t = m.topic("bench");
        let n = 10_000_000u32;
        let start = std::time::Instant::now();
        for i in 0..n {
            let d = Duration::from_nanos(u64::from(i % 5_000_000));
            m.observe_request(ApiKey::Produce, 9, d);
            t.produced(10, 1024);
        }
        let per = start.elapsed() / n;
        eprintln!("observe_request + TopicMetrics::produced: {per:?} per request (1 thread)");
        let m = Arc::new(m);
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                let t = t.clone();
                std::thread::spawn(move || {
                    let start = std::time::Instant::now();
                    for i in 0..n / 2 {
                        m.observe_request(ApiKey::Produce, 9, Duration::from_nanos(u64::from(i)));
                        t.produced(10, 1024);
                    }
                    start.elapsed() / (n / 2)
                })
            })
            .collect();
        for h in threads {
            let per = h.join().unwrap();
            eprintln!("same, 2 threads contending: {per:?} per request");
        }
    }

    #[test]
    fn proc_parsers() {
        assert_eq!(
            parse_statm("100 25 3 1 0 40 0\n", 4096),
            Some((409_600, 102_400))
        );
        assert_eq!(parse_statm("garbage", 4096), None);
        assert_eq!(parse_statm("", 4096), None);
        // A command name with spaces and a ')' in it.
        let stat = "1234 (fj (or) d) S 1 1234 1234 0 -1 4194560 500 0 0 0 150 50 0 0 20 0 7 0 4242 1000 200 18446744073709551615";
        assert_eq!(parse_stat(stat), Some((200, 7, 4242)));
        assert_eq!(parse_stat("no paren"), None);
        assert_eq!(parse_stat("1 (x) S 1"), None);
    }

    #[test]
    fn process_stats_read_here() {
        let s = ProcessStats::read();
        if cfg!(target_os = "linux") {
            assert!(s.resident_bytes.is_some_and(|r| r > 0));
            assert!(s.cpu_seconds.is_some());
            assert!(s.open_fds.is_some_and(|n| n > 0));
        }
    }

    #[test]
    fn slow_requests() {
        let t = Duration::from_millis(1000);
        let ms = Duration::from_millis;
        assert!(is_slow(t, Some(Duration::ZERO), ms(1001)));
        assert!(!is_slow(t, Some(Duration::ZERO), ms(999)));
        // A Fetch may wait its max_wait_ms first.
        assert!(!is_slow(t, Some(ms(500)), ms(1400)));
        assert!(is_slow(t, Some(ms(500)), ms(1600)));
        // Held JoinGroup/SyncGroup never count; threshold 0 disables.
        assert!(!is_slow(t, None, ms(60_000)));
        assert!(!is_slow(Duration::ZERO, Some(Duration::ZERO), ms(60_000)));
    }
}
