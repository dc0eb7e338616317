//! Admin requests: topics, configs, partitions, offsets and groups, as
//! methods on [`Client`]. Errors come back per topic, partition or group
//! and are turned into [`ClientError::Kafka`](crate::ClientError::Kafka)
//! with Kafka's error name and what they were about.
//!
//! - `topics`: Metadata views of topics, CreateTopics, DeleteTopics,
//!   CreatePartitions.
//! - `configs`: DescribeConfigs and IncrementalAlterConfigs of a topic.
//! - `list_offsets`: ListOffsets on each partition's leader.
//! - `groups`: FindCoordinator, ListGroups, DescribeGroups, OffsetFetch,
//!   OffsetCommit and DeleteGroups.
//! - `acls`: CreateAcls, DescribeAcls, DeleteAcls.
//! - `quotas`: DescribeClientQuotas and AlterClientQuotas.

use std::time::Duration;

use crate::client::Client;

mod acls;
mod configs;
mod groups;
mod list_offsets;
mod quotas;
#[cfg(test)]
mod tests;
mod topics;

pub use acls::{AclEntry, AclFilter};
pub use configs::{ConfigEntry, ConfigOp};
pub(crate) use groups::decode_assignment;
pub use groups::{DescribedGroup, GroupMemberInfo, GroupOffset, ListedGroup};
pub use list_offsets::OffsetSpec;
pub use quotas::{QuotaEntity, QuotaEntry, QuotaMatch};
pub use topics::{NewTopic, PartitionInfo, TopicInfo};

/// How often a retriable error (coordinator loading, leader moving) is retried.
const RETRIES: u32 = 10;

pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 * u64::from(attempt.min(10) + 1))
}

impl Client {
    fn timeout_ms(&self) -> i32 {
        i32::try_from(self.config().request_timeout.as_millis()).unwrap_or(i32::MAX)
    }
}
