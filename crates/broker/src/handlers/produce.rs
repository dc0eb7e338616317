//! Produce (key 0), versions 3+ (record batch v2 only).
//!
//! Each partition's batches are validated (magic, CRC, record framing,
//! size), appended in connection order, and — under the default flush
//! policy — fsynced before the acknowledgement, with concurrent producers
//! sharing fsyncs (group commit in storage). The high watermark follows
//! what is durable, so a consumer never sees a record a crash could lose.
//!
//! With an authorizer, as Kafka: a transactional produce needs WRITE on its
//! transactional id (else every partition gets
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED), and each topic WRITE (else its
//! partitions get TOPIC_AUTHORIZATION_FAILED, whether it exists or not),
//! asked once per topic.
//!
//! Cluster mode: `acks=all` on a replicated partition is answered once the
//! high watermark covers the batches (`cluster::acks`), and refused with
//! NOT_ENOUGH_REPLICAS before the append when the image's ISR is smaller
//! than `min.insync.replicas`.

use std::sync::Arc;

use bytes::Bytes;
use fjord_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse,
    TopicProduceResponse,
};
use fjord_protocol::messages::{ProduceRequest, ProduceResponse};
use fjord_protocol::records::{self, BatchIter, RecordsError};
use fjord_protocol::ErrorCode;

use super::{now_ms, RequestCtx};
use crate::acl::{AclOperation, ResourceType};
use crate::state::BrokerState;
use fjord_partition::{Appended, Partition};

crate::handler!(Produce, 3, 11);

/// The lowest Produce version ApiVersions lists: 0, as Kafka 4.0 does,
/// although v0–v2 (message formats 0 and 1, removed by KIP-896) are not
/// served; see `api_versions`.
pub const ADVERTISED_MIN_VERSION: i16 = 0;

/// Bound on a batch's decompressed size while validating it.
const DECOMPRESS_LIMIT: usize = 256 * 1024 * 1024;

/// Up to this many appended bytes, a request with one partition to sync
/// runs its fsync round on its own worker when the disk is quick
/// (`BrokerState::start_visible`); a larger one keeps the reader free to
/// read the next request while a blocking thread syncs.
const INLINE_SYNC_MAX_BYTES: usize = 64 * 1024;

struct Pending {
    topic_idx: usize,
    part_idx: usize,
    partition: Arc<Partition>,
    next_offset: i64,
    /// `min.insync.replicas` of the topic.
    min_isr: usize,
}

fn part_error(index: i32, code: ErrorCode, msg: Option<String>) -> PartitionProduceResponse {
    PartitionProduceResponse {
        index,
        error_code: code.code(),
        base_offset: -1,
        log_append_time_ms: -1,
        log_start_offset: -1,
        error_message: msg,
        ..Default::default()
    }
}

