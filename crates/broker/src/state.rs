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
use fjord_partition::Partition;

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

/// State of the single `topics.json` writer.
#[derive(Default)]
struct MetaWriter {
    /// Distinguishes temp files (with the process id) so no two writes
    /// ever share one, even across a crash and restart.
    writes: u64,
    /// Test-only fault injection: every write fails before touching the
    /// file, as a full or broken disk would.
    fail_writes: bool,
}

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
    /// The effective broker config (static layers plus dynamic ones);
    /// replaced as a whole when a dynamic config changes (see
    /// [`BrokerState::config`]).
    config: RwLock<Arc<BrokerConfig>>,
    /// The config from the file and flags alone, which dynamic layers
    /// are applied over.
    static_config: BrokerConfig,
    pub cluster_id: String,
    pub node_id: i32,
    topics: RwLock<HashMap<String, Arc<Topic>>>,
    /// Serializes topic creation/deletion and metadata writes.
    pub admin_lock: tokio::sync::Mutex<()>,
    /// Bumped whenever any high watermark moves; long-poll fetches wait on it.
    pub data_version: watch::Sender<u64>,
    meta_path: PathBuf,
    /// The one writer of `topics.json`: every change to it is written while
    /// this is held, from a snapshot taken under it, so the file on disk is
    /// always the latest complete state and never a torn or stale one.
    meta_writer: std::sync::Mutex<MetaWriter>,
    /// Producer id allocation: (next id to hand out, end of the block that
    /// is durable in `topics.json`). An id is handed out only below the
    /// durable end, so a crash can never make the broker issue it again.
    producer_ids: std::sync::Mutex<(i64, i64)>,
    /// End of the newest producer-id block reserved (what `topics.json`
    /// records; at least the durable end).
    producer_id_reserved: std::sync::atomic::AtomicI64,
    /// The classic consumer group coordinator (every group is ours).
    pub groups: fjord_group_coordinator::GroupCoordinator,
    /// What `/metrics` shows (shared with the HTTP listener).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The transaction coordinator (every transactional id is ours).
    pub txns: fjord_txn_coordinator::TxnCoordinator,
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
    Uuid(*uuid::Uuid::new_v4().as_bytes())
}

/// Kafka prints cluster ids as url-safe base64 of a uuid without padding.
fn cluster_id_string(u: &Uuid) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(u.0)
}

impl BrokerState {
    /// Opens (or formats) the data directory and loads every topic, with
    /// request metrics for no API (tests; the server passes its own).
    pub fn open(config: BrokerConfig) -> Result<BrokerState, StateError> {
        Self::open_with_metrics(config, Arc::new(crate::metrics::Metrics::new(&[])))
    }

