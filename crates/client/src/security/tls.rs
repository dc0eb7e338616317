//! The rustls client config: trusted CAs from a PEM bundle (or the
//! system's), an optional client certificate and key for mTLS, TLS 1.2
//! and 1.3, and hostname verification that can be turned off while the
//! certificate chain is still verified. Also the words for a failed
//! handshake.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error as TlsError, RootCertStore};

use super::TlsSettings;
use crate::error::{ClientError, Result};

/// Where distributions keep the system's CA bundle, tried in order when
/// no `ssl.ca.location` is given.
const SYSTEM_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
];

fn config_err(msg: String) -> ClientError {
    ClientError::Other(msg)
}

/// Reads the file of setting `what`, naming both in the error.
fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        config_err(format!(
            "cannot read {what} {}: {}",
            path.display(),
            crate::conn::describe_io(&e)
        ))
    })
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = read_file(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| config_err(format!("{what} {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(config_err(format!(
            "{what} {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

fn roots(ca: Option<&PathBuf>) -> Result<RootCertStore> {
    let (path, what) = match ca {
        Some(p) => (p.clone(), "ssl.ca.location"),
        None => {
            let found = SYSTEM_BUNDLES
                .iter()
                .map(PathBuf::from)
                .find(|p| p.exists());
            let Some(p) = found else {
                return Err(config_err(
                    "no CA bundle: set ssl.ca.location (--ssl-ca); no system bundle was found"
                        .into(),
                ));
            };
            (p, "the system CA bundle")
        }
    };
    let mut store = RootCertStore::empty();
    let certs = read_certs(&path, what)?;
    let (added, _ignored) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(config_err(format!(
            "{what} {}: no usable CA certificate",
            path.display()
        )));
    }
    Ok(store)
}

/// Builds the client config of `s`.
pub(super) fn client_config(s: &TlsSettings) -> Result<rustls::ClientConfig> {
    let roots = roots(s.ca.as_ref())?;
    let client_cert = match (&s.cert, &s.key) {
        (None, None) => None,
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert, "ssl.certificate.location")?;
            let pem = read_file(key, "ssl.key.location")?;
            let key_der = super::key::pem_private_key(
                &pem,
                s.key_password.as_ref().map(|p| p.0.as_str()),
                "ssl.key.location",
                &key.display().to_string(),
            )
            .map_err(config_err)?;
            Some((chain, key_der))
        }
        (Some(_), None) => {
            return Err(config_err(
                "ssl.certificate.location needs ssl.key.location".into(),
            ))
        }
        (None, Some(_)) => {
            return Err(config_err(
                "ssl.key.location needs ssl.certificate.location".into(),
            ))
        }
    };
    config_of(roots, client_cert, s.verify_hostname)
}

/// Builds the client config of material already in memory (a broker's
/// own truststore and keystore, for its connections to other brokers).
pub(super) fn material_config(m: super::TlsMaterial) -> Result<rustls::ClientConfig> {
    let mut store = RootCertStore::empty();
    let (added, _ignored) = store.add_parsable_certificates(m.roots);
    if added == 0 {
        return Err(config_err(
            "the truststore holds no usable CA certificate".into(),
        ));
    }
    config_of(store, m.client_cert, m.verify_hostname)
}

/// The rustls config: TLS 1.3 and 1.2, the broker's chain verified
/// against `roots` (and its name, when `verify_hostname`), `client_cert`
/// presented when the broker asks for one.
fn config_of(
    roots: RootCertStore,
    client_cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    verify_hostname: bool,
) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| config_err(format!("CA bundle: {e}")))?;
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| config_err(format!("TLS setup: {e}")))?;
    let builder = if verify_hostname {
        builder.with_webpki_verifier(webpki)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnly { inner: webpki }))
    };
    match client_cert {
        None => Ok(builder.with_no_client_auth()),
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| config_err(format!("client certificate and key: {e}"))),
    }
}

/// Verifies the broker's chain against the trusted CAs but accepts a
/// certificate for another name (`ssl.endpoint.identification.algorithm=none`).
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, TlsError> {
        // The name is checked last, after the chain: a name error means
        // the chain was good.
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, TlsError> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, TlsError> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The TLS server name of `addr` (`host:port`, `[v6]:port`).
pub(crate) fn server_name(addr: &str) -> std::result::Result<ServerName<'static>, String> {
    let host = match addr.rsplit_once(':') {
        Some((h, _)) => h,
        None => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string())
        .map_err(|_| format!("{host:?} is not a valid TLS server name"))
}

/// Why a handshake failed, in an operator's words.
pub(crate) fn describe_handshake_error(e: &std::io::Error, host: &str) -> String {
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<TlsError>());
    let Some(tls) = tls else {
        // The peer hung up or answered nonsense: not a TLS server.
        return format!("{} (is this a TLS listener?)", crate::conn::describe_io(e));
    };
    match tls {
        TlsError::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => "the broker's certificate is not signed by a trusted CA (check ssl.ca.location / --ssl-ca)".into(),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => format!(
                "the broker's certificate is not valid for {host} (ssl.endpoint.identification.algorithm=none skips this check)"
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the broker's certificate has expired".into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the broker's certificate is not valid yet".into()
            }
            CertificateError::Revoked => "the broker's certificate is revoked".into(),
            other => format!("the broker's certificate was refused: {other:?}"),
        },
        TlsError::InvalidMessage(_) | TlsError::InappropriateMessage { .. } => {
            format!("{tls} (is this a TLS listener?)")
        }
        TlsError::AlertReceived(alert) => format!(
            "the broker refused the handshake ({alert:?}; does it require a client certificate, --ssl-cert/--ssl-key?)"
        ),
        other => other.to_string(),
    }
}
