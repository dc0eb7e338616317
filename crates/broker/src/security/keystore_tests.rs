//! Tests of `keystore`: encrypted PKCS#8 PEM keys (`ssl.key.password`)
//! from a file and inline, and the errors of wrong or missing passwords,
//! legacy OpenSSL encryption and non-PBES2 schemes. The fixtures are a throwaway P-256
//! key and its self-signed certificate, encrypted by OpenSSL 3 with the
//! password `s3cret-pw` (`openssl pkcs8 -topk8 -v2 aes-256-cbc`, `-scrypt`,
//! `-v2 des3`, `-v1 PBE-SHA1-3DES` (PKCS#12-style PBE, refused); `openssl ec
//! -aes256` for the legacy one).

use super::*;

const PASSWORD: &str = "s3cret-pw";
const CERT: &str = "\
-----BEGIN CERTIFICATE-----
MIIBgTCCASegAwIBAgIUcf5GKoG7hjgF+5/PTp8HqYrEloYwCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKZmpvcmQtdGVzdDAgFw0yNjEyMDQwNTQ3MjBaGA8yMTI2MTEx
MDA1NDcyMFowFTETMBEGA1UEAwwKZmpvcmQtdGVzdDBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABCPwlPQjoR/JZx0CZ3MhMRJPlI3VSBBP7e2789aHACaw5H5VwlUE
BjCKBeeedejJDJMuAfx1V2xwOv8fhgPLY92jUzBRMB0GA1UdDgQWBBSWv8SujZln
ffOdKcemeE+soQJo9TAfBgNVHSMEGDAWgBSWv8SujZlnffOdKcemeE+soQJo9TAP
BgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIAtHN3+RO+GG8/0cPxRq
Khh6Yjiv1AZbdPjTope1SftuAiEAijQnG9AEFSxKMtQ8h8NYKEM6pDDKF3xTaL+x
QlhL9bI=
-----END CERTIFICATE-----
";
const PLAIN_KEY: &str = "\
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7qVKwy+umvJA3R2j
v6uqamUnSD9+Vf6X4wtteazLWJ+hRANCAAQj8JT0I6EfyWcdAmdzITEST5SN1UgQ
T+3tu/PWhwAmsOR+VcJVBAYwigXnnnXoyQyTLgH8dVdscDr/H4YDy2Pd
-----END PRIVATE KEY-----
";
const AES_KEY: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAiixMcCTQk5QgICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEMCd/CiXq9xI/Jy3E2MT5UoEgZCc
p3bKX0s5Gcrg//WGgf4b5UHK0HFxFN8q/mI59R9Hx5sgmrZ9WTsuHC+FnPc/hTOP
3KV/HzUF40fZ6lNBXQ1Ue7vKJDESJHURIY46AbeDUgF3gVdA5K0c7A9A/HIw5BZ/
3IY5aQIoasr1YgfGB2XXDlj4OUTdpgDVbkf+QxzXJQJHY3AH5gmzmFOK1GdT82c=
-----END ENCRYPTED PRIVATE KEY-----
";
const SCRYPT_KEY: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHkME8GCSqGSIb3DQEFDTBCMCEGCSsGAQQB2kcECzAUBAj2M047staz3QICQAAC
AQgCAQEwHQYJYIZIAWUDBAEqBBCBHaaczK6ISfL5/atWWax4BIGQIkLe9JHIrUew
GZtdr3bRTNU1ktGEOnBu9981Z964XnjfqY7zWGkVaMdEBL7d3bvNHHnMoLq5UuxY
6SrVcmtQJNX/0qNxtXTp41ZrqQ0KjLwK77W8KRU7Tt5ue5pbVrluX/pkVpK0Kw9/
LfX5Ddip8X/CmmQmB3iM/H3ZyknkLwIvPm1JIe8rM8aX3D9DwMm+
-----END ENCRYPTED PRIVATE KEY-----
";
const DES3_KEY: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHjME4GCSqGSIb3DQEFDTBBMCkGCSqGSIb3DQEFDDAcBAgDgWFXKukrxgICCAAw
DAYIKoZIhvcNAgkFADAUBggqhkiG9w0DBwQIdrzKeM2baNcEgZBqYTd1v3WCcO2U
aDVh5WGm1dCHQ2ecDzi7p9aDQEbZx2BhVoAIpl3weXJ6jugfgiQdsrImJyKlLqzV
qBwmXA2CjfkTBBpJeUzGmM87Bn6lnSFH9QPYy3+6WfC+nrStlTt/fXTZD0pvajis
D3wFBKA1wi4ILqa8Baz48rVWjUqijFyzoXsEYjNoDZYqOd4qHrA=
-----END ENCRYPTED PRIVATE KEY-----
";
const PBES1_KEY: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGxMBwGCiqGSIb3DQEMAQMwDgQIqIzMjmddeWsCAggABIGQKgB+TfSCuuZr34DU
mS8OaST6E6vwfAqWq5pe19kcqMuwnRBtl2xrXFfHYZt4taxyHCI0cAdmGZycR1Vr
k2fu7IafS/W1FsX80laPxhGqeURQ2EB1bpIT36sP3Eqpqr6k6vVK3auQFPkV9z5y
GeamFKz23pOpZztBPdz2xa8ehDfHhUTtmT+e7bzJiaRto9xu
-----END ENCRYPTED PRIVATE KEY-----
";
const LEGACY_KEY: &str = "\
-----BEGIN EC PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-256-CBC,2A9B3C300F7DC8A12E607EB7D71785CF

