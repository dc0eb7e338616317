//! Consumer groups of the new rebalance protocol (KIP-848): membership,
//! server-side assignment and reconciliation driven by
//! ConsumerGroupHeartbeat, described by ConsumerGroupDescribe.
//!
//! A group has a *group epoch*, bumped whenever what the assignment depends
//! on changes (a member joins or leaves, a subscription changes, a
//! subscribed topic gains partitions). When the group epoch passes the
//! *assignment epoch*, the group's assignor (`uniform` unless the members
//! ask for `range`) computes a new *target assignment* and the assignment
//! epoch catches up. Each member then moves from its current assignment to
//! its target one heartbeat at a time (see [`reconcile`]): it gives up
//! partitions first, and receives a partition only once no other member
//! owns it, so a partition never has two owners.
//!
//! Timers are deadlines checked on the coordinator's tick: a member that
//! does not heartbeat within `group.consumer.session.timeout.ms` is
//! removed, and so is one that holds partitions it must revoke for longer
//! than its rebalance timeout.
//!
//! Durability: every change is appended to the group's `__consumer_offsets`
//! partition in Kafka's ConsumerGroup* record schemas while the group lock
//! is held (see [`records`]), the heartbeat is answered once they are
//! synced, and the records are replayed at start, so members keep their
//! epochs and assignments across a restart.
//!
//! A group id is a classic group or a consumer group, never both with
//! members: a ConsumerGroupHeartbeat to a classic group with members gets
//! GROUP_ID_NOT_FOUND ("not a consumer group", as Kafka answers), a classic
//! JoinGroup to a consumer group with members INCONSISTENT_GROUP_PROTOCOL;
//! an empty group of the other type is converted. Committed offsets stay
//! in the classic coordinator's table, keyed by group id, whatever the
//! type.

pub mod assignor;
pub mod reconcile;
pub mod records;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

use bytes::{BufMut, Bytes, BytesMut};
use fjord_protocol::messages::{
    consumer_group_describe_response as cgd, describe_groups_response as dg,
    ConsumerProtocolAssignment, ConsumerProtocolSubscription,
};
use fjord_protocol::{Encode, ErrorCode, Uuid};

use self::reconcile::{Assignment, MemberState, Reconciled};
use self::records::{MemberMeta, Record};
use super::{Durable, GroupCoordinator};

/// Kafka's `group.consumer.session.timeout.ms` default.
pub const DEFAULT_SESSION_TIMEOUT_MS: i32 = 45_000;
/// Kafka's `group.consumer.heartbeat.interval.ms` default.
pub const DEFAULT_HEARTBEAT_INTERVAL_MS: i32 = 5_000;
/// Epoch of a member leaving the group.
pub const LEAVE_EPOCH: i32 = -1;
/// Epoch of a static member leaving for a while (it keeps its partitions
/// until its session times out).
pub const LEAVE_STATIC_EPOCH: i32 = -2;
/// Kafka's INVALID_REGULAR_EXPRESSION (newer than fjord's error table).
pub const INVALID_REGULAR_EXPRESSION: i16 = 128;
/// How often empty consumer groups without offsets are cleaned up.
const CLEANUP_INTERVAL_MS: i64 = 600_000;

/// The `group.consumer.*` broker settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerGroupConfig {
    /// `group.consumer.session.timeout.ms`.
    pub session_timeout_ms: i32,
    /// `group.consumer.heartbeat.interval.ms`.
    pub heartbeat_interval_ms: i32,
    /// `group.consumer.assignors`: the first is the default.
    pub assignors: Vec<String>,
    /// `group.consumer.max.size`.
    pub max_size: usize,
}

impl Default for ConsumerGroupConfig {
    fn default() -> Self {
        ConsumerGroupConfig {
            session_timeout_ms: DEFAULT_SESSION_TIMEOUT_MS,
            heartbeat_interval_ms: DEFAULT_HEARTBEAT_INTERVAL_MS,
            assignors: assignor::ASSIGNORS.iter().map(|s| s.to_string()).collect(),
            max_size: i32::MAX as usize,
        }
    }
}

impl ConsumerGroupConfig {
    /// Applies one `group.consumer.*` setting; `Ok(false)` for names this
    /// does not know.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, String> {
        let int = |v: &str| -> Result<i64, String> {
            v.trim().parse::<i64>().map_err(|e| format!("{v:?}: {e}"))
        };
        match key {
            "group.consumer.session.timeout.ms" => {
                let n = int(value)?;
                if !(1..=i64::from(i32::MAX)).contains(&n) {
                    return Err(format!("{n} must be positive"));
                }
                self.session_timeout_ms = n as i32;
            }
            "group.consumer.heartbeat.interval.ms" => {
                let n = int(value)?;
                if !(1..=i64::from(i32::MAX)).contains(&n) {
                    return Err(format!("{n} must be positive"));
                }
                self.heartbeat_interval_ms = n as i32;
            }
            "group.consumer.max.size" => {
                let n = int(value)?;
                if n < 1 {
                    return Err(format!("{n} must be positive"));
                }
                self.max_size = n as usize;
            }
            "group.consumer.assignors" => {
                let mut names = Vec::new();
                for raw in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    // Kafka also accepts the assignor class names.
                    let name = match raw {
                        "org.apache.kafka.coordinator.group.assignor.UniformAssignor" => "uniform",
                        "org.apache.kafka.coordinator.group.assignor.RangeAssignor" => "range",
                        other => other,
                    };
                    if !assignor::ASSIGNORS.contains(&name) {
                        return Err(format!(
                            "unknown assignor {raw:?} (fjord has: uniform, range)"
                        ));
                    }
                    names.push(name.to_string());
                }
                if names.is_empty() {
                    return Err("at least one assignor is required".into());
                }
                self.assignors = names;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn default_assignor(&self) -> &str {
        self.assignors
            .first()
            .map(String::as_str)
            .unwrap_or(assignor::UNIFORM)
    }
}

/// A topic as the coordinator sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicInfo {
    pub name: String,
    pub id: Uuid,
    pub partitions: i32,
}

/// The broker's topics, as far as consumer groups need them.
pub trait Topics {
    fn by_name(&self, name: &str) -> Option<TopicInfo>;
    fn by_id(&self, id: &Uuid) -> Option<TopicInfo>;
    /// Names a subscription regex may match (no internal topics).
    fn names(&self) -> Vec<String>;
}

