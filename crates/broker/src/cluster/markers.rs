//! Transaction markers in cluster mode (KIP-98's marker channel): the
//! transaction coordinator writes the COMMIT/ABORT marker itself to the
//! transaction's partitions it leads, and sends WriteTxnMarkers to the
//! leader of every other one over a peer connection. Each marker counts
//! once the partition's in-sync replicas hold it. A leader that cannot be
//! reached, or a partition with no leader, fails the attempt: the
//! transaction stays PrepareCommit/PrepareAbort in `__transaction_state`
//! and the coordinator's tick (or a new coordinator, after a failover,
//! from the log) sends the markers again until all are written; only then
//! is CompleteCommit/CompleteAbort logged. Writing a marker twice is
//! harmless: a reader skips a marker of a transaction it saw end.

use std::collections::BTreeMap;
use std::time::Duration;

use fjord_protocol::internal_topics::OFFSETS_TOPIC;
use fjord_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use fjord_protocol::messages::WriteTxnMarkersRequest;
use fjord_protocol::{ErrorCode, Request, Response};
use fjord_storage::clock::now_ms;
use fjord_txn_coordinator::TxnMeta;

use super::coordinators::wait_replicated_blocking;
use super::peer::PeerError;
use super::Cluster;
use crate::state::BrokerState;

/// The WriteTxnMarkers version brokers speak to each other.
const VERSION: i16 = 1;

/// How long one WriteTxnMarkers exchange may take (the receiver waits up
/// to 5 s for its replicas).
const TIMEOUT: Duration = Duration::from_secs(8);

/// Attempts per leader before the tick takes over.
const ATTEMPTS: usize = 3;

/// Pause between attempts.
const BACKOFF: Duration = Duration::from_millis(200);

/// One marker.
#[derive(Clone, Copy)]
pub struct Marker {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub coordinator_epoch: i32,
    pub commit: bool,
}

/// Writes `meta`'s marker to each of its partitions. Blocking.
pub fn write(
    state: &BrokerState,
    cluster: &Cluster,
    meta: &TxnMeta,
    commit: bool,
    coordinator_epoch: i32,
) -> Result<(), ErrorCode> {
    let marker = Marker {
        producer_id: meta.producer_id,
        producer_epoch: meta.producer_epoch,
        coordinator_epoch,
        commit,
    };
    let image = cluster.image();
    let mut remote: BTreeMap<i32, BTreeMap<String, Vec<i32>>> = BTreeMap::new();
    for (topic, index) in &meta.partitions {
        // A deleted topic's partitions need no marker.
        let Some(p) = image.topic(topic).and_then(|t| t.partitions.get(index)) else {
            continue;
        };
        if p.leader == cluster.node_id {
            write_local(state, topic, *index, marker)?;
        } else if p.leader < 0 {
            return Err(ErrorCode::NotLeaderOrFollower);
        } else {
            remote
                .entry(p.leader)
                .or_default()
                .entry(topic.clone())
                .or_default()
                .push(*index);
        }
    }
    let handle =
        tokio::runtime::Handle::try_current().map_err(|_| ErrorCode::CoordinatorNotAvailable)?;
    for (leader, topics) in remote {
        let mut last = ErrorCode::None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(BACKOFF);
            }
            last = handle.block_on(send(cluster, leader, marker, &topics));
            if last == ErrorCode::None {
                break;
            }
        }
        if last != ErrorCode::None {
            tracing::warn!(leader, producer_id = marker.producer_id, code = %last, "transaction markers not written yet");
            return Err(last);
        }
    }
    Ok(())
}

/// Sends one WriteTxnMarkers to `leader`; the first error of its answer.
async fn send(
    cluster: &Cluster,
    leader: i32,
    marker: Marker,
    topics: &BTreeMap<String, Vec<i32>>,
) -> ErrorCode {
    let client_id = format!("fjord-txn-markers-{}", cluster.node_id);
    let mut peer = match cluster.connect_peer(leader, &client_id, TIMEOUT).await {
        Ok(p) => p,
        Err(PeerError::NoAddress) => return ErrorCode::NotLeaderOrFollower,
        Err(PeerError::Failed(_)) => return ErrorCode::NetworkException,
    };
    let req = Request::WriteTxnMarkers(WriteTxnMarkersRequest {
        markers: vec![WritableTxnMarker {
            producer_id: marker.producer_id,
            producer_epoch: marker.producer_epoch,
            transaction_result: marker.commit,
            coordinator_epoch: marker.coordinator_epoch,
            topics: topics
                .iter()
                .map(|(name, parts)| WritableTxnMarkerTopic {
                    name: name.clone(),
                    partition_indexes: parts.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    });
    match peer.call(VERSION, &req, TIMEOUT).await {
        Ok(Response::WriteTxnMarkers(resp)) => resp
            .markers
            .iter()
            .flat_map(|m| &m.topics)
            .flat_map(|t| &t.partitions)
            .map(|p| ErrorCode::from_code(p.error_code).unwrap_or(ErrorCode::UnknownServerError))
            .find(|c| *c != ErrorCode::None)
            .unwrap_or(ErrorCode::None),
        Ok(_) => ErrorCode::UnknownServerError,
        Err(e) => {
            tracing::debug!(leader, error = %e, "WriteTxnMarkers failed");
            ErrorCode::NetworkException
        }
    }
}

/// Writes a marker to a partition this broker leads (one node: hosts)
/// and waits until its in-sync replicas hold it. Blocking.
pub fn write_local(
    state: &BrokerState,
    topic: &str,
    index: i32,
    m: Marker,
) -> Result<(), ErrorCode> {
    let storage = |e: fjord_storage::StorageError| ErrorCode::from(&e);
    let now = now_ms();
    if let Some(cluster) = state.cluster() {
        let image_epoch = cluster.check_leader(topic, index, -1)?.leader_epoch;
        if topic == OFFSETS_TOPIC {
            // The group coordinator must own the partition, else the marker
            // would be dropped on the floor.
            super::coordinators::check_loaded(cluster, OFFSETS_TOPIC, index, image_epoch)?;
        } else if state
            .partition(topic, index)
            .is_none_or(|p| p.leader_epoch != image_epoch)
        {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
    }
    if topic == OFFSETS_TOPIC {
        let durable = state.groups.write_txn_marker(
            index,
            m.producer_id,
            m.producer_epoch,
            m.coordinator_epoch,
            m.commit,
            now,
        )?;
        if let Some((p, next)) = durable {
            state.make_visible(&p, next).map_err(storage)?;
            wait_replicated_blocking(state, &p, next)?;
        }
        return Ok(());
    }
    let Some(p) = state.partition(topic, index) else {
        return Err(ErrorCode::UnknownTopicOrPartition);
    };
    let next = p
        .append_marker(
            m.producer_id,
            m.producer_epoch,
            m.coordinator_epoch,
            m.commit,
            now,
        )
        .map_err(storage)?;
    state.make_visible(&p, next).map_err(storage)?;
    wait_replicated_blocking(state, &p, next)
}
