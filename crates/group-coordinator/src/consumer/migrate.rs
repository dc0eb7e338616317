//! Online conversion between a classic group and a consumer group
//! (`group.consumer.migration.policy`), as Kafka 4.0 does it:
//!
//! - Upgrade: a ConsumerGroupHeartbeat joining a classic group of the
//!   `consumer` protocol type with members converts it. Each classic member
//!   becomes a classic member of the consumer group at the classic
//!   generation as its epoch, keeping its subscription and assignment
//!   (which is also the target), so nothing moves until the joining
//!   member bumps the group epoch; members waiting in a join or sync round
//!   are told REBALANCE_IN_PROGRESS and join again (now as classic members
//!   of the consumer group).
//! - Downgrade: when a member leaves (or is removed) and only classic
//!   members remain, the consumer group becomes a classic group at the
//!   group epoch as its generation, each member keeping its protocols and
//!   its current assignment, and a rebalance starts.
//!
//! Both write the new group's records after the old group's tombstones,
//! in one append, so a restart replays the converted group. Committed
//! offsets live in the classic table whatever the type and are untouched.

use std::collections::HashMap;

use bytes::Bytes;
use fjord_protocol::ErrorCode;

use super::classic_members::{
    decode_assignment, decode_subscription, encode_assignment, payload_version, to_assignment,
    CONSUMER_PROTOCOL_TYPE,
};
use super::group::{delete_records, Group, Member};
use super::reconcile::{MemberState, Reconciled};
use super::records::{self, ClassicMeta};
use super::{ConsumerGroupConfig, HeartbeatResult, Topics};
use crate::{join_error, store, sync_error, Durable, GroupCoordinator, GroupState};

impl GroupCoordinator {
    /// Converts the classic group `group_id` (which has members) into a
    /// consumer group for a joining ConsumerGroupHeartbeat. Returns the
    /// records written (already appended) or the refusal to answer.
    pub(super) fn consumer_upgrade(
        &self,
        groups: &mut HashMap<String, Group>,
        group_id: &str,
        cfg: &ConsumerGroupConfig,
        topics: &dyn Topics,
        now: i64,
    ) -> Result<Durable, HeartbeatResult> {
        let not_consumer = |why: &str| {
            tracing::info!(group = group_id, "classic group not upgraded: {why}");
            HeartbeatResult::err(
                ErrorCode::GroupIdNotFound,
                format!("Group {group_id} is not a consumer group."),
            )
        };
        if !self.config.consumer_migration_policy.upgrade() {
            return Err(not_consumer("the migration policy forbids it"));
        }
        let Ok(mut classic) = self.groups.lock() else {
            return Err(HeartbeatResult::err(
                ErrorCode::CoordinatorNotAvailable,
                "coordinator lock".into(),
            ));
        };
        let Some(cg) = classic.get_mut(group_id) else {
            return Err(not_consumer("it vanished"));
        };
        if cg.protocol_type.as_deref() != Some(CONSUMER_PROTOCOL_TYPE) {
            return Err(not_consumer("it does not use the consumer protocol"));
        }
        if cg.members.len() >= cfg.max_size {
            return Err(not_consumer(
                "it has as many members as a consumer group may",
            ));
        }
        let epoch = cg.generation.max(0);
        let protocol = cg
            .protocol
            .clone()
            .or_else(|| {
                cg.members
                    .first()
                    .and_then(|m| m.protocols.first())
                    .map(|p| p.0.clone())
            })
            .unwrap_or_default();
        let mut g = Group::new(group_id);
        g.epoch = epoch;
        g.assignment_epoch = epoch;
        for cm in &cg.members {
            let Some(sub) = decode_subscription(&cm.metadata_for(&protocol)) else {
                return Err(not_consumer("a member's subscription is malformed"));
            };
            let Some(asg) = decode_assignment(&cm.assignment) else {
                return Err(not_consumer("a member's assignment is malformed"));
            };
            let assigned = to_assignment(
                topics,
                asg.assigned_partitions
                    .iter()
                    .map(|t| (t.topic.as_str(), t.partitions.as_slice())),
            );
            let mut m = Member::new(cm.id.clone(), now);
            let mut names = sub.topics.clone();
            names.sort();
            names.dedup();
            m.meta.instance_id = cm.instance_id.clone();
            m.meta.rack_id = sub.rack_id.clone().filter(|r| !r.is_empty());
            m.meta.client_id = cm.client_id.clone();
            m.meta.client_host = cm.client_host.clone();
            m.meta.subscribed_topic_names = names;
            m.meta.rebalance_timeout_ms = cm.rebalance_timeout_ms;
            m.meta.classic = Some(ClassicMeta {
                session_timeout_ms: cm.session_timeout_ms,
                protocols: cm.protocols.clone(),
            });
            m.session_timeout_ms = cm.session_timeout_ms;
            m.session_deadline = now + i64::from(cm.session_timeout_ms);
            m.current = Reconciled {
                state: MemberState::Stable,
                member_epoch: epoch,
                previous_member_epoch: epoch,
                assigned: assigned.clone(),
                pending_revocation: Default::default(),
            };
            if let Some(i) = &cm.instance_id {
                g.static_members.insert(i.clone(), cm.id.clone());
            }
            g.target.insert(cm.id.clone(), assigned);
            g.members.insert(cm.id.clone(), m);
        }
        g.topics = g.resolve_topics(topics);
        g.rebuild_owners();

        // The classic group keeps only its offsets: members waiting in a
        // round are sent back to join the consumer group.
        for cm in cg.members.iter_mut() {
            if let Some(w) = cm.join_waiter.take() {
                let _ = w.send(join_error(&cm.id, ErrorCode::RebalanceInProgress));
            }
            if let Some(w) = cm.sync_waiter.take() {
                let _ = w.send(sync_error(ErrorCode::RebalanceInProgress));
            }
        }
        cg.members.clear();
        cg.static_members.clear();
        cg.pending_members.clear();
        cg.pending_sync.clear();
        cg.leader = None;
        cg.protocol = None;
        cg.join_deadline = None;
        cg.initial_delay_remaining = None;
        cg.sync_deadline = None;
        cg.storing_assignment = None;
        cg.transition(GroupState::Empty, now);

        let mut recs = vec![(
            store::group_key(group_id),
            Some(store::group_value(cg.record())),
        )];
        recs.extend(group_records(&g));
        let durable = self
            .append(group_id, &recs, now)
            .map_err(|code| HeartbeatResult::err(code, "writing group records failed".into()))?;
        tracing::info!(
            group = group_id,
            members = g.members.len(),
            epoch,
            "classic group upgraded to a consumer group"
        );
        groups.insert(group_id.to_string(), g);
        Ok(durable)
    }

