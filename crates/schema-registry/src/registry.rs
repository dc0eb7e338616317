//! The registry's operations: every read answers from the in-memory
//! [`State`]; every write runs under one writer lock, catches up with the
//! log, validates, appends its records to the log (durable before the call
//! returns) and applies them by reading them back, so the writer and a
//! replay at start go through the same `State::apply`.

use std::sync::{Arc, RwLock, RwLockReadGuard};

use serde::Deserialize;

use crate::compat::{self, Level, Mode};
use crate::error::{RegistryError, Result};
use crate::log::SchemaLog;
use crate::records::{self, ConfigValue, IdWatermarkValue, Key, ModeValue, SchemaValue};
use crate::schema::{self, ParsedSchema, Reference, ResolvedRef, SchemaType};
use crate::store::{State, Version};

/// Limits on what a client may submit.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted (a schema is inside one).
    pub max_body_bytes: usize,
    /// Most references followed transitively for one schema.
    pub max_references: usize,
    /// Deepest chain of references.
    pub max_reference_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 2 * 1024 * 1024,
            max_references: 256,
            max_reference_depth: 32,
        }
    }
}

/// The body of POST /subjects/{s}/versions, POST /subjects/{s} and the
/// compatibility checks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaRequest {
    pub schema: Option<String>,
    pub schema_type: Option<String>,
    #[serde(default)]
    pub references: Option<Vec<Reference>>,
    /// IMPORT mode only.
    pub id: Option<i64>,
    /// IMPORT mode only.
    pub version: Option<i32>,
}

/// A version as the API returns it.
#[derive(Debug, Clone)]
pub struct VersionView {
    pub subject: String,
    pub version: i32,
    pub v: Version,
}

/// Which version a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSel {
    Latest,
    Number(i32),
}

impl VersionSel {
    pub fn parse(s: &str) -> Result<VersionSel> {
        if s.eq_ignore_ascii_case("latest") || s == "-1" {
            return Ok(VersionSel::Latest);
        }
        match s.parse::<i32>() {
            Ok(n) if n >= 1 => Ok(VersionSel::Number(n)),
            _ => Err(RegistryError::invalid_version(s)),
        }
    }
}

pub struct Registry {
    log: Arc<dyn SchemaLog>,
    state: RwLock<State>,
    writer: tokio::sync::Mutex<()>,
    pub limits: Limits,
    pub metrics: crate::metrics::Metrics,
}

type Records = Vec<(Vec<u8>, Option<Vec<u8>>)>;

impl Registry {
    /// Opens the registry on `log`, replaying it.
    pub async fn open(log: Arc<dyn SchemaLog>, limits: Limits) -> Result<Arc<Registry>> {
        let reg = Arc::new(Registry {
            log,
            state: RwLock::new(State::default()),
            writer: tokio::sync::Mutex::new(()),
            limits,
            metrics: crate::metrics::Metrics::default(),
        });
        reg.catch_up().await?;
        let (versions, subjects) = reg.read().counts();
        tracing::info!(
            versions,
            subjects,
            max_id = reg.read().max_id,
            "schema registry loaded _schemas"
        );
        Ok(reg)
    }

    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panic while applying cannot leave half a record applied that
        // matters more than serving: recover the guard.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies every record appended to the log since the last call.
    pub async fn catch_up(&self) -> Result<()> {
        // Bounded: each round moves the position forward or stops.
        loop {
            let from = self.read().next_offset;
            let log = self.log.clone();
            let (recs, next) = tokio::task::spawn_blocking(move || log.read(from, 1 << 20))
                .await
                .map_err(|e| RegistryError::store(e.to_string()))?
                .map_err(|e| RegistryError::store(e.to_string()))?;
            // Batches with nothing to apply (control records, keyless
            // records written by others) still move the position.
            if recs.is_empty() && next <= from {
                return Ok(());
            }
            let mut st = self.state.write().unwrap_or_else(|e| e.into_inner());
            for r in &recs {
                st.apply(r);
            }
            st.next_offset = st.next_offset.max(next);
        }
    }

