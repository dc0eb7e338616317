//! Starts the broker: opens the data directory, binds the Kafka listeners
//! (each named listener its own accept loop, TLS set up once for those
//! that need it) and the HTTP listener, runs background tasks (retention, periodic flush, the log
//! cleaner), and shuts
//! down cleanly: stop accepting, let connections finish what they were
//! answering, then sync and close every log.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::BrokerConfig;
use crate::state::BrokerState;

/// How long one attempt at the initial metadata catch-up may take before
/// it is logged and tried again (cluster mode).
const CATCH_UP_ATTEMPT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open data directory: {0}")]
    State(#[from] crate::state::StateError),
    #[error("startup task failed: {0}")]
    Join(String),
    #[error("schema registry: {0}")]
    SchemaRegistry(String),
    /// A clean stop could not make everything durable (a full or broken
    /// disk): the named partitions recover at the next start.
    #[error("shutdown was not clean: {0}")]
    UncleanShutdown(String),
    #[error("{0}")]
    Security(String),
    #[error("cluster mode: {0}")]
    Cluster(String),
}

/// Bound addresses, reported once the broker is serving.
#[derive(Clone, Debug)]
pub struct Started {
    /// The first Kafka listener's bound address (None on a
    /// controller-only node, which has none).
    pub kafka: Option<std::net::SocketAddr>,
    /// Every Kafka listener: (name, security protocol, bound address).
    pub listeners: Vec<(String, &'static str, std::net::SocketAddr)>,
    pub http: std::net::SocketAddr,
    /// The schema registry's listener, when it runs.
    pub schema_registry: Option<std::net::SocketAddr>,
    pub cluster_id: String,
    pub node_id: i32,
    pub data_dir: std::path::PathBuf,
}

/// Runs until `shutdown` resolves. `on_started` is called once serving.
pub async fn run(
    config: BrokerConfig,
    shutdown: impl std::future::Future<Output = ()>,
    on_started: impl FnOnce(&Started),
) -> Result<(), ServerError> {
    let mut config = config;
    // A single-node directory entering cluster mode (as a broker) is noted
    // before the quorum directory appears (`cluster/migrate.rs`).
    let migrating = config.cluster.enabled()
        && config.cluster.broker_role
        && crate::cluster::migrate::prepare(&config).map_err(ServerError::Cluster)?;
    // Cluster mode: join the quorum first, so a node of another cluster
    // stops before anything is opened.
    let quorum = if config.cluster.enabled() {
        Some(
            crate::cluster::start::quorum(&mut config)
                .await
                .map_err(ServerError::Cluster)?,
        )
    } else {
        None
    };
    let role = config
        .cluster
        .role(config.node_id)
        .map_err(ServerError::Cluster)?;
    let http_addr = config.http.clone();
    // A controller-only node serves no Kafka client: no Kafka listener.
    let kafka = if role.is_broker() {
        bind_listeners(&config).await?
    } else {
        Vec::new()
    };
    let http_listener =
        TcpListener::bind(&http_addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: http_addr.clone(),
                source,
            })?;
    let registry_listener = if role.is_broker() {
        crate::schemas::bind(&config.schema_registry)
            .await
            .map_err(|(addr, source)| ServerError::Bind { addr, source })?
    } else {
        None
    };
    let (ready_tx, ready_rx) = watch::channel(false);
    let metrics = Arc::new(crate::metrics::Metrics::new(
        &crate::handlers::served_versions(),
    ));
    tokio::spawn(crate::http::serve(
        http_listener,
        ready_rx.clone(),
        metrics.clone(),
    ));

