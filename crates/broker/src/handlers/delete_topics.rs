//! DeleteTopics (key 20): deletes topics by name (v0-5) or by name or
//! topic id (v6+), with their data.
//!
//! With an authorizer, as Kafka: a topic needs DESCRIBE (else
//! TOPIC_AUTHORIZATION_FAILED, whether it exists or not) and DELETE (else
//! TOPIC_AUTHORIZATION_FAILED).

use std::collections::HashSet;
use std::sync::Arc;

use fjord_protocol::messages::delete_topics_response::DeletableTopicResult;
use fjord_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse};
use fjord_protocol::{ErrorCode, Uuid};

use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::state::{is_internal_topic, BrokerState};

crate::handler!(DeleteTopics, 0, 6);

fn result(
    name: Option<String>,
    id: Uuid,
    code: ErrorCode,
    message: Option<String>,
) -> DeletableTopicResult {
    DeletableTopicResult {
        name,
        topic_id: id,
        error_code: code.code(),
        error_message: message,
        ..Default::default()
    }
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    // (name, id) as requested; a blank name means "by id".
    let requested: Vec<(Option<String>, Uuid)> = if ctx.api_version >= 6 {
        req.topics
            .into_iter()
            .map(|t| (t.name.filter(|n| !n.is_empty()), t.topic_id))
            .collect()
    } else {
        req.topic_names
            .into_iter()
            .map(|n| (Some(n), Uuid::ZERO))
            .collect()
    };

    let mut seen_names = HashSet::new();
    let mut dup_names = HashSet::new();
    let mut seen_ids = HashSet::new();
    let mut dup_ids = HashSet::new();
    for (name, id) in &requested {
        match name {
            Some(n) => {
                if !seen_names.insert(n.clone()) {
                    dup_names.insert(n.clone());
                }
            }
            None => {
                if !seen_ids.insert(id.0) {
                    dup_ids.insert(id.0);
                }
            }
        }
    }

    let client_id = ctx.client_id.clone().unwrap_or_default();
    // KIP-599: strict from v5 (THROTTLING_QUOTA_EXCEEDED per topic).
    let mut mutations = state.quotas.mutations(
        crate::quotas::Client::new(&ctx.principal, &client_id),
        ctx.api_version >= 5,
    );
    let _guard = state.admin_lock.lock().await;
    let mut responses = Vec::with_capacity(requested.len());
    let mut reported = HashSet::new();
    for (name, id) in requested {
        let fail =
            |code: ErrorCode, msg: &str| result(name.clone(), id, code, Some(msg.to_string()));
        match &name {
            Some(n) if dup_names.contains(n) => {
                if reported.insert((Some(n.clone()), id.0)) {
                    responses.push(fail(ErrorCode::InvalidRequest, "Duplicate topic name."));
                }
                continue;
            }
            None if dup_ids.contains(&id.0) => {
                if reported.insert((None, id.0)) {
                    responses.push(fail(ErrorCode::InvalidRequest, "Duplicate topic id."));
                }
                continue;
            }
            Some(_) if id != Uuid::ZERO => {
                responses.push(fail(
                    ErrorCode::InvalidRequest,
                    "You may not specify both topic name and topic id.",
                ));
                continue;
            }
            _ => {}
        }
        if let Some(n) = &name {
            if !ctx.allowed(&state, AclOperation::Describe, ResourceType::Topic, n) {
                responses.push(fail(
                    ErrorCode::TopicAuthorizationFailed,
                    "Authorization failed.",
                ));
                continue;
            }
        }
        let topic = match &name {
            Some(n) => state.topic(n),
            None => state.topic_by_id(&id),
        };
        let Some(topic) = topic else {
            responses.push(match &name {
                Some(_) => fail(
                    ErrorCode::UnknownTopicOrPartition,
                    "This server does not host this topic.",
                ),
                None => fail(
                    ErrorCode::UnknownTopicId,
                    "This server does not host a topic with this id.",
                ),
            });
            continue;
        };
        let by_id_hidden = name.is_none()
            && !ctx.allowed(
                &state,
                AclOperation::Describe,
                ResourceType::Topic,
                &topic.name,
            );
        if by_id_hidden
            || !ctx.allowed(
                &state,
                AclOperation::Delete,
                ResourceType::Topic,
                &topic.name,
            )
        {
            responses.push(fail(
                ErrorCode::TopicAuthorizationFailed,
                "Authorization failed.",
            ));
            continue;
        }
        let (name, id) = (Some(topic.name.clone()), topic.id);
        if !state.config().delete_topic_enable {
            responses.push(result(
                name,
                id,
                ErrorCode::TopicDeletionDisabled,
                Some("Topic deletion is disabled (delete.topic.enable=false).".into()),
            ));
            continue;
        }
        if is_internal_topic(&topic.name) {
            responses.push(result(
                name,
                id,
                ErrorCode::InvalidRequest,
                Some(format!(
                    "Topic {} is an internal topic and cannot be deleted.",
                    topic.name
                )),
            ));
            continue;
        }
        let partitions = u32::try_from(topic.partitions.len()).unwrap_or(u32::MAX);
        if let Err(ms) = mutations.try_take(partitions) {
            responses.push(result(
                name,
                id,
                ErrorCode::ThrottlingQuotaExceeded,
                Some(format!(
                    "The throttling quota has been exceeded; retry in {ms} ms."
                )),
            ));
            continue;
        }
        if let Some(cluster) = state.cluster() {
            responses.push(
                match crate::cluster::admin::delete_topic(cluster, &topic.name).await {
                    Ok(()) => {
                        tracing::info!(topic = %topic.name, "deleted topic through the metadata quorum");
                        result(name, id, ErrorCode::None, None)
                    }
                    Err((code, message)) => result(name, id, code, Some(message)),
                },
            );
            continue;
        }
        match state.delete_topic(&topic.name) {
            Ok(true) => {
                tracing::info!(topic = %topic.name, "deleted topic");
                responses.push(result(name, id, ErrorCode::None, None));
            }
            Ok(false) => responses.push(result(
                name,
                id,
                ErrorCode::UnknownTopicOrPartition,
                Some("This server does not host this topic.".into()),
            )),
            Err(e) => {
                tracing::error!(topic = %topic.name, error = %e, "delete topic failed");
                responses.push(result(
                    name,
                    id,
                    ErrorCode::KafkaStorageError,
                    Some(format!("Deleting the topic failed: {e}")),
                ));
            }
        }
    }
    DeleteTopicsResponse {
        throttle_time_ms: i32::try_from(mutations.throttle_ms()).unwrap_or(i32::MAX),
        responses,
        ..Default::default()
    }
}
