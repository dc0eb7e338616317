//! What a replicated partition (cluster mode) knows about its replicas:
//! the replica set and in-sync replicas (ISR) of the committed metadata
//! image, and, while this broker leads it, each follower's log end offset
//! and when it was last caught up, learnt from its Fetch requests.
//!
//! The rules here are pure (no I/O) so they are unit tested alone:
//! the high watermark is the smallest log end offset among the ISR
//! ([`Replication::high_watermark`]); a follower is caught up when it
//! fetched from the leader's log end, or from where the log ended at its
//! previous fetch ([`Replication::record_fetch`], as Kafka's
//! `lastCaughtUpTimeMs`); an ISR member not caught up for
//! `replica.lag.time.max.ms` should leave the ISR, and a replica outside
//! it that reached the high watermark should join it.

use std::collections::HashMap;

/// A follower as its leader sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Follower {
    /// The offset of its last fetch: everything below is on its log.
    pub log_end: i64,
    /// When it was last known to hold everything the leader had.
    pub caught_up_ms: i64,
    /// The leader's log end at its previous fetch, and that fetch's time.
    last_fetch_leader_end: i64,
    last_fetch_ms: i64,
}

/// The replication state of one partition on this broker.
#[derive(Clone, Debug)]
pub struct Replication {
    /// This broker's id.
    pub local: i32,
    /// The leader the image names (-1: none).
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// The image's partition epoch (the guard of an ISR change).
    pub partition_epoch: i32,
    /// Followers by id (filled only while this broker leads).
    followers: HashMap<i32, Follower>,
    /// When this broker started leading under this state, so a follower
    /// that never fetched is given the whole lag window.
    since_ms: i64,
}

impl Replication {
    pub fn new(
        local: i32,
        leader: i32,
        replicas: Vec<i32>,
        isr: Vec<i32>,
        partition_epoch: i32,
        now_ms: i64,
    ) -> Replication {
        Replication {
            local,
            leader,
            replicas,
            isr,
            partition_epoch,
            followers: HashMap::new(),
            since_ms: now_ms,
        }
    }

    pub fn is_leader(&self) -> bool {
        self.leader == self.local
    }

    /// Takes the image's replica set and ISR (same leader epoch).
    pub fn update(&mut self, replicas: Vec<i32>, isr: Vec<i32>, partition_epoch: i32) {
        self.replicas = replicas;
        self.isr = isr;
        self.partition_epoch = partition_epoch;
    }

    pub fn follower(&self, id: i32) -> Option<Follower> {
        self.followers.get(&id).copied()
    }

    /// Records a follower's fetch from `fetch_offset` while the leader's
    /// log ends at `leader_end`.
    pub fn record_fetch(&mut self, id: i32, fetch_offset: i64, leader_end: i64, now_ms: i64) {
        let since = self.since_ms;
        let f = self.followers.entry(id).or_insert(Follower {
            log_end: -1,
            caught_up_ms: since,
            last_fetch_leader_end: -1,
            last_fetch_ms: since,
        });
        f.log_end = fetch_offset;
        if fetch_offset >= leader_end {
            f.caught_up_ms = now_ms;
        } else if fetch_offset >= f.last_fetch_leader_end && f.last_fetch_leader_end >= 0 {
            f.caught_up_ms = f.caught_up_ms.max(f.last_fetch_ms);
        }
        f.last_fetch_leader_end = leader_end;
        f.last_fetch_ms = now_ms;
    }

    /// The high watermark the ISR allows when this broker's own log is
    /// complete (durable) below `local_end`: the smallest log end offset
    /// among the ISR, this broker included; a member that has not
    /// fetched yet holds it at -1 (the caller never moves it back).
    pub fn high_watermark(&self, local_end: i64) -> i64 {
        self.isr
            .iter()
            .filter(|r| **r != self.local)
            .map(|r| self.followers.get(r).map_or(-1, |f| f.log_end))
            .fold(local_end, i64::min)
    }

