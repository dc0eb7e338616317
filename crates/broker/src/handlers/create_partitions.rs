//! CreatePartitions (key 37): grows topics to a new partition count
//! (never shrinks); manual assignments may only name this broker.
//!
//! With an authorizer, as Kafka: ALTER on each topic, else
//! TOPIC_AUTHORIZATION_FAILED (whether it exists or not).

use std::collections::HashMap;
use std::sync::Arc;

use fjord_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use fjord_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use fjord_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use fjord_protocol::ErrorCode;

use super::configs::ConfigError;
use super::create_topics::MAX_PARTITIONS;
use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::state::{BrokerState, Topic};

crate::handler!(CreatePartitions, 0, 3);

/// Checks the request for one topic; returns the topic to grow.
fn check(state: &BrokerState, t: &CreatePartitionsTopic) -> Result<Arc<Topic>, ConfigError> {
    if state.read_only() {
        return Err(ConfigError::new(
            ErrorCode::KafkaStorageError,
            "The broker's disk is full; it is read-only.",
        ));
    }
    let Some(topic) = state.topic(&t.name) else {
        return Err(ConfigError::new(
            ErrorCode::UnknownTopicOrPartition,
            format!("The topic '{}' does not exist.", t.name),
        ));
    };
    if topic.internal {
        // A group's offsets partition is a hash of its id modulo the count:
        // growing __consumer_offsets would strand every group's state.
        return Err(ConfigError::new(
            ErrorCode::InvalidRequest,
            format!(
                "Topic {} is an internal topic; its partitions cannot be changed.",
                t.name
            ),
        ));
    }
    let current = topic.partitions.len() as i32;
    if t.count < current {
        return Err(ConfigError::new(
            ErrorCode::InvalidPartitions,
            format!(
                "Topic currently has {current} partitions, which is higher than the requested {}.",
                t.count
            ),
        ));
    }
    if t.count == current {
        return Err(ConfigError::new(
            ErrorCode::InvalidPartitions,
            format!("Topic already has {current} partitions."),
        ));
    }
    if t.count > MAX_PARTITIONS {
        return Err(ConfigError::new(
            ErrorCode::InvalidPartitions,
            format!(
                "Number of partitions {} is more than the limit of {MAX_PARTITIONS}.",
                t.count
            ),
        ));
    }
    if let Some(assignments) = &t.assignments {
        let added = t.count - current;
        if assignments.len() as i64 != i64::from(added) {
            return Err(ConfigError::new(
                ErrorCode::InvalidReplicaAssignment,
                format!(
                    "Attempted to add {added} additional partitions, but only {} assignments were specified.",
                    assignments.len()
                ),
            ));
        }
        for a in assignments {
            if a.broker_ids.is_empty() {
                return Err(ConfigError::new(
                    ErrorCode::InvalidReplicaAssignment,
                    "The manual partition assignment includes an empty replica list.",
                ));
            }
            // Existing partitions have one replica; new ones must match.
            if a.broker_ids.len() != 1 {
                return Err(ConfigError::new(
                    ErrorCode::InvalidReplicaAssignment,
                    format!(
                        "The manual partition assignment has {} replicas, but the topic's replication factor is 1.",
                        a.broker_ids.len()
                    ),
                ));
            }
            if let Some(b) = a.broker_ids.iter().find(|b| **b != state.node_id) {
                return Err(ConfigError::new(
                    ErrorCode::InvalidReplicaAssignment,
                    format!("The manual partition assignment includes broker {b}, but no such broker is registered."),
                ));
            }
        }
    }
    Ok(topic)
}

fn result(name: String, e: Option<ConfigError>) -> CreatePartitionsTopicResult {
    let (code, message) = match e {
        Some(e) => (e.code, Some(e.message)),
        None => (ErrorCode::None, None),
    };
    CreatePartitionsTopicResult {
        name,
        error_code: code.code(),
        error_message: message,
        ..Default::default()
    }
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let client_id = ctx.client_id.clone().unwrap_or_default();
    // KIP-599: strict from v3 (THROTTLING_QUOTA_EXCEEDED per topic).
    let mut mutations = state.quotas.mutations(
        crate::quotas::Client::new(&ctx.principal, &client_id),
        ctx.api_version >= 3,
    );
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in &req.topics {
        *counts.entry(t.name.as_str()).or_default() += 1;
    }
    let _guard = state.admin_lock.lock().await;
    let mut results = Vec::with_capacity(req.topics.len());
    let mut reported: Vec<&str> = Vec::new();
    for t in &req.topics {
        if counts.get(t.name.as_str()).copied().unwrap_or(0) > 1 {
            if !reported.contains(&t.name.as_str()) {
                reported.push(&t.name);
                results.push(result(
                    t.name.clone(),
                    Some(ConfigError::new(
                        ErrorCode::InvalidRequest,
                        "Duplicate topic name.",
                    )),
                ));
            }
            continue;
        }
        if !ctx.allowed(&state, AclOperation::Alter, ResourceType::Topic, &t.name) {
            results.push(result(
                t.name.clone(),
                Some(ConfigError::new(
                    ErrorCode::TopicAuthorizationFailed,
                    "Authorization failed.",
                )),
            ));
            continue;
        }
        let topic = match check(&state, t).and_then(|topic| {
            let adding = i64::from(t.count) - topic.partitions.len() as i64;
            state
                .check_partition_budget(adding)
                .map(|()| topic)
                .map_err(|m| ConfigError::new(ErrorCode::PolicyViolation, m))
        }) {
            Ok(topic) => topic,
            Err(e) => {
                results.push(result(t.name.clone(), Some(e)));
                continue;
            }
        };
        if req.validate_only {
            results.push(result(t.name.clone(), None));
            continue;
        }
        let adding = i64::from(t.count) - topic.partitions.len() as i64;
        if let Err(ms) = mutations.try_take(u32::try_from(adding).unwrap_or(0)) {
            results.push(result(
                t.name.clone(),
                Some(ConfigError::new(
                    ErrorCode::ThrottlingQuotaExceeded,
                    format!("The throttling quota has been exceeded; retry in {ms} ms."),
                )),
            ));
            continue;
        }
        if let Some(cluster) = state.cluster() {
            let grown = crate::cluster::admin::create_partitions(cluster, &t.name, t.count).await;
            results.push(result(
                t.name.clone(),
                grown
                    .err()
                    .map(|(code, message)| ConfigError::new(code, message)),
            ));
            continue;
        }
        let grown = state
            .grow_topic(&topic, t.count)
            .and_then(|g| state.replace_topic(g));
        match grown {
            Ok(g) => {
                tracing::info!(
                    topic = %t.name,
                    from = topic.partitions.len(),
                    to = g.partitions.len(),
                    "added partitions"
                );
                results.push(result(t.name.clone(), None));
            }
            Err(e) => {
                tracing::error!(topic = %t.name, error = %e, "adding partitions failed");
                results.push(result(
                    t.name.clone(),
                    Some(ConfigError::new(
                        ErrorCode::KafkaStorageError,
                        format!("Adding partitions failed: {e}"),
                    )),
                ));
            }
        }
    }
    CreatePartitionsResponse {
        throttle_time_ms: i32::try_from(mutations.throttle_ms()).unwrap_or(i32::MAX),
        results,
        ..Default::default()
    }
}
