//! Assignors, the reconciliation state machine, and whole-group flows of
//! the KIP-848 coordinator with an explicit clock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use fjord_protocol::{ErrorCode, Uuid};

use super::assignor::{self, MemberSpec};
use super::reconcile::{self, Assignment, MemberState, Reconciled};
use super::*;
use crate::{GroupCoordinator, JoinArgs, OffsetToCommit, Reply, OFFSETS_TOPIC};
use fjord_partition::Partition;

const T0: i64 = 1_000_000;

fn tid(n: u8) -> Uuid {
    let mut u = [0u8; 16];
    u[15] = n;
    u[0] = 0x40;
    Uuid(u)
}

fn asg(parts: &[(u8, &[i32])]) -> Assignment {
    let mut a = Assignment::new();
    for (t, ps) in parts {
        if !ps.is_empty() {
            a.entry(tid(*t)).or_default().extend(ps.iter().copied());
        }
    }
    a
}

fn total(a: &Assignment) -> usize {
    a.values().map(BTreeSet::len).sum()
}

// ---- Assignors --------------------------------------------------------------

fn spec<'a>(id: &'a str, topics: &[u8], previous: &'a Assignment) -> MemberSpec<'a> {
    MemberSpec {
        id,
        topics: topics.iter().map(|t| tid(*t)).collect(),
        previous,
    }
}

fn parts(list: &[(u8, i32)]) -> BTreeMap<Uuid, i32> {
    list.iter().map(|(t, n)| (tid(*t), *n)).collect()
}

/// Every partition of the subscribed topics is assigned exactly once.
fn assert_complete(out: &BTreeMap<String, Assignment>, partitions: &BTreeMap<Uuid, i32>) {
    let mut seen = BTreeSet::new();
    for a in out.values() {
        for (t, ps) in a {
            for p in ps {
                assert!(seen.insert((*t, *p)), "partition {p} assigned twice");
            }
        }
    }
    let want: usize = partitions.values().map(|n| *n as usize).sum();
    assert_eq!(seen.len(), want, "every partition is assigned");
}

#[test]
fn uniform_spreads_evenly() {
    let e = Assignment::new();
    let p = parts(&[(1, 3)]);
    let out = assignor::assign(
        "uniform",
        &[
            spec("a", &[1], &e),
            spec("b", &[1], &e),
            spec("c", &[1], &e),
        ],
        &p,
    );
    assert_complete(&out, &p);
    assert!(out.values().all(|a| total(a) == 1));

    let p = parts(&[(1, 4), (2, 3)]);
    let out = assignor::assign(
        "uniform",
        &[
            spec("a", &[1, 2], &e),
            spec("b", &[1, 2], &e),
            spec("c", &[1, 2], &e),
        ],
        &p,
    );
    assert_complete(&out, &p);
    let mut counts: Vec<usize> = out.values().map(total).collect();
    counts.sort();
    assert_eq!(counts, vec![2, 2, 3]);
}

#[test]
fn uniform_is_sticky() {
    let prev_a = asg(&[(1, &[0, 1, 2, 3, 4, 5])]);
    let e = Assignment::new();
    let p = parts(&[(1, 6)]);
    let out = assignor::assign(
        "uniform",
        &[
            spec("a", &[1], &prev_a),
            spec("b", &[1], &e),
            spec("c", &[1], &e),
        ],
        &p,
    );
    assert_complete(&out, &p);
    assert!(out.values().all(|a| total(a) == 2));
    // "a" keeps two of its own; only four partitions move.
    assert!(reconcile::is_subset(&out["a"], &prev_a));

    // A member leaving: the survivors keep theirs and split the rest.
    let prev_b = out["b"].clone();
    let prev_c = out["c"].clone();
    let out2 = assignor::assign(
        "uniform",
        &[spec("b", &[1], &prev_b), spec("c", &[1], &prev_c)],
        &p,
    );
    assert_complete(&out2, &p);
    assert!(reconcile::is_subset(&prev_b, &out2["b"]));
    assert!(reconcile::is_subset(&prev_c, &out2["c"]));
    assert_eq!(total(&out2["b"]), 3);
}

#[test]
fn uniform_handles_different_subscriptions() {
    let e = Assignment::new();
    // "a" reads topics 1 and 2, "b" only topic 2.
    let p = parts(&[(1, 2), (2, 2)]);
    let out = assignor::assign(
        "uniform",
        &[spec("a", &[1, 2], &e), spec("b", &[2], &e)],
        &p,
    );
    assert_complete(&out, &p);
    assert_eq!(out["a"], asg(&[(1, &[0, 1])]));
    assert_eq!(out["b"], asg(&[(2, &[0, 1])]));
    // Nobody subscribed to topic 3: it stays unassigned.
    let p = parts(&[(1, 2), (3, 4)]);
    let out = assignor::assign("uniform", &[spec("a", &[1], &e)], &p);
    assert_eq!(out["a"], asg(&[(1, &[0, 1])]));
}

