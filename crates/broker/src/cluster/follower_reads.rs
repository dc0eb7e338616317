//! Fetch from the closest replica (KIP-392): with
//! `replica.selector.class` set to Kafka's `RackAwareReplicaSelector`, a
//! consumer that names its rack (`client.rack`, Fetch v11+) and fetches
//! from a leader in another rack is told, through the partition's
//! `preferred_read_replica`, of an in-sync replica in its own rack, and
//! fetches from it from then on. Every follower serves consumers' Fetch
//! v11+ (as Kafka's brokers do whatever the selector): up to its own high
//! watermark (or last stable offset for read_committed), which trails the
//! leader's by at most one replica fetch.
//!
//! The choice, as Kafka's selector: no rack, or no replica in the
//! client's rack, or the leader in it: the leader serves. Otherwise the
//! most caught-up replica of that rack among those that are in the ISR,
//! unfenced and known to the leader to hold the fetch offset.

use fjord_metadata::image::PartitionImage;
use fjord_metadata::MetadataImage;
use fjord_partition::replica::Replication;
use fjord_protocol::ErrorCode;

/// The fetch version that carries the client's rack (and from which a
/// consumer may fetch from a follower).
pub const MIN_VERSION: i16 = 11;

/// Kafka's class names for `replica.selector.class`.
pub const RACK_AWARE: &str = "org.apache.kafka.common.replica.RackAwareReplicaSelector";
pub const LEADER_ONLY: &str = "org.apache.kafka.common.replica.LeaderSelector";

/// Parses `replica.selector.class`: true for the rack-aware selector
/// (Kafka's class name, or `rack-aware`), false for none or the leader
/// selector.
pub fn parse_selector(v: &str) -> Result<bool, String> {
    match v.trim() {
        "" | "null" | LEADER_ONLY | "leader" => Ok(false),
        RACK_AWARE | "rack-aware" => Ok(true),
        other => Err(format!(
            "unknown replica selector {other:?}: {RACK_AWARE} (or rack-aware), {LEADER_ONLY} (or leader), or empty"
        )),
    }
}

/// How this broker may serve a consumer's fetch of a partition.
#[derive(Debug, PartialEq)]
pub enum ReadRole {
    /// It leads the partition.
    Leader(PartitionImage),
    /// It is a follower of `leader` (a consumer reads here up to this
    /// replica's high watermark).
    Follower { leader: i32, leader_epoch: i32 },
}

/// The role this broker (`node_id`) plays for a consumer's fetch at
/// `client_epoch`: the leader, or (Fetch v11+) any other replica;
/// otherwise the leader check's error.
pub fn read_role(
    image: &MetadataImage,
    node_id: i32,
    topic: &str,
    partition: i32,
    client_epoch: i32,
    version: i16,
) -> Result<ReadRole, ErrorCode> {
    match super::check_leader(image, node_id, topic, partition, client_epoch) {
        Ok(state) => Ok(ReadRole::Leader(state)),
        Err(ErrorCode::NotLeaderOrFollower) if version >= MIN_VERSION => {
            let state = image
                .topic(topic)
                .and_then(|t| t.partitions.get(&partition))
                .ok_or(ErrorCode::UnknownTopicOrPartition)?;
            if !state.replicas.contains(&node_id) {
                return Err(ErrorCode::NotLeaderOrFollower);
            }
            if client_epoch > state.leader_epoch {
                return Err(ErrorCode::UnknownLeaderEpoch);
            }
            Ok(ReadRole::Follower {
                leader: state.leader,
                leader_epoch: state.leader_epoch,
            })
        }
        Err(code) => Err(code),
    }
}

