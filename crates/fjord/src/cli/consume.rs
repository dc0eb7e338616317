//! `fjord consume TOPIC`: fetch from the chosen partitions (or, with
//! `--group`, from the partitions the group assigns) and print each record.
//! As a group member it heartbeats between fetches, commits what it has
//! printed every few seconds and when it stops (count reached, end reached,
//! Ctrl-C, closed stdout), then leaves the group (a static member does
//! not: its place waits for it for the session timeout). With the
//! cooperative-sticky assignor a rebalance takes away only the partitions
//! that move; the others keep their positions.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fjord_client::{
    Client, ClientError, ConsumerHeartbeat, FetchOptions, HeartbeatOutcome, OffsetSpec,
    RebalanceProtocol, TopicInfo,
};
use fjord_protocol::ErrorCode;

use super::format::render_record;
use super::membership::Membership;
use super::out::Out;
use super::spec::FromSpec;
use super::{connect, CliError, CliResult, ConsumeArgs};

const COMMIT_INTERVAL: Duration = Duration::from_secs(5);
/// How long a partition may keep failing with retriable errors (broker
/// restarting, leader moving) before the command gives up.
const MAX_FAILING: Duration = Duration::from_secs(60);
/// The longest pause before a failed partition is fetched again (Kafka's
/// `retry.backoff.max.ms` default).
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(1);

/// A partition whose fetches fail: when to try it again.
struct Failing {
    since: Instant,
    attempts: u32,
    retry_at: Instant,
}

impl Failing {
    fn note(entry: Option<Failing>) -> Failing {
        let now = Instant::now();
        let (since, attempts) = entry.map_or((now, 1), |f| (f.since, f.attempts + 1));
        // 100 ms, doubling up to a second (Kafka's retry.backoff.ms).
        let pause = Duration::from_millis(100 << attempts.min(4)).min(MAX_RETRY_BACKOFF);
        Failing {
            since,
            attempts,
            retry_at: now + pause,
        }
    }
}

/// Start offsets for `partitions` according to `from`.
pub async fn start_offsets(
    client: &mut Client,
    topic: &str,
    partitions: &[i32],
    from: FromSpec,
    read_committed: bool,
) -> Result<BTreeMap<i32, i64>, ClientError> {
    if partitions.is_empty() {
        return Ok(BTreeMap::new());
    }
    let offsets = |m: BTreeMap<i32, (i64, i64)>| -> BTreeMap<i32, i64> {
        m.into_iter().map(|(p, (o, _))| (p, o)).collect()
    };
    Ok(match from {
        FromSpec::Start => offsets(
            client
                .list_offsets(topic, partitions, OffsetSpec::Earliest, read_committed)
                .await?,
        ),
        FromSpec::End => offsets(
            client
                .list_offsets(topic, partitions, OffsetSpec::Latest, read_committed)
                .await?,
        ),
        FromSpec::Offset(o) => partitions.iter().map(|&p| (p, o)).collect(),
        FromSpec::Timestamp(ts) => {
            let at = client
                .list_offsets(topic, partitions, OffsetSpec::Timestamp(ts), read_committed)
                .await?;
            let ends = offsets(
                client
                    .list_offsets(topic, partitions, OffsetSpec::Latest, read_committed)
                    .await?,
            );
            partitions
                .iter()
                .map(|&p| {
                    let end = ends.get(&p).copied().unwrap_or(0);
                    let o = at.get(&p).map_or(-1, |(o, _)| *o);
                    (p, if o < 0 { end } else { o })
                })
                .collect()
        }
        FromSpec::BeforeEnd(n) | FromSpec::AfterStart(n) => {
            let starts = offsets(
                client
                    .list_offsets(topic, partitions, OffsetSpec::Earliest, read_committed)
                    .await?,
            );
            let ends = offsets(
                client
                    .list_offsets(topic, partitions, OffsetSpec::Latest, read_committed)
                    .await?,
            );
            partitions
                .iter()
                .map(|&p| {
                    let start = starts.get(&p).copied().unwrap_or(0);
                    let end = ends.get(&p).copied().unwrap_or(start).max(start);
                    let o = match from {
                        FromSpec::BeforeEnd(_) => end.saturating_sub(n).max(start),
                        _ => start.saturating_add(n).min(end),
                    };
                    (p, o)
                })
                .collect()
        }
    })
}

