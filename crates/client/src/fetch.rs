//! Fetch: one sessionless Fetch request per leader, all leaders at once
//! (one in flight per broker, each on its own task), responses decoded
//! into records with fjord-protocol's batch iteration. Control batches are
//! skipped; under read_committed, batches of aborted transactions are too
//! (from the response's aborted-transaction list, as Kafka's consumers do).

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;
use fjord_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use fjord_protocol::messages::{FetchRequest, FetchResponse};
use fjord_protocol::records::{
    records, validate, BatchHeader, Header, RecordsError, TimestampType,
};
use fjord_protocol::{ErrorCode, Request, Response};

use crate::admin::TopicInfo;
use crate::client::Client;
use crate::conn::Connection;
use crate::error::{ClientError, Result};
use crate::versions;
use tokio::sync::mpsc;

/// Most bytes one compressed batch may decompress to.
const DECOMPRESS_LIMIT: usize = 128 << 20;

#[derive(Clone, Debug)]
pub struct FetchOptions {
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub partition_max_bytes: i32,
    pub read_committed: bool,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 50 << 20,
            partition_max_bytes: 1 << 20,
            read_committed: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumedRecord {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub log_append_time: bool,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
}

/// What one partition's fetch returned.
#[derive(Clone, Debug)]
pub struct PartitionFetch {
    pub partition: i32,
    pub error: Option<ClientError>,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    pub records: Vec<ConsumedRecord>,
    /// Where the next fetch starts: past the last whole batch returned
    /// (control and aborted batches included), else the fetch offset.
    pub next_offset: i64,
}

impl PartitionFetch {
    fn failed(partition: i32, fetch_offset: i64, error: ClientError) -> PartitionFetch {
        PartitionFetch {
            partition,
            error: Some(error),
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            records: Vec::new(),
            next_offset: fetch_offset,
        }
    }
}

/// Decodes the records of one partition's fetch data from `fetch_offset`
/// on. `aborted` lists (producer id, first offset) of aborted transactions
/// and is used only when `read_committed`.
pub fn decode_records(
    partition: i32,
    fetch_offset: i64,
    data: &Bytes,
    aborted: &[(i64, i64)],
    read_committed: bool,
) -> Result<(Vec<ConsumedRecord>, i64)> {
    let corrupt = |at: i64, e: RecordsError| {
        ClientError::Other(format!(
            "partition {partition}: unreadable record batch at offset {at}: {e}"
        ))
    };
    let mut aborted: Vec<(i64, i64)> = aborted.to_vec();
    aborted.sort_by_key(|&(_, first)| first);
    let mut next_aborted = 0;
    let mut aborting: HashSet<i64> = HashSet::new();
    let mut out = Vec::new();
    let mut next = fetch_offset;
    let mut pos = 0;
    while pos < data.len() {
        let rest = &data[pos..];
        let h = match BatchHeader::parse(rest) {
            Ok(h) => h,
            // A fetch may end inside a batch: the rest comes next time.
            Err(RecordsError::Truncated) => break,
            Err(RecordsError::UnsupportedMagic(m)) if next == fetch_offset => {
                return Err(ClientError::Other(format!(
                    "partition {partition}: message format v{m} at offset {fetch_offset} is not supported (only v2 record batches)"
                )))
            }
            Err(e) if next == fetch_offset => return Err(corrupt(fetch_offset, e)),
            Err(_) => break,
        };
        let size = h.total_size();
        if rest.len() < size {
            break;
        }
        let batch = data.slice(pos..pos + size);
        pos += size;
        if h.next_offset() <= fetch_offset {
            continue;
        }
        validate(&batch).map_err(|e| corrupt(h.base_offset, e))?;
        next = next.max(h.next_offset());
        if read_committed {
            while next_aborted < aborted.len() && aborted[next_aborted].1 <= h.last_offset() {
                aborting.insert(aborted[next_aborted].0);
                next_aborted += 1;
            }
            if h.is_control() {
                // The transaction's end marker: later batches of this
                // producer belong to a new transaction.
                aborting.remove(&h.producer_id);
                continue;
            }
            if h.is_transactional() && aborting.contains(&h.producer_id) {
                continue;
            }
        } else if h.is_control() {
            continue;
        }
        let log_append_time = h.timestamp_type() == TimestampType::LogAppendTime;
        let iter = records(&batch, DECOMPRESS_LIMIT).map_err(|e| corrupt(h.base_offset, e))?;
        for r in iter {
            let r = r.map_err(|e| corrupt(h.base_offset, e))?;
            let offset = r.offset(h.base_offset);
            if offset < fetch_offset {
                continue;
            }
            out.push(ConsumedRecord {
                partition,
                offset,
                timestamp: r.timestamp(&h),
                log_append_time,
                key: r.key,
                value: r.value,
                headers: r.headers,
            });
        }
    }
    Ok((out, next))
}

/// One broker's Fetch, answered on the client's fetch channel.
pub(crate) struct FetchDone {
    node: i32,
    /// The connection, to be reused; `None` when it could not be opened.
    conn: Option<Connection>,
    topic: String,
    /// (partition, fetch offset) as asked.
    parts: Vec<(i32, i64)>,
    result: Result<FetchResponse>,
}

/// The fetches in flight, at most one per broker (as Kafka's consumer
/// keeps them): each runs in its own task on the connection it owns, and
/// its answer comes back on `rx`.
pub(crate) struct Fetches {
    tx: mpsc::UnboundedSender<FetchDone>,
    rx: mpsc::UnboundedReceiver<FetchDone>,
    in_flight: HashSet<i32>,
    /// Fetch connections between fetches, by broker (apart from the
    /// client's other connections).
    pub(crate) idle: HashMap<i32, Connection>,
}

impl Default for Fetches {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Fetches {
            tx,
            rx,
            in_flight: HashSet::new(),
            idle: HashMap::new(),
        }
    }
}

