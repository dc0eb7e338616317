//! Consumer groups of the new rebalance protocol (KIP-848): membership,
//! server-side assignment and reconciliation driven by
//! ConsumerGroupHeartbeat, described by ConsumerGroupDescribe.
//!
//! A group has a *group epoch*, bumped whenever what the assignment depends
//! on changes (a member joins or leaves, a subscription changes, a
//! subscribed topic gains partitions). When the group epoch passes the
//! *assignment epoch*, the group's assignor (`uniform` unless the members
//! ask for `range`) computes a new *target assignment* and the assignment
//! epoch catches up. Each member then moves from its current assignment to
//! its target one heartbeat at a time (see [`reconcile`]): it gives up
//! partitions first, and receives a partition only once no other member
//! owns it, so a partition never has two owners.
//!
//! Timers are deadlines checked on the coordinator's tick: a member that
//! does not heartbeat within `group.consumer.session.timeout.ms` is
//! removed, and so is one that holds partitions it must revoke for longer
//! than its rebalance timeout.
//!
//! Durability: every change is appended to the group's `__consumer_offsets`
//! partition in Kafka's ConsumerGroup* record schemas while the group lock
//! is held (see [`records`]), the heartbeat is answered once they are
//! synced, and the records are replayed at start, so members keep their
//! epochs and assignments across a restart.
//!
//! A group id is a classic group or a consumer group, never both with
//! members. Under `group.consumer.migration.policy` (Kafka 4.0's default,
//! bidirectional) they convert online (see [`migrate`]): a
//! ConsumerGroupHeartbeat joining a classic group of the consumer protocol
//! upgrades it, and consumers of the classic protocol can be members of a
//! consumer group (see [`classic_members`]); a consumer group left with
//! only those becomes a classic group again. A conversion the policy
//! forbids is refused as Kafka does: GROUP_ID_NOT_FOUND ("not a consumer
//! group") to the heartbeat, INCONSISTENT_GROUP_PROTOCOL to a new classic
//! member. An empty group of the other type is simply replaced. Committed
//! offsets stay in the classic coordinator's table, keyed by group id,
//! whatever the type.
//!
//! Code map: the group and member state, and their replay, in `group`;
//! ConsumerGroupHeartbeat in `heartbeat`; classic members' JoinGroup,
//! SyncGroup, Heartbeat and LeaveGroup in `classic_members`; upgrade and
//! downgrade in `migrate`; what the classic coordinator,
//! OffsetCommit/OffsetFetch, DeleteGroups, the tick and start-up ask of
//! consumer groups in `hooks`; ConsumerGroupDescribe, DescribeGroups and
//! ListGroups views in `describe`.

pub mod assignor;
mod classic_members;
mod describe;
mod group;
mod heartbeat;
mod hooks;
mod migrate;
pub mod reconcile;
pub mod records;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Mutex;

use fjord_protocol::{ErrorCode, Uuid};

pub use self::classic_members::ClassicEnv;
pub(crate) use self::classic_members::Route;
use self::group::Group;
use self::reconcile::Assignment;

/// Kafka's `group.consumer.session.timeout.ms` default.
pub const DEFAULT_SESSION_TIMEOUT_MS: i32 = 45_000;
/// Kafka's `group.consumer.heartbeat.interval.ms` default.
pub const DEFAULT_HEARTBEAT_INTERVAL_MS: i32 = 5_000;
/// Epoch of a member leaving the group.
pub const LEAVE_EPOCH: i32 = -1;
/// Epoch of a static member leaving for a while (it keeps its partitions
/// until its session times out).
pub const LEAVE_STATIC_EPOCH: i32 = -2;
/// Kafka's INVALID_REGULAR_EXPRESSION (newer than fjord's error table).
pub const INVALID_REGULAR_EXPRESSION: i16 = 128;
/// How often empty consumer groups without offsets are cleaned up.
const CLEANUP_INTERVAL_MS: i64 = 600_000;

/// The `group.consumer.*` broker settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerGroupConfig {
    /// `group.consumer.session.timeout.ms`.
    pub session_timeout_ms: i32,
    /// `group.consumer.heartbeat.interval.ms`.
    pub heartbeat_interval_ms: i32,
    /// `group.consumer.assignors`: the first is the default.
    pub assignors: Vec<String>,
    /// `group.consumer.max.size`.
    pub max_size: usize,
}

/// `group.consumer.migration.policy`: which online conversions between a
/// classic group and a consumer group are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationPolicy {
    Disabled,
    Upgrade,
    Downgrade,
    Bidirectional,
}

