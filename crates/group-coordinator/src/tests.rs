//! State machine tests with an explicit clock (no storage: memory only).

use super::*;

const T0: i64 = 1_000_000;
const RETENTION_MS: i64 = 7 * 24 * 60 * 60 * 1000;
const RETENTION_CHECK_MS: i64 = 600_000;

fn args(group: &str, member: &str, protocols: &[&str]) -> JoinArgs {
    JoinArgs {
        group_id: group.into(),
        member_id: member.into(),
        group_instance_id: None,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        protocol_type: "consumer".into(),
        protocols: protocols
            .iter()
            .map(|p| (p.to_string(), Bytes::from(format!("meta-{p}"))))
            .collect(),
        require_known_member_id: true,
        supports_skip_assignment: false,
    }
}

fn now_reply<T>(r: Reply<T>) -> T {
    match r {
        Reply::Now(t) => t,
        Reply::Wait(mut rx) => rx.try_recv().expect("reply should be ready"),
    }
}

fn pending<T>(r: Reply<T>) -> oneshot::Receiver<T> {
    match r {
        Reply::Now(_) => panic!("expected a held reply"),
        Reply::Wait(rx) => rx,
    }
}

/// Joins a new dynamic member through MEMBER_ID_REQUIRED; returns its id
/// and the held join reply.
fn join_new(
    c: &GroupCoordinator,
    group: &str,
    protocols: &[&str],
    now: i64,
) -> (String, Reply<JoinGroupResponse>) {
    let first = now_reply(c.join(args(group, "", protocols), now).0);
    assert_eq!(first.error_code, ErrorCode::MemberIdRequired.code());
    assert!(first.member_id.starts_with("client-"));
    let id = first.member_id;
    let (reply, _) = c.join(args(group, &id, protocols), now);
    (id, reply)
}

fn sync(
    c: &GroupCoordinator,
    group: &str,
    gen: i32,
    member: &str,
    assignments: &[(&str, &str)],
    now: i64,
) -> Reply<SyncGroupResponse> {
    let (reply, durable) = c.sync(
        SyncArgs {
            group_id: group.into(),
            generation_id: gen,
            member_id: member.into(),
            group_instance_id: None,
            protocol_type: Some("consumer".into()),
            protocol_name: None,
            assignments: assignments
                .iter()
                .map(|(m, a)| (m.to_string(), Bytes::from(a.to_string())))
                .collect(),
        },
        now,
    );
    // As the SyncGroup handler: the stored assignment releases everyone.
    if durable.is_some() {
        c.assignment_stored(group, gen, ErrorCode::None, now);
    }
    reply
}

/// One member joined, synced and stable at generation 1.
fn stable_one(c: &GroupCoordinator, group: &str) -> String {
    let (a, reply) = join_new(c, group, &["range"], T0);
    let j = now_reply(reply);
    assert_eq!(j.error_code, 0);
    assert_eq!(j.generation_id, 1);
    assert_eq!(j.leader, a);
    assert_eq!(j.members.len(), 1);
    assert_eq!(j.protocol_name.as_deref(), Some("range"));
    let s = now_reply(sync(c, group, 1, &a, &[(&a, "all")], T0));
    assert_eq!(s.error_code, 0);
    assert_eq!(&s.assignment[..], b"all");
    assert_eq!(c.group_state(group), Some(GroupState::Stable));
    a
}

#[test]
fn single_member_join_sync_heartbeat() {
    let c = GroupCoordinator::new();
    let a = stable_one(&c, "g");
    assert_eq!(c.heartbeat("g", 1, &a, None, T0 + 1000), ErrorCode::None);
    assert_eq!(
        c.heartbeat("g", 0, &a, None, T0 + 1000),
        ErrorCode::IllegalGeneration
    );
    assert_eq!(
        c.heartbeat("g", 1, "nobody", None, T0 + 1000),
        ErrorCode::UnknownMemberId
    );
    assert_eq!(
        c.heartbeat("nogroup", 1, &a, None, T0 + 1000),
        ErrorCode::UnknownMemberId
    );
    // A stable follower-less leader's sync again returns its assignment.
    let s = now_reply(sync(&c, "g", 1, &a, &[], T0));
    assert_eq!(&s.assignment[..], b"all");
    let s = now_reply(sync(&c, "g", 7, &a, &[], T0));
    assert_eq!(s.error_code, ErrorCode::IllegalGeneration.code());
}

