//! The classic consumer group coordinator (Kafka's pre-KIP-848 protocol):
//! group membership (JoinGroup/SyncGroup/Heartbeat/LeaveGroup) and
//! committed offsets, persisted in `__consumer_offsets`.
//!
//! This node coordinates every group. The state machine follows Kafka's
//! `GroupCoordinator`: Empty → PreparingRebalance → CompletingRebalance →
//! Stable (→ Dead when deleted). A join round completes as soon as every
//! known member has rejoined (checked on each event) or when the rebalance
//! timeout passes; timers (rebalance, pending sync, session, pending
//! member) are deadlines checked by [`GroupCoordinator::tick`], which the
//! server calls periodically. Held JoinGroup/SyncGroup responses travel
//! through oneshot channels.
//!
//! Kafka's coordinator broker configs (`group.initial.rebalance.delay.ms`,
//! `offsets.retention.minutes`, the session timeout bounds, ...) come in
//! a [`GroupConfig`] from the broker config; see its fields for fjord's
//! defaults and where they differ from Kafka's.
//!
//! Durability: offset commits and group metadata are appended to the
//! group's `__consumer_offsets` partition (keys/values in Kafka's schemas)
//! while the group lock is held, so log order equals apply order; an
//! OffsetCommit is answered only after its records are fsynced. At start
//! the topic is replayed: offsets come back, and groups with members come
//! back Stable with those members (as Kafka loads them), who keep their
//! generation if they heartbeat before their session times out.

mod classic;
pub mod config;
pub mod consumer;
mod offsets;
mod ownership;
pub mod store;
pub mod txn_offsets;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use bytes::{Bytes, BytesMut};
use fjord_protocol::messages::group_metadata_value::MemberMetadata;
use fjord_protocol::messages::join_group_response::JoinGroupResponseMember;
use fjord_protocol::messages::{
    ConsumerProtocolSubscription, JoinGroupResponse, SyncGroupResponse,
};
use fjord_protocol::records::BatchBuilder;
use fjord_protocol::{Decode, ErrorCode};
use tokio::sync::oneshot;

pub use crate::config::GroupConfig;
use fjord_partition::Partition;
pub use fjord_protocol::internal_topics::OFFSETS_TOPIC;

/// Kafka's `NewMemberJoinTimeoutMs`: a new member's JoinGroup is held at
/// most this long.
const NEW_MEMBER_JOIN_TIMEOUT_MS: i64 = 300_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// Committed offsets by topic: (topic, [(partition, offset if any)]).
pub type TopicOffsets = Vec<(String, Vec<(i32, Option<CommittedOffset>)>)>;

#[derive(Clone, Debug, PartialEq)]
pub struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
}

struct Member {
    id: String,
    instance_id: Option<String>,
    client_id: String,
    client_host: String,
    rebalance_timeout_ms: i32,
    session_timeout_ms: i32,
    protocol_type: String,
    protocols: Vec<(String, Bytes)>,
    assignment: Bytes,
    join_waiter: Option<oneshot::Sender<JoinGroupResponse>>,
    sync_waiter: Option<oneshot::Sender<SyncGroupResponse>>,
    last_heartbeat: i64,
    is_new: bool,
}

impl Member {
    fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    fn matches(&self, protocols: &[(String, Bytes)]) -> bool {
        self.protocols == protocols
    }

    fn vote(&self, candidates: &HashSet<String>) -> Option<String> {
        self.protocols
            .iter()
            .map(|(n, _)| n)
            .find(|n| candidates.contains(*n))
            .cloned()
    }

    /// Kafka's `hasSatisfiedHeartbeat` seen from the expiry side.
    fn expired(&self, now: i64) -> bool {
        if self.is_new {
            return self.last_heartbeat + NEW_MEMBER_JOIN_TIMEOUT_MS <= now;
        }
        if self.join_waiter.is_some() || self.sync_waiter.is_some() {
            return false;
        }
        self.last_heartbeat + i64::from(self.session_timeout_ms) <= now
    }
}

