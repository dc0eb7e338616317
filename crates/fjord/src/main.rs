//! The `fjord` binary: `fjord broker` runs a broker with zero
//! configuration; `topic`, `produce`, `consume`, `group`, `cluster`,
//! `acl`, `quota`, `user` and `schema` are the operator CLI (see `cli/`),
//! usable against any Kafka-compatible broker; `config list` prints the broker's config
//! catalogue.

mod cli;
mod config_list;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fjord_broker::config::keys;
use fjord_broker::BrokerConfig;

#[derive(Parser)]
#[command(
    name = "fjord",
    version,
    about = "Kafka-compatible event streaming in one binary"
)]
struct Cli {
    /// Log format: text (default) or json.
    #[arg(long, env = "FJORD_LOG_FORMAT", default_value = "text", global = true)]
    log_format: String,
    /// Client properties file for the verbs that talk to brokers (TLS,
    /// SASL; Kafka/librdkafka names). Also accepted after the verb, with
    /// the --security-protocol, --sasl-* and --ssl-* flags that override it.
    #[arg(long, value_name = "FILE")]
    command_config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a single-node broker (creates and formats its data directory).
    Broker(BrokerArgs),
    /// Create, list, describe, delete and alter topics.
    Topic(cli::TopicArgs),
    /// Produce records from stdin, one per line.
    Produce(cli::ProduceArgs),
    /// Print records of a topic, optionally as a consumer group member.
    Consume(cli::ConsumeArgs),
    /// List, describe, seek and delete consumer groups.
    Group(cli::GroupArgs),
    /// Show the cluster: id, controller, brokers, topics.
    Cluster(cli::ClusterArgs),
    /// Schema registry: list, get, register, check, delete, config.
    Schema(cli::schema::SchemaArgs),
    /// Create, list and delete ACLs (kafka-acls' flags).
    Acl(cli::acl::AclArgs),
    /// The broker's config keys (`fjord config list`).
    Config(config_list::ConfigArgs),
    /// Set and describe client quotas of users and client ids.
    Quota(cli::quota::QuotaArgs),
    /// Create, delete and list SCRAM users (SCRAM-SHA-256/512 credentials).
    User(cli::user::UserArgs),
}

/// Parses the command line. Help and version go to stdout as usual; any
/// other parse error becomes one line on stderr and exit code 2.
fn parse_cli() -> Result<Cli, ExitCode> {
    use clap::error::ErrorKind;
    match Cli::try_parse() {
        Ok(cli) => Ok(cli),
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = e.print();
                Err(ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2)))
            }
            _ => {
                let text = e.to_string();
                // The first paragraph says what is wrong (clap may continue
                // it on indented lines); the usage line names the command.
                let reason: Vec<&str> = text
                    .lines()
                    .map(str::trim)
                    .skip_while(|l| l.is_empty())
                    .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
                    .collect();
                let reason = reason.join(" ");
                let reason = reason.strip_prefix("error: ").unwrap_or(&reason);
                let command: Option<String> = text
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("Usage: "))
                    .map(|u| {
                        u.split_whitespace()
                            .take_while(|w| !w.starts_with(['-', '<', '[']))
                            .collect::<Vec<_>>()
                            .join(" ")
                    });
                let usage = command
                    .map(|c| format!(" (see {c} --help)"))
                    .unwrap_or_default();
                eprintln!("fjord: {}{usage}", cli::one_line(reason));
                Err(ExitCode::from(2))
            }
        },
    }
}

