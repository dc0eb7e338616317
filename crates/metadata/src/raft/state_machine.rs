//! The quorum's state machine (openraft's `RaftStateMachine`): applies
//! committed entries to the [`MetadataImage`], publishes each new image on
//! a watch channel, and snapshots the image to `snapshot.json`.
//!
//! A proposal's records apply all or none: [`MetadataImage::apply`] leaves
//! the image unchanged on error, and a proposal of several records is
//! applied to a copy that replaces the image only if every record fits.
//! A rejected proposal is committed but changes nothing; every node rejects
//! it the same way, so images stay identical.
//!
//! [`SnapshotProgress`] counts the bytes of records applied since the last
//! snapshot, for the quorum's byte- and time-based snapshot trigger
//! (Kafka's `metadata.log.max.record.bytes.between.snapshots` and
//! `metadata.log.max.snapshot.interval.ms`).
//!
//! The image itself is not persisted apart from snapshots: at start the
//! last snapshot is loaded and openraft re-applies the committed log after
//! it (the committed pointer is durable, see the log store).

use std::io::{self, Cursor};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    BasicNode, EntryPayload, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftSnapshotBuilder,
    SnapshotMeta, StoredMembership,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::fsutil::{read_json, write_atomic};
use super::{Applied, Entry, NodeId, StorageError, TypeConfig};
use crate::image::MetadataImage;

/// What `snapshot.json` holds, and what a snapshot sent to a peer holds.
#[derive(Serialize, Deserialize)]
struct SnapshotFile {
    meta: SnapshotMeta<NodeId, BasicNode>,
    image: MetadataImage,
}

/// The applied state shared with snapshot builders.
#[derive(Clone, Default)]
struct AppliedState {
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, BasicNode>,
    image: Arc<MetadataImage>,
    /// Bytes of records (as JSON) applied by this process up to this state.
    applied_bytes: u64,
}

/// How far the applied records are ahead of the last snapshot, in bytes
/// (counted from the process start; the log replayed after the last
/// snapshot at start counts too).
#[derive(Default, Debug)]
pub struct SnapshotProgress {
    applied_bytes: AtomicU64,
    snapshotted_bytes: AtomicU64,
}

impl SnapshotProgress {
    /// Bytes of records applied since the last snapshot was written.
    pub fn bytes_since_snapshot(&self) -> u64 {
        let applied = self.applied_bytes.load(Ordering::Acquire);
        applied.saturating_sub(self.snapshotted_bytes.load(Ordering::Acquire))
    }

    /// A snapshot covering everything up to `applied_bytes` was written or
    /// installed.
    fn snapshotted(&self, applied_bytes: u64) {
        self.snapshotted_bytes
            .fetch_max(applied_bytes, Ordering::AcqRel);
    }
}

/// Counts what is written to it.
struct ByteCount(u64);

impl io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The metadata state machine.
pub struct StateMachine {
    dir: PathBuf,
    state: AppliedState,
    publish: watch::Sender<Arc<MetadataImage>>,
    /// Makes snapshot ids unique within the process.
    snapshot_seq: Arc<AtomicU64>,
    progress: Arc<SnapshotProgress>,
}

/// Builds a snapshot of the state as of when it was made.
pub struct SnapshotBuilder {
    dir: PathBuf,
    state: AppliedState,
    snapshot_seq: Arc<AtomicU64>,
    progress: Arc<SnapshotProgress>,
}

fn snapshot_path(dir: &Path) -> PathBuf {
    dir.join("snapshot.json")
}

fn sm_err(verb: ErrorVerb, e: io::Error) -> StorageError {
    StorageError::from_io_error(ErrorSubject::StateMachine, verb, e)
}

impl StateMachine {
    /// Opens the state machine from the last snapshot in `dir`, if any.
    pub fn open(dir: &Path) -> io::Result<(StateMachine, watch::Receiver<Arc<MetadataImage>>)> {
        let mut state = AppliedState::default();
        if let Some(file) = read_json::<SnapshotFile>(&snapshot_path(dir))? {
            state.last_applied = file.meta.last_log_id;
            state.membership = file.meta.last_membership;
            state.image = Arc::new(file.image);
        }
        let (publish, receiver) = watch::channel(Arc::clone(&state.image));
        Ok((
            StateMachine {
                dir: dir.to_path_buf(),
                state,
                publish,
                snapshot_seq: Arc::new(AtomicU64::new(0)),
                progress: Arc::default(),
            },
            receiver,
        ))
    }

    /// The bytes applied since the last snapshot, shared with the quorum's
    /// snapshot trigger.
    pub fn progress(&self) -> Arc<SnapshotProgress> {
        Arc::clone(&self.progress)
    }

