//! Emits Rust for every spec: one module per message with its structs,
//! version-aware encode/decode, and (under `cfg(test)`) random value
//! generation for round-trip tests; plus `mod.rs` with the api-key table
//! and the `Request`/`Response` dispatch enums.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::spec::{parse_spec, Field, FieldType, Prim, Spec, Versions};

type Res<T> = Result<T, String>;

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

pub fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                let prev = chars[i - 1];
                let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
                if prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_ascii_uppercase() && next_lower)
                {
                    out.push('_');
                }
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn field_ident(name: &str) -> String {
    let s = snake(name);
    if KEYWORDS.contains(&s.as_str()) {
        format!("r#{s}")
    } else {
        s
    }
}

/// Everything the emitter needs about one struct.
struct StructDef {
    name: String,
    fields: Vec<Field>,
}

/// Collects the nested struct definitions of a message, in first-use order.
fn collect_structs(
    fields: &[Field],
    common: &[(String, Vec<Field>)],
    out: &mut Vec<StructDef>,
) -> Res<()> {
    for f in fields {
        let sname = match &f.ty {
            FieldType::Struct(n) => Some(n.clone()),
            FieldType::Array(inner) => match inner.as_ref() {
                FieldType::Struct(n) => Some(n.clone()),
                _ => None,
            },
            FieldType::Prim(_) => None,
        };
        let Some(sname) = sname else { continue };
        if out.iter().any(|s| s.name == sname) {
            continue;
        }
        let sfields = if !f.fields.is_empty() {
            f.fields.clone()
        } else {
            match common.iter().find(|(n, _)| *n == sname) {
                Some((_, cf)) => cf.clone(),
                None => {
                    return Err(format!(
                        "struct {sname} used by {} has no definition",
                        f.name
                    ))
                }
            }
        };
        out.push(StructDef {
            name: sname,
            fields: sfields.clone(),
        });
        collect_structs(&sfields, common, out)?;
    }
    Ok(())
}

fn is_optional(f: &Field) -> bool {
    !f.nullable.is_none()
}

fn base_type(ty: &FieldType) -> String {
    match ty {
        FieldType::Prim(p) => match p {
            Prim::Bool => "bool",
            Prim::Int8 => "i8",
            Prim::Int16 => "i16",
            Prim::Uint16 => "u16",
            Prim::Int32 => "i32",
            Prim::Uint32 => "u32",
            Prim::Int64 => "i64",
            Prim::Float64 => "f64",
            Prim::String => "::std::string::String",
            Prim::Uuid => "crate::Uuid",
            Prim::Bytes | Prim::Records => "::bytes::Bytes",
        }
        .to_string(),
        FieldType::Array(inner) => format!("::std::vec::Vec<{}>", base_type(inner)),
        FieldType::Struct(n) => n.clone(),
    }
}

fn rust_type(f: &Field) -> String {
    if is_optional(f) {
        format!("::std::option::Option<{}>", base_type(&f.ty))
    } else {
        base_type(&f.ty)
    }
}

fn int_default(v: &Option<Value>, name: &str) -> Res<i64> {
    let parse = |s: &str| -> Res<i64> {
        let s = s.trim();
        let (neg, body) = match s.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, s),
        };
        let n = if let Some(h) = body.strip_prefix("0x") {
            i64::from_str_radix(h, 16).map_err(|e| format!("{name}: {e}"))?
        } else {
            body.parse::<i64>().map_err(|e| format!("{name}: {e}"))?
        };
        Ok(if neg { -n } else { n })
    };
    match v {
        None => Ok(0),
        Some(Value::Number(n)) => n.as_i64().ok_or(format!("{name}: bad default")),
        Some(Value::String(s)) => parse(s),
        Some(other) => Err(format!("{name}: bad default {other}")),
    }
}

fn default_is_null(f: &Field) -> bool {
    matches!(&f.default, Some(Value::Null))
        || matches!(&f.default, Some(Value::String(s)) if s == "null")
}