#[test]
fn second_member_triggers_rebalance_and_waits_for_rejoin() {
    let c = GroupCoordinator::new();
    let a = stable_one(&c, "g");
    let (b, b_reply) = join_new(&c, "g", &["range"], T0 + 100);
    let mut b_rx = pending(b_reply);
    assert!(b_rx.try_recv().is_err(), "held until a rejoins");
    assert_eq!(c.group_state("g"), Some(GroupState::PreparingRebalance));
    assert_eq!(
        c.heartbeat("g", 1, &a, None, T0 + 200),
        ErrorCode::RebalanceInProgress
    );
    // Commits are still allowed while preparing.
    let (errs, _) = c.commit_offsets(
        "g",
        1,
        &a,
        None,
        &[OffsetToCommit {
            topic: "t".into(),
            partition: 0,
            offset: 5,
            leader_epoch: -1,
            metadata: None,
        }],
        T0 + 200,
    );
    assert_eq!(errs, vec![ErrorCode::None]);
    // The round completes when the last known member rejoins.
    let a_join = now_reply(c.join(args("g", &a, &["range"]), T0 + 300).0);
    let b_join = b_rx.try_recv().expect("b answered");
    assert_eq!(a_join.generation_id, 2);
    assert_eq!(b_join.generation_id, 2);
    assert_eq!(a_join.leader, a);
    assert_eq!(b_join.leader, a);
    assert_eq!(a_join.members.len(), 2);
    assert!(b_join.members.is_empty());
    assert_eq!(c.group_state("g"), Some(GroupState::CompletingRebalance));
    // Commits during CompletingRebalance are refused.
    let (errs, _) = c.commit_offsets(
        "g",
        2,
        &a,
        None,
        &[OffsetToCommit {
            topic: "t".into(),
            partition: 0,
            offset: 6,
            leader_epoch: -1,
            metadata: None,
        }],
        T0 + 300,
    );
    assert_eq!(errs, vec![ErrorCode::RebalanceInProgress]);
    // The follower waits for the leader's assignment.
    let mut b_sync = pending(sync(&c, "g", 2, &b, &[], T0 + 400));
    assert!(b_sync.try_recv().is_err());
    let a_sync = now_reply(sync(&c, "g", 2, &a, &[(&a, "p0"), (&b, "p1")], T0 + 500));
    assert_eq!(&a_sync.assignment[..], b"p0");
    let b_s = b_sync.try_recv().expect("b gets its assignment");
    assert_eq!(b_s.error_code, 0);
    assert_eq!(&b_s.assignment[..], b"p1");
    assert_eq!(c.group_state("g"), Some(GroupState::Stable));
}

#[test]
fn session_timeout_removes_member_and_rebalances() {
    let c = GroupCoordinator::new();
    let a = stable_one(&c, "g");
    let (b, r) = join_new(&c, "g", &["range"], T0);
    let mut b_rx = pending(r);
    now_reply(c.join(args("g", &a, &["range"]), T0).0);
    b_rx.try_recv().unwrap();
    now_reply(sync(&c, "g", 2, &a, &[(&a, "x"), (&b, "y")], T0));
    // a heartbeats, b goes silent.
    for t in (T0 + 3000..=T0 + 12_000).step_by(3000) {
        assert_eq!(c.heartbeat("g", 2, &a, None, t), ErrorCode::None);
        c.tick(t);
    }
    assert_eq!(c.group_state("g"), Some(GroupState::PreparingRebalance));
    assert_eq!(
        c.heartbeat("g", 2, &b, None, T0 + 12_100),
        ErrorCode::UnknownMemberId
    );
    assert_eq!(
        c.heartbeat("g", 2, &a, None, T0 + 12_100),
        ErrorCode::RebalanceInProgress
    );
    let j = now_reply(c.join(args("g", &a, &["range"]), T0 + 12_200).0);
    assert_eq!(j.generation_id, 3);
    assert_eq!(j.members.len(), 1);
    // Everyone silent: the group empties.
    c.tick(T0 + 12_200 + 10_000 + 30_000);
    assert_eq!(c.group_state("g"), Some(GroupState::Empty));
}

#[test]
fn rebalance_timeout_drops_members_that_do_not_rejoin() {
    let c = GroupCoordinator::new();
    let a = stable_one(&c, "g");
    let (b, r) = join_new(&c, "g", &["range"], T0);
    let mut b_rx = pending(r);
    now_reply(c.join(args("g", &a, &["range"]), T0).0);
    b_rx.try_recv().unwrap();
    now_reply(sync(&c, "g", 2, &a, &[], T0));
    // c joins; only b rejoins; a keeps heartbeating but never rejoins.
    let (cc, r) = join_new(&c, "g", &["range"], T0 + 1000);
    let mut c_rx = pending(r);
    let mut b_rx = pending(c.join(args("g", &b, &["range"]), T0 + 1000).0);
    for t in (T0 + 2000..T0 + 31_000).step_by(2000) {
        assert_eq!(
            c.heartbeat("g", 2, &a, None, t),
            ErrorCode::RebalanceInProgress
        );
        c.tick(t);
        assert!(c_rx.try_recv().is_err());
    }
    c.tick(T0 + 31_000);
    let cj = c_rx
        .try_recv()
        .expect("round completed at the rebalance timeout");
    let bj = b_rx.try_recv().unwrap();
    assert_eq!(cj.generation_id, 3);
    assert_eq!(bj.leader, cj.leader);
    assert_ne!(bj.leader, a, "a was removed, a rejoined member leads");
    assert!(bj.leader == b || bj.leader == cc);
    assert_eq!(
        c.heartbeat("g", 3, &a, None, T0 + 31_100),
        ErrorCode::UnknownMemberId
    );
}

