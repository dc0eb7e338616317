//! DescribeLogDirs (key 35): the one data directory with the size of each
//! partition it holds.
//!
//! With an authorizer, as Kafka: DESCRIBE on the cluster, else
//! CLUSTER_AUTHORIZATION_FAILED (v3+; older versions get no result).

use std::path::PathBuf;
use std::sync::Arc;

use fjord_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use fjord_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::AclOperation;
use crate::state::{BrokerState, Topic};
use fjord_partition::Partition;

crate::handler!(DescribeLogDirs, 0, 4);

fn partition_entry(p: &Partition) -> DescribeLogDirsPartition {
    DescribeLogDirsPartition {
        partition_index: p.index,
        partition_size: i64::try_from(p.log.size_bytes()).unwrap_or(i64::MAX),
        // The only replica is the leader.
        offset_lag: 0,
        is_future_key: false,
        ..Default::default()
    }
}

fn topic_entry(t: &Topic, partitions: Option<&[i32]>) -> DescribeLogDirsTopic {
    let parts = match partitions {
        None => t.partitions.iter().map(|p| partition_entry(p)).collect(),
        // Partitions this broker does not host are left out, as Kafka does.
        Some(wanted) => wanted
            .iter()
            .filter_map(|i| usize::try_from(*i).ok().and_then(|i| t.partitions.get(i)))
            .map(|p| partition_entry(p))
            .collect(),
    };
    DescribeLogDirsTopic {
        name: t.name.clone(),
        partitions: parts,
        ..Default::default()
    }
}

fn log_dir_path(state: &BrokerState) -> String {
    let dir: PathBuf = std::path::absolute(&state.config().data_dir)
        .unwrap_or_else(|_| state.config().data_dir.clone());
    dir.display().to_string()
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    if !ctx.allowed_on_cluster(&state, AclOperation::Describe) {
        return DescribeLogDirsResponse {
            error_code: ErrorCode::ClusterAuthorizationFailed.code(),
            ..Default::default()
        };
    }
    let topics: Vec<DescribeLogDirsTopic> = match &req.topics {
        None => state
            .all_topics()
            .iter()
            .map(|t| topic_entry(t, None))
            .collect(),
        Some(requested) => requested
            .iter()
            .filter_map(|rt| {
                state
                    .topic(&rt.topic)
                    .map(|t| topic_entry(&t, Some(&rt.partitions)))
            })
            .filter(|t| !t.partitions.is_empty())
            .collect(),
    };
    DescribeLogDirsResponse {
        error_code: ErrorCode::None.code(),
        results: vec![DescribeLogDirsResult {
            error_code: ErrorCode::None.code(),
            log_dir: log_dir_path(&state),
            topics,
            // Unknown: reading them needs statvfs, which std does not offer.
            total_bytes: -1,
            usable_bytes: -1,
            ..Default::default()
        }],
        ..Default::default()
    }
}
