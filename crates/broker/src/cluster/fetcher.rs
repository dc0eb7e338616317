//! The replica fetcher: a follower copies its leaders' logs (Kafka's
//! `ReplicaFetcherThread`). One task per leader broker this broker
//! follows partitions of; [`run`] starts them as the image names new
//! leaders, and each ends once it has nothing left to follow.
//!
//! A leader task, per round: (1) for every partition it has not yet
//! validated at the current leader epoch, asks the leader
//! OffsetForLeaderEpoch for the end of the follower's latest epoch and
//! truncates the local log there (KIP-101; so a follower never keeps a
//! tail the new leader does not have); (2) sends one Fetch (v15, the
//! replica state carrying this broker's id and epoch; the current leader
//! epoch per partition; fetch offset = local log end) and appends what
//! comes back verbatim (`Partition::append_as_follower`), taking the
//! leader's high watermark bounded by its own log end. The leader learns
//! the follower's progress from the fetch offsets.
//!
//! Errors: a connection error drops the connection and retries after a
//! pause; an epoch error (the two brokers' images disagree for a moment)
//! waits for the image; OFFSET_OUT_OF_RANGE or a refused append
//! re-validates the partition (truncation again).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fjord_partition::Partition;
use fjord_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ReplicaState};
use fjord_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use fjord_protocol::messages::{FetchRequest, OffsetForLeaderEpochRequest};
use fjord_protocol::{ErrorCode, Request, Response, Uuid};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::peer::Peer;
use super::Cluster;
use crate::state::{BrokerState, Topic};

/// How often the task list is brought in line with the image.
const TICK: Duration = Duration::from_millis(250);
/// Pause after a failed round.
const BACKOFF: Duration = Duration::from_millis(300);
/// The least time between two log lines about refused replica requests.
const REFUSAL_LOG_INTERVAL_MS: u64 = 10_000;
/// The longest pause between connection attempts to a leader.
const MAX_CONNECT_BACKOFF: Duration = Duration::from_secs(5);
/// Fetch long-poll and limits.
const FETCH_MAX_WAIT_MS: i32 = 500;
const FETCH_MAX_BYTES: i32 = 16 << 20;
const PARTITION_MAX_BYTES: i32 = 1 << 20;
const FETCH_VERSION: i16 = 15;
const EPOCH_VERSION: i16 = 4;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Keeps one fetcher task per leader broker this broker follows.
pub async fn run(state: Arc<BrokerState>, cluster: Arc<Cluster>, mut stop: watch::Receiver<bool>) {
    let mut tasks: HashMap<i32, JoinHandle<()>> = HashMap::new();
    loop {
        tasks.retain(|_, t| !t.is_finished());
        for leader in followed(&state, cluster.node_id).keys() {
            if !tasks.contains_key(leader) {
                let task = follow(state.clone(), cluster.clone(), *leader, stop.clone());
                tasks.insert(*leader, tokio::spawn(task));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stop.changed() => return,
        }
    }
}

/// A partition this broker follows.
struct Followed {
    topic: Arc<Topic>,
    partition: Arc<Partition>,
}

/// The partitions this broker follows, by leader.
fn followed(state: &BrokerState, local: i32) -> HashMap<i32, Vec<Followed>> {
    let mut by_leader: HashMap<i32, Vec<Followed>> = HashMap::new();
    for topic in state.all_topics() {
        for p in &topic.partitions {
            let Some(r) = p.replication() else { continue };
            if r.leader < 0 || r.leader == local || !r.replicas.contains(&local) {
                continue;
            }
            by_leader.entry(r.leader).or_default().push(Followed {
                topic: topic.clone(),
                partition: p.clone(),
            });
        }
    }
    by_leader
}

/// Where a follower's log must be cut before it fetches from a new
/// leader. `leader` is the leader's answer to OffsetForLeaderEpoch for
/// the follower's latest epoch: (the largest epoch it has at or below
/// that one, where that epoch ends on its log), None when it has no such
/// epoch (then Kafka falls back to the high watermark). `ours_for_epoch`
/// is where the returned epoch ends on the follower's log.
pub fn truncation_offset(
    log_end: i64,
    high_watermark: i64,
    leader: Option<(i32, i64)>,
    ours_for_epoch: impl Fn(i32) -> Option<i64>,
) -> i64 {
    match leader {
        None => high_watermark.min(log_end),
        Some((epoch, end)) => end
            .min(ours_for_epoch(epoch).unwrap_or(log_end))
            .min(log_end),
    }
}

/// Follows `leader` until this broker follows nothing of it any more.
async fn follow(
    state: Arc<BrokerState>,
    cluster: Arc<Cluster>,
    leader: i32,
    stop: watch::Receiver<bool>,
) {
    let local = cluster.node_id;
    let mut peer: Option<Peer> = None;
    // Partitions truncated for their current leader epoch: (topic, index)
    // -> leader epoch.
    let mut validated: HashMap<(String, i32), i32> = HashMap::new();
    // Connection attempts failed in a row.
    let mut failures: u32 = 0;
    tracing::info!(leader, "replica fetcher started");
    loop {
        if *stop.borrow() {
            return;
        }
        let parts = followed(&state, local).remove(&leader).unwrap_or_default();
        if parts.is_empty() {
            tracing::info!(leader, "replica fetcher stopped: nothing left to follow");
            return;
        }
        let conn = match peer.as_mut() {
            Some(c) => c,
            None => {
                let client_id = format!("fjord-replica-{local}");
                match cluster
                    .connect_peer(leader, &client_id, REQUEST_TIMEOUT)
                    .await
                {
                    Ok(c) => {
                        failures = 0;
                        peer.insert(c)
                    }
                    Err(_) => {
                        // Logged and counted by connect_peer; back off
                        // further after each failure in a row.
                        tokio::time::sleep(backoff(failures)).await;
                        failures = failures.saturating_add(1);
                        continue;
                    }
                }
            }
        };
        let result = round(&state, &cluster, conn, &parts, &mut validated).await;
        match result {
            Ok(true) => {}
            Ok(false) => tokio::time::sleep(BACKOFF).await,
            Err(e) => {
                tracing::debug!(leader, error = %e, "replica fetch failed; reconnecting");
                peer = None;
                tokio::time::sleep(BACKOFF).await;
            }
        }
    }
}

/// The pause before the next connection attempt after `failures`
/// failed ones in a row: doubling from [`BACKOFF`] up to
/// [`MAX_CONNECT_BACKOFF`].
fn backoff(failures: u32) -> Duration {
    BACKOFF
        .saturating_mul(1 << failures.min(8))
        .min(MAX_CONNECT_BACKOFF)
}

/// Whether a leader's answer means this broker's principal may not act
/// as a replica (Kafka answers a follower without CLUSTER_ACTION with
/// TOPIC_AUTHORIZATION_FAILED per partition).
fn refused(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::TopicAuthorizationFailed | ErrorCode::ClusterAuthorizationFailed
    )
}

