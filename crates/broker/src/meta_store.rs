//! The broker's metadata on disk: `meta/cluster.json` (cluster id, node
//! id, the start generation, the producer-id reservation) and one
//! `meta/topics/<topic>.json` per topic (id, config overrides, leader
//! epochs). A change writes only the file it concerns, so creating a topic
//! costs the same with 10 topics or 50,000. (`meta/dynamic-configs.json`,
//! the dynamic broker configs, is `config::dynamic`'s;
//! `meta/scram-credentials.json`, the SCRAM users, is `security::users`'.)
//!
//! Every write is atomic and durable before it returns: a uniquely named
//! temp file in the same directory, fsync, rename over the target, fsync
//! of the directory. A crash leaves either the old or the new file, never
//! a torn one; temp files it leaves are removed at the next start.
//!
//! Leader epochs are bumped at every start without rewriting any topic
//! file: `cluster.json` counts starts (`generation`), each topic file
//! records the generation its epochs were written at, and a partition's
//! epoch now is its recorded epoch plus the starts since.
//!
//! Older data directories keep everything in one `meta/topics.json`; the
//! first start migrates it (all topic files written and synced, then
//! `cluster.json`, then `topics.json` removed), and a crash midway repeats
//! the migration.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::state::StateError;

/// What is persisted about a topic.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TopicMeta {
    pub name: String,
    /// Hex of the 16-byte topic id.
    pub id: String,
    /// Topic-level config overrides (Kafka names).
    pub configs: BTreeMap<String, String>,
    /// Leader epoch of each partition at generation `epoch_generation`;
    /// its length is the partition count.
    pub leader_epochs: Vec<i32>,
    /// The start generation `leader_epochs` were written at.
    #[serde(default)]
    pub epoch_generation: u64,
}

impl TopicMeta {
    /// The leader epochs at start generation `generation`.
    pub fn epochs_at(&self, generation: u64) -> Vec<i32> {
        let starts = generation.saturating_sub(self.epoch_generation);
        let bump = i32::try_from(starts).unwrap_or(i32::MAX);
        self.leader_epochs
            .iter()
            .map(|e| e.saturating_add(bump))
            .collect()
    }
}

/// `cluster.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClusterMeta {
    pub cluster_id: String,
    pub node_id: i32,
    /// Producer ids below this may have been handed out.
    #[serde(default)]
    pub producer_id_block_end: i64,
    /// Broker starts so far (each one is a leadership change).
    #[serde(default)]
    pub generation: u64,
}

/// The single-file layout of older versions (`topics.json`).
#[derive(Debug, Deserialize)]
struct LegacyFile {
    cluster_id: String,
    node_id: i32,
    topics: Vec<TopicMeta>,
    #[serde(default)]
    producer_id_block_end: i64,
}

