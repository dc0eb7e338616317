//! `fjord quota set|describe`: client quotas of users and client ids, and
//! connection creation rates of client IPs (AlterClientQuotas /
//! DescribeClientQuotas), as `kafka-configs --entity-type
//! users|clients|ips` manages them.

use clap::{Args, Subcommand};
use fjord_client::{QuotaEntity, QuotaMatch};
use serde_json::json;

use super::format::Table;
use super::out::Out;
use super::{connect, CliError, CliResult, ConnArgs, Format, FormatArgs};

#[derive(Args, Debug)]
pub struct QuotaArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub fmt: FormatArgs,
    #[command(subcommand)]
    pub cmd: QuotaCmd,
}

/// Which entity: a user and/or a client id, or a client IP, each named or
/// `<default>`.
#[derive(Args, Debug, Clone, Default)]
pub struct EntityArgs {
    /// The user (principal name without `User:`).
    #[arg(long, conflicts_with = "user_default")]
    pub user: Option<String>,
    /// The default quota of every user without one of their own.
    #[arg(long)]
    pub user_default: bool,
    /// The client id.
    #[arg(long, conflicts_with = "client_id_default")]
    pub client_id: Option<String>,
    /// The default quota of every client id without one of its own.
    #[arg(long)]
    pub client_id_default: bool,
    /// A client IP address (only `connection_creation_rate`; not with a
    /// user or client id, as in Kafka).
    #[arg(long, conflicts_with_all = ["ip_default", "user", "user_default", "client_id", "client_id_default"])]
    pub ip: Option<String>,
    /// The default connection creation rate of every IP without its own.
    #[arg(long, conflicts_with_all = ["user", "user_default", "client_id", "client_id_default"])]
    pub ip_default: bool,
}

impl EntityArgs {
    fn entity(&self) -> QuotaEntity {
        let mut e = Vec::new();
        if self.user.is_some() || self.user_default {
            e.push(("user".to_string(), self.user.clone()));
        }
        if self.client_id.is_some() || self.client_id_default {
            e.push(("client-id".to_string(), self.client_id.clone()));
        }
        if self.ip.is_some() || self.ip_default {
            e.push(("ip".to_string(), self.ip.clone()));
        }
        e
    }
}

#[derive(Subcommand, Debug)]
pub enum QuotaCmd {
    /// Set or remove quotas of one entity.
    Set {
        #[command(flatten)]
        entity: EntityArgs,
        /// Produce bytes per second.
        #[arg(long)]
        producer_byte_rate: Option<u64>,
        /// Fetch bytes per second.
        #[arg(long)]
        consumer_byte_rate: Option<u64>,
        /// Percent of one request handler thread.
        #[arg(long)]
        request_percentage: Option<f64>,
        /// Partitions created or deleted per second.
        #[arg(long)]
        controller_mutation_rate: Option<f64>,
        /// New connections per second from an IP (with --ip/--ip-default).
        #[arg(long)]
        connection_creation_rate: Option<f64>,
        /// Remove a quota key (repeatable).
        #[arg(long, value_name = "KEY")]
        delete: Vec<String>,
    },
    /// List quotas (all, or those of the given user/client id or IP).
    Describe {
        #[command(flatten)]
        entity: EntityArgs,
    },
}

fn show(e: &QuotaEntity) -> String {
    e.iter()
        .map(|(t, n)| format!("{t}={}", n.as_deref().unwrap_or("<default>")))
        .collect::<Vec<_>>()
        .join(",")
}

pub async fn run(args: QuotaArgs) -> CliResult {
    match args.cmd {
        QuotaCmd::Set {
            entity,
            producer_byte_rate,
            consumer_byte_rate,
            request_percentage,
            controller_mutation_rate,
            connection_creation_rate,
            delete,
        } => {
            let e = entity.entity();
            if e.is_empty() {
                return Err(CliError::Usage(
                    "quota set needs --user/--user-default and/or --client-id/--client-id-default, \
                     or --ip/--ip-default"
                        .into(),
                ));
            }
            let mut ops: Vec<(String, Option<f64>)> = Vec::new();
            let sets = [
                ("producer_byte_rate", producer_byte_rate.map(|v| v as f64)),
                ("consumer_byte_rate", consumer_byte_rate.map(|v| v as f64)),
                ("request_percentage", request_percentage),
                ("controller_mutation_rate", controller_mutation_rate),
                ("connection_creation_rate", connection_creation_rate),
            ];
            for (k, v) in sets {
                if let Some(v) = v {
                    ops.push((k.to_string(), Some(v)));
                }
            }
            ops.extend(delete.into_iter().map(|k| (k, None)));
            if ops.is_empty() {
                return Err(CliError::Usage(
                    "quota set needs a quota (--producer-byte-rate, ...) or --delete KEY".into(),
                ));
            }
            let mut client = connect(&args.conn).await?;
            client.alter_client_quotas(&e, &ops).await?;
            let mut out = Out::new();
            match args.fmt.format {
                Format::Json => out.json(&json!({"entity": show(&e), "updated": true}))?,
                Format::Text => out.line(&format!("Updated quotas of {}", show(&e)))?,
            }
            out.flush()
        }
        QuotaCmd::Describe { entity } => {
            let filter: Vec<(String, QuotaMatch)> = entity
                .entity()
                .into_iter()
                .map(|(t, n)| {
                    (
                        t,
                        match n {
                            Some(n) => QuotaMatch::Exact(n),
                            None => QuotaMatch::Default,
                        },
                    )
                })
                .collect();
            let mut client = connect(&args.conn).await?;
            let entries = client.describe_client_quotas(&filter, false).await?;
            let mut out = Out::new();
            match args.fmt.format {
                Format::Json => out.json(&json!(entries
                    .iter()
                    .map(|e| json!({
                        "entity": e.entity.iter().map(|(t, n)| json!({"type": t, "name": n})).collect::<Vec<_>>(),
                        "quotas": e.values.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
                    }))
                    .collect::<Vec<_>>()))?,
                Format::Text => {
                    let mut t = Table::new(&["ENTITY", "QUOTA", "VALUE"]);
                    for e in &entries {
                        for (k, v) in &e.values {
                            t.row(vec![show(&e.entity), k.clone(), v.to_string()]);
                        }
                    }
                    out.line(&t.render())?;
                }
            }
            out.flush()
        }
    }
}
