//! A simple producer: records are grouped per partition into one v2 batch
//! each (built with fjord-protocol's `BatchBuilder`), partitions per
//! leader into one Produce request each. Keyed records go where Kafka's
//! Java client puts them (murmur2); keyless records of one `send` stick to
//! one partition, rotating between sends. Retriable errors (leader moved,
//! connection lost) are retried after a metadata refresh; without
//! idempotence a retry may duplicate a batch, as with any acks=1 producer.
//!
//! With [`Producer::enable_idempotence`] (KIP-98) the producer takes a
//! producer id from the broker (InitProducerId) and numbers each
//! partition's batches; a retry resends the very same batch, so the
//! broker stores it once. Errors are handled as Kafka's Java producer
//! handles them without a transactional id (its `TransactionManager`):
//! DUPLICATE_SEQUENCE_NUMBER is a delivery; UNKNOWN_PRODUCER_ID (the
//! broker lost the producer's state) and OUT_OF_ORDER_SEQUENCE_NUMBER (a
//! gap) bump the epoch, which restarts every partition's sequence at 0,
//! and retry the batch; INVALID_PRODUCER_EPOCH and any other error that
//! fails a batch for good leave a gap in its sequence, so the epoch is
//! bumped before the next batch. The bump is local (same producer id,
//! epoch + 1) until the epoch would overflow, then a new InitProducerId.
//! One batch per partition is in flight at a time (Kafka allows up to
//! five with idempotence), so sequences are never reordered.
//!
//! Retriable errors are retried until the delivery timeout (Kafka's
//! `delivery.timeout.ms`, 120 s by default) has passed since the `send`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fjord_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use fjord_protocol::messages::{InitProducerIdRequest, ProduceRequest};
use fjord_protocol::records::{BatchBuilder, Compression};
use fjord_protocol::{ErrorCode, Request, Response};

use crate::admin::{backoff, TopicInfo};
use crate::client::{Client, Target};
use crate::error::{ClientError, Result};
use crate::partitioner::partition_for_key;
use crate::{now_ms, versions};

const RETRIES: u32 = 5;
/// Kafka's `delivery.timeout.ms` default.
pub const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest pause between two attempts of a send.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acks {
    /// Fire and forget: the broker sends no response, offsets are unknown.
    None,
    /// The leader has appended the records.
    Leader,
    /// All in-sync replicas have them.
    All,
}

impl Acks {
    fn wire(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProduceRecord {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
    /// `None`: chosen by key (murmur2) or, without a key, sticky per send.
    pub partition: Option<i32>,
    /// `None`: now.
    pub timestamp: Option<i64>,
}

/// Where a record landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub partition: i32,
    /// `None` with acks=0.
    pub offset: Option<i64>,
    /// The record's timestamp (the broker's with LogAppendTime topics).
    pub timestamp: i64,
}

pub struct Producer {
    topic: String,
    info: TopicInfo,
    acks: Acks,
    compression: Compression,
    auto_create: bool,
    sends: usize,
    idempotence: Option<Idempotence>,
    /// How long a `send` keeps retrying retriable errors.
    delivery_timeout: Duration,
}

/// The identity of an idempotent producer and its next sequence number
/// per partition.
#[derive(Debug)]
struct Idempotence {
    producer_id: i64,
    epoch: i16,
    next_sequence: HashMap<i32, i32>,
    /// A batch failed for good: its sequence numbers are lost, so the
    /// partition's next batch would be out of order. Bump the epoch
    /// before the next batch.
    bump_needed: bool,
}

/// What an idempotent producer does with a partition's error code in a
/// Produce response (Kafka's rules for a producer without transactional
/// id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SeqAction {
    /// The batch is stored (this one is a duplicate of a stored batch).
    Delivered,
    /// The broker has no (or a different) sequence for us: bump the epoch,
    /// which restarts the sequences at 0, and send the batch again.
    BumpAndRetry,
    /// The batch fails; its sequence numbers are lost, bump the epoch.
    FailAndBump,
    /// Not about sequences: retry if retriable, else fail (and bump, as
    /// for any batch that fails for good).
    Other,
}

