//! Counters, the exposition formats, slow-request rules and `/proc`
//! parsing.

use std::sync::Arc;
use std::time::Duration;

use fjord_protocol::ApiKey;

use super::process::ProcessStats;
use super::*;

/// Metrics for the broker's own API table.
fn broker_metrics() -> Metrics {
    Metrics::new(&crate::handlers::served_versions())
}

fn exposition(m: &Metrics) -> String {
    m.encode(None).0
}

pub(crate) fn sample(text: &str, prefix: &str) -> Option<f64> {
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
    let m = broker_metrics();
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
    let m = broker_metrics();
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
    let m = broker_metrics();
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
    let m = broker_metrics();
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
    let m = broker_metrics();
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

#[test]
fn counts_only_the_apis_it_is_given() {
    let m = Metrics::new(&[(ApiKey::Produce, 3, 9)]);
    m.observe_request(ApiKey::Produce, 9, Duration::from_millis(1));
    m.observe_request(ApiKey::Fetch, 12, Duration::from_millis(1));
    let text = exposition(&m);
    assert_eq!(
        sample(&text, r#"fjord_requests_total{api="Produce",version="9"}"#),
        Some(1.0)
    );
    assert!(!text.contains(r#"api="Fetch""#), "{text}");
}

#[test]
fn attached_source_is_encoded_before_process_gauges() {
    struct Fixed(i64);
    impl ScrapeSource for Fixed {
        fn encode(&self, e: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
            gauge_value(e, "test_attached", "A fixed gauge.", None, self.0)
        }
    }
    let m = Metrics::new(&[]);
    assert!(!exposition(&m).contains("test_attached"));
    m.attach(Box::new(Fixed(7)));
    // Only the first source counts.
    m.attach(Box::new(Fixed(8)));
    let text = exposition(&m);
    assert_eq!(sample(&text, "test_attached"), Some(7.0));
    let at = |s: &str| text.find(s).unwrap_or(usize::MAX);
    assert!(at("# TYPE fjord_connections_opened_total") < at("# TYPE test_attached"));
    if cfg!(target_os = "linux") {
        assert!(at("# TYPE test_attached") < at("# TYPE process_"), "{text}");
    }
}

/// The registry and counters know nothing of the broker: neither
/// `metrics.rs` nor its process gauges import anything of this crate, so
/// `state` → `metrics` and `metrics_state` → {`state`, `metrics`} is a DAG.
#[test]
fn counters_module_imports_nothing_of_the_broker() {
    for (file, text) in [
        ("metrics.rs", include_str!("../metrics.rs")),
        ("metrics/process.rs", include_str!("process.rs")),
    ] {
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            assert!(!code.contains("crate::"), "{file}: {line}");
        }
    }
}
