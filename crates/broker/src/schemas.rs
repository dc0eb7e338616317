//! The schema registry's log: [`SchemaLog`] over partition 0 of the
//! compacted `_schemas` topic, created on the first registry write (so a
//! broker whose registry is never used has no extra topic), and the
//! registry's startup beside the Kafka listener.
//!
//! An append is one record batch, fsynced before it returns (whatever the
//! topic's flush policy), then made visible by moving the high watermark,
//! so a registry write is acknowledged as an acks=all produce is.

use std::sync::Arc;

use bytes::BytesMut;
use fjord_protocol::records::{BatchBuilder, BatchIter};
use fjord_schema_registry::{LogError, LogRecord, SchemaLog};

use crate::state::BrokerState;
use fjord_partition::Partition;

/// `_schemas` as Confluent creates it: one partition, compacted.
const PARTITIONS: i32 = 1;

pub struct PartitionLog {
    state: Arc<BrokerState>,
}

fn err(e: impl std::fmt::Display) -> LogError {
    LogError(e.to_string())
}

impl SchemaLog for PartitionLog {
    fn append(&self, records: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<i64, LogError> {
        let p = &self.partition_or_create()?;
        let now = fjord_storage::clock::now_ms();
        let mut b = BatchBuilder::default();
        for (k, v) in records {
            b.append(now, Some(k), v.as_deref(), &[]).map_err(err)?;
        }
        let batch = b.build().map_err(err)?;
        let mut buf = BytesMut::from(&batch[..]);
        let info = p.log.append(&mut buf, p.leader_epoch, now).map_err(err)?;
        let next = info.last_offset + 1;
        p.log.sync_to(next).map_err(err)?;
        self.state.make_visible(p, next).map_err(err)?;
        Ok(info.last_offset)
    }

    fn read(&self, from: i64, max_bytes: usize) -> Result<(Vec<LogRecord>, i64), LogError> {
        let Some(partition) = self.partition() else {
            return Ok((Vec::new(), from));
        };
        let log = &partition.log;
        let end = partition.high_watermark();
        let from = from.max(log.log_start_offset());
        if from >= end {
            return Ok((Vec::new(), from));
        }
        let read = log.read(from, max_bytes, end, true).map_err(err)?;
        let data = read.to_bytes().map_err(err)?;
        let mut out = Vec::new();
        let mut next = read.next_offset.max(from);
        let mut pos = 0usize;
        for item in BatchIter::new(&data) {
            let Ok((h, raw)) = item else { break };
            let batch = data.slice(pos..pos + raw.len());
            pos += raw.len();
            next = next.max(h.base_offset + i64::from(h.last_offset_delta) + 1);
            if h.is_control() {
                continue;
            }
            let recs = fjord_protocol::records::records(&batch, 64 << 20).map_err(err)?;
            for rec in recs.flatten() {
                let offset = rec.offset(h.base_offset);
                if offset < from {
                    continue;
                }
                let Some(key) = rec.key else { continue };
                out.push(LogRecord {
                    offset,
                    key: key.to_vec(),
                    value: rec.value.map(|v| v.to_vec()),
                });
            }
        }
        Ok((out, next))
    }

    fn end_offset(&self) -> i64 {
        self.partition().map_or(0, |p| p.log.log_end_offset())
    }
}

impl PartitionLog {
    pub fn new(state: Arc<BrokerState>) -> PartitionLog {
        PartitionLog { state }
    }

    /// `_schemas` partition 0, if the topic exists (looked up each time:
    /// the topic may be created, or deleted and re-created, meanwhile).
    fn partition(&self) -> Option<Arc<Partition>> {
        self.state.partition(fjord_schema_registry::TOPIC, 0)
    }

    /// Creates `_schemas` (compacted, one partition) if it is missing.
    /// Runs on a blocking thread (the registry's appends do).
    fn partition_or_create(&self) -> Result<Arc<Partition>, LogError> {
        if let Some(p) = self.partition() {
            return Ok(p);
        }
        let _admin = self.state.admin_lock.blocking_lock();
        if let Some(p) = self.partition() {
            return Ok(p);
        }
        let configs = std::collections::BTreeMap::from([(
            "cleanup.policy".to_string(),
            "compact".to_string(),
        )]);
        let topic = self
            .state
            .create_topic(fjord_schema_registry::TOPIC, PARTITIONS, configs)
            .map_err(err)?;
        tracing::info!(
            topic = fjord_schema_registry::TOPIC,
            "created the schema registry topic"
        );
        topic
            .partitions
            .first()
            .cloned()
            .ok_or_else(|| LogError("_schemas has no partition".into()))
    }
}

/// Binds the registry's listener: `None` when it is off, or when the
/// default port is taken (logged). An address given explicitly that cannot
/// be bound is an error: `(address, cause)`.
pub async fn bind(
    listen: &crate::config::SchemaRegistryListen,
) -> Result<Option<tokio::net::TcpListener>, (String, std::io::Error)> {
    use crate::config::SchemaRegistryListen as L;
    match listen {
        L::Off => Ok(None),
        L::Default => {
            match tokio::net::TcpListener::bind(fjord_schema_registry::DEFAULT_ADDR).await {
                Ok(l) => Ok(Some(l)),
                Err(e) => {
                    tracing::warn!(
                        addr = fjord_schema_registry::DEFAULT_ADDR,
                        error = %e,
                        "schema registry port is taken; running without a schema registry (choose another with --schema-registry HOST:PORT)"
                    );
                    Ok(None)
                }
            }
        }
        L::Addr(a) => tokio::net::TcpListener::bind(a)
            .await
            .map(Some)
            .map_err(|source| (a.clone(), source)),
    }
}

/// Serves the registry on `listener` until `stop` flips: opens it on
/// `_schemas` (replaying it) in the background, so Kafka clients are not
/// kept waiting; HTTP clients that connect meanwhile wait in the backlog.
pub fn start(
    state: &Arc<BrokerState>,
    metrics: &Arc<crate::metrics::Metrics>,
    listener: tokio::net::TcpListener,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>), String> {
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let log = PartitionLog::new(state.clone());
    let metrics = metrics.clone();
    let task = tokio::spawn(async move {
        let reg = match fjord_schema_registry::Registry::open(Arc::new(log), Default::default())
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "schema registry could not read _schemas; it is not served");
                return;
            }
        };
        metrics.attach_schema_registry(fjord_schema_registry::metrics::Collector {
            registry: Arc::downgrade(&reg),
        });
        let follow = tokio::spawn(fjord_schema_registry::follow(reg.clone(), stop.clone()));
        let mut stop = stop;
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        // Authentication plugs in here once fjord has a user store.
        fjord_schema_registry::http::serve(listener, reg, None, shutdown).await;
        follow.abort();
    });
    Ok((addr, task))
}