#[test]
fn leave_group_triggers_rebalance() {
    let c = GroupCoordinator::new();
    let a = stable_one(&c, "g");
    let (b, r) = join_new(&c, "g", &["range"], T0);
    let mut b_rx = pending(r);
    now_reply(c.join(args("g", &a, &["range"]), T0).0);
    b_rx.try_recv().unwrap();
    now_reply(sync(&c, "g", 2, &a, &[], T0));
    let (top, errs, _) = c.leave("g", &[(b.clone(), None), ("ghost".into(), None)], T0 + 10);
    assert_eq!(top, ErrorCode::None);
    assert_eq!(errs, vec![ErrorCode::None, ErrorCode::UnknownMemberId]);
    assert_eq!(c.group_state("g"), Some(GroupState::PreparingRebalance));
    let j = now_reply(c.join(args("g", &a, &["range"]), T0 + 20).0);
    assert_eq!(j.generation_id, 3);
    // Last member leaves: Empty.
    now_reply(sync(&c, "g", 3, &a, &[], T0 + 30));
    let (_, errs, _) = c.leave("g", &[(a.clone(), None)], T0 + 40);
    assert_eq!(errs, vec![ErrorCode::None]);
    assert_eq!(c.group_state("g"), Some(GroupState::Empty));
    let (_, errs, _) = c.leave("nope", &[(a, None)], T0 + 40);
    assert_eq!(errs, vec![ErrorCode::UnknownMemberId]);
}

#[test]
fn protocol_checks_and_selection() {
    let c = GroupCoordinator::new();
    let mut bad = args("g", "", &[]);
    bad.require_known_member_id = false;
    assert_eq!(
        now_reply(c.join(bad, T0).0).error_code,
        ErrorCode::InconsistentGroupProtocol.code()
    );
    let a = stable_one(&c, "g");
    let mut other = args("g", "", &["range"]);
    other.protocol_type = "connect".into();
    assert_eq!(
        now_reply(c.join(other, T0).0).error_code,
        ErrorCode::InconsistentGroupProtocol.code()
    );
    let none_shared = args("g", "", &["sticky"]);
    assert_eq!(
        now_reply(c.join(none_shared, T0).0).error_code,
        ErrorCode::InconsistentGroupProtocol.code()
    );
    // Votes: a [range], b [roundrobin, range], c [roundrobin, range].
    let (_, rb) = join_new(&c, "g", &["roundrobin", "range"], T0);
    let mut rb = pending(rb);
    let (_, rc) = join_new(&c, "g", &["roundrobin", "range"], T0);
    let mut rc = pending(rc);
    let ja = now_reply(c.join(args("g", &a, &["range", "roundrobin"]), T0).0);
    // a now votes range; b and c vote roundrobin.
    assert_eq!(ja.protocol_name.as_deref(), Some("roundrobin"));
    assert_eq!(
        rb.try_recv().unwrap().protocol_name.as_deref(),
        Some("roundrobin")
    );
    assert_eq!(
        rc.try_recv().unwrap().protocol_name.as_deref(),
        Some("roundrobin")
    );
    for m in &ja.members {
        assert_eq!(&m.metadata[..], b"meta-roundrobin");
    }
}

#[test]
fn bad_session_timeout_and_group_id() {
    let c = GroupCoordinator::new();
    let mut a = args("g", "", &["range"]);
    a.session_timeout_ms = 1000;
    assert_eq!(
        now_reply(c.join(a, T0).0).error_code,
        ErrorCode::InvalidSessionTimeout.code()
    );
    assert_eq!(
        now_reply(c.join(args("", "", &["range"]), T0).0).error_code,
        ErrorCode::InvalidGroupId.code()
    );
    // A made-up member id on an unknown group.
    assert_eq!(
        now_reply(c.join(args("g", "m-1", &["range"]), T0).0).error_code,
        ErrorCode::UnknownMemberId.code()
    );
}