    async fn append(&self, records: Records) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let log = self.log.clone();
        tokio::task::spawn_blocking(move || log.append(&records))
            .await
            .map_err(|e| RegistryError::store(e.to_string()))?
            .map_err(|e| RegistryError::store(format!("Error while registering schema: {e}")))?;
        self.catch_up().await
    }

    fn check_writable(&self, subject: Option<&str>) -> Result<Mode> {
        let mode = self.read().mode(subject);
        if mode == Mode::ReadOnly {
            let what = subject.map_or("the registry".to_string(), |s| format!("Subject {s}"));
            return Err(RegistryError::not_permitted(format!(
                "{what} is in read-only mode"
            )));
        }
        Ok(mode)
    }

    // ---- parsing -------------------------------------------------------

    /// Resolves references transitively, dependencies first.
    pub fn resolve_refs(&self, refs: &[Reference]) -> Result<Vec<ResolvedRef>> {
        let st = self.read();
        let mut out: Vec<ResolvedRef> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        // Depth-first, post-order; an explicit stack bounds the depth.
        fn visit(
            st: &State,
            r: &Reference,
            depth: usize,
            limits: &Limits,
            seen: &mut std::collections::HashSet<(String, i32)>,
            out: &mut Vec<ResolvedRef>,
        ) -> Result<()> {
            if depth > limits.max_reference_depth {
                return Err(RegistryError::invalid_schema(format!(
                    "Invalid schema: references nested deeper than {}",
                    limits.max_reference_depth
                )));
            }
            let vs = st.subjects.get(&r.subject).ok_or_else(|| {
                RegistryError::invalid_schema(format!(
                    "Invalid schema: reference {:?} names subject {:?}, which does not exist",
                    r.name, r.subject
                ))
            })?;
            let (num, v) = if r.version == -1 {
                vs.iter().rev().find(|(_, v)| !v.deleted)
            } else {
                vs.get_key_value(&r.version)
            }
            .ok_or_else(|| {
                RegistryError::invalid_schema(format!(
                    "Invalid schema: reference {:?} names version {} of subject {:?}, which does not exist",
                    r.name, r.version, r.subject
                ))
            })?;
            if !seen.insert((r.subject.clone(), *num)) {
                return Ok(());
            }
            if seen.len() > limits.max_references {
                return Err(RegistryError::invalid_schema(format!(
                    "Invalid schema: more than {} references",
                    limits.max_references
                )));
            }
            for inner in &v.references {
                visit(st, inner, depth + 1, limits, seen, out)?;
            }
            out.push(ResolvedRef {
                name: r.name.clone(),
                schema_type: v.schema_type,
                schema: v.schema.clone(),
            });
            Ok(())
        }
        for r in refs {
            visit(&st, r, 1, &self.limits, &mut seen, &mut out)?;
        }
        Ok(out)
    }

    /// Parses a request's schema with its references.
    pub fn parse_request(
        &self,
        req: &SchemaRequest,
        normalize: bool,
    ) -> Result<(ParsedSchema, Vec<Reference>)> {
        let text = req.schema.as_deref().ok_or_else(|| {
            RegistryError::invalid_schema("Invalid schema: the request has no \"schema\"")
        })?;
        let schema_type = match req.schema_type.as_deref() {
            None | Some("") => SchemaType::Avro,
            Some(t) => SchemaType::parse(t).ok_or_else(|| {
                RegistryError::invalid_schema(format!(
                    "Invalid schema type {t:?}: supported types are AVRO, JSON and PROTOBUF"
                ))
            })?,
        };
        let refs = req.references.clone().unwrap_or_default();
        let resolved = self.resolve_refs(&refs)?;
        let parsed = schema::parse(schema_type, text, &resolved, normalize)
            .map_err(RegistryError::invalid_schema)?;
        Ok((parsed, refs))
    }

    /// Parses a stored version (for compatibility checks).
    fn parse_stored(&self, v: &Version) -> Result<ParsedSchema> {
        let resolved = self.resolve_refs(&v.references)?;
        schema::parse(v.schema_type, &v.schema, &resolved, false).map_err(|e| {
            RegistryError::store(format!(
                "a stored schema (id {}) no longer parses: {e}",
                v.id
            ))
        })
    }

    /// Indexes the content of ids not yet indexed (after a replay).
    fn index_content(&self) {
        let todo: Vec<(i64, Version)> = {
            let st = self.read();
            st.ids
                .iter()
                .filter(|(id, _)| !st.indexed.contains(id))
                .map(|(id, s)| {
                    (
                        *id,
                        Version {
                            id: *id,
                            schema_type: s.schema_type,
                            schema: s.schema.clone(),
                            references: s.references.clone(),
                            deleted: false,
                        },
                    )
                })
                .collect()
        };
        for (id, v) in todo {
            let identity = self
                .parse_stored(&v)
                .map(|p| p.identity)
                .unwrap_or_else(|_| v.schema.clone());
            let mut st = self.state.write().unwrap_or_else(|e| e.into_inner());
            st.by_content
                .entry((v.schema_type, identity, v.references))
                .or_insert(id);
            st.indexed.insert(id);
        }
    }

    // ---- writes --------------------------------------------------------

    /// Registers a schema under `subject`; returns its id (the existing one
    /// when the subject already has this schema).
    pub async fn register(
        &self,
        subject: &str,
        req: &SchemaRequest,
        normalize: bool,
    ) -> Result<i64> {
        validate_subject(subject)?;
        let mode = self.check_writable(Some(subject))?;
        let explicit = req.id.is_some_and(|id| id >= 0) || req.version.is_some_and(|v| v >= 1);
        if explicit && mode != Mode::Import {
            return Err(RegistryError::not_permitted(format!(
                "Subject {subject} is not in import mode: an id or version cannot be given"
            )));
        }
        let (parsed, refs) = self.parse_request(req, normalize)?;
        let _w = self.writer.lock().await;
        self.catch_up().await?;
        self.index_content();
        let key = (parsed.schema_type, parsed.identity.clone(), refs.clone());
        let (existing_id, live, next_version, max_id) = {
            let st = self.read();
            let existing_id = st.by_content.get(&key).copied();
            let live: Vec<Version> = st
                .live_versions(subject)
                .into_iter()
                .map(|(_, v)| v.clone())
                .collect();
            let next_version = st
                .subjects
                .get(subject)
                .and_then(|vs| vs.keys().next_back().copied())
                .unwrap_or(0)
                + 1;
            (existing_id, live, next_version, st.max_id)
        };
        if let Some(id) = existing_id {
            if live.iter().any(|v| v.id == id) && req.id.is_none_or(|i| i == id) {
                return Ok(id);
            }
        }
        if mode != Mode::Import {
            let level = self.read().level(Some(subject));
            if level != Level::None && !live.is_empty() {
                let previous = live
                    .iter()
                    .map(|v| self.parse_stored(v))
                    .collect::<Result<Vec<_>>>()?;
                let errors = compat::check(level, &parsed, &previous);
                if !errors.is_empty() {
                    return Err(RegistryError::incompatible(format!(
                        "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]",
                        errors.join(", ")
                    )));
                }
            }
        }
        let id = match (req.id.filter(|i| *i >= 1), existing_id) {
            (Some(want), _) => {
                let st = self.read();
                if let Some(other) = st.ids.get(&want) {
                    if other.schema != parsed.text || other.schema_type != parsed.schema_type {
                        return Err(RegistryError::not_permitted(format!(
                            "Overwrite new schema with id {want} is not permitted."
                        )));
                    }
                }
                want
            }
            (None, Some(id)) => id,
            (None, None) => max_id + 1,
        };
        let version = match req.version.filter(|v| *v >= 1) {
            Some(v) => {
                if self
                    .read()
                    .subjects
                    .get(subject)
                    .is_some_and(|vs| vs.contains_key(&v))
                {
                    return Err(RegistryError::not_permitted(format!(
                        "Version {v} of subject {subject} already exists"
                    )));
                }
                v
            }
            None => next_version,
        };
        let value = SchemaValue {
            subject: subject.to_string(),
            version,
            id,
            schema_type: parsed.schema_type,
            references: refs,
            schema: parsed.text,
            deleted: false,
        };
        self.append(vec![records::record(
            &Key::schema(subject, version),
            Some(&value),
        )])
        .await?;
        let mut st = self.state.write().unwrap_or_else(|e| e.into_inner());
        st.by_content.entry(key).or_insert(id);
        st.indexed.insert(id);
        Ok(id)
    }

    /// Tombstones (and the id watermark) for permanently deleting versions.
    fn hard_delete_records(&self, subject: &str, versions: &[(i32, i64)]) -> Records {
        let st = self.read();
        let mut out: Records = versions
            .iter()
            .map(|(v, _)| records::record::<SchemaValue>(&Key::schema(subject, *v), None))
            .collect();
        let removes_max = versions.iter().any(|(_, id)| *id == st.max_id);
        if removes_max {
            out.push(records::record(
                &Key::IdWatermark { magic: 0 },
                Some(&IdWatermarkValue { max_id: st.max_id }),
            ));
        }
        out
    }

    pub async fn delete_version(
        &self,
        subject: &str,
        sel: VersionSel,
        permanent: bool,
    ) -> Result<i32> {
        self.check_writable(Some(subject))?;
        let _w = self.writer.lock().await;
        self.catch_up().await?;
        let (num, v) = {
            let st = self.read();
            let vs = st
                .subjects
                .get(subject)
                .ok_or_else(|| RegistryError::subject_not_found(subject))?;
            let found = match sel {
                VersionSel::Latest => vs.iter().rev().find(|(_, v)| !v.deleted || permanent),
                VersionSel::Number(n) => vs.get_key_value(&n),
            };
            let (num, v) = found.ok_or_else(|| match sel {
                VersionSel::Latest => RegistryError::version_not_found("latest"),
                VersionSel::Number(n) => RegistryError::version_not_found(n),
            })?;
            (*num, v.clone())
        };
        if !st_referenced(self, subject, num).is_empty() {
            return Err(RegistryError::reference_exists(format!(
                "One or more references exist to the schema {{subject={subject},version={num}}}"
            )));
        }
        let recs = if permanent {
            if !v.deleted {
                return Err(RegistryError::version_not_soft_deleted(subject, num));
            }
            self.hard_delete_records(subject, &[(num, v.id)])
        } else {
            if v.deleted {
                return Err(RegistryError::version_soft_deleted(subject, num));
            }
            let value = SchemaValue {
                subject: subject.to_string(),
                version: num,
                id: v.id,
                schema_type: v.schema_type,
                references: v.references,
                schema: v.schema,
                deleted: true,
            };
            vec![records::record(&Key::schema(subject, num), Some(&value))]
        };
        self.append(recs).await?;
        Ok(num)
    }

    pub async fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Vec<i32>> {
        self.check_writable(Some(subject))?;
        let _w = self.writer.lock().await;
        self.catch_up().await?;
        let all: Vec<(i32, Version)> = {
            let st = self.read();
            let vs = st
                .subjects
                .get(subject)
                .ok_or_else(|| RegistryError::subject_not_found(subject))?;
            vs.iter().map(|(n, v)| (*n, v.clone())).collect()
        };
        let live: Vec<&(i32, Version)> = all.iter().filter(|(_, v)| !v.deleted).collect();
        for (n, _) in &all {
            if !st_referenced(self, subject, *n).is_empty() {
                return Err(RegistryError::reference_exists(format!(
                    "One or more references exist to the schema {{subject={subject},version={n}}}"
                )));
            }
        }
        let mut recs: Records = Vec::new();
        let versions: Vec<i32>;
        if permanent {
            if !live.is_empty() {
                return Err(RegistryError::subject_not_soft_deleted(subject));
            }
            versions = all.iter().map(|(n, _)| *n).collect();
            let pairs: Vec<(i32, i64)> = all.iter().map(|(n, v)| (*n, v.id)).collect();
            recs.extend(self.hard_delete_records(subject, &pairs));
            let st = self.read();
            if st.levels.contains_key(subject) {
                recs.push(records::record::<ConfigValue>(
                    &Key::config(Some(subject)),
                    None,
                ));
            }
            if st.modes.contains_key(subject) {
                recs.push(records::record::<ModeValue>(
                    &Key::mode(Some(subject)),
                    None,
                ));
            }
        } else {
            if live.is_empty() {
                return Err(RegistryError::subject_soft_deleted(subject));
            }
            versions = live.iter().map(|(n, _)| *n).collect();
            for (n, v) in live {
                let value = SchemaValue {
                    subject: subject.to_string(),
                    version: *n,
                    id: v.id,
                    schema_type: v.schema_type,
                    references: v.references.clone(),
                    schema: v.schema.clone(),
                    deleted: true,
                };
                recs.push(records::record(&Key::schema(subject, *n), Some(&value)));
            }
        }
        self.append(recs).await?;
        Ok(versions)
    }

    /// Sets (`Some`) or clears (`None`) a compatibility level.
    pub async fn set_level(&self, subject: Option<&str>, level: Option<Level>) -> Result<()> {
        let _w = self.writer.lock().await;
        let value = level.map(|l| ConfigValue {
            compatibility_level: l.name().to_string(),
        });
        self.append(vec![records::record(&Key::config(subject), value.as_ref())])
            .await
    }

    /// Sets (`Some`) or clears (`None`) a mode. IMPORT needs an empty
    /// registry (or subject) unless `force`.
    pub async fn set_mode(
        &self,
        subject: Option<&str>,
        mode: Option<Mode>,
        force: bool,
    ) -> Result<()> {
        let _w = self.writer.lock().await;
        self.catch_up().await?;
        if mode == Some(Mode::Import) && !force {
            let st = self.read();
            let busy = match subject {
                None => !st.subjects.is_empty(),
                Some(s) => st.subjects.contains_key(s),
            };
            if busy {
                return Err(RegistryError::not_permitted(
                    "Cannot import since found existing subjects",
                ));
            }
        }
        let value = mode.map(|m| ModeValue {
            mode: m.name().to_string(),
        });
        self.append(vec![records::record(&Key::mode(subject), value.as_ref())])
            .await
    }

    // ---- reads -----------------------------------------------------------

    pub fn version(&self, subject: &str, sel: VersionSel, deleted: bool) -> Result<VersionView> {
        let st = self.read();
        let vs = st
            .subjects
            .get(subject)
            .ok_or_else(|| RegistryError::subject_not_found(subject))?;
        if !deleted && vs.values().all(|v| v.deleted) {
            return Err(RegistryError::subject_not_found(subject));
        }
        let found = match sel {
            VersionSel::Latest => vs.iter().rev().find(|(_, v)| deleted || !v.deleted),
            VersionSel::Number(n) => vs.get_key_value(&n).filter(|(_, v)| deleted || !v.deleted),
        };
        let (n, v) = found.ok_or_else(|| match sel {
            VersionSel::Latest => RegistryError::version_not_found("latest"),
            VersionSel::Number(n) => RegistryError::version_not_found(n),
        })?;
        Ok(VersionView {
            subject: subject.to_string(),
            version: *n,
            v: v.clone(),
        })
    }

    /// The version of `subject` holding this schema (POST /subjects/{s}).
    pub fn lookup(
        &self,
        subject: &str,
        req: &SchemaRequest,
        normalize: bool,
        deleted: bool,
    ) -> Result<VersionView> {
        {
            let st = self.read();
            match st.subjects.get(subject) {
                None => return Err(RegistryError::subject_not_found(subject)),
                Some(vs) if !deleted && vs.values().all(|v| v.deleted) => {
                    return Err(RegistryError::subject_not_found(subject))
                }
                _ => {}
            }
        }
        let (parsed, refs) = self.parse_request(req, normalize)?;
        self.index_content();
        let st = self.read();
        let id = st
            .by_content
            .get(&(parsed.schema_type, parsed.identity, refs));
        let vs = st
            .subjects
            .get(subject)
            .ok_or_else(|| RegistryError::subject_not_found(subject))?;
        let found = id.and_then(|id| {
            vs.iter()
                .rev()
                .find(|(_, v)| v.id == *id && (deleted || !v.deleted))
        });
        let (n, v) = found.ok_or_else(RegistryError::schema_not_found)?;
        Ok(VersionView {
            subject: subject.to_string(),
            version: *n,
            v: v.clone(),
        })
    }

    /// Checks a schema against one version (`Some`) or against what the
    /// subject's level looks at (`None`); the reasons it is incompatible.
    pub fn check_compatibility(
        &self,
        subject: &str,
        sel: Option<VersionSel>,
        req: &SchemaRequest,
        normalize: bool,
    ) -> Result<Vec<String>> {
        let (parsed, _) = self.parse_request(req, normalize)?;
        let level = self.read().level(Some(subject));
        let previous: Vec<Version> = match sel {
            Some(sel) => match self.version(subject, sel, false) {
                Ok(v) => vec![v.v],
                Err(e) if e.code == 40401 && sel == VersionSel::Latest => Vec::new(),
                Err(e) => return Err(e),
            },
            None => self
                .read()
                .live_versions(subject)
                .into_iter()
                .map(|(_, v)| v.clone())
                .collect(),
        };
        let parsed_prev = previous
            .iter()
            .map(|v| self.parse_stored(v))
            .collect::<Result<Vec<_>>>()?;
        Ok(compat::check(level, &parsed, &parsed_prev))
    }

    /// An id's schema parsed, for `?format=serialized` (protobuf).
    pub fn parse_id(&self, id: i64) -> Result<ParsedSchema> {
        let s = self
            .read()
            .ids
            .get(&id)
            .cloned()
            .ok_or_else(RegistryError::schema_not_found)?;
        self.parse_stored(&Version {
            id,
            schema_type: s.schema_type,
            schema: s.schema,
            references: s.references,
            deleted: false,
        })
    }
}

fn st_referenced(reg: &Registry, subject: &str, version: i32) -> Vec<i64> {
    reg.read().referenced_by(subject, version)
}

/// Subjects are non-empty, bounded, without control characters.
pub fn validate_subject(subject: &str) -> Result<()> {
    if subject.is_empty() || subject.len() > 1024 || subject.chars().any(char::is_control) {
        return Err(RegistryError::unprocessable(format!(
            "Invalid subject name {subject:?}"
        )));
    }
    Ok(())
}
