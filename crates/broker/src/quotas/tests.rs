//! Unit tests of quota resolution and usage.

use super::store::{Change, Entity, Slot};
use super::*;

struct Dir(std::path::PathBuf);
impl Dir {
    fn new() -> Dir {
        let d = std::env::temp_dir().join(format!("fjord-quota-mgr-{}", rand::random::<u64>()));
        std::fs::create_dir_all(d.join("meta")).unwrap();
        Dir(d)
    }
}
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn set(m: &QuotaManager, user: Slot, client_id: Slot, key: &str, v: f64) {
    m.apply(&[Change {
        entity: Entity::client(user, client_id),
        key: key.into(),
        value: Some(v),
    }])
    .unwrap();
}

fn named(s: &str) -> Slot {
    Slot::Named(s.into())
}

fn client<'a>(user: &'a str, id: &'a str) -> Client<'a> {
    Client {
        user,
        client_id: id,
    }
}

#[test]
fn no_quota_means_no_throttle_and_no_sensor() {
    let d = Dir::new();
    let m = QuotaManager::open(&d.0, QuotaSettings::default()).unwrap();
    assert_eq!(m.record(QuotaType::Produce, client("a", "c"), 1e12), 0);
    assert!(m.sensors.lock().unwrap().is_empty());
    assert_eq!(m.fetch_cap(client("a", "c")), None);
}

#[test]
fn the_most_specific_entity_wins_in_kafkas_order() {
    let d = Dir::new();
    let m = QuotaManager::open(&d.0, QuotaSettings::default()).unwrap();
    let q = |u: &str, c: &str| {
        m.resolve(&m.quotas(), QuotaType::Produce, client(u, c))
            .map(|(v, k)| (v, k.1, k.2))
    };
    let r = "producer_byte_rate";
    set(&m, Slot::Absent, Slot::Default, r, 8.0);
    assert_eq!(q("alice", "app"), Some((8.0, "".into(), "app".into())));
    set(&m, Slot::Absent, named("app"), r, 7.0);
    assert_eq!(q("alice", "app"), Some((7.0, "".into(), "app".into())));
    set(&m, Slot::Default, Slot::Absent, r, 6.0);
    assert_eq!(q("alice", "app"), Some((6.0, "alice".into(), "".into())));
    set(&m, Slot::Default, Slot::Default, r, 5.0);
    assert_eq!(q("alice", "app"), Some((5.0, "alice".into(), "app".into())));
    set(&m, Slot::Default, named("app"), r, 4.0);
    assert_eq!(q("alice", "app"), Some((4.0, "alice".into(), "app".into())));
    set(&m, named("alice"), Slot::Absent, r, 3.0);
    assert_eq!(q("alice", "app"), Some((3.0, "alice".into(), "".into())));
    set(&m, named("alice"), Slot::Default, r, 2.0);
    assert_eq!(q("alice", "app"), Some((2.0, "alice".into(), "app".into())));
    set(&m, named("alice"), named("app"), r, 1.0);
    assert_eq!(q("alice", "app"), Some((1.0, "alice".into(), "app".into())));
    // Another user falls back to the <default> user entries.
    assert_eq!(q("bob", "app"), Some((4.0, "bob".into(), "app".into())));
    // Each key resolves on its own: no fetch quota anywhere.
    assert!(m
        .resolve(&m.quotas(), QuotaType::Fetch, client("alice", "app"))
        .is_none());
}

#[test]
fn a_user_quota_is_shared_by_the_users_clients_but_not_by_other_users() {
    let d = Dir::new();
    let m = QuotaManager::open(&d.0, QuotaSettings::default()).unwrap();
    set(
        &m,
        Slot::Default,
        Slot::Absent,
        "producer_byte_rate",
        1_000_000.0,
    );
    // 10 MB fits in the first 10 s window for one client...
    assert_eq!(m.record(QuotaType::Produce, client("alice", "a"), 10e6), 0);
    // ...and a second client of the same user shares it.
    assert!(m.record(QuotaType::Produce, client("alice", "b"), 10e6) > 0);
    // Another user has a quota of their own.
    assert_eq!(m.record(QuotaType::Produce, client("bob", "a"), 10e6), 0);
    assert_eq!(m.fetch_cap(client("alice", "a")), None);
}

#[test]
fn the_fetch_cap_follows_the_consumer_quota() {
    let d = Dir::new();
    let m = QuotaManager::open(&d.0, QuotaSettings::default()).unwrap();
    set(
        &m,
        Slot::Absent,
        named("c"),
        "consumer_byte_rate",
        100_000.0,
    );
    assert_eq!(m.fetch_cap(client("ANONYMOUS", "c")), Some(1_000_000));
    assert_eq!(m.fetch_cap(client("ANONYMOUS", "other")), None);
}

