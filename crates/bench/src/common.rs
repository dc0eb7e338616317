//! Pieces shared by the subcommands: connection and producer options,
//! topic creation, payload generation, latency histograms and output.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use hdrhistogram::Histogram;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{Client, ClientContext};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::ProducerContext;
use rdkafka::types::RDKafkaErrorCode;
use serde::Serialize;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, BoxError>;

/// MB as used in every report: 2^20 bytes.
pub const MB: f64 = 1024.0 * 1024.0;

/// How results and progress are printed.
pub struct Output {
    pub json: bool,
    pub quiet: bool,
}

impl Output {
    /// A progress line on stderr (never mixed into the JSON on stdout).
    pub fn progress(&self, line: std::fmt::Arguments<'_>) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// Prints the final report: JSON on stdout, or the human lines.
    pub fn report<T: Serialize>(&self, value: &T, human: &str) {
        if self.json {
            match serde_json::to_string(value) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("fjord-bench: cannot serialize report: {e}"),
            }
        } else {
            print!("{human}");
        }
    }
}

/// Where the cluster is and extra librdkafka settings.
#[derive(Args, Clone, Debug)]
pub struct ConnArgs {
    /// Bootstrap servers, HOST:PORT[,HOST:PORT...].
    #[arg(
        long,
        short = 'b',
        env = "FJORD_BENCH_BROKERS",
        default_value = "127.0.0.1:9092"
    )]
    pub brokers: String,
    /// Topic to use.
    #[arg(long, short = 't')]
    pub topic: String,
    /// Extra librdkafka property KEY=VALUE for every client (repeatable);
    /// applied last, so it overrides the tool's own settings.
    #[arg(long = "property", short = 'X', value_parser = parse_kv)]
    pub properties: Vec<(String, String)>,
    /// Process id of the broker (on this machine): report its CPU time
    /// (user + system from /proc/PID/stat) per request, record and GB.
    #[arg(long, env = "FJORD_BENCH_BROKER_PID")]
    pub broker_pid: Option<u32>,
}

impl ConnArgs {
    /// A librdkafka config with bootstrap servers and the user's extras
    /// applied on top of `tuned`.
    pub fn client_config(&self, tuned: &[(&str, String)]) -> ClientConfig {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &self.brokers);
        cfg.set("client.id", "fjord-bench");
        let debug = self.properties.iter().any(|(k, _)| k == "debug");
        cfg.set_log_level(if debug {
            RDKafkaLogLevel::Debug
        } else {
            RDKafkaLogLevel::Warning
        });
        for (k, v) in tuned {
            cfg.set(*k, v);
        }
        for (k, v) in &self.properties {
            cfg.set(k, v);
        }
        cfg
    }
}

/// librdkafka's property that replaces the bootstrap servers with a mock
/// cluster running inside that one client instance.
pub const MOCK_BROKERS_PROPERTY: &str = "test.mock.num.brokers";

impl ConnArgs {
    /// With `-X test.mock.num.brokers=N` (N > 0) every client this tool
    /// creates gets its own mock cluster of N brokers inside the client
    /// (librdkafka's, no broker process): returns N.
    pub fn mock_brokers(&self) -> Option<i32> {
        self.properties
            .iter()
            .rev()
            .find(|(k, _)| k == MOCK_BROKERS_PROPERTY)
            .and_then(|(_, v)| v.parse::<i32>().ok())
            .filter(|n| *n > 0)
    }

    /// Refuses a subcommand that cannot work against a mock cluster: the
    /// mock lives inside one client instance, so a second client (a
    /// consumer, an admin client) would see a new, empty cluster.
    pub fn refuse_mock(&self, subcommand: &str) -> Result<()> {
        match self.mock_brokers() {
            Some(_) => Err(format!(
                "{subcommand} cannot run against librdkafka's mock cluster ({MOCK_BROKERS_PROPERTY}): \
                 the mock lives inside one client, so this run's clients would not share it"
            )
            .into()),
            None => Ok(()),
        }
    }
}

