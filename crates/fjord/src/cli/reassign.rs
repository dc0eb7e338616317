//! `fjord cluster reassign` (as `kafka-reassign-partitions.sh`): start
//! partition reassignments from flags or Kafka's reassignment JSON file,
//! cancel them, list those in progress and wait until they are done; and
//! `fjord cluster unregister --broker N` (UnregisterBroker).

use std::time::{Duration, Instant};

use clap::Args;
use fjord_client::{Client, ReassignRequest, Reassignment};
use serde_json::json;

use super::format::{join_ids, Table};
use super::out::Out;
use super::{CliError, CliResult, Format};

#[derive(Args, Debug)]
pub struct ReassignArgs {
    /// The topic whose partitions to move (with --partition and --replicas).
    #[arg(long, conflicts_with_all = ["file", "list"])]
    pub topic: Option<String>,
    /// A partition of --topic (repeatable; default: all of them).
    #[arg(long, requires = "topic")]
    pub partition: Vec<i32>,
    /// The target replicas, comma separated, the first one preferred as leader.
    #[arg(long, value_delimiter = ',', conflicts_with = "cancel")]
    pub replicas: Vec<i32>,
    /// Kafka's reassignment JSON: {"version":1,"partitions":[{"topic":..,
    /// "partition":..,"replicas":[..]}]}.
    #[arg(long = "reassignment-json-file", conflicts_with = "list")]
    pub file: Option<std::path::PathBuf>,
    /// Cancel the reassignments of the partitions named (by flags or file).
    #[arg(long, conflicts_with = "list")]
    pub cancel: bool,
    /// List the reassignments in progress.
    #[arg(long)]
    pub list: bool,
    /// After starting, wait until the partitions' reassignments completed.
    #[arg(long, conflicts_with = "list")]
    pub wait: bool,
    /// How long --wait waits, in milliseconds.
    #[arg(long, default_value_t = 300_000)]
    pub wait_timeout_ms: u64,
}

#[derive(Args, Debug)]
pub struct UnregisterArgs {
    /// The id of the broker to remove from the cluster.
    #[arg(long)]
    pub broker: i32,
}

/// The partitions of Kafka's reassignment JSON file, with their targets.
pub fn parse_reassignment_json(text: &str) -> Result<Vec<(String, i32, Vec<i32>)>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let parts = v
        .get("partitions")
        .and_then(|p| p.as_array())
        .ok_or("no \"partitions\" array")?;
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        let topic = p
            .get("topic")
            .and_then(|t| t.as_str())
            .ok_or("a partition without \"topic\"")?;
        let partition = p
            .get("partition")
            .and_then(|t| t.as_i64())
            .and_then(|n| i32::try_from(n).ok())
            .ok_or("a partition without a valid \"partition\"")?;
        let replicas = p
            .get("replicas")
            .and_then(|r| r.as_array())
            .ok_or("a partition without a \"replicas\" array")?
            .iter()
            .map(|r| r.as_i64().and_then(|n| i32::try_from(n).ok()))
            .collect::<Option<Vec<i32>>>()
            .ok_or("replicas must be broker ids")?;
        out.push((topic.to_string(), partition, replicas));
    }
    Ok(out)
}

/// The moves asked for: from the file or the flags (every partition of
/// the topic when none is named).
async fn requested(
    client: &mut Client,
    args: &ReassignArgs,
) -> Result<Vec<ReassignRequest>, CliError> {
    let target = |r: Vec<i32>| (!args.cancel).then_some(r);
    if let Some(path) = &args.file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::Failed(format!("cannot read {}: {e}", path.display())))?;
        let parts = parse_reassignment_json(&text)
            .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
        return Ok(parts
            .into_iter()
            .map(|(t, p, r)| (t, p, target(r)))
            .collect());
    }
    let Some(topic) = &args.topic else {
        return Err(CliError::Usage(
            "cluster reassign needs --list, --topic or --reassignment-json-file".into(),
        ));
    };
    if !args.cancel && args.replicas.is_empty() {
        return Err(CliError::Usage(
            "cluster reassign needs --replicas (or --cancel)".into(),
        ));
    }
    let partitions = if args.partition.is_empty() {
        let t = client.topic(topic).await?;
        t.partitions.iter().map(|p| p.partition).collect()
    } else {
        args.partition.clone()
    };
    Ok(partitions
        .into_iter()
        .map(|p| (topic.clone(), p, target(args.replicas.clone())))
        .collect())
}

