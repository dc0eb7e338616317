//! Cluster mode (issue 12, step 2): a node started with
//! `controller.quorum.voters` keeps its metadata in the Raft quorum of
//! `fjord-metadata` instead of its own `meta/` topic files.
//!
//! [`Cluster`] is this node's handle on the quorum and the questions the
//! handlers ask of the committed image (who leads a partition, which
//! brokers are alive, where they are reached). The rest of cluster mode
//! sits above `state` and drives it: `replay.rs` applies each committed
//! image to the local partitions, `liveness.rs` registers this broker,
//! unfences it once caught up and, on the active controller, fences
//! brokers that went silent, and `admin.rs` turns CreateTopics,
//! DeleteTopics and CreatePartitions into proposals, and `security_sync.rs`
//! keeps SCRAM users, ACLs and client quotas in the metadata log (proposed
//! by their handlers, installed into the local stores by the replay).
//!
//! Liveness (the choice of this step): every broker is a quorum voter
//! (combined mode) or observer (broker-only, an openraft learner), and the
//! active controller (the Raft leader) hears from each at every Raft
//! heartbeat (250 ms). Those answers are the
//! broker's heartbeats: a broker the leader has not heard from for
//! `broker.session.timeout.ms` (Kafka's default 9000) is fenced, its
//! partitions get a new leader from the ISR or go offline (leader -1).
//! A broker that (re)starts registers with a new epoch (fenced, as in
//! Kafka), replays the image up to its registration, opens its logs and
//! then proposes its own unfencing (Kafka's "caught up" heartbeat).
//!
//! Architecture invariant: the handlers read the cluster only through
//! [`Cluster`]'s answers; they never propose records themselves.

pub mod acks;
pub mod admin;
pub mod catch_up;
pub mod coordinators;
pub mod fetcher;
pub mod follower_reads;
pub mod isr;
pub mod liveness;
pub mod markers;
pub mod migrate;
pub mod peer;
pub mod producer_ids;
pub mod reassign;
pub mod rebalance;
pub mod replay;
pub mod security_sync;
pub mod start;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fjord_metadata::image::{BrokerRegistration, PartitionImage};
use fjord_metadata::{MetadataImage, Quorum};
use fjord_protocol::ErrorCode;
use tokio::sync::watch;

/// This node's part of the cluster: its quorum node and its broker
/// registration.
pub struct Cluster {
    pub quorum: Quorum,
    pub node_id: i32,
    /// A fresh id per process start, so a restart is told from a retry.
    pub incarnation: String,
    /// This broker's registration epoch (0 until registered).
    epoch: AtomicI64,
    /// `broker.session.timeout.ms`.
    pub session_timeout: Duration,
    /// What this broker registers: (listener name, host, port, security
    /// protocol id) of every listener, advertised addresses first.
    pub endpoints: Vec<fjord_metadata::records::Endpoint>,
    /// `broker.rack`.
    pub rack: Option<String>,
    /// The offset of the last image the replay applied to local topics.
    pub(crate) applied: watch::Sender<Option<u64>>,
    /// Set by a controlled shutdown: this broker neither registers nor
    /// unfences itself any more.
    pub(crate) shutting_down: std::sync::atomic::AtomicBool,
    /// The block of producer ids this broker hands out from.
    producer_ids: producer_ids::ProducerIdBlock,
    /// The internal partitions whose coordinator state is loaded here.
    pub(crate) loaded: coordinators::Loaded,
    /// How other brokers are reached (`inter.broker.listener.name`).
    pub inter_broker: peer::InterBroker,
}

/// Kafka's security protocol id of a listener protocol name.
pub fn security_protocol_id(name: &str) -> i16 {
    match name {
        "SSL" => 1,
        "SASL_PLAINTEXT" => 2,
        "SASL_SSL" => 3,
        _ => 0,
    }
}

