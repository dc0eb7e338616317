//! The operator CLI: `fjord topic|produce|consume|group|cluster|acl|quota|user`,
//! talking to any Kafka-compatible broker through fjord-client (our own
//! protocol crate on the wire, no librdkafka), over TLS and SASL when
//! `--command-config` or the security flags ask (`security.rs`). Every
//! failure is one line on stderr and a non-zero exit; output is text
//! (tables) or JSON.

pub mod acl;
pub mod cluster;
pub mod consume;
pub mod format;
pub mod group;
pub mod membership;
pub mod oauth;
pub mod out;
pub mod produce;
pub mod quota;
pub mod reassign;
pub mod schema;
pub mod security;
pub mod spec;
pub mod topic;
pub mod user;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use fjord_client::{Acks, Client, ClientConfig, ClientError};
use fjord_protocol::records::Compression;

use format::RecordFormat;
use spec::{Brokers, FromSpec, SeekTo};

/// Why a command failed; `main` prints it as `fjord: <message>`.
#[derive(Debug)]
pub enum CliError {
    /// Bad arguments the parser could not catch (exit code 2).
    Usage(String),
    /// The command ran and failed (exit code 1).
    Failed(String),
    /// stdout was closed by the reader: stop without a message.
    Quiet,
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        CliError::Failed(e.to_string())
    }
}

pub type CliResult = Result<(), CliError>;

#[derive(Args, Clone, Debug)]
pub struct ConnArgs {
    /// Brokers to bootstrap from, HOST:PORT[,HOST:PORT...].
    #[arg(
        long,
        short = 'b',
        env = "FJORD_BROKERS",
        default_value = "127.0.0.1:9092",
        value_parser = spec::parse_brokers,
        value_name = "HOST:PORT,...",
        global = true
    )]
    pub brokers: Brokers,
    /// Seconds to wait for a broker to answer a request.
    #[arg(
        long,
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        value_name = "SECS",
        global = true
    )]
    pub timeout: u64,
    /// TLS and SASL (`--command-config`, `--security-protocol`, ...).
    #[command(flatten)]
    pub security: security::SecurityArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Human-readable lines and tables.
    #[default]
    Text,
    /// One JSON document (or one object per line for streams).
    Json,
}

#[derive(Args, Clone, Debug)]
pub struct FormatArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct TopicArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub fmt: FormatArgs,
    #[command(subcommand)]
    pub cmd: TopicCmd,
}

#[derive(Subcommand, Debug)]
pub enum TopicCmd {
    /// Create a topic.
    Create {
        name: String,
        /// Partition count (default: the broker's num.partitions).
        #[arg(long, short = 'p', value_parser = clap::value_parser!(i32).range(1..))]
        partitions: Option<i32>,
        /// Replication factor (default: the broker's).
        #[arg(long, short = 'r', value_parser = clap::value_parser!(i16).range(1..))]
        replicas: Option<i16>,
        /// A topic config, KEY=VALUE (repeatable).
        #[arg(long = "config", short = 'c', value_name = "KEY=VALUE", value_parser = spec::parse_kv)]
        configs: Vec<(String, String)>,
        /// Succeed without changes when the topic already exists.
        #[arg(long)]
        if_not_exists: bool,
    },
    /// List topics with their partition counts.
    List {
        /// Leave out internal topics (__consumer_offsets, ...).
        #[arg(long)]
        exclude_internal: bool,
    },
    /// Describe a topic: summary, configs with their source, partitions.
    Describe { name: String },
    /// Delete topics.
    Delete {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Set or remove topic configs.
    AlterConfig {
        name: String,
        /// Set KEY=VALUE (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = spec::parse_kv)]
        set: Vec<(String, String)>,
        /// Remove KEY, going back to the default (repeatable).
        #[arg(long = "delete", value_name = "KEY")]
        delete: Vec<String>,
    },
    /// Grow a topic to a total number of partitions.
    AddPartitions {
        name: String,
        /// The new total partition count.
        #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
        total: i32,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompressionArg {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl CompressionArg {
    pub fn codec(self) -> Compression {
        match self {
            CompressionArg::None => Compression::None,
            CompressionArg::Gzip => Compression::Gzip,
            CompressionArg::Snappy => Compression::Snappy,
            CompressionArg::Lz4 => Compression::Lz4,
            CompressionArg::Zstd => Compression::Zstd,
        }
    }
}

#[derive(Args, Debug)]
pub struct ProduceArgs {
    pub topic: String,
    /// Split each line at the first SEP into key and value (a line
    /// without SEP gets a null key).
    #[arg(long, short = 'K', value_name = "SEP")]
    pub key_separator: Option<String>,
    /// A header for every record, KEY=VALUE (repeatable).
    #[arg(long = "header", short = 'H', value_name = "KEY=VALUE", value_parser = spec::parse_kv)]
    pub headers: Vec<(String, String)>,
    /// Send every record to this partition (default: by key, else sticky).
    #[arg(long, short = 'p', value_parser = clap::value_parser!(i32).range(0..))]
    pub partition: Option<i32>,
    /// Batch compression codec.
    #[arg(long, short = 'z', value_enum, default_value_t = CompressionArg::None)]
    pub compression: CompressionArg,
    /// Acknowledgements to wait for: 0, 1 or all [default: all]. As in
    /// Kafka, acks 0 or 1 turn idempotence off unless it is asked for
    /// explicitly, which is then an error.
    #[arg(long, value_parser = spec::parse_acks, value_name = "0|1|all")]
    pub acks: Option<Acks>,
    /// Kafka's `enable.idempotence` [default: true]: the producer takes a
    /// producer id and numbers its batches, so a retried batch is stored
    /// once; needs acks=all.
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true",
        conflicts_with = "no_idempotence"
    )]
    pub enable_idempotence: Option<bool>,
    /// Same as --enable-idempotence=false.
    #[arg(long)]
    pub no_idempotence: bool,
    /// Give up on a record this long after it was read (Kafka's
    /// `delivery.timeout.ms`); retriable errors (a broker restarting, a
    /// leader moving) are retried until then.
    #[arg(long, default_value_t = 120_000, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub delivery_timeout_ms: u64,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub fmt: FormatArgs,
}

/// Kafka's `group.protocol` values.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupProtocolArg {
    Classic,
    Consumer,
}

/// Kafka's assignor names.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignorArg {
    Range,
    #[value(name = "roundrobin")]
    RoundRobin,
    Sticky,
    CooperativeSticky,
}

