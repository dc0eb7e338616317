//! The classic group membership protocol: JoinGroup, SyncGroup,
//! Heartbeat and LeaveGroup driving each group's state machine (Empty →
//! PreparingRebalance → CompletingRebalance → Stable), join rounds and
//! their completion, static membership, and the SyncGroup store.

use std::collections::HashMap;

use bytes::Bytes;
use fjord_protocol::messages::{JoinGroupResponse, SyncGroupResponse};
use fjord_protocol::ErrorCode;
use tokio::sync::oneshot;

use crate::consumer::{ClassicEnv, Route, Topics};
use crate::{
    join_error, random_member_suffix, store, sync_error, Durable, Group, GroupCoordinator,
    GroupState, JoinArgs, Member, Reply, SyncArgs,
};

impl GroupCoordinator {
    // ---- JoinGroup ------------------------------------------------------

    /// JoinGroup without the broker's view of consumer groups: a consumer
    /// group with members refuses classic members (tests).
    pub fn join(&self, a: JoinArgs, now: i64) -> (Reply<JoinGroupResponse>, Durable) {
        self.join_with(a, None, now)
    }

    /// JoinGroup; a consumer group's classic members are handled by
    /// `consumer::classic_members` (needs `env`).
    pub fn join_with(
        &self,
        a: JoinArgs,
        env: Option<&ClassicEnv<'_>>,
        now: i64,
    ) -> (Reply<JoinGroupResponse>, Durable) {
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
        // A consumer (KIP-848) group: its classic members are served there.
        if let Route::Answer(r, durable) = self.consumer_classic_join(&a, env, now) {
            return (Reply::Now(r), durable);
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

    pub(crate) fn prepare_rebalance(&self, g: &mut Group, now: i64) {
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
    pub(crate) fn after_event(&self, g: &mut Group, now: i64) -> Durable {
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
    pub(crate) fn remove_member_and_update(&self, g: &mut Group, id: &str, now: i64) -> Durable {
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
        self.sync_with(a, None, now)
    }

    /// SyncGroup; `topics` names the partitions of a consumer group's
    /// classic members.
    pub fn sync_with(
        &self,
        a: SyncArgs,
        topics: Option<&dyn Topics>,
        now: i64,
    ) -> (Reply<SyncGroupResponse>, Durable) {
        let now_err = |code| (Reply::Now(sync_error(code)), None);
        if a.group_id.is_empty() {
            return now_err(ErrorCode::InvalidGroupId);
        }
        if let Route::Answer(r, durable) = self.consumer_classic_sync(&a, topics, now) {
            return (Reply::Now(r), durable);
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
        if let Some(code) =
            self.consumer_classic_heartbeat(group_id, generation, member_id, instance_id, now)
        {
            return code;
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
        if let Some(answer) = self.consumer_classic_leave(group_id, leaving, now) {
            return answer;
        }
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
}
