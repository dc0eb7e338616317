//! Client quotas (KIP-13, KIP-55, KIP-124, KIP-219, KIP-599) and
//! connection limits.
//!
//! A quota applies to the most specific entity that sets its key, in
//! Kafka's order: `(user, client-id)`, `(user, <default> client-id)`,
//! `user`, `(<default> user, client-id)`, `(<default> user, <default>
//! client-id)`, `<default> user`, `client-id`, `<default> client-id`.
//! Usage is measured per resolved entity, with a default part standing for
//! the actual user or client id, so `<default>` user quotas limit each user
//! separately while a `user` quota is shared by all of that user's clients.
//!
//! Measures: `producer_byte_rate` counts Produce request bytes,
//! `consumer_byte_rate` Fetch response bytes, `request_percentage` the time
//! handlers spend running (percent of one thread), all over
//! `quota.window.num` windows of `quota.window.size.seconds`;
//! `controller_mutation_rate` counts partitions created or deleted, in a
//! token bucket (`controller.quota.window.*`). A client over its quota gets
//! the delay in the response's `throttle_time_ms` and its connection reads
//! nothing more for that long (KIP-219); the connection layer does that.
//!
//! `connection_creation_rate` of `ip` entities (KIP-612) is checked as
//! Kafka's `ConnectionQuotas` does at accept: each new connection from an
//! address with a quota is recorded in that address's rate (the same
//! windows); one that takes it over the quota is taken back out and the
//! connection is throttled: the listener holds it unread for the throttle
//! time (at most one window), then closes it.
//!
//! With no quota set, every call returns at once without a lock.
//! `store` persists the entities; `rate` is the arithmetic; `connections`
//! is `max.connections` and its per-IP variants.

pub mod connections;
pub mod rate;
pub mod store;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use rate::{SampledRate, TokenBucket};
use store::{Entity, IpRates, QuotaStore, Quotas, Slot};

use crate::security::Principal;
use crate::state::StateError;

/// What a quota limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuotaType {
    Produce,
    Fetch,
    Request,
    ControllerMutation,
}

impl QuotaType {
    pub fn key(self) -> &'static str {
        match self {
            QuotaType::Produce => "producer_byte_rate",
            QuotaType::Fetch => "consumer_byte_rate",
            QuotaType::Request => "request_percentage",
            QuotaType::ControllerMutation => "controller_mutation_rate",
        }
    }

    /// The label `/metrics` uses (Kafka's quota type names).
    pub fn label(self) -> &'static str {
        match self {
            QuotaType::Produce => "Produce",
            QuotaType::Fetch => "Fetch",
            QuotaType::Request => "Request",
            QuotaType::ControllerMutation => "ControllerMutation",
        }
    }
}

/// The window settings (`quota.window.*`, `controller.quota.window.*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaSettings {
    pub samples: u32,
    pub window_ms: u64,
    pub controller_samples: u32,
    pub controller_window_ms: u64,
}

impl Default for QuotaSettings {
    fn default() -> Self {
        QuotaSettings {
            samples: 11,
            window_ms: 1000,
            controller_samples: 11,
            controller_window_ms: 1000,
        }
    }
}

/// Milliseconds since the process started measuring.
fn now_ms() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_millis() as u64
}

enum Measure {
    Rate(SampledRate),
    Bucket(TokenBucket),
}

struct Sensor {
    measure: Measure,
    last_used_ms: u64,
}

/// Usage is kept per (quota type, user tag, client-id tag).
type SensorKey = (QuotaType, String, String);

/// Sensors idle this long are dropped when the map grows large.
const IDLE_SENSOR_MS: u64 = 3_600_000;
const SENSOR_SWEEP_AT: usize = 10_000;

/// One address's connection creation rate.
struct IpSensor {
    rate: SampledRate,
    last_used_ms: u64,
    /// Throttled connections not yet logged, and when the last log line
    /// was written (one line per address per second at most).
    unlogged: u64,
    logged_ms: Option<u64>,
}

