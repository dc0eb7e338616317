//! Catching up with the metadata quorum: a node knows it has everything
//! the quorum committed before a moment once an entry it proposes after
//! that moment is applied here (an empty entry, a barrier). Used by the
//! single-node migration before it plans (`migrate.rs`) and by the server
//! before it serves clients, as a Kafka broker waits for its initial
//! metadata catch-up: otherwise a restarted broker would authenticate,
//! authorize and answer with the users, ACLs and topics of its last
//! snapshot until its replay caught up.

use std::time::Duration;

use fjord_metadata::records::MetadataRecord;
use fjord_metadata::ProposeError;
use tokio::time::Instant;

use super::Cluster;

/// How often the progress is looked at.
const POLL: Duration = Duration::from_millis(20);

/// Proposes `records` until they commit, retrying while there is no
/// leader or the outcome is unknown, until `deadline`; returns the
/// entry's offset, or the last error (a rejection or shutdown at once).
pub async fn propose_until(
    cluster: &Cluster,
    records: Vec<MetadataRecord>,
    deadline: Instant,
) -> Result<u64, ProposeError> {
    loop {
        match cluster.quorum.propose(records.clone()).await {
            Ok(offset) => return Ok(offset),
            Err(e @ (ProposeError::Rejected { .. } | ProposeError::Shutdown)) => return Err(e),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(e) => {
                tracing::debug!(error = %e, "the metadata quorum took no proposal yet; retrying");
                tokio::time::sleep(Duration::from_millis(500).min(deadline - Instant::now())).await;
            }
        }
    }
}

/// Waits until this node's quorum member has applied every entry
/// committed before the call.
pub async fn quorum(cluster: &Cluster, deadline: Instant) -> Result<(), String> {
    let barrier = propose_until(cluster, Vec::new(), deadline)
        .await
        .map_err(|e| format!("the metadata quorum took no entry: {e}"))?;
    while cluster
        .quorum
        .describe()
        .high_watermark
        .is_none_or(|applied| applied <= barrier)
    {
        if Instant::now() >= deadline {
            return Err("this node did not catch up with the metadata quorum in time".into());
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

/// As [`quorum`], and then until the replay applied that image to the
/// local topics, users, ACLs and quotas.
pub async fn replay(cluster: &Cluster, deadline: Instant) -> Result<(), String> {
    quorum(cluster, deadline).await?;
    let Some(target) = cluster.image().offset else {
        return Ok(());
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if cluster.wait_applied(target, left).await {
        Ok(())
    } else {
        Err(format!(
            "the metadata replay did not reach offset {target} in time"
        ))
    }
}
