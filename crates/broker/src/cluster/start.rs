//! Starting cluster mode: the quorum node under
//! `<data-dir>/__cluster_metadata/` (before the broker state opens, so a
//! node of another cluster stops before touching anything), and this
//! broker's registered endpoints once its listeners are bound.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use fjord_metadata::records::Endpoint;
use fjord_metadata::{Quorum, QuorumConfig};

use super::security_protocol_id;
use crate::config::cluster_table::Role;
use crate::config::BrokerConfig;

/// The quorum's directory inside the data directory.
pub const QUORUM_DIR: &str = "__cluster_metadata";

/// How long a fresh node waits to learn the cluster id from the voter
/// that initialises the quorum.
const CLUSTER_ID_WAIT: Duration = Duration::from_secs(60);

/// Starts this node's quorum member (a voter, or an observer for a
/// broker-only node) and records the cluster id it belongs to in
/// `config.cluster.cluster_id`.
pub async fn quorum(config: &mut BrokerConfig) -> Result<Quorum, String> {
    let role = config.cluster.role(config.node_id)?;
    let c = &config.cluster;
    let node_id = u64::try_from(config.node_id).map_err(|_| "node.id must not be negative")?;
    let voters: BTreeMap<u64, String> = c.voters.iter().cloned().collect();
    let observer = role == Role::Broker;
    let listen_text = match (&c.controller_listen, voters.get(&node_id)) {
        (Some(listen), _) => listen.clone(),
        (None, Some(own)) => own.clone(),
        (None, None) => observer_listen(config)?,
    };
    let listen: SocketAddr = tokio::net::lookup_host(&listen_text)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("cannot resolve the controller listener {listen_text}"))?;
    let mut qc = QuorumConfig::new(node_id, listen, voters, config.data_dir.join(QUORUM_DIR));
    qc.observer = observer;
    qc.cluster_id = c.cluster_id.clone();
    qc.election_timeout = Duration::from_millis(c.election_timeout_ms);
    qc.fetch_timeout = Duration::from_millis(c.fetch_timeout_ms.max(c.election_timeout_ms + 1));
    qc.heartbeat_interval = Duration::from_millis((c.election_timeout_ms / 4).clamp(5, 250));
    qc.snapshot_after_bytes = c.snapshot_after_bytes;
    qc.snapshot_interval =
        (c.snapshot_interval_ms > 0).then(|| Duration::from_millis(c.snapshot_interval_ms));
    let quorum = Quorum::start(qc).await.map_err(|e| e.to_string())?;
    // An observer learns the cluster id from the voter that adds it, and
    // stops here if a voter refuses it (another cluster's quorum).
    if let Err(e) = quorum.wait_joined(CLUSTER_ID_WAIT).await {
        quorum.shutdown().await;
        return Err(e);
    }
    let deadline = tokio::time::Instant::now() + CLUSTER_ID_WAIT;
    let cluster_id = loop {
        if let Some(id) = quorum.cluster_id() {
            break id;
        }
        if tokio::time::Instant::now() >= deadline {
            quorum.shutdown().await;
            return Err(format!(
                "no cluster id after {} s: start the lowest voter of a fresh cluster, or pass --cluster-id",
                CLUSTER_ID_WAIT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tracing::info!(node_id, ?role, cluster_id = %cluster_id, controller = %quorum.local_addr(), "joined the metadata quorum");
    config.cluster.cluster_id = Some(cluster_id);
    Ok(quorum)
}

/// Where a broker-only node without `--controller-listen` listens for the
/// leader's replication: the host of its first Kafka listener, any port
/// (the bound address is what it announces when it joins).
fn observer_listen(config: &BrokerConfig) -> Result<String, String> {
    let first = config
        .listeners_resolved()?
        .into_iter()
        .next()
        .ok_or("no Kafka listener to take the controller listener's host from")?;
    let (host, _) = crate::config::split_host_port(&first.addr)
        .ok_or_else(|| format!("listener {} is not HOST:PORT", first.addr))?;
    Ok(if host.contains(':') {
        format!("[{host}]:0")
    } else {
        format!("{host}:0")
    })
}

/// The endpoints this broker registers: each bound listener's advertised
/// address, or the bound one where none is advertised or its port is 0.
pub fn endpoints(
    config: &BrokerConfig,
    bound: &[(String, &'static str, SocketAddr)],
) -> Vec<Endpoint> {
    bound
        .iter()
        .map(|(name, protocol, addr)| {
            let (host, port) = config
                .advertised_for(name)
                .and_then(|e| e.host_port())
                .filter(|(_, p)| *p > 0)
                .unwrap_or_else(|| (addr.ip().to_string(), i32::from(addr.port())));
            Endpoint {
                listener: name.clone(),
                host,
                port: u16::try_from(port).unwrap_or(addr.port()),
                security_protocol: security_protocol_id(protocol),
            }
        })
        .collect()
}