#[test]
fn range_gives_contiguous_ranges_and_co_partitions() {
    let e = Assignment::new();
    let p = parts(&[(1, 5), (2, 5)]);
    let out = assignor::assign(
        "range",
        &[spec("m2", &[1, 2], &e), spec("m1", &[1, 2], &e)],
        &p,
    );
    assert_complete(&out, &p);
    assert_eq!(out["m1"], asg(&[(1, &[0, 1, 2]), (2, &[0, 1, 2])]));
    assert_eq!(out["m2"], asg(&[(1, &[3, 4]), (2, &[3, 4])]));
}

#[test]
fn range_is_sticky_within_shares() {
    let e = Assignment::new();
    let prev_b = asg(&[(1, &[0, 1])]);
    let p = parts(&[(1, 4)]);
    let out = assignor::assign(
        "range",
        &[spec("a", &[1], &e), spec("b", &[1], &prev_b)],
        &p,
    );
    assert_complete(&out, &p);
    assert_eq!(out["b"], prev_b);
    assert_eq!(out["a"], asg(&[(1, &[2, 3])]));
    // More members than partitions: some get nothing.
    let p = parts(&[(1, 1)]);
    let out = assignor::assign("range", &[spec("a", &[1], &e), spec("b", &[1], &e)], &p);
    assert_complete(&out, &p);
    assert_eq!(out["a"], asg(&[(1, &[0])]));
    assert!(out["b"].is_empty());
}

// ---- Reconciliation ------------------------------------------------------------

fn free(_: &Uuid, _: i32) -> bool {
    false
}

#[test]
fn new_member_takes_free_partitions() {
    let m = Reconciled::new_member();
    let target = asg(&[(1, &[0, 1])]);
    let owned = Assignment::new();
    let r = reconcile::reconcile(&m, 3, &target, Some(&owned), &free);
    assert_eq!(r.state, MemberState::Stable);
    assert_eq!((r.member_epoch, r.previous_member_epoch), (3, 0));
    assert_eq!(r.assigned, target);
}

#[test]
fn partitions_held_elsewhere_wait_until_released() {
    let m = Reconciled::new_member();
    let target = asg(&[(1, &[0, 1])]);
    let held = |_: &Uuid, p: i32| p == 1;
    let r = reconcile::reconcile(&m, 2, &target, Some(&Assignment::new()), &held);
    assert_eq!(r.state, MemberState::UnreleasedPartitions);
    assert_eq!(r.member_epoch, 2);
    assert_eq!(r.assigned, asg(&[(1, &[0])]));
    // Released: the next step hands it over.
    let r2 = reconcile::reconcile(&r, 2, &target, None, &free);
    assert_eq!(r2.state, MemberState::Stable);
    assert_eq!(r2.assigned, target);
}

#[test]
fn revocation_comes_before_the_new_epoch() {
    let m = Reconciled {
        state: MemberState::Stable,
        member_epoch: 1,
        previous_member_epoch: 0,
        assigned: asg(&[(1, &[0, 1, 2])]),
        pending_revocation: Assignment::new(),
    };
    let target = asg(&[(1, &[0])]);
    let owned = asg(&[(1, &[0, 1, 2])]);
    let r = reconcile::reconcile(&m, 2, &target, Some(&owned), &free);
    assert_eq!(r.state, MemberState::UnrevokedPartitions);
    assert_eq!(r.member_epoch, 1, "stays in its epoch while revoking");
    assert_eq!(r.assigned, asg(&[(1, &[0])]));
    assert_eq!(r.pending_revocation, asg(&[(1, &[1, 2])]));
    // Still owning one of them (or not saying): no progress.
    let still = asg(&[(1, &[0, 2])]);
    assert_eq!(reconcile::reconcile(&r, 2, &target, Some(&still), &free), r);
    assert_eq!(reconcile::reconcile(&r, 2, &target, None, &free), r);
    // Revoked: on to the target epoch.
    let done = asg(&[(1, &[0])]);
    let r2 = reconcile::reconcile(&r, 2, &target, Some(&done), &free);
    assert_eq!(r2.state, MemberState::Stable);
    assert_eq!((r2.member_epoch, r2.previous_member_epoch), (2, 1));
    assert!(r2.pending_revocation.is_empty());
    // A member that already gave them up skips the revoking state.
    let r3 = reconcile::reconcile(&m, 2, &target, Some(&done), &free);
    assert_eq!(r3.state, MemberState::Stable);
    assert_eq!(r3.member_epoch, 2);
}

