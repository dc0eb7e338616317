//! Schema types (AVRO, JSON, PROTOBUF): parsing and validation of a
//! schema document with its references resolved, the text fjord stores,
//! the identity used to give equal schemas one id, and the per-type
//! reader/writer compatibility check.

pub mod avro;
pub mod json;
pub mod json_compat;
pub mod protobuf;
pub mod protobuf_compat;

use serde::{Deserialize, Serialize};

/// A schema type, as named in `schemaType` (absent means AVRO).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, PartialOrd, Ord,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaType {
    #[default]
    Avro,
    Json,
    Protobuf,
}

impl SchemaType {
    pub const ALL: [SchemaType; 3] = [SchemaType::Json, SchemaType::Protobuf, SchemaType::Avro];

    pub fn is_avro(&self) -> bool {
        *self == SchemaType::Avro
    }
    pub fn name(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Json => "JSON",
            SchemaType::Protobuf => "PROTOBUF",
        }
    }
    /// Parses `schemaType` as clients send it (case-insensitive).
    pub fn parse(s: &str) -> Option<SchemaType> {
        match s.to_ascii_uppercase().as_str() {
            "AVRO" => Some(SchemaType::Avro),
            "JSON" => Some(SchemaType::Json),
            "PROTOBUF" => Some(SchemaType::Protobuf),
            _ => None,
        }
    }
}

/// A reference from a schema to a schema registered under another subject:
/// `name` is how the referring schema names it (an Avro full name, a JSON
/// Schema `$ref` URL, a `.proto` import path).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct Reference {
    pub name: String,
    pub subject: String,
    pub version: i32,
}

/// A referenced schema, resolved: its name in the referring schema and its
/// text. Given to the parsers dependencies first.
#[derive(Debug, Clone)]
pub struct ResolvedRef {
    pub name: String,
    pub schema_type: SchemaType,
    pub schema: String,
}

/// A parsed, valid schema.
pub struct ParsedSchema {
    pub schema_type: SchemaType,
    /// The text stored and served: the submitted text, compacted (JSON
    /// whitespace removed) and, with `normalize`, normalized.
    pub text: String,
    /// Equal identities get one id: semantic equality modulo formatting
    /// (JSON key order and whitespace).
    pub identity: String,
    pub parsed: Parsed,
}

pub enum Parsed {
    Avro(Box<avro::AvroDoc>),
    Json(json::JsonDoc),
    Protobuf(Box<protobuf::ProtoDoc>),
}

/// Parses and validates `text` of type `schema_type` with its references
/// (dependencies first). The error is a message for a 42201 answer.
pub fn parse(
    schema_type: SchemaType,
    text: &str,
    refs: &[ResolvedRef],
    normalize: bool,
) -> Result<ParsedSchema, String> {
    match schema_type {
        SchemaType::Avro => avro::parse(text, refs, normalize),
        SchemaType::Json => json::parse(text, refs, normalize),
        SchemaType::Protobuf => protobuf::parse(text, refs, normalize),
    }
}

/// Whether data written with `writer` can be read with `reader`; the
/// reasons it cannot (empty: compatible). Different types never are.
pub fn can_read(reader: &ParsedSchema, writer: &ParsedSchema) -> Vec<String> {
    match (&reader.parsed, &writer.parsed) {
        (Parsed::Avro(r), Parsed::Avro(w)) => avro::can_read(r, w),
        (Parsed::Json(r), Parsed::Json(w)) => json_compat::can_read(r, w),
        (Parsed::Protobuf(r), Parsed::Protobuf(w)) => protobuf_compat::can_read(r, w),
        _ => vec![format!(
            "schema type changed from {} to {}",
            writer.schema_type.name(),
            reader.schema_type.name()
        )],
    }
}

/// JSON text without insignificant whitespace, keys in their given order.
pub fn compact_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_json_keeps_strings() {
        assert_eq!(
            compact_json("{ \"a b\" : [1, 2],\n \"c\": \"x \\\" y\" }"),
            "{\"a b\":[1,2],\"c\":\"x \\\" y\"}"
        );
    }
}
