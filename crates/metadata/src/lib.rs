//! fjord's cluster metadata, as Kafka's KRaft: the records of the metadata
//! log ([`records`]), the image they build ([`image`]), the controller's
//! decisions over an image ([`controller`]), the users, ACLs and client
//! quotas it keeps ([`security`]) and the Raft quorum that
//! replicates the log between controllers.
//!
//! Architecture invariant: this crate knows no Kafka request, no partition
//! data and no broker; it depends on no other fjord crate.

pub mod controller;
pub mod image;
mod quorum;
pub mod raft;
pub mod reassign;
pub mod records;
pub mod security;

pub use image::{ImageError, MetadataImage};
pub use quorum::{
    parse_voters, ProposeError, Quorum, QuorumConfig, QuorumInfo, StartError, VoterInfo,
};
pub use raft::meta::MetaError;
pub use records::{MetadataRecord, Uuid};
