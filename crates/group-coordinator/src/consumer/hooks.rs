//! What the rest of the coordinator asks of consumer groups: the member
//! and epoch checks of
//! OffsetCommit and OffsetFetch, subscribed topics (offset expiry,
//! OffsetDelete), DeleteGroups, the periodic tick (session and rebalance
//! timeouts, cleanup of empty groups) and the replay of records at start.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use fjord_protocol::ErrorCode;

use super::group::{delete_records, replay};
use super::reconcile::MemberState;
use super::{records, CommitCheck, CLEANUP_INTERVAL_MS};
use crate::{Durable, GroupCoordinator};

impl GroupCoordinator {
    pub(super) fn classic_group_has_members(&self, group_id: &str) -> bool {
        self.groups
            .lock()
            .map(|gs| gs.get(group_id).is_some_and(|g| !g.members.is_empty()))
            .unwrap_or(false)
    }

    pub(super) fn touch_classic_group(&self, group_id: &str, now: i64) {
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

    /// OffsetCommit's member and epoch check for consumer groups.
    pub(crate) fn consumer_commit_check(
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
            // A classic member's epoch is its generation (Kafka answers it
            // as the classic protocol does).
            return CommitCheck::Reject(if m.meta.classic.is_some() {
                ErrorCode::IllegalGeneration
            } else {
                ErrorCode::StaleMemberEpoch
            });
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
    pub(crate) fn consumer_subscribed_topics(&self, group_id: &str) -> Option<HashSet<String>> {
        let groups = self.consumer.groups.lock().ok()?;
        let g = groups.get(group_id).filter(|g| !g.members.is_empty())?;
        Some(g.topics.keys().cloned().collect())
    }

    /// DeleteGroups: `Ok(None)` if not a consumer group, `Ok(Some(..))`
    /// once an empty one is deleted, NON_EMPTY_GROUP otherwise.
    pub(crate) fn consumer_delete(
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
    pub(crate) fn consumer_tick(
        &self,
        now: i64,
        durables: &mut Vec<crate::Durable>,
    ) -> HashMap<String, HashSet<String>> {
        let mut active = HashMap::new();
        let Ok(mut groups) = self.consumer.groups.lock() else {
            return active;
        };
        let mut shrunk = Vec::new();
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
                shrunk.push(g.id.clone());
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
        }
        for id in shrunk {
            if let Some(d) = self.consumer_maybe_downgrade(&mut groups, &id, now) {
                durables.push(Some(d));
            }
        }
        for g in groups.values() {
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
    /// Drops the consumer groups `gone` names (their partition moved to
    /// another coordinator).
    pub(crate) fn consumer_unload(&self, gone: impl Fn(&str) -> bool) -> usize {
        let Ok(mut groups) = self.consumer.groups.lock() else {
            return 0;
        };
        let before = groups.len();
        groups.retain(|id, _| !gone(id));
        before - groups.len()
    }

    pub(crate) fn consumer_load(&self, recs: Vec<(Bytes, Option<Bytes>)>, now: i64) {
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
}
