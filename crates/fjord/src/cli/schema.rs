//! `fjord schema list|get|register|check|delete|config`: the schema
//! registry's REST API from the command line (any Confluent-compatible
//! registry), and the value decoding behind `consume --value-format`.

use std::collections::HashMap;

use clap::{Args, Subcommand, ValueEnum};
use fjord_schema_registry::client::{encode_segment, Client, Reply};
use fjord_schema_registry::schema::{self, ParsedSchema, Reference, ResolvedRef, SchemaType};
use serde_json::{json, Value};

use super::out::Out;
use super::{CliError, CliResult, Format, FormatArgs};

#[derive(Args, Clone, Debug)]
pub struct RegistryArgs {
    /// Schema registry URL.
    #[arg(
        long = "registry",
        env = "FJORD_SCHEMA_REGISTRY_URL",
        default_value = "http://127.0.0.1:8081",
        value_name = "URL",
        global = true
    )]
    pub url: String,
}

#[derive(Args, Debug)]
pub struct SchemaArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub fmt: FormatArgs,
    #[command(subcommand)]
    pub cmd: SchemaCmd,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeArg {
    Avro,
    Json,
    Protobuf,
}

impl TypeArg {
    fn name(self) -> &'static str {
        match self {
            TypeArg::Avro => "AVRO",
            TypeArg::Json => "JSON",
            TypeArg::Protobuf => "PROTOBUF",
        }
    }
}

#[derive(Args, Clone, Debug)]
pub struct SchemaInput {
    /// File holding the schema.
    #[arg(
        long,
        short = 'f',
        conflicts_with = "schema",
        required_unless_present = "schema"
    )]
    pub file: Option<std::path::PathBuf>,
    /// The schema text itself.
    #[arg(long, short = 's')]
    pub schema: Option<String>,
    /// Schema type.
    #[arg(long = "type", short = 't', value_enum, default_value = "avro")]
    pub schema_type: TypeArg,
    /// A reference NAME=SUBJECT:VERSION (repeatable).
    #[arg(long = "reference", short = 'r', value_name = "NAME=SUBJECT:VERSION", value_parser = parse_reference)]
    pub references: Vec<Reference>,
    /// Normalize the schema before registering or comparing.
    #[arg(long)]
    pub normalize: bool,
}

fn parse_reference(s: &str) -> Result<Reference, String> {
    let (name, rest) = s.split_once('=').ok_or("expected NAME=SUBJECT:VERSION")?;
    let (subject, version) = rest
        .rsplit_once(':')
        .ok_or("expected NAME=SUBJECT:VERSION")?;
    let version = version
        .parse()
        .map_err(|_| format!("bad version {version:?}"))?;
    Ok(Reference {
        name: name.to_string(),
        subject: subject.to_string(),
        version,
    })
}

