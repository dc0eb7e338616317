//! The quorum's TCP transport: openraft's `RaftNetwork` on the client side,
//! the controller listener on the server side, and the `Forward` RPC that
//! lets any node submit records to the leader.
//!
//! Each node keeps one connection per peer ([`Peers`]), shared by Raft's
//! RPCs and forwards and reused across calls; a call takes the connection
//! out of its slot and puts it back only after a complete exchange, so a
//! call that fails or times out leaves no half-read connection behind and
//! the next call reconnects. Every call is bounded by a timeout covering
//! the wait for the slot, the connect, the handshake and the exchange.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use openraft::error::{
    ClientWriteError, InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError,
    Timeout, Unreachable,
};
use openraft::network::{RPCOption, RPCTypes, RaftNetwork, RaftNetworkFactory};
use openraft::raft::ClientWriteResponse;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, ChangeMembers, Membership, ServerState};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::meta::ClusterMeta;
use super::wire::{read_frame, write_frame, ForwardResult, ObserverChange, Request, Response};
use super::{NodeId, Proposal, Raft, TypeConfig};

/// Why a call to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Nothing was sent: the peer could not be reached.
    #[error("not sent: {0}")]
    NotSent(io::Error),
    /// The connection broke after the request was (perhaps) sent.
    #[error("connection lost: {0}")]
    Lost(#[from] io::Error),
    #[error("refused: {0}")]
    Refused(String),
    #[error("unexpected answer kind")]
    Unexpected,
}

/// Which connection to a peer a call uses: Raft's own RPCs never wait
/// behind a forwarded proposal that is waiting for its commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Channel {
    Raft,
    Forward,
}

/// A reusable connection to one peer, taken out while in use.
type Slot = Arc<tokio::sync::Mutex<Option<TcpStream>>>;

/// This node's connections to its peers.
pub struct Peers {
    node_id: NodeId,
    meta: Arc<ClusterMeta>,
    slots: Mutex<BTreeMap<(NodeId, Channel), Slot>>,
    /// When each peer was last heard from: it answered a call of this node,
    /// or sent one (a leader's AppendEntries reaches its followers this
    /// way). For DescribeQuorum and the controller's broker liveness.
    last_answer: Mutex<BTreeMap<NodeId, SystemTime>>,
}

impl Peers {
    pub fn new(node_id: NodeId, meta: Arc<ClusterMeta>) -> Peers {
        Peers {
            node_id,
            meta,
            slots: Mutex::new(BTreeMap::new()),
            last_answer: Mutex::new(BTreeMap::new()),
        }
    }

    /// Records that peer `id` was heard from now.
    pub fn heard(&self, id: NodeId) {
        self.last_answer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, SystemTime::now());
    }

    /// When peer `id` was last heard from, if ever.
    pub fn last_answer(&self, id: NodeId) -> Option<SystemTime> {
        self.last_answer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .copied()
    }

    fn slot(&self, channel: Channel, target: NodeId) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(slots.entry((target, channel)).or_default())
    }

    /// Sends `request` to `target` at `addr` and reads its answer, within
    /// `timeout`.
    pub async fn call(
        &self,
        channel: Channel,
        target: NodeId,
        addr: &str,
        request: &Request,
        timeout: Duration,
    ) -> Result<Response, CallError> {
        let call = self.call_inner(channel, target, addr, request);
        match tokio::time::timeout(timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(CallError::Timeout(timeout)),
        }
    }

    async fn call_inner(
        &self,
        channel: Channel,
        target: NodeId,
        addr: &str,
        request: &Request,
    ) -> Result<Response, CallError> {
        let slot = self.slot(channel, target);
        let mut guard = slot.lock().await;
        let mut stream = match guard.take().filter(still_open) {
            Some(stream) => stream,
            None => self.connect(target, addr).await?,
        };
        write_frame(&mut stream, request).await?;
        let response: Response = read_frame(&mut stream).await?;
        *guard = Some(stream);
        self.heard(target);
        Ok(response)
    }

    /// Connects and introduces this node; the peer checks the cluster id.
    async fn connect(&self, target: NodeId, addr: &str) -> Result<TcpStream, CallError> {
        let mut stream = TcpStream::connect(addr).await.map_err(CallError::NotSent)?;
        stream.set_nodelay(true).map_err(CallError::NotSent)?;
        let hello = Request::Hello {
            cluster_id: self.meta.cluster_id(),
            from: self.node_id,
            to: target,
        };
        write_frame(&mut stream, &hello)
            .await
            .map_err(CallError::NotSent)?;
        match read_frame(&mut stream).await.map_err(CallError::NotSent)? {
            Response::Hello(Ok(cluster_id)) => {
                self.meta
                    .check_peer(Some(&cluster_id))
                    .map_err(CallError::Refused)?;
                Ok(stream)
            }
            Response::Hello(Err(why)) => {
                tracing::warn!(target, addr, why, "metadata peer refused the connection");
                Err(CallError::Refused(why))
            }
            _ => Err(CallError::Unexpected),
        }
    }
}

