//! Compatibility of JSON Schemas, after Confluent's documented rules: data
//! valid under the writer's schema must be valid under the reader's.
//!
//! The content model decides what adding or removing a property means.
//! An *open* model (`additionalProperties` absent or true) lets the writer
//! send any extra property, so a reader may drop a property but not add one
//! (the writer may have sent it with another type) unless the added one
//! accepts anything; a *closed* model (`additionalProperties: false`) is the
//! reverse; a *partially open* model (`additionalProperties` a schema)
//! decides by that schema. Types may widen (integer→number, a type added,
//! a union extended) but not narrow; bounds (maxLength, maximum, maxItems…)
//! may loosen but not tighten; enums may grow but not shrink; a required
//! property may be added only with a default.

use std::collections::{BTreeSet, HashSet};

use serde_json::{Map, Value};

use super::json::JsonDoc;

/// How deep `$ref` chains and nested schemas are followed.
const MAX_DEPTH: usize = 64;

pub fn can_read(reader: &JsonDoc, writer: &JsonDoc) -> Vec<String> {
    let mut c = Checker {
        reader,
        writer,
        seen: HashSet::new(),
        errors: Vec::new(),
    };
    c.check(&reader.root, &writer.root, "#", 0);
    c.errors
}

struct Checker<'a> {
    reader: &'a JsonDoc,
    writer: &'a JsonDoc,
    /// (reader node, writer node) pairs being checked: a recursive schema
    /// is compatible with itself where it recurses.
    seen: HashSet<(usize, usize)>,
    errors: Vec<String>,
}

fn pointer<'v>(root: &'v Value, fragment: &str) -> Option<&'v Value> {
    if fragment.is_empty() || fragment == "/" {
        return Some(root);
    }
    root.pointer(fragment)
}

/// Follows `$ref` (local pointers and references by name) to a schema.
fn resolve<'a>(doc: &'a JsonDoc, mut v: &'a Value) -> &'a Value {
    for _ in 0..MAX_DEPTH {
        let Some(r) = v.get("$ref").and_then(Value::as_str) else {
            return v;
        };
        let (name, fragment) = r.split_once('#').unwrap_or((r, ""));
        let base = if name.is_empty() {
            Some(&doc.root)
        } else {
            doc.refs.get(name).or_else(|| {
                // `$ref` may be a URL ending with the reference's name.
                doc.refs
                    .iter()
                    .find(|(k, _)| name.ends_with(k.as_str()) || k.ends_with(name))
                    .map(|(_, v)| v)
            })
        };
        match base.and_then(|b| pointer(b, fragment)) {
            Some(next) => v = next,
            None => return v,
        }
    }
    v
}

const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "$id",
    "id",
    "$schema",
    "$comment",
    "default",
    "examples",
    "definitions",
    "$defs",
    "readOnly",
    "writeOnly",
    "deprecated",
];

/// A schema that accepts every instance.
fn accepts_all(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Object(m) => m.keys().all(|k| ANNOTATIONS.contains(&k.as_str())),
        _ => false,
    }
}

/// A schema that accepts no instance.
fn rejects_all(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !*b,
        Value::Object(m) => m.get("not").is_some_and(accepts_all),
        _ => false,
    }
}

fn types(m: &Map<String, Value>) -> Option<BTreeSet<String>> {
    match m.get("type")? {
        Value::String(s) => Some(BTreeSet::from([s.clone()])),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect(),
        ),
        _ => None,
    }
}

fn num(m: &Map<String, Value>, k: &str) -> Option<f64> {
    m.get(k).and_then(Value::as_f64)
}

fn alternatives(m: &Map<String, Value>) -> Option<&Vec<Value>> {
    m.get("oneOf")
        .or_else(|| m.get("anyOf"))
        .and_then(Value::as_array)
}

/// `additionalProperties` as a schema: absent means open (true).
fn additional(m: &Map<String, Value>) -> Value {
    m.get("additionalProperties")
        .or_else(|| m.get("unevaluatedProperties"))
        .cloned()
        .unwrap_or(Value::Bool(true))
}

