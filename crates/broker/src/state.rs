//! The broker's view of the cluster: topics, their ids, configs and
//! partitions, persisted under `<data-dir>/meta/` (one file per topic, see
//! `meta_store.rs`) so they survive restarts. Opening and closing the
//! partitions at start and stop runs on a few threads, with one filesystem
//! sync for all of them instead of several fsyncs each.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use fjord_protocol::Uuid;
use fjord_storage::{Log, LogConfig};
use tokio::sync::watch;

use crate::config::BrokerConfig;
pub use crate::meta_store::TopicMeta;
use crate::meta_store::{ClusterMeta, MetaStore};
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
    #[error("cluster: {0}")]
    Cluster(String),
}

impl StateError {
    /// Whether the disk is full (ENOSPC).
    pub fn is_disk_full(&self) -> bool {
        match self {
            StateError::Io { source, .. } => source.raw_os_error() == Some(28),
            StateError::Storage(e) => e.is_disk_full(),
            StateError::Corrupt(..) | StateError::Cluster(_) => false,
        }
    }
}

/// Producer ids are reserved in blocks so a restart never reuses one.
const PRODUCER_ID_BLOCK: i64 = 1000;

/// State of the single metadata writer.
#[derive(Default)]
struct MetaWriter {
    /// Test-only fault injection: every write fails before touching the
    /// file, as a full or broken disk would.
    fail_writes: bool,
}

/// Threads that open or close partitions at start and stop: the work is
/// mostly small file operations, so a few more than the cores.
fn io_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .saturating_mul(2)
        .clamp(2, 8)
}

/// Runs `f` on every item with [`io_workers`] threads; results in order.
fn parallel_map<T: std::marker::Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> R + std::marker::Sync,
) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = io_workers().min(items.len().max(1));
    let mut parts: Vec<Vec<(usize, R)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, f(item)));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut all: Vec<(usize, R)> = parts.drain(..).flatten().collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

/// What a clean stop could not make durable.
#[derive(Debug, Default)]
pub struct CloseReport {
    /// Partitions closed cleanly (marked so the next start skips recovery).
    pub closed: usize,
    /// Partitions that were not: (topic-partition, error).
    pub failed: Vec<(String, String)>,
    /// The final filesystem sync failed: nothing is known to be durable.
    pub sync_error: Option<String>,
}

