//! How the CLI secures its connections: `--command-config FILE` (Java
//! properties with librdkafka/Kafka client names, as `kafka-topics
//! --command-config` and kcat's `-F` read them) and flags that override
//! the file, turned into fjord-client's [`Security`].
//!
//! Keys understood: `security.protocol`, `sasl.mechanism` (or librdkafka's
//! `sasl.mechanisms`), `sasl.username`, `sasl.password`, Kafka's
//! `sasl.jaas.config` for the PLAIN and SCRAM login modules,
//! `ssl.ca.location` (or `ssl.truststore.location` with
//! `ssl.truststore.type=PEM`), `ssl.certificate.location`,
//! `ssl.key.location` (or a PEM `ssl.keystore.location` holding both),
//! `sasl.oauthbearer.method=oidc` with `sasl.oauthbearer.token.endpoint.url`,
//! `sasl.oauthbearer.client.id`, `sasl.oauthbearer.client.secret` and
//! `sasl.oauthbearer.scope` (OAUTHBEARER, token from the endpoint),
//! `ssl.key.password` (for an encrypted PKCS#8 key, as
//! `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it),
//! `ssl.endpoint.identification.algorithm` (`https`, or `none`/empty to
//! skip the hostname check).
//!
//! Other well-known client keys (timeouts, retries, `client.id`,
//! `bootstrap.servers`, ...) are accepted with a warning on stderr: a
//! file shared with other Kafka tools keeps working. Any other key is an
//! error naming it, so a typo in a security setting is never silently
//! ignored. The password falls back to `FJORD_SASL_PASSWORD` when
//! neither the flag nor the file gives one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use fjord_client::{SaslMechanism, SaslSettings, Secret, Security, SecurityProtocol, TlsSettings};

use super::CliError;

/// The environment variable the password falls back to.
pub const PASSWORD_ENV: &str = "FJORD_SASL_PASSWORD";

/// Security flags, global to every subcommand that talks to a broker.
#[derive(Args, Clone, Debug, Default)]
pub struct SecurityArgs {
    /// Client properties file (Java properties, librdkafka/Kafka names:
    /// security.protocol, sasl.mechanism, sasl.username, sasl.password,
    /// sasl.jaas.config, ssl.ca.location, ssl.certificate.location,
    /// ssl.key.location, ssl.endpoint.identification.algorithm). Flags
    /// override it.
    #[arg(long, value_name = "FILE", global = true)]
    pub command_config: Option<PathBuf>,
    /// PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
    #[arg(long, value_name = "PROTOCOL", global = true)]
    pub security_protocol: Option<String>,
    /// PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (its token
    /// settings come from --command-config).
    #[arg(long, value_name = "MECHANISM", global = true)]
    pub sasl_mechanism: Option<String>,
    /// SASL user name.
    #[arg(long, value_name = "USER", global = true)]
    pub sasl_username: Option<String>,
    /// SASL password (visible to other local users in the process list:
    /// prefer the file or FJORD_SASL_PASSWORD, used when neither this
    /// flag nor the file gives one).
    #[arg(long, value_name = "PASSWORD", global = true)]
    pub sasl_password: Option<String>,
    /// PEM file of the CA certificates that sign the brokers' certificates.
    #[arg(long, value_name = "FILE", global = true)]
    pub ssl_ca: Option<PathBuf>,
    /// PEM client certificate (chain) for mTLS.
    #[arg(long, value_name = "FILE", global = true)]
    pub ssl_cert: Option<PathBuf>,
    /// PEM private key of --ssl-cert.
    #[arg(long, value_name = "FILE", global = true)]
    pub ssl_key: Option<PathBuf>,
}