/// The replica a consumer in `client_rack` should read from instead of
/// this leader, if any (see the module doc). `replication` is the
/// leader's view of its followers.
pub fn preferred_replica(
    image: &MetadataImage,
    state: &PartitionImage,
    replication: &Replication,
    client_rack: &str,
    fetch_offset: i64,
) -> Option<i32> {
    if client_rack.is_empty() {
        return None;
    }
    let rack_of = |id: i32| image.brokers.get(&id).and_then(|b| b.rack.as_deref());
    if rack_of(state.leader) == Some(client_rack) {
        return None;
    }
    state
        .isr
        .iter()
        .copied()
        .filter(|id| *id != state.leader && rack_of(*id) == Some(client_rack))
        .filter(|id| image.is_alive(*id))
        .filter_map(|id| {
            let f = replication.follower(id)?;
            (f.log_end >= fetch_offset).then_some((f.log_end, -id))
        })
        .max()
        .map(|(_, neg_id)| -neg_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_metadata::records::Uuid;

    const T: Uuid = Uuid([7; 16]);

    fn image(racks: &[(i32, &str)]) -> MetadataImage {
        let brokers: Vec<(i32, Option<&str>)> =
            racks.iter().map(|(id, r)| (*id, Some(*r))).collect();
        let image = crate::cluster::tests::image_with_racks(&brokers);
        crate::cluster::tests::with_topic(image, vec![vec![1, 2, 3, 4]])
    }

    fn replication(log_ends: &[(i32, i64)]) -> Replication {
        let mut r = Replication::new(1, 1, vec![1, 2, 3, 4], vec![1, 2, 3, 4], 0, 0);
        for (id, end) in log_ends {
            r.record_fetch(*id, *end, 100, 1);
        }
        r
    }

    #[test]
    fn the_most_caught_up_in_sync_replica_of_the_clients_rack_is_preferred() {
        let img = image(&[(1, "a"), (2, "b"), (3, "b"), (4, "c")]);
        let state = img.partition(T, 0).unwrap().clone();
        let rep = replication(&[(2, 90), (3, 95), (4, 100)]);
        assert_eq!(preferred_replica(&img, &state, &rep, "b", 50), Some(3));
        // Only replicas holding the fetch offset qualify.
        assert_eq!(preferred_replica(&img, &state, &rep, "b", 96), None);
        assert_eq!(preferred_replica(&img, &state, &rep, "c", 0), Some(4));
        // The leader's own rack, no rack, an unknown rack: the leader.
        assert_eq!(preferred_replica(&img, &state, &rep, "a", 0), None);
        assert_eq!(preferred_replica(&img, &state, &rep, "", 0), None);
        assert_eq!(preferred_replica(&img, &state, &rep, "z", 0), None);
        // Out of the ISR: not chosen.
        let mut narrow = state.clone();
        narrow.isr = vec![1, 2, 4];
        assert_eq!(preferred_replica(&img, &narrow, &rep, "b", 50), Some(2));
    }

    #[test]
    fn followers_serve_consumers_from_fetch_v11() {
        let img = image(&[(1, "a"), (2, "b"), (3, "b"), (4, "c")]);
        assert!(matches!(
            read_role(&img, 1, "t", 0, -1, 11),
            Ok(ReadRole::Leader(_))
        ));
        assert_eq!(
            read_role(&img, 3, "t", 0, 0, 11),
            Ok(ReadRole::Follower {
                leader: 1,
                leader_epoch: 0
            })
        );
        assert_eq!(
            read_role(&img, 3, "t", 0, -1, 10),
            Err(ErrorCode::NotLeaderOrFollower)
        );
        assert_eq!(
            read_role(&img, 9, "t", 0, -1, 12),
            Err(ErrorCode::NotLeaderOrFollower)
        );
        assert_eq!(
            read_role(&img, 3, "t", 0, 5, 12),
            Err(ErrorCode::UnknownLeaderEpoch)
        );
    }

    #[test]
    fn selector_names_are_kafkas() {
        assert_eq!(parse_selector(RACK_AWARE), Ok(true));
        assert_eq!(parse_selector("rack-aware"), Ok(true));
        assert_eq!(parse_selector(""), Ok(false));
        assert_eq!(parse_selector(LEADER_ONLY), Ok(false));
        assert!(parse_selector("com.example.Mine").is_err());
    }
}
