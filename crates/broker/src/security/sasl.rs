//! One connection's SASL authentication, as Kafka's server side does it:
//! SaslHandshake (v0–1) picks the mechanism, then the tokens come wrapped
//! in SaslAuthenticate (after handshake v1) or as raw size-prefixed frames
//! (after handshake v0, as old clients send them). Mechanisms: PLAIN
//! (verified against the SCRAM user store) and SCRAM-SHA-256/512.
//!
//! Until the exchange succeeds only ApiVersions, SaslHandshake and
//! SaslAuthenticate are accepted; anything else closes the connection.
//! A failure is answered with SASL_AUTHENTICATION_FAILED and a message
//! that names no secret, after `connection.failed.authentication.delay.ms`,
//! and the connection is closed. With `connections.max.reauth.ms` set, a
//! session lasts that long (KIP-368): the client re-authenticates on the
//! same connection, and a request arriving after expiry closes it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fjord_protocol::messages::SaslAuthenticateResponse;
use fjord_protocol::messages::SaslHandshakeResponse;
use fjord_protocol::ErrorCode;
use fjord_protocol::{ApiKey, Request, Response};

use super::scram::{Mechanism, ScramError, ScramServer};
use super::users::UserStore;
use super::Principal;

/// What the connection does with a request or raw token.
pub enum Verdict {
    /// An authenticated request (or ApiVersions): dispatch it to its handler.
    Pass,
    /// Answer with this response and go on reading.
    Answer(Response),
    /// Answer with this (after `delay`), then close the connection.
    AnswerAndClose(Response, Duration),
    /// Send these raw bytes (a v0 token exchange, size-prefixed) and go on.
    RawAnswer(Bytes),
    /// Close the connection, after `delay`, without an answer.
    Close(Duration),
}

/// The mechanism's exchange in progress (SCRAM's state boxed: it is a
/// few hundred bytes and most connections never hold one).
enum Exchange {
    Plain,
    Scram(Box<ScramServer>),
    OAuthBearer,
}

enum Stage {
    /// Waiting for SaslHandshake.
    Start,
    /// Handshake done; `raw` after a v0 handshake.
    Tokens {
        mechanism: String,
        raw: bool,
        exchange: Exchange,
    },
    /// Authenticated; `until` is the end of the session (KIP-368).
    Done { until: Option<Instant> },
}

/// Per-listener settings the authenticator needs.
#[derive(Clone)]
pub struct SaslSettings {
    pub mechanisms: Vec<String>,
    /// The OAUTHBEARER token validator (when that mechanism is enabled).
    pub oauth: Option<Arc<super::oauth::OAuthValidator>>,
    pub failed_delay: Duration,
    /// `connections.max.reauth.ms`; zero: sessions do not expire.
    pub reauth_ms: i64,
    /// Where each decided exchange is counted (`fjord_authentication_total`).
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

/// The authentication state of one connection on a SASL listener.
pub struct Authenticator {
    settings: SaslSettings,
    users: Arc<UserStore>,
    stage: Stage,
    principal: Option<Principal>,
    peer: std::net::SocketAddr,
    listener: String,
    /// When the last OAUTHBEARER token expires (its session ends then,
    /// KIP-368).
    token_expiry: Option<Instant>,
}

fn handshake_response(code: ErrorCode, mechanisms: &[String]) -> Response {
    Response::SaslHandshake(SaslHandshakeResponse {
        error_code: code.code(),
        mechanisms: mechanisms.to_vec(),
        ..Default::default()
    })
}

fn authenticate_response(
    code: ErrorCode,
    msg: Option<&str>,
    bytes: Vec<u8>,
    lifetime: i64,
) -> Response {
    Response::SaslAuthenticate(SaslAuthenticateResponse {
        error_code: code.code(),
        error_message: msg.map(str::to_string),
        auth_bytes: Bytes::from(bytes),
        session_lifetime_ms: lifetime,
        ..Default::default()
    })
}

/// The end of one step of an exchange.
enum Step {
    More(Vec<u8>),
    Success(Vec<u8>, String),
    /// (log reason, user if known, message for the client)
    Failure(String, Option<String>, String),
}

impl Authenticator {
    pub fn new(
        settings: SaslSettings,
        users: Arc<UserStore>,
        peer: std::net::SocketAddr,
        listener: &str,
    ) -> Authenticator {
        Authenticator {
            settings,
            users,
            stage: Stage::Start,
            principal: None,
            peer,
            listener: listener.to_string(),
            token_expiry: None,
        }
    }

