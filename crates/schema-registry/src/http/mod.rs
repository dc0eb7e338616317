//! The REST API on its own listener: Confluent's paths, JSON bodies and
//! error codes, every answer `application/vnd.schemaregistry.v1+json`.
//! Request bodies are read up to `Limits::max_body_bytes` and refused past
//! it (413) without reading more. A middleware counts requests by route
//! and status and runs the optional [`Authenticator`].

mod config;
mod schemas;
mod subjects;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::TcpListener;

use crate::auth::{Authenticator, Operation};
use crate::error::{RegistryError, Result, CONTENT_TYPE};
use crate::registry::Registry;

#[derive(Clone)]
pub struct AppState {
    pub reg: Arc<Registry>,
    pub auth: Option<Arc<dyn Authenticator>>,
}

pub type Query = axum::extract::Query<HashMap<String, String>>;

/// Whether a query flag (`deleted=true`, `permanent=True`) is set.
pub fn flag(q: &HashMap<String, String>, name: &str) -> bool {
    q.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A JSON answer with the registry's media type.
pub fn json<T: Serialize>(v: &T) -> Response {
    match serde_json::to_string(v) {
        Ok(body) => (StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(e) => RegistryError::store(e.to_string()).into_response(),
    }
}

/// A schema's raw text as the answer body.
pub fn raw(text: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}

/// Reads and parses a JSON body of at most `limit` bytes.
pub async fn body<T: DeserializeOwned>(body: Body, limit: usize) -> Result<T> {
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| RegistryError::too_large(limit))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| RegistryError::bad_request(format!("Unrecognized request body: {e}")))
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { json(&serde_json::json!({})) }))
        .route("/contexts", get(|| async { json(&["."]) }))
        .route("/subjects", get(subjects::list))
        .route(
            "/subjects/{subject}",
            post(subjects::lookup).delete(subjects::delete_subject),
        )
        .route(
            "/subjects/{subject}/versions",
            get(subjects::versions).post(subjects::register),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(subjects::get_version).delete(subjects::delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(subjects::get_version_schema),
        )
        .route(
            "/subjects/{subject}/versions/{version}/referencedby",
            get(subjects::referenced_by),
        )
        .route("/schemas", get(schemas::list))
        .route("/schemas/types", get(schemas::types))
        .route("/schemas/ids/{id}", get(schemas::by_id))
        .route("/schemas/ids/{id}/schema", get(schemas::by_id_schema))
        .route("/schemas/ids/{id}/subjects", get(schemas::id_subjects))
        .route("/schemas/ids/{id}/versions", get(schemas::id_versions))
        .route(
            "/config",
            get(config::get_global)
                .put(config::put_global)
                .delete(config::delete_global),
        )
        .route(
            "/config/{subject}",
            get(config::get_subject)
                .put(config::put_subject)
                .delete(config::delete_subject),
        )
        .route(
            "/mode",
            get(config::get_mode_global)
                .put(config::put_mode_global)
                .delete(config::delete_mode_global),
        )
        .route(
            "/mode/{subject}",
            get(config::get_mode_subject)
                .put(config::put_mode_subject)
                .delete(config::delete_mode_subject),
        )
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(config::check_all),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(config::check_version),
        )
        .fallback(|| async { RegistryError::not_found("HTTP 404 Not Found").into_response() })
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// The subject a path is about, for authorization.
fn path_subject(path: &str) -> Option<String> {
    let rest = path
        .strip_prefix("/subjects/")
        .or_else(|| path.strip_prefix("/config/"))
        .or_else(|| path.strip_prefix("/mode/"))
        .or_else(|| path.strip_prefix("/compatibility/subjects/"))?;
    Some(rest.split('/').next().unwrap_or(rest).to_string())
}

/// Authentication and authorization (when installed), then request counts.
async fn guard(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |m| m.as_str().to_string());
    let method = req.method().as_str().to_string();
    let response = match authorize(&st, &req) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    };
    st.reg
        .metrics
        .observe(&endpoint, &method, response.status().as_u16());
    response
}

fn authorize(st: &AppState, req: &Request) -> Result<()> {
    let Some(auth) = &st.auth else {
        return Ok(());
    };
    let principal = auth.authenticate(req.headers())?;
    let op = match *req.method() {
        axum::http::Method::GET | axum::http::Method::HEAD => Operation::Read,
        axum::http::Method::DELETE => Operation::Delete,
        _ => Operation::Write,
    };
    let subject = path_subject(req.uri().path());
    if auth.authorize(&principal, op, subject.as_deref()) {
        Ok(())
    } else {
        Err(RegistryError::forbidden(format!(
            "User {principal} is not authorized"
        )))
    }
}

/// Serves the REST API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    reg: Arc<Registry>,
    auth: Option<Arc<dyn Authenticator>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let app = router(AppState { reg, auth });
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "schema registry listener failed");
    }
}
