//! `consume`: an assign-only BaseConsumer (a group.id is set because
//! librdkafka requires one for assign(), but it never joins the group nor
//! commits) reads every partition from the beginning.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use clap::Args;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use crate::broker_cpu::{BrokerCpu, CpuMeter};
use crate::common::{partition_count, rate, ConnArgs, LogContext, Output, Result, MB};

#[derive(Args, Debug)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Stop after this many records (default: stop when every partition
    /// has reached its end).
    #[arg(long, short = 'n')]
    pub count: Option<u64>,
    /// Stop after this many seconds even if not done (the report then
    /// says complete=false).
    #[arg(long, short = 'd')]
    pub duration: Option<f64>,
    /// Give up after this many seconds without a record.
    #[arg(long, default_value_t = 10.0)]
    pub idle_timeout: f64,
    /// fetch.max.bytes.
    #[arg(long, default_value_t = 50 * 1024 * 1024)]
    pub fetch_max_bytes: usize,
    /// max.partition.fetch.bytes. Larger values were measured to be
    /// slower on fjord (bigger responses cost the client page faults and
    /// the broker more CPU), so librdkafka's default stays.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_partition_fetch_bytes: usize,
    /// fetch.wait.max.ms.
    #[arg(long, default_value_t = 100)]
    pub fetch_wait_max_ms: u64,
    /// fetch.min.bytes.
    #[arg(long, default_value_t = 1)]
    pub fetch_min_bytes: usize,
}

#[derive(Serialize)]
struct ConsumeReport<'a> {
    mode: &'static str,
    brokers: &'a str,
    topic: &'a str,
    partitions: i32,
    consumed: u64,
    bytes: u64,
    errors: u64,
    first_error: Option<String>,
    complete: bool,
    first_record_ms: Option<f64>,
    elapsed_s: f64,
    msgs_per_sec: f64,
    mb_per_sec: f64,
    /// With `--broker-pid`: the broker's CPU while consuming.
    broker_cpu: Option<BrokerCpu>,
}

/// Reads the topic and measures it; also says whether `--duration` cut
/// the run short.
fn measure<'a>(args: &'a ConsumeArgs, out: &Output) -> Result<(ConsumeReport<'a>, bool)> {
    args.conn.refuse_mock("consume")?;
    let partitions = partition_count(&args.conn, Duration::from_secs(10))?;
    let tuned = vec![
        ("group.id", format!("fjord-bench-{}", std::process::id())),
        ("enable.auto.commit", "false".to_string()),
        ("enable.auto.offset.store", "false".to_string()),
        ("enable.partition.eof", "true".to_string()),
        ("auto.offset.reset", "earliest".to_string()),
        ("fetch.min.bytes", args.fetch_min_bytes.to_string()),
        ("fetch.wait.max.ms", args.fetch_wait_max_ms.to_string()),
        ("fetch.max.bytes", args.fetch_max_bytes.to_string()),
        (
            "max.partition.fetch.bytes",
            args.max_partition_fetch_bytes.to_string(),
        ),
        (
            "receive.message.max.bytes",
            (args.fetch_max_bytes.max(args.max_partition_fetch_bytes) + 1024 * 1024).to_string(),
        ),
        ("queued.min.messages", "1000000".to_string()),
        ("queued.max.messages.kbytes", "262144".to_string()),
        ("check.crcs", "false".to_string()),
        ("socket.receive.buffer.bytes", "4194304".to_string()),
    ];
    let consumer: BaseConsumer<LogContext> = args
        .conn
        .client_config(&tuned)
        .create_with_context(LogContext)?;
    let topic = args.conn.topic.as_str();
    // Warm this client's metadata cache so that assign() finds the leaders
    // at once (otherwise librdkafka retries the offset lookup ~500 ms later).
    consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    // Every partition from its first offset, looked up before the clock
    // starts. Without --count, a partition that holds no record is not
    // fetched: librdkafka makes assigned partitions fetchable one by one,
    // and a first fetch of only empty partitions is held by the broker for
    // fetch.wait.max.ms (measured against fjord: 16 partitions of which
    // the sticky partitioner had filled 5, 5 MB read in 7 ms, or in 108
    // ms when the first fetch held only an empty one).
    let mut tpl = TopicPartitionList::new();
    let mut eof: HashSet<i32> = HashSet::new();
    for p in 0..partitions {
        let (low, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10))?;
        if args.count.is_none() && low >= high {
            eof.insert(p);
        } else {
            tpl.add_partition_offset(topic, p, Offset::Offset(low))?;
        }
    }
    let meter = CpuMeter::start(args.conn.broker_pid)?;
    let start = Instant::now();
    consumer.assign(&tpl)?;
    let mut consumed: u64 = 0;
    let mut bytes: u64 = 0;
    let mut errors: u64 = 0;
    let mut first_error: Option<String> = None;
    let mut first_record: Option<Duration> = None;
    let mut last_record: Option<Instant> = None;
    let mut idle_since: Option<Instant> = None;
    let mut next_progress = start + Duration::from_secs(1);
    let idle_timeout = Duration::from_secs_f64(args.idle_timeout);
    let deadline = args.duration.map(|d| start + Duration::from_secs_f64(d));
    let mut stopped_early = false;
    let complete = loop {
        if args.count.is_some_and(|n| consumed >= n) {
            break true;
        }
        if args.count.is_none() && eof.len() as i32 >= partitions {
            break true;
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                consumed += 1;
                bytes += (m.payload_len() + m.key().map_or(0, <[u8]>::len)) as u64;
                last_record = Some(Instant::now());
                idle_since = None;
                if first_record.is_none() {
                    first_record = Some(start.elapsed());
                }
                if args.count.is_none() && !eof.is_empty() {
                    eof.remove(&m.partition());
                }
                if consumed & 16383 == 0 {
                    let now = Instant::now();
                    if deadline.is_some_and(|d| now >= d) {
                        stopped_early = true;
                        break false;
                    }
                    if now >= next_progress {
                        next_progress += Duration::from_secs(1);
                        out.progress(format_args!(
                            "[{:6.1}s] consumed {consumed}",
                            now.duration_since(start).as_secs_f64()
                        ));
                    }
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                eof.insert(p);
            }
            Some(Err(e)) => {
                errors += 1;
                if first_error.is_none() {
                    eprintln!("consumer error: {e}");
                    first_error = Some(e.to_string());
                }
            }
            None => {
                let now = Instant::now();
                if deadline.is_some_and(|d| now >= d) {
                    stopped_early = true;
                    break false;
                }
                let since = *idle_since.get_or_insert(now);
                if now.duration_since(since) >= idle_timeout {
                    out.progress(format_args!(
                        "no record for {:.1} s, stopping",
                        idle_timeout.as_secs_f64()
                    ));
                    break false;
                }
            }
        }
    };
    // The run ends with its last record: neither the idle wait before an
    // idle timeout nor the wait for end-of-partition counts (librdkafka
    // reports EOF from a fetch at the end offset, which the broker holds
    // for up to fetch.wait.max.ms).
    let elapsed = match (stopped_early, last_record) {
        (false, Some(last)) => last.duration_since(start),
        _ => start.elapsed(),
    }
    .as_secs_f64();
    let broker_cpu = match &meter {
        Some(m) => Some(m.finish(elapsed)?.per_unit(consumed, bytes, None)),
        None => None,
    };
    let report = ConsumeReport {
        mode: "consume",
        brokers: &args.conn.brokers,
        topic,
        partitions,
        consumed,
        bytes,
        errors,
        first_error,
        complete,
        first_record_ms: first_record.map(|d| d.as_secs_f64() * 1000.0),
        elapsed_s: elapsed,
        msgs_per_sec: rate(consumed, elapsed),
        mb_per_sec: rate(bytes, elapsed) / MB,
        broker_cpu,
    };
    Ok((report, stopped_early))
}

