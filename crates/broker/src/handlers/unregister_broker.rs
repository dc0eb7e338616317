//! UnregisterBroker (key 64): removes a broker's registration from the
//! cluster, as Kafka's KRaft controller (`kafka-cluster.sh
//! unregister`). The broker leaves every ISR, the partitions it led get
//! new leaders as when it is fenced, and its id stays in the partitions'
//! replica lists as an offline replica until they are reassigned. A live
//! broker may be unregistered too (it registers again, as with Kafka).
//! Needs ALTER on the cluster (else CLUSTER_AUTHORIZATION_FAILED); an
//! unknown id is BROKER_ID_NOT_REGISTERED. One node: the only broker
//! cannot be removed from itself (INVALID_REQUEST). A broker-only node
//! also leaves the metadata quorum's observers (it stops replicating the
//! log; one still running asks to join again, as it registers again).

use std::sync::Arc;

use fjord_metadata::reassign::unregister_broker_records;
use fjord_protocol::messages::{UnregisterBrokerRequest, UnregisterBrokerResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::AclOperation;
use crate::state::BrokerState;

crate::handler!(UnregisterBroker, 0, 0);

fn answer(code: ErrorCode, message: String) -> UnregisterBrokerResponse {
    UnregisterBrokerResponse {
        error_code: code.code(),
        error_message: (code != ErrorCode::None).then_some(message),
        ..Default::default()
    }
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: UnregisterBrokerRequest,
) -> UnregisterBrokerResponse {
    if !ctx.allowed_on_cluster(&state, AclOperation::Alter) {
        return answer(
            ErrorCode::ClusterAuthorizationFailed,
            "Cluster authorization failed.".into(),
        );
    }
    let id = req.broker_id;
    let Some(cluster) = state.cluster() else {
        if id == state.node_id {
            return answer(
                ErrorCode::InvalidRequest,
                "a single-node broker cannot unregister itself".into(),
            );
        }
        return answer(
            ErrorCode::BrokerIdNotRegistered,
            format!("broker {id} is not currently registered"),
        );
    };
    let records = match unregister_broker_records(&cluster.image(), id, false) {
        Ok(r) => r,
        Err(e) => return answer(ErrorCode::BrokerIdNotRegistered, e.to_string()),
    };
    match crate::cluster::admin::commit_changes(cluster, records).await {
        Ok(()) => {
            tracing::info!(broker = id, "broker unregistered");
            remove_observer(cluster, id).await;
            answer(ErrorCode::None, String::new())
        }
        Err((code, message)) => answer(code, message),
    }
}

/// Takes a broker-only node out of the quorum's observers (a voter stays:
/// its membership follows `controller.quorum.voters`). A failure is only
/// logged: the registration is gone either way.
async fn remove_observer(cluster: &crate::cluster::Cluster, id: i32) {
    let Ok(node) = u64::try_from(id) else {
        return;
    };
    if cluster.quorum.voters().contains_key(&node) {
        return;
    }
    if let Err(e) = cluster.quorum.remove_observer(node).await {
        tracing::warn!(broker = id, error = %e, "could not remove the unregistered broker from the metadata quorum's observers");
    }
}
