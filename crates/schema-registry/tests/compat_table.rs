//! The compatibility table: schema evolutions of each type (AVRO, JSON,
//! PROTOBUF) checked at every compatibility level, against the verdicts
//! Confluent documents for them (Avro: the specification's schema
//! resolution; JSON Schema: the open/closed/partially-open content model
//! rules; Protobuf: field-number, wire-type and oneof rules). Prints the
//! table (`cargo test -p fjord-schema-registry --test compat_table --
//! --nocapture`) and fails on any verdict that differs.

use fjord_schema_registry::compat::{check, Level};
use fjord_schema_registry::schema::{parse, ParsedSchema, SchemaType};

struct Case {
    name: &'static str,
    history: Vec<String>,
    new: String,
    /// Expected verdict per level, in `Level::ALL` order.
    expect: [bool; 7],
}

/// Expected verdicts of a one-step evolution from backward/forward.
fn two(b: bool, f: bool) -> [bool; 7] {
    [true, b, b, f, f, b && f, b && f]
}

/// Expected verdicts with a longer history: latest vs all.
fn three(b: bool, bt: bool, f: bool, ft: bool) -> [bool; 7] {
    [true, b, bt, f, ft, b && f, bt && ft]
}

fn case(name: &'static str, old: String, new: String, expect: [bool; 7]) -> Case {
    Case {
        name,
        history: vec![old],
        new,
        expect,
    }
}

// ---- AVRO --------------------------------------------------------------

