//! [`Quorum`]: one node of the metadata quorum, its configuration and the
//! calls a broker makes on it (propose records, read or follow the image,
//! describe the quorum, shut down).
//!
//! Membership is initialised exactly once: a single voter initialises
//! itself (and leads at once); with several voters the one with the lowest
//! id initialises the membership when its directory is fresh and the
//! others wait to hear from it. A restart never initialises again: openraft
//! refuses, as the log already holds the membership.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use openraft::{BasicNode, Config, ServerState, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::image::{ImageError, MetadataImage};
use crate::raft::log_store::LogStore;
use crate::raft::meta::{ClusterMeta, MetaError};
use crate::raft::network::{
    change_observers, write_local, CallError, Channel, NetworkFactory, Peers, Server,
};
use crate::raft::state_machine::{SnapshotProgress, StateMachine};
use crate::raft::wire::{ForwardResult, ObserverChange, Request, Response};
use crate::raft::{NodeId, Proposal, Raft};
use crate::records::MetadataRecord;

/// How a quorum node is set up. [`QuorumConfig::new`] fills in Kafka-like
/// defaults.
#[derive(Clone, Debug)]
pub struct QuorumConfig {
    /// This node's id (Kafka's `node.id`); one of the voters, unless
    /// `observer`.
    pub node_id: NodeId,
    /// A broker-only node (Kafka's `process.roles=broker`): it replicates
    /// the log as an openraft learner, never votes, and must not be one of
    /// the voters. It asks the voters to add it ([`Quorum::wait_joined`]).
    pub observer: bool,
    /// Where to listen for the other voters (the CONTROLLER listener); port
    /// 0 picks a free port, see [`Quorum::local_addr`].
    pub controller_listen: SocketAddr,
    /// Every voter's id and `host:port` (`controller.quorum.voters`). The
    /// addresses here win over those stored in the log.
    pub voters: BTreeMap<NodeId, String>,
    /// The quorum's directory (the broker passes
    /// `<data-dir>/__cluster_metadata/`).
    pub dir: PathBuf,
    /// The cluster id; None takes the stored one, or, in a fresh directory,
    /// generates one on the initialising node and learns it from the first
    /// peer elsewhere.
    pub cluster_id: Option<String>,
    /// Lower bound of the randomised election timeout
    /// (`controller.quorum.election.timeout.ms`, 1000).
    pub election_timeout: Duration,
    /// Upper bound of the randomised time a follower waits without hearing
    /// from the leader before standing (`controller.quorum.fetch.timeout.ms`,
    /// 2000). openraft has one randomised timeout for both; it is drawn
    /// from `election_timeout..fetch_timeout`.
    pub fetch_timeout: Duration,
    /// How often the leader heartbeats its followers (250 ms).
    pub heartbeat_interval: Duration,
    /// How long [`Quorum::propose`] may take (5 s).
    pub propose_timeout: Duration,
    /// A snapshot is taken after this many entries since the last (10,000).
    pub snapshot_after_entries: u64,
    /// A snapshot is taken once this many bytes of records were applied
    /// since the last (`metadata.log.max.record.bytes.between.snapshots`,
    /// 20 MiB).
    pub snapshot_after_bytes: u64,
    /// A snapshot is taken when records were applied and the last snapshot
    /// is this old (`metadata.log.max.snapshot.interval.ms`, 1 hour; None
    /// turns the time trigger off).
    pub snapshot_interval: Option<Duration>,
    /// Entries kept in the log behind a snapshot, for followers that lag a
    /// little (1,000); older ones are purged.
    pub log_entries_behind_snapshot: u64,
    /// Size at which a log segment is closed and a new one started (8 MiB).
    pub segment_bytes: u64,
}