/// Whether a pooled connection is still usable: a peer that closed it (it
/// restarted or died) makes it readable at end of file.
fn still_open(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    match stream.try_read(&mut probe) {
        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
        // End of file, or bytes nobody asked for: either way not reusable.
        Ok(_) => false,
    }
}

/// openraft's network factory: clients share [`Peers`]' connections.
pub struct NetworkFactory {
    pub peers: Arc<Peers>,
    /// The configured voter addresses, which win over those in the log.
    pub voters: BTreeMap<NodeId, String>,
}

/// openraft's client to one peer.
pub struct PeerClient {
    peers: Arc<Peers>,
    target: NodeId,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        PeerClient {
            peers: Arc::clone(&self.peers),
            target,
            addr: self
                .voters
                .get(&target)
                .cloned()
                .unwrap_or_else(|| node.addr.clone()),
        }
    }
}

impl PeerClient {
    async fn rpc<E: std::error::Error>(
        &self,
        action: RPCTypes,
        request: Request,
        option: &RPCOption,
    ) -> Result<Response, RPCError<NodeId, BasicNode, E>> {
        let timeout = option.hard_ttl();
        self.peers
            .call(Channel::Raft, self.target, &self.addr, &request, timeout)
            .await
            .map_err(|e| match e {
                CallError::Timeout(timeout) => RPCError::Timeout(Timeout {
                    action,
                    id: self.peers.node_id,
                    target: self.target,
                    timeout,
                }),
                CallError::NotSent(e) | CallError::Lost(e) => {
                    RPCError::Unreachable(Unreachable::new(&e))
                }
                CallError::Refused(why) => {
                    RPCError::Unreachable(Unreachable::new(&io::Error::other(why)))
                }
                CallError::Unexpected => RPCError::Network(NetworkError::new(&io::Error::other(
                    "unexpected answer kind",
                ))),
            })
    }