/// Logs a leader's refusal, at most every [`REFUSAL_LOG_INTERVAL_MS`]
/// (every fetcher task retries every few hundred milliseconds).
fn warn_refused(api: &'static str) {
    static LAST_MS: AtomicU64 = AtomicU64::new(0);
    let now = u64::try_from(fjord_storage::clock::now_ms()).unwrap_or(0);
    let last = LAST_MS.load(Ordering::Relaxed);
    if now.saturating_sub(last) < REFUSAL_LOG_INTERVAL_MS
        || LAST_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    tracing::warn!(
        api,
        "a leader refused this broker's replica requests (authorization): its principal on the \
         inter-broker listener needs CLUSTER_ACTION on the cluster (or to be a super user)"
    );
}

fn key(f: &Followed) -> (String, i32) {
    (f.topic.name.clone(), f.partition.index)
}

/// One round against the leader: truncation where needed, then a fetch.
/// Ok(false) when nothing could be fetched (back off).
async fn round(
    state: &Arc<BrokerState>,
    cluster: &Cluster,
    conn: &mut Peer,
    parts: &[Followed],
    validated: &mut HashMap<(String, i32), i32>,
) -> std::io::Result<bool> {
    let is_ready = |f: &Followed, v: &HashMap<(String, i32), i32>| {
        v.get(&key(f)) == Some(&f.partition.leader_epoch)
    };
    let unvalidated: Vec<&Followed> = parts.iter().filter(|f| !is_ready(f, validated)).collect();
    if !unvalidated.is_empty() {
        truncate(state, cluster, conn, &unvalidated, validated).await?;
    }
    let ready: Vec<&Followed> = parts.iter().filter(|f| is_ready(f, validated)).collect();
    if ready.is_empty() {
        return Ok(false);
    }
    let mut topics: Vec<FetchTopic> = Vec::new();
    for f in &ready {
        let p = &f.partition;
        let fp = FetchPartition {
            partition: p.index,
            current_leader_epoch: p.leader_epoch,
            fetch_offset: p.log.log_end_offset(),
            last_fetched_epoch: p.log.latest_epoch().unwrap_or(-1),
            log_start_offset: p.log.log_start_offset(),
            partition_max_bytes: PARTITION_MAX_BYTES,
            ..Default::default()
        };
        match topics.iter_mut().find(|t| t.topic_id == f.topic.id) {
            Some(t) => t.partitions.push(fp),
            None => topics.push(FetchTopic {
                topic: f.topic.name.clone(),
                topic_id: f.topic.id,
                partitions: vec![fp],
                ..Default::default()
            }),
        }
    }
    let req = Request::Fetch(FetchRequest {
        replica_id: -1,
        replica_state: ReplicaState {
            replica_id: cluster.node_id,
            replica_epoch: cluster.epoch(),
            ..Default::default()
        },
        max_wait_ms: FETCH_MAX_WAIT_MS,
        min_bytes: 1,
        max_bytes: FETCH_MAX_BYTES,
        isolation_level: 0,
        session_id: 0,
        session_epoch: -1,
        topics,
        ..Default::default()
    });
    let Response::Fetch(resp) = conn.call(FETCH_VERSION, &req, REQUEST_TIMEOUT).await? else {
        return Err(std::io::Error::other("unexpected response to Fetch"));
    };
    if resp.error_code != ErrorCode::None.code() {
        return Ok(false);
    }
    let st = state.clone();
    let index: HashMap<(Uuid, i32), Arc<Partition>> = ready
        .iter()
        .map(|f| ((f.topic.id, f.partition.index), f.partition.clone()))
        .collect();
    let applied = tokio::task::spawn_blocking(move || apply_fetch(&st, resp, &index))
        .await
        .map_err(std::io::Error::other)?;
    if applied.failed.iter().any(|(_, _, c)| refused(*c)) {
        warn_refused("Fetch");
    }
    let mut progress = true;
    for (topic_id, index, code) in applied.failed {
        if let Some(f) = ready
            .iter()
            .find(|f| f.topic.id == topic_id && f.partition.index == index)
        {
            if code == ErrorCode::OffsetOutOfRange || code == ErrorCode::CorruptMessage {
                validated.remove(&key(f));
            }
        }
        progress = false;
    }
    Ok(progress || applied.appended)
}