impl From<AssignorArg> for fjord_client::Assignor {
    fn from(a: AssignorArg) -> Self {
        match a {
            AssignorArg::Range => fjord_client::Assignor::Range,
            AssignorArg::RoundRobin => fjord_client::Assignor::RoundRobin,
            AssignorArg::Sticky => fjord_client::Assignor::Sticky,
            AssignorArg::CooperativeSticky => fjord_client::Assignor::CooperativeSticky,
        }
    }
}

#[derive(Args, Debug)]
pub struct ConsumeArgs {
    pub topic: String,
    /// Where to start: start, end, OFFSET, @TIMESTAMP_MS, -N (N before the
    /// end) or +N (N after the start). With --group, only for partitions
    /// without a committed offset.
    #[arg(long, default_value = "start", value_parser = spec::parse_from, allow_hyphen_values = true, value_name = "POSITION")]
    pub from: FromSpec,
    /// Only these partitions (comma-separated).
    #[arg(
        long,
        short = 'p',
        value_delimiter = ',',
        value_name = "P,...",
        conflicts_with = "group"
    )]
    pub partitions: Vec<i32>,
    /// Consume as a member of this consumer group, committing offsets.
    #[arg(long, short = 'g')]
    pub group: Option<String>,
    /// Static group membership (Kafka's `group.instance.id`): a consumer
    /// restarted under the same id within the session timeout keeps its
    /// partitions without a rebalance; exiting does not leave the group.
    #[arg(long, requires = "group", value_name = "ID")]
    pub group_instance_id: Option<String>,
    /// The partition assignor the member offers (Kafka's
    /// `partition.assignment.strategy`); cooperative-sticky rebalances
    /// incrementally (KIP-429): only partitions that move are revoked.
    /// [default: range]
    #[arg(long, value_enum, requires = "group")]
    pub assignor: Option<AssignorArg>,
    /// Kafka's `group.protocol`: classic (JoinGroup/SyncGroup, the
    /// assignor runs in the group's leader) or consumer (KIP-848:
    /// ConsumerGroupHeartbeat, the broker assigns).
    #[arg(long, value_enum, default_value_t = GroupProtocolArg::Classic, requires = "group")]
    pub group_protocol: GroupProtocolArg,
    /// With --group-protocol consumer: the broker-side assignor (Kafka's
    /// `group.remote.assignor`, e.g. uniform or range; default: the
    /// broker's first).
    #[arg(long, value_name = "NAME", requires = "group")]
    pub group_remote_assignor: Option<String>,
    /// Kafka's `session.timeout.ms`: how long the coordinator waits for a
    /// heartbeat (or, for a static member, a restart) before it drops the
    /// member.
    #[arg(long, default_value_t = 30_000, value_name = "MS", requires = "group",
          value_parser = clap::value_parser!(i32).range(1..))]
    pub session_timeout_ms: i32,
    /// Stop after this many records.
    #[arg(long, short = 'n')]
    pub count: Option<u64>,
    /// Stop once every partition has been read to its end.
    #[arg(long, short = 'e')]
    pub exit_at_end: bool,
    /// Skip records of aborted transactions and read up to the last stable offset.
    #[arg(long)]
    pub read_committed: bool,
    /// text (the value), json (one object per line), or a format string:
    /// %t topic, %p partition, %o offset, %T timestamp, %k key, %v value,
    /// %h headers, %K/%S key/value length, %% percent; \n and \t escapes.
    #[arg(long, default_value = "text", value_parser = format::parse_record_format, value_name = "FORMAT")]
    pub format: RecordFormat,
    /// Decode values written by Confluent serializers (avro, json or
    /// protobuf) to JSON, with writer schemas from --schema-registry.
    #[arg(long, value_enum)]
    pub value_format: Option<schema::ValueFormat>,
    /// Schema registry URL for --value-format.
    #[arg(
        long,
        env = "FJORD_SCHEMA_REGISTRY_URL",
        default_value = "http://127.0.0.1:8081",
        value_name = "URL"
    )]
    pub schema_registry: String,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Args, Debug)]