#[test]
fn unknown_state_is_reconciled_from_scratch() {
    let m = Reconciled {
        state: MemberState::from_value(99),
        member_epoch: 4,
        previous_member_epoch: 3,
        assigned: asg(&[(1, &[0])]),
        pending_revocation: asg(&[(1, &[5])]),
    };
    assert_eq!(m.state, MemberState::Unknown);
    let r = reconcile::reconcile(
        &m,
        5,
        &asg(&[(1, &[0, 1])]),
        Some(&asg(&[(1, &[0])])),
        &free,
    );
    assert_eq!(r.state, MemberState::Stable);
    assert_eq!(r.assigned, asg(&[(1, &[0, 1])]));
}

// ---- Whole-group flows ---------------------------------------------------------

struct MapTopics(BTreeMap<String, (Uuid, i32)>);

impl MapTopics {
    fn new(list: &[(&str, u8, i32)]) -> MapTopics {
        MapTopics(
            list.iter()
                .map(|(n, t, p)| (n.to_string(), (tid(*t), *p)))
                .collect(),
        )
    }
}

impl Topics for MapTopics {
    fn by_name(&self, name: &str) -> Option<TopicInfo> {
        self.0.get(name).map(|(id, p)| TopicInfo {
            name: name.to_string(),
            id: *id,
            partitions: *p,
        })
    }

    fn by_id(&self, id: &Uuid) -> Option<TopicInfo> {
        self.0
            .iter()
            .find(|(_, (i, _))| i == id)
            .map(|(n, (i, p))| TopicInfo {
                name: n.clone(),
                id: *i,
                partitions: *p,
            })
    }

    fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
}

fn join_args(group: &str, member: &str, topics: &[&str]) -> HeartbeatArgs {
    HeartbeatArgs {
        group_id: group.into(),
        member_id: member.into(),
        member_epoch: 0,
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(topics.iter().map(|t| t.to_string()).collect()),
        owned: Some(Assignment::new()),
        client_id: "test".into(),
        client_host: "/127.0.0.1".into(),
        ..Default::default()
    }
}

fn hb_args(group: &str, member: &str, epoch: i32, owned: Option<Assignment>) -> HeartbeatArgs {
    HeartbeatArgs {
        group_id: group.into(),
        member_id: member.into(),
        member_epoch: epoch,
        rebalance_timeout_ms: -1,
        owned,
        client_id: "test".into(),
        client_host: "/127.0.0.1".into(),
        ..Default::default()
    }
}

struct Client {
    id: String,
    epoch: i32,
    owned: Assignment,
}

fn cfg() -> ConsumerGroupConfig {
    ConsumerGroupConfig::default()
}

fn ok(r: &HeartbeatResult) {
    assert_eq!(r.error_code, 0, "unexpected error {:?}", r.error_message);
}

/// Joins a member the way a client does; it takes what it is given.
fn join(c: &GroupCoordinator, t: &MapTopics, group: &str, topics: &[&str], now: i64) -> Client {
    let (r, _) = c.consumer_heartbeat(join_args(group, "", topics), &cfg(), t, now);
    ok(&r);
    Client {
        id: r.member_id.clone().expect("member id"),
        epoch: r.member_epoch,
        owned: r.assignment.expect("a join gets its assignment"),
    }
}

/// One heartbeat of a well-behaved client: it reports what it owns and
/// adopts what it is given (revoking immediately).
fn beat(
    c: &GroupCoordinator,
    t: &MapTopics,
    group: &str,
    m: &mut Client,
    now: i64,
) -> HeartbeatResult {
    let (r, _) = c.consumer_heartbeat(
        hb_args(group, &m.id, m.epoch, Some(m.owned.clone())),
        &cfg(),
        t,
        now,
    );
    ok(&r);
    m.epoch = r.member_epoch;
    if let Some(a) = &r.assignment {
        m.owned = a.clone();
    }
    r
}

fn assert_disjoint(members: &[&Client]) {
    let mut seen = BTreeSet::new();
    for m in members {
        for (t, ps) in &m.owned {
            for p in ps {
                assert!(seen.insert((*t, *p)), "partition {p} owned twice");
            }
        }
    }
}

