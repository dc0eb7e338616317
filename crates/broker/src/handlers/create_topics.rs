//! CreateTopics (key 19): checks names, partition counts, replication
//! factors, manual assignments and configs, then creates the topics (or,
//! with `validate_only`, only reports what would be created).
//!
//! With an authorizer, as Kafka: CREATE on the cluster, or else on each
//! topic (TOPIC_AUTHORIZATION_FAILED for a topic without it); a created
//! topic's configs are returned only with DESCRIBE_CONFIGS on it (else
//! `topic_config_error_code` is TOPIC_AUTHORIZATION_FAILED).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use fjord_protocol::messages::create_topics_request::{CreatableReplicaAssignment, CreatableTopic};
use fjord_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use fjord_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use fjord_protocol::{ErrorCode, Uuid};
use fjord_storage::LogConfig;

use super::configs::{self, ConfigError};
use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::state::{validate_topic_name, BrokerState};

crate::handler!(CreateTopics, 0, 7);

/// The most partitions one topic may have (as `num.partitions`).
pub const MAX_PARTITIONS: i32 = 100_000;

/// The most partitions one CreateTopics request may create, over all its
/// topics (Kafka 4's controller refuses more, KAFKA-17870): past it every
/// topic of the request gets POLICY_VIOLATION and nothing is touched.
pub const MAX_PARTITIONS_PER_REQUEST: i64 = 10_000;

/// A topic that passed every check.
struct Plan {
    partitions: i32,
    overrides: BTreeMap<String, String>,
    log: LogConfig,
}

/// Kafka's `Topic.hasCollision`: `.` and `_` collide in metric names.
/// Compared in place: it runs against every existing topic.
fn collides(a: &str, b: &str) -> bool {
    let norm = |c: u8| if c == b'.' { b'_' } else { c };
    a != b && a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| norm(x) == norm(y))
}

fn check_assignments(
    node_id: i32,
    assignments: &[CreatableReplicaAssignment],
) -> Result<i32, ConfigError> {
    let invalid = |m: String| ConfigError::new(ErrorCode::InvalidReplicaAssignment, m);
    let mut indexes: Vec<i32> = assignments.iter().map(|a| a.partition_index).collect();
    indexes.sort_unstable();
    if indexes
        .iter()
        .enumerate()
        .any(|(i, p)| i64::from(*p) != i as i64)
    {
        return Err(invalid(
            "Partitions in the manual assignment should be a consecutive 0-based integer sequence."
                .into(),
        ));
    }
    for a in assignments {
        if a.broker_ids.is_empty() {
            return Err(invalid(format!(
                "The manual partition assignment of partition {} includes an empty replica list.",
                a.partition_index
            )));
        }
        for (i, b) in a.broker_ids.iter().enumerate() {
            if a.broker_ids[..i].contains(b) {
                return Err(invalid(format!(
                    "The manual partition assignment includes the broker {b} more than once."
                )));
            }
            if *b != node_id {
                return Err(invalid(format!(
                    "The manual partition assignment includes broker {b}, but no such broker is registered."
                )));
            }
        }
    }
    Ok(assignments.len() as i32)
}

fn plan(state: &BrokerState, t: &CreatableTopic) -> Result<Plan, ConfigError> {
    validate_topic_name(&t.name)
        .map_err(|m| ConfigError::new(ErrorCode::InvalidTopicException, m))?;
    if state.read_only() {
        return Err(ConfigError::new(
            ErrorCode::KafkaStorageError,
            "The broker's disk is full; it is read-only.",
        ));
    }
    if state.topic(&t.name).is_some() {
        return Err(ConfigError::new(
            ErrorCode::TopicAlreadyExists,
            format!("Topic '{}' already exists.", t.name),
        ));
    }
    if let Some(other) = state.find_topic(|o| collides(o, &t.name)) {
        return Err(ConfigError::new(
            ErrorCode::InvalidTopicException,
            format!("Topic '{}' collides with existing topic: {other}", t.name),
        ));
    }
    let partitions = if !t.assignments.is_empty() {
        if t.num_partitions != -1 || t.replication_factor != -1 {
            return Err(ConfigError::new(
                ErrorCode::InvalidRequest,
                "Both numPartitions or replicationFactor and replicasAssignments were set. \
                 Both cannot be used at the same time.",
            ));
        }
        if state.cluster().is_some() {
            return Err(ConfigError::new(
                ErrorCode::InvalidRequest,
                "Manual replica assignments are not supported in cluster mode yet.",
            ));
        }
        check_assignments(state.node_id, &t.assignments)?
    } else {
        match t.replication_factor {
            -1 | 1 => {}
            // In cluster mode the controller checks it against the live brokers.
            rf if rf > 0 && state.cluster().is_some() => {}
            rf if rf <= 0 => {
                return Err(ConfigError::new(
                    ErrorCode::InvalidReplicationFactor,
                    "Replication factor must be larger than 0, or -1 to use the default value.",
                ))
            }
            rf => {
                return Err(ConfigError::new(
                    ErrorCode::InvalidReplicationFactor,
                    format!("Replication factor: {rf} larger than available brokers: 1."),
                ))
            }
        }
        match t.num_partitions {
            -1 => state.config().num_partitions,
            n if n <= 0 => {
                return Err(ConfigError::new(
                    ErrorCode::InvalidPartitions,
                    "Number of partitions was set to an invalid non-positive value.",
                ))
            }
            n => n,
        }
    };
    if partitions > MAX_PARTITIONS {
        return Err(ConfigError::new(
            ErrorCode::InvalidPartitions,
            format!(
                "Number of partitions {partitions} is more than the limit of {MAX_PARTITIONS}."
            ),
        ));
    }
    let mut overrides = BTreeMap::new();
    for c in &t.configs {
        let Some(value) = &c.value else {
            return Err(ConfigError::new(
                ErrorCode::InvalidRequest,
                format!("Null value not supported for topic configs: {}", c.name),
            ));
        };
        overrides.insert(c.name.clone(), value.clone());
    }
    let log = configs::validate_topic_configs(&state.config(), &overrides)?;
    Ok(Plan {
        partitions,
        overrides,
        log,
    })
}