#[test]
fn static_member_rejoin_replaces_id_without_rebalance() {
    let c = GroupCoordinator::new();
    let mut s = args("g", "", &["range"]);
    s.group_instance_id = Some("inst-1".into());
    // Static members get no MEMBER_ID_REQUIRED round trip.
    let j = now_reply(c.join(s, T0).0);
    assert_eq!(j.error_code, 0);
    let old = j.member_id.clone();
    assert!(old.starts_with("inst-1-"));
    now_reply(sync(&c, "g", 1, &old, &[(&old, "a")], T0));
    let mut again = args("g", "", &["range"]);
    again.group_instance_id = Some("inst-1".into());
    let j2 = now_reply(c.join(again, T0 + 100).0);
    assert_eq!(j2.error_code, 0);
    assert_ne!(j2.member_id, old);
    assert_eq!(j2.generation_id, 1, "no rebalance");
    assert_eq!(c.group_state("g"), Some(GroupState::Stable));
    assert_eq!(
        c.heartbeat("g", 1, &old, Some("inst-1"), T0 + 200),
        ErrorCode::FencedInstanceId
    );
    assert_eq!(
        c.heartbeat("g", 1, &j2.member_id, Some("inst-1"), T0 + 200),
        ErrorCode::None
    );
    // The new id keeps the assignment.
    let s2 = now_reply(
        c.sync(
            SyncArgs {
                group_id: "g".into(),
                generation_id: 1,
                member_id: j2.member_id.clone(),
                group_instance_id: Some("inst-1".into()),
                protocol_type: None,
                protocol_name: None,
                assignments: vec![],
            },
            T0 + 300,
        )
        .0,
    );
    assert_eq!(&s2.assignment[..], b"a");
    // Leaving by instance id alone.
    let (_, errs, _) = c.leave("g", &[(String::new(), Some("inst-1".into()))], T0 + 400);
    assert_eq!(errs, vec![ErrorCode::None]);
    assert_eq!(c.group_state("g"), Some(GroupState::Empty));
}

#[test]
fn offset_commit_validation_and_fetch() {
    let c = GroupCoordinator::new();
    let o = |p, off| OffsetToCommit {
        topic: "t".into(),
        partition: p,
        offset: off,
        leader_epoch: 3,
        metadata: Some("m".into()),
    };
    // Unknown group with a generation: refused.
    let (errs, _) = c.commit_offsets("g", 4, "x", None, &[o(0, 1)], T0);
    assert_eq!(errs, vec![ErrorCode::IllegalGeneration]);
    // Simple commit (no group management) creates an Empty group.
    let (errs, _) = c.commit_offsets("g", -1, "", None, &[o(0, 10), o(1, 20)], T0);
    assert_eq!(errs, vec![ErrorCode::None, ErrorCode::None]);
    assert_eq!(c.group_state("g"), Some(GroupState::Empty));
    let all = c.fetch_offsets("g", None).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].1.len(), 2);
    let some = c
        .fetch_offsets("g", Some(&[("t".into(), vec![1, 2])]))
        .unwrap();
    let p1 = some[0].1[0].1.clone().unwrap();
    assert_eq!(
        (p1.offset, p1.leader_epoch, p1.metadata.as_str()),
        (20, 3, "m")
    );
    assert!(some[0].1[1].1.is_none());
    let big = OffsetToCommit {
        metadata: Some("x".repeat(5000)),
        ..o(2, 1)
    };
    let (errs, _) = c.commit_offsets("g", -1, "", None, &[big], T0);
    assert_eq!(errs, vec![ErrorCode::OffsetMetadataTooLarge]);
    // Group in use: members only.
    let c2 = GroupCoordinator::new();
    let a = stable_one(&c2, "h");
    let (errs, _) = c2.commit_offsets("h", -1, "", None, &[o(0, 1)], T0);
    assert_eq!(errs, vec![ErrorCode::UnknownMemberId]);
    let (errs, _) = c2.commit_offsets("h", 0, &a, None, &[o(0, 1)], T0);
    assert_eq!(errs, vec![ErrorCode::IllegalGeneration]);
    let (errs, _) = c2.commit_offsets("h", 1, &a, None, &[o(0, 1)], T0);
    assert_eq!(errs, vec![ErrorCode::None]);
    // Unknown group: no offsets, no error.
    assert!(c.fetch_offsets("none", None).unwrap().is_empty());
}

#[test]
fn delete_group_and_offsets() {
    let c = GroupCoordinator::new();
    let a = stable_one(&c, "g");
    assert_eq!(c.delete_group("g", T0).0, ErrorCode::NonEmptyGroup);
    assert_eq!(c.delete_group("zz", T0).0, ErrorCode::GroupIdNotFound);
    c.commit_offsets(
        "g",
        1,
        &a,
        None,
        &[OffsetToCommit {
            topic: "other".into(),
            partition: 0,
            offset: 1,
            leader_epoch: -1,
            metadata: None,
        }],
        T0,
    );
    // "other" is not in a's subscription metadata (not parseable here:
    // treated as subscribed to everything, as Kafka does).
    let (top, errs, _) = c.delete_offsets("g", &[("other".into(), 0)], T0);
    assert_eq!(top, ErrorCode::None);
    assert_eq!(errs, vec![ErrorCode::GroupSubscribedToTopic]);
    c.leave("g", &[(a, None)], T0);
    let (top, errs, _) = c.delete_offsets("g", &[("other".into(), 0)], T0);
    assert_eq!((top, errs), (ErrorCode::None, vec![ErrorCode::None]));
    assert!(c.fetch_offsets("g", None).unwrap().is_empty());
    assert_eq!(c.delete_group("g", T0).0, ErrorCode::None);
    assert_eq!(c.group_state("g"), None);
    assert_eq!(c.delete_offsets("g", &[], T0).0, ErrorCode::GroupIdNotFound);
}