    /// As [`BrokerState::open`], counting into `metrics`.
    pub fn open_with_metrics(
        config: BrokerConfig,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Result<BrokerState, StateError> {
        let meta_dir = config.data_dir.join("meta");
        std::fs::create_dir_all(&meta_dir).map_err(io_err(&meta_dir))?;
        let meta_path = meta_dir.join("topics.json");
        remove_stale_temp_files(&meta_dir);
        let static_config = config;
        let dynamic = crate::config::dynamic::load(&static_config.data_dir)?;
        let config = static_config
            .with_dynamic(dynamic.cluster_default, dynamic.per_broker)
            .map_err(|e| {
                StateError::Corrupt(
                    crate::config::dynamic::path(&static_config.data_dir)
                        .display()
                        .to_string(),
                    e.to_string(),
                )
            })?;
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
            meta_writer: std::sync::Mutex::new(MetaWriter::default()),
            producer_ids: std::sync::Mutex::new((
                file.producer_id_block_end,
                file.producer_id_block_end,
            )),
            producer_id_reserved: std::sync::atomic::AtomicI64::new(file.producer_id_block_end),
            groups: fjord_group_coordinator::GroupCoordinator::with_config(config.group.clone()),
            txns: fjord_txn_coordinator::TxnCoordinator::new(config.transaction_max_timeout_ms),
            metrics,
            config: RwLock::new(Arc::new(config)),
            static_config,
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
        Ok(state)
    }

    /// Creates `__consumer_offsets` if missing and replays it.
    fn open_group_coordinator(&self) -> Result<(), StateError> {
        use fjord_protocol::internal_topics::OFFSETS_TOPIC;
        let topic = match self.topic(OFFSETS_TOPIC) {
            Some(t) => t,
            None => {
                let configs = BTreeMap::from([
                    ("cleanup.policy".to_string(), "compact".to_string()),
                    (
                        "segment.bytes".to_string(),
                        self.config().offsets_topic_segment_bytes.to_string(),
                    ),
                ]);
                let partitions = self.config().group.offsets_topic_num_partitions;
                self.create_topic(OFFSETS_TOPIC, partitions, configs)?
            }
        };
        self.groups
            .load(topic.partitions.clone(), fjord_storage::clock::now_ms());
        Ok(())
    }

    /// The effective broker config. Cheap (an `Arc`); a caller keeps the
    /// snapshot it got even if a dynamic config changes meanwhile.
    pub fn config(&self) -> Arc<BrokerConfig> {
        match self.config.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The config from the file and flags, without dynamic layers.
    pub fn static_config(&self) -> &BrokerConfig {
        &self.static_config
    }

    /// Makes `config` the effective broker config and gives every topic
    /// the log config it now inherits (topics keep their overrides). The
    /// caller holds `admin_lock` and has persisted the dynamic layers.
    pub fn replace_config(&self, config: BrokerConfig) -> Result<(), StateError> {
        let config = Arc::new(config);
        match self.config.write() {
            Ok(mut c) => *c = config.clone(),
            Err(poisoned) => *poisoned.into_inner() = config.clone(),
        }
        for t in self.all_topics() {
            let log = config.topic_log_config(&t.configs);
            if log == t.log_config {
                continue;
            }
            for p in &t.partitions {
                p.log.update_config(log.clone())?;
            }
            let updated = Arc::new(Topic {
                name: t.name.clone(),
                id: t.id,
                metrics: t.metrics.clone(),
                configs: t.configs.clone(),
                log_config: log,
                partitions: t.partitions.clone(),
                internal: t.internal,
            });
            if let Ok(mut map) = self.topics.write() {
                map.insert(t.name.clone(), updated);
            }
        }
        Ok(())
    }

    fn open_topic(&self, meta: &TopicMeta) -> Result<Topic, StateError> {
        let mut log_config = self.config().log.clone();
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
            let dir = fjord_storage::partition_dir(&self.config().data_dir, &meta.name, i as i32);
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

    /// Writes the current topic list and producer-id reservation to
    /// `topics.json` (see [`BrokerState::write_meta`]).
    pub fn persist(&self) -> Result<(), StateError> {
        self.write_meta(|_| {})
    }

    /// Writes `topics.json` as the in-memory topics changed by `edit`, and
    /// returns once the file and its directory entry are on disk. Writers
    /// are serialized and each snapshots the state under the writer lock,
    /// so a later write never loses an earlier one's change; the replace is
    /// atomic (unique temp name, fsync, rename, fsync of the directory).
    /// Callers apply a change to memory only after this succeeds, so a
    /// client is told success exactly when the change is durable.
    fn write_meta(&self, edit: impl FnOnce(&mut Vec<TopicMeta>)) -> Result<(), StateError> {
        let mut writer = self
            .meta_writer
            .lock()
            .map_err(|_| StateError::Corrupt("topics".into(), "lock poisoned".into()))?;
        let mut topics: Vec<TopicMeta> = {
            let map = self
                .topics
                .read()
                .map_err(|_| StateError::Corrupt("topics".into(), "lock poisoned".into()))?;
            map.values().map(|t| topic_meta(t)).collect()
        };
        edit(&mut topics);
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        let file = MetaFile {
            cluster_id: self.cluster_id.clone(),
            node_id: self.node_id,
            topics,
            producer_id_block_end: self
                .producer_id_reserved
                .load(std::sync::atomic::Ordering::Acquire),
        };
        let text = serde_json::to_string_pretty(&file)
            .map_err(|e| StateError::Corrupt("topics".into(), e.to_string()))?;
        if writer.fail_writes {
            return Err(StateError::Io {
                path: self.meta_path.display().to_string(),
                source: std::io::Error::other("injected metadata write failure"),
            });
        }
        writer.writes += 1;
        let tmp = self.meta_path.with_extension(format!(
            "json.{}.{}.tmp",
            std::process::id(),
            writer.writes
        ));
        let written = write_file_durably(&tmp, &self.meta_path, text.as_bytes());
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// Test hook: makes every later `topics.json` write fail (or succeed
    /// again), as a broken disk would.
    pub fn inject_meta_write_failure(&self, fail: bool) {
        if let Ok(mut w) = self.meta_writer.lock() {
            w.fail_writes = fail;
        }
    }

    /// Hands out a producer id never used before on this cluster. An id is
    /// returned only once the block holding it is durable in `topics.json`;
    /// the allocation lock is held while a new block is written, so no
    /// concurrent caller can take an id of a block that is not yet saved.
    /// Blocking (fsync): call from a blocking context.
    pub fn allocate_producer_id(&self) -> Result<i64, StateError> {
        let mut g = self
            .producer_ids
            .lock()
            .map_err(|_| StateError::Corrupt("producer ids".into(), "lock poisoned".into()))?;
        let (next, durable_end) = *g;
        if next >= durable_end {
            let end = next + PRODUCER_ID_BLOCK;
            self.producer_id_reserved
                .fetch_max(end, std::sync::atomic::Ordering::AcqRel);
            self.persist()?;
            g.1 = end;
        }
        g.0 = next + 1;
        Ok(next)
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
    /// On failure nothing is left behind: no partition directory, no entry
    /// in `topics.json`, no topic in memory.
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
        let topic = match self.open_topic(&meta) {
            Ok(t) => Arc::new(t),
            Err(e) => {
                self.remove_partition_dirs(name, 0..partitions.max(0));
                return Err(e);
            }
        };
        if let Err(e) = self.write_meta(|topics| {
            topics.retain(|t| t.name != meta.name);
            topics.push(meta.clone());
        }) {
            for p in &topic.partitions {
                let _ = p.log.delete();
            }
            return Err(e);
        }
        if let Ok(mut map) = self.topics.write() {
            map.insert(name.to_string(), topic.clone());
        }
        Ok(topic)
    }

    /// Removes the directories of partitions `range` of `topic`, if any:
    /// what a creation that failed half-way left.
    fn remove_partition_dirs(&self, topic: &str, range: std::ops::Range<i32>) {
        for i in range {
            let dir = fjord_storage::partition_dir(&self.config().data_dir, topic, i);
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::error!(dir = %dir.display(), error = %e, "removing a partition directory failed")
                }
            }
        }
    }

    /// Replaces a topic (new partitions or configs); caller holds
    /// `admin_lock`. The change is durable before it is visible; on failure
    /// the old topic stays, and partitions the new one added are removed.
    pub fn replace_topic(&self, topic: Topic) -> Result<Arc<Topic>, StateError> {
        let topic = Arc::new(topic);
        let meta = topic_meta(&topic);
        if let Err(e) = self.write_meta(|topics| {
            topics.retain(|t| t.name != meta.name);
            topics.push(meta.clone());
        }) {
            let old = self.topic(&topic.name).map_or(0, |t| t.partitions.len());
            for p in topic.partitions.iter().skip(old) {
                let _ = p.log.delete();
            }
            return Err(e);
        }
        if let Ok(mut map) = self.topics.write() {
            map.insert(topic.name.clone(), topic.clone());
        }
        Ok(topic)
    }

    /// Builds the topic with `partitions` partitions (growing only).
    pub fn grow_topic(&self, t: &Topic, partitions: i32) -> Result<Topic, StateError> {
        let mut parts = t.partitions.clone();
        let old = parts.len() as i32;
        for i in old..partitions {
            let dir = fjord_storage::partition_dir(&self.config().data_dir, &t.name, i);
            match Log::open(&dir, t.log_config.clone()) {
                Ok(log) => parts.push(Arc::new(Partition::new(&t.name, i, Arc::new(log), 0))),
                Err(e) => {
                    self.remove_partition_dirs(&t.name, old..partitions);
                    return Err(e.into());
                }
            }
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
    /// The deletion is durable in `topics.json` before the topic leaves
    /// memory and its data is removed.
    pub fn delete_topic(&self, name: &str) -> Result<bool, StateError> {
        if self.topic(name).is_none() {
            return Ok(false);
        }
        self.write_meta(|topics| topics.retain(|t| t.name != name))?;
        let removed = self.topics.write().ok().and_then(|mut m| m.remove(name));
        let Some(topic) = removed else {
            return Ok(false);
        };
        self.metrics.forget_topic(name);
        for p in &topic.partitions {
            p.log.delete()?;
        }
        Ok(true)
    }

    /// Makes `partition` durable up to `next_offset` (per its flush
    /// policy; see `Partition::make_durable`) and wakes long-poll fetches
    /// if its high watermark moved. Blocking.
    pub fn make_visible(
        &self,
        partition: &Partition,
        next_offset: i64,
    ) -> Result<(), fjord_storage::StorageError> {
        if partition.make_durable(next_offset)? {
            self.notify_data();
        }
        Ok(())
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

/// Removes `topics.json` temp files a crash left behind (their content was
/// never renamed into place, so it was never acknowledged to anyone).
fn remove_stale_temp_files(meta_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(meta_dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if (name.starts_with("topics.json.") && name.ends_with(".tmp"))
            || crate::config::dynamic::is_stale_temp(&name)
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn topic_meta(t: &Topic) -> TopicMeta {
    TopicMeta {
        name: t.name.clone(),
        id: uuid_hex(&t.id),
        configs: t.configs.clone(),
        leader_epochs: t.partitions.iter().map(|p| p.leader_epoch).collect(),
    }
}

/// Replaces `path` with `bytes` atomically: writes and fsyncs `tmp`,
/// renames it over `path`, then fsyncs the directory so the rename itself
/// survives a crash. Any failure is returned, none is ignored.
pub(crate) fn write_file_durably(tmp: &Path, path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    use std::io::Write;
    let mut f = std::fs::File::create(tmp).map_err(io_err(tmp))?;
    f.write_all(bytes).map_err(io_err(tmp))?;
    f.sync_all().map_err(io_err(tmp))?;
    drop(f);
    std::fs::rename(tmp, path).map_err(io_err(path))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

pub use fjord_protocol::internal_topics::{is_internal_topic, INTERNAL_TOPICS};

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("fjord-state-{tag}-{}", rand::random::<u64>()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn open(dir: &Path) -> BrokerState {
        BrokerState::open(BrokerConfig {
            data_dir: dir.to_path_buf(),
            ..BrokerConfig::default()
        })
        .unwrap()
    }

    /// Dropping the state without `close_all` is what a kill -9 leaves: only
    /// what was written to disk is there at the next open.
    #[test]
    fn no_producer_id_is_handed_out_before_its_block_is_durable() {
        let dir = TempDir::new("pid");
        let st = open(&dir.0);
        // The first block (ids 0..1000) is saved normally.
        let first = st.allocate_producer_id().unwrap();
        let mut issued: HashSet<i64> = HashSet::from([first]);
        // Use up the block, then make the disk fail while the next block
        // would be saved: no id of the unsaved block may come out, however
        // often callers retry.
        for _ in 1..PRODUCER_ID_BLOCK {
            assert!(issued.insert(st.allocate_producer_id().unwrap()));
        }
        st.inject_meta_write_failure(true);
        for _ in 0..5 {
            assert!(st.allocate_producer_id().is_err());
        }
        drop(st);
        let st = open(&dir.0);
        for _ in 0..10 {
            let id = st.allocate_producer_id().unwrap();
            assert!(
                issued.insert(id),
                "producer id {id} issued twice across a crash"
            );
        }
    }

    #[test]
    fn concurrent_allocations_never_reissue_after_a_crash() {
        let dir = TempDir::new("pid-conc");
        let st = Arc::new(open(&dir.0));
        // Many threads race across block boundaries (5 blocks' worth).
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let st = st.clone();
                std::thread::spawn(move || {
                    (0..(PRODUCER_ID_BLOCK * 5 / 8 + 3))
                        .map(|_| st.allocate_producer_id().unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut issued = HashSet::new();
        for h in handles {
            for id in h.join().unwrap() {
                assert!(issued.insert(id), "producer id {id} issued twice");
            }
        }
        drop(st);
        let st = open(&dir.0);
        let id = st.allocate_producer_id().unwrap();
        assert!(
            !issued.contains(&id),
            "producer id {id} issued twice across a crash"
        );
    }

    /// Producer-id allocation and topic creation write `topics.json` at the
    /// same time; every change must be kept and none may fail.
    #[test]
    fn concurrent_metadata_writes_all_succeed_and_all_persist() {
        let dir = TempDir::new("meta-race");
        let st = Arc::new(open(&dir.0));
        let creator = {
            let st = st.clone();
            std::thread::spawn(move || {
                for i in 0..150 {
                    st.create_topic(&format!("race-{i}"), 1, BTreeMap::new())
                        .unwrap();
                }
            })
        };
        let allocators: Vec<_> = (0..2)
            .map(|_| {
                let st = st.clone();
                std::thread::spawn(move || {
                    let mut ids = Vec::new();
                    for _ in 0..150 {
                        // Force a block write each time, racing the creator.
                        if let Ok(mut g) = st.producer_ids.lock() {
                            g.0 = g.0.max(g.1);
                        }
                        ids.push(st.allocate_producer_id().unwrap());
                    }
                    ids
                })
            })
            .collect();
        creator.join().unwrap();
        let mut issued = HashSet::new();
        for h in allocators {
            issued.extend(h.join().unwrap());
        }
        drop(st);
        let st = open(&dir.0);
        for i in 0..150 {
            assert!(st.topic(&format!("race-{i}")).is_some(), "race-{i} lost");
        }
        let id = st.allocate_producer_id().unwrap();
        assert!(!issued.contains(&id));
        let leftovers: Vec<_> = std::fs::read_dir(dir.0.join("meta"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    }

    /// A creation whose metadata write fails is reported as failed and
    /// leaves nothing: after a restart the topic does not exist and its
    /// directories are gone.
    #[test]
    fn failed_topic_creation_leaves_nothing_behind() {
        let dir = TempDir::new("create-fail");
        let st = open(&dir.0);
        st.inject_meta_write_failure(true);
        assert!(st.create_topic("ghost", 4, BTreeMap::new()).is_err());
        assert!(st.topic("ghost").is_none());
        for i in 0..4 {
            assert!(!fjord_storage::partition_dir(&dir.0, "ghost", i).exists());
        }
        st.inject_meta_write_failure(false);
        let t = st.create_topic("real", 1, BTreeMap::new()).unwrap();
        st.inject_meta_write_failure(true);
        let grown = st.grow_topic(&t, 3).unwrap();
        assert!(st.replace_topic(grown).is_err());
        assert_eq!(st.topic("real").unwrap().partitions.len(), 1);
        assert!(!fjord_storage::partition_dir(&dir.0, "real", 1).exists());
        assert!(st.delete_topic("real").is_err());
        assert!(st.topic("real").is_some());
        drop(st);
        let st = open(&dir.0);
        assert!(st.topic("ghost").is_none());
        assert_eq!(st.topic("real").unwrap().partitions.len(), 1);
    }

    #[test]
    fn dynamic_defaults_reach_topics_without_an_override() {
        let dir = TempDir::new("dyn");
        let st = open(&dir.0);
        let plain = st.create_topic("plain", 1, BTreeMap::new()).unwrap();
        let over = BTreeMap::from([("retention.ms".to_string(), "1000".to_string())]);
        st.create_topic("over", 1, over).unwrap();
        let cd = BTreeMap::from([("log.retention.ms".to_string(), "5000".to_string())]);
        let config = st
            .static_config()
            .with_dynamic(cd.clone(), BTreeMap::new())
            .unwrap();
        st.replace_config(config).unwrap();
        assert_eq!(st.config().log.retention_ms, 5000);
        let t = st.topic("plain").unwrap();
        assert_eq!(t.log_config.retention_ms, 5000);
        assert_eq!(t.partitions[0].log.config().retention_ms, 5000);
        assert_eq!(plain.partitions[0].log.config().retention_ms, 5000);
        assert_eq!(st.topic("over").unwrap().log_config.retention_ms, 1000);
        // Reopened with the saved layers, the broker starts with them.
        crate::config::dynamic::save(
            &dir.0,
            &crate::config::dynamic::DynamicConfigs {
                cluster_default: cd,
                per_broker: BTreeMap::new(),
            },
        )
        .unwrap();
        drop(t);
        drop(plain);
        st.close_all();
        drop(st);
        let st = open(&dir.0);
        assert_eq!(st.topic("plain").unwrap().log_config.retention_ms, 5000);
        assert_eq!(st.config().layers.cluster_default.len(), 1);
    }
}
