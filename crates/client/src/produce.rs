//! A simple producer: records are grouped per partition into one v2 batch
//! each (built with fjord-protocol's `BatchBuilder`), partitions per
//! leader into one Produce request each. Keyed records go where Kafka's
//! Java client puts them (murmur2); keyless records of one `send` stick to
//! one partition, rotating between sends. Retriable errors (leader moved,
//! connection lost) are retried after a metadata refresh; without
//! idempotence a retry may duplicate a batch, as with any acks=1 producer.

use std::collections::BTreeMap;

use bytes::Bytes;
use fjord_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use fjord_protocol::messages::ProduceRequest;
use fjord_protocol::records::{BatchBuilder, Compression};
use fjord_protocol::{ErrorCode, Request, Response};

use crate::admin::{backoff, TopicInfo};
use crate::client::{Client, Target};
use crate::error::{ClientError, Result};
use crate::partitioner::partition_for_key;
use crate::{now_ms, versions};

const RETRIES: u32 = 5;

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
        })
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
        let mut results: Vec<Option<Result<Delivered>>> = vec![None; records.len()];
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
                    match self.build_batch(records, idxs, now) {
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
                    match ClientError::from_code(
                        format!("partition {}-{p}", self.topic),
                        pr.error_code,
                        message,
                    ) {
                        None => {
                            for (k, &i) in idxs.iter().enumerate() {
                                let timestamp = if pr.log_append_time_ms >= 0 {
                                    pr.log_append_time_ms
                                } else {
                                    records[i].timestamp.unwrap_or(now)
                                };
                                results[i] = Some(Ok(Delivered {
                                    partition: p,
                                    offset: Some(pr.base_offset + k as i64),
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
            if attempt > RETRIES {
                let e = last_error
                    .unwrap_or_else(|| ClientError::Other("produce retries exhausted".into()));
                for idxs in retry.values() {
                    for &i in idxs {
                        results[i] = Some(Err(e.clone()));
                    }
                }
                break;
            }
            tracing::debug!(attempt, error = ?last_error, "produce: retrying");
            tokio::time::sleep(backoff(attempt)).await;
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
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(ClientError::Other("record was not sent".into()))))
            .collect())
    }

    fn build_batch(&self, records: &[ProduceRecord], idxs: &[usize], now: i64) -> Result<Bytes> {
        let mut b = BatchBuilder::new(self.compression);
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
