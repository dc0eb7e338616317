//! How fjord-client secures its connections: TLS (rustls) and SASL
//! (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), the same choices a Kafka client
//! makes with `security.protocol`.
//!
//! [`Security`] is what a caller configures (file paths, user, password);
//! [`SecurityContext`] is that configuration loaded once (certificates and
//! keys read, the rustls config built) and shared by every connection the
//! client opens, bootstrap and per-broker alike.
//!
//! - `tls`: the rustls client config: CA bundle, optional client
//!   certificate for mTLS, hostname verification (on unless turned off).
//! - `scram`: the client side of a SCRAM exchange and the salted password
//!   of AlterUserScramCredentials.
//!
//! No secret appears in a `Debug` or error text: passwords are [`Secret`]s.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{ClientError, Result};

mod key;
pub mod scram;
mod tls;

pub use key::pem_private_key;

pub(crate) use tls::{describe_handshake_error, server_name};

/// Kafka's `security.protocol`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SecurityProtocol {
    #[default]
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub const ALL: [SecurityProtocol; 4] = [
        SecurityProtocol::Plaintext,
        SecurityProtocol::Ssl,
        SecurityProtocol::SaslPlaintext,
        SecurityProtocol::SaslSsl,
    ];

    /// Kafka's name (`SASL_SSL`).
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Parses Kafka's name, case-insensitively (librdkafka accepts both).
    pub fn from_name(s: &str) -> Option<SecurityProtocol> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
    }

    pub fn tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    pub fn sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// The SASL mechanisms the client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
    /// RFC 7628: the password of [`SaslSettings`] is the bearer token (a
    /// JWT the caller obtained), the user name only names it in errors.
    OAuthBearer,
}

impl SaslMechanism {
    pub const ALL: [SaslMechanism; 4] = [
        SaslMechanism::Plain,
        SaslMechanism::ScramSha256,
        SaslMechanism::ScramSha512,
        SaslMechanism::OAuthBearer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    pub fn from_name(s: &str) -> Option<SaslMechanism> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
    }

    /// The SCRAM hash, for the SCRAM mechanisms.
    pub fn scram(self) -> Option<scram::ScramHash> {
        match self {
            SaslMechanism::Plain | SaslMechanism::OAuthBearer => None,
            SaslMechanism::ScramSha256 => Some(scram::ScramHash::Sha256),
            SaslMechanism::ScramSha512 => Some(scram::ScramHash::Sha512),
        }
    }
}

/// A string that never shows in `Debug` output.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// TLS settings (librdkafka's `ssl.*` names in brackets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM bundle of the CAs trusted to sign broker certificates
    /// (`ssl.ca.location`); `None`: the system's bundle.
    pub ca: Option<PathBuf>,
    /// PEM client certificate chain for mTLS (`ssl.certificate.location`).
    pub cert: Option<PathBuf>,
    /// PEM private key of that certificate (`ssl.key.location`).
    pub key: Option<PathBuf>,
    /// Whether the broker's certificate must name the host connected to
    /// (`ssl.endpoint.identification.algorithm=https`, the default; `none`
    /// turns it off, the chain is still verified).
    pub verify_hostname: bool,
    /// The password of an encrypted (PKCS#8, PBES2) `key`
    /// (`ssl.key.password`).
    pub key_password: Option<Secret>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            ca: None,
            cert: None,
            key: None,
            verify_hostname: true,
            key_password: None,
        }
    }
}

/// SASL settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaslSettings {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: Secret,
}

/// What secures the client's connections. The default is plaintext.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Security {
    pub protocol: SecurityProtocol,
    /// Used when `protocol` is SSL or SASL_SSL.
    pub tls: TlsSettings,
    /// Required when `protocol` is SASL_PLAINTEXT or SASL_SSL.
    pub sasl: Option<SaslSettings>,
}

impl Security {
    /// Loads certificates and keys and checks that the settings fit the
    /// protocol; the result is shared by every connection.
    pub fn prepare(&self) -> Result<SecurityContext> {
        let tls = if self.protocol.tls() {
            Some(Arc::new(tls::client_config(&self.tls)?))
        } else {
            None
        };
        let sasl = checked_sasl(self.protocol, self.sasl.as_ref())?;
        Ok(SecurityContext { tls, sasl })
    }
}

/// The SASL settings `protocol` needs: required (and complete) for the
/// SASL protocols, ignored for the others.
fn checked_sasl(
    protocol: SecurityProtocol,
    sasl: Option<&SaslSettings>,
) -> Result<Option<SaslSettings>> {
    if !protocol.sasl() {
        return Ok(None);
    }
    let Some(s) = sasl else {
        return Err(ClientError::Other(format!(
            "security.protocol {} needs sasl.mechanism, sasl.username and sasl.password",
            protocol.name()
        )));
    };
    if s.mechanism == SaslMechanism::OAuthBearer {
        if s.password.0.is_empty() {
            return Err(ClientError::Other("OAUTHBEARER without a token".into()));
        }
        return Ok(Some(s.clone()));
    }
    if s.username.is_empty() {
        return Err(ClientError::Other("sasl.username is empty".into()));
    }
    if s.password.0.is_empty() {
        return Err(ClientError::Other(format!(
            "no password for SASL user {:?} (sasl.password)",
            s.username
        )));
    }
    Ok(Some(s.clone()))
}