pub fn parse_kv(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

/// Topic creation options.
#[derive(Args, Clone, Debug)]
pub struct TopicArgs {
    /// Partitions of the topic; created with the AdminClient if missing.
    #[arg(long, short = 'p', default_value_t = 1)]
    pub partitions: i32,
    /// Replication factor used when creating the topic.
    #[arg(long, default_value_t = 1)]
    pub replication_factor: i32,
    /// Topic config KEY=VALUE used when creating the topic (repeatable),
    /// e.g. fjord.flush.before.ack=false.
    #[arg(long = "topic-config", value_parser = parse_kv)]
    pub topic_configs: Vec<(String, String)>,
    /// Do not try to create the topic.
    #[arg(long)]
    pub no_create: bool,
}

#[derive(Copy, Clone, Debug, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Acks {
    #[value(name = "all", alias = "-1")]
    All,
    #[value(name = "1")]
    #[serde(rename = "1")]
    One,
    #[value(name = "0")]
    #[serde(rename = "0")]
    Zero,
}

impl Acks {
    pub fn as_rdkafka(self) -> &'static str {
        match self {
            Acks::All => "-1",
            Acks::One => "1",
            Acks::Zero => "0",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Acks::All => "all",
            Acks::One => "1",
            Acks::Zero => "0",
        }
    }
}

#[derive(Copy, Clone, Debug, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    pub fn label(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

#[derive(Copy, Clone, Debug, ValueEnum, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionerKind {
    /// Null key: librdkafka's sticky partitioner fills one partition's
    /// batch at a time and moves on (sticky.partitioning.linger.ms).
    Sticky,
    /// Explicit partition, record i goes to partition i % N.
    RoundRobin,
}

/// Producer tuning shared by `produce` and `e2e`.
#[derive(Args, Clone, Debug)]
pub struct ProducerOpts {
    /// Value size of each record in bytes.
    #[arg(long, short = 's', default_value_t = 100)]
    pub record_size: usize,
    /// acks: all (-1), 1 or 0.
    #[arg(long, value_enum, default_value = "all")]
    pub acks: Acks,
    /// compression.type.
    #[arg(long, value_enum, default_value = "none")]
    pub compression: Compression,
    /// linger.ms: how long librdkafka waits to fill a batch.
    #[arg(long, default_value_t = 5.0)]
    pub linger_ms: f64,
    /// batch.size in bytes (max bytes of one partition's batch).
    #[arg(long, default_value_t = 1024 * 1024)]
    pub batch_size: usize,
    /// queue.buffering.max.messages: records librdkafka may buffer.
    #[arg(long, default_value_t = 1_000_000)]
    pub queue_max_messages: u64,
    /// queue.buffering.max.kbytes: bytes (KiB) librdkafka may buffer. Like
    /// the Java client's buffer.memory it bounds how long a record waits
    /// in the client, so produce latency at full throughput stays
    /// meaningful.
    #[arg(long, default_value_t = 65536)]
    pub queue_max_kbytes: u64,
    /// How records are spread over partitions.
    #[arg(long, value_enum, default_value = "sticky")]
    pub partitioner: PartitionerKind,
}

impl ProducerOpts {
    pub fn tuned_config(&self) -> Vec<(&'static str, String)> {
        // A produce request carries at most message.max.bytes; it must
        // exceed batch.size so that batch.size is the limit that applies.
        let message_max = (self.batch_size.max(self.record_size + 1024) + 4096).min(1_000_000_000);
        vec![
            ("acks", self.acks.as_rdkafka().to_string()),
            ("compression.type", self.compression.label().to_string()),
            ("linger.ms", format!("{}", self.linger_ms)),
            ("batch.size", self.batch_size.to_string()),
            ("message.max.bytes", message_max.to_string()),
            (
                "queue.buffering.max.messages",
                self.queue_max_messages.to_string(),
            ),
            (
                "queue.buffering.max.kbytes",
                self.queue_max_kbytes.to_string(),
            ),
            ("enable.idempotence", "false".to_string()),
            ("message.timeout.ms", "120000".to_string()),
            ("socket.send.buffer.bytes", "4194304".to_string()),
        ]
    }
}

