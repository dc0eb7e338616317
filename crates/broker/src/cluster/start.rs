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
use crate::config::BrokerConfig;

/// The quorum's directory inside the data directory.
pub const QUORUM_DIR: &str = "__cluster_metadata";

/// How long a fresh node waits to learn the cluster id from the voter
/// that initialises the quorum.
const CLUSTER_ID_WAIT: Duration = Duration::from_secs(60);

/// Starts this node's quorum member and records the cluster id it belongs
/// to in `config.cluster.cluster_id`.
pub async fn quorum(config: &mut BrokerConfig) -> Result<Quorum, String> {
    let c = &config.cluster;
    if !(c.broker_role && c.controller_role) {
        return Err(
            "process.roles must be broker,controller in cluster mode for now (dedicated brokers and controllers come later)"
                .into(),
        );
    }
    let node_id = u64::try_from(config.node_id).map_err(|_| "node.id must not be negative")?;
    let voters: BTreeMap<u64, String> = c.voters.iter().cloned().collect();
    let own = voters.get(&node_id).ok_or_else(|| {
        format!(
            "node.id {node_id} is not one of the voters in controller.quorum.voters ({})",
            voters
                .keys()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let listen_text = c.controller_listen.clone().unwrap_or_else(|| own.clone());
    let listen: SocketAddr = tokio::net::lookup_host(&listen_text)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("cannot resolve the controller listener {listen_text}"))?;
    let mut qc = QuorumConfig::new(node_id, listen, voters, config.data_dir.join(QUORUM_DIR));
    qc.cluster_id = c.cluster_id.clone();
    qc.election_timeout = Duration::from_millis(c.election_timeout_ms);
    qc.fetch_timeout = Duration::from_millis(c.fetch_timeout_ms.max(c.election_timeout_ms + 1));
    qc.heartbeat_interval = Duration::from_millis((c.election_timeout_ms / 4).clamp(5, 250));
    qc.snapshot_after_bytes = c.snapshot_after_bytes;
    qc.snapshot_interval =
        (c.snapshot_interval_ms > 0).then(|| Duration::from_millis(c.snapshot_interval_ms));
    let quorum = Quorum::start(qc).await.map_err(|e| e.to_string())?;
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
    tracing::info!(node_id, cluster_id = %cluster_id, controller = %quorum.local_addr(), "joined the metadata quorum");
    config.cluster.cluster_id = Some(cluster_id);
    Ok(quorum)
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
