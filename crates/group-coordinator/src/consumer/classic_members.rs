//! Classic members inside consumer groups (KIP-848's online migration; on
//! by default, as in Kafka 4.0, with `group.consumer.migration.policy =
//! bidirectional`). A consumer that only speaks JoinGroup, SyncGroup,
//! Heartbeat and LeaveGroup can be a member of a consumer group; the
//! coordinator assigns its partitions like any other member's:
//!
//! - JoinGroup is its heartbeat with a subscription: the topics, rack and
//!   owned partitions come from the consumer protocol metadata of its
//!   first protocol. It is answered at once (no join round) with its
//!   member epoch as the generation, no leader and no member list.
//! - SyncGroup answers its current assignment in the consumer protocol
//!   encoding (the version it joined with).
//! - Heartbeat answers REBALANCE_IN_PROGRESS when it must join again to
//!   move on: the group epoch passed its epoch, it must give partitions
//!   up, or partitions it waits for are free now.
//! - LeaveGroup removes members (static ones by instance id) like a
//!   ConsumerGroupHeartbeat with epoch -1.
//!
//! A request for a group that is not a consumer group with members goes
//! on to the classic coordinator ([`Route::Classic`]).

use bytes::Bytes;
use fjord_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use fjord_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, JoinGroupResponse, SyncGroupResponse,
};
use fjord_protocol::{Decode, ErrorCode};

use super::describe::versioned;
use super::group::Group;
use super::heartbeat::consumer_update;
use super::reconcile::{Assignment, MemberState};
use super::records::{self, ClassicMeta};
use super::{ConsumerGroupConfig, HeartbeatArgs, Topics, LEAVE_STATIC_EPOCH};
use crate::{join_error, sync_error, Durable, GroupCoordinator, JoinArgs, SyncArgs};

/// The consumer protocol's type name.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// Where a classic group request goes.
pub enum Route<T> {
    /// Not a consumer group with members: the classic coordinator answers.
    Classic,
    /// Answered here (once `Durable` is synced).
    Answer(T, Durable),
}

/// What classic requests to consumer groups need from the broker.
pub struct ClassicEnv<'a> {
    pub cfg: &'a ConsumerGroupConfig,
    pub topics: &'a dyn Topics,
}

/// The version a consumer protocol payload starts with (0..=3 as fjord
/// reads them; newer ones are read as 3, their fields being a superset).
pub(super) fn payload_version(b: &[u8]) -> Option<i16> {
    if b.len() < 2 {
        return None;
    }
    let v = i16::from_be_bytes([b[0], b[1]]);
    (v >= 0).then_some(v.min(3))
}

/// A classic member's subscription (ConsumerProtocolSubscription).
pub(super) fn decode_subscription(meta: &Bytes) -> Option<ConsumerProtocolSubscription> {
    let version = payload_version(meta)?;
    let mut body = meta.slice(2..);
    ConsumerProtocolSubscription::decode(&mut body, version).ok()
}

/// A classic member's assignment (ConsumerProtocolAssignment); an empty
/// payload is an empty assignment.
pub(super) fn decode_assignment(bytes: &Bytes) -> Option<ConsumerProtocolAssignment> {
    if bytes.is_empty() {
        return Some(ConsumerProtocolAssignment::default());
    }
    let version = payload_version(bytes)?;
    let mut body = bytes.slice(2..);
    ConsumerProtocolAssignment::decode(&mut body, version).ok()
}

/// Topic names and partitions to the coordinator's ids (unknown topics
/// are left out).
pub(super) fn to_assignment<'a>(
    topics: &dyn Topics,
    named: impl Iterator<Item = (&'a str, &'a [i32])>,
) -> Assignment {
    let mut out = Assignment::new();
    for (name, partitions) in named {
        if let Some(t) = topics.by_name(name) {
            out.entry(t.id)
                .or_default()
                .extend(partitions.iter().copied());
        }
    }
    out
}

/// `assigned` in the consumer protocol encoding of `version`.
pub(super) fn encode_assignment(
    g: &Group,
    assigned: &Assignment,
    topics: Option<&dyn Topics>,
    version: i16,
) -> Bytes {
    let assignment = ConsumerProtocolAssignment {
        assigned_partitions: assigned
            .iter()
            .filter_map(|(id, ps)| {
                g.topic_name(id, topics).map(|topic| AssignedTopic {
                    topic,
                    partitions: ps.iter().copied().collect(),
                    ..Default::default()
                })
            })
            .collect(),
        ..Default::default()
    };
    versioned(&assignment, version)
}

