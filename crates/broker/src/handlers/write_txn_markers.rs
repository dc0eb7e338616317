//! WriteTxnMarkers (key 27, v0–1): a transaction coordinator on another
//! broker asks this one to write COMMIT/ABORT markers to partitions it
//! leads (see `cluster/markers.rs`). Each partition is answered once its
//! in-sync replicas hold the marker; NOT_LEADER_OR_FOLLOWER where this
//! broker does not lead it. An inter-broker API: with an authorizer it
//! needs CLUSTER_ACTION on the cluster (else CLUSTER_AUTHORIZATION_FAILED
//! on every partition), as in Kafka.

use std::sync::Arc;

use fjord_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use fjord_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::AclOperation;
use crate::cluster::markers::{write_local, Marker};
use crate::state::BrokerState;

crate::handler!(WriteTxnMarkers, 0, 1);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: WriteTxnMarkersRequest,
) -> WriteTxnMarkersResponse {
    let allowed = ctx.allowed_on_cluster(&state, AclOperation::ClusterAction);
    let mut markers = Vec::with_capacity(req.markers.len());
    for m in req.markers {
        let marker = Marker {
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            coordinator_epoch: m.coordinator_epoch,
            commit: m.transaction_result,
        };
        let mut topics = Vec::with_capacity(m.topics.len());
        for t in m.topics {
            let mut partitions = Vec::with_capacity(t.partition_indexes.len());
            for index in t.partition_indexes {
                let code = if allowed {
                    let st = state.clone();
                    let name = t.name.clone();
                    tokio::task::spawn_blocking(move || write_local(&st, &name, index, marker))
                        .await
                        .unwrap_or(Err(ErrorCode::UnknownServerError))
                        .err()
                        .unwrap_or(ErrorCode::None)
                } else {
                    ErrorCode::ClusterAuthorizationFailed
                };
                partitions.push(WritableTxnMarkerPartitionResult {
                    partition_index: index,
                    error_code: code.code(),
                    ..Default::default()
                });
            }
            topics.push(WritableTxnMarkerTopicResult {
                name: t.name,
                partitions,
                ..Default::default()
            });
        }
        markers.push(WritableTxnMarkerResult {
            producer_id: m.producer_id,
            topics,
            ..Default::default()
        });
    }
    WriteTxnMarkersResponse {
        markers,
        ..Default::default()
    }
}