    /// A receiver of every image this state machine publishes.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.publish.subscribe()
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let seq = self.snapshot_seq.fetch_add(1, Ordering::Relaxed);
        let snapshot_id = match self.state.last_applied {
            Some(id) => format!("{}-{}-{seq}", id.leader_id.term, id.index),
            None => format!("empty-{seq}"),
        };
        let meta = SnapshotMeta {
            last_log_id: self.state.last_applied,
            last_membership: self.state.membership.clone(),
            snapshot_id,
        };
        let file = SnapshotFile {
            meta: meta.clone(),
            image: (*self.state.image).clone(),
        };
        let bytes =
            serde_json::to_vec(&file).map_err(|e| sm_err(ErrorVerb::Write, io::Error::other(e)))?;
        let path = snapshot_path(&self.dir);
        let data = bytes.clone();
        tokio::task::spawn_blocking(move || write_atomic(&path, &data))
            .await
            .map_err(io::Error::other)
            .and_then(|r| r)
            .map_err(|e| sm_err(ErrorVerb::Write, e))?;
        tracing::info!(
            last_log_id = ?meta.last_log_id,
            bytes = bytes.len(),
            "metadata snapshot written"
        );
        self.progress.snapshotted(self.state.applied_bytes);
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>), StorageError> {
        Ok((self.state.last_applied, self.state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut results = Vec::new();
        let mut changed = false;
        for entry in entries {
            self.state.last_applied = Some(entry.log_id);
            let offset = entry.log_id.index;
            match entry.payload {
                EntryPayload::Blank => results.push(Applied::default()),
                EntryPayload::Membership(membership) => {
                    self.state.membership = StoredMembership::new(Some(entry.log_id), membership);
                    results.push(Applied::default());
                }
                EntryPayload::Normal(proposal) => {
                    let mut size = ByteCount(0);
                    if serde_json::to_writer(&mut size, &proposal.records).is_ok() {
                        self.state.applied_bytes += size.0;
                    }
                    let image = Arc::make_mut(&mut self.state.image);
                    let outcome = match proposal.records.as_slice() {
                        [] => Ok(()),
                        [one] => image.apply(offset, one),
                        many => {
                            let mut next = image.clone();
                            let outcome = many.iter().try_for_each(|r| next.apply(offset, r));
                            if outcome.is_ok() {
                                *image = next;
                            }
                            outcome
                        }
                    };
                    if let Err(e) = &outcome {
                        tracing::warn!(offset, error = %e, "metadata proposal rejected");
                    } else {
                        changed = true;
                    }
                    results.push(Applied {
                        error: outcome.err(),
                    });
                }
            }
        }
        if changed {
            self.publish.send_replace(Arc::clone(&self.state.image));
        }
        self.progress
            .applied_bytes
            .store(self.state.applied_bytes, Ordering::Release);
        Ok(results)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            dir: self.dir.clone(),
            state: self.state.clone(),
            snapshot_seq: Arc::clone(&self.snapshot_seq),
            progress: Arc::clone(&self.progress),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let bytes = snapshot.into_inner();
        let file: SnapshotFile = serde_json::from_slice(&bytes).map_err(|e| {
            StorageError::from_io_error(
                ErrorSubject::Snapshot(Some(meta.signature())),
                ErrorVerb::Read,
                io::Error::new(io::ErrorKind::InvalidData, e),
            )
        })?;
        // Store it with the meta openraft gave, which is authoritative.
        let stored = SnapshotFile {
            meta: meta.clone(),
            image: file.image,
        };
        let data = serde_json::to_vec(&stored)
            .map_err(|e| sm_err(ErrorVerb::Write, io::Error::other(e)))?;
        let path = snapshot_path(&self.dir);
        tokio::task::spawn_blocking(move || write_atomic(&path, &data))
            .await
            .map_err(io::Error::other)
            .and_then(|r| r)
            .map_err(|e| sm_err(ErrorVerb::Write, e))?;
        tracing::info!(last_log_id = ?meta.last_log_id, "installed a metadata snapshot");
        self.state = AppliedState {
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
            image: Arc::new(stored.image),
            applied_bytes: self.state.applied_bytes,
        };
        self.progress.snapshotted(self.state.applied_bytes);
        self.publish.send_replace(Arc::clone(&self.state.image));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let path = snapshot_path(&self.dir);
        let bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(sm_err(ErrorVerb::Read, e)),
        };
        let file: SnapshotFile = serde_json::from_slice(&bytes).map_err(|e| {
            sm_err(
                ErrorVerb::Read,
                io::Error::new(io::ErrorKind::InvalidData, e),
            )
        })?;
        Ok(Some(Snapshot {
            meta: file.meta,
            snapshot: Box::new(Cursor::new(bytes)),
        }))
    }
}
