//! SASL/OAUTHBEARER (RFC 7628, KIP-255, KIP-768): the client sends a JWT;
//! the broker checks its signature against a JSON Web Key Set
//! (`sasl.oauthbearer.jwks.endpoint.url`: a `file:` URL or path, or an
//! `http(s)://` URL, fetched again every
//! `sasl.oauthbearer.jwks.endpoint.refresh.ms` and when a token names a key
//! id it does not know), its expiry (`exp`, with
//! `sasl.oauthbearer.clock.skew.seconds`), and when configured its
//! audience (`sasl.oauthbearer.expected.audience`) and issuer
//! (`sasl.oauthbearer.expected.issuer`). The principal is `User:` and the
//! claim `sasl.oauthbearer.sub.claim.name` (default `sub`).
//!
//! Only asymmetric signatures (RS*, PS*, ES*, EdDSA) are accepted: a key
//! set publishes public keys, and unsigned tokens (`alg: none`) are
//! refused. Kafka's unsecured-token mode does not exist here: enabling
//! OAUTHBEARER without a key set is a startup error. The JWT and JWK work
//! is the `jsonwebtoken` crate's; this module is the SASL glue.

use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// The `sasl.oauthbearer.*` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthSettings {
    /// `sasl.oauthbearer.jwks.endpoint.url` (empty: not configured).
    pub jwks_url: String,
    pub refresh_ms: u64,
    pub expected_audience: Vec<String>,
    pub expected_issuer: Option<String>,
    pub sub_claim: String,
    pub clock_skew_s: u64,
}

impl Default for OAuthSettings {
    fn default() -> Self {
        OAuthSettings {
            jwks_url: String::new(),
            refresh_ms: 3_600_000,
            expected_audience: Vec::new(),
            expected_issuer: None,
            sub_claim: "sub".into(),
            clock_skew_s: 30,
        }
    }
}

/// The most bytes read from a key set (file or URL).
const MAX_JWKS_BYTES: u64 = 1 << 20;
/// A key set is fetched again for an unknown key id at most this often.
const UNKNOWN_KID_BACKOFF: Duration = Duration::from_secs(10);

fn read_jwks(url: &str) -> Result<JwkSet, String> {
    use std::io::Read;
    let text = if url.starts_with("http://") || url.starts_with("https://") {
        let resp = ureq::get(url)
            .timeout(Duration::from_secs(10))
            .call()
            .map_err(|e| format!("fetching the key set from {url}: {e}"))?;
        let mut body = String::new();
        resp.into_reader()
            .take(MAX_JWKS_BYTES)
            .read_to_string(&mut body)
            .map_err(|e| format!("reading the key set from {url}: {e}"))?;
        body
    } else {
        let path = url.strip_prefix("file://").unwrap_or(url);
        let mut body = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_JWKS_BYTES).read_to_string(&mut body))
            .map_err(|e| format!("reading the key set {path}: {e}"))?;
        body
    };
    serde_json::from_str(&text).map_err(|e| format!("the key set at {url} is not a JWKS: {e}"))
}

struct Keys {
    set: JwkSet,
    loaded: Instant,
}

/// Validates bearer tokens against the configured key set.
pub struct OAuthValidator {
    settings: OAuthSettings,
    keys: RwLock<Keys>,
}

/// A token that passed.
#[derive(Debug, PartialEq, Eq)]
pub struct Validated {
    pub principal_name: String,
    /// The token's `exp`, seconds since the epoch.
    pub expires_at_s: u64,
}

