//! Compatibility of Protobuf schemas, after Confluent's documented rules.
//! Messages are matched by full name and fields by number (names may
//! change): adding or removing an optional field is compatible (unknown
//! fields are skipped, missing ones take their default); removing a
//! message, changing the package, changing a field's type outside its
//! wire-compatible group (int32/uint32/int64/uint64/bool; sint32/sint64;
//! fixed32/sfixed32; fixed64/sfixed64; string/bytes), changing the named
//! type of a message or enum field, adding or removing a proto2 `required`
//! field, removing a field of a oneof, or moving fields into a oneof are
//! not. Renumbering a field reads as one field removed and one added.

use std::collections::HashMap;

use prost_reflect::{Kind, MessageDescriptor};

use super::protobuf::ProtoDoc;

pub fn can_read(reader: &ProtoDoc, writer: &ProtoDoc) -> Vec<String> {
    let mut errors = Vec::new();
    if reader.file.package_name() != writer.file.package_name() {
        errors.push(format!(
            "package changed from {:?} to {:?}",
            writer.file.package_name(),
            reader.file.package_name()
        ));
    }
    let readers: HashMap<String, MessageDescriptor> = all_messages(reader)
        .into_iter()
        .map(|m| (m.full_name().to_string(), m))
        .collect();
    for wm in all_messages(writer) {
        match readers.get(wm.full_name()) {
            // A map field's entry type goes with the field (a compatible removal).
            None if wm.is_map_entry() => {}
            None => errors.push(format!("message {} removed", wm.full_name())),
            Some(rm) => message(rm, &wm, &mut errors),
        }
    }
    errors
}

/// The messages defined in the schema's own file, nested ones included.
fn all_messages(doc: &ProtoDoc) -> Vec<MessageDescriptor> {
    let mut out = Vec::new();
    let mut stack: Vec<MessageDescriptor> = doc.file.messages().collect();
    // Bounded by the schema's size: each message is visited once.
    while let Some(m) = stack.pop() {
        stack.extend(m.child_messages());
        out.push(m);
    }
    out
}

/// Wire-compatible groups of scalar kinds (the protobuf language guide).
fn scalar_group(k: &Kind) -> Option<u8> {
    Some(match k {
        Kind::Int32 | Kind::Uint32 | Kind::Int64 | Kind::Uint64 | Kind::Bool => 0,
        Kind::Sint32 | Kind::Sint64 => 1,
        Kind::Fixed32 | Kind::Sfixed32 => 2,
        Kind::Fixed64 | Kind::Sfixed64 => 3,
        Kind::String | Kind::Bytes => 4,
        Kind::Float => 5,
        Kind::Double => 6,
        Kind::Message(_) | Kind::Enum(_) => return None,
    })
}

fn kind_name(k: &Kind) -> String {
    match k {
        Kind::Message(m) => m.full_name().to_string(),
        Kind::Enum(e) => e.full_name().to_string(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// The oneof a field belongs to, ignoring proto3 `optional`'s synthetic ones.
fn real_oneof(f: &prost_reflect::FieldDescriptor) -> Option<String> {
    f.containing_oneof()
        .filter(|o| !o.is_synthetic())
        .map(|o| o.name().to_string())
}

fn message(rm: &MessageDescriptor, wm: &MessageDescriptor, errors: &mut Vec<String>) {
    let name = wm.full_name();
    // Fields that were outside any oneof in the writer, by the reader oneof now holding them.
    let mut moved: HashMap<String, usize> = HashMap::new();
    for wf in wm.fields() {
        let Some(rf) = rm.get_field(wf.number()) else {
            if wf.is_required() {
                errors.push(format!(
                    "{name}: required field {} ({}) removed",
                    wf.name(),
                    wf.number()
                ));
            }
            if real_oneof(&wf).is_some() {
                errors.push(format!(
                    "{name}: field {} ({}) of a oneof removed",
                    wf.name(),
                    wf.number()
                ));
            }
            continue;
        };
        let (rk, wk) = (rf.kind(), wf.kind());
        match (scalar_group(&rk), scalar_group(&wk)) {
            (Some(a), Some(b)) if a == b => {}
            (None, None) => {
                let same_kind = matches!(
                    (&rk, &wk),
                    (Kind::Message(_), Kind::Message(_)) | (Kind::Enum(_), Kind::Enum(_))
                );
                if !same_kind {
                    errors.push(format!(
                        "{name}: field {} ({}) kind changed",
                        wf.name(),
                        wf.number()
                    ));
                } else if kind_name(&rk) != kind_name(&wk) {
                    errors.push(format!(
                        "{name}: field {} ({}) type changed from {} to {}",
                        wf.name(),
                        wf.number(),
                        kind_name(&wk),
                        kind_name(&rk)
                    ));
                }
            }
            _ => errors.push(format!(
                "{name}: field {} ({}) type changed from {} to {}",
                wf.name(),
                wf.number(),
                kind_name(&wk),
                kind_name(&rk)
            )),
        }
        let label_changed = rf.is_list() != wf.is_list() || rf.is_map() != wf.is_map();
        if label_changed && (matches!(rk, Kind::Message(_)) || rf.is_map() || wf.is_map()) {
            errors.push(format!(
                "{name}: field {} ({}) changed between repeated and singular",
                wf.name(),
                wf.number()
            ));
        }
        if rf.is_required() && !wf.is_required() {
            errors.push(format!(
                "{name}: field {} ({}) made required",
                wf.name(),
                wf.number()
            ));
        }
        match (real_oneof(&rf), real_oneof(&wf)) {
            (Some(ro), None) => {
                let existed = wm.oneofs().any(|o| o.name() == ro && !o.is_synthetic());
                if existed {
                    errors.push(format!(
                        "{name}: field {} ({}) moved to existing oneof {ro}",
                        wf.name(),
                        wf.number()
                    ));
                }
                *moved.entry(ro).or_default() += 1;
            }
            (None, Some(wo)) => errors.push(format!(
                "{name}: field {} ({}) moved out of oneof {wo}",
                wf.name(),
                wf.number()
            )),
            _ => {}
        }
    }
    for (oneof, n) in moved {
        if n > 1 {
            errors.push(format!("{name}: {n} fields moved into oneof {oneof}"));
        }
    }
    for rf in rm.fields() {
        if wm.get_field(rf.number()).is_none() && rf.is_required() {
            errors.push(format!(
                "{name}: required field {} ({}) added",
                rf.name(),
                rf.number()
            ));
        }
    }
}