    /// The authenticated principal, once there is one.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// Whether the client has authenticated and its session is current:
    /// only then may frames be larger than `sasl.server.max.receive.size`.
    pub fn authenticated(&self) -> bool {
        matches!(self.stage, Stage::Done { until: None })
            || matches!(self.stage, Stage::Done { until: Some(t) } if Instant::now() < t)
            || (self.principal.is_some() && matches!(self.stage, Stage::Tokens { .. }))
    }

    /// Whether the next frame is a raw token (after a v0 handshake), not
    /// a Kafka request.
    pub fn expects_raw_token(&self) -> bool {
        matches!(self.stage, Stage::Tokens { raw: true, .. })
    }

    /// Judges a decoded request.
    pub async fn on_request(
        &mut self,
        api_key: ApiKey,
        version: i16,
        request: &Request,
    ) -> Verdict {
        match (&self.stage, request) {
            (_, Request::ApiVersions(_)) => Verdict::Pass,
            (Stage::Done { .. }, Request::SaslHandshake(_)) if self.settings.reauth_ms <= 0 => {
                // No re-authentication configured: the handler answers.
                Verdict::Pass
            }
            (Stage::Start | Stage::Done { .. }, Request::SaslHandshake(h)) => {
                let enabled = &self.settings.mechanisms;
                let exchange = match h.mechanism.as_str() {
                    m if !enabled.iter().any(|e| e == m) => None,
                    "PLAIN" => Some(Exchange::Plain),
                    "OAUTHBEARER" if self.settings.oauth.is_some() => Some(Exchange::OAuthBearer),
                    m => Mechanism::from_name(m)
                        .map(|m| Exchange::Scram(Box::new(ScramServer::new(m)))),
                };
                let Some(exchange) = exchange else {
                    tracing::warn!(peer = %self.peer, listener = %self.listener, mechanism = %h.mechanism, "SASL mechanism not enabled; closing connection");
                    return Verdict::AnswerAndClose(
                        handshake_response(ErrorCode::UnsupportedSaslMechanism, enabled),
                        Duration::ZERO,
                    );
                };
                self.stage = Stage::Tokens {
                    mechanism: h.mechanism.clone(),
                    raw: version == 0,
                    exchange,
                };
                Verdict::Answer(handshake_response(ErrorCode::None, enabled))
            }
            (Stage::Tokens { raw: false, .. }, Request::SaslAuthenticate(a)) => {
                let step = self.step(&a.auth_bytes).await;
                self.finish(step, version)
            }
            (Stage::Done { until }, _) if !matches!(request, Request::SaslAuthenticate(_)) => {
                if until.is_some_and(|t| Instant::now() >= t) {
                    tracing::info!(peer = %self.peer, listener = %self.listener, api = api_key.name(), "SASL session expired (connections.max.reauth.ms) without re-authentication; closing connection");
                    return Verdict::Close(Duration::ZERO);
                }
                Verdict::Pass
            }
            (_, Request::SaslAuthenticate(_)) => {
                tracing::warn!(peer = %self.peer, listener = %self.listener, "SaslAuthenticate without a SaslHandshake before it; closing connection");
                Verdict::AnswerAndClose(
                    authenticate_response(
                        ErrorCode::IllegalSaslState,
                        Some("SaslAuthenticate request received without a SaslHandshake"),
                        Vec::new(),
                        0,
                    ),
                    Duration::ZERO,
                )
            }
            _ => {
                tracing::warn!(peer = %self.peer, listener = %self.listener, api = api_key.name(), "request before SASL authentication; closing connection");
                Verdict::Close(Duration::ZERO)
            }
        }
    }