#[test]
fn single_member_gets_everything() {
    let c = GroupCoordinator::new();
    let t = MapTopics::new(&[("t", 1, 3)]);
    let m = join(&c, &t, "g", &["t"], T0);
    assert_eq!(m.id.len(), 22);
    assert_eq!(m.epoch, 1);
    assert_eq!(m.owned, asg(&[(1, &[0, 1, 2])]));
    assert_eq!(
        c.consumer_group_state("g"),
        Some(ConsumerGroupState::Stable)
    );
    let (r, _) = c.consumer_heartbeat(join_args("g", "", &["t"]), &cfg(), &t, T0);
    assert_eq!(r.heartbeat_interval_ms, DEFAULT_HEARTBEAT_INTERVAL_MS);
}

#[test]
fn partitions_move_only_after_revocation() {
    let c = GroupCoordinator::new();
    let t = MapTopics::new(&[("t", 1, 3)]);
    let mut a = join(&c, &t, "g", &["t"], T0);
    let mut b = join(&c, &t, "g", &["t"], T0 + 1);
    // "b" is at the new epoch but everything is still "a"'s.
    assert_eq!(b.epoch, 2);
    assert!(b.owned.is_empty());
    assert_eq!(
        c.consumer_group_state("g"),
        Some(ConsumerGroupState::Reconciling)
    );
    assert_disjoint(&[&a, &b]);
    // "b" asks again: nothing has been released yet.
    beat(&c, &t, "g", &mut b, T0 + 2);
    assert!(b.owned.is_empty());
    // "a" is told to give some up, in its old epoch.
    let r = beat(&c, &t, "g", &mut a, T0 + 3);
    assert_eq!(r.member_epoch, 1);
    let kept = total(&a.owned);
    assert!(kept < 3);
    assert_disjoint(&[&a, &b]);
    // It reports the revocation and moves to epoch 2.
    beat(&c, &t, "g", &mut a, T0 + 4);
    assert_eq!(a.epoch, 2);
    // Now "b" gets the released partitions.
    beat(&c, &t, "g", &mut b, T0 + 5);
    assert_disjoint(&[&a, &b]);
    assert_eq!(total(&a.owned) + total(&b.owned), 3);
    assert!(total(&b.owned) >= 1);
    assert_eq!(
        c.consumer_group_state("g"),
        Some(ConsumerGroupState::Stable)
    );
    // Steady heartbeats change nothing and send no assignment.
    let r = beat(&c, &t, "g", &mut a, T0 + 6);
    assert_eq!(r.assignment, None);
}

#[test]
fn three_members_one_partition_each_and_leave_moves_it() {
    let c = GroupCoordinator::new();
    let t = MapTopics::new(&[("t", 1, 3)]);
    let mut ms = vec![
        join(&c, &t, "g", &["t"], T0),
        join(&c, &t, "g", &["t"], T0),
        join(&c, &t, "g", &["t"], T0),
    ];
    for round in 0..4 {
        for m in ms.iter_mut() {
            beat(&c, &t, "g", m, T0 + 10 + round);
        }
    }
    assert!(ms.iter().all(|m| total(&m.owned) == 1));
    assert_disjoint(&ms.iter().collect::<Vec<_>>());
    // One leaves: its partition goes to someone else.
    let gone = ms.remove(0);
    let (r, _) = c.consumer_heartbeat(
        hb_args("g", &gone.id, LEAVE_EPOCH, None),
        &cfg(),
        &t,
        T0 + 20,
    );
    ok(&r);
    assert_eq!(r.member_epoch, LEAVE_EPOCH);
    for m in ms.iter_mut() {
        beat(&c, &t, "g", m, T0 + 21);
    }
    assert_eq!(ms.iter().map(|m| total(&m.owned)).sum::<usize>(), 3);
    assert_disjoint(&ms.iter().collect::<Vec<_>>());
    // The member that left is unknown now.
    let (r, _) = c.consumer_heartbeat(
        hb_args("g", &gone.id, gone.epoch, None),
        &cfg(),
        &t,
        T0 + 22,
    );
    assert_eq!(r.error_code, ErrorCode::UnknownMemberId.code());
}

