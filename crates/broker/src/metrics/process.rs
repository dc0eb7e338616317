//! The standard `process_*` metrics (memory, CPU, threads, open files,
//! start time), read from `/proc` at scrape time.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Unit;

use super::{counter_value, gauge_value};

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
pub(super) struct ProcessCollector;

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