/// What the accept loop does with a new connection.
#[derive(Debug, PartialEq, Eq)]
pub enum ConnectionVerdict {
    Accept,
    /// Over the address's `connection_creation_rate`: hold the connection
    /// unread for `throttle_ms`, then close it. `log` is the count of
    /// throttled connections to report in a log line now (None: stay
    /// quiet, a line was written less than a second ago).
    Throttle {
        throttle_ms: u64,
        quota: u32,
        log: Option<u64>,
    },
}

/// Quota lookup and usage for the whole broker.
pub struct QuotaManager {
    store: QuotaStore,
    /// Whether any user or client-id quota is set (the fast path reads
    /// only this).
    any: AtomicBool,
    /// Whether any `ip` quota is set (the accept loop reads only this).
    any_ip: AtomicBool,
    ip_rates: RwLock<Arc<IpRates>>,
    generation: AtomicU64,
    sensors: Mutex<HashMap<SensorKey, Sensor>>,
    ip_sensors: Mutex<HashMap<IpAddr, IpSensor>>,
    settings: QuotaSettings,
}

/// Whether `quotas` has a user or client-id entity.
fn any_client(quotas: &Quotas) -> bool {
    quotas.keys().any(|e| !e.is_ip())
}

/// Who is asking: the principal's name and the client id.
#[derive(Clone, Copy)]
pub struct Client<'a> {
    pub user: &'a str,
    pub client_id: &'a str,
}

impl<'a> Client<'a> {
    pub fn new(principal: &'a Principal, client_id: &'a str) -> Client<'a> {
        Client {
            user: principal.0.strip_prefix("User:").unwrap_or(&principal.0),
            client_id,
        }
    }
}

impl QuotaManager {
    pub fn open(
        data_dir: &std::path::Path,
        settings: QuotaSettings,
    ) -> Result<QuotaManager, StateError> {
        let store = QuotaStore::open(data_dir)?;
        let quotas = store.snapshot();
        let ip_rates = IpRates::of(&quotas);
        Ok(QuotaManager {
            store,
            any: AtomicBool::new(any_client(&quotas)),
            any_ip: AtomicBool::new(!ip_rates.is_empty()),
            ip_rates: RwLock::new(Arc::new(ip_rates)),
            generation: AtomicU64::new(0),
            sensors: Mutex::new(HashMap::new()),
            ip_sensors: Mutex::new(HashMap::new()),
            settings,
        })
    }

    /// Whether any quota is set (otherwise nothing is measured).
    pub fn active(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// Whether `c` has a byte-rate or request quota. Such a client's
    /// connection is served one request at a time, as Kafka serves every
    /// connection, so a throttle takes effect before its next request is
    /// read (read-ahead would let it run past its quota).
    pub fn limits(&self, c: Client<'_>) -> bool {
        if !self.active() {
            return false;
        }
        let quotas = self.store.snapshot();
        [QuotaType::Produce, QuotaType::Fetch, QuotaType::Request]
            .iter()
            .any(|ty| self.resolve(&quotas, *ty, c).is_some())
    }

    /// Bumped by every change, so a connection knows to look again.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn quotas(&self) -> Arc<Quotas> {
        self.store.snapshot()
    }

    /// Applies AlterClientQuotas changes durably; usage already measured
    /// is kept and judged against the new values.
    pub fn apply(&self, changes: &[store::Change]) -> Result<(), StateError> {
        let next = self.store.apply(changes)?;
        self.installed(&next);
        Ok(())
    }

    /// Replaces every quota (cluster mode: the committed image's) without
    /// writing the file; usage already measured is kept.
    pub fn replace(&self, quotas: Quotas) {
        let next = self.store.replace(quotas);
        self.installed(&next);
    }

