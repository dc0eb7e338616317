//! JSON Schema (drafts 4, 6, 7, 2019-09, 2020-12): the document is checked
//! against its draft's meta-schema with the `jsonschema` crate (the draft
//! comes from `$schema`, draft 7 when absent as Confluent assumes), and
//! each referenced schema likewise. `$ref`s are resolved by fjord's
//! compatibility checker: local pointers (`#/definitions/x`) and
//! references by name (`other.json`, `other.json#/definitions/x`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{compact_json, Parsed, ParsedSchema, ResolvedRef, SchemaType};

/// A parsed JSON Schema with the documents it references by name.
#[derive(Debug, Clone)]
pub struct JsonDoc {
    pub root: Value,
    pub refs: BTreeMap<String, Value>,
}

const DRAFTS: &[&str] = &[
    "http://json-schema.org/draft-04/schema",
    "http://json-schema.org/draft-06/schema",
    "http://json-schema.org/draft-07/schema",
    "https://json-schema.org/draft/2019-09/schema",
    "https://json-schema.org/draft/2020-12/schema",
];

fn validate(value: &Value) -> Result<(), String> {
    match value {
        Value::Bool(_) => return Ok(()),
        Value::Object(m) => {
            if let Some(s) = m.get("$schema") {
                let s = s.as_str().unwrap_or_default();
                let known = DRAFTS.iter().any(|d| {
                    s.trim_end_matches('#') == *d
                        || s.trim_end_matches('#') == d.replace("https", "http")
                });
                if !known {
                    return Err(format!("Invalid schema: unsupported $schema {s:?} (drafts 4, 6, 7, 2019-09 and 2020-12 are)"));
                }
            }
        }
        _ => return Err("Invalid schema: a JSON Schema is an object or a boolean".into()),
    }
    let checked = if value.get("$schema").is_none() {
        // Confluent assumes draft 7 when `$schema` is absent.
        let mut v = value.clone();
        if let Some(m) = v.as_object_mut() {
            m.insert("$schema".into(), Value::String(DRAFTS[2].to_string() + "#"));
        }
        v
    } else {
        value.clone()
    };
    jsonschema::meta::validate(&checked)
        .map_err(|e| format!("Invalid schema: {e} at {}", e.instance_path()))
}

pub fn parse(text: &str, refs: &[ResolvedRef], normalize: bool) -> Result<ParsedSchema, String> {
    let root: Value =
        serde_json::from_str(text).map_err(|e| format!("Invalid schema: not JSON: {e}"))?;
    validate(&root)?;
    let mut docs = BTreeMap::new();
    for r in refs {
        let v: Value = serde_json::from_str(&r.schema)
            .map_err(|e| format!("Invalid schema: reference {} is not JSON: {e}", r.name))?;
        validate(&v).map_err(|e| format!("reference {}: {e}", r.name))?;
        docs.insert(r.name.clone(), v);
    }
    let identity = root.to_string();
    let text = if normalize {
        identity.clone()
    } else {
        compact_json(text)
    };
    Ok(ParsedSchema {
        schema_type: SchemaType::Json,
        text,
        identity,
        parsed: Parsed::Json(JsonDoc { root, refs: docs }),
    })
}