fn rec(fields: &str) -> String {
    format!(r#"{{"type":"record","name":"R","namespace":"t","fields":[{fields}]}}"#)
}

fn field(name: &str, ty: &str) -> String {
    format!(r#"{{"name":"{name}","type":{ty}}}"#)
}

fn field_d(name: &str, ty: &str, default: &str) -> String {
    format!(r#"{{"name":"{name}","type":{ty},"default":{default}}}"#)
}

fn avro_cases() -> Vec<Case> {
    let a = field("a", r#""int""#);
    let one = |t: &str| rec(&field("a", t));
    let e = |syms: &str| {
        rec(&field(
            "a",
            &format!(r#"{{"type":"enum","name":"E","symbols":[{syms}]}}"#),
        ))
    };
    let nested = |inner: &str| {
        rec(&field(
            "n",
            &format!(r#"{{"type":"record","name":"N","fields":[{inner}]}}"#),
        ))
    };
    vec![
        case(
            "add field with default",
            rec(&a),
            rec(&format!("{a},{}", field_d("b", r#""string""#, r#""x""#))),
            two(true, true),
        ),
        case(
            "add field without default",
            rec(&a),
            rec(&format!("{a},{}", field("b", r#""string""#))),
            two(false, true),
        ),
        case(
            "remove field with default",
            rec(&format!("{a},{}", field_d("b", r#""string""#, r#""x""#))),
            rec(&a),
            two(true, true),
        ),
        case(
            "remove field without default",
            rec(&format!("{a},{}", field("b", r#""string""#))),
            rec(&a),
            two(true, false),
        ),
        case(
            "rename field, no alias",
            rec(&a),
            rec(&field("z", r#""int""#)),
            two(false, false),
        ),
        case(
            "rename field with default both sides",
            rec(&field_d("a", r#""int""#, "0")),
            rec(&field_d("z", r#""int""#, "0")),
            two(true, true),
        ),
        case(
            "promote int to long",
            one(r#""int""#),
            one(r#""long""#),
            two(true, false),
        ),
        case(
            "demote long to int",
            one(r#""long""#),
            one(r#""int""#),
            two(false, true),
        ),
        case(
            "promote int to double",
            one(r#""int""#),
            one(r#""double""#),
            two(true, false),
        ),
        case(
            "promote long to float",
            one(r#""long""#),
            one(r#""float""#),
            two(true, false),
        ),
        case(
            "promote float to double",
            one(r#""float""#),
            one(r#""double""#),
            two(true, false),
        ),
        case(
            "string to bytes",
            one(r#""string""#),
            one(r#""bytes""#),
            two(true, true),
        ),
        case(
            "int to string",
            one(r#""int""#),
            one(r#""string""#),
            two(false, false),
        ),
        case(
            "boolean to int",
            one(r#""boolean""#),
            one(r#""int""#),
            two(false, false),
        ),
        case(
            "enum symbol added",
            e(r#""A","B""#),
            e(r#""A","B","C""#),
            two(true, false),
        ),
        case(
            "enum symbol removed",
            e(r#""A","B","C""#),
            e(r#""A","B""#),
            two(false, true),
        ),
        case(
            "enum symbols reordered",
            e(r#""A","B""#),
            e(r#""B","A""#),
            two(true, true),
        ),
        case(
            "union widened",
            one(r#"["null","string"]"#),
            one(r#"["null","string","int"]"#),
            two(true, false),
        ),
        case(
            "union narrowed",
            one(r#"["null","string","int"]"#),
            one(r#"["null","string"]"#),
            two(false, true),
        ),
        case(
            "type made nullable union",
            one(r#""string""#),
            one(r#"["null","string"]"#),
            two(true, false),
        ),
        case(
            "union made single type",
            one(r#"["null","string"]"#),
            one(r#""string""#),
            two(false, true),
        ),
        case(
            "union branch promoted int to long",
            one(r#"["null","int"]"#),
            one(r#"["null","long"]"#),
            two(true, false),
        ),
        case(
            "add optional field (null default)",
            rec(&a),
            rec(&format!(
                "{a},{}",
                field_d("o", r#"["null","string"]"#, "null")
            )),
            two(true, true),
        ),
        case(
            "remove optional field (null default)",
            rec(&format!(
                "{a},{}",
                field_d("o", r#"["null","string"]"#, "null")
            )),
            rec(&a),
            two(true, true),
        ),
        case(
            "nested record: add field with default",
            nested(&a),
            nested(&format!("{a},{}", field_d("b", r#""long""#, "1"))),
            two(true, true),
        ),
        case(
            "nested record: add field without default",
            nested(&a),
            nested(&format!("{a},{}", field("b", r#""long""#))),
            two(false, true),
        ),
        case(
            "array items int to long",
            one(r#"{"type":"array","items":"int"}"#),
            one(r#"{"type":"array","items":"long"}"#),
            two(true, false),
        ),
        case(
            "map values int to long",
            one(r#"{"type":"map","values":"int"}"#),
            one(r#"{"type":"map","values":"long"}"#),
            two(true, false),
        ),
        case(
            "array to map",
            one(r#"{"type":"array","items":"int"}"#),
            one(r#"{"type":"map","values":"int"}"#),
            two(false, false),
        ),
        case(
            "fixed size changed",
            one(r#"{"type":"fixed","name":"F","size":4}"#),
            one(r#"{"type":"fixed","name":"F","size":8}"#),
            two(false, false),
        ),
        case(
            "record renamed",
            rec(&a),
            rec(&a).replace(r#""name":"R""#, r#""name":"S""#),
            two(false, false),
        ),
        case(
            "doc added",
            rec(&a),
            rec(&a).replace(r#""namespace":"t","#, r#""namespace":"t","doc":"orders","#),
            two(true, true),
        ),
        case(
            "default value changed",
            rec(&field_d("a", r#""int""#, "1")),
            rec(&field_d("a", r#""int""#, "2")),
            two(true, true),
        ),
        case(
            "fields reordered",
            rec(&format!("{a},{}", field("b", r#""string""#))),
            rec(&format!("{},{a}", field("b", r#""string""#))),
            two(true, true),
        ),
        Case {
            name: "field removed, re-added with another type (transitive)",
            history: vec![rec(&format!("{a},{}", field("b", r#""string""#))), rec(&a)],
            new: rec(&format!("{a},{}", field_d("b", r#""int""#, "0"))),
            expect: three(true, false, true, false),
        },
    ]
}

// ---- JSON Schema ---------------------------------------------------------

fn obj(props: &str, extra: &str) -> String {
    format!(r#"{{"type":"object","properties":{{{props}}}{extra}}}"#)
}

const CLOSED: &str = r#","additionalProperties":false"#;

fn json_cases() -> Vec<Case> {
    let a = r#""a":{"type":"string"}"#;
    let ab = r#""a":{"type":"string"},"b":{"type":"integer"}"#;
    let p = |s: &str| obj(&format!(r#""p":{s}"#), "");
    vec![
        case("add property, open model", obj(a, ""), obj(ab, ""), two(false, true)),
        case("add property, closed model", obj(a, CLOSED), obj(ab, CLOSED), two(true, false)),
        case("remove property, open model", obj(ab, ""), obj(a, ""), two(true, false)),
        case("remove property, closed model", obj(ab, CLOSED), obj(a, CLOSED), two(false, true)),
        case("add required property, closed model", obj(a, CLOSED), obj(ab, &format!(r#"{CLOSED},"required":["b"]"#)), two(false, false)),
        case("add required property with default, closed", obj(a, CLOSED), obj(r#""a":{"type":"string"},"b":{"type":"integer","default":0}"#, &format!(r#"{CLOSED},"required":["b"]"#)), two(true, false)),
        case("make existing property required", obj(a, ""), obj(a, r#","required":["a"]"#), two(false, true)),
        case("drop required", obj(a, r#","required":["a"]"#), obj(a, ""), two(true, false)),
        case("add property with empty schema, open model", obj(a, ""), obj(r#""a":{"type":"string"},"c":{}"#, ""), two(true, true)),
        case("type widened integer to number", p(r#"{"type":"integer"}"#), p(r#"{"type":"number"}"#), two(true, false)),
        case("type narrowed number to integer", p(r#"{"type":"number"}"#), p(r#"{"type":"integer"}"#), two(false, true)),
        case("type changed string to integer", p(r#"{"type":"string"}"#), p(r#"{"type":"integer"}"#), two(false, false)),
        case("type extended with null", p(r#"{"type":"string"}"#), p(r#"{"type":["string","null"]}"#), two(true, false)),
        case("maxLength added", p(r#"{"type":"string"}"#), p(r#"{"type":"string","maxLength":5}"#), two(false, true)),
        case("maxLength increased", p(r#"{"type":"string","maxLength":5}"#), p(r#"{"type":"string","maxLength":9}"#), two(true, false)),
        case("maxLength decreased", p(r#"{"type":"string","maxLength":9}"#), p(r#"{"type":"string","maxLength":5}"#), two(false, true)),
        case("minLength added", p(r#"{"type":"string"}"#), p(r#"{"type":"string","minLength":2}"#), two(false, true)),
        case("minimum decreased", p(r#"{"type":"integer","minimum":5}"#), p(r#"{"type":"integer","minimum":0}"#), two(true, false)),
        case("maximum added", p(r#"{"type":"integer"}"#), p(r#"{"type":"integer","maximum":100}"#), two(false, true)),
        case("multipleOf added", p(r#"{"type":"integer"}"#), p(r#"{"type":"integer","multipleOf":2}"#), two(false, true)),
        case("pattern added", p(r#"{"type":"string"}"#), p(r#"{"type":"string","pattern":"^a"}"#), two(false, true)),
        case("pattern removed", p(r#"{"type":"string","pattern":"^a"}"#), p(r#"{"type":"string"}"#), two(true, false)),
        case("enum extended", p(r#"{"enum":["A","B"]}"#), p(r#"{"enum":["A","B","C"]}"#), two(true, false)),
        case("enum narrowed", p(r#"{"enum":["A","B","C"]}"#), p(r#"{"enum":["A","B"]}"#), two(false, true)),
        case("enum added to a string", p(r#"{"type":"string"}"#), p(r#"{"type":"string","enum":["A"]}"#), two(false, true)),
        case("content model closed", obj(a, ""), obj(a, CLOSED), two(false, true)),
        case("content model opened", obj(a, CLOSED), obj(a, ""), two(true, false)),
        case("array items widened integer to number", p(r#"{"type":"array","items":{"type":"integer"}}"#), p(r#"{"type":"array","items":{"type":"number"}}"#), two(true, false)),
        case("maxItems added", p(r#"{"type":"array"}"#), p(r#"{"type":"array","maxItems":3}"#), two(false, true)),
        case("uniqueItems added", p(r#"{"type":"array"}"#), p(r#"{"type":"array","uniqueItems":true}"#), two(false, true)),
        case("oneOf extended", p(r#"{"oneOf":[{"type":"string"},{"type":"integer"}]}"#), p(r#"{"oneOf":[{"type":"string"},{"type":"integer"},{"type":"null"}]}"#), two(true, false)),
        case("oneOf narrowed", p(r#"{"oneOf":[{"type":"string"},{"type":"integer"}]}"#), p(r#"{"oneOf":[{"type":"string"}]}"#), two(false, true)),
        case("nested property type changed", p(&obj(r#""x":{"type":"string"}"#, "")), p(&obj(r#""x":{"type":"boolean"}"#, "")), two(false, false)),
        case("title and description changed", obj(a, r#","title":"A""#), obj(a, r#","title":"B","description":"d""#), two(true, true)),
        case("partially open: add property it covers", obj(a, r#","additionalProperties":{"type":"string"}"#), obj(r#""a":{"type":"string"},"c":{"type":"string"}"#, r#","additionalProperties":{"type":"string"}"#), two(true, true)),
        case("partially open: add property it does not cover", obj(a, r#","additionalProperties":{"type":"string"}"#), obj(r#""a":{"type":"string"},"c":{"type":"integer"}"#, r#","additionalProperties":{"type":"string"}"#), two(false, false)),
        case(
            "type changed inside a $ref definition",
            r##"{"definitions":{"D":{"type":"string"}},"type":"object","properties":{"d":{"$ref":"#/definitions/D"}}}"##.into(),
            r##"{"definitions":{"D":{"type":"integer"}},"type":"object","properties":{"d":{"$ref":"#/definitions/D"}}}"##.into(),
            two(false, false),
        ),
    ]
}

// ---- PROTOBUF ------------------------------------------------------------

fn proto(body: &str) -> String {
    format!("syntax = \"proto3\";\npackage t;\n{body}\n")
}

fn msg(fields: &str) -> String {
    proto(&format!("message M {{ {fields} }}"))
}

fn protobuf_cases() -> Vec<Case> {
    let p2 = |body: &str| format!("syntax = \"proto2\";\npackage t;\nmessage M {{ {body} }}\n");
    let e = |vals: &str| proto(&format!("enum E {{ {vals} }}\nmessage M {{ E e = 1; }}"));
    vec![
        case(
            "add field",
            msg("int32 a = 1;"),
            msg("int32 a = 1; string b = 2;"),
            two(true, true),
        ),
        case(
            "remove field",
            msg("int32 a = 1; string b = 2;"),
            msg("int32 a = 1;"),
            two(true, true),
        ),
        case(
            "rename field (same number)",
            msg("int32 a = 1;"),
            msg("int32 renamed = 1;"),
            two(true, true),
        ),
        case(
            "renumber field (reads as remove + add)",
            msg("int32 a = 1;"),
            msg("int32 a = 2;"),
            two(true, true),
        ),
        case(
            "int32 to int64",
            msg("int32 a = 1;"),
            msg("int64 a = 1;"),
            two(true, true),
        ),
        case(
            "uint64 to bool",
            msg("uint64 a = 1;"),
            msg("bool a = 1;"),
            two(true, true),
        ),
        case(
            "sint32 to sint64",
            msg("sint32 a = 1;"),
            msg("sint64 a = 1;"),
            two(true, true),
        ),
        case(
            "fixed32 to sfixed32",
            msg("fixed32 a = 1;"),
            msg("sfixed32 a = 1;"),
            two(true, true),
        ),
        case(
            "string to bytes",
            msg("string a = 1;"),
            msg("bytes a = 1;"),
            two(true, true),
        ),
        case(
            "int32 to sint32",
            msg("int32 a = 1;"),
            msg("sint32 a = 1;"),
            two(false, false),
        ),
        case(
            "string to int32",
            msg("string a = 1;"),
            msg("int32 a = 1;"),
            two(false, false),
        ),
        case(
            "float to double",
            msg("float a = 1;"),
            msg("double a = 1;"),
            two(false, false),
        ),
        case(
            "bool to string",
            msg("bool a = 1;"),
            msg("string a = 1;"),
            two(false, false),
        ),
        case(
            "scalar to message",
            proto("message N { int32 x = 1; }\nmessage M { int32 a = 1; }"),
            proto("message N { int32 x = 1; }\nmessage M { N a = 1; }"),
            two(false, false),
        ),
        case(
            "message field to another message type",
            proto("message N { int32 x = 1; }\nmessage O { int32 x = 1; }\nmessage M { N a = 1; }"),
            proto("message N { int32 x = 1; }\nmessage O { int32 x = 1; }\nmessage M { O a = 1; }"),
            two(false, false),
        ),
        case(
            "enum field to another enum",
            proto("enum E { A = 0; }\nenum F { B = 0; }\nmessage M { E e = 1; }"),
            proto("enum E { A = 0; }\nenum F { B = 0; }\nmessage M { F e = 1; }"),
            two(false, false),
        ),
        case(
            "enum value added",
            e("A = 0; B = 1;"),
            e("A = 0; B = 1; C = 2;"),
            two(true, true),
        ),
        case(
            "enum value removed",
            e("A = 0; B = 1; C = 2;"),
            e("A = 0; B = 1;"),
            two(true, true),
        ),
        case(
            "message added",
            msg("int32 a = 1;"),
            proto("message M { int32 a = 1; }\nmessage Extra { int32 x = 1; }"),
            two(true, false),
        ),
        case(
            "message removed",
            proto("message M { int32 a = 1; }\nmessage Extra { int32 x = 1; }"),
            msg("int32 a = 1;"),
            two(false, true),
        ),
        case(
            "message renamed",
            msg("int32 a = 1;"),
            proto("message Renamed { int32 a = 1; }"),
            two(false, false),
        ),
        case(
            "package changed",
            msg("int32 a = 1;"),
            "syntax = \"proto3\";\npackage other;\nmessage M { int32 a = 1; }\n".into(),
            two(false, false),
        ),
        case(
            "one field moved into a new oneof",
            msg("int32 a = 1; string b = 2;"),
            msg("int32 a = 1; oneof o { string b = 2; }"),
            two(true, false),
        ),
        case(
            "two fields moved into a new oneof",
            msg("int32 a = 1; string b = 2;"),
            msg("oneof o { int32 a = 1; string b = 2; }"),
            two(false, false),
        ),
        case(
            "field moved into an existing oneof",
            msg("int32 a = 1; oneof o { string b = 2; }"),
            msg("oneof o { int32 a = 1; string b = 2; }"),
            two(false, false),
        ),
        case(
            "oneof field added",
            msg("oneof o { string b = 2; }"),
            msg("oneof o { string b = 2; int32 c = 3; }"),
            two(true, false),
        ),
        case(
            "oneof field removed",
            msg("oneof o { string b = 2; int32 c = 3; }"),
            msg("oneof o { string b = 2; }"),
            two(false, true),
        ),
        case(
            "numeric singular to repeated",
            msg("int32 a = 1;"),
            msg("repeated int32 a = 1;"),
            two(true, true),
        ),
        case(
            "string singular to repeated",
            msg("string a = 1;"),
            msg("repeated string a = 1;"),
            two(true, true),
        ),
        case(
            "message singular to repeated",
            proto("message N { int32 x = 1; }\nmessage M { N a = 1; }"),
            proto("message N { int32 x = 1; }\nmessage M { repeated N a = 1; }"),
            two(false, false),
        ),
        case(
            "proto3 optional added",
            msg("int32 a = 1;"),
            msg("optional int32 a = 1;"),
            two(true, true),
        ),
        case(
            "nested message: field added",
            proto("message M { message N { int32 x = 1; } N n = 1; }"),
            proto("message M { message N { int32 x = 1; string y = 2; } N n = 1; }"),
            two(true, true),
        ),
        case(
            "nested message: field type changed",
            proto("message M { message N { int32 x = 1; } N n = 1; }"),
            proto("message M { message N { string x = 1; } N n = 1; }"),
            two(false, false),
        ),
        case(
            "map field added",
            msg("int32 a = 1;"),
            msg("int32 a = 1; map<string, int32> m = 2;"),
            two(true, true),
        ),
        case(
            "map value type changed",
            msg("map<string, int32> m = 1;"),
            msg("map<string, string> m = 1;"),
            two(false, false),
        ),
        case(
            "proto2 required field added",
            p2("optional int32 a = 1;"),
            p2("optional int32 a = 1; required int32 b = 2;"),
            two(false, false),
        ),
        case(
            "proto2 required field removed",
            p2("optional int32 a = 1; required int32 b = 2;"),
            p2("optional int32 a = 1;"),
            two(false, false),
        ),
        Case {
            name: "field removed, number reused with another type (transitive)",
            history: vec![msg("int32 a = 1; string b = 2;"), msg("int32 a = 1;")],
            new: msg("int32 a = 1; int32 b = 2;"),
            expect: three(true, false, true, false),
        },
    ]
}

fn parsed(t: SchemaType, text: &str) -> ParsedSchema {
    match parse(t, text, &[], false) {
        Ok(p) => p,
        Err(e) => panic!("test schema does not parse: {e}\n{text}"),
    }
}

fn mark(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

#[test]
fn compatibility_table() {
    let mut mismatches = Vec::new();
    let mut rows = 0;
    let header = Level::ALL
        .iter()
        .map(|l| format!("{:>21}", l.name()))
        .collect::<String>();
    for (t, cases) in [
        (SchemaType::Avro, avro_cases()),
        (SchemaType::Json, json_cases()),
        (SchemaType::Protobuf, protobuf_cases()),
    ] {
        assert!(
            cases.len() >= 30,
            "{} has only {} evolutions",
            t.name(),
            cases.len()
        );
        println!(
            "\n{} ({} evolutions)\n{:<60}{header}",
            t.name(),
            cases.len(),
            "evolution"
        );
        for c in &cases {
            let history: Vec<ParsedSchema> = c.history.iter().map(|h| parsed(t, h)).collect();
            let new = parsed(t, &c.new);
            let mut line = format!("{:<60}", c.name);
            for (i, level) in Level::ALL.iter().enumerate() {
                let errors = check(*level, &new, &history);
                let got = errors.is_empty();
                let cell = if got == c.expect[i] {
                    mark(got).to_string()
                } else {
                    mismatches.push(format!(
                        "{} / {} / {}: expected {}, got {} {errors:?}",
                        t.name(),
                        c.name,
                        level.name(),
                        mark(c.expect[i]),
                        mark(got)
                    ));
                    format!("{}(!)", mark(got))
                };
                line.push_str(&format!("{cell:>21}"));
            }
            println!("{line}");
            rows += 1;
        }
    }
    println!("\n{rows} evolutions x {} levels", Level::ALL.len());
    assert!(
        mismatches.is_empty(),
        "verdicts differ:\n{}",
        mismatches.join("\n")
    );
}
