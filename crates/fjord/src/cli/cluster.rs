//! `fjord cluster info`: cluster id, controller, brokers, the metadata
//! quorum (DescribeQuorum) and topics; `fjord cluster elect-leaders`
//! (ElectLeaders); `reassign` and `unregister` are in `reassign.rs`.

use clap::{Args, ValueEnum};
use fjord_client::{Client, ElectionKind, QuorumStatus, QuorumVoter};
use fjord_protocol::ErrorCode;
use serde_json::json;

use super::format::Table;
use super::out::Out;
use super::{connect, CliError, CliResult, ClusterArgs, ClusterCmd, Format};

#[derive(Args, Debug)]
pub struct ElectArgs {
    /// preferred: move leadership to each partition's first replica;
    /// unclean: give leaderless partitions any alive replica (records only
    /// the old ISR had may be lost).
    #[arg(long = "type", value_enum, default_value = "preferred")]
    pub kind: ElectionType,
    /// Every partition of every topic.
    #[arg(long, conflicts_with_all = ["topic", "partition"])]
    pub all: bool,
    /// The topic whose partitions to elect leaders for.
    #[arg(long, required_unless_present = "all")]
    pub topic: Option<String>,
    /// Partitions of --topic (repeatable; default: all of them).
    #[arg(long, requires = "topic")]
    pub partition: Vec<i32>,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ElectionType {
    Preferred,
    Unclean,
}

/// The quorum for `info`, or why the broker did not describe it (the
/// section then says so).
async fn quorum(client: &mut Client) -> Result<QuorumStatus, String> {
    client.describe_quorum().await.map_err(|e| e.to_string())
}

/// A quorum member's roles, as `process.roles` spells them: a voter is a
/// controller (and a broker too when it is registered as one), an
/// observer a broker only.
fn roles(id: i32, voter: bool, brokers: &[i32]) -> &'static str {
    match (voter, brokers.contains(&id)) {
        (true, true) => "broker,controller",
        (true, false) => "controller",
        (false, _) => "broker",
    }
}