impl QuorumConfig {
    /// A configuration with the defaults documented on each field.
    pub fn new(
        node_id: NodeId,
        controller_listen: SocketAddr,
        voters: BTreeMap<NodeId, String>,
        dir: PathBuf,
    ) -> QuorumConfig {
        QuorumConfig {
            node_id,
            observer: false,
            controller_listen,
            voters,
            dir,
            cluster_id: None,
            election_timeout: Duration::from_millis(1000),
            fetch_timeout: Duration::from_millis(2000),
            heartbeat_interval: Duration::from_millis(250),
            propose_timeout: Duration::from_secs(5),
            snapshot_after_entries: 10_000,
            snapshot_after_bytes: 20 << 20,
            snapshot_interval: Some(Duration::from_secs(3600)),
            log_entries_behind_snapshot: 1_000,
            segment_bytes: 8 << 20,
        }
    }
}

/// Parses Kafka's `controller.quorum.voters` syntax,
/// `1@host1:9093,2@host2:9093`, into voter ids and addresses.
pub fn parse_voters(text: &str) -> Result<BTreeMap<NodeId, String>, String> {
    let mut voters = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (id, addr) = item
            .split_once('@')
            .ok_or_else(|| format!("voter {item:?} is not ID@HOST:PORT"))?;
        let id: NodeId = id
            .trim()
            .parse()
            .map_err(|_| format!("voter id {id:?} is not a number"))?;
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| format!("voter address {addr:?} has no port"))?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(format!("voter address {addr:?} is not HOST:PORT"));
        }
        if voters.insert(id, addr.to_string()).is_some() {
            return Err(format!("voter {id} is listed twice"));
        }
    }
    if voters.is_empty() {
        return Err("no voters".into());
    }
    Ok(voters)
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("node {0} is not one of the voters {1:?}")]
    NotAVoter(NodeId, Vec<NodeId>),
    #[error("node {0} is one of the voters, so it cannot be an observer (a broker-only node)")]
    ObserverIsVoter(NodeId),
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error("invalid quorum settings: {0}")]
    Config(String),
    #[error("cannot open the metadata quorum in {dir}: {source}")]
    Storage { dir: PathBuf, source: io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: io::Error },
    #[error("the metadata quorum failed to start: {0}")]
    Raft(String),
}

/// Why a proposal did not commit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// No leader took the records before the deadline: nothing was written.
    #[error("no metadata quorum leader accepted the proposal (last known leader {leader:?})")]
    NotLeader { leader: Option<NodeId> },
    /// The records were handed to a leader but not confirmed in time: they
    /// may still commit.
    #[error("the proposal was not confirmed in time")]
    Timeout,
    /// Committed at `offset` but rejected by the image: nothing changed.
    #[error("the proposal committed at offset {offset} was rejected: {error}")]
    Rejected { offset: u64, error: ImageError },
    /// This node is shutting down.
    #[error("the metadata quorum is shut down")]
    Shutdown,
    /// The leader failed or the connection to it broke mid-call: the
    /// outcome is unknown.
    #[error("the proposal failed: {0}")]
    Failed(String),
}

/// One voter as the quorum describes it (for DescribeQuorum).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoterInfo {
    pub id: NodeId,
    /// The offset after the last entry known to be on this voter (as
    /// Kafka's LogEndOffset, exclusive); None where this node cannot know
    /// it (followers know only their own).
    pub log_end_offset: Option<u64>,
    /// When this node last heard from this voter: an answer to a call of
    /// this node, or a call from it (its own entry: now).
    pub last_ack: Option<SystemTime>,
}

/// The state of the quorum as this node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumInfo {
    pub leader_id: Option<NodeId>,
    /// The Raft term, Kafka's leader epoch.
    pub term: u64,
    /// The offset after the last entry applied here (exclusive, as Kafka's
    /// high watermark); None before anything was applied.
    pub high_watermark: Option<u64>,
    pub voters: Vec<VoterInfo>,
    /// The observers (broker-only nodes, openraft learners), as voters are
    /// described; Kafka's DescribeQuorum `Observers`.
    pub observers: Vec<VoterInfo>,
}

/// Where a broker-only node's joining stands (see [`Quorum::wait_joined`]).
#[derive(Clone, Debug, PartialEq, Eq)]
enum JoinState {
    Pending,
    Joined,
    /// A voter refused the connection (another cluster, a wrong node id).
    Refused(String),
}

