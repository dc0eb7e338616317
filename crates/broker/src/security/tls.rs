//! TLS for SSL and SASL_SSL listeners, with rustls: the `ssl.*` settings,
//! the server config built from them at start, and the principal of a
//! client certificate (mTLS).
//!
//! Keystores are PEM only (`ssl.keystore.type=PEM`): a file with the
//! private key and the certificate chain (`ssl.keystore.location`) or both
//! inline (`ssl.keystore.key`, `ssl.keystore.certificate.chain`). The
//! truststore (`ssl.truststore.location` or `ssl.truststore.certificates`)
//! holds the CA certificates client certificates are checked against.
//! `ssl.client.auth` is `none`, `requested` or `required`. Only TLS 1.2
//! and 1.3 are offered. Not yet: PKCS12 keystores, encrypted keys,
//! certificate reload, `ssl.principal.mapping.rules` other than DEFAULT.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;

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
    pub keystore_location: Option<String>,
    pub keystore_certificate_chain: Option<Secret>,
    pub keystore_key: Option<Secret>,
    pub truststore_location: Option<String>,
    pub truststore_certificates: Option<Secret>,
    pub client_auth: ClientAuth,
    /// `ssl.enabled.protocols`: a subset of TLSv1.2, TLSv1.3.
    pub enabled_protocols: Vec<String>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            keystore_location: None,
            keystore_certificate_chain: None,
            keystore_key: None,
            truststore_location: None,
            truststore_certificates: None,
            client_auth: ClientAuth::None,
            enabled_protocols: vec!["TLSv1.2".into(), "TLSv1.3".into()],
        }
    }
}

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

/// Reads a PEM file or takes inline PEM text.
fn pem_source(
    location: Option<&str>,
    inline: Option<&Secret>,
    what: &str,
) -> Result<Option<Vec<u8>>, String> {
    match (location, inline) {
        (Some(_), Some(_)) => Err(format!("{what}: give a location or inline PEM, not both")),
        (Some(path), None) => std::fs::read(path)
            .map(Some)
            .map_err(|e| format!("{what}: cannot read {path}: {e}")),
        (None, Some(s)) => Ok(Some(s.0.as_bytes().to_vec())),
        (None, None) => Ok(None),
    }
}

fn certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{what}: bad PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what}: no certificate found"));
    }
    Ok(certs)
}

/// Builds the server config of TLS listeners. Errors name the setting,
/// never a key's content.
pub fn server_config(s: &TlsSettings) -> Result<Arc<ServerConfig>, String> {
    let (chain, key) = match (
        &s.keystore_location,
        &s.keystore_certificate_chain,
        &s.keystore_key,
    ) {
        (Some(path), None, None) => {
            let pem = pem_source(Some(path), None, "ssl.keystore.location")?.unwrap_or_default();
            let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
                format!("ssl.keystore.location: no usable private key in {path}: {e}")
            })?;
            (certs(&pem, "ssl.keystore.location")?, key)
        }
        (None, Some(chain), Some(key)) => {
            let key = PrivateKeyDer::from_pem_slice(key.0.as_bytes())
                .map_err(|e| format!("ssl.keystore.key: no usable private key: {e}"))?;
            (
                certs(chain.0.as_bytes(), "ssl.keystore.certificate.chain")?,
                key,
            )
        }
        (None, None, None) => {
            return Err(
                "a TLS listener needs ssl.keystore.location (PEM: key and certificate chain) \
                        or ssl.keystore.certificate.chain with ssl.keystore.key"
                    .into(),
            )
        }
        _ => {
            return Err(
                "give ssl.keystore.location, or ssl.keystore.certificate.chain with \
                        ssl.keystore.key, not a mix"
                    .into(),
            )
        }
    };
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
    let trust = pem_source(
        s.truststore_location.as_deref(),
        s.truststore_certificates.as_ref(),
        "ssl.truststore",
    )?;
    let builder = match s.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Requested | ClientAuth::Required => {
            let pem = trust.ok_or(
                "ssl.client.auth requested/required needs ssl.truststore.location or \
                 ssl.truststore.certificates",
            )?;
            let mut roots = rustls::RootCertStore::empty();
            for c in certs(&pem, "ssl.truststore")? {
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
        .with_single_cert(chain, key)
        .map_err(|e| format!("ssl.keystore: the key does not fit the certificate: {e}"))?;
    Ok(Arc::new(config))
}

/// Kafka's DEFAULT principal of a client certificate: `User:` and the
/// subject's distinguished name as RFC 2253 prints it (last RDN first,
/// `CN=client,O=Example,C=NO`).
pub fn certificate_principal(der: &[u8]) -> Option<super::Principal> {
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
    Some(super::Principal(format!("User:{}", rdns.join(","))))
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
        let e = server_config(&TlsSettings::default()).unwrap_err();
        assert!(e.contains("ssl.keystore.location"), "{e}");
        let inline = TlsSettings {
            keystore_certificate_chain: Some(Secret("not pem".into())),
            keystore_key: Some(Secret("-----BEGIN PRIVATE KEY-----\nsecretstuff\n".into())),
            ..TlsSettings::default()
        };
        let e = server_config(&inline).unwrap_err();
        assert!(!e.contains("secretstuff"), "{e}");
    }

    #[test]
    fn rfc2253_escaping() {
        assert_eq!(escape_rfc2253("a,b"), "a\\,b");
        assert_eq!(escape_rfc2253(" x "), "\\ x\\ ");
        assert_eq!(escape_rfc2253("plain"), "plain");
    }
}