/// What applying one fetch response did.
struct Applied {
    appended: bool,
    /// Partitions that failed: (topic id, index, why).
    failed: Vec<(Uuid, i32, ErrorCode)>,
}

/// Appends a fetch response's records to the local logs. Blocking.
fn apply_fetch(
    state: &BrokerState,
    resp: fjord_protocol::messages::FetchResponse,
    index: &HashMap<(Uuid, i32), Arc<Partition>>,
) -> Applied {
    let now = fjord_storage::clock::now_ms();
    let mut out = Applied {
        appended: false,
        failed: Vec::new(),
    };
    let mut moved = false;
    for t in resp.responses {
        for pd in t.partitions {
            let Some(p) = index.get(&(t.topic_id, pd.partition_index)) else {
                continue;
            };
            if pd.error_code != ErrorCode::None.code() {
                let code =
                    ErrorCode::from_code(pd.error_code).unwrap_or(ErrorCode::UnknownServerError);
                out.failed.push((t.topic_id, pd.partition_index, code));
                continue;
            }
            let data = pd.records.unwrap_or_default();
            if !data.is_empty() {
                out.appended = true;
            }
            match p.append_as_follower(&data, pd.high_watermark, now) {
                Ok(m) => moved |= m,
                Err(e) => {
                    tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "follower append failed");
                    out.failed
                        .push((t.topic_id, pd.partition_index, ErrorCode::CorruptMessage));
                }
            }
        }
    }
    if moved {
        state.notify_data();
    }
    out
}

/// A truncation to make: the partition, the offset, its key and the
/// leader epoch it validates.
type Cut = (Arc<Partition>, i64, (String, i32), i32);

