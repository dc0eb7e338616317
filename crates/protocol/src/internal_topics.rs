//! Kafka's internal topics: their names, and how a group id or a
//! transactional id picks its partition (`Utils.abs(id.hashCode) % n`,
//! with Java's `String.hashCode`). Pure functions, shared by the
//! coordinators and the broker.

/// Committed offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
/// Transaction coordinator state.
pub const TXN_TOPIC: &str = "__transaction_state";

/// Kafka's internal topics (`Topic.isInternal`): clients cannot produce to
/// them, delete them, add partitions to them, or have Metadata create them.
/// Other names starting with `__` are ordinary topics, as in Kafka.
pub const INTERNAL_TOPICS: &[&str] = &[OFFSETS_TOPIC, TXN_TOPIC];

pub fn is_internal_topic(name: &str) -> bool {
    INTERNAL_TOPICS.contains(&name)
}

/// Java's `String.hashCode` over UTF-16 code units.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// Kafka's `Utils.abs(id.hashCode) % partitions`: the partition of an
/// internal topic that holds a group id's or transactional id's records.
pub fn partition_for(id: &str, partitions: i32) -> i32 {
    let h = java_string_hash(id);
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions.max(1)
}
