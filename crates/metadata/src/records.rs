//! The records of the cluster metadata log, after Kafka's `__cluster_metadata`
//! (KIP-500, KIP-631).
//!
//! Every change to the cluster's metadata is one of these records; the
//! quorum commits them in order and each node replays them into a
//! [`MetadataImage`](crate::image::MetadataImage). Records are facts, not
//! commands: the controller decides (see [`controller`](crate::controller))
//! and writes down the outcome, so replaying the same records always builds
//! the same image.
//!
//! SCRAM credentials, ACL entries and client quotas are records too (their
//! payloads and image are in [`security`](crate::security)); serde's
//! externally tagged enums keep old logs readable when variants are added.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 16-byte UUID, as Kafka's topic ids. Serialised as 32 lowercase hex
/// digits so that it can key a JSON map.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero id, which Kafka reserves to mean "no id".
    pub const ZERO: Uuid = Uuid([0; 16]);

    /// Parses 32 hex digits (dashes allowed, as in the usual 8-4-4-4-12 form).
    pub fn parse(text: &str) -> Option<Uuid> {
        let digits: Vec<u8> = text.bytes().filter(|b| *b != b'-').collect();
        if digits.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, pair) in digits.chunks(2).enumerate() {
            let high = (pair[0] as char).to_digit(16)?;
            let low = (pair[1] as char).to_digit(16)?;
            out[i] = (high * 16 + low) as u8;
        }
        Some(Uuid(out))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

impl Serialize for Uuid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Uuid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Uuid::parse(&text).ok_or_else(|| serde::de::Error::custom("a uuid is 32 hex digits"))
    }
}

/// One listener a broker can be reached on, as Kafka's `BrokerEndpoint`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The listener's name (`PLAINTEXT`, `SASL_SSL`, …).
    pub listener: String,
    pub host: String,
    pub port: u16,
    /// Kafka's security protocol id (0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL).
    pub security_protocol: i16,
}

/// The kinds of resource a [`MetadataRecord::Config`] applies to, with
/// Kafka's `ConfigResource.Type` numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ConfigResourceType {
    /// A topic's settings (`ConfigResource.Type.TOPIC` = 2).
    Topic,
    /// A broker's dynamic settings; the name is the broker id, or empty for
    /// the cluster-wide default (`BROKER` = 4).
    Broker,
    /// A broker's logger levels (`BROKER_LOGGER` = 8).
    BrokerLogger,
    /// Client metrics subscriptions (`CLIENT_METRICS` = 16).
    ClientMetrics,
    /// A consumer group's settings (`GROUP` = 32).
    Group,
}

impl ConfigResourceType {
    /// Kafka's wire code of this resource type.
    pub fn code(self) -> i8 {
        match self {
            ConfigResourceType::Topic => 2,
            ConfigResourceType::Broker => 4,
            ConfigResourceType::BrokerLogger => 8,
            ConfigResourceType::ClientMetrics => 16,
            ConfigResourceType::Group => 32,
        }
    }

    /// The resource type of a Kafka wire code, if it is one.
    pub fn from_code(code: i8) -> Option<ConfigResourceType> {
        Some(match code {
            2 => ConfigResourceType::Topic,
            4 => ConfigResourceType::Broker,
            8 => ConfigResourceType::BrokerLogger,
            16 => ConfigResourceType::ClientMetrics,
            32 => ConfigResourceType::Group,
            _ => return None,
        })
    }
}