#[test]
fn session_and_rebalance_timeouts_remove_members() {
    let c = GroupCoordinator::new();
    let t = MapTopics::new(&[("t", 1, 2)]);
    let mut a = join(&c, &t, "g", &["t"], T0);
    // Silent past the session timeout.
    c.tick(T0 + i64::from(DEFAULT_SESSION_TIMEOUT_MS) + 1);
    let (r, _) = c.consumer_heartbeat(hb_args("g", &a.id, a.epoch, None), &cfg(), &t, T0 + 50_000);
    assert_eq!(r.error_code, ErrorCode::UnknownMemberId.code());
    assert_eq!(c.consumer_group_state("g"), Some(ConsumerGroupState::Empty));

    // A member that never revokes is removed after its rebalance timeout.
    let now = T0 + 100_000;
    a = join(&c, &t, "g", &["t"], now);
    let mut b = join(&c, &t, "g", &["t"], now + 1);
    // "a" hears it must revoke but keeps reporting everything.
    let full = a.owned.clone();
    let (r, _) = c.consumer_heartbeat(
        hb_args("g", &a.id, a.epoch, Some(full.clone())),
        &cfg(),
        &t,
        now + 2,
    );
    ok(&r);
    let (r, _) = c.consumer_heartbeat(
        hb_args("g", &a.id, a.epoch, Some(full)),
        &cfg(),
        &t,
        now + 20_000,
    );
    ok(&r);
    beat(&c, &t, "g", &mut b, now + 20_001);
    c.tick(now + 30_003);
    let (r, _) = c.consumer_heartbeat(hb_args("g", &a.id, a.epoch, None), &cfg(), &t, now + 30_004);
    assert_eq!(r.error_code, ErrorCode::UnknownMemberId.code());
    beat(&c, &t, "g", &mut b, now + 30_005);
    assert_eq!(total(&b.owned), 2);
}

#[test]
fn request_errors_are_kafkas() {
    let c = GroupCoordinator::new();
    let t = MapTopics::new(&[("t", 1, 1)]);
    let code = |a: HeartbeatArgs| c.consumer_heartbeat(a, &cfg(), &t, T0).0.error_code;
    let invalid = ErrorCode::InvalidRequest.code();
    assert_eq!(code(join_args("", "", &["t"])), invalid);
    let mut a = join_args("g", "", &["t"]);
    a.rebalance_timeout_ms = -1;
    assert_eq!(code(a), invalid);
    let mut a = join_args("g", "", &["t"]);
    a.owned = None;
    assert_eq!(code(a), invalid);
    let mut a = join_args("g", "", &["t"]);
    a.subscribed_topic_names = None;
    assert_eq!(code(a), invalid);
    assert_eq!(code(hb_args("g", "", 3, None)), invalid);
    assert_eq!(code(hb_args("g", "m", -3, None)), invalid);
    assert_eq!(code(hb_args("g", "m", LEAVE_STATIC_EPOCH, None)), invalid);
    let mut a = join_args("g", "", &["t"]);
    a.server_assignor = Some("sticky".into());
    assert_eq!(code(a), ErrorCode::UnsupportedAssignor.code());
    let mut a = join_args("g", "", &[]);
    a.subscribed_topic_regex = Some("(".into());
    assert_eq!(code(a), INVALID_REGULAR_EXPRESSION);
    // Unknown group or member: rejoin.
    assert_eq!(
        code(hb_args("nope", "m", 3, None)),
        ErrorCode::UnknownMemberId.code()
    );
    let m = join(&c, &t, "g", &["t"], T0);
    assert_eq!(
        code(hb_args("g", "other", 1, None)),
        ErrorCode::UnknownMemberId.code()
    );
    // Epochs ahead of the coordinator, or behind without the right
    // partitions, are fenced.
    assert_eq!(
        code(hb_args("g", &m.id, m.epoch + 1, None)),
        ErrorCode::FencedMemberEpoch.code()
    );
    let mut a = m;
    let mut b = join(&c, &t, "g", &["t"], T0);
    beat(&c, &t, "g", &mut a, T0);
    beat(&c, &t, "g", &mut b, T0);
    assert_eq!((a.epoch, b.epoch), (2, 2));
    let stale = |owned| code(hb_args("g", &a.id, 1, owned));
    assert_eq!(
        stale(Some(asg(&[(9, &[0])]))),
        ErrorCode::FencedMemberEpoch.code()
    );
    assert_eq!(stale(None), ErrorCode::FencedMemberEpoch.code());
    // The previous epoch with a subset of the assignment is accepted (a
    // lost response), and answered with the current epoch.
    let r = c
        .consumer_heartbeat(
            hb_args("g", &a.id, 1, Some(a.owned.clone())),
            &cfg(),
            &t,
            T0,
        )
        .0;
    ok(&r);
    assert_eq!(r.member_epoch, 2);
    assert_eq!(r.assignment, Some(a.owned.clone()));
}