/// What a node submits through the leader: records, or a change of the
/// observers.
enum Submission {
    Records(Proposal),
    Observers(ObserverChange),
}

impl Submission {
    /// Commits it through this node's Raft (the leader).
    async fn local(&self, raft: &Raft, timeout: Duration) -> ForwardResult {
        match self {
            Submission::Records(p) => write_local(raft, p.clone(), timeout).await,
            Submission::Observers(c) => change_observers(raft, c, timeout).await,
        }
    }

    /// The request asking the leader to commit it.
    fn request(&self) -> Request {
        match self {
            Submission::Records(p) => Request::Forward(p.clone()),
            Submission::Observers(c) => Request::Observers(c.clone()),
        }
    }
}

/// One running node of the metadata quorum.
pub struct Quorum {
    node_id: NodeId,
    local_addr: SocketAddr,
    voters: BTreeMap<NodeId, String>,
    raft: Raft,
    peers: Arc<Peers>,
    images: watch::Receiver<Arc<MetadataImage>>,
    /// The controller listener's task, taken by `shutdown`.
    server: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// The byte- and time-based snapshot trigger's task.
    snapshot_trigger: JoinHandle<()>,
    propose_timeout: Duration,
    shut_down: AtomicBool,
    /// `meta.properties`: the cluster id, stored or learned from a peer.
    meta: Arc<ClusterMeta>,
    /// An observer's joining ([`keep_joined`]); always `Joined` on a voter.
    joined: watch::Receiver<JoinState>,
    /// An observer's task keeping it in the membership.
    joiner: Option<JoinHandle<()>>,
}

impl Quorum {
    /// Opens the directory, binds the controller listener and starts Raft.
    pub async fn start(config: QuorumConfig) -> Result<Quorum, StartError> {
        let node_id = config.node_id;
        if config.observer && config.voters.contains_key(&node_id) {
            return Err(StartError::ObserverIsVoter(node_id));
        }
        if !config.observer && !config.voters.contains_key(&node_id) {
            return Err(StartError::NotAVoter(
                node_id,
                config.voters.keys().copied().collect(),
            ));
        }
        let storage = |source| StartError::Storage {
            dir: config.dir.clone(),
            source,
        };
        std::fs::create_dir_all(&config.dir).map_err(storage)?;
        let initialiser = !config.observer && config.voters.keys().next() == Some(&node_id);
        let meta = Arc::new(ClusterMeta::open(
            &config.dir,
            node_id,
            config.cluster_id.as_deref(),
            initialiser,
        )?);
        let log = LogStore::open(&config.dir, config.segment_bytes).map_err(storage)?;
        let (state_machine, images) = StateMachine::open(&config.dir).map_err(storage)?;
        let progress = state_machine.progress();
        let listener = TcpListener::bind(config.controller_listen)
            .await
            .map_err(|source| StartError::Listen {
                addr: config.controller_listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.controller_listen,
            source,
        })?;
        let mut voters = config.voters.clone();
        if !config.observer {
            voters.insert(node_id, local_addr.to_string());
        }
        let raft_config = raft_config(&config)?;
        let peers = Arc::new(Peers::new(node_id, Arc::clone(&meta)));
        let network = NetworkFactory {
            peers: Arc::clone(&peers),
            voters: voters.clone(),
        };
        let raft = Raft::new(node_id, raft_config, network, log, state_machine)
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;
        let server = Arc::new(Server {
            node_id,
            raft: raft.clone(),
            meta: Arc::clone(&meta),
            forward_timeout: config.propose_timeout,
            peers: Arc::clone(&peers),
        });
        let server = tokio::spawn(server.serve(listener));
        let snapshot_trigger = tokio::spawn(snapshot_trigger(
            raft.clone(),
            progress,
            config.snapshot_after_bytes,
            config.snapshot_interval,
        ));
        let (joined_tx, joined) = watch::channel(if config.observer {
            JoinState::Pending
        } else {
            JoinState::Joined
        });
        let joiner = config.observer.then(|| {
            tokio::spawn(keep_joined(
                Joiner {
                    raft: raft.clone(),
                    peers: Arc::clone(&peers),
                    node_id,
                    addr: local_addr.to_string(),
                    voters: voters.clone(),
                    stale_after: config.fetch_timeout,
                    call_timeout: config.propose_timeout,
                },
                joined_tx,
            ))
        });
        let quorum = Quorum {
            node_id,
            local_addr,
            voters,
            raft,
            peers,
            images,
            server: std::sync::Mutex::new(Some(server)),
            snapshot_trigger,
            propose_timeout: config.propose_timeout,
            shut_down: AtomicBool::new(false),
            meta,
            joined,
            joiner,
        };
        if initialiser {
            quorum.initialise_if_fresh().await?;
        }
        tracing::info!(node_id, %local_addr, "metadata quorum node started");
        Ok(quorum)
    }

