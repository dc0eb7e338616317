//! Values in Confluent's wire format (magic byte 0, a 4-byte big-endian
//! schema id, then the payload) decoded to JSON with the writer's schema:
//! Avro binary, JSON text, or Protobuf after its message-index list.

use std::io::Read;

use serde_json::Value;

use crate::schema::{Parsed, ParsedSchema};

/// The schema id of a framed value and the payload after it.
pub fn split(bytes: &[u8]) -> Result<(i64, &[u8]), String> {
    match bytes {
        [0, a, b, c, d, rest @ ..] => Ok((i64::from(u32::from_be_bytes([*a, *b, *c, *d])), rest)),
        [m, ..] if *m != 0 => Err(format!(
            "not in the schema registry wire format (magic byte {m})"
        )),
        _ => Err("value too short for the schema registry wire format".into()),
    }
}

fn varint(buf: &mut &[u8]) -> Result<u64, String> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first().ok_or("truncated varint")?;
        *buf = rest;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(out);
        }
    }
    Err("varint too long".into())
}

fn zigzag(buf: &mut &[u8]) -> Result<i64, String> {
    let v = varint(buf)?;
    Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// Decodes `payload` (after the id) written with `schema`.
pub fn decode(schema: &ParsedSchema, payload: &[u8]) -> Result<Value, String> {
    match &schema.parsed {
        Parsed::Avro(doc) => {
            let mut r: &[u8] = payload;
            let named: Vec<&apache_avro::Schema> = doc.named.iter().collect();
            let v = if named.is_empty() {
                apache_avro::from_avro_datum(&doc.schema, &mut r, None)
            } else {
                apache_avro::from_avro_datum_schemata(&doc.schema, named, &mut r, None)
            }
            .map_err(|e| format!("avro decoding failed: {e}"))?;
            let mut rest = Vec::new();
            let _ = r.read_to_end(&mut rest);
            if !rest.is_empty() {
                return Err(format!("{} bytes left after the avro datum", rest.len()));
            }
            Value::try_from(v).map_err(|e| format!("avro value has no JSON form: {e}"))
        }
        Parsed::Json(_) => serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}")),
        Parsed::Protobuf(doc) => {
            let mut buf = payload;
            let count = zigzag(&mut buf)?;
            if !(0..=64).contains(&count) {
                return Err(format!("bad message index count {count}"));
            }
            let mut indexes = Vec::new();
            for _ in 0..count {
                indexes.push(zigzag(&mut buf)?);
            }
            if indexes.is_empty() {
                indexes.push(0);
            }
            let first = usize::try_from(indexes[0]).map_err(|_| "bad message index")?;
            let mut desc = doc
                .file
                .messages()
                .nth(first)
                .ok_or("message index out of range")?;
            for i in &indexes[1..] {
                let i = usize::try_from(*i).map_err(|_| "bad message index")?;
                let next = desc
                    .child_messages()
                    .nth(i)
                    .ok_or("message index out of range")?;
                desc = next;
            }
            let msg = prost_reflect::DynamicMessage::decode(desc, buf)
                .map_err(|e| format!("protobuf decoding failed: {e}"))?;
            serde_json::to_value(&msg).map_err(|e| e.to_string())
        }
    }
}