/// Checks every batch of a produce payload against the topic's log
/// config at broker time `now`; returns the error to send.
fn validate(
    data: &Bytes,
    log: &fjord_storage::LogConfig,
    now: i64,
) -> Result<(), (ErrorCode, Option<String>, Vec<BatchIndexAndErrorMessage>)> {
    let max_message_bytes = log.max_message_bytes;
    if data.is_empty() {
        return Err((
            ErrorCode::InvalidRecord,
            Some("empty record set".into()),
            Vec::new(),
        ));
    }
    let compacted = log.cleanup_policy.compacts();
    let bounds = timestamp_bounds(log, now);
    // Index of the batch's first record among the request's records for
    // this partition (Kafka's record error index; one batch per request
    // from Kafka's clients, so within the batch).
    let mut first_record = 0i32;
    let mut pos = 0usize;
    for (i, item) in BatchIter::new(data).enumerate() {
        let (h, raw) = match item {
            Ok(x) => x,
            Err(RecordsError::UnsupportedMagic(m)) => {
                return Err((
                    ErrorCode::UnsupportedForMessageFormat,
                    Some(format!("record batch magic {m} is not supported; use v2")),
                    Vec::new(),
                ))
            }
            Err(e) => return Err((ErrorCode::CorruptMessage, Some(e.to_string()), Vec::new())),
        };
        if raw.len() > max_message_bytes {
            return Err((
                ErrorCode::MessageTooLarge,
                Some(format!(
                    "batch of {} bytes exceeds max.message.bytes {max_message_bytes}",
                    raw.len()
                )),
                Vec::new(),
            ));
        }
        if let Err(e) = records::validate(raw) {
            return Err((ErrorCode::CorruptMessage, Some(e.to_string()), Vec::new()));
        }
        let invalid = |msg: String| {
            (
                ErrorCode::InvalidRecord,
                Some(msg.clone()),
                vec![BatchIndexAndErrorMessage {
                    batch_index: i as i32,
                    batch_index_error_message: Some(msg),
                    ..Default::default()
                }],
            )
        };
        if h.is_control() {
            return Err(invalid("clients may not produce control batches".into()));
        }
        if h.record_count <= 0 || i64::from(h.record_count) != i64::from(h.last_offset_delta) + 1 {
            return Err(invalid(format!(
                "record count {} does not match last offset delta {}",
                h.record_count, h.last_offset_delta
            )));
        }
        let slice = data.slice(pos..pos + raw.len());
        // One pass validates the batch and gathers what the topic's
        // checks need; their findings count only if the batch is valid.
        let mut late: Option<String> = None;
        let mut keyless: Vec<BatchIndexAndErrorMessage> = Vec::new();
        let checked = if bounds.is_none() && !compacted {
            // The common case: nothing to look at per record beyond validity.
            records::validate_records(&slice, DECOMPRESS_LIMIT)
        } else {
            records::validate_records_with(&slice, DECOMPRESS_LIMIT, &mut |header, r| {
                if let Some((low, high)) = bounds {
                    let ts = r.timestamp(header);
                    if late.is_none() && ts != -1 && !(low..=high).contains(&ts) {
                        late = Some(format!(
                        "Timestamp {ts} of message with offset {} is out of range. The timestamp should be within [{low}, {high}]",
                        r.offset(header.base_offset)
                    ));
                    }
                }
                if compacted && r.key.is_none() {
                    keyless.push(keyless_error(first_record, r.index));
                }
            })
        };
        if let Err(e) = checked {
            return Err(invalid(e.to_string()));
        }
        if let Some(msg) = late {
            return Err((
                ErrorCode::InvalidTimestamp,
                Some(msg.clone()),
                vec![BatchIndexAndErrorMessage {
                    batch_index: i as i32,
                    batch_index_error_message: Some(msg),
                    ..Default::default()
                }],
            ));
        }
        if let Some(first) = keyless.first() {
            let msg = format!(
                "{} record(s) without a key; a compacted topic cannot accept a record without a key (first: {})",
                keyless.len(),
                first.batch_index_error_message.as_deref().unwrap_or("")
            );
            return Err((ErrorCode::InvalidRecord, Some(msg), keyless));
        }
        first_record = first_record.saturating_add(h.record_count);
        pos += raw.len();
    }
    Ok(())
}

/// Kafka refuses records without a key on a compacted topic (the cleaner
/// could not place them): one record error per such record, by its index
/// counted from `first_record`.
fn keyless_error(first_record: i32, index_in_batch: usize) -> BatchIndexAndErrorMessage {
    let index = first_record.saturating_add(i32::try_from(index_in_batch).unwrap_or(i32::MAX));
    BatchIndexAndErrorMessage {
        batch_index: index,
        batch_index_error_message: Some(format!(
            "record {index} has no key, which a compacted topic requires"
        )),
        ..Default::default()
    }
}

