//! fjord's Schema Registry: Confluent's REST API, served by the broker on
//! its own listener, with its state in the compacted `_schemas` topic.
//!
//! - [`log::SchemaLog`]: the narrow trait through which the registry
//!   appends to and replays `_schemas` (the broker implements it over a
//!   partition); the registry knows nothing of the broker.
//! - [`records`]: the topic's record shapes (Confluent's).
//! - [`store::State`]: the in-memory view rebuilt from the log.
//! - [`registry::Registry`]: reads from the state; writes under one writer
//!   lock, appended durably then applied.
//! - [`schema`]: AVRO, JSON Schema and PROTOBUF parsing and compatibility;
//!   [`compat`]: levels and modes.
//! - [`http`]: the REST routes; [`auth`]: the authentication hook.
//! - [`client`]: a small HTTP client for the CLI and the benchmark.
//! - [`decode`]: Confluent wire-format values decoded to JSON (CLI).

pub mod auth;
pub mod client;
pub mod compat;
pub mod decode;
pub mod error;
pub mod http;
pub mod log;
pub mod metrics;
pub mod records;
pub mod registry;
pub mod schema;
pub mod store;

pub use error::RegistryError;
pub use log::{LogError, LogRecord, MemLog, SchemaLog};
pub use registry::{Limits, Registry};

/// The topic the registry keeps its state in.
pub const TOPIC: &str = "_schemas";

/// The default listener, as Confluent's registry.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8081";

/// Re-reads the log on an interval so records appended by another writer
/// (another node, an import tool) are served; ends when `stop` flips.
pub async fn follow(reg: std::sync::Arc<Registry>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = reg.catch_up().await {
                    tracing::warn!(error = %e, "schema registry could not read _schemas");
                }
            }
            _ = stop.changed() => return,
        }
    }
}
