//! fjord-client: a small async Kafka client built on fjord-protocol's
//! generated message types. It is what the `fjord` operator CLI uses to
//! talk to any Kafka-compatible broker.
//!
//! - [`Client`]: bootstrap, one connection per broker, ApiVersions
//!   negotiation on every connection, cluster metadata.
//! - [`security`]: TLS (rustls) and SASL (PLAIN, SCRAM-SHA-256/512) on
//!   every connection the client opens, as `security.protocol` asks.
//! - `admin`: topics, configs, partitions, offsets, groups (methods on
//!   [`Client`]).
//! - [`Producer`]: batches per partition, Kafka's murmur2 key partitioner.
//! - [`fetch`]: fetch requests decoded into records, read_committed
//!   filtering of aborted transactions.
//! - [`GroupMember`]: one member of a classic consumer group (join, sync
//!   with the group's [`assignor`] when leader — range, roundrobin,
//!   sticky, cooperative-sticky — heartbeat, commit, leave; static
//!   membership).
//! - [`ConsumerMember`]: one member of a KIP-848 consumer group
//!   (ConsumerGroupHeartbeat; the coordinator assigns, the member
//!   reconciles).
//!
//! Requests are sequential per connection; the client is driven by one
//! task, except fetches, which run one task per broker on a connection
//! taken out of the client and put back when answered. Every request has
//! a timeout, and an interrupted request retires its connection (the next
//! call reconnects).

mod admin;
pub mod assignor;
mod client;
mod conn;
mod consumer_group;
mod error;
pub mod fetch;
mod group;
mod partitioner;
mod produce;
pub mod security;
pub mod versions;

pub use admin::{
    AclEntry, AclFilter, ConfigEntry, ConfigOp, DescribedGroup, GroupMemberInfo, GroupOffset,
    ListedGroup, NewTopic, OffsetSpec, PartitionInfo, QuotaEntity, QuotaEntry, QuotaMatch,
    ScramChange, ScramUser, TopicInfo,
};
pub use admin::{
    ElectionKind, ElectionResult, QuorumStatus, QuorumVoter, ReassignRequest, Reassignment,
};
pub use assignor::{Assignor, RebalanceProtocol};
pub use client::{BrokerInfo, Client, ClientConfig};
pub use conn::Connection;
pub use consumer_group::{ConsumerHeartbeat, ConsumerMember, ConsumerMemberOptions};
pub use error::{error_name, ClientError, Result};
pub use fetch::{ConsumedRecord, FetchOptions, PartitionFetch};
pub use group::{GroupMember, GroupOptions, HeartbeatOutcome};
pub use partitioner::{murmur2, partition_for_key};
pub use produce::{Acks, Delivered, ProduceRecord, Producer};
pub use security::{
    pem_private_key, SaslMechanism, SaslSettings, Secret, Security, SecurityContext,
    SecurityProtocol, TlsMaterial, TlsSettings,
};

/// Unwraps the expected response variant, or returns an error naming what
/// came back instead.
macro_rules! expect_response {
    ($resp:expr, $variant:ident) => {
        match $resp {
            fjord_protocol::Response::$variant(r) => r,
            other => {
                return Err($crate::ClientError::Other(format!(
                    "expected a {} response, got {:?}",
                    stringify!($variant),
                    other.api_key()
                )))
            }
        }
    };
}
pub(crate) use expect_response;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
