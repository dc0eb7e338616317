//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677): the credentials
//! fjord stores and the server side of an exchange.
//!
//! A credential is what Kafka keeps: salt, iteration count, StoredKey =
//! H(HMAC(SaltedPassword, "Client Key")) and ServerKey =
//! HMAC(SaltedPassword, "Server Key"); never the password. The exchange is
//! client-first → server-first (nonce, salt, iterations), client-final
//! (proof) → server-final (server signature). Proofs are compared in
//! constant time. The hashing, HMAC and PBKDF2 are RustCrypto's; this
//! module is the message glue.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// Kafka's lowest accepted iteration count.
pub const MIN_ITERATIONS: u32 = 4096;
/// Kafka's highest accepted iteration count.
pub const MAX_ITERATIONS: u32 = 16384;

/// The two SCRAM mechanisms, with Kafka's wire numbers
/// (AlterUserScramCredentials, DescribeUserScramCredentials).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mechanism {
    Sha256,
    Sha512,
}

impl Mechanism {
    pub const ALL: [Mechanism; 2] = [Mechanism::Sha256, Mechanism::Sha512];

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Sha256 => "SCRAM-SHA-256",
            Mechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    pub fn from_name(s: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.name() == s)
    }

    pub fn wire(self) -> i8 {
        match self {
            Mechanism::Sha256 => 1,
            Mechanism::Sha512 => 2,
        }
    }

    pub fn from_wire(v: i8) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.wire() == v)
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::Sha256 => hmac_with::<Hmac<Sha256>>(key, data),
            Mechanism::Sha512 => hmac_with::<Hmac<Sha512>>(key, data),
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::Sha256 => Sha256::digest(data).to_vec(),
            Mechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// Hi(password, salt, i) of RFC 5802: PBKDF2 with this HMAC.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Mechanism::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            Mechanism::Sha512 => {
                let mut out = vec![0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }
}

fn hmac_with<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this never fails; an empty result
    // would only make every comparison fail.
    match <M as KeyInit>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// One user's credential for one mechanism.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// The credential of a salted password (what AlterUserScramCredentials
    /// carries).
    pub fn from_salted(mech: Mechanism, salted: &[u8], salt: &[u8], iterations: u32) -> Credential {
        let client_key = mech.hmac(salted, b"Client Key");
        Credential {
            salt: salt.to_vec(),
            iterations,
            stored_key: mech.hash(&client_key),
            server_key: mech.hmac(salted, b"Server Key"),
        }
    }

    /// The credential of a password with a fresh random salt.
    pub fn from_password(mech: Mechanism, password: &str, iterations: u32) -> Credential {
        let salt: [u8; 32] = rand::random();
        let salted = mech.salted_password(password.as_bytes(), &salt, iterations);
        Credential::from_salted(mech, &salted, &salt, iterations)
    }

    /// Whether `password` is this credential's (SASL/PLAIN verifies with
    /// it), compared in constant time.
    pub fn verify_password(&self, mech: Mechanism, password: &str) -> bool {
        let salted = mech.salted_password(password.as_bytes(), &self.salt, self.iterations);
        let stored = mech.hash(&mech.hmac(&salted, b"Client Key"));
        bool::from(stored.ct_eq(&self.stored_key))
    }
}