fn error_result(name: String, e: ConfigError) -> CreatableTopicResult {
    CreatableTopicResult {
        name,
        topic_id: Uuid::ZERO,
        error_code: e.code.code(),
        error_message: Some(e.message),
        num_partitions: -1,
        replication_factor: -1,
        configs: Some(Vec::new()),
        ..Default::default()
    }
}

fn described_configs(
    state: &BrokerState,
    overrides: &BTreeMap<String, String>,
    log: &LogConfig,
) -> Vec<CreatableTopicConfigs> {
    configs::describe_topic(&state.config(), overrides, log)
        .into_iter()
        .map(|d| CreatableTopicConfigs {
            name: d.name,
            value: d.value,
            read_only: d.read_only,
            config_source: d.source,
            is_sensitive: d.sensitive,
            ..Default::default()
        })
        .collect()
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let client_id = ctx.client_id.clone().unwrap_or_default();
    // KIP-599: from v6 a client over its controller_mutation_rate is told
    // THROTTLING_QUOTA_EXCEEDED per topic; older ones are only throttled.
    let mut mutations = state.quotas.mutations(
        crate::quotas::Client::new(&ctx.principal, &client_id),
        ctx.api_version >= 6,
    );
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in &req.topics {
        *counts.entry(t.name.as_str()).or_default() += 1;
    }
    // Checks and creation happen under one lock so no other admin request
    // can create a clashing topic in between.
    let _guard = state.admin_lock.lock().await;
    let mut results = Vec::with_capacity(req.topics.len());
    let mut reported_duplicates: Vec<&str> = Vec::new();
    // Every topic is checked before any is created, so that limits over
    // the whole request refuse it before a single directory exists.
    let mut plans = Vec::with_capacity(req.topics.len());
    let cluster_create = ctx.visible(
        &state,
        AclOperation::Create,
        ResourceType::Cluster,
        CLUSTER_NAME,
    );
    for t in &req.topics {
        if counts.get(t.name.as_str()).copied().unwrap_or(0) > 1 {
            if !reported_duplicates.contains(&t.name.as_str()) {
                reported_duplicates.push(&t.name);
                plans.push((
                    t,
                    Err(ConfigError::new(
                        ErrorCode::InvalidRequest,
                        "Duplicate topic name.",
                    )),
                ));
            }
            continue;
        }
        if !cluster_create
            && !ctx.allowed(&state, AclOperation::Create, ResourceType::Topic, &t.name)
        {
            plans.push((
                t,
                Err(ConfigError::new(
                    ErrorCode::TopicAuthorizationFailed,
                    "Authorization failed.",
                )),
            ));
            continue;
        }
        plans.push((t, plan(&state, t)));
    }
    let requested: i64 = plans
        .iter()
        .filter_map(|(_, p)| p.as_ref().ok())
        .map(|p| i64::from(p.partitions))
        .sum();
    if requested > MAX_PARTITIONS_PER_REQUEST {
        let message = format!(
            "The request asks for {requested} partitions, more than the {MAX_PARTITIONS_PER_REQUEST} one CreateTopics may create."
        );
        for (_, p) in plans.iter_mut() {
            if p.is_ok() {
                *p = Err(ConfigError::new(
                    ErrorCode::PolicyViolation,
                    message.clone(),
                ));
            }
        }
    }
    // Partitions this request created so far (validate_only creates none
    // but is judged as if the earlier topics had been created).
    let mut added = 0i64;
    for (t, plan) in plans {
        let plan = match plan.and_then(|p| {
            state
                .check_partition_budget(added + i64::from(p.partitions))
                .map(|()| p)
                .map_err(|m| ConfigError::new(ErrorCode::PolicyViolation, m))
        }) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(topic = %t.name, error = %e.message, "create topic refused");
                results.push(error_result(t.name.clone(), e));
                continue;
            }
        };
        if req.validate_only {
            added += i64::from(plan.partitions);
        }
        let may_describe = ctx.allowed(
            &state,
            AclOperation::DescribeConfigs,
            ResourceType::Topic,
            &t.name,
        );
        let configs = may_describe.then(|| described_configs(&state, &plan.overrides, &plan.log));
        let topic_config_error_code = if may_describe {
            ErrorCode::None.code()
        } else {
            ErrorCode::TopicAuthorizationFailed.code()
        };
        if req.validate_only {
            results.push(CreatableTopicResult {
                name: t.name.clone(),
                topic_id: Uuid::ZERO,
                error_code: ErrorCode::None.code(),
                error_message: None,
                num_partitions: plan.partitions,
                replication_factor: 1,
                configs,
                topic_config_error_code,
                ..Default::default()
            });
            continue;
        }
        if let Err(ms) = mutations.try_take(u32::try_from(plan.partitions).unwrap_or(0)) {
            results.push(error_result(
                t.name.clone(),
                ConfigError::new(
                    ErrorCode::ThrottlingQuotaExceeded,
                    format!("The throttling quota has been exceeded; retry in {ms} ms."),
                ),
            ));
            continue;
        }
        if let Some(cluster) = state.cluster() {
            let created = crate::cluster::admin::create_topic(
                cluster,
                &t.name,
                plan.partitions,
                t.replication_factor,
                &plan.overrides,
            )
            .await;
            results.push(match created {
                Ok(topic_id) => {
                    tracing::info!(topic = %t.name, partitions = plan.partitions, "created topic through the metadata quorum");
                    CreatableTopicResult {
                        name: t.name.clone(),
                        topic_id,
                        error_code: ErrorCode::None.code(),
                        error_message: None,
                        num_partitions: plan.partitions,
                        replication_factor: t.replication_factor.max(1),
                        configs,
                        ..Default::default()
                    }
                }
                Err((code, message)) => {
                    error_result(t.name.clone(), ConfigError::new(code, message))
                }
            });
            continue;
        }
        match state.create_topic(&t.name, plan.partitions, plan.overrides) {
            Ok(created) => {
                tracing::info!(topic = %t.name, partitions = plan.partitions, "created topic");
                results.push(CreatableTopicResult {
                    name: t.name.clone(),
                    topic_id: created.id,
                    error_code: ErrorCode::None.code(),
                    error_message: None,
                    num_partitions: created.partitions.len() as i32,
                    replication_factor: 1,
                    configs,
                    topic_config_error_code,
                    ..Default::default()
                });
            }
            Err(e) => {
                tracing::error!(topic = %t.name, error = %e, "create topic failed");
                results.push(error_result(
                    t.name.clone(),
                    ConfigError::new(
                        ErrorCode::KafkaStorageError,
                        format!("Creating the topic failed: {e}"),
                    ),
                ));
            }
        }
    }
    CreateTopicsResponse {
        throttle_time_ms: i32::try_from(mutations.throttle_ms()).unwrap_or(i32::MAX),
        topics: results,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_collisions() {
        assert!(collides("a.b", "a_b"));
        assert!(!collides("a.b", "a.b"));
        assert!(!collides("ab", "a_b"));
    }

    #[test]
    fn assignments() {
        let a = |p: i32, b: Vec<i32>| CreatableReplicaAssignment {
            partition_index: p,
            broker_ids: b,
            ..Default::default()
        };
        assert_eq!(check_assignments(1, &[a(1, vec![1]), a(0, vec![1])]), Ok(2));
        let err = |r: Result<i32, ConfigError>| r.unwrap_err().code;
        assert_eq!(
            err(check_assignments(1, &[a(0, vec![1]), a(2, vec![1])])),
            ErrorCode::InvalidReplicaAssignment
        );
        assert_eq!(
            err(check_assignments(1, &[a(0, vec![2])])),
            ErrorCode::InvalidReplicaAssignment
        );
        assert_eq!(
            err(check_assignments(1, &[a(0, vec![1, 1])])),
            ErrorCode::InvalidReplicaAssignment
        );
        assert_eq!(
            err(check_assignments(1, &[a(0, vec![])])),
            ErrorCode::InvalidReplicaAssignment
        );
    }
}
