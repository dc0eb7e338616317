//! Connection limits: `max.connections` (broker-wide: the listener stops
//! accepting until a connection closes, as Kafka's acceptor does),
//! `max.connections.per.ip` and `max.connections.per.ip.overrides` (a new
//! connection over its address's limit is closed at once) and
//! `max.connection.creation.rate` (per listener: accepting waits so that
//! no more than this many connections are created per second).
//!
//! The limits are read from the live config at each accept, so dynamic
//! changes apply to the next connection.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The parsed `max.connections.per.ip.overrides`: `host:count,...`.
pub fn parse_overrides(v: &str) -> Result<Vec<(IpAddr, u32)>, String> {
    let mut out = Vec::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (host, count) = part
            .rsplit_once(':')
            .ok_or_else(|| format!("`{part}` is not host:count"))?;
        let host = host.trim().trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = host
            .parse()
            .map_err(|_| format!("`{host}` is not an IP address (host names are not resolved)"))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("`{count}` is not a connection count"))?;
        out.push((ip, count));
    }
    Ok(out)
}

/// The limits in force (from the broker config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub max_connections: u32,
    pub per_ip: u32,
    pub per_ip_overrides: Vec<(IpAddr, u32)>,
    pub creation_rate: u32,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: i32::MAX as u32,
            per_ip: i32::MAX as u32,
            per_ip_overrides: Vec::new(),
            creation_rate: i32::MAX as u32,
        }
    }
}

impl ConnectionLimits {
    fn per_ip_limit(&self, ip: IpAddr) -> u32 {
        self.per_ip_overrides
            .iter()
            .find(|(a, _)| *a == ip)
            .map(|(_, n)| *n)
            .unwrap_or(self.per_ip)
    }
}

#[derive(Default)]
struct Counts {
    total: u32,
    per_ip: HashMap<IpAddr, u32>,
}

/// Open connections, broker-wide and per address.
#[derive(Default)]
pub struct ConnectionTracker {
    counts: Mutex<Counts>,
    freed: Notify,
}

/// Why a connection was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    PerIp { limit: u32 },
}

/// Holds one connection's place; frees it when dropped.
pub struct Slot {
    tracker: Arc<ConnectionTracker>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self
            .tracker
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
        drop(c);
        self.tracker.freed.notify_waiters();
    }
}

impl ConnectionTracker {
    /// Waits while the broker is at `max.connections` (call before
    /// accepting).
    pub async fn wait_for_room(&self, limits: &ConnectionLimits) {
        loop {
            let freed = self.freed.notified();
            {
                let c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
                if c.total < limits.max_connections {
                    return;
                }
            }
            // Also wake now and then: the limit may have been raised.
            let _ = tokio::time::timeout(Duration::from_millis(500), freed).await;
        }
    }

    /// Admits an accepted connection from `ip`, or refuses it when its
    /// address is at its limit.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, limits: &ConnectionLimits) -> Result<Slot, Refused> {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let limit = limits.per_ip_limit(ip);
        let n = c.per_ip.get(&ip).copied().unwrap_or(0);
        if n >= limit {
            return Err(Refused::PerIp { limit });
        }
        c.per_ip.insert(ip, n + 1);
        c.total += 1;
        Ok(Slot {
            tracker: self.clone(),
            ip,
        })
    }

    pub fn open(&self) -> u32 {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

/// Paces accepts of one listener to `max.connection.creation.rate`.
pub struct CreationPacer {
    next: Mutex<Instant>,
}

impl Default for CreationPacer {
    fn default() -> Self {
        CreationPacer {
            next: Mutex::new(Instant::now()),
        }
    }
}

impl CreationPacer {
    /// How long to wait before accepting the next connection at `rate` per
    /// second (a burst of up to one second's worth is allowed).
    pub fn delay(&self, rate: u32) -> Duration {
        if rate >= i32::MAX as u32 || rate == 0 {
            return Duration::ZERO;
        }
        let gap = Duration::from_secs_f64(1.0 / rate as f64);
        let now = Instant::now();
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let earliest = now.checked_sub(Duration::from_secs(1)).unwrap_or(now);
        if *next < earliest {
            *next = earliest;
        }
        let wait = next.saturating_duration_since(now);
        *next += gap;
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_parse_and_apply_per_address() {
        let o = parse_overrides("127.0.0.1:2, [::1]:5").unwrap();
        assert_eq!(o.len(), 2);
        assert!(parse_overrides("localhost:3").is_err());
        assert!(parse_overrides("127.0.0.1").is_err());
        let limits = ConnectionLimits {
            per_ip: 1,
            per_ip_overrides: o,
            ..Default::default()
        };
        let t = Arc::new(ConnectionTracker::default());
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let s1 = t.admit(a, &limits).unwrap();
        let _s2 = t.admit(a, &limits).unwrap();
        assert_eq!(t.admit(a, &limits).err(), Some(Refused::PerIp { limit: 2 }));
        let _s3 = t.admit(b, &limits).unwrap();
        assert!(t.admit(b, &limits).is_err());
        assert_eq!(t.open(), 3);
        drop(s1);
        assert_eq!(t.open(), 2);
        assert!(t.admit(a, &limits).is_ok());
    }

    #[test]
    fn the_pacer_spaces_accepts_after_a_burst() {
        let p = CreationPacer::default();
        assert_eq!(p.delay(i32::MAX as u32), Duration::ZERO);
        // 10/s: about a second's worth goes at once, then 100 ms apart.
        let mut waits = Vec::new();
        for _ in 0..15 {
            waits.push(p.delay(10));
        }
        assert_eq!(waits[0], Duration::ZERO);
        assert!(waits[14] > Duration::from_millis(300), "{waits:?}");
    }
}
