//! Output shapes: aligned text tables, the record format strings of
//! `consume --format`, JSON records, and Kafka's base64 topic ids.

use fjord_client::ConsumedRecord;
use serde_json::{json, Map, Value};

/// A text table: a header row and left-aligned columns two spaces apart.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let cols = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(cols) {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        for r in std::iter::once(&self.header).chain(self.rows.iter()) {
            let mut line = String::new();
            for (i, w) in widths.iter().enumerate() {
                let cell = r.get(i).map(String::as_str).unwrap_or("");
                if i + 1 == cols {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(w - cell.chars().count() + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `-` for a missing value in text tables.
pub fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

pub fn join_ids(ids: &[i32]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

const B64_STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64_with(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with padding (for binary keys and values in JSON).
pub fn base64(data: &[u8]) -> String {
    base64_with(data, B64_STD, true)
}

/// A topic id as Kafka prints it: URL-safe base64 without padding.
pub fn topic_id(id: &fjord_protocol::Uuid) -> String {
    base64_with(&id.0, B64_URL, false)
}

/// One piece of a record format string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Literal(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Timestamp,
    Key,
    Value,
    Headers,
    KeyLength,
    ValueLength,
}

/// How `consume` prints records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordFormat {
    /// The value, one line per record.
    Text,
    /// One JSON object per line.
    Json,
    Template(Vec<Token>),
}

pub const DIRECTIVES: &str = "%t topic, %p partition, %o offset, %T timestamp, %k key, %v value, %h headers, %K key length, %S value length, %% a percent sign";

/// `text`, `json`, or a format string with %-directives (see
/// [`DIRECTIVES`]) and the escapes `\n`, `\t`, `\r`, `\\`. A newline is
/// added after each record unless the format ends with one.
pub fn parse_record_format(s: &str) -> Result<RecordFormat, String> {
    match s {
        "text" => return Ok(RecordFormat::Text),
        "json" => return Ok(RecordFormat::Json),
        _ => {}
    }
    if !s.contains('%') {
        return Err(format!(
            "{s:?} is not text, json or a format string with %-directives ({DIRECTIVES})"
        ));
    }
    let mut tokens = Vec::new();
    let mut lit: Vec<u8> = Vec::new();
    let mut chars = s.chars();
    let flush = |lit: &mut Vec<u8>, tokens: &mut Vec<Token>| {
        if !lit.is_empty() {
            tokens.push(Token::Literal(std::mem::take(lit)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                let t = match chars.next() {
                    Some('t') => Token::Topic,
                    Some('p') => Token::Partition,
                    Some('o') => Token::Offset,
                    Some('T') => Token::Timestamp,
                    Some('k') => Token::Key,
                    Some('v') => Token::Value,
                    Some('h') => Token::Headers,
                    Some('K') => Token::KeyLength,
                    Some('S') => Token::ValueLength,
                    Some('%') => {
                        lit.push(b'%');
                        continue;
                    }
                    Some(other) => {
                        return Err(format!("unknown directive %{other} (known: {DIRECTIVES})"))
                    }
                    None => return Err(format!("format ends with a lone % (known: {DIRECTIVES})")),
                };
                flush(&mut lit, &mut tokens);
                tokens.push(t);
            }
            '\\' => match chars.next() {
                Some('n') => lit.push(b'\n'),
                Some('t') => lit.push(b'\t'),
                Some('r') => lit.push(b'\r'),
                Some('\\') => lit.push(b'\\'),
                Some(other) => {
                    lit.push(b'\\');
                    let mut buf = [0u8; 4];
                    lit.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                }
                None => lit.push(b'\\'),
            },
            other => {
                let mut buf = [0u8; 4];
                lit.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    if !lit.ends_with(b"\n") {
        lit.push(b'\n');
    }
    flush(&mut lit, &mut tokens);
    Ok(RecordFormat::Template(tokens))
}

fn len_or_minus_one(b: &Option<bytes::Bytes>) -> String {
    b.as_ref().map_or(-1, |b| b.len() as i64).to_string()
}

/// Renders `r` (of `topic`) into `out`.
pub fn render_record(format: &RecordFormat, topic: &str, r: &ConsumedRecord, out: &mut Vec<u8>) {
    match format {
        RecordFormat::Text => {
            out.extend_from_slice(r.value.as_deref().unwrap_or_default());
            out.push(b'\n');
        }
        RecordFormat::Json => {
            out.extend_from_slice(record_json(topic, r).to_string().as_bytes());
            out.push(b'\n');
        }
        RecordFormat::Template(tokens) => {
            for t in tokens {
                match t {
                    Token::Literal(l) => out.extend_from_slice(l),
                    Token::Topic => out.extend_from_slice(topic.as_bytes()),
                    Token::Partition => out.extend_from_slice(r.partition.to_string().as_bytes()),
                    Token::Offset => out.extend_from_slice(r.offset.to_string().as_bytes()),
                    Token::Timestamp => out.extend_from_slice(r.timestamp.to_string().as_bytes()),
                    Token::Key => out.extend_from_slice(r.key.as_deref().unwrap_or_default()),
                    Token::Value => out.extend_from_slice(r.value.as_deref().unwrap_or_default()),
                    Token::KeyLength => out.extend_from_slice(len_or_minus_one(&r.key).as_bytes()),
                    Token::ValueLength => {
                        out.extend_from_slice(len_or_minus_one(&r.value).as_bytes())
                    }
                    Token::Headers => {
                        for (i, h) in r.headers.iter().enumerate() {
                            if i > 0 {
                                out.push(b',');
                            }
                            out.extend_from_slice(&h.key);
                            if let Some(v) = &h.value {
                                out.push(b'=');
                                out.extend_from_slice(v);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Bytes as a JSON string when they are UTF-8; otherwise the lossy string
/// plus `<name>_base64` with the exact bytes.
fn put_bytes(obj: &mut Map<String, Value>, name: &str, b: Option<&[u8]>) {
    match b {
        None => {
            obj.insert(name.into(), Value::Null);
        }
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => {
                obj.insert(name.into(), Value::String(s.into()));
            }
            Err(_) => {
                obj.insert(
                    name.into(),
                    Value::String(String::from_utf8_lossy(b).into()),
                );
                obj.insert(format!("{name}_base64"), Value::String(base64(b)));
            }
        },
    }
}

pub fn record_json(topic: &str, r: &ConsumedRecord) -> Value {
    let mut obj = Map::new();
    obj.insert("topic".into(), json!(topic));
    obj.insert("partition".into(), json!(r.partition));
    obj.insert("offset".into(), json!(r.offset));
    obj.insert("timestamp".into(), json!(r.timestamp));
    put_bytes(&mut obj, "key", r.key.as_deref());
    put_bytes(&mut obj, "value", r.value.as_deref());
    let headers: Vec<Value> = r
        .headers
        .iter()
        .map(|h| {
            let mut o = Map::new();
            o.insert("key".into(), json!(String::from_utf8_lossy(&h.key)));
            put_bytes(&mut o, "value", h.value.as_deref());
            Value::Object(o)
        })
        .collect();
    obj.insert("headers".into(), Value::Array(headers));
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use fjord_protocol::records::Header;

    fn record() -> ConsumedRecord {
        ConsumedRecord {
            partition: 2,
            offset: 41,
            timestamp: 1_700_000_000_123,
            log_append_time: false,
            key: Some(Bytes::from_static(b"k1")),
            value: Some(Bytes::from_static(b"hello")),
            headers: vec![
                Header {
                    key: Bytes::from_static(b"h1"),
                    value: Some(Bytes::from_static(b"v1")),
                },
                Header {
                    key: Bytes::from_static(b"flag"),
                    value: None,
                },
            ],
        }
    }

    fn render(fmt: &str, r: &ConsumedRecord) -> String {
        let f = parse_record_format(fmt).unwrap();
        let mut out = Vec::new();
        render_record(&f, "demo", r, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn format_strings() {
        let r = record();
        assert_eq!(render("%p:%o %k=%v", &r), "2:41 k1=hello\n");
        assert_eq!(render("%t/%p@%o %T", &r), "demo/2@41 1700000000123\n");
        assert_eq!(render("%h", &r), "h1=v1,flag\n");
        assert_eq!(render("%K %S 100%%", &r), "2 5 100%\n");
        assert_eq!(render("%k\\t%v\\n", &r), "k1\thello\n");
        assert_eq!(render("text", &r), "hello\n");
        let mut nulls = r.clone();
        nulls.key = None;
        nulls.value = None;
        assert_eq!(render("[%k][%v] %K %S", &nulls), "[][] -1 -1\n");
    }

    #[test]
    fn bad_format_strings() {
        for bad in ["jsn", "%x", "%", "abc%"] {
            assert!(parse_record_format(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_record_format("json").unwrap(), RecordFormat::Json);
        assert_eq!(
            parse_record_format("%v").unwrap(),
            RecordFormat::Template(vec![Token::Value, Token::Literal(b"\n".to_vec())])
        );
    }

    #[test]
    fn json_records() {
        let v = record_json("demo", &record());
        assert_eq!(
            v,
            json!({"topic": "demo", "partition": 2, "offset": 41, "timestamp": 1_700_000_000_123i64,
                   "key": "k1", "value": "hello",
                   "headers": [{"key": "h1", "value": "v1"}, {"key": "flag", "value": null}]})
        );
        let mut bin = record();
        bin.value = Some(Bytes::from_static(&[0xff, 0x00, 0x41]));
        bin.key = None;
        let v = record_json("demo", &bin);
        assert_eq!(v["key"], Value::Null);
        assert_eq!(v["value_base64"], json!("/wBB"));
    }

    #[test]
    fn base64_and_topic_ids() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        let id = fjord_protocol::Uuid([0xfb; 16]);
        assert_eq!(topic_id(&id), "-_v7-_v7-_v7-_v7-_v7-w");
    }

    #[test]
    fn tables_align_columns() {
        let mut t = Table::new(&["A", "LONGER", "C"]);
        t.row(vec!["xyz".into(), "1".into(), "".into()]);
        t.row(vec!["q".into(), "22".into(), "end".into()]);
        assert_eq!(t.render(), "A    LONGER  C\nxyz  1\nq    22      end\n");
    }
}
