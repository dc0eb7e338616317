//! DescribeQuorum (key 55): the metadata quorum (`__cluster_metadata`
//! partition 0) as `kafka-metadata-quorum.sh describe --status/--replication`
//! shows it: leader, leader epoch (the Raft term), high watermark, and per
//! voter its log end offset and when it was last heard from. Needs
//! DESCRIBE on the cluster (else CLUSTER_AUTHORIZATION_FAILED). Any other
//! topic or partition gets UNKNOWN_TOPIC_OR_PARTITION.
//!
//! Kafka forwards the request to the active controller; here every node
//! answers from its own view: the leader knows every voter's log end,
//! a follower only its own (the others are -1, as Kafka reports unknown
//! offsets). Observers are the broker-only nodes (`process.roles=broker`),
//! which replicate the log without voting.
//! One node (no quorum): this node is the only voter and the leader, at
//! epoch 0, with the offsets unknown (-1).

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use fjord_protocol::messages::describe_quorum_response::{
    Listener, Node, PartitionData, ReplicaState, TopicData,
};
use fjord_protocol::messages::{DescribeQuorumRequest, DescribeQuorumResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::AclOperation;
use crate::state::BrokerState;

crate::handler!(DescribeQuorum, 0, 2);

/// The metadata log's name, as Kafka's.
const METADATA_TOPIC: &str = "__cluster_metadata";

fn partition_error(index: i32, code: ErrorCode) -> PartitionData {
    PartitionData {
        partition_index: index,
        error_code: code.code(),
        error_message: Some(code.name().into()),
        leader_id: -1,
        leader_epoch: -1,
        high_watermark: -1,
        ..Default::default()
    }
}

fn millis(t: Option<std::time::SystemTime>) -> i64 {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .unwrap_or(-1)
}

/// The quorum partition as this node sees it, and the voters' listeners.
fn describe(state: &BrokerState) -> (PartitionData, Vec<Node>) {
    let Some(cluster) = state.cluster() else {
        let me = ReplicaState {
            replica_id: state.node_id,
            log_end_offset: -1,
            last_fetch_timestamp: -1,
            last_caught_up_timestamp: -1,
            ..Default::default()
        };
        let data = PartitionData {
            partition_index: 0,
            error_code: ErrorCode::None.code(),
            leader_id: state.node_id,
            leader_epoch: 0,
            high_watermark: -1,
            current_voters: vec![me],
            ..Default::default()
        };
        return (data, Vec::new());
    };
    let info = cluster.quorum.describe();
    let leader_end = info
        .voters
        .iter()
        .find(|v| Some(v.id) == info.leader_id)
        .and_then(|v| v.log_end_offset);
    let replica = |v: &fjord_metadata::VoterInfo| {
        let end = v.log_end_offset.and_then(|o| i64::try_from(o).ok());
        let heard = millis(v.last_ack);
        ReplicaState {
            replica_id: i32::try_from(v.id).unwrap_or(-1),
            log_end_offset: end.unwrap_or(-1),
            last_fetch_timestamp: heard,
            // Caught up: it holds everything the leader has.
            last_caught_up_timestamp: match (v.log_end_offset, leader_end) {
                (Some(e), Some(l)) if e >= l => heard,
                _ => -1,
            },
            ..Default::default()
        }
    };
    let data = PartitionData {
        partition_index: 0,
        error_code: ErrorCode::None.code(),
        leader_id: info
            .leader_id
            .and_then(|l| i32::try_from(l).ok())
            .unwrap_or(-1),
        leader_epoch: i32::try_from(info.term).unwrap_or(i32::MAX),
        high_watermark: info
            .high_watermark
            .and_then(|h| i64::try_from(h).ok())
            .unwrap_or(-1),
        current_voters: info.voters.iter().map(replica).collect(),
        observers: info.observers.iter().map(replica).collect(),
        ..Default::default()
    };
    let nodes = cluster
        .quorum
        .voters()
        .iter()
        .filter_map(|(id, addr)| {
            let (host, port) = addr.rsplit_once(':')?;
            Some(Node {
                node_id: i32::try_from(*id).ok()?,
                listeners: vec![Listener {
                    name: "CONTROLLER".into(),
                    host: host.trim_start_matches('[').trim_end_matches(']').into(),
                    port: port.parse().ok()?,
                    ..Default::default()
                }],
                ..Default::default()
            })
        })
        .collect();
    (data, nodes)
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: DescribeQuorumRequest,
) -> DescribeQuorumResponse {
    if !ctx.allowed_on_cluster(&state, AclOperation::Describe) {
        return DescribeQuorumResponse {
            error_code: ErrorCode::ClusterAuthorizationFailed.code(),
            error_message: Some("Cluster authorization failed.".into()),
            ..Default::default()
        };
    }
    let (quorum, nodes) = describe(&state);
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    if t.topic_name == METADATA_TOPIC && p.partition_index == 0 {
                        quorum.clone()
                    } else {
                        partition_error(p.partition_index, ErrorCode::UnknownTopicOrPartition)
                    }
                })
                .collect();
            TopicData {
                topic_name: t.topic_name,
                partitions,
                ..Default::default()
            }
        })
        .collect();
    DescribeQuorumResponse {
        error_code: ErrorCode::None.code(),
        topics,
        nodes,
        ..Default::default()
    }
}