#[test]
fn rejoin_with_epoch_zero_keeps_the_member() {
    let c = GroupCoordinator::new();
    let t = MapTopics::new(&[("t", 1, 2)]);
    let m = join(&c, &t, "g", &["t"], T0);
    // A client that generates its own id (KIP-1082) rejoins with it.
    let (r, _) = c.consumer_heartbeat(join_args("g", &m.id, &["t"]), &cfg(), &t, T0 + 1);
    ok(&r);
    assert_eq!(r.member_id.as_deref(), Some(m.id.as_str()));
    assert_eq!(r.member_epoch, m.epoch);
    assert_eq!(r.assignment, Some(m.owned.clone()));
    let (r, _) = c.consumer_heartbeat(join_args("g", "client-made-id", &["t"]), &cfg(), &t, T0 + 2);
    ok(&r);
    assert_eq!(r.member_id.as_deref(), Some("client-made-id"));
}

#[test]
fn static_member_can_leave_for_a_while() {
    let c = GroupCoordinator::new();
    let t = MapTopics::new(&[("t", 1, 2)]);
    let mut a = join_args("g", "", &["t"]);
    a.instance_id = Some("i1".into());
    let (r, _) = c.consumer_heartbeat(a.clone(), &cfg(), &t, T0);
    ok(&r);
    let first = r.member_id.clone().unwrap_or_default();
    let owned = r.assignment.clone().unwrap_or_default();
    // Another process with the same instance id while it is active.
    let (r2, _) = c.consumer_heartbeat(a.clone(), &cfg(), &t, T0 + 1);
    assert_eq!(r2.error_code, ErrorCode::UnreleasedInstanceId.code());
    // Temporary leave: it keeps its partitions.
    let mut leave = hb_args("g", &first, LEAVE_STATIC_EPOCH, None);
    leave.instance_id = Some("i1".into());
    let (r3, _) = c.consumer_heartbeat(leave, &cfg(), &t, T0 + 2);
    ok(&r3);
    assert_eq!(r3.member_epoch, LEAVE_STATIC_EPOCH);
    // The new instance takes over its place, epoch and partitions.
    let (r4, _) = c.consumer_heartbeat(a, &cfg(), &t, T0 + 3);
    ok(&r4);
    assert_ne!(r4.member_id.as_deref(), Some(first.as_str()));
    assert_eq!(r4.member_epoch, 1);
    assert_eq!(r4.assignment, Some(owned));
    let (r5, _) = c.consumer_heartbeat(hb_args("g", &first, 1, None), &cfg(), &t, T0 + 4);
    assert_eq!(r5.error_code, ErrorCode::UnknownMemberId.code());
}

#[test]
fn regex_subscriptions_and_new_partitions() {
    let c = GroupCoordinator::new();
    let mut t = MapTopics::new(&[("orders-eu", 1, 1), ("orders-us", 2, 1), ("other", 3, 1)]);
    let mut a = join_args("g", "", &[]);
    a.subscribed_topic_names = None;
    a.subscribed_topic_regex = Some("orders-.*".into());
    let (r, _) = c.consumer_heartbeat(a, &cfg(), &t, T0);
    ok(&r);
    assert_eq!(r.assignment, Some(asg(&[(1, &[0]), (2, &[0])])));
    let mut m = Client {
        id: r.member_id.unwrap_or_default(),
        epoch: r.member_epoch,
        owned: r.assignment.unwrap_or_default(),
    };
    // A topic grows and a new one matches: the next heartbeat sees both.
    t.0.insert("orders-eu".into(), (tid(1), 3));
    t.0.insert("orders-asia".into(), (tid(4), 1));
    let r = beat(&c, &t, "g", &mut m, T0 + 1);
    assert_eq!(r.member_epoch, 2);
    assert_eq!(m.owned, asg(&[(1, &[0, 1, 2]), (2, &[0]), (4, &[0])]));
}

#[test]
fn range_assignor_is_chosen_by_the_members() {
    let c = GroupCoordinator::new();
    let t = MapTopics::new(&[("t", 1, 4)]);
    let mut args = join_args("g", "m1", &["t"]);
    args.server_assignor = Some("range".into());
    let (r, _) = c.consumer_heartbeat(args, &cfg(), &t, T0);
    ok(&r);
    let mut args = join_args("g", "m2", &["t"]);
    args.server_assignor = Some("range".into());
    let (r, _) = c.consumer_heartbeat(args, &cfg(), &t, T0);
    ok(&r);
    let d = c.consumer_describe("g", &t, &cfg());
    assert_eq!(d.assignor_name, "range");
    let target: Vec<Vec<i32>> = d
        .members
        .iter()
        .map(|m| {
            m.target_assignment
                .topic_partitions
                .iter()
                .flat_map(|tp| tp.partitions.clone())
                .collect()
        })
        .collect();
    assert_eq!(target, vec![vec![0, 1], vec![2, 3]]);
}