    // Log recovery may scan segments: do it off the async workers.
    let m = metrics.clone();
    let state = tokio::task::spawn_blocking(move || BrokerState::open_with_metrics(config, m))
        .await
        .map_err(|e| ServerError::Join(e.to_string()))??;
    // The transaction coordinator replays __transaction_state and finishes
    // what a crash left open before any client is served.
    let state = tokio::task::spawn_blocking(move || {
        crate::txn_io::open(&state);
        state
    })
    .await
    .map_err(|e| ServerError::Join(e.to_string()))?;
    let state = Arc::new(state);
    crate::metrics_state::attach(&metrics, &state);
    let (stop_tx, stop_rx) = watch::channel(false);
    if let Some(quorum) = quorum {
        let bound: Vec<_> = kafka
            .iter()
            .map(|(_, ctx, a)| (ctx.name.to_string(), ctx.protocol.name(), *a))
            .collect();
        let config = state.config();
        let inter_broker = crate::cluster::peer::InterBroker::from_config(&config, metrics.clone())
            .map_err(ServerError::Cluster)?;
        tracing::info!(listener = %inter_broker.listener, protocol = inter_broker.protocol.name(), "inter-broker listener");
        let cluster = Arc::new(crate::cluster::Cluster::new(
            quorum,
            state.node_id,
            Duration::from_millis(config.cluster.session_timeout_ms),
            crate::cluster::start::endpoints(&config, &bound),
            config.cluster.rack.clone(),
            inter_broker,
        ));
        state.set_cluster(cluster.clone());
        if migrating {
            crate::cluster::migrate::run(&state, &cluster)
                .await
                .map_err(ServerError::Cluster)?;
        }
        if role.is_broker() {
            spawn_broker_duties(&state, &cluster, stop_rx.clone());
        }
        if role.is_controller() {
            spawn_controller_duties(&state, &cluster, stop_rx.clone());
        }
    }
    let mut registry = None;
    if let Some(l) = registry_listener {
        let started = crate::schemas::start(&state, &metrics, l, stop_rx.clone())
            .map_err(ServerError::SchemaRegistry)?;
        registry = Some(started);
    }
    tokio::pin!(shutdown);
    // Cluster mode: clients are served only once this broker caught up
    // with the metadata (Kafka's initial catch-up), so a restarted broker
    // never authenticates or answers from the image of its last snapshot.
    let mut stopped = false;
    if let Some(cluster) = state.cluster() {
        let began = std::time::Instant::now();
        loop {
            let deadline = tokio::time::Instant::now() + CATCH_UP_ATTEMPT;
            // A broker waits for its replay too; a controller-only node
            // (no replay) for its quorum member.
            let caught_up = async {
                if role.is_broker() {
                    crate::cluster::catch_up::replay(cluster, deadline).await
                } else {
                    crate::cluster::catch_up::quorum(cluster, deadline).await
                }
            };
            tokio::select! {
                caught = caught_up => match caught {
                    Ok(()) => {
                        tracing::info!(elapsed_ms = began.elapsed().as_millis() as u64, "caught up with the cluster metadata");
                        break;
                    }
                    Err(e) => tracing::warn!(error = %e, waited_s = began.elapsed().as_secs(), "not serving clients until this broker has caught up with the cluster metadata"),
                },
                _ = &mut shutdown => {
                    stopped = true;
                    break;
                }
            }
        }
    }
    let _ = ready_tx.send(true);

    if role.is_broker() && kafka.is_empty() {
        return Err(ServerError::Security("no listener".into()));
    }
    let started = Started {
        kafka: kafka.first().map(|(_, _, a)| *a),
        listeners: kafka
            .iter()
            .map(|(_, ctx, a)| (ctx.name.to_string(), ctx.protocol.name(), *a))
            .collect(),
        http: http_listener_addr(&http_addr),
        schema_registry: registry.as_ref().map(|(a, _)| *a),
        cluster_id: state.cluster_id.clone(),
        node_id: state.node_id,
        data_dir: state.config().data_dir.clone(),
    };
    on_started(&started);

