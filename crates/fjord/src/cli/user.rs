//! `fjord user create|delete|list`: SCRAM users over
//! AlterUserScramCredentials and DescribeUserScramCredentials, as
//! `kafka-configs --entity-type users --alter --add-config
//! 'SCRAM-SHA-512=[password=...]'` manages them. The salt and salted
//! password are computed here; the password itself never goes on the
//! wire. The broker's answer is shown per user.

use clap::{Args, Subcommand, ValueEnum};
use fjord_client::security::scram::{ScramHash, MIN_ITERATIONS};
use fjord_client::{ScramChange, ScramUser, Secret};
use serde_json::json;

use super::format::Table;
use super::out::Out;
use super::{connect, CliError, CliResult, ConnArgs, Format, FormatArgs};

/// Kafka's highest accepted iteration count.
const MAX_ITERATIONS: u32 = 16384;

#[derive(Args, Debug)]
pub struct UserArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub fmt: FormatArgs,
    #[command(subcommand)]
    pub cmd: UserCmd,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MechanismArg {
    #[value(name = "SCRAM-SHA-256")]
    ScramSha256,
    #[value(name = "SCRAM-SHA-512")]
    ScramSha512,
}

impl MechanismArg {
    fn hash(self) -> ScramHash {
        match self {
            MechanismArg::ScramSha256 => ScramHash::Sha256,
            MechanismArg::ScramSha512 => ScramHash::Sha512,
        }
    }
}

/// The mechanisms named, or both when none is.
fn hashes(m: &[MechanismArg]) -> Vec<ScramHash> {
    if m.is_empty() {
        ScramHash::ALL.to_vec()
    } else {
        let mut v: Vec<ScramHash> = m.iter().map(|m| m.hash()).collect();
        v.sort();
        v.dedup();
        v
    }
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Create a SCRAM user, or replace its password.
    Create {
        name: String,
        /// The password (or FJORD_USER_PASSWORD).
        #[arg(long, env = "FJORD_USER_PASSWORD", hide_env_values = true)]
        password: String,
        /// The mechanism to create the credential for (repeatable;
        /// default: both SCRAM-SHA-256 and SCRAM-SHA-512).
        #[arg(long, value_enum, ignore_case = true)]
        mechanism: Vec<MechanismArg>,
        /// PBKDF2 iterations (4096 to 16384).
        #[arg(long, default_value_t = MIN_ITERATIONS,
              value_parser = clap::value_parser!(u32).range(i64::from(MIN_ITERATIONS)..=i64::from(MAX_ITERATIONS)))]
        iterations: u32,
    },
    /// Delete a user's SCRAM credentials (all of them unless --mechanism).
    Delete {
        name: String,
        /// Only this mechanism's credential (repeatable).
        #[arg(long, value_enum, ignore_case = true)]
        mechanism: Vec<MechanismArg>,
    },
    /// List SCRAM users: name, mechanisms, iterations (all, or those named).
    List { names: Vec<String> },
}

/// Prints each user's outcome; fails if any user failed.
fn report(
    out: &mut Out,
    format: Format,
    verb: &str,
    results: Vec<(String, Result<(), fjord_client::ClientError>)>,
    what: &dyn Fn(&str) -> String,
) -> CliResult {
    let mut failed = Vec::new();
    for (user, r) in results {
        match (r, format) {
            (Ok(()), Format::Text) => out.line(&format!("{verb} {}", what(&user)))?,
            (Ok(()), Format::Json) => out.json(&json!({"user": user, "ok": true}))?,
            (Err(e), Format::Json) => {
                out.json(&json!({"user": user, "ok": false, "error": e.to_string()}))?;
                failed.push(e.to_string());
            }
            (Err(e), Format::Text) => failed.push(e.to_string()),
        }
    }
    out.flush()?;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(failed.join("; ")))
    }
}