/// Client keys that mean something to Kafka clients but not to the CLI:
/// accepted with a warning.
const IGNORED_KEYS: &[&str] = &[
    "bootstrap.servers",
    "client.id",
    "client.dns.lookup",
    "request.timeout.ms",
    "default.api.timeout.ms",
    "socket.connection.setup.timeout.ms",
    "socket.connection.setup.timeout.max.ms",
    "connections.max.idle.ms",
    "metadata.max.age.ms",
    "retries",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "receive.buffer.bytes",
    "send.buffer.bytes",
    "socket.timeout.ms",
    "debug",
    "log_level",
    "api.version.request",
    "sasl.kerberos.service.name",
    "sasl.login.callback.handler.class",
    "sasl.login.class",
    "sasl.login.refresh.buffer.seconds",
    "sasl.login.refresh.min.period.seconds",
    "sasl.login.refresh.window.factor",
    "sasl.login.refresh.window.jitter",
    "ssl.protocol",
    "ssl.enabled.protocols",
    "ssl.cipher.suites",
    "ssl.truststore.password",
    "ssl.keystore.password",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
    "ssl.provider",
];

/// Reads Java properties: `key=value` or `key: value` lines, `#` and `!`
/// comments, a trailing `\` continues the line, `\` escapes the next
/// character (`\t`, `\n`, `\\`, `\=` ...).
pub fn parse_properties(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut logical = String::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((n, line)) = lines.next() {
        let first_line = n + 1;
        let trimmed = line.trim_start();
        if logical.is_empty() && (trimmed.is_empty() || trimmed.starts_with(['#', '!'])) {
            continue;
        }
        logical.push_str(trimmed);
        // An odd number of trailing backslashes continues the line.
        let trailing = logical.chars().rev().take_while(|c| *c == '\\').count();
        if trailing % 2 == 1 && lines.peek().is_some() {
            logical.pop();
            continue;
        }
        let entry = std::mem::take(&mut logical);
        let (key, value) = split_entry(&entry);
        let key = unescape(key.trim_end());
        if key.is_empty() {
            return Err(format!("line {first_line}: no key before the value"));
        }
        out.insert(key, unescape(value.trim_start()));
    }
    Ok(out)
}

/// Splits at the first unescaped `=` or `:` (or whitespace, as Java does).
fn split_entry(s: &str) -> (&str, &str) {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' => return (&s[..i], &s[i + 1..]),
            c if c.is_whitespace() => {
                let rest = s[i..].trim_start();
                let rest = rest
                    .strip_prefix('=')
                    .or_else(|| rest.strip_prefix(':'))
                    .unwrap_or(rest);
                return (&s[..i], rest);
            }
            _ => {}
        }
    }
    (s, "")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

pub use fjord_client::security::parse_jaas;

