//! The two server-side assignors Kafka ships for KIP-848 groups.
//!
//! - `uniform` (the default): spreads all subscribed partitions so member
//!   counts differ by at most one where subscriptions allow it, and keeps
//!   every member's previous target partitions that it can (sticky).
//! - `range`: per topic, the members subscribed to it (by member id) get
//!   contiguous ranges, the first ones one extra partition; a member keeps
//!   previous partitions of a topic up to its share (sticky), so
//!   co-partitioned topics stay aligned.
//!
//! Both are deterministic: members are visited in member-id order and
//! partitions in (topic id, partition) order.

use std::collections::{BTreeMap, BTreeSet};

use fjord_protocol::Uuid;

use super::reconcile::Assignment;

pub const UNIFORM: &str = "uniform";
pub const RANGE: &str = "range";
/// Kafka's `group.consumer.assignors` default order: the first is the
/// default.
pub const ASSIGNORS: [&str; 2] = [UNIFORM, RANGE];

/// What an assignor knows about a member.
pub struct MemberSpec<'a> {
    pub id: &'a str,
    /// Topic ids the member is subscribed to (existing topics only).
    pub topics: BTreeSet<Uuid>,
    /// Its previous target assignment.
    pub previous: &'a Assignment,
}

/// Runs assignor `name` (one of [`ASSIGNORS`]; anything else is uniform).
/// `partitions` is the partition count of every subscribed topic.
pub fn assign(
    name: &str,
    members: &[MemberSpec<'_>],
    partitions: &BTreeMap<Uuid, i32>,
) -> BTreeMap<String, Assignment> {
    let mut sorted: Vec<&MemberSpec<'_>> = members.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(b.id));
    if name == RANGE {
        range(&sorted, partitions)
    } else {
        uniform(&sorted, partitions)
    }
}

fn count(a: &Assignment) -> usize {
    a.values().map(BTreeSet::len).sum()
}

fn uniform(
    members: &[&MemberSpec<'_>],
    partitions: &BTreeMap<Uuid, i32>,
) -> BTreeMap<String, Assignment> {
    let n = members.len();
    let mut out: Vec<Assignment> = vec![Assignment::new(); n];
    if n == 0 {
        return BTreeMap::new();
    }
    let mut taken: BTreeSet<(Uuid, i32)> = BTreeSet::new();
    // Sticky: keep what is still valid of the previous target.
    for (i, m) in members.iter().enumerate() {
        for (t, ps) in m.previous {
            if !m.topics.contains(t) {
                continue;
            }
            let Some(&np) = partitions.get(t) else {
                continue;
            };
            for p in ps {
                if *p >= 0 && *p < np && taken.insert((*t, *p)) {
                    out[i].entry(*t).or_default().insert(*p);
                }
            }
        }
    }
    // Topics with fewer subscribers are placed first: they have fewer
    // places to go.
    let subscribers = |t: &Uuid| members.iter().filter(|m| m.topics.contains(t)).count();
    let mut topics: Vec<Uuid> = partitions
        .keys()
        .filter(|t| subscribers(t) > 0)
        .copied()
        .collect();
    topics.sort_by_key(|t| (subscribers(t), *t));
    let mut counts: Vec<usize> = out.iter().map(count).collect();
    for t in &topics {
        let np = partitions.get(t).copied().unwrap_or(0);
        for p in 0..np {
            if taken.contains(&(*t, p)) {
                continue;
            }
            let best = (0..n)
                .filter(|&i| members[i].topics.contains(t))
                .min_by_key(|&i| (counts[i], i));
            if let Some(i) = best {
                out[i].entry(*t).or_default().insert(p);
                counts[i] += 1;
                taken.insert((*t, p));
            }
        }
    }
    // Balance: move partitions from the fullest members to the emptiest
    // ones that can take them until no move narrows the gap.
    let limit = taken.len() * n + 1;
    for _ in 0..limit {
        let mut moved = false;
        let mut by_load: Vec<usize> = (0..n).collect();
        by_load.sort_by_key(|&i| (std::cmp::Reverse(counts[i]), i));
        'outer: for &from in &by_load {
            let mut takers: Vec<usize> = (0..n).collect();
            takers.sort_by_key(|&i| (counts[i], i));
            for &to in &takers {
                if counts[from] <= counts[to] + 1 {
                    break;
                }
                // The highest partition of a topic both are subscribed to.
                let candidate = out[from]
                    .iter()
                    .rev()
                    .filter(|(t, _)| members[to].topics.contains(*t))
                    .find_map(|(t, ps)| ps.iter().next_back().map(|p| (*t, *p)));
                if let Some((t, p)) = candidate {
                    if let Some(ps) = out[from].get_mut(&t) {
                        ps.remove(&p);
                        if ps.is_empty() {
                            out[from].remove(&t);
                        }
                    }
                    out[to].entry(t).or_default().insert(p);
                    counts[from] -= 1;
                    counts[to] += 1;
                    moved = true;
                    break 'outer;
                }
            }
        }
        if !moved {
            break;
        }
    }
    members
        .iter()
        .zip(out)
        .map(|(m, a)| (m.id.to_string(), a))
        .collect()
}

fn range(
    members: &[&MemberSpec<'_>],
    partitions: &BTreeMap<Uuid, i32>,
) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = members
        .iter()
        .map(|m| (m.id.to_string(), Assignment::new()))
        .collect();
    for (t, &np) in partitions {
        let subs: Vec<&&MemberSpec<'_>> = members.iter().filter(|m| m.topics.contains(t)).collect();
        if subs.is_empty() || np <= 0 {
            continue;
        }
        let np = np as usize;
        let min = np / subs.len();
        let mut extra = np % subs.len();
        let mut assigned: Vec<BTreeSet<i32>> = vec![BTreeSet::new(); subs.len()];
        let mut has_extra = vec![false; subs.len()];
        let mut taken = vec![false; np];
        // Sticky: each member keeps its previous partitions up to its share.
        for (i, m) in subs.iter().enumerate() {
            let Some(prev) = m.previous.get(t) else {
                continue;
            };
            let valid: Vec<i32> = prev
                .iter()
                .copied()
                .filter(|p| *p >= 0 && (*p as usize) < np)
                .collect();
            let mut quota = min;
            if valid.len() > min && extra > 0 {
                quota += 1;
                extra -= 1;
                has_extra[i] = true;
            }
            for p in valid.into_iter().take(quota) {
                taken[p as usize] = true;
                assigned[i].insert(p);
            }
        }
        // The rest, in order, to members below their share.
        let mut free = (0..np).filter(|p| !taken[*p]);
        for i in 0..subs.len() {
            let mut quota = min;
            if has_extra[i] {
                quota += 1;
            } else if extra > 0 {
                quota += 1;
                extra -= 1;
            }
            while assigned[i].len() < quota {
                match free.next() {
                    Some(p) => {
                        assigned[i].insert(p as i32);
                    }
                    None => break,
                }
            }
        }
        for (m, ps) in subs.iter().zip(assigned) {
            if !ps.is_empty() {
                if let Some(a) = out.get_mut(m.id) {
                    a.insert(*t, ps);
                }
            }
        }
    }
    out
}
