//! PROTOBUF schemas, compiled with `protox` (a protobuf compiler in Rust):
//! `.proto` text or, as confluent-kafka's Python serializer sends it, a
//! base64 `FileDescriptorProto`. Imports resolve to the references by their
//! names, then to the well-known `google/protobuf/*.proto` files.

use std::collections::HashMap;

use base64::Engine;
use prost_reflect::{DescriptorPool, FileDescriptor};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

use super::{Parsed, ParsedSchema, ResolvedRef, SchemaType};

/// The file name the registered schema is compiled under.
const ROOT: &str = "__fjord_schema__.proto";

/// A compiled schema: the descriptor pool with its imports.
#[derive(Debug, Clone)]
pub struct ProtoDoc {
    pub pool: DescriptorPool,
    pub file: FileDescriptor,
}

impl ProtoDoc {
    /// The schema as base64 `FileDescriptorProto` (`?format=serialized`).
    pub fn serialized(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.file.encode_to_vec())
    }
}

struct Sources(HashMap<String, File>);

impl FileResolver for Sources {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| protox::Error::file_not_found(name))
    }
}

/// Deepest `{` nesting accepted in `.proto` text (the parser recurses).
const MAX_NESTING: usize = 64;

/// Refuses text nested deeper than [`MAX_NESTING`] before parsing it.
fn check_nesting(text: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '/') if chars.peek() == Some(&'/') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
            }
            (None, '{' | '<' | '[') => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!(
                        "Invalid schema: nested deeper than {MAX_NESTING} levels"
                    ));
                }
            }
            (None, '}' | '>' | ']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Reads `.proto` text, or a base64 `FileDescriptorProto`.
fn load(name: &str, text: &str) -> Result<File, String> {
    check_nesting(text)?;
    match File::from_source(name, text) {
        Ok(f) => Ok(f),
        Err(text_err) => {
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            let looks_b64 = !compact.is_empty()
                && compact
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='));
            if !looks_b64 {
                return Err(format!("Invalid schema: {text_err}"));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map_err(|_| format!("Invalid schema: {text_err}"))?;
            let mut file = File::decode_file_descriptor_proto(bytes.as_slice()).map_err(|e| {
                format!(
                    "Invalid schema: not .proto text ({text_err}) nor a FileDescriptorProto ({e})"
                )
            })?;
            // Compile it under the name its importers use.
            let mut fdp = file.file_descriptor_proto().clone();
            fdp.name = Some(name.to_string());
            file = File::from_file_descriptor_proto(fdp);
            Ok(file)
        }
    }
}

pub fn parse(text: &str, refs: &[ResolvedRef], _normalize: bool) -> Result<ParsedSchema, String> {
    let mut files = HashMap::new();
    for r in refs {
        files.insert(r.name.clone(), load(&r.name, &r.schema)?);
    }
    files.insert(ROOT.to_string(), load(ROOT, text)?);
    let mut chain = ChainFileResolver::new();
    chain.add(Sources(files));
    chain.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(chain);
    compiler.include_imports(true);
    compiler
        .open_file(ROOT)
        .map_err(|e| format!("Invalid schema: {e}"))?;
    let pool = compiler.descriptor_pool();
    let file = pool
        .get_file_by_name(ROOT)
        .ok_or_else(|| "Invalid schema: no file compiled".to_string())?;
    if file.messages().len() == 0 {
        return Err("Invalid schema: the schema defines no message".into());
    }
    let text = text.trim().to_string();
    // Descriptor bytes are the same for equal schemas however written.
    let identity = base64::engine::general_purpose::STANDARD.encode(strip_source_info(&file));
    Ok(ParsedSchema {
        schema_type: SchemaType::Protobuf,
        text,
        identity,
        parsed: Parsed::Protobuf(Box::new(ProtoDoc { pool, file })),
    })
}

fn strip_source_info(file: &FileDescriptor) -> Vec<u8> {
    use prost_reflect::prost::Message;
    let mut fdp = file.file_descriptor_proto().clone();
    fdp.source_code_info = None;
    fdp.encode_to_vec()
}
