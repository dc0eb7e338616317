//! Metadata (key 3): brokers, topics and partitions, auto-creating topics
//! when `auto.create.topics.enable` allows it. Authorized operations
//! (topics v8+, cluster v8–v10) are reported only when asked for.
//!
//! With an authorizer, as Kafka: a listing of all topics holds only those
//! the principal may DESCRIBE; a named topic without DESCRIBE is answered
//! TOPIC_AUTHORIZATION_FAILED whether it exists or not; auto-creation
//! needs CREATE on the cluster or the topic (else
//! TOPIC_AUTHORIZATION_FAILED); the cluster's operations are reported
//! only with DESCRIBE on the cluster (else 0).

use std::collections::BTreeMap;
use std::sync::Arc;

use fjord_metadata::MetadataImage;
use fjord_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use fjord_protocol::messages::{MetadataRequest, MetadataResponse};
use fjord_protocol::{ErrorCode, Uuid};

use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType, NOT_REQUESTED};
use crate::state::{is_internal_topic, validate_topic_name, BrokerState, Topic};

crate::handler!(Metadata, 0, 12);

pub use crate::acl::CLUSTER_NAME;

/// This broker's address as the clients of `ctx`'s listener are told it
/// (Kafka answers with the advertised endpoint of the same listener name).
pub fn broker_endpoint(state: &BrokerState, ctx: &RequestCtx) -> (String, i32) {
    state
        .config()
        .advertised_for(&ctx.listener)
        .and_then(|e| e.host_port())
        .unwrap_or_else(|| ("127.0.0.1".into(), 9092))
}

/// A topic as the cluster's image describes it: each partition's leader
/// (-1 and LEADER_NOT_AVAILABLE when offline), epoch, replicas, ISR and
/// replicas on fenced brokers.
fn image_entry(
    image: &MetadataImage,
    topic: &fjord_metadata::image::TopicImage,
    internal: bool,
) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: ErrorCode::None.code(),
        name: Some(topic.name.clone()),
        topic_id: Uuid(topic.id.0),
        is_internal: internal,
        partitions: topic
            .partitions
            .iter()
            .map(|(index, p)| MetadataResponsePartition {
                error_code: if p.leader < 0 {
                    ErrorCode::LeaderNotAvailable.code()
                } else {
                    ErrorCode::None.code()
                },
                partition_index: *index,
                leader_id: p.leader,
                leader_epoch: p.leader_epoch,
                replica_nodes: p.replicas.clone(),
                isr_nodes: p.isr.clone(),
                offline_replicas: p
                    .replicas
                    .iter()
                    .copied()
                    .filter(|r| !image.is_alive(*r))
                    .collect(),
                ..Default::default()
            })
            .collect(),
        topic_authorized_operations: NOT_REQUESTED,
        ..Default::default()
    }
}

pub(crate) fn topic_entry(state: &BrokerState, t: &Topic) -> MetadataResponseTopic {
    if let Some(cluster) = state.cluster() {
        let image = cluster.image();
        if let Some(topic) = image.topic(&t.name) {
            return image_entry(&image, topic, t.internal);
        }
    }
    MetadataResponseTopic {
        error_code: ErrorCode::None.code(),
        name: Some(t.name.clone()),
        topic_id: t.id,
        is_internal: t.internal,
        partitions: t
            .partitions
            .iter()
            .map(|p| MetadataResponsePartition {
                error_code: ErrorCode::None.code(),
                partition_index: p.index,
                leader_id: state.node_id,
                leader_epoch: p.leader_epoch,
                replica_nodes: vec![state.node_id],
                isr_nodes: vec![state.node_id],
                offline_replicas: Vec::new(),
                ..Default::default()
            })
            .collect(),
        topic_authorized_operations: NOT_REQUESTED,
        ..Default::default()
    }
}

fn error_entry(name: Option<String>, id: Uuid, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: code.code(),
        name,
        topic_id: id,
        topic_authorized_operations: NOT_REQUESTED,
        ..Default::default()
    }
}

