//! Fetch (key 1), versions 4+: long poll honouring max_wait_ms and
//! min_bytes, response and per-partition byte limits (the first batch is
//! always returned whole, as KIP-74 requires), OFFSET_OUT_OF_RANGE, and
//! topic ids from v13. Fetch sessions are answered sessionless (id 0),
//! which every client handles by sending full requests.
//!
//! With an authorizer, as Kafka: a consumer needs READ on each topic (else
//! its partitions get TOPIC_AUTHORIZATION_FAILED), a follower (replica id
//! 0 or more) CLUSTER_ACTION on the cluster (else every partition gets
//! TOPIC_AUTHORIZATION_FAILED). Asked once per request, before polling.
//!
//! Cluster mode: a follower's fetch (replica id, or v15+'s replica state)
//! of a replicated partition reads up to the log end, not the high
//! watermark, and its fetch offset is recorded as the follower's log end
//! (see `fjord_partition::replica`), which may move the high watermark.
//! A consumer's Fetch v11+ may also be served by a follower, and a leader
//! may point it to a replica of its rack (KIP-392,
//! `cluster/follower_reads.rs`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fjord_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, LeaderIdAndEpoch, PartitionData,
};
use fjord_protocol::messages::{FetchRequest, FetchResponse};
use fjord_protocol::ErrorCode;
use fjord_storage::FileSlice;
use std::collections::VecDeque;

use crate::zero_copy::MIN_ZERO_COPY;

use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::cluster::follower_reads::{self, ReadRole};
use crate::quotas::QuotaType;
use crate::state::BrokerState;

crate::handler!(Fetch, 4, 17);

/// Cap on the wait a client may ask for.
const MAX_WAIT_MS: i32 = 30_000;

fn partition_error(index: i32, code: ErrorCode) -> PartitionData {
    PartitionData {
        partition_index: index,
        error_code: code.code(),
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        preferred_read_replica: -1,
        records: Some(Bytes::new()),
        ..Default::default()
    }
}

type Slices = VecDeque<Option<FileSlice>>;

/// Per topic: (the topic, records, bytes) a pass read, for `/metrics`.
type Sent = Vec<(Arc<crate::state::Topic>, u64, u64)>;

