//! `produce`: one BaseProducer, records enqueued as fast as librdkafka
//! accepts them (or at `--rate`), delivery reports polled on the same
//! thread. Throughput counts from the first enqueue to the last delivery
//! report (after `flush`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde::Serialize;

use crate::broker_cpu::{BrokerCpu, CpuMeter};
use crate::common::{
    create_mock_topic, ensure_topic, rate, ConnArgs, DeliveryStats, Latency, Output,
    PartitionerKind, PayloadPool, ProducerOpts, Result, TopicArgs, MB,
};

#[derive(Args, Debug)]
pub struct ProduceArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub topic: TopicArgs,
    #[command(flatten)]
    pub producer: ProducerOpts,
    /// Number of records to send (default 1,000,000 unless --duration).
    #[arg(long, short = 'n')]
    pub count: Option<u64>,
    /// Send for at most this many seconds (with --count: whichever comes
    /// first).
    #[arg(long, short = 'd')]
    pub duration: Option<f64>,
    /// Target records per second (0 = as fast as possible).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
}

#[derive(Serialize)]
struct ProduceReport<'a> {
    mode: &'static str,
    brokers: &'a str,
    topic: &'a str,
    partitions: i32,
    record_size: usize,
    acks: &'static str,
    compression: &'static str,
    linger_ms: f64,
    batch_size: usize,
    partitioner: PartitionerKind,
    target_rate: u64,
    sent: u64,
    delivered: u64,
    errors: u64,
    first_error: Option<String>,
    elapsed_s: f64,
    msgs_per_sec: f64,
    mb_per_sec: f64,
    latency: Latency,
    /// With `--broker-pid`: the broker's CPU over the run.
    broker_cpu: Option<BrokerCpu>,
}

/// How often librdkafka reports statistics (the produce request count)
/// while the broker's CPU is measured.
const STATS_INTERVAL_MS: u64 = 100;

/// Runs the producer and measures it.
fn measure<'a>(args: &'a ProduceArgs, out: &Output) -> Result<ProduceReport<'a>> {
    let mock = args.conn.mock_brokers().is_some();
    let partitions = if mock {
        // Created below, in the producer's own mock cluster.
        args.topic.partitions
    } else {
        ensure_topic(&args.conn, &args.topic, out)?
    };
    let opts = &args.producer;
    let mut tuned = opts.tuned_config();
    if args.conn.broker_pid.is_some() {
        tuned.push(("statistics.interval.ms", STATS_INTERVAL_MS.to_string()));
    }
    let producer: BaseProducer<DeliveryStats> = args
        .conn
        .client_config(&tuned)
        .create_with_context(DeliveryStats::new(Instant::now()))?;
    if mock {
        create_mock_topic(producer.client(), &args.conn, &args.topic, out)?;
    }
    // Connect and fetch the topic's metadata before the clock starts.
    producer
        .client()
        .fetch_metadata(Some(&args.conn.topic), Duration::from_secs(10))?;

    let count = match (args.count, args.duration) {
        (Some(n), _) => Some(n),
        (None, None) => Some(1_000_000),
        (None, Some(_)) => None,
    };
    let pool = PayloadPool::new(opts.record_size);
    let stats = Arc::clone(producer.context());
    let topic = args.conn.topic.as_str();
    let meter = CpuMeter::start(args.conn.broker_pid)?;
    let start = Instant::now();
    let deadline = args.duration.map(|d| start + Duration::from_secs_f64(d));
    let mut next_progress = start + Duration::from_secs(1);
    let mut sent: u64 = 0;
    let mut failed_enqueue: u64 = 0;
    loop {
        if count.is_some_and(|n| sent >= n) {
            break;
        }
        if sent & 1023 == 0 {
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break;
            }
            if now >= next_progress {
                next_progress += Duration::from_secs(1);
                out.progress(format_args!(
                    "[{:6.1}s] sent {sent}, delivered {}, errors {}",
                    now.duration_since(start).as_secs_f64(),
                    stats.delivered.load(Ordering::Relaxed),
                    stats.errors.load(Ordering::Relaxed)
                ));
            }
        }
        if args.rate > 0 {
            let due = start + Duration::from_secs_f64(sent as f64 / args.rate as f64);
            while Instant::now() < due {
                producer.poll(due.saturating_duration_since(Instant::now()));
            }
        }
        let mut record =
            BaseRecord::<(), [u8], usize>::with_opaque_to(topic, 0).payload(pool.get(sent));
        if opts.partitioner == PartitionerKind::RoundRobin {
            record = record.partition((sent % partitions as u64) as i32);
        }
        loop {
            record.delivery_opaque = stats.now_ns();
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => {
                    failed_enqueue += 1;
                    stats.note_error(format!("enqueue: {e}"));
                    if failed_enqueue >= 100 {
                        return Err(format!("enqueue keeps failing: {e}").into());
                    }
                    break;
                }
            }
        }
        sent += 1;
        if sent & 127 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    let flush_result = producer.flush(Duration::from_secs(120));
    let flushed = start.elapsed();
    let elapsed = stats
        .last_report()
        .map_or(flushed, |t| t.saturating_duration_since(start))
        .as_secs_f64();
    if let Err(e) = flush_result {
        stats.note_error(format!(
            "flush: {e} ({} still queued)",
            producer.in_flight_count()
        ));
    }
    let cpu_end = meter.as_ref().map(|m| m.finish(elapsed)).transpose()?;
    producer.poll(Duration::ZERO);
    if cpu_end.is_some() {
        // The request count comes with the next statistics report.
        let seen = stats.stats_reports.load(Ordering::Relaxed);
        let wait_until = Instant::now() + Duration::from_millis(STATS_INTERVAL_MS * 10);
        while stats.stats_reports.load(Ordering::Relaxed) == seen && Instant::now() < wait_until {
            producer.poll(Duration::from_millis(10));
        }
    }

    let delivered = stats.delivered.load(Ordering::Relaxed);
    let bytes = stats.delivered_bytes.load(Ordering::Relaxed);
    let errors = stats.errors.load(Ordering::Relaxed);
    let latency = Latency::from_histogram(&stats.latency_us.lock().unwrap());
    let requests = stats.produce_requests.load(Ordering::Relaxed);
    let broker_cpu =
        cpu_end.map(|c| c.per_unit(delivered, bytes, Some(requests).filter(|n| *n > 0)));
    let report = ProduceReport {
        mode: "produce",
        brokers: &args.conn.brokers,
        topic,
        partitions,
        record_size: opts.record_size,
        acks: opts.acks.label(),
        compression: opts.compression.label(),
        linger_ms: opts.linger_ms,
        batch_size: opts.batch_size,
        partitioner: opts.partitioner,
        target_rate: args.rate,
        sent,
        delivered,
        errors,
        first_error: stats.first_error.lock().unwrap().clone(),
        elapsed_s: elapsed,
        msgs_per_sec: rate(delivered, elapsed),
        mb_per_sec: rate(bytes, elapsed) / MB,
        latency,
        broker_cpu,
    };
    Ok(report)
}

