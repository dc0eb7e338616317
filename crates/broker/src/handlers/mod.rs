//! One module per Kafka API. Each declares the version range it serves
//! next to its handler; dispatch goes through the `HANDLERS` table, and
//! ApiVersions advertises what is in it (Produce from v0, as Kafka 4.0:
//! see `api_versions`).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use fjord_protocol::{ApiKey, Request, Response};

use crate::state::BrokerState;

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_client_quotas;
pub mod alter_configs;
pub mod alter_partition_reassignments;
pub mod alter_user_scram_credentials;
pub mod api_versions;
pub mod authz;
pub mod configs;
pub mod consumer_group_describe;
pub mod consumer_group_heartbeat;
pub mod create_acls;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_acls;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_acls;
pub mod describe_client_quotas;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_quorum;
pub mod describe_topic_partitions;
pub mod describe_transactions;
pub mod describe_user_scram_credentials;
pub mod elect_leaders;
pub mod end_txn;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod list_partition_reassignments;
pub mod list_transactions;
pub mod meta_save;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod sasl_authenticate;
pub mod sasl_handshake;
pub mod sync_group;
pub mod txn_offset_commit;
pub mod unregister_broker;
pub mod write_txn_markers;

/// What a handler knows about the request beyond its body.
pub struct RequestCtx {
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
    pub peer: SocketAddr,
    /// This request's place in its connection's order. A handler that can
    /// let a following Produce start before it finishes releases it early:
    /// Produce once its batches are in the logs (before any fsync wait),
    /// Fetch at once (it changes nothing). Otherwise it is released when
    /// the handler returns.
    pub apply_turn: Option<crate::sequencer::ApplyTurn>,
    /// For fetch: file slices to send zero-copy, one entry per records
    /// field of the response in encoding order (`None` = inline bytes).
    pub records_out:
        Arc<std::sync::Mutex<std::collections::VecDeque<Option<fjord_storage::FileSlice>>>>,
    /// The name of the listener the request came through: Metadata,
    /// FindCoordinator and DescribeCluster advertise that listener's
    /// endpoint.
    pub listener: Arc<str>,
    /// Who sent it (`User:ANONYMOUS` on listeners without authentication):
    /// what the authorizer decides for (`authz.rs`).
    pub principal: Arc<crate::security::Principal>,
    /// A later request of the same connection was already read when this
    /// one was (or that cannot be known): a handler must not hold up the
    /// reader, e.g. a Produce leaves its fsync to the log's group commit.
    pub more_queued: bool,
}

pub type HandlerFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// A table entry: the api, its served version range, and the handler.
#[derive(Clone, Copy)]
pub struct Handler {
    pub key: ApiKey,
    pub min_version: i16,
    pub max_version: i16,
    pub handle: fn(Arc<BrokerState>, RequestCtx, Request) -> HandlerFuture,
}

/// Declares `HANDLER` for a module whose `handle` takes the typed request.
#[macro_export]
macro_rules! handler {
    ($key:ident, $min:expr, $max:expr) => {
        pub const HANDLER: $crate::handlers::Handler = $crate::handlers::Handler {
            key: fjord_protocol::ApiKey::$key,
            min_version: $min,
            max_version: $max,
            handle: |state, ctx, req| {
                Box::pin(async move {
                    match req {
                        fjord_protocol::Request::$key(r) => {
                            fjord_protocol::Response::$key(handle(state, ctx, r).await)
                        }
                        // The dispatcher routes only matching requests here;
                        // an empty response is the safe answer otherwise.
                        _ => fjord_protocol::Response::$key(Default::default()),
                    }
                })
            },
        };
    };
}

/// Every API this broker serves.
pub const HANDLERS: &[Handler] = &[
    produce::HANDLER,
    fetch::HANDLER,
    list_offsets::HANDLER,
    metadata::HANDLER,
    api_versions::HANDLER,
    create_topics::HANDLER,
    delete_topics::HANDLER,
    delete_records::HANDLER,
    offset_for_leader_epoch::HANDLER,
    describe_configs::HANDLER,
    alter_configs::HANDLER,
    incremental_alter_configs::HANDLER,
    create_partitions::HANDLER,
    describe_log_dirs::HANDLER,
    describe_cluster::HANDLER,
    describe_quorum::HANDLER,
    elect_leaders::HANDLER,
    describe_topic_partitions::HANDLER,
    init_producer_id::HANDLER,
    find_coordinator::HANDLER,
    join_group::HANDLER,
    sync_group::HANDLER,
    heartbeat::HANDLER,
    leave_group::HANDLER,
    offset_commit::HANDLER,
    offset_fetch::HANDLER,
    list_groups::HANDLER,
    describe_groups::HANDLER,
    delete_groups::HANDLER,
    offset_delete::HANDLER,
    consumer_group_heartbeat::HANDLER,
    consumer_group_describe::HANDLER,
    add_partitions_to_txn::HANDLER,
    add_offsets_to_txn::HANDLER,
    end_txn::HANDLER,
    write_txn_markers::HANDLER,
    txn_offset_commit::HANDLER,
    describe_producers::HANDLER,
    describe_transactions::HANDLER,
    list_transactions::HANDLER,
    sasl_handshake::HANDLER,
    sasl_authenticate::HANDLER,
    describe_user_scram_credentials::HANDLER,
    alter_user_scram_credentials::HANDLER,
    describe_acls::HANDLER,
    create_acls::HANDLER,
    delete_acls::HANDLER,
    describe_client_quotas::HANDLER,
    alter_client_quotas::HANDLER,
    alter_partition_reassignments::HANDLER,
    list_partition_reassignments::HANDLER,
    unregister_broker::HANDLER,
];

/// The handler for `key` if `version` is in its served range.
pub fn find(key: ApiKey, version: i16) -> Option<&'static Handler> {
    HANDLERS
        .iter()
        .find(|h| h.key == key && version >= h.min_version && version <= h.max_version)
}

/// `(api, lowest, highest served version)` of every API in [`HANDLERS`]:
/// the APIs `/metrics` counts requests of.
pub fn served_versions() -> Vec<(ApiKey, i16, i16)> {
    HANDLERS
        .iter()
        .map(|h| (h.key, h.min_version, h.max_version))
        .collect()
}

pub use fjord_storage::clock::now_ms;