/// The member a SyncGroup, Heartbeat or LeaveGroup names: by instance id
/// for a static member (which must still be `member_id`), else by id.
fn find_member(g: &Group, member_id: &str, instance_id: Option<&str>) -> Result<String, ErrorCode> {
    match instance_id {
        Some(i) => match g.static_members.get(i) {
            Some(owner) if owner == member_id || member_id.is_empty() => Ok(owner.clone()),
            Some(_) => Err(ErrorCode::FencedInstanceId),
            None => Err(ErrorCode::UnknownMemberId),
        },
        None if g.members.contains_key(member_id) => Ok(member_id.to_string()),
        None => Err(ErrorCode::UnknownMemberId),
    }
}

/// Whether some partition of `member_id`'s target is still owned by
/// another member (Kafka's `waitingOnUnreleasedPartition`).
fn waits_on_others(g: &Group, member_id: &str) -> bool {
    let Some(target) = g.target.get(member_id) else {
        return false;
    };
    target.iter().any(|(t, ps)| {
        ps.iter().any(|p| {
            g.owners
                .get(&(*t, *p))
                .is_some_and(|o| o.as_str() != member_id)
        })
    })
}

impl GroupCoordinator {
    /// JoinGroup: routes a consumer group's classic member here. An empty
    /// consumer group gives way to a classic group (it is deleted).
    pub(crate) fn consumer_classic_join(
        &self,
        a: &JoinArgs,
        env: Option<&ClassicEnv<'_>>,
        now: i64,
    ) -> Route<JoinGroupResponse> {
        let answer = |code: ErrorCode, member: &str| Route::Answer(join_error(member, code), None);
        let Ok(mut groups) = self.consumer.groups.lock() else {
            return answer(ErrorCode::CoordinatorNotAvailable, &a.member_id);
        };
        let Some(g) = groups.get_mut(&a.group_id) else {
            return Route::Classic;
        };
        if g.members.is_empty() {
            let recs = super::group::delete_records(g);
            if let Err(code) = self.append(&a.group_id, &recs, now) {
                return answer(code, &a.member_id);
            }
            groups.remove(&a.group_id);
            tracing::info!(
                group = %a.group_id,
                "empty consumer group converted to a classic group"
            );
            return Route::Classic;
        }
        let policy = self.config.consumer_migration_policy;
        let known = match &a.group_instance_id {
            Some(i) => g.static_members.contains_key(i),
            None => !a.member_id.is_empty() && g.members.contains_key(&a.member_id),
        };
        let Some(env) = env.filter(|_| known || policy != super::MigrationPolicy::Disabled) else {
            tracing::info!(
                group = %a.group_id,
                policy = policy.name(),
                "classic JoinGroup refused: the group is a consumer (KIP-848) group"
            );
            return answer(ErrorCode::InconsistentGroupProtocol, &a.member_id);
        };
        if a.protocol_type != CONSUMER_PROTOCOL_TYPE || a.protocols.is_empty() {
            return answer(ErrorCode::InconsistentGroupProtocol, &a.member_id);
        }
        let Some(sub) = decode_subscription(&a.protocols[0].1) else {
            tracing::info!(group = %a.group_id, member = %a.member_id, "classic JoinGroup refused: malformed consumer protocol subscription");
            return answer(ErrorCode::InconsistentGroupProtocol, &a.member_id);
        };
        if a.member_id.is_empty() && a.group_instance_id.is_none() && a.require_known_member_id {
            // As the classic protocol: come back with this id.
            return answer(
                ErrorCode::MemberIdRequired,
                &super::heartbeat::new_member_id(),
            );
        }
        if let Some(i) = &a.group_instance_id {
            match g.static_members.get(i).cloned() {
                Some(old) if a.member_id.is_empty() => {
                    // A new instance replaces the old one: it takes over its
                    // epoch and partitions (the heartbeat path's rule for a
                    // static member that left temporarily).
                    if let Some(m) = g.members.get_mut(&old) {
                        if m.current.member_epoch != LEAVE_STATIC_EPOCH {
                            m.current.previous_member_epoch = m.current.member_epoch;
                            m.current.member_epoch = LEAVE_STATIC_EPOCH;
                        }
                    }
                }
                Some(old) if old != a.member_id => {
                    return answer(ErrorCode::FencedInstanceId, &a.member_id)
                }
                Some(_) => {}
                None if !a.member_id.is_empty() => {
                    return answer(ErrorCode::UnknownMemberId, &a.member_id)
                }
                None => {}
            }
        }
        if let Some(m) = g.members.get(&a.member_id) {
            if m.meta.classic.is_none() {
                return answer(ErrorCode::UnknownMemberId, &a.member_id);
            }
        }
        let mut hb = HeartbeatArgs {
            group_id: a.group_id.clone(),
            member_id: a.member_id.clone(),
            member_epoch: 0,
            instance_id: a.group_instance_id.clone(),
            rack_id: sub.rack_id.clone().filter(|r| !r.is_empty()),
            rebalance_timeout_ms: a.rebalance_timeout_ms,
            subscribed_topic_names: Some(sub.topics.clone()),
            subscribed_topic_regex: None,
            server_assignor: None,
            owned: Some(Assignment::new()),
            client_id: a.client_id.clone(),
            client_host: a.client_host.clone(),
        };
        let mut recs = Vec::new();
        let (member_id, is_new) = match self.consumer_member(g, &hb, env.cfg, now, &mut recs) {
            Ok(m) => m,
            Err(r) => {
                let code =
                    ErrorCode::from_code(r.error_code).unwrap_or(ErrorCode::UnknownServerError);
                return answer(code, &a.member_id);
            }
        };
        if let Some(m) = g.members.get(&member_id) {
            if !is_new && m.current.member_epoch > 0 {
                // A member that joined before reports what it still owns
                // (nothing for an eager consumer, which gave all up).
                hb.member_epoch = m.current.member_epoch;
                hb.owned = Some(to_assignment(
                    env.topics,
                    sub.owned_partitions
                        .iter()
                        .map(|t| (t.topic.as_str(), t.partitions.as_slice())),
                ));
            }
        }
        let classic = ClassicMeta {
            session_timeout_ms: a.session_timeout_ms,
            protocols: a.protocols.clone(),
        };
        let classic_changed = g
            .members
            .get(&member_id)
            .is_some_and(|m| m.meta.classic.as_ref() != Some(&classic));
        if let Some(m) = g.members.get_mut(&member_id) {
            m.meta.classic = Some(classic);
        }
        let (result, more) = consumer_update(g, &member_id, is_new, &hb, env.cfg, env.topics, now);
        recs.extend(more);
        if result.error_code != ErrorCode::None.code() {
            let code =
                ErrorCode::from_code(result.error_code).unwrap_or(ErrorCode::UnknownServerError);
            return answer(code, &a.member_id);
        }
        let Some(m) = g.members.get_mut(&member_id) else {
            return answer(ErrorCode::UnknownMemberId, &a.member_id);
        };
        m.session_timeout_ms = a.session_timeout_ms;
        m.session_deadline = now + i64::from(a.session_timeout_ms);
        if m.current.state != MemberState::UnrevokedPartitions {
            m.rebalance_deadline = None;
        }
        if classic_changed || is_new {
            recs.push(records::member_metadata(&g.id, &member_id, Some(&m.meta)));
        }
        let response = JoinGroupResponse {
            error_code: ErrorCode::None.code(),
            generation_id: m.current.member_epoch,
            protocol_type: Some(CONSUMER_PROTOCOL_TYPE.to_string()),
            protocol_name: Some(a.protocols[0].0.clone()),
            leader: String::new(),
            member_id: member_id.clone(),
            ..Default::default()
        };
        tracing::info!(group = %g.id, member = %member_id, epoch = m.current.member_epoch, group_epoch = g.epoch, state = m.current.state.name(), "classic member joined the consumer group");
        match self.append(&a.group_id, &recs, now) {
            Ok(durable) => Route::Answer(response, durable),
            Err(code) => answer(code, &a.member_id),
        }
    }

