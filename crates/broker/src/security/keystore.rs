//! Reading the key material of TLS listeners: the keystore (private key
//! and certificate chain) and the truststore (CA certificates), as PEM
//! (a file or inline text) or PKCS#12 (a file and its password), with
//! Kafka's `ssl.keystore.*` / `ssl.truststore.*` names.
//!
//! PKCS#12 files are decoded by the pure-Rust `p12-keystore` crate (MAC
//! check, PBES2 and the legacy PBES1 ciphers OpenSSL and keytool write).
//! A PEM private key may be an encrypted PKCS#8 key (`ENCRYPTED PRIVATE
//! KEY`, what `openssl pkcs8 -topk8 -v2 aes-256-cbc` and Kafka's PEM
//! keystore use), decrypted with `ssl.key.password` by
//! `fjord_client::pem_private_key` (RustCrypto's `pkcs8`/`pkcs5`: PBES2
//! with AES-CBC or 3DES, PBKDF2 or scrypt; the CLI reads its client key
//! the same way). OpenSSL's
//! legacy `Proc-Type: 4,ENCRYPTED` keys are refused with the command that
//! converts them. Every error names the setting and the file, never a
//! password or key bytes. No I/O other than reading the named files.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::Secret;

/// `ssl.keystore.type` / `ssl.truststore.type`: the formats fjord reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StoreType {
    #[default]
    Pem,
    Pkcs12,
}

impl StoreType {
    pub fn parse(v: &str) -> Result<StoreType, String> {
        match v.trim().to_ascii_uppercase().as_str() {
            "PEM" => Ok(StoreType::Pem),
            "PKCS12" => Ok(StoreType::Pkcs12),
            "JKS" => Err("JKS is not supported: convert the store to PKCS12 \
                 (keytool -importkeystore -deststoretype PKCS12) or PEM"
                .into()),
            other => Err(format!("{other:?} is not PEM or PKCS12")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StoreType::Pem => "PEM",
            StoreType::Pkcs12 => "PKCS12",
        }
    }
}

/// Where a store's bytes come from.
pub enum Source<'a> {
    /// A file (`ssl.keystore.location`, `ssl.truststore.location`).
    File(&'a str),
    /// Inline PEM (`ssl.keystore.key` and `ssl.keystore.certificate.chain`,
    /// `ssl.truststore.certificates`).
    Inline(&'a Secret),
}

/// A keystore's content: what rustls serves.
pub struct KeyMaterial {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl KeyMaterial {
    /// The leaf certificate's subject and serial (hex), for log lines.
    pub fn describe(&self) -> String {
        let Some(leaf) = self.chain.first() else {
            return "no certificate".into();
        };
        match x509_parser::parse_x509_certificate(leaf) {
            Ok((_, c)) => format!(
                "subject {}, serial {}",
                c.subject(),
                c.raw_serial_as_string()
            ),
            Err(_) => "an unparsable certificate".into(),
        }
    }
}

/// Reads a file, naming the setting in the error.
pub fn read_file(path: &str, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{what}: cannot read {path}: {e}"))
}

/// Certificates of a PEM text; at least one.
pub fn pem_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{what}: bad PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what}: no certificate found"));
    }
    Ok(certs)
}

/// The PKCS#12 decoding of `data`, with errors that say what went wrong
/// without the password.
fn pkcs12_archive(
    data: &[u8],
    password: &str,
    what: &str,
    path: &str,
) -> Result<p12_keystore::Pkcs12Archive, String> {
    use p12_keystore::error::Error as E;
    p12_keystore::Pkcs12Archive::from_pkcs12(data, password).map_err(|e| {
        let why = match e {
            E::MacError(_) => "wrong password (the integrity check failed)".to_string(),
            E::DerError(_) | E::InvalidVersion | E::InvalidLength | E::InvalidData => {
                "not a PKCS#12 file, or a damaged one".to_string()
            }
            E::UnpadError | E::Pkcs5Error(_) => {
                "cannot decrypt its content (wrong password?)".to_string()
            }
            other => other.to_string(),
        };
        format!("{what}: cannot read PKCS12 store {path}: {why}")
    })
}