    /// Makes `next` (now in the store) the quotas judged against.
    fn installed(&self, next: &Quotas) {
        let ip_rates = IpRates::of(next);
        self.any_ip.store(!ip_rates.is_empty(), Ordering::Release);
        *self.ip_rates.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ip_rates);
        self.any.store(any_client(next), Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Records a new connection from `ip` against its
    /// `connection_creation_rate` (its own, else the `<default>` ip's), as
    /// Kafka's `ConnectionQuotas` does: a connection that takes the rate
    /// over the quota is not counted and gets a throttle time of
    /// `(rate - quota) / quota × window`, at most one quota window.
    pub fn connection_created(&self, ip: IpAddr) -> ConnectionVerdict {
        self.connection_created_at(ip, now_ms())
    }

    fn connection_created_at(&self, ip: IpAddr, now: u64) -> ConnectionVerdict {
        if !self.any_ip.load(Ordering::Acquire) {
            return ConnectionVerdict::Accept;
        }
        let quota = {
            let rates = self.ip_rates.read().unwrap_or_else(|p| p.into_inner());
            rates.rate_for(ip)
        };
        let Some(quota) = quota else {
            return ConnectionVerdict::Accept;
        };
        let s = &self.settings;
        let mut sensors = self.ip_sensors.lock().unwrap_or_else(|p| p.into_inner());
        if sensors.len() >= SENSOR_SWEEP_AT {
            sensors.retain(|_, x| now.saturating_sub(x.last_used_ms) < IDLE_SENSOR_MS);
        }
        let sensor = sensors.entry(ip).or_insert_with(|| IpSensor {
            rate: SampledRate::new(s.samples, s.window_ms),
            last_used_ms: now,
            unlogged: 0,
            logged_ms: None,
        });
        sensor.last_used_ms = now;
        sensor.rate.record(1.0, now);
        let throttle_ms = sensor.rate.throttle_ms(f64::from(quota), now);
        if throttle_ms == 0 {
            return ConnectionVerdict::Accept;
        }
        sensor.rate.record(-1.0, now);
        sensor.unlogged += 1;
        let log = match sensor.logged_ms {
            Some(at) if now.saturating_sub(at) < 1000 => None,
            _ => {
                sensor.logged_ms = Some(now);
                Some(std::mem::take(&mut sensor.unlogged))
            }
        };
        ConnectionVerdict::Throttle {
            throttle_ms: throttle_ms.min(s.window_ms),
            quota,
            log,
        }
    }

    /// The quota of `ty` for `client` and the tags its usage is kept under.
    fn resolve(&self, quotas: &Quotas, ty: QuotaType, c: Client<'_>) -> Option<(f64, SensorKey)> {
        let user = || Slot::Named(c.user.to_string());
        let client = || Slot::Named(c.client_id.to_string());
        // (entity, whether usage is per client id too)
        let levels = [
            (user(), client(), true),
            (user(), Slot::Default, true),
            (user(), Slot::Absent, false),
            (Slot::Default, client(), true),
            (Slot::Default, Slot::Default, true),
            (Slot::Default, Slot::Absent, false),
        ];
        for (u, cl, per_client) in levels {
            let e = Entity::client(u, cl);
            if let Some(v) = quotas.get(&e).and_then(|q| q.get(ty.key())) {
                let client_tag = if per_client { c.client_id } else { "" };
                return Some((*v, (ty, c.user.to_string(), client_tag.to_string())));
            }
        }
        for cl in [client(), Slot::Default] {
            let e = Entity::client(Slot::Absent, cl);
            if let Some(v) = quotas.get(&e).and_then(|q| q.get(ty.key())) {
                return Some((*v, (ty, String::new(), c.client_id.to_string())));
            }
        }
        None
    }

    fn with_sensor<R>(&self, key: SensorKey, f: impl FnOnce(&mut Measure, u64) -> R) -> R {
        let now = now_ms();
        let mut sensors = self.sensors.lock().unwrap_or_else(|p| p.into_inner());
        if sensors.len() >= SENSOR_SWEEP_AT {
            sensors.retain(|_, s| now.saturating_sub(s.last_used_ms) < IDLE_SENSOR_MS);
        }
        let s = &self.settings;
        let sensor = sensors.entry(key).or_insert_with_key(|k| Sensor {
            measure: match k.0 {
                QuotaType::ControllerMutation => Measure::Bucket(TokenBucket::new(
                    s.controller_samples,
                    s.controller_window_ms,
                )),
                _ => Measure::Rate(SampledRate::new(s.samples, s.window_ms)),
            },
            last_used_ms: now,
        });
        sensor.last_used_ms = now;
        f(&mut sensor.measure, now)
    }

    /// Records `value` against the quota of `ty` (Produce/Fetch bytes, or
    /// Request percent-seconds) and returns the throttle time in ms.
    pub fn record(&self, ty: QuotaType, c: Client<'_>, value: f64) -> u64 {
        if !self.any.load(Ordering::Acquire) {
            return 0;
        }
        let quotas = self.store.snapshot();
        let Some((quota, key)) = self.resolve(&quotas, ty, c) else {
            return 0;
        };
        self.with_sensor(key, |m, now| match m {
            Measure::Rate(r) => {
                r.record(value, now);
                r.throttle_ms(quota, now)
            }
            Measure::Bucket(_) => 0,
        })
    }

    /// Takes back a value recorded by [`QuotaManager::record`] (a throttled
    /// fetch is answered empty, so its bytes were never sent).
    pub fn unrecord(&self, ty: QuotaType, c: Client<'_>, value: f64) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let quotas = self.store.snapshot();
        if let Some((_, key)) = self.resolve(&quotas, ty, c) {
            self.with_sensor(key, |m, now| {
                if let Measure::Rate(r) = m {
                    r.record(-value, now);
                }
            });
        }
    }

    /// The most bytes one Fetch of `c` may return: what its quota allows in
    /// a window where nothing else was fetched (None: no fetch quota).
    pub fn fetch_cap(&self, c: Client<'_>) -> Option<usize> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let quotas = self.store.snapshot();
        let (quota, _) = self.resolve(&quotas, QuotaType::Fetch, c)?;
        let r = SampledRate::new(self.settings.samples, self.settings.window_ms);
        Some(r.max_in_window(quota).min(i32::MAX as f64).max(1.0) as usize)
    }

    /// The controller mutation quota of `c` for one request; `strict` as
    /// the request's version allows (CreateTopics v6+, CreatePartitions v3+,
    /// DeleteTopics v5+): a strict quota refuses mutations once exhausted.
    pub fn mutations(&self, c: Client<'_>, strict: bool) -> MutationQuota<'_> {
        let resolved = if self.any.load(Ordering::Acquire) {
            let quotas = self.store.snapshot();
            self.resolve(&quotas, QuotaType::ControllerMutation, c)
        } else {
            None
        };
        MutationQuota {
            manager: self,
            resolved,
            strict,
            throttle_ms: 0,
        }
    }
}

/// One request's view of its controller mutation quota.
pub struct MutationQuota<'a> {
    manager: &'a QuotaManager,
    resolved: Option<(f64, SensorKey)>,
    strict: bool,
    throttle_ms: u64,
}

impl MutationQuota<'_> {
    /// Records `partitions` mutations. A strict quota already exhausted
    /// refuses them (Err with the throttle time: THROTTLING_QUOTA_EXCEEDED);
    /// otherwise they count, even past the quota.
    pub fn try_take(&mut self, partitions: u32) -> Result<(), u64> {
        let Some((quota, key)) = self.resolved.clone() else {
            return Ok(());
        };
        let strict = self.strict;
        let result = self.manager.with_sensor(key, |m, now| match m {
            Measure::Bucket(b) => {
                let before = b.throttle_ms(quota, now);
                if strict && before > 0 {
                    return Err(before);
                }
                b.take(partitions as f64, quota, now);
                Ok(b.throttle_ms(quota, now))
            }
            Measure::Rate(_) => Ok(0),
        });
        match result {
            Ok(t) => {
                self.throttle_ms = self.throttle_ms.max(t);
                Ok(())
            }
            Err(t) => {
                self.throttle_ms = self.throttle_ms.max(t);
                Err(t)
            }
        }
    }

    /// The throttle time the response carries.
    pub fn throttle_ms(&self) -> u64 {
        self.throttle_ms
    }
}

#[cfg(test)]
mod tests;
