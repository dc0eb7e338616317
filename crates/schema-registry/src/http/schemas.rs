//! `/schemas/...`: schemas by id (the serializers' hot path), the subjects
//! and versions an id is registered under, and the supported types.

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{json as j, Map, Value};

use super::{flag, json, raw, AppState, Query};
use crate::error::{RegistryError, Result};
use crate::schema::{Parsed, SchemaType};

fn parse_id(s: &str) -> Result<i64> {
    s.parse::<i64>()
        .map_err(|_| RegistryError::schema_not_found())
}

pub async fn types() -> Response {
    json(&SchemaType::ALL.iter().map(|t| t.name()).collect::<Vec<_>>())
}

pub async fn by_id(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> Result<Response> {
    let id = parse_id(&id)?;
    let s = st
        .reg
        .read()
        .ids
        .get(&id)
        .cloned()
        .ok_or_else(RegistryError::schema_not_found)?;
    let mut m = Map::new();
    if !s.schema_type.is_avro() {
        m.insert("schemaType".into(), j!(s.schema_type.name()));
    }
    if !s.references.is_empty() {
        m.insert("references".into(), j!(s.references));
    }
    let mut text = s.schema;
    if s.schema_type == SchemaType::Protobuf && q.get("format").is_some_and(|f| f == "serialized") {
        if let Parsed::Protobuf(doc) = st.reg.parse_id(id)?.parsed {
            text = doc.serialized();
        }
    }
    m.insert("schema".into(), j!(text));
    Ok(json(&Value::Object(m)))
}

pub async fn by_id_schema(State(st): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let id = parse_id(&id)?;
    let s = st
        .reg
        .read()
        .ids
        .get(&id)
        .cloned()
        .ok_or_else(RegistryError::schema_not_found)?;
    Ok(raw(s.schema))
}

pub async fn id_subjects(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> Result<Response> {
    let id = parse_id(&id)?;
    let locs = st.reg.read().locations(id, flag(&q, "deleted"));
    if locs.is_empty() {
        return Err(RegistryError::schema_not_found());
    }
    let mut subjects: Vec<String> = locs.into_iter().map(|(s, _)| s).collect();
    subjects.dedup();
    Ok(json(&subjects))
}

pub async fn id_versions(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> Result<Response> {
    let id = parse_id(&id)?;
    let locs = st.reg.read().locations(id, flag(&q, "deleted"));
    if locs.is_empty() {
        return Err(RegistryError::schema_not_found());
    }
    let out: Vec<Value> = locs
        .into_iter()
        .map(|(s, v)| j!({"subject": s, "version": v}))
        .collect();
    Ok(json(&out))
}

/// GET /schemas: every version (latest only with `latestOnly=true`).
pub async fn list(State(st): State<AppState>, q: Query) -> Response {
    let prefix = q.get("subjectPrefix").cloned().unwrap_or_default();
    let deleted = flag(&q, "deleted");
    let latest_only = flag(&q, "latestOnly");
    let s = st.reg.read();
    let mut out = Vec::new();
    for (subject, vs) in s.subjects.range(prefix.clone()..) {
        if !subject.starts_with(&prefix) {
            break;
        }
        let mut rows: Vec<_> = vs.iter().filter(|(_, v)| deleted || !v.deleted).collect();
        if latest_only {
            rows = rows.into_iter().last().into_iter().collect();
        }
        for (n, v) in rows {
            out.push(super::subjects::version_json(
                &crate::registry::VersionView {
                    subject: subject.clone(),
                    version: *n,
                    v: v.clone(),
                },
            ));
        }
    }
    json(&out)
}
