//! How this broker reaches the others (replica fetcher, transaction
//! markers): Kafka's inter-broker listener. [`InterBroker`] is prepared
//! once at start from the config: the listener name whose registered
//! endpoint is dialled and how to secure the connection, by its security
//! protocol:
//! - TLS (SSL, SASL_SSL): the broker's own truststore (`ssl.truststore.*`)
//!   verifies the other broker's certificate, for the registered host
//!   name; the broker's keystore certificate is presented when the other
//!   side asks for one (mTLS listeners);
//! - SASL (SASL_PLAINTEXT, SASL_SSL): `sasl.mechanism.inter.broker.protocol`
//!   with the user and password of
//!   `listener.name.<listener>.<mechanism>.sasl.jaas.config`.
//!
//! The connection itself is fjord-client's (TCP, TLS, ApiVersions, SASL
//! PLAIN/SCRAM, framing, bounded frames, timeouts): a [`Peer`] sends one
//! request at a time at a fixed version (every node runs fjord).
//! Failures are counted in `fjord_inter_broker_connection_failures` by
//! kind; an authentication or TLS failure is an operator's problem and
//! logged at warn (never with a secret: passwords are fjord-client
//! `Secret`s and its errors carry none).

use std::sync::Arc;
use std::time::Duration;

use fjord_client::{
    ClientError, Connection, SaslMechanism, SaslSettings, SecurityContext, TlsMaterial,
};
use fjord_metadata::MetadataImage;
use fjord_protocol::{Request, Response};

use super::Cluster;
use crate::config::{listener_keys, BrokerConfig};
use crate::metrics::Metrics;
use crate::security::listeners::SecurityProtocol;

/// The inter-broker listener and the client security of its protocol.
pub struct InterBroker {
    /// The listener name whose registered endpoint is dialled.
    pub listener: String,
    pub protocol: SecurityProtocol,
    /// TLS config and SASL login, loaded once.
    security: SecurityContext,
    /// Where connection failures are counted (None in unit tests).
    metrics: Option<Arc<Metrics>>,
}

impl std::fmt::Debug for InterBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterBroker")
            .field("listener", &self.listener)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl InterBroker {
    /// PLAINTEXT on the listener named PLAINTEXT (unit tests).
    pub fn plaintext() -> InterBroker {
        InterBroker {
            listener: "PLAINTEXT".into(),
            protocol: SecurityProtocol::Plaintext,
            security: SecurityContext::default(),
            metrics: None,
        }
    }

    /// The inter-broker listener of `config` (see
    /// [`BrokerConfig::inter_broker`]) with its stores and login loaded.
    pub fn from_config(
        config: &BrokerConfig,
        metrics: Arc<Metrics>,
    ) -> Result<InterBroker, String> {
        let (listener, protocol) = config.inter_broker()?;
        let protocol = protocol.unwrap_or(SecurityProtocol::Plaintext);
        let tls = if protocol.tls() {
            let trust = config.tls.truststore()?.ok_or(
                "the inter-broker listener uses TLS: set ssl.truststore.location (or \
                 ssl.truststore.certificates) to verify the other brokers' certificates",
            )?;
            let keys = config.tls.keystore()?;
            Some(TlsMaterial {
                roots: trust,
                client_cert: Some((keys.chain, keys.key)),
                verify_hostname: true,
            })
        } else {
            None
        };
        let sasl = match (&config.inter_broker_sasl_mechanism, protocol.sasl()) {
            (Some(m), true) => {
                let mechanism = SaslMechanism::from_name(m)
                    .filter(|m| *m != SaslMechanism::OAuthBearer)
                    .ok_or_else(|| format!("cannot authenticate to other brokers with {m}"))?;
                let key = (listener.clone(), m.clone());
                let jaas = config.listener_jaas.get(&key).ok_or_else(|| {
                    format!("no listener.name.{}.{}.sasl.jaas.config", key.0, key.1).to_lowercase()
                })?;
                let (username, password) = listener_keys::login(&jaas.0)?;
                Some(SaslSettings {
                    mechanism,
                    username,
                    password: fjord_client::Secret(password.0),
                })
            }
            _ => None,
        };
        let client_protocol =
            fjord_client::SecurityProtocol::from_name(protocol.name()).unwrap_or_default();
        let security = SecurityContext::from_material(client_protocol, tls, sasl.as_ref())
            .map_err(|e| format!("inter-broker listener {listener}: {e}"))?;
        Ok(InterBroker {
            listener,
            protocol,
            security,
            metrics: Some(metrics),
        })
    }

    /// Where to reach broker `id`: its registered endpoint of the
    /// inter-broker listener.
    pub fn address(&self, image: &MetadataImage, id: i32) -> Option<String> {
        let b = image.brokers.get(&id)?;
        let e = b.endpoints.iter().find(|e| e.listener == self.listener)?;
        Some(format!("{}:{}", e.host, e.port))
    }

    /// Opens a connection to `addr` (TCP, TLS, ApiVersions, SASL as the
    /// protocol says).
    pub async fn connect(
        &self,
        addr: &str,
        client_id: &str,
        timeout: Duration,
    ) -> Result<Peer, ClientError> {
        Connection::connect(addr, client_id, timeout, timeout, &self.security)
            .await
            .map(|conn| Peer { conn })
    }
}