/// `fjord broker`'s arguments: `--config FILE` and one flag (with an
/// environment variable) per catalogue key that declares one, so flags,
/// their defaults and help come from the same table as the file's keys.
struct BrokerArgs {
    /// TOML file with Kafka config names.
    config: Option<PathBuf>,
    /// (config key, value) of each flag given, in catalogue order.
    flags: Vec<(&'static str, String)>,
    /// `--add-scram` arguments (credentials created or updated at start).
    add_scram: Vec<String>,
}

impl clap::FromArgMatches for BrokerArgs {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = Vec::new();
        for d in keys::broker_defs() {
            if let Some(f) = d.flag() {
                if let Some(v) = m.get_one::<String>(f.long) {
                    flags.push((d.name(), v.clone()));
                }
            }
        }
        Ok(BrokerArgs {
            config: m.get_one::<PathBuf>("config").cloned(),
            flags,
            add_scram: m
                .get_many::<String>("add-scram")
                .map(|v| v.cloned().collect())
                .unwrap_or_default(),
        })
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl clap::Args for BrokerArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let mut cmd = cmd.arg(
            clap::Arg::new("config")
                .long("config")
                .env("FJORD_CONFIG")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help("TOML file with Kafka config names (`fjord config list` shows them all)"),
        )
        .arg(
            clap::Arg::new("add-scram")
                .long("add-scram")
                .value_name("MECHANISM=[name=USER,password=PASSWORD]")
                .action(clap::ArgAction::Append)
                .help(
                    "Create or update a SCRAM credential at start, as kafka-storage format --add-scram \
                     (repeatable): SCRAM-SHA-256=[name=admin,password=admin-secret], optionally \
                     iterations=8192",
                ),
        );
        for d in keys::broker_defs() {
            let Some(f) = d.flag() else { continue };
            let default = d
                .effective_default()
                .map(|v| format!("; default {v}"))
                .unwrap_or_default();
            cmd = cmd.arg(
                clap::Arg::new(f.long)
                    .long(f.long)
                    .env(f.env)
                    .value_name("VALUE")
                    .help(format!("{} [config {}{default}]", d.doc(), d.name())),
            );
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FJORD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn build_config(args: BrokerArgs) -> Result<BrokerConfig, String> {
    let mut config = BrokerConfig::default();
    if let Some(path) = &args.config {
        let unknown = config.load_toml(path).map_err(|e| e.to_string())?;
        for key in unknown {
            tracing::warn!(key, "unknown config key ignored");
        }
    }
    if config.layers.statics.contains_key("listeners")
        && args.flags.iter().any(|(k, _)| *k == "listeners")
    {
        return Err(
            "listeners is set both in the config file and by --listen (or FJORD_LISTEN); give one"
                .into(),
        );
    }
    // Flags win over the file; both are the static config.
    for (key, value) in &args.flags {
        config.set(key, value).map_err(|e| e.to_string())?;
    }
    for a in &args.add_scram {
        let parsed = fjord_broker::security::users::AddScram::parse(a)
            .map_err(|e| format!("--add-scram: {e}"))?;
        config.add_scram.push(parsed);
    }
    config.validate().map_err(|e| e.to_string())?;
    let advertised = config.advertised();
    if fjord_broker::config::split_host_port(&advertised).is_none() {
        return Err(format!(
            "advertised address {advertised:?} is not HOST:PORT"
        ));
    }
    let listen = config.listen();
    let listen_host = listen.rsplit_once(':').map(|(h, _)| h).unwrap_or("");
    let adv_host = advertised.rsplit_once(':').map(|(h, _)| h).unwrap_or("");
    let all_interfaces = matches!(listen_host, "0.0.0.0" | "[::]" | "::" | "");
    let loopback = adv_host == "localhost" || adv_host.starts_with("127.") || adv_host == "[::1]";
    if all_interfaces && (loopback || adv_host == "0.0.0.0") {
        tracing::warn!(
            listen = %listen,
            advertise = %advertised,
            "listening on all interfaces but advertising an address other hosts cannot reach; set --advertise HOST:PORT"
        );
    }
    Ok(config)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("signal received");
}

fn main() -> ExitCode {
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let top_command_config = cli.command_config.clone();
    if top_command_config.is_some()
        && matches!(
            cli.command,
            Command::Broker(_) | Command::Config(_) | Command::Schema(_)
        )
    {
        eprintln!("fjord: --command-config applies to the commands that talk to Kafka brokers");
        return ExitCode::from(2);
    }
    let mut cmd = match cli.command {
        Command::Broker(args) => return run_broker(&cli.log_format, args),
        Command::Topic(a) => cli::CliCommand::Topic(a),
        Command::Produce(a) => cli::CliCommand::Produce(a),
        Command::Consume(a) => cli::CliCommand::Consume(a),
        Command::Group(a) => cli::CliCommand::Group(a),
        Command::Cluster(a) => cli::CliCommand::Cluster(a),
        Command::Schema(a) => cli::CliCommand::Schema(a),
        Command::Acl(a) => cli::CliCommand::Acl(a),
        Command::Quota(a) => cli::CliCommand::Quota(a),
        Command::User(a) => cli::CliCommand::User(a),
        Command::Config(a) => return config_list::run(a),
    };
    // `fjord --command-config F topic list`: the file before the verb,
    // unless the verb names one of its own.
    if let (Some(path), Some(conn)) = (top_command_config, cmd.conn_mut()) {
        conn.security.command_config.get_or_insert(path);
    }
    // Operator commands keep their logs off unless FJORD_LOG asks for them,
    // so that stderr carries only the one-line failure.
    if std::env::var_os("FJORD_LOG").is_some() {
        init_logging(&cli.log_format);
    }
    cli::run(cmd)
}

/// The file descriptor limit: raised from the soft to the hard limit where
/// the OS allows. Returns (limit now, limit at start); `None` when it
/// cannot be read.
#[cfg(unix)]
fn raise_fd_limit() -> Option<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    let before = lim.rlim_cur;
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return Some((lim.rlim_max, before));
        }
    }
    Some((before, before))
}