nPC/GfRRBFZxrOX4woCWQAdpEgr51ZfpoSq1urJ7Vq0+QS+EM0KAYZVeDFZ9vNJ2
bbK+43KLAboUlUkMnm/+4hqGXKj8tnwiOsFBPrwNKxBvdIXlZqVQ8UVcnBqeaSKa
/05yv8Mq/hR1d0S7ahG6OVozt8DxmPs203yok/ebaQw=
-----END EC PRIVATE KEY-----
";

fn secret(s: &str) -> Secret {
    Secret(s.to_string())
}

/// A PEM keystore file (key, then certificate) in a fresh directory.
fn keystore_file(key: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("fjord-keystore-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("server.pem");
    std::fs::write(&path, format!("{key}{CERT}")).unwrap();
    let p = path.to_string_lossy().into_owned();
    (dir, p)
}

fn from_file(key: &str, password: Option<&str>) -> (Result<KeyMaterial, String>, String) {
    let (dir, path) = keystore_file(key);
    let pw = password.map(secret);
    let r = load_keystore(StoreType::Pem, Some(&path), None, None, None, pw.as_ref());
    let _ = std::fs::remove_dir_all(dir);
    (r, path)
}

fn inline(key: &str, password: Option<&str>) -> Result<KeyMaterial, String> {
    let pw = password.map(secret);
    load_keystore(
        StoreType::Pem,
        None,
        Some(&secret(CERT)),
        Some(&secret(key)),
        None,
        pw.as_ref(),
    )
}

fn plain_key() -> Vec<u8> {
    PrivateKeyDer::from_pem_slice(PLAIN_KEY.as_bytes())
        .unwrap()
        .secret_der()
        .to_vec()
}

#[test]
fn encrypted_pkcs8_keys_decrypt_from_a_file_and_inline() {
    for (name, key) in [("aes", AES_KEY), ("scrypt", SCRYPT_KEY), ("des3", DES3_KEY)] {
        let (r, _) = from_file(key, Some(PASSWORD));
        let m = r.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.key.secret_der(), plain_key().as_slice(), "{name}");
        assert_eq!(m.chain.len(), 1, "{name}");
        let m = inline(key, Some(PASSWORD)).unwrap_or_else(|e| panic!("{name} inline: {e}"));
        assert_eq!(m.key.secret_der(), plain_key().as_slice(), "{name} inline");
    }
    // The decrypted key serves: rustls accepts it with its certificate.
    let m = inline(AES_KEY, Some(PASSWORD)).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(m.chain, m.key)
        .unwrap();
}

#[test]
fn a_wrong_password_names_the_setting_and_file_never_the_password() {
    let (r, path) = from_file(AES_KEY, Some("not-the-pw-xyz"));
    let e = r.map(|_| ()).unwrap_err();
    assert!(e.contains("ssl.keystore.location"), "{e}");
    assert!(e.contains(&path), "{e}");
    assert!(e.contains("wrong password"), "{e}");
    assert!(
        !e.contains("not-the-pw-xyz") && !e.contains(PASSWORD),
        "{e}"
    );
    let e = inline(SCRYPT_KEY, Some("not-the-pw-xyz"))
        .map(|_| ())
        .unwrap_err();
    assert!(
        e.contains("ssl.keystore.key") && e.contains("wrong password"),
        "{e}"
    );
    assert!(!e.contains("not-the-pw-xyz"), "{e}");
}

#[test]
fn passwords_must_match_whether_the_key_is_encrypted() {
    let (r, _) = from_file(AES_KEY, None);
    let e = r.map(|_| ()).unwrap_err();
    assert!(e.contains("is encrypted: set ssl.key.password"), "{e}");
    // As Kafka: a key password with an unencrypted key is a mistake.
    let e = inline(PLAIN_KEY, Some(PASSWORD)).map(|_| ()).unwrap_err();
    assert!(e.contains("not encrypted"), "{e}");
    assert!(!e.contains(PASSWORD), "{e}");
    assert!(inline(PLAIN_KEY, None).is_ok());
}

#[test]
fn legacy_and_non_pbes2_encryption_are_refused_with_the_conversion() {
    let (r, path) = from_file(LEGACY_KEY, Some(PASSWORD));
    let e = r.map(|_| ()).unwrap_err();
    assert!(e.contains("Proc-Type: 4,ENCRYPTED"), "{e}");
    assert!(e.contains("openssl pkcs8 -topk8"), "{e}");
    assert!(e.contains(&path), "{e}");
    let e = inline(PBES1_KEY, Some(PASSWORD)).map(|_| ()).unwrap_err();
    assert!(
        e.contains("PBES2") && e.contains("openssl pkcs8 -topk8"),
        "{e}"
    );
    let cut = &AES_KEY[..AES_KEY.find("-----END").unwrap()];
    let e = inline(cut, Some(PASSWORD)).map(|_| ()).unwrap_err();
    assert!(e.contains("no END line"), "{e}");
}
