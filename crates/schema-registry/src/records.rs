//! The `_schemas` record formats, in the JSON shapes Confluent's registry
//! writes, so the topic reads the same to tools that know it:
//!
//! | key (`keytype`) | value |
//! |---|---|
//! | `{"keytype":"SCHEMA","subject":s,"version":v,"magic":1}` | `{"subject","version","id","schemaType"?,"references"?,"schema","deleted"}`; a tombstone is a permanent delete |
//! | `{"keytype":"CONFIG","subject":s or null,"magic":0}` | `{"compatibilityLevel":"BACKWARD"}`; a tombstone clears it |
//! | `{"keytype":"MODE","subject":s or null,"magic":0}` | `{"mode":"READONLY"}`; a tombstone clears it |
//! | `{"keytype":"DELETE_SUBJECT","subject":s,"magic":0}` | `{"subject":s,"version":v}`: versions up to v soft-deleted |
//! | `{"keytype":"NOOP","magic":0}` | ignored |
//!
//! One fjord addition: `{"keytype":"ID_WATERMARK","magic":0}` with
//! `{"maxId":n}`, written when a permanent delete removes the highest id,
//! so that id is never handed out again even after compaction removed its
//! records. Unknown key types are skipped on replay.

use serde::{Deserialize, Serialize};

use crate::schema::{Reference, SchemaType};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "keytype", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Key {
    Schema {
        subject: String,
        version: i32,
        #[serde(default)]
        magic: i32,
    },
    Config {
        #[serde(default)]
        subject: Option<String>,
        #[serde(default)]
        magic: i32,
    },
    Mode {
        #[serde(default)]
        subject: Option<String>,
        #[serde(default)]
        magic: i32,
    },
    DeleteSubject {
        subject: String,
        #[serde(default)]
        magic: i32,
    },
    Noop {
        #[serde(default)]
        magic: i32,
    },
    IdWatermark {
        #[serde(default)]
        magic: i32,
    },
}

impl Key {
    pub fn schema(subject: &str, version: i32) -> Key {
        Key::Schema {
            subject: subject.to_string(),
            version,
            magic: 1,
        }
    }
    pub fn config(subject: Option<&str>) -> Key {
        Key::Config {
            subject: subject.map(str::to_string),
            magic: 0,
        }
    }
    pub fn mode(subject: Option<&str>) -> Key {
        Key::Mode {
            subject: subject.map(str::to_string),
            magic: 0,
        }
    }
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaValue {
    pub subject: String,
    pub version: i32,
    pub id: i64,
    #[serde(
        rename = "schemaType",
        default,
        skip_serializing_if = "SchemaType::is_avro"
    )]
    pub schema_type: SchemaType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    pub schema: String,
    #[serde(default)]
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigValue {
    #[serde(rename = "compatibilityLevel")]
    pub compatibility_level: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeValue {
    pub mode: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteSubjectValue {
    pub subject: String,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdWatermarkValue {
    #[serde(rename = "maxId")]
    pub max_id: i64,
}

/// A record to append: key and optional value (None: tombstone).
pub fn record<V: Serialize>(key: &Key, value: Option<&V>) -> (Vec<u8>, Option<Vec<u8>>) {
    (
        key.encode(),
        value.map(|v| serde_json::to_vec(v).unwrap_or_default()),
    )
}
