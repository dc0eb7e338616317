//! The group coordinator's wiring into the broker: waiting for the
//! records a coordinator call appended to be durable (and under the high
//! watermark) before a handler answers, and the periodic tick, which runs
//! on a blocking thread and makes what it appended durable too.

use std::collections::HashMap;
use std::sync::Arc;

use fjord_group_coordinator::Durable;
use fjord_partition::Partition;
use fjord_protocol::ErrorCode;

use crate::state::BrokerState;

/// Syncs appended coordinator records (per the partition's flush policy)
/// and advances the high watermark; in cluster mode also waits until the
/// in-sync replicas hold them.
pub async fn wait_durable(state: &Arc<BrokerState>, d: Durable) -> ErrorCode {
    let Some((p, next)) = d else {
        return ErrorCode::None;
    };
    let st = state.clone();
    let partition = p.clone();
    let res = tokio::task::spawn_blocking(move || st.make_visible(&p, next)).await;
    match res {
        Ok(Ok(())) => {
            // Cluster mode: acknowledged once the in-sync replicas hold it.
            match crate::cluster::coordinators::wait_replicated(state, &partition, next).await {
                Ok(()) => ErrorCode::None,
                Err(code) => crate::cluster::coordinators::coordinator_error(code),
            }
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "syncing __consumer_offsets failed");
            fjord_protocol::ErrorCode::from(&e)
        }
        Err(_) => ErrorCode::UnknownServerError,
    }
}

/// Runs the coordinator's timers ([`GroupCoordinator::tick`]) and makes
/// every record they appended durable, under the high watermark, before
/// returning. Blocking (appends and fsync): run it off the async workers.
pub fn tick_durably(state: &BrokerState, now: i64) {
    let mut upto: HashMap<(String, i32), (Arc<Partition>, i64)> = HashMap::new();
    for (p, next) in state.groups.tick(now).into_iter().flatten() {
        let e = upto
            .entry((p.topic.clone(), p.index))
            .or_insert_with(|| (p.clone(), next));
        e.1 = e.1.max(next);
    }
    for (p, next) in upto.into_values() {
        if let Err(e) = state.make_visible(&p, next) {
            tracing::error!(partition = p.index, error = %e, "syncing group coordinator records failed");
        }
    }
}
