//! Transactional offset commits (TxnOffsetCommit), as Kafka stores them:
//! the offsets are appended to the group's `__consumer_offsets` partition
//! at once, in a transactional batch carrying the producer id and epoch,
//! and held as pending; the transaction's COMMIT marker on that partition
//! applies them (OffsetFetch sees them from then on), an ABORT marker
//! drops them. Replay at start does the same, so offsets of a transaction
//! that never completed stay invisible until the transaction coordinator
//! aborts or completes it.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use fjord_protocol::records::{
    control_batch, parse_end_txn_marker, BatchBuilder, BatchHeader, ControlType,
};
use fjord_protocol::ErrorCode;

use super::{store, CommittedOffset, Durable, Group, GroupCoordinator, GroupState, OffsetToCommit};

struct PendingOffset {
    /// The `__consumer_offsets` partition it was written to.
    log_partition: i32,
    group: String,
    topic: String,
    partition: i32,
    offset: CommittedOffset,
}

/// Offsets written by open transactions, by producer id.
#[derive(Default)]
pub struct PendingTxnOffsets {
    by_producer: HashMap<i64, Vec<PendingOffset>>,
}

impl PendingTxnOffsets {
    /// Forgets the open transactions' offsets written to `log_partition`
    /// (its coordinator moved to another broker).
    pub(crate) fn drop_partition(&mut self, log_partition: i32) {
        for list in self.by_producer.values_mut() {
            list.retain(|o| o.log_partition != log_partition);
        }
        self.by_producer.retain(|_, l| !l.is_empty());
    }

    fn complete(
        &mut self,
        groups: &mut HashMap<String, Group>,
        log_partition: i32,
        producer_id: i64,
        commit: bool,
    ) {
        let Some(list) = self.by_producer.remove(&producer_id) else {
            return;
        };
        let (mine, rest): (Vec<_>, Vec<_>) = list
            .into_iter()
            .partition(|o| o.log_partition == log_partition);
        if !rest.is_empty() {
            self.by_producer.insert(producer_id, rest);
        }
        if !commit {
            return;
        }
        for o in mine {
            let g = groups
                .entry(o.group.clone())
                .or_insert_with(|| Group::new(&o.group, o.offset.commit_timestamp));
            g.offsets.insert((o.topic, o.partition), o.offset);
        }
    }
}

/// Keeps the offsets partition's producer state (its last stable offset)
/// in step with the transactional batches and markers written here.
fn record_producer_state(p: &fjord_partition::Partition, appended: &[u8]) {
    if let Ok(mut states) = p.producers.lock() {
        for (h, raw) in fjord_protocol::records::BatchIter::new(appended).flatten() {
            states.record_batch(&h, raw);
        }
    }
}