fn asymmetric(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

impl OAuthValidator {
    /// Loads the key set once (a startup error if it cannot be read).
    pub fn new(settings: OAuthSettings) -> Result<OAuthValidator, String> {
        if settings.jwks_url.is_empty() {
            return Err(
                "OAUTHBEARER needs sasl.oauthbearer.jwks.endpoint.url (a JWKS file or URL)".into(),
            );
        }
        let set = read_jwks(&settings.jwks_url)?;
        Ok(OAuthValidator {
            settings,
            keys: RwLock::new(Keys {
                set,
                loaded: Instant::now(),
            }),
        })
    }

    fn refresh(&self, force: bool) {
        let due = {
            let k = self.keys.read().unwrap_or_else(|p| p.into_inner());
            let age = k.loaded.elapsed();
            age >= Duration::from_millis(self.settings.refresh_ms)
                || (force && age >= UNKNOWN_KID_BACKOFF)
        };
        if !due {
            return;
        }
        match read_jwks(&self.settings.jwks_url) {
            Ok(set) => {
                let mut k = self.keys.write().unwrap_or_else(|p| p.into_inner());
                *k = Keys {
                    set,
                    loaded: Instant::now(),
                };
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not refresh the OAUTHBEARER key set; keeping the old one");
                let mut k = self.keys.write().unwrap_or_else(|p| p.into_inner());
                k.loaded = Instant::now();
            }
        }
    }

    fn key_for(&self, kid: Option<&str>) -> Option<jsonwebtoken::jwk::Jwk> {
        let k = self.keys.read().unwrap_or_else(|p| p.into_inner());
        match kid {
            Some(kid) => k.set.find(kid).cloned(),
            // Without a key id, a set of exactly one key names it.
            None if k.set.keys.len() == 1 => k.set.keys.first().cloned(),
            None => None,
        }
    }

    /// Checks one compact JWT. Blocking (may read the key set): call it
    /// off the async workers. The error is for the log, never the client.
    pub fn validate(&self, token: &str) -> Result<Validated, String> {
        self.refresh(false);
        let header = jsonwebtoken::decode_header(token).map_err(|e| format!("bad token: {e}"))?;
        if !asymmetric(header.alg) {
            return Err(format!("algorithm {:?} is not accepted", header.alg));
        }
        let jwk = match self.key_for(header.kid.as_deref()) {
            Some(k) => k,
            None => {
                self.refresh(true);
                self.key_for(header.kid.as_deref()).ok_or_else(|| {
                    format!(
                        "no key {:?} in the key set",
                        header.kid.as_deref().unwrap_or("-")
                    )
                })?
            }
        };
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("unusable key: {e}"))?;
        let mut v = Validation::new(header.alg);
        v.leeway = self.settings.clock_skew_s;
        v.validate_exp = true;
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp"]);
        if self.settings.expected_audience.is_empty() {
            v.validate_aud = false;
        } else {
            v.set_audience(&self.settings.expected_audience);
        }
        if let Some(iss) = &self.settings.expected_issuer {
            v.set_issuer(&[iss]);
        }
        let data =
            jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &v)
                .map_err(|e| format!("token refused: {e}"))?;
        let claims = data.claims;
        let name = claims
            .get(&self.settings.sub_claim)
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("no {} claim", self.settings.sub_claim))?;
        let exp = claims.get("exp").and_then(|e| e.as_u64()).unwrap_or(0);
        Ok(Validated {
            principal_name: name.to_string(),
            expires_at_s: exp,
        })
    }
}

/// The bearer token of an OAUTHBEARER client's first message:
/// `n,[a=authzid],` then `^A`-separated `key=value` pairs, one of them
/// `auth=Bearer <token>`, ending `^A^A` (RFC 7628 section 3.1).
pub fn bearer_token(message: &[u8]) -> Result<&str, String> {
    let text = std::str::from_utf8(message).map_err(|_| "not UTF-8".to_string())?;
    let (gs2, rest) = text
        .split_once('\u{1}')
        .ok_or_else(|| "no key/value pairs".to_string())?;
    if !(gs2.starts_with("n,") || gs2.starts_with("y,")) {
        return Err("bad GS2 header".into());
    }
    for pair in rest.split('\u{1}').filter(|p| !p.is_empty()) {
        if let Some(v) = pair.strip_prefix("auth=") {
            let (scheme, token) = v
                .split_once(' ')
                .ok_or_else(|| "auth without a scheme".to_string())?;
            if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
                return Err("auth is not a Bearer token".into());
            }
            return Ok(token.trim());
        }
    }
    Err("no auth=Bearer pair".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_token_is_found_in_the_client_message() {
        assert_eq!(
            bearer_token(b"n,,\x01auth=Bearer abc.def.ghi\x01\x01"),
            Ok("abc.def.ghi")
        );
        assert_eq!(
            bearer_token(b"n,a=alice,\x01host=x\x01auth=Bearer t\x01ext=1\x01\x01"),
            Ok("t")
        );
        assert!(bearer_token(b"n,,\x01auth=Basic abc\x01\x01").is_err());
        assert!(bearer_token(b"n,,\x01\x01").is_err());
        assert!(bearer_token(b"garbage").is_err());
        assert!(bearer_token(b"\xff\xfe").is_err());
    }

    #[test]
    fn a_missing_key_set_is_a_startup_error() {
        assert!(OAuthValidator::new(OAuthSettings::default()).is_err());
        let s = OAuthSettings {
            jwks_url: "/nonexistent/jwks.json".into(),
            ..Default::default()
        };
        assert!(OAuthValidator::new(s).is_err());
    }

    #[test]
    fn symmetric_and_unsigned_tokens_are_refused() {
        let dir = std::env::temp_dir().join(format!("fjord-jwks-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("jwks.json");
        std::fs::write(&path, r#"{"keys":[]}"#).unwrap();
        let v = OAuthValidator::new(OAuthSettings {
            jwks_url: format!("file://{}", path.display()),
            ..Default::default()
        })
        .unwrap();
        // {"alg":"HS256","typ":"JWT"}.{"sub":"a","exp":9999999999}.sig
        let hs = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhIiwiZXhwIjo5OTk5OTk5OTk5fQ.c2ln";
        assert!(v.validate(hs).unwrap_err().contains("not accepted"));
        // {"alg":"none"}: jsonwebtoken does not even parse it.
        let none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwiZXhwIjo5OTk5OTk5OTk5fQ.";
        assert!(v.validate(none).is_err());
        assert!(v.validate("not a jwt").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
