//! The client: bootstrap addresses, one connection per broker, and the
//! cluster metadata that maps node ids to addresses.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use fjord_protocol::messages::metadata_request::MetadataRequestTopic;
use fjord_protocol::messages::{MetadataRequest, MetadataResponse};
use fjord_protocol::{Request, Response};

use crate::conn::Connection;
use crate::error::{ClientError, Result};
use crate::security::SecurityContext;
use crate::{expect_response, versions};

#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `HOST:PORT` addresses tried in order until one answers.
    pub bootstrap: Vec<String>,
    pub client_id: String,
    pub connect_timeout: Duration,
    /// Default time to wait for a response.
    pub request_timeout: Duration,
    /// TLS and SASL for every connection (default: plaintext).
    pub security: crate::security::Security,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            bootstrap: vec!["127.0.0.1:9092".into()],
            client_id: "fjord-cli".into(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            security: crate::security::Security::default(),
        }
    }
}

/// A broker as the cluster metadata describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerInfo {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`, with brackets around an IPv6 host.
    pub fn addr(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Any broker (the bootstrap connection).
    Any,
    /// The broker with this node id.
    Node(i32),
}

/// A broker id the metadata names (as a leader, say) without listing the
/// broker: it is restarting or being fenced. Retriable, as Kafka's clients
/// treat a leader they cannot reach: refresh the metadata and try again.
fn unknown_broker(id: i32) -> ClientError {
    ClientError::Connect {
        addr: format!("broker {id}"),
        reason: "not in the cluster metadata (restarting or fenced?)".into(),
    }
}

pub struct Client {
    config: ClientConfig,
    /// `config.security` loaded once (certificates read, rustls config
    /// built) and used by every connection.
    security: SecurityContext,
    bootstrap: Option<Connection>,
    nodes: HashMap<i32, Connection>,
    brokers: BTreeMap<i32, BrokerInfo>,
    controller_id: i32,
    cluster_id: Option<String>,
    /// Fetches in flight (`fetch.rs`), at most one per broker.
    pub(crate) fetches: crate::fetch::Fetches,
}

/// A connection to hand to a task: one already open, or what it takes to
/// open one there (so a broker that accepts TCP but does not answer
/// delays only that task).
pub(crate) enum Opener {
    Ready(Connection),
    Open {
        addr: String,
        client_id: String,
        connect_timeout: Duration,
        request_timeout: Duration,
        security: SecurityContext,
    },
}

impl Opener {
    pub(crate) async fn open(self) -> Result<Connection> {
        match self {
            Opener::Ready(c) => Ok(c),
            Opener::Open {
                addr,
                client_id,
                connect_timeout,
                request_timeout,
                security,
            } => {
                Connection::connect(
                    &addr,
                    &client_id,
                    connect_timeout,
                    request_timeout,
                    &security,
                )
                .await
            }
        }
    }
}