/// Settings gathered from the file, then overridden by flags.
#[derive(Default)]
struct Gathered {
    protocol: Option<String>,
    mechanism: Option<String>,
    username: Option<String>,
    password: Option<String>,
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    key_password: Option<String>,
    verify_hostname: Option<bool>,
    /// OAUTHBEARER (`sasl.oauthbearer.*`, librdkafka's names).
    oauth_method: Option<String>,
    token_endpoint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

fn from_file(path: &Path, g: &mut Gathered, warnings: &mut Vec<String>) -> Result<(), CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::Usage(format!(
            "cannot read --command-config {}: {}",
            path.display(),
            e.kind()
        ))
    })?;
    let props = parse_properties(&text)
        .map_err(|e| CliError::Usage(format!("--command-config {}: {e}", path.display())))?;
    let pem_type = |key: &str| !matches!(props.get(key), Some(t) if !t.eq_ignore_ascii_case("PEM"));
    let mut unknown = Vec::new();
    for (k, v) in &props {
        match k.as_str() {
            "security.protocol" => g.protocol = Some(v.clone()),
            "sasl.mechanism" | "sasl.mechanisms" => g.mechanism = Some(v.clone()),
            "sasl.username" => g.username = Some(v.clone()),
            "sasl.password" => g.password = Some(v.clone()),
            "sasl.jaas.config" => {
                let (u, p) = parse_jaas(v).map_err(CliError::Usage)?;
                // Explicit sasl.username/password win over the JAAS line.
                if !props.contains_key("sasl.username") {
                    g.username = u.or(g.username.take());
                }
                if !props.contains_key("sasl.password") {
                    g.password = p.or(g.password.take());
                }
            }
            "ssl.ca.location" => g.ca = Some(PathBuf::from(v)),
            "ssl.truststore.location" => {
                if !pem_type("ssl.truststore.type") {
                    return Err(CliError::Usage(
                        "ssl.truststore.location: only ssl.truststore.type=PEM is supported (give a PEM CA bundle, or ssl.ca.location)".into(),
                    ));
                }
                if !props.contains_key("ssl.ca.location") {
                    g.ca = Some(PathBuf::from(v));
                }
            }
            "ssl.truststore.type" | "ssl.keystore.type" => {}
            "ssl.certificate.location" => g.cert = Some(PathBuf::from(v)),
            "ssl.key.location" => g.key = Some(PathBuf::from(v)),
            "ssl.keystore.location" => {
                // Kafka's PEM keystore: key and certificate chain in one file.
                if !pem_type("ssl.keystore.type") {
                    return Err(CliError::Usage(
                        "ssl.keystore.location: only ssl.keystore.type=PEM is supported (or ssl.certificate.location with ssl.key.location)".into(),
                    ));
                }
                if !props.contains_key("ssl.certificate.location") {
                    g.cert = Some(PathBuf::from(v));
                }
                if !props.contains_key("ssl.key.location") {
                    g.key = Some(PathBuf::from(v));
                }
            }
            "ssl.endpoint.identification.algorithm" => {
                g.verify_hostname = Some(match v.trim().to_ascii_lowercase().as_str() {
                    "https" => true,
                    "" | "none" => false,
                    other => {
                        return Err(CliError::Usage(format!(
                            "ssl.endpoint.identification.algorithm: {other:?} is not https or none"
                        )))
                    }
                })
            }
            "ssl.key.password" => g.key_password = Some(v.clone()),
            "sasl.oauthbearer.method" => g.oauth_method = Some(v.clone()),
            "sasl.oauthbearer.token.endpoint.url" => g.token_endpoint = Some(v.clone()),
            "sasl.oauthbearer.client.id" => g.client_id = Some(v.clone()),
            "sasl.oauthbearer.client.secret" => g.client_secret = Some(v.clone()),
            "sasl.oauthbearer.scope" => g.scope = Some(v.clone()),
            k if IGNORED_KEYS.contains(&k) => warnings.push(format!(
                "ignoring {k} from --command-config (it does not apply to the fjord CLI)"
            )),
            k => unknown.push(k.to_string()),
        }
    }
    if !unknown.is_empty() {
        return Err(CliError::Usage(format!(
            "--command-config {}: unknown client setting(s): {}",
            path.display(),
            unknown.join(", ")
        )));
    }
    Ok(())
}

/// The [`Security`] of the file and flags, and warnings for stderr.
pub fn resolve(args: &SecurityArgs) -> Result<(Security, Vec<String>), CliError> {
    resolve_with_env(args, std::env::var(PASSWORD_ENV).ok())
}