/// One pass over the requested partitions. Returns the response, the
/// number of record bytes it carries, whether any partition failed, the
/// slices to send zero-copy, and what it read per topic.
fn read_once(
    state: &BrokerState,
    ctx_version: i16,
    req: &FetchRequest,
    refused: &[bool],
) -> (Vec<FetchableTopicResponse>, usize, bool, Slices, Sent) {
    let replica = req.replica_id.max(req.replica_state.replica_id);
    let now = fjord_storage::clock::now_ms();
    let mut sent: Sent = Vec::new();
    let mut slices: Slices = VecDeque::new();
    let mut total = 0usize;
    let mut any_error = false;
    let response_limit = usize::try_from(req.max_bytes).unwrap_or(0).max(1);
    let mut topics = Vec::with_capacity(req.topics.len());
    // Cluster mode: the image the leadership checks use, and whether
    // consumers are sent to a replica of their rack (KIP-392).
    let cluster = state.cluster().map(|c| (c.node_id, c.image()));
    let rack_aware = replica < 0
        && ctx_version >= follower_reads::MIN_VERSION
        && !req.rack_id.is_empty()
        && state.config().cluster.rack_aware_reads;
    for (ti, ft) in req.topics.iter().enumerate() {
        let topic = if ctx_version >= 13 {
            state.topic_by_id(&ft.topic_id)
        } else {
            state.topic(&ft.topic)
        };
        let mut parts = Vec::with_capacity(ft.partitions.len());
        let (mut topic_records, mut topic_bytes) = (0u64, 0u64);
        for fp in &ft.partitions {
            if refused.get(ti).copied().unwrap_or(false) {
                any_error = true;
                parts.push(partition_error(
                    fp.partition,
                    ErrorCode::TopicAuthorizationFailed,
                ));
                slices.push_back(None);
                continue;
            }
            let Some(topic) = &topic else {
                any_error = true;
                let code = if ctx_version >= 13 {
                    ErrorCode::UnknownTopicId
                } else {
                    ErrorCode::UnknownTopicOrPartition
                };
                parts.push(partition_error(fp.partition, code));
                slices.push_back(None);
                continue;
            };
            let Some(p) = usize::try_from(fp.partition)
                .ok()
                .and_then(|i| topic.partitions.get(i))
            else {
                any_error = true;
                parts.push(partition_error(
                    fp.partition,
                    ErrorCode::UnknownTopicOrPartition,
                ));
                slices.push_back(None);
                continue;
            };
            // Who serves this fetch: the leader; for a consumer's Fetch
            // v11+ also a follower (up to its own high watermark).
            let mut leading = None;
            let mut following = None;
            if let Some((node, image)) = &cluster {
                let role = if replica >= 0 {
                    crate::cluster::check_leader(
                        image,
                        *node,
                        &topic.name,
                        fp.partition,
                        fp.current_leader_epoch,
                    )
                    .map(ReadRole::Leader)
                } else {
                    follower_reads::read_role(
                        image,
                        *node,
                        &topic.name,
                        fp.partition,
                        fp.current_leader_epoch,
                        ctx_version,
                    )
                };
                match role {
                    Ok(ReadRole::Leader(s)) => leading = Some(s),
                    Ok(ReadRole::Follower {
                        leader,
                        leader_epoch,
                    }) => following = Some((leader, leader_epoch)),
                    Err(code) => {
                        any_error = true;
                        parts.push(partition_error(fp.partition, code));
                        slices.push_back(None);
                        continue;
                    }
                }
            }
            if fp.current_leader_epoch >= 0 && fp.current_leader_epoch != p.leader_epoch {
                any_error = true;
                let code = if fp.current_leader_epoch < p.leader_epoch {
                    ErrorCode::FencedLeaderEpoch
                } else {
                    ErrorCode::UnknownLeaderEpoch
                };
                parts.push(partition_error(fp.partition, code));
                slices.push_back(None);
                continue;
            }
            // A follower's fetch (cluster mode): it holds everything below
            // its fetch offset, which may move the high watermark; it
            // reads up to the log end.
            let follower = replica >= 0 && p.is_replicated();
            if follower && p.record_follower_fetch(replica, fp.fetch_offset, now) {
                state.notify_data();
            }
            let hw = p.high_watermark();
            let lso = p.last_stable_offset();
            // read_committed reads up to the last stable offset.
            let upto = if follower {
                p.log.log_end_offset()
            } else if req.isolation_level == 1 {
                lso
            } else {
                hw
            };
            let log_start = p.log.log_start_offset();
            let mut pd = PartitionData {
                partition_index: fp.partition,
                error_code: ErrorCode::None.code(),
                high_watermark: hw,
                last_stable_offset: lso,
                log_start_offset: log_start,
                preferred_read_replica: -1,
                current_leader: LeaderIdAndEpoch {
                    leader_id: following.map_or(state.node_id, |(leader, _)| leader),
                    leader_epoch: following.map_or(p.leader_epoch, |(_, epoch)| epoch),
                    ..Default::default()
                },
                aborted_transactions: if req.isolation_level == 1 {
                    Some(Vec::new())
                } else {
                    None
                },
                records: Some(Bytes::new()),
                ..Default::default()
            };
            // A follower behind the consumer's position (the consumer read
            // it from the leader) answers empty until it catches up, as
            // Kafka's followers do, rather than OFFSET_OUT_OF_RANGE.
            let beyond_end = fp.fetch_offset > p.log.log_end_offset() && following.is_none();
            if fp.fetch_offset < log_start || beyond_end {
                any_error = true;
                pd.error_code = ErrorCode::OffsetOutOfRange.code();
                parts.push(pd);
                slices.push_back(None);
                continue;
            }
            // KIP-392: a consumer of another rack is sent to an in-sync
            // replica of its own (no records from here).
            if let (true, Some(s), Some((_, image))) = (rack_aware, &leading, &cluster) {
                let preferred = p.replication().and_then(|r| {
                    follower_reads::preferred_replica(image, s, &r, &req.rack_id, fp.fetch_offset)
                });
                if let Some(id) = preferred {
                    pd.preferred_read_replica = id;
                    parts.push(pd);
                    slices.push_back(None);
                    continue;
                }
            }
            let room = response_limit.saturating_sub(total);
            let part_limit = usize::try_from(fp.partition_max_bytes).unwrap_or(0);
            if fp.fetch_offset < upto && (room > 0 || total == 0) {
                let max = part_limit.min(room);
                match read_records(&p.log, fp.fetch_offset, max, upto, total == 0) {
                    Ok((bytes, slice, records)) => {
                        if req.isolation_level == 1 {
                            // Up to the read bound: an aborted transaction
                            // starting past the returned batches is ignored
                            // by clients.
                            pd.aborted_transactions = Some(aborted_in(p, fp.fetch_offset, upto));
                        }
                        let n = bytes.len() + slice.as_ref().map_or(0, |s| s.len);
                        total += n;
                        topic_records += records;
                        topic_bytes += n as u64;
                        pd.records = Some(bytes);
                        parts.push(pd);
                        slices.push_back(slice);
                        continue;
                    }
                    Err(e) => {
                        any_error = true;
                        tracing::warn!(topic = %topic.name, partition = fp.partition, error = %e, "fetch read failed");
                        let code = fjord_protocol::ErrorCode::from(&e);
                        pd = partition_error(fp.partition, code);
                    }
                }
            }
            parts.push(pd);
            slices.push_back(None);
        }
        if let Some(t) = topic.as_ref().filter(|_| topic_bytes > 0) {
            sent.push((t.clone(), topic_records, topic_bytes));
        }
        topics.push(FetchableTopicResponse {
            topic: ft.topic.clone(),
            topic_id: ft.topic_id,
            partitions: parts,
            ..Default::default()
        });
    }
    (topics, total, any_error, slices, sent)
}