fn default_expr(f: &Field) -> Res<String> {
    let opt = is_optional(f);
    let wrap = |e: String| if opt { format!("Some({e})") } else { e };
    Ok(match &f.ty {
        FieldType::Prim(p) => match p {
            Prim::Bool => match &f.default {
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::String(s)) => (s == "true").to_string(),
                _ => "false".into(),
            },
            Prim::Int8 | Prim::Int16 | Prim::Uint16 | Prim::Int32 | Prim::Uint32 | Prim::Int64 => {
                format!("{}{}", int_default(&f.default, &f.name)?, base_type(&f.ty))
            }
            Prim::Float64 => match &f.default {
                Some(Value::Number(n)) => format!("{:?}f64", n.as_f64().unwrap_or(0.0)),
                Some(Value::String(s)) => {
                    format!("{:?}f64", s.parse::<f64>().map_err(|e| e.to_string())?)
                }
                _ => "0.0f64".into(),
            },
            Prim::String => {
                if default_is_null(f) {
                    "None".into()
                } else {
                    match &f.default {
                        Some(Value::String(s)) => {
                            wrap(format!("::std::string::String::from({s:?})"))
                        }
                        _ => wrap("::std::string::String::new()".into()),
                    }
                }
            }
            Prim::Uuid => "crate::Uuid::ZERO".into(),
            // Kafka: records fields default to null where they may be null.
            Prim::Records if opt => "None".into(),
            Prim::Records => "::bytes::Bytes::new()".into(),
            Prim::Bytes => {
                if default_is_null(f) {
                    "None".into()
                } else {
                    wrap("::bytes::Bytes::new()".into())
                }
            }
        },
        FieldType::Array(_) => {
            if default_is_null(f) {
                "None".into()
            } else {
                wrap("::std::vec::Vec::new()".into())
            }
        }
        FieldType::Struct(n) => {
            if default_is_null(f) {
                "None".into()
            } else {
                wrap(format!("{n}::default()"))
            }
        }
    })
}

/// Wire bytes an element takes at least (bounds array counts).
fn min_size(ty: &FieldType) -> usize {
    match ty {
        FieldType::Prim(p) => match p {
            Prim::Bool | Prim::Int8 => 1,
            Prim::Int16 | Prim::Uint16 => 2,
            Prim::Int32 | Prim::Uint32 => 4,
            Prim::Int64 | Prim::Float64 => 8,
            Prim::Uuid => 16,
            _ => 1,
        },
        _ => 1,
    }
}

/// Statements writing a non-null value `v` (an expression of type `&T`).
fn gen_put(ty: &FieldType, v: &str, compact: &str) -> String {
    match ty {
        FieldType::Prim(p) => match p {
            Prim::Bool => format!("buf.put_u8(u8::from(*{v}));"),
            Prim::Int8 => format!("buf.put_i8(*{v});"),
            Prim::Int16 => format!("buf.put_i16(*{v});"),
            Prim::Uint16 => format!("buf.put_u16(*{v});"),
            Prim::Int32 => format!("buf.put_i32(*{v});"),
            Prim::Uint32 => format!("buf.put_u32(*{v});"),
            Prim::Int64 => format!("buf.put_i64(*{v});"),
            Prim::Float64 => format!("buf.put_f64(*{v});"),
            Prim::String => format!("crate::wire::put_string(buf, {v}, {compact})?;"),
            Prim::Uuid => format!("crate::wire::put_uuid(buf, {v});"),
            Prim::Bytes | Prim::Records => format!("crate::wire::put_bytes(buf, {v}, {compact})?;"),
        },
        FieldType::Array(inner) => format!(
            "crate::wire::put_array_len(buf, Some(({v}).len()), {compact})?;\nfor e in ({v}).iter() {{\n{}\n}}",
            gen_put(inner, "e", compact)
        ),
        FieldType::Struct(_) => format!("({v}).encode_body_with(buf, version, ext)?;"),
    }
}

fn gen_put_null(ty: &FieldType, compact: &str) -> String {
    match ty {
        FieldType::Prim(Prim::String) => {
            format!("crate::wire::put_nullable_string(buf, None, {compact})?;")
        }
        FieldType::Prim(_) => format!("crate::wire::put_nullable_bytes(buf, None, {compact})?;"),
        FieldType::Array(_) => format!("crate::wire::put_array_len(buf, None, {compact})?;"),
        FieldType::Struct(_) => "buf.put_i8(-1);".into(),
    }
}