#[test]
fn pending_member_expires_and_leader_sync_timeout() {
    let c = GroupCoordinator::new();
    let first = now_reply(c.join(args("g", "", &["range"]), T0).0);
    assert_eq!(first.error_code, ErrorCode::MemberIdRequired.code());
    c.tick(T0 + 10_001);
    // The pending id expired: rejoining with it is unknown.
    assert_eq!(
        now_reply(
            c.join(args("g", &first.member_id, &["range"]), T0 + 10_002)
                .0
        )
        .error_code,
        ErrorCode::UnknownMemberId.code()
    );
    // A member that never sends SyncGroup is removed after the rebalance timeout.
    let (a, r) = join_new(&c, "g", &["range"], T0 + 20_000);
    now_reply(r);
    assert_eq!(c.group_state("g"), Some(GroupState::CompletingRebalance));
    c.tick(T0 + 20_000 + 30_000);
    assert_eq!(c.group_state("g"), Some(GroupState::Empty));
    assert_eq!(
        c.heartbeat("g", 1, &a, None, T0 + 50_001),
        ErrorCode::UnknownMemberId
    );
}

#[test]
fn default_config_is_kafkas_but_no_initial_delay() {
    let c = GroupCoordinator::new().config().clone();
    assert_eq!(c.offsets_retention_ms, RETENTION_MS);
    assert_eq!(c.offsets_retention_check_interval_ms, RETENTION_CHECK_MS);
    assert_eq!(c.initial_rebalance_delay_ms, 0);
    assert_eq!(c.offsets_topic_num_partitions, 8);
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (6000, 1_800_000)
    );
    assert_eq!(c.offset_metadata_max_bytes, 4096);
}

#[test]
fn configured_initial_rebalance_delay_holds_the_first_join() {
    let c = GroupCoordinator::with_config(GroupConfig {
        initial_rebalance_delay_ms: 3000,
        ..GroupConfig::default()
    });
    let (a, reply) = join_new(&c, "g", &["range"], T0);
    let mut rx = pending(reply);
    c.tick(T0 + 2999);
    assert!(rx.try_recv().is_err(), "answered before the delay");
    // A member arriving during the delay extends it (up to the rebalance
    // timeout) and joins the same generation.
    let (b, b_reply) = join_new(&c, "g", &["range"], T0 + 2999);
    let mut b_rx = pending(b_reply);
    c.tick(T0 + 3000);
    assert!(
        rx.try_recv().is_err(),
        "a new member should extend the delay"
    );
    c.tick(T0 + 6000);
    let ja = rx.try_recv().expect("answered after the delay");
    let jb = b_rx.try_recv().expect("answered after the delay");
    assert_eq!((ja.generation_id, jb.generation_id), (1, 1));
    assert_eq!(ja.members.len() + jb.members.len(), 2);
    assert_ne!(a, b);
}

#[test]
fn configured_session_and_metadata_bounds() {
    let c = GroupCoordinator::with_config(GroupConfig {
        min_session_timeout_ms: 1000,
        max_session_timeout_ms: 5000,
        offset_metadata_max_bytes: 3,
        ..GroupConfig::default()
    });
    let mut a = args("g", "", &["range"]);
    a.session_timeout_ms = 10_000;
    let r = now_reply(c.join(a, T0).0);
    assert_eq!(r.error_code, ErrorCode::InvalidSessionTimeout.code());
    let mut a = args("g", "", &["range"]);
    a.session_timeout_ms = 1000;
    a.require_known_member_id = false;
    let r = now_reply(c.join(a, T0).0);
    assert_eq!(r.error_code, 0);
    let commit = |meta: &str| OffsetToCommit {
        topic: "t".into(),
        partition: 0,
        offset: 1,
        leader_epoch: -1,
        metadata: Some(meta.into()),
    };
    let (errs, _) = c.commit_offsets("h", -1, "", None, &[commit("abc"), commit("abcd")], T0);
    assert_eq!(
        errs,
        vec![ErrorCode::None, ErrorCode::OffsetMetadataTooLarge]
    );
}