struct Group {
    id: String,
    state: GroupState,
    state_timestamp: i64,
    protocol_type: Option<String>,
    protocol: Option<String>,
    generation: i32,
    leader: Option<String>,
    /// In join order: the first is the leader's fallback.
    members: Vec<Member>,
    /// Members told MEMBER_ID_REQUIRED, with their expiry.
    pending_members: HashMap<String, i64>,
    pending_sync: HashSet<String>,
    /// group.instance.id → member id.
    static_members: HashMap<String, String>,
    offsets: BTreeMap<(String, i32), CommittedOffset>,
    /// When the PreparingRebalance round ends at the latest.
    join_deadline: Option<i64>,
    /// For the initial delayed join: how much rebalance time remains.
    initial_delay_remaining: Option<i64>,
    new_member_added: bool,
    sync_deadline: Option<i64>,
    /// The leader's assignment of this generation is being stored: the
    /// group stays CompletingRebalance and every member's SyncGroup waits
    /// until the store completes ([`GroupCoordinator::assignment_stored`]).
    storing_assignment: Option<i32>,
}

impl Group {
    fn new(id: &str, now: i64) -> Group {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            state_timestamp: now,
            protocol_type: None,
            protocol: None,
            generation: 0,
            leader: None,
            members: Vec::new(),
            pending_members: HashMap::new(),
            pending_sync: HashSet::new(),
            static_members: HashMap::new(),
            offsets: BTreeMap::new(),
            join_deadline: None,
            initial_delay_remaining: None,
            new_member_added: false,
            sync_deadline: None,
            storing_assignment: None,
        }
    }

    fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    fn member_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }

    fn has(&self, id: &str) -> bool {
        self.member(id).is_some()
    }

    fn is_leader(&self, id: &str) -> bool {
        self.leader.as_deref() == Some(id)
    }

    fn transition(&mut self, to: GroupState, now: i64) {
        tracing::debug!(group = %self.id, from = self.state.name(), to = to.name(), "group state");
        self.state = to;
        self.state_timestamp = now;
    }

    fn is_static_member_fenced(&self, instance_id: Option<&str>, member_id: &str) -> bool {
        match instance_id.and_then(|i| self.static_members.get(i)) {
            Some(current) => current != member_id,
            None => false,
        }
    }

    fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.state == GroupState::Empty {
            !protocol_type.is_empty() && !protocols.is_empty()
        } else {
            self.protocol_type.as_deref() == Some(protocol_type)
                && protocols.iter().any(|(n, _)| {
                    self.members
                        .iter()
                        .all(|m| m.protocols.iter().any(|(mn, _)| mn == n))
                })
        }
    }

    fn candidate_protocols(&self) -> HashSet<String> {
        let Some(first) = self.members.first() else {
            return HashSet::new();
        };
        first
            .protocols
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| {
                self.members
                    .iter()
                    .all(|m| m.protocols.iter().any(|(mn, _)| mn == n))
            })
            .collect()
    }

    /// The protocol all members support with the most first-choice votes
    /// (ties go to the one voted for first in join order).
    fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: Vec<(String, usize)> = Vec::new();
        for m in &self.members {
            if let Some(v) = m.vote(&candidates) {
                match votes.iter_mut().find(|(n, _)| *n == v) {
                    Some(e) => e.1 += 1,
                    None => votes.push((v, 1)),
                }
            }
        }
        let mut best: Option<(String, usize)> = None;
        for (n, c) in votes {
            if !matches!(&best, Some((_, bc)) if c <= *bc) {
                best = Some((n, c));
            }
        }
        best.map(|(n, _)| n)
    }

    fn rebalance_timeout(&self) -> i64 {
        self.members
            .iter()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    fn awaiting_join(&self) -> usize {
        self.members
            .iter()
            .filter(|m| m.join_waiter.is_some())
            .count()
    }

    fn has_all_members_joined(&self) -> bool {
        self.members.len() == self.awaiting_join() && self.pending_members.is_empty()
    }

    fn add_member(&mut self, member: Member) {
        if self.members.is_empty() {
            self.protocol_type = Some(member.protocol_type.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member.id.clone());
        }
        if let Some(i) = &member.instance_id {
            self.static_members.insert(i.clone(), member.id.clone());
        }
        self.pending_members.remove(&member.id);
        self.members.push(member);
    }

    fn remove_member(&mut self, id: &str) -> Option<Member> {
        let pos = self.members.iter().position(|m| m.id == id)?;
        let m = self.members.remove(pos);
        if let Some(i) = &m.instance_id {
            if self.static_members.get(i).map(String::as_str) == Some(id) {
                self.static_members.remove(i);
            }
        }
        self.pending_sync.remove(id);
        if self.is_leader(id) {
            self.leader = self.members.first().map(|m| m.id.clone());
        }
        Some(m)
    }

    fn subscribed_topics(&self) -> Option<HashSet<String>> {
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        let protocol = self.protocol.as_deref()?;
        let mut topics = HashSet::new();
        for m in &self.members {
            let mut meta = m.metadata_for(protocol);
            if meta.len() < 2 {
                return None;
            }
            let version = i16::from_be_bytes([meta[0], meta[1]]);
            let _ = meta.split_to(2);
            // Newer subscription versions are read as our newest.
            let sub = ConsumerProtocolSubscription::decode(&mut meta, version.min(3)).ok()?;
            topics.extend(sub.topics);
        }
        Some(topics)
    }

    fn join_response(&self, member_id: &str, with_members: bool) -> JoinGroupResponse {
        let members = if with_members {
            let protocol = self.protocol.clone().unwrap_or_default();
            self.members
                .iter()
                .map(|m| JoinGroupResponseMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    metadata: m.metadata_for(&protocol),
                    ..Default::default()
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinGroupResponse {
            error_code: ErrorCode::None.code(),
            generation_id: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            member_id: member_id.to_string(),
            members,
            ..Default::default()
        }
    }

    fn record(&self) -> store::GroupRecord {
        let protocol = self.protocol.clone().unwrap_or_default();
        store::GroupRecord {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            state_timestamp: self.state_timestamp,
            members: self
                .members
                .iter()
                .map(|m| MemberMetadata {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout: m.rebalance_timeout_ms,
                    session_timeout: m.session_timeout_ms,
                    subscription: m.metadata_for(&protocol),
                    assignment: m.assignment.clone(),
                    ..Default::default()
                })
                .collect(),
        }
    }
}

pub fn join_error(member_id: &str, code: ErrorCode) -> JoinGroupResponse {
    JoinGroupResponse {
        error_code: code.code(),
        generation_id: -1,
        member_id: member_id.to_string(),
        ..Default::default()
    }
}

pub fn sync_error(code: ErrorCode) -> SyncGroupResponse {
    SyncGroupResponse {
        error_code: code.code(),
        ..Default::default()
    }
}

/// What a JoinGroup or SyncGroup gets: an answer now, or one to wait for.
pub enum Reply<T> {
    Now(T),
    Wait(oneshot::Receiver<T>),
}

/// Records appended but maybe not yet durable: sync the partition to here.
pub type Durable = Option<(Arc<Partition>, i64)>;

#[derive(Clone)]
pub struct JoinArgs {
    pub group_id: String,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: new dynamic members must rejoin with a given id.
    pub require_known_member_id: bool,
    /// JoinGroup v9+.
    pub supports_skip_assignment: bool,
}

pub struct SyncArgs {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignments: Vec<(String, Bytes)>,
}

pub struct OffsetToCommit {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

/// A group as DescribeGroups shows it.
pub struct GroupSummary {
    pub state: GroupState,
    pub protocol_type: String,
    pub protocol: String,
    /// (member id, instance id, client id, client host, metadata, assignment)
    pub members: Vec<MemberSummary>,
}

pub struct MemberSummary {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

#[derive(Default)]
pub struct GroupCoordinator {
    config: GroupConfig,
    groups: Mutex<HashMap<String, Group>>,
    /// KIP-848 consumer groups (`consumer/`); lock it before `groups`.
    consumer: consumer::ConsumerGroups,
    /// `__consumer_offsets` partitions this coordinator owns; none at all
    /// = memory only (tests).
    partitions: RwLock<ownership::OffsetsPartitions>,
    last_expiry_check: Mutex<i64>,
    /// Offsets of open transactions (TxnOffsetCommit); lock after `groups`.
    txn_offsets: Mutex<txn_offsets::PendingTxnOffsets>,
}

fn random_member_suffix() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

impl GroupCoordinator {
    pub fn new() -> GroupCoordinator {
        GroupCoordinator::default()
    }

    pub fn with_config(config: GroupConfig) -> GroupCoordinator {
        GroupCoordinator {
            config,
            ..GroupCoordinator::default()
        }
    }

    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// Replays `__consumer_offsets` (its partitions, in order) into memory
    /// and owns every partition (one node).
    pub fn load(&self, partitions: Vec<Arc<Partition>>, now: i64) {
        let mut groups = match self.groups.lock() {
            Ok(g) => g,
            Err(_) => return,
        };
        let (loaded_offsets, consumer_records) = self.replay(&mut groups, &partitions, now);
        // Groups with neither members nor offsets are gone.
        groups.retain(|_, g| !g.members.is_empty() || !g.offsets.is_empty() || g.generation > 0);
        tracing::info!(
            groups = groups.len(),
            offsets = loaded_offsets,
            "loaded __consumer_offsets"
        );
        drop(groups);
        self.consumer_load(consumer_records, now);
        if let Ok(mut p) = self.partitions.write() {
            *p = ownership::OffsetsPartitions::all(partitions);
        }
    }

    /// Replays `partitions` into `groups`: returns the number of offsets
    /// loaded and the consumer group records, for `consumer_load`.
    #[allow(clippy::type_complexity)]
    fn replay(
        &self,
        groups: &mut HashMap<String, Group>,
        partitions: &[Arc<Partition>],
        now: i64,
    ) -> (usize, Vec<(Bytes, Option<Bytes>)>) {
        let mut loaded_offsets = 0usize;
        let mut consumer_records = Vec::new();
        for p in partitions {
            p.for_each_batch(|h, batch| {
                if h.is_transactional() {
                    self.replay_txn_batch(groups, p.index, h, &batch);
                    return;
                }
                if h.is_control() {
                    return;
                }
                let Ok(recs) = fjord_protocol::records::records(&batch, 64 << 20) else {
                    return;
                };
                for rec in recs.flatten() {
                    let Some(key) = &rec.key else { continue };
                    match store::decode_entry(key, rec.value.as_ref()) {
                        Some(store::Entry::Offset {
                            group,
                            topic,
                            partition,
                            value,
                        }) => {
                            // An offsets-only group is as old as its commits.
                            let g = groups
                                .entry(group.clone())
                                .or_insert_with(|| Group::new(&group, 0));
                            match value {
                                Some(v) => {
                                    loaded_offsets += 1;
                                    g.offsets.insert(
                                        (topic, partition),
                                        CommittedOffset {
                                            offset: v.offset,
                                            leader_epoch: v.leader_epoch,
                                            metadata: v.metadata,
                                            commit_timestamp: v.commit_timestamp,
                                        },
                                    );
                                }
                                None => {
                                    g.offsets.remove(&(topic, partition));
                                }
                            }
                        }
                        Some(store::Entry::Group { group, value }) => match value {
                            Some(v) => {
                                let g = groups
                                    .entry(group.clone())
                                    .or_insert_with(|| Group::new(&group, now));
                                apply_group_record(g, v, now);
                            }
                            None => {
                                groups.remove(&group);
                            }
                        },
                        None if consumer::records::is_consumer_group_key(key) => {
                            consumer_records.push((key.clone(), rec.value.clone()));
                        }
                        None => {}
                    }
                }
            });
        }
        (loaded_offsets, consumer_records)
    }

    /// The partition `group_id`'s records go to: Ok(None) when this
    /// coordinator has no partitions at all (memory only), NOT_COORDINATOR
    /// when it does not own that group's partition.
    fn offsets_partition(&self, group_id: &str) -> Result<Option<Arc<Partition>>, ErrorCode> {
        let parts = self
            .partitions
            .read()
            .map_err(|_| ErrorCode::CoordinatorNotAvailable)?;
        parts.for_group(group_id)
    }

    /// Appends records for `group_id`; the caller holds the groups lock so
    /// log order is apply order. Memory-only (Ok(None)) without partitions.
    fn append(
        &self,
        group_id: &str,
        records: &[(Bytes, Option<Bytes>)],
        now: i64,
    ) -> Result<Durable, ErrorCode> {
        if records.is_empty() {
            return Ok(None);
        }
        let Some(p) = self.offsets_partition(group_id)? else {
            return Ok(None);
        };
        let mut b = BatchBuilder::default();
        for (k, v) in records {
            b.append(now, Some(k), v.as_deref(), &[])
                .map_err(|_| ErrorCode::UnknownServerError)?;
        }
        let batch = b.build().map_err(|_| ErrorCode::UnknownServerError)?;
        let mut buf = BytesMut::from(&batch[..]);
        match p.log.append(&mut buf, p.leader_epoch, now) {
            Ok(info) => Ok(Some((p.clone(), info.last_offset + 1))),
            Err(e) => {
                tracing::error!(group = group_id, error = %e, "appending to __consumer_offsets failed");
                Err(fjord_protocol::ErrorCode::from(&e))
            }
        }
    }

    fn store_group(&self, g: &Group, now: i64) -> Durable {
        let recs = [(
            store::group_key(&g.id),
            Some(store::group_value(g.record())),
        )];
        self.append(&g.id, &recs, now).unwrap_or(None)
    }

    // ---- Admin ----------------------------------------------------------

    /// (group id, protocol type, state) of every group.
    pub fn list(&self) -> Vec<(String, String, GroupState)> {
        let Ok(groups) = self.groups.lock() else {
            return Vec::new();
        };
        let mut v: Vec<_> = groups
            .values()
            .filter(|g| g.state != GroupState::Dead)
            .map(|g| {
                (
                    g.id.clone(),
                    g.protocol_type.clone().unwrap_or_default(),
                    g.state,
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    pub fn describe(&self, group_id: &str) -> Option<GroupSummary> {
        let groups = self.groups.lock().ok()?;
        let g = groups.get(group_id)?;
        let stable = g.state == GroupState::Stable;
        let protocol = if stable {
            g.protocol.clone().unwrap_or_default()
        } else {
            String::new()
        };
        Some(GroupSummary {
            state: g.state,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol: protocol.clone(),
            members: g
                .members
                .iter()
                .map(|m| MemberSummary {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata_for(&protocol)
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
        })
    }

    /// DeleteGroups for one group.
    pub fn delete_group(&self, group_id: &str, now: i64) -> (ErrorCode, Durable) {
        // A consumer (KIP-848) group goes first (NON_EMPTY_GROUP if it has
        // members); its offsets live here.
        let consumer = match self.consumer_delete(group_id, now) {
            Ok(deleted) => deleted,
            Err(code) => return (code, None),
        };
        let Ok(mut groups) = self.groups.lock() else {
            return (ErrorCode::CoordinatorNotAvailable, None);
        };
        let Some(g) = groups.get_mut(group_id) else {
            return match consumer {
                Some(durable) => (ErrorCode::None, durable),
                None => (ErrorCode::GroupIdNotFound, None),
            };
        };
        match g.state {
            GroupState::Dead => return (ErrorCode::GroupIdNotFound, None),
            GroupState::Empty => {}
            _ => return (ErrorCode::NonEmptyGroup, None),
        }
        let mut records: Vec<(Bytes, Option<Bytes>)> = g
            .offsets
            .keys()
            .map(|(t, p)| (store::offset_key(group_id, t, *p), None))
            .collect();
        records.push((store::group_key(group_id), None));
        match self.append(group_id, &records, now) {
            Ok(durable) => {
                g.transition(GroupState::Dead, now);
                groups.remove(group_id);
                tracing::info!(group = group_id, "group deleted");
                (ErrorCode::None, durable)
            }
            Err(code) => (code, None),
        }
    }

    // ---- Timers ---------------------------------------------------------

    /// Fires every due timer: join rounds, pending syncs, sessions,
    /// pending members, and (every ten minutes) offset expiry. Returns the
    /// records it appended, which the caller must make durable
    /// ([`tick_durably`] does both).
    pub fn tick(&self, now: i64) -> Vec<Durable> {
        let mut durables = Vec::new();
        // Consumer (KIP-848) groups first (lock order); their subscribed
        // topics keep their offsets from expiring.
        let consumer_active = self.consumer_tick(now, &mut durables);
        let Ok(mut groups) = self.groups.lock() else {
            return durables;
        };
        for g in groups.values_mut() {
            // Pending members that never rejoined.
            let expired: Vec<String> = g
                .pending_members
                .iter()
                .filter(|(_, d)| **d <= now)
                .map(|(id, _)| id.clone())
                .collect();
            for id in expired {
                g.pending_members.remove(&id);
            }
            // Sessions.
            let dead: Vec<String> = g
                .members
                .iter()
                .filter(|m| m.expired(now))
                .map(|m| m.id.clone())
                .collect();
            for id in dead {
                tracing::info!(group = %g.id, member = %id, "member session expired; removing it");
                durables.push(self.remove_member_and_update(g, &id, now));
            }
            // Members that got their JoinGroup answer but never synced.
            if g.sync_deadline.is_some_and(|d| d <= now) {
                g.sync_deadline = None;
                if matches!(
                    g.state,
                    GroupState::CompletingRebalance | GroupState::Stable
                ) && !g.pending_sync.is_empty()
                {
                    let late: Vec<String> = g.pending_sync.iter().cloned().collect();
                    for id in late {
                        tracing::info!(group = %g.id, member = %id, "member did not sync in time; removing it");
                        durables.push(self.remove_member_and_update(g, &id, now));
                    }
                }
            }
            durables.push(self.after_event(g, now));
        }
        let due = match self.last_expiry_check.lock() {
            Ok(mut last) => {
                if *last == 0 {
                    *last = now;
                    false
                } else if now - *last >= self.config.offsets_retention_check_interval_ms {
                    *last = now;
                    true
                } else {
                    false
                }
            }
            Err(_) => false,
        };
        if due {
            self.expire_offsets(&mut groups, now, &consumer_active, &mut durables);
        }
        durables
    }

    /// Whether there are any groups (for tests and status).
    pub fn group_state(&self, group_id: &str) -> Option<GroupState> {
        self.groups.lock().ok()?.get(group_id).map(|g| g.state)
    }
}

fn apply_group_record(g: &mut Group, v: fjord_protocol::messages::GroupMetadataValue, now: i64) {
    g.protocol_type = Some(v.protocol_type).filter(|p| !p.is_empty());
    g.generation = v.generation;
    g.protocol = v.protocol;
    g.leader = v.leader;
    g.state_timestamp = if v.current_state_timestamp > 0 {
        v.current_state_timestamp
    } else {
        now
    };
    g.members.clear();
    g.static_members.clear();
    for m in v.members {
        let protocol = g.protocol.clone().unwrap_or_default();
        if let Some(i) = &m.group_instance_id {
            g.static_members.insert(i.clone(), m.member_id.clone());
        }
        g.members.push(Member {
            id: m.member_id,
            instance_id: m.group_instance_id,
            client_id: m.client_id,
            client_host: m.client_host,
            rebalance_timeout_ms: m.rebalance_timeout,
            session_timeout_ms: m.session_timeout,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocols: vec![(protocol, m.subscription)],
            assignment: m.assignment,
            join_waiter: None,
            sync_waiter: None,
            last_heartbeat: now,
            is_new: false,
        });
    }
    g.state = if g.members.is_empty() {
        GroupState::Empty
    } else {
        GroupState::Stable
    };
}

/// Awaits a held reply; a dropped sender (replaced by a retry) answers
/// with `fallback`.
pub async fn resolve<T>(reply: Reply<T>, fallback: T) -> T {
    match reply {
        Reply::Now(r) => r,
        Reply::Wait(rx) => rx.await.unwrap_or(fallback),
    }
}

#[cfg(test)]
mod tests;