/// Statements encoding field `f` from `self`.
fn gen_encode_field(f: &Field, compact: &str) -> String {
    let id = field_ident(&f.name);
    if matches!(f.ty, FieldType::Prim(Prim::Records)) {
        let value = if is_optional(f) {
            format!("self.{id}.as_ref()")
        } else {
            format!("Some(&self.{id})")
        };
        return format!(
            "ext.put_records(buf, {value}, {compact}, {})?;",
            f.nullable.cond()
        );
    }
    if !is_optional(f) {
        return gen_put(&f.ty, &format!("&self.{id}"), compact);
    }
    let nullable = f.nullable.cond();
    let marker = if matches!(f.ty, FieldType::Struct(_)) {
        format!("if {nullable} {{ buf.put_i8(1); }}\n")
    } else {
        String::new()
    };
    format!(
        "match &self.{id} {{\nSome(v) => {{\n{marker}{}\n}}\nNone => {{\nif {nullable} {{\n{}\n}} else {{\nreturn Err(crate::EncodeError::NullNotAllowed({:?}));\n}}\n}}\n}}",
        gen_put(&f.ty, "v", compact),
        gen_put_null(&f.ty, compact),
        f.name
    )
}

/// An expression reading a non-null value of `ty`.
fn gen_get(ty: &FieldType, compact: &str) -> String {
    match ty {
        FieldType::Prim(p) => match p {
            Prim::Bool => "crate::wire::get_bool(buf)?".into(),
            Prim::Int8 => "crate::wire::get_i8(buf)?".into(),
            Prim::Int16 => "crate::wire::get_i16(buf)?".into(),
            Prim::Uint16 => "crate::wire::get_u16(buf)?".into(),
            Prim::Int32 => "crate::wire::get_i32(buf)?".into(),
            Prim::Uint32 => "crate::wire::get_u32(buf)?".into(),
            Prim::Int64 => "crate::wire::get_i64(buf)?".into(),
            Prim::Float64 => "crate::wire::get_f64(buf)?".into(),
            Prim::String => format!("crate::wire::get_string(buf, {compact})?"),
            Prim::Uuid => "crate::wire::get_uuid(buf)?".into(),
            Prim::Bytes | Prim::Records => format!("crate::wire::get_bytes(buf, {compact})?"),
        },
        FieldType::Array(inner) => format!(
            "{{\nlet n = crate::wire::get_array_len(buf, {compact}, {})?.ok_or(crate::DecodeError::UnexpectedNull)?;\n{}\n}}",
            min_size(inner),
            gen_array_body(inner, compact)
        ),
        FieldType::Struct(n) => format!("{n}::decode_body(buf, version)?"),
    }
}

fn gen_array_body(inner: &FieldType, compact: &str) -> String {
    format!(
        "let mut a = ::std::vec::Vec::with_capacity(n.min(1024));\nfor _ in 0..n {{\na.push({});\n}}\na",
        gen_get(inner, compact)
    )
}

/// An expression reading field `f` (of its Rust type).
fn gen_decode_field(f: &Field, compact: &str) -> String {
    if !is_optional(f) {
        return gen_get(&f.ty, compact);
    }
    let nullable = f.nullable.cond();
    match &f.ty {
        FieldType::Prim(Prim::String) => format!(
            "if {nullable} {{ crate::wire::get_nullable_string(buf, {compact})? }} else {{ Some(crate::wire::get_string(buf, {compact})?) }}"
        ),
        FieldType::Prim(_) => format!(
            "if {nullable} {{ crate::wire::get_nullable_bytes(buf, {compact})? }} else {{ Some(crate::wire::get_bytes(buf, {compact})?) }}"
        ),
        FieldType::Array(inner) => format!(
            "match crate::wire::get_array_len(buf, {compact}, {})? {{\nNone => {{ if {nullable} {{ None }} else {{ return Err(crate::DecodeError::UnexpectedNull); }} }}\nSome(n) => Some({{\n{}\n}}),\n}}",
            min_size(inner),
            gen_array_body(inner, compact)
        ),
        FieldType::Struct(n) => format!(
            "if {nullable} {{\nif crate::wire::get_i8(buf)? < 0 {{ None }} else {{ Some({n}::decode_body(buf, version)?) }}\n}} else {{\nSome({n}::decode_body(buf, version)?)\n}}"
        ),
    }
}

fn gen_random(ty: &FieldType) -> String {
    match ty {
        FieldType::Prim(p) => match p {
            Prim::Bool => "g.bool()".into(),
            Prim::Int8 => "g.i8()".into(),
            Prim::Int16 => "g.i16()".into(),
            Prim::Uint16 => "g.u16()".into(),
            Prim::Int32 => "g.i32()".into(),
            Prim::Uint32 => "g.u32()".into(),
            Prim::Int64 => "g.i64()".into(),
            Prim::Float64 => "g.f64()".into(),
            Prim::String => "g.string()".into(),
            Prim::Uuid => "g.uuid()".into(),
            Prim::Bytes | Prim::Records => "g.bytes()".into(),
        },
        FieldType::Array(inner) => format!("(0..g.len()).map(|_| {}).collect()", gen_random(inner)),
        FieldType::Struct(n) => format!("{n}::random(g, version)"),
    }
}