fn classic_join(group: &str) -> JoinArgs {
    JoinArgs {
        group_id: group.into(),
        member_id: String::new(),
        group_instance_id: None,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), bytes::Bytes::new())],
        require_known_member_id: false,
        supports_skip_assignment: false,
    }
}

#[test]
fn classic_and_consumer_groups_exclude_each_other() {
    let c = GroupCoordinator::new();
    let t = MapTopics::new(&[("t", 1, 1)]);
    let m = join(&c, &t, "g", &["t"], T0);
    let (reply, _) = c.join(classic_join("g"), T0);
    match reply {
        Reply::Now(r) => assert_eq!(r.error_code, ErrorCode::InconsistentGroupProtocol.code()),
        Reply::Wait(_) => panic!("a classic join to a consumer group must be refused"),
    }
    // Once empty, the consumer group gives way to a classic one.
    let (r, _) = c.consumer_heartbeat(hb_args("g", &m.id, LEAVE_EPOCH, None), &cfg(), &t, T0 + 1);
    ok(&r);
    let (_reply, _) = c.join(classic_join("g"), T0 + 2);
    assert_eq!(c.consumer_group_state("g"), None);
    // ... and a classic group with members refuses consumer members.
    let (r, _) = c.consumer_heartbeat(join_args("g", "", &["t"]), &cfg(), &t, T0 + 3);
    assert_eq!(r.error_code, ErrorCode::GroupIdNotFound.code());
    let d = c.consumer_describe("g", &t, &cfg());
    assert_eq!(d.error_code, ErrorCode::GroupIdNotFound.code());
    assert_eq!(
        d.error_message.as_deref(),
        Some("Group g is not a consumer group.")
    );
    let listed = c.list_all_groups();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].group_type, "classic");
}

fn commit(c: &GroupCoordinator, group: &str, member: &str, epoch: i32, offset: i64) -> ErrorCode {
    let (errs, _) = c.commit_offsets(
        group,
        epoch,
        member,
        None,
        &[OffsetToCommit {
            topic: "t".into(),
            partition: 0,
            offset,
            leader_epoch: -1,
            metadata: None,
        }],
        T0,
    );
    errs[0]
}

#[test]
fn offset_commits_check_the_member_epoch() {
    let c = GroupCoordinator::new();
    let t = MapTopics::new(&[("t", 1, 1)]);
    let m = join(&c, &t, "g", &["t"], T0);
    assert_eq!(commit(&c, "g", &m.id, m.epoch, 7), ErrorCode::None);
    assert_eq!(
        commit(&c, "g", &m.id, m.epoch + 1, 8),
        ErrorCode::StaleMemberEpoch
    );
    assert_eq!(
        commit(&c, "g", "stranger", m.epoch, 8),
        ErrorCode::UnknownMemberId
    );
    assert_eq!(commit(&c, "g", "", -1, 8), ErrorCode::UnknownMemberId);
    let got = c.fetch_offsets("g", None).expect("offsets");
    assert_eq!(got[0].1[0].1.as_ref().map(|o| o.offset), Some(7));
    assert_eq!(c.consumer_fetch_check("g", Some(&m.id), m.epoch), Ok(()));
    assert_eq!(
        c.consumer_fetch_check("g", Some(&m.id), m.epoch + 1),
        Err(ErrorCode::StaleMemberEpoch)
    );
    assert_eq!(c.consumer_fetch_check("g", None, -1), Ok(()));
    // An empty group takes admin commits; deleting it removes both.
    let (r, _) = c.consumer_heartbeat(hb_args("g", &m.id, LEAVE_EPOCH, None), &cfg(), &t, T0);
    ok(&r);
    assert_eq!(commit(&c, "g", "", -1, 9), ErrorCode::None);
    assert_eq!(c.delete_group("g", T0).0, ErrorCode::None);
    assert_eq!(c.consumer_group_state("g"), None);
    assert!(c.fetch_offsets("g", None).expect("offsets").is_empty());
}

#[test]
fn delete_refuses_groups_with_members() {
    let c = GroupCoordinator::new();
    let t = MapTopics::new(&[("t", 1, 1)]);
    join(&c, &t, "g", &["t"], T0);
    assert_eq!(c.delete_group("g", T0).0, ErrorCode::NonEmptyGroup);
    let listed = c.list_all_groups();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].group_type, listed[0].state.as_str()),
        ("consumer", "Stable")
    );
    let classic = c
        .consumer_describe_classic("g", &t, &cfg())
        .expect("consumer group");
    assert_eq!(classic.protocol_type, "consumer");
    assert_eq!(classic.members.len(), 1);
}