#[cfg(not(unix))]
fn raise_fd_limit() -> Option<(u64, u64)> {
    None
}

/// Raises the descriptor limit and gives the log file cache half of it
/// (the rest is for connections and transient files). Returns the line
/// the banner prints.
fn set_up_file_limits() -> String {
    match raise_fd_limit() {
        Some((now, before)) => {
            let cache = usize::try_from(now / 2)
                .unwrap_or(usize::MAX)
                .clamp(64, 1 << 20);
            fjord_storage::set_open_files_limit(cache);
            let raised = if now > before {
                format!(" (raised from {before})")
            } else {
                String::new()
            };
            tracing::info!(
                fd_limit = now,
                fd_limit_at_start = before,
                log_files_open_max = cache,
                "file descriptor limit"
            );
            format!("{now}{raised}; log files kept open: {cache}")
        }
        None => format!(
            "unknown; log files kept open: {}",
            fjord_storage::open_files_limit()
        ),
    }
}

fn run_broker(log_format: &str, args: BrokerArgs) -> ExitCode {
    init_logging(log_format);
    let fd_line = set_up_file_limits();
    let config = match build_config(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fjord: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fjord: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let advertised = config.advertised();
    let listeners: Vec<String> = config
        .listeners_resolved()
        .unwrap_or_default()
        .iter()
        .map(|l| format!("{}://{} ({})", l.name, l.advertised.addr, l.protocol.name()))
        .collect();
    let result = runtime.block_on(fjord_broker::run(config, shutdown_signal(), |s| {
        let registry = s
            .schema_registry
            .map_or_else(|| "off".to_string(), |a| format!("http://{a}"));
        tracing::info!(
            kafka = %s.kafka.map_or_else(|| "none (controller only)".to_string(), |a| a.to_string()),
            http = %s.http,
            schema_registry = %registry,
            node_id = s.node_id,
            cluster_id = %s.cluster_id,
            data_dir = %s.data_dir.display(),
            "fjord is serving"
        );
        eprintln!(
            "\nfjord broker ready\n  kafka:     {}\n  http:      http://{}/health\n  registry:  {registry}\n  data dir:  {}\n  fd limit:  {fd_line}\n  try:       echo hello | kcat -b {advertised} -P -t demo && kcat -b {advertised} -C -t demo -e\n",
            if s.kafka.is_some() { listeners.join(", ") } else { "none (process.roles=controller)".to_string() },
            s.http,
            s.data_dir.display()
        );
    }));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Already said once, with what was not flushed.
        Err(fjord_broker::server::ServerError::UncleanShutdown(_)) => ExitCode::FAILURE,
        Err(e) => {
            tracing::error!(error = %e, "broker failed");
            eprintln!("fjord: {e}");
            ExitCode::FAILURE
        }
    }
}