fn quorum_text(q: &Result<QuorumStatus, String>, brokers: &[i32]) -> String {
    let q = match q {
        Ok(q) => q,
        Err(e) => return format!("\nMetadata quorum: unavailable ({e})\n"),
    };
    let mut s = format!(
        "\nMetadata quorum: leader {}, epoch {}, high watermark {}\n",
        q.leader_id, q.leader_epoch, q.high_watermark
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut t = Table::new(&["NODE", "ROLES", "LOG END", "LAG", "LAST CONTACT"]);
    let members = q.voters.iter().map(|v| (v, true));
    for (v, voter) in members.chain(q.observers.iter().map(|o| (o, false))) {
        let known = v.log_end_offset >= 0 && q.high_watermark >= 0;
        t.row(vec![
            if v.id == q.leader_id {
                format!("{} (leader)", v.id)
            } else {
                v.id.to_string()
            },
            roles(v.id, voter, brokers).to_string(),
            if v.log_end_offset >= 0 {
                v.log_end_offset.to_string()
            } else {
                "-".into()
            },
            if known {
                (q.high_watermark - v.log_end_offset).max(0).to_string()
            } else {
                "-".into()
            },
            if v.last_fetch_ms >= 0 {
                format!("{} ms ago", (now - v.last_fetch_ms).max(0))
            } else {
                "-".into()
            },
        ]);
    }
    for line in t.render().lines() {
        s.push_str("  ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// One quorum member in `cluster info --format json`.
fn member_json(v: &QuorumVoter, voter: bool, brokers: &[i32]) -> serde_json::Value {
    json!({
        "id": v.id,
        "roles": roles(v.id, voter, brokers),
        "log_end_offset": v.log_end_offset,
        "last_fetch_ms": v.last_fetch_ms,
        "last_caught_up_ms": v.last_caught_up_ms,
    })
}

async fn elect(client: &mut Client, args: ElectArgs, format: Format, out: &mut Out) -> CliResult {
    let kind = match args.kind {
        ElectionType::Preferred => ElectionKind::Preferred,
        ElectionType::Unclean => ElectionKind::Unclean,
    };
    let partitions = match args.topic {
        None => None,
        Some(topic) => {
            let parts = if args.partition.is_empty() {
                let info = client.topics(Some(std::slice::from_ref(&topic))).await?;
                let Some(t) = info.into_iter().find(|t| t.name == topic) else {
                    return Err(CliError::Failed(format!("unknown topic {topic:?}")));
                };
                t.partitions.iter().map(|p| p.partition).collect()
            } else {
                args.partition
            };
            Some(vec![(topic, parts)])
        }
    };
    let results = client.elect_leaders(kind, partitions).await?;
    let mut failed = Vec::new();
    let mut rows = Vec::new();
    for (topic, partition, err) in &results {
        let outcome = match err {
            None => "elected".to_string(),
            Some(e) if e.code() == Some(ErrorCode::ElectionNotNeeded) => "not needed".into(),
            Some(e) => {
                failed.push(e.to_string());
                e.to_string()
            }
        };
        rows.push((topic.clone(), *partition, err.is_none(), outcome));
    }
    match format {
        Format::Json => out.json(&json!(rows
            .iter()
            .map(|(t, p, ok, o)| json!({"topic": t, "partition": p, "elected": ok, "result": o}))
            .collect::<Vec<_>>()))?,
        Format::Text => {
            if rows.is_empty() {
                out.line("No partition needed an election.")?;
            }
            let mut t = Table::new(&["TOPIC", "PARTITION", "RESULT"]);
            for (topic, p, _, o) in &rows {
                t.row(vec![topic.clone(), p.to_string(), o.clone()]);
            }
            if !rows.is_empty() {
                out.line(t.render().trim_end())?;
            }
        }
    }
    out.flush()?;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(failed.join("; ")))
    }
}

pub async fn run(args: ClusterArgs) -> CliResult {
    let mut client = connect(&args.conn).await?;
    let mut out = Out::new();
    match args.cmd {
        ClusterCmd::ElectLeaders(a) => {
            return elect(&mut client, a, args.fmt.format, &mut out).await
        }
        ClusterCmd::Reassign(a) => {
            return super::reassign::reassign(&mut client, a, args.fmt.format, &mut out).await
        }
        ClusterCmd::Unregister(a) => {
            return super::reassign::unregister(&mut client, a, args.fmt.format, &mut out).await
        }
        ClusterCmd::Info => {
            let topics = client.topics(None).await?;
            let quorum = quorum(&mut client).await;
            let brokers = client.brokers();
            let controller = client.controller_id();
            let broker_ids: Vec<i32> = brokers.iter().map(|b| b.node_id).collect();
            let cluster_id = client.cluster_id().map(str::to_string);
            match args.fmt.format {
                Format::Json => out.json(&json!({
                    "cluster_id": cluster_id,
                    "controller_id": controller,
                    "brokers": brokers.iter().map(|b| json!({
                        "node_id": b.node_id,
                        "host": b.host,
                        "port": b.port,
                        "rack": b.rack,
                    })).collect::<Vec<_>>(),
                    "quorum": match &quorum {
                        Ok(q) => json!({
                            "leader_id": q.leader_id,
                            "leader_epoch": q.leader_epoch,
                            "high_watermark": q.high_watermark,
                            "voters": q.voters.iter().map(|v| member_json(v, true, &broker_ids)).collect::<Vec<_>>(),
                            "observers": q.observers.iter().map(|v| member_json(v, false, &broker_ids)).collect::<Vec<_>>(),
                        }),
                        Err(e) => json!({"error": e}),
                    },
                    "topics": topics.iter().map(|t| json!({
                        "name": t.name,
                        "partitions": t.partitions.len(),
                        "internal": t.internal,
                    })).collect::<Vec<_>>(),
                }))?,
                Format::Text => {
                    let mut s = format!(
                        "Cluster id:   {}\nController:   {}\n\nBrokers: {}\n",
                        cluster_id.as_deref().unwrap_or("-"),
                        if controller >= 0 {
                            controller.to_string()
                        } else {
                            "-".into()
                        },
                        brokers.len()
                    );
                    let mut t = Table::new(&["ID", "ADDRESS", "RACK", "CONTROLLER"]);
                    for b in &brokers {
                        t.row(vec![
                            b.node_id.to_string(),
                            b.addr(),
                            b.rack.clone().unwrap_or_else(|| "-".into()),
                            if b.node_id == controller {
                                "yes".into()
                            } else {
                                String::new()
                            },
                        ]);
                    }
                    for line in t.render().lines() {
                        s.push_str("  ");
                        s.push_str(line);
                        s.push('\n');
                    }
                    s.push_str(&quorum_text(&quorum, &broker_ids));
                    let partitions: usize = topics.iter().map(|t| t.partitions.len()).sum();
                    s.push_str(&format!(
                        "\nTopics: {} ({partitions} partitions)\n",
                        topics.len()
                    ));
                    let mut t = Table::new(&["TOPIC", "PARTITIONS"]);
                    for topic in &topics {
                        let name = if topic.internal {
                            format!("{} (internal)", topic.name)
                        } else {
                            topic.name.clone()
                        };
                        t.row(vec![name, topic.partitions.len().to_string()]);
                    }
                    for line in t.render().lines() {
                        s.push_str("  ");
                        s.push_str(line);
                        s.push('\n');
                    }
                    out.line(&s)?
                }
            }
        }
    }
    out.flush()
}