/// Kafka's `message.timestamp.before.max.ms` / `after.max.ms`: with
/// CreateTime, every record's timestamp must lie within
/// `[now - before, now + after]` (records without a timestamp, -1, pass).
/// `None` when the topic checks nothing.
fn timestamp_bounds(log: &fjord_storage::LogConfig, now: i64) -> Option<(i64, i64)> {
    let (before, after) = (
        log.message_timestamp_before_max_ms,
        log.message_timestamp_after_max_ms,
    );
    if log.message_timestamp_type != records::TimestampType::CreateTime
        || (before == i64::MAX && after == i64::MAX)
    {
        return None;
    }
    Some((now.saturating_sub(before), now.saturating_add(after)))
}

async fn handle(
    state: Arc<BrokerState>,
    mut ctx: RequestCtx,
    req: ProduceRequest,
) -> ProduceResponse {
    let acks = req.acks;
    let deadline = tokio::time::Instant::now()
        + std::time::Duration::from_millis(u64::try_from(req.timeout_ms).unwrap_or(0));
    let mut responses: Vec<TopicProduceResponse> = Vec::with_capacity(req.topic_data.len());
    let mut pending: Vec<Pending> = Vec::new();
    let mut appended_bytes = 0usize;
    let now = now_ms();
    let broker = state.config();
    // Cluster mode: the leaders named in NOT_LEADER_OR_FOLLOWER answers.
    let mut leaders: Vec<NodeEndpoint> = Vec::new();
    let txn_refused = req.transactional_id.as_deref().is_some_and(|id| {
        !ctx.allowed(
            &state,
            AclOperation::Write,
            ResourceType::TransactionalId,
            id,
        )
    });
    // Cluster mode: a transactional batch is checked against the
    // transaction's state only where this broker coordinates it; a leader
    // elsewhere accepts it as Kafka did before KIP-890's verification (the
    // coordinator's markers end it).
    let verify_txn = state.cluster().is_none()
        || req
            .transactional_id
            .as_deref()
            .is_some_and(|id| crate::cluster::coordinators::check_txn(&state, id).is_ok());
    for (ti, td) in req.topic_data.into_iter().enumerate() {
        let mut parts = Vec::with_capacity(td.partition_data.len());
        let topic = state.topic(&td.name);
        let refused = if txn_refused {
            Some(ErrorCode::TransactionalIdAuthorizationFailed)
        } else if !ctx.allowed(&state, AclOperation::Write, ResourceType::Topic, &td.name) {
            Some(ErrorCode::TopicAuthorizationFailed)
        } else {
            None
        };
        for (pi, pd) in td.partition_data.into_iter().enumerate() {
            if !(-1..=1).contains(&acks) {
                parts.push(part_error(pd.index, ErrorCode::InvalidRequiredAcks, None));
                continue;
            }
            if let Some(code) = refused {
                parts.push(part_error(pd.index, code, None));
                continue;
            }
            let Some(topic) = &topic else {
                parts.push(part_error(
                    pd.index,
                    ErrorCode::UnknownTopicOrPartition,
                    None,
                ));
                continue;
            };
            if state.read_only() {
                parts.push(part_error(
                    pd.index,
                    ErrorCode::KafkaStorageError,
                    Some("the broker's disk is full; it is read-only".into()),
                ));
                continue;
            }
            if topic.internal {
                parts.push(part_error(
                    pd.index,
                    ErrorCode::InvalidTopicException,
                    Some(format!("cannot produce to internal topic {}", topic.name)),
                ));
                continue;
            }
            let mut image_epoch = None;
            // Single-node: this broker is the one in-sync replica.
            let mut in_sync = 1usize;
            if let Some(cluster) = state.cluster() {
                match cluster.check_leader(&topic.name, pd.index, -1) {
                    Ok(p) => {
                        image_epoch = Some(p.leader_epoch);
                        in_sync = p.isr.len();
                    }
                    Err(code) => {
                        let mut r = part_error(pd.index, code, None);
                        // KIP-951: tell the client where the leader is.
                        let hint = crate::cluster::leader_hint(
                            &cluster.image(),
                            &topic.name,
                            pd.index,
                            &ctx.listener,
                        );
                        if let (ErrorCode::NotLeaderOrFollower, Some((epoch, leader))) =
                            (code, hint)
                        {
                            r.current_leader = LeaderIdAndEpoch {
                                leader_id: leader.id,
                                leader_epoch: epoch,
                                ..Default::default()
                            };
                            if !leaders
                                .iter()
                                .any(|e: &NodeEndpoint| e.node_id == leader.id)
                            {
                                leaders.push(NodeEndpoint {
                                    node_id: leader.id,
                                    host: leader.host,
                                    port: leader.port,
                                    rack: leader.rack,
                                    ..Default::default()
                                });
                            }
                        }
                        parts.push(r);
                        continue;
                    }
                }
            }
            let Some(partition) = usize::try_from(pd.index)
                .ok()
                .and_then(|i| topic.partitions.get(i))
                .cloned()
            else {
                parts.push(part_error(
                    pd.index,
                    ErrorCode::UnknownTopicOrPartition,
                    None,
                ));
                continue;
            };
            // Cluster mode: batches are stamped with the image's leader
            // epoch only, never an older local one the replay has not
            // replaced yet (the client retries).
            if image_epoch.is_some_and(|e| e != partition.leader_epoch) {
                parts.push(part_error(pd.index, ErrorCode::NotLeaderOrFollower, None));
                continue;
            }
            let min_isr = broker.min_insync_replicas(&topic.configs);
            if acks == -1 && min_isr > in_sync {
                parts.push(part_error(
                    pd.index,
                    ErrorCode::NotEnoughReplicas,
                    Some(format!(
                        "min.insync.replicas is {min_isr} but only {in_sync} {} in sync",
                        if in_sync == 1 {
                            "replica is"
                        } else {
                            "replicas are"
                        }
                    )),
                ));
                continue;
            }
            let Some(data) = pd.records else {
                parts.push(part_error(
                    pd.index,
                    ErrorCode::InvalidRecord,
                    Some("null records".into()),
                ));
                continue;
            };
            if let Err((code, msg, record_errors)) = validate(&data, &topic.log_config, now) {
                tracing::debug!(topic = %topic.name, partition = pd.index, code = %code, msg = ?msg, "produce rejected");
                let mut r = part_error(pd.index, code, msg);
                r.record_errors = record_errors;
                parts.push(r);
                continue;
            }
            let compression = broker.topic_value(&topic.configs, "compression.type");
            let data = match crate::recompress::target(compression.as_deref()) {
                None => data,
                Some(codec) => match crate::recompress::apply(data, codec, DECOMPRESS_LIMIT) {
                    // A batch the codec made larger than `max.message.bytes`
                    // is refused by `Log::append` (MESSAGE_TOO_LARGE), the one
                    // place that checks what is actually written.
                    Ok(d) => d,
                    Err(e) => {
                        parts.push(part_error(
                            pd.index,
                            ErrorCode::CorruptMessage,
                            Some(e.to_string()),
                        ));
                        continue;
                    }
                },
            };
            let check_txn = |h: &fjord_protocol::records::BatchHeader| {
                if !verify_txn {
                    return Ok(());
                }
                state.txns.verify_produce(
                    &partition.topic,
                    partition.index,
                    h.producer_id,
                    h.producer_epoch,
                )
            };
            match partition.append(&data, now, check_txn) {
                Ok(Appended::New(info)) => {
                    appended_bytes += data.len();
                    topic.metrics.produced(
                        u64::try_from(info.last_offset - info.first_offset + 1).unwrap_or(0),
                        data.len() as u64,
                    );
                    parts.push(PartitionProduceResponse {
                        index: pd.index,
                        error_code: ErrorCode::None.code(),
                        base_offset: info.first_offset,
                        log_append_time_ms: info.log_append_time,
                        log_start_offset: info.log_start_offset,
                        ..Default::default()
                    });
                    pending.push(Pending {
                        topic_idx: ti,
                        part_idx: pi,
                        partition,
                        next_offset: info.last_offset + 1,
                        min_isr,
                    });
                }
                Ok(Appended::Duplicate { base_offset }) => {
                    tracing::debug!(topic = %topic.name, partition = pd.index, base_offset, "duplicate idempotent batch");
                    parts.push(PartitionProduceResponse {
                        index: pd.index,
                        error_code: ErrorCode::None.code(),
                        base_offset,
                        log_append_time_ms: -1,
                        log_start_offset: partition.log.log_start_offset(),
                        ..Default::default()
                    });
                    // The original may not be durable yet: wait for it too.
                    let next_offset = partition.log.log_end_offset();
                    pending.push(Pending {
                        topic_idx: ti,
                        part_idx: pi,
                        partition,
                        next_offset,
                        min_isr,
                    });
                }
                Err((code, msg)) => {
                    tracing::debug!(topic = %topic.name, partition = pd.index, code = %code, msg, "produce refused");
                    parts.push(part_error(pd.index, code, Some(msg)));
                }
            }
        }
        responses.push(TopicProduceResponse {
            name: td.name,
            partition_responses: parts,
            ..Default::default()
        });
    }
    // Our batches are in the logs: the next request on this connection may append.
    if let Some(turn) = ctx.apply_turn.take() {
        turn.applied();
    }

    let mut syncs = Vec::new();
    let mut replicated = Vec::new();
    // A small request with one partition, and none queued behind it on
    // its connection, may run its fsync round itself (with requests
    // queued, the group commit of a blocking runner serves them better).
    let inline = !ctx.more_queued && pending.len() == 1 && appended_bytes <= INLINE_SYNC_MAX_BYTES;
    for p in pending {
        let partition = p.partition.clone();
        let st = state.clone();
        if acks == -1 && partition.is_replicated() {
            replicated.push((
                p.topic_idx,
                p.part_idx,
                partition.clone(),
                p.next_offset,
                p.min_isr,
            ));
        }
        // Every partition's sync starts now; they are awaited below.
        let visible = st.start_visible(&partition, p.next_offset, inline);
        if !matches!(visible, crate::state::Visible::Now) {
            syncs.push((p.topic_idx, p.part_idx, visible));
        }
    }
    if acks == 0 {
        // Nobody waits for the answer, but the data must still become durable.
        tokio::spawn(async move {
            for (_, _, v) in syncs {
                let _ = v.wait().await;
            }
        });
        return ProduceResponse::default();
    }
    for (ti, pi, visible) in syncs {
        if let Err(e) = visible.wait().await {
            tracing::error!(error = %e, "making produced data durable failed");
            if let Some(r) = responses
                .get_mut(ti)
                .and_then(|t| t.partition_responses.get_mut(pi))
            {
                *r = part_error(r.index, ErrorCode::KafkaStorageError, Some(e));
            }
        }
    }
    // acks=all on a replicated partition: answered once the high
    // watermark covers the batches (every in-sync replica has them).
    for (ti, pi, partition, next_offset, min_isr) in replicated {
        let Some(r) = responses
            .get_mut(ti)
            .and_then(|t| t.partition_responses.get_mut(pi))
        else {
            continue;
        };
        if r.error_code != ErrorCode::None.code() {
            continue;
        }
        let waited = crate::cluster::acks::wait_replicated(
            &state,
            &partition,
            next_offset,
            min_isr,
            deadline,
        )
        .await;
        if let Err(code) = waited {
            *r = part_error(r.index, code, None);
        }
    }
    ProduceResponse {
        responses,
        node_endpoints: leaders,
        ..Default::default()
    }
}
