//! Broker liveness in cluster mode (the design is in `cluster/mod.rs`):
//! this broker registers (fenced), waits until its local topics follow
//! the image holding its registration, unfences itself, and from then on
//! checks every 200 ms that it is still registered and unfenced at
//! its epoch ([`run_broker`], a broker's duty). On the active controller
//! a loop of its own fences every broker it has not heard from for
//! `broker.session.timeout.ms` ([`run_controller`], a controller's duty).
//! A broker asked to stop moves its leadership away first
//! ([`controlled_shutdown`]).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fjord_metadata::controller::{fence_broker_records, unfence_broker_records};
use fjord_metadata::records::MetadataRecord;
use fjord_metadata::{MetadataImage, ProposeError};
use tokio::sync::watch;

use super::Cluster;

/// How long a new quorum leader gives the previous one to answer its
/// heartbeats before fencing it for its silence as a leader: a quarter of
/// the session, at most 500 ms (a live node answers within milliseconds).
pub fn previous_leader_grace(session_timeout: Duration) -> Duration {
    (session_timeout / 4).min(Duration::from_millis(500))
}

/// How often the loop looks at the image and the quorum.
const TICK: Duration = Duration::from_millis(200);

/// How long to wait for this broker's own records to be applied locally.
const APPLY_WAIT: Duration = Duration::from_secs(10);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The epoch of a new registration: the wall clock in milliseconds, above
/// any earlier registration of this broker (the image refuses an epoch
/// that does not move forward). Kafka uses the registration's offset; the
/// offset is not known before the proposal commits.
pub fn next_epoch(image: &MetadataImage, broker_id: i32, now_ms: i64) -> i64 {
    let old = image.brokers.get(&broker_id).map_or(0, |b| b.epoch);
    now_ms.max(old.saturating_add(1))
}

/// Which brokers the active controller fences now: unfenced brokers other
/// than itself whose last sign of life (or, if later or missing, the moment
/// this node became leader) is older than `timeout`.
///
/// The previous quorum leader is the exception: this node followed it
/// until the election and heard its heartbeats, so its silence is counted
/// from its last heartbeat, not from the election. A leader that died is
/// thus fenced as soon as its session has run out (but not before
/// [`previous_leader_grace`] after the election), not a whole session after
/// the election (Kafka's new controller waits the whole session for every
/// broker). A previous leader that is alive (the election came from a
/// glitch) answers this node's first heartbeats within the grace and is
/// not fenced.
pub fn silent_brokers(
    image: &MetadataImage,
    self_id: i32,
    last_heard: &BTreeMap<i32, SystemTime>,
    leader_since: SystemTime,
    previous_leader: Option<i32>,
    now: SystemTime,
    timeout: Duration,
) -> Vec<i32> {
    image
        .brokers
        .values()
        .filter(|b| !b.fenced && b.broker_id != self_id)
        .filter(|b| {
            let heard = last_heard.get(&b.broker_id).copied();
            match heard {
                Some(t) if previous_leader == Some(b.broker_id) => {
                    now.duration_since(t).unwrap_or_default() > timeout
                        && now.duration_since(leader_since).unwrap_or_default()
                            > previous_leader_grace(timeout)
                }
                Some(t) => now.duration_since(t.max(leader_since)).unwrap_or_default() > timeout,
                None => now.duration_since(leader_since).unwrap_or_default() > timeout,
            }
        })
        .map(|b| b.broker_id)
        .collect()
}

/// The broker's duty, run until `stop` on every broker: registers this
/// broker and unfences it once caught up, again whenever the image shows
/// it fenced or registered by another incarnation.
pub async fn run_broker(cluster: Arc<Cluster>, stop: watch::Receiver<bool>) {
    let mut ticks = Ticks(stop);
    loop {
        retry_later(broker_tick(&cluster).await);
        if !ticks.next().await {
            return;
        }
    }
}

/// The controller's duty, run until `stop` on every voter: while this node
/// is the active controller, fences every broker it has not heard from for
/// `broker.session.timeout.ms`.
pub async fn run_controller(cluster: Arc<Cluster>, stop: watch::Receiver<bool>) {
    let mut leadership = Leadership::default();
    let mut ticks = Ticks(stop);
    loop {
        retry_later(controller_tick(&cluster, &mut leadership).await);
        if !ticks.next().await {
            return;
        }
    }
}

/// The loops' pace: one step every [`TICK`] until the stop signal.
struct Ticks(watch::Receiver<bool>);

impl Ticks {
    /// Waits for the next tick; false once asked to stop.
    async fn next(&mut self) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(TICK) => true,
            _ = self.0.changed() => false,
        }
    }
}

/// A failed step is logged and retried at the next tick.
fn retry_later(result: Result<(), ProposeError>) {
    if let Err(e) = result {
        tracing::debug!(error = %e, "cluster liveness step failed; retrying");
    }
}

/// What the liveness loop remembers of the quorum's leadership.
#[derive(Default)]
struct Leadership {
    /// When this node became the quorum leader (None: not leader).
    since: Option<SystemTime>,
    /// The leader this node last followed (another node).
    followed: Option<i32>,
    /// The leader before this node, while it is leader.
    previous: Option<i32>,
}