    /// SyncGroup of a consumer group's classic member: its current
    /// assignment.
    pub(crate) fn consumer_classic_sync(
        &self,
        a: &SyncArgs,
        topics: Option<&dyn Topics>,
        now: i64,
    ) -> Route<SyncGroupResponse> {
        let answer = |code: ErrorCode| Route::Answer(sync_error(code), None);
        let Ok(mut groups) = self.consumer.groups.lock() else {
            return answer(ErrorCode::CoordinatorNotAvailable);
        };
        let Some(g) = groups
            .get_mut(&a.group_id)
            .filter(|g| !g.members.is_empty())
        else {
            return Route::Classic;
        };
        let id = match find_member(g, &a.member_id, a.group_instance_id.as_deref()) {
            Ok(id) => id,
            Err(code) => return answer(code),
        };
        let group_epoch = g.epoch;
        let Some(m) = g.members.get_mut(&id) else {
            return answer(ErrorCode::UnknownMemberId);
        };
        let Some(classic) = m.meta.classic.clone() else {
            return answer(ErrorCode::UnknownMemberId);
        };
        if a.generation_id != m.current.member_epoch {
            return answer(ErrorCode::IllegalGeneration);
        }
        let first = classic.protocols.first();
        if a.protocol_type
            .as_deref()
            .is_some_and(|t| t != CONSUMER_PROTOCOL_TYPE)
            || a.protocol_name
                .as_deref()
                .is_some_and(|n| first.map(|p| p.0.as_str()) != Some(n))
        {
            return answer(ErrorCode::InconsistentGroupProtocol);
        }
        if group_epoch > m.current.member_epoch
            && m.current.state != MemberState::UnrevokedPartitions
        {
            return answer(ErrorCode::RebalanceInProgress);
        }
        m.session_deadline = now + i64::from(m.session_timeout_ms);
        let version = first.and_then(|p| payload_version(&p.1)).unwrap_or(0);
        let assigned = m.current.assigned.clone();
        let assignment = encode_assignment(g, &assigned, topics, version);
        Route::Answer(
            SyncGroupResponse {
                error_code: ErrorCode::None.code(),
                protocol_type: Some(CONSUMER_PROTOCOL_TYPE.to_string()),
                protocol_name: first.map(|p| p.0.clone()),
                assignment,
                ..Default::default()
            },
            None,
        )
    }