/// Why an exchange failed. The text goes to the log only; the client is
/// told no more than "authentication failed".
#[derive(Debug, PartialEq, Eq)]
pub enum ScramError {
    /// The message does not follow RFC 5802.
    Malformed(&'static str),
    /// Unknown user or wrong proof.
    BadCredentials,
}

/// The server side of one exchange.
pub struct ScramServer {
    mech: Mechanism,
    state: ServerState,
}

enum ServerState {
    AwaitClientFirst,
    AwaitClientFinal {
        user: String,
        /// The credential, or `None` for an unknown user: the exchange
        /// goes on with a made-up salt so the answer does not reveal
        /// which users exist, and fails at the proof.
        credential: Option<Credential>,
        gs2_header: String,
        client_first_bare: String,
        server_first: String,
        nonce: String,
    },
    Done,
}

/// RFC 5802's saslname: `=2C` is ',' and `=3D` is '='; other '=' is an error.
fn decode_saslname(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let esc = rest.get(i..i + 3)?;
        match esc {
            "=2C" => out.push(','),
            "=3D" => out.push('='),
            _ => return None,
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

fn attr(part: Option<&str>, name: char) -> Option<&str> {
    let p = part?;
    let mut chars = p.chars();
    (chars.next()? == name && chars.next()? == '=').then(|| &p[2..])
}

fn printable_nonce() -> String {
    // 24 random bytes in hex: printable, no ',' and none of base64's '+',
    // '/' or '=' (librdkafka 2.0 mis-reads a server nonce holding those).
    rand::random::<[u8; 24]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl ScramServer {
    pub fn new(mech: Mechanism) -> ScramServer {
        ScramServer {
            mech,
            state: ServerState::AwaitClientFirst,
        }
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mech
    }

    /// Whether the next message is client-first.
    pub fn expects_first(&self) -> bool {
        matches!(self.state, ServerState::AwaitClientFirst)
    }

    /// The user named in client-first, once it has arrived.
    pub fn user(&self) -> Option<&str> {
        match &self.state {
            ServerState::AwaitClientFinal { user, .. } => Some(user),
            _ => None,
        }
    }

    /// Handles client-first; answers server-first. `lookup` finds the
    /// user's credential; `fake_salt` gives a stable made-up salt for
    /// users that do not exist.
    pub fn client_first(
        &mut self,
        msg: &[u8],
        lookup: impl Fn(&str) -> Option<Credential>,
        fake_salt: impl Fn(&str) -> Vec<u8>,
    ) -> Result<String, ScramError> {
        self.client_first_with_nonce(msg, lookup, fake_salt, &printable_nonce())
    }

    fn client_first_with_nonce(
        &mut self,
        msg: &[u8],
        lookup: impl Fn(&str) -> Option<Credential>,
        fake_salt: impl Fn(&str) -> Vec<u8>,
        server_nonce: &str,
    ) -> Result<String, ScramError> {
        if !matches!(self.state, ServerState::AwaitClientFirst) {
            return Err(ScramError::Malformed("unexpected client-first message"));
        }
        self.state = ServerState::Done;
        let msg = std::str::from_utf8(msg).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        // gs2-header: channel binding flag, optional authzid.
        let mut parts = msg.splitn(3, ',');
        let cb = parts.next().unwrap_or("");
        match cb {
            "n" | "y" => {}
            _ => return Err(ScramError::Malformed("channel binding is not supported")),
        }
        let authzid = parts.next().ok_or(ScramError::Malformed("no gs2 header"))?;
        let bare = parts
            .next()
            .ok_or(ScramError::Malformed("no client-first-bare"))?;
        let gs2_header = format!("{cb},{authzid},");
        let mut fields = bare.split(',');
        let user = attr(fields.next(), 'n').ok_or(ScramError::Malformed("no username"))?;
        let user = decode_saslname(user).ok_or(ScramError::Malformed("bad username"))?;
        if !authzid.is_empty() {
            let a = attr(Some(authzid), 'a').and_then(decode_saslname);
            if a.as_deref() != Some(user.as_str()) {
                return Err(ScramError::Malformed(
                    "authorization id differs from the user",
                ));
            }
        }
        let client_nonce = attr(fields.next(), 'r').ok_or(ScramError::Malformed("no nonce"))?;
        if client_nonce.is_empty() {
            return Err(ScramError::Malformed("empty nonce"));
        }
        // Extensions (Kafka's tokenauth) are not supported.
        if fields.any(|f| f.starts_with("tokenauth=")) {
            return Err(ScramError::Malformed("delegation tokens are not supported"));
        }
        let credential = lookup(&user);
        let (salt, iterations) = match &credential {
            Some(c) => (c.salt.clone(), c.iterations),
            None => (fake_salt(&user), MIN_ITERATIONS),
        };
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!("r={nonce},s={},i={iterations}", B64.encode(&salt));
        self.state = ServerState::AwaitClientFinal {
            user,
            credential,
            gs2_header,
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            nonce,
        };
        Ok(server_first)
    }

    /// Handles client-final; answers server-final and the authenticated
    /// user name.
    pub fn client_final(&mut self, msg: &[u8]) -> Result<(String, String), ScramError> {
        let state = std::mem::replace(&mut self.state, ServerState::Done);
        let ServerState::AwaitClientFinal {
            user,
            credential,
            gs2_header,
            client_first_bare,
            server_first,
            nonce,
        } = state
        else {
            return Err(ScramError::Malformed("unexpected client-final message"));
        };
        let msg = std::str::from_utf8(msg).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let (without_proof, proof) = msg
            .rsplit_once(",p=")
            .ok_or(ScramError::Malformed("no proof"))?;
        let mut fields = without_proof.split(',');
        let binding =
            attr(fields.next(), 'c').ok_or(ScramError::Malformed("no channel binding"))?;
        if B64.decode(binding).ok().as_deref() != Some(gs2_header.as_bytes()) {
            return Err(ScramError::Malformed(
                "channel binding differs from the gs2 header",
            ));
        }
        if attr(fields.next(), 'r') != Some(nonce.as_str()) {
            return Err(ScramError::Malformed("nonce differs"));
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| ScramError::Malformed("proof is not base64"))?;
        let Some(cred) = credential else {
            return Err(ScramError::BadCredentials);
        };
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let client_signature = self.mech.hmac(&cred.stored_key, auth_message.as_bytes());
        if proof.len() != client_signature.len() {
            return Err(ScramError::BadCredentials);
        }
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let stored = self.mech.hash(&client_key);
        if !bool::from(stored.ct_eq(&cred.stored_key)) {
            return Err(ScramError::BadCredentials);
        }
        let server_signature = self.mech.hmac(&cred.server_key, auth_message.as_bytes());
        Ok((format!("v={}", B64.encode(server_signature)), user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3: user "user", password "pencil".
    #[test]
    fn rfc7677_sha256_test_vector() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let mech = Mechanism::Sha256;
        let salted = mech.salted_password(b"pencil", &salt, 4096);
        let cred = Credential::from_salted(mech, &salted, &salt, 4096);
        assert!(cred.verify_password(mech, "pencil"));
        assert!(!cred.verify_password(mech, "pencil2"));
        let mut s = ScramServer::new(mech);
        let first = s
            .client_first_with_nonce(
                b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
                |u| (u == "user").then(|| cred.clone()),
                |_| Vec::new(),
                "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            )
            .unwrap();
        assert_eq!(
            first,
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        let (last, user) = s
            .client_final(
                b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            )
            .unwrap();
        assert_eq!(last, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        assert_eq!(user, "user");
    }

    #[test]
    fn a_wrong_proof_and_an_unknown_user_both_fail_at_the_proof() {
        let mech = Mechanism::Sha512;
        let cred = Credential::from_password(mech, "secret", 4096);
        for user in ["alice", "mallory"] {
            let mut s = ScramServer::new(mech);
            let first = s
                .client_first(
                    format!("n,,n={user},r=abc").as_bytes(),
                    |u| (u == "alice").then(|| cred.clone()),
                    |_| vec![7u8; 32],
                )
                .unwrap();
            let nonce = first.split(',').next().unwrap().trim_start_matches("r=");
            let bad = format!("c=biws,r={nonce},p={}", B64.encode([0u8; 64]));
            assert_eq!(
                s.client_final(bad.as_bytes()),
                Err(ScramError::BadCredentials)
            );
        }
    }

    #[test]
    fn malformed_messages_are_refused() {
        let mut s = ScramServer::new(Mechanism::Sha256);
        let none = |_: &str| None;
        let fake = |_: &str| vec![1u8; 16];
        assert!(s
            .client_first(b"p=tls-unique,,n=u,r=x", none, fake)
            .is_err());
        let mut s = ScramServer::new(Mechanism::Sha256);
        assert!(s.client_first(b"n,,n=u", none, fake).is_err());
        let mut s = ScramServer::new(Mechanism::Sha256);
        assert!(s.client_first(&[0xff, 0xfe], none, fake).is_err());
        let mut s = ScramServer::new(Mechanism::Sha256);
        assert!(s.client_final(b"c=biws,r=x,p=AAAA").is_err());
        assert_eq!(decode_saslname("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
        assert_eq!(decode_saslname("a=b"), None);
    }
}