/// The keystore of TLS listeners.
///
/// PEM: a file with the private key and the chain, or both inline. PKCS12:
/// a file and `ssl.keystore.password` (also the key's: `ssl.key.password`,
/// when given, must be the same, as PKCS12 stores written by keytool and
/// OpenSSL have one password). The private key is the first one in the
/// store, with the certificate carrying the same local key id and that
/// certificate's issuers found in the file.
pub fn load_keystore(
    ty: StoreType,
    location: Option<&str>,
    chain: Option<&Secret>,
    key: Option<&Secret>,
    password: Option<&Secret>,
    key_password: Option<&Secret>,
) -> Result<KeyMaterial, String> {
    match ty {
        StoreType::Pem => {
            if password.is_some() {
                return Err(
                    "ssl.keystore.password cannot be given with a PEM keystore (Kafka refuses \
                     it too; PEM keys are read unencrypted)"
                        .into(),
                );
            }
            load_pem_keystore(location, chain, key, key_password)
        }
        StoreType::Pkcs12 => {
            if chain.is_some() || key.is_some() {
                return Err(
                    "ssl.keystore.key and ssl.keystore.certificate.chain are PEM only; \
                     with ssl.keystore.type=PKCS12 give ssl.keystore.location"
                        .into(),
                );
            }
            let path = location.ok_or(
                "ssl.keystore.type=PKCS12 needs ssl.keystore.location (the .p12 file) and \
                 ssl.keystore.password",
            )?;
            let password = password.ok_or(
                "ssl.keystore.location is a PKCS12 keystore but ssl.keystore.password is not set",
            )?;
            if key_password.is_some_and(|k| k != password) {
                return Err(
                    "ssl.key.password differs from ssl.keystore.password: fjord reads \
                     PKCS12 keystores whose key has the store's password"
                        .into(),
                );
            }
            let data = read_file(path, "ssl.keystore.location")?;
            pkcs12_keystore(&data, &password.0, path)
        }
    }
}

fn load_pem_keystore(
    location: Option<&str>,
    chain: Option<&Secret>,
    key: Option<&Secret>,
    key_password: Option<&Secret>,
) -> Result<KeyMaterial, String> {
    match (location, chain, key) {
        (Some(path), None, None) => {
            let pem = read_file(path, "ssl.keystore.location")?;
            let key = pem_private_key(&pem, key_password, "ssl.keystore.location", path)?;
            Ok(KeyMaterial {
                chain: pem_certs(&pem, "ssl.keystore.location")?,
                key,
            })
        }
        (None, Some(chain), Some(key)) => {
            let key = pem_private_key(
                key.0.as_bytes(),
                key_password,
                "ssl.keystore.key",
                "the inline key",
            )?;
            Ok(KeyMaterial {
                chain: pem_certs(chain.0.as_bytes(), "ssl.keystore.certificate.chain")?,
                key,
            })
        }
        (None, None, None) => Err(
            "a TLS listener needs ssl.keystore.location (PEM: key and certificate chain; \
             PKCS12 with ssl.keystore.password) or ssl.keystore.certificate.chain with \
             ssl.keystore.key"
                .into(),
        ),
        _ => Err(
            "give ssl.keystore.location, or ssl.keystore.certificate.chain with \
             ssl.keystore.key, not a mix"
                .into(),
        ),
    }
}

/// The private key of a PEM keystore (`what` is the setting, `place` the
/// file or "the inline key"): see `fjord_client::pem_private_key`, which
/// the CLI's `ssl.key.password` uses too.
fn pem_private_key(
    pem: &[u8],
    password: Option<&Secret>,
    what: &str,
    place: &str,
) -> Result<PrivateKeyDer<'static>, String> {
    fjord_client::pem_private_key(pem, password.map(|p| p.0.as_str()), what, place)
}

