//! The controller's decisions, as pure functions over a [`MetadataImage`]:
//! where a new topic's replicas go, which records create a topic, and who
//! leads a partition when a broker is fenced or comes back.
//!
//! Nothing here does I/O or keeps state: the active controller calls these
//! with its latest image and proposes the records they return. Being pure,
//! every decision is unit-tested on hand-built images.

use std::collections::{BTreeMap, BTreeSet};

use crate::image::{MetadataImage, PartitionImage};
use crate::records::{ConfigResourceType, MetadataRecord, Uuid};

/// Kafka's limit on a topic name's length.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// How many producer ids one `ProducerIds` record hands out, as Kafka's
/// controller (`ProducerIdManager`'s block size).
pub const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;

/// The topic config that allows electing a leader outside the ISR.
pub const UNCLEAN_LEADER_ELECTION: &str = "unclean.leader.election.enable";

/// Why replicas could not be placed (Kafka's error code in brackets).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// INVALID_PARTITIONS (37).
    #[error("the number of partitions must be positive, got {0}")]
    InvalidPartitions(i32),
    /// INVALID_REPLICATION_FACTOR (38).
    #[error(
        "replication factor {replication_factor} is invalid: {live_brokers} broker(s) available"
    )]
    InvalidReplicationFactor {
        replication_factor: i16,
        live_brokers: usize,
    },
}