/// The fields of a ConsumerGroupHeartbeat request.
#[derive(Clone, Debug, Default)]
pub struct HeartbeatArgs {
    pub group_id: String,
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Option<Vec<String>>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    /// Owned partitions as reported; `None` when unchanged since the last
    /// heartbeat.
    pub owned: Option<Assignment>,
    pub client_id: String,
    pub client_host: String,
}

/// What a ConsumerGroupHeartbeat is answered with.
#[derive(Clone, Debug, PartialEq)]
pub struct HeartbeatResult {
    pub error_code: i16,
    pub error_message: Option<String>,
    pub member_id: Option<String>,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    pub assignment: Option<Assignment>,
}

impl HeartbeatResult {
    fn error(code: i16, message: String) -> HeartbeatResult {
        HeartbeatResult {
            error_code: code,
            error_message: Some(message),
            member_id: None,
            member_epoch: 0,
            heartbeat_interval_ms: 0,
            assignment: None,
        }
    }

    fn err(code: ErrorCode, message: String) -> HeartbeatResult {
        HeartbeatResult::error(code.code(), message)
    }
}

/// Kafka's `ConsumerGroupState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerGroupState {
    Empty,
    Assigning,
    Reconciling,
    Stable,
}

impl ConsumerGroupState {
    pub fn name(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
        }
    }
}

/// How an OffsetCommit relates to consumer groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitCheck {
    /// Not a consumer group: the classic rules apply.
    NotConsumer,
    /// A consumer group member (or an admin commit to an empty group) at
    /// the right epoch.
    Accept,
    Reject(ErrorCode),
}

/// A group as ListGroups shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ListedGroupInfo {
    pub group_id: String,
    pub protocol_type: String,
    pub state: String,
    pub group_type: &'static str,
}

struct Member {
    id: String,
    meta: MemberMeta,
    current: Reconciled,
    session_timeout_ms: i32,
    session_deadline: i64,
    /// Set while the member must revoke partitions.
    rebalance_deadline: Option<i64>,
    regex: Option<regex::Regex>,
}

impl Member {
    fn new(id: String, now: i64) -> Member {
        Member {
            id,
            meta: MemberMeta {
                rebalance_timeout_ms: -1,
                ..Default::default()
            },
            current: Reconciled::new_member(),
            session_timeout_ms: DEFAULT_SESSION_TIMEOUT_MS,
            session_deadline: now + i64::from(DEFAULT_SESSION_TIMEOUT_MS),
            rebalance_deadline: None,
            regex: None,
        }
    }

    /// Topic names the member subscribes to (explicitly or by regex).
    fn topic_names(&self, all: &dyn Fn() -> Vec<String>) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self.meta.subscribed_topic_names.iter().cloned().collect();
        if let Some(re) = &self.regex {
            out.extend(all().into_iter().filter(|n| re.is_match(n)));
        }
        out
    }
}

/// Compiles a subscription regex the way Kafka matches it: against the
/// whole topic name.
fn compile_regex(r: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(&format!("^(?:{r})$")).map_err(|e| e.to_string())
}

struct Group {
    id: String,
    epoch: i32,
    assignment_epoch: i32,
    members: BTreeMap<String, Member>,
    /// group.instance.id → member id.
    static_members: HashMap<String, String>,
    /// Member id → target assignment.
    target: BTreeMap<String, Assignment>,
    /// Subscribed topics that exist: name → (id, partitions).
    topics: BTreeMap<String, (Uuid, i32)>,
    /// Partition → the member that owns it (assigned or revoking).
    owners: HashMap<(Uuid, i32), String>,
}

impl Group {
    fn new(id: &str) -> Group {
        Group {
            id: id.to_string(),
            epoch: 0,
            assignment_epoch: 0,
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            target: BTreeMap::new(),
            topics: BTreeMap::new(),
            owners: HashMap::new(),
        }
    }

    fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.epoch > self.assignment_epoch {
            ConsumerGroupState::Assigning
        } else if self.members.values().any(|m| {
            m.current.state != MemberState::Stable
                || m.current.member_epoch != self.assignment_epoch
        }) {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    /// The assignor most members ask for, else the configured default.
    fn assignor(&self, cfg: &ConsumerGroupConfig) -> String {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = m.meta.server_assignor.as_deref() {
                *votes.entry(a).or_default() += 1;
            }
        }
        let mut best: Option<(&str, usize)> = None;
        for (name, n) in votes {
            let better = match best {
                Some((_, bn)) => n > bn,
                None => true,
            };
            if better {
                best = Some((name, n));
            }
        }
        best.map(|(n, _)| n.to_string())
            .unwrap_or_else(|| cfg.default_assignor().to_string())
    }

    fn topic_name(&self, id: &Uuid, topics: Option<&dyn Topics>) -> Option<String> {
        self.topics
            .iter()
            .find(|(_, (tid, _))| tid == id)
            .map(|(n, _)| n.clone())
            .or_else(|| topics.and_then(|t| t.by_id(id)).map(|t| t.name))
    }

    /// Replaces a member's current assignment, keeping `owners` in step.
    fn set_current(&mut self, member_id: &str, next: Reconciled) {
        let Some(m) = self.members.get_mut(member_id) else {
            return;
        };
        for (t, ps) in m
            .current
            .assigned
            .iter()
            .chain(&m.current.pending_revocation)
        {
            for p in ps {
                if self.owners.get(&(*t, *p)).map(String::as_str) == Some(member_id) {
                    self.owners.remove(&(*t, *p));
                }
            }
        }
        for (t, ps) in next.assigned.iter().chain(&next.pending_revocation) {
            for p in ps {
                self.owners.insert((*t, *p), member_id.to_string());
            }
        }
        m.current = next;
    }

    fn rebuild_owners(&mut self) {
        self.owners.clear();
        for m in self.members.values() {
            for (t, ps) in m
                .current
                .assigned
                .iter()
                .chain(&m.current.pending_revocation)
            {
                for p in ps {
                    self.owners.insert((*t, *p), m.id.clone());
                }
            }
        }
    }

    /// Removes a member: its partitions are free at once. Returns the
    /// records that say so.
    fn remove_member(&mut self, member_id: &str) -> Vec<(Bytes, Option<Bytes>)> {
        self.set_current(member_id, Reconciled::new_member());
        let Some(m) = self.members.remove(member_id) else {
            return Vec::new();
        };
        if let Some(i) = &m.meta.instance_id {
            if self.static_members.get(i).map(String::as_str) == Some(member_id) {
                self.static_members.remove(i);
            }
        }
        self.target.remove(member_id);
        vec![
            records::current_member(&self.id, member_id, None),
            records::target_member(&self.id, member_id, None),
            records::member_metadata(&self.id, member_id, None),
        ]
    }