pub async fn run(args: UserArgs) -> CliResult {
    let mut out = Out::new();
    let format = args.fmt.format;
    match args.cmd {
        UserCmd::Create {
            name,
            password,
            mechanism,
            iterations,
        } => {
            if name.is_empty() {
                return Err(CliError::Usage("the user name is empty".into()));
            }
            if password.is_empty() {
                return Err(CliError::Usage("the password is empty".into()));
            }
            let hashes = hashes(&mechanism);
            let changes: Vec<ScramChange> = hashes
                .iter()
                .map(|h| ScramChange::Upsert {
                    user: name.clone(),
                    hash: *h,
                    iterations,
                    password: Secret(password.clone()),
                })
                .collect();
            let mut client = connect(&args.conn).await?;
            let results = client.alter_user_scram_credentials(&changes).await?;
            let names: Vec<&str> = hashes.iter().map(|h| h.name()).collect();
            let names = names.join(", ");
            report(&mut out, format, "Created or updated", results, &|u| {
                format!("{names} credentials of user {u}")
            })
        }
        UserCmd::Delete { name, mechanism } => {
            let mut client = connect(&args.conn).await?;
            let hashes = if mechanism.is_empty() {
                // Every credential the user has.
                let found = client
                    .describe_user_scram_credentials(Some(std::slice::from_ref(&name)))
                    .await?;
                let mut hs = Vec::new();
                for (_, r) in found {
                    for (wire, _) in r?.credentials {
                        hs.extend(ScramHash::from_wire(wire));
                    }
                }
                hs
            } else {
                hashes(&mechanism)
            };
            if hashes.is_empty() {
                return Err(CliError::Failed(format!(
                    "user {name:?} has no SCRAM credentials"
                )));
            }
            let changes: Vec<ScramChange> = hashes
                .iter()
                .map(|h| ScramChange::Delete {
                    user: name.clone(),
                    hash: *h,
                })
                .collect();
            let results = client.alter_user_scram_credentials(&changes).await?;
            let names: Vec<&str> = hashes.iter().map(|h| h.name()).collect();
            let names = names.join(", ");
            report(&mut out, format, "Deleted", results, &|u| {
                format!("{names} credentials of user {u}")
            })
        }
        UserCmd::List { names } => {
            let mut client = connect(&args.conn).await?;
            let filter = (!names.is_empty()).then_some(names.as_slice());
            let mut results = client.describe_user_scram_credentials(filter).await?;
            results.sort_by(|a, b| a.0.cmp(&b.0));
            let mut failed = Vec::new();
            let mut users: Vec<ScramUser> = Vec::new();
            for (_, r) in results {
                match r {
                    Ok(u) => users.push(u),
                    Err(e) => failed.push(e.to_string()),
                }
            }
            match format {
                Format::Json => out.json(&json!(users
                    .iter()
                    .map(|u| json!({
                        "user": u.user,
                        "credentials": u.credentials.iter().map(|(m, i)| json!({
                            "mechanism": ScramUser::mechanism_name(*m),
                            "iterations": i,
                        })).collect::<Vec<_>>(),
                    }))
                    .collect::<Vec<_>>()))?,
                Format::Text => {
                    let mut t = Table::new(&["USER", "MECHANISM", "ITERATIONS"]);
                    for u in &users {
                        for (m, i) in &u.credentials {
                            t.row(vec![
                                u.user.clone(),
                                ScramUser::mechanism_name(*m),
                                i.to_string(),
                            ]);
                        }
                    }
                    out.line(&t.render())?;
                }
            }
            out.flush()?;
            if failed.is_empty() {
                Ok(())
            } else {
                Err(CliError::Failed(failed.join("; ")))
            }
        }
    }
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

    #[derive(clap::Subcommand, Debug)]
    enum Verb {
        User(UserArgs),
    }

    fn parse(args: &[&str]) -> Result<UserCmd, clap::Error> {
        T::try_parse_from(std::iter::once("fjord").chain(args.iter().copied())).map(|t| {
            let Verb::User(u) = t.cmd;
            u.cmd
        })
    }

    #[test]
    fn create_takes_mechanisms_and_bounded_iterations() {
        let UserCmd::Create {
            name,
            password,
            mechanism,
            iterations,
        } = parse(&[
            "user",
            "create",
            "bob",
            "--password",
            "pw",
            "--mechanism",
            "scram-sha-512",
            "--iterations",
            "8192",
        ])
        .unwrap()
        else {
            panic!("not create")
        };
        assert_eq!(
            (name.as_str(), password.as_str(), iterations),
            ("bob", "pw", 8192)
        );
        assert_eq!(hashes(&mechanism), vec![ScramHash::Sha512]);
        assert_eq!(hashes(&[]), vec![ScramHash::Sha256, ScramHash::Sha512]);
        for bad in ["100", "4095", "16385"] {
            assert!(parse(&[
                "user",
                "create",
                "b",
                "--password",
                "p",
                "--iterations",
                bad
            ])
            .is_err());
        }
        assert!(parse(&[
            "user",
            "create",
            "b",
            "--password",
            "p",
            "--mechanism",
            "PLAIN"
        ])
        .is_err());
    }

    #[test]
    fn security_flags_reach_every_verb() {
        let t = T::try_parse_from([
            "fjord",
            "user",
            "--command-config",
            "a.properties",
            "list",
            "bob",
            "--sasl-username",
            "admin",
        ])
        .unwrap();
        let Verb::User(u) = t.cmd;
        assert_eq!(
            u.conn.security.command_config.as_deref(),
            Some(std::path::Path::new("a.properties"))
        );
        assert_eq!(u.conn.security.sasl_username.as_deref(), Some("admin"));
        assert!(matches!(u.cmd, UserCmd::List { names } if names == ["bob"]));
    }
}