pub struct GroupArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub fmt: FormatArgs,
    #[command(subcommand)]
    pub cmd: GroupCmd,
}

#[derive(Subcommand, Debug)]
pub enum GroupCmd {
    /// List consumer groups.
    List,
    /// Describe a group: state, coordinator, members, offsets and lag.
    Describe { group: String },
    /// Move a group's committed offsets (the group must have no members).
    Seek {
        group: String,
        #[arg(long)]
        topic: String,
        /// start, end, OFFSET, @TIMESTAMP_MS, or a duration ago (1h, 30m, 2d).
        #[arg(long, value_parser = spec::parse_seek_to, value_name = "POSITION")]
        to: SeekTo,
        /// Only these partitions (comma-separated; default: all).
        #[arg(long, short = 'p', value_delimiter = ',', value_name = "P,...")]
        partitions: Vec<i32>,
        /// Show the new offsets without committing them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete groups (with their committed offsets); they must have no members.
    Delete {
        #[arg(required = true)]
        groups: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub fmt: FormatArgs,
    #[command(subcommand)]
    pub cmd: ClusterCmd,
}

#[derive(Subcommand, Debug)]
pub enum ClusterCmd {
    /// Cluster id, controller, brokers, the metadata quorum and topics.
    Info,
    /// Elect partition leaders (as kafka-leader-election.sh): the
    /// preferred replica where it is in sync, or (unclean) any alive
    /// replica for a partition without a leader.
    ElectLeaders(cluster::ElectArgs),
    /// Move partitions to other replicas (as kafka-reassign-partitions.sh):
    /// start (--topic/--partition/--replicas or --reassignment-json-file),
    /// --cancel, --list those in progress, --wait until done.
    Reassign(reassign::ReassignArgs),
    /// Remove a (stopped) broker's registration from the cluster.
    Unregister(reassign::UnregisterArgs),
}

/// The CLI verbs, as `main` dispatches them.
#[derive(Debug)]
pub enum CliCommand {
    Topic(TopicArgs),
    Produce(ProduceArgs),
    Consume(ConsumeArgs),
    Group(GroupArgs),
    Cluster(ClusterArgs),
    Schema(schema::SchemaArgs),
    Acl(acl::AclArgs),
    Quota(quota::QuotaArgs),
    User(user::UserArgs),
}

/// Connects with the security settings of the file and flags; warnings
/// about settings that do not apply go to stderr.
impl CliCommand {
    /// The connection arguments of a verb that talks to Kafka brokers
    /// (`schema` talks to the registry over HTTP).
    pub fn conn_mut(&mut self) -> Option<&mut ConnArgs> {
        match self {
            CliCommand::Topic(a) => Some(&mut a.conn),
            CliCommand::Produce(a) => Some(&mut a.conn),
            CliCommand::Consume(a) => Some(&mut a.conn),
            CliCommand::Group(a) => Some(&mut a.conn),
            CliCommand::Cluster(a) => Some(&mut a.conn),
            CliCommand::Acl(a) => Some(&mut a.conn),
            CliCommand::Quota(a) => Some(&mut a.conn),
            CliCommand::User(a) => Some(&mut a.conn),
            CliCommand::Schema(_) => None,
        }
    }
}

pub async fn connect(conn: &ConnArgs) -> Result<Client, CliError> {
    let timeout = Duration::from_secs(conn.timeout);
    let (security, warnings) = security::resolve(&conn.security)?;
    for w in warnings {
        eprintln!("fjord: warning: {w}");
    }
    let config = ClientConfig {
        bootstrap: conn.brokers.0.clone(),
        client_id: "fjord-cli".into(),
        connect_timeout: timeout.min(Duration::from_secs(10)),
        request_timeout: timeout,
        security,
    };
    Ok(Client::connect(config).await?)
}

async fn dispatch(cmd: CliCommand) -> CliResult {
    match cmd {
        CliCommand::Topic(a) => topic::run(a).await,
        CliCommand::Produce(a) => produce::run(a).await,
        CliCommand::Consume(a) => consume::run(a).await,
        CliCommand::Group(a) => group::run(a).await,
        CliCommand::Cluster(a) => cluster::run(a).await,
        CliCommand::Schema(a) => schema::run(a).await,
        CliCommand::Acl(a) => acl::run(a).await,
        CliCommand::Quota(a) => quota::run(a).await,
        CliCommand::User(a) => user::run(a).await,
    }
}

/// Runs a CLI verb to completion and maps the outcome to an exit code,
/// printing a failure as one line on stderr.
pub fn run(cmd: CliCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fjord: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cmd)) {
        Ok(()) | Err(CliError::Quiet) => ExitCode::SUCCESS,
        Err(CliError::Usage(m)) => {
            eprintln!("fjord: {}", one_line(&m));
            ExitCode::from(2)
        }
        Err(CliError::Failed(m)) => {
            eprintln!("fjord: {}", one_line(&m));
            ExitCode::FAILURE
        }
    }
}