    /// Initialises the membership if this node's log has never held one.
    async fn initialise_if_fresh(&self) -> Result<(), StartError> {
        let initialised = self
            .raft
            .is_initialized()
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;
        if initialised {
            return Ok(());
        }
        let members: BTreeMap<NodeId, BasicNode> = self
            .voters
            .iter()
            .map(|(id, addr)| (*id, BasicNode::new(addr)))
            .collect();
        match self.raft.initialize(members).await {
            Ok(()) => {
                tracing::info!(voters = ?self.voters, "initialised the metadata quorum");
                Ok(())
            }
            Err(openraft::error::RaftError::APIError(
                openraft::error::InitializeError::NotAllowed(_),
            )) => Ok(()),
            Err(e) => Err(StartError::Raft(e.to_string())),
        }
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// The cluster id: the stored or given one, or, on a fresh node that
    /// does not initialise the quorum, None until a peer told it.
    pub fn cluster_id(&self) -> Option<String> {
        self.meta.cluster_id()
    }

    /// Every voter's id and `host:port` (this node's own: its bound
    /// address).
    pub fn voters(&self) -> &BTreeMap<NodeId, String> {
        &self.voters
    }

    /// The address the controller listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The latest committed image applied on this node.
    pub fn image(&self) -> Arc<MetadataImage> {
        Arc::clone(&self.images.borrow())
    }

    /// A receiver of every new image (brokers replay metadata from it).
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.images.clone()
    }

    /// The current leader, as this node knows it.
    pub fn leader(&self) -> Option<NodeId> {
        self.raft.metrics().borrow().current_leader
    }