    /// Subscribed topics that exist, from every member's subscription.
    fn resolve_topics(&self, topics: &dyn Topics) -> BTreeMap<String, (Uuid, i32)> {
        let mut names_cache: Option<Vec<String>> = None;
        let mut wanted = BTreeSet::new();
        for m in self.members.values() {
            wanted.extend(m.meta.subscribed_topic_names.iter().cloned());
            if let Some(re) = &m.regex {
                let all = names_cache.get_or_insert_with(|| topics.names());
                wanted.extend(all.iter().filter(|n| re.is_match(n)).cloned());
            }
        }
        wanted
            .into_iter()
            .filter_map(|n| topics.by_name(&n).map(|t| (n, (t.id, t.partitions))))
            .collect()
    }

    /// Computes a new target assignment at the group epoch; returns its
    /// records.
    fn compute_target(&mut self, cfg: &ConsumerGroupConfig) -> Vec<(Bytes, Option<Bytes>)> {
        let by_name = &self.topics;
        let known = || by_name.keys().cloned().collect::<Vec<_>>();
        let empty = Assignment::new();
        let specs: Vec<assignor::MemberSpec<'_>> = self
            .members
            .values()
            .map(|m| assignor::MemberSpec {
                id: &m.id,
                topics: m
                    .topic_names(&known)
                    .iter()
                    .filter_map(|n| by_name.get(n).map(|(id, _)| *id))
                    .collect(),
                previous: self.target.get(&m.id).unwrap_or(&empty),
            })
            .collect();
        let partitions: BTreeMap<Uuid, i32> = by_name.values().copied().collect();
        let name = self.assignor(cfg);
        let next = assignor::assign(&name, &specs, &partitions);
        let mut recs = Vec::new();
        for (id, a) in &next {
            if self.target.get(id) != Some(a) {
                recs.push(records::target_member(&self.id, id, Some(a)));
            }
        }
        self.target = next;
        self.assignment_epoch = self.epoch;
        recs.push(records::target_metadata(
            &self.id,
            Some(self.assignment_epoch),
        ));
        tracing::info!(group = %self.id, epoch = self.epoch, assignor = %name, members = self.members.len(), "computed target assignment");
        recs
    }

    /// Reconciles one member against the target; records if it changed.
    fn reconcile_member(
        &mut self,
        member_id: &str,
        owned: Option<&Assignment>,
        now: i64,
    ) -> Vec<(Bytes, Option<Bytes>)> {
        let Some(m) = self.members.get(member_id) else {
            return Vec::new();
        };
        if m.current.member_epoch < 0 {
            return Vec::new();
        }
        let empty = Assignment::new();
        let target = self.target.get(member_id).unwrap_or(&empty);
        let owners = &self.owners;
        let held = |t: &Uuid, p: i32| {
            owners
                .get(&(*t, p))
                .is_some_and(|o| o.as_str() != member_id)
        };
        let next = reconcile::reconcile(&m.current, self.assignment_epoch, target, owned, &held);
        if next == m.current {
            return Vec::new();
        }
        let was_revoking = m.current.state == MemberState::UnrevokedPartitions;
        let rebalance_ms = i64::from(m.meta.rebalance_timeout_ms.max(0));
        tracing::debug!(group = %self.id, member = member_id, from = m.current.state.name(), to = next.state.name(), epoch = next.member_epoch, "member reconciled");
        let rec = records::current_member(&self.id, member_id, Some(&next));
        let revoking = next.state == MemberState::UnrevokedPartitions;
        self.set_current(member_id, next);
        if let Some(m) = self.members.get_mut(member_id) {
            if revoking && !was_revoking {
                m.rebalance_deadline = Some(now + rebalance_ms);
            } else if !revoking {
                m.rebalance_deadline = None;
            }
        }
        vec![rec]
    }
}

/// The consumer groups of this node.
#[derive(Default)]
pub struct ConsumerGroups {
    groups: Mutex<HashMap<String, Group>>,
    last_cleanup: Mutex<i64>,
}

/// Kafka's member ids: a random UUID in URL-safe base64 without padding.
fn new_member_id() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

fn versioned<M: Encode>(m: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(version);
    if m.encode(&mut buf, version).is_err() {
        return Bytes::new();
    }
    buf.freeze()
}

/// Checks what does not depend on the group; Kafka answers these with
/// INVALID_REQUEST (or UNSUPPORTED_ASSIGNOR / INVALID_REGULAR_EXPRESSION).
fn validate(a: &HeartbeatArgs, cfg: &ConsumerGroupConfig) -> Result<(), HeartbeatResult> {
    let invalid = |msg: &str| Err(HeartbeatResult::err(ErrorCode::InvalidRequest, msg.into()));
    if a.group_id.is_empty() {
        return invalid("GroupId can't be empty.");
    }
    if a.rack_id.as_deref() == Some("") {
        return invalid("RackId can't be empty.");
    }
    if a.instance_id.as_deref() == Some("") {
        return invalid("InstanceId can't be empty.");
    }
    if (a.member_epoch > 0 || a.member_epoch == LEAVE_EPOCH) && a.member_id.is_empty() {
        return invalid("MemberId can't be empty.");
    }
    if a.member_epoch == 0 {
        if a.rebalance_timeout_ms == -1 {
            return invalid("RebalanceTimeoutMs must be provided in first request.");
        }
        if a.rebalance_timeout_ms < 0 {
            return invalid("RebalanceTimeoutMs can't be negative.");
        }
        if !a.owned.as_ref().is_some_and(|o| o.is_empty()) {
            return invalid("TopicPartitions must be empty when (re-)joining.");
        }
        if a.subscribed_topic_names.is_none() && a.subscribed_topic_regex.is_none() {
            return invalid(
                "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.",
            );
        }
    }
    if a.member_epoch == LEAVE_STATIC_EPOCH {
        if a.instance_id.is_none() {
            return invalid("InstanceId can't be null.");
        }
        if a.member_id.is_empty() {
            return invalid("MemberId can't be empty.");
        }
    }
    if a.member_epoch < LEAVE_STATIC_EPOCH {
        return invalid("MemberEpoch is invalid.");
    }
    if let Some(name) = &a.server_assignor {
        if !cfg.assignors.iter().any(|n| n == name) {
            return Err(HeartbeatResult::err(
                ErrorCode::UnsupportedAssignor,
                format!(
                    "ServerAssignor {name} is not supported. Supported assignors: {}.",
                    cfg.assignors.join(", ")
                ),
            ));
        }
    }
    if let Some(r) = a
        .subscribed_topic_regex
        .as_deref()
        .filter(|r| !r.is_empty())
    {
        if let Err(e) = compile_regex(r) {
            return Err(HeartbeatResult::error(
                INVALID_REGULAR_EXPRESSION,
                format!("SubscribedTopicRegex `{r}` is not a valid regular expression: {e}."),
            ));
        }
    }
    Ok(())
}

