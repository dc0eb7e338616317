//! The broker's view of the cluster: topics, their ids, configs and
//! partitions, persisted in `<data-dir>/meta/topics.json` (written
//! atomically) so they survive restarts.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use fjord_protocol::Uuid;
use fjord_storage::{Log, LogConfig};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::config::BrokerConfig;
use crate::partition::Partition;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("io error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("metadata file {0} is corrupt: {1}")]
    Corrupt(String, String),
    #[error("storage: {0}")]
    Storage(#[from] fjord_storage::StorageError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What is persisted about a topic.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TopicMeta {
    pub name: String,
    /// Hex of the 16-byte topic id.
    pub id: String,
    /// Topic-level config overrides (Kafka names).
    pub configs: BTreeMap<String, String>,
    /// Leader epoch of each partition; its length is the partition count.
    pub leader_epochs: Vec<i32>,
}

#[derive(Debug, Serialize, Deserialize)]
struct MetaFile {
    cluster_id: String,
    node_id: i32,
    topics: Vec<TopicMeta>,
    /// Producer ids below this may have been handed out.
    #[serde(default)]
    producer_id_block_end: i64,
}

/// Producer ids are reserved in blocks so a restart never reuses one.
const PRODUCER_ID_BLOCK: i64 = 1000;

pub struct Topic {
    pub name: String,
    pub id: Uuid,
    pub configs: BTreeMap<String, String>,
    pub log_config: LogConfig,
    pub partitions: Vec<Arc<Partition>>,
    pub internal: bool,
    /// Traffic counters shown on `/metrics`, resolved once per topic.
    pub metrics: crate::metrics::TopicMetrics,
}

/// Shared broker state, cheap to clone via `Arc`.
pub struct BrokerState {
    pub config: BrokerConfig,
    pub cluster_id: String,
    pub node_id: i32,
    topics: RwLock<HashMap<String, Arc<Topic>>>,
    /// Serializes topic creation/deletion and metadata writes.
    pub admin_lock: tokio::sync::Mutex<()>,
    /// Bumped whenever any high watermark moves; long-poll fetches wait on it.
    pub data_version: watch::Sender<u64>,
    meta_path: PathBuf,
    /// (next producer id, end of the reserved block).
    producer_ids: std::sync::Mutex<(i64, i64)>,
    /// The classic consumer group coordinator (every group is ours).
    pub groups: crate::coordinator::GroupCoordinator,
    /// What `/metrics` shows (shared with the HTTP listener).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The transaction coordinator (every transactional id is ours).
    pub txns: crate::txn::TxnCoordinator,
}

pub fn uuid_hex(u: &Uuid) -> String {
    u.0.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_uuid_hex(s: &str) -> Option<Uuid> {
    if s.len() != 32 {
        return None;
    }
    let mut u = [0u8; 16];
    for (i, byte) in u.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(Uuid(u))
}

pub fn random_uuid() -> Uuid {
    let mut u: [u8; 16] = rand::random();
    // Version 4, variant 1, as Kafka's Uuid.randomUuid produces.
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    Uuid(u)
}

/// Kafka prints cluster ids as url-safe base64 of a uuid without padding.
fn cluster_id_string(u: &Uuid) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    let bits: u128 = u128::from_be_bytes(u.0);
    // 128 bits -> 22 base64 characters (the last holds 2 bits).
    for i in 0..22 {
        let shift = 128i32 - 6 * (i + 1);
        let idx = if shift >= 0 {
            (bits >> shift) & 0x3f
        } else {
            (bits << (-shift)) & 0x3f
        };
        out.push(ALPHABET[idx as usize] as char);
    }
    out
}

impl BrokerState {
    /// Opens (or formats) the data directory and loads every topic.
    pub fn open(config: BrokerConfig) -> Result<BrokerState, StateError> {
        Self::open_with_metrics(config, Arc::new(crate::metrics::Metrics::new()))
    }

    /// As [`BrokerState::open`], counting into `metrics`.
    pub fn open_with_metrics(
        config: BrokerConfig,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Result<BrokerState, StateError> {
        let meta_dir = config.data_dir.join("meta");
        std::fs::create_dir_all(&meta_dir).map_err(io_err(&meta_dir))?;
        let meta_path = meta_dir.join("topics.json");
        let file: MetaFile = if meta_path.exists() {
            let text = std::fs::read_to_string(&meta_path).map_err(io_err(&meta_path))?;
            serde_json::from_str(&text)
                .map_err(|e| StateError::Corrupt(meta_path.display().to_string(), e.to_string()))?
        } else {
            MetaFile {
                cluster_id: cluster_id_string(&random_uuid()),
                node_id: config.node_id,
                topics: Vec::new(),
                producer_id_block_end: 0,
            }
        };
        let (data_version, _) = watch::channel(0u64);
        let state = BrokerState {
            cluster_id: file.cluster_id.clone(),
            node_id: file.node_id,
            topics: RwLock::new(HashMap::new()),
            admin_lock: tokio::sync::Mutex::new(()),
            data_version,
            meta_path,
            producer_ids: std::sync::Mutex::new((
                file.producer_id_block_end,
                file.producer_id_block_end,
            )),
            groups: crate::coordinator::GroupCoordinator::with_config(config.group.clone()),
            txns: crate::txn::TxnCoordinator::new(config.transaction_max_timeout_ms),
            metrics,
            config,
        };
        let mut loaded = HashMap::new();
        for mut meta in file.topics {
            // A (re)start is a leadership change: bump every epoch.
            for e in meta.leader_epochs.iter_mut() {
                *e += 1;
            }
            let topic = state.open_topic(&meta)?;
            loaded.insert(meta.name.clone(), Arc::new(topic));
        }
        if let Ok(mut t) = state.topics.write() {
            *t = loaded;
        }
        state.persist()?;
        state.open_group_coordinator()?;
        crate::txn::open(&state);
        Ok(state)
    }

    /// Creates `__consumer_offsets` if missing and replays it.
    fn open_group_coordinator(&self) -> Result<(), StateError> {
        use crate::coordinator::OFFSETS_TOPIC;
        let topic = match self.topic(OFFSETS_TOPIC) {
            Some(t) => t,
            None => {
                let configs = BTreeMap::from([
                    ("cleanup.policy".to_string(), "compact".to_string()),
                    (
                        "segment.bytes".to_string(),
                        self.config.offsets_topic_segment_bytes.to_string(),
                    ),
                ]);
                let partitions = self.config.group.offsets_topic_num_partitions;
                self.create_topic(OFFSETS_TOPIC, partitions, configs)?
            }
        };
        self.groups
            .load(topic.partitions.clone(), crate::handlers::now_ms());
        Ok(())
    }

    fn open_topic(&self, meta: &TopicMeta) -> Result<Topic, StateError> {
        let mut log_config = self.config.log.clone();
        for (k, v) in &meta.configs {
            log_config.set(k, v)?;
        }
        let id = parse_uuid_hex(&meta.id).ok_or_else(|| {
            StateError::Corrupt(
                self.meta_path.display().to_string(),
                format!("bad topic id {}", meta.id),
            )
        })?;
        let mut partitions = Vec::new();
        for (i, epoch) in meta.leader_epochs.iter().enumerate() {
            let dir = fjord_storage::partition_dir(&self.config.data_dir, &meta.name, i as i32);
            let log = Log::open(&dir, log_config.clone())?;
            partitions.push(Arc::new(Partition::new(
                &meta.name,
                i as i32,
                Arc::new(log),
                *epoch,
            )));
        }
        Ok(Topic {
            name: meta.name.clone(),
            id,
            metrics: self.metrics.topic(&meta.name),
            configs: meta.configs.clone(),
            log_config,
            partitions,
            internal: is_internal_topic(&meta.name),
        })
    }

    /// Writes the topic list atomically (temp file, fsync, rename).
    pub fn persist(&self) -> Result<(), StateError> {
        let topics: Vec<TopicMeta> = {
            let map = self
                .topics
                .read()
                .map_err(|_| StateError::Corrupt("topics".into(), "lock poisoned".into()))?;
            let mut v: Vec<TopicMeta> = map
                .values()
                .map(|t| TopicMeta {
                    name: t.name.clone(),
                    id: uuid_hex(&t.id),
                    configs: t.configs.clone(),
                    leader_epochs: t.partitions.iter().map(|p| p.leader_epoch).collect(),
                })
                .collect();
            v.sort_by(|a, b| a.name.cmp(&b.name));
            v
        };
        let producer_id_block_end = self.producer_ids.lock().map(|g| g.1).unwrap_or(0);
        let file = MetaFile {
            cluster_id: self.cluster_id.clone(),
            node_id: self.node_id,
            topics,
            producer_id_block_end,
        };
        let text = serde_json::to_string_pretty(&file)
            .map_err(|e| StateError::Corrupt("topics".into(), e.to_string()))?;
        let tmp = self.meta_path.with_extension("json.tmp");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
            f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
            f.sync_all().map_err(io_err(&tmp))?;
        }
        std::fs::rename(&tmp, &self.meta_path).map_err(io_err(&self.meta_path))?;
        if let Some(dir) = self.meta_path.parent() {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Hands out a producer id never used before on this cluster.
    pub fn allocate_producer_id(&self) -> Result<i64, StateError> {
        let (id, needs_persist) = {
            let mut g = self
                .producer_ids
                .lock()
                .map_err(|_| StateError::Corrupt("producer ids".into(), "lock poisoned".into()))?;
            let id = g.0;
            g.0 += 1;
            let needs = g.0 > g.1;
            if needs {
                g.1 = id + PRODUCER_ID_BLOCK;
            }
            (id, needs)
        };
        if needs_persist {
            self.persist()?;
        }
        Ok(id)
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().ok()?.get(name).cloned()
    }

    pub fn topic_by_id(&self, id: &Uuid) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .ok()?
            .values()
            .find(|t| t.id == *id)
            .cloned()
    }

    pub fn partition(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        let t = self.topic(topic)?;
        usize::try_from(index)
            .ok()
            .and_then(|i| t.partitions.get(i).cloned())
    }

    pub fn all_topics(&self) -> Vec<Arc<Topic>> {
        let mut v: Vec<_> = self
            .topics
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Creates a topic; caller holds `admin_lock` and validated the name.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, StateError> {
        let meta = TopicMeta {
            name: name.to_string(),
            id: uuid_hex(&random_uuid()),
            configs,
            leader_epochs: vec![0; partitions.max(0) as usize],
        };
        let topic = Arc::new(self.open_topic(&meta)?);
        if let Ok(mut map) = self.topics.write() {
            map.insert(name.to_string(), topic.clone());
        }
        self.persist()?;
        Ok(topic)
    }

    /// Replaces a topic (new partitions or configs); caller holds `admin_lock`.
    pub fn replace_topic(&self, topic: Topic) -> Result<Arc<Topic>, StateError> {
        let topic = Arc::new(topic);
        if let Ok(mut map) = self.topics.write() {
            map.insert(topic.name.clone(), topic.clone());
        }
        self.persist()?;
        Ok(topic)
    }

    /// Builds the topic with `partitions` partitions (growing only).
    pub fn grow_topic(&self, t: &Topic, partitions: i32) -> Result<Topic, StateError> {
        let mut parts = t.partitions.clone();
        for i in parts.len() as i32..partitions {
            let dir = fjord_storage::partition_dir(&self.config.data_dir, &t.name, i);
            let log = Log::open(&dir, t.log_config.clone())?;
            parts.push(Arc::new(Partition::new(&t.name, i, Arc::new(log), 0)));
        }
        Ok(Topic {
            name: t.name.clone(),
            id: t.id,
            metrics: t.metrics.clone(),
            configs: t.configs.clone(),
            log_config: t.log_config.clone(),
            partitions: parts,
            internal: t.internal,
        })
    }

    /// Removes a topic and deletes its data; caller holds `admin_lock`.
    pub fn delete_topic(&self, name: &str) -> Result<bool, StateError> {
        let removed = self.topics.write().ok().and_then(|mut m| m.remove(name));
        let Some(topic) = removed else {
            return Ok(false);
        };
        self.metrics.forget_topic(name);
        self.persist()?;
        for p in &topic.partitions {
            p.log.delete()?;
        }
        Ok(true)
    }

    /// Wakes long-poll fetches after a high watermark moved.
    pub fn notify_data(&self) {
        self.data_version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Closes every log cleanly (sync, checkpoints, clean-shutdown marker).
    pub fn close_all(&self) {
        for t in self.all_topics() {
            for p in &t.partitions {
                if let Err(e) = p.close() {
                    tracing::error!(topic = %t.name, partition = p.index, error = %e, "closing log failed");
                }
            }
        }
    }
}

/// Kafka's internal topics (`Topic.isInternal`): clients cannot produce to
/// them, delete them, add partitions to them, or have Metadata create them.
/// Other names starting with `__` are ordinary topics, as in Kafka.
pub const INTERNAL_TOPICS: &[&str] = &["__consumer_offsets", "__transaction_state"];

pub fn is_internal_topic(name: &str) -> bool {
    INTERNAL_TOPICS.contains(&name)
}

/// Kafka's legal topic names: 1..249 chars of [a-zA-Z0-9._-], not "." or "..".
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("topic name is empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!("topic name {name:?} is not allowed"));
    }
    if name.len() > 249 {
        return Err(format!(
            "topic name is {} characters, more than 249",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "topic name {name:?} contains the illegal character {c:?}"
        ));
    }
    Ok(())
}
