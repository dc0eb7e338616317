//! One connection to one broker: TCP, then TLS when the security
//! protocol says so, the ApiVersions handshake that picks each request's
//! version, then SASL (SaslHandshake v1 and SaslAuthenticate) when asked;
//! framing, correlation ids and timeouts for every request after.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use fjord_protocol::messages::{ApiVersionsRequest, SaslAuthenticateRequest, SaslHandshakeRequest};
use fjord_protocol::{frame, ApiKey, ErrorCode, Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{ClientError, Result};
use crate::security::scram::ScramClient;
use crate::security::{SaslMechanism, SaslSettings, SecurityContext};
use crate::{expect_response, versions};

/// A byte stream to a broker: plain TCP or TLS over it.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Largest response frame accepted (fetch responses are capped well below).
const MAX_RESPONSE_BYTES: usize = 256 << 20;

pub struct Connection {
    addr: String,
    stream: Box<dyn Stream>,
    client_id: String,
    correlation_id: i32,
    /// The broker's served version range per api key.
    versions: HashMap<i16, (i16, i16)>,
    request_timeout: Duration,
    /// Set while a request is in flight and left set if it was abandoned
    /// (timeout, cancellation, I/O error): the stream is then out of step
    /// and the connection must not be reused.
    in_flight: bool,
    /// Set on a connection without SASL until its first answered request
    /// after ApiVersions: a broker that hangs up then most likely wants
    /// SASL (or TLS), and the error says so.
    unauthenticated_hint: bool,
    out: BytesMut,
}

pub(crate) fn describe_io(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset by the broker".into(),
        UnexpectedEof => "the broker closed the connection".into(),
        BrokenPipe => "the broker closed the connection".into(),
        TimedOut => "timed out".into(),
        _ => {
            // Drop the "(os error N)" suffix; the text before it says it all.
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

fn api_name(api: ApiKey) -> String {
    format!("{api:?}")
}

impl Connection {
    /// Connects (TCP, then TLS if `security` has it), negotiates versions
    /// with ApiVersions and authenticates with SASL if `security` has it.
    pub async fn connect(
        addr: &str,
        client_id: &str,
        connect_timeout: Duration,
        request_timeout: Duration,
        security: &SecurityContext,
    ) -> Result<Connection> {
        let connect_err = |reason: String| ClientError::Connect {
            addr: addr.to_string(),
            reason,
        };
        let tcp = match tokio::time::timeout(connect_timeout, TcpStream::connect(addr)).await {
            Err(_) => {
                return Err(connect_err(format!(
                    "no answer within {} ms",
                    connect_timeout.as_millis()
                )))
            }
            Ok(Err(e)) => return Err(connect_err(describe_io(&e))),
            Ok(Ok(s)) => s,
        };
        let _ = tcp.set_nodelay(true);
        // A broker that accepts TCP but never speaks TLS or Kafka is
        // reported as a connection failure, not as a protocol error.
        let timeout = connect_timeout.max(Duration::from_secs(1));
        let stream: Box<dyn Stream> = match &security.tls {
            None => Box::new(tcp),
            Some(config) => {
                let tls_err = |reason: String| ClientError::Tls {
                    addr: addr.to_string(),
                    reason,
                };
                let name = crate::security::server_name(addr).map_err(tls_err)?;
                let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
                let connector = tokio_rustls::TlsConnector::from(config.clone());
                match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
                    Err(_) => {
                        return Err(tls_err(format!(
                            "no TLS answer within {} ms (is this a TLS listener?)",
                            timeout.as_millis()
                        )))
                    }
                    Ok(Err(e)) => {
                        return Err(tls_err(crate::security::describe_handshake_error(&e, host)))
                    }
                    Ok(Ok(s)) => Box::new(s),
                }
            }
        };
        let mut conn = Connection {
            addr: addr.to_string(),
            stream,
            client_id: client_id.to_string(),
            correlation_id: 0,
            versions: HashMap::new(),
            request_timeout,
            in_flight: false,
            unauthenticated_hint: false,
            out: BytesMut::with_capacity(4096),
        };
        match conn.negotiate(timeout).await {
            Ok(()) => {}
            Err(ClientError::Kafka { code, .. }) => {
                return Err(connect_err(format!(
                    "ApiVersions failed with {}",
                    crate::error_name(code)
                )))
            }
            Err(e @ ClientError::Unsupported { .. }) => return Err(e),
            Err(e) => {
                let tls_hint = if security.tls.is_some() {
                    " (does the broker require a client certificate, --ssl-cert/--ssl-key?)"
                } else {
                    ""
                };
                return Err(connect_err(match e {
                    ClientError::Io { reason, .. } => format!("{reason}{tls_hint}"),
                    ClientError::Timeout { .. } => {
                        "no answer to ApiVersions (is it a Kafka broker? a TLS listener needs security.protocol SSL or SASL_SSL)".into()
                    }
                    other => other.to_string(),
                }));
            }
        }
        match &security.sasl {
            Some(sasl) => conn.authenticate(sasl, timeout).await?,
            None => conn.unauthenticated_hint = true,
        }
        Ok(conn)
    }

    /// SaslHandshake v1, then the mechanism's tokens in SaslAuthenticate.
    async fn authenticate(&mut self, sasl: &SaslSettings, timeout: Duration) -> Result<()> {
        let addr = self.addr.clone();
        let auth_err = |reason: String| ClientError::Auth {
            addr: addr.clone(),
            reason,
        };
        let req = Request::SaslHandshake(SaslHandshakeRequest {
            mechanism: sasl.mechanism.name().to_string(),
            ..Default::default()
        });
        let (_, resp) = self
            .call(&req, versions::SASL_HANDSHAKE, Some(timeout))
            .await
            .map_err(|e| self.closed_during_auth(e))?;
        let resp = expect_response!(resp, SaslHandshake);
        if resp.error_code == ErrorCode::IllegalSaslState.code() {
            return Err(auth_err(format!(
                "the listener does not take SASL ({}; is it a SASL_PLAINTEXT or SASL_SSL listener?)",
                crate::error_name(resp.error_code)
            )));
        }
        if resp.error_code != 0 {
            let offered = if resp.mechanisms.is_empty() {
                "none".to_string()
            } else {
                resp.mechanisms.join(", ")
            };
            return Err(auth_err(format!(
                "the broker does not accept SASL mechanism {} ({}; it offers: {offered})",
                sasl.mechanism.name(),
                crate::error_name(resp.error_code)
            )));
        }
        match sasl.mechanism.scram() {
            None if sasl.mechanism == SaslMechanism::OAuthBearer => {
                // RFC 7628's initial response: GS2 header, then the
                // bearer token; the broker answers or fails the exchange.
                let token = format!("n,,\x01auth=Bearer {}\x01\x01", sasl.password.0);
                self.sasl_token(token.into_bytes(), timeout).await?;
            }
            None => {
                debug_assert_eq!(sasl.mechanism, SaslMechanism::Plain);
                let mut token = Vec::new();
                token.push(0);
                token.extend_from_slice(sasl.username.as_bytes());
                token.push(0);
                token.extend_from_slice(sasl.password.0.as_bytes());
                self.sasl_token(token, timeout).await?;
            }
            Some(hash) => {
                let mut scram = ScramClient::new(hash, &sasl.username, &sasl.password.0);
                let server_first = self.sasl_token(scram.client_first(), timeout).await?;
                let client_final = scram
                    .client_final(&server_first)
                    .map_err(|e| auth_err(e.to_string()))?;
                let server_final = self.sasl_token(client_final, timeout).await?;
                scram
                    .verify_server_final(&server_final)
                    .map_err(|e| auth_err(e.to_string()))?;
            }
        }
        tracing::debug!(addr = %self.addr, mechanism = sasl.mechanism.name(), "authenticated");
        Ok(())
    }

    /// Sends one SASL token; returns the broker's answer token.
    async fn sasl_token(&mut self, token: Vec<u8>, timeout: Duration) -> Result<Bytes> {
        let req = Request::SaslAuthenticate(SaslAuthenticateRequest {
            auth_bytes: Bytes::from(token),
            ..Default::default()
        });
        let (_, resp) = self
            .call(&req, versions::SASL_AUTHENTICATE, Some(timeout))
            .await
            .map_err(|e| self.closed_during_auth(e))?;
        let resp = expect_response!(resp, SaslAuthenticate);
        if resp.error_code != 0 {
            let name = crate::error_name(resp.error_code);
            return Err(ClientError::Auth {
                addr: self.addr.clone(),
                reason: match resp.error_message.filter(|m| !m.is_empty()) {
                    Some(m) => format!("{name}: {m}"),
                    None => name,
                },
            });
        }
        Ok(resp.auth_bytes)
    }

    /// A broken connection during SASL is an authentication failure.
    fn closed_during_auth(&self, e: ClientError) -> ClientError {
        match e {
            ClientError::Io { addr, reason } => ClientError::Auth {
                addr,
                reason: format!("{reason} during SASL authentication (is this a SASL listener?)"),
            },
            other => other,
        }
    }

    async fn negotiate(&mut self, timeout: Duration) -> Result<()> {
        let req = Request::ApiVersions(ApiVersionsRequest {
            client_software_name: "fjord".into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        });
        let first = self
            .roundtrip(versions::API_VERSIONS.1, &req, timeout)
            .await;
        let resp = match first {
            Ok(Response::ApiVersions(r)) if r.error_code == 0 => r,
            // A broker that does not know our version answers in v0 (KIP-511)
            // with UNSUPPORTED_VERSION; ask again in v0.
            Ok(Response::ApiVersions(_)) | Err(ClientError::Decode { .. }) => {
                match self.roundtrip(0, &req, timeout).await? {
                    Response::ApiVersions(r) => r,
                    other => {
                        return Err(ClientError::Other(format!(
                            "unexpected {:?} response to ApiVersions",
                            other.api_key()
                        )))
                    }
                }
            }
            Ok(other) => {
                return Err(ClientError::Other(format!(
                    "unexpected {:?} response to ApiVersions",
                    other.api_key()
                )))
            }
            Err(e) => return Err(e),
        };
        if let Some(e) = ClientError::from_code("ApiVersions", resp.error_code, None) {
            return Err(e);
        }
        self.versions = resp
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        tracing::debug!(addr = %self.addr, apis = self.versions.len(), "connected");
        Ok(())
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Whether the connection can take another request.
    pub fn usable(&self) -> bool {
        !self.in_flight
    }

    /// The broker's version range for `api`, if it serves it.
    pub fn broker_versions(&self, api: ApiKey) -> Option<(i16, i16)> {
        self.versions.get(&(api as i16)).copied()
    }

    /// The highest version in both `ours` and the broker's range.
    pub fn pick_version(&self, api: ApiKey, ours: versions::Range) -> Result<i16> {
        let unsupported = |detail: String| ClientError::Unsupported {
            addr: self.addr.clone(),
            api: api_name(api),
            detail,
        };
        let Some((lo, hi)) = self.broker_versions(api) else {
            return Err(unsupported("the broker does not offer it".into()));
        };
        let v = hi.min(ours.1);
        if v < lo.max(ours.0) {
            return Err(unsupported(format!(
                "the broker offers v{lo}-v{hi}, fjord speaks v{}-v{}",
                ours.0, ours.1
            )));
        }
        Ok(v)
    }

    /// Sends `req` at the best common version and waits for its response.
    pub async fn call(
        &mut self,
        req: &Request,
        ours: versions::Range,
        timeout: Option<Duration>,
    ) -> Result<(i16, Response)> {
        let version = self.pick_version(req.api_key(), ours)?;
        let timeout = timeout.unwrap_or(self.request_timeout);
        let resp = self.roundtrip(version, req, timeout).await?;
        Ok((version, resp))
    }

    /// Sends a request the broker does not answer (Produce with acks=0).
    pub async fn send_only(&mut self, req: &Request, ours: versions::Range) -> Result<i16> {
        let version = self.pick_version(req.api_key(), ours)?;
        self.encode(version, req)?;
        let api = req.api_key();
        self.in_flight = true;
        let write = async {
            self.stream.write_all(&self.out).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(self.request_timeout, write).await {
            Err(_) => Err(ClientError::Timeout {
                addr: self.addr.clone(),
                api: api_name(api),
                ms: self.request_timeout.as_millis(),
            }),
            Ok(Err(e)) => Err(ClientError::Io {
                addr: self.addr.clone(),
                reason: describe_io(&e),
            }),
            Ok(Ok(())) => {
                self.in_flight = false;
                Ok(version)
            }
        }
    }

    fn encode(&mut self, version: i16, req: &Request) -> Result<i32> {
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let cid = self.correlation_id;
        self.out.clear();
        frame::encode_request(&mut self.out, cid, Some(&self.client_id), version, req).map_err(
            |e| ClientError::Encode {
                api: api_name(req.api_key()),
                reason: e.to_string(),
            },
        )?;
        Ok(cid)
    }

    async fn roundtrip(
        &mut self,
        version: i16,
        req: &Request,
        timeout: Duration,
    ) -> Result<Response> {
        if self.in_flight {
            return Err(ClientError::Io {
                addr: self.addr.clone(),
                reason: "an earlier request was interrupted".into(),
            });
        }
        let api = req.api_key();
        let cid = self.encode(version, req)?;
        self.in_flight = true;
        let exchange = async {
            self.stream.write_all(&self.out).await?;
            let mut len = [0u8; 4];
            self.stream.read_exact(&mut len).await?;
            let n = i32::from_be_bytes(len);
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if !(4..=MAX_RESPONSE_BYTES).contains(&n) {
                let what = if &len == b"HTTP" {
                    "an HTTP response".to_string()
                } else {
                    format!("a frame of {n} bytes")
                };
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "the peer sent {what}, not a Kafka response (is this a Kafka listener?)"
                    ),
                ));
            }
            let mut body = vec![0u8; n];
            self.stream.read_exact(&mut body).await?;
            Ok(Bytes::from(body))
        };
        let body = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => {
                return Err(ClientError::Timeout {
                    addr: self.addr.clone(),
                    api: api_name(api),
                    ms: timeout.as_millis(),
                })
            }
            Ok(Err(e)) => {
                let mut reason = describe_io(&e);
                if self.unauthenticated_hint {
                    reason.push_str(
                        " (does this listener require SASL or TLS? see security.protocol / --command-config)",
                    );
                }
                return Err(ClientError::Io {
                    addr: self.addr.clone(),
                    reason,
                });
            }
            Ok(Ok(b)) => b,
        };
        let decode_err = |reason: String| ClientError::Decode {
            addr: self.addr.clone(),
            api: api_name(api),
            reason,
        };
        // The whole frame was read: the stream is in step again even if the
        // body turns out unreadable.
        self.in_flight = false;
        if api != ApiKey::ApiVersions {
            self.unauthenticated_hint = false;
        }
        let peek_cid = body
            .get(..4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        if peek_cid != Some(cid) {
            // A response to some other request: the stream is out of step.
            self.in_flight = true;
            return Err(decode_err(format!(
                "correlation id {peek_cid:?}, expected {cid}"
            )));
        }
        let (_, resp) =
            frame::parse_response(body, api, version).map_err(|e| decode_err(e.to_string()))?;
        Ok(resp)
    }
}

/// Whether `code` means "ask the coordinator lookup again".
pub(crate) fn is_coordinator_error(code: i16) -> bool {
    matches!(
        ErrorCode::from_code(code),
        Some(
            ErrorCode::NotCoordinator
                | ErrorCode::CoordinatorNotAvailable
                | ErrorCode::CoordinatorLoadInProgress
        )
    )
}