    /// ISR members (not this broker) not caught up for `max_lag_ms`.
    pub fn lagging(&self, now_ms: i64, max_lag_ms: i64) -> Vec<i32> {
        self.isr
            .iter()
            .filter(|r| **r != self.local)
            .filter(|r| {
                let caught_up = self
                    .followers
                    .get(r)
                    .map_or(self.since_ms, |f| f.caught_up_ms);
                now_ms.saturating_sub(caught_up) > max_lag_ms
            })
            .copied()
            .collect()
    }

    /// Replicas outside the ISR whose log reached `high_watermark` (and
    /// this leader's first offset, `epoch_start`, so they hold this
    /// epoch's data): candidates to join the ISR.
    pub fn caught_up_outside_isr(&self, high_watermark: i64, epoch_start: i64) -> Vec<i32> {
        self.replicas
            .iter()
            .filter(|r| **r != self.local && !self.isr.contains(r))
            .filter(|r| {
                self.followers
                    .get(r)
                    .is_some_and(|f| f.log_end >= high_watermark && f.log_end >= epoch_start)
            })
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leader_of(isr: &[i32]) -> Replication {
        Replication::new(1, 1, vec![1, 2, 3], isr.to_vec(), 0, 1_000)
    }

    #[test]
    fn high_watermark_is_the_smallest_log_end_in_the_isr() {
        let mut r = leader_of(&[1, 2, 3]);
        // Nobody fetched yet: held back.
        assert_eq!(r.high_watermark(10), -1);
        r.record_fetch(2, 7, 10, 1_100);
        assert_eq!(r.high_watermark(10), -1);
        r.record_fetch(3, 9, 10, 1_100);
        assert_eq!(r.high_watermark(10), 7);
        // The leader's own durable end bounds it too.
        assert_eq!(r.high_watermark(5), 5);
        // A replica out of the ISR does not hold it back.
        r.update(vec![1, 2, 3], vec![1, 3], 1);
        assert_eq!(r.high_watermark(10), 9);
        r.update(vec![1, 2, 3], vec![1], 2);
        assert_eq!(r.high_watermark(10), 10);
    }

    #[test]
    fn a_follower_is_caught_up_at_the_log_end_or_at_the_previous_end() {
        let mut r = leader_of(&[1, 2]);
        r.record_fetch(2, 10, 10, 2_000);
        assert_eq!(r.follower(2).map(|f| f.caught_up_ms), Some(2_000));
        // Behind the current end but at the end of its previous fetch:
        // caught up as of that previous fetch.
        r.record_fetch(2, 10, 15, 3_000);
        assert_eq!(r.follower(2).map(|f| f.caught_up_ms), Some(2_000));
        r.record_fetch(2, 15, 20, 4_000);
        assert_eq!(r.follower(2).map(|f| f.caught_up_ms), Some(3_000));
        // Falling further behind keeps the old time.
        r.record_fetch(2, 16, 30, 5_000);
        assert_eq!(r.follower(2).map(|f| f.caught_up_ms), Some(3_000));
    }

    #[test]
    fn lagging_members_and_isr_candidates() {
        let mut r = leader_of(&[1, 2]);
        // A follower that never fetched has the window from the start.
        assert!(r.lagging(30_000, 30_000).is_empty());
        assert_eq!(r.lagging(31_001, 30_000), vec![2]);
        r.record_fetch(2, 5, 5, 31_000);
        assert!(r.lagging(31_001, 30_000).is_empty());
        // Replica 3 is outside the ISR: it joins once at the HW and at or
        // past the leader's epoch start.
        assert!(r.caught_up_outside_isr(5, 0).is_empty());
        r.record_fetch(3, 4, 5, 31_000);
        assert!(r.caught_up_outside_isr(5, 0).is_empty());
        r.record_fetch(3, 5, 5, 31_100);
        assert_eq!(r.caught_up_outside_isr(5, 0), vec![3]);
        assert!(r.caught_up_outside_isr(5, 6).is_empty());
    }
}
