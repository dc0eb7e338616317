//! TLS for SSL and SASL_SSL listeners, with rustls: the `ssl.*` settings,
//! the server config built from them, swapped whole when the store files
//! change, and the principal of a client certificate (mTLS).
//!
//! The keystore (`ssl.keystore.type` PEM or PKCS12) and the truststore
//! (the CA certificates client certificates are checked against) are read
//! by `keystore`. `ssl.client.auth` is `none`, `requested` or `required`.
//! Only TLS 1.2 and 1.3 are offered. A client certificate's subject DN
//! becomes `User:<name>` through `ssl.principal.mapping.rules`
//! (`principal_mapping`). `TlsContext` holds the current config; the
//! `tls_reload` task replaces it when the files change. Encrypted PKCS#8
//! PEM keys are decrypted with `ssl.key.password`. Not offered: JKS.

use std::sync::{Arc, RwLock};

use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;

use super::keystore::{self, KeyMaterial, StoreType};
use super::principal_mapping::PrincipalMapper;
use super::Secret;

/// `ssl.client.auth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Requested,
    Required,
}

impl ClientAuth {
    pub fn parse(v: &str) -> Result<ClientAuth, String> {
        match v.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(ClientAuth::None),
            "requested" => Ok(ClientAuth::Requested),
            "required" => Ok(ClientAuth::Required),
            other => Err(format!("{other:?} is not none, requested or required")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::Requested => "requested",
            ClientAuth::Required => "required",
        }
    }
}

/// The `ssl.*` settings (shared by every TLS listener).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// `ssl.keystore.type`.
    pub keystore_type: StoreType,
    pub keystore_location: Option<String>,
    pub keystore_certificate_chain: Option<Secret>,
    pub keystore_key: Option<Secret>,
    /// `ssl.keystore.password` (PKCS12).
    pub keystore_password: Option<Secret>,
    /// `ssl.key.password`: decrypts an encrypted PKCS#8 PEM key (PKCS12:
    /// must equal the store's password).
    pub key_password: Option<Secret>,
    /// `ssl.truststore.type`.
    pub truststore_type: StoreType,
    pub truststore_location: Option<String>,
    pub truststore_certificates: Option<Secret>,
    /// `ssl.truststore.password` (PKCS12).
    pub truststore_password: Option<Secret>,
    pub client_auth: ClientAuth,
    /// `ssl.enabled.protocols`: a subset of TLSv1.2, TLSv1.3.
    pub enabled_protocols: Vec<String>,
    /// `ssl.principal.mapping.rules`, checked when set, parsed again by
    /// `TlsContext::new`.
    pub principal_mapping_rules: String,
    /// `fjord.ssl.reload.interval.ms`: how often the store files are
    /// checked for changes (0: never).
    pub reload_interval_ms: u64,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            keystore_type: StoreType::Pem,
            keystore_location: None,
            keystore_certificate_chain: None,
            keystore_key: None,
            keystore_password: None,
            key_password: None,
            truststore_type: StoreType::Pem,
            truststore_location: None,
            truststore_certificates: None,
            truststore_password: None,
            client_auth: ClientAuth::None,
            enabled_protocols: vec!["TLSv1.2".into(), "TLSv1.3".into()],
            principal_mapping_rules: "DEFAULT".into(),
            reload_interval_ms: DEFAULT_RELOAD_INTERVAL_MS,
        }
    }
}

impl TlsSettings {
    /// The keystore's key and chain, read now.
    pub fn keystore(&self) -> Result<KeyMaterial, String> {
        keystore::load_keystore(
            self.keystore_type,
            self.keystore_location.as_deref(),
            self.keystore_certificate_chain.as_ref(),
            self.keystore_key.as_ref(),
            self.keystore_password.as_ref(),
            self.key_password.as_ref(),
        )
    }

    /// The truststore's CA certificates, read now (None: none configured).
    pub fn truststore(&self) -> Result<Option<Vec<CertificateDer<'static>>>, String> {
        keystore::load_truststore(
            self.truststore_type,
            self.truststore_location.as_deref(),
            self.truststore_certificates.as_ref(),
            self.truststore_password.as_ref(),
        )
    }
}

/// `fjord.ssl.reload.interval.ms`'s default.
pub const DEFAULT_RELOAD_INTERVAL_MS: u64 = 5_000;

/// `ssl.enabled.protocols`: TLSv1.2 and/or TLSv1.3 (older ones refused).
pub fn parse_protocols(v: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for p in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match p {
            "TLSv1.2" | "TLSv1.3" => out.push(p.to_string()),
            other => return Err(format!("{other:?}: fjord offers only TLSv1.2 and TLSv1.3")),
        }
    }
    if out.is_empty() {
        return Err("at least one of TLSv1.2, TLSv1.3".into());
    }
    Ok(out)
}

