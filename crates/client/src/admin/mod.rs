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
//! - `users`: AlterUserScramCredentials and DescribeUserScramCredentials.
//! - `cluster`: DescribeQuorum and ElectLeaders.

use std::time::Duration;

use fjord_protocol::{Request, Response};

use crate::client::{Client, Target};
use crate::error::{ClientError, Result};
use crate::versions;

mod acls;
mod cluster;
mod configs;
mod groups;
mod list_offsets;
mod quotas;
#[cfg(test)]
mod tests;
mod topics;
mod users;

pub use acls::{AclEntry, AclFilter};
pub use cluster::{
    ElectionKind, ElectionResult, QuorumStatus, QuorumVoter, ReassignRequest, Reassignment,
};
pub use configs::{ConfigEntry, ConfigOp};
pub(crate) use groups::decode_assignment;
pub use groups::{DescribedGroup, GroupMemberInfo, GroupOffset, ListedGroup};
pub use list_offsets::OffsetSpec;
pub use quotas::{QuotaEntity, QuotaEntry, QuotaMatch};
pub use topics::{NewTopic, PartitionInfo, TopicInfo};
pub use users::{ScramChange, ScramUser};

/// How often a retriable error (coordinator loading, leader moving) is retried.
const RETRIES: u32 = 10;

pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 * u64::from(attempt.min(10) + 1))
}

/// The one result an admin call about a single resource gets back: its
/// error code and message, and the rest for the caller.
pub(crate) struct Outcome<T> {
    pub code: i16,
    pub message: Option<String>,
    pub value: T,
}

impl<T> Outcome<T> {
    pub fn new(code: i16, message: Option<String>, value: T) -> Self {
        Outcome {
            code,
            message,
            value,
        }
    }
}

impl Client {
    fn timeout_ms(&self) -> i32 {
        i32::try_from(self.config().request_timeout.as_millis()).unwrap_or(i32::MAX)
    }

    /// Sends an admin request about one resource to any broker, and picks
    /// its result out of the response with `pick` (`None`: no result);
    /// a non-zero error code becomes the error, about `context`.
    pub(crate) async fn single_resource<T>(
        &mut self,
        req: Request,
        ours: versions::Range,
        context: &str,
        pick: impl FnOnce(Response) -> Result<Option<Outcome<T>>>,
    ) -> Result<T> {
        let (_, resp) = self.send(Target::Any, req, ours, None).await?;
        let Some(o) = pick(resp)? else {
            return Err(ClientError::Other(format!(
                "{context}: no result in the response"
            )));
        };
        match ClientError::from_code(context, o.code, o.message) {
            None => Ok(o.value),
            Some(e) => Err(e),
        }
    }
}
