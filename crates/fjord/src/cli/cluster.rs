//! `fjord cluster info`: cluster id, controller, brokers and topics.

use serde_json::json;

use super::format::Table;
use super::out::Out;
use super::{connect, CliResult, ClusterArgs, ClusterCmd, Format};

pub async fn run(args: ClusterArgs) -> CliResult {
    let mut client = connect(&args.conn).await?;
    let mut out = Out::new();
    match args.cmd {
        ClusterCmd::Info => {
            let topics = client.topics(None).await?;
            let brokers = client.brokers();
            let controller = client.controller_id();
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
