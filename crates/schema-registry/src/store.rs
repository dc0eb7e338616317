//! The registry's state: an in-memory view of `_schemas`, rebuilt by
//! replaying the topic at start and updated by applying each record in log
//! order (the writer applies its own records right after appending them).
//!
//! Invariants: an id names one schema text forever; the next id is the
//! highest id ever seen plus one (hard-deleted ids are not reused, see the
//! ID_WATERMARK record); a subject's versions only grow.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::compat::{Level, Mode};
use crate::log::LogRecord;
use crate::records::{
    ConfigValue, DeleteSubjectValue, IdWatermarkValue, Key, ModeValue, SchemaValue,
};
use crate::schema::{Reference, SchemaType};

/// One version of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub id: i64,
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<Reference>,
    pub deleted: bool,
}

/// The content an id stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdSchema {
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<Reference>,
}

/// What gives two registrations one id: type, identity, references.
pub type ContentKey = (SchemaType, String, Vec<Reference>);

#[derive(Debug, Default)]
pub struct State {
    pub subjects: BTreeMap<String, BTreeMap<i32, Version>>,
    pub ids: HashMap<i64, IdSchema>,
    /// Identity of each id's content (see `schema::ParsedSchema::identity`),
    /// filled by the writer; replay recomputes it lazily.
    pub by_content: HashMap<ContentKey, i64>,
    pub max_id: i64,
    pub global_level: Option<Level>,
    pub levels: BTreeMap<String, Level>,
    pub global_mode: Option<Mode>,
    pub modes: BTreeMap<String, Mode>,
    /// Ids whose content is in `by_content`.
    pub indexed: std::collections::HashSet<i64>,
    /// Records applied (the offset to read next).
    pub next_offset: i64,
}

impl State {
    /// Applies one `_schemas` record. Unknown or malformed records are
    /// skipped (logged), as Confluent's registry skips what it cannot read.
    pub fn apply(&mut self, rec: &LogRecord) {
        self.next_offset = self.next_offset.max(rec.offset + 1);
        let key: Key = match serde_json::from_slice(&rec.key) {
            Ok(k) => k,
            Err(e) => {
                tracing::debug!(offset = rec.offset, error = %e, "skipping a _schemas record with an unknown key");
                return;
            }
        };
        let value = rec.value.as_deref();
        match key {
            Key::Schema {
                subject, version, ..
            } => match value {
                Some(v) => match serde_json::from_slice::<SchemaValue>(v) {
                    Ok(v) => self.put_schema(v),
                    Err(e) => {
                        tracing::warn!(offset = rec.offset, error = %e, "skipping a malformed SCHEMA record")
                    }
                },
                None => self.remove_version(&subject, version),
            },
            Key::Config { subject, .. } => {
                let level = value
                    .and_then(|v| serde_json::from_slice::<ConfigValue>(v).ok())
                    .and_then(|c| Level::parse(&c.compatibility_level));
                match subject {
                    None => self.global_level = level,
                    Some(s) => match level {
                        Some(l) => {
                            self.levels.insert(s, l);
                        }
                        None => {
                            self.levels.remove(&s);
                        }
                    },
                }
            }
            Key::Mode { subject, .. } => {
                let mode = value
                    .and_then(|v| serde_json::from_slice::<ModeValue>(v).ok())
                    .and_then(|m| Mode::parse(&m.mode));
                match subject {
                    None => self.global_mode = mode,
                    Some(s) => match mode {
                        Some(m) => {
                            self.modes.insert(s, m);
                        }
                        None => {
                            self.modes.remove(&s);
                        }
                    },
                }
            }
            Key::DeleteSubject { subject, .. } => {
                let upto = value
                    .and_then(|v| serde_json::from_slice::<DeleteSubjectValue>(v).ok())
                    .map_or(i32::MAX, |d| d.version);
                if let Some(vs) = self.subjects.get_mut(&subject) {
                    for (_, v) in vs.range_mut(..=upto) {
                        v.deleted = true;
                    }
                }
            }
            Key::IdWatermark { .. } => {
                if let Some(w) =
                    value.and_then(|v| serde_json::from_slice::<IdWatermarkValue>(v).ok())
                {
                    self.max_id = self.max_id.max(w.max_id);
                }
            }
            Key::Noop { .. } => {}
        }
    }

    fn put_schema(&mut self, v: SchemaValue) {
        self.max_id = self.max_id.max(v.id);
        self.ids.entry(v.id).or_insert_with(|| IdSchema {
            schema_type: v.schema_type,
            schema: v.schema.clone(),
            references: v.references.clone(),
        });
        self.subjects.entry(v.subject).or_default().insert(
            v.version,
            Version {
                id: v.id,
                schema_type: v.schema_type,
                schema: v.schema,
                references: v.references,
                deleted: v.deleted,
            },
        );
    }

    fn remove_version(&mut self, subject: &str, version: i32) {
        let Some(vs) = self.subjects.get_mut(subject) else {
            return;
        };
        let Some(removed) = vs.remove(&version) else {
            return;
        };
        if vs.is_empty() {
            self.subjects.remove(subject);
        }
        // The id stays served while another version still uses it.
        if self.locations(removed.id, true).is_empty() {
            self.ids.remove(&removed.id);
            self.by_content.retain(|_, id| *id != removed.id);
            self.indexed.remove(&removed.id);
        }
    }

    /// (subject, version) pairs registered with `id`.
    pub fn locations(&self, id: i64, include_deleted: bool) -> Vec<(String, i32)> {
        let mut out = Vec::new();
        for (s, vs) in &self.subjects {
            for (v, ver) in vs {
                if ver.id == id && (include_deleted || !ver.deleted) {
                    out.push((s.clone(), *v));
                }
            }
        }
        out
    }

    /// Subjects with a live version (or any version, with `deleted`).
    pub fn subject_names(&self, include_deleted: bool) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(_, vs)| include_deleted || vs.values().any(|v| !v.deleted))
            .map(|(s, _)| s.clone())
            .collect()
    }

    pub fn live_versions(&self, subject: &str) -> Vec<(i32, &Version)> {
        self.subjects
            .get(subject)
            .map(|vs| {
                vs.iter()
                    .filter(|(_, v)| !v.deleted)
                    .map(|(n, v)| (*n, v))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ids of live versions that reference `subject` at `version`.
    pub fn referenced_by(&self, subject: &str, version: i32) -> Vec<i64> {
        let mut ids = BTreeSet::new();
        for vs in self.subjects.values() {
            for v in vs.values() {
                if !v.deleted
                    && v.references
                        .iter()
                        .any(|r| r.subject == subject && r.version == version)
                {
                    ids.insert(v.id);
                }
            }
        }
        ids.into_iter().collect()
    }

    pub fn level(&self, subject: Option<&str>) -> Level {
        subject
            .and_then(|s| self.levels.get(s).copied())
            .or(self.global_level)
            .unwrap_or(Level::DEFAULT)
    }

    pub fn mode(&self, subject: Option<&str>) -> Mode {
        subject
            .and_then(|s| self.modes.get(s).copied())
            .or(self.global_mode)
            .unwrap_or(Mode::ReadWrite)
    }

    /// Live schema versions, subjects with a live version.
    pub fn counts(&self) -> (usize, usize) {
        let subjects = self.subject_names(false).len();
        let versions = self
            .subjects
            .values()
            .map(|vs| vs.values().filter(|v| !v.deleted).count())
            .sum();
        (versions, subjects)
    }
}