fn inline_cond(f: &Field) -> String {
    if f.tagged.is_none() {
        f.versions.cond()
    } else {
        let tagged = f.versions.intersect(&f.tagged);
        format!("({}) && !({})", f.versions.cond(), tagged.cond())
    }
}

fn emit_struct(
    out: &mut String,
    name: &str,
    fields: &[Field],
    flexible: &Versions,
    top: Option<&Spec>,
) -> Res<()> {
    // Struct definition.
    writeln!(out, "#[derive(Clone, Debug, PartialEq)]").ok();
    writeln!(out, "pub struct {name} {{").ok();
    for f in fields {
        let mut vdoc = match f.versions.0 {
            Some((lo, hi)) if hi == crate::spec::MAX_VERSION => format!("versions {lo}+"),
            Some((lo, hi)) => format!("versions {lo}-{hi}"),
            None => "no versions".into(),
        };
        if let Some(t) = f.tag {
            write!(vdoc, ", tag {t}").ok();
        }
        writeln!(out, "    /// {} ({vdoc})", f.name).ok();
        writeln!(out, "    pub {}: {},", field_ident(&f.name), rust_type(f)).ok();
    }
    writeln!(
        out,
        "    /// Tagged fields this version of fjord does not know, kept verbatim."
    )
    .ok();
    writeln!(
        out,
        "    pub unknown_tagged_fields: ::std::vec::Vec<crate::RawTaggedField>,"
    )
    .ok();
    writeln!(out, "}}\n").ok();

    // Default.
    writeln!(
        out,
        "impl Default for {name} {{\nfn default() -> Self {{\n{name} {{"
    )
    .ok();
    for f in fields {
        writeln!(out, "{}: {},", field_ident(&f.name), default_expr(f)?).ok();
    }
    writeln!(
        out,
        "unknown_tagged_fields: ::std::vec::Vec::new(),\n}}\n}}\n}}\n"
    )
    .ok();

    let flex_cond = flexible.cond();
    let mut tagged: Vec<&Field> = fields
        .iter()
        .filter(|f| f.tag.is_some() && !f.tagged.is_none())
        .collect();
    tagged.sort_by_key(|f| f.tag);

    writeln!(out, "impl {name} {{").ok();
    // Encode.
    writeln!(
        out,
        "pub(crate) fn encode_body(&self, buf: &mut ::bytes::BytesMut, version: i16) -> ::std::result::Result<(), crate::EncodeError> {{\nself.encode_body_with(buf, version, &mut crate::wire::InlineRecords)\n}}\n"
    )
    .ok();
    writeln!(
        out,
        "pub(crate) fn encode_body_with(&self, buf: &mut ::bytes::BytesMut, version: i16, ext: &mut dyn crate::wire::RecordsWriter) -> ::std::result::Result<(), crate::EncodeError> {{"
    )
    .ok();
    writeln!(out, "let flexible = {flex_cond};").ok();
    for f in fields {
        let compact = if f.never_flexible {
            "false"
        } else {
            "flexible"
        };
        let cond = inline_cond(f);
        if cond == "false" {
            continue;
        }
        writeln!(out, "if {cond} {{\n{}\n}}", gen_encode_field(f, compact)).ok();
    }
    writeln!(out, "if flexible {{").ok();
    if tagged.is_empty() {
        writeln!(out, "crate::wire::put_tagged_section(buf, ::std::vec::Vec::new(), &self.unknown_tagged_fields)?;").ok();
    } else {
        writeln!(
            out,
            "let mut known: ::std::vec::Vec<(u32, ::bytes::BytesMut)> = ::std::vec::Vec::new();"
        )
        .ok();
        for f in &tagged {
            let id = field_ident(&f.name);
            let cond = f.versions.intersect(&f.tagged).cond();
            writeln!(
                out,
                "if {cond} && self.{id} != {} {{\nlet mut tb = ::bytes::BytesMut::new();\n{{\nlet buf = &mut tb;\n{}\n}}\nknown.push(({}, tb));\n}}",
                default_expr(f)?,
                gen_encode_field(f, "true"),
                f.tag.unwrap_or(0)
            )
            .ok();
        }
        writeln!(
            out,
            "crate::wire::put_tagged_section(buf, known, &self.unknown_tagged_fields)?;"
        )
        .ok();
    }
    writeln!(out, "}}\nOk(())\n}}\n").ok();

    // Decode.
    writeln!(
        out,
        "pub(crate) fn decode_body(buf: &mut ::bytes::Bytes, version: i16) -> ::std::result::Result<Self, crate::DecodeError> {{"
    )
    .ok();
    writeln!(
        out,
        "let flexible = {flex_cond};\nlet mut this = Self::default();"
    )
    .ok();
    for f in fields {
        let compact = if f.never_flexible {
            "false"
        } else {
            "flexible"
        };
        let cond = inline_cond(f);
        if cond == "false" {
            continue;
        }
        writeln!(
            out,
            "if {cond} {{\nthis.{} = {};\n}}",
            field_ident(&f.name),
            gen_decode_field(f, compact)
        )
        .ok();
    }
    writeln!(
        out,
        "if flexible {{\nlet mut unknown = ::std::vec::Vec::new();"
    )
    .ok();
    if tagged.is_empty() {
        writeln!(
            out,
            "crate::wire::get_tagged_fields(buf, &mut unknown, |_, _| Ok(false))?;"
        )
        .ok();
    } else {
        writeln!(
            out,
            "crate::wire::get_tagged_fields(buf, &mut unknown, |tag, buf| {{\nmatch tag {{"
        )
        .ok();
        for f in &tagged {
            let cond = f.versions.intersect(&f.tagged).cond();
            writeln!(
                out,
                "{} if {cond} => {{\nthis.{} = {};\nOk(true)\n}}",
                f.tag.unwrap_or(0),
                field_ident(&f.name),
                gen_decode_field(f, "true")
            )
            .ok();
        }
        writeln!(out, "_ => Ok(false),\n}}\n}})?;").ok();
    }
    writeln!(
        out,
        "this.unknown_tagged_fields = unknown;\n}}\nOk(this)\n}}\n"
    )
    .ok();

    // Random values for round-trip tests.
    writeln!(
        out,
        "#[cfg(test)]\npub(crate) fn random(g: &mut crate::testgen::Gen, version: i16) -> Self {{"
    )
    .ok();
    writeln!(out, "let mut this = Self::default();").ok();
    for f in fields {
        let cond = f.versions.cond();
        if cond == "false" {
            continue;
        }
        let base = gen_random(&f.ty);
        let expr = if is_optional(f) {
            format!(
                "if ({}) && g.null() {{ None }} else {{ Some({base}) }}",
                f.nullable.cond()
            )
        } else {
            base
        };
        writeln!(
            out,
            "if {cond} {{\nthis.{} = {expr};\n}}",
            field_ident(&f.name)
        )
        .ok();
    }
    writeln!(out, "this\n}}\n}}\n").ok();

    if let Some(spec) = top {
        let (lo, hi) = spec
            .valid
            .0
            .ok_or(format!("{name} has no valid versions"))?;
        let flex_from = match flexible.0 {
            Some((lo, _)) => format!("Some({lo})"),
            None => "None".into(),
        };
        let key = spec.api_key.unwrap_or(-1);
        let valid = spec.valid.cond();
        writeln!(
            out,
            "impl crate::Message for {name} {{\nconst NAME: &'static str = {name:?};\nconst VERSIONS: (i16, i16) = ({lo}, {hi});\nconst FLEXIBLE_FROM: Option<i16> = {flex_from};\n}}\n"
        )
        .ok();
        writeln!(
            out,
            "impl {name} {{\n/// Encodes with `records` fields written through `ext`.\npub fn encode_with(&self, buf: &mut ::bytes::BytesMut, version: i16, ext: &mut dyn crate::wire::RecordsWriter) -> ::std::result::Result<(), crate::EncodeError> {{\nif !({valid}) {{\nreturn Err(crate::EncodeError::UnsupportedVersion {{ message: {name:?}, version }});\n}}\nself.encode_body_with(buf, version, ext)\n}}\n}}\n"
        )
        .ok();
        writeln!(
            out,
            "impl crate::Encode for {name} {{\nfn encode(&self, buf: &mut ::bytes::BytesMut, version: i16) -> ::std::result::Result<(), crate::EncodeError> {{\nif !({valid}) {{\nreturn Err(crate::EncodeError::UnsupportedVersion {{ message: {name:?}, version }});\n}}\nself.encode_body(buf, version)\n}}\n}}\n"
        )
        .ok();
        writeln!(
            out,
            "impl crate::Decode for {name} {{\nfn decode(buf: &mut ::bytes::Bytes, version: i16) -> ::std::result::Result<Self, crate::DecodeError> {{\nif !({valid}) {{\nreturn Err(crate::DecodeError::UnsupportedVersion {{ api_key: {key}, version }});\n}}\nSelf::decode_body(buf, version)\n}}\n}}\n"
        )
        .ok();
    }
    Ok(())
}

