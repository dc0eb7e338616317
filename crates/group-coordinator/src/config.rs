//! The group coordinator's broker configs, with Kafka's names on each
//! field and their defaults; the broker's config catalogue declares the
//! keys (parsing, documentation) and takes the defaults from here.

/// The group coordinator's broker configs (Kafka's names on each field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`: how long the first join round of
    /// an empty group waits for more members. Kafka's default is 3000;
    /// fjord's is 0, so a lone consumer (the common case on one node)
    /// starts at once.
    pub initial_rebalance_delay_ms: i64,
    /// `offsets.topic.num.partitions`, used when `__consumer_offsets` is
    /// created (an existing topic keeps its count). Kafka's default is 50,
    /// sized to spread coordinators over a cluster; on one node that buys
    /// nothing and costs 50 directories of open segment files, so fjord
    /// uses 8.
    pub offsets_topic_num_partitions: i32,
    /// `offsets.retention.minutes` (7 days), kept in milliseconds.
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms`.
    pub offsets_retention_check_interval_ms: i64,
    /// `group.min.session.timeout.ms`.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub max_session_timeout_ms: i32,
    /// `offset.metadata.max.bytes`: longer commit metadata is refused.
    pub offset_metadata_max_bytes: usize,
    /// `group.consumer.migration.policy` (Kafka 4.0's default:
    /// bidirectional).
    pub consumer_migration_policy: crate::consumer::MigrationPolicy,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay_ms: 0,
            offsets_topic_num_partitions: 8,
            offsets_retention_ms: 10_080 * 60_000,
            offsets_retention_check_interval_ms: 600_000,
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 1_800_000,
            offset_metadata_max_bytes: 4096,
            consumer_migration_policy: crate::consumer::MigrationPolicy::Bidirectional,
        }
    }
}