impl Client {
    /// Connects to the first bootstrap address that answers ApiVersions.
    pub async fn connect(config: ClientConfig) -> Result<Client> {
        if config.bootstrap.is_empty() {
            return Err(ClientError::Other("no broker address given".into()));
        }
        let security = config.security.prepare()?;
        let mut client = Client {
            config,
            security,
            bootstrap: None,
            nodes: HashMap::new(),
            brokers: BTreeMap::new(),
            controller_id: -1,
            cluster_id: None,
            fetches: crate::fetch::Fetches::default(),
        };
        client.bootstrap = Some(client.connect_bootstrap().await?);
        Ok(client)
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    async fn connect_bootstrap(&self) -> Result<Connection> {
        let mut errors = Vec::new();
        for addr in &self.config.bootstrap {
            match self.open(addr).await {
                Ok(c) => return Ok(c),
                Err(e) => errors.push(e),
            }
        }
        if errors.len() == 1 {
            if let Some(e) = errors.pop() {
                return Err(e);
            }
        }
        let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        Err(ClientError::Other(format!(
            "no broker reachable ({})",
            all.join("; ")
        )))
    }

    async fn open(&self, addr: &str) -> Result<Connection> {
        Connection::connect(
            addr,
            &self.config.client_id,
            self.config.connect_timeout,
            self.config.request_timeout,
            &self.security,
        )
        .await
    }

    async fn connection(&mut self, target: Target) -> Result<&mut Connection> {
        match target {
            Target::Any => {
                if !self.bootstrap.as_ref().is_some_and(|c| c.usable()) {
                    self.bootstrap = None;
                    let c = self.connect_bootstrap().await?;
                    self.bootstrap = Some(c);
                }
                self.bootstrap
                    .as_mut()
                    .ok_or_else(|| ClientError::Other("no bootstrap connection".into()))
            }
            Target::Node(id) => {
                if !self.nodes.get(&id).is_some_and(|c| c.usable()) {
                    self.nodes.remove(&id);
                    if !self.brokers.contains_key(&id) {
                        Box::pin(self.metadata(Some(&[]), false)).await?;
                    }
                    let addr = self
                        .brokers
                        .get(&id)
                        .map(|b| b.addr())
                        .ok_or_else(|| unknown_broker(id))?;
                    let c = self.open(&addr).await?;
                    self.nodes.insert(id, c);
                }
                self.nodes
                    .get_mut(&id)
                    .ok_or_else(|| ClientError::Other(format!("no connection to broker {id}")))
            }
        }
    }

    /// The fetch connection to broker `id`, taken out of the client for a
    /// task (or what it takes to open one); [`give_back`](Self::give_back)
    /// returns it.
    pub(crate) async fn take_or_prepare(&mut self, id: i32) -> Result<Opener> {
        let current = self.brokers.get(&id).map(|b| b.addr());
        if let Some(c) = self.fetches.idle.remove(&id) {
            if c.usable() && current.as_deref() == Some(c.addr()) {
                return Ok(Opener::Ready(c));
            }
        }
        if !self.brokers.contains_key(&id) {
            self.metadata(Some(&[]), false).await?;
        }
        let addr = self
            .brokers
            .get(&id)
            .map(|b| b.addr())
            .ok_or_else(|| unknown_broker(id))?;
        Ok(Opener::Open {
            addr,
            client_id: self.config.client_id.clone(),
            connect_timeout: self.config.connect_timeout,
            request_timeout: self.config.request_timeout,
            security: self.security.clone(),
        })
    }

    /// Keeps a connection a fetch task used for the next fetch to that
    /// broker, unless it is out of step or the broker moved. Fetches have
    /// connections of their own, so a long poll never holds up a
    /// heartbeat or a commit to the same broker.
    pub(crate) fn give_back(&mut self, id: i32, conn: Connection) {
        let same_addr = self
            .brokers
            .get(&id)
            .is_some_and(|b| b.addr() == conn.addr());
        if conn.usable() && same_addr {
            self.fetches.idle.insert(id, conn);
        }
    }

    /// Sends `req` to `target` at the best common version; returns the
    /// version used and the response.
    pub async fn send(
        &mut self,
        target: Target,
        req: Request,
        ours: versions::Range,
        timeout: Option<Duration>,
    ) -> Result<(i16, Response)> {
        let conn = self.connection(target).await?;
        conn.call(&req, ours, timeout).await
    }

    /// Like [`send`](Self::send), for requests the broker does not answer.
    pub async fn send_only(
        &mut self,
        target: Target,
        req: Request,
        ours: versions::Range,
    ) -> Result<i16> {
        let conn = self.connection(target).await?;
        conn.send_only(&req, ours).await
    }

    /// The version `target` would get for `api`.
    pub async fn version_for(
        &mut self,
        target: Target,
        api: fjord_protocol::ApiKey,
        ours: versions::Range,
    ) -> Result<i16> {
        let conn = self.connection(target).await?;
        conn.pick_version(api, ours)
    }

    /// Metadata for `topics` (`None`: all topics; `Some(&[])`: none, only
    /// brokers). Refreshes the broker table, controller and cluster id.
    pub async fn metadata(
        &mut self,
        topics: Option<&[String]>,
        allow_auto_create: bool,
    ) -> Result<MetadataResponse> {
        let req = MetadataRequest {
            topics: topics.map(|t| {
                t.iter()
                    .map(|name| MetadataRequestTopic {
                        name: Some(name.clone()),
                        ..Default::default()
                    })
                    .collect()
            }),
            allow_auto_topic_creation: allow_auto_create,
            ..Default::default()
        };
        let (_, resp) = self
            .send(
                Target::Any,
                Request::Metadata(req),
                versions::METADATA,
                None,
            )
            .await?;
        let resp = expect_response!(resp, Metadata);
        for b in &resp.brokers {
            let info = BrokerInfo {
                node_id: b.node_id,
                host: b.host.clone(),
                port: b.port,
                rack: b.rack.clone(),
            };
            if self.brokers.get(&b.node_id) != Some(&info) {
                // The address changed: drop the old connection.
                self.nodes.remove(&b.node_id);
                self.brokers.insert(b.node_id, info);
            }
        }
        self.controller_id = resp.controller_id;
        self.cluster_id = resp.cluster_id.clone();
        Ok(resp)
    }

    /// Brokers seen in the last metadata response, by node id.
    pub fn brokers(&self) -> Vec<BrokerInfo> {
        self.brokers.values().cloned().collect()
    }

    pub fn broker(&self, node_id: i32) -> Option<&BrokerInfo> {
        self.brokers.get(&node_id)
    }

    /// Records a broker learnt outside metadata (a group coordinator).
    pub(crate) fn learn_broker(&mut self, info: BrokerInfo) {
        let known = self
            .brokers
            .get(&info.node_id)
            .is_some_and(|b| b.host == info.host && b.port == info.port);
        if !known {
            self.nodes.remove(&info.node_id);
            self.brokers.insert(info.node_id, info);
        }
    }

    /// The controller id of the last metadata response (-1 if unknown).
    pub fn controller_id(&self) -> i32 {
        self.controller_id
    }

    pub fn cluster_id(&self) -> Option<&str> {
        self.cluster_id.as_deref()
    }

    /// Where admin requests that Kafka serves on the controller go: the
    /// controller when it is a known broker (ZooKeeper-era clusters need
    /// it), else any broker (KRaft brokers forward).
    pub(crate) async fn controller_target(&mut self) -> Result<Target> {
        if self.controller_id < 0 || !self.brokers.contains_key(&self.controller_id) {
            self.metadata(Some(&[]), false).await?;
        }
        if self.controller_id >= 0 && self.brokers.contains_key(&self.controller_id) {
            Ok(Target::Node(self.controller_id))
        } else {
            Ok(Target::Any)
        }
    }
}