/// Asks the leader where each partition's latest local epoch ends and
/// truncates there; marks the partitions validated at their current
/// leader epoch.
async fn truncate(
    state: &Arc<BrokerState>,
    cluster: &Cluster,
    conn: &mut Peer,
    parts: &[&Followed],
    validated: &mut HashMap<(String, i32), i32>,
) -> std::io::Result<()> {
    let mut topics: Vec<OffsetForLeaderTopic> = Vec::new();
    let mut asked: HashSet<(String, i32)> = HashSet::new();
    for f in parts {
        let p = &f.partition;
        let Some(epoch) = p.log.latest_epoch() else {
            // Nothing with an epoch on the local log: nothing to cut.
            validated.insert(key(f), p.leader_epoch);
            continue;
        };
        asked.insert(key(f));
        let rp = OffsetForLeaderPartition {
            partition: p.index,
            current_leader_epoch: p.leader_epoch,
            leader_epoch: epoch,
            ..Default::default()
        };
        match topics.iter_mut().find(|t| t.topic == f.topic.name) {
            Some(t) => t.partitions.push(rp),
            None => topics.push(OffsetForLeaderTopic {
                topic: f.topic.name.clone(),
                partitions: vec![rp],
                ..Default::default()
            }),
        }
    }
    if topics.is_empty() {
        return Ok(());
    }
    let req = Request::OffsetForLeaderEpoch(OffsetForLeaderEpochRequest {
        replica_id: cluster.node_id,
        topics,
        ..Default::default()
    });
    let Response::OffsetForLeaderEpoch(resp) =
        conn.call(EPOCH_VERSION, &req, REQUEST_TIMEOUT).await?
    else {
        return Err(std::io::Error::other(
            "unexpected response to OffsetForLeaderEpoch",
        ));
    };
    let mut cuts: Vec<Cut> = Vec::new();
    for t in resp.topics {
        for r in t.partitions {
            let k = (t.topic.clone(), r.partition);
            if ErrorCode::from_code(r.error_code).is_some_and(refused) {
                warn_refused("OffsetForLeaderEpoch");
            }
            if !asked.contains(&k) || r.error_code != ErrorCode::None.code() {
                continue;
            }
            let Some(f) = parts.iter().find(|f| key(f) == k) else {
                continue;
            };
            let p = &f.partition;
            let answer = (r.leader_epoch >= 0 && r.end_offset >= 0)
                .then_some((r.leader_epoch, r.end_offset));
            let to = truncation_offset(p.log.log_end_offset(), p.high_watermark(), answer, |e| {
                p.log.end_offset_for_epoch(e).map(|(_, end)| end)
            });
            cuts.push((p.clone(), to, k, p.leader_epoch));
        }
    }
    let st = state.clone();
    let done = tokio::task::spawn_blocking(move || {
        let now = fjord_storage::clock::now_ms();
        let mut done = Vec::new();
        for (p, to, k, epoch) in cuts {
            let leo = p.log.log_end_offset();
            match p.truncate_to(to, now) {
                Ok(()) => {
                    if to < leo {
                        tracing::info!(topic = %p.topic, partition = p.index, from = leo, to, "truncated to the leader's log");
                    }
                    done.push((k, epoch));
                }
                Err(e) => {
                    tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "truncation failed")
                }
            }
        }
        st.notify_data();
        done
    })
    .await
    .map_err(std::io::Error::other)?;
    validated.extend(done);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{backoff, truncation_offset, BACKOFF, MAX_CONNECT_BACKOFF};

    #[test]
    fn connection_backoff_doubles_up_to_its_cap() {
        assert_eq!(backoff(0), BACKOFF);
        assert_eq!(backoff(1), BACKOFF * 2);
        assert_eq!(backoff(4), BACKOFF * 16);
        assert_eq!(backoff(5), MAX_CONNECT_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_CONNECT_BACKOFF);
    }

    #[test]
    fn truncation_point() {
        // The leader's epoch 3 ends at 50; ours at 60: cut at 50.
        assert_eq!(truncation_offset(60, 40, Some((3, 50)), |_| Some(60)), 50);
        // The leader has more of epoch 3 than we do: keep ours whole.
        assert_eq!(truncation_offset(45, 40, Some((3, 50)), |_| Some(45)), 45);
        // The leader's answer is an older epoch (2, ending at 30); ours
        // ends at 35: cut at 30.
        assert_eq!(truncation_offset(60, 20, Some((2, 30)), |_| Some(35)), 30);
        // Our log has that epoch ending earlier: cut at our end of it.
        assert_eq!(truncation_offset(60, 20, Some((2, 30)), |_| Some(25)), 25);
        // No answer: fall back to the high watermark.
        assert_eq!(truncation_offset(60, 20, None, |_| None), 20);
    }
}
