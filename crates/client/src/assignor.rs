//! The partition assignors a classic group leader runs, by Kafka's names:
//! `range`, `roundrobin`, `sticky` and `cooperative-sticky` (KIP-429).
//!
//! Every assignor gets each member's subscription: its topics, and (from
//! ConsumerProtocolSubscription v1 on) the partitions it owns and the
//! generation it owned them in. `range` and `roundrobin` ignore what is
//! owned. `sticky` keeps every owned partition it can while balancing the
//! counts (no two members differ by more than one partition where their
//! subscriptions allow). `cooperative-sticky` computes the same plan, then
//! holds back each partition that moves from one member to another: the
//! owner's assignment no longer has it, so the owner revokes it and
//! rejoins, and the next round (where nobody owns it) gives it to its new
//! member. Partitions that do not move are never revoked.
//!
//! Members are ordered by group instance id when static (so a static
//! member that comes back under a new member id keeps its place), else by
//! member id.

use std::collections::{BTreeMap, BTreeSet};

/// One member's subscription as the leader sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberSubscription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub topics: Vec<String>,
    /// Partitions the member owns (topic, partition).
    pub owned: Vec<(String, i32)>,
    /// The generation the member owned them in (-1: unknown).
    pub generation: i32,
}

impl MemberSubscription {
    /// The key members are ordered by: static members first, by instance id.
    fn order_key(&self) -> String {
        match &self.group_instance_id {
            Some(i) => format!("0:{i}"),
            None => format!("1:{}", self.member_id),
        }
    }
}

/// The rebalance protocol an assignor implies (KIP-429).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RebalanceProtocol {
    /// Every member gives up all its partitions before joining.
    Eager,
    /// Members keep their partitions while joining and give up only those
    /// that move.
    Cooperative,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Assignor {
    #[default]
    Range,
    RoundRobin,
    Sticky,
    CooperativeSticky,
}