const CLUSTER_FILE: &str = "cluster.json";
const TOPICS_DIR: &str = "topics";
const LEGACY_FILE: &str = "topics.json";
const SUFFIX: &str = ".json";
const TEMP_PREFIX: &str = ".tmp-";

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The metadata directory. Callers serialize writes (the broker's
/// metadata writer lock); reads happen at start only.
pub struct MetaStore {
    dir: PathBuf,
    topics_dir: PathBuf,
    /// Makes temp file names unique within this process.
    writes: std::sync::atomic::AtomicU64,
}

impl MetaStore {
    /// Opens `meta_dir` (creating it), removes temp files a crash left and
    /// finishes a migration from `topics.json`. Returns the store, the
    /// cluster file (`None` on a fresh directory) and every topic.
    pub fn open(
        meta_dir: &Path,
    ) -> Result<(MetaStore, Option<ClusterMeta>, Vec<TopicMeta>), StateError> {
        let store = MetaStore {
            dir: meta_dir.to_path_buf(),
            topics_dir: meta_dir.join(TOPICS_DIR),
            writes: std::sync::atomic::AtomicU64::new(0),
        };
        std::fs::create_dir_all(&store.topics_dir).map_err(io_err(&store.topics_dir))?;
        remove_temp_files(&store.dir);
        remove_temp_files(&store.topics_dir);
        let legacy = store.dir.join(LEGACY_FILE);
        if legacy.exists() {
            store.migrate(&legacy)?;
        }
        let cluster_path = store.dir.join(CLUSTER_FILE);
        let cluster = match std::fs::read(&cluster_path) {
            Ok(bytes) => Some(serde_json::from_slice::<ClusterMeta>(&bytes).map_err(|e| {
                StateError::Corrupt(cluster_path.display().to_string(), e.to_string())
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err(&cluster_path)(e)),
        };
        let mut topics = Vec::new();
        let entries = std::fs::read_dir(&store.topics_dir).map_err(io_err(&store.topics_dir))?;
        for entry in entries {
            let entry = entry.map_err(io_err(&store.topics_dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.ends_with(SUFFIX) || name.starts_with(TEMP_PREFIX) {
                continue;
            }
            let path = entry.path();
            let bytes = std::fs::read(&path).map_err(io_err(&path))?;
            let meta: TopicMeta = serde_json::from_slice(&bytes)
                .map_err(|e| StateError::Corrupt(path.display().to_string(), e.to_string()))?;
            topics.push(meta);
        }
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((store, cluster, topics))
    }

    fn migrate(&self, legacy: &Path) -> Result<(), StateError> {
        let text = std::fs::read_to_string(legacy).map_err(io_err(legacy))?;
        let file: LegacyFile = serde_json::from_str(&text)
            .map_err(|e| StateError::Corrupt(legacy.display().to_string(), e.to_string()))?;
        tracing::info!(
            topics = file.topics.len(),
            "migrating meta/topics.json to one file per topic"
        );
        // The directory is synced once, after every file.
        for t in &file.topics {
            self.write_unsynced_dir(&self.topics_dir, &topic_file_name(&t.name), t)?;
        }
        sync_dir(&self.topics_dir)?;
        self.write_cluster(&ClusterMeta {
            cluster_id: file.cluster_id,
            node_id: file.node_id,
            producer_id_block_end: file.producer_id_block_end,
            generation: 0,
        })?;
        std::fs::remove_file(legacy).map_err(io_err(legacy))?;
        sync_dir(&self.dir)
    }

    /// Replaces `cluster.json`, durably.
    pub fn write_cluster(&self, meta: &ClusterMeta) -> Result<(), StateError> {
        self.write_unsynced_dir(&self.dir, CLUSTER_FILE, meta)?;
        sync_dir(&self.dir)
    }

    /// Writes (or replaces) one topic's file, durably.
    pub fn write_topic(&self, meta: &TopicMeta) -> Result<(), StateError> {
        self.write_unsynced_dir(&self.topics_dir, &topic_file_name(&meta.name), meta)?;
        sync_dir(&self.topics_dir)
    }

    /// Removes one topic's file, durably (missing is fine).
    pub fn remove_topic(&self, name: &str) -> Result<(), StateError> {
        let path = self.topics_dir.join(topic_file_name(name));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(&path)(e)),
        }
        sync_dir(&self.topics_dir)
    }

    /// Writes `value` as JSON to `dir/name` through a synced temp file and
    /// a rename; the directory is not synced (the caller does, once).
    fn write_unsynced_dir(
        &self,
        dir: &Path,
        name: &str,
        value: &impl Serialize,
    ) -> Result<(), StateError> {
        let text = serde_json::to_vec_pretty(value)
            .map_err(|e| StateError::Corrupt(name.to_string(), e.to_string()))?;
        let n = self
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!("{TEMP_PREFIX}{}-{n}", std::process::id()));
        let target = dir.join(name);
        let result = (|| {
            let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
            f.write_all(&text).map_err(io_err(&tmp))?;
            f.sync_all().map_err(io_err(&tmp))?;
            std::fs::rename(&tmp, &target).map_err(io_err(&target))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// Replaces `path` with `bytes` atomically: writes and fsyncs `tmp`,
/// renames it over `path`, then fsyncs the directory so the rename itself
/// survives a crash. Any failure is returned, none is ignored. (The
/// writer of `config::dynamic` and `security::users`; the store itself renames before syncing
/// the directory once for several files.)
pub(crate) fn write_file_durably(tmp: &Path, path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let mut f = std::fs::File::create(tmp).map_err(io_err(tmp))?;
    f.write_all(bytes).map_err(io_err(tmp))?;
    f.sync_all().map_err(io_err(tmp))?;
    drop(f);
    std::fs::rename(tmp, path).map_err(io_err(path))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    sync_dir(dir)
}

/// Reads a whole file of `meta/` (None when it was never written).
pub(crate) fn read_meta_file(path: &Path) -> Result<Option<String>, StateError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateError::Io {
            path: path.display().to_string(),
            source,
        }),
    }
}

static META_SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Replaces a single-file store of `meta/` (`dynamic-configs.json`,
/// `scram-credentials.json`, `acls.json`, `client-quotas.json`) durably,
/// through a temp file named so that [`is_meta_temp`] recognises it after
/// a crash; the temp file is removed when the write fails.
pub(crate) fn replace_meta_file(path: &Path, text: &str) -> Result<(), StateError> {
    let n = META_SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!("{name}.{}.{n}.tmp", std::process::id()));
    let written = write_file_durably(&tmp, path, text.as_bytes());
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Whether `name` is a temp file [`replace_meta_file`] left for `file`.
pub(crate) fn is_meta_temp(name: &str, file: &str) -> bool {
    name.strip_prefix(file)
        .is_some_and(|rest| rest.starts_with('.') && rest.ends_with(".tmp"))
}

fn topic_file_name(topic: &str) -> String {
    format!("{topic}{SUFFIX}")
}

fn sync_dir(dir: &Path) -> Result<(), StateError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Removes temp files a crash left behind (their content was never renamed
/// into place, so it was never acknowledged to anyone); also the temp
/// files of the single-file layout, of `dynamic-configs.json`
/// (`config::dynamic`), of `scram-credentials.json`
/// (`security::users`) and of `client-quotas.json` (`quotas::store`), and of
/// `acls.json` (`security::acls`), and of the cluster-migration marker
/// (`cluster::migrate`).
fn remove_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let legacy_tmp = name.starts_with("topics.json.") && name.ends_with(".tmp");
        let dynamic_tmp = crate::config::dynamic::is_stale_temp(&name);
        let users_tmp = crate::security::users::UserStore::is_stale_temp(&name)
            || crate::security::acls::AclStore::is_stale_temp(&name);
        let quotas_tmp = crate::quotas::store::QuotaStore::is_stale_temp(&name)
            || is_meta_temp(&name, crate::cluster::migrate::MARKER);
        if name.starts_with(TEMP_PREFIX) || legacy_tmp || dynamic_tmp || users_tmp || quotas_tmp {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
