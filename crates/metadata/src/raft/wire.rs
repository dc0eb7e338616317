//! The quorum's wire format between nodes: length-prefixed frames
//! (`length u32 BE | JSON`), refused before allocation when longer than
//! [`MAX_FRAME_BYTES`], carrying one [`Request`] or [`Response`].
//!
//! A connection opens with `Hello` (the caller's cluster id and the node it
//! means to reach); then requests and responses alternate, one at a time.

use std::io;

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{NodeId, Proposal, TypeConfig};
use crate::image::ImageError;

/// The largest frame a node reads or writes.
pub const MAX_FRAME_BYTES: usize = 64 << 20;

/// A request from one node to another.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// The first frame of a connection.
    Hello {
        cluster_id: Option<String>,
        from: NodeId,
        to: NodeId,
    },
    Vote(VoteRequest<NodeId>),
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// Records for the leader to commit (from a node that is not leader).
    Forward(Proposal),
    /// A change of the observers (broker-only nodes, openraft learners)
    /// for the leader to commit; a node that is not leader answers
    /// `NotLeader` with the leader it knows.
    Observers(ObserverChange),
}

/// The answer to a [`Request`] of the same kind.
#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    /// The cluster id both sides share, or why the connection is refused.
    Hello(Result<String, String>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    Forward(ForwardResult),
    Observers(ForwardResult),
}

/// A change of the quorum's observers: Kafka's brokers that are not
/// controllers, which replicate the metadata log but never vote (openraft
/// learners).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObserverChange {
    /// Node `id` (the caller itself) replicates the log at `addr`: added as
    /// an observer, or its address updated (a restart may bind another
    /// port).
    Join { id: NodeId, addr: String },
    /// Node `id` stops replicating the log (its broker was unregistered).
    Leave { id: NodeId },
}

/// What the node asked to commit a forwarded proposal did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForwardResult {
    /// Committed at `offset`; `error` is set if the image rejected it.
    Committed {
        offset: u64,
        error: Option<ImageError>,
    },
    /// That node is not the leader; `leader` is the one it knows of.
    NotLeader { leader: Option<NodeId> },
    /// It did not commit in time (the outcome is unknown).
    Timeout,
    /// The node is shutting down or failed.
    Failed(String),
}

/// Writes one frame holding `message`.
pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    writer: &mut W,
    message: &T,
) -> io::Result<()> {
    let body = serde_json::to_vec(message).map_err(io::Error::other)?;
    if body.len() > MAX_FRAME_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "frame of {} bytes over the {MAX_FRAME_BYTES} limit",
                body.len()
            ),
        ));
    }
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    writer.write_all(&frame).await?;
    writer.flush().await
}

/// Reads one frame and parses it; a length over [`MAX_FRAME_BYTES`] is
/// refused before anything is allocated.
pub async fn read_frame<R: AsyncRead + Unpin, T: for<'de> Deserialize<'de>>(
    reader: &mut R,
) -> io::Result<T> {
    let mut len = [0u8; 4];
    reader.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes over the {MAX_FRAME_BYTES} limit"),
        ));
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).await?;
    serde_json::from_slice(&body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_oversized_ones_are_refused() {
        let mut buf = Vec::new();
        let sent = Response::Forward(ForwardResult::NotLeader { leader: Some(3) });
        write_frame(&mut buf, &sent).await.unwrap();
        let got: Response = read_frame(&mut buf.as_slice()).await.unwrap();
        assert!(matches!(
            got,
            Response::Forward(ForwardResult::NotLeader { leader: Some(3) })
        ));

        let mut huge = (u32::MAX).to_be_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        let err = read_frame::<_, Response>(&mut huge.as_slice())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);

        let garbage = [0, 0, 0, 2, b'{', b'x'];
        assert!(read_frame::<_, Response>(&mut garbage.as_slice())
            .await
            .is_err());
    }
}