impl Assignor {
    /// The protocol name in JoinGroup (Kafka's assignor names).
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::Sticky => "sticky",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }

    pub fn from_name(name: &str) -> Option<Assignor> {
        [
            Assignor::Range,
            Assignor::RoundRobin,
            Assignor::Sticky,
            Assignor::CooperativeSticky,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }

    pub fn protocol(self) -> RebalanceProtocol {
        match self {
            Assignor::CooperativeSticky => RebalanceProtocol::Cooperative,
            _ => RebalanceProtocol::Eager,
        }
    }

    /// Each member's partitions (by member id; every member gets an
    /// entry), for `partitions`: topic → partition count.
    pub fn assign(
        self,
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Vec<(String, Vec<i32>)>> {
        let plan = match self {
            Assignor::Range => range(members, partitions),
            Assignor::RoundRobin => round_robin(members, partitions),
            Assignor::Sticky => sticky(members, partitions),
            Assignor::CooperativeSticky => cooperative(members, sticky(members, partitions)),
        };
        let mut out: BTreeMap<String, Vec<(String, Vec<i32>)>> = members
            .iter()
            .map(|m| (m.member_id.clone(), Vec::new()))
            .collect();
        for (member, list) in plan {
            let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for (t, p) in list {
                by_topic.entry(t).or_default().push(p);
            }
            let entry = out.entry(member).or_default();
            for (t, mut ps) in by_topic {
                ps.sort_unstable();
                ps.dedup();
                entry.push((t, ps));
            }
        }
        out
    }
}

type Plan = BTreeMap<String, Vec<(String, i32)>>;

/// Members in assignor order.
fn ordered(members: &[MemberSubscription]) -> Vec<&MemberSubscription> {
    let mut v: Vec<&MemberSubscription> = members.iter().collect();
    v.sort_by_key(|m| m.order_key());
    v
}

fn subscribed(m: &MemberSubscription, topic: &str) -> bool {
    m.topics.iter().any(|t| t == topic)
}

/// Per topic, the subscribed members in order each take a contiguous run,
/// the first ones one more when the count does not divide evenly.
fn range(members: &[MemberSubscription], partitions: &BTreeMap<String, i32>) -> Plan {
    let mut plan = Plan::new();
    for (topic, &count) in partitions {
        let subs: Vec<&MemberSubscription> = ordered(members)
            .into_iter()
            .filter(|m| subscribed(m, topic))
            .collect();
        if subs.is_empty() || count <= 0 {
            continue;
        }
        let n = subs.len() as i32;
        let (each, extra) = (count / n, count % n);
        let mut next = 0;
        for (i, m) in subs.iter().enumerate() {
            let take = each + i32::from((i as i32) < extra);
            let list = plan.entry(m.member_id.clone()).or_default();
            list.extend((next..next + take).map(|p| (topic.clone(), p)));
            next += take;
        }
    }
    plan
}

/// Every partition (topics in name order) to the next member in a circle
/// that is subscribed to its topic.
fn round_robin(members: &[MemberSubscription], partitions: &BTreeMap<String, i32>) -> Plan {
    let order = ordered(members);
    let mut plan = Plan::new();
    if order.is_empty() {
        return plan;
    }
    let mut next = 0usize;
    for (topic, &count) in partitions {
        if !order.iter().any(|m| subscribed(m, topic)) {
            continue;
        }
        for p in 0..count.max(0) {
            while !subscribed(order[next % order.len()], topic) {
                next += 1;
            }
            let m = order[next % order.len()];
            plan.entry(m.member_id.clone())
                .or_default()
                .push((topic.clone(), p));
            next += 1;
        }
    }
    plan
}

/// Who owns what, keeping one owner per partition: the claim of the
/// highest generation wins (a member that missed a rebalance still lists
/// partitions it lost), and only partitions that exist and that the
/// member still subscribes to count.
fn valid_owners(
    members: &[MemberSubscription],
    partitions: &BTreeMap<String, i32>,
) -> BTreeMap<(String, i32), String> {
    let mut owner: BTreeMap<(String, i32), (i32, String)> = BTreeMap::new();
    for m in ordered(members) {
        for (t, p) in &m.owned {
            let exists = partitions.get(t).is_some_and(|&n| (0..n).contains(p));
            if !exists || !subscribed(m, t) {
                continue;
            }
            let key = (t.clone(), *p);
            let better = owner.get(&key).is_none_or(|(g, _)| m.generation > *g);
            if better {
                owner.insert(key, (m.generation, m.member_id.clone()));
            }
        }
    }
    owner.into_iter().map(|(k, (_, m))| (k, m)).collect()
}

/// Keep what is owned, give out the rest to the least loaded subscribed
/// member, then move partitions from the most to the least loaded member
/// until no two that could trade differ by more than one.
fn sticky(members: &[MemberSubscription], partitions: &BTreeMap<String, i32>) -> Plan {
    let order = ordered(members);
    let mut plan: BTreeMap<String, BTreeSet<(String, i32)>> = order
        .iter()
        .map(|m| (m.member_id.clone(), BTreeSet::new()))
        .collect();
    if order.is_empty() {
        return Plan::new();
    }
    let owners = valid_owners(members, partitions);
    for (tp, m) in &owners {
        if let Some(set) = plan.get_mut(m) {
            set.insert(tp.clone());
        }
    }
    let by_id: BTreeMap<&str, &MemberSubscription> =
        order.iter().map(|m| (m.member_id.as_str(), *m)).collect();
    // Least loaded first; ties in member order.
    let rank: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, m)| (m.member_id.as_str(), i))
        .collect();
    for (topic, &count) in partitions {
        for p in 0..count.max(0) {
            let tp = (topic.clone(), p);
            if owners.contains_key(&tp) {
                continue;
            }
            let target = order
                .iter()
                .filter(|m| subscribed(m, topic))
                .min_by_key(|m| (plan[&m.member_id].len(), rank[m.member_id.as_str()]));
            if let Some(m) = target {
                if let Some(set) = plan.get_mut(&m.member_id) {
                    set.insert(tp);
                }
            }
        }
    }
    // Balance: bounded by the partition count times the member count.
    let total: usize = plan.values().map(BTreeSet::len).sum();
    for _ in 0..total.saturating_mul(order.len()).max(1) {
        match find_move(&plan, &by_id, &rank) {
            Some((from, to, tp)) => {
                if let Some(set) = plan.get_mut(&from) {
                    set.remove(&tp);
                }
                if let Some(set) = plan.get_mut(&to) {
                    set.insert(tp);
                }
            }
            None => break,
        }
    }
    plan.into_iter()
        .map(|(m, set)| (m, set.into_iter().collect()))
        .collect()
}