fn seq_action(code: Option<ErrorCode>) -> SeqAction {
    match code {
        Some(ErrorCode::DuplicateSequenceNumber) => SeqAction::Delivered,
        Some(ErrorCode::UnknownProducerId | ErrorCode::OutOfOrderSequenceNumber) => {
            SeqAction::BumpAndRetry
        }
        Some(ErrorCode::InvalidProducerEpoch) => SeqAction::FailAndBump,
        _ => SeqAction::Other,
    }
}

impl Idempotence {
    /// Takes `count` sequence numbers of `partition` (they wrap at
    /// `i32::MAX` to 0, as in Kafka).
    fn take(&mut self, partition: i32, count: usize) -> i32 {
        let next = self.next_sequence.entry(partition).or_insert(0);
        let first = *next;
        let count = i32::try_from(count).unwrap_or(i32::MAX);
        *next = if first > i32::MAX - count {
            count - (i32::MAX - first) - 1
        } else {
            first + count
        };
        first
    }

    /// A new epoch for the same producer id, every sequence back to 0.
    /// `false` when the epoch cannot grow (a new producer id is needed).
    fn bump_local(&mut self) -> bool {
        self.bump_needed = false;
        self.next_sequence.clear();
        if self.epoch == i16::MAX {
            return false;
        }
        self.epoch += 1;
        true
    }
}

impl Producer {
    /// Looks the topic up (creating it when `auto_create` and the broker
    /// allows it) and waits until its partitions have leaders.
    pub async fn new(
        client: &mut Client,
        topic: &str,
        acks: Acks,
        compression: Compression,
        auto_create: bool,
    ) -> Result<Producer> {
        let info = client.topic_inner(topic, auto_create).await?;
        Ok(Producer {
            topic: topic.to_string(),
            info,
            acks,
            compression,
            auto_create,
            sends: 0,
            idempotence: None,
            delivery_timeout: DEFAULT_DELIVERY_TIMEOUT,
        })
    }

    /// How long a `send` keeps retrying (Kafka's `delivery.timeout.ms`).
    pub fn set_delivery_timeout(&mut self, timeout: Duration) {
        self.delivery_timeout = timeout;
    }

    /// Bumps the epoch (see the module documentation); a new producer id
    /// when the epoch is exhausted.
    async fn bump_epoch(&mut self, client: &mut Client) -> Result<()> {
        let Some(idem) = self.idempotence.as_mut() else {
            return Ok(());
        };
        let (pid, old) = (idem.producer_id, idem.epoch);
        if idem.bump_local() {
            tracing::debug!(
                producer_id = pid,
                epoch = idem.epoch,
                "idempotent producer: epoch bumped"
            );
            return Ok(());
        }
        tracing::debug!(
            producer_id = pid,
            epoch = old,
            "idempotent producer: epoch exhausted, new producer id"
        );
        self.idempotence = None;
        self.enable_idempotence(client).await
    }