fn emit_module(spec: &Spec) -> Res<String> {
    let mut out = String::new();
    writeln!(
        out,
        "// Generated by `cargo xtask codegen` from Kafka's {} spec. Do not edit.",
        spec.name
    )
    .ok();
    writeln!(
        out,
        "#![allow(unused_mut, unused_variables, unused_imports, dead_code, clippy::all)]"
    )
    .ok();
    writeln!(out, "use ::bytes::BufMut as _;\n").ok();
    match spec.api_key {
        Some(k) => writeln!(out, "/// Kafka api key {k}.\npub const API_KEY: i16 = {k};").ok(),
        None => None,
    };
    writeln!(
        out,
        "/// Whether the newest version is still marked unstable by Kafka."
    )
    .ok();
    writeln!(
        out,
        "pub const LATEST_VERSION_UNSTABLE: bool = {};\n",
        spec.latest_unstable
    )
    .ok();
    emit_struct(
        &mut out,
        &spec.name,
        &spec.fields,
        &spec.flexible,
        Some(spec),
    )?;
    let mut structs = Vec::new();
    collect_structs(&spec.fields, &spec.common, &mut structs)?;
    // Common structs that no field references directly still get emitted.
    for (cname, cfields) in &spec.common {
        if !structs.iter().any(|s| &s.name == cname) {
            structs.push(StructDef {
                name: cname.clone(),
                fields: cfields.clone(),
            });
            collect_structs(cfields, &spec.common, &mut structs)?;
        }
    }
    for s in &structs {
        emit_struct(&mut out, &s.name, &s.fields, &spec.flexible, None)?;
    }
    Ok(out)
}