fn unknown_member(member_id: &str, group_id: &str) -> HeartbeatResult {
    HeartbeatResult::err(
        ErrorCode::UnknownMemberId,
        format!("Member {member_id} is not a member of group {group_id}."),
    )
}

impl GroupCoordinator {
    /// ConsumerGroupHeartbeat: join (epoch 0), heartbeat (epoch > 0) or
    /// leave (-1, or -2 for a static member that will come back).
    pub fn consumer_heartbeat(
        &self,
        a: HeartbeatArgs,
        cfg: &ConsumerGroupConfig,
        topics: &dyn Topics,
        now: i64,
    ) -> (HeartbeatResult, Durable) {
        if let Err(r) = validate(&a, cfg) {
            tracing::info!(group = %a.group_id, member = %a.member_id, error = ?r.error_message, "ConsumerGroupHeartbeat refused");
            return (r, None);
        }
        let Ok(mut groups) = self.consumer.groups.lock() else {
            return (
                HeartbeatResult::err(
                    ErrorCode::CoordinatorNotAvailable,
                    "coordinator lock".into(),
                ),
                None,
            );
        };
        if a.member_epoch < 0 {
            return self.consumer_leave(&mut groups, &a, now);
        }
        if !groups.contains_key(&a.group_id) {
            if a.member_epoch != 0 {
                // Unknown after a restart without its records, or deleted:
                // the member must rejoin.
                return (unknown_member(&a.member_id, &a.group_id), None);
            }
            if self.classic_group_has_members(&a.group_id) {
                return (
                    HeartbeatResult::err(
                        ErrorCode::GroupIdNotFound,
                        format!("Group {} is not a consumer group.", a.group_id),
                    ),
                    None,
                );
            }
            tracing::info!(group = %a.group_id, "created consumer group");
            groups.insert(a.group_id.clone(), Group::new(&a.group_id));
        }
        let Some(g) = groups.get_mut(&a.group_id) else {
            return (
                HeartbeatResult::err(ErrorCode::UnknownServerError, "group vanished".into()),
                None,
            );
        };
        let mut recs = Vec::new();
        let (member_id, is_new) = match self.consumer_member(g, &a, cfg, now, &mut recs) {
            Ok(m) => m,
            Err(r) => return (r, None),
        };
        let (result, more) = consumer_update(g, &member_id, is_new, &a, cfg, topics, now);
        recs.extend(more);
        let durable = match self.append(&a.group_id, &recs, now) {
            Ok(d) => d,
            Err(code) => {
                return (
                    HeartbeatResult::err(code, "writing group records failed".into()),
                    None,
                )
            }
        };
        (result, durable)
    }

