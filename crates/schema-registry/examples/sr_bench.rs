//! Schema registry benchmark: registration latency and lookups by id per
//! second (a serializer's hot path on a cache miss), over keep-alive HTTP.
//!
//! ```text
//! cargo run --release -p fjord-schema-registry --example sr_bench -- \
//!     [--registry http://127.0.0.1:8081] [--registrations 500] [--threads 4] [--seconds 5]
//! ```
//!
//! Every loop is bounded: a fixed number of registrations, lookups for a
//! fixed number of seconds.

use std::time::{Duration, Instant};

use fjord_schema_registry::client::Client;

struct Opts {
    url: String,
    registrations: usize,
    threads: usize,
    seconds: u64,
}

fn opts() -> Result<Opts, String> {
    let mut o = Opts {
        url: "http://127.0.0.1:8081".into(),
        registrations: 500,
        threads: 4,
        seconds: 5,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args
            .get(i + 1)
            .ok_or_else(|| format!("{} needs a value", args[i]))?;
        let num = || v.parse::<usize>().map_err(|_| format!("bad number {v:?}"));
        match args[i].as_str() {
            "--registry" => o.url = v.clone(),
            "--registrations" => o.registrations = num()?.clamp(1, 100_000),
            "--threads" => o.threads = num()?.clamp(1, 64),
            "--seconds" => o.seconds = num()?.clamp(1, 600) as u64,
            other => return Err(format!("unknown option {other}")),
        }
        i += 2;
    }
    Ok(o)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn main() -> Result<(), String> {
    let o = opts()?;
    let run = std::process::id();
    let mut c = Client::new(&o.url)?;
    let mut lat = Vec::with_capacity(o.registrations);
    let mut ids = Vec::with_capacity(o.registrations);
    for i in 0..o.registrations {
        let schema = format!(
            r#"{{"type":"record","name":"Bench{run}_{i}","fields":[{{"name":"f{i}","type":"long"}},{{"name":"s","type":"string"}}]}}"#
        );
        let body = serde_json::json!({ "schema": schema }).to_string();
        let started = Instant::now();
        let r = c.request(
            "POST",
            &format!("/subjects/bench-{run}-{i}/versions"),
            Some(&body),
        )?;
        lat.push(started.elapsed());
        if let Some(e) = r.error() {
            return Err(e);
        }
        ids.push(r.json()?["id"].as_i64().unwrap_or(1));
    }
    lat.sort();
    println!(
        "registrations: {}  latency ms p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        lat.len(),
        pct(&lat, 0.50),
        pct(&lat, 0.90),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );

    let deadline = Instant::now() + Duration::from_secs(o.seconds);
    let started = Instant::now();
    let handles: Vec<_> = (0..o.threads)
        .map(|t| {
            let url = o.url.clone();
            let ids = ids.clone();
            std::thread::spawn(move || -> Result<u64, String> {
                let mut c = Client::new(&url)?;
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let id = ids[(n as usize + t * 7) % ids.len()];
                    let r = c.request("GET", &format!("/schemas/ids/{id}"), None)?;
                    if r.status != 200 {
                        return Err(format!("lookup of id {id}: HTTP {}", r.status));
                    }
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut total = 0u64;
    for h in handles {
        total += h
            .join()
            .map_err(|_| "lookup thread panicked".to_string())??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "lookups by id: {total} in {secs:.1} s with {} connections = {:.0}/s",
        o.threads,
        total as f64 / secs
    );
    Ok(())
}