impl Client {
    /// Fetches `positions` (partition → offset) of `topic` from their
    /// leaders. A Fetch goes to every leader that has none in flight, all
    /// at once; the call returns as soon as at least one broker answered
    /// (with what every broker that answered by then sent), so a slow or
    /// stopped broker delays only its own partitions. Partitions whose
    /// broker has not answered yet are missing from the result; answers
    /// for positions that changed meanwhile are dropped. Errors that
    /// concern partitions come back per partition.
    pub async fn fetch(
        &mut self,
        topic: &TopicInfo,
        positions: &BTreeMap<i32, i64>,
        opts: &FetchOptions,
    ) -> Result<Vec<PartitionFetch>> {
        let name = &topic.name;
        let mut out = Vec::with_capacity(positions.len());
        let mut by_leader: BTreeMap<i32, Vec<(i32, i64, i32)>> = BTreeMap::new();
        for (&p, &offset) in positions {
            match topic.partition(p) {
                Some(pi) if pi.leader >= 0 => {
                    by_leader
                        .entry(pi.leader)
                        .or_default()
                        .push((p, offset, pi.leader_epoch))
                }
                _ => out.push(PartitionFetch::failed(
                    p,
                    offset,
                    ClientError::Kafka {
                        context: format!("partition {name}-{p}"),
                        code: ErrorCode::LeaderNotAvailable.code(),
                        message: None,
                    },
                )),
            }
        }
        for (leader, parts) in by_leader {
            if self.fetches.in_flight.contains(&leader) {
                continue;
            }
            let req = FetchRequest {
                replica_id: -1,
                max_wait_ms: opts.max_wait_ms,
                min_bytes: opts.min_bytes,
                max_bytes: opts.max_bytes,
                isolation_level: i8::from(opts.read_committed),
                session_id: 0,
                session_epoch: -1,
                topics: vec![FetchTopic {
                    topic: name.clone(),
                    topic_id: topic.topic_id,
                    partitions: parts
                        .iter()
                        .map(|&(p, offset, epoch)| FetchPartition {
                            partition: p,
                            // KIP-320: a leader of another epoch answers
                            // FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH and
                            // the caller refreshes its metadata.
                            current_leader_epoch: epoch,
                            fetch_offset: offset,
                            log_start_offset: -1,
                            partition_max_bytes: opts.partition_max_bytes,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            };
            let timeout = self.config().request_timeout
                + std::time::Duration::from_millis(u64::try_from(opts.max_wait_ms).unwrap_or(0));
            let opener = match self.take_or_prepare(leader).await {
                Ok(o) => o,
                Err(e) if e.is_retriable() => {
                    for (p, offset, _) in parts {
                        out.push(PartitionFetch::failed(p, offset, e.clone()));
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            let tx = self.fetches.tx.clone();
            let topic_name = name.clone();
            let parts: Vec<(i32, i64)> = parts.iter().map(|&(p, o, _)| (p, o)).collect();
            self.fetches.in_flight.insert(leader);
            tokio::spawn(async move {
                let (conn, result) = match opener.open().await {
                    Err(e) => (None, Err(e)),
                    Ok(mut conn) => {
                        let r = conn
                            .call(&Request::Fetch(req), versions::FETCH, Some(timeout))
                            .await;
                        let result = match r {
                            Ok((_, Response::Fetch(r))) => Ok(r),
                            Ok((_, other)) => Err(ClientError::Other(format!(
                                "expected a Fetch response, got {:?}",
                                other.api_key()
                            ))),
                            Err(e) => Err(e),
                        };
                        (Some(conn), result)
                    }
                };
                // The receiver is gone only when the client is.
                let _ = tx.send(FetchDone {
                    node: leader,
                    conn,
                    topic: topic_name,
                    parts,
                    result,
                });
            });
        }
        if out.is_empty() && !self.fetches.in_flight.is_empty() {
            // Cancel-safe: an answer not taken here stays in the channel.
            if let Some(done) = self.fetches.rx.recv().await {
                self.fetch_done(done, topic, positions, opts, &mut out)?;
            }
        }
        while let Ok(done) = self.fetches.rx.try_recv() {
            self.fetch_done(done, topic, positions, opts, &mut out)?;
        }
        out.sort_by_key(|f| f.partition);
        Ok(out)
    }

    /// Decodes one broker's answer into `out`.
    fn fetch_done(
        &mut self,
        done: FetchDone,
        topic: &TopicInfo,
        positions: &BTreeMap<i32, i64>,
        opts: &FetchOptions,
        out: &mut Vec<PartitionFetch>,
    ) -> Result<()> {
        self.fetches.in_flight.remove(&done.node);
        if let Some(conn) = done.conn {
            self.give_back(done.node, conn);
        }
        let name = &topic.name;
        if done.topic != *name {
            return Ok(());
        }
        // Answers for positions the caller has moved on from are stale.
        let parts: Vec<(i32, i64)> = done
            .parts
            .into_iter()
            .filter(|(p, o)| positions.get(p) == Some(o))
            .collect();
        let leader = done.node;
        let resp = match done.result {
            Ok(r) => r,
            Err(e) if e.is_retriable() => {
                for (p, offset) in parts {
                    out.push(PartitionFetch::failed(p, offset, e.clone()));
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if let Some(e) =
            ClientError::from_code(format!("fetch from broker {leader}"), resp.error_code, None)
        {
            for (p, offset) in parts {
                out.push(PartitionFetch::failed(p, offset, e.clone()));
            }
            return Ok(());
        }
        let mut answers: BTreeMap<i32, _> = resp
            .responses
            .into_iter()
            .filter(|t| &t.topic == name || t.topic.is_empty())
            .flat_map(|t| t.partitions)
            .map(|pd| (pd.partition_index, pd))
            .collect();
        for (p, offset) in parts {
            let Some(pd) = answers.remove(&p) else {
                out.push(PartitionFetch::failed(
                    p,
                    offset,
                    ClientError::Other(format!(
                        "partition {name}-{p}: missing from the Fetch response"
                    )),
                ));
                continue;
            };
            if let Some(e) =
                ClientError::from_code(format!("partition {name}-{p}"), pd.error_code, None)
            {
                let mut f = PartitionFetch::failed(p, offset, e);
                f.high_watermark = pd.high_watermark;
                f.last_stable_offset = pd.last_stable_offset;
                f.log_start_offset = pd.log_start_offset;
                out.push(f);
                continue;
            }
            let aborted: Vec<(i64, i64)> = pd
                .aborted_transactions
                .unwrap_or_default()
                .iter()
                .map(|a| (a.producer_id, a.first_offset))
                .collect();
            let data = pd.records.unwrap_or_default();
            let (records, next_offset) =
                decode_records(p, offset, &data, &aborted, opts.read_committed)?;
            out.push(PartitionFetch {
                partition: p,
                error: None,
                high_watermark: pd.high_watermark,
                last_stable_offset: pd.last_stable_offset,
                log_start_offset: pd.log_start_offset,
                records,
                next_offset,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use fjord_protocol::records::{
        control_batch, set_base_offset, BatchBuilder, Compression, ControlType,
    };

    fn marker(base: i64, pid: i64, kind: ControlType) -> Bytes {
        let mut b = BytesMut::from(&control_batch(kind, pid, 0, 0, 1000, 0)[..]);
        set_base_offset(&mut b, base);
        b.freeze()
    }

    fn batch(base: i64, pid: i64, txn: bool, values: &[&str]) -> Bytes {
        let mut b = BatchBuilder::new(Compression::None)
            .base_offset(base)
            .producer(pid, 0, 0)
            .transactional(txn);
        for v in values {
            b.append(1000, None, Some(v.as_bytes()), &[]).unwrap();
        }
        b.build().unwrap()
    }

    fn concat(parts: &[Bytes]) -> Bytes {
        let mut out = BytesMut::new();
        for p in parts {
            out.extend_from_slice(p);
        }
        out.freeze()
    }

    fn values(recs: &[ConsumedRecord]) -> Vec<String> {
        recs.iter()
            .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
            .collect()
    }

    #[test]
    fn skips_records_before_the_fetch_offset_and_stops_at_a_partial_batch() {
        let b0 = batch(0, -1, false, &["a", "b", "c"]);
        let b1 = batch(3, -1, false, &["d"]);
        let data = concat(&[b0, b1.clone(), b1.slice(..20)]);
        let (recs, next) = decode_records(0, 1, &data, &[], false).unwrap();
        assert_eq!(values(&recs), ["b", "c", "d"]);
        assert_eq!(recs[0].offset, 1);
        assert_eq!(next, 4);
        let (recs, next) = decode_records(0, 7, &Bytes::new(), &[], false).unwrap();
        assert!(recs.is_empty());
        assert_eq!(next, 7);
    }

    #[test]
    fn read_committed_drops_aborted_transactions_and_markers() {
        let committed = batch(0, 7, true, &["c1"]);
        let commit = marker(1, 7, ControlType::Commit);
        let aborted = batch(2, 8, true, &["x1", "x2"]);
        let abort = marker(4, 8, ControlType::Abort);
        let plain = batch(5, -1, false, &["p"]);
        let data = concat(&[committed, commit, aborted, abort, plain]);
        let (recs, next) = decode_records(0, 0, &data, &[(8, 2)], true).unwrap();
        assert_eq!(values(&recs), ["c1", "p"]);
        assert_eq!(next, 6);
        // read_uncommitted sees everything but the markers.
        let (recs, _) = decode_records(0, 0, &data, &[(8, 2)], false).unwrap();
        assert_eq!(values(&recs), ["c1", "x1", "x2", "p"]);
    }

    #[test]
    fn corrupt_batches_are_errors_not_panics() {
        let mut bad = BytesMut::from(&batch(0, -1, false, &["a"])[..]);
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        assert!(decode_records(0, 0, &bad.freeze(), &[], false).is_err());
        let mut old = vec![0u8; 40];
        old[16] = 1;
        let e = decode_records(3, 0, &Bytes::from(old), &[], false).unwrap_err();
        assert!(e.to_string().contains("message format v1"), "{e}");
    }
}