    let background = tokio::spawn(background_tasks(state.clone(), stop_rx.clone()));
    let mut connections = tokio::task::JoinSet::new();
    let request_memory =
        crate::request_memory::RequestMemory::new(state.config().queued_max_request_bytes);
    // One accept loop per listener, feeding the connection set.
    let (accepted_tx, mut accepted_rx) = tokio::sync::mpsc::channel(64);
    let mut accept_loops = tokio::task::JoinSet::new();
    for (listener, ctx, _) in kafka {
        accept_loops.spawn(accept_loop(
            state.clone(),
            listener,
            ctx,
            accepted_tx.clone(),
        ));
    }
    drop(accepted_tx);
    if !stopped {
        loop {
            tokio::select! {
                Some((stream, peer, ctx, slot)) = accepted_rx.recv() => {
                    let serve = crate::connection::serve(
                        state.clone(),
                        stream,
                        peer,
                        ctx,
                        stop_rx.clone(),
                        request_memory.clone(),
                    );
                    connections.spawn(async move {
                        // The connection counts against the limits until closed.
                        let _slot = slot;
                        serve.await
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                _ = &mut shutdown => break,
            }
        }
    }
    if let Some(cluster) = state.cluster() {
        // Controlled shutdown: leadership moves away before this broker
        // stops answering.
        match crate::cluster::liveness::controlled_shutdown(cluster, Duration::from_secs(5)).await {
            Ok(moved) => tracing::info!(
                partitions_changed = moved,
                "controlled shutdown: leadership moved to other replicas"
            ),
            Err(e) => tracing::warn!(
                error = %e,
                "controlled shutdown failed; the controller fences this broker after broker.session.timeout.ms"
            ),
        }
    }
    tracing::info!("shutting down: answering in-flight requests");
    let _ = ready_tx.send(false);
    accept_loops.abort_all();
    drop(accepted_rx);
    let _ = stop_tx.send(true);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain)
        .await
        .is_err()
    {
        tracing::warn!("connections did not finish within 10 s; closing anyway");
        connections.abort_all();
    }
    background.abort();
    if let Some((_, task)) = registry {
        // In-flight registry writes finish before the logs close.
        if tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .is_err()
        {
            tracing::warn!("schema registry did not stop within 5 s");
        }
    }
    let st = state.clone();
    let report = tokio::task::spawn_blocking(move || st.close_all())
        .await
        .map_err(|e| ServerError::Join(e.to_string()))?;
    if !report.is_clean() {
        let summary = unclean_summary(&report);
        tracing::error!(
            partitions_not_closed = report.failed.len(),
            partitions_closed = report.closed,
            "{summary}"
        );
        return Err(ServerError::UncleanShutdown(summary));
    }
    if let Some(cluster) = state.cluster() {
        cluster.quorum.shutdown().await;
    }
    tracing::info!("clean shutdown complete");
    Ok(())
}

/// Starts what every broker of a cluster runs: users, ACLs and quotas
/// from the image, the replay of the image into local topics, replica
/// fetching, ISR upkeep and its own registration (`liveness::run_broker`).
fn spawn_broker_duties(
    state: &Arc<BrokerState>,
    cluster: &Arc<crate::cluster::Cluster>,
    stop: watch::Receiver<bool>,
) {
    // Users, ACLs and quotas come from the metadata image, never from
    // this node's `meta/` files.
    crate::cluster::security_sync::apply(state, &cluster.image(), None);
    tokio::spawn(crate::cluster::security_sync::add_scram(
        cluster.clone(),
        state.config().add_scram.clone(),
        stop.clone(),
    ));
    tokio::spawn(crate::cluster::replay::run(
        state.clone(),
        cluster.clone(),
        stop.clone(),
    ));
    tokio::spawn(crate::cluster::fetcher::run(
        state.clone(),
        cluster.clone(),
        stop.clone(),
    ));
    tokio::spawn(crate::cluster::isr::run(
        state.clone(),
        cluster.clone(),
        stop.clone(),
    ));
    tokio::spawn(crate::cluster::liveness::run_broker(cluster.clone(), stop));
}

/// Starts what every voter runs and acts on only while it is the active
/// controller (the quorum leader): fencing silent brokers, completing
/// reassignments and rebalancing leadership.
fn spawn_controller_duties(
    state: &Arc<BrokerState>,
    cluster: &Arc<crate::cluster::Cluster>,
    stop: watch::Receiver<bool>,
) {
    tokio::spawn(crate::cluster::liveness::run_controller(
        cluster.clone(),
        stop.clone(),
    ));
    tokio::spawn(crate::cluster::reassign::run(cluster.clone(), stop.clone()));
    tokio::spawn(crate::cluster::rebalance::run(
        state.clone(),
        cluster.clone(),
        stop,
    ));
}

/// One sentence on what a stop could not flush (a few partitions named).
fn unclean_summary(report: &crate::state::CloseReport) -> String {
    const NAMED: usize = 5;
    let mut parts = Vec::new();
    if !report.failed.is_empty() {
        let names: Vec<&str> = report
            .failed
            .iter()
            .take(NAMED)
            .map(|(p, _)| p.as_str())
            .collect();
        let more = report.failed.len().saturating_sub(NAMED);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        parts.push(format!(
            "{} partitions were not flushed and will be recovered at the next start ({}{more}; first error: {})",
            report.failed.len(),
            names.join(", "),
            report.failed[0].1
        ));
    }
    if let Some(e) = &report.sync_error {
        parts.push(format!(
            "the final filesystem sync failed ({e}); every partition will be recovered at the next start"
        ));
    }
    parts.join("; ")
}

type Accepted = (
    tokio::net::TcpStream,
    std::net::SocketAddr,
    Arc<crate::connection::ListenerCtx>,
    crate::quotas::connections::Slot,
);

/// Binds every Kafka listener; builds the TLS context (and starts its
/// reload task) if any needs it.
async fn bind_listeners(
    config: &BrokerConfig,
) -> Result<
    Vec<(
        TcpListener,
        Arc<crate::connection::ListenerCtx>,
        std::net::SocketAddr,
    )>,
    ServerError,
> {
    let listeners = config.listeners_resolved().map_err(ServerError::Security)?;
    let tls = if listeners.iter().any(|l| l.protocol.tls()) {
        let settings = config.tls.clone();
        let ctx =
            tokio::task::spawn_blocking(move || crate::security::tls::TlsContext::new(settings))
                .await
                .map_err(|e| ServerError::Join(e.to_string()))?
                .map_err(ServerError::Security)?;
        crate::security::tls_reload::spawn(&ctx);
        Some(ctx)
    } else {
        None
    };
    // OAUTHBEARER: the key set is read once here (a startup error if it
    // cannot be), then refreshed by the validator.
    let oauth = if config.sasl_mechanisms.iter().any(|m| m == "OAUTHBEARER")
        && listeners.iter().any(|l| l.protocol.sasl())
    {
        let settings = config.oauth.clone();
        let v = tokio::task::spawn_blocking(move || {
            crate::security::oauth::OAuthValidator::new(settings)
        })
        .await
        .map_err(|e| ServerError::Join(e.to_string()))?
        .map_err(ServerError::Security)?;
        Some(Arc::new(v))
    } else {
        None
    };
    let mut out = Vec::new();
    for l in listeners {
        let bound = TcpListener::bind(&l.addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: l.addr.clone(),
                source,
            })?;
        let addr = bound.local_addr().map_err(|source| ServerError::Bind {
            addr: l.addr.clone(),
            source,
        })?;
        tracing::info!(listener = %l.name, protocol = l.protocol.name(), %addr, advertised = %l.advertised.addr, "Kafka listener bound");
        let ctx = crate::connection::ListenerCtx {
            name: Arc::from(l.name.as_str()),
            protocol: l.protocol,
            tls: tls.clone().filter(|_| l.protocol.tls()),
            oauth: oauth.clone().filter(|_| l.protocol.sasl()),
        };
        out.push((bound, Arc::new(ctx), addr));
    }
    Ok(out)
}

/// Accepts connections on one listener until the receiver goes away,
/// within the connection limits (`quotas::connections`).
async fn accept_loop(
    state: Arc<BrokerState>,
    listener: TcpListener,
    ctx: Arc<crate::connection::ListenerCtx>,
    to: tokio::sync::mpsc::Sender<Accepted>,
) {
    let pacer = crate::quotas::connections::CreationPacer::default();
    loop {
        let limits = state.config().connection_limits.clone();
        // At max.connections: leave new connections in the backlog.
        state.connections.wait_for_room(&limits).await;
        let wait = pacer.delay(limits.creation_rate);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        match listener.accept().await {
            Ok((stream, peer)) => {
                // KIP-612, before the per-address count as in Kafka.
                if let crate::quotas::ConnectionVerdict::Throttle {
                    throttle_ms,
                    quota,
                    log,
                } = state.quotas.connection_created(peer.ip())
                {
                    if let Some(throttled) = log {
                        tracing::info!(%peer, listener = %ctx.name, quota, throttle_ms, throttled, "connection throttled: over the connection_creation_rate quota of this address; closed after the throttle time");
                    }
                    state.metrics.connection_refused("connection_creation_rate");
                    // Held unread for the throttle time, then closed, as
                    // Kafka's acceptor does (at most one quota window).
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(throttle_ms)).await;
                        drop(stream);
                    });
                    continue;
                }
                let slot = match state.connections.admit(peer.ip(), &limits) {
                    Ok(slot) => slot,
                    Err(crate::quotas::connections::Refused::PerIp { limit }) => {
                        tracing::info!(%peer, listener = %ctx.name, limit, "connection refused: max.connections.per.ip reached for this address");
                        state.metrics.connection_refused("max.connections.per.ip");
                        drop(stream);
                        continue;
                    }
                };
                tracing::debug!(%peer, listener = %ctx.name, "connection accepted");
                if to.send((stream, peer, ctx.clone(), slot)).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(listener = %ctx.name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

fn http_listener_addr(addr: &str) -> std::net::SocketAddr {
    addr.parse()
        .unwrap_or_else(|_| std::net::SocketAddr::from(([127, 0, 0, 1], 9644)))
}

/// Retention and page-cache flushing, on their configured intervals.
async fn background_tasks(state: Arc<BrokerState>, mut stop: watch::Receiver<bool>) {
    // The cleaner may rewrite segments for a while: its own task, so the
    // ticks below keep their pace.
    let cleaner = state
        .config()
        .log_cleaner_enable
        .then(|| tokio::spawn(log_cleaner(state.clone(), stop.clone())));
    let _abort_cleaner = AbortOnDrop(cleaner);
    let retention_every = Duration::from_millis(state.config().retention_check_interval_ms);
    let mut retention = tokio::time::interval(retention_every);
    let mut flush = tokio::time::interval(Duration::from_millis(1000));
    // Group coordinator timers (sessions, join/sync deadlines, expiry).
    let mut groups = tokio::time::interval(Duration::from_millis(100));
    groups.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = groups.tick() => {
                // Off the async workers: the tick appends and fsyncs.
                let st = state.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    crate::groups::tick_durably(&st, crate::handlers::now_ms())
                })
                .await;
            }
            _ = retention.tick() => {
                let st = state.clone();
                let _ = tokio::task::spawn_blocking(move || enforce_retention(&st)).await;
            }
            _ = flush.tick() => {
                if state.read_only() {
                    let st = state.clone();
                    let _ = tokio::task::spawn_blocking(move || st.retry_read_write()).await;
                }
                let st = state.clone();
                let _ = tokio::task::spawn_blocking(move || periodic_flush(&st)).await;
                // Transaction timeouts (and unfinished completions).
                let st = state.clone();
                let _ = tokio::task::spawn_blocking(move || crate::txn_io::tick(&st)).await;
            }
            _ = stop.changed() => return,
        }
    }
}