#[test]
fn a_strict_mutation_quota_refuses_once_exhausted() {
    let d = Dir::new();
    let m = QuotaManager::open(&d.0, QuotaSettings::default()).unwrap();
    // 1 partition/s: a burst of 11.
    set(
        &m,
        Slot::Absent,
        named("admin"),
        "controller_mutation_rate",
        1.0,
    );
    let mut q = m.mutations(client("ANONYMOUS", "admin"), true);
    assert_eq!(q.try_take(30), Ok(()));
    assert!(q.throttle_ms() >= 18_000, "{}", q.throttle_ms());
    assert!(q.try_take(1).is_err());
    // A permissive quota (old versions) takes it and throttles.
    let mut p = m.mutations(client("ANONYMOUS", "admin"), false);
    assert_eq!(p.try_take(1), Ok(()));
    assert!(p.throttle_ms() > 0);
    // Other clients are not limited.
    let mut o = m.mutations(client("ANONYMOUS", "x"), true);
    assert_eq!(o.try_take(1000), Ok(()));
    assert_eq!(o.throttle_ms(), 0);
}

fn set_ip(m: &QuotaManager, ip: Option<&str>, v: Option<f64>) {
    let entity = Entity::parse(&[("ip".into(), ip.map(String::from))]).unwrap();
    m.apply(&[Change {
        entity,
        key: "connection_creation_rate".into(),
        value: v,
    }])
    .unwrap();
}

fn accepted(m: &QuotaManager, ip: &str, n: usize, at: u64) -> usize {
    let ip = ip.parse().unwrap();
    (0..n)
        .filter(|_| m.connection_created_at(ip, at) == ConnectionVerdict::Accept)
        .count()
}

#[test]
fn the_ip_connection_rate_throttles_as_kafka_does() {
    let d = Dir::new();
    // Two 1 s windows: a rate is measured over at least one second.
    let s = QuotaSettings {
        samples: 2,
        ..QuotaSettings::default()
    };
    let m = QuotaManager::open(&d.0, s).unwrap();
    assert_eq!(accepted(&m, "127.0.0.1", 100, 10_000), 100);
    set_ip(&m, Some("127.0.0.1"), Some(5.0));
    // No user/client quota is active for an ip entity alone.
    assert!(!m.active());
    let t = 20_000;
    assert_eq!(accepted(&m, "127.0.0.1", 5, t), 5);
    // The 6th: (6 - 5) / 5 × 1000 ms, and not counted.
    match m.connection_created_at("127.0.0.1".parse().unwrap(), t) {
        ConnectionVerdict::Throttle {
            throttle_ms,
            quota,
            log,
        } => {
            assert_eq!((throttle_ms, quota, log), (200, 5, Some(1)));
        }
        v => panic!("{v:?}"),
    }
    assert_eq!(accepted(&m, "127.0.0.1", 14, t + 10), 0);
    // Another address is not limited, and not by 127.0.0.1's usage.
    assert_eq!(accepted(&m, "127.0.0.2", 50, t), 50);
    // Once the window has passed, new connections are accepted again.
    assert_eq!(accepted(&m, "127.0.0.1", 5, t + 2_500), 5);
    // The log line: once a second per address, with the count since.
    match m.connection_created_at("127.0.0.1".parse().unwrap(), t + 2_600) {
        ConnectionVerdict::Throttle { log, .. } => assert_eq!(log, Some(15)),
        v => panic!("{v:?}"),
    }
    // (The window grows with the time since its start: 6 in 1.11 s is
    // still over 5/s, 6 in 1.2 s would not be.)
    match m.connection_created_at("127.0.0.1".parse().unwrap(), t + 2_610) {
        ConnectionVerdict::Throttle { log, .. } => assert_eq!(log, None),
        v => panic!("{v:?}"),
    }
    // The <default> ip entity limits every other address separately.
    set_ip(&m, None, Some(3.0));
    let t = 40_000;
    assert_eq!(accepted(&m, "127.0.0.3", 10, t), 3);
    assert_eq!(accepted(&m, "127.0.0.4", 10, t), 3);
    assert_eq!(accepted(&m, "127.0.0.1", 10, t), 5);
    // Removed: no limit.
    set_ip(&m, None, None);
    set_ip(&m, Some("127.0.0.1"), None);
    assert_eq!(accepted(&m, "127.0.0.1", 100, t + 1), 100);
}

#[test]
fn the_default_windows_let_a_fresh_address_burst_like_kafka() {
    // quota.window.num = 11: the rate of a new address is measured over at
    // least 10 s, so at 5/s the first 50 connections pass at once.
    let d = Dir::new();
    let m = QuotaManager::open(&d.0, QuotaSettings::default()).unwrap();
    set_ip(&m, Some("::1"), Some(5.0));
    assert_eq!(accepted(&m, "::1", 80, 5_000), 50);
    match m.connection_created_at("::1".parse().unwrap(), 5_000) {
        // (5.1 - 5) / 5 × 10 s.
        ConnectionVerdict::Throttle { throttle_ms, .. } => assert_eq!(throttle_ms, 200),
        v => panic!("{v:?}"),
    }
}