impl CloseReport {
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty() && self.sync_error.is_none()
    }
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
    /// `meta/`: cluster and topic files.
    meta: MetaStore,
    /// This start's generation (starts so far, this one included): leader
    /// epochs are stored relative to it.
    generation: u64,
    /// The one metadata writer: every change to a metadata file is written
    /// while this is held, from a snapshot taken under it, so a file on
    /// disk is always the latest complete state and never a torn or stale
    /// one.
    meta_writer: std::sync::Mutex<MetaWriter>,
    /// Producer id allocation: (next id to hand out, end of the block that
    /// is durable in `cluster.json`). An id is handed out only below the
    /// durable end, so a crash can never make the broker issue it again.
    producer_ids: std::sync::Mutex<(i64, i64)>,
    /// End of the newest producer-id block reserved (what `cluster.json`
    /// records; at least the durable end).
    producer_id_reserved: std::sync::atomic::AtomicI64,
    /// Started on a full disk: serves reads, deletions and DeleteRecords,
    /// refuses writes with KAFKA_STORAGE_ERROR until `cluster.json` can be
    /// written again ([`BrokerState::retry_read_write`]).
    read_only: std::sync::atomic::AtomicBool,
    /// The classic consumer group coordinator (every group is ours).
    pub groups: fjord_group_coordinator::GroupCoordinator,
    /// What `/metrics` shows (shared with the HTTP listener).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The transaction coordinator (every transactional id is ours).
    pub txns: fjord_txn_coordinator::TxnCoordinator,
    /// SCRAM credentials (`meta/scram-credentials.json`).
    pub users: Arc<crate::security::users::UserStore>,
    /// ACLs and the decisions over them (`meta/acls.json`).
    pub authorizer: crate::security::authorizer::Authorizer,
    /// Client quotas (`meta/client-quotas.json`) and their usage.
    pub quotas: Arc<crate::quotas::QuotaManager>,
    /// Open client connections, for the connection limits.
    pub connections: Arc<crate::quotas::connections::ConnectionTracker>,
    /// Cluster mode's handle (see `state/image.rs`); unset on one node.
    cluster: std::sync::OnceLock<Arc<crate::cluster::Cluster>>,
    /// An async worker is running an fsync round itself (at most one at
    /// a time, so the others keep serving; see `start_visible`).
    inline_sync: std::sync::atomic::AtomicBool,
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
        let (meta, cluster, topic_metas) = MetaStore::open(&meta_dir)?;
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
        let cluster = cluster.unwrap_or_else(|| ClusterMeta {
            cluster_id: cluster_id_string(&random_uuid()),
            node_id: config.node_id,
            producer_id_block_end: 0,
            generation: 0,
        });
        // A (re)start is a leadership change: every epoch goes up by one,
        // through the generation alone (no topic file is rewritten).
        let generation = cluster.generation + 1;
        let (data_version, _) = watch::channel(0u64);
        let users = crate::security::users::UserStore::open(&config.data_dir)?;
        // `--add-scram`: created or updated before any client connects (in
        // cluster mode proposed to the metadata log instead, see
        // `cluster::security_sync::add_scram`).
        if !config.cluster.enabled() {
            let added: Vec<_> = config.add_scram.iter().map(|a| a.change()).collect();
            users.apply(&added)?;
            for a in &config.add_scram {
                tracing::info!(user = %a.user, mechanism = a.mechanism.name(), "SCRAM credential set (--add-scram)");
            }
        }
        let authorizer = crate::security::authorizer::Authorizer::open(&config, metrics.clone())?;
        let quotas = crate::quotas::QuotaManager::open(&config.data_dir, config.quota)?;
        let state = BrokerState {
            users: Arc::new(users),
            authorizer,
            quotas: Arc::new(quotas),
            connections: Default::default(),
            cluster: std::sync::OnceLock::new(),
            // In cluster mode the quorum's cluster id (resolved by the
            // server before the state opens) wins over `cluster.json`'s.
            cluster_id: match &config.cluster.cluster_id {
                Some(id) if config.cluster.enabled() => id.clone(),
                _ => cluster.cluster_id.clone(),
            },
            node_id: cluster.node_id,
            topics: RwLock::new(HashMap::new()),
            admin_lock: tokio::sync::Mutex::new(()),
            data_version,
            meta,
            generation,
            read_only: std::sync::atomic::AtomicBool::new(false),
            meta_writer: std::sync::Mutex::new(MetaWriter::default()),
            producer_ids: std::sync::Mutex::new((
                cluster.producer_id_block_end,
                cluster.producer_id_block_end,
            )),
            producer_id_reserved: std::sync::atomic::AtomicI64::new(cluster.producer_id_block_end),
            groups: fjord_group_coordinator::GroupCoordinator::with_config(config.group.clone()),
            txns: fjord_txn_coordinator::TxnCoordinator::new(config.transaction_max_timeout_ms),
            metrics,
            config: RwLock::new(Arc::new(config)),
            static_config,
            inline_sync: std::sync::atomic::AtomicBool::new(false),
        };
        let started = std::time::Instant::now();
        let loaded = state.open_topics(&topic_metas)?;
        if let Ok(mut t) = state.topics.write() {
            *t = loaded;
        }
        match state.persist() {
            Ok(()) => {}
            Err(e) if e.is_disk_full() => {
                tracing::error!(
                    "the disk of {} is full: starting read-only (Fetch, ListOffsets, Metadata, DeleteTopics and DeleteRecords are served; writes get KAFKA_STORAGE_ERROR) until there is room again",
                    state.config().data_dir.display()
                );
                state
                    .read_only
                    .store(true, std::sync::atomic::Ordering::Release);
            }
            Err(e) => return Err(e),
        }
        tracing::info!(
            topics = topic_metas.len(),
            partitions = state.partition_count(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "opened the logs"
        );
        state.open_group_coordinator()?;
        Ok(state)
    }

    /// Opens every partition of `metas` on a few threads, then makes what
    /// recovery wrote durable with one filesystem sync.
    fn open_topics(&self, metas: &[TopicMeta]) -> Result<HashMap<String, Arc<Topic>>, StateError> {
        let config = self.config();
        let mut log_configs = Vec::with_capacity(metas.len());
        for meta in metas {
            let mut log_config = config.log.clone();
            for (k, v) in &meta.configs {
                log_config.set(k, v)?;
            }
            log_configs.push(log_config);
        }
        let jobs: Vec<(usize, i32)> = metas
            .iter()
            .enumerate()
            .flat_map(|(t, m)| (0..m.leader_epochs.len() as i32).map(move |p| (t, p)))
            .collect();
        let epochs: Vec<Vec<i32>> = metas.iter().map(|m| m.epochs_at(self.generation)).collect();
        let opened = parallel_map(&jobs, |&(t, p)| {
            let meta = &metas[t];
            let dir = fjord_storage::partition_dir(&config.data_dir, &meta.name, p);
            let log = Log::open_deferred(&dir, log_configs[t].clone())?;
            Ok::<_, StateError>(Arc::new(Partition::new(
                &meta.name,
                p,
                Arc::new(log),
                epochs[t][p as usize],
            )))
        });
        // Only recovery writes anything worth a sync: logs opened clean (or
        // new and empty) wrote nothing that must be durable.
        let recovered = opened
            .iter()
            .any(|p| p.as_ref().is_ok_and(|p| !p.log.unchanged_since_open()));
        if recovered {
            fjord_storage::sync_filesystem(&config.data_dir)?;
        }
        let mut partitions: Vec<Vec<Arc<Partition>>> = metas.iter().map(|_| Vec::new()).collect();
        for (&(t, _), p) in jobs.iter().zip(opened) {
            partitions[t].push(p?);
        }
        let mut loaded = HashMap::with_capacity(metas.len());
        for ((meta, log_config), parts) in metas.iter().zip(log_configs).zip(partitions) {
            let id = parse_uuid_hex(&meta.id).ok_or_else(|| {
                StateError::Corrupt(
                    format!("meta/topics/{}.json", meta.name),
                    format!("bad topic id {}", meta.id),
                )
            })?;
            let topic = Topic {
                name: meta.name.clone(),
                id,
                metrics: self.metrics.topic(&meta.name),
                configs: meta.configs.clone(),
                log_config,
                partitions: parts,
                internal: is_internal_topic(&meta.name),
            };
            loaded.insert(meta.name.clone(), Arc::new(topic));
        }
        Ok(loaded)
    }

    /// Whether the broker runs read-only (started on a full disk).
    pub fn read_only(&self) -> bool {
        self.read_only.load(std::sync::atomic::Ordering::Acquire)
    }

    /// In read-only mode, tries to write `cluster.json` again; once that
    /// works there is room on the disk and the broker takes writes again.
    /// Returns whether it left read-only mode.
    pub fn retry_read_write(&self) -> bool {
        if !self.read_only() {
            return false;
        }
        match self.persist() {
            Ok(()) => {
                self.read_only
                    .store(false, std::sync::atomic::Ordering::Release);
                tracing::info!("the disk has room again: leaving read-only mode");
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "still read-only");
                false
            }
        }
    }

    /// Creates `__consumer_offsets` if missing and replays it. In cluster
    /// mode the topic lives in the image and the coordinator loads the
    /// partitions this broker leads (see `cluster/coordinators.rs`).
    fn open_group_coordinator(&self) -> Result<(), StateError> {
        use fjord_protocol::internal_topics::OFFSETS_TOPIC;
        if self.config().cluster.enabled() {
            return Ok(());
        }
        let topic = match self.topic(OFFSETS_TOPIC) {
            Some(t) => t,
            None if self.read_only() => {
                tracing::warn!(
                    "read-only: {OFFSETS_TOPIC} cannot be created; consumer groups are unavailable"
                );
                return Ok(());
            }
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
                format!("meta/topics/{}.json", meta.name),
                format!("bad topic id {}", meta.id),
            )
        })?;
        let mut partitions = Vec::new();
        for (i, epoch) in meta.epochs_at(self.generation).iter().enumerate() {
            let dir = fjord_storage::partition_dir(&self.config().data_dir, &meta.name, i as i32);
            let log = Log::open(&dir, log_config.clone())?;
            partitions.push(Arc::new(self.new_partition(
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

    /// Writes `cluster.json`: ids, this start's generation and the
    /// producer-id reservation, durably.
    pub fn persist(&self) -> Result<(), StateError> {
        let _writer = self.meta_writer_guard()?;
        self.meta.write_cluster(&ClusterMeta {
            cluster_id: self.cluster_id.clone(),
            node_id: self.node_id,
            producer_id_block_end: self
                .producer_id_reserved
                .load(std::sync::atomic::Ordering::Acquire),
            generation: self.generation,
        })
    }

    /// Takes the metadata writer lock; fails as a broken disk would when a
    /// test injected failures.
    fn meta_writer_guard(&self) -> Result<std::sync::MutexGuard<'_, MetaWriter>, StateError> {
        let writer = self
            .meta_writer
            .lock()
            .map_err(|_| StateError::Corrupt("meta".into(), "lock poisoned".into()))?;
        if writer.fail_writes {
            return Err(StateError::Io {
                path: "meta".into(),
                source: std::io::Error::other("injected metadata write failure"),
            });
        }
        Ok(writer)
    }

    /// Writes one topic's file and returns once it is on disk. Callers
    /// apply a change to memory only after this succeeds, so a client is
    /// told success exactly when the change is durable.
    fn write_topic_meta(&self, meta: &TopicMeta) -> Result<(), StateError> {
        let _writer = self.meta_writer_guard()?;
        self.meta.write_topic(meta)
    }

    /// The end of the producer ids this node reserved in single-node mode
    /// (`cluster.json`): every id below it may be in a log here.
    pub fn reserved_producer_ids(&self) -> i64 {
        self.producer_id_reserved
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Test hook: makes every later metadata write fail (or succeed
    /// again), as a broken disk would.
    pub fn inject_meta_write_failure(&self, fail: bool) {
        if let Ok(mut w) = self.meta_writer.lock() {
            w.fail_writes = fail;
        }
    }

    /// Hands out a producer id never used before on this cluster. An id is
    /// returned only once the block holding it is durable in `cluster.json`;
    /// the allocation lock is held while a new block is written, so no
    /// concurrent caller can take an id of a block that is not yet saved.
    /// Blocking (fsync): call from a blocking context. In cluster mode the
    /// ids come from blocks the quorum hands this broker (see
    /// `cluster::producer_ids`).
    pub fn allocate_producer_id(&self) -> Result<i64, StateError> {
        if let Some(cluster) = self.cluster() {
            return cluster.allocate_producer_id().map_err(StateError::Cluster);
        }
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

    /// Partitions hosted, internal topics included.
    pub fn partition_count(&self) -> i64 {
        self.topics
            .read()
            .map(|m| m.values().map(|t| t.partitions.len() as i64).sum())
            .unwrap_or(0)
    }

    /// Refuses adding `adding` partitions when the broker would then host
    /// more than `fjord.max.broker.partitions`; the message says why.
    pub fn check_partition_budget(&self, adding: i64) -> Result<(), String> {
        let hosted = self.partition_count();
        let max = self.config().max_broker_partitions;
        if hosted.saturating_add(adding) > max {
            return Err(format!(
                "Adding {adding} partitions would make {} on this broker, more than fjord.max.broker.partitions ({max}); {hosted} exist.",
                hosted.saturating_add(adding)
            ));
        }
        Ok(())
    }

    /// An existing topic other than `name` for which `same` holds (name
    /// collisions), without sorting or copying the topic list.
    pub fn find_topic(&self, same: impl Fn(&str) -> bool) -> Option<String> {
        self.topics.read().ok()?.keys().find(|k| same(k)).cloned()
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
    /// On failure nothing is left behind: no partition directory, no topic
    /// file, no topic in memory.
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
            epoch_generation: self.generation,
        };
        let topic = match self.open_topic(&meta) {
            Ok(t) => Arc::new(t),
            Err(e) => {
                self.remove_partition_dirs(name, 0..partitions.max(0));
                return Err(e);
            }
        };
        if let Err(e) = self.write_topic_meta(&meta) {
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
        let meta = self.topic_meta(&topic);
        if let Err(e) = self.write_topic_meta(&meta) {
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
        Ok(t.with_partitions(parts))
    }

    /// Removes a topic and deletes its data; caller holds `admin_lock`.
    /// The removal of its topic file is durable before the topic leaves
    /// memory and its data is removed.
    pub fn delete_topic(&self, name: &str) -> Result<bool, StateError> {
        if self.topic(name).is_none() {
            return Ok(false);
        }
        {
            let _writer = self.meta_writer_guard()?;
            self.meta.remove_topic(name)?;
        }
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
        let moved = partition.make_durable(next_offset)?;
        self.made_visible(partition, moved);
        Ok(())
    }

    /// [`BrokerState::make_visible`] without blocking, when no I/O is due
    /// (see `Partition::make_durable_now`); false: call `make_visible`
    /// from a blocking context.
    pub fn make_visible_now(&self, partition: &Partition, next_offset: i64) -> bool {
        match partition.make_durable_now(next_offset) {
            Some(moved) => {
                self.made_visible(partition, moved);
                true
            }
            None => false,
        }
    }

    /// Starts making `partition` durable up to `next_offset` without
    /// blocking the caller; await the result with [`Visible::wait`].
    /// Under fsync-before-ack the offset joins the log's group commit
    /// (`Log::sync_to_then`): one blocking task runs the fsync rounds for
    /// every producer waiting on the log, instead of one per request.
    /// With `inline` (a small request with one partition to sync) the
    /// caller runs one round itself when the log's fsyncs are quick (see
    /// [`INLINE_SYNC_QUICK`]) and no other worker is running one, so the
    /// answer needs no other thread.
    pub fn start_visible(
        self: &Arc<Self>,
        partition: &Arc<Partition>,
        next_offset: i64,
        inline: bool,
    ) -> Visible {
        if self.make_visible_now(partition, next_offset) {
            return Visible::Now;
        }
        match partition.log.flush_policy() {
            fjord_storage::FlushPolicy::SyncBeforeAck => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let done: fjord_storage::SyncDone = Box::new(move |r| {
                    let _ = tx.send(r);
                });
                if partition.log.sync_to_then(next_offset, done)
                    && (!inline || self.sync_here(&partition.log))
                {
                    let job = RunSyncs(Some(partition.log.clone()));
                    tokio::task::spawn_blocking(move || job.run());
                }
                Visible::Synced(rx, self.clone(), partition.clone())
            }
            // A page-cache flush is due: it runs on a blocking thread.
            fjord_storage::FlushPolicy::PageCache { .. } => {
                let (st, p) = (self.clone(), partition.clone());
                Visible::Blocking(tokio::task::spawn_blocking(move || {
                    st.make_visible(&p, next_offset).map_err(|e| e.to_string())
                }))
            }
        }
    }

    /// Runs the log's next fsync round on this (async) thread if it is
    /// quick and no other worker is doing so (`Log::run_sync_inline`).
    /// True when rounds are left for a blocking runner.
    fn sync_here(&self, log: &fjord_storage::Log) -> bool {
        use std::sync::atomic::Ordering;
        if self.inline_sync.swap(true, Ordering::Acquire) {
            return true;
        }
        let left = log.run_sync_inline(INLINE_SYNC_QUICK);
        self.inline_sync.store(false, Ordering::Release);
        left
    }

    fn made_visible(&self, partition: &Partition, hw_moved: bool) {
        // Replicated: new data wakes the followers' long-poll fetches too.
        if hw_moved || partition.is_replicated() {
            self.notify_data();
        }
    }

    /// What is persisted about `t` now.
    fn topic_meta(&self, t: &Topic) -> TopicMeta {
        TopicMeta {
            name: t.name.clone(),
            id: uuid_hex(&t.id),
            configs: t.configs.clone(),
            leader_epochs: t.partitions.iter().map(|p| p.leader_epoch).collect(),
            epoch_generation: self.generation,
        }
    }

    /// Wakes long-poll fetches after a high watermark moved.
    pub fn notify_data(&self) {
        self.data_version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Closes every log cleanly on a few threads: index files, checkpoints
    /// and producer snapshots of all partitions, one filesystem sync, then
    /// every clean-shutdown marker and one more sync (a marker is never
    /// durable before what it vouches for). Reports what could not be
    /// closed cleanly (those partitions recover at the next start).
    pub fn close_all(&self) -> CloseReport {
        let partitions: Vec<Arc<Partition>> = self
            .all_topics()
            .iter()
            .flat_map(|t| t.partitions.iter().cloned())
            .collect();
        let started = std::time::Instant::now();
        let closed = parallel_map(&partitions, |p| p.close_deferred());
        let mut report = CloseReport::default();
        let config = self.config();
        let data_dir = &config.data_dir;
        let synced = fjord_storage::sync_filesystem(data_dir);
        let ok: Vec<&Arc<Partition>> = partitions
            .iter()
            .zip(&closed)
            .filter(|(_, r)| r.is_ok())
            .map(|(p, _)| p)
            .collect();
        for (p, r) in partitions.iter().zip(closed) {
            if let Err(e) = r {
                report
                    .failed
                    .push((format!("{}-{}", p.topic, p.index), e.to_string()));
            }
        }
        match synced {
            Err(e) => report.sync_error = Some(e.to_string()),
            Ok(()) => {
                let marked = parallel_map(&ok, |p| p.log.mark_clean_deferred());
                for (p, r) in ok.iter().zip(marked) {
                    match r {
                        Ok(()) => report.closed += 1,
                        Err(e) => report
                            .failed
                            .push((format!("{}-{}", p.topic, p.index), e.to_string())),
                    }
                }
                if let Err(e) = fjord_storage::sync_filesystem(data_dir) {
                    report.sync_error = Some(e.to_string());
                    report.closed = 0;
                }
            }
        }
        tracing::info!(
            partitions = partitions.len(),
            closed_cleanly = report.closed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "closed the logs"
        );
        report
    }
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

mod image;

#[cfg(test)]
mod tests;

/// How quick a log's recent fsync rounds must have been for a small
/// produce to run its round on the async worker that handles it (see
/// [`BrokerState::start_visible`]): the most a worker is expected to be
/// held up. Slower disks get every round on a blocking thread.
pub const INLINE_SYNC_QUICK: std::time::Duration = std::time::Duration::from_millis(1);

/// The fsync rounds one caller of `Log::sync_to_then` must run. Run on a
/// blocking thread; dropped unrun (a runtime that is shutting down runs
/// no more blocking tasks) it runs them where it is dropped, since
/// otherwise the log's queued waiters, and every later `sync_to`, would
/// wait forever.
struct RunSyncs(Option<Arc<fjord_storage::Log>>);

impl RunSyncs {
    fn run(mut self) {
        if let Some(log) = self.0.take() {
            log.run_syncs();
        }
    }
}

impl Drop for RunSyncs {
    fn drop(&mut self) {
        if let Some(log) = self.0.take() {
            log.run_syncs();
        }
    }
}

/// A partition on its way to durable (see [`BrokerState::start_visible`]).
pub enum Visible {
    Now,
    Synced(
        tokio::sync::oneshot::Receiver<Result<(), String>>,
        Arc<BrokerState>,
        Arc<Partition>,
    ),
    Blocking(tokio::task::JoinHandle<Result<(), String>>),
}

impl Visible {
    /// Waits until the data is durable and the high watermark moved over
    /// it; the error says why it cannot be.
    pub async fn wait(self) -> Result<(), String> {
        match self {
            Visible::Now => Ok(()),
            Visible::Synced(rx, state, partition) => {
                rx.await
                    .map_err(|_| "the log's sync was abandoned".to_string())??;
                let moved = partition.follow_durable();
                state.made_visible(&partition, moved);
                Ok(())
            }
            Visible::Blocking(task) => task.await.map_err(|e| e.to_string())?,
        }
    }
}