/// Aborted transactions overlapping the fetched offsets `[from, to)`,
/// which read_committed consumers skip.
fn aborted_in(p: &fjord_partition::Partition, from: i64, to: i64) -> Vec<AbortedTransaction> {
    p.producers
        .lock()
        .map(|s| s.aborted_between(from, to))
        .unwrap_or_default()
        .into_iter()
        .map(|a| AbortedTransaction {
            producer_id: a.producer_id,
            first_offset: a.first_offset,
            ..Default::default()
        })
        .collect()
}

/// Reads records for one partition: small reads are copied into memory,
/// large ones are left as a file slice for `sendfile`. Also returns how
/// many offsets the returned batches span.
fn read_records(
    log: &fjord_storage::Log,
    start: i64,
    max: usize,
    upto: i64,
    min_one: bool,
) -> Result<(Bytes, Option<FileSlice>, u64), fjord_storage::StorageError> {
    let r = log.read(start, max, upto, min_one)?;
    let records = u64::try_from(r.next_offset - r.first_offset).unwrap_or(0);
    match r.records {
        Some(slice) if slice.len >= MIN_ZERO_COPY => Ok((Bytes::new(), Some(slice), records)),
        Some(slice) => Ok((slice.read_to_bytes()?, None, records)),
        None => Ok((Bytes::new(), None, 0)),
    }
}