/// Creates `topic` if it is missing and returns its partition count.
pub fn ensure_topic(conn: &ConnArgs, topic: &TopicArgs, out: &Output) -> Result<i32> {
    if !topic.no_create {
        let admin: AdminClient<LogContext> =
            conn.client_config(&[]).create_with_context(LogContext)?;
        let mut new_topic = NewTopic::new(
            &conn.topic,
            topic.partitions,
            TopicReplication::Fixed(topic.replication_factor),
        );
        for (k, v) in &topic.topic_configs {
            new_topic = new_topic.set(k, v);
        }
        let opts = AdminOptions::new()
            .request_timeout(Some(Duration::from_secs(30)))
            .operation_timeout(Some(Duration::from_secs(30)));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let results = rt.block_on(admin.create_topics([&new_topic], &opts))?;
        for r in results {
            match r {
                Ok(name) => out.progress(format_args!(
                    "created topic {name:?} with {} partitions",
                    topic.partitions
                )),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(format!("creating topic {name:?} failed: {code}").into())
                }
            }
        }
    }
    let found = partition_count(conn, Duration::from_secs(30))?;
    if found != topic.partitions {
        out.progress(format_args!(
            "warning: topic {:?} has {found} partitions, not the {} asked for",
            conn.topic, topic.partitions
        ));
    }
    Ok(found)
}

/// Creates `conn.topic` in the mock cluster inside `client` (made with
/// `-X test.mock.num.brokers=N`) and returns its partition count. The
/// mock answers no CreateTopics request, and an AdminClient would get a
/// mock cluster of its own, so the topic is made through the mock API of
/// the client that will use it (before that client asks for the topic's
/// metadata, which would auto-create it with the mock's default of 4
/// partitions). Topic configs do not apply to the mock.
pub fn create_mock_topic<C: ClientContext>(
    client: &Client<C>,
    conn: &ConnArgs,
    topic: &TopicArgs,
    out: &Output,
) -> Result<i32> {
    let mock = client.mock_cluster().ok_or_else(|| {
        format!("{MOCK_BROKERS_PROPERTY} is set but the client has no mock cluster")
    })?;
    if !topic.topic_configs.is_empty() {
        out.progress(format_args!(
            "warning: topic configs are ignored by the mock cluster"
        ));
    }
    match mock.create_topic(&conn.topic, topic.partitions, topic.replication_factor) {
        Ok(()) => {}
        Err(KafkaError::MockCluster(RDKafkaErrorCode::TopicAlreadyExists)) => {}
        Err(e) => return Err(format!("creating mock topic {:?}: {e}", conn.topic).into()),
    }
    out.progress(format_args!(
        "created topic {:?} with {} partitions in librdkafka's mock cluster ({})",
        conn.topic,
        topic.partitions,
        mock.bootstrap_servers()
    ));
    Ok(topic.partitions)
}