/// Aborts a task when dropped (when the background tasks are aborted).
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            t.abort();
        }
    }
}

/// The log cleaner: every `log.cleaner.backoff.ms`, compacts each
/// partition whose `cleanup.policy` includes `compact` and is due (see
/// `fjord_storage::Log::compact`), one partition at a time.
async fn log_cleaner(state: Arc<BrokerState>, mut stop: watch::Receiver<bool>) {
    loop {
        let st = state.clone();
        let _ = tokio::task::spawn_blocking(move || clean_logs(&st)).await;
        // Read every round: log.cleaner.backoff.ms is a dynamic config.
        let every = Duration::from_millis(state.config().log_cleaner_backoff_ms);
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

fn clean_logs(state: &BrokerState) {
    for t in state.all_topics() {
        if !t.log_config.cleanup_policy.compacts() {
            continue;
        }
        for p in &t.partitions {
            let started = std::time::Instant::now();
            match p
                .log
                .compact_to(crate::handlers::now_ms(), p.last_stable_offset())
            {
                Ok(s) if s.changed_log() => tracing::info!(
                    topic = %t.name,
                    partition = p.index,
                    segments_before = s.segments_before,
                    segments_after = s.segments_after,
                    bytes_before = s.bytes_before,
                    bytes_after = s.bytes_after,
                    records_before = s.records_before,
                    records_after = s.records_after,
                    tombstones_removed = s.tombstones_removed,
                    dirty_ratio = s.dirty_ratio,
                    cleaned_up_to = s.cleaned_up_to,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "log cleaner compacted a partition"
                ),
                Ok(s) if s.ran => tracing::debug!(
                    topic = %t.name,
                    partition = p.index,
                    dirty_ratio = s.dirty_ratio,
                    groups_skipped = s.groups_skipped,
                    "log cleaner ran; nothing to remove"
                ),
                Ok(_) => {}
                // Deleted or closed (shutdown) meanwhile.
                Err(fjord_storage::StorageError::Closed) => {}
                Err(e) => {
                    tracing::warn!(topic = %t.name, partition = p.index, error = %e, "log cleaner failed")
                }
            }
        }
    }
}

fn enforce_retention(state: &BrokerState) {
    let now = crate::handlers::now_ms();
    for t in state.all_topics() {
        for p in &t.partitions {
            match p.log.enforce_retention(now) {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(topic = %t.name, partition = p.index, segments = n, log_start = p.log.log_start_offset(), "retention deleted segments");
                    // Aborted transactions wholly below the log start are gone.
                    if let Ok(mut s) = p.producers.lock() {
                        s.prune_aborted(p.log.log_start_offset());
                    }
                }
                // Deleted (or closed) meanwhile: it left the broker.
                Err(fjord_storage::StorageError::Closed) => {}
                Err(e) => {
                    tracing::error!(topic = %t.name, partition = p.index, error = %e, "retention failed")
                }
            }
        }
    }
}

fn periodic_flush(state: &BrokerState) {
    let now = crate::handlers::now_ms();
    for t in state.all_topics() {
        for p in &t.partitions {
            // Page-cache mode syncs on its intervals; the default mode uses
            // this to make acks=0 writes durable and checkpoint watermarks.
            match p.log.flush_if_due(now) {
                Ok(_) => {
                    if p.follow_durable() {
                        state.notify_data();
                    }
                }
                Err(fjord_storage::StorageError::Closed) => {}
                Err(e) => {
                    tracing::error!(topic = %t.name, partition = p.index, error = %e, "flush failed")
                }
            }
        }
    }
}
