//! The message-spec model: JSON with `//` comments, parsed into messages,
//! fields and version ranges.

use serde_json::Value;

pub const MAX_VERSION: i16 = i16::MAX;

/// An inclusive version range; `None` means no version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions(pub Option<(i16, i16)>);

impl Versions {
    pub const NONE: Versions = Versions(None);

    pub fn parse(s: &str) -> Result<Versions, String> {
        let s = s.trim();
        if s == "none" || s.is_empty() {
            return Ok(Versions::NONE);
        }
        let num = |x: &str| {
            x.trim()
                .parse::<i16>()
                .map_err(|e| format!("bad version {x:?}: {e}"))
        };
        if let Some(lo) = s.strip_suffix('+') {
            return Ok(Versions(Some((num(lo)?, MAX_VERSION))));
        }
        if let Some((lo, hi)) = s.split_once('-') {
            return Ok(Versions(Some((num(lo)?, num(hi)?))));
        }
        let v = num(s)?;
        Ok(Versions(Some((v, v))))
    }

    #[allow(dead_code)]
    pub fn contains(&self, v: i16) -> bool {
        matches!(self.0, Some((lo, hi)) if v >= lo && v <= hi)
    }

    pub fn intersect(&self, o: &Versions) -> Versions {
        match (self.0, o.0) {
            (Some((a, b)), Some((c, d))) if a.max(c) <= b.min(d) => {
                Versions(Some((a.max(c), b.min(d))))
            }
            _ => Versions::NONE,
        }
    }

    pub fn is_none(&self) -> bool {
        self.0.is_none()
    }

    /// A Rust boolean expression testing `version` against this range.
    pub fn cond(&self) -> String {
        match self.0 {
            None => "false".into(),
            Some((0, MAX_VERSION)) => "true".into(),
            Some((lo, MAX_VERSION)) => format!("version >= {lo}"),
            Some((0, hi)) => format!("version <= {hi}"),
            Some((lo, hi)) if lo == hi => format!("version == {lo}"),
            Some((lo, hi)) => format!("({lo}..={hi}).contains(&version)"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prim {
    Bool,
    Int8,
    Int16,
    Uint16,
    Int32,
    Uint32,
    Int64,
    Float64,
    String,
    Uuid,
    Bytes,
    Records,
}

impl Prim {
    pub fn parse(s: &str) -> Option<Prim> {
        Some(match s {
            "bool" => Prim::Bool,
            "int8" => Prim::Int8,
            "int16" => Prim::Int16,
            "uint16" => Prim::Uint16,
            "int32" => Prim::Int32,
            "uint32" => Prim::Uint32,
            "int64" => Prim::Int64,
            "float64" => Prim::Float64,
            "string" => Prim::String,
            "uuid" => Prim::Uuid,
            "bytes" => Prim::Bytes,
            "records" => Prim::Records,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub enum FieldType {
    Prim(Prim),
    Array(Box<FieldType>),
    /// A struct by type name (its fields live in `Field::fields` or in the
    /// message's common structs).
    Struct(String),
}

#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub ty: FieldType,
    pub versions: Versions,
    pub nullable: Versions,
    pub tagged: Versions,
    pub tag: Option<u32>,
    pub default: Option<Value>,
    /// Field-level override of flexibility (only `"none"` occurs).
    pub never_flexible: bool,
    pub fields: Vec<Field>,
}

#[derive(Clone, Debug)]
pub struct Spec {
    pub name: String,
    pub kind: String,
    pub api_key: Option<i16>,
    pub valid: Versions,
    pub flexible: Versions,
    pub latest_unstable: bool,
    pub fields: Vec<Field>,
    pub common: Vec<(String, Vec<Field>)>,
}

/// Removes `//` comments that are outside string literals.
pub fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if c == '/' && chars.peek() == Some(&'/') {
            for n in chars.by_ref() {
                if n == '\n' {
                    out.push('\n');
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn versions_of(v: &Value, key: &str) -> Result<Versions, String> {
    match str_of(v, key) {
        Some(s) => Versions::parse(s),
        None => Ok(Versions::NONE),
    }
}

fn parse_type(s: &str) -> FieldType {
    if let Some(inner) = s.strip_prefix("[]") {
        return FieldType::Array(Box::new(parse_type(inner)));
    }
    match Prim::parse(s) {
        Some(p) => FieldType::Prim(p),
        None => FieldType::Struct(s.to_string()),
    }
}

fn parse_field(v: &Value) -> Result<Field, String> {
    let name = str_of(v, "name").ok_or("field without name")?.to_string();
    let ty = parse_type(str_of(v, "type").ok_or(format!("field {name} without type"))?);
    let tagged = versions_of(v, "taggedVersions")?;
    let mut versions = versions_of(v, "versions")?;
    if str_of(v, "versions").is_none() {
        versions = tagged;
    }
    let tag = match v.get("tag") {
        Some(Value::Number(n)) => n.as_u64().map(|x| x as u32),
        Some(Value::String(s)) => Some(
            s.parse::<u32>()
                .map_err(|e| format!("bad tag on {name}: {e}"))?,
        ),
        _ => None,
    };
    let fields = match v.get("fields").and_then(Value::as_array) {
        Some(a) => a.iter().map(parse_field).collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    Ok(Field {
        name,
        ty,
        versions,
        nullable: versions_of(v, "nullableVersions")?,
        tagged,
        tag,
        default: v.get("default").cloned(),
        never_flexible: str_of(v, "flexibleVersions") == Some("none"),
        fields,
    })
}

pub fn parse_spec(src: &str) -> Result<Spec, String> {
    let v: Value = serde_json::from_str(&strip_comments(src)).map_err(|e| e.to_string())?;
    let name = str_of(&v, "name").ok_or("spec without name")?.to_string();
    let fields = match v.get("fields").and_then(Value::as_array) {
        Some(a) => a.iter().map(parse_field).collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let mut common = Vec::new();
    if let Some(a) = v.get("commonStructs").and_then(Value::as_array) {
        for c in a {
            let cname = str_of(c, "name")
                .ok_or("common struct without name")?
                .to_string();
            let cf = match c.get("fields").and_then(Value::as_array) {
                Some(a) => a.iter().map(parse_field).collect::<Result<Vec<_>, _>>()?,
                None => Vec::new(),
            };
            common.push((cname, cf));
        }
    }
    Ok(Spec {
        kind: str_of(&v, "type").unwrap_or("data").to_string(),
        api_key: v.get("apiKey").and_then(Value::as_i64).map(|k| k as i16),
        valid: versions_of(&v, "validVersions")?,
        flexible: versions_of(&v, "flexibleVersions")?,
        latest_unstable: v
            .get("latestVersionUnstable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        name,
        fields,
        common,
    })
}