#[test]
fn offsets_expire_for_empty_groups() {
    let c = GroupCoordinator::new();
    c.commit_offsets(
        "g",
        -1,
        "",
        None,
        &[OffsetToCommit {
            topic: "t".into(),
            partition: 0,
            offset: 1,
            leader_epoch: -1,
            metadata: None,
        }],
        T0,
    );
    c.tick(T0);
    c.tick(T0 + RETENTION_CHECK_MS);
    assert_eq!(c.group_state("g"), Some(GroupState::Empty));
    c.tick(T0 + RETENTION_MS + 2 * RETENTION_CHECK_MS);
    assert_eq!(c.group_state("g"), None);
}

#[test]
fn persisted_state_is_replayed() {
    let dir = std::env::temp_dir().join(format!("fjord-coord-test-{}", rand::random::<u64>()));
    let open = || {
        let log = fjord_storage::Log::open(&dir, fjord_storage::LogConfig::default()).unwrap();
        vec![Arc::new(Partition::new(OFFSETS_TOPIC, 0, Arc::new(log), 0))]
    };
    {
        let c = GroupCoordinator::new();
        c.load(open(), T0);
        let a = stable_one(&c, "g");
        let (errs, d) = c.commit_offsets(
            "g",
            1,
            &a,
            None,
            &[OffsetToCommit {
                topic: "t".into(),
                partition: 2,
                offset: 42,
                leader_epoch: 5,
                metadata: Some("meta".into()),
            }],
            T0,
        );
        assert_eq!(errs, vec![ErrorCode::None]);
        let (p, next) = d.expect("appended");
        p.log.sync_to(next).unwrap();
        c.commit_offsets(
            "gone",
            -1,
            "",
            None,
            &[OffsetToCommit {
                topic: "t".into(),
                partition: 0,
                offset: 1,
                leader_epoch: -1,
                metadata: None,
            }],
            T0,
        );
        assert_eq!(c.delete_group("gone", T0).0, ErrorCode::None);
        p.close().unwrap();
    }
    let c = GroupCoordinator::new();
    c.load(open(), T0 + 5);
    let o = c.fetch_offsets("g", None).unwrap();
    let got = o[0].1[0].1.clone().unwrap();
    assert_eq!((o[0].0.as_str(), o[0].1[0].0), ("t", 2));
    assert_eq!(
        (got.offset, got.leader_epoch, got.metadata.as_str()),
        (42, 5, "meta")
    );
    // The group comes back Stable with its member (as Kafka loads it).
    assert_eq!(c.group_state("g"), Some(GroupState::Stable));
    assert_eq!(c.group_state("gone"), None);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unsubscribed_offsets_of_active_groups_expire() {
    let c = GroupCoordinator::new();
    // A consumer-protocol subscription (v0) to topic "t".
    let mut sub = BytesMut::new();
    sub.extend_from_slice(&0i16.to_be_bytes());
    fjord_protocol::Encode::encode(
        &ConsumerProtocolSubscription {
            topics: vec!["t".into()],
            ..Default::default()
        },
        &mut sub,
        0,
    )
    .unwrap();
    let mut a = args("g", "", &["range"]);
    a.protocols = vec![("range".into(), sub.freeze())];
    a.require_known_member_id = false;
    let j = now_reply(c.join(a, T0).0);
    let id = j.member_id;
    now_reply(sync(&c, "g", 1, &id, &[], T0));
    let o = |t: &str| OffsetToCommit {
        topic: t.into(),
        partition: 0,
        offset: 1,
        leader_epoch: -1,
        metadata: None,
    };
    let (errs, _) = c.commit_offsets("g", 1, &id, None, &[o("t"), o("old")], T0);
    assert_eq!(errs, vec![ErrorCode::None, ErrorCode::None]);
    c.tick(T0);
    let later = T0 + RETENTION_MS + 1;
    assert_eq!(c.heartbeat("g", 1, &id, None, later), ErrorCode::None);
    c.tick(later);
    assert_eq!(c.group_state("g"), Some(GroupState::Stable));
    let left = c.fetch_offsets("g", None).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].0, "t");
    // OffsetDelete refuses subscribed topics of an active group.
    let (top, errs, _) = c.delete_offsets("g", &[("t".into(), 0)], later);
    assert_eq!(
        (top, errs),
        (ErrorCode::None, vec![ErrorCode::GroupSubscribedToTopic])
    );
}

/// A coordinator on real `__consumer_offsets` partitions in `dir` (the
/// default 8), loaded (replayed) at `now`.
fn on_disk(dir: &std::path::Path, now: i64) -> (GroupCoordinator, Vec<Arc<Partition>>) {
    let parts: Vec<Arc<Partition>> = (0..8)
        .map(|i| {
            let log = fjord_storage::Log::open(
                fjord_storage::partition_dir(dir, OFFSETS_TOPIC, i),
                fjord_storage::LogConfig::default(),
            )
            .unwrap();
            Arc::new(Partition::new(OFFSETS_TOPIC, i, Arc::new(log), 0))
        })
        .collect();
    let c = GroupCoordinator::new();
    c.load(parts.clone(), now);
    (c, parts)
}