fn resolve_with_env(
    args: &SecurityArgs,
    env_password: Option<String>,
) -> Result<(Security, Vec<String>), CliError> {
    let mut g = Gathered::default();
    let mut warnings = Vec::new();
    if let Some(path) = &args.command_config {
        from_file(path, &mut g, &mut warnings)?;
    }
    let flag = |f: &Option<String>, v: &mut Option<String>| {
        if let Some(f) = f {
            *v = Some(f.clone());
        }
    };
    flag(&args.security_protocol, &mut g.protocol);
    flag(&args.sasl_mechanism, &mut g.mechanism);
    flag(&args.sasl_username, &mut g.username);
    flag(&args.sasl_password, &mut g.password);
    if g.password.is_none() {
        g.password = env_password;
    }
    for (f, v) in [
        (&args.ssl_ca, &mut g.ca),
        (&args.ssl_cert, &mut g.cert),
        (&args.ssl_key, &mut g.key),
    ] {
        if let Some(f) = f {
            *v = Some(f.clone());
        }
    }
    let protocol = match &g.protocol {
        None => SecurityProtocol::Plaintext,
        Some(p) => SecurityProtocol::from_name(p).ok_or_else(|| {
            CliError::Usage(format!(
                "security.protocol {p:?} is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
            ))
        })?,
    };
    let sasl = if protocol.sasl() {
        let Some(m) = &g.mechanism else {
            return Err(CliError::Usage(format!(
                "security.protocol {} needs sasl.mechanism (--sasl-mechanism): PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
                protocol.name()
            )));
        };
        let mechanism = SaslMechanism::from_name(m).ok_or_else(|| {
            CliError::Usage(format!(
                "sasl.mechanism {m:?} is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER)"
            ))
        })?;
        if mechanism == SaslMechanism::OAuthBearer {
            Some(oauth_settings(&g)?)
        } else {
            let Some(username) = g.username.clone() else {
                return Err(CliError::Usage(
                    "SASL needs a user: sasl.username (--sasl-username) or sasl.jaas.config".into(),
                ));
            };
            let Some(password) = g.password.clone() else {
                return Err(CliError::Usage(format!(
                    "SASL user {username:?} has no password: sasl.password, --sasl-password or {PASSWORD_ENV}"
                )));
            };
            Some(SaslSettings {
                mechanism,
                username,
                password: Secret(password),
            })
        }
    } else {
        if g.mechanism.is_some() || g.username.is_some() {
            return Err(CliError::Usage(format!(
                "SASL settings are given but security.protocol is {} (use SASL_PLAINTEXT or SASL_SSL)",
                protocol.name()
            )));
        }
        None
    };
    if !protocol.tls() && (g.ca.is_some() || g.cert.is_some() || g.key.is_some()) {
        warnings.push(format!(
            "ignoring the ssl.* settings: security.protocol is {}",
            protocol.name()
        ));
    }
    let tls = TlsSettings {
        ca: g.ca,
        cert: g.cert,
        key: g.key,
        verify_hostname: g.verify_hostname.unwrap_or(true),
        key_password: g.key_password.map(Secret),
    };
    Ok((
        Security {
            protocol,
            tls,
            sasl,
        },
        warnings,
    ))
}

/// OAUTHBEARER's settings: a token from the OIDC token endpoint
/// (`sasl.oauthbearer.method=oidc`, librdkafka's names; the broker takes
/// no unsecured token, so `default` is refused).
fn oauth_settings(g: &Gathered) -> Result<SaslSettings, CliError> {
    match g.oauth_method.as_deref().map(str::trim) {
        Some(m) if m.eq_ignore_ascii_case("oidc") => {}
        other => {
            return Err(CliError::Usage(format!(
                "OAUTHBEARER needs sasl.oauthbearer.method=oidc with sasl.oauthbearer.token.endpoint.url, \
                 sasl.oauthbearer.client.id and sasl.oauthbearer.client.secret (got method {:?}; unsecured \
                 tokens are not accepted by fjord brokers)",
                other.unwrap_or("default")
            )))
        }
    }
    let need = |v: &Option<String>, key: &str| {
        v.clone()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| CliError::Usage(format!("OAUTHBEARER (oidc) needs {key}")))
    };
    let endpoint = need(&g.token_endpoint, "sasl.oauthbearer.token.endpoint.url")?;
    let client_id = need(&g.client_id, "sasl.oauthbearer.client.id")?;
    let client_secret = need(&g.client_secret, "sasl.oauthbearer.client.secret")?;
    let token = super::oauth::fetch_token(&super::oauth::TokenRequest {
        endpoint: &endpoint,
        client_id: &client_id,
        client_secret: &client_secret,
        scope: g.scope.as_deref(),
    })?;
    Ok(SaslSettings {
        mechanism: SaslMechanism::OAuthBearer,
        username: client_id,
        password: Secret(token),
    })
}

#[cfg(test)]
#[path = "security_tests.rs"]
mod tests;
