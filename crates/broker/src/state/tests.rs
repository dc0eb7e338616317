//! Unit tests of the broker state: metadata files and their migration,
//! producer-id blocks, metadata write failures and races, dynamic configs.

use super::*;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("fjord-state-{tag}-{}", rand::random::<u64>()));
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

/// A data directory of the single-file layout is migrated at the first
/// start; every start then raises each leader epoch by one without
/// rewriting the topic files.
#[test]
fn topics_json_is_migrated_and_epochs_rise_per_start_without_rewrites() {
    let dir = TempDir::new("migrate");
    let meta = dir.0.join("meta");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(
        meta.join("topics.json"),
        r#"{"cluster_id":"abc","node_id":1,"producer_id_block_end":2000,
            "topics":[{"name":"old","id":"0123456789abcdef0123456789abcdef",
                       "configs":{"retention.ms":"1000"},"leader_epochs":[3,4]}]}"#,
    )
    .unwrap();
    let st = open(&dir.0);
    let old = st.topic("old").unwrap();
    let epochs: Vec<i32> = old.partitions.iter().map(|p| p.leader_epoch).collect();
    assert_eq!(epochs, vec![4, 5]);
    assert_eq!(
        old.configs.get("retention.ms").map(String::as_str),
        Some("1000")
    );
    assert_eq!(st.cluster_id, "abc");
    assert!(st.allocate_producer_id().unwrap() >= 2000);
    assert!(!meta.join("topics.json").exists());
    let topic_file = meta.join("topics").join("old.json");
    let written = std::fs::read(&topic_file).unwrap();
    drop(st);
    for start in 2..5 {
        let st = open(&dir.0);
        let epochs: Vec<i32> = st
            .topic("old")
            .unwrap()
            .partitions
            .iter()
            .map(|p| p.leader_epoch)
            .collect();
        assert_eq!(epochs, vec![3 + start, 4 + start]);
    }
    assert_eq!(
        std::fs::read(&topic_file).unwrap(),
        written,
        "topic file rewritten at start"
    );
}

/// The SCRAM user store lives in `meta/` beside the cluster and topic
/// files: a temp file a crash left mid-save is removed at the next open
/// (with the metadata store's own), and the saved credential survives.
#[test]
fn scram_store_temp_files_are_removed_at_open_and_credentials_survive() {
    use crate::security::scram::{Credential, Mechanism};
    use crate::security::users::Change;
    let dir = TempDir::new("scram-meta");
    let st = open(&dir.0);
    st.users
        .apply(&[Change::Upsert {
            user: "alice".into(),
            mechanism: Mechanism::Sha256,
            credential: Credential::from_password(Mechanism::Sha256, "secret", 4096),
        }])
        .unwrap();
    drop(st);
    let meta = dir.0.join("meta");
    let stale = meta.join("scram-credentials.json.4242.0.tmp");
    std::fs::write(&stale, "{torn").unwrap();
    let st = open(&dir.0);
    assert!(!stale.exists(), "the SCRAM store's temp file was left");
    assert!(meta.join("scram-credentials.json").exists());
    assert!(meta.join("cluster.json").exists());
    assert!(st.users.credential("alice", Mechanism::Sha256).is_some());
}