/// Builds the server config of TLS listeners from the stores the settings
/// name (read now). Errors name the setting, never a key's content.
pub fn server_config(s: &TlsSettings) -> Result<(Arc<ServerConfig>, KeyMaterial), String> {
    let keys = s.keystore()?;
    let trust = s.truststore()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if s.enabled_protocols.iter().any(|p| p == "TLSv1.3") {
        versions.push(&rustls::version::TLS13);
    }
    if s.enabled_protocols.iter().any(|p| p == "TLSv1.2") {
        versions.push(&rustls::version::TLS12);
    }
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("ssl.enabled.protocols: {e}"))?;
    let builder = match s.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Requested | ClientAuth::Required => {
            let cas = trust.ok_or(
                "ssl.client.auth requested/required needs ssl.truststore.location or \
                 ssl.truststore.certificates",
            )?;
            let mut roots = rustls::RootCertStore::empty();
            for c in cas {
                roots
                    .add(c)
                    .map_err(|e| format!("ssl.truststore: unusable CA certificate: {e}"))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if s.client_auth == ClientAuth::Requested {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .map_err(|e| format!("ssl.truststore: {e}"))?,
            )
        }
    };
    let config = builder
        .with_single_cert(keys.chain.clone(), keys.key.clone_key())
        .map_err(|e| format!("ssl.keystore: the key does not fit the certificate: {e}"))?;
    Ok((Arc::new(config), keys))
}

/// What TLS listeners share: the current server config, swapped whole
/// when the store files change (`tls_reload`), and the principal mapping.
/// A handshake takes the config current when it starts, so connections
/// keep the certificate they were opened with.
pub struct TlsContext {
    settings: TlsSettings,
    current: RwLock<Arc<ServerConfig>>,
    mapper: PrincipalMapper,
}

impl TlsContext {
    /// Reads the stores and parses the mapping rules: a startup error if
    /// either fails.
    pub fn new(settings: TlsSettings) -> Result<Arc<TlsContext>, String> {
        let mapper = PrincipalMapper::parse(&settings.principal_mapping_rules)
            .map_err(|e| format!("ssl.principal.mapping.rules: {e}"))?;
        let (config, keys) = server_config(&settings)?;
        tracing::info!(certificate = %keys.describe(), "TLS keystore loaded");
        Ok(Arc::new(TlsContext {
            settings,
            current: RwLock::new(config),
            mapper,
        }))
    }

    /// The acceptor for a new connection (the current certificate).
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let config = match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        tokio_rustls::TlsAcceptor::from(config)
    }

    /// The settings the stores are read with.
    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// Reads the stores again and, if they make a working config, swaps it
    /// in; returns the new certificate's description. On error the
    /// current config stays.
    pub fn reload(&self) -> Result<String, String> {
        let (config, keys) = server_config(&self.settings)?;
        match self.current.write() {
            Ok(mut c) => *c = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
        Ok(keys.describe())
    }

    /// The principal of a verified client certificate:
    /// `User:<name>`, the name from `ssl.principal.mapping.rules` applied to
    /// the subject DN. `Err` when no rule applies (the connection is
    /// refused, as Kafka does) or the certificate cannot be read.
    pub fn principal(&self, der: &[u8]) -> Result<super::Principal, String> {
        let dn = certificate_subject(der).ok_or("the client certificate cannot be parsed")?;
        self.mapper.name(&dn).map(|n| super::Principal::user(&n))
    }
}

/// A certificate's subject distinguished name as RFC 2253 prints it (last
/// RDN first, `CN=client,O=Example,C=NO`), what Kafka's principal mapping
/// rules see.
pub fn certificate_subject(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut rdns: Vec<String> = cert
        .subject()
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|a| {
                    let oid = a.attr_type().to_id_string();
                    let key = match oid.as_str() {
                        "2.5.4.3" => "CN",
                        "2.5.4.6" => "C",
                        "2.5.4.7" => "L",
                        "2.5.4.8" => "ST",
                        "2.5.4.9" => "STREET",
                        "2.5.4.10" => "O",
                        "2.5.4.11" => "OU",
                        "0.9.2342.19200300.100.1.25" => "DC",
                        "0.9.2342.19200300.100.1.1" => "UID",
                        _ => "",
                    };
                    match (key, a.as_str()) {
                        ("", _) | (_, Err(_)) => {
                            let hex: String = a
                                .attr_value()
                                .data
                                .iter()
                                .map(|b| format!("{b:02x}"))
                                .collect();
                            format!("{oid}=#{hex}")
                        }
                        (k, Ok(v)) => format!("{k}={}", escape_rfc2253(v)),
                    }
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.reverse();
    Some(rdns.join(","))
}

fn escape_rfc2253(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_refuse_what_fjord_does_not_offer() {
        assert_eq!(ClientAuth::parse("REQUIRED").unwrap(), ClientAuth::Required);
        assert!(ClientAuth::parse("sometimes").is_err());
        assert_eq!(parse_protocols("TLSv1.3").unwrap(), vec!["TLSv1.3"]);
        assert!(parse_protocols("TLSv1.1,TLSv1.2").is_err());
        assert!(parse_protocols("").is_err());
        let e = server_config(&TlsSettings::default())
            .map(|_| ())
            .unwrap_err();
        assert!(e.contains("ssl.keystore.location"), "{e}");
        let inline = TlsSettings {
            keystore_certificate_chain: Some(Secret("not pem".into())),
            keystore_key: Some(Secret("-----BEGIN PRIVATE KEY-----\nsecretstuff\n".into())),
            ..TlsSettings::default()
        };
        let e = server_config(&inline).map(|_| ()).unwrap_err();
        assert!(!e.contains("secretstuff"), "{e}");
    }

    #[test]
    fn rfc2253_escaping() {
        assert_eq!(escape_rfc2253("a,b"), "a\\,b");
        assert_eq!(escape_rfc2253(" x "), "\\ x\\ ");
        assert_eq!(escape_rfc2253("plain"), "plain");
    }
}
