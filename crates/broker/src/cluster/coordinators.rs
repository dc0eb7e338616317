//! The group and transaction coordinators in cluster mode (issue 12,
//! step 4). `__consumer_offsets` and `__transaction_state` are topics of
//! the metadata image like any other, created on first use with
//! replication factor min(3, live brokers) and replicated by the replica
//! fetcher. A group id or transactional id belongs to partition
//! `abs(java hash) % partitions` of its topic, and its coordinator is that
//! partition's leader (Kafka's rule): FindCoordinator names it, any other
//! broker answers NOT_COORDINATOR.
//!
//! Ownership follows leadership through the metadata replay: before an
//! image is applied, [`resign`] drops the state of every partition this
//! broker no longer leads at the epoch it loaded (Kafka's `onResignation`);
//! after it is applied, [`elect`] loads the state of every partition it now
//! leads from that partition's log (`onElection`). Between the image and
//! the end of the load, requests get COORDINATOR_LOAD_IN_PROGRESS.
//!
//! A coordinator write counts once the partition's high watermark covers
//! it (acks=all, as Kafka's coordinators append with acks=-1):
//! [`wait_replicated`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fjord_partition::Partition;
use fjord_protocol::internal_topics::{partition_for, OFFSETS_TOPIC};
use fjord_protocol::ErrorCode;
use fjord_txn_coordinator::{TXN_TOPIC, TXN_TOPIC_PARTITIONS, TXN_TOPIC_SEGMENT_BYTES};

use super::Cluster;
use crate::state::BrokerState;

/// The default (and largest) replication factor of the internal topics:
/// `offsets.topic.replication.factor` and
/// `transaction.state.log.replication.factor` (Kafka's 3), capped at the
/// number of live brokers when the topic is created.
const INTERNAL_REPLICATION_FACTOR: usize = 3;

/// `transaction.state.log.min.isr` (Kafka's default 2), capped at the
/// replication factor.
const TXN_MIN_ISR: usize = 2;

/// How long a coordinator write waits for the in-sync replicas
/// (`offsets.commit.timeout.ms`, Kafka's 5000).
const REPLICATION_TIMEOUT: Duration = Duration::from_secs(5);