/// Per requested topic, whether the principal may not read it.
fn refused_topics(state: &BrokerState, ctx: &RequestCtx, req: &FetchRequest) -> Vec<bool> {
    let replica = req.replica_id.max(req.replica_state.replica_id);
    if replica >= 0 {
        let ok = ctx.allowed_on_cluster(state, AclOperation::ClusterAction);
        return vec![!ok; req.topics.len()];
    }
    req.topics
        .iter()
        .map(|ft| {
            let by_id;
            let name = if ctx.api_version >= 13 {
                by_id = state.topic_by_id(&ft.topic_id);
                match &by_id {
                    Some(t) => t.name.as_str(),
                    // An unknown id is UNKNOWN_TOPIC_ID, as without ACLs.
                    None => return false,
                }
            } else {
                ft.topic.as_str()
            };
            !ctx.allowed(state, AclOperation::Read, ResourceType::Topic, name)
        })
        .collect()
}

async fn handle(
    state: Arc<BrokerState>,
    mut ctx: RequestCtx,
    mut req: FetchRequest,
) -> FetchResponse {
    // A fetch changes nothing: a Produce sent after it may go ahead while
    // it long-polls (anything else still waits for it, as in Kafka).
    if let Some(turn) = ctx.apply_turn.take() {
        turn.applied();
    }
    let wait = Duration::from_millis(req.max_wait_ms.clamp(0, MAX_WAIT_MS) as u64);
    let deadline = tokio::time::Instant::now() + wait;
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0).max(1);
    let principal = ctx.principal.clone();
    // (Only looked at when some quota is set.)
    let client_id = match state.quotas.active() {
        true => ctx.client_id.clone().unwrap_or_default(),
        false => String::new(),
    };
    let quota_client = crate::quotas::Client::new(&principal, &client_id);
    // With a consumer quota, one response is at most what the quota allows
    // in an otherwise empty window, as Kafka caps it.
    if let Some(cap) = state.quotas.fetch_cap(quota_client) {
        req.max_bytes = req.max_bytes.min(i32::try_from(cap).unwrap_or(i32::MAX));
    }
    let mut changes = state.data_version.subscribe();
    let refused: Arc<[bool]> = refused_topics(&state, &ctx, &req).into();
    let req = Arc::new(req);
    loop {
        changes.borrow_and_update();
        let st = state.clone();
        let r = req.clone();
        let no = refused.clone();
        let version = ctx.api_version;
        // Reading may touch the disk; keep it off the async workers.
        let (topics, total, any_error, slices, sent) =
            match tokio::task::spawn_blocking(move || read_once(&st, version, &r, &no)).await {
                Ok(x) => x,
                Err(e) => {
                    tracing::error!(error = %e, "fetch task failed");
                    return FetchResponse {
                        error_code: ErrorCode::UnknownServerError.code(),
                        ..Default::default()
                    };
                }
            };
        if total >= min_bytes || any_error || tokio::time::Instant::now() >= deadline {
            let mut topics = topics;
            // Over its consumer quota: an empty answer with the delay
            // (KIP-219), and the bytes not counted, as Kafka does.
            let quotas = &state.quotas;
            let throttle = quotas.record(QuotaType::Fetch, quota_client, total as f64);
            if throttle > 0 {
                quotas.unrecord(QuotaType::Fetch, quota_client, total as f64);
                for t in &mut topics {
                    for p in &mut t.partitions {
                        if p.records.is_some() {
                            p.records = Some(Bytes::new());
                        }
                    }
                }
                return FetchResponse {
                    throttle_time_ms: i32::try_from(throttle).unwrap_or(i32::MAX),
                    error_code: ErrorCode::None.code(),
                    session_id: 0,
                    responses: topics,
                    ..Default::default()
                };
            }
            for (topic, records, bytes) in sent {
                topic.metrics.fetched(records, bytes);
            }
            if let Ok(mut out) = ctx.records_out.lock() {
                *out = slices;
            }
            return FetchResponse {
                error_code: ErrorCode::None.code(),
                session_id: 0,
                responses: topics,
                ..Default::default()
            };
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}
