//! `/config`, `/mode` and `/compatibility`: compatibility levels and
//! modes, global and per subject, and compatibility checks.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json as j;

use super::{body, flag, json, AppState, Query};
use crate::compat::{Level, Mode};
use crate::error::{RegistryError, Result};
use crate::registry::{validate_subject, SchemaRequest, VersionSel};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigBody {
    compatibility: Option<String>,
    compatibility_level: Option<String>,
}

#[derive(Deserialize)]
struct ModeBody {
    mode: Option<String>,
}

async fn level_from(st: &AppState, b: Body) -> Result<Level> {
    let c: ConfigBody = body(b, st.reg.limits.max_body_bytes).await?;
    let name = c
        .compatibility
        .or(c.compatibility_level)
        .unwrap_or_default();
    Level::parse(&name).ok_or_else(|| RegistryError::invalid_compatibility(&name))
}

async fn mode_from(st: &AppState, b: Body) -> Result<Mode> {
    let m: ModeBody = body(b, st.reg.limits.max_body_bytes).await?;
    let name = m.mode.unwrap_or_default();
    Mode::parse(&name).ok_or_else(|| RegistryError::invalid_mode(&name))
}

pub async fn get_global(State(st): State<AppState>) -> Response {
    json(&j!({"compatibilityLevel": st.reg.read().level(None).name()}))
}

pub async fn put_global(State(st): State<AppState>, b: Body) -> Result<Response> {
    let level = level_from(&st, b).await?;
    st.reg.set_level(None, Some(level)).await?;
    Ok(json(&j!({"compatibility": level.name()})))
}

pub async fn delete_global(State(st): State<AppState>) -> Result<Response> {
    let previous = st.reg.read().level(None);
    st.reg.set_level(None, None).await?;
    Ok(json(&j!({"compatibilityLevel": previous.name()})))
}

pub async fn get_subject(
    State(st): State<AppState>,
    Path(subject): Path<String>,
    q: Query,
) -> Result<Response> {
    let s = st.reg.read();
    match s.levels.get(&subject) {
        Some(l) => Ok(json(&j!({"compatibilityLevel": l.name()}))),
        None if flag(&q, "defaultToGlobal") => {
            Ok(json(&j!({"compatibilityLevel": s.level(None).name()})))
        }
        None => Err(RegistryError::subject_config_not_found(&subject)),
    }
}

pub async fn put_subject(
    State(st): State<AppState>,
    Path(subject): Path<String>,
    b: Body,
) -> Result<Response> {
    validate_subject(&subject)?;
    let level = level_from(&st, b).await?;
    st.reg.set_level(Some(&subject), Some(level)).await?;
    Ok(json(&j!({"compatibility": level.name()})))
}

pub async fn delete_subject(
    State(st): State<AppState>,
    Path(subject): Path<String>,
) -> Result<Response> {
    let previous = {
        let s = st.reg.read();
        match s.levels.get(&subject) {
            Some(l) => *l,
            None if s.subjects.contains_key(&subject) => s.level(None),
            None => return Err(RegistryError::subject_not_found(&subject)),
        }
    };
    st.reg.set_level(Some(&subject), None).await?;
    Ok(json(&j!({"compatibilityLevel": previous.name()})))
}

pub async fn get_mode_global(State(st): State<AppState>) -> Response {
    json(&j!({"mode": st.reg.read().mode(None).name()}))
}

pub async fn put_mode_global(State(st): State<AppState>, q: Query, b: Body) -> Result<Response> {
    let mode = mode_from(&st, b).await?;
    st.reg.set_mode(None, Some(mode), flag(&q, "force")).await?;
    Ok(json(&j!({"mode": mode.name()})))
}

pub async fn delete_mode_global(State(st): State<AppState>) -> Result<Response> {
    let previous = st.reg.read().mode(None);
    st.reg.set_mode(None, None, true).await?;
    Ok(json(&j!({"mode": previous.name()})))
}

pub async fn get_mode_subject(
    State(st): State<AppState>,
    Path(subject): Path<String>,
    q: Query,
) -> Result<Response> {
    let s = st.reg.read();
    match s.modes.get(&subject) {
        Some(m) => Ok(json(&j!({"mode": m.name()}))),
        None if flag(&q, "defaultToGlobal") => Ok(json(&j!({"mode": s.mode(None).name()}))),
        None => Err(RegistryError::subject_mode_not_found(&subject)),
    }
}

pub async fn put_mode_subject(
    State(st): State<AppState>,
    Path(subject): Path<String>,
    q: Query,
    b: Body,
) -> Result<Response> {
    validate_subject(&subject)?;
    let mode = mode_from(&st, b).await?;
    st.reg
        .set_mode(Some(&subject), Some(mode), flag(&q, "force"))
        .await?;
    Ok(json(&j!({"mode": mode.name()})))
}

pub async fn delete_mode_subject(
    State(st): State<AppState>,
    Path(subject): Path<String>,
) -> Result<Response> {
    let previous = {
        let s = st.reg.read();
        match s.modes.get(&subject) {
            Some(m) => *m,
            None if s.subjects.contains_key(&subject) => s.mode(None),
            None => return Err(RegistryError::subject_not_found(&subject)),
        }
    };
    st.reg.set_mode(Some(&subject), None, true).await?;
    Ok(json(&j!({"mode": previous.name()})))
}

fn verdict(messages: Vec<String>, verbose: bool) -> Response {
    if verbose {
        json(&j!({"is_compatible": messages.is_empty(), "messages": messages}))
    } else {
        json(&j!({"is_compatible": messages.is_empty()}))
    }
}

pub async fn check_version(
    State(st): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
    q: Query,
    b: Body,
) -> Result<Response> {
    let sel = VersionSel::parse(&version)?;
    let req: SchemaRequest = body(b, st.reg.limits.max_body_bytes).await?;
    let messages = st
        .reg
        .check_compatibility(&subject, Some(sel), &req, flag(&q, "normalize"))?;
    Ok(verdict(messages, flag(&q, "verbose")))
}

pub async fn check_all(
    State(st): State<AppState>,
    Path(subject): Path<String>,
    q: Query,
    b: Body,
) -> Result<Response> {
    let req: SchemaRequest = body(b, st.reg.limits.max_body_bytes).await?;
    let messages = st
        .reg
        .check_compatibility(&subject, None, &req, flag(&q, "normalize"))?;
    Ok(verdict(messages, flag(&q, "verbose")))
}