/// As the broker does with what a coordinator call returns.
fn make_durable(d: Durable) {
    if let Some((p, next)) = d {
        p.make_durable(next).unwrap();
    }
}

/// The tick returns every record it appended (a session expiry's new
/// group metadata, offset-expiry tombstones) so the broker makes them
/// durable; once that is done they are under the high watermark, and
/// after a crash they are replayed.
#[test]
fn tick_records_are_returned_to_be_made_durable() {
    let dir = std::env::temp_dir().join(format!("fjord-tick-{}", rand_suffix()));
    let now = fjord_storage::clock::now_ms();
    let (c, _parts) = on_disk(&dir, now);
    let offsets = c.offsets_partition("g").unwrap().unwrap();
    // A member joins, syncs and commits: each answer waits for durability.
    let mut a = args("g", "", &["range"]);
    a.require_known_member_id = false;
    let (reply, d) = c.join(a, now);
    let j = now_reply(reply);
    make_durable(d);
    let (reply, d) = sync_durable(&c, "g", 1, &j.member_id, now);
    make_durable(d);
    c.assignment_stored("g", 1, ErrorCode::None, now);
    now_reply(reply);
    let o = OffsetToCommit {
        topic: "t".into(),
        partition: 0,
        offset: 7,
        leader_epoch: -1,
        metadata: None,
    };
    let (errs, d) = c.commit_offsets("g", 1, &j.member_id, None, &[o], now);
    assert_eq!(errs, vec![ErrorCode::None]);
    make_durable(d);
    let before = offsets.log.log_end_offset();
    assert_eq!(offsets.high_watermark(), before);

    // The session expires: the tick removes the member (group record).
    let later = now + 10_001;
    let durables = c.tick(later);
    let after_expiry = offsets.log.log_end_offset();
    assert!(after_expiry > before, "the tick appended nothing");
    let covered: i64 = durables
        .iter()
        .flatten()
        .filter(|(p, _)| p.index == offsets.index)
        .map(|(_, next)| *next)
        .max()
        .unwrap_or(-1);
    assert_eq!(
        covered, after_expiry,
        "tick did not return what it appended"
    );
    durables.into_iter().for_each(make_durable);
    assert_eq!(offsets.high_watermark(), after_expiry);
    assert!(offsets.log.durable_offset() >= after_expiry);
    assert_eq!(c.group_state("g"), Some(GroupState::Empty));

    // Offset expiry: tombstones for the offset and the group.
    let expire_at = later + RETENTION_MS + 1;
    c.tick(expire_at).into_iter().for_each(make_durable);
    c.tick(expire_at + RETENTION_CHECK_MS)
        .into_iter()
        .for_each(make_durable);
    let after_tombstones = offsets.log.log_end_offset();
    assert!(after_tombstones > after_expiry, "no tombstones appended");
    assert_eq!(offsets.high_watermark(), after_tombstones);
    assert!(offsets.log.durable_offset() >= after_tombstones);
    assert_eq!(c.group_state("g"), None);

    // kill -9: no clean close. What the tick wrote is replayed.
    drop((c, offsets, _parts));
    let (c, _parts) = on_disk(&dir, expire_at + RETENTION_CHECK_MS);
    assert_eq!(c.group_state("g"), None);
    assert!(c.fetch_offsets("g", None).unwrap().is_empty());
    drop((c, _parts));
    let _ = std::fs::remove_dir_all(&dir);
}

fn rand_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn sync_durable(
    c: &GroupCoordinator,
    group: &str,
    gen: i32,
    member: &str,
    now: i64,
) -> (Reply<SyncGroupResponse>, Durable) {
    c.sync(
        SyncArgs {
            group_id: group.into(),
            generation_id: gen,
            member_id: member.into(),
            group_instance_id: None,
            protocol_type: Some("consumer".into()),
            protocol_name: None,
            assignments: vec![(member.to_string(), Bytes::from_static(b"a"))],
        },
        now,
    )
}

/// Two members joined with the group stored in real `__consumer_offsets`
/// partitions: returns the coordinator, its directory, the leader and the
/// follower.
fn two_member_group_on_disk(tag: &str) -> (GroupCoordinator, std::path::PathBuf, String, String) {
    let dir = std::env::temp_dir().join(format!("fjord-sync-{tag}-{}", rand_suffix()));
    let now = fjord_storage::clock::now_ms();
    let (c, _parts) = on_disk(&dir, now);
    let mut first = args("g", "", &["range"]);
    first.require_known_member_id = false;
    let mut second = first.clone();
    second.client_id = "other".into();
    let (ra, _) = c.join(first, now);
    let a = now_reply(ra).member_id;
    // b's join starts a rebalance that waits for a to rejoin.
    let (rb, _) = c.join(second, now);
    let mut rb = pending(rb);
    let (ra, _) = c.join(args("g", &a, &["range"]), now);
    now_reply(ra);
    let b = rb.try_recv().expect("b joined").member_id;
    (c, dir, a, b)
}

