//! A consumer group's state in memory: its members (metadata, current
//! assignment, deadlines), the target assignment and who owns each
//! partition; how a target is computed and one member reconciled against
//! it; and how the state is rebuilt from the group's records at start.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use fjord_protocol::Uuid;

use super::reconcile::{self, Assignment, MemberState, Reconciled};
use super::records::{self, MemberMeta, Record};
use super::{
    assignor, ConsumerGroupConfig, ConsumerGroupState, Topics, DEFAULT_SESSION_TIMEOUT_MS,
};

/// A member of a consumer group.
pub(super) struct Member {
    pub(super) id: String,
    pub(super) meta: MemberMeta,
    pub(super) current: Reconciled,
    pub(super) session_timeout_ms: i32,
    pub(super) session_deadline: i64,
    /// Set while the member must revoke partitions.
    pub(super) rebalance_deadline: Option<i64>,
    pub(super) regex: Option<regex::Regex>,
}

impl Member {
    pub(super) fn new(id: String, now: i64) -> Member {
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
    pub(super) fn topic_names(&self, all: &dyn Fn() -> Vec<String>) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self.meta.subscribed_topic_names.iter().cloned().collect();
        if let Some(re) = &self.regex {
            out.extend(all().into_iter().filter(|n| re.is_match(n)));
        }
        out
    }
}

/// Compiles a subscription regex the way Kafka matches it: against the
/// whole topic name.
pub(super) fn compile_regex(r: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(&format!("^(?:{r})$")).map_err(|e| e.to_string())
}

/// A consumer group: epochs, members, the target assignment and the
/// partition owners derived from the members' current assignments.
pub(super) struct Group {
    pub(super) id: String,
    pub(super) epoch: i32,
    pub(super) assignment_epoch: i32,
    pub(super) members: BTreeMap<String, Member>,
    /// group.instance.id → member id.
    pub(super) static_members: HashMap<String, String>,
    /// Member id → target assignment.
    pub(super) target: BTreeMap<String, Assignment>,
    /// Subscribed topics that exist: name → (id, partitions).
    pub(super) topics: BTreeMap<String, (Uuid, i32)>,
    /// Partition → the member that owns it (assigned or revoking).
    pub(super) owners: HashMap<(Uuid, i32), String>,
}

impl Group {
    pub(super) fn new(id: &str) -> Group {
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

    pub(super) fn state(&self) -> ConsumerGroupState {
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
    pub(super) fn assignor(&self, cfg: &ConsumerGroupConfig) -> String {
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

    pub(super) fn topic_name(&self, id: &Uuid, topics: Option<&dyn Topics>) -> Option<String> {
        self.topics
            .iter()
            .find(|(_, (tid, _))| tid == id)
            .map(|(n, _)| n.clone())
            .or_else(|| topics.and_then(|t| t.by_id(id)).map(|t| t.name))
    }

    /// Replaces a member's current assignment, keeping `owners` in step.
    pub(super) fn set_current(&mut self, member_id: &str, next: Reconciled) {
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

    pub(super) fn rebuild_owners(&mut self) {
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
    pub(super) fn remove_member(&mut self, member_id: &str) -> Vec<(Bytes, Option<Bytes>)> {
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
    pub(super) fn resolve_topics(&self, topics: &dyn Topics) -> BTreeMap<String, (Uuid, i32)> {
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

    /// The record of the group's subscribed topics as they are now.
    pub(super) fn partition_metadata_record(&self) -> (Bytes, Option<Bytes>) {
        let list: Vec<(String, Uuid, i32)> = self
            .topics
            .iter()
            .map(|(n, (id, p))| (n.clone(), *id, *p))
            .collect();
        records::partition_metadata(&self.id, Some(&list))
    }

    /// Computes a new target assignment at the group epoch; returns its
    /// records.
    pub(super) fn compute_target(
        &mut self,
        cfg: &ConsumerGroupConfig,
    ) -> Vec<(Bytes, Option<Bytes>)> {
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
    pub(super) fn reconcile_member(
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

/// Tombstones for every record of a group.
pub(super) fn delete_records(g: &Group) -> Vec<(Bytes, Option<Bytes>)> {
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

/// Applies one record read back from `__consumer_offsets` (in log order).
pub(super) fn replay(groups: &mut HashMap<String, Group>, rec: Record, now: i64) {
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
                if let Some(c) = &meta.classic {
                    m.session_timeout_ms = c.session_timeout_ms;
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