/// The key and chain of a PKCS#12 keystore.
fn pkcs12_keystore(data: &[u8], password: &str, path: &str) -> Result<KeyMaterial, String> {
    const WHAT: &str = "ssl.keystore.location";
    let archive = pkcs12_archive(data, password, WHAT, path)?;
    let Some(key) = archive.keys.first() else {
        return Err(format!(
            "{WHAT}: {path} holds no private key (a truststore given as keystore?)"
        ));
    };
    // The leaf: the certificate with the key's local key id, else the only
    // certificate that is not the issuer of another one.
    let by_id = key.local_key_id.as_ref().and_then(|id| {
        archive
            .certs
            .iter()
            .find(|c| c.local_key_id.as_deref() == Some(id.0.as_slice()))
    });
    let leaf = match by_id {
        Some(c) => &c.cert,
        None => {
            let leaves: Vec<_> = archive
                .certs
                .iter()
                .filter(|c| {
                    !archive
                        .certs
                        .iter()
                        .any(|o| o.cert.issuer() == c.cert.subject() && o.cert != c.cert)
                })
                .collect();
            match leaves.as_slice() {
                [only] => &only.cert,
                [] => {
                    return Err(format!(
                        "{WHAT}: {path} holds a private key but no certificate for it"
                    ))
                }
                _ => {
                    return Err(format!(
                        "{WHAT}: {path}: cannot tell which certificate belongs to the key \
                         (no local key id)"
                    ))
                }
            }
        }
    };
    let mut chain = vec![CertificateDer::from(leaf.as_der().to_vec())];
    let mut at = leaf;
    while at.issuer() != at.subject() && chain.len() < 16 {
        let Some(issuer) = archive
            .certs
            .iter()
            .map(|c| &c.cert)
            .find(|c| c.subject() == at.issuer() && c != &at)
        else {
            break;
        };
        chain.push(CertificateDer::from(issuer.as_der().to_vec()));
        at = issuer;
    }
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.key.as_der().to_vec()));
    Ok(KeyMaterial { chain, key })
}

/// The truststore's CA certificates, if one is configured.
///
/// PEM: a file or inline text. PKCS12: a file; `ssl.truststore.password`
/// checks its integrity and decrypts it. Without one the store is read
/// with an empty password (Kafka skips the integrity check instead, but
/// cannot decrypt encrypted certificates either).
pub fn load_truststore(
    ty: StoreType,
    location: Option<&str>,
    inline: Option<&Secret>,
    password: Option<&Secret>,
) -> Result<Option<Vec<CertificateDer<'static>>>, String> {
    const WHAT: &str = "ssl.truststore.location";
    match (ty, location, inline) {
        (_, Some(_), Some(_)) => Err(
            "ssl.truststore: give ssl.truststore.location or ssl.truststore.certificates, \
             not both"
                .into(),
        ),
        (StoreType::Pkcs12, None, Some(_)) => Err(
            "ssl.truststore.certificates is PEM only; with ssl.truststore.type=PKCS12 give \
             ssl.truststore.location"
                .into(),
        ),
        (StoreType::Pem, _, _) if password.is_some() => Err(
            "ssl.truststore.password cannot be given with a PEM truststore (Kafka refuses it \
             too)"
                .into(),
        ),
        (_, None, None) if password.is_some() => {
            Err("ssl.truststore.password is set but no truststore is".into())
        }
        (_, None, None) => Ok(None),
        (StoreType::Pem, None, Some(s)) => {
            pem_certs(s.0.as_bytes(), "ssl.truststore.certificates").map(Some)
        }
        (StoreType::Pem, Some(path), None) => {
            let pem = read_file(path, WHAT)?;
            pem_certs(&pem, WHAT).map(Some)
        }
        (StoreType::Pkcs12, Some(path), None) => {
            let data = read_file(path, WHAT)?;
            let pw = password.map(|p| p.0.as_str()).unwrap_or("");
            let archive = pkcs12_archive(&data, pw, WHAT, path)?;
            if archive.certs.is_empty() {
                return Err(format!("{WHAT}: {path} holds no certificate"));
            }
            Ok(Some(
                archive
                    .certs
                    .iter()
                    .map(|c| CertificateDer::from(c.cert.as_der().to_vec()))
                    .collect(),
            ))
        }
    }
}

#[cfg(test)]
#[path = "keystore_tests.rs"]
mod tests;