/// Kafka answers every member's SyncGroup only once the leader's
/// assignment is stored, all together.
#[test]
fn sync_answers_every_member_after_the_assignment_is_stored() {
    let (c, dir, a, b) = two_member_group_on_disk("ok");
    let now = fjord_storage::clock::now_ms();
    let mut b_sync = pending(c.sync(sync_args("g", 2, &b, &[]), now).0);
    let (a_reply, durable) = c.sync(sync_args("g", 2, &a, &[(&a, "p0"), (&b, "p1")]), now);
    let mut a_sync = pending(a_reply);
    assert!(durable.is_some(), "the assignment is appended to the log");
    // Not stored yet: nobody is answered, the group is still completing.
    assert!(
        b_sync.try_recv().is_err(),
        "follower answered before the store"
    );
    assert!(
        a_sync.try_recv().is_err(),
        "leader answered before the store"
    );
    assert_eq!(c.group_state("g"), Some(GroupState::CompletingRebalance));
    make_durable(durable);
    c.assignment_stored("g", 2, ErrorCode::None, now);
    let a_s = a_sync.try_recv().expect("leader answered");
    let b_s = b_sync.try_recv().expect("follower answered");
    assert_eq!((a_s.error_code, &a_s.assignment[..]), (0, &b"p0"[..]));
    assert_eq!((b_s.error_code, &b_s.assignment[..]), (0, &b"p1"[..]));
    assert_eq!(c.group_state("g"), Some(GroupState::Stable));
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sync_store_failure_answers_every_member_with_the_error() {
    let (c, dir, a, b) = two_member_group_on_disk("fail");
    let now = fjord_storage::clock::now_ms();
    let mut b_sync = pending(c.sync(sync_args("g", 2, &b, &[]), now).0);
    let (a_reply, durable) = c.sync(sync_args("g", 2, &a, &[(&a, "p0"), (&b, "p1")]), now);
    let mut a_sync = pending(a_reply);
    assert!(durable.is_some());
    c.assignment_stored("g", 2, ErrorCode::KafkaStorageError, now);
    for r in [a_sync.try_recv().unwrap(), b_sync.try_recv().unwrap()] {
        assert_eq!(r.error_code, ErrorCode::NotCoordinator.code());
        assert!(r.assignment.is_empty());
    }
    assert_eq!(c.group_state("g"), Some(GroupState::PreparingRebalance));
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
}

fn sync_args(group: &str, gen: i32, member: &str, assignments: &[(&str, &str)]) -> SyncArgs {
    SyncArgs {
        group_id: group.into(),
        generation_id: gen,
        member_id: member.into(),
        group_instance_id: None,
        protocol_type: Some("consumer".into()),
        protocol_name: None,
        assignments: assignments
            .iter()
            .map(|(m, a)| (m.to_string(), Bytes::from(a.to_string())))
            .collect(),
    }
}

/// Cluster mode: the coordinator owns only the partitions it loaded; an
/// unloaded partition's groups are gone (NOT_COORDINATOR for new writes)
/// and loading it again restores them from its log.
#[test]
fn partitions_are_loaded_and_unloaded_one_by_one() {
    let dir = std::env::temp_dir().join(format!("fjord-own-{}", rand_suffix()));
    let now = fjord_storage::clock::now_ms();
    let (c, parts) = on_disk(&dir, now);
    let commit = |c: &GroupCoordinator, off: i64| {
        let o = OffsetToCommit {
            topic: "t".into(),
            partition: 0,
            offset: off,
            leader_epoch: 0,
            metadata: None,
        };
        let (errs, d) = c.commit_offsets("g", -1, "", None, &[o], now);
        make_durable(d);
        errs
    };
    assert_eq!(commit(&c, 7), vec![ErrorCode::None]);
    let index = fjord_protocol::internal_topics::partition_for("g", 8);
    assert!(c.owns("g"));
    c.unload_partition(index);
    assert!(!c.owns("g"));
    assert_eq!(c.group_state("g"), None);
    assert_eq!(commit(&c, 9), vec![ErrorCode::NotCoordinator]);
    // Another broker's coordinator loads the same log: the offset is there.
    let other = GroupCoordinator::new();
    other.load_partition(parts[index as usize].clone(), 8, now);
    assert!(other.owns("g"));
    let offsets = other.fetch_offsets("g", None).unwrap();
    assert_eq!(offsets[0].1[0].1.as_ref().map(|o| o.offset), Some(7));
    c.load_partition(parts[index as usize].clone(), 8, now);
    assert_eq!(commit(&c, 9), vec![ErrorCode::None]);
    let _ = std::fs::remove_dir_all(&dir);
}
