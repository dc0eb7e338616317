//! AVRO schemas through the `apache-avro` crate: parsing (with referenced
//! named types), and reader/writer resolution for compatibility
//! (`SchemaCompatibility::can_read`, the Avro specification's rules:
//! promotions int→long→float→double, string↔bytes, defaults for added
//! fields, enum symbols, unions).

use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::Schema;

use super::{compact_json, Parsed, ParsedSchema, ResolvedRef, SchemaType};

pub fn parse(text: &str, refs: &[ResolvedRef], normalize: bool) -> Result<ParsedSchema, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("Invalid schema: not JSON: {e}"))?;
    let ref_texts: Vec<&str> = refs.iter().map(|r| r.schema.as_str()).collect();
    let (schema, named) = if ref_texts.is_empty() {
        (
            Schema::parse_str(text).map_err(|e| format!("Invalid schema: {e}"))?,
            Vec::new(),
        )
    } else {
        Schema::parse_str_with_list(text, &ref_texts).map_err(|e| format!("Invalid schema: {e}"))?
    };
    // serde_json's map sorts keys: key order does not change identity.
    let identity = value.to_string();
    let text = if normalize {
        identity.clone()
    } else {
        compact_json(text)
    };
    Ok(ParsedSchema {
        schema_type: SchemaType::Avro,
        text,
        identity,
        parsed: Parsed::Avro(Box::new(AvroDoc { schema, named })),
    })
}

/// A parsed Avro schema and the named types its references define.
pub struct AvroDoc {
    pub schema: Schema,
    pub named: Vec<Schema>,
}

pub fn can_read(reader: &AvroDoc, writer: &AvroDoc) -> Vec<String> {
    match SchemaCompatibility::can_read(&writer.schema, &reader.schema) {
        Ok(()) => Vec::new(),
        Err(e) => vec![format!("{e}")],
    }
}
