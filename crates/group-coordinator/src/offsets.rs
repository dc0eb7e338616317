//! Committed offsets: OffsetCommit, OffsetFetch and OffsetDelete for
//! classic and consumer groups, and their expiry
//! (`offsets.retention.minutes`). Each commit is appended to the group's
//! `__consumer_offsets` partition under the groups lock.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use fjord_protocol::ErrorCode;

use crate::{
    consumer, store, CommittedOffset, Durable, Group, GroupCoordinator, GroupState, OffsetToCommit,
    TopicOffsets,
};

impl GroupCoordinator {
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

    /// Expires offsets of Empty groups older than the retention, and
    /// removes groups left with nothing.
    pub(crate) fn expire_offsets(
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
}