#[test]
fn groups_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("fjord-cg-test-{}", rand::random::<u64>()));
    let open = || {
        let log = fjord_storage::Log::open(&dir, fjord_storage::LogConfig::default()).expect("log");
        vec![Arc::new(Partition::new(OFFSETS_TOPIC, 0, Arc::new(log), 0))]
    };
    let t = MapTopics::new(&[("t", 1, 3)]);
    let (mut a, mut b);
    {
        let c = GroupCoordinator::new();
        c.load(open(), T0);
        a = join(&c, &t, "g", &["t"], T0);
        b = join(&c, &t, "g", &["t"], T0);
        for i in 0..3 {
            beat(&c, &t, "g", &mut a, T0 + 1 + i);
            beat(&c, &t, "g", &mut b, T0 + 1 + i);
        }
        assert_eq!(commit(&c, "g", &a.id, a.epoch, 11), ErrorCode::None);
        let (r, d) = c.consumer_heartbeat(join_args("g2", "", &["t"]), &cfg(), &t, T0 + 9);
        ok(&r);
        let (p, next) = d.expect("appended");
        p.log.sync_to(next).expect("sync");
        p.close().expect("close");
    }
    let c = GroupCoordinator::new();
    c.load(open(), T0 + 100);
    assert_eq!(
        c.consumer_group_state("g"),
        Some(ConsumerGroupState::Stable)
    );
    let d = c.consumer_describe("g", &t, &cfg());
    assert_eq!(d.members.len(), 2);
    assert_eq!(d.group_epoch, 2);
    // Members carry on with their epochs and partitions.
    let r = beat(&c, &t, "g", &mut a, T0 + 101);
    assert_eq!(r.member_epoch, 2);
    beat(&c, &t, "g", &mut b, T0 + 101);
    assert_disjoint(&[&a, &b]);
    assert_eq!(total(&a.owned) + total(&b.owned), 3);
    assert_eq!(commit(&c, "g", &a.id, a.epoch, 12), ErrorCode::None);
    let got = c.fetch_offsets("g", None).expect("offsets");
    assert_eq!(got[0].1[0].1.as_ref().map(|o| o.offset), Some(12));
    assert!(c.consumer_group_state("g2").is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_defaults_are_kafkas() {
    let c = ConsumerGroupConfig::default();
    assert_eq!(c.session_timeout_ms, DEFAULT_SESSION_TIMEOUT_MS);
    assert_eq!(c.heartbeat_interval_ms, DEFAULT_HEARTBEAT_INTERVAL_MS);
    assert_eq!(
        c.assignors,
        vec!["uniform".to_string(), "range".to_string()]
    );
    assert_eq!(
        parse_assignors("org.apache.kafka.coordinator.group.assignor.RangeAssignor, uniform"),
        Ok(vec!["range".to_string(), "uniform".to_string()])
    );
    assert!(parse_assignors("sticky").is_err());
    assert!(parse_assignors(" , ").is_err());
}

#[test]
fn records_round_trip() {
    let cur = Reconciled {
        state: MemberState::UnrevokedPartitions,
        member_epoch: 4,
        previous_member_epoch: 3,
        assigned: asg(&[(1, &[0, 2])]),
        pending_revocation: asg(&[(1, &[1])]),
    };
    let (k, v) = records::current_member("g", "m", Some(&cur));
    assert_eq!(&k[..2], &[0, 8]);
    assert_eq!(
        records::decode(&k, v.as_ref()),
        Some(records::Record::CurrentMember {
            group: "g".into(),
            member: "m".into(),
            current: Some(cur)
        })
    );
    let meta = records::MemberMeta {
        instance_id: None,
        rack_id: Some("r".into()),
        client_id: "c".into(),
        client_host: "/h".into(),
        subscribed_topic_names: vec!["t".into()],
        subscribed_topic_regex: None,
        rebalance_timeout_ms: 300_000,
        server_assignor: Some("uniform".into()),
        classic: None,
    };
    let (k, v) = records::member_metadata("g", "m", Some(&meta));
    assert_eq!(
        records::decode(&k, v.as_ref()),
        Some(records::Record::Member {
            group: "g".into(),
            member: "m".into(),
            meta: Some(meta)
        })
    );
    let (k, v) = records::group_metadata("g", None);
    assert_eq!(
        records::decode(&k, v.as_ref()),
        Some(records::Record::Group {
            group: "g".into(),
            epoch: None
        })
    );
    assert!(records::is_consumer_group_key(&k));
    assert!(records::decode(&bytes::Bytes::from_static(&[0, 8, 1]), None).is_none());
}

mod migration;