    /// Handles a raw token frame (after a v0 handshake).
    pub async fn on_raw_token(&mut self, token: &[u8]) -> Verdict {
        let step = self.step(token).await;
        match self.finish(step, -1) {
            Verdict::Answer(Response::SaslAuthenticate(r)) => Verdict::RawAnswer(r.auth_bytes),
            Verdict::AnswerAndClose(_, delay) | Verdict::Close(delay) => Verdict::Close(delay),
            _ => Verdict::Close(Duration::ZERO),
        }
    }

    /// Counts a decided exchange in `fjord_authentication_total`.
    fn count(&self, mechanism: &str, success: bool) {
        if let Some(m) = &self.settings.metrics {
            m.authentication(&self.listener, mechanism, success);
        }
    }

    /// Turns a step into the answer; `version` -1 is a raw exchange.
    /// Successes and failures are counted here, where they are decided.
    fn finish(&mut self, step: Step, version: i16) -> Verdict {
        let mechanism = match &self.stage {
            Stage::Tokens { mechanism, .. } => mechanism.clone(),
            _ => String::new(),
        };
        match step {
            Step::More(bytes) => {
                Verdict::Answer(authenticate_response(ErrorCode::None, None, bytes, 0))
            }
            Step::Success(bytes, user) => {
                let principal = Principal::user(&user);
                if let Some(previous) = &self.principal {
                    if *previous != principal {
                        // KIP-368: re-authentication may not change who
                        // the connection belongs to.
                        tracing::warn!(peer = %self.peer, listener = %self.listener, %mechanism, "re-authentication as a different principal; closing connection");
                        self.count(&mechanism, false);
                        return Verdict::AnswerAndClose(
                            authenticate_response(
                                ErrorCode::SaslAuthenticationFailed,
                                Some("Cannot change principals during re-authentication"),
                                Vec::new(),
                                0,
                            ),
                            self.settings.failed_delay,
                        );
                    }
                }
                tracing::debug!(peer = %self.peer, listener = %self.listener, %mechanism, %principal, "authenticated");
                let mut lifetime = self.settings.reauth_ms.max(0);
                // KIP-368: with re-authentication on, a token's session
                // ends no later than the token.
                if let (true, Some(expiry)) = (lifetime > 0, self.token_expiry.take()) {
                    let left = expiry.saturating_duration_since(Instant::now()).as_millis();
                    lifetime = lifetime.min(i64::try_from(left).unwrap_or(i64::MAX).max(1));
                }
                self.stage = Stage::Done {
                    until: (lifetime > 0)
                        .then(|| Instant::now() + Duration::from_millis(lifetime as u64)),
                };
                self.principal = Some(principal);
                self.count(&mechanism, true);
                // session_lifetime_ms exists from v1.
                let lifetime = if version >= 1 { lifetime } else { 0 };
                Verdict::Answer(authenticate_response(
                    ErrorCode::None,
                    None,
                    bytes,
                    lifetime,
                ))
            }
            Step::Failure(reason, user, client_msg) => {
                tracing::warn!(
                    peer = %self.peer,
                    listener = %self.listener,
                    %mechanism,
                    user = user.as_deref().unwrap_or("-"),
                    reason = %reason,
                    delay_ms = self.settings.failed_delay.as_millis() as u64,
                    "failed authentication; closing connection"
                );
                self.count(&mechanism, false);
                Verdict::AnswerAndClose(
                    authenticate_response(
                        ErrorCode::SaslAuthenticationFailed,
                        Some(&client_msg),
                        Vec::new(),
                        0,
                    ),
                    self.settings.failed_delay,
                )
            }
        }
    }

