//! OAUTHBEARER for the CLI: the token comes from an OAuth 2 token
//! endpoint with the client-credentials grant (RFC 6749 section 4.4), as
//! librdkafka's `sasl.oauthbearer.method=oidc` and Kafka's OIDC login
//! handler get it: a form POST of `grant_type=client_credentials` (and
//! `scope`) with the client id and secret as HTTP Basic credentials; the
//! answer's `access_token` is sent to the broker as the bearer token.
//! Neither the secret nor the token appears in an error.

use std::time::Duration;

use base64::Engine;

use super::CliError;

/// How long the token request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Largest token endpoint answer read.
const MAX_ANSWER: usize = 1 << 20;

/// Where and as whom the CLI asks for its token.
pub struct TokenRequest<'a> {
    pub endpoint: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub scope: Option<&'a str>,
}

/// Asks the token endpoint for an access token.
pub fn fetch_token(req: &TokenRequest<'_>) -> Result<String, CliError> {
    let fail = |why: String| {
        CliError::Usage(format!(
            "sasl.oauthbearer.token.endpoint.url {}: {why}",
            req.endpoint
        ))
    };
    if !(req.endpoint.starts_with("http://") || req.endpoint.starts_with("https://")) {
        return Err(fail("not an http:// or https:// URL".into()));
    }
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", req.client_id, req.client_secret));
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = req.scope.filter(|s| !s.is_empty()) {
        form.push(("scope", scope));
    }
    let answer = ureq::post(req.endpoint)
        .timeout(TIMEOUT)
        .set("Authorization", &format!("Basic {basic}"))
        .set("Accept", "application/json")
        .send_form(&form);
    let response = match answer {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            let body = r.into_string().unwrap_or_default();
            let error = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
                .unwrap_or_default();
            return Err(fail(format!(
                "the token endpoint answered HTTP {code}{}",
                if error.is_empty() {
                    String::new()
                } else {
                    format!(" ({error})")
                }
            )));
        }
        Err(e) => return Err(fail(format!("no answer ({})", e.kind()))),
    };
    let mut body = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(response.into_reader(), MAX_ANSWER as u64),
        &mut body,
    )
    .map_err(|e| fail(format!("unreadable answer ({e})")))?;
    let value: serde_json::Value =
        serde_json::from_str(&body).map_err(|_| fail("the answer is not JSON".into()))?;
    match value.get("access_token").and_then(|t| t.as_str()) {
        Some(token) if !token.is_empty() => Ok(token.to_string()),
        _ => Err(fail("the answer has no access_token".into())),
    }
}
