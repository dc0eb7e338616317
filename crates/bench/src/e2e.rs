//! `e2e`: a producer at a fixed rate writes the send time into the first 8
//! bytes of each value; an assign-only consumer (started at the current end
//! of every partition) measures the time until it sees each record.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use crate::common::{
    ensure_topic, new_histogram, rate, ConnArgs, DeliveryStats, Latency, LogContext, Output,
    PartitionerKind, PayloadPool, ProducerOpts, Result, TopicArgs, MB,
};

#[derive(Args, Debug)]
pub struct E2eArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub topic: TopicArgs,
    #[command(flatten)]
    pub producer: ProducerOpts,
    /// Number of records (default 100,000 unless --duration).
    #[arg(long, short = 'n')]
    pub count: Option<u64>,
    /// Send for at most this many seconds (with --count: whichever comes
    /// first).
    #[arg(long, short = 'd')]
    pub duration: Option<f64>,
    /// Records per second the producer sends.
    #[arg(long, default_value_t = 10_000)]
    pub rate: u64,
    /// fetch.wait.max.ms of the consumer.
    #[arg(long, default_value_t = 100)]
    pub fetch_wait_max_ms: u64,
    /// Give up waiting for records this many seconds after the last one.
    #[arg(long, default_value_t = 10.0)]
    pub idle_timeout: f64,
}

#[derive(Serialize)]
struct E2eReport<'a> {
    mode: &'static str,
    brokers: &'a str,
    topic: &'a str,
    partitions: i32,
    record_size: usize,
    acks: &'static str,
    linger_ms: f64,
    target_rate: u64,
    sent: u64,
    delivered: u64,
    consumed: u64,
    errors: u64,
    first_error: Option<String>,
    elapsed_s: f64,
    msgs_per_sec: f64,
    mb_per_sec: f64,
    produce_latency: Latency,
    e2e_latency: Latency,
}

struct ConsumerResult {
    consumed: u64,
    errors: u64,
    first_error: Option<String>,
    latency: Latency,
}

pub fn run(args: E2eArgs, out: &Output) -> Result<bool> {
    args.conn.refuse_mock("e2e")?;
    let opts = &args.producer;
    if opts.record_size < 8 {
        return Err("e2e needs --record-size of at least 8 (the send timestamp)".into());
    }
    let partitions = ensure_topic(&args.conn, &args.topic, out)?;
    let topic = args.conn.topic.clone();

    let consumer: BaseConsumer<LogContext> = args
        .conn
        .client_config(&[
            ("group.id", format!("fjord-bench-{}", std::process::id())),
            ("enable.auto.commit", "false".to_string()),
            ("enable.auto.offset.store", "false".to_string()),
            ("fetch.min.bytes", "1".to_string()),
            ("fetch.wait.max.ms", args.fetch_wait_max_ms.to_string()),
            ("check.crcs", "false".to_string()),
        ])
        .create_with_context(LogContext)?;
    consumer.fetch_metadata(Some(&topic), Duration::from_secs(10))?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        let (_, high) = consumer.fetch_watermarks(&topic, p, Duration::from_secs(10))?;
        tpl.add_partition_offset(&topic, p, Offset::Offset(high))?;
    }
    consumer.assign(&tpl)?;

    let start = Instant::now();
    let ready = Arc::new(AtomicBool::new(false));
    // Number of records delivered; u64::MAX while the producer still runs.
    let target = Arc::new(AtomicU64::new(u64::MAX));
    let idle_timeout = Duration::from_secs_f64(args.idle_timeout);
    let consumer_thread = {
        let ready = Arc::clone(&ready);
        let target = Arc::clone(&target);
        std::thread::spawn(move || consume_loop(consumer, start, &ready, &target, idle_timeout))
    };
    while !ready.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(10));
    }

    let producer: BaseProducer<DeliveryStats> = args
        .conn
        .client_config(&opts.tuned_config())
        .create_with_context(DeliveryStats::new(start))?;
    producer
        .client()
        .fetch_metadata(Some(&topic), Duration::from_secs(10))?;
    let stats = Arc::clone(producer.context());
    let count = match (args.count, args.duration) {
        (Some(n), _) => Some(n),
        (None, None) => Some(100_000),
        (None, Some(_)) => None,
    };
    let pool = PayloadPool::new(opts.record_size);
    let mut value = vec![0u8; opts.record_size];
    let produce_start = Instant::now();
    let deadline = args
        .duration
        .map(|d| produce_start + Duration::from_secs_f64(d));
    let per_record = if args.rate > 0 {
        1.0 / args.rate as f64
    } else {
        0.0
    };
    let mut next_progress = produce_start + Duration::from_secs(1);
    let mut sent: u64 = 0;
    loop {
        if count.is_some_and(|n| sent >= n) {
            break;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break;
        }
        if now >= next_progress {
            next_progress += Duration::from_secs(1);
            out.progress(format_args!(
                "[{:6.1}s] sent {sent}, delivered {}",
                now.duration_since(produce_start).as_secs_f64(),
                stats.delivered.load(Ordering::Relaxed)
            ));
        }
        let due = produce_start + Duration::from_secs_f64(sent as f64 * per_record);
        if now < due {
            producer.poll(due - now);
            continue;
        }
        value.copy_from_slice(pool.get(sent));
        let ts = stats.now_ns();
        value[..8].copy_from_slice(&(ts as u64).to_le_bytes());
        let mut record = BaseRecord::<(), [u8], usize>::with_opaque_to(&topic, ts).payload(&value);
        if opts.partitioner == PartitionerKind::RoundRobin {
            record = record.partition((sent % partitions as u64) as i32);
        }
        match producer.send(record) {
            Ok(()) => sent += 1,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                producer.poll(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(format!("enqueue failed: {e}").into()),
        }
        producer.poll(Duration::ZERO);
    }
    if let Err(e) = producer.flush(Duration::from_secs(120)) {
        stats.note_error(format!("flush: {e}"));
    }
    let delivered = stats.delivered.load(Ordering::Relaxed);
    target.store(delivered, Ordering::Release);
    let consumed = consumer_thread
        .join()
        .map_err(|_| "consumer thread panicked")?;
    let elapsed = produce_start.elapsed().as_secs_f64();

    let errors = stats.errors.load(Ordering::Relaxed) + consumed.errors;
    let first_error = stats
        .first_error
        .lock()
        .unwrap()
        .clone()
        .or(consumed.first_error);
    let report = E2eReport {
        mode: "e2e",
        brokers: &args.conn.brokers,
        topic: &topic,
        partitions,
        record_size: opts.record_size,
        acks: opts.acks.label(),
        linger_ms: opts.linger_ms,
        target_rate: args.rate,
        sent,
        delivered,
        consumed: consumed.consumed,
        errors,
        first_error,
        elapsed_s: elapsed,
        msgs_per_sec: rate(consumed.consumed, elapsed),
        mb_per_sec: rate(consumed.consumed * opts.record_size as u64, elapsed) / MB,
        produce_latency: Latency::from_histogram(&stats.latency_us.lock().unwrap()),
        e2e_latency: consumed.latency,
    };
    let mut human = format!(
        "e2e: {} x {} B records at {} msgs/s to {:?} ({} partitions, acks={}, linger.ms={})\n",
        report.sent,
        report.record_size,
        report.target_rate,
        report.topic,
        report.partitions,
        report.acks,
        report.linger_ms
    );
    human += &format!(
        "  delivered {}, consumed {} in {:.3} s, {} errors\n  throughput: {:.0} msgs/s, {:.2} MB/s\n  produce latency ms: {}\n  end-to-end latency ms: {}\n",
        report.delivered,
        report.consumed,
        report.elapsed_s,
        report.errors,
        report.msgs_per_sec,
        report.mb_per_sec,
        report.produce_latency.human(),
        report.e2e_latency.human()
    );
    if let Some(e) = &report.first_error {
        human += &format!("  first error: {e}\n");
    }
    out.report(&report, &human);
    Ok(report.errors == 0 && report.consumed == report.sent && report.delivered == report.sent)
}