/// Why a topic could not be created.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CreateTopicError {
    /// INVALID_TOPIC_EXCEPTION (17).
    #[error("invalid topic name {name:?}: {why}")]
    InvalidName { name: String, why: &'static str },
    /// TOPIC_ALREADY_EXISTS (36).
    #[error("topic {0} already exists")]
    Exists(String),
    #[error(transparent)]
    Placement(#[from] PlacementError),
}

/// Places `partitions` partitions of `replication_factor` replicas on the
/// unfenced brokers, leaders spread round-robin from a start index derived
/// from the image (so successive topics start on different brokers).
pub fn place(
    image: &MetadataImage,
    partitions: i32,
    replication_factor: i16,
) -> Result<Vec<Vec<i32>>, PlacementError> {
    place_from(image, partitions, replication_factor, image.topics.len())
}

/// [`place`] with an explicit start index.
///
/// The unfenced brokers are ordered rack by rack in turn (the first broker
/// of each rack, then the second of each, …; brokers without a rack form a
/// rack of their own), as Kafka's striped placement. Partition `p`'s leader
/// is the broker at `start + p` in that order; its followers are the next
/// brokers in the order whose rack the partition does not use yet, and once
/// every rack is used, the next brokers it does not use yet.
pub fn place_from(
    image: &MetadataImage,
    partitions: i32,
    replication_factor: i16,
    start: usize,
) -> Result<Vec<Vec<i32>>, PlacementError> {
    if partitions <= 0 {
        return Err(PlacementError::InvalidPartitions(partitions));
    }
    let mut racks: BTreeMap<Option<&str>, Vec<i32>> = BTreeMap::new();
    for broker in image.brokers.values().filter(|b| !b.fenced) {
        racks
            .entry(broker.rack.as_deref())
            .or_default()
            .push(broker.broker_id);
    }
    let live: usize = racks.values().map(Vec::len).sum();
    let rf = usize::try_from(replication_factor).unwrap_or(0);
    if rf == 0 || rf > live {
        return Err(PlacementError::InvalidReplicationFactor {
            replication_factor,
            live_brokers: live,
        });
    }
    // Brokers in striped order, each with its rack.
    let mut order: Vec<(i32, Option<&str>)> = Vec::with_capacity(live);
    let deepest = racks.values().map(Vec::len).max().unwrap_or(0);
    for depth in 0..deepest {
        for (rack, brokers) in &racks {
            if let Some(id) = brokers.get(depth) {
                order.push((*id, *rack));
            }
        }
    }
    let rack_count = racks.len();
    let mut assignment = Vec::with_capacity(partitions as usize);
    for p in 0..partitions as usize {
        let first = (start + p) % live;
        let mut replicas = Vec::with_capacity(rf);
        let mut used_racks = BTreeSet::new();
        let mut taken = vec![false; live];
        let (leader, leader_rack) = order[first];
        replicas.push(leader);
        used_racks.insert(leader_rack);
        taken[first] = true;
        while replicas.len() < rf {
            if used_racks.len() == rack_count {
                used_racks.clear();
            }
            let mut pick = None;
            for step in 1..=live {
                let i = (first + step) % live;
                if !taken[i] && !used_racks.contains(&order[i].1) {
                    pick = Some(i);
                    break;
                }
            }
            // Every rack left is used by the brokers taken: take the next
            // broker free, whatever its rack.
            let i = match pick {
                Some(i) => i,
                None => match (1..=live).map(|s| (first + s) % live).find(|i| !taken[*i]) {
                    Some(i) => i,
                    None => break,
                },
            };
            taken[i] = true;
            used_racks.insert(order[i].1);
            replicas.push(order[i].0);
        }
        assignment.push(replicas);
    }
    Ok(assignment)
}

/// Checks a topic name as Kafka does: 1 to 249 characters of
/// `[a-zA-Z0-9._-]`, and not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), CreateTopicError> {
    let invalid = |why| {
        Err(CreateTopicError::InvalidName {
            name: name.to_string(),
            why,
        })
    };
    if name.is_empty() {
        return invalid("empty");
    }
    if name == "." || name == ".." {
        return invalid("'.' and '..' are not allowed");
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return invalid("longer than 249 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return invalid("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

/// The records that create topic `name` with id `topic_id` (the caller makes
/// a random one): the topic, each partition led by its first replica with
/// every replica in sync, and the topic's configs.
pub fn create_topic_records(
    image: &MetadataImage,
    name: &str,
    topic_id: Uuid,
    partitions: i32,
    replication_factor: i16,
    configs: &BTreeMap<String, String>,
) -> Result<Vec<MetadataRecord>, CreateTopicError> {
    validate_topic_name(name)?;
    if image.topic_ids.contains_key(name) {
        return Err(CreateTopicError::Exists(name.to_string()));
    }
    let assignment = place(image, partitions, replication_factor)?;
    Ok(topic_records(name, topic_id, assignment, configs))
}

/// The records of a topic with a given assignment (one replica list per
/// partition, the first replica leading).
pub fn topic_records(
    name: &str,
    topic_id: Uuid,
    assignment: Vec<Vec<i32>>,
    configs: &BTreeMap<String, String>,
) -> Vec<MetadataRecord> {
    let mut records = Vec::with_capacity(1 + assignment.len() + configs.len());
    records.push(MetadataRecord::Topic {
        name: name.to_string(),
        topic_id,
    });
    for (partition, replicas) in assignment.into_iter().enumerate() {
        records.push(MetadataRecord::Partition {
            topic_id,
            partition: partition as i32,
            leader: replicas.first().copied().unwrap_or(-1),
            isr: replicas.clone(),
            replicas,
            leader_epoch: 0,
            partition_epoch: 0,
        });
    }
    for (key, value) in configs {
        records.push(MetadataRecord::Config {
            resource_type: ConfigResourceType::Topic,
            resource_name: name.to_string(),
            key: key.clone(),
            value: Some(value.clone()),
        });
    }
    records
}

/// Whether unclean leader election is on for topic `name`: its own config
/// if set, else `default` (the broker's `unclean.leader.election.enable`).
fn unclean_allowed(image: &MetadataImage, name: &str, default: bool) -> bool {
    image
        .configs_of(ConfigResourceType::Topic, name)
        .and_then(|c| c.get(UNCLEAN_LEADER_ELECTION))
        .map(|v| v.eq_ignore_ascii_case("true"))
        .unwrap_or(default)
}

/// The records that fence broker `broker_id`: `FenceBroker`, then for every
/// partition whose ISR holds it, the ISR without it (unless it is the last
/// member: Kafka keeps the last one so that it can come back as leader),
/// and for every partition it led, a new leader: the first replica in
/// replica order that is in the new ISR and alive. With no such replica the
/// partition goes offline (leader -1), unless unclean election is allowed
/// for the topic, in which case the first alive replica leads with an ISR
/// of itself alone. An unknown broker yields no records.
pub fn fence_broker_records(
    image: &MetadataImage,
    broker_id: i32,
    unclean_default: bool,
) -> Vec<MetadataRecord> {
    let Some(broker) = image.brokers.get(&broker_id) else {
        return Vec::new();
    };
    let mut records = vec![MetadataRecord::FenceBroker {
        broker_id,
        epoch: broker.epoch,
    }];
    let alive = |id: i32| id != broker_id && image.is_alive(id);
    for topic in image.topics.values() {
        for (partition, state) in &topic.partitions {
            if !state.isr.contains(&broker_id) && state.leader != broker_id {
                continue;
            }
            let mut isr: Vec<i32> = state
                .isr
                .iter()
                .copied()
                .filter(|b| *b != broker_id)
                .collect();
            if isr.is_empty() {
                isr = state.isr.clone();
            }
            let mut leader = state.leader;
            if state.leader == broker_id || state.leader == -1 {
                leader = elect(state, &isr, &alive).unwrap_or(-1);
                if leader == -1 && unclean_allowed(image, &topic.name, unclean_default) {
                    if let Some(first) = state.replicas.iter().copied().find(|r| alive(*r)) {
                        leader = first;
                        isr = vec![first];
                    }
                }
            }
            if isr == state.isr && leader == state.leader {
                continue;
            }
            records.push(change(topic.id, *partition, state, isr, leader));
        }
    }
    records
}

/// The records that unfence broker `broker_id`: `UnfenceBroker`, then a
/// leader for every offline partition whose ISR holds it (it was the last
/// in-sync replica). An unknown broker yields no records.
pub fn unfence_broker_records(image: &MetadataImage, broker_id: i32) -> Vec<MetadataRecord> {
    let Some(broker) = image.brokers.get(&broker_id) else {
        return Vec::new();
    };
    let mut records = vec![MetadataRecord::UnfenceBroker {
        broker_id,
        epoch: broker.epoch,
    }];
    let alive = |id: i32| id == broker_id || image.is_alive(id);
    for topic in image.topics.values() {
        for (partition, state) in &topic.partitions {
            if state.leader != -1 || !state.isr.contains(&broker_id) {
                continue;
            }
            if let Some(leader) = elect(state, &state.isr, &alive) {
                records.push(change(
                    topic.id,
                    *partition,
                    state,
                    state.isr.clone(),
                    leader,
                ));
            }
        }
    }
    records
}

/// The first replica, in replica order, that is in `isr` and alive.
fn elect(state: &PartitionImage, isr: &[i32], alive: &dyn Fn(i32) -> bool) -> Option<i32> {
    state
        .replicas
        .iter()
        .copied()
        .find(|r| isr.contains(r) && alive(*r))
}

/// A `PartitionChange` moving `state` to `isr` and `leader`, naming only
/// what changes.
fn change(
    topic_id: Uuid,
    partition: i32,
    state: &PartitionImage,
    isr: Vec<i32>,
    leader: i32,
) -> MetadataRecord {
    MetadataRecord::PartitionChange {
        topic_id,
        partition,
        isr: (isr != state.isr).then_some(isr),
        leader: (leader != state.leader).then_some(leader),
        replicas: None,
    }
}

/// Kafka's ElectLeaders election types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionType {
    /// Move leadership to the first replica (the preferred leader) when it
    /// is alive and in sync.
    Preferred,
    /// Give a leaderless partition a leader, from outside the ISR if need
    /// be (possible loss of records the ISR had).
    Unclean,
}

/// What [`elect_leader`] decided for one partition (Kafka's error code in
/// brackets where it is one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Election {
    /// A new leader (the record is returned alongside).
    Elected(i32),
    /// ELECTION_NOT_NEEDED (84): the preferred replica leads already, or
    /// (unclean) the partition has a leader.
    NotNeeded,
    /// PREFERRED_LEADER_NOT_AVAILABLE (80): the preferred replica is fenced
    /// or out of the ISR.
    PreferredNotAvailable,
    /// ELIGIBLE_LEADERS_NOT_AVAILABLE (83): no alive replica to elect.
    NoEligibleLeader,
    /// UNKNOWN_TOPIC_OR_PARTITION (3).
    UnknownPartition,
}

/// The leader election ElectLeaders asks for on partition `partition` of
/// `topic`, and the record that makes it.
pub fn elect_leader(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    kind: ElectionType,
) -> (Election, Option<MetadataRecord>) {
    let Some(t) = image.topic(topic) else {
        return (Election::UnknownPartition, None);
    };
    let Some(state) = t.partitions.get(&partition) else {
        return (Election::UnknownPartition, None);
    };
    let alive = |id: i32| image.is_alive(id);
    match kind {
        ElectionType::Preferred => {
            let Some(&preferred) = state.replicas.first() else {
                return (Election::PreferredNotAvailable, None);
            };
            if state.leader == preferred {
                return (Election::NotNeeded, None);
            }
            if !alive(preferred) || !state.isr.contains(&preferred) {
                return (Election::PreferredNotAvailable, None);
            }
            let record = change(t.id, partition, state, state.isr.clone(), preferred);
            (Election::Elected(preferred), Some(record))
        }
        ElectionType::Unclean => {
            if state.leader >= 0 && alive(state.leader) {
                return (Election::NotNeeded, None);
            }
            if let Some(leader) = elect(state, &state.isr, &alive) {
                let record = change(t.id, partition, state, state.isr.clone(), leader);
                return (Election::Elected(leader), Some(record));
            }
            match state.replicas.iter().copied().find(|r| alive(*r)) {
                Some(leader) => {
                    let record = change(t.id, partition, state, vec![leader], leader);
                    (Election::Elected(leader), Some(record))
                }
                None => (Election::NoEligibleLeader, None),
            }
        }
    }
}

/// The record that hands broker `broker_id` the next block of producer ids,
/// and the block as (first id, count). None if the broker is not registered
/// at `broker_epoch` or the ids ran out.
pub fn allocate_producer_ids(
    image: &MetadataImage,
    broker_id: i32,
    broker_epoch: i64,
) -> Option<(MetadataRecord, i64, i64)> {
    let broker = image.brokers.get(&broker_id)?;
    if broker.epoch != broker_epoch {
        return None;
    }
    let first = image.next_producer_id;
    let next = first.checked_add(PRODUCER_ID_BLOCK_SIZE)?;
    Some((
        MetadataRecord::ProducerIds {
            broker_id,
            broker_epoch,
            next_producer_id: next,
        },
        first,
        PRODUCER_ID_BLOCK_SIZE,
    ))
}

#[cfg(test)]
#[path = "controller_tests.rs"]
pub(crate) mod tests;