    async fn step(&mut self, token: &[u8]) -> Step {
        let users = self.users.clone();
        let Stage::Tokens { exchange, .. } = &mut self.stage else {
            return Step::Failure(
                "token outside an exchange".into(),
                None,
                "Unexpected SASL token".into(),
            );
        };
        match exchange {
            Exchange::Plain => {
                let parts: Vec<&[u8]> = token.split(|b| *b == 0).collect();
                let [authzid, user, password] = parts[..] else {
                    return Step::Failure(
                        "malformed PLAIN token".into(),
                        None,
                        "Authentication failed: Invalid SASL/PLAIN response".into(),
                    );
                };
                let (Ok(authzid), Ok(user)) =
                    (std::str::from_utf8(authzid), std::str::from_utf8(user))
                else {
                    return Step::Failure(
                        "PLAIN names are not UTF-8".into(),
                        None,
                        "Authentication failed: Invalid SASL/PLAIN response".into(),
                    );
                };
                let user = user.to_string();
                if user.is_empty() || password.is_empty() {
                    return Step::Failure(
                        "empty user or password".into(),
                        None,
                        "Authentication failed: username or password not specified".into(),
                    );
                }
                if !authzid.is_empty() && authzid != user {
                    return Step::Failure("authorization id differs from the user".into(), Some(user), "Authentication failed: Client requested an authorization id that is different from username".into());
                }
                let password = password.to_vec();
                let name = user.clone();
                // PBKDF2 takes milliseconds: off the async workers.
                let ok = tokio::task::spawn_blocking(move || {
                    let Ok(password) = std::str::from_utf8(&password) else {
                        return false;
                    };
                    let snapshot = users.snapshot();
                    match snapshot.get(&name) {
                        Some(creds) => creds.iter().any(|(m, c)| c.verify_password(*m, password)),
                        None => {
                            // As much work as for a real user.
                            let fake = super::scram::Credential {
                                salt: users.fake_salt(&name, Mechanism::Sha256),
                                iterations: super::scram::MIN_ITERATIONS,
                                stored_key: Vec::new(),
                                server_key: Vec::new(),
                            };
                            let _ = fake.verify_password(Mechanism::Sha256, password);
                            false
                        }
                    }
                })
                .await
                .unwrap_or(false);
                if ok {
                    Step::Success(Vec::new(), user)
                } else {
                    Step::Failure(
                        "invalid username or password".into(),
                        Some(user),
                        "Authentication failed: Invalid username or password".into(),
                    )
                }
            }
            Exchange::OAuthBearer => {
                let client_msg = "Authentication failed: invalid OAUTHBEARER token".to_string();
                let token = match super::oauth::bearer_token(token) {
                    Ok(t) => t.to_string(),
                    Err(e) => {
                        return Step::Failure(
                            format!("malformed OAUTHBEARER message: {e}"),
                            None,
                            client_msg,
                        )
                    }
                };
                let Some(validator) = self.settings.oauth.clone() else {
                    return Step::Failure("OAUTHBEARER is not configured".into(), None, client_msg);
                };
                // May read the key set: off the async workers.
                let checked = tokio::task::spawn_blocking(move || validator.validate(&token))
                    .await
                    .unwrap_or_else(|e| Err(format!("validation task failed: {e}")));
                match checked {
                    Ok(v) => {
                        let now_s = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_secs())
                            .unwrap_or(0);
                        self.token_expiry = Some(
                            Instant::now()
                                + Duration::from_secs(v.expires_at_s.saturating_sub(now_s)),
                        );
                        Step::Success(Vec::new(), v.principal_name)
                    }
                    Err(reason) => Step::Failure(reason, None, client_msg),
                }
            }
            Exchange::Scram(server) => {
                let mech = server.mechanism();
                let first = server.expects_first();
                let client_msg = format!(
                    "Authentication failed during authentication due to invalid credentials with SASL mechanism {}",
                    mech.name()
                );
                let fail = |e: ScramError, user: Option<String>| {
                    let reason = match e {
                        ScramError::Malformed(m) => format!("malformed SCRAM message: {m}"),
                        ScramError::BadCredentials => "invalid credentials".to_string(),
                    };
                    Step::Failure(reason, user, client_msg.clone())
                };
                if first {
                    match server.client_first(
                        token,
                        |u| users.credential(u, mech),
                        |u| users.fake_salt(u, mech),
                    ) {
                        Ok(s) => Step::More(s.into_bytes()),
                        Err(e) => fail(e, None),
                    }
                } else {
                    let user = server.user().map(str::to_string);
                    match server.client_final(token) {
                        Ok((s, user)) => Step::Success(s.into_bytes(), user),
                        Err(e) => fail(e, user),
                    }
                }
            }
        }
    }
}