fn emit_dispatch(requests: &BTreeMap<i16, (Spec, Spec)>, all: &[Spec]) -> String {
    let mut out = String::new();
    writeln!(out, "// Generated by `cargo xtask codegen`. Do not edit.").ok();
    writeln!(
        out,
        "//! Generated message types, one module per message spec."
    )
    .ok();
    writeln!(out, "#![allow(clippy::all)]\n").ok();
    for s in all {
        let m = snake(&s.name);
        writeln!(out, "pub mod {m};\npub use {m}::{};", s.name).ok();
    }
    let variant = |s: &Spec| s.name.trim_end_matches("Request").to_string();
    // ApiKey.
    writeln!(out, "\n/// Every Kafka API with a request spec.\n#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]\n#[repr(i16)]\npub enum ApiKey {{").ok();
    for (k, (req, _)) in requests {
        writeln!(out, "{} = {k},", variant(req)).ok();
    }
    writeln!(out, "}}\n\nimpl ApiKey {{").ok();
    writeln!(
        out,
        "/// All api keys in numeric order.\npub const ALL: &'static [ApiKey] = &["
    )
    .ok();
    for (req, _) in requests.values() {
        writeln!(out, "ApiKey::{},", variant(req)).ok();
    }
    writeln!(out, "];\n").ok();
    writeln!(
        out,
        "pub fn from_i16(key: i16) -> Option<ApiKey> {{\nmatch key {{"
    )
    .ok();
    for (k, (req, _)) in requests {
        writeln!(out, "{k} => Some(ApiKey::{}),", variant(req)).ok();
    }
    writeln!(out, "_ => None,\n}}\n}}\n").ok();
    let table = |out: &mut String, fname: &str, rty: &str, f: &dyn Fn(&Spec, &Spec) -> String| {
        writeln!(out, "pub fn {fname}(self) -> {rty} {{\nmatch self {{").ok();
        for (req, resp) in requests.values() {
            writeln!(out, "ApiKey::{} => {},", variant(req), f(req, resp)).ok();
        }
        writeln!(out, "}}\n}}\n").ok();
    };
    table(&mut out, "name", "&'static str", &|req, _| {
        format!("{:?}", variant(req))
    });
    table(&mut out, "versions", "(i16, i16)", &|req, _| {
        let (lo, hi) = req.valid.0.unwrap_or((0, -1));
        format!("({lo}, {hi})")
    });
    table(&mut out, "latest_version_unstable", "bool", &|req, _| {
        req.latest_unstable.to_string()
    });
    writeln!(out, "/// Whether the request of this version uses flexible encoding.\npub fn is_flexible(self, version: i16) -> bool {{\nmatch self {{").ok();
    for (req, _) in requests.values() {
        writeln!(out, "ApiKey::{} => {},", variant(req), req.flexible.cond()).ok();
    }
    writeln!(out, "}}\n}}\n").ok();
    writeln!(out, "/// Whether the response of this version uses flexible encoding.\npub fn is_response_flexible(self, version: i16) -> bool {{\nmatch self {{").ok();
    for (req, resp) in requests.values() {
        writeln!(out, "ApiKey::{} => {},", variant(req), resp.flexible.cond()).ok();
    }
    writeln!(out, "}}\n}}\n}}\n").ok();

    for (kind, idx) in [("Request", 0usize), ("Response", 1usize)] {
        writeln!(
            out,
            "/// A decoded {} of any api.\n#[derive(Clone, Debug, PartialEq)]\npub enum {kind} {{",
            kind.to_lowercase()
        )
        .ok();
        for (req, resp) in requests.values() {
            let s = if idx == 0 { req } else { resp };
            writeln!(out, "{}({}),", variant(req), s.name).ok();
        }
        writeln!(out, "}}\n\nimpl {kind} {{").ok();
        writeln!(out, "pub fn api_key(&self) -> ApiKey {{\nmatch self {{").ok();
        for (req, _) in requests.values() {
            writeln!(out, "{kind}::{v}(_) => ApiKey::{v},", v = variant(req)).ok();
        }
        writeln!(out, "}}\n}}\n").ok();
        if idx == 1 {
            // Quotas set the throttle time of any response that has one.
            writeln!(
                out,
                "/// The response's top-level `throttle_time_ms`, if its message has one.\npub fn throttle_time_ms_mut(&mut self) -> Option<&mut i32> {{\nmatch self {{"
            )
            .ok();
            for (req, resp) in requests.values() {
                let has = resp.fields.iter().any(|f| {
                    f.name == "ThrottleTimeMs"
                        && matches!(f.ty, crate::spec::FieldType::Prim(crate::spec::Prim::Int32))
                });
                if has {
                    writeln!(
                        out,
                        "Response::{}(r) => Some(&mut r.throttle_time_ms),",
                        variant(req)
                    )
                    .ok();
                }
            }
            writeln!(out, "_ => None,\n}}\n}}\n").ok();
        }
        writeln!(
            out,
            "/// Decodes the body of a {} for `api_key` at `version`.\npub fn decode(api_key: i16, version: i16, buf: &mut ::bytes::Bytes) -> ::std::result::Result<{kind}, crate::DecodeError> {{\nuse crate::Decode;\nmatch api_key {{",
            kind.to_lowercase()
        )
        .ok();
        for (k, (req, resp)) in requests {
            let s = if idx == 0 { req } else { resp };
            writeln!(
                out,
                "{k} => Ok({kind}::{}({}::decode(buf, version)?)),",
                variant(req),
                s.name
            )
            .ok();
        }
        writeln!(
            out,
            "_ => Err(crate::DecodeError::UnknownApiKey(api_key)),\n}}\n}}\n"
        )
        .ok();
        writeln!(
            out,
            "pub fn encode(&self, buf: &mut ::bytes::BytesMut, version: i16) -> ::std::result::Result<(), crate::EncodeError> {{\nuse crate::Encode;\nmatch self {{"
        )
        .ok();
        for (req, _) in requests.values() {
            writeln!(
                out,
                "{kind}::{}(m) => m.encode(buf, version),",
                variant(req)
            )
            .ok();
        }
        writeln!(out, "}}\n}}\n").ok();
        writeln!(
            out,
            "/// Encodes with `records` fields written through `ext`.\npub fn encode_with(&self, buf: &mut ::bytes::BytesMut, version: i16, ext: &mut dyn crate::wire::RecordsWriter) -> ::std::result::Result<(), crate::EncodeError> {{\nmatch self {{"
        )
        .ok();
        for (req, _) in requests.values() {
            writeln!(
                out,
                "{kind}::{}(m) => m.encode_with(buf, version, ext),",
                variant(req)
            )
            .ok();
        }
        writeln!(out, "}}\n}}\n").ok();
        writeln!(out, "#[cfg(test)]\npub(crate) fn random(key: ApiKey, version: i16, g: &mut crate::testgen::Gen) -> {kind} {{\nmatch key {{").ok();
        for (req, resp) in requests.values() {
            let s = if idx == 0 { req } else { resp };
            writeln!(
                out,
                "ApiKey::{v} => {kind}::{v}({}::random(g, version)),",
                s.name,
                v = variant(req)
            )
            .ok();
        }
        writeln!(out, "}}\n}}\n}}\n").ok();
    }

    // Internal record schemas.
    writeln!(out, "/// The internal record schemas (`type: data`), for round-trip tests.\n#[cfg(test)]\npub(crate) fn random_data(name: &str, version: i16, g: &mut crate::testgen::Gen, buf: &mut ::bytes::BytesMut) -> Option<::bytes::Bytes> {{\nuse crate::{{Decode, Encode}};\nmatch name {{").ok();
    for s in all
        .iter()
        .filter(|s| s.kind == "data" || s.kind == "header")
    {
        writeln!(
            out,
            "{n:?} => {{\nlet m = {n}::random(g, version);\nm.encode(buf, version).ok()?;\nlet mut b = buf.split().freeze();\nlet d = {n}::decode(&mut b, version).ok()?;\nif d != m || !b.is_empty() {{ return None; }}\nSome(b)\n}}",
            n = s.name
        )
        .ok();
    }
    writeln!(out, "_ => None,\n}}\n}}\n").ok();
    writeln!(out, "/// Names and version ranges of the internal record and header schemas.\npub const DATA_SCHEMAS: &[(&str, i16, i16)] = &[").ok();
    for s in all
        .iter()
        .filter(|s| s.kind == "data" || s.kind == "header")
    {
        let (lo, hi) = s.valid.0.unwrap_or((0, -1));
        writeln!(out, "({:?}, {lo}, {hi}),", s.name).ok();
    }
    writeln!(out, "];").ok();
    out
}

