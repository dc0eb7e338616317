//! Private keys from PEM: unencrypted (PKCS#8, PKCS#1 or SEC1) or
//! encrypted PKCS#8 (PBES2, as `openssl pkcs8 -topk8 -v2 aes-256-cbc`
//! writes it) with Kafka's `ssl.key.password`. Shared by the broker's
//! keystores and the CLI's client key.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// The private key of a PEM keystore (`what` is the setting, `place` the
/// file or "the inline key"): an unencrypted key (PKCS#8, PKCS#1 or SEC1),
/// or an encrypted PKCS#8 one, which needs `ssl.key.password`. As Kafka, a
/// password with an unencrypted key is an error too.
pub fn pem_private_key(
    pem: &[u8],
    password: Option<&str>,
    what: &str,
    place: &str,
) -> Result<PrivateKeyDer<'static>, String> {
    let text = String::from_utf8_lossy(pem);
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(format!(
            "{what}: the private key in {place} is encrypted in OpenSSL's legacy format \
             (Proc-Type: 4,ENCRYPTED), which fjord does not read; convert it to an encrypted \
             PKCS#8 key: openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD.pem -out NEW.pem"
        ));
    }
    let Some(begin) = text.find(ENCRYPTED_BEGIN) else {
        if password.is_some() {
            return Err(format!(
                "ssl.key.password is set but the private key in {place} ({what}) is not \
                 encrypted: remove ssl.key.password, or encrypt the key (openssl pkcs8 -topk8 \
                 -v2 aes-256-cbc)"
            ));
        }
        return PrivateKeyDer::from_pem_slice(pem)
            .map_err(|e| format!("{what}: no usable private key in {place}: {e}"));
    };
    let Some(len) = text[begin..].find(ENCRYPTED_END) else {
        return Err(format!(
            "{what}: the encrypted private key in {place} has no END line"
        ));
    };
    let Some(password) = password else {
        return Err(format!(
            "{what}: the private key in {place} is encrypted: set ssl.key.password"
        ));
    };
    decrypt_pkcs8(
        &text[begin..begin + len + ENCRYPTED_END.len()],
        password,
        what,
        place,
    )
}

/// Decrypts one `ENCRYPTED PRIVATE KEY` PEM block and checks that the
/// result is a PKCS#8 private key (a wrong password almost always fails
/// the padding check, and otherwise yields no valid key).
fn decrypt_pkcs8(
    block: &str,
    password: &str,
    what: &str,
    place: &str,
) -> Result<PrivateKeyDer<'static>, String> {
    use pkcs8::der::Decode;
    use pkcs8::pkcs5::{self, EncryptionScheme};
    let unreadable = |e: &dyn std::fmt::Display| {
        format!(
            "{what}: the encrypted private key in {place} cannot be read ({e}): fjord reads \
             PKCS#8 keys encrypted with PBES2 (PKCS#12-style PBE is not); re-encrypt it: \
             openssl pkcs8 -topk8 -v2 aes-256-cbc"
        )
    };
    let (_, der) = pkcs8::der::pem::decode_vec(block.as_bytes()).map_err(|e| unreadable(&e))?;
    let info = pkcs8::EncryptedPrivateKeyInfoRef::from_der(&der).map_err(|e| unreadable(&e))?;
    if let EncryptionScheme::Pbes1(alg) = &info.encryption_algorithm {
        return Err(format!(
            "{what}: the private key in {place} is encrypted with PBES1 ({}), which fjord \
             does not read; re-encrypt it with PBES2: openssl pkcs8 -topk8 -v2 aes-256-cbc",
            alg.oid()
        ));
    }
    let wrong = || {
        format!(
            "{what}: cannot decrypt the private key in {place} with ssl.key.password \
             (wrong password?)"
        )
    };
    let doc = info.decrypt(password.as_bytes()).map_err(|e| match e {
        pkcs8::Error::EncryptedPrivateKey(
            e @ (pkcs5::Error::UnsupportedAlgorithm { .. }
            | pkcs5::Error::AlgorithmParametersInvalid { .. }),
        ) => format!(
            "{what}: the private key in {place} is encrypted with an algorithm fjord does \
                 not read ({e}); re-encrypt it: openssl pkcs8 -topk8 -v2 aes-256-cbc"
        ),
        _ => wrong(),
    })?;
    pkcs8::PrivateKeyInfoRef::from_der(doc.as_bytes()).map_err(|_| wrong())?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        doc.as_bytes().to_vec(),
    )))
}