/// A live broker as Metadata and DescribeCluster show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveBroker {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl Cluster {
    pub fn new(
        quorum: Quorum,
        node_id: i32,
        session_timeout: Duration,
        endpoints: Vec<fjord_metadata::records::Endpoint>,
        rack: Option<String>,
        inter_broker: peer::InterBroker,
    ) -> Cluster {
        Cluster {
            quorum,
            node_id,
            incarnation: uuid::Uuid::new_v4().to_string(),
            epoch: AtomicI64::new(0),
            session_timeout,
            endpoints,
            rack,
            applied: watch::channel(None).0,
            shutting_down: std::sync::atomic::AtomicBool::new(false),
            producer_ids: producer_ids::ProducerIdBlock::default(),
            loaded: coordinators::Loaded::default(),
            inter_broker,
        }
    }

    /// Waits until the replay applied the image at `offset` to the local
    /// topics; false on timeout.
    pub async fn wait_applied(&self, offset: u64, timeout: Duration) -> bool {
        let mut applied = self.applied.subscribe();
        let reached = tokio::time::timeout(
            timeout,
            applied.wait_for(|a| a.is_some_and(|a| a >= offset)),
        )
        .await;
        matches!(reached, Ok(Ok(_)))
    }

    /// The latest committed image applied on this node.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.quorum.image()
    }

    /// This broker's registration epoch (0 before it registered).
    pub fn epoch(&self) -> i64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub(crate) fn set_epoch(&self, epoch: i64) {
        self.epoch.store(epoch, Ordering::Release);
    }

    /// The controller id Metadata and DescribeCluster give clients, see
    /// [`controller_for_clients`].
    pub fn controller_id(&self) -> Option<i32> {
        let leader = self.quorum.leader().and_then(|id| i32::try_from(id).ok());
        let pick = uuid::Uuid::new_v4().as_u128() as usize;
        controller_for_clients(&self.image(), leader, pick)
    }

    /// The unfenced brokers, by id, with their endpoint for `listener`.
    pub fn live_brokers(&self, listener: &str) -> Vec<LiveBroker> {
        live_brokers(&self.image(), listener)
    }

    /// Whether this broker may serve (Produce, Fetch, ListOffsets) the
    /// partition: it must be its leader and the client's epoch, when given
    /// (>= 0), must be the current one.
    pub fn check_leader(
        &self,
        topic: &str,
        partition: i32,
        client_epoch: i32,
    ) -> Result<PartitionImage, ErrorCode> {
        check_leader(&self.image(), self.node_id, topic, partition, client_epoch)
    }
}

/// The current leader of a partition, its leader epoch and its endpoint
/// for `listener`, for KIP-951's hints in NOT_LEADER_OR_FOLLOWER answers;
/// None when the partition has no live leader.
pub fn leader_hint(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    listener: &str,
) -> Option<(i32, LiveBroker)> {
    let state = image.topic(topic)?.partitions.get(&partition)?;
    let leader = image.brokers.get(&state.leader).filter(|b| !b.fenced)?;
    Some((state.leader_epoch, endpoint(leader, listener)?))
}

/// The controller id clients are told: the active controller (quorum
/// `leader`) when it is a live broker (combined mode), else the live
/// broker at `pick` modulo their number. Clients send admin requests to
/// that id and cannot reach a controller-only node; Kafka's KRaft brokers
/// answer with a random live broker for the same reason (they forward
/// what needs the controller, as fjord's brokers propose through the
/// quorum). None when no broker is live.
pub fn controller_for_clients(
    image: &MetadataImage,
    leader: Option<i32>,
    pick: usize,
) -> Option<i32> {
    let live: Vec<i32> = image
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .map(|b| b.broker_id)
        .collect();
    match leader {
        Some(id) if live.contains(&id) => Some(id),
        _ if live.is_empty() => None,
        _ => Some(live[pick % live.len()]),
    }
}

/// See [`Cluster::live_brokers`].
pub fn live_brokers(image: &MetadataImage, listener: &str) -> Vec<LiveBroker> {
    image
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .filter_map(|b| endpoint(b, listener))
        .collect()
}

/// A broker's endpoint for `listener` (or its first one).
fn endpoint(b: &BrokerRegistration, listener: &str) -> Option<LiveBroker> {
    let e = b
        .endpoints
        .iter()
        .find(|e| e.listener == listener)
        .or_else(|| b.endpoints.first())?;
    Some(LiveBroker {
        id: b.broker_id,
        host: e.host.clone(),
        port: i32::from(e.port),
        rack: b.rack.clone(),
    })
}

/// See [`Cluster::check_leader`].
pub fn check_leader(
    image: &MetadataImage,
    node_id: i32,
    topic: &str,
    partition: i32,
    client_epoch: i32,
) -> Result<PartitionImage, ErrorCode> {
    let state = image
        .topic(topic)
        .and_then(|t| t.partitions.get(&partition))
        .ok_or(ErrorCode::UnknownTopicOrPartition)?;
    if client_epoch >= 0 && client_epoch < state.leader_epoch {
        return Err(ErrorCode::FencedLeaderEpoch);
    }
    if state.leader != node_id {
        return Err(ErrorCode::NotLeaderOrFollower);
    }
    if client_epoch > state.leader_epoch {
        return Err(ErrorCode::UnknownLeaderEpoch);
    }
    Ok(state.clone())
}

#[cfg(test)]
mod tests;