pub fn run(args: ProduceArgs, out: &Output) -> Result<bool> {
    let report = measure(&args, out)?;
    let mut human = format!(
        "produce: {} x {} B records to {:?} ({} partitions, acks={}, compression={}, linger.ms={}, batch.size={}, {:?})\n",
        report.sent,
        report.record_size,
        report.topic,
        report.partitions,
        report.acks,
        report.compression,
        report.linger_ms,
        report.batch_size,
        report.partitioner,
    );
    human += &format!(
        "  delivered {} in {:.3} s, {} errors\n  throughput: {:.0} msgs/s, {:.2} MB/s\n  produce latency ms: {}\n",
        report.delivered,
        report.elapsed_s,
        report.errors,
        report.msgs_per_sec,
        report.mb_per_sec,
        report.latency.human()
    );
    if let Some(cpu) = &report.broker_cpu {
        human += &cpu.human();
    }
    if let Some(e) = &report.first_error {
        human += &format!("  first error: {e}\n");
    }
    out.report(&report, &human);
    Ok(report.errors == 0 && report.delivered == report.sent)
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use rdkafka::producer::BaseProducer;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ProduceArgs,
    }

    fn args(extra: &[&str]) -> ProduceArgs {
        let mut argv = vec!["produce", "-X", "test.mock.num.brokers=1"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().args
    }

    const QUIET: Output = Output {
        json: false,
        quiet: true,
    };

    /// The partition count the producer's own metadata shows.
    fn partitions_seen(producer: &BaseProducer, topic: &str) -> usize {
        let md = producer
            .client()
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .unwrap();
        md.topics()[0].partitions().len()
    }

    #[test]
    fn mock_topic_has_the_partitions_asked_for() {
        let a = args(&["-t", "m16", "-p", "16"]);
        assert_eq!(a.conn.mock_brokers(), Some(1));
        let producer: BaseProducer = a.conn.client_config(&[]).create().unwrap();
        assert_eq!(
            create_mock_topic(producer.client(), &a.conn, &a.topic, &QUIET).unwrap(),
            16
        );
        assert_eq!(partitions_seen(&producer, "m16"), 16);
        // Without it the mock would auto-create the topic with its default
        // partition count, whatever -p says.
        assert_eq!(partitions_seen(&producer, "auto"), 4);
    }

    #[test]
    fn produce_runs_against_the_mock() {
        let a = args(&["-t", "m", "-p", "3", "-n", "2000", "-s", "10"]);
        assert!(run(a, &QUIET).unwrap());
    }

    #[test]
    fn a_run_ends_at_its_last_delivery_report() {
        // 600 records at 2,000/s take 0.3 s to send; each is acknowledged
        // within a millisecond or so. Ending the run when flush returns
        // would add the 100 ms flush poll step.
        let a = args(&["-t", "r", "-n", "600", "--rate", "2000", "--linger-ms", "0"]);
        let report = measure(&a, &QUIET).unwrap();
        assert_eq!(
            (report.sent, report.delivered, report.errors),
            (600, 600, 0)
        );
        assert!(
            (0.299..0.39).contains(&report.elapsed_s),
            "elapsed {} s",
            report.elapsed_s
        );
    }

    #[test]
    fn consume_refuses_the_mock() {
        let a = args(&["-t", "m"]);
        let e = a.conn.refuse_mock("consume").unwrap_err().to_string();
        assert!(e.contains("mock"), "{e}");
        assert!(args(&["-t", "m", "-X", "test.mock.num.brokers=0"])
            .conn
            .refuse_mock("consume")
            .is_ok());
    }
}