/// One broker step: (re-)register or unfence this broker if needed.
async fn broker_tick(cluster: &Cluster) -> Result<(), ProposeError> {
    let id = cluster.node_id;
    let image = cluster.image();
    let leaving = cluster.shutting_down.load(Ordering::Acquire);
    match image.brokers.get(&id) {
        _ if leaving => {}
        Some(b) if b.epoch == cluster.epoch() && b.incarnation_id == cluster.incarnation => {
            if b.fenced && caught_up(cluster, &image).await {
                let records = unfence_broker_records(&image, id);
                if !records.is_empty() {
                    cluster.quorum.propose(records).await?;
                    tracing::info!(broker = id, "broker unfenced");
                }
            }
        }
        _ => register(cluster, &image).await?,
    }
    Ok(())
}

/// One controller step: on the active controller, fence silent brokers.
/// Voters and observers (broker-only nodes) alike are heard from through
/// their answers to the leader's replication.
async fn controller_tick(
    cluster: &Cluster,
    leadership: &mut Leadership,
) -> Result<(), ProposeError> {
    let id = cluster.node_id;
    let image = cluster.image();
    let quorum = cluster.quorum.describe();
    if cluster.quorum.is_leader() {
        if leadership.since.is_none() {
            leadership.since = Some(SystemTime::now());
            leadership.previous = leadership.followed;
        }
        let since = leadership.since.unwrap_or_else(SystemTime::now);
        let heard: BTreeMap<i32, SystemTime> = quorum
            .voters
            .into_iter()
            .chain(quorum.observers)
            .filter_map(|v| Some((i32::try_from(v.id).ok()?, v.last_ack?)))
            .collect();
        let silent = silent_brokers(
            &image,
            id,
            &heard,
            since,
            leadership.previous,
            SystemTime::now(),
            cluster.session_timeout,
        );
        for broker in silent {
            let records = fence_broker_records(&cluster.image(), broker, false);
            if records.is_empty() {
                continue;
            }
            let moved = records.len() - 1;
            cluster.quorum.propose(records).await?;
            tracing::warn!(
                broker,
                partitions_changed = moved,
                "fenced a broker silent for longer than broker.session.timeout.ms"
            );
        }
    } else {
        leadership.since = None;
        leadership.previous = None;
        if let Some(leader) = quorum.leader_id.and_then(|l| i32::try_from(l).ok()) {
            if leader != id {
                leadership.followed = Some(leader);
            }
        }
    }
    Ok(())
}

/// Kafka's controlled shutdown, run when this broker is asked to stop
/// (SIGTERM) in cluster mode: it fences itself through the quorum, which
/// moves the leadership of every partition it leads to another in-sync
/// replica and takes it out of every ISR, and waits (at most `timeout`)
/// until this broker has applied that change, so clients are sent to the
/// new leaders at once instead of after `broker.session.timeout.ms`. A
/// partition whose only in-sync replica is this broker stays led by it
/// until it stops (then offline, as in Kafka). Returns the number of
/// partitions whose leader or ISR changed, or why it could not.
pub async fn controlled_shutdown(cluster: &Cluster, timeout: Duration) -> Result<usize, String> {
    cluster.shutting_down.store(true, Ordering::Release);
    let image = cluster.image();
    let Some(me) = image.brokers.get(&cluster.node_id) else {
        return Ok(0);
    };
    if me.fenced {
        return Ok(0);
    }
    let records = fence_broker_records(&image, cluster.node_id, false);
    let moved = records.len().saturating_sub(1);
    let offset = tokio::time::timeout(timeout, cluster.quorum.propose(records))
        .await
        .map_err(|_| {
            format!(
                "the quorum did not commit within {} ms",
                timeout.as_millis()
            )
        })?
        .map_err(|e| e.to_string())?;
    if !cluster.wait_applied(offset, timeout).await {
        return Err("the change committed but was not applied here in time".into());
    }
    Ok(moved)
}

/// Whether the local topics follow an image at least as new as `image`.
async fn caught_up(cluster: &Cluster, image: &MetadataImage) -> bool {
    match image.offset {
        Some(offset) => cluster.wait_applied(offset, APPLY_WAIT).await,
        None => true,
    }
}

/// Registers this broker with a new epoch.
async fn register(cluster: &Cluster, image: &MetadataImage) -> Result<(), ProposeError> {
    let epoch = next_epoch(image, cluster.node_id, now_ms());
    let record = MetadataRecord::RegisterBroker {
        broker_id: cluster.node_id,
        incarnation_id: cluster.incarnation.clone(),
        broker_epoch: epoch,
        endpoints: cluster.endpoints.clone(),
        rack: cluster.rack.clone(),
    };
    cluster.set_epoch(epoch);
    cluster.quorum.propose(vec![record]).await?;
    tracing::info!(broker = cluster.node_id, epoch, "broker registered");
    Ok(())
}