/// Collapses whitespace runs (newlines included) so a message is one line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct T {
        #[command(subcommand)]
        cmd: Verb,
    }

    #[derive(Subcommand, Debug)]
    enum Verb {
        Topic(TopicArgs),
        Produce(ProduceArgs),
        Consume(ConsumeArgs),
        Group(GroupArgs),
        Cluster(ClusterArgs),
    }

    fn parse(args: &[&str]) -> Result<Verb, clap::Error> {
        T::try_parse_from(std::iter::once("fjord").chain(args.iter().copied())).map(|t| t.cmd)
    }

    #[test]
    fn topic_create_flags() {
        let Verb::Topic(t) = parse(&[
            "topic",
            "create",
            "demo",
            "--partitions",
            "3",
            "--config",
            "retention.ms=1000",
            "-c",
            "cleanup.policy=compact",
            "--brokers",
            "h:1,h:2",
            "--format",
            "json",
        ])
        .unwrap() else {
            panic!("not a topic command")
        };
        assert_eq!(t.conn.brokers.0, vec!["h:1", "h:2"]);
        assert_eq!(t.fmt.format, Format::Json);
        let TopicCmd::Create {
            name,
            partitions,
            replicas,
            configs,
            ..
        } = t.cmd
        else {
            panic!("not create")
        };
        assert_eq!(name, "demo");
        assert_eq!(partitions, Some(3));
        assert_eq!(replicas, None);
        assert_eq!(
            configs,
            vec![
                ("retention.ms".to_string(), "1000".to_string()),
                ("cleanup.policy".to_string(), "compact".to_string())
            ]
        );
        // Global flags also work before the verb.
        let Verb::Topic(t) = parse(&["topic", "--format", "json", "list"]).unwrap() else {
            panic!()
        };
        assert_eq!(t.fmt.format, Format::Json);
        assert!(parse(&["topic", "create", "x", "--partitions", "0"]).is_err());
        assert!(parse(&["topic", "create", "x", "--config", "novalue"]).is_err());
        assert!(parse(&["topic", "list", "--format", "yaml"]).is_err());
        assert!(parse(&["topic", "list", "--brokers", "nohostport"]).is_err());
        assert!(parse(&["topic", "delete"]).is_err());
    }

    #[test]
    fn produce_flags() {
        let Verb::Produce(p) = parse(&[
            "produce",
            "t",
            "-K",
            ":",
            "-H",
            "a=1",
            "--header",
            "b=2",
            "--acks",
            "0",
            "-z",
            "zstd",
            "--partition",
            "2",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(p.key_separator.as_deref(), Some(":"));
        assert_eq!(p.headers.len(), 2);
        assert_eq!(p.acks, Some(Acks::None));
        assert_eq!(p.compression, CompressionArg::Zstd);
        assert_eq!(p.partition, Some(2));
        let Verb::Produce(p) = parse(&["produce", "t"]).unwrap() else {
            panic!()
        };
        assert_eq!(p.acks, None);
        assert_eq!(p.enable_idempotence, None);
        assert_eq!(p.delivery_timeout_ms, 120_000);
        assert_eq!(p.compression, CompressionArg::None);
        let Verb::Produce(p) = parse(&["produce", "t", "--enable-idempotence"]).unwrap() else {
            panic!()
        };
        assert_eq!(p.enable_idempotence, Some(true));
        let Verb::Produce(p) = parse(&["produce", "t", "--enable-idempotence=false"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(p.enable_idempotence, Some(false));
        assert!(parse(&["produce", "t", "--enable-idempotence", "--no-idempotence"]).is_err());
        assert!(parse(&["produce", "t", "--acks", "2"]).is_err());
        assert!(parse(&["produce", "t", "--compression", "brotli"]).is_err());
        assert!(parse(&["produce", "t", "--partition", "-1"]).is_err());
    }

    #[test]
    fn consume_flags() {
        let Verb::Consume(c) = parse(&[
            "consume",
            "t",
            "--from",
            "-5",
            "--partitions",
            "0,2",
            "--count",
            "3",
            "--format",
            "%p:%o %k=%v",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(c.from, FromSpec::BeforeEnd(5));
        assert_eq!(c.partitions, vec![0, 2]);
        assert_eq!(c.count, Some(3));
        assert!(matches!(c.format, RecordFormat::Template(_)));
        let Verb::Consume(c) = parse(&["consume", "t", "--group", "g", "--from", "@1000"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(c.group.as_deref(), Some("g"));
        assert_eq!(c.from, FromSpec::Timestamp(1000));
        assert_eq!(c.format, RecordFormat::Text);
        assert!(parse(&["consume", "t", "--group", "g", "--partitions", "1"]).is_err());
        assert!(parse(&["consume", "t", "--from", "yesterday"]).is_err());
        assert!(parse(&["consume", "t", "--format", "%q"]).is_err());
        assert_eq!(c.assignor, None);
        assert_eq!(c.group_protocol, GroupProtocolArg::Classic);
        assert_eq!(c.session_timeout_ms, 30_000);
        let Verb::Consume(c) = parse(&[
            "consume",
            "t",
            "--group",
            "g",
            "--assignor",
            "cooperative-sticky",
            "--session-timeout-ms",
            "6000",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(c.assignor, Some(AssignorArg::CooperativeSticky));
        assert_eq!(c.session_timeout_ms, 6000);
        let Verb::Consume(c) =
            parse(&["consume", "t", "-g", "g", "--assignor", "roundrobin"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(c.assignor, Some(AssignorArg::RoundRobin));
        let Verb::Consume(c) = parse(&[
            "consume",
            "t",
            "-g",
            "g",
            "--group-protocol",
            "consumer",
            "--group-remote-assignor",
            "uniform",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(c.group_protocol, GroupProtocolArg::Consumer);
        assert_eq!(c.group_remote_assignor.as_deref(), Some("uniform"));
        // Group flags need a group.
        assert!(parse(&["consume", "t", "--assignor", "range"]).is_err());
        assert!(parse(&["consume", "t", "--group-protocol", "consumer"]).is_err());
        assert!(parse(&["consume", "t", "-g", "g", "--assignor", "uniform"]).is_err());
    }

    #[test]
    fn group_flags() {
        let Verb::Group(g) = parse(&[
            "group",
            "seek",
            "g",
            "--topic",
            "t",
            "--to",
            "1h",
            "--dry-run",
        ])
        .unwrap() else {
            panic!()
        };
        let GroupCmd::Seek { to, dry_run, .. } = g.cmd else {
            panic!()
        };
        assert_eq!(to, SeekTo::Ago(Duration::from_secs(3600)));
        assert!(dry_run);
        assert!(parse(&["group", "seek", "g", "--to", "start"]).is_err());
        assert!(parse(&["group", "seek", "g", "--topic", "t", "--to", "soon"]).is_err());
        assert!(parse(&["cluster", "info", "--format", "json"]).is_ok());
    }

    #[test]
    fn messages_are_one_line() {
        assert_eq!(one_line("a\n  b\tc\n"), "a b c");
    }
}