/// One record of the metadata log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataRecord {
    /// A broker registered (or re-registered after a restart, with a new
    /// incarnation and epoch). A registered broker starts fenced.
    RegisterBroker {
        broker_id: i32,
        /// A fresh UUID per broker process start, so the controller can tell
        /// a restart from a retried registration.
        incarnation_id: String,
        /// Kafka uses the offset of the registration as the broker epoch.
        broker_epoch: i64,
        endpoints: Vec<Endpoint>,
        rack: Option<String>,
    },
    /// A broker was removed from the cluster.
    UnregisterBroker { broker_id: i32, broker_epoch: i64 },
    /// A broker stopped heartbeating (or shut down): it may lead nothing.
    FenceBroker { broker_id: i32, epoch: i64 },
    /// A broker caught up with the metadata log and may lead partitions.
    UnfenceBroker { broker_id: i32, epoch: i64 },
    /// A topic was created.
    Topic { name: String, topic_id: Uuid },
    /// A partition of a topic was created.
    Partition {
        topic_id: Uuid,
        partition: i32,
        replicas: Vec<i32>,
        isr: Vec<i32>,
        /// The leader's broker id, -1 when the partition has none (offline).
        leader: i32,
        leader_epoch: i32,
        partition_epoch: i32,
    },
    /// Some of a partition's replicas, ISR and leader changed. A leader
    /// change bumps the leader epoch; every change bumps the partition epoch.
    PartitionChange {
        topic_id: Uuid,
        partition: i32,
        isr: Option<Vec<i32>>,
        leader: Option<i32>,
        replicas: Option<Vec<i32>>,
    },
    /// A partition's leader changed its ISR (Kafka's AlterPartition,
    /// KIP-497): applied only while the partition is still at
    /// `partition_epoch` and `leader_epoch` (a compare-and-set; a stale
    /// proposal is rejected whole), every member added unfenced
    /// (KIP-841). Bumps the partition epoch.
    AlterPartition {
        topic_id: Uuid,
        partition: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<i32>,
    },
    /// A topic and its partitions (and its configs) were deleted.
    RemoveTopic { topic_id: Uuid },
    /// A dynamic config was set (`value` Some) or deleted (`value` None).
    Config {
        resource_type: ConfigResourceType,
        resource_name: String,
        key: String,
        value: Option<String>,
    },
    /// A block of producer ids was handed to a broker: every id below
    /// `next_producer_id` is taken.
    ProducerIds {
        broker_id: i32,
        broker_epoch: i64,
        next_producer_id: i64,
    },
    /// A user's SCRAM credential for one mechanism was created or replaced
    /// (Kafka's `UserScramCredentialRecord`; never the password).
    UserScramCredential {
        user: String,
        /// Kafka's mechanism code: 1 SCRAM-SHA-256, 2 SCRAM-SHA-512.
        mechanism: i8,
        credential: crate::security::ScramCredential,
    },
    /// A user's SCRAM credential for one mechanism was deleted.
    RemoveUserScramCredential { user: String, mechanism: i8 },
    /// An ACL was created, under a fresh id (`AccessControlEntryRecord`).
    AccessControlEntry {
        id: Uuid,
        entry: crate::security::AclEntry,
    },
    /// The ACL with this id was deleted.
    RemoveAccessControlEntry { id: Uuid },
    /// A client quota of an entity was set (`value` Some) or removed
    /// (Kafka's `ClientQuotaRecord`).
    ClientQuota {
        entity: Vec<crate::security::QuotaEntityPart>,
        key: String,
        value: Option<crate::security::QuotaValue>,
    },
    /// A partition's replica set moved (KIP-455 reassignment: started,
    /// completed or cancelled), written as the partition's whole new
    /// replica state, as Kafka's PartitionChangeRecord with
    /// `addingReplicas`/`removingReplicas`. Applied only while the
    /// partition is still at `partition_epoch` (a compare-and-set, so a
    /// decision over a stale image is rejected whole). While a
    /// reassignment is in progress `replicas` is the target followed by
    /// the original replicas leaving, `adding_replicas` the target
    /// replicas not in the original set and `removing_replicas` the
    /// original ones not in the target. Bumps the partition epoch, and
    /// the leader epoch when the leader changes or a replica leaves the
    /// set (so a removed replica is fenced).
    ReassignPartition {
        topic_id: Uuid,
        partition: i32,
        partition_epoch: i32,
        replicas: Vec<i32>,
        isr: Vec<i32>,
        leader: i32,
        adding_replicas: Vec<i32>,
        removing_replicas: Vec<i32>,
    },
    /// Every producer id below `next_producer_id` is taken, by no broker
    /// of the cluster: the ids a single-node data directory handed out
    /// before it was upgraded to cluster mode (`cluster/migrate.rs` in the
    /// broker). Raises the image's next producer id, never lowers it.
    ReserveProducerIds { next_producer_id: i64 },
}

