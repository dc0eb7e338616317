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

pub mod consumer;
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
use crate::partition::Partition;

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
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
    /// `__consumer_offsets` partitions; empty = memory only (tests).
    partitions: RwLock<Vec<Arc<Partition>>>,
    last_expiry_check: Mutex<i64>,
    /// Offsets of open transactions (TxnOffsetCommit); lock after `groups`.
    txn_offsets: Mutex<txn_offsets::PendingTxnOffsets>,
}

fn random_member_suffix() -> String {
    let u: [u8; 16] = rand::random();
    let mut u = u;
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    let h: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
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

    /// Replays `__consumer_offsets` (its partitions, in order) into memory.
    pub fn load(&self, partitions: Vec<Arc<Partition>>, now: i64) {
        let mut groups = match self.groups.lock() {
            Ok(g) => g,
            Err(_) => return,
        };
        let mut loaded_offsets = 0usize;
        let mut consumer_records = Vec::new();
        for p in &partitions {
            p.for_each_batch(|h, batch| {
                if h.is_transactional() {
                    self.replay_txn_batch(&mut groups, p.index, h, &batch);
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
            *p = partitions;
        }
    }

    fn offsets_partition(&self, group_id: &str) -> Option<Arc<Partition>> {
        let parts = self.partitions.read().ok()?;
        if parts.is_empty() {
            return None;
        }
        let idx = store::partition_for(group_id, parts.len() as i32);
        parts.get(idx as usize).cloned()
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
        let Some(p) = self.offsets_partition(group_id) else {
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
                Err(crate::connection::storage_error_code(&e))
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

    // ---- JoinGroup ------------------------------------------------------

    pub fn join(&self, a: JoinArgs, now: i64) -> (Reply<JoinGroupResponse>, Durable) {
        if a.group_id.is_empty() {
            return (
                Reply::Now(join_error(&a.member_id, ErrorCode::InvalidGroupId)),
                None,
            );
        }
        if a.session_timeout_ms < self.config.min_session_timeout_ms
            || a.session_timeout_ms > self.config.max_session_timeout_ms
        {
            return (
                Reply::Now(join_error(&a.member_id, ErrorCode::InvalidSessionTimeout)),
                None,
            );
        }
        // A consumer (KIP-848) group with members cannot be joined here.
        if let Some(code) = self.consumer_blocks_classic_join(&a.group_id, now) {
            return (Reply::Now(join_error(&a.member_id, code)), None);
        }
        let Ok(mut groups) = self.groups.lock() else {
            return (
                Reply::Now(join_error(&a.member_id, ErrorCode::CoordinatorNotAvailable)),
                None,
            );
        };
        let unknown = a.member_id.is_empty();
        if !groups.contains_key(&a.group_id) {
            if !unknown {
                return (
                    Reply::Now(join_error(&a.member_id, ErrorCode::UnknownMemberId)),
                    None,
                );
            }
            groups.insert(a.group_id.clone(), Group::new(&a.group_id, now));
        }
        let Some(g) = groups.get_mut(&a.group_id) else {
            return (
                Reply::Now(join_error(&a.member_id, ErrorCode::UnknownServerError)),
                None,
            );
        };
        let (group_id, member_id) = (a.group_id.clone(), a.member_id.clone());
        let state_before = g.state;
        let reply = if unknown {
            self.new_member_join(g, a, now)
        } else {
            self.current_member_join(g, a, now)
        };
        match &reply.0 {
            Reply::Now(r) => {
                tracing::debug!(group = %group_id, member = %member_id, state = state_before.name(), error = r.error_code, new_id = %r.member_id, "JoinGroup answered")
            }
            Reply::Wait(_) => {
                tracing::debug!(group = %group_id, member = %member_id, state = state_before.name(), "JoinGroup held")
            }
        }
        let durable = self.after_event(g, now);
        (reply.0, durable.or(reply.1))
    }

    fn new_member_join(
        &self,
        g: &mut Group,
        a: JoinArgs,
        now: i64,
    ) -> (Reply<JoinGroupResponse>, Durable) {
        if g.state == GroupState::Dead {
            return (
                Reply::Now(join_error("", ErrorCode::CoordinatorNotAvailable)),
                None,
            );
        }
        if !g.supports_protocols(&a.protocol_type, &a.protocols) {
            return (
                Reply::Now(join_error("", ErrorCode::InconsistentGroupProtocol)),
                None,
            );
        }
        let prefix = a.group_instance_id.as_deref().unwrap_or(&a.client_id);
        let new_id = format!("{prefix}-{}", random_member_suffix());
        match a.group_instance_id.clone() {
            Some(instance) => match g.static_members.get(&instance).cloned() {
                Some(old_id) => self.update_static_member(g, a, &old_id, new_id, now),
                None => (
                    Reply::Wait(self.add_member_and_rebalance(g, a, new_id, now)),
                    None,
                ),
            },
            None if a.require_known_member_id => {
                g.pending_members
                    .insert(new_id.clone(), now + i64::from(a.session_timeout_ms));
                (
                    Reply::Now(join_error(&new_id, ErrorCode::MemberIdRequired)),
                    None,
                )
            }
            None => (
                Reply::Wait(self.add_member_and_rebalance(g, a, new_id, now)),
                None,
            ),
        }
    }

    fn update_static_member(
        &self,
        g: &mut Group,
        a: JoinArgs,
        old_id: &str,
        new_id: String,
        now: i64,
    ) -> (Reply<JoinGroupResponse>, Durable) {
        let current_leader = g.leader.clone().unwrap_or_default();
        let Some(pos) = g.members.iter().position(|m| m.id == old_id) else {
            return (
                Reply::Wait(self.add_member_and_rebalance(g, a, new_id, now)),
                None,
            );
        };
        let (tx, rx) = oneshot::channel();
        {
            let m = &mut g.members[pos];
            // The old instance is fenced: answer whatever it waits for.
            if let Some(w) = m.join_waiter.take() {
                let _ = w.send(join_error(old_id, ErrorCode::FencedInstanceId));
            }
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.send(sync_error(ErrorCode::FencedInstanceId));
            }
            m.id = new_id.clone();
            m.protocols = a.protocols.clone();
            m.rebalance_timeout_ms = a.rebalance_timeout_ms;
            m.session_timeout_ms = a.session_timeout_ms;
            m.client_id = a.client_id.clone();
            m.client_host = a.client_host.clone();
            m.last_heartbeat = now;
            m.join_waiter = Some(tx);
        }
        if let Some(i) = &a.group_instance_id {
            g.static_members.insert(i.clone(), new_id.clone());
        }
        if g.leader.as_deref() == Some(old_id) {
            g.leader = Some(new_id.clone());
        }
        if g.pending_sync.remove(old_id) {
            g.pending_sync.insert(new_id.clone());
        }
        match g.state {
            GroupState::Stable => {
                if g.select_protocol().is_some() && g.protocol == g.select_protocol() {
                    let durable = self.store_group(g, now);
                    let is_leader = g.is_leader(&new_id);
                    let mut resp;
                    if is_leader && a.supports_skip_assignment {
                        resp = g.join_response(&new_id, true);
                        resp.skip_assignment = true;
                    } else {
                        resp = g.join_response(&new_id, false);
                        resp.leader = current_leader;
                    }
                    if let Some(m) = g.member_mut(&new_id) {
                        m.join_waiter = None;
                    }
                    (Reply::Now(resp), durable)
                } else {
                    self.maybe_prepare_rebalance(g, now);
                    (Reply::Wait(rx), None)
                }
            }
            GroupState::CompletingRebalance => {
                self.prepare_rebalance(g, now);
                (Reply::Wait(rx), None)
            }
            _ => (Reply::Wait(rx), None),
        }
    }

    fn add_member_and_rebalance(
        &self,
        g: &mut Group,
        a: JoinArgs,
        id: String,
        now: i64,
    ) -> oneshot::Receiver<JoinGroupResponse> {
        let (tx, rx) = oneshot::channel();
        if g.state == GroupState::PreparingRebalance && g.generation == 0 {
            g.new_member_added = true;
        }
        g.add_member(Member {
            id,
            instance_id: a.group_instance_id,
            client_id: a.client_id,
            client_host: a.client_host,
            rebalance_timeout_ms: a.rebalance_timeout_ms,
            session_timeout_ms: a.session_timeout_ms,
            protocol_type: a.protocol_type,
            protocols: a.protocols,
            assignment: Bytes::new(),
            join_waiter: Some(tx),
            sync_waiter: None,
            last_heartbeat: now,
            is_new: true,
        });
        self.maybe_prepare_rebalance(g, now);
        rx
    }

    fn current_member_join(
        &self,
        g: &mut Group,
        a: JoinArgs,
        now: i64,
    ) -> (Reply<JoinGroupResponse>, Durable) {
        let id = a.member_id.clone();
        let now_reply = |code| (Reply::Now(join_error(&id, code)), None);
        if g.state == GroupState::Dead {
            return now_reply(ErrorCode::CoordinatorNotAvailable);
        }
        if !g.supports_protocols(&a.protocol_type, &a.protocols) {
            return now_reply(ErrorCode::InconsistentGroupProtocol);
        }
        if g.pending_members.contains_key(&id) {
            return (
                Reply::Wait(self.add_member_and_rebalance(g, a, id.clone(), now)),
                None,
            );
        }
        let instance_not_found = a
            .group_instance_id
            .as_ref()
            .is_some_and(|i| !g.static_members.contains_key(i));
        if g.is_static_member_fenced(a.group_instance_id.as_deref(), &id) {
            return now_reply(ErrorCode::FencedInstanceId);
        }
        if !g.has(&id) || instance_not_found {
            return now_reply(ErrorCode::UnknownMemberId);
        }
        match g.state {
            GroupState::PreparingRebalance => (Reply::Wait(self.update_member(g, a, now)), None),
            GroupState::CompletingRebalance => {
                let matches = g.member(&id).is_some_and(|m| m.matches(&a.protocols));
                if matches {
                    let leader = g.is_leader(&id);
                    (Reply::Now(g.join_response(&id, leader)), None)
                } else {
                    (Reply::Wait(self.update_member(g, a, now)), None)
                }
            }
            GroupState::Stable => {
                let matches = g.member(&id).is_some_and(|m| m.matches(&a.protocols));
                if g.is_leader(&id) || !matches {
                    (Reply::Wait(self.update_member(g, a, now)), None)
                } else {
                    (Reply::Now(g.join_response(&id, false)), None)
                }
            }
            GroupState::Empty | GroupState::Dead => now_reply(ErrorCode::UnknownMemberId),
        }
    }

    fn update_member(
        &self,
        g: &mut Group,
        a: JoinArgs,
        now: i64,
    ) -> oneshot::Receiver<JoinGroupResponse> {
        let (tx, rx) = oneshot::channel();
        if let Some(m) = g.member_mut(&a.member_id) {
            m.protocols = a.protocols;
            m.rebalance_timeout_ms = a.rebalance_timeout_ms;
            m.session_timeout_ms = a.session_timeout_ms;
            m.last_heartbeat = now;
            // A retried JoinGroup replaces the one it retries.
            m.join_waiter = Some(tx);
        }
        self.maybe_prepare_rebalance(g, now);
        rx
    }

    fn maybe_prepare_rebalance(&self, g: &mut Group, now: i64) {
        if matches!(
            g.state,
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty
        ) {
            self.prepare_rebalance(g, now);
        }
    }

    fn prepare_rebalance(&self, g: &mut Group, now: i64) {
        if g.state == GroupState::CompletingRebalance {
            // Members waiting for their assignment must rejoin.
            for m in g.members.iter_mut() {
                m.assignment = Bytes::new();
                if let Some(w) = m.sync_waiter.take() {
                    let _ = w.send(sync_error(ErrorCode::RebalanceInProgress));
                }
            }
        }
        g.sync_deadline = None;
        g.storing_assignment = None;
        let timeout = g.rebalance_timeout();
        if g.state == GroupState::Empty {
            let delay = self.config.initial_rebalance_delay_ms.min(timeout);
            g.join_deadline = Some(now + delay);
            g.initial_delay_remaining = Some((timeout - delay).max(0));
            g.new_member_added = false;
        } else {
            g.join_deadline = Some(now + timeout);
            g.initial_delay_remaining = None;
        }
        g.transition(GroupState::PreparingRebalance, now);
        tracing::info!(group = %g.id, generation = g.generation, "preparing to rebalance");
    }

    /// Completes the join round if it can complete now (all members
    /// rejoined, or, for the initial delayed join, its delay is 0).
    fn after_event(&self, g: &mut Group, now: i64) -> Durable {
        if g.state != GroupState::PreparingRebalance {
            return None;
        }
        let initial = g.initial_delay_remaining.is_some();
        let due = g.join_deadline.is_some_and(|d| d <= now);
        if (!initial && g.has_all_members_joined()) || due {
            return self.complete_join_or_extend(g, now);
        }
        None
    }

    fn complete_join_or_extend(&self, g: &mut Group, now: i64) -> Durable {
        if let Some(remaining) = g.initial_delay_remaining {
            // InitialDelayedJoin: wait longer while new members keep coming.
            if g.new_member_added && remaining > 0 {
                let delay = self.config.initial_rebalance_delay_ms.min(remaining);
                g.new_member_added = false;
                g.join_deadline = Some(now + delay);
                g.initial_delay_remaining = Some((remaining - delay).max(0));
                return None;
            }
            g.initial_delay_remaining = None;
        }
        self.complete_join(g, now)
    }

    fn complete_join(&self, g: &mut Group, now: i64) -> Durable {
        // Dynamic members that did not rejoin are removed.
        let gone: Vec<String> = g
            .members
            .iter()
            .filter(|m| m.join_waiter.is_none() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            tracing::info!(group = %g.id, member = %id, "member did not rejoin in time; removed");
            g.remove_member(&id);
        }
        // Elect a leader among those who rejoined if the old one did not.
        let leader_joined = g
            .leader
            .as_deref()
            .and_then(|l| g.member(l))
            .is_some_and(|m| m.join_waiter.is_some());
        if !leader_joined {
            match g.members.iter().find(|m| m.join_waiter.is_some()) {
                Some(m) => g.leader = Some(m.id.clone()),
                None if !g.members.is_empty() => {
                    // Nobody rejoined (static members only): wait another round.
                    g.join_deadline = Some(now + g.rebalance_timeout());
                    return None;
                }
                None => {}
            }
        }
        g.join_deadline = None;
        g.pending_sync.clear();
        g.generation += 1;
        if g.members.is_empty() {
            g.protocol = None;
            g.leader = None;
            g.transition(GroupState::Empty, now);
            tracing::info!(group = %g.id, generation = g.generation, "group is now empty");
            return self.store_group(g, now);
        }
        g.protocol = g.select_protocol();
        g.transition(GroupState::CompletingRebalance, now);
        tracing::info!(group = %g.id, generation = g.generation, members = g.members.len(), protocol = ?g.protocol, "stabilized group");
        let responses: Vec<(String, JoinGroupResponse)> = g
            .members
            .iter()
            .map(|m| (m.id.clone(), g.join_response(&m.id, g.is_leader(&m.id))))
            .collect();
        for (id, resp) in responses {
            if let Some(m) = g.member_mut(&id) {
                if let Some(w) = m.join_waiter.take() {
                    let _ = w.send(resp);
                }
                m.last_heartbeat = now;
                m.is_new = false;
            }
            g.pending_sync.insert(id);
        }
        g.sync_deadline = Some(now + g.rebalance_timeout());
        None
    }

    /// Removes a member and moves the group on (Kafka's
    /// `removeMemberAndUpdateGroup`).
    fn remove_member_and_update(&self, g: &mut Group, id: &str, now: i64) -> Durable {
        if let Some(m) = g.member_mut(id) {
            if let Some(w) = m.join_waiter.take() {
                let _ = w.send(join_error(id, ErrorCode::UnknownMemberId));
            }
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.send(sync_error(ErrorCode::UnknownMemberId));
            }
        }
        g.remove_member(id);
        match g.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(g, now);
                self.after_event(g, now)
            }
            GroupState::PreparingRebalance => self.after_event(g, now),
            _ => None,
        }
    }

    // ---- SyncGroup ------------------------------------------------------

    pub fn sync(&self, a: SyncArgs, now: i64) -> (Reply<SyncGroupResponse>, Durable) {
        let now_err = |code| (Reply::Now(sync_error(code)), None);
        if a.group_id.is_empty() {
            return now_err(ErrorCode::InvalidGroupId);
        }
        let Ok(mut groups) = self.groups.lock() else {
            return now_err(ErrorCode::CoordinatorNotAvailable);
        };
        let Some(g) = groups.get_mut(&a.group_id) else {
            return now_err(ErrorCode::UnknownMemberId);
        };
        if g.state == GroupState::Dead {
            return now_err(ErrorCode::CoordinatorNotAvailable);
        }
        if g.is_static_member_fenced(a.group_instance_id.as_deref(), &a.member_id) {
            return now_err(ErrorCode::FencedInstanceId);
        }
        if !g.has(&a.member_id) {
            return now_err(ErrorCode::UnknownMemberId);
        }
        if a.generation_id != g.generation {
            return now_err(ErrorCode::IllegalGeneration);
        }
        if a.protocol_type.is_some() && a.protocol_type != g.protocol_type {
            return now_err(ErrorCode::InconsistentGroupProtocol);
        }
        if a.protocol_name.is_some() && a.protocol_name != g.protocol {
            return now_err(ErrorCode::InconsistentGroupProtocol);
        }
        match g.state {
            GroupState::Empty | GroupState::Dead => now_err(ErrorCode::UnknownMemberId),
            GroupState::PreparingRebalance => now_err(ErrorCode::RebalanceInProgress),
            GroupState::Stable => {
                g.pending_sync.remove(&a.member_id);
                let resp = SyncGroupResponse {
                    error_code: ErrorCode::None.code(),
                    protocol_type: g.protocol_type.clone(),
                    protocol_name: g.protocol.clone(),
                    assignment: Bytes::new(),
                    ..Default::default()
                };
                let m = g.member_mut(&a.member_id);
                let assignment = m.map(|m| {
                    m.last_heartbeat = now;
                    m.assignment.clone()
                });
                (
                    Reply::Now(SyncGroupResponse {
                        assignment: assignment.unwrap_or_default(),
                        ..resp
                    }),
                    None,
                )
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = g.member_mut(&a.member_id) {
                    m.sync_waiter = Some(tx);
                }
                g.pending_sync.remove(&a.member_id);
                if !g.is_leader(&a.member_id) || g.storing_assignment == Some(g.generation) {
                    return (Reply::Wait(rx), None);
                }
                let assignments: HashMap<String, Bytes> = a.assignments.into_iter().collect();
                for m in g.members.iter_mut() {
                    m.assignment = assignments.get(&m.id).cloned().unwrap_or_default();
                }
                // As Kafka: the group stays CompletingRebalance until the
                // assignment is stored, then every member is answered
                // together (assignment_stored).
                let recs = [(
                    store::group_key(&g.id),
                    Some(store::group_value(g.record())),
                )];
                match self.append(&g.id, &recs, now) {
                    Ok(None) => {
                        // Memory only (no offsets topic): nothing to wait for.
                        Self::assignment_complete(g, now);
                        (Reply::Wait(rx), None)
                    }
                    Ok(durable) => {
                        g.storing_assignment = Some(g.generation);
                        (Reply::Wait(rx), durable)
                    }
                    Err(code) => {
                        self.assignment_failed(g, code, now);
                        (Reply::Wait(rx), None)
                    }
                }
            }
        }
    }

    /// Called once the leader's SyncGroup record of `generation` is durable
    /// (`result` None) or failed to be: moves the group to Stable and
    /// answers every waiting member with its assignment, or answers all of
    /// them with the error and starts a new rebalance, as Kafka does.
    pub fn assignment_stored(&self, group_id: &str, generation: i32, result: ErrorCode, now: i64) {
        let Ok(mut groups) = self.groups.lock() else {
            return;
        };
        let Some(g) = groups.get_mut(group_id) else {
            return;
        };
        if g.storing_assignment != Some(generation) {
            return;
        }
        g.storing_assignment = None;
        if g.state != GroupState::CompletingRebalance || g.generation != generation {
            return;
        }
        if result != ErrorCode::None {
            self.assignment_failed(g, result, now);
            return;
        }
        Self::assignment_complete(g, now);
    }

    /// The assignment is stored: Stable, and every waiting member answered.
    fn assignment_complete(g: &mut Group, now: i64) {
        g.transition(GroupState::Stable, now);
        g.sync_deadline = if g.pending_sync.is_empty() {
            None
        } else {
            g.sync_deadline
        };
        let protocol_type = g.protocol_type.clone();
        let protocol = g.protocol.clone();
        for m in g.members.iter_mut() {
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.send(SyncGroupResponse {
                    error_code: ErrorCode::None.code(),
                    protocol_type: protocol_type.clone(),
                    protocol_name: protocol.clone(),
                    assignment: m.assignment.clone(),
                    ..Default::default()
                });
                m.last_heartbeat = now;
            }
        }
    }

    /// The assignment could not be stored: every waiting member gets the
    /// error (as Kafka maps a storage failure: NOT_COORDINATOR, which
    /// clients retry after finding the coordinator again) and the group
    /// rebalances.
    fn assignment_failed(&self, g: &mut Group, code: ErrorCode, now: i64) {
        let code = match code {
            ErrorCode::KafkaStorageError | ErrorCode::NotLeaderOrFollower => {
                ErrorCode::NotCoordinator
            }
            ErrorCode::UnknownTopicOrPartition | ErrorCode::NotEnoughReplicas => {
                ErrorCode::CoordinatorNotAvailable
            }
            ErrorCode::MessageTooLarge | ErrorCode::RecordListTooLarge => {
                ErrorCode::UnknownServerError
            }
            other => other,
        };
        tracing::warn!(group = %g.id, generation = g.generation, error = %code, "storing the group assignment failed");
        for m in g.members.iter_mut() {
            m.assignment = Bytes::new();
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.send(sync_error(code));
            }
        }
        self.maybe_prepare_rebalance(g, now);
    }

    // ---- Heartbeat ------------------------------------------------------

    pub fn heartbeat(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        now: i64,
    ) -> ErrorCode {
        if group_id.is_empty() {
            return ErrorCode::InvalidGroupId;
        }
        let Ok(mut groups) = self.groups.lock() else {
            return ErrorCode::CoordinatorNotAvailable;
        };
        let Some(g) = groups.get_mut(group_id) else {
            return ErrorCode::UnknownMemberId;
        };
        if g.state == GroupState::Dead {
            return ErrorCode::CoordinatorNotAvailable;
        }
        if g.is_static_member_fenced(instance_id, member_id) {
            return ErrorCode::FencedInstanceId;
        }
        if !g.has(member_id) {
            return ErrorCode::UnknownMemberId;
        }
        if generation != g.generation {
            return ErrorCode::IllegalGeneration;
        }
        let state = g.state;
        if state != GroupState::Stable {
            tracing::debug!(group = %group_id, member = %member_id, state = state.name(), "Heartbeat outside Stable");
        }
        if let Some(m) = g.member_mut(member_id) {
            if state != GroupState::Empty {
                m.last_heartbeat = now;
            }
        }
        match state {
            GroupState::Empty | GroupState::Dead => ErrorCode::UnknownMemberId,
            GroupState::CompletingRebalance | GroupState::Stable => ErrorCode::None,
            GroupState::PreparingRebalance => ErrorCode::RebalanceInProgress,
        }
    }

    // ---- LeaveGroup -----------------------------------------------------

    /// Returns the top-level error and one error per leaving member.
    pub fn leave(
        &self,
        group_id: &str,
        leaving: &[(String, Option<String>)],
        now: i64,
    ) -> (ErrorCode, Vec<ErrorCode>, Durable) {
        let Ok(mut groups) = self.groups.lock() else {
            return (ErrorCode::CoordinatorNotAvailable, Vec::new(), None);
        };
        let Some(g) = groups.get_mut(group_id) else {
            return (
                ErrorCode::None,
                leaving.iter().map(|_| ErrorCode::UnknownMemberId).collect(),
                None,
            );
        };
        if g.state == GroupState::Dead {
            return (ErrorCode::CoordinatorNotAvailable, Vec::new(), None);
        }
        let mut errors = Vec::with_capacity(leaving.len());
        let mut durable = None;
        for (member_id, instance_id) in leaving {
            let err = if member_id.is_empty() {
                match instance_id
                    .as_ref()
                    .and_then(|i| g.static_members.get(i))
                    .cloned()
                {
                    Some(current) => {
                        tracing::info!(group = %g.id, member = %current, "static member removed by LeaveGroup");
                        durable = self.remove_member_and_update(g, &current, now).or(durable);
                        ErrorCode::None
                    }
                    None => ErrorCode::UnknownMemberId,
                }
            } else if g.pending_members.remove(member_id).is_some() {
                durable = self.after_event(g, now).or(durable);
                ErrorCode::None
            } else if g.is_static_member_fenced(instance_id.as_deref(), member_id) {
                ErrorCode::FencedInstanceId
            } else if g.has(member_id) {
                tracing::info!(group = %g.id, member = %member_id, "member left the group");
                durable = self.remove_member_and_update(g, member_id, now).or(durable);
                ErrorCode::None
            } else {
                ErrorCode::UnknownMemberId
            };
            errors.push(err);
        }
        (ErrorCode::None, errors, durable)
    }

    // ---- Offsets --------------------------------------------------------

    /// Validates and stores a commit; one error per entry of `offsets`.
    pub fn commit_offsets(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        offsets: &[OffsetToCommit],
        now: i64,
    ) -> (Vec<ErrorCode>, Durable) {
        let all = |code| (offsets.iter().map(|_| code).collect::<Vec<_>>(), None);
        // Consumer (KIP-848) groups check the member epoch instead.
        let consumer = match self.consumer_commit_check(group_id, member_id, generation) {
            consumer::CommitCheck::Reject(code) => return all(code),
            check => check == consumer::CommitCheck::Accept,
        };
        let Ok(mut groups) = self.groups.lock() else {
            return all(ErrorCode::CoordinatorNotAvailable);
        };
        if !groups.contains_key(group_id) {
            if generation < 0 || consumer {
                // A "simple" consumer that does not use group management.
                groups.insert(group_id.to_string(), Group::new(group_id, now));
            } else {
                return all(ErrorCode::IllegalGeneration);
            }
        }
        let Some(g) = groups.get_mut(group_id) else {
            return all(ErrorCode::UnknownServerError);
        };
        let validation = if g.state == GroupState::Dead {
            Some(ErrorCode::CoordinatorNotAvailable)
        } else if consumer {
            None
        } else if generation >= 0 || !member_id.is_empty() || instance_id.is_some() {
            if g.is_static_member_fenced(instance_id, member_id) {
                Some(ErrorCode::FencedInstanceId)
            } else if !g.has(member_id) {
                Some(ErrorCode::UnknownMemberId)
            } else if generation != g.generation {
                Some(ErrorCode::IllegalGeneration)
            } else {
                None
            }
        } else if g.state != GroupState::Empty {
            Some(ErrorCode::UnknownMemberId)
        } else {
            None
        };
        if let Some(code) = validation {
            return all(code);
        }
        match g.state {
            GroupState::CompletingRebalance => return all(ErrorCode::RebalanceInProgress),
            GroupState::Stable | GroupState::PreparingRebalance => {
                if let Some(m) = g.member_mut(member_id) {
                    m.last_heartbeat = now;
                }
            }
            _ => {}
        }
        let mut errors = Vec::with_capacity(offsets.len());
        let mut records = Vec::new();
        let mut accepted = Vec::new();
        for o in offsets {
            let meta = o.metadata.clone().unwrap_or_default();
            if meta.len() > self.config.offset_metadata_max_bytes {
                errors.push(ErrorCode::OffsetMetadataTooLarge);
                continue;
            }
            errors.push(ErrorCode::None);
            records.push((
                store::offset_key(group_id, &o.topic, o.partition),
                Some(store::offset_value(o.offset, o.leader_epoch, &meta, now)),
            ));
            accepted.push((
                (o.topic.clone(), o.partition),
                CommittedOffset {
                    offset: o.offset,
                    leader_epoch: o.leader_epoch,
                    metadata: meta,
                    commit_timestamp: now,
                },
            ));
        }
        match self.append(group_id, &records, now) {
            Ok(durable) => {
                g.offsets.extend(accepted);
                (errors, durable)
            }
            Err(code) => {
                for e in errors.iter_mut() {
                    if *e == ErrorCode::None {
                        *e = code;
                    }
                }
                (errors, None)
            }
        }
    }

    /// Committed offsets of a group: all (`None`) or the given partitions.
    /// `Err` for a group being deleted.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<&[(String, Vec<i32>)]>,
    ) -> Result<TopicOffsets, ErrorCode> {
        let groups = self
            .groups
            .lock()
            .map_err(|_| ErrorCode::CoordinatorNotAvailable)?;
        let g = groups.get(group_id).filter(|g| g.state != GroupState::Dead);
        match partitions {
            Some(req) => Ok(req
                .iter()
                .map(|(t, ps)| {
                    let parts = ps
                        .iter()
                        .map(|p| {
                            let o = g.and_then(|g| g.offsets.get(&(t.clone(), *p)).cloned());
                            (*p, o)
                        })
                        .collect();
                    (t.clone(), parts)
                })
                .collect()),
            None => {
                let mut out: TopicOffsets = Vec::new();
                if let Some(g) = g {
                    for ((t, p), o) in &g.offsets {
                        match out.last_mut() {
                            Some((lt, v)) if lt == t => v.push((*p, Some(o.clone()))),
                            _ => out.push((t.clone(), vec![(*p, Some(o.clone()))])),
                        }
                    }
                }
                Ok(out)
            }
        }
    }

    /// OffsetDelete: top-level error, or one error per partition.
    pub fn delete_offsets(
        &self,
        group_id: &str,
        partitions: &[(String, i32)],
        now: i64,
    ) -> (ErrorCode, Vec<ErrorCode>, Durable) {
        let consumer_topics = self.consumer_subscribed_topics(group_id);
        let Ok(mut groups) = self.groups.lock() else {
            return (ErrorCode::CoordinatorNotAvailable, Vec::new(), None);
        };
        let Some(g) = groups.get_mut(group_id) else {
            return (ErrorCode::GroupIdNotFound, Vec::new(), None);
        };
        let subscribed = match g.state {
            GroupState::Dead => return (ErrorCode::GroupIdNotFound, Vec::new(), None),
            // A consumer (KIP-848) group with members keeps its offsets here.
            GroupState::Empty => consumer_topics.map(Some),
            _ if g.protocol_type.as_deref() == Some("consumer") => Some(g.subscribed_topics()),
            _ => return (ErrorCode::NonEmptyGroup, Vec::new(), None),
        };
        let mut errors = Vec::with_capacity(partitions.len());
        let mut records = Vec::new();
        let mut removed = Vec::new();
        for (t, p) in partitions {
            let consumed = match &subscribed {
                None => false,
                Some(None) => true,
                Some(Some(topics)) => topics.contains(t),
            };
            if consumed {
                errors.push(ErrorCode::GroupSubscribedToTopic);
                continue;
            }
            errors.push(ErrorCode::None);
            if g.offsets.contains_key(&(t.clone(), *p)) {
                records.push((store::offset_key(group_id, t, *p), None));
                removed.push((t.clone(), *p));
            }
        }
        match self.append(group_id, &records, now) {
            Ok(durable) => {
                for k in removed {
                    g.offsets.remove(&k);
                }
                (ErrorCode::None, errors, durable)
            }
            Err(code) => (code, Vec::new(), None),
        }
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

    /// Expires offsets of Empty groups older than the retention, and
    /// removes groups left with nothing.
    fn expire_offsets(
        &self,
        groups: &mut HashMap<String, Group>,
        now: i64,
        consumer_active: &HashMap<String, HashSet<String>>,
        durables: &mut Vec<Durable>,
    ) {
        let mut gone = Vec::new();
        for g in groups.values_mut() {
            // Empty groups: everything ages from the later of the commit and
            // the group becoming Empty. Active consumer groups: offsets of
            // topics no member subscribes to age from their commit.
            let (base_state, subscribed) = match g.state {
                GroupState::Empty => match consumer_active.get(&g.id) {
                    Some(topics) => (0, Some(topics.clone())),
                    None => (g.state_timestamp, None),
                },
                GroupState::Dead => continue,
                _ => match g.subscribed_topics() {
                    Some(topics) => (0, Some(topics)),
                    None => continue,
                },
            };
            let old: Vec<(String, i32)> = g
                .offsets
                .iter()
                .filter(|((t, _), _)| !matches!(&subscribed, Some(s) if s.contains(t)))
                .filter(|(_, o)| {
                    o.commit_timestamp.max(base_state) + self.config.offsets_retention_ms <= now
                })
                .map(|(k, _)| k.clone())
                .collect();
            let mut records: Vec<(Bytes, Option<Bytes>)> = old
                .iter()
                .map(|(t, p)| (store::offset_key(&g.id, t, *p), None))
                .collect();
            let empty_after = g.state == GroupState::Empty && g.offsets.len() == old.len();
            if empty_after {
                records.push((store::group_key(&g.id), None));
            }
            if records.is_empty() {
                continue;
            }
            if let Ok(d) = self.append(&g.id, &records, now) {
                durables.push(d);
                for k in &old {
                    g.offsets.remove(k);
                }
                if !old.is_empty() {
                    tracing::info!(group = %g.id, offsets = old.len(), "expired committed offsets");
                }
                if empty_after {
                    g.transition(GroupState::Dead, now);
                    gone.push(g.id.clone());
                }
            }
        }
        for id in gone {
            groups.remove(&id);
        }
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

/// Syncs appended coordinator records (per the partition's flush policy)
/// and advances the high watermark.
pub async fn wait_durable(state: &Arc<crate::state::BrokerState>, d: Durable) -> ErrorCode {
    let Some((p, next)) = d else {
        return ErrorCode::None;
    };
    let st = state.clone();
    let res =
        tokio::task::spawn_blocking(move || crate::handlers::produce::make_visible(&st, &p, next))
            .await;
    match res {
        Ok(Ok(())) => ErrorCode::None,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "syncing __consumer_offsets failed");
            crate::connection::storage_error_code(&e)
        }
        Err(_) => ErrorCode::UnknownServerError,
    }
}

/// Runs the coordinator's timers ([`GroupCoordinator::tick`]) and makes
/// every record they appended durable, under the high watermark, before
/// returning. Blocking (appends and fsync): run it off the async workers.
pub fn tick_durably(state: &crate::state::BrokerState, now: i64) {
    let mut upto: HashMap<(String, i32), (Arc<Partition>, i64)> = HashMap::new();
    for (p, next) in state.groups.tick(now).into_iter().flatten() {
        let e = upto
            .entry((p.topic.clone(), p.index))
            .or_insert_with(|| (p.clone(), next));
        e.1 = e.1.max(next);
    }
    for (p, next) in upto.into_values() {
        if let Err(e) = crate::handlers::produce::make_visible(state, &p, next) {
            tracing::error!(partition = p.index, error = %e, "syncing group coordinator records failed");
        }
    }
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