/// The number of partitions of `conn.topic`, waiting (up to `wait`) for
/// metadata to show it with leaders.
pub fn partition_count(conn: &ConnArgs, wait: Duration) -> Result<i32> {
    let consumer: BaseConsumer<LogContext> =
        conn.client_config(&[]).create_with_context(LogContext)?;
    let deadline = Instant::now() + wait;
    loop {
        let last_err: String =
            match consumer.fetch_metadata(Some(&conn.topic), Duration::from_secs(5)) {
                Ok(md) => match md.topics().iter().find(|t| t.name() == conn.topic) {
                    Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                        if t.partitions().iter().all(|p| p.leader() >= 0) {
                            return Ok(t.partitions().len() as i32);
                        }
                        "some partitions have no leader".into()
                    }
                    Some(t) => match t.error() {
                        Some(e) => format!("{:?}", RDKafkaErrorCode::from(e)),
                        None => "no partitions".into(),
                    },
                    None => "topic not in metadata".into(),
                },
                Err(e) => e.to_string(),
            };
        if Instant::now() >= deadline {
            return Err(format!("topic {:?}: {last_err}", conn.topic).into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Record values: slices of a buffer of random uppercase letters (like
/// Kafka's producer perf tool), so compression sees realistic data and
/// consecutive records differ.
pub struct PayloadPool {
    buf: Vec<u8>,
    size: usize,
    span: usize,
}

impl PayloadPool {
    pub fn new(size: usize) -> Self {
        let span = 1 << 20;
        let mut buf = Vec::with_capacity(span + size);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..span + size {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.push(b'A' + (x % 26) as u8);
        }
        PayloadPool { buf, size, span }
    }

    pub fn get(&self, i: u64) -> &[u8] {
        let off = (i.wrapping_mul(7919) % self.span as u64) as usize;
        &self.buf[off..off + self.size]
    }
}

pub fn new_histogram() -> Histogram<u64> {
    // Microseconds, 1 µs .. 1 h, 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Latency percentiles in milliseconds.
#[derive(Serialize, Clone, Debug, Default)]
pub struct Latency {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }

    pub fn human(&self) -> String {
        format!(
            "p50 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  (mean {:.2}, n={})",
            self.p50_ms, self.p99_ms, self.p999_ms, self.max_ms, self.mean_ms, self.count
        )
    }
}

/// Producer context: counts delivery reports and records the latency from
/// enqueue (the opaque carries nanoseconds since `start`) to the report.
pub struct DeliveryStats {
    pub start: Instant,
    pub delivered: AtomicU64,
    pub delivered_bytes: AtomicU64,
    pub errors: AtomicU64,
    pub first_error: Mutex<Option<String>>,
    pub latency_us: Mutex<Histogram<u64>>,
    /// Produce requests sent to all brokers, from librdkafka's latest
    /// statistics (`statistics.interval.ms`), and how many statistics
    /// reports arrived.
    pub produce_requests: AtomicU64,
    pub stats_reports: AtomicU64,
    /// When the latest delivery report arrived, nanoseconds since `start`
    /// (0: none yet).
    last_report_ns: AtomicU64,
}

impl DeliveryStats {
    pub fn new(start: Instant) -> Self {
        DeliveryStats {
            start,
            delivered: AtomicU64::new(0),
            delivered_bytes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            first_error: Mutex::new(None),
            latency_us: Mutex::new(new_histogram()),
            produce_requests: AtomicU64::new(0),
            stats_reports: AtomicU64::new(0),
            last_report_ns: AtomicU64::new(0),
        }
    }

    /// When the latest delivery report arrived. A run ends there, not when
    /// `flush` returns: rdkafka's `BaseProducer::flush` polls in steps of
    /// up to 100 ms, so it returns up to 100 ms after the last report.
    pub fn last_report(&self) -> Option<Instant> {
        match self.last_report_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(self.start + Duration::from_nanos(ns)),
        }
    }

    fn note_report(&self, now_ns: usize) {
        self.last_report_ns
            .fetch_max(now_ns as u64, Ordering::Relaxed);
    }

    /// Nanoseconds since `start`, the delivery opaque of a record.
    pub fn now_ns(&self) -> usize {
        self.start.elapsed().as_nanos() as usize
    }

    pub fn note_error(&self, msg: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_error.lock().unwrap();
        if first.is_none() {
            *first = Some(msg);
        }
    }
}

impl ClientContext for DeliveryStats {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        print_log(level, fac, msg);
    }
    fn stats_raw(&self, statistics: &[u8]) {
        if let Some(n) = produce_requests(statistics) {
            self.produce_requests.store(n, Ordering::Relaxed);
        }
        self.stats_reports.fetch_add(1, Ordering::Relaxed);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        eprintln!("librdkafka error: {error}: {reason}");
    }
}

/// librdkafka's log lines (warnings, or everything with `-X debug=...`)
/// go to stderr.
pub fn print_log(level: RDKafkaLogLevel, fac: &str, msg: &str) {
    eprintln!("librdkafka {level:?} {fac}: {msg}");
}

/// Context of consumers and admin clients: librdkafka logs to stderr.
pub struct LogContext;

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        print_log(level, fac, msg);
    }
}

