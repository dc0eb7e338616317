//! `fjord acl create|list|delete`: ACLs over CreateAcls, DescribeAcls and
//! DeleteAcls, with kafka-acls' flags (`--allow-principal User:x
//! --operation Read --topic T --resource-pattern-type prefixed`). Connect
//! as a super user or a principal allowed ALTER/DESCRIBE on the cluster:
//! over a SASL or SSL listener with `--command-config`, or over PLAINTEXT
//! when `super.users` names `User:ANONYMOUS`. Names of types and operations come from
//! the broker's ACL vocabulary (`fjord_broker::acl`).

use clap::{Args, Subcommand};
use fjord_broker::acl::{
    AclOperation, PatternType, Permission, ResourceType, ANY, CLUSTER_NAME, PATTERN_ANY,
    PATTERN_MATCH,
};
use fjord_client::{AclEntry, AclFilter};
use serde_json::json;

use super::format::Table;
use super::out::Out;
use super::{connect, CliError, CliResult, ConnArgs, Format, FormatArgs};

#[derive(Args, Debug)]
pub struct AclArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub fmt: FormatArgs,
    #[command(subcommand)]
    pub cmd: AclCmd,
}

/// The resources an ACL command names.
#[derive(Args, Debug, Clone, Default)]
pub struct Resources {
    /// A topic (repeatable; `*` is every topic).
    #[arg(long, value_name = "NAME")]
    pub topic: Vec<String>,
    /// A consumer group (repeatable; `*` is every group).
    #[arg(long, value_name = "NAME")]
    pub group: Vec<String>,
    /// The cluster.
    #[arg(long)]
    pub cluster: bool,
    /// A transactional id (repeatable; `*` is every one).
    #[arg(long, value_name = "ID")]
    pub transactional_id: Vec<String>,
    /// literal or prefixed (create; default literal); any, match, literal or
    /// prefixed (list, delete; default literal when a resource is named).
    #[arg(long, value_name = "TYPE")]
    pub resource_pattern_type: Option<String>,
}