    /// Whether this node is the leader (Kafka's active controller).
    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().state == ServerState::Leader
    }

    /// Commits `records` as one entry, all or none, through the leader
    /// (forwarded if this node is not it), and returns its offset once it
    /// is committed. The image at that offset holds the records.
    pub async fn propose(&self, records: Vec<MetadataRecord>) -> Result<u64, ProposeError> {
        self.submit(Submission::Records(Proposal { records })).await
    }

    /// Removes node `id` from the observers (its broker was unregistered),
    /// through the leader; nothing to do if it is not one. A voter is
    /// refused (`Failed`).
    pub async fn remove_observer(&self, id: NodeId) -> Result<u64, ProposeError> {
        self.submit(Submission::Observers(ObserverChange::Leave { id }))
            .await
    }

    /// Commits `submission` through the leader, see [`Quorum::propose`].
    async fn submit(&self, submission: Submission) -> Result<u64, ProposeError> {
        let deadline = Instant::now() + self.propose_timeout;
        let mut metrics = self.raft.metrics();
        let mut last_leader = None;
        loop {
            if self.shut_down.load(Ordering::Acquire) {
                return Err(ProposeError::Shutdown);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ProposeError::NotLeader {
                    leader: last_leader,
                });
            }
            let leader = metrics.borrow_and_update().current_leader;
            last_leader = leader.or(last_leader);
            let outcome = match leader {
                None => {
                    // Wait for an election, then try again.
                    if let Ok(Err(_)) = tokio::time::timeout(remaining, metrics.changed()).await {
                        // Raft stopped (fatal error): no leader will come.
                        return Err(ProposeError::Shutdown);
                    }
                    continue;
                }
                Some(id) if id == self.node_id => submission.local(&self.raft, remaining).await,
                Some(id) => self.forward(id, &submission, remaining).await,
            };
            match outcome {
                ForwardResult::Committed {
                    offset,
                    error: None,
                } => return Ok(offset),
                ForwardResult::Committed {
                    offset,
                    error: Some(error),
                } => return Err(ProposeError::Rejected { offset, error }),
                ForwardResult::NotLeader { leader } => {
                    last_leader = leader.or(last_leader);
                    // The leader moved: wait a little for this node to learn
                    // of the new one.
                    let pause = remaining.min(Duration::from_millis(50));
                    if let Ok(Err(_)) = tokio::time::timeout(pause, metrics.changed()).await {
                        return Err(ProposeError::Shutdown);
                    }
                }
                ForwardResult::Timeout => return Err(ProposeError::Timeout),
                ForwardResult::Failed(why) => {
                    if self.shut_down.load(Ordering::Acquire) {
                        return Err(ProposeError::Shutdown);
                    }
                    return Err(ProposeError::Failed(why));
                }
            }
        }
    }

    /// Sends a submission to the leader `leader`. A leader that cannot be
    /// reached (nothing was sent) is reported as not leading, so the caller
    /// tries again; a connection lost mid-call is a failure.
    async fn forward(
        &self,
        leader: NodeId,
        submission: &Submission,
        timeout: Duration,
    ) -> ForwardResult {
        let Some(addr) = self.voters.get(&leader) else {
            return ForwardResult::NotLeader { leader: None };
        };
        let request = submission.request();
        match self
            .peers
            .call(Channel::Forward, leader, addr, &request, timeout)
            .await
        {
            Ok(Response::Forward(result) | Response::Observers(result)) => result,
            Ok(_) => ForwardResult::Failed("unexpected answer kind".into()),
            Err(CallError::Timeout(_)) => ForwardResult::Timeout,
            Err(CallError::NotSent(e)) => {
                tracing::debug!(leader, error = %e, "cannot reach the metadata leader");
                tokio::time::sleep(Duration::from_millis(50).min(timeout)).await;
                ForwardResult::NotLeader { leader: None }
            }
            Err(e) => ForwardResult::Failed(e.to_string()),
        }
    }

    /// The quorum as this node sees it.
    pub fn describe(&self) -> QuorumInfo {
        let metrics = self.raft.metrics().borrow().clone();
        let now = SystemTime::now();
        let membership = metrics.membership_config.membership();
        let replica = |id: NodeId| {
            let log_end_offset = if id == self.node_id {
                metrics.last_log_index.map(|i| i + 1)
            } else {
                metrics
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(&id))
                    .and_then(|matched| matched.map(|m| m.index + 1))
            };
            VoterInfo {
                id,
                log_end_offset,
                last_ack: if id == self.node_id {
                    Some(now)
                } else {
                    self.peers.last_answer(id)
                },
            }
        };
        QuorumInfo {
            leader_id: metrics.current_leader,
            term: metrics.current_term,
            high_watermark: metrics.last_applied.map(|l| l.index + 1),
            voters: membership.voter_ids().map(replica).collect(),
            observers: membership.learner_ids().map(replica).collect(),
        }
    }

    /// Waits until an observer was added to the quorum (at once on a
    /// voter); the error says why not: a voter refused it (another
    /// cluster), or no voter answered within `timeout`.
    pub async fn wait_joined(&self, timeout: Duration) -> Result<(), String> {
        let mut joined = self.joined.clone();
        let settled =
            tokio::time::timeout(timeout, joined.wait_for(|j| *j != JoinState::Pending)).await;
        match settled {
            Ok(Ok(state)) => match &*state {
                JoinState::Refused(why) => {
                    Err(format!("the metadata quorum refused this node: {why}"))
                }
                _ => Ok(()),
            },
            Ok(Err(_)) => Err("the metadata quorum stopped".into()),
            Err(_) => Err(format!(
                "no voter of controller.quorum.voters added this node as an observer within {} s",
                timeout.as_secs()
            )),
        }
    }

    /// Takes a snapshot now (tests, operators) rather than by policy.
    pub async fn snapshot(&self) -> Result<(), ProposeError> {
        self.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|_| ProposeError::Shutdown)
    }

    /// Waits until this node's image reaches `offset`; None on timeout.
    pub async fn wait_for_offset(
        &self,
        offset: u64,
        timeout: Duration,
    ) -> Option<Arc<MetadataImage>> {
        let mut images = self.images.clone();
        let reached = tokio::time::timeout(
            timeout,
            images.wait_for(|image| image.offset.is_some_and(|o| o >= offset)),
        )
        .await;
        match reached {
            Ok(Ok(image)) => Some(Arc::clone(&image)),
            _ => None,
        }
    }

    /// Stops Raft and the listener; pending proposals end with `Shutdown`.
    pub async fn shutdown(&self) {
        self.shut_down.store(true, Ordering::Release);
        self.snapshot_trigger.abort();
        if let Some(joiner) = &self.joiner {
            joiner.abort();
        }
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "metadata raft did not stop cleanly");
        }
        let server = self.server.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(server) = server {
            server.abort();
            // Wait for the listener to be dropped, so the port is free.
            let _ = server.await;
        }
    }
}

