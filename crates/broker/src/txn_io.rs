//! The transaction coordinator's wiring into the broker: [`BrokerIo`]
//! implements its [`TxnIo`] over this broker's partitions (records in
//! `__transaction_state`, markers in data partitions and, for
//! transactional offsets, in `__consumer_offsets` through the group
//! coordinator), and the functions the handlers and the server call to
//! open, run and tick it.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::BytesMut;
use fjord_protocol::internal_topics::OFFSETS_TOPIC;
use fjord_protocol::records::BatchBuilder;
use fjord_protocol::ErrorCode;
use fjord_storage::clock::now_ms;
use fjord_txn_coordinator::{
    log, TxnCoordinator, TxnIo, TxnMeta, TXN_TOPIC, TXN_TOPIC_PARTITIONS, TXN_TOPIC_SEGMENT_BYTES,
};

use crate::state::BrokerState;

/// [`TxnIo`] over the broker's partitions.
pub struct BrokerIo<'a> {
    pub state: &'a BrokerState,
}

impl TxnIo for BrokerIo<'_> {
    fn persist(&self, meta: &TxnMeta) -> Result<(), ErrorCode> {
        self.append_record(&meta.transactional_id, Some(meta))
    }

    fn write_markers(&self, meta: &TxnMeta, commit: bool) -> Result<(), ErrorCode> {
        let coordinator_epoch = self
            .state
            .txns
            .log_partition(&meta.transactional_id)
            .map_or(0, |p| p.leader_epoch);
        if let Some(cluster) = self.state.cluster() {
            return crate::cluster::markers::write(
                self.state,
                cluster,
                meta,
                commit,
                coordinator_epoch,
            );
        }
        let now = now_ms();
        let storage = |e: fjord_storage::StorageError| fjord_protocol::ErrorCode::from(&e);
        for (topic, index) in &meta.partitions {
            if topic == OFFSETS_TOPIC {
                let durable = self.state.groups.write_txn_marker(
                    *index,
                    meta.producer_id,
                    meta.producer_epoch,
                    coordinator_epoch,
                    commit,
                    now,
                )?;
                if let Some((p, next)) = durable {
                    self.state.make_visible(&p, next).map_err(storage)?;
                }
                continue;
            }
            // A deleted topic's partitions need no marker.
            let Some(p) = self.state.partition(topic, *index) else {
                continue;
            };
            let next = p
                .append_marker(
                    meta.producer_id,
                    meta.producer_epoch,
                    coordinator_epoch,
                    commit,
                    now,
                )
                .map_err(storage)?;
            self.state.make_visible(&p, next).map_err(storage)?;
        }
        Ok(())
    }

    fn tombstone(&self, transactional_id: &str) -> Result<(), ErrorCode> {
        self.append_record(transactional_id, None)
    }

    fn allocate_producer_id(&self) -> Result<i64, ErrorCode> {
        self.state.allocate_producer_id().map_err(|e| {
            tracing::error!(error = %e, "producer id allocation failed");
            ErrorCode::KafkaStorageError
        })
    }
}

impl BrokerIo<'_> {
    /// Appends one `__transaction_state` record (`None`: a tombstone) and
    /// waits for durability (in cluster mode: until every in-sync replica
    /// holds it).
    fn append_record(&self, id: &str, meta: Option<&TxnMeta>) -> Result<(), ErrorCode> {
        let p = self
            .state
            .txns
            .log_partition(id)
            .ok_or(ErrorCode::CoordinatorNotAvailable)?;
        let now = now_ms();
        let value = meta.map(log::value);
        let mut b = BatchBuilder::default();
        b.append(now, Some(&log::key(id)), value.as_deref(), &[])
            .map_err(|_| ErrorCode::UnknownServerError)?;
        let batch = b.build().map_err(|_| ErrorCode::UnknownServerError)?;
        let mut buf = BytesMut::from(&batch[..]);
        let info = p
            .log
            .append(&mut buf, p.leader_epoch, now)
            .map_err(|e| fjord_protocol::ErrorCode::from(&e))?;
        self.state
            .make_visible(&p, info.last_offset + 1)
            .map_err(|e| fjord_protocol::ErrorCode::from(&e))?;
        crate::cluster::coordinators::wait_replicated_blocking(self.state, &p, info.last_offset + 1)
            .map_err(crate::cluster::coordinators::coordinator_error)
    }
}