pub fn run(args: ConsumeArgs, out: &Output) -> Result<bool> {
    let (report, stopped_early) = measure(&args, out)?;
    let mut human = format!(
        "consume: {} records ({:.1} MB) from {:?} ({} partitions) in {:.3} s{}\n  throughput: {:.0} msgs/s, {:.2} MB/s\n",
        report.consumed,
        report.bytes as f64 / MB,
        report.topic,
        report.partitions,
        report.elapsed_s,
        match (report.complete, stopped_early) {
            (true, _) => "",
            (false, true) => " (INCOMPLETE: --duration reached)",
            (false, false) => " (INCOMPLETE: idle timeout)",
        },
        report.msgs_per_sec,
        report.mb_per_sec
    );
    if let Some(ms) = report.first_record_ms {
        human += &format!("  first record after {ms:.1} ms\n");
    }
    if let Some(cpu) = &report.broker_cpu {
        human += &cpu.human();
    }
    if let Some(e) = &report.first_error {
        human += &format!("  {} errors, first: {e}\n", report.errors);
    }
    out.report(&report, &human);
    Ok((report.complete || stopped_early) && report.consumed > 0)
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use rdkafka::ClientConfig;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ConsumeArgs,
    }

    #[test]
    fn a_run_ends_at_its_last_record() {
        // A mock cluster of its own, shared by the producer and the
        // consumer through its listener. One partition: with several, one
        // that becomes fetchable while a fetch of the others waits at
        // their end would wait for that fetch too.
        let mock = MockCluster::new(1).unwrap();
        mock.create_topic("c", 1, 1).unwrap();
        let brokers = mock.bootstrap_servers();
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .unwrap();
        for i in 0..2000u32 {
            let value = i.to_be_bytes();
            producer
                .send(BaseRecord::<(), _>::to("c").payload(&value[..]))
                .unwrap();
        }
        producer.flush(Duration::from_secs(10)).unwrap();

        // librdkafka reports end-of-partition from a fetch at the end
        // offset, which the broker holds for fetch.wait.max.ms (here 1 s):
        // that wait is not part of the run.
        let args = Cli::try_parse_from([
            "consume",
            "-b",
            &brokers,
            "-t",
            "c",
            "--fetch-wait-max-ms",
            "1000",
        ])
        .unwrap()
        .args;
        let out = Output {
            json: false,
            quiet: true,
        };
        let wall = Instant::now();
        let (report, stopped_early) = measure(&args, &out).unwrap();
        let wall = wall.elapsed().as_secs_f64();
        assert_eq!((report.consumed, report.bytes), (2000, 8000));
        assert!(report.complete && !stopped_early);
        assert!(wall >= 0.9, "the end-of-partition fetch took {wall} s");
        assert!(report.elapsed_s < 0.6, "elapsed {} s", report.elapsed_s);
    }
}