    /// Heartbeat of a consumer group's classic member; `None` if the
    /// group is not a consumer group with members.
    pub(crate) fn consumer_classic_heartbeat(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        now: i64,
    ) -> Option<ErrorCode> {
        let Ok(mut groups) = self.consumer.groups.lock() else {
            return Some(ErrorCode::CoordinatorNotAvailable);
        };
        let g = groups.get_mut(group_id).filter(|g| !g.members.is_empty())?;
        let id = match find_member(g, member_id, instance_id) {
            Ok(id) => id,
            Err(code) => return Some(code),
        };
        let waiting = waits_on_others(g, &id);
        let group_epoch = g.epoch;
        let m = g.members.get_mut(&id)?;
        if m.meta.classic.is_none() {
            return Some(ErrorCode::UnknownMemberId);
        }
        if generation != m.current.member_epoch {
            return Some(ErrorCode::IllegalGeneration);
        }
        m.session_deadline = now + i64::from(m.session_timeout_ms);
        let rejoin = m.current.member_epoch < group_epoch
            || m.current.state == MemberState::UnrevokedPartitions
            || (m.current.state == MemberState::UnreleasedPartitions && !waiting);
        if rejoin {
            // Kafka's join timeout: a member told to rejoin that does not
            // within its rebalance timeout is removed.
            let timeout = i64::from(m.meta.rebalance_timeout_ms.max(0));
            m.rebalance_deadline.get_or_insert(now + timeout);
            return Some(ErrorCode::RebalanceInProgress);
        }
        Some(ErrorCode::None)
    }

    /// LeaveGroup for a consumer group: removes the named members (any
    /// member, as Kafka lets admin tools remove static members by instance
    /// id). `None` if the group is not a consumer group with members.
    pub(crate) fn consumer_classic_leave(
        &self,
        group_id: &str,
        leaving: &[(String, Option<String>)],
        now: i64,
    ) -> Option<(ErrorCode, Vec<ErrorCode>, Durable)> {
        let Ok(mut groups) = self.consumer.groups.lock() else {
            return Some((ErrorCode::CoordinatorNotAvailable, Vec::new(), None));
        };
        let g = groups.get_mut(group_id).filter(|g| !g.members.is_empty())?;
        let mut errors = Vec::with_capacity(leaving.len());
        let mut recs = Vec::new();
        for (member_id, instance_id) in leaving {
            match find_member(g, member_id, instance_id.as_deref()) {
                Ok(id) => {
                    tracing::info!(group = %g.id, member = %id, "member left the consumer group (LeaveGroup)");
                    recs.extend(self.consumer_remove(g, &id, now));
                    errors.push(ErrorCode::None);
                }
                Err(code) => errors.push(code),
            }
        }
        let durable = match self.append(group_id, &recs, now) {
            Ok(d) => d,
            Err(code) => return Some((code, Vec::new(), None)),
        };
        let downgraded = self.consumer_maybe_downgrade(&mut groups, group_id, now);
        Some((ErrorCode::None, errors, downgraded.or(durable)))
    }
}
