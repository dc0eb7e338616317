//! `fjord topic create|list|describe|delete|alter-config|add-partitions`.

use fjord_client::{Client, ConfigOp, NewTopic, OffsetSpec, TopicInfo};
use fjord_protocol::ErrorCode;
use serde_json::{json, Value};

use super::format::{join_ids, or_dash, topic_id, Table};
use super::out::Out;
use super::{connect, CliError, CliResult, Format, TopicArgs, TopicCmd};

pub async fn run(args: TopicArgs) -> CliResult {
    let format = args.fmt.format;
    if let TopicCmd::AlterConfig { set, delete, .. } = &args.cmd {
        if set.is_empty() && delete.is_empty() {
            return Err(CliError::Usage(
                "topic alter-config needs at least one --set KEY=VALUE or --delete KEY".into(),
            ));
        }
    }
    let mut client = connect(&args.conn).await?;
    let mut out = Out::new();
    match args.cmd {
        TopicCmd::Create {
            name,
            partitions,
            replicas,
            configs,
            if_not_exists,
        } => {
            create(
                &mut client,
                &mut out,
                format,
                name,
                partitions,
                replicas,
                configs,
                if_not_exists,
            )
            .await?
        }
        TopicCmd::List { exclude_internal } => {
            list(&mut client, &mut out, format, exclude_internal).await?
        }
        TopicCmd::Describe { name } => describe(&mut client, &mut out, format, &name).await?,
        TopicCmd::Delete { names } => delete(&mut client, &mut out, format, &names).await?,
        TopicCmd::AlterConfig { name, set, delete } => {
            let mut ops: Vec<ConfigOp> = set
                .iter()
                .map(|(k, v)| ConfigOp::Set(k.clone(), v.clone()))
                .collect();
            ops.extend(delete.iter().map(|k| ConfigOp::Delete(k.clone())));
            // An unknown topic is reported as such, not as a config error.
            client.topic(&name).await?;
            client.alter_topic_config(&name, &ops).await?;
            match format {
                Format::Json => out.json(&json!({
                    "topic": name,
                    "set": set.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
                    "deleted": delete,
                }))?,
                Format::Text => {
                    let mut parts: Vec<String> =
                        set.iter().map(|(k, v)| format!("set {k}={v}")).collect();
                    parts.extend(delete.iter().map(|k| format!("deleted {k}")));
                    out.line(&format!("topic {name}: {}", parts.join(", ")))?
                }
            }
        }
        TopicCmd::AddPartitions { name, total } => {
            client.topic(&name).await?;
            client.create_partitions(&name, total).await?;
            match format {
                Format::Json => out.json(&json!({"topic": name, "partitions": total}))?,
                Format::Text => out.line(&format!("topic {name} now has {total} partitions"))?,
            }
        }
    }
    out.flush()
}

#[allow(clippy::too_many_arguments)]
async fn create(
    client: &mut Client,
    out: &mut Out,
    format: Format,
    name: String,
    partitions: Option<i32>,
    replicas: Option<i16>,
    configs: Vec<(String, String)>,
    if_not_exists: bool,
) -> CliResult {
    let t = NewTopic {
        name: name.clone(),
        partitions,
        replication_factor: replicas,
        configs,
    };
    let created = match client.create_topic(&t).await {
        Ok(()) => true,
        Err(e) if if_not_exists && e.code() == Some(ErrorCode::TopicAlreadyExists) => false,
        Err(e) => return Err(e.into()),
    };
    let info = client.topic(&name).await?;
    match format {
        Format::Json => out.json(&json!({
            "topic": name,
            "created": created,
            "partitions": info.partitions.len(),
            "replication_factor": info.replication_factor(),
        })),
        Format::Text => {
            let verb = if created { "created" } else { "exists:" };
            out.line(&format!(
                "{verb} topic {name} ({} partitions, replication factor {})",
                info.partitions.len(),
                info.replication_factor()
            ))
        }
    }
}

async fn list(
    client: &mut Client,
    out: &mut Out,
    format: Format,
    exclude_internal: bool,
) -> CliResult {
    let topics: Vec<TopicInfo> = client
        .topics(None)
        .await?
        .into_iter()
        .filter(|t| !(exclude_internal && t.internal))
        .collect();
    match format {
        Format::Json => out.json(&Value::Array(
            topics
                .iter()
                .map(|t| {
                    json!({
                        "name": t.name,
                        "partitions": t.partitions.len(),
                        "replication_factor": t.replication_factor(),
                        "internal": t.internal,
                    })
                })
                .collect(),
        )),
        Format::Text => {
            let mut table = Table::new(&["TOPIC", "PARTITIONS", "REPLICATION"]);
            for t in &topics {
                let name = if t.internal {
                    format!("{} (internal)", t.name)
                } else {
                    t.name.clone()
                };
                table.row(vec![
                    name,
                    t.partitions.len().to_string(),
                    t.replication_factor().to_string(),
                ]);
            }
            out.line(&table.render())
        }
    }
}

