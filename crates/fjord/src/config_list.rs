//! `fjord config list`: every config key the broker accepts, printed from
//! the config catalogue (the same table the broker parses its file, flags
//! and AlterConfigs with, and DescribeConfigs reports from). `--format
//! markdown` prints the README's config table.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use fjord_broker::config::keys::{self, BrokerDef};

#[derive(Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// List every broker and topic config: type, default, whether it can
    /// be changed at runtime, flag, description.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
}

#[derive(ValueEnum, Clone, Copy, PartialEq, Eq)]
enum ListFormat {
    /// One line per config.
    Text,
    /// One JSON array.
    Json,
    /// The README's table.
    Markdown,
}

fn default_text(d: Option<String>) -> String {
    match d {
        None => "none".into(),
        Some(v) if v.is_empty() => "\"\"".into(),
        Some(v) => v,
    }
}

fn json(d: BrokerDef) -> serde_json::Value {
    serde_json::json!({
        "name": d.name(),
        "scope": "broker",
        "topic_config": d.topic().map(|t| t.name()),
        "type": d.ty().name(),
        "default": d.effective_default(),
        "dynamic": d.mode().name(),
        "flag": d.flag().map(|f| format!("--{}", f.long)),
        "env": d.flag().map(|f| f.env),
        "doc": d.doc(),
    })
}

fn render(format: ListFormat) -> String {
    match format {
        ListFormat::Markdown => keys::markdown_table(),
        ListFormat::Json => {
            let mut all: Vec<serde_json::Value> =
                keys::broker_defs().into_iter().map(json).collect();
            for t in keys::topic_defs() {
                all.push(serde_json::json!({
                    "name": t.name(),
                    "scope": "topic",
                    "broker_config": t.broker_name(),
                    "type": t.ty().name(),
                    "default": t.default_value(),
                    "dynamic": "per-topic",
                    "doc": t.doc(),
                }));
            }
            format!("{}\n", serde_json::Value::Array(all))
        }
        ListFormat::Text => {
            let mut rows = vec![[
                "NAME".to_string(),
                "SCOPE".into(),
                "TYPE".into(),
                "DEFAULT".into(),
                "DYNAMIC".into(),
                "SYNONYM".into(),
            ]];
            for d in keys::broker_defs() {
                rows.push([
                    d.name().into(),
                    "broker".into(),
                    d.ty().name().into(),
                    default_text(d.effective_default()),
                    d.mode().name().into(),
                    d.topic().map(|t| t.name().to_string()).unwrap_or_default(),
                ]);
            }
            for t in keys::topic_defs() {
                rows.push([
                    t.name().into(),
                    "topic".into(),
                    t.ty().name().into(),
                    default_text(Some(t.default_value())),
                    "per-topic".into(),
                    t.broker_name().unwrap_or_default().into(),
                ]);
            }
            let widths: Vec<usize> = (0..6)
                .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
                .collect();
            let mut out = String::new();
            for r in rows {
                let line: Vec<String> = r
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                out.push_str(line.join("  ").trim_end());
                out.push('\n');
            }
            out
        }
    }
}

pub fn run(args: ConfigArgs) -> ExitCode {
    let ConfigCommand::List { format } = args.command;
    use std::io::Write;
    let text = render(format);
    match std::io::stdout().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fjord: cannot write to stdout: {e}");
            ExitCode::FAILURE
        }
    }
}