    fn unexpected<E: std::error::Error>() -> RPCError<NodeId, BasicNode, E> {
        RPCError::Network(NetworkError::new(&io::Error::other(
            "unexpected answer kind",
        )))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        match self
            .rpc(
                RPCTypes::AppendEntries,
                Request::AppendEntries(rpc),
                &option,
            )
            .await?
        {
            Response::AppendEntries(Ok(r)) => Ok(r),
            Response::AppendEntries(Err(e)) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(Self::unexpected()),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        match self
            .rpc(
                RPCTypes::InstallSnapshot,
                Request::InstallSnapshot(rpc),
                &option,
            )
            .await?
        {
            Response::InstallSnapshot(Ok(r)) => Ok(r),
            Response::InstallSnapshot(Err(e)) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(Self::unexpected()),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        match self
            .rpc(RPCTypes::Vote, Request::Vote(rpc), &option)
            .await?
        {
            Response::Vote(Ok(r)) => Ok(r),
            Response::Vote(Err(e)) => Err(RPCError::RemoteError(RemoteError::new(self.target, e))),
            _ => Err(Self::unexpected()),
        }
    }
}

/// Commits `proposal` through this node's Raft, which must be the leader.
pub async fn write_local(raft: &Raft, proposal: Proposal, timeout: Duration) -> ForwardResult {
    written(tokio::time::timeout(timeout, raft.client_write(proposal)).await)
}

/// What openraft answers to a write (a proposal or a membership change).
type WriteResult =
    Result<ClientWriteResponse<TypeConfig>, RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>>;

/// What a write to this node's Raft (a proposal or a membership change)
/// gave, within its timeout.
fn written(outcome: Result<WriteResult, tokio::time::error::Elapsed>) -> ForwardResult {
    match outcome {
        Err(_) => ForwardResult::Timeout,
        Ok(Ok(written)) => ForwardResult::Committed {
            offset: written.log_id.index,
            error: written.data.error,
        },
        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(to)))) => {
            ForwardResult::NotLeader {
                leader: to.leader_id,
            }
        }
        Ok(Err(RaftError::APIError(e))) => ForwardResult::Failed(e.to_string()),
        Ok(Err(RaftError::Fatal(e))) => ForwardResult::Failed(e.to_string()),
    }
}

/// The membership change `change` needs, given the current `membership`:
/// None when there is nothing to do (the observer is there at that address,
/// or already gone). A voter can be neither added as an observer nor
/// removed as one.
pub fn observer_changes(
    membership: &Membership<NodeId, BasicNode>,
    change: &ObserverChange,
) -> Result<Option<ChangeMembers<NodeId, BasicNode>>, String> {
    let (ObserverChange::Join { id, .. } | ObserverChange::Leave { id }) = change;
    if membership.voter_ids().any(|v| v == *id) {
        return Err(format!(
            "node {id} is a voter of the metadata quorum, not an observer (a broker-only node must not be in controller.quorum.voters)"
        ));
    }
    let known = membership.get_node(id);
    Ok(match change {
        ObserverChange::Join { addr, .. } => match known {
            Some(node) if node.addr == *addr => None,
            Some(_) => Some(ChangeMembers::SetNodes(BTreeMap::from([(
                *id,
                BasicNode::new(addr),
            )]))),
            None => Some(ChangeMembers::AddNodes(BTreeMap::from([(
                *id,
                BasicNode::new(addr),
            )]))),
        },
        ObserverChange::Leave { .. } => {
            known.map(|_| ChangeMembers::RemoveNodes(BTreeSet::from([*id])))
        }
    })
}

/// Commits an observer change through this node's Raft, which must be the
/// leader (else `NotLeader` with the leader it knows). A change with
/// nothing to do answers at once with the last applied offset.
pub async fn change_observers(
    raft: &Raft,
    change: &ObserverChange,
    timeout: Duration,
) -> ForwardResult {
    let metrics = raft.metrics().borrow().clone();
    if metrics.state != ServerState::Leader {
        return ForwardResult::NotLeader {
            leader: metrics.current_leader,
        };
    }
    let changes = match observer_changes(metrics.membership_config.membership(), change) {
        Ok(Some(changes)) => changes,
        Ok(None) => {
            return ForwardResult::Committed {
                offset: metrics.last_applied.map_or(0, |l| l.index),
                error: None,
            }
        }
        Err(why) => return ForwardResult::Failed(why),
    };
    let outcome =
        written(tokio::time::timeout(timeout, raft.change_membership(changes, true)).await);
    if matches!(outcome, ForwardResult::Committed { .. }) {
        tracing::info!(?change, "metadata quorum observers changed");
    }
    outcome
}

/// What the controller listener needs to answer peers.
pub struct Server {
    pub node_id: NodeId,
    pub raft: Raft,
    pub meta: Arc<ClusterMeta>,
    /// How long a forwarded proposal may take to commit.
    pub forward_timeout: Duration,
    /// This node's connections, which also keep when each peer was last
    /// heard from; a request from a peer counts.
    pub peers: Arc<Peers>,
}