/// Creates `name` with broker defaults, as auto-creation does.
pub async fn auto_create(state: &BrokerState, name: &str) -> Result<Arc<Topic>, ErrorCode> {
    if validate_topic_name(name).is_err() {
        return Err(ErrorCode::InvalidTopicException);
    }
    if is_internal_topic(name) {
        // Internal topics are never auto-created on a client's behalf.
        return Err(ErrorCode::UnknownTopicOrPartition);
    }
    let _guard = state.admin_lock.lock().await;
    if let Some(t) = state.topic(name) {
        return Ok(t);
    }
    if state.read_only() {
        return Err(ErrorCode::KafkaStorageError);
    }
    let num_partitions = state.config().num_partitions;
    if let Some(cluster) = state.cluster() {
        return match crate::cluster::admin::create_topic(
            cluster,
            name,
            num_partitions,
            -1,
            &BTreeMap::new(),
        )
        .await
        {
            // Another broker created it first: as good.
            Ok(_) | Err((ErrorCode::TopicAlreadyExists, _)) => {
                tracing::info!(
                    topic = name,
                    "auto-created topic through the metadata quorum"
                );
                state.topic(name).ok_or(ErrorCode::LeaderNotAvailable)
            }
            Err((code, message)) => {
                tracing::warn!(topic = name, error = %message, "auto-create failed");
                Err(code)
            }
        };
    }
    if let Err(m) = state.check_partition_budget(i64::from(num_partitions)) {
        tracing::warn!(topic = name, "auto-create refused: {m}");
        return Err(ErrorCode::PolicyViolation);
    }
    match state.create_topic(name, num_partitions, BTreeMap::new()) {
        Ok(t) => {
            tracing::info!(
                topic = name,
                partitions = state.config().num_partitions,
                "auto-created topic"
            );
            Ok(t)
        }
        Err(e) => {
            tracing::error!(topic = name, error = %e, "auto-create failed");
            Err(ErrorCode::KafkaStorageError)
        }
    }
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: MetadataRequest,
) -> MetadataResponse {
    let (host, port) = broker_endpoint(&state, &ctx);
    // In cluster mode only the image's topics exist for clients (internal
    // topics stay local to their coordinator in this step).
    let in_image = |name: &str| {
        state
            .cluster()
            .is_none_or(|c| c.image().topic_ids.contains_key(name))
    };
    let mut topics = Vec::new();
    match req.topics {
        None => {
            for t in state.all_topics().into_iter().filter(|t| in_image(&t.name)) {
                if ctx.visible(&state, AclOperation::Describe, ResourceType::Topic, &t.name) {
                    topics.push(topic_entry(&state, &t));
                }
            }
        }
        Some(requested) => {
            // Before v4 auto-creation was implied.
            let allow_create = ctx.api_version < 4 || req.allow_auto_topic_creation;
            for rt in requested {
                let name = rt.name.clone().filter(|n| !n.is_empty());
                let found = match &name {
                    Some(n) => state.topic(n),
                    None => state.topic_by_id(&rt.topic_id),
                }
                .filter(|t| in_image(&t.name));
                // Without DESCRIBE the answer does not tell whether it exists.
                let described = match (&found, &name) {
                    (Some(t), _) => Some(t.name.as_str()),
                    (None, Some(n)) => Some(n.as_str()),
                    (None, None) => None,
                };
                if let Some(d) = described {
                    if !ctx.allowed(&state, AclOperation::Describe, ResourceType::Topic, d) {
                        let id = if name.is_some() {
                            Uuid::ZERO
                        } else {
                            rt.topic_id
                        };
                        topics.push(error_entry(name, id, ErrorCode::TopicAuthorizationFailed));
                        continue;
                    }
                }
                match (found, name) {
                    (Some(t), _) => topics.push(topic_entry(&state, &t)),
                    (None, Some(n)) => {
                        if let Err(msg) = validate_topic_name(&n) {
                            tracing::debug!(topic = %n, msg, "metadata for invalid topic name");
                            topics.push(error_entry(
                                Some(n),
                                Uuid::ZERO,
                                ErrorCode::InvalidTopicException,
                            ));
                        } else if allow_create && state.config().auto_create_topics {
                            let may_create = ctx.visible(
                                &state,
                                AclOperation::Create,
                                ResourceType::Cluster,
                                CLUSTER_NAME,
                            ) || ctx.allowed(
                                &state,
                                AclOperation::Create,
                                ResourceType::Topic,
                                &n,
                            );
                            if !may_create {
                                topics.push(error_entry(
                                    Some(n),
                                    Uuid::ZERO,
                                    ErrorCode::TopicAuthorizationFailed,
                                ));
                                continue;
                            }
                            match auto_create(&state, &n).await {
                                Ok(t) => topics.push(topic_entry(&state, &t)),
                                Err(code) => topics.push(error_entry(Some(n), Uuid::ZERO, code)),
                            }
                        } else {
                            topics.push(error_entry(
                                Some(n),
                                Uuid::ZERO,
                                ErrorCode::UnknownTopicOrPartition,
                            ));
                        }
                    }
                    (None, None) => {
                        topics.push(error_entry(None, rt.topic_id, ErrorCode::UnknownTopicId))
                    }
                }
            }
        }
    }
    // Kafka fills the topic operations of every entry, errors included.
    if req.include_topic_authorized_operations {
        for t in &mut topics {
            let name = t.name.as_deref().unwrap_or("");
            t.topic_authorized_operations =
                ctx.authorized_operations(&state, ResourceType::Topic, name);
        }
    }
    // The field exists in v8–v10 requests only (v11 moved it to
    // DescribeCluster); the decoded value is false elsewhere.
    let cluster_ops = if !(ctx.api_version >= 8 && req.include_cluster_authorized_operations) {
        NOT_REQUESTED
    } else if ctx.allowed_on_cluster(&state, AclOperation::Describe) {
        ctx.authorized_operations(&state, ResourceType::Cluster, CLUSTER_NAME)
    } else {
        0
    };
    let (brokers, controller_id) = match state.cluster() {
        Some(cluster) => (
            cluster
                .live_brokers(&ctx.listener)
                .into_iter()
                .map(|b| MetadataResponseBroker {
                    node_id: b.id,
                    host: b.host,
                    port: b.port,
                    rack: b.rack,
                    ..Default::default()
                })
                .collect(),
            cluster.controller_id().unwrap_or(-1),
        ),
        None => (
            vec![MetadataResponseBroker {
                node_id: state.node_id,
                host,
                port,
                rack: None,
                ..Default::default()
            }],
            state.node_id,
        ),
    };
    MetadataResponse {
        brokers,
        cluster_id: Some(state.cluster_id.clone()),
        controller_id,
        topics,
        cluster_authorized_operations: cluster_ops,
        ..Default::default()
    }
}