impl Checker<'_> {
    fn err(&mut self, path: &str, what: String) {
        self.errors.push(format!("{what} at {path}"));
    }

    /// Whether `r` reads everything `w` writes, without recording errors.
    fn reads(&mut self, r: &Value, w: &Value, depth: usize) -> bool {
        let before = self.errors.len();
        self.check(r, w, "#", depth);
        let ok = self.errors.len() == before;
        self.errors.truncate(before);
        ok
    }

    fn check(&mut self, r: &Value, w: &Value, path: &str, depth: usize) {
        if depth > MAX_DEPTH {
            self.err(path, "schema nesting too deep to compare".into());
            return;
        }
        let r = resolve(self.reader, r);
        let w = resolve(self.writer, w);
        let key = (r as *const Value as usize, w as *const Value as usize);
        if !self.seen.insert(key) {
            return;
        }
        self.check_resolved(r, w, path, depth);
        self.seen.remove(&key);
    }

    fn check_resolved(&mut self, r: &Value, w: &Value, path: &str, depth: usize) {
        if accepts_all(r) || rejects_all(w) {
            return;
        }
        if rejects_all(r) {
            self.err(path, "reader schema accepts nothing".into());
            return;
        }
        let (Some(rm), Some(wm)) = (r.as_object(), w.as_object()) else {
            self.err(path, "schema changed".into());
            return;
        };
        if self.combined(rm, wm, path, depth) {
            return;
        }
        if let Some(r_all) = rm.get("allOf").and_then(Value::as_array) {
            let w_all = wm.get("allOf").and_then(Value::as_array);
            for (i, rc) in r_all.iter().enumerate() {
                match w_all.and_then(|wa| wa.get(i)) {
                    Some(wc) => self.check(rc, wc, &format!("{path}/allOf/{i}"), depth + 1),
                    None if self.reads(rc, w, depth + 1) => {}
                    None => self.err(
                        path,
                        "allOf extended (product type narrowed the data accepted)".into(),
                    ),
                }
            }
        }
        if rm.contains_key("not") && !wm.contains_key("not") {
            self.err(path, "not added".into());
        }
        self.enums(rm, wm, path);
        let wt = types(wm);
        if let Some(rt) = types(rm) {
            match &wt {
                None => self.err(path, format!("type narrowed to {rt:?}")),
                Some(wt) => {
                    for t in wt {
                        let widened = t == "integer" && rt.contains("number");
                        if !rt.contains(t) && !widened {
                            self.err(
                                path,
                                format!("type {t:?} removed (type changed or narrowed)"),
                            );
                        }
                    }
                }
            }
        }
        let writes = |t: &str| {
            wt.as_ref()
                .is_none_or(|s| s.contains(t) || (t == "number" && s.contains("integer")))
        };
        if writes("string") {
            self.upper(rm, wm, "maxLength", path);
            self.lower(rm, wm, "minLength", path);
            if let Some(p) = rm.get("pattern") {
                if wm.get("pattern") != Some(p) {
                    self.err(path, "pattern added or changed".into());
                }
            }
        }
        if writes("number") {
            self.upper(rm, wm, "maximum", path);
            self.upper(rm, wm, "exclusiveMaximum", path);
            self.lower(rm, wm, "minimum", path);
            self.lower(rm, wm, "exclusiveMinimum", path);
            if let Some(rmul) = num(rm, "multipleOf") {
                let ok = num(wm, "multipleOf").is_some_and(|wmul| {
                    let q = wmul / rmul;
                    (q - q.round()).abs() < 1e-9
                });
                if !ok {
                    self.err(path, "multipleOf added or changed".into());
                }
            }
        }
        if writes("object") {
            self.object(rm, wm, path, depth);
        }
        if writes("array") {
            self.array(rm, wm, path, depth);
        }
    }

    /// oneOf/anyOf on either side; true when that decided the comparison.
    fn combined(
        &mut self,
        rm: &Map<String, Value>,
        wm: &Map<String, Value>,
        path: &str,
        depth: usize,
    ) -> bool {
        match (alternatives(rm), alternatives(wm)) {
            (None, None) => false,
            (Some(ra), Some(wa)) => {
                for (i, wc) in wa.iter().enumerate() {
                    if !ra.iter().any(|rc| self.reads(rc, wc, depth + 1)) {
                        self.err(path, format!("combined type narrowed: alternative {i} of the writer is not readable"));
                    }
                }
                true
            }
            (Some(ra), None) => {
                let w = Value::Object(wm.clone());
                if !ra.iter().any(|rc| self.reads(rc, &w, depth + 1)) {
                    self.err(
                        path,
                        "type changed to a combined type that does not include it".into(),
                    );
                }
                true
            }
            (None, Some(wa)) => {
                let r = Value::Object(rm.clone());
                for (i, wc) in wa.iter().enumerate() {
                    if !self.reads(&r, wc, depth + 1) {
                        self.err(path, format!("combined type narrowed: alternative {i} of the writer is not readable"));
                    }
                }
                true
            }
        }
    }

    fn enums(&mut self, rm: &Map<String, Value>, wm: &Map<String, Value>, path: &str) {
        let set = |m: &Map<String, Value>| -> Option<Vec<Value>> {
            m.get("enum")
                .and_then(Value::as_array)
                .cloned()
                .or_else(|| m.get("const").map(|c| vec![c.clone()]))
        };
        if let Some(re) = set(rm) {
            match set(wm) {
                None => self.err(path, "enum added".into()),
                Some(we) => {
                    if we.iter().any(|v| !re.contains(v)) {
                        self.err(path, "enum narrowed".into());
                    }
                }
            }
        }
    }

    /// A bound the reader may raise or drop but not add or lower.
    fn upper(&mut self, rm: &Map<String, Value>, wm: &Map<String, Value>, k: &str, path: &str) {
        if let Some(r) = num(rm, k) {
            match num(wm, k) {
                None => self.err(path, format!("{k} added")),
                Some(w) if r < w => self.err(path, format!("{k} decreased")),
                _ => {}
            }
        }
    }

    /// A bound the reader may lower or drop but not add or raise.
    fn lower(&mut self, rm: &Map<String, Value>, wm: &Map<String, Value>, k: &str, path: &str) {
        if let Some(r) = num(rm, k) {
            match num(wm, k) {
                None if r > 0.0 => self.err(path, format!("{k} added")),
                Some(w) if r > w => self.err(path, format!("{k} increased")),
                _ => {}
            }
        }
    }

    fn object(
        &mut self,
        rm: &Map<String, Value>,
        wm: &Map<String, Value>,
        path: &str,
        depth: usize,
    ) {
        let empty = Map::new();
        let rp = rm
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let wp = wm
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let r_add = additional(rm);
        let w_add = additional(wm);
        for (name, ws) in wp {
            let p = format!("{path}/properties/{name}");
            match rp.get(name) {
                Some(rs) => self.check(rs, ws, &p, depth + 1),
                None if accepts_all(&r_add) => {}
                None if rejects_all(&r_add) => {
                    if !rejects_all(ws) {
                        self.err(&p, "property removed from closed content model".into());
                    }
                }
                None => {
                    if !self.reads(&r_add, ws, depth + 1) {
                        self.err(
                            &p,
                            "property removed not covered by partially open content model".into(),
                        );
                    }
                }
            }
        }
        for (name, rs) in rp {
            if wp.contains_key(name) {
                continue;
            }
            let p = format!("{path}/properties/{name}");
            if rejects_all(&w_add) {
                continue;
            }
            if accepts_all(&w_add) {
                if !accepts_all(resolve(self.reader, rs)) {
                    self.err(&p, "property added to open content model".into());
                }
            } else if !self.reads(rs, &w_add, depth + 1) {
                self.err(
                    &p,
                    "property added not covered by partially open content model".into(),
                );
            }
        }
        let req = |m: &Map<String, Value>| -> BTreeSet<String> {
            m.get("required")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let w_req = req(wm);
        for name in req(rm).difference(&w_req) {
            let has_default = rp
                .get(name)
                .map(|s| resolve(self.reader, s))
                .is_some_and(|s| s.get("default").is_some());
            if !has_default {
                self.err(
                    &format!("{path}/properties/{name}"),
                    "required property added".into(),
                );
            }
        }
        if !accepts_all(&r_add) && !rejects_all(&w_add) && !self.reads(&r_add, &w_add, depth + 1) {
            self.err(path, "additionalProperties narrowed or removed".into());
        }
        self.upper(rm, wm, "maxProperties", path);
        self.lower(rm, wm, "minProperties", path);
    }

    fn array(
        &mut self,
        rm: &Map<String, Value>,
        wm: &Map<String, Value>,
        path: &str,
        depth: usize,
    ) {
        let any = Value::Bool(true);
        match (rm.get("items"), wm.get("items")) {
            (Some(Value::Array(ra)), Some(Value::Array(wa))) => {
                for (i, rs) in ra.iter().enumerate() {
                    let ws = wa.get(i).unwrap_or(&any);
                    self.check(rs, ws, &format!("{path}/items/{i}"), depth + 1);
                }
            }
            (Some(ri), wi) => {
                let wi = wi.unwrap_or(&any);
                if !ri.is_array() {
                    self.check(ri, wi, &format!("{path}/items"), depth + 1);
                }
            }
            (None, _) => {}
        }
        if let (Some(rp), wp) = (
            rm.get("prefixItems").and_then(Value::as_array),
            wm.get("prefixItems").and_then(Value::as_array),
        ) {
            for (i, rs) in rp.iter().enumerate() {
                let ws = wp.and_then(|w| w.get(i)).unwrap_or(&any);
                self.check(rs, ws, &format!("{path}/prefixItems/{i}"), depth + 1);
            }
        }
        self.upper(rm, wm, "maxItems", path);
        self.lower(rm, wm, "minItems", path);
        let unique = |m: &Map<String, Value>| {
            m.get("uniqueItems")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        if unique(rm) && !unique(wm) {
            self.err(path, "uniqueItems added".into());
        }
    }
}
