//! The client side of SCRAM-SHA-256/512 (RFC 5802, RFC 7677) and the
//! salted password that AlterUserScramCredentials carries. The hashing,
//! HMAC and PBKDF2 are RustCrypto's; this module is the message glue.
//!
//! The exchange: client-first (`n,,n=user,r=nonce`) → server-first (the
//! nonce extended, salt, iterations) → client-final (channel binding
//! `biws`, the nonce, the proof) → server-final (the server signature,
//! compared in constant time, or `e=` an error).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// Kafka's lowest iteration count.
pub const MIN_ITERATIONS: u32 = 4096;
/// The most iterations a server may ask of this client (Kafka's maximum
/// is 16384; more is refused so a rogue server cannot stall the client).
const MAX_SERVER_ITERATIONS: u32 = 1 << 20;

/// The hash of a SCRAM mechanism, with Kafka's wire numbers
/// (AlterUserScramCredentials, DescribeUserScramCredentials).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScramHash {
    Sha256,
    Sha512,
}

impl ScramHash {
    pub const ALL: [ScramHash; 2] = [ScramHash::Sha256, ScramHash::Sha512];

    pub fn name(self) -> &'static str {
        match self {
            ScramHash::Sha256 => "SCRAM-SHA-256",
            ScramHash::Sha512 => "SCRAM-SHA-512",
        }
    }

    pub fn from_name(s: &str) -> Option<ScramHash> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
    }

    pub fn wire(self) -> i8 {
        match self {
            ScramHash::Sha256 => 1,
            ScramHash::Sha512 => 2,
        }
    }

    pub fn from_wire(v: i8) -> Option<ScramHash> {
        Self::ALL.into_iter().find(|m| m.wire() == v)
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => hmac_with::<Hmac<Sha256>>(key, data),
            ScramHash::Sha512 => hmac_with::<Hmac<Sha512>>(key, data),
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// Hi(password, salt, i) of RFC 5802: PBKDF2 with this HMAC.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            ScramHash::Sha512 => {
                let mut out = vec![0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }
}

fn hmac_with<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this never fails.
    match <M as KeyInit>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// A fresh random salt and the salted password, as Kafka's admin client
/// sends them in an AlterUserScramCredentials upsertion.
pub fn salt_password(hash: ScramHash, password: &str, iterations: u32) -> (Vec<u8>, Vec<u8>) {
    let salt: [u8; 32] = rand::random();
    let salted = hash.salted_password(password.as_bytes(), &salt, iterations);
    (salt.to_vec(), salted)
}

/// RFC 5802's saslname: ',' and '=' escaped.
fn encode_saslname(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

/// Why the exchange failed on the client's side.
#[derive(Debug, PartialEq, Eq)]
pub enum ScramClientError {
    /// The server's message does not follow RFC 5802 (or cheats).
    Protocol(String),
    /// The server sent `e=...`.
    Server(String),
}

impl std::fmt::Display for ScramClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScramClientError::Protocol(m) => write!(f, "bad SCRAM message from the broker: {m}"),
            ScramClientError::Server(m) => write!(f, "the broker ended the SCRAM exchange: {m}"),
        }
    }
}

/// One client-side exchange.
pub struct ScramClient {
    hash: ScramHash,
    password: String,
    nonce: String,
    client_first_bare: String,
    /// The expected server signature, once client-final is built.
    server_signature: Option<Vec<u8>>,
}

impl ScramClient {
    pub fn new(hash: ScramHash, user: &str, password: &str) -> ScramClient {
        let raw: [u8; 24] = rand::random();
        ScramClient::with_nonce(hash, user, password, B64.encode(raw))
    }

    fn with_nonce(hash: ScramHash, user: &str, password: &str, nonce: String) -> ScramClient {
        let client_first_bare = format!("n={},r={nonce}", encode_saslname(user));
        ScramClient {
            hash,
            password: password.to_string(),
            nonce,
            client_first_bare,
            server_signature: None,
        }
    }

    /// The client-first message.
    pub fn client_first(&self) -> Vec<u8> {
        format!("n,,{}", self.client_first_bare).into_bytes()
    }