/// One partition to move from a member to another that has at least two
/// fewer and is subscribed to its topic: the most loaded member gives its
/// last such partition to the least loaded one.
fn find_move(
    plan: &BTreeMap<String, BTreeSet<(String, i32)>>,
    by_id: &BTreeMap<&str, &MemberSubscription>,
    rank: &BTreeMap<&str, usize>,
) -> Option<(String, String, (String, i32))> {
    let load = |m: &str| plan.get(m).map_or(0, BTreeSet::len);
    let order = |m: &str| rank.get(m).copied().unwrap_or(usize::MAX);
    let mut heavy: Vec<&str> = plan.keys().map(String::as_str).collect();
    heavy.sort_by_key(|m| (std::cmp::Reverse(load(m)), order(m)));
    let mut light = heavy.clone();
    light.sort_by_key(|m| (load(m), order(m)));
    for h in &heavy {
        for l in &light {
            if load(l) + 1 >= load(h) {
                break;
            }
            let Some(taker) = by_id.get(l) else {
                continue;
            };
            let candidate = plan
                .get(*h)
                .and_then(|set| set.iter().rev().find(|(t, _)| subscribed(taker, t)));
            if let Some(tp) = candidate {
                return Some((h.to_string(), l.to_string(), tp.clone()));
            }
        }
    }
    None
}

