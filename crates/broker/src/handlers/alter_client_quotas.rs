//! AlterClientQuotas (key 49): sets and removes client quotas of user and
//! client-id entities (either may be `<default>`, a null name), and the
//! `connection_creation_rate` of `ip` entities (an address or `<default>`;
//! enforced at accept, see `quotas`). Each entry
//! is checked as Kafka's controller checks it (entity types, duplicates,
//! empty names, known keys, values > 0, whole numbers for byte rates);
//! a refused entry gets INVALID_REQUEST with the reason and changes
//! nothing, the others are applied together and answered once durable (in
//! cluster mode: committed to the metadata log and applied here).
//! `validate_only` checks without applying.
//!
//! With an authorizer, as Kafka: ALTER_CONFIGS on the cluster, else every
//! entry gets CLUSTER_AUTHORIZATION_FAILED.

use std::sync::Arc;

use fjord_protocol::messages::alter_client_quotas_response::{EntityData, EntryData};
use fjord_protocol::messages::{AlterClientQuotasRequest, AlterClientQuotasResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::AclOperation;
use crate::quotas::store::{check_key, validate, Change, Entity};
use crate::state::BrokerState;

crate::handler!(AlterClientQuotas, 0, 1);

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: AlterClientQuotasRequest,
) -> AlterClientQuotasResponse {
    if !ctx.allowed_on_cluster(&state, AclOperation::AlterConfigs) {
        return AlterClientQuotasResponse {
            entries: req
                .entries
                .iter()
                .map(|entry| EntryData {
                    error_code: ErrorCode::ClusterAuthorizationFailed.code(),
                    error_message: Some("Cluster authorization failed.".into()),
                    entity: entry
                        .entity
                        .iter()
                        .map(|e| EntityData {
                            entity_type: e.entity_type.clone(),
                            entity_name: e.entity_name.clone(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
    }
    let mut results = Vec::with_capacity(req.entries.len());
    let mut changes = Vec::new();
    for entry in &req.entries {
        let wire: Vec<(String, Option<String>)> = entry
            .entity
            .iter()
            .map(|e| (e.entity_type.clone(), e.entity_name.clone()))
            .collect();
        let echo: Vec<EntityData> = entry
            .entity
            .iter()
            .map(|e| EntityData {
                entity_type: e.entity_type.clone(),
                entity_name: e.entity_name.clone(),
                ..Default::default()
            })
            .collect();
        let checked = Entity::parse(&wire).and_then(|entity| {
            let mut mine = Vec::new();
            for op in &entry.ops {
                if op.remove {
                    check_key(&entity, &op.key)?;
                    mine.push(Change {
                        entity: entity.clone(),
                        key: op.key.clone(),
                        value: None,
                    });
                } else {
                    validate(&entity, &op.key, op.value)?;
                    mine.push(Change {
                        entity: entity.clone(),
                        key: op.key.clone(),
                        value: Some(op.value),
                    });
                }
            }
            Ok(mine)
        });
        let (code, message) = match checked {
            Ok(mine) => {
                changes.extend(mine);
                (ErrorCode::None, None)
            }
            Err(m) => (ErrorCode::InvalidRequest, Some(m)),
        };
        results.push(EntryData {
            error_code: code.code(),
            error_message: message,
            entity: echo,
            ..Default::default()
        });
    }
    if !req.validate_only && !changes.is_empty() {
        let failure = match state.cluster() {
            // Cluster mode: committed to the metadata log, in force on
            // every broker.
            Some(cluster) => crate::cluster::security_sync::alter_quotas(cluster, &changes)
                .await
                .err(),
            None => {
                let quotas = state.quotas.clone();
                match tokio::task::spawn_blocking(move || quotas.apply(&changes)).await {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "could not save client quotas");
                        Some((ErrorCode::KafkaStorageError, e.to_string()))
                    }
                    Err(e) => Some((ErrorCode::UnknownServerError, e.to_string())),
                }
            }
        };
        if let Some((code, msg)) = failure {
            for r in results.iter_mut().filter(|r| r.error_code == 0) {
                r.error_code = code.code();
                r.error_message = Some(msg.clone());
            }
        }
    }
    AlterClientQuotasResponse {
        entries: results,
        ..Default::default()
    }
}