impl Drop for Quorum {
    fn drop(&mut self) {
        self.snapshot_trigger.abort();
        if let Some(joiner) = &self.joiner {
            joiner.abort();
        }
        if let Some(server) = self.server.lock().unwrap_or_else(|p| p.into_inner()).take() {
            server.abort();
        }
    }
}

/// What an observer's [`keep_joined`] task needs.
struct Joiner {
    raft: Raft,
    peers: Arc<Peers>,
    node_id: NodeId,
    /// This node's bound quorum address, which the leader replicates to.
    addr: String,
    voters: BTreeMap<NodeId, String>,
    /// An observer not called by its leader for this long asks again.
    stale_after: Duration,
    /// How long one request may take (a membership change commits).
    call_timeout: Duration,
}

/// Keeps an observer in the quorum's membership: asks the voters to add it
/// (with backoff, 100 ms doubling to 2 s, until one answers), and asks
/// again whenever its leader has not been heard from for `stale_after`
/// (the leader changed, or removed this node). Asking when already there
/// at the same address changes nothing.
async fn keep_joined(joiner: Joiner, state: watch::Sender<JoinState>) {
    const FIRST: Duration = Duration::from_millis(100);
    const MOST: Duration = Duration::from_secs(2);
    let mut backoff = FIRST;
    loop {
        let leader = joiner.raft.metrics().borrow().current_leader;
        let fresh = leader
            .and_then(|l| joiner.peers.last_answer(l))
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|e| e < joiner.stale_after);
        if fresh && *state.borrow() == JoinState::Joined {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        match join_once(&joiner, leader).await {
            Ok(()) => {
                if *state.borrow() != JoinState::Joined {
                    tracing::info!(node_id = joiner.node_id, addr = %joiner.addr, "joined the metadata quorum as an observer");
                }
                state.send_replace(JoinState::Joined);
                backoff = FIRST;
                // Give the leader time to start replicating here.
                tokio::time::sleep(joiner.stale_after).await;
                continue;
            }
            Err(JoinError::Refused(why)) => {
                tracing::warn!(why, "a metadata voter refused this observer");
                if *state.borrow() == JoinState::Pending {
                    state.send_replace(JoinState::Refused(why));
                }
            }
            Err(JoinError::Unanswered(why)) => {
                tracing::debug!(why, "no metadata voter added this observer yet; retrying");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MOST);
    }
}

/// Why one round of [`join_once`] failed.
enum JoinError {
    Refused(String),
    Unanswered(String),
}

/// Asks the leader (the known one, else each voter in turn, following
/// their `NotLeader` hints) to add this node as an observer.
async fn join_once(joiner: &Joiner, leader: Option<NodeId>) -> Result<(), JoinError> {
    let request = Request::Observers(ObserverChange::Join {
        id: joiner.node_id,
        addr: joiner.addr.clone(),
    });
    let mut queue: Vec<NodeId> = joiner.voters.keys().rev().copied().collect();
    queue.extend(leader);
    let mut asked = Vec::new();
    let mut last = String::from("no voter");
    while let Some(id) = queue.pop() {
        if asked.contains(&id) {
            continue;
        }
        asked.push(id);
        let Some(addr) = joiner.voters.get(&id) else {
            continue;
        };
        let answer = joiner
            .peers
            .call(Channel::Forward, id, addr, &request, joiner.call_timeout)
            .await;
        match answer {
            Ok(Response::Observers(ForwardResult::Committed { .. })) => return Ok(()),
            Ok(Response::Observers(ForwardResult::NotLeader { leader })) => {
                queue.extend(leader);
                last = format!("voter {id} is not the leader");
            }
            Ok(Response::Observers(other)) => last = format!("voter {id}: {other:?}"),
            Ok(_) => last = format!("voter {id} answered another kind"),
            Err(CallError::Refused(why)) => return Err(JoinError::Refused(why)),
            Err(e) => last = format!("voter {id}: {e}"),
        }
    }
    Err(JoinError::Unanswered(last))
}

/// Asks Raft for a snapshot once `after_bytes` of records were applied
/// since the last one, or records were applied and the last snapshot (or
/// the start) is `interval` old. openraft's own policy (entries since the
/// last snapshot) stays on beside it.
async fn snapshot_trigger(
    raft: Raft,
    progress: Arc<SnapshotProgress>,
    after_bytes: u64,
    interval: Option<Duration>,
) {
    let tick = interval
        .map_or(Duration::from_secs(1), |i| i / 4)
        .clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut last = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        let since = progress.bytes_since_snapshot();
        let due =
            since > 0 && (since >= after_bytes || interval.is_some_and(|i| last.elapsed() >= i));
        if !due {
            continue;
        }
        tracing::debug!(bytes_since = since, "asking for a metadata snapshot");
        if raft.trigger().snapshot().await.is_err() {
            return; // Raft stopped.
        }
        last = tokio::time::Instant::now();
        // Give the build time to finish before judging the bytes again.
        let deadline = last + Duration::from_secs(10);
        while progress.bytes_since_snapshot() >= since && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(tick).await;
        }
    }
}