impl MigrationPolicy {
    /// Kafka's values, case-insensitively.
    pub fn parse(value: &str) -> Result<MigrationPolicy, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "disabled" => Ok(MigrationPolicy::Disabled),
            "upgrade" => Ok(MigrationPolicy::Upgrade),
            "downgrade" => Ok(MigrationPolicy::Downgrade),
            "bidirectional" => Ok(MigrationPolicy::Bidirectional),
            _ => Err(format!(
                "unknown migration policy {value:?} (one of: disabled, upgrade, downgrade, bidirectional)"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MigrationPolicy::Disabled => "disabled",
            MigrationPolicy::Upgrade => "upgrade",
            MigrationPolicy::Downgrade => "downgrade",
            MigrationPolicy::Bidirectional => "bidirectional",
        }
    }

    /// A classic group may become a consumer group.
    pub fn upgrade(self) -> bool {
        matches!(
            self,
            MigrationPolicy::Upgrade | MigrationPolicy::Bidirectional
        )
    }

    /// A consumer group may become a classic group.
    pub fn downgrade(self) -> bool {
        matches!(
            self,
            MigrationPolicy::Downgrade | MigrationPolicy::Bidirectional
        )
    }
}

impl Default for ConsumerGroupConfig {
    /// Kafka's defaults (the broker's config catalogue takes them from
    /// here).
    fn default() -> Self {
        ConsumerGroupConfig {
            session_timeout_ms: DEFAULT_SESSION_TIMEOUT_MS,
            heartbeat_interval_ms: DEFAULT_HEARTBEAT_INTERVAL_MS,
            assignors: assignor::ASSIGNORS.iter().map(|s| s.to_string()).collect(),
            max_size: i32::MAX as usize,
        }
    }
}

impl ConsumerGroupConfig {
    fn default_assignor(&self) -> &str {
        self.assignors
            .first()
            .map(String::as_str)
            .unwrap_or(assignor::UNIFORM)
    }
}

/// Parses `group.consumer.assignors`: fjord's assignor names (Kafka's class
/// names are accepted too), at least one.
pub fn parse_assignors(value: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for raw in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let name = match raw {
            "org.apache.kafka.coordinator.group.assignor.UniformAssignor" => "uniform",
            "org.apache.kafka.coordinator.group.assignor.RangeAssignor" => "range",
            other => other,
        };
        if !assignor::ASSIGNORS.contains(&name) {
            return Err(format!(
                "unknown assignor {raw:?} (fjord has: uniform, range)"
            ));
        }
        names.push(name.to_string());
    }
    if names.is_empty() {
        return Err("at least one assignor is required".into());
    }
    Ok(names)
}

/// A topic as the coordinator sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicInfo {
    pub name: String,
    pub id: Uuid,
    pub partitions: i32,
}

/// The broker's topics, as far as consumer groups need them.
pub trait Topics {
    fn by_name(&self, name: &str) -> Option<TopicInfo>;
    fn by_id(&self, id: &Uuid) -> Option<TopicInfo>;
    /// Names a subscription regex may match (no internal topics).
    fn names(&self) -> Vec<String>;
}

/// The fields of a ConsumerGroupHeartbeat request.
#[derive(Clone, Debug, Default)]
pub struct HeartbeatArgs {
    pub group_id: String,
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Option<Vec<String>>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    /// Owned partitions as reported; `None` when unchanged since the last
    /// heartbeat.
    pub owned: Option<Assignment>,
    pub client_id: String,
    pub client_host: String,
}

/// What a ConsumerGroupHeartbeat is answered with.
#[derive(Clone, Debug, PartialEq)]
pub struct HeartbeatResult {
    pub error_code: i16,
    pub error_message: Option<String>,
    pub member_id: Option<String>,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    pub assignment: Option<Assignment>,
}

impl HeartbeatResult {
    fn error(code: i16, message: String) -> HeartbeatResult {
        HeartbeatResult {
            error_code: code,
            error_message: Some(message),
            member_id: None,
            member_epoch: 0,
            heartbeat_interval_ms: 0,
            assignment: None,
        }
    }

    fn err(code: ErrorCode, message: String) -> HeartbeatResult {
        HeartbeatResult::error(code.code(), message)
    }
}

/// Kafka's `ConsumerGroupState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerGroupState {
    Empty,
    Assigning,
    Reconciling,
    Stable,
}

impl ConsumerGroupState {
    pub fn name(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
        }
    }
}

/// How an OffsetCommit relates to consumer groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitCheck {
    /// Not a consumer group: the classic rules apply.
    NotConsumer,
    /// A consumer group member (or an admin commit to an empty group) at
    /// the right epoch.
    Accept,
    Reject(ErrorCode),
}

/// A group as ListGroups shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ListedGroupInfo {
    pub group_id: String,
    pub protocol_type: String,
    pub state: String,
    pub group_type: &'static str,
}

/// The consumer groups of this node.
#[derive(Default)]
pub struct ConsumerGroups {
    groups: Mutex<HashMap<String, Group>>,
    last_cleanup: Mutex<i64>,
}