fn list_output(list: &[Reassignment], format: Format, out: &mut Out) -> CliResult {
    match format {
        Format::Json => out.json(&json!(list
            .iter()
            .map(
                |r| json!({"topic": r.topic, "partition": r.partition, "replicas": r.replicas,
                "adding_replicas": r.adding, "removing_replicas": r.removing})
            )
            .collect::<Vec<_>>())),
        Format::Text => {
            if list.is_empty() {
                return out.line("No partition reassignment is in progress.");
            }
            let mut t = Table::new(&["TOPIC", "PARTITION", "REPLICAS", "ADDING", "REMOVING"]);
            for r in list {
                t.row(vec![
                    r.topic.clone(),
                    r.partition.to_string(),
                    join_ids(&r.replicas),
                    join_ids(&r.adding),
                    join_ids(&r.removing),
                ]);
            }
            out.line(t.render().trim_end())
        }
    }
}

pub async fn reassign(
    client: &mut Client,
    args: ReassignArgs,
    format: Format,
    out: &mut Out,
) -> CliResult {
    if args.list {
        let list = client.list_partition_reassignments(None).await?;
        list_output(&list, format, out)?;
        return out.flush();
    }
    let moves = requested(client, &args).await?;
    let results = client.alter_partition_reassignments(moves).await?;
    let mut failed = Vec::new();
    let mut accepted: Vec<(String, Vec<i32>)> = Vec::new();
    let mut rows = Vec::new();
    for (topic, partition, err) in results {
        let outcome = match &err {
            None => if args.cancel { "cancelled" } else { "started" }.to_string(),
            Some(e) => {
                failed.push(e.to_string());
                e.to_string()
            }
        };
        if err.is_none() {
            match accepted.iter_mut().find(|(t, _)| *t == topic) {
                Some((_, ps)) => ps.push(partition),
                None => accepted.push((topic.clone(), vec![partition])),
            }
        }
        rows.push((topic, partition, err.is_none(), outcome));
    }
    let mut waited = None;
    if args.wait && !args.cancel && !accepted.is_empty() {
        let deadline = Instant::now() + Duration::from_millis(args.wait_timeout_ms);
        let started = Instant::now();
        loop {
            let pending = client
                .list_partition_reassignments(Some(accepted.clone()))
                .await?;
            if pending.is_empty() {
                waited = Some(started.elapsed());
                break;
            }
            if Instant::now() > deadline {
                failed.push(format!(
                    "{} reassignment(s) still in progress after {} ms",
                    pending.len(),
                    args.wait_timeout_ms
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    match format {
        Format::Json => out.json(&json!({
            "partitions": rows.iter()
                .map(|(t, p, ok, o)| json!({"topic": t, "partition": p, "accepted": ok, "result": o}))
                .collect::<Vec<_>>(),
            "completed_ms": waited.map(|d| d.as_millis() as u64),
        }))?,
        Format::Text => {
            let mut t = Table::new(&["TOPIC", "PARTITION", "RESULT"]);
            for (topic, p, _, o) in &rows {
                t.row(vec![topic.clone(), p.to_string(), o.clone()]);
            }
            out.line(t.render().trim_end())?;
            if let Some(d) = waited {
                out.line(&format!("Reassignment completed in {} ms.", d.as_millis()))?;
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

pub async fn unregister(
    client: &mut Client,
    args: UnregisterArgs,
    format: Format,
    out: &mut Out,
) -> CliResult {
    client.unregister_broker(args.broker).await?;
    match format {
        Format::Json => out.json(&json!({"unregistered": args.broker}))?,
        Format::Text => out.line(&format!("Broker {} unregistered.", args.broker))?,
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafkas_reassignment_json_parses() {
        let text = r#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[3,4,5],"log_dirs":["any","any","any"]},{"topic":"u","partition":2,"replicas":[1]}]}"#;
        assert_eq!(
            parse_reassignment_json(text).unwrap(),
            vec![("t".into(), 0, vec![3, 4, 5]), ("u".into(), 2, vec![1])]
        );
        assert!(parse_reassignment_json("{}").is_err());
        assert!(parse_reassignment_json(
            r#"{"partitions":[{"topic":"t","partition":0,"replicas":["a"]}]}"#
        )
        .is_err());
        assert!(parse_reassignment_json("nope").is_err());
    }
}