impl GroupCoordinator {
    /// TxnOffsetCommit: validates the member (when given) and writes the
    /// offsets as a transactional batch; one error per entry.
    #[allow(clippy::too_many_arguments)]
    pub fn txn_commit_offsets(
        &self,
        group_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        offsets: &[OffsetToCommit],
        now: i64,
    ) -> (Vec<ErrorCode>, Durable) {
        let all = |code| (offsets.iter().map(|_| code).collect::<Vec<_>>(), None);
        let consumer = match self.consumer_commit_check(group_id, member_id, generation) {
            super::consumer::CommitCheck::Reject(code) => return all(code),
            check => check == super::consumer::CommitCheck::Accept,
        };
        let Ok(groups) = self.groups.lock() else {
            return all(ErrorCode::CoordinatorNotAvailable);
        };
        if let Some(g) = groups.get(group_id) {
            let validation = if g.state == GroupState::Dead {
                Some(ErrorCode::CoordinatorNotAvailable)
            } else if consumer || (generation < 0 && member_id.is_empty()) {
                None
            } else if g.is_static_member_fenced(instance_id, member_id) {
                Some(ErrorCode::FencedInstanceId)
            } else if !g.has(member_id) {
                Some(ErrorCode::UnknownMemberId)
            } else if generation != g.generation {
                Some(ErrorCode::IllegalGeneration)
            } else {
                None
            };
            if let Some(code) = validation {
                return all(code);
            }
        }
        let p = match self.offsets_partition(group_id) {
            Ok(Some(p)) => p,
            Ok(None) => return all(ErrorCode::CoordinatorNotAvailable),
            Err(code) => return all(code),
        };
        let mut errors = Vec::with_capacity(offsets.len());
        let mut b = BatchBuilder::default()
            .producer(producer_id, producer_epoch, -1)
            .transactional(true);
        let mut accepted = Vec::new();
        for o in offsets {
            let meta = o.metadata.clone().unwrap_or_default();
            if meta.len() > self.config.offset_metadata_max_bytes {
                errors.push(ErrorCode::OffsetMetadataTooLarge);
                continue;
            }
            let key = store::offset_key(group_id, &o.topic, o.partition);
            let value = store::offset_value(o.offset, o.leader_epoch, &meta, now);
            if b.append(now, Some(&key), Some(&value), &[]).is_err() {
                errors.push(ErrorCode::UnknownServerError);
                continue;
            }
            errors.push(ErrorCode::None);
            accepted.push(PendingOffset {
                log_partition: p.index,
                group: group_id.to_string(),
                topic: o.topic.clone(),
                partition: o.partition,
                offset: CommittedOffset {
                    offset: o.offset,
                    leader_epoch: o.leader_epoch,
                    metadata: meta,
                    commit_timestamp: now,
                },
            });
        }
        if accepted.is_empty() {
            return (errors, None);
        }
        let fail = |mut errors: Vec<ErrorCode>, code| {
            for e in errors.iter_mut() {
                if *e == ErrorCode::None {
                    *e = code;
                }
            }
            (errors, None)
        };
        let Ok(batch) = b.build() else {
            return fail(errors, ErrorCode::UnknownServerError);
        };
        let mut buf = BytesMut::from(&batch[..]);
        match p.log.append(&mut buf, p.leader_epoch, now) {
            Ok(info) => {
                record_producer_state(&p, &buf);
                if let Ok(mut pending) = self.txn_offsets.lock() {
                    pending
                        .by_producer
                        .entry(producer_id)
                        .or_default()
                        .extend(accepted);
                }
                (errors, Some((p.clone(), info.last_offset + 1)))
            }
            Err(e) => {
                tracing::error!(group = group_id, error = %e, "appending to __consumer_offsets failed");
                fail(errors, fjord_protocol::ErrorCode::from(&e))
            }
        }
    }

    /// Writes a transaction marker to `__consumer_offsets` partition
    /// `log_partition` and applies (commit) or drops (abort) the
    /// producer's pending offsets there.
    pub fn write_txn_marker(
        &self,
        log_partition: i32,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        commit: bool,
        now: i64,
    ) -> Result<Durable, ErrorCode> {
        let mut groups = self
            .groups
            .lock()
            .map_err(|_| ErrorCode::CoordinatorNotAvailable)?;
        let p = self
            .partitions
            .read()
            .ok()
            .and_then(|ps| ps.get(log_partition));
        let durable = match p {
            Some(p) => {
                let kind = if commit {
                    ControlType::Commit
                } else {
                    ControlType::Abort
                };
                let batch = control_batch(
                    kind,
                    producer_id,
                    producer_epoch,
                    coordinator_epoch,
                    now,
                    p.leader_epoch,
                );
                let mut buf = BytesMut::from(&batch[..]);
                let info = p
                    .log
                    .append(&mut buf, p.leader_epoch, now)
                    .map_err(|e| fjord_protocol::ErrorCode::from(&e))?;
                record_producer_state(&p, &buf);
                Some((p.clone(), info.last_offset + 1))
            }
            None => None,
        };
        if let Ok(mut pending) = self.txn_offsets.lock() {
            pending.complete(&mut groups, log_partition, producer_id, commit);
        }
        Ok(durable)
    }

