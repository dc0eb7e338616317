//! A test cluster of metadata quorum nodes on 127.0.0.1, each with its own
//! directory; every wait is bounded.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fjord_metadata::records::Endpoint;
use fjord_metadata::{MetadataImage, MetadataRecord, Quorum, QuorumConfig};

/// How long any test waits for a cluster to get somewhere.
pub const WAIT: Duration = Duration::from_secs(10);

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,openraft=error".into()),
        )
        .with_test_writer()
        .try_init();
}

/// A fresh directory for one test.
pub fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fjord-metadata-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A port that was free a moment ago, taken below Linux's ephemeral range
/// (32768 and up) so that no outgoing connection of a test running in
/// parallel can take it before the node binds it; processes start at
/// different points (by process id) and a process never hands one out twice.
fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 12_000;
    const SPAN: u32 = 20_000;
    let start = std::process::id().wrapping_mul(7919) % SPAN;
    for _ in 0..SPAN {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (LOW + (start + step) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {LOW} and {}", LOW + SPAN);
}

/// Quick timeouts so that elections take well under a second.
pub fn fast(config: &mut QuorumConfig) {
    config.election_timeout = Duration::from_millis(300);
    config.fetch_timeout = Duration::from_millis(600);
    config.heartbeat_interval = Duration::from_millis(60);
    config.propose_timeout = Duration::from_secs(3);
}

pub struct Cluster {
    pub base: PathBuf,
    pub voters: BTreeMap<u64, String>,
    pub nodes: BTreeMap<u64, Quorum>,
    pub cluster_ids: BTreeMap<u64, String>,
    pub tweak: fn(&mut QuorumConfig),
}

impl Cluster {
    /// A cluster of voters 1..=n, not started.
    pub fn new(name: &str, n: u64, tweak: fn(&mut QuorumConfig)) -> Cluster {
        let voters = (1..=n)
            .map(|id| (id, format!("127.0.0.1:{}", free_port())))
            .collect();
        Cluster {
            base: test_dir(name),
            voters,
            nodes: BTreeMap::new(),
            cluster_ids: BTreeMap::new(),
            tweak,
        }
    }

    pub fn dir(&self, id: u64) -> PathBuf {
        self.base.join(format!("node-{id}"))
    }

    pub fn config(&self, id: u64) -> QuorumConfig {
        let listen = self.voters[&id].parse().unwrap();
        let mut config = QuorumConfig::new(id, listen, self.voters.clone(), self.dir(id));
        config.cluster_id = self.cluster_ids.get(&id).cloned();
        (self.tweak)(&mut config);
        config
    }

    pub async fn start(&mut self, id: u64) {
        let quorum = Quorum::start(self.config(id)).await.unwrap();
        self.nodes.insert(id, quorum);
    }

    pub async fn start_all(&mut self) {
        let ids: Vec<u64> = self.voters.keys().copied().collect();
        for id in ids {
            self.start(id).await;
        }
    }

    /// Stops node `id` (as a crash: no leadership hand-over).
    pub async fn kill(&mut self, id: u64) {
        if let Some(node) = self.nodes.remove(&id) {
            node.shutdown().await;
        }
    }

    pub fn node(&self, id: u64) -> &Quorum {
        &self.nodes[&id]
    }

    /// Waits until every running node names the same running leader.
    pub async fn leader(&self) -> u64 {
        let deadline = Instant::now() + WAIT;
        loop {
            let leaders: Vec<Option<u64>> = self.nodes.values().map(|n| n.leader()).collect();
            if let Some(Some(first)) = leaders.first() {
                if leaders.iter().all(|l| *l == Some(*first))
                    && self.nodes.contains_key(first)
                    && self.nodes[first].is_leader()
                {
                    return *first;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no agreed leader within {WAIT:?}: {leaders:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Proposes the broker configs `k{i}` = `v` for every `i` in `keys`
    /// through node `id`, one proposal each; returns the last offset.
    pub async fn propose_configs(&self, id: u64, keys: std::ops::Range<usize>) -> u64 {
        let mut last = 0;
        for i in keys {
            last = self
                .node(id)
                .propose(vec![config_record(&format!("k{i}"), "v")])
                .await
                .unwrap();
        }
        last
    }

    /// Waits until every running node's image has reached `offset` and all
    /// images are identical; returns that image.
    pub async fn converge(&self, offset: u64) -> Arc<MetadataImage> {
        let deadline = Instant::now() + WAIT;
        loop {
            let images: Vec<Arc<MetadataImage>> = self.nodes.values().map(|n| n.image()).collect();
            let reached = images.iter().all(|i| i.offset.is_some_and(|o| o >= offset));
            if reached && images.windows(2).all(|w| w[0] == w[1]) {
                return Arc::clone(&images[0]);
            }
            assert!(
                Instant::now() < deadline,
                "images did not converge at offset {offset} within {WAIT:?}: {:?}",
                images.iter().map(|i| i.offset).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops every node and removes the directories.
    pub async fn stop(mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            self.kill(id).await;
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// A registration record for broker `id` at epoch `epoch`.
pub fn register(id: i32, epoch: i64) -> MetadataRecord {
    MetadataRecord::RegisterBroker {
        broker_id: id,
        incarnation_id: format!("incarnation-{id}-{epoch}"),
        broker_epoch: epoch,
        endpoints: vec![Endpoint {
            listener: "PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port: 9092,
            security_protocol: 0,
        }],
        rack: None,
    }
}

/// A dynamic config record, a cheap way to make many distinct entries.
pub fn config_record(key: &str, value: &str) -> MetadataRecord {
    MetadataRecord::Config {
        resource_type: fjord_metadata::records::ConfigResourceType::Broker,
        resource_name: String::new(),
        key: key.into(),
        value: Some(value.into()),
    }
}