    /// After a member left: if only classic members remain (and the policy
    /// allows it), turns the consumer group into a classic group that
    /// rebalances. Returns what to sync, if anything was written.
    pub(super) fn consumer_maybe_downgrade(
        &self,
        groups: &mut HashMap<String, Group>,
        group_id: &str,
        now: i64,
    ) -> Durable {
        if !self.config.consumer_migration_policy.downgrade() {
            return None;
        }
        let g = groups.get(group_id)?;
        if g.members.is_empty() || g.members.values().any(|m| m.meta.classic.is_none()) {
            return None;
        }
        let Ok(mut classic) = self.groups.lock() else {
            return None;
        };
        let cg = classic
            .entry(group_id.to_string())
            .or_insert_with(|| crate::Group::new(group_id, now));
        if !cg.members.is_empty() {
            return None;
        }
        cg.protocol_type = Some(CONSUMER_PROTOCOL_TYPE.to_string());
        cg.generation = g.epoch;
        for m in g.members.values() {
            let Some(c) = &m.meta.classic else {
                continue;
            };
            let version = c
                .protocols
                .first()
                .and_then(|p| payload_version(&p.1))
                .unwrap_or(0);
            cg.add_member(crate::Member {
                id: m.id.clone(),
                instance_id: m.meta.instance_id.clone(),
                client_id: m.meta.client_id.clone(),
                client_host: m.meta.client_host.clone(),
                rebalance_timeout_ms: m.meta.rebalance_timeout_ms.max(0),
                session_timeout_ms: c.session_timeout_ms,
                protocol_type: CONSUMER_PROTOCOL_TYPE.to_string(),
                protocols: c.protocols.clone(),
                assignment: encode_assignment(g, &m.current.assigned, None, version),
                join_waiter: None,
                sync_waiter: None,
                last_heartbeat: now,
                is_new: false,
            });
        }
        cg.protocol = cg.select_protocol();
        cg.transition(GroupState::Stable, now);
        self.prepare_rebalance(cg, now);
        let mut recs = delete_records(g);
        recs.push((
            store::group_key(group_id),
            Some(store::group_value(cg.record())),
        ));
        let durable = match self.append(group_id, &recs, now) {
            Ok(d) => d,
            Err(code) => {
                tracing::error!(group = group_id, error = ?code, "downgrading the consumer group failed");
                return None;
            }
        };
        tracing::info!(
            group = group_id,
            members = cg.members.len(),
            generation = cg.generation,
            "consumer group downgraded to a classic group"
        );
        groups.remove(group_id);
        durable
    }
}

/// Every record of a consumer group as it is now (for a conversion).
fn group_records(g: &Group) -> Vec<(Bytes, Option<Bytes>)> {
    let mut recs = Vec::new();
    recs.push(g.partition_metadata_record());
    for m in g.members.values() {
        recs.push(records::member_metadata(&g.id, &m.id, Some(&m.meta)));
        if let Some(t) = g.target.get(&m.id) {
            recs.push(records::target_member(&g.id, &m.id, Some(t)));
        }
        recs.push(records::current_member(&g.id, &m.id, Some(&m.current)));
    }
    recs.push(records::target_metadata(&g.id, Some(g.assignment_epoch)));
    recs.push(records::group_metadata(&g.id, Some(g.epoch)));
    recs
}