impl MetadataRecord {
    /// The record's name, for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            MetadataRecord::RegisterBroker { .. } => "RegisterBroker",
            MetadataRecord::UnregisterBroker { .. } => "UnregisterBroker",
            MetadataRecord::FenceBroker { .. } => "FenceBroker",
            MetadataRecord::UnfenceBroker { .. } => "UnfenceBroker",
            MetadataRecord::Topic { .. } => "Topic",
            MetadataRecord::Partition { .. } => "Partition",
            MetadataRecord::PartitionChange { .. } => "PartitionChange",
            MetadataRecord::AlterPartition { .. } => "AlterPartition",
            MetadataRecord::RemoveTopic { .. } => "RemoveTopic",
            MetadataRecord::Config { .. } => "Config",
            MetadataRecord::ProducerIds { .. } => "ProducerIds",
            MetadataRecord::UserScramCredential { .. } => "UserScramCredential",
            MetadataRecord::RemoveUserScramCredential { .. } => "RemoveUserScramCredential",
            MetadataRecord::AccessControlEntry { .. } => "AccessControlEntry",
            MetadataRecord::RemoveAccessControlEntry { .. } => "RemoveAccessControlEntry",
            MetadataRecord::ClientQuota { .. } => "ClientQuota",
            MetadataRecord::ReassignPartition { .. } => "ReassignPartition",
            MetadataRecord::ReserveProducerIds { .. } => "ReserveProducerIds",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_round_trips_through_text_and_json() {
        let id = Uuid([
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0, 1, 2, 3, 4, 5, 6, 0xff,
        ]);
        assert_eq!(id.to_string(), "0123456789abcdef00010203040506ff");
        assert_eq!(Uuid::parse(&id.to_string()), Some(id));
        assert_eq!(
            Uuid::parse("01234567-89ab-cdef-0001-0203040506ff"),
            Some(id)
        );
        assert_eq!(Uuid::parse("0123"), None);
        assert_eq!(Uuid::parse("zz23456789abcdef00010203040506ff"), None);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<Uuid>(&json).unwrap(), id);
    }

    #[test]
    fn records_round_trip_through_json() {
        let records = vec![
            MetadataRecord::RegisterBroker {
                broker_id: 1,
                incarnation_id: "abc".into(),
                broker_epoch: 7,
                endpoints: vec![Endpoint {
                    listener: "PLAINTEXT".into(),
                    host: "127.0.0.1".into(),
                    port: 9092,
                    security_protocol: 0,
                }],
                rack: Some("r1".into()),
            },
            MetadataRecord::PartitionChange {
                topic_id: Uuid([9; 16]),
                partition: 3,
                isr: Some(vec![1, 2]),
                leader: None,
                replicas: None,
            },
            MetadataRecord::Config {
                resource_type: ConfigResourceType::Topic,
                resource_name: "t".into(),
                key: "retention.ms".into(),
                value: None,
            },
        ];
        let json = serde_json::to_vec(&records).unwrap();
        let back: Vec<MetadataRecord> = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, records);
    }

    #[test]
    fn config_resource_codes_are_kafkas() {
        for t in [
            ConfigResourceType::Topic,
            ConfigResourceType::Broker,
            ConfigResourceType::BrokerLogger,
            ConfigResourceType::ClientMetrics,
            ConfigResourceType::Group,
        ] {
            assert_eq!(ConfigResourceType::from_code(t.code()), Some(t));
        }
        assert_eq!(ConfigResourceType::Topic.code(), 2);
        assert_eq!(ConfigResourceType::from_code(3), None);
    }
}