/// What kind of failure a connection error is, for the metric and the
/// log level: `auth` and `tls` need an operator, `connect` is usually a
/// broker that is down or restarting.
pub fn failure_kind(e: &ClientError) -> &'static str {
    match e {
        ClientError::Auth { .. } => "auth",
        ClientError::Tls { .. } => "tls",
        _ => "connect",
    }
}

/// Why no connection to another broker was made.
#[derive(Debug)]
pub enum PeerError {
    /// The broker is unknown or has no endpoint of the inter-broker
    /// listener (yet).
    NoAddress,
    /// Connecting, TLS or SASL failed (the reason, already logged).
    Failed(String),
}

impl std::fmt::Display for PeerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerError::NoAddress => f.write_str("no endpoint of the inter-broker listener"),
            PeerError::Failed(why) => f.write_str(why),
        }
    }
}

impl Cluster {
    /// Opens a connection to broker `id` on the inter-broker listener.
    /// A failure is counted and logged: at warn when it needs an operator
    /// (authentication, TLS), else at debug (a broker down or restarting).
    pub async fn connect_peer(
        &self,
        id: i32,
        client_id: &str,
        timeout: Duration,
    ) -> Result<Peer, PeerError> {
        let ib = &self.inter_broker;
        let addr = ib.address(&self.image(), id).ok_or(PeerError::NoAddress)?;
        ib.connect(&addr, client_id, timeout).await.map_err(|e| {
            let kind = failure_kind(&e);
            if let Some(m) = &ib.metrics {
                m.inter_broker_failure(kind);
            }
            if kind == "connect" {
                tracing::debug!(broker = id, addr, error = %e, "cannot connect to another broker");
            } else {
                tracing::warn!(
                    broker = id,
                    addr,
                    listener = %ib.listener,
                    kind,
                    error = %e,
                    "inter-broker connection refused: check the inter-broker login and certificates"
                );
            }
            PeerError::Failed(e.to_string())
        })
    }
}

/// One connection to another broker.
pub struct Peer {
    conn: Connection,
}

impl Peer {
    /// Sends `req` at `version` and returns the response. After an error
    /// the connection is out of step: drop it.
    pub async fn call(
        &mut self,
        version: i16,
        req: &Request,
        timeout: Duration,
    ) -> std::io::Result<Response> {
        self.conn
            .call(req, (version, version), Some(timeout))
            .await
            .map(|(_, resp)| resp)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}
