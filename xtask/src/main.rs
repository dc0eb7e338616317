//! Workspace tasks. `cargo xtask codegen [--specs DIR] [--out DIR]` turns
//! Kafka's JSON message specs into the Rust sources under
//! `crates/protocol/src/generated/`.

mod codegen;
mod spec;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprintln!("usage: cargo xtask codegen [--specs DIR] [--out DIR]");
        return ExitCode::from(2);
    };
    match cmd.as_str() {
        "codegen" => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            let mut specs = root.join("../shared/kafka-message-specs");
            let mut out = root.join("crates/protocol/src/generated");
            let mut it = args[1..].iter();
            while let Some(a) = it.next() {
                match (a.as_str(), it.next()) {
                    ("--specs", Some(v)) => specs = PathBuf::from(v),
                    ("--out", Some(v)) => out = PathBuf::from(v),
                    _ => {
                        eprintln!("unknown or incomplete argument: {a}");
                        return ExitCode::from(2);
                    }
                }
            }
            match codegen::run(&specs, &out) {
                Ok(n) => {
                    println!("generated {n} messages into {}", out.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("codegen failed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        other => {
            eprintln!("unknown task {other}");
            ExitCode::from(2)
        }
    }
}