#[derive(Subcommand, Debug)]
pub enum SchemaCmd {
    /// List subjects.
    List {
        /// Include soft-deleted subjects.
        #[arg(long)]
        deleted: bool,
        /// Only subjects starting with this.
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Show a subject's version (latest by default) or a schema by id.
    Get {
        #[arg(required_unless_present = "id")]
        subject: Option<String>,
        /// Version number or latest.
        #[arg(long, short = 'v', default_value = "latest")]
        version: String,
        /// A schema id instead of a subject.
        #[arg(long, conflicts_with = "subject")]
        id: Option<i64>,
    },
    /// Register a schema under a subject; prints its id.
    Register {
        subject: String,
        #[command(flatten)]
        input: SchemaInput,
    },
    /// Check a schema's compatibility with a subject (exit 1 if incompatible).
    Check {
        subject: String,
        /// Version to check against (default: what the subject's level requires).
        #[arg(long, short = 'v')]
        version: Option<String>,
        #[command(flatten)]
        input: SchemaInput,
    },
    /// Delete a subject, or one version of it (soft, or --permanent).
    Delete {
        subject: String,
        #[arg(long, short = 'v')]
        version: Option<String>,
        /// Hard delete (after a soft delete).
        #[arg(long)]
        permanent: bool,
    },
    /// Show or set the compatibility level (global without SUBJECT).
    Config {
        subject: Option<String>,
        /// NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE.
        #[arg(long, conflicts_with = "delete")]
        set: Option<String>,
        /// Remove the subject's level (it follows the global one again).
        #[arg(long)]
        delete: bool,
    },
}

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

fn call(c: &mut Client, method: &str, path: &str, body: Option<&Value>) -> Result<Value, CliError> {
    let text = body.map(Value::to_string);
    let r: Reply = c.request(method, path, text.as_deref()).map_err(failed)?;
    if let Some(e) = r.error() {
        return Err(CliError::Failed(e));
    }
    r.json().map_err(failed)
}

fn request_body(input: &SchemaInput) -> Result<Value, CliError> {
    let text = match (&input.file, &input.schema) {
        (Some(f), _) => std::fs::read_to_string(f)
            .map_err(|e| failed(format!("cannot read {}: {e}", f.display())))?,
        (None, Some(s)) => s.clone(),
        (None, None) => return Err(CliError::Usage("give --file or --schema".into())),
    };
    let mut body = json!({"schema": text});
    if input.schema_type != TypeArg::Avro {
        body["schemaType"] = json!(input.schema_type.name());
    }
    if !input.references.is_empty() {
        body["references"] = json!(input.references);
    }
    Ok(body)
}

pub async fn run(a: SchemaArgs) -> CliResult {
    let mut c = Client::new(&a.registry.url).map_err(CliError::Usage)?;
    let mut out = Out::new();
    let as_json = a.fmt.format == Format::Json;
    match a.cmd {
        SchemaCmd::List { deleted, prefix } => {
            let mut path = format!("/subjects?deleted={deleted}");
            if let Some(p) = prefix {
                path.push_str(&format!("&subjectPrefix={}", encode_segment(&p)));
            }
            let v = call(&mut c, "GET", &path, None)?;
            if as_json {
                out.json(&v)?;
            } else {
                for s in v.as_array().into_iter().flatten() {
                    out.line(s.as_str().unwrap_or_default())?;
                }
            }
        }
        SchemaCmd::Get {
            subject,
            version,
            id,
        } => {
            let v = match (id, subject) {
                (Some(id), _) => call(&mut c, "GET", &format!("/schemas/ids/{id}"), None)?,
                (None, Some(s)) => call(
                    &mut c,
                    "GET",
                    &format!(
                        "/subjects/{}/versions/{}",
                        encode_segment(&s),
                        encode_segment(&version)
                    ),
                    None,
                )?,
                (None, None) => return Err(CliError::Usage("give a SUBJECT or --id".into())),
            };
            if as_json {
                out.json(&v)?;
            } else {
                let field = |k: &str| {
                    v.get(k)
                        .map(|x| x.to_string().trim_matches('"').to_string())
                };
                out.line(&format!(
                    "subject {}  version {}  id {}  type {}",
                    field("subject").unwrap_or_else(|| "-".into()),
                    field("version").unwrap_or_else(|| "-".into()),
                    field("id")
                        .or(id.map(|i| i.to_string()))
                        .unwrap_or_else(|| "-".into()),
                    field("schemaType").unwrap_or_else(|| "AVRO".into()),
                ))?;
                out.line(v.get("schema").and_then(Value::as_str).unwrap_or_default())?;
            }
        }
        SchemaCmd::Register { subject, input } => {
            let body = request_body(&input)?;
            let path = format!(
                "/subjects/{}/versions?normalize={}",
                encode_segment(&subject),
                input.normalize
            );
            let v = call(&mut c, "POST", &path, Some(&body))?;
            if as_json {
                out.json(&v)?;
            } else {
                out.line(&format!("{subject} registered with id {}", v["id"]))?;
            }
        }
        SchemaCmd::Check {
            subject,
            version,
            input,
        } => {
            let body = request_body(&input)?;
            let path = match version {
                Some(v) => format!(
                    "/compatibility/subjects/{}/versions/{}?verbose=true",
                    encode_segment(&subject),
                    encode_segment(&v)
                ),
                None => format!(
                    "/compatibility/subjects/{}/versions?verbose=true",
                    encode_segment(&subject)
                ),
            };
            let v = call(&mut c, "POST", &path, Some(&body))?;
            let ok = v["is_compatible"].as_bool().unwrap_or(false);
            if as_json {
                out.json(&v)?;
            } else if ok {
                out.line("compatible")?;
            } else {
                out.line("incompatible")?;
                for m in v["messages"].as_array().into_iter().flatten() {
                    out.line(&format!("  {}", m.as_str().unwrap_or_default()))?;
                }
            }
            out.flush()?;
            if !ok {
                return Err(CliError::Failed(format!(
                    "schema is incompatible with subject {subject}"
                )));
            }
        }
        SchemaCmd::Delete {
            subject,
            version,
            permanent,
        } => {
            let path = match version {
                Some(v) => format!(
                    "/subjects/{}/versions/{}?permanent={permanent}",
                    encode_segment(&subject),
                    encode_segment(&v)
                ),
                None => format!(
                    "/subjects/{}?permanent={permanent}",
                    encode_segment(&subject)
                ),
            };
            let v = call(&mut c, "DELETE", &path, None)?;
            if as_json {
                out.json(&v)?;
            } else {
                out.line(&format!("deleted {subject} version(s) {v}"))?;
            }
        }
        SchemaCmd::Config {
            subject,
            set,
            delete,
        } => {
            let path = match &subject {
                Some(s) => format!("/config/{}", encode_segment(s)),
                None => "/config".to_string(),
            };
            let v = if let Some(level) = set {
                call(&mut c, "PUT", &path, Some(&json!({"compatibility": level})))?
            } else if delete {
                call(&mut c, "DELETE", &path, None)?
            } else if subject.is_some() {
                call(&mut c, "GET", &format!("{path}?defaultToGlobal=true"), None)?
            } else {
                call(&mut c, "GET", &path, None)?
            };
            if as_json {
                out.json(&v)?;
            } else {
                let level = v
                    .get("compatibilityLevel")
                    .or_else(|| v.get("compatibility"));
                out.line(level.and_then(Value::as_str).unwrap_or_default())?;
            }
        }
    }
    out.flush()
}

/// What `consume --value-format` decodes.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueFormat {
    Avro,
    Json,
    Protobuf,
}

