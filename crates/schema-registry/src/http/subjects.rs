//! `/subjects/...`: list, register, look up, read and delete versions.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{json as j, Map, Value};

use super::{body, flag, json, raw, AppState, Query};
use crate::error::Result;
use crate::registry::{SchemaRequest, VersionSel, VersionView};

/// A version as Confluent renders it (`schemaType` and `references` only
/// when they say something).
pub fn version_json(v: &VersionView) -> Value {
    let mut m = Map::new();
    m.insert("subject".into(), j!(v.subject));
    m.insert("version".into(), j!(v.version));
    m.insert("id".into(), j!(v.v.id));
    if !v.v.schema_type.is_avro() {
        m.insert("schemaType".into(), j!(v.v.schema_type.name()));
    }
    if !v.v.references.is_empty() {
        m.insert("references".into(), j!(v.v.references));
    }
    m.insert("schema".into(), j!(v.v.schema));
    if v.v.deleted {
        m.insert("deleted".into(), j!(true));
    }
    Value::Object(m)
}

pub async fn list(State(st): State<AppState>, q: Query) -> Response {
    let prefix = q.get("subjectPrefix").cloned().unwrap_or_default();
    let deleted = flag(&q, "deleted") || flag(&q, "deletedOnly");
    let only_deleted = flag(&q, "deletedOnly");
    let s = st.reg.read();
    let live: std::collections::BTreeSet<String> = s.subject_names(false).into_iter().collect();
    let names: Vec<String> = s
        .subject_names(deleted)
        .into_iter()
        .filter(|n| n.starts_with(&prefix) && (!only_deleted || !live.contains(n)))
        .collect();
    json(&names)
}

pub async fn versions(
    State(st): State<AppState>,
    Path(subject): Path<String>,
    q: Query,
) -> Result<Response> {
    let deleted = flag(&q, "deleted");
    let s = st.reg.read();
    let vs = s
        .subjects
        .get(&subject)
        .ok_or_else(|| crate::error::RegistryError::subject_not_found(&subject))?;
    let nums: Vec<i32> = vs
        .iter()
        .filter(|(_, v)| deleted || !v.deleted)
        .map(|(n, _)| *n)
        .collect();
    if nums.is_empty() {
        return Err(crate::error::RegistryError::subject_not_found(&subject));
    }
    Ok(json(&nums))
}

pub async fn register(
    State(st): State<AppState>,
    Path(subject): Path<String>,
    q: Query,
    b: Body,
) -> Result<Response> {
    let req: SchemaRequest = body(b, st.reg.limits.max_body_bytes).await?;
    let id = st
        .reg
        .register(&subject, &req, flag(&q, "normalize"))
        .await?;
    Ok(json(&j!({"id": id})))
}

pub async fn lookup(
    State(st): State<AppState>,
    Path(subject): Path<String>,
    q: Query,
    b: Body,
) -> Result<Response> {
    let req: SchemaRequest = body(b, st.reg.limits.max_body_bytes).await?;
    let v = st
        .reg
        .lookup(&subject, &req, flag(&q, "normalize"), flag(&q, "deleted"))?;
    Ok(json(&version_json(&v)))
}

pub async fn get_version(
    State(st): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
    q: Query,
) -> Result<Response> {
    let sel = VersionSel::parse(&version)?;
    let v = st.reg.version(&subject, sel, flag(&q, "deleted"))?;
    let mut out = version_json(&v);
    if q.get("format").is_some_and(|f| f == "serialized") {
        if let Ok(p) = st.reg.parse_id(v.v.id) {
            if let crate::schema::Parsed::Protobuf(doc) = &p.parsed {
                out["schema"] = j!(doc.serialized());
            }
        }
    }
    Ok(json(&out))
}

pub async fn get_version_schema(
    State(st): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
    q: Query,
) -> Result<Response> {
    let sel = VersionSel::parse(&version)?;
    let v = st.reg.version(&subject, sel, flag(&q, "deleted"))?;
    Ok(raw(v.v.schema))
}

pub async fn referenced_by(
    State(st): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
) -> Result<Response> {
    let sel = VersionSel::parse(&version)?;
    let v = st.reg.version(&subject, sel, true)?;
    Ok(json(&st.reg.read().referenced_by(&subject, v.version)))
}

pub async fn delete_version(
    State(st): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
    q: Query,
) -> Result<Response> {
    let sel = VersionSel::parse(&version)?;
    let n = st
        .reg
        .delete_version(&subject, sel, flag(&q, "permanent"))
        .await?;
    Ok(json(&n))
}

pub async fn delete_subject(
    State(st): State<AppState>,
    Path(subject): Path<String>,
    q: Query,
) -> Result<Response> {
    let versions = st
        .reg
        .delete_subject(&subject, flag(&q, "permanent"))
        .await?;
    Ok(json(&versions))
}