impl Server {
    /// Accepts peers until the task running it is aborted; dropping the
    /// task drops (and so aborts) every connection task with it.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let server = Arc::clone(&self);
                        connections.spawn(async move {
                            if let Err(e) = server.connection(stream).await {
                                tracing::debug!(%peer, error = %e, "metadata peer connection closed");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "metadata listener accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    }

    async fn connection(&self, mut stream: TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        let hello: Request = read_frame(&mut stream).await?;
        let Request::Hello {
            cluster_id,
            from,
            to,
        } = hello
        else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the first frame must be Hello",
            ));
        };
        let answer = if to != self.node_id {
            Err(format!(
                "node {from} addressed node {to}, but this is node {}",
                self.node_id
            ))
        } else {
            self.meta.check_peer(cluster_id.as_deref())
        };
        let refused = answer.clone().err();
        write_frame(&mut stream, &Response::Hello(answer)).await?;
        if let Some(why) = refused {
            tracing::warn!(from, why, "refused a metadata peer");
            return Ok(());
        }
        loop {
            let request: Request = match read_frame(&mut stream).await {
                Ok(request) => request,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            };
            self.peers.heard(from);
            let response = match request {
                Request::Vote(rpc) => Response::Vote(self.raft.vote(rpc).await),
                Request::AppendEntries(rpc) => {
                    Response::AppendEntries(self.raft.append_entries(rpc).await)
                }
                Request::InstallSnapshot(rpc) => {
                    Response::InstallSnapshot(self.raft.install_snapshot(rpc).await)
                }
                Request::Forward(proposal) => {
                    Response::Forward(write_local(&self.raft, proposal, self.forward_timeout).await)
                }
                Request::Observers(change) => Response::Observers(match change {
                    // A node joins as itself only.
                    ObserverChange::Join { id, .. } if id != from => ForwardResult::Failed(
                        format!("node {from} cannot join the quorum as node {id}"),
                    ),
                    _ => change_observers(&self.raft, &change, self.forward_timeout).await,
                }),
                Request::Hello { .. } => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "Hello after the handshake",
                    ))
                }
            };
            write_frame(&mut stream, &response).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn membership() -> Membership<NodeId, BasicNode> {
        Membership::new(
            vec![BTreeSet::from([1, 2, 3])],
            BTreeMap::from([
                (1, BasicNode::new("h:1")),
                (2, BasicNode::new("h:2")),
                (3, BasicNode::new("h:3")),
                (4, BasicNode::new("h:4")),
            ]),
        )
    }

    #[test]
    fn observers_join_move_and_leave_but_voters_are_refused() {
        let m = membership();
        let join = |id, addr: &str| ObserverChange::Join {
            id,
            addr: addr.into(),
        };
        assert_eq!(
            observer_changes(&m, &join(5, "h:5")),
            Ok(Some(ChangeMembers::AddNodes(BTreeMap::from([(
                5,
                BasicNode::new("h:5")
            )]))))
        );
        // A known observer at the same address: nothing to do; at another
        // (restarted on another port): its address is replaced.
        assert_eq!(observer_changes(&m, &join(4, "h:4")), Ok(None));
        assert_eq!(
            observer_changes(&m, &join(4, "h:44")),
            Ok(Some(ChangeMembers::SetNodes(BTreeMap::from([(
                4,
                BasicNode::new("h:44")
            )]))))
        );
        assert_eq!(
            observer_changes(&m, &ObserverChange::Leave { id: 4 }),
            Ok(Some(ChangeMembers::RemoveNodes(BTreeSet::from([4]))))
        );
        assert_eq!(
            observer_changes(&m, &ObserverChange::Leave { id: 9 }),
            Ok(None)
        );
        assert!(observer_changes(&m, &join(2, "h:9")).is_err());
        assert!(observer_changes(&m, &ObserverChange::Leave { id: 1 }).is_err());
    }
}