impl ConsumerContext for LogContext {}

impl ProducerContext for DeliveryStats {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_ns: usize) {
        let now = self.now_ns();
        self.note_report(now);
        match result {
            Ok(msg) => {
                let us = (now.saturating_sub(sent_ns) / 1000) as u64;
                self.delivered.fetch_add(1, Ordering::Relaxed);
                let len = msg.payload_len() + msg.key().map_or(0, <[u8]>::len);
                self.delivered_bytes
                    .fetch_add(len as u64, Ordering::Relaxed);
                self.latency_us.lock().unwrap().saturating_record(us.max(1));
            }
            Err((e, _)) => self.note_error(e.to_string()),
        }
    }
}

/// Produce requests sent to all brokers, summed over librdkafka's
/// statistics JSON (`brokers.*.req.Produce`).
pub fn produce_requests(statistics: &[u8]) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_slice(statistics).ok()?;
    let brokers = v.get("brokers")?.as_object()?;
    Some(
        brokers
            .values()
            .filter_map(|b| b.get("req")?.get("Produce")?.as_u64())
            .sum(),
    )
}

pub fn rate(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn produce_requests_from_statistics() {
        let json = br#"{"brokers":{"a:1/1":{"req":{"Produce":7,"Fetch":2}},"b:2/2":{"req":{"Produce":5}},"GroupCoordinator":{"req":{}}}}"#;
        assert_eq!(produce_requests(json), Some(12));
        assert_eq!(produce_requests(b"not json"), None);
    }

    #[test]
    fn kv_pairs_parse() {
        assert_eq!(
            parse_kv("flush.messages = 10").unwrap(),
            ("flush.messages".to_string(), "10".to_string())
        );
        assert_eq!(parse_kv("a=b=c").unwrap().1, "b=c");
        assert!(parse_kv("novalue").is_err());
        assert!(parse_kv("=x").is_err());
    }

    #[test]
    fn payloads_have_the_size_and_vary() {
        let pool = PayloadPool::new(100);
        assert_eq!(pool.get(0).len(), 100);
        assert_eq!(pool.get(u64::MAX).len(), 100);
        assert_ne!(pool.get(0), pool.get(1));
        assert!(pool.get(7).iter().all(u8::is_ascii_uppercase));
    }

    #[test]
    fn latency_percentiles_in_ms() {
        let mut h = new_histogram();
        for us in 1..=1000u64 {
            h.record(us * 1000).unwrap();
        }
        let l = Latency::from_histogram(&h);
        assert_eq!(l.count, 1000);
        assert!((l.p50_ms - 500.0).abs() < 1.0, "{l:?}");
        assert!((l.p99_ms - 990.0).abs() < 2.0, "{l:?}");
        assert!((l.max_ms - 1000.0).abs() < 1.0, "{l:?}");
        assert_eq!(Latency::from_histogram(&new_histogram()).count, 0);
    }

    #[test]
    fn producer_config_fits_batches() {
        let opts = ProducerOpts {
            record_size: 100,
            acks: Acks::All,
            compression: Compression::Lz4,
            linger_ms: 5.0,
            batch_size: 1 << 20,
            queue_max_messages: 1_000_000,
            queue_max_kbytes: 65536,
            partitioner: PartitionerKind::Sticky,
        };
        let cfg = opts.tuned_config();
        let get = |k: &str| cfg.iter().find(|(n, _)| *n == k).unwrap().1.clone();
        assert_eq!(get("acks"), "-1");
        assert_eq!(get("compression.type"), "lz4");
        let max: usize = get("message.max.bytes").parse().unwrap();
        assert!(max > 1 << 20);
    }
}
