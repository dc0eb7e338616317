//! The registry over an in-memory log: ids, versions, deletes, configs,
//! replay (also of a compacted log), and bad input that stores nothing.

use std::collections::HashMap;
use std::sync::Arc;

use fjord_schema_registry::compat::Level;
use fjord_schema_registry::registry::{SchemaRequest, VersionSel};
use fjord_schema_registry::{Limits, MemLog, Registry, SchemaLog};

fn avro(fields: &str) -> SchemaRequest {
    SchemaRequest {
        schema: Some(format!(
            r#"{{"type":"record","name":"R","fields":[{fields}]}}"#
        )),
        ..Default::default()
    }
}

async fn open(log: &Arc<MemLog>) -> Arc<Registry> {
    let l: Arc<dyn SchemaLog> = log.clone();
    match Registry::open(l, Limits::default()).await {
        Ok(r) => r,
        Err(e) => panic!("open: {e}"),
    }
}

/// What the log cleaner would leave: the latest record per key, no tombstones.
fn compacted(log: &MemLog) -> Arc<MemLog> {
    let (recs, _) = log.read(0, usize::MAX).unwrap();
    let mut latest: HashMap<Vec<u8>, (i64, Option<Vec<u8>>)> = HashMap::new();
    for r in recs {
        latest.insert(r.key.clone(), (r.offset, r.value));
    }
    let mut kept: Vec<(i64, Vec<u8>, Vec<u8>)> = latest
        .into_iter()
        .filter_map(|(k, (o, v))| v.map(|v| (o, k, v)))
        .collect();
    kept.sort();
    let out = Arc::new(MemLog::default());
    for (_, k, v) in kept {
        out.append(&[(k, Some(v))]).unwrap();
    }
    out
}

#[tokio::test]
async fn ids_versions_and_replay() {
    let log = Arc::new(MemLog::default());
    let reg = open(&log).await;
    let a = avro(r#"{"name":"a","type":"int"}"#);
    let id1 = reg.register("s1", &a, false).await.unwrap();
    assert_eq!(reg.register("s1", &a, false).await.unwrap(), id1);
    // Same schema, other subject, other formatting: same id.
    let spaced = SchemaRequest {
        schema: Some(
            r#"{ "fields": [ {"type": "int", "name": "a"} ], "name": "R", "type": "record" }"#
                .into(),
        ),
        ..Default::default()
    };
    assert_eq!(reg.register("s2", &spaced, false).await.unwrap(), id1);
    let b = avro(r#"{"name":"a","type":"int"},{"name":"b","type":"string","default":""}"#);
    let id2 = reg.register("s1", &b, false).await.unwrap();
    assert_eq!(id2, id1 + 1);
    assert_eq!(
        reg.version("s1", VersionSel::Latest, false)
            .unwrap()
            .version,
        2
    );
    reg.set_level(Some("s1"), Some(Level::Full)).await.unwrap();

    let again = open(&log).await;
    assert_eq!(
        again
            .version("s1", VersionSel::Number(2), false)
            .unwrap()
            .v
            .id,
        id2
    );
    assert_eq!(again.read().level(Some("s1")), Level::Full);
    assert_eq!(again.read().locations(id1, false).len(), 2);
    assert_eq!(again.register("s3", &b, false).await.unwrap(), id2);
}

#[tokio::test]
async fn hard_deleted_ids_are_never_reused_even_after_compaction() {
    let log = Arc::new(MemLog::default());
    let reg = open(&log).await;
    reg.register("keep", &avro(r#"{"name":"k","type":"int"}"#), false)
        .await
        .unwrap();
    let gone = reg
        .register("gone", &avro(r#"{"name":"g","type":"int"}"#), false)
        .await
        .unwrap();
    assert_eq!(
        reg.delete_subject("gone", true).await.unwrap_err().code,
        40405
    );
    reg.delete_subject("gone", false).await.unwrap();
    assert_eq!(
        reg.delete_subject("gone", false).await.unwrap_err().code,
        40404
    );
    reg.delete_subject("gone", true).await.unwrap();
    let fresh = compacted(&log);
    let replayed = open(&fresh).await;
    assert!(!replayed.read().subjects.contains_key("gone"));
    let next = replayed
        .register("new", &avro(r#"{"name":"n","type":"long"}"#), false)
        .await
        .unwrap();
    assert!(next > gone, "id {next} reused (hard-deleted {gone})");
}

#[tokio::test]
async fn compatibility_is_enforced_and_bad_input_stores_nothing() {
    let log = Arc::new(MemLog::default());
    let reg = open(&log).await;
    reg.register("s", &avro(r#"{"name":"a","type":"int"}"#), false)
        .await
        .unwrap();
    let end = log.end_offset();
    let no_default = avro(r#"{"name":"a","type":"int"},{"name":"b","type":"string"}"#);
    assert_eq!(
        reg.register("s", &no_default, false)
            .await
            .unwrap_err()
            .code,
        409
    );
    for (req, code) in [
        (
            SchemaRequest {
                schema: Some("{".into()),
                ..Default::default()
            },
            42201,
        ),
        (
            SchemaRequest {
                schema: Some("{}".into()),
                schema_type: Some("XML".into()),
                ..Default::default()
            },
            42201,
        ),
        (
            SchemaRequest {
                schema: None,
                ..Default::default()
            },
            42201,
        ),
        (
            SchemaRequest {
                schema: Some(r#"{"type":"object"}"#.into()),
                schema_type: Some("JSON".into()),
                references: Some(vec![fjord_schema_registry::schema::Reference {
                    name: "x.json".into(),
                    subject: "missing".into(),
                    version: 1,
                }]),
                ..Default::default()
            },
            42201,
        ),
        (
            SchemaRequest {
                schema: Some("message {".into()),
                schema_type: Some("PROTOBUF".into()),
                ..Default::default()
            },
            42201,
        ),
    ] {
        assert_eq!(reg.register("s", &req, false).await.unwrap_err().code, code);
    }
    assert_eq!(log.end_offset(), end, "a refused registration was stored");
    // NONE lets it through.
    reg.set_level(Some("s"), Some(Level::None)).await.unwrap();
    assert!(reg.register("s", &no_default, false).await.is_ok());
}

#[tokio::test]
async fn references_resolve_and_protect_what_they_reference() {
    let log = Arc::new(MemLog::default());
    let reg = open(&log).await;
    let money = SchemaRequest {
        schema: Some(r#"{"type":"record","name":"Money","namespace":"x","fields":[{"name":"u","type":"long"}]}"#.into()),
        ..Default::default()
    };
    reg.register("money", &money, false).await.unwrap();
    let order = SchemaRequest {
        schema: Some(r#"{"type":"record","name":"Order","namespace":"x","fields":[{"name":"m","type":"x.Money"}]}"#.into()),
        references: Some(vec![fjord_schema_registry::schema::Reference {
            name: "x.Money".into(),
            subject: "money".into(),
            version: 1,
        }]),
        ..Default::default()
    };
    let id = reg.register("order", &order, false).await.unwrap();
    assert_eq!(reg.read().referenced_by("money", 1), vec![id]);
    assert_eq!(
        reg.delete_version("money", VersionSel::Number(1), false)
            .await
            .unwrap_err()
            .code,
        42206
    );
}