    /// Finds (or creates) the member a non-leaving heartbeat is for.
    fn consumer_member(
        &self,
        g: &mut Group,
        a: &HeartbeatArgs,
        cfg: &ConsumerGroupConfig,
        now: i64,
        recs: &mut Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<(String, bool), HeartbeatResult> {
        if a.member_epoch > 0 {
            let Some(m) = g.members.get(&a.member_id) else {
                return Err(unknown_member(&a.member_id, &g.id));
            };
            if let Some(i) = &a.instance_id {
                match g.static_members.get(i) {
                    Some(owner) if owner != &a.member_id => {
                        return Err(HeartbeatResult::err(
                            ErrorCode::FencedInstanceId,
                            format!(
                            "Static member {} with instance id {i} was fenced by member {owner}.",
                            a.member_id
                        ),
                        ))
                    }
                    Some(_) => {}
                    None => return Err(unknown_member(&a.member_id, &g.id)),
                }
            }
            let cur = &m.current;
            let fenced = if a.member_epoch > cur.member_epoch {
                true
            } else if a.member_epoch < cur.member_epoch {
                // The response that moved it on may have been lost: the
                // previous epoch is fine if it owns nothing it should not.
                a.member_epoch != cur.previous_member_epoch
                    || !a
                        .owned
                        .as_ref()
                        .is_some_and(|o| reconcile::is_subset(o, &cur.assigned))
            } else {
                false
            };
            if fenced {
                return Err(HeartbeatResult::err(
                    ErrorCode::FencedMemberEpoch,
                    format!(
                        "The consumer group member has a {} member epoch ({}) than the one known by the group coordinator ({}). The member must abandon all its partitions and rejoin.",
                        if a.member_epoch > cur.member_epoch { "greater" } else { "smaller" },
                        a.member_epoch,
                        cur.member_epoch
                    ),
                ));
            }
            return Ok((a.member_id.clone(), false));
        }
        // Epoch 0: join, or rejoin of a member we know.
        if let Some(i) = &a.instance_id {
            if let Some(old) = g.static_members.get(i).cloned() {
                if old == a.member_id {
                    return Ok((old, false));
                }
                let old_epoch = g
                    .members
                    .get(&old)
                    .map(|m| m.current.member_epoch)
                    .unwrap_or(LEAVE_STATIC_EPOCH);
                if old_epoch != LEAVE_STATIC_EPOCH {
                    return Err(HeartbeatResult::err(
                        ErrorCode::UnreleasedInstanceId,
                        format!(
                            "Static member {old} with instance id {i} is still active: member {} cannot join with the same instance id.",
                            a.member_id
                        ),
                    ));
                }
                // The returning instance takes over the old member's place,
                // epoch and partitions.
                let new_id = if a.member_id.is_empty() {
                    new_member_id()
                } else {
                    a.member_id.clone()
                };
                let current = g.members.get(&old).map(|m| m.current.clone());
                let target = g.target.get(&old).cloned();
                let meta = g.members.get(&old).map(|m| m.meta.clone());
                let regex = g.members.get(&old).and_then(|m| m.regex.clone());
                recs.extend(g.remove_member(&old));
                let mut m = Member::new(new_id.clone(), now);
                if let Some(meta) = meta {
                    m.meta = meta;
                }
                m.regex = regex;
                g.members.insert(new_id.clone(), m);
                g.static_members.insert(i.clone(), new_id.clone());
                if let Some(mut cur) = current {
                    cur.member_epoch = cur.previous_member_epoch.max(0);
                    recs.push(records::current_member(&g.id, &new_id, Some(&cur)));
                    g.set_current(&new_id, cur);
                }
                if let Some(t) = target {
                    recs.push(records::target_member(&g.id, &new_id, Some(&t)));
                    g.target.insert(new_id.clone(), t);
                }
                if let Some(m) = g.members.get(&new_id) {
                    recs.push(records::member_metadata(&g.id, &new_id, Some(&m.meta)));
                }
                tracing::info!(group = %g.id, member = %new_id, old = %old, instance = %i, "static member replaced its previous instance");
                return Ok((new_id, false));
            }
        }
        if !a.member_id.is_empty() && g.members.contains_key(&a.member_id) {
            return Ok((a.member_id.clone(), false));
        }
        if g.members.len() >= cfg.max_size {
            return Err(HeartbeatResult::err(
                ErrorCode::GroupMaxSizeReached,
                format!(
                    "The consumer group has reached its maximum capacity of {} members.",
                    cfg.max_size
                ),
            ));
        }
        let id = if a.member_id.is_empty() {
            new_member_id()
        } else {
            a.member_id.clone()
        };
        g.members.insert(id.clone(), Member::new(id.clone(), now));
        if let Some(i) = &a.instance_id {
            g.static_members.insert(i.clone(), id.clone());
        }
        tracing::info!(group = %g.id, member = %id, client = %a.client_id, "member joins the consumer group");
        Ok((id, true))
    }

    /// Leaving with epoch -1 (gone) or -2 (a static member that will be
    /// back: it keeps its partitions until its session expires).
    fn consumer_leave(
        &self,
        groups: &mut HashMap<String, Group>,
        a: &HeartbeatArgs,
        now: i64,
    ) -> (HeartbeatResult, Durable) {
        let Some(g) = groups.get_mut(&a.group_id) else {
            return (unknown_member(&a.member_id, &a.group_id), None);
        };
        let member_id = match &a.instance_id {
            Some(i) => match g.static_members.get(i) {
                Some(owner) if owner == &a.member_id => owner.clone(),
                Some(owner) => {
                    return (
                        HeartbeatResult::err(
                            ErrorCode::FencedInstanceId,
                            format!(
                            "Static member {} with instance id {i} was fenced by member {owner}.",
                            a.member_id
                        ),
                        ),
                        None,
                    )
                }
                None => return (unknown_member(&a.member_id, &a.group_id), None),
            },
            None => a.member_id.clone(),
        };
        if !g.members.contains_key(&member_id) {
            return (unknown_member(&a.member_id, &a.group_id), None);
        }
        let mut recs = Vec::new();
        if a.member_epoch == LEAVE_STATIC_EPOCH {
            if let Some(m) = g.members.get_mut(&member_id) {
                if m.current.member_epoch != LEAVE_STATIC_EPOCH {
                    m.current.previous_member_epoch = m.current.member_epoch;
                    m.current.member_epoch = LEAVE_STATIC_EPOCH;
                }
                m.rebalance_deadline = None;
                m.session_deadline = now + i64::from(m.session_timeout_ms);
                recs.push(records::current_member(&g.id, &member_id, Some(&m.current)));
            }
            tracing::info!(group = %g.id, member = %member_id, "static member left temporarily");
        } else {
            tracing::info!(group = %g.id, member = %member_id, "member left the consumer group");
            recs.extend(self.consumer_remove(g, &member_id, now));
        }
        let durable = self.append(&a.group_id, &recs, now).unwrap_or(None);
        (
            HeartbeatResult {
                error_code: ErrorCode::None.code(),
                error_message: None,
                member_id: Some(a.member_id.clone()),
                member_epoch: a.member_epoch,
                heartbeat_interval_ms: 0,
                assignment: None,
            },
            durable,
        )
    }

    /// Removes a member and bumps the group epoch so the others are
    /// reassigned its partitions.
    fn consumer_remove(
        &self,
        g: &mut Group,
        member_id: &str,
        now: i64,
    ) -> Vec<(Bytes, Option<Bytes>)> {
        let mut recs = g.remove_member(member_id);
        g.epoch += 1;
        recs.push(records::group_metadata(&g.id, Some(g.epoch)));
        if g.members.is_empty() {
            // Offsets of an empty group age from now on.
            self.touch_classic_group(&g.id, now);
        }
        recs
    }

    fn classic_group_has_members(&self, group_id: &str) -> bool {
        self.groups
            .lock()
            .map(|gs| gs.get(group_id).is_some_and(|g| !g.members.is_empty()))
            .unwrap_or(false)
    }

    fn touch_classic_group(&self, group_id: &str, now: i64) {
        if let Ok(mut gs) = self.groups.lock() {
            if let Some(g) = gs.get_mut(group_id) {
                if g.members.is_empty() {
                    g.state_timestamp = now;
                }
            }
        }
    }

    fn classic_group_has_offsets(&self, group_id: &str) -> bool {
        self.groups
            .lock()
            .map(|gs| gs.get(group_id).is_some_and(|g| !g.offsets.is_empty()))
            .unwrap_or(true)
    }

    // ---- Hooks for the classic coordinator and handlers -------------------

    /// For a classic JoinGroup: INCONSISTENT_GROUP_PROTOCOL if `group_id`
    /// is a consumer group with members; an empty one is deleted so the
    /// classic group can take its place.
    pub(super) fn consumer_blocks_classic_join(
        &self,
        group_id: &str,
        now: i64,
    ) -> Option<ErrorCode> {
        let Ok(mut groups) = self.consumer.groups.lock() else {
            return Some(ErrorCode::CoordinatorNotAvailable);
        };
        let g = groups.get(group_id)?;
        if !g.members.is_empty() {
            tracing::info!(
                group = group_id,
                "classic JoinGroup refused: the group is a consumer (KIP-848) group with members"
            );
            return Some(ErrorCode::InconsistentGroupProtocol);
        }
        let recs = delete_records(g);
        if let Err(code) = self.append(group_id, &recs, now) {
            return Some(code);
        }
        groups.remove(group_id);
        tracing::info!(
            group = group_id,
            "empty consumer group converted to a classic group"
        );
        None
    }

    /// OffsetCommit's member and epoch check for consumer groups.
    pub(super) fn consumer_commit_check(
        &self,
        group_id: &str,
        member_id: &str,
        epoch: i32,
    ) -> CommitCheck {
        let Ok(groups) = self.consumer.groups.lock() else {
            return CommitCheck::Reject(ErrorCode::CoordinatorNotAvailable);
        };
        let Some(g) = groups.get(group_id) else {
            return CommitCheck::NotConsumer;
        };
        if epoch < 0 && member_id.is_empty() && g.members.is_empty() {
            // Admin tools and consumers without group management.
            return CommitCheck::Accept;
        }
        let Some(m) = g.members.get(member_id) else {
            return CommitCheck::Reject(ErrorCode::UnknownMemberId);
        };
        if m.current.member_epoch != epoch {
            return CommitCheck::Reject(ErrorCode::StaleMemberEpoch);
        }
        CommitCheck::Accept
    }

    /// OffsetFetch v9's member check: `Err` for a stale member epoch or an
    /// unknown member of a consumer group.
    pub fn consumer_fetch_check(
        &self,
        group_id: &str,
        member_id: Option<&str>,
        epoch: i32,
    ) -> Result<(), ErrorCode> {
        let Some(member_id) = member_id.filter(|m| !m.is_empty()) else {
            return Ok(());
        };
        if epoch < 0 {
            return Ok(());
        }
        let groups = self
            .consumer
            .groups
            .lock()
            .map_err(|_| ErrorCode::CoordinatorNotAvailable)?;
        let Some(g) = groups.get(group_id) else {
            return Ok(());
        };
        let m = g.members.get(member_id).ok_or(ErrorCode::UnknownMemberId)?;
        if m.current.member_epoch != epoch {
            return Err(ErrorCode::StaleMemberEpoch);
        }
        Ok(())
    }

    /// Topics a consumer group with members consumes (for OffsetDelete and
    /// offset expiry); `None` for other groups.
    pub(super) fn consumer_subscribed_topics(&self, group_id: &str) -> Option<HashSet<String>> {
        let groups = self.consumer.groups.lock().ok()?;
        let g = groups.get(group_id).filter(|g| !g.members.is_empty())?;
        Some(g.topics.keys().cloned().collect())
    }

    /// DeleteGroups: `Ok(None)` if not a consumer group, `Ok(Some(..))`
    /// once an empty one is deleted, NON_EMPTY_GROUP otherwise.
    pub(super) fn consumer_delete(
        &self,
        group_id: &str,
        now: i64,
    ) -> Result<Option<Durable>, ErrorCode> {
        let mut groups = self
            .consumer
            .groups
            .lock()
            .map_err(|_| ErrorCode::CoordinatorNotAvailable)?;
        let Some(g) = groups.get(group_id) else {
            return Ok(None);
        };
        if !g.members.is_empty() {
            return Err(ErrorCode::NonEmptyGroup);
        }
        let recs = delete_records(g);
        let durable = self.append(group_id, &recs, now)?;
        groups.remove(group_id);
        tracing::info!(group = group_id, "consumer group deleted");
        Ok(Some(durable))
    }

    /// Fires session and rebalance timeouts, and every ten minutes removes
    /// empty consumer groups that have no committed offsets. Returns the
    /// subscribed topics of every group with members (offsets of those
    /// topics do not expire).
    pub(super) fn consumer_tick(
        &self,
        now: i64,
        durables: &mut Vec<super::Durable>,
    ) -> HashMap<String, HashSet<String>> {
        let mut active = HashMap::new();
        let Ok(mut groups) = self.consumer.groups.lock() else {
            return active;
        };
        for g in groups.values_mut() {
            let expired: Vec<(String, &'static str)> = g
                .members
                .values()
                .filter_map(|m| {
                    if m.session_deadline <= now {
                        Some((m.id.clone(), "session timed out"))
                    } else if m.rebalance_deadline.is_some_and(|d| d <= now) {
                        Some((
                            m.id.clone(),
                            "did not revoke its partitions within the rebalance timeout",
                        ))
                    } else {
                        None
                    }
                })
                .collect();
            if !expired.is_empty() {
                let mut recs = Vec::new();
                for (id, why) in expired {
                    tracing::info!(group = %g.id, member = %id, "member removed from the consumer group: {why}");
                    recs.extend(self.consumer_remove(g, &id, now));
                }
                match self.append(&g.id.clone(), &recs, now) {
                    Ok(d) => durables.push(d),
                    Err(code) => {
                        tracing::error!(group = %g.id, error = ?code, "writing consumer group records failed")
                    }
                }
            }
            if !g.members.is_empty() {
                active.insert(g.id.clone(), g.topics.keys().cloned().collect());
            }
        }
        let due = match self.consumer.last_cleanup.lock() {
            Ok(mut last) => {
                if *last == 0 {
                    *last = now;
                    false
                } else if now - *last >= CLEANUP_INTERVAL_MS {
                    *last = now;
                    true
                } else {
                    false
                }
            }
            Err(_) => false,
        };
        if due {
            let empty: Vec<String> = groups
                .values()
                .filter(|g| g.members.is_empty())
                .map(|g| g.id.clone())
                .collect();
            for id in empty {
                if self.classic_group_has_offsets(&id) {
                    continue;
                }
                if let Some(g) = groups.get(&id) {
                    let recs = delete_records(g);
                    if let Ok(d) = self.append(&id, &recs, now) {
                        durables.push(d);
                        groups.remove(&id);
                        tracing::info!(group = %id, "removed empty consumer group without offsets");
                    }
                }
            }
        }
        active
    }

    /// Replays consumer group records (in log order) read at start.
    pub(super) fn consumer_load(&self, recs: Vec<(Bytes, Option<Bytes>)>, now: i64) {
        let Ok(mut groups) = self.consumer.groups.lock() else {
            return;
        };
        for (k, v) in recs {
            let Some(rec) = records::decode(&k, v.as_ref()) else {
                continue;
            };
            replay(&mut groups, rec, now);
        }
        for g in groups.values_mut() {
            g.rebuild_owners();
            for m in g.members.values_mut() {
                m.session_deadline = now + i64::from(m.session_timeout_ms);
                if m.current.state == MemberState::UnrevokedPartitions {
                    m.rebalance_deadline =
                        Some(now + i64::from(m.meta.rebalance_timeout_ms.max(0)));
                }
            }
        }
        if !groups.is_empty() {
            tracing::info!(
                groups = groups.len(),
                members = groups.values().map(|g| g.members.len()).sum::<usize>(),
                "loaded consumer groups"
            );
        }
    }

    // ---- Admin views --------------------------------------------------------

    /// ConsumerGroupDescribe of one group.
    pub fn consumer_describe(
        &self,
        group_id: &str,
        topics: &dyn Topics,
        cfg: &ConsumerGroupConfig,
    ) -> cgd::DescribedGroup {
        let not_found = |msg: String| cgd::DescribedGroup {
            error_code: ErrorCode::GroupIdNotFound.code(),
            error_message: Some(msg),
            group_id: group_id.to_string(),
            ..Default::default()
        };
        let Ok(groups) = self.consumer.groups.lock() else {
            return cgd::DescribedGroup {
                error_code: ErrorCode::CoordinatorNotAvailable.code(),
                group_id: group_id.to_string(),
                ..Default::default()
            };
        };
        let Some(g) = groups.get(group_id) else {
            drop(groups);
            let classic = self
                .groups
                .lock()
                .map(|gs| {
                    gs.get(group_id).is_some_and(|g| {
                        g.state != super::GroupState::Dead
                            && (g.generation > 0 || !g.members.is_empty())
                    })
                })
                .unwrap_or(false);
            return if classic {
                not_found(format!("Group {group_id} is not a consumer group."))
            } else {
                not_found(format!("Group {group_id} not found."))
            };
        };
        let describe_assignment = |a: &Assignment| cgd::Assignment {
            topic_partitions: a
                .iter()
                .map(|(t, ps)| cgd::TopicPartitions {
                    topic_id: *t,
                    topic_name: g.topic_name(t, Some(topics)).unwrap_or_default(),
                    partitions: ps.iter().copied().collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let empty = Assignment::new();
        cgd::DescribedGroup {
            error_code: ErrorCode::None.code(),
            group_id: group_id.to_string(),
            group_state: g.state().name().to_string(),
            group_epoch: g.epoch,
            assignment_epoch: g.assignment_epoch,
            assignor_name: g.assignor(cfg),
            members: g
                .members
                .values()
                .map(|m| cgd::Member {
                    member_id: m.id.clone(),
                    instance_id: m.meta.instance_id.clone(),
                    rack_id: m.meta.rack_id.clone(),
                    member_epoch: m.current.member_epoch,
                    client_id: m.meta.client_id.clone(),
                    client_host: m.meta.client_host.clone(),
                    subscribed_topic_names: m.meta.subscribed_topic_names.clone(),
                    subscribed_topic_regex: m.meta.subscribed_topic_regex.clone(),
                    assignment: describe_assignment(&m.current.assigned),
                    target_assignment: describe_assignment(g.target.get(&m.id).unwrap_or(&empty)),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    /// DescribeGroups (the classic API) of a consumer group: its state,
    /// protocol type "consumer", the assignor as protocol, and each member
    /// with its subscription and current assignment in the classic
    /// consumer protocol encoding. `None` if not a consumer group.
    pub fn consumer_describe_classic(
        &self,
        group_id: &str,
        topics: &dyn Topics,
        cfg: &ConsumerGroupConfig,
    ) -> Option<dg::DescribedGroup> {
        let groups = self.consumer.groups.lock().ok()?;
        let g = groups.get(group_id)?;
        let members = g
            .members
            .values()
            .map(|m| {
                let sub = ConsumerProtocolSubscription {
                    topics: m.meta.subscribed_topic_names.clone(),
                    ..Default::default()
                };
                let mut by_name: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                for (t, ps) in &m.current.assigned {
                    if let Some(n) = g.topic_name(t, Some(topics)) {
                        by_name.entry(n).or_default().extend(ps.iter().copied());
                    }
                }
                let asg = ConsumerProtocolAssignment {
                    assigned_partitions: by_name
                        .into_iter()
                        .map(|(topic, partitions)| {
                            fjord_protocol::messages::consumer_protocol_assignment::TopicPartition {
                                topic,
                                partitions,
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                };
                dg::DescribedGroupMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.meta.instance_id.clone(),
                    client_id: m.meta.client_id.clone(),
                    client_host: m.meta.client_host.clone(),
                    member_metadata: versioned(&sub, 0),
                    member_assignment: versioned(&asg, 0),
                    ..Default::default()
                }
            })
            .collect();
        Some(dg::DescribedGroup {
            error_code: ErrorCode::None.code(),
            group_id: group_id.to_string(),
            group_state: g.state().name().to_string(),
            protocol_type: "consumer".to_string(),
            protocol_data: g.assignor(cfg),
            members,
            ..Default::default()
        })
    }

    /// Every group for ListGroups: classic groups (including offsets-only
    /// ones) and consumer groups, by id.
    pub fn list_all_groups(&self) -> Vec<ListedGroupInfo> {
        let consumer: Vec<ListedGroupInfo> = match self.consumer.groups.lock() {
            Ok(groups) => groups
                .values()
                .map(|g| ListedGroupInfo {
                    group_id: g.id.clone(),
                    protocol_type: "consumer".to_string(),
                    state: g.state().name().to_string(),
                    group_type: "consumer",
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let ids: HashSet<&str> = consumer.iter().map(|g| g.group_id.as_str()).collect();
        let mut out: Vec<ListedGroupInfo> = self
            .list()
            .into_iter()
            .filter(|(id, _, _)| !ids.contains(id.as_str()))
            .map(|(group_id, protocol_type, s)| ListedGroupInfo {
                group_id,
                protocol_type,
                state: s.name().to_string(),
                group_type: "classic",
            })
            .collect();
        out.extend(consumer);
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    /// The state of a consumer group (tests, status).
    pub fn consumer_group_state(&self, group_id: &str) -> Option<ConsumerGroupState> {
        self.consumer
            .groups
            .lock()
            .ok()?
            .get(group_id)
            .map(Group::state)
    }
}

/// Applies a heartbeat to a known member: its metadata and subscription,
/// the group epoch, the target assignment and its reconciliation.
fn consumer_update(
    g: &mut Group,
    member_id: &str,
    is_new: bool,
    a: &HeartbeatArgs,
    cfg: &ConsumerGroupConfig,
    topics: &dyn Topics,
    now: i64,
) -> (HeartbeatResult, Vec<(Bytes, Option<Bytes>)>) {
    let mut recs = Vec::new();
    let mut bump = false;
    let Some(m) = g.members.get_mut(member_id) else {
        return (unknown_member(member_id, &g.id), recs);
    };
    let before = m.meta.clone();
    if a.member_epoch == 0 && m.current.member_epoch < 0 {
        // A static member back from a temporary leave.
        m.current.member_epoch = m.current.previous_member_epoch.max(0);
    }
    if let Some(i) = &a.instance_id {
        m.meta.instance_id = Some(i.clone());
    }
    if let Some(r) = &a.rack_id {
        m.meta.rack_id = Some(r.clone());
    }
    if a.rebalance_timeout_ms >= 0 {
        m.meta.rebalance_timeout_ms = a.rebalance_timeout_ms;
    }
    if let Some(names) = &a.subscribed_topic_names {
        let mut names = names.clone();
        names.sort();
        names.dedup();
        m.meta.subscribed_topic_names = names;
    }
    if let Some(r) = &a.subscribed_topic_regex {
        m.meta.subscribed_topic_regex = Some(r.clone()).filter(|r| !r.is_empty());
        m.regex = m
            .meta
            .subscribed_topic_regex
            .as_deref()
            .and_then(|r| compile_regex(r).ok());
    }
    if a.server_assignor.is_some() {
        m.meta.server_assignor = a.server_assignor.clone();
    }
    m.meta.client_id = a.client_id.clone();
    m.meta.client_host = a.client_host.clone();
    m.session_timeout_ms = cfg.session_timeout_ms;
    m.session_deadline = now + i64::from(cfg.session_timeout_ms);
    if m.meta != before {
        recs.push(records::member_metadata(&g.id, member_id, Some(&m.meta)));
    }
    if is_new
        || m.meta.subscribed_topic_names != before.subscribed_topic_names
        || m.meta.subscribed_topic_regex != before.subscribed_topic_regex
        || m.meta.server_assignor != before.server_assignor
        || m.meta.rack_id != before.rack_id
    {
        bump = true;
    }
    let resolved = g.resolve_topics(topics);
    if resolved != g.topics {
        g.topics = resolved;
        let list: Vec<(String, Uuid, i32)> = g
            .topics
            .iter()
            .map(|(n, (id, p))| (n.clone(), *id, *p))
            .collect();
        recs.push(records::partition_metadata(&g.id, Some(&list)));
        bump = true;
    }
    if bump {
        g.epoch += 1;
        recs.push(records::group_metadata(&g.id, Some(g.epoch)));
    }
    if g.epoch > g.assignment_epoch {
        recs.extend(g.compute_target(cfg));
    }
    let before_current = g.members.get(member_id).map(|m| m.current.clone());
    let owned = if a.member_epoch == 0 {
        Some(Assignment::new())
    } else {
        a.owned.clone()
    };
    recs.extend(g.reconcile_member(member_id, owned.as_ref(), now));
    let Some(m) = g.members.get(member_id) else {
        return (unknown_member(member_id, &g.id), recs);
    };
    let full =
        a.rebalance_timeout_ms != -1 && a.subscribed_topic_names.is_some() && a.owned.is_some();
    let changed = before_current.as_ref().map(|c| &c.assigned) != Some(&m.current.assigned);
    let behind = a.member_epoch != m.current.member_epoch;
    let differs = owned
        .as_ref()
        .is_some_and(|o| reconcile::normalize(o.clone()) != m.current.assigned);
    let send = a.member_epoch == 0 || full || changed || behind || differs;
    (
        HeartbeatResult {
            error_code: ErrorCode::None.code(),
            error_message: None,
            member_id: Some(member_id.to_string()),
            member_epoch: m.current.member_epoch,
            heartbeat_interval_ms: cfg.heartbeat_interval_ms,
            assignment: send.then(|| m.current.assigned.clone()),
        },
        recs,
    )
}

/// Tombstones for every record of a group.
fn delete_records(g: &Group) -> Vec<(Bytes, Option<Bytes>)> {
    let mut recs = Vec::new();
    for id in g.members.keys() {
        recs.push(records::current_member(&g.id, id, None));
        recs.push(records::target_member(&g.id, id, None));
        recs.push(records::member_metadata(&g.id, id, None));
    }
    recs.push(records::target_metadata(&g.id, None));
    recs.push(records::partition_metadata(&g.id, None));
    recs.push(records::group_metadata(&g.id, None));
    recs
}

fn replay(groups: &mut HashMap<String, Group>, rec: Record, now: i64) {
    let gid = rec.group().to_string();
    // The tombstone of the group metadata removes the group.
    if let Record::Group { epoch: None, .. } = rec {
        groups.remove(&gid);
        return;
    }
    let g = groups
        .entry(gid.clone())
        .or_insert_with(|| Group::new(&gid));
    match rec {
        Record::Group { epoch, .. } => g.epoch = epoch.unwrap_or(0),
        Record::PartitionMetadata { topics, .. } => {
            g.topics = topics
                .unwrap_or_default()
                .into_iter()
                .map(|(n, id, p)| (n, (id, p)))
                .collect();
        }
        Record::Member { member, meta, .. } => match meta {
            Some(meta) => {
                let m = g
                    .members
                    .entry(member.clone())
                    .or_insert_with(|| Member::new(member.clone(), now));
                m.regex = meta
                    .subscribed_topic_regex
                    .as_deref()
                    .and_then(|r| compile_regex(r).ok());
                if let Some(i) = &meta.instance_id {
                    g.static_members.insert(i.clone(), member.clone());
                }
                m.meta = meta;
            }
            None => {
                if let Some(m) = g.members.remove(&member) {
                    if let Some(i) = &m.meta.instance_id {
                        if g.static_members.get(i) == Some(&member) {
                            g.static_members.remove(i);
                        }
                    }
                }
            }
        },
        Record::TargetMetadata { epoch, .. } => g.assignment_epoch = epoch.unwrap_or(0),
        Record::TargetMember {
            member, assignment, ..
        } => match assignment {
            Some(a) => {
                g.target.insert(member, a);
            }
            None => {
                g.target.remove(&member);
            }
        },
        Record::CurrentMember {
            member, current, ..
        } => {
            if let Some(c) = current {
                let m = g
                    .members
                    .entry(member.clone())
                    .or_insert_with(|| Member::new(member.clone(), now));
                m.current = c;
            }
        }
    }
}