/// KIP-429's first round: a partition that moves to a member other than
/// its owner is given to nobody until the owner has revoked it.
fn cooperative(members: &[MemberSubscription], plan: Plan) -> Plan {
    let mut owner: BTreeMap<(String, i32), &str> = BTreeMap::new();
    for m in ordered(members) {
        for tp in &m.owned {
            owner.entry(tp.clone()).or_insert(m.member_id.as_str());
        }
    }
    plan.into_iter()
        .map(|(m, list)| {
            let kept = list
                .into_iter()
                .filter(|tp| owner.get(tp).is_none_or(|o| *o == m))
                .collect();
            (m, kept)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[&str], owned: &[(&str, i32)]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.into(),
            group_instance_id: None,
            topics: topics.iter().map(|t| t.to_string()).collect(),
            owned: owned.iter().map(|(t, p)| (t.to_string(), *p)).collect(),
            generation: 1,
        }
    }

    fn counts(list: &[(&str, i32)]) -> BTreeMap<String, i32> {
        list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn flat(plan: &BTreeMap<String, Vec<(String, Vec<i32>)>>, m: &str) -> Vec<(String, i32)> {
        plan[m]
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
            .collect()
    }

    #[test]
    fn range_splits_contiguously_with_the_remainder_first() {
        let ms = [
            member("m2", &["a", "b"], &[]),
            member("m1", &["a", "b"], &[]),
        ];
        let plan = Assignor::Range.assign(&ms, &counts(&[("a", 5), ("b", 1)]));
        assert_eq!(
            plan["m1"],
            vec![("a".into(), vec![0, 1, 2]), ("b".into(), vec![0])]
        );
        assert_eq!(plan["m2"], vec![("a".into(), vec![3, 4])]);
        let ms = [member("m1", &["a"], &[]), member("m3", &["zzz"], &[])];
        let plan = Assignor::Range.assign(&ms, &counts(&[("a", 5)]));
        assert_eq!(plan["m1"], vec![("a".into(), vec![0, 1, 2, 3, 4])]);
        assert!(plan["m3"].is_empty());
    }

    #[test]
    fn static_members_are_ordered_by_instance_id() {
        let mut a = member("zz-new-id", &["t"], &[]);
        a.group_instance_id = Some("inst-a".into());
        let b = member("aa", &["t"], &[]);
        let plan = Assignor::Range.assign(&[b, a], &counts(&[("t", 4)]));
        assert_eq!(plan["zz-new-id"], vec![("t".into(), vec![0, 1])]);
    }

    #[test]
    fn round_robin_deals_partitions_in_a_circle() {
        let ms = [member("a", &["x", "y"], &[]), member("b", &["x", "y"], &[])];
        let plan = Assignor::RoundRobin.assign(&ms, &counts(&[("x", 3), ("y", 2)]));
        assert_eq!(
            plan["a"],
            vec![("x".into(), vec![0, 2]), ("y".into(), vec![1])]
        );
        assert_eq!(
            plan["b"],
            vec![("x".into(), vec![1]), ("y".into(), vec![0])]
        );
    }

    #[test]
    fn sticky_keeps_owned_partitions_and_balances() {
        // a owned all six; b joins: a keeps three of its own, b gets three.
        let owned: Vec<(&str, i32)> = (0..6).map(|p| ("t", p)).collect();
        let ms = [member("a", &["t"], &owned), member("b", &["t"], &[])];
        let plan = Assignor::Sticky.assign(&ms, &counts(&[("t", 6)]));
        assert_eq!(flat(&plan, "a").len(), 3);
        assert_eq!(flat(&plan, "b").len(), 3);
        // A third member takes two, one from each, and nothing else moves.
        let a_had = flat(&plan, "a");
        let b_had = flat(&plan, "b");
        let a_owned: Vec<(&str, i32)> = a_had.iter().map(|(t, p)| (t.as_str(), *p)).collect();
        let b_owned: Vec<(&str, i32)> = b_had.iter().map(|(t, p)| (t.as_str(), *p)).collect();
        let ms = [
            member("a", &["t"], &a_owned),
            member("b", &["t"], &b_owned),
            member("c", &["t"], &[]),
        ];
        let plan = Assignor::Sticky.assign(&ms, &counts(&[("t", 6)]));
        for m in ["a", "b", "c"] {
            assert_eq!(flat(&plan, m).len(), 2, "{m}: {plan:?}");
        }
        assert!(flat(&plan, "a").iter().all(|tp| a_had.contains(tp)));
        assert!(flat(&plan, "b").iter().all(|tp| b_had.contains(tp)));
    }

    #[test]
    fn sticky_resolves_double_claims_by_generation() {
        let mut stale = member("a", &["t"], &[("t", 0), ("t", 1)]);
        stale.generation = 1;
        let mut fresh = member("b", &["t"], &[("t", 1)]);
        fresh.generation = 2;
        let plan = Assignor::Sticky.assign(&[stale, fresh], &counts(&[("t", 2)]));
        assert_eq!(flat(&plan, "a"), vec![("t".to_string(), 0)]);
        assert_eq!(flat(&plan, "b"), vec![("t".to_string(), 1)]);
    }

    #[test]
    fn cooperative_holds_back_moving_partitions_for_a_second_round() {
        let owned: Vec<(&str, i32)> = (0..4).map(|p| ("t", p)).collect();
        // Round one: b joins; a keeps two, the two that move go to nobody.
        let ms = [member("a", &["t"], &owned), member("b", &["t"], &[])];
        let plan = Assignor::CooperativeSticky.assign(&ms, &counts(&[("t", 4)]));
        let kept = flat(&plan, "a");
        assert_eq!(kept.len(), 2);
        assert!(flat(&plan, "b").is_empty(), "{plan:?}");
        // Round two: a has revoked them; b gets exactly those.
        let kept_ref: Vec<(&str, i32)> = kept.iter().map(|(t, p)| (t.as_str(), *p)).collect();
        let ms = [member("a", &["t"], &kept_ref), member("b", &["t"], &[])];
        let plan = Assignor::CooperativeSticky.assign(&ms, &counts(&[("t", 4)]));
        assert_eq!(flat(&plan, "a"), kept);
        let mut got = flat(&plan, "a");
        got.extend(flat(&plan, "b"));
        got.sort();
        assert_eq!(
            got,
            (0..4).map(|p| ("t".to_string(), p)).collect::<Vec<_>>()
        );
        assert_eq!(flat(&plan, "b").len(), 2);
    }

    #[test]
    fn names_round_trip() {
        for a in [
            Assignor::Range,
            Assignor::RoundRobin,
            Assignor::Sticky,
            Assignor::CooperativeSticky,
        ] {
            assert_eq!(Assignor::from_name(a.name()), Some(a));
        }
        assert_eq!(Assignor::from_name("uniform"), None);
        assert_eq!(
            Assignor::CooperativeSticky.protocol(),
            RebalanceProtocol::Cooperative
        );
        assert_eq!(Assignor::Sticky.protocol(), RebalanceProtocol::Eager);
    }
}