/// The internal partitions whose coordinator state is loaded here, with
/// the leader epoch they were loaded at.
#[derive(Default)]
pub struct Loaded(Mutex<HashMap<(&'static str, i32), i32>>);

impl Loaded {
    fn get(&self, topic: &'static str, index: i32) -> Option<i32> {
        self.0.lock().ok()?.get(&(topic, index)).copied()
    }

    fn snapshot(&self) -> Vec<((&'static str, i32), i32)> {
        self.0
            .lock()
            .map(|m| m.iter().map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default()
    }

    fn set(&self, topic: &'static str, index: i32, epoch: Option<i32>) {
        if let Ok(mut m) = self.0.lock() {
            match epoch {
                Some(e) => m.insert((topic, index), e),
                None => m.remove(&(topic, index)),
            };
        }
    }
}

/// The internal topic a coordinator key type names (0 group, 1 txn).
pub fn topic_of(key_type: i8) -> Option<&'static str> {
    match key_type {
        0 => Some(OFFSETS_TOPIC),
        1 => Some(TXN_TOPIC),
        _ => None,
    }
}

/// The partition of internal `topic` that `key` maps to (Kafka's hash),
/// with its index; COORDINATOR_NOT_AVAILABLE while the topic or the
/// partition does not exist.
fn key_partition<'a>(
    image: &'a fjord_metadata::MetadataImage,
    topic: &str,
    key: &str,
) -> Result<(i32, &'a fjord_metadata::image::PartitionImage), ErrorCode> {
    let t = image
        .topic(topic)
        .ok_or(ErrorCode::CoordinatorNotAvailable)?;
    let index = partition_for(key, t.partitions.len() as i32);
    let p = t
        .partitions
        .get(&index)
        .ok_or(ErrorCode::CoordinatorNotAvailable)?;
    Ok((index, p))
}

/// The broker coordinating `key` in `topic`: the leader of its partition.
/// COORDINATOR_NOT_AVAILABLE while the topic does not exist or the
/// partition has no live leader.
pub fn coordinator_of(cluster: &Cluster, topic: &str, key: &str) -> Result<i32, ErrorCode> {
    let image = cluster.image();
    let (_, p) = key_partition(&image, topic, key)?;
    if p.leader < 0 || !image.is_alive(p.leader) {
        return Err(ErrorCode::CoordinatorNotAvailable);
    }
    Ok(p.leader)
}

/// Whether this broker serves requests for `key` of `topic` now.
fn check(cluster: &Cluster, topic: &'static str, key: &str) -> Result<(), ErrorCode> {
    let image = cluster.image();
    let (index, p) = key_partition(&image, topic, key)?;
    if p.leader != cluster.node_id {
        return Err(ErrorCode::NotCoordinator);
    }
    if cluster.loaded.get(topic, index) != Some(p.leader_epoch) {
        return Err(ErrorCode::CoordinatorLoadInProgress);
    }
    Ok(())
}

/// Group requests: NOT_COORDINATOR unless this broker leads the group's
/// `__consumer_offsets` partition, COORDINATOR_LOAD_IN_PROGRESS until it
/// loaded it. Always Ok on one node.
pub fn check_group(state: &BrokerState, group_id: &str) -> Result<(), ErrorCode> {
    match state.cluster() {
        Some(c) => check(c, OFFSETS_TOPIC, group_id),
        None => Ok(()),
    }
}

/// Transaction requests: as [`check_group`] for the transactional id's
/// `__transaction_state` partition.
pub fn check_txn(state: &BrokerState, transactional_id: &str) -> Result<(), ErrorCode> {
    match state.cluster() {
        Some(c) => check(c, TXN_TOPIC, transactional_id),
        None => Ok(()),
    }
}

/// Creates the internal topic `topic` through the quorum if the image
/// does not hold it yet (first FindCoordinator, as Kafka).
pub async fn ensure_topic(state: &BrokerState, cluster: &Cluster, topic: &'static str) {
    if cluster.image().topic(topic).is_some() {
        return;
    }
    let live = cluster
        .image()
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .count();
    let rf = INTERNAL_REPLICATION_FACTOR.min(live).max(1);
    let config = state.config();
    let (partitions, segment_bytes) = if topic == OFFSETS_TOPIC {
        (
            config.group.offsets_topic_num_partitions,
            config.offsets_topic_segment_bytes,
        )
    } else {
        (TXN_TOPIC_PARTITIONS, TXN_TOPIC_SEGMENT_BYTES)
    };
    let mut configs = BTreeMap::from([
        ("cleanup.policy".to_string(), "compact".to_string()),
        ("segment.bytes".to_string(), segment_bytes.to_string()),
    ]);
    if topic == TXN_TOPIC {
        configs.insert(
            "min.insync.replicas".to_string(),
            TXN_MIN_ISR.min(rf).to_string(),
        );
    }
    match super::admin::create_topic(cluster, topic, partitions, rf as i16, &configs).await {
        Ok(_) => tracing::info!(
            topic,
            partitions,
            replication_factor = rf,
            "created an internal topic"
        ),
        Err((ErrorCode::TopicAlreadyExists, _)) => {}
        Err((code, msg)) => {
            tracing::warn!(topic, code = %code, msg, "creating an internal topic failed")
        }
    }
}

/// Drops the coordinator state of every partition `image` no longer lets
/// this broker lead at the epoch it was loaded at. Blocking.
pub fn resign(state: &BrokerState, cluster: &Cluster, image: &fjord_metadata::MetadataImage) {
    for ((topic, index), epoch) in cluster.loaded.snapshot() {
        let still = image
            .topic(topic)
            .and_then(|t| t.partitions.get(&index))
            .is_some_and(|p| p.leader == cluster.node_id && p.leader_epoch == epoch);
        if still {
            continue;
        }
        cluster.loaded.set(topic, index, None);
        if topic == OFFSETS_TOPIC {
            state.groups.unload_partition(index);
        } else {
            state.txns.unload_partition(index);
        }
        tracing::info!(topic, partition = index, "resigned as coordinator");
    }
}

/// Loads the coordinator state of every internal partition `image` says
/// this broker leads and that is not loaded at that epoch yet. Call it
/// after the image was applied to the local topics. Blocking.
pub fn elect(state: &BrokerState, cluster: &Cluster, image: &fjord_metadata::MetadataImage) {
    for topic in [OFFSETS_TOPIC, TXN_TOPIC] {
        let Some(t) = image.topic(topic) else {
            continue;
        };
        let count = t.partitions.len() as i32;
        for (index, p) in &t.partitions {
            if p.leader != cluster.node_id
                || cluster.loaded.get(topic, *index) == Some(p.leader_epoch)
            {
                continue;
            }
            let Some(local) = state
                .partition(topic, *index)
                .filter(|l| l.leader_epoch == p.leader_epoch)
            else {
                continue;
            };
            load(state, topic, local, count);
            cluster.loaded.set(topic, *index, Some(p.leader_epoch));
            tracing::info!(
                topic,
                partition = index,
                epoch = p.leader_epoch,
                "elected coordinator"
            );
        }
    }
}

/// Loads one internal partition's coordinator state.
fn load(state: &BrokerState, topic: &str, partition: Arc<Partition>, count: i32) {
    let now = fjord_storage::clock::now_ms();
    if topic == OFFSETS_TOPIC {
        state.groups.load_partition(partition, count, now);
        return;
    }
    let mut metas = HashMap::new();
    fjord_txn_coordinator::replay_partition(&partition, &mut metas);
    state.txns.load_partition(partition, count, metas);
}

/// The error a coordinator answers when its write did not reach the
/// in-sync replicas (Kafka's mapping in its coordinators).
pub fn coordinator_error(code: ErrorCode) -> ErrorCode {
    match code {
        ErrorCode::None => ErrorCode::None,
        ErrorCode::NotLeaderOrFollower | ErrorCode::KafkaStorageError => ErrorCode::NotCoordinator,
        ErrorCode::UnknownTopicOrPartition
        | ErrorCode::NotEnoughReplicas
        | ErrorCode::NotEnoughReplicasAfterAppend
        | ErrorCode::RequestTimedOut => ErrorCode::CoordinatorNotAvailable,
        other => other,
    }
}

/// Waits until `partition`'s high watermark covers `next_offset` when it
/// is replicated (immediately Ok on one node): the write is then on every
/// in-sync replica, and at least `min.insync.replicas` of them.
pub async fn wait_replicated(
    state: &BrokerState,
    partition: &Partition,
    next_offset: i64,
) -> Result<(), ErrorCode> {
    if !partition.is_replicated() {
        return Ok(());
    }
    let min_isr = state
        .topic(&partition.topic)
        .map_or(1, |t| state.config().min_insync_replicas(&t.configs));
    let deadline = tokio::time::Instant::now() + REPLICATION_TIMEOUT;
    super::acks::wait_replicated(state, partition, next_offset, min_isr, deadline).await
}

/// [`wait_replicated`] from a blocking thread of the runtime.
pub fn wait_replicated_blocking(
    state: &BrokerState,
    partition: &Partition,
    next_offset: i64,
) -> Result<(), ErrorCode> {
    if !partition.is_replicated() {
        return Ok(());
    }
    let handle =
        tokio::runtime::Handle::try_current().map_err(|_| ErrorCode::CoordinatorNotAvailable)?;
    handle.block_on(wait_replicated(state, partition, next_offset))
}

/// Ok when this broker loaded internal partition `index` of `topic` at
/// `epoch`; COORDINATOR_LOAD_IN_PROGRESS otherwise.
pub fn check_loaded(
    cluster: &Cluster,
    topic: &'static str,
    index: i32,
    epoch: i32,
) -> Result<(), ErrorCode> {
    if cluster.loaded.get(topic, index) == Some(epoch) {
        Ok(())
    } else {
        Err(ErrorCode::CoordinatorLoadInProgress)
    }
}
