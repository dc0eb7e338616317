//! The broker's CPU time over a run, read from `/proc/PID/stat` (user +
//! system of every thread, living or exited), for any broker process on
//! this machine: fjord, Kafka's JVM, Redpanda, ... The benchmark never
//! talks to the broker other than through the Kafka protocol; it only
//! needs its process id (`--broker-pid`).

use serde::Serialize;

use crate::common::Result;

/// CPU time of one process in seconds so far (user + system).
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("cannot read /proc/{pid}/stat (--broker-pid): {e}"))?;
    // The command name (field 2) is in parentheses and may hold spaces:
    // count fields after its closing one. utime and stime are fields 14
    // and 15, so the 12th and 13th after the name.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| format!("unexpected /proc/{pid}/stat: {stat:?}"))?;
    let mut fields = rest.split_whitespace().skip(11);
    let mut tick = || -> Result<u64> {
        let f = fields.next().ok_or("short /proc/PID/stat")?;
        Ok(f.parse::<u64>()?)
    };
    let ticks = tick()? + tick()?;
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    Ok(ticks as f64 / hz)
}

/// A running measurement: the broker's CPU time at the start.
pub struct CpuMeter {
    pid: u32,
    start: f64,
}

/// The broker's CPU over a run and per unit of work.
#[derive(Serialize, Clone, Debug, Default)]
pub struct BrokerCpu {
    pub pid: u32,
    /// User + system seconds during the run (10 ms ticks).
    pub cpu_s: f64,
    /// Requests of the measured kind the client sent (librdkafka's
    /// statistics), if known.
    pub requests: Option<u64>,
    /// Broker CPU microseconds per request.
    pub us_per_request: Option<f64>,
    /// Broker CPU seconds per GB (10^9 bytes of record keys + values).
    pub s_per_gb: f64,
    /// Broker CPU microseconds per record.
    pub us_per_record: f64,
    /// Share of one core the broker used over the run.
    pub cores: f64,
}

impl CpuMeter {
    /// Starts measuring `pid` (None: no measurement).
    pub fn start(pid: Option<u32>) -> Result<Option<CpuMeter>> {
        let Some(pid) = pid else { return Ok(None) };
        Ok(Some(CpuMeter {
            pid,
            start: cpu_seconds(pid)?,
        }))
    }

    /// The CPU used since `start`, over `elapsed_s` of wall time.
    pub fn finish(&self, elapsed_s: f64) -> Result<BrokerCpu> {
        let cpu_s = (cpu_seconds(self.pid)? - self.start).max(0.0);
        Ok(BrokerCpu {
            pid: self.pid,
            cpu_s,
            cores: if elapsed_s > 0.0 {
                cpu_s / elapsed_s
            } else {
                0.0
            },
            ..BrokerCpu::default()
        })
    }
}

impl BrokerCpu {
    /// Spreads the CPU time over the run's records, bytes and requests.
    pub fn per_unit(mut self, records: u64, bytes: u64, requests: Option<u64>) -> BrokerCpu {
        let per = |n: u64, scale: f64| {
            if n > 0 {
                self.cpu_s * scale / n as f64
            } else {
                0.0
            }
        };
        self.us_per_record = per(records, 1e6);
        self.s_per_gb = per(bytes, 1e9);
        self.us_per_request = requests.filter(|n| *n > 0).map(|n| per(n, 1e6));
        self.requests = requests;
        self
    }

    pub fn human(&self) -> String {
        let per_request = match (self.requests, self.us_per_request) {
            (Some(n), Some(us)) => format!("{us:.1} µs per request ({n} requests), "),
            _ => String::new(),
        };
        format!(
            "  broker CPU (pid {}): {:.2} s, {per_request}{:.3} µs per record, {:.3} s per GB, {:.2} cores\n",
            self.pid, self.cpu_s, self.us_per_record, self.s_per_gb, self.cores
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_cpu_time() {
        let pid = std::process::id();
        let meter = CpuMeter::start(Some(pid)).unwrap().unwrap();
        // Burn some CPU so at least one tick passes.
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed().as_millis() < 50 {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let cpu = meter
            .finish(0.05)
            .unwrap()
            .per_unit(10, 1_000_000_000, Some(4));
        assert!(cpu.cpu_s > 0.0, "{cpu:?}");
        assert_eq!(cpu.us_per_request, Some(cpu.cpu_s * 1e6 / 4.0));
        assert!((cpu.s_per_gb - cpu.cpu_s).abs() < 1e-9);
        assert!(CpuMeter::start(Some(u32::MAX)).is_err());
    }
}