/// Principals, hosts and operations.
#[derive(Args, Debug, Clone, Default)]
pub struct Entries {
    /// A principal to allow (User:NAME or User:*; repeatable).
    #[arg(long, value_name = "PRINCIPAL")]
    pub allow_principal: Vec<String>,
    /// A principal to deny (repeatable).
    #[arg(long, value_name = "PRINCIPAL")]
    pub deny_principal: Vec<String>,
    /// Hosts the allow entries apply to (default `*`).
    #[arg(long, value_name = "HOST")]
    pub allow_host: Vec<String>,
    /// Hosts the deny entries apply to (default `*`).
    #[arg(long, value_name = "HOST")]
    pub deny_host: Vec<String>,
    /// An operation: Read, Write, Create, Delete, Alter, Describe,
    /// ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, All
    /// (repeatable).
    #[arg(long, value_name = "OP")]
    pub operation: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum AclCmd {
    /// Add ACLs: each principal × host × operation × resource.
    Create {
        #[command(flatten)]
        resources: Resources,
        #[command(flatten)]
        entries: Entries,
    },
    /// List ACLs (all, or those of the named resources).
    List {
        #[command(flatten)]
        resources: Resources,
        /// Only ACLs of this principal.
        #[arg(long, value_name = "PRINCIPAL")]
        principal: Option<String>,
    },
    /// Delete the ACLs the flags select (a resource or a principal is
    /// required; operations and hosts narrow it).
    Delete {
        #[command(flatten)]
        resources: Resources,
        #[command(flatten)]
        entries: Entries,
    },
}

fn usage(m: impl Into<String>) -> CliError {
    CliError::Usage(m.into())
}

/// (type, name) of every resource named.
fn named(r: &Resources) -> Vec<(ResourceType, String)> {
    let mut out = Vec::new();
    out.extend(r.topic.iter().map(|n| (ResourceType::Topic, n.clone())));
    out.extend(r.group.iter().map(|n| (ResourceType::Group, n.clone())));
    if r.cluster {
        out.push((ResourceType::Cluster, CLUSTER_NAME.to_string()));
    }
    out.extend(
        r.transactional_id
            .iter()
            .map(|n| (ResourceType::TransactionalId, n.clone())),
    );
    out
}

/// The pattern type code of a filter (`any`, `match` allowed).
fn filter_pattern(r: &Resources) -> Result<i8, CliError> {
    match r
        .resource_pattern_type
        .as_deref()
        .map(str::to_ascii_lowercase)
    {
        None => Ok(PatternType::Literal.code()),
        Some(p) if p == "any" => Ok(PATTERN_ANY),
        Some(p) if p == "match" => Ok(PATTERN_MATCH),
        Some(p) => PatternType::from_name(&p)
            .map(PatternType::code)
            .ok_or_else(|| usage(format!("unknown resource pattern type {p:?}"))),
    }
}

fn operations(e: &Entries) -> Result<Vec<AclOperation>, CliError> {
    e.operation
        .iter()
        .map(|o| {
            AclOperation::from_name(o).ok_or_else(|| usage(format!("unknown operation {o:?}")))
        })
        .collect()
}

/// (permission, principal, host) of every entry the flags describe.
fn principals(e: &Entries) -> Vec<(Permission, String, String)> {
    let hosts = |h: &Vec<String>| {
        if h.is_empty() {
            vec!["*".to_string()]
        } else {
            h.clone()
        }
    };
    let mut out = Vec::new();
    for (perm, ps, hs) in [
        (Permission::Allow, &e.allow_principal, hosts(&e.allow_host)),
        (Permission::Deny, &e.deny_principal, hosts(&e.deny_host)),
    ] {
        for p in ps {
            for h in &hs {
                out.push((perm, p.clone(), h.clone()));
            }
        }
    }
    out
}

fn show(e: &AclEntry) -> [String; 7] {
    let rt = ResourceType::from_code(e.resource_type).map_or("UNKNOWN", ResourceType::name);
    let pt = PatternType::from_code(e.pattern_type).map_or("UNKNOWN", PatternType::name);
    let op = AclOperation::from_code(e.operation).map_or("UNKNOWN", AclOperation::name);
    let perm = Permission::from_code(e.permission).map_or("UNKNOWN", Permission::name);
    [
        rt.to_string(),
        e.name.clone(),
        pt.to_string(),
        e.principal.clone(),
        e.host.clone(),
        op.to_string(),
        perm.to_string(),
    ]
}

fn print(out: &mut Out, format: Format, acls: &[AclEntry]) -> CliResult {
    match format {
        Format::Json => out.json(&json!(acls
            .iter()
            .map(|a| {
                let [rt, name, pt, principal, host, op, perm] = show(a);
                json!({"resource_type": rt, "name": name, "pattern_type": pt,
                       "principal": principal, "host": host, "operation": op, "permission": perm})
            })
            .collect::<Vec<_>>())),
        Format::Text => {
            let mut t = Table::new(&[
                "RESOURCE",
                "NAME",
                "PATTERN",
                "PRINCIPAL",
                "HOST",
                "OPERATION",
                "PERMISSION",
            ]);
            for a in acls {
                t.row(show(a).to_vec());
            }
            out.line(&t.render())
        }
    }
}

pub async fn run(args: AclArgs) -> CliResult {
    let mut out = Out::new();
    match args.cmd {
        AclCmd::Create { resources, entries } => {
            let pattern = match resources.resource_pattern_type.as_deref() {
                None => PatternType::Literal,
                Some(p) => PatternType::from_name(p)
                    .ok_or_else(|| usage(format!("create needs literal or prefixed, not {p:?}")))?,
            };
            let res = named(&resources);
            let ops = operations(&entries)?;
            let who = principals(&entries);
            if res.is_empty() || ops.is_empty() || who.is_empty() {
                return Err(usage(
                    "create needs a resource (--topic, --group, --cluster, --transactional-id), \
                     an --operation and an --allow-principal or --deny-principal",
                ));
            }
            let mut acls = Vec::new();
            for (rt, name) in &res {
                for op in &ops {
                    for (perm, principal, host) in &who {
                        acls.push(AclEntry {
                            resource_type: rt.code(),
                            name: name.clone(),
                            pattern_type: pattern.code(),
                            principal: principal.clone(),
                            host: host.clone(),
                            operation: op.code(),
                            permission: perm.code(),
                        });
                    }
                }
            }
            let mut client = connect(&args.conn).await?;
            client.create_acls(&acls).await?;
            print(&mut out, args.fmt.format, &acls)?;
        }
        AclCmd::List {
            resources,
            principal,
        } => {
            let mut client = connect(&args.conn).await?;
            let res = named(&resources);
            let mut all = Vec::new();
            if res.is_empty() {
                all = client
                    .describe_acls(&AclFilter {
                        resource_type: ANY,
                        name: None,
                        pattern_type: match resources.resource_pattern_type {
                            None => PATTERN_ANY,
                            Some(_) => filter_pattern(&resources)?,
                        },
                        principal: principal.clone(),
                        host: None,
                        operation: ANY,
                        permission: ANY,
                    })
                    .await?;
            }
            for (rt, name) in res {
                all.extend(
                    client
                        .describe_acls(&AclFilter {
                            resource_type: rt.code(),
                            name: Some(name),
                            pattern_type: filter_pattern(&resources)?,
                            principal: principal.clone(),
                            host: None,
                            operation: ANY,
                            permission: ANY,
                        })
                        .await?,
                );
            }
            print(&mut out, args.fmt.format, &all)?;
        }
        AclCmd::Delete { resources, entries } => {
            let res = named(&resources);
            let ops = operations(&entries)?;
            let who = principals(&entries);
            if res.is_empty() && who.is_empty() {
                return Err(usage(
                    "delete needs a resource or a principal (it would delete every ACL)",
                ));
            }
            let pattern = if res.is_empty() && resources.resource_pattern_type.is_none() {
                PATTERN_ANY
            } else {
                filter_pattern(&resources)?
            };
            let res_filters: Vec<(i8, Option<String>)> = if res.is_empty() {
                vec![(ANY, None)]
            } else {
                res.into_iter().map(|(t, n)| (t.code(), Some(n))).collect()
            };
            let entry_filters: Vec<(i8, Option<String>, Option<String>)> = if who.is_empty() {
                vec![(ANY, None, None)]
            } else {
                // A host given explicitly narrows; the default `*` does not.
                let explicit = !entries.allow_host.is_empty() || !entries.deny_host.is_empty();
                who.into_iter()
                    .map(|(perm, p, h)| (perm.code(), Some(p), explicit.then_some(h)))
                    .collect()
            };
            let op_codes: Vec<i8> = if ops.is_empty() {
                vec![ANY]
            } else {
                ops.iter().map(|o| o.code()).collect()
            };
            let mut filters = Vec::new();
            for (rt, name) in &res_filters {
                for (perm, principal, host) in &entry_filters {
                    for op in &op_codes {
                        filters.push(AclFilter {
                            resource_type: *rt,
                            name: name.clone(),
                            pattern_type: pattern,
                            principal: principal.clone(),
                            host: host.clone(),
                            operation: *op,
                            permission: *perm,
                        });
                    }
                }
            }
            let mut client = connect(&args.conn).await?;
            let deleted = client.delete_acls(&filters).await?;
            print(&mut out, args.fmt.format, &deleted)?;
        }
    }
    out.flush()
}
