//! The metadata quorum's Raft glue over openraft 0.9: the type
//! configuration, the durable log ([`log_store`]), the state machine that
//! turns committed entries into the [`MetadataImage`](crate::MetadataImage)
//! ([`state_machine`]), the TCP transport ([`network`], [`wire`]) and the
//! directory's identity file ([`meta`]).
//!
//! One Raft entry carries one [`Proposal`]: the records a caller proposed
//! together, applied all or none. The entry's Raft log index is the
//! metadata offset of those records.

use std::io::Cursor;

use serde::{Deserialize, Serialize};

use crate::image::ImageError;
use crate::records::MetadataRecord;

pub mod fsutil;
pub mod log_store;
pub mod meta;
pub mod network;
pub mod state_machine;
pub mod wire;

/// The records of one proposal, committed as one Raft entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub records: Vec<MetadataRecord>,
}

/// What applying a proposal gave: nothing, or the error of the first record
/// that did not fit the image (then none of the proposal's records applied).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub error: Option<ImageError>,
}

openraft::declare_raft_types!(
    /// The openraft type configuration of the metadata quorum.
    pub TypeConfig:
        D = Proposal,
        R = Applied,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A node id of the quorum (Kafka's `node.id`).
pub type NodeId = u64;
/// openraft's storage error for this configuration.
pub type StorageError = openraft::StorageError<NodeId>;
/// A log entry.
pub type Entry = openraft::Entry<TypeConfig>;
/// The Raft handle.
pub type Raft = openraft::Raft<TypeConfig>;