    /// Reads server-first and returns client-final.
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, ScramClientError> {
        let bad = |m: &str| ScramClientError::Protocol(m.to_string());
        let server_first =
            std::str::from_utf8(server_first).map_err(|_| bad("server-first is not UTF-8"))?;
        if let Some(e) = server_first.strip_prefix("e=") {
            return Err(ScramClientError::Server(e.to_string()));
        }
        let mut parts = server_first.split(',');
        let nonce = parts
            .next()
            .and_then(|p| p.strip_prefix("r="))
            .ok_or_else(|| bad("server-first has no nonce"))?;
        let salt = parts
            .next()
            .and_then(|p| p.strip_prefix("s="))
            .ok_or_else(|| bad("server-first has no salt"))?;
        let iterations = parts
            .next()
            .and_then(|p| p.strip_prefix("i="))
            .ok_or_else(|| bad("server-first has no iteration count"))?;
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(bad("the server nonce does not extend the client's"));
        }
        let salt = B64
            .decode(salt)
            .map_err(|_| bad("the salt is not base64"))?;
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| bad("the iteration count is not a number"))?;
        if !(MIN_ITERATIONS..=MAX_SERVER_ITERATIONS).contains(&iterations) {
            return Err(ScramClientError::Protocol(format!(
                "iteration count {iterations} outside {MIN_ITERATIONS}..={MAX_SERVER_ITERATIONS}"
            )));
        }
        let h = self.hash;
        let salted = h.salted_password(self.password.as_bytes(), &salt, iterations);
        let client_key = h.hmac(&salted, b"Client Key");
        let stored_key = h.hash(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature = h.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = h.hmac(&salted, b"Server Key");
        self.server_signature = Some(h.hmac(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Checks server-final: the broker proves it knows the credential.
    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<(), ScramClientError> {
        let bad = |m: &str| ScramClientError::Protocol(m.to_string());
        let msg =
            std::str::from_utf8(server_final).map_err(|_| bad("server-final is not UTF-8"))?;
        if let Some(e) = msg.strip_prefix("e=") {
            return Err(ScramClientError::Server(e.to_string()));
        }
        let v = msg
            .split(',')
            .next()
            .and_then(|p| p.strip_prefix("v="))
            .ok_or_else(|| bad("server-final has no signature"))?;
        let got = B64
            .decode(v)
            .map_err(|_| bad("the server signature is not base64"))?;
        let Some(expected) = &self.server_signature else {
            return Err(bad("server-final before server-first"));
        };
        if bool::from(got.ct_eq(expected)) {
            Ok(())
        } else {
            Err(bad(
                "the server signature is wrong (the broker does not know this credential)",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's SCRAM-SHA-256 example (user "user", password "pencil").
    #[test]
    fn rfc7677_example_exchange() {
        let mut c = ScramClient::with_nonce(
            ScramHash::Sha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO".into(),
        );
        assert_eq!(c.client_first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let fin = c.client_final(server_first).unwrap();
        assert_eq!(
            String::from_utf8(fin).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        c.verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(c
            .verify_server_final(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .is_err());
        assert_eq!(
            c.verify_server_final(b"e=invalid-proof"),
            Err(ScramClientError::Server("invalid-proof".into()))
        );
    }

    #[test]
    fn a_cheating_or_greedy_server_is_refused() {
        let mut c = ScramClient::with_nonce(ScramHash::Sha512, "u", "p", "abc".into());
        // The nonce must extend ours.
        assert!(c.client_final(b"r=xyz123,s=AAAA,i=4096").is_err());
        assert!(c.client_final(b"r=abc,s=AAAA,i=4096").is_err());
        // Too few or too many iterations.
        assert!(c.client_final(b"r=abcd,s=AAAA,i=100").is_err());
        assert!(c.client_final(b"r=abcd,s=AAAA,i=999999999").is_err());
        assert!(c.client_final(b"r=abcd,s=AAAA,i=4096").is_ok());
    }

    #[test]
    fn user_names_are_escaped_and_salts_are_random() {
        let c = ScramClient::with_nonce(ScramHash::Sha256, "a,b=c", "p", "n".into());
        assert_eq!(c.client_first(), b"n,,n=a=2Cb=3Dc,r=n");
        let (s1, p1) = salt_password(ScramHash::Sha512, "pw", 4096);
        let (s2, p2) = salt_password(ScramHash::Sha512, "pw", 4096);
        assert_ne!(s1, s2);
        assert_ne!(p1, p2);
        assert_eq!(p1.len(), 64);
        assert_eq!(p1, ScramHash::Sha512.salted_password(b"pw", &s1, 4096));
    }
}
