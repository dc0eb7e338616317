//! fjord's broker: the Kafka listener, one connection task per client, one
//! handler module per Kafka API, and the partitions this node hosts.
//!
//! Architecture invariant: the broker translates between Kafka requests
//! and storage calls; it never parses segment files itself, and storage
//! never sees a request. Its modules import one way; the order is kept in
//! one place, ARCHITECTURE.md's invariants (the broker's module order).

pub mod acl;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod crash_point;
pub mod groups;
pub mod handlers;
pub mod http;
pub mod meta_store;
pub mod metrics;
pub mod metrics_state;
pub mod quotas;
pub mod recompress;
pub mod replies;
pub mod request_memory;
pub mod schemas;
pub mod security;
pub mod sequencer;
pub mod server;
pub mod signal;
pub mod state;
pub mod throttle;
pub mod txn_io;
pub mod zero_copy;

pub use config::BrokerConfig;
pub use server::{run, Started};