/// Opens the coordinator at broker start if `__transaction_state`
/// exists: replays it and completes or aborts what a crash left open.
/// In cluster mode the coordinator loads partitions as this broker comes
/// to lead them instead (see `cluster/coordinators.rs`).
pub fn open(state: &BrokerState) {
    if state.config().cluster.enabled() {
        return;
    }
    let Some(topic) = state.topic(TXN_TOPIC) else {
        return;
    };
    let mut metas: HashMap<String, TxnMeta> = HashMap::new();
    for p in &topic.partitions {
        fjord_txn_coordinator::replay_partition(p, &mut metas);
    }
    tracing::info!(transactions = metas.len(), "loaded __transaction_state");
    state.txns.set_partitions(topic.partitions.clone());
    state.txns.load(metas);
    state.txns.recover(&BrokerIo { state }, now_ms());
}

/// Creates `__transaction_state` on first use (as Kafka does) and opens
/// the coordinator on it. In cluster mode the topic lives in the image and
/// this checks that this broker coordinates `transactional_id`.
pub async fn ensure_topic(
    state: &Arc<BrokerState>,
    transactional_id: &str,
) -> Result<(), ErrorCode> {
    if state.cluster().is_some() {
        return crate::cluster::coordinators::check_txn(state, transactional_id);
    }
    ensure_single_node_topic(state).await
}

/// One node: creates `__transaction_state` if missing and opens the
/// coordinator on it.
pub async fn ensure_single_node_topic(state: &Arc<BrokerState>) -> Result<(), ErrorCode> {
    if state.txns.is_ready() {
        return Ok(());
    }
    let _admin = state.admin_lock.lock().await;
    if state.txns.is_ready() {
        return Ok(());
    }
    let st = state.clone();
    let r = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let topic = match st.topic(TXN_TOPIC) {
            Some(t) => t,
            None => {
                let configs = std::collections::BTreeMap::from([
                    ("cleanup.policy".to_string(), "compact".to_string()),
                    (
                        "segment.bytes".to_string(),
                        TXN_TOPIC_SEGMENT_BYTES.to_string(),
                    ),
                ]);
                st.create_topic(TXN_TOPIC, TXN_TOPIC_PARTITIONS, configs)
                    .map_err(|e| e.to_string())?
            }
        };
        st.txns.set_partitions(topic.partitions.clone());
        Ok(())
    })
    .await;
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "creating __transaction_state failed");
            Err(ErrorCode::CoordinatorNotAvailable)
        }
        Err(_) => Err(ErrorCode::CoordinatorNotAvailable),
    }
}

/// Runs a coordinator operation on a blocking thread with the broker's io.
pub async fn run<R: Send + 'static>(
    state: &Arc<BrokerState>,
    f: impl FnOnce(&TxnCoordinator, &dyn TxnIo, i64) -> Result<R, ErrorCode> + Send + 'static,
) -> Result<R, ErrorCode> {
    let st = state.clone();
    tokio::task::spawn_blocking(move || {
        let io = BrokerIo { state: &st };
        f(&st.txns, &io, now_ms())
    })
    .await
    .unwrap_or(Err(ErrorCode::UnknownServerError))
}

/// The periodic timeout check (server background task).
pub fn tick(state: &BrokerState) {
    if !state.txns.is_ready() {
        return;
    }
    state.txns.tick(&BrokerIo { state }, now_ms());
}

#[cfg(test)]
mod tests;