/// openraft's settings for a [`QuorumConfig`].
fn raft_config(config: &QuorumConfig) -> Result<Arc<Config>, StartError> {
    let millis = |d: Duration| d.as_millis() as u64;
    let min = millis(config.election_timeout);
    let max = millis(config.fetch_timeout).max(min + 1);
    let raft = Config {
        cluster_name: "fjord-metadata".into(),
        election_timeout_min: min,
        election_timeout_max: max,
        heartbeat_interval: millis(config.heartbeat_interval),
        install_snapshot_timeout: max,
        snapshot_max_chunk_size: 1 << 20,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_after_entries.max(1)),
        max_in_snapshot_log_to_keep: config.log_entries_behind_snapshot,
        ..Config::default()
    };
    raft.validate()
        .map(Arc::new)
        .map_err(|e| StartError::Config(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voters_parse_in_kafkas_syntax() {
        let voters = parse_voters("1@127.0.0.1:9093, 2@localhost:9094,3@[::1]:9095").unwrap();
        assert_eq!(voters.len(), 3);
        assert_eq!(voters[&2], "localhost:9094");
        assert_eq!(voters[&3], "[::1]:9095");
        for bad in [
            "",
            "1@host",
            "x@host:1",
            "1@:9093",
            "1host:9093",
            "1@h:1,1@h:2",
            "1@h:99999",
        ] {
            assert!(parse_voters(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn raft_settings_follow_kafkas_defaults() {
        let config = QuorumConfig::new(
            1,
            "127.0.0.1:0".parse().unwrap(),
            BTreeMap::from([(1, "127.0.0.1:0".to_string())]),
            PathBuf::from("unused"),
        );
        let raft = raft_config(&config).unwrap();
        assert_eq!(
            (raft.election_timeout_min, raft.election_timeout_max),
            (1000, 2000)
        );
        assert!(raft.heartbeat_interval < raft.election_timeout_min);
    }
}