pub fn run(specs: &Path, out_dir: &Path) -> Res<usize> {
    let mut files: Vec<_> = Vec::new();
    for dir in [specs.to_path_buf(), specs.join("records")] {
        let rd = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for ent in rd {
            let p = ent.map_err(|e| e.to_string())?.path();
            if p.extension().is_some_and(|e| e == "json") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut all = Vec::new();
    for p in &files {
        let src = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let spec = parse_spec(&src).map_err(|e| format!("{}: {e}", p.display()))?;
        all.push(spec);
    }
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let mut by_key: BTreeMap<i16, (Option<Spec>, Option<Spec>)> = BTreeMap::new();
    for s in &all {
        if let Some(k) = s.api_key {
            let e = by_key.entry(k).or_default();
            match s.kind.as_str() {
                "request" => e.0 = Some(s.clone()),
                "response" => e.1 = Some(s.clone()),
                _ => {}
            }
        }
    }
    let mut requests = BTreeMap::new();
    for (k, (req, resp)) in by_key {
        match (req, resp) {
            (Some(a), Some(b)) => {
                requests.insert(k, (a, b));
            }
            _ => return Err(format!("api key {k} lacks a request or a response spec")),
        }
    }
    if out_dir.exists() {
        std::fs::remove_dir_all(out_dir).map_err(|e| e.to_string())?;
    }
    std::fs::create_dir_all(out_dir).map_err(|e| e.to_string())?;
    let mut written = Vec::new();
    for s in &all {
        let code = emit_module(s).map_err(|e| format!("{}: {e}", s.name))?;
        let path = out_dir.join(format!("{}.rs", snake(&s.name)));
        std::fs::write(&path, code).map_err(|e| e.to_string())?;
        written.push(path);
    }
    let path = out_dir.join("mod.rs");
    std::fs::write(&path, emit_dispatch(&requests, &all)).map_err(|e| e.to_string())?;
    written.push(path);
    let status = Command::new("rustfmt")
        .arg("--edition")
        .arg("2021")
        .args(&written)
        .status()
        .map_err(|e| format!("running rustfmt: {e}"))?;
    if !status.success() {
        return Err("rustfmt failed on the generated code".into());
    }
    Ok(all.len())
}