/// TLS key material already in memory, for a caller that reads its own
/// stores (a broker's truststore and keystore for its connections to
/// other brokers).
pub struct TlsMaterial {
    /// The CA certificates the server's chain must lead to.
    pub roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// The certificate chain and key presented when the server asks for
    /// a client certificate (mTLS).
    pub client_cert: Option<(
        Vec<rustls::pki_types::CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    )>,
    /// Whether the server's certificate must name the host connected to.
    pub verify_hostname: bool,
}

impl SecurityContext {
    /// A context from material already loaded: `tls` is required when
    /// `protocol` is SSL or SASL_SSL, `sasl` when it is a SASL protocol.
    pub fn from_material(
        protocol: SecurityProtocol,
        tls: Option<TlsMaterial>,
        sasl: Option<&SaslSettings>,
    ) -> Result<SecurityContext> {
        let tls = match (protocol.tls(), tls) {
            (false, _) => None,
            (true, Some(m)) => Some(Arc::new(tls::material_config(m)?)),
            (true, None) => {
                return Err(ClientError::Other(format!(
                    "security.protocol {} needs a truststore",
                    protocol.name()
                )))
            }
        };
        let sasl = checked_sasl(protocol, sasl)?;
        Ok(SecurityContext { tls, sasl })
    }
}

/// [`Security`] loaded: the rustls config and the SASL credentials.
#[derive(Clone, Default)]
pub struct SecurityContext {
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    pub(crate) sasl: Option<SaslSettings>,
}

impl std::fmt::Debug for SecurityContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityContext")
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl.as_ref().map(|s| s.mechanism))
            .finish()
    }
}

/// The user and password of a `sasl.jaas.config` for the PLAIN or SCRAM
/// login module: `<module> required username="x" password="y";`.
pub fn parse_jaas(value: &str) -> Result<(Option<String>, Option<String>), String> {
    let v = value.trim();
    let module = v.split_whitespace().next().unwrap_or("");
    let supported = [
        "org.apache.kafka.common.security.plain.PlainLoginModule",
        "org.apache.kafka.common.security.scram.ScramLoginModule",
    ];
    if !supported.contains(&module) {
        return Err(format!(
            "sasl.jaas.config: login module {module:?} is not supported (PlainLoginModule or ScramLoginModule)"
        ));
    }
    let mut rest = v[module.len()..].trim_start();
    for flag in ["required", "requisite", "sufficient", "optional"] {
        if let Some(r) = rest.strip_prefix(flag) {
            rest = r;
            break;
        }
    }
    let (mut user, mut password) = (None, None);
    loop {
        rest = rest.trim_start();
        if rest.is_empty() || rest.starts_with(';') {
            break;
        }
        let Some((key, after)) = rest.split_once('=') else {
            return Err("sasl.jaas.config: expected key=\"value\" options".into());
        };
        let key = key.trim();
        let after = after.trim_start();
        let (val, next) = if let Some(q) = after.strip_prefix('"') {
            let mut val = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, e)) = chars.next() {
                            val.push(e);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => val.push(c),
                }
            }
            let Some(end) = end else {
                return Err(format!(
                    "sasl.jaas.config: the value of {key} has no closing quote"
                ));
            };
            (val, &q[end..])
        } else {
            let end = after
                .find(|c: char| c.is_whitespace() || c == ';')
                .unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        match key {
            "username" => user = Some(val),
            "password" => password = Some(val),
            _ => {}
        }
        rest = next;
    }
    Ok((user, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_as_kafka_spells_them() {
        assert_eq!(
            SecurityProtocol::from_name("sasl_ssl"),
            Some(SecurityProtocol::SaslSsl)
        );
        assert_eq!(SecurityProtocol::from_name("TLS"), None);
        assert_eq!(
            SaslMechanism::from_name("SCRAM-SHA-512"),
            Some(SaslMechanism::ScramSha512)
        );
        assert_eq!(SaslMechanism::from_name("GSSAPI"), None);
    }

    #[test]
    fn secrets_stay_out_of_debug_and_errors() {
        let s = Security {
            protocol: SecurityProtocol::SaslPlaintext,
            tls: TlsSettings::default(),
            sasl: Some(SaslSettings {
                mechanism: SaslMechanism::Plain,
                username: "bob".into(),
                password: Secret("hunter2-secret".into()),
            }),
        };
        assert!(!format!("{s:?}").contains("hunter2"));
        let ctx = s.prepare().unwrap();
        assert!(!format!("{ctx:?}").contains("hunter2"));
        let missing = Security {
            protocol: SecurityProtocol::SaslSsl,
            ..Default::default()
        };
        assert!(missing
            .prepare()
            .unwrap_err()
            .to_string()
            .contains("sasl.mechanism"));
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let s = Security {
            protocol: SecurityProtocol::Ssl,
            tls: TlsSettings {
                ca: Some("/nonexistent/ca.pem".into()),
                ..Default::default()
            },
            sasl: None,
        };
        let e = s.prepare().unwrap_err().to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
