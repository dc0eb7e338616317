//! Security: named listeners, TLS, SASL authentication and the SCRAM user
//! store (issue 13, first slice).
//!
//! - `listeners`: parsing of `listeners`, `advertised.listeners` and
//!   `listener.security.protocol.map` into the listeners to bind;
//! - `tls`: the `ssl.*` settings and the rustls server config built from
//!   them (`TlsContext`), the client certificate's principal (mTLS);
//! - `keystore`: reading PEM and PKCS#12 keystores and truststores;
//! - `tls_reload`: the task that swaps in a new server config when the
//!   store files change;
//! - `principal_mapping`: `ssl.principal.mapping.rules`;
//! - `scram`: SCRAM credentials and the server side of an RFC 5802/7677
//!   exchange (the crypto is RustCrypto's `hmac`, `sha2`, `pbkdf2`);
//! - `users`: the user store, SCRAM credentials persisted in
//!   `meta/scram-credentials.json`;
//! - `oauth`: OAUTHBEARER, JWTs checked against a JWKS file or URL
//!   (the JWT work is the `jsonwebtoken` crate's);
//! - `sasl`: one connection's authentication state (SaslHandshake,
//!   SaslAuthenticate, PLAIN, SCRAM and OAUTHBEARER);
//! - `acls`: ACL bindings, filters and their store (`meta/acls.json`);
//! - `authorizer`: Kafka's StandardAuthorizer decisions over them.
//!
//! Architecture invariant: on a SASL listener the connection answers
//! SaslHandshake and SaslAuthenticate itself and lets nothing but
//! ApiVersions reach a handler until the client has authenticated, so the
//! handlers never see an unauthenticated request other than ApiVersions.
//! `listeners`, `scram`, `tls`, `keystore`, `principal_mapping` and
//! `tls_reload` know nothing of the broker's state.

pub mod acls;
pub mod authorizer;
pub mod keystore;
pub mod listeners;
pub mod oauth;
pub mod principal_mapping;
pub mod sasl;
pub mod scram;
pub mod tls;
pub mod tls_reload;
pub mod users;

use std::fmt;

/// A secret from the config (a password, a private key): kept out of
/// `Debug` output so it never reaches a log line.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[hidden]")
    }
}

/// Who is on the other end of a connection, as Kafka names principals:
/// `User:ANONYMOUS` until authenticated, `User:<name>` after SASL,
/// `User:<subject DN>` from a TLS client certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal(pub String);

impl Principal {
    pub fn anonymous() -> Principal {
        Principal("User:ANONYMOUS".into())
    }

    pub fn user(name: &str) -> Principal {
        Principal(format!("User:{name}"))
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
