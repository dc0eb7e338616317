//! `fjord-bench`: throughput and latency benchmark for any Kafka-compatible
//! broker. It talks to the broker through librdkafka (the `rdkafka` crate),
//! so fjord, Apache Kafka, Redpanda, ... are all measured the same way.
//!
//! Subcommands:
//! - `produce`: producer throughput (msgs/s, MB/s) and produce latency
//!   (enqueue → delivery report) percentiles.
//! - `consume`: consumer throughput, reading every partition from the
//!   beginning with an assign-only consumer (no group membership).
//! - `e2e`: end-to-end latency (produce → consume) at a fixed rate.
//!
//! Every subcommand prints human-readable lines, or one JSON object on
//! stdout with `--json`. MB means 2^20 bytes (as in Kafka's perf tools).

mod broker_cpu;
mod common;
mod consume;
mod e2e;
mod produce;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "fjord-bench",
    version,
    about = "Throughput/latency benchmark for Kafka-compatible brokers (librdkafka based)"
)]
struct Cli {
    /// Print one JSON object on stdout instead of human-readable lines.
    #[arg(long, global = true)]
    json: bool,
    /// Do not print progress lines on stderr.
    #[arg(long, short = 'q', global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Produce records as fast as possible (or at --rate) and report
    /// throughput and produce latency.
    Produce(produce::ProduceArgs),
    /// Read a topic from the beginning of every partition and report
    /// throughput.
    Consume(consume::ConsumeArgs),
    /// Produce at a fixed rate while consuming, and report end-to-end
    /// latency (timestamp in the payload → consumer poll).
    E2e(e2e::E2eArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = common::Output {
        json: cli.json,
        quiet: cli.quiet,
    };
    let result = match cli.command {
        Command::Produce(args) => produce::run(args, &out),
        Command::Consume(args) => consume::run(args, &out),
        Command::E2e(args) => e2e::run(args, &out),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("fjord-bench: {e}");
            ExitCode::from(2)
        }
    }
}
