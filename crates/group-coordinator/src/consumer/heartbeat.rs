//! ConsumerGroupHeartbeat: validation, joining (including a static
//! member's return), heartbeats with epoch fencing, leaving, and applying a
//! heartbeat's subscription to the group (epoch bump, new target,
//! reconciliation of the member).

use std::collections::HashMap;

use bytes::Bytes;
use fjord_protocol::ErrorCode;

use super::group::{compile_regex, Group, Member};
use super::reconcile::{self, Assignment};
use super::records;
use super::{
    ConsumerGroupConfig, HeartbeatArgs, HeartbeatResult, Topics, INVALID_REGULAR_EXPRESSION,
    LEAVE_EPOCH, LEAVE_STATIC_EPOCH,
};
use crate::{Durable, GroupCoordinator};

/// Kafka's member ids: a random UUID in URL-safe base64 without padding.
pub(super) fn new_member_id() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
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
        let mut upgraded: Durable = None;
        if !groups.contains_key(&a.group_id) {
            if a.member_epoch != 0 {
                // Unknown after a restart without its records, or deleted:
                // the member must rejoin.
                return (unknown_member(&a.member_id, &a.group_id), None);
            }
            if self.classic_group_has_members(&a.group_id) {
                // Online upgrade (or GROUP_ID_NOT_FOUND if not allowed).
                match self.consumer_upgrade(&mut groups, &a.group_id, cfg, topics, now) {
                    Ok(d) => upgraded = d,
                    Err(r) => return (r, None),
                }
            } else {
                tracing::info!(group = %a.group_id, "created consumer group");
                groups.insert(a.group_id.clone(), Group::new(&a.group_id));
            }
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
        (result, durable.or(upgraded))
    }

    /// Finds (or creates) the member a non-leaving heartbeat is for.
    pub(super) fn consumer_member(
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
        let durable = self
            .consumer_maybe_downgrade(groups, &a.group_id, now)
            .or(durable);
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
    pub(super) fn consumer_remove(
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
}

/// Applies a heartbeat to a known member: its metadata and subscription,
/// the group epoch, the target assignment and its reconciliation.
pub(super) fn consumer_update(
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
        recs.push(g.partition_metadata_record());
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
