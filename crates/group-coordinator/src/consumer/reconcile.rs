//! The reconciliation state machine of KIP-848: moves one member's current
//! assignment towards its target assignment without ever letting two
//! members own a partition at the same time.
//!
//! A member's current assignment is what it may consume now. When the
//! target takes partitions away, the member first keeps only what it keeps
//! (`UnrevokedPartitions`, same epoch) and must report, in a later
//! heartbeat's owned partitions, that it let the others go; only then does
//! it move to the target epoch. Partitions the target adds are handed over
//! only once no other member holds them (`UnreleasedPartitions` while some
//! are still held elsewhere).

use std::collections::{BTreeMap, BTreeSet};

use fjord_protocol::Uuid;

/// Partitions by topic id.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// Kafka's `MemberState`, with the byte values of its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberState {
    /// Reconciled with the target of its epoch.
    Stable,
    /// Must revoke `pending_revocation` before it can move on.
    UnrevokedPartitions,
    /// At the target epoch, waiting for partitions others still own.
    UnreleasedPartitions,
    /// A state written by a newer version: reconciled from scratch.
    Unknown,
}

impl MemberState {
    pub fn value(self) -> i8 {
        match self {
            MemberState::Stable => 0,
            MemberState::UnrevokedPartitions => 1,
            MemberState::UnreleasedPartitions => 2,
            MemberState::Unknown => 127,
        }
    }

    pub fn from_value(v: i8) -> MemberState {
        match v {
            0 => MemberState::Stable,
            1 => MemberState::UnrevokedPartitions,
            2 => MemberState::UnreleasedPartitions,
            _ => MemberState::Unknown,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MemberState::Stable => "stable",
            MemberState::UnrevokedPartitions => "unrevoked_partitions",
            MemberState::UnreleasedPartitions => "unreleased_partitions",
            MemberState::Unknown => "unknown",
        }
    }
}

/// The part of a member the state machine reads and writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reconciled {
    pub state: MemberState,
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    /// What the member may consume now (sent to it).
    pub assigned: Assignment,
    /// What it must give up before it can move on.
    pub pending_revocation: Assignment,
}

impl Reconciled {
    pub fn new_member() -> Reconciled {
        Reconciled {
            state: MemberState::Stable,
            member_epoch: 0,
            previous_member_epoch: -1,
            assigned: Assignment::new(),
            pending_revocation: Assignment::new(),
        }
    }

    fn with_epoch(&self, epoch: i32) -> (i32, i32) {
        if epoch == self.member_epoch {
            (self.member_epoch, self.previous_member_epoch)
        } else {
            (epoch, self.member_epoch)
        }
    }
}

/// Whether `owned` (the member's report; `None` = not sent, so unknown)
/// still contains any of `revoking`.
pub fn owns_any(owned: Option<&Assignment>, revoking: &Assignment) -> bool {
    let Some(owned) = owned else {
        return true;
    };
    owned.iter().any(|(t, ps)| {
        revoking
            .get(t)
            .is_some_and(|r| ps.iter().any(|p| r.contains(p)))
    })
}

/// Whether every partition of `a` is in `b`.
pub fn is_subset(a: &Assignment, b: &Assignment) -> bool {
    a.iter().all(|(t, ps)| {
        ps.is_empty() || b.get(t).is_some_and(|bs| ps.iter().all(|p| bs.contains(p)))
    })
}

/// Drops empty topic entries so equal assignments compare equal.
pub fn normalize(mut a: Assignment) -> Assignment {
    a.retain(|_, ps| !ps.is_empty());
    a
}

/// One step of reconciliation. `held_elsewhere(topic, partition)` says
/// whether another member still owns (or is revoking) a partition.
pub fn reconcile(
    current: &Reconciled,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    held_elsewhere: &dyn Fn(&Uuid, i32) -> bool,
) -> Reconciled {
    match current.state {
        MemberState::Stable => {
            if current.member_epoch == target_epoch {
                current.clone()
            } else {
                next_assignment(current, target_epoch, target, owned, held_elsewhere)
            }
        }
        MemberState::UnrevokedPartitions => {
            if owns_any(owned, &current.pending_revocation) {
                current.clone()
            } else {
                next_assignment(current, target_epoch, target, owned, held_elsewhere)
            }
        }
        MemberState::UnreleasedPartitions => {
            next_assignment(current, target_epoch, target, owned, held_elsewhere)
        }
        MemberState::Unknown => {
            let from_scratch = Reconciled {
                state: MemberState::Stable,
                pending_revocation: Assignment::new(),
                ..current.clone()
            };
            next_assignment(&from_scratch, target_epoch, target, owned, held_elsewhere)
        }
    }
}

fn next_assignment(
    current: &Reconciled,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    held_elsewhere: &dyn Fn(&Uuid, i32) -> bool,
) -> Reconciled {
    let mut kept = Assignment::new();
    let mut revoking = Assignment::new();
    let mut adding = Assignment::new();
    let mut unreleased = false;
    let topics: BTreeSet<Uuid> = target
        .keys()
        .chain(current.assigned.keys())
        .copied()
        .collect();
    let empty = BTreeSet::new();
    for t in topics {
        let want = target.get(&t).unwrap_or(&empty);
        let have = current.assigned.get(&t).unwrap_or(&empty);
        let keep: BTreeSet<i32> = have.intersection(want).copied().collect();
        let revoke: BTreeSet<i32> = have.difference(want).copied().collect();
        let mut add = BTreeSet::new();
        for p in want.difference(have) {
            if held_elsewhere(&t, *p) {
                unreleased = true;
            } else {
                add.insert(*p);
            }
        }
        if !keep.is_empty() {
            kept.insert(t, keep);
        }
        if !revoke.is_empty() {
            revoking.insert(t, revoke);
        }
        if !add.is_empty() {
            adding.insert(t, add);
        }
    }
    if !revoking.is_empty() && owns_any(owned, &revoking) {
        // Give up first, in the current epoch.
        let (member_epoch, previous_member_epoch) = current.with_epoch(current.member_epoch);
        return Reconciled {
            state: MemberState::UnrevokedPartitions,
            member_epoch,
            previous_member_epoch,
            assigned: kept,
            pending_revocation: revoking,
        };
    }
    for (t, ps) in adding {
        kept.entry(t).or_default().extend(ps);
    }
    let (member_epoch, previous_member_epoch) = current.with_epoch(target_epoch);
    Reconciled {
        state: if unreleased {
            MemberState::UnreleasedPartitions
        } else {
            MemberState::Stable
        },
        member_epoch,
        previous_member_epoch,
        assigned: kept,
        pending_revocation: Assignment::new(),
    }
}