fn consume_loop(
    consumer: BaseConsumer<LogContext>,
    start: Instant,
    ready: &AtomicBool,
    target: &AtomicU64,
    idle_timeout: Duration,
) -> ConsumerResult {
    let mut hist = new_histogram();
    let mut consumed: u64 = 0;
    let mut errors: u64 = 0;
    let mut first_error = None;
    // Let the consumer resolve its start offsets and issue its first
    // fetch before the producer starts.
    let warmup = Instant::now() + Duration::from_millis(1000);
    let mut idle_since: Option<Instant> = None;
    loop {
        if ready.load(Ordering::Relaxed) && consumed >= target.load(Ordering::Acquire) {
            break;
        }
        match consumer.poll(Duration::from_millis(50)) {
            Some(Ok(m)) => {
                let now_ns = start.elapsed().as_nanos() as u64;
                idle_since = None;
                if let Some(ts) = m.payload().and_then(|p| p.get(..8)) {
                    let ts = u64::from_le_bytes(ts.try_into().expect("8 bytes"));
                    hist.saturating_record((now_ns.saturating_sub(ts) / 1000).max(1));
                }
                consumed += 1;
            }
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => {
                errors += 1;
                if first_error.is_none() {
                    eprintln!("consumer error: {e}");
                    first_error = Some(e.to_string());
                }
            }
            None => {
                let now = Instant::now();
                if !ready.load(Ordering::Relaxed) {
                    if now >= warmup {
                        ready.store(true, Ordering::Release);
                    }
                    continue;
                }
                // Only time out once the producer has finished.
                if target.load(Ordering::Acquire) != u64::MAX {
                    let since = *idle_since.get_or_insert(now);
                    if now.duration_since(since) >= idle_timeout {
                        break;
                    }
                }
            }
        }
        if !ready.load(Ordering::Relaxed) && Instant::now() >= warmup {
            ready.store(true, Ordering::Release);
        }
    }
    ConsumerResult {
        consumed,
        errors,
        first_error,
        latency: Latency::from_histogram(&hist),
    }
}