    /// Makes every later `send` idempotent (KIP-98): asks the broker for
    /// a producer id. Needs acks=all, as in Kafka.
    pub async fn enable_idempotence(&mut self, client: &mut Client) -> Result<()> {
        if self.acks != Acks::All {
            return Err(ClientError::Other(
                "an idempotent producer needs acks=all".into(),
            ));
        }
        let mut attempt = 0;
        loop {
            let req = Request::InitProducerId(InitProducerIdRequest {
                transactional_id: None,
                transaction_timeout_ms: -1,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            });
            let resp = client
                .send(Target::Any, req, versions::INIT_PRODUCER_ID, None)
                .await;
            let err = match resp {
                Ok((_, Response::InitProducerId(r))) => {
                    match ClientError::from_code("InitProducerId", r.error_code, None) {
                        None => {
                            self.idempotence = Some(Idempotence {
                                producer_id: r.producer_id,
                                epoch: r.producer_epoch,
                                next_sequence: HashMap::new(),
                                bump_needed: false,
                            });
                            return Ok(());
                        }
                        Some(e) => e,
                    }
                }
                Ok((_, other)) => {
                    return Err(ClientError::Other(format!(
                        "expected an InitProducerId response, got {:?}",
                        other.api_key()
                    )))
                }
                Err(e) => e,
            };
            attempt += 1;
            if !err.is_retriable() || attempt > RETRIES {
                return Err(err);
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
    }

    /// The producer id and epoch, once idempotence is on.
    pub fn producer_id(&self) -> Option<(i64, i16)> {
        self.idempotence.as_ref().map(|i| (i.producer_id, i.epoch))
    }

    pub fn partition_count(&self) -> usize {
        self.info.partitions.len()
    }

    fn choose(&self, r: &ProduceRecord, keyless: i32) -> Result<i32> {
        let n = self.partition_count();
        if let Some(p) = r.partition {
            if self.info.partition(p).is_none() {
                return Err(ClientError::Other(format!(
                    "topic {} has no partition {p} (it has {n})",
                    self.topic
                )));
            }
            return Ok(p);
        }
        match &r.key {
            Some(k) => Ok(partition_for_key(k, n)),
            None => Ok(keyless),
        }
    }

    /// Sends `records`; one result per record, in order.
    pub async fn send(
        &mut self,
        client: &mut Client,
        records: &[ProduceRecord],
    ) -> Result<Vec<Result<Delivered>>> {
        if self.idempotence.as_ref().is_some_and(|i| i.bump_needed) {
            self.bump_epoch(client).await?;
        }
        let deadline = Instant::now() + self.delivery_timeout;
        let mut results: Vec<Option<Result<Delivered>>> = vec![None; records.len()];
        // Each partition's batch is built once: a retry must resend the
        // same bytes (with an idempotent producer, the same sequence).
        let mut built: BTreeMap<i32, Bytes> = BTreeMap::new();
        let n = self.partition_count().max(1);
        let keyless = self
            .info
            .partitions
            .get(self.sends % n)
            .map_or(0, |p| p.partition);
        self.sends = self.sends.wrapping_add(1);
        let now = now_ms();
        let mut pending: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        for (i, r) in records.iter().enumerate() {
            match self.choose(r, keyless) {
                Ok(p) => pending.entry(p).or_default().push(i),
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        let assigned = pending.clone();
        let mut attempt = 0;
        while !pending.is_empty() {
            let mut retry: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
            let mut last_error: Option<ClientError> = None;
            let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
            for &p in pending.keys() {
                match self.info.partition(p).map(|pi| pi.leader) {
                    Some(leader) if leader >= 0 => by_leader.entry(leader).or_default().push(p),
                    _ => {
                        last_error = ClientError::from_code(
                            format!("partition {}-{p}", self.topic),
                            ErrorCode::LeaderNotAvailable.code(),
                            None,
                        );
                        retry.insert(p, pending[&p].clone());
                    }
                }
            }
            for (leader, parts) in by_leader {
                let mut partition_data = Vec::with_capacity(parts.len());
                let mut sent = Vec::with_capacity(parts.len());
                for p in parts {
                    let idxs = &pending[&p];
                    let batch = match built.get(&p) {
                        Some(b) => Ok(b.clone()),
                        None => self.build_batch(records, p, idxs, now).inspect(|b| {
                            built.insert(p, b.clone());
                        }),
                    };
                    match batch {
                        Ok(batch) => {
                            partition_data.push(PartitionProduceData {
                                index: p,
                                records: Some(batch),
                                ..Default::default()
                            });
                            sent.push(p);
                        }
                        Err(e) => {
                            for &i in idxs {
                                results[i] = Some(Err(e.clone()));
                            }
                        }
                    }
                }
                if sent.is_empty() {
                    continue;
                }
                let req = Request::Produce(ProduceRequest {
                    transactional_id: None,
                    acks: self.acks.wire(),
                    timeout_ms: i32::try_from(client.config().request_timeout.as_millis())
                        .unwrap_or(i32::MAX),
                    topic_data: vec![TopicProduceData {
                        name: self.topic.clone(),
                        partition_data,
                        ..Default::default()
                    }],
                    ..Default::default()
                });
                let outcome = if self.acks == Acks::None {
                    client
                        .send_only(Target::Node(leader), req, versions::PRODUCE)
                        .await
                        .map(|_| None)
                } else {
                    client
                        .send(Target::Node(leader), req, versions::PRODUCE, None)
                        .await
                        .map(|(_, r)| Some(r))
                };
                let resp = match outcome {
                    Err(e) => {
                        for p in sent {
                            if e.is_retriable() {
                                retry.insert(p, pending[&p].clone());
                            } else {
                                for &i in &pending[&p] {
                                    results[i] = Some(Err(e.clone()));
                                }
                            }
                        }
                        last_error = Some(e);
                        continue;
                    }
                    Ok(None) => {
                        for p in sent {
                            for &i in &pending[&p] {
                                results[i] = Some(Ok(Delivered {
                                    partition: p,
                                    offset: None,
                                    timestamp: records[i].timestamp.unwrap_or(now),
                                }));
                            }
                        }
                        continue;
                    }
                    Ok(Some(Response::Produce(r))) => r,
                    Ok(Some(other)) => {
                        let e = ClientError::Other(format!(
                            "expected a Produce response, got {:?}",
                            other.api_key()
                        ));
                        for p in sent {
                            for &i in &pending[&p] {
                                results[i] = Some(Err(e.clone()));
                            }
                        }
                        continue;
                    }
                };
                let answers: BTreeMap<i32, _> = resp
                    .responses
                    .into_iter()
                    .filter(|t| t.name == self.topic)
                    .flat_map(|t| t.partition_responses)
                    .map(|pr| (pr.index, pr))
                    .collect();
                for p in sent {
                    let idxs = &pending[&p];
                    let Some(pr) = answers.get(&p) else {
                        let e = ClientError::Other(format!(
                            "partition {}-{p}: missing from the Produce response",
                            self.topic
                        ));
                        for &i in idxs {
                            results[i] = Some(Err(e.clone()));
                        }
                        continue;
                    };
                    let message = pr.error_message.clone().or_else(|| {
                        pr.record_errors
                            .first()
                            .and_then(|r| r.batch_index_error_message.clone())
                    });
                    let mut error = ClientError::from_code(
                        format!("partition {}-{p}", self.topic),
                        pr.error_code,
                        message,
                    );
                    let idempotent = self.idempotence.is_some() && built.contains_key(&p);
                    let action = if idempotent {
                        seq_action(error.as_ref().and_then(ClientError::code))
                    } else {
                        SeqAction::Other
                    };
                    match action {
                        SeqAction::Delivered => {
                            tracing::debug!(partition = p, "produce: duplicate of a stored batch");
                            error = None;
                        }
                        SeqAction::BumpAndRetry => {
                            tracing::debug!(partition = p, error = ?error, "produce: sequence lost by the broker; bumping the epoch");
                            self.bump_epoch(client).await?;
                            // Rebuilt at the next attempt with the new epoch,
                            // from sequence 0.
                            built.remove(&p);
                            retry.insert(p, idxs.clone());
                            last_error = error;
                            continue;
                        }
                        SeqAction::FailAndBump | SeqAction::Other => {}
                    }
                    match error {
                        None => {
                            for (k, &i) in idxs.iter().enumerate() {
                                let timestamp = if pr.log_append_time_ms >= 0 {
                                    pr.log_append_time_ms
                                } else {
                                    records[i].timestamp.unwrap_or(now)
                                };
                                results[i] = Some(Ok(Delivered {
                                    partition: p,
                                    // A duplicate may come without its offset.
                                    offset: (pr.base_offset >= 0)
                                        .then(|| pr.base_offset + k as i64),
                                    timestamp,
                                }));
                            }
                        }
                        Some(e) if e.is_retriable() => {
                            retry.insert(p, idxs.clone());
                            last_error = Some(e);
                        }
                        Some(e) => {
                            for &i in idxs {
                                results[i] = Some(Err(e.clone()));
                            }
                        }
                    }
                }
            }
            if retry.is_empty() {
                break;
            }
            attempt += 1;
            let pause = backoff(attempt).min(MAX_BACKOFF);
            if Instant::now() + pause >= deadline {
                let e = last_error
                    .unwrap_or_else(|| ClientError::Other("produce retries exhausted".into()));
                let e = ClientError::Other(format!(
                    "not delivered within the delivery timeout ({} ms): {e}",
                    self.delivery_timeout.as_millis()
                ));
                for idxs in retry.values() {
                    for &i in idxs {
                        results[i] = Some(Err(e.clone()));
                    }
                }
                break;
            }
            tracing::debug!(attempt, error = ?last_error, "produce: retrying");
            tokio::time::sleep(pause).await;
            match client.topic_inner(&self.topic, self.auto_create).await {
                Ok(info) => self.info = info,
                Err(e) if e.is_retriable() => {}
                Err(e) => {
                    for idxs in retry.values() {
                        for &i in idxs {
                            results[i] = Some(Err(e.clone()));
                        }
                    }
                    break;
                }
            }
            pending = retry;
        }
        if let Some(idem) = &mut self.idempotence {
            // A built batch whose records failed took sequence numbers the
            // broker never stored.
            idem.bump_needed |= assigned.iter().any(|(p, idxs)| {
                built.contains_key(p) && idxs.iter().any(|&i| !matches!(results[i], Some(Ok(_))))
            });
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(ClientError::Other("record was not sent".into()))))
            .collect())
    }

    fn build_batch(
        &mut self,
        records: &[ProduceRecord],
        partition: i32,
        idxs: &[usize],
        now: i64,
    ) -> Result<Bytes> {
        let mut b = BatchBuilder::new(self.compression);
        if let Some(idem) = &mut self.idempotence {
            let first = idem.take(partition, idxs.len());
            b = b.producer(idem.producer_id, idem.epoch, first);
        }
        for &i in idxs {
            let r = &records[i];
            let headers: Vec<(&[u8], Option<&[u8]>)> = r
                .headers
                .iter()
                .map(|(k, v)| (k.as_bytes(), v.as_deref()))
                .collect();
            b.append(
                r.timestamp.unwrap_or(now),
                r.key.as_deref(),
                r.value.as_deref(),
                &headers,
            )
            .map_err(|e| ClientError::Other(format!("cannot build the record batch: {e}")))?;
        }
        b.build()
            .map_err(|e| ClientError::Other(format!("cannot build the record batch: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_are_per_partition_and_wrap_to_zero() {
        let mut idem = Idempotence {
            producer_id: 7,
            epoch: 0,
            next_sequence: HashMap::new(),
            bump_needed: false,
        };
        assert_eq!(idem.take(0, 3), 0);
        assert_eq!(idem.take(0, 2), 3);
        assert_eq!(idem.take(1, 1), 0);
        idem.next_sequence.insert(2, i32::MAX - 1);
        assert_eq!(idem.take(2, 3), i32::MAX - 1);
        // MAX-1, MAX, 0 were taken: the next batch starts at 1.
        assert_eq!(idem.take(2, 1), 1);
    }

    #[test]
    fn a_bump_restarts_every_sequence_until_the_epoch_runs_out() {
        let mut idem = Idempotence {
            producer_id: 7,
            epoch: 3,
            next_sequence: HashMap::new(),
            bump_needed: true,
        };
        idem.take(0, 5);
        idem.take(1, 2);
        assert!(idem.bump_local());
        assert_eq!(
            (idem.producer_id, idem.epoch, idem.bump_needed),
            (7, 4, false)
        );
        assert_eq!(idem.take(0, 1), 0);
        assert_eq!(idem.take(1, 1), 0);
        idem.epoch = i16::MAX;
        assert!(
            !idem.bump_local(),
            "an exhausted epoch needs a new producer id"
        );
    }

    #[test]
    fn sequence_errors_are_handled_as_kafkas_idempotent_producer_does() {
        use ErrorCode::*;
        assert_eq!(
            seq_action(Some(DuplicateSequenceNumber)),
            SeqAction::Delivered
        );
        assert_eq!(seq_action(Some(UnknownProducerId)), SeqAction::BumpAndRetry);
        assert_eq!(
            seq_action(Some(OutOfOrderSequenceNumber)),
            SeqAction::BumpAndRetry
        );
        assert_eq!(
            seq_action(Some(InvalidProducerEpoch)),
            SeqAction::FailAndBump
        );
        assert_eq!(seq_action(Some(NotLeaderOrFollower)), SeqAction::Other);
        assert_eq!(seq_action(Option::None), SeqAction::Other);
    }
}
