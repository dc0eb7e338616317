//! `fjord group list|describe|seek|delete`.

use std::collections::BTreeMap;

use fjord_client::{now_ms, Client, DescribedGroup, GroupMemberInfo, OffsetSpec};
use serde_json::{json, Value};

use super::format::{or_dash, Table};
use super::out::Out;
use super::spec::SeekTo;
use super::{connect, CliError, CliResult, Format, GroupArgs, GroupCmd};

pub async fn run(args: GroupArgs) -> CliResult {
    let format = args.fmt.format;
    let mut client = connect(&args.conn).await?;
    let mut out = Out::new();
    match args.cmd {
        GroupCmd::List => list(&mut client, &mut out, format).await?,
        GroupCmd::Describe { group } => describe(&mut client, &mut out, format, &group).await?,
        GroupCmd::Seek {
            group,
            topic,
            to,
            partitions,
            dry_run,
        } => {
            seek(
                &mut client,
                &mut out,
                format,
                &group,
                &topic,
                to,
                &partitions,
                dry_run,
            )
            .await?
        }
        GroupCmd::Delete { groups } => {
            let mut first_error = None;
            let mut docs = Vec::new();
            for g in &groups {
                match client.delete_group(g).await {
                    Ok(()) => {
                        if format == Format::Text {
                            out.line(&format!("deleted group {g}"))?;
                        }
                        docs.push(json!({"group": g, "deleted": true}));
                    }
                    Err(e) => {
                        docs.push(json!({"group": g, "deleted": false, "error": e.to_string()}));
                        first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            if format == Format::Json {
                out.json(&Value::Array(docs))?;
            }
            if let Some(e) = first_error {
                out.flush()?;
                return Err(CliError::Failed(e));
            }
        }
    }
    out.flush()
}

async fn list(client: &mut Client, out: &mut Out, format: Format) -> CliResult {
    let groups = client.list_groups().await?;
    match format {
        Format::Json => out.json(&Value::Array(
            groups
                .iter()
                .map(|g| {
                    json!({
                        "group": g.group_id,
                        "state": if g.state.is_empty() { Value::Null } else { json!(g.state) },
                        "protocol_type": g.protocol_type,
                        "coordinator": g.coordinator,
                    })
                })
                .collect(),
        )),
        Format::Text => {
            let mut t = Table::new(&["GROUP", "STATE", "PROTOCOL-TYPE", "COORDINATOR"]);
            for g in &groups {
                t.row(vec![
                    g.group_id.clone(),
                    if g.state.is_empty() {
                        "-".into()
                    } else {
                        g.state.clone()
                    },
                    if g.protocol_type.is_empty() {
                        "-".into()
                    } else {
                        g.protocol_type.clone()
                    },
                    g.coordinator.to_string(),
                ]);
            }
            out.line(&t.render())
        }
    }
}

/// One row of the offsets table.
struct OffsetRow<'a> {
    topic: String,
    partition: i32,
    current: Option<i64>,
    end: Option<i64>,
    member: Option<&'a GroupMemberInfo>,
}

impl OffsetRow<'_> {
    fn lag(&self) -> Option<i64> {
        match (self.current, self.end) {
            (Some(c), Some(e)) => Some((e - c).max(0)),
            _ => None,
        }
    }
}

async fn describe(client: &mut Client, out: &mut Out, format: Format, group: &str) -> CliResult {
    let g: DescribedGroup = client.describe_group(group).await?;
    let offsets = client.committed_offsets(group, None).await?;
    let committed: Vec<_> = offsets.into_iter().filter(|o| o.offset >= 0).collect();
    if g.state == "Dead" && committed.is_empty() {
        return Err(CliError::Failed(format!("group {group} does not exist")));
    }
    let mut rows: BTreeMap<(String, i32), OffsetRow> = BTreeMap::new();
    for o in &committed {
        rows.insert(
            (o.topic.clone(), o.partition),
            OffsetRow {
                topic: o.topic.clone(),
                partition: o.partition,
                current: Some(o.offset),
                end: None,
                member: None,
            },
        );
    }
    for m in &g.members {
        for (t, ps) in &m.assignment {
            for &p in ps {
                rows.entry((t.clone(), p))
                    .or_insert_with(|| OffsetRow {
                        topic: t.clone(),
                        partition: p,
                        current: None,
                        end: None,
                        member: None,
                    })
                    .member = Some(m);
            }
        }
    }
    let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (t, p) in rows.keys() {
        by_topic.entry(t.clone()).or_default().push(*p);
    }
    for (t, ps) in by_topic {
        // A topic deleted since the commit simply shows no end offset.
        match client
            .list_offsets(&t, &ps, OffsetSpec::Latest, false)
            .await
        {
            Ok(ends) => {
                for (p, (o, _)) in ends {
                    if let Some(r) = rows.get_mut(&(t.clone(), p)) {
                        r.end = Some(o);
                    }
                }
            }
            Err(e) => tracing::debug!(topic = %t, error = %e, "no end offsets"),
        }
    }
    let coordinator = format!("{} ({})", g.coordinator.node_id, g.coordinator.addr());
    match format {
        Format::Json => out.json(&json!({
            "group": g.group_id,
            "state": g.state,
            "protocol_type": g.protocol_type,
            "protocol": g.protocol,
            "coordinator": {
                "node_id": g.coordinator.node_id,
                "host": g.coordinator.host,
                "port": g.coordinator.port,
            },
            "members": g.members.iter().map(|m| json!({
                "member_id": m.member_id,
                "group_instance_id": m.group_instance_id,
                "client_id": m.client_id,
                "host": m.client_host,
                "assignment": m.assignment.iter().map(|(t, ps)| json!({"topic": t, "partitions": ps})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "offsets": rows.values().map(|r| json!({
                "topic": r.topic,
                "partition": r.partition,
                "current_offset": r.current,
                "log_end_offset": r.end,
                "lag": r.lag(),
                "member_id": r.member.map(|m| m.member_id.clone()),
                "client_id": r.member.map(|m| m.client_id.clone()),
                "host": r.member.map(|m| m.client_host.clone()),
            })).collect::<Vec<_>>(),
        })),
        Format::Text => {
            let mut s = String::new();
            s.push_str(&format!("Group:        {}\n", g.group_id));
            s.push_str(&format!("State:        {}\n", g.state));
            let protocol = match (g.protocol_type.is_empty(), g.protocol.is_empty()) {
                (true, _) => "-".to_string(),
                (false, true) => g.protocol_type.clone(),
                (false, false) => format!("{}/{}", g.protocol_type, g.protocol),
            };
            s.push_str(&format!("Protocol:     {protocol}\n"));
            s.push_str(&format!("Coordinator:  {coordinator}\n"));
            s.push_str(&format!("Members:      {}\n", g.members.len()));
            if !g.members.is_empty() {
                let mut t = Table::new(&["MEMBER-ID", "CLIENT-ID", "HOST", "PARTITIONS"]);
                for m in &g.members {
                    let assigned: Vec<String> = m
                        .assignment
                        .iter()
                        .map(|(t, ps)| {
                            format!(
                                "{t}:{}",
                                ps.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(",")
                            )
                        })
                        .collect();
                    t.row(vec![
                        m.member_id.clone(),
                        m.client_id.clone(),
                        m.client_host.clone(),
                        if assigned.is_empty() {
                            "-".into()
                        } else {
                            assigned.join(" ")
                        },
                    ]);
                }
                for line in t.render().lines() {
                    s.push_str("  ");
                    s.push_str(line);
                    s.push('\n');
                }
            }
            s.push('\n');
            let mut t = Table::new(&[
                "TOPIC",
                "PARTITION",
                "CURRENT-OFFSET",
                "LOG-END-OFFSET",
                "LAG",
                "MEMBER-ID",
                "CLIENT-ID",
                "HOST",
            ]);
            for r in rows.values() {
                t.row(vec![
                    r.topic.clone(),
                    r.partition.to_string(),
                    or_dash(r.current),
                    or_dash(r.end),
                    or_dash(r.lag()),
                    or_dash(r.member.map(|m| m.member_id.clone())),
                    or_dash(r.member.map(|m| m.client_id.clone())),
                    or_dash(r.member.map(|m| m.client_host.clone())),
                ]);
            }
            s.push_str(&t.render());
            out.line(&s)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn seek(
    client: &mut Client,
    out: &mut Out,
    format: Format,
    group: &str,
    topic: &str,
    to: SeekTo,
    only: &[i32],
    dry_run: bool,
) -> CliResult {
    let g = client.describe_group(group).await?;
    if !(g.state == "Empty" || g.state == "Dead") {
        return Err(CliError::Failed(format!(
            "group {group} is {} with {} member(s); seek needs a group without members: stop its consumers first",
            g.state,
            g.members.len()
        )));
    }
    let info = client.topic(topic).await?;
    let partitions: Vec<i32> = if only.is_empty() {
        info.partitions.iter().map(|p| p.partition).collect()
    } else {
        for &p in only {
            if info.partition(p).is_none() {
                return Err(CliError::Failed(format!(
                    "topic {topic} has no partition {p} (it has {})",
                    info.partitions.len()
                )));
            }
        }
        only.to_vec()
    };
    let current: BTreeMap<i32, i64> = client
        .committed_offsets(group, Some(&[(topic.to_string(), partitions.clone())]))
        .await?
        .into_iter()
        .filter(|o| o.topic == topic && o.offset >= 0)
        .map(|o| (o.partition, o.offset))
        .collect();
    let starts = client
        .list_offsets(topic, &partitions, OffsetSpec::Earliest, false)
        .await?;
    let ends = client
        .list_offsets(topic, &partitions, OffsetSpec::Latest, false)
        .await?;
    let start_of = |p: i32| starts.get(&p).map_or(0, |(o, _)| *o);
    let end_of = |p: i32| ends.get(&p).map_or(0, |(o, _)| *o);
    let at_time = match to {
        SeekTo::Timestamp(ts) => Some(ts),
        SeekTo::Ago(d) => {
            Some(now_ms().saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
        }
        _ => None,
    };
    let by_time = match at_time {
        Some(ts) => Some(
            client
                .list_offsets(topic, &partitions, OffsetSpec::Timestamp(ts), false)
                .await?,
        ),
        None => None,
    };
    let mut plan: Vec<(i32, i64)> = Vec::with_capacity(partitions.len());
    for &p in &partitions {
        let target = match to {
            SeekTo::Start => start_of(p),
            SeekTo::End => end_of(p),
            // Out-of-range offsets are clamped to the log, as Kafka's tool does.
            SeekTo::Offset(o) => o.clamp(start_of(p), end_of(p).max(start_of(p))),
            SeekTo::Timestamp(_) | SeekTo::Ago(_) => {
                match by_time.as_ref().and_then(|m| m.get(&p)).map(|(o, _)| *o) {
                    Some(o) if o >= 0 => o,
                    _ => end_of(p),
                }
            }
        };
        plan.push((p, target));
    }
    if !dry_run {
        let offsets: Vec<(String, i32, i64)> = plan
            .iter()
            .map(|&(p, o)| (topic.to_string(), p, o))
            .collect();
        client.commit_offsets(group, -1, "", &offsets).await?;
    }
    match format {
        Format::Json => out.json(&json!({
            "group": group,
            "topic": topic,
            "dry_run": dry_run,
            "partitions": plan.iter().map(|&(p, o)| json!({
                "partition": p,
                "previous_offset": current.get(&p),
                "new_offset": o,
            })).collect::<Vec<_>>(),
        })),
        Format::Text => {
            let mut t = Table::new(&["TOPIC", "PARTITION", "PREVIOUS-OFFSET", "NEW-OFFSET"]);
            for &(p, o) in &plan {
                t.row(vec![
                    topic.to_string(),
                    p.to_string(),
                    or_dash(current.get(&p)),
                    o.to_string(),
                ]);
            }
            let mut s = t.render();
            if dry_run {
                s.push_str("\n(dry run: nothing committed)\n");
            }
            out.line(&s)
        }
    }
}