struct Group {
    member: Membership,
    /// What was last committed, to skip commits that change nothing.
    committed: BTreeMap<i32, i64>,
    last_commit: Instant,
}

struct Consumer {
    client: Client,
    topic: TopicInfo,
    from: FromSpec,
    read_committed: bool,
    /// Next offset to fetch per partition.
    positions: BTreeMap<i32, i64>,
    /// Next offset after what has been printed (what a commit records).
    consumed: BTreeMap<i32, i64>,
    group: Option<Group>,
}

impl Consumer {
    /// Joins (or rejoins) the group and positions the assigned partitions
    /// at their committed offsets, or by `--from` where there is none.
    /// Eager assignors: every partition was given up before the join, all
    /// are positioned afresh. Cooperative: partitions kept keep their
    /// position; revoked ones are committed and dropped, and the member
    /// joins again at once for the rebalance's second round. KIP-848
    /// (`--group-protocol consumer`): a join starts with nothing owned.
    async fn join(&mut self) -> Result<(), ClientError> {
        // Two rounds finish a cooperative rebalance; a few more cover
        // members coming and going meanwhile.
        for _ in 0..10 {
            let Some(g) = self.group.as_mut() else {
                return Ok(());
            };
            let name = self.topic.name.clone();
            let (assignment, eager, revoked, again) = match &mut g.member {
                Membership::Classic(m) => {
                    let a = m.join(&mut self.client).await?;
                    let revoked: Vec<i32> = m
                        .revoked()
                        .iter()
                        .filter(|(t, _)| *t == name)
                        .map(|(_, p)| *p)
                        .collect();
                    (
                        a,
                        m.protocol() == RebalanceProtocol::Eager,
                        revoked,
                        m.needs_rejoin(),
                    )
                }
                Membership::Consumer(m) => {
                    (m.join(&mut self.client).await?, true, Vec::new(), false)
                }
            };
            self.apply_assignment(&assignment, eager, &revoked).await?;
            if let Some(Membership::Consumer(m)) = self.group.as_mut().map(|g| &mut g.member) {
                m.owned(&assignment);
            }
            if !again {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Makes `assignment` the partitions this consumer reads. `eager`: all
    /// positions are dropped first; else the partitions in `revoked` are
    /// committed and dropped and the others keep their positions. New
    /// partitions start at the committed offsets (or `--from`).
    async fn apply_assignment(
        &mut self,
        assignment: &[(String, Vec<i32>)],
        eager: bool,
        revoked: &[i32],
    ) -> Result<(), ClientError> {
        let name = self.topic.name.clone();
        let mut partitions: Vec<i32> = assignment
            .iter()
            .filter(|(t, _)| *t == name)
            .flat_map(|(_, ps)| ps.iter().copied())
            .collect();
        partitions.sort_unstable();
        partitions.dedup();
        if eager {
            self.positions.clear();
            self.consumed.clear();
            if let Some(g) = self.group.as_mut() {
                g.committed.clear();
            }
        } else {
            // What was printed from a revoked partition is committed
            // before its new owner reads the committed offset.
            self.commit_only(revoked).await?;
            self.positions.retain(|p, _| partitions.contains(p));
            self.consumed.retain(|p, _| partitions.contains(p));
            if let Some(g) = self.group.as_mut() {
                g.committed.retain(|p, _| partitions.contains(p));
            }
        }
        let fresh: Vec<i32> = partitions
            .iter()
            .copied()
            .filter(|p| !self.positions.contains_key(p))
            .collect();
        self.position(&fresh).await
    }

    /// Positions newly assigned partitions at the group's committed
    /// offsets, or by `--from` where there is none.
    async fn position(&mut self, partitions: &[i32]) -> Result<(), ClientError> {
        let Some(g) = self.group.as_mut() else {
            return Ok(());
        };
        if partitions.is_empty() {
            return Ok(());
        }
        let name = self.topic.name.clone();
        let group_id = g.member.group().to_string();
        let committed = self
            .client
            .committed_offsets(&group_id, Some(&[(name.clone(), partitions.to_vec())]))
            .await?;
        let mut missing = Vec::new();
        for &p in partitions {
            match committed.iter().find(|o| o.partition == p && o.offset >= 0) {
                Some(o) => {
                    self.positions.insert(p, o.offset);
                    self.consumed.insert(p, o.offset);
                    g.committed.insert(p, o.offset);
                }
                None => missing.push(p),
            }
        }
        if !missing.is_empty() {
            // The partition count may have grown since we last looked.
            self.topic = self.client.topic(&name).await?;
            let starts = start_offsets(
                &mut self.client,
                &name,
                &missing,
                self.from,
                self.read_committed,
            )
            .await?;
            for (p, o) in starts {
                self.positions.insert(p, o);
                self.consumed.insert(p, o);
            }
        }
        Ok(())
    }

    /// Commits the printed positions of `partitions` (revoked ones).
    async fn commit_only(&mut self, partitions: &[i32]) -> Result<(), ClientError> {
        if partitions.is_empty() {
            return Ok(());
        }
        let all = std::mem::take(&mut self.consumed);
        self.consumed = all
            .iter()
            .filter(|(p, _)| partitions.contains(p))
            .map(|(p, o)| (*p, *o))
            .collect();
        let result = self.commit().await;
        self.consumed = all;
        result
    }

    /// Commits the printed positions if they moved. Errors that mean "the
    /// group moved on" are left for the next heartbeat to act on.
    async fn commit(&mut self) -> Result<(), ClientError> {
        let Some(g) = self.group.as_mut() else {
            return Ok(());
        };
        g.last_commit = Instant::now();
        let changed: Vec<(String, i32, i64)> = self
            .consumed
            .iter()
            .filter(|(p, o)| g.committed.get(p) != Some(o))
            .map(|(p, o)| (self.topic.name.clone(), *p, *o))
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        match g.member.commit(&mut self.client, &changed).await {
            Ok(()) => {
                for (_, p, o) in changed {
                    g.committed.insert(p, o);
                }
                Ok(())
            }
            Err(e)
                if matches!(
                    e.code(),
                    Some(
                        ErrorCode::RebalanceInProgress
                            | ErrorCode::IllegalGeneration
                            | ErrorCode::UnknownMemberId
                            | ErrorCode::StaleMemberEpoch
                            | ErrorCode::FencedMemberEpoch
                    )
                ) =>
            {
                eprintln!("fjord: offsets not committed, the group is rebalancing: {e}");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Heartbeats and periodic commits; rejoins when the group rebalances
    /// (classic) or reconciles to a new target assignment (KIP-848).
    async fn group_upkeep(&mut self) -> Result<(), ClientError> {
        let Some(g) = self.group.as_mut() else {
            return Ok(());
        };
        let due = g.last_commit.elapsed() >= COMMIT_INTERVAL;
        match &mut g.member {
            Membership::Classic(m) => {
                if m.heartbeat_if_due(&mut self.client).await? == HeartbeatOutcome::Rejoin {
                    self.commit().await?;
                    return self.join().await;
                }
            }
            Membership::Consumer(m) => match m.heartbeat_if_due(&mut self.client).await? {
                ConsumerHeartbeat::Unchanged => {}
                ConsumerHeartbeat::Assignment(target) => {
                    let name = self.topic.name.clone();
                    let revoked: Vec<i32> = self
                        .positions
                        .keys()
                        .copied()
                        .filter(|p| !target.iter().any(|(t, ps)| *t == name && ps.contains(p)))
                        .collect();
                    self.apply_assignment(&target, false, &revoked).await?;
                    if let Some(Membership::Consumer(m)) =
                        self.group.as_mut().map(|g| &mut g.member)
                    {
                        m.owned(&target);
                    }
                    return Ok(());
                }
                ConsumerHeartbeat::Lost => {
                    // Fenced: the partitions are gone, nothing is committed.
                    let target = m.target();
                    self.apply_assignment(&target, true, &[]).await?;
                    if let Some(Membership::Consumer(m)) =
                        self.group.as_mut().map(|g| &mut g.member)
                    {
                        m.owned(&target);
                    }
                    return Ok(());
                }
            },
        }
        if due {
            self.commit().await?;
        }
        Ok(())
    }

    /// Where to continue after OFFSET_OUT_OF_RANGE: the log start when the
    /// position fell below it (retention), else the end.
    async fn reset(
        &mut self,
        partition: i32,
        position: i64,
        log_start: i64,
        end: i64,
    ) -> Result<i64, ClientError> {
        if log_start >= 0 && end >= 0 {
            return Ok(if position < log_start { log_start } else { end });
        }
        let name = self.topic.name.clone();
        let starts = self
            .client
            .list_offsets(
                &name,
                &[partition],
                OffsetSpec::Earliest,
                self.read_committed,
            )
            .await?;
        let ends = self
            .client
            .list_offsets(&name, &[partition], OffsetSpec::Latest, self.read_committed)
            .await?;
        let start = starts.get(&partition).map_or(0, |(o, _)| *o);
        let end = ends.get(&partition).map_or(start, |(o, _)| *o);
        Ok(if position < start { start } else { end })
    }
}

pub async fn run(args: ConsumeArgs) -> CliResult {
    // Flags that do not go together fail before anything is sent.
    let member = match &args.group {
        None => None,
        Some(g) => Some(Membership::new(g, &args)?),
    };
    let mut client = connect(&args.conn).await?;
    let topic = client.topic(&args.topic).await?;
    let mut consumer = Consumer {
        client,
        topic,
        from: args.from,
        read_committed: args.read_committed,
        positions: BTreeMap::new(),
        consumed: BTreeMap::new(),
        group: member.map(|member| Group {
            member,
            committed: BTreeMap::new(),
            last_commit: Instant::now(),
        }),
    };
    if consumer.group.is_some() {
        consumer.join().await?;
    } else {
        let partitions: Vec<i32> = if args.partitions.is_empty() {
            consumer
                .topic
                .partitions
                .iter()
                .map(|p| p.partition)
                .collect()
        } else {
            for &p in &args.partitions {
                if consumer.topic.partition(p).is_none() {
                    return Err(CliError::Failed(format!(
                        "topic {} has no partition {p} (it has {})",
                        args.topic,
                        consumer.topic.partitions.len()
                    )));
                }
            }
            args.partitions.clone()
        };
        consumer.positions = start_offsets(
            &mut consumer.client,
            &args.topic,
            &partitions,
            args.from,
            args.read_committed,
        )
        .await?;
        consumer.consumed = consumer.positions.clone();
    }
    let result = consume_loop(&mut consumer, &args).await;
    // Whatever ended the loop, record what was printed and leave the group.
    let mut finish: CliResult = Ok(());
    if consumer.group.is_some() {
        if let Err(e) = consumer.commit().await {
            finish = Err(CliError::Failed(format!("offsets not committed: {e}")));
        }
        if let Some(g) = consumer.group.as_mut() {
            if let Err(e) = g.member.leave(&mut consumer.client).await {
                tracing::debug!(error = %e, "leave group failed");
            }
        }
    }
    result.and(finish)
}

async fn consume_loop(c: &mut Consumer, args: &ConsumeArgs) -> CliResult {
    let mut out = Out::new();
    let opts = FetchOptions {
        read_committed: args.read_committed,
        ..Default::default()
    };
    let mut delivered: u64 = 0;
    // Partitions whose last fetch failed, backing off; the others go on.
    let mut failing: BTreeMap<i32, Failing> = BTreeMap::new();
    let mut last_refresh = Instant::now();
    // Per partition: was it at its end when its broker last answered?
    let mut ends: BTreeMap<i32, bool> = BTreeMap::new();
    let mut buf = Vec::with_capacity(64 << 10);
    let mut decoder = match args.value_format {
        Some(f) => Some(super::schema::Decoder::new(&args.schema_registry, f)?),
        None => None,
    };
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        if args.count.is_some_and(|n| delivered >= n) {
            return out.flush();
        }
        c.group_upkeep().await?;
        if c.positions.is_empty() {
            // A group member without partitions waits for a rebalance.
            if args.exit_at_end && c.group.is_none() {
                return out.flush();
            }
            if super::out::stdout_closed() {
                return Err(CliError::Quiet);
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                _ = &mut interrupted => return out.flush(),
            }
        }
        let now = Instant::now();
        failing.retain(|p, _| c.positions.contains_key(p));
        let ready: BTreeMap<i32, i64> = c
            .positions
            .iter()
            .filter(|(p, _)| failing.get(p).is_none_or(|f| f.retry_at <= now))
            .map(|(p, o)| (*p, *o))
            .collect();
        if ready.is_empty() {
            let next = failing.values().map(|f| f.retry_at).min().unwrap_or(now);
            tokio::select! {
                _ = tokio::time::sleep_until(next.into()) => continue,
                _ = &mut interrupted => return out.flush(),
            }
        }
        let fetched = tokio::select! {
            r = c.client.fetch(&c.topic, &ready, &opts) => r?,
            _ = &mut interrupted => return out.flush(),
        };
        let mut round_failed = None;
        for f in fetched {
            let p = f.partition;
            let Some(&position) = c.positions.get(&p) else {
                continue;
            };
            if let Some(e) = f.error {
                ends.insert(p, false);
                match e.code() {
                    Some(ErrorCode::OffsetOutOfRange) => {
                        let end = if args.read_committed {
                            f.last_stable_offset
                        } else {
                            f.high_watermark
                        };
                        let to = c.reset(p, position, f.log_start_offset, end).await?;
                        eprintln!(
                            "fjord: partition {}-{p}: offset {position} is out of range, continuing from {to}",
                            c.topic.name
                        );
                        c.positions.insert(p, to);
                    }
                    _ if e.is_retriable() => {
                        let f = Failing::note(failing.remove(&p));
                        if f.since.elapsed() > MAX_FAILING {
                            return Err(e.into());
                        }
                        tracing::debug!(partition = p, error = %e, attempts = f.attempts, "fetch failed; retrying");
                        failing.insert(p, f);
                        round_failed = Some(e);
                    }
                    _ => return Err(e.into()),
                }
                continue;
            }
            failing.remove(&p);
            let total = f.records.len();
            let mut printed = 0;
            for r in &f.records {
                if args.count.is_some_and(|n| delivered >= n) {
                    break;
                }
                buf.clear();
                match (&mut decoder, &r.value) {
                    (Some(d), Some(v)) => {
                        let mut decoded = r.clone();
                        decoded.value = Some(bytes::Bytes::from(d.decode(v)?));
                        render_record(&args.format, &c.topic.name, &decoded, &mut buf);
                    }
                    _ => render_record(&args.format, &c.topic.name, r, &mut buf),
                }
                out.bytes(&buf)?;
                delivered += 1;
                printed += 1;
                c.consumed.insert(p, r.offset + 1);
            }
            if printed == total {
                c.positions.insert(p, f.next_offset);
                c.consumed.insert(p, f.next_offset);
            }
            let end = if args.read_committed {
                f.last_stable_offset
            } else {
                f.high_watermark
            };
            ends.insert(p, c.positions.get(&p).copied().unwrap_or(0) >= end);
        }
        out.flush()?;
        if super::out::stdout_closed() {
            return Err(CliError::Quiet);
        }
        if round_failed.is_some() && last_refresh.elapsed() >= Duration::from_millis(200) {
            // The leader may have moved: look again (not more than five
            // times a second, whatever the number of failing partitions).
            last_refresh = Instant::now();
            // One Metadata request: partitions still without a leader keep
            // backing off rather than holding up the others.
            let names = [c.topic.name.clone()];
            if let Ok(Some(t)) = c.client.topics(Some(&names)).await.map(|mut v| v.pop()) {
                c.topic = t;
            }
        }
        // Each partition's last answer says whether it was read to its end
        // (answers from different brokers come in different rounds).
        ends.retain(|p, _| c.positions.contains_key(p));
        let at_end = c.positions.keys().all(|p| ends.get(p) == Some(&true));
        if args.exit_at_end && at_end {
            return out.flush();
        }
    }
}