/// Decodes Confluent-framed values, fetching each writer schema once.
pub struct Decoder {
    client: Client,
    expect: SchemaType,
    schemas: HashMap<i64, ParsedSchema>,
}

/// Most schemas a decoder keeps (a topic normally uses a handful).
const MAX_CACHED: usize = 1024;

impl Decoder {
    pub fn new(url: &str, format: ValueFormat) -> Result<Decoder, CliError> {
        let expect = match format {
            ValueFormat::Avro => SchemaType::Avro,
            ValueFormat::Json => SchemaType::Json,
            ValueFormat::Protobuf => SchemaType::Protobuf,
        };
        Ok(Decoder {
            client: Client::new(url).map_err(CliError::Usage)?,
            expect,
            schemas: HashMap::new(),
        })
    }

    fn fetch_refs(
        &mut self,
        refs: &[Reference],
        depth: usize,
        out: &mut Vec<ResolvedRef>,
    ) -> Result<(), CliError> {
        if depth > 32 {
            return Err(failed("schema references nested too deep"));
        }
        for r in refs {
            let path = format!(
                "/subjects/{}/versions/{}",
                encode_segment(&r.subject),
                r.version
            );
            let v = call(&mut self.client, "GET", &path, None)?;
            let inner: Vec<Reference> =
                serde_json::from_value(v["references"].clone()).unwrap_or_default();
            self.fetch_refs(&inner, depth + 1, out)?;
            let st = v["schemaType"]
                .as_str()
                .and_then(SchemaType::parse)
                .unwrap_or_default();
            out.push(ResolvedRef {
                name: r.name.clone(),
                schema_type: st,
                schema: v["schema"].as_str().unwrap_or_default().to_string(),
            });
        }
        Ok(())
    }

    fn schema(&mut self, id: i64) -> Result<&ParsedSchema, CliError> {
        if !self.schemas.contains_key(&id) {
            let v = call(&mut self.client, "GET", &format!("/schemas/ids/{id}"), None)?;
            let st = v["schemaType"]
                .as_str()
                .and_then(SchemaType::parse)
                .unwrap_or_default();
            if st != self.expect {
                return Err(failed(format!(
                    "schema {id} is {}, not {}",
                    st.name(),
                    self.expect.name()
                )));
            }
            let refs: Vec<Reference> =
                serde_json::from_value(v["references"].clone()).unwrap_or_default();
            let mut resolved = Vec::new();
            self.fetch_refs(&refs, 1, &mut resolved)?;
            let text = v["schema"].as_str().unwrap_or_default();
            let parsed = schema::parse(st, text, &resolved, false)
                .map_err(|e| failed(format!("schema {id}: {e}")))?;
            if self.schemas.len() >= MAX_CACHED {
                self.schemas.clear();
            }
            self.schemas.insert(id, parsed);
        }
        self.schemas.get(&id).ok_or_else(|| failed("schema cache"))
    }

    /// The value as one line of JSON.
    pub fn decode(&mut self, value: &[u8]) -> Result<String, CliError> {
        let (id, payload) = fjord_schema_registry::decode::split(value).map_err(failed)?;
        let parsed = self.schema(id)?;
        let v = fjord_schema_registry::decode::decode(parsed, payload)
            .map_err(|e| failed(format!("schema {id}: {e}")))?;
        Ok(v.to_string())
    }
}