async fn describe(client: &mut Client, out: &mut Out, format: Format, name: &str) -> CliResult {
    let info = client.topic(name).await?;
    let parts: Vec<i32> = info.partitions.iter().map(|p| p.partition).collect();
    let starts = client
        .list_offsets(name, &parts, OffsetSpec::Earliest, false)
        .await?;
    let ends = client
        .list_offsets(name, &parts, OffsetSpec::Latest, false)
        .await?;
    let configs = client.describe_topic_configs(name).await?;
    let start_of = |p: i32| starts.get(&p).map(|(o, _)| *o);
    let end_of = |p: i32| ends.get(&p).map(|(o, _)| *o);
    match format {
        Format::Json => out.json(&json!({
            "name": info.name,
            "topic_id": topic_id(&info.topic_id),
            "internal": info.internal,
            "partition_count": info.partitions.len(),
            "replication_factor": info.replication_factor(),
            "configs": configs.iter().map(|c| json!({
                "name": c.name,
                "value": if c.sensitive { Value::Null } else { json!(c.value) },
                "source": c.source_name(),
                "read_only": c.read_only,
                "sensitive": c.sensitive,
            })).collect::<Vec<_>>(),
            "partitions": info.partitions.iter().map(|p| json!({
                "partition": p.partition,
                "leader": p.leader,
                "leader_epoch": p.leader_epoch,
                "replicas": p.replicas,
                "isr": p.isr,
                "offline_replicas": p.offline,
                "log_start_offset": start_of(p.partition),
                "high_watermark": end_of(p.partition),
            })).collect::<Vec<_>>(),
        })),
        Format::Text => {
            let mut s = format!(
                "Topic: {}  id: {}  partitions: {}  replication factor: {}{}\n\nConfigs:\n",
                info.name,
                topic_id(&info.topic_id),
                info.partitions.len(),
                info.replication_factor(),
                if info.internal { "  (internal)" } else { "" }
            );
            let mut t = Table::new(&["NAME", "VALUE", "SOURCE"]);
            for c in &configs {
                let value = if c.sensitive {
                    "(sensitive)".to_string()
                } else {
                    c.value.clone().unwrap_or_else(|| "(null)".into())
                };
                t.row(vec![c.name.clone(), value, c.source_name().to_string()]);
            }
            for line in t.render().lines() {
                s.push_str("  ");
                s.push_str(line);
                s.push('\n');
            }
            s.push_str("\nPartitions:\n");
            let mut t = Table::new(&[
                "PARTITION",
                "LEADER",
                "EPOCH",
                "REPLICAS",
                "ISR",
                "LOG-START-OFFSET",
                "HIGH-WATERMARK",
            ]);
            for p in &info.partitions {
                t.row(vec![
                    p.partition.to_string(),
                    p.leader.to_string(),
                    p.leader_epoch.to_string(),
                    join_ids(&p.replicas),
                    join_ids(&p.isr),
                    or_dash(start_of(p.partition)),
                    or_dash(end_of(p.partition)),
                ]);
            }
            for line in t.render().lines() {
                s.push_str("  ");
                s.push_str(line);
                s.push('\n');
            }
            out.line(&s)
        }
    }
}

async fn delete(client: &mut Client, out: &mut Out, format: Format, names: &[String]) -> CliResult {
    let results = client.delete_topics(names).await?;
    let mut first_error = None;
    let mut docs = Vec::new();
    for (name, r) in &results {
        match r {
            Ok(()) => {
                if format == Format::Text {
                    out.line(&format!("deleted topic {name}"))?;
                }
                docs.push(json!({"topic": name, "deleted": true}));
            }
            Err(e) => {
                docs.push(json!({"topic": name, "deleted": false, "error": e.to_string()}));
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    if format == Format::Json {
        out.json(&Value::Array(docs))?;
    }
    match first_error {
        None => Ok(()),
        Some(e) => {
            out.flush()?;
            Err(CliError::Failed(e))
        }
    }
}
