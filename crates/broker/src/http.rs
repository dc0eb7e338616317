//! The HTTP listener beside the Kafka one: `/health` (the process is up),
//! `/ready` (log recovery finished and the broker is serving; false again
//! once shutdown begins) and `/metrics` (Prometheus, see `metrics`).

use std::sync::Arc;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::metrics::Metrics;

pub async fn serve(listener: TcpListener, ready: watch::Receiver<bool>, metrics: Arc<Metrics>) {
    let app = Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route(
            "/ready",
            get(move || {
                let ready = *ready.borrow();
                async move {
                    if ready {
                        (StatusCode::OK, "ready\n")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move |headers: HeaderMap| scrape(metrics.clone(), headers)),
        );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "http listener failed");
    }
}

async fn scrape(metrics: Arc<Metrics>, headers: HeaderMap) -> axum::response::Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Reading every partition's offsets and /proc may block briefly.
    match tokio::task::spawn_blocking(move || metrics.encode(accept.as_deref())).await {
        Ok((body, content_type)) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics scrape failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable\n").into_response()
        }
    }
}
