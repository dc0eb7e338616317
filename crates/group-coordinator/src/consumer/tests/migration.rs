//! Classic members in consumer groups, and the online upgrade and
//! downgrade between the two group types (memory only, explicit clock).

use std::collections::BTreeSet;

use bytes::Bytes;
use fjord_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTp;
use fjord_protocol::messages::consumer_protocol_subscription::TopicPartition as OwnedTp;
use fjord_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, JoinGroupResponse, SyncGroupResponse,
};

use super::*;
use crate::consumer::classic_members::decode_assignment;
use crate::consumer::describe::versioned;
use crate::consumer::records::{self, ClassicMeta, MemberMeta, Record};
use crate::{GroupConfig, GroupState, SyncArgs};

fn subscription(topics: &[&str], owned: &[(&str, &[i32])]) -> Bytes {
    versioned(
        &ConsumerProtocolSubscription {
            topics: topics.iter().map(|t| t.to_string()).collect(),
            owned_partitions: owned
                .iter()
                .map(|(t, ps)| OwnedTp {
                    topic: t.to_string(),
                    partitions: ps.to_vec(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
        1,
    )
}

fn classic_args(group: &str, member: &str, topics: &[&str], owned: &[(&str, &[i32])]) -> JoinArgs {
    let sub = subscription(topics, owned);
    JoinArgs {
        group_id: group.into(),
        member_id: member.into(),
        group_instance_id: None,
        client_id: "classic".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), sub.clone()), ("roundrobin".into(), sub)],
        require_known_member_id: true,
        supports_skip_assignment: false,
    }
}

fn reply<T>(r: Reply<T>) -> T {
    match r {
        Reply::Now(t) => t,
        Reply::Wait(mut rx) => rx.try_recv().expect("reply should be ready"),
    }
}

fn classic_join(
    c: &GroupCoordinator,
    t: &MapTopics,
    group: &str,
    member: &str,
    owned: &[(&str, &[i32])],
    now: i64,
) -> JoinGroupResponse {
    let cfg = cfg();
    let env = ClassicEnv {
        cfg: &cfg,
        topics: t,
    };
    let (r, _) = c.join_with(classic_args(group, member, &["t"], owned), Some(&env), now);
    reply(r)
}

/// Joins as a new classic member (the MEMBER_ID_REQUIRED round trip).
fn classic_join_new(
    c: &GroupCoordinator,
    t: &MapTopics,
    group: &str,
    now: i64,
) -> JoinGroupResponse {
    let first = classic_join(c, t, group, "", &[], now);
    assert_eq!(first.error_code, ErrorCode::MemberIdRequired.code());
    let second = classic_join(c, t, group, &first.member_id, &[], now);
    assert_eq!(second.error_code, 0, "classic join failed");
    assert_eq!(second.member_id, first.member_id);
    second
}

fn sync_args(
    group: &str,
    member: &str,
    generation: i32,
    assignments: Vec<(String, Bytes)>,
) -> SyncArgs {
    SyncArgs {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.into(),
        group_instance_id: None,
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        assignments,
    }
}

fn classic_sync(
    c: &GroupCoordinator,
    t: &MapTopics,
    group: &str,
    member: &str,
    generation: i32,
    now: i64,
) -> SyncGroupResponse {
    let (r, _) = c.sync_with(sync_args(group, member, generation, vec![]), Some(t), now);
    reply(r)
}

/// The partitions of a consumer protocol assignment.
fn partitions(assignment: &Bytes) -> BTreeSet<(String, i32)> {
    let a = decode_assignment(assignment).expect("a readable assignment");
    a.assigned_partitions
        .into_iter()
        .flat_map(|t| t.partitions.into_iter().map(move |p| (t.topic.clone(), p)))
        .collect()
}

fn named(owned: &Assignment) -> BTreeSet<(String, i32)> {
    owned
        .values()
        .flat_map(|ps| ps.iter().map(|p| ("t".to_string(), *p)))
        .collect()
}

#[test]
fn a_classic_member_shares_a_consumer_group() {
    let c = GroupCoordinator::new();
    let t = MapTopics::new(&[("t", 1, 4)]);
    let mut a = join(&c, &t, "g", &["t"], T0);
    assert_eq!(total(&a.owned), 4);

    let joined = classic_join_new(&c, &t, "g", T0 + 1);
    let id = joined.member_id.clone();
    assert_eq!(joined.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(joined.protocol_name.as_deref(), Some("range"));
    assert_eq!(joined.leader, "", "the coordinator assigns: no leader");
    assert_eq!(joined.generation_id, 2, "the new group epoch");
    // Everything is still the first member's: nothing to consume yet.
    let s = classic_sync(&c, &t, "g", &id, joined.generation_id, T0 + 2);
    assert_eq!(s.error_code, 0);
    assert!(partitions(&s.assignment).is_empty());
    assert_eq!(
        c.heartbeat("g", joined.generation_id, &id, None, T0 + 3),
        ErrorCode::None,
        "waiting for partitions another member still owns"
    );

    // The consumer-protocol member gives two partitions up.
    beat(&c, &t, "g", &mut a, T0 + 4);
    beat(&c, &t, "g", &mut a, T0 + 5);
    assert_eq!(total(&a.owned), 2);

    // Now they are free: the classic member is told to join again.
    assert_eq!(
        c.heartbeat("g", joined.generation_id, &id, None, T0 + 6),
        ErrorCode::RebalanceInProgress
    );
    let again = classic_join(&c, &t, "g", &id, &[], T0 + 7);
    assert_eq!(again.error_code, 0);
    let s = classic_sync(&c, &t, "g", &id, again.generation_id, T0 + 8);
    let mine = partitions(&s.assignment);
    assert_eq!(mine.len(), 2);
    assert!(mine.is_disjoint(&named(&a.owned)));
    assert_eq!(
        c.heartbeat("g", again.generation_id, &id, None, T0 + 9),
        ErrorCode::None
    );
    assert_eq!(
        c.consumer_group_state("g"),
        Some(ConsumerGroupState::Stable)
    );

    // Its commits are checked against its generation.
    assert_eq!(
        c.consumer_commit_check("g", &id, again.generation_id - 1),
        CommitCheck::Reject(ErrorCode::IllegalGeneration)
    );
    assert_eq!(
        c.consumer_commit_check("g", &id, again.generation_id),
        CommitCheck::Accept
    );
    // A stale generation, an unknown member.
    assert_eq!(
        c.heartbeat("g", again.generation_id + 5, &id, None, T0 + 10),
        ErrorCode::IllegalGeneration
    );
    assert_eq!(
        c.heartbeat("g", 1, "nobody", None, T0 + 10),
        ErrorCode::UnknownMemberId
    );
    // DescribeGroups shows both, the classic one with its own metadata.
    let d = c
        .consumer_describe_classic("g", &t, &cfg())
        .expect("a consumer group");
    assert_eq!(d.members.len(), 2);
    let classic = d
        .members
        .iter()
        .find(|m| m.member_id == id)
        .expect("classic member");
    assert_eq!(classic.member_metadata, subscription(&["t"], &[]));

    // LeaveGroup of the classic member: the other one gets everything.
    let (top, errors, _) = c.leave("g", &[(id.clone(), None)], T0 + 11);
    assert_eq!((top, errors), (ErrorCode::None, vec![ErrorCode::None]));
    beat(&c, &t, "g", &mut a, T0 + 12);
    beat(&c, &t, "g", &mut a, T0 + 13);
    assert_eq!(total(&a.owned), 4);
    assert_eq!(
        c.consumer_group_state("g"),
        Some(ConsumerGroupState::Stable)
    );
}

#[test]
fn a_classic_group_upgrades_and_downgrades_online() {
    let c = GroupCoordinator::new();
    let t = MapTopics::new(&[("t", 1, 4)]);
    // A classic group: one member, leader, assigns itself everything.
    let first = classic_join(&c, &t, "g", "", &[], T0);
    let id = first.member_id.clone();
    let joined = classic_join(&c, &t, "g", &id, &[], T0);
    assert_eq!(joined.error_code, 0);
    assert_eq!(joined.leader, id);
    let all = versioned(
        &ConsumerProtocolAssignment {
            assigned_partitions: vec![AssignedTp {
                topic: "t".into(),
                partitions: vec![0, 1, 2, 3],
                ..Default::default()
            }],
            ..Default::default()
        },
        0,
    );
    let (r, _) = c.sync_with(
        sync_args("g", &id, joined.generation_id, vec![(id.clone(), all)]),
        Some(&t),
        T0 + 1,
    );
    assert_eq!(partitions(&reply(r).assignment).len(), 4);
    assert_eq!(c.group_state("g"), Some(GroupState::Stable));
    assert_eq!(c.consumer_group_state("g"), None);

    // A consumer-protocol member joins: the group is upgraded.
    let mut b = join(&c, &t, "g", &["t"], T0 + 2);
    assert_eq!(b.epoch, joined.generation_id + 1);
    assert!(
        b.owned.is_empty(),
        "the classic member still owns everything"
    );
    assert!(c.consumer_group_state("g").is_some());
    assert_eq!(c.group_state("g"), Some(GroupState::Empty));
    // The classic member keeps its generation as epoch and is told to join
    // again; an eager consumer comes back owning nothing.
    assert_eq!(
        c.heartbeat("g", joined.generation_id, &id, None, T0 + 3),
        ErrorCode::RebalanceInProgress
    );
    let again = classic_join(&c, &t, "g", &id, &[], T0 + 4);
    assert_eq!(again.error_code, 0);
    assert_eq!(again.generation_id, b.epoch);
    let s = classic_sync(&c, &t, "g", &id, again.generation_id, T0 + 5);
    let mine = partitions(&s.assignment);
    assert_eq!(mine.len(), 2);
    beat(&c, &t, "g", &mut b, T0 + 6);
    assert_eq!(total(&b.owned), 2);
    assert!(mine.is_disjoint(&named(&b.owned)));

    // The consumer-protocol member leaves: only classic members remain, the
    // group becomes classic again and rebalances.
    let (r, _) = c.consumer_heartbeat(hb_args("g", &b.id, LEAVE_EPOCH, None), &cfg(), &t, T0 + 7);
    ok(&r);
    assert_eq!(c.consumer_group_state("g"), None);
    assert_eq!(c.group_state("g"), Some(GroupState::PreparingRebalance));
    let hb = c.heartbeat("g", again.generation_id, &id, None, T0 + 8);
    assert!(
        hb == ErrorCode::RebalanceInProgress || hb == ErrorCode::IllegalGeneration,
        "the classic member must join again, got {hb:?}"
    );
    let back = classic_join(&c, &t, "g", &id, &[], T0 + 9);
    assert_eq!(back.error_code, 0);
    assert_eq!(back.leader, id, "the only member leads the classic group");
    assert_eq!(c.group_state("g"), Some(GroupState::CompletingRebalance));
}

#[test]
fn a_disabled_policy_keeps_the_group_types_apart() {
    let c = GroupCoordinator::with_config(GroupConfig {
        consumer_migration_policy: MigrationPolicy::Disabled,
        ..Default::default()
    });
    let t = MapTopics::new(&[("t", 1, 2)]);
    join(&c, &t, "consumers", &["t"], T0);
    let r = classic_join(&c, &t, "consumers", "", &[], T0 + 1);
    assert_eq!(r.error_code, ErrorCode::InconsistentGroupProtocol.code());

    let first = classic_join(&c, &t, "classic", "", &[], T0);
    let joined = classic_join(&c, &t, "classic", &first.member_id, &[], T0);
    assert_eq!(joined.error_code, 0);
    let (r, _) = c.consumer_heartbeat(join_args("classic", "", &["t"]), &cfg(), &t, T0 + 1);
    assert_eq!(r.error_code, ErrorCode::GroupIdNotFound.code());
    assert_eq!(c.consumer_group_state("classic"), None);
}

#[test]
fn a_classic_group_of_another_protocol_type_is_not_upgraded() {
    let c = GroupCoordinator::new();
    let t = MapTopics::new(&[("t", 1, 2)]);
    let mut args = classic_args("connect", "", &["t"], &[]);
    args.protocol_type = "connect".into();
    args.require_known_member_id = false;
    let (r, _) = c.join(args, T0);
    assert_eq!(reply(r).error_code, 0);
    let (r, _) = c.consumer_heartbeat(join_args("connect", "", &["t"]), &cfg(), &t, T0 + 1);
    assert_eq!(r.error_code, ErrorCode::GroupIdNotFound.code());
}

#[test]
fn classic_member_metadata_survives_the_record_round_trip() {
    let meta = MemberMeta {
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        subscribed_topic_names: vec!["t".into()],
        rebalance_timeout_ms: 30_000,
        classic: Some(ClassicMeta {
            session_timeout_ms: 12_000,
            protocols: vec![("range".into(), subscription(&["t"], &[("t", &[1])]))],
        }),
        ..Default::default()
    };
    let (k, v) = records::member_metadata("g", "m", Some(&meta));
    match records::decode(&k, v.as_ref()) {
        Some(Record::Member {
            meta: Some(back), ..
        }) => assert_eq!(back, meta),
        other => panic!("unexpected record {other:?}"),
    }
}