    /// Replays one transactional batch of `__consumer_offsets` partition
    /// `log_partition` (called by `load`).
    pub(super) fn replay_txn_batch(
        &self,
        groups: &mut HashMap<String, Group>,
        log_partition: i32,
        h: &BatchHeader,
        batch: &Bytes,
    ) {
        let Ok(mut pending) = self.txn_offsets.lock() else {
            return;
        };
        let Ok(recs) = fjord_protocol::records::records(batch, 64 << 20) else {
            return;
        };
        if h.is_control() {
            if let Some(m) = recs
                .flatten()
                .next()
                .and_then(|r| parse_end_txn_marker(&r).ok())
            {
                let commit = m.control_type == ControlType::Commit;
                pending.complete(groups, log_partition, h.producer_id, commit);
            }
            return;
        }
        for rec in recs.flatten() {
            let Some(key) = &rec.key else { continue };
            if let Some(store::Entry::Offset {
                group,
                topic,
                partition,
                value: Some(v),
            }) = store::decode_entry(key, rec.value.as_ref())
            {
                pending
                    .by_producer
                    .entry(h.producer_id)
                    .or_default()
                    .push(PendingOffset {
                        log_partition,
                        group,
                        topic,
                        partition,
                        offset: CommittedOffset {
                            offset: v.offset,
                            leader_epoch: v.leader_epoch,
                            metadata: v.metadata,
                            commit_timestamp: v.commit_timestamp,
                        },
                    });
            }
        }
    }

    /// Whether an open transaction holds offsets for this partition of
    /// the group (OffsetFetch's UNSTABLE_OFFSET_COMMIT).
    pub fn has_pending_txn_offset(&self, group_id: &str, topic: &str, partition: i32) -> bool {
        self.txn_offsets.lock().is_ok_and(|p| {
            p.by_producer
                .values()
                .flatten()
                .any(|o| o.group == group_id && o.topic == topic && o.partition == partition)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::OFFSETS_TOPIC;
    use fjord_partition::Partition;

    const T0: i64 = 1_000_000;

    fn offset(partition: i32, offset: i64) -> OffsetToCommit {
        OffsetToCommit {
            topic: "in".into(),
            partition,
            offset,
            leader_epoch: -1,
            metadata: None,
        }
    }

    fn committed(c: &GroupCoordinator, group: &str, partition: i32) -> Option<i64> {
        let found = c
            .fetch_offsets(group, Some(&[("in".to_string(), vec![partition])]))
            .ok()?;
        found.first()?.1.first()?.1.as_ref().map(|o| o.offset)
    }

    #[test]
    fn offsets_apply_on_commit_only_and_replay() {
        let dir = std::env::temp_dir().join(format!("fjord-txn-offsets-{}", rand::random::<u64>()));
        let open = || {
            let log = fjord_storage::Log::open(&dir, fjord_storage::LogConfig::default()).unwrap();
            vec![Arc::new(Partition::new(OFFSETS_TOPIC, 0, Arc::new(log), 0))]
        };
        {
            let c = GroupCoordinator::new();
            c.load(open(), T0);
            // Producer 7 commits offsets in a transaction it aborts.
            let (errs, _) = c.txn_commit_offsets("g", 7, 0, -1, "", None, &[offset(0, 10)], T0);
            assert_eq!(errs, vec![ErrorCode::None]);
            assert!(c.has_pending_txn_offset("g", "in", 0));
            assert_eq!(committed(&c, "g", 0), None);
            c.write_txn_marker(0, 7, 1, 0, false, T0).unwrap();
            assert!(!c.has_pending_txn_offset("g", "in", 0));
            assert_eq!(committed(&c, "g", 0), None);
            // Producer 8 commits.
            c.txn_commit_offsets("g", 8, 0, -1, "", None, &[offset(0, 20)], T0);
            let d = c.write_txn_marker(0, 8, 0, 0, true, T0).unwrap();
            assert_eq!(committed(&c, "g", 0), Some(20));
            // Producer 9 leaves offsets without a marker (a crash).
            let (_, d9) = c.txn_commit_offsets("g", 9, 0, -1, "", None, &[offset(1, 30)], T0);
            let (p, next) = d9.or(d).expect("appended");
            // The partition's last stable offset waits for producer 9.
            assert!(p
                .producers
                .lock()
                .unwrap()
                .first_unstable_offset()
                .is_some());
            p.log.sync_to(next).unwrap();
            p.close().unwrap();
        }
        let c = GroupCoordinator::new();
        c.load(open(), T0);
        assert_eq!(committed(&c, "g", 0), Some(20));
        assert_eq!(committed(&c, "g", 1), None);
        assert!(c.has_pending_txn_offset("g", "in", 1));
        // The transaction coordinator's recovery commits it.
        c.write_txn_marker(0, 9, 0, 1, true, T0).unwrap();
        assert_eq!(committed(&c, "g", 1), Some(30));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
