//! Tests of config validation and of sources and synonyms by Kafka's rules.

use super::*;

fn overrides(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn validation() {
    let broker = BrokerConfig::default();
    let log = validate_topic_configs(
        &broker,
        &overrides(&[
            ("retention.ms", "1000"),
            ("min.insync.replicas", "2"),
            ("compression.type", "producer"),
        ]),
    )
    .unwrap();
    assert_eq!(log.retention_ms, 1000);

    let log = validate_topic_configs(
        &broker,
        &overrides(&[
            ("cleanup.policy", "compact"),
            ("min.cleanable.dirty.ratio", "0.01"),
            ("delete.retention.ms", "100"),
            ("min.compaction.lag.ms", "5"),
        ]),
    )
    .unwrap();
    assert!(log.cleanup_policy.compacts());
    assert_eq!(log.min_cleanable_dirty_ratio, 0.01);
    assert_eq!(log.delete_retention_ms, 100);
    assert_eq!(log.min_compaction_lag_ms, 5);
    assert!(
        validate_topic_configs(&broker, &overrides(&[("min.cleanable.dirty.ratio", "1.5")]))
            .is_err()
    );

    let e = validate_topic_configs(&broker, &overrides(&[("no.such.config", "1")])).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidConfig);
    assert!(e.message.contains("no.such.config"), "{}", e.message);

    let e = validate_topic_configs(&broker, &overrides(&[("segment.bytes", "x")])).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidConfig);
    assert!(e.message.contains("segment.bytes"), "{}", e.message);

    assert!(validate_topic_configs(&broker, &overrides(&[("min.insync.replicas", "0")])).is_err());
    assert!(validate_topic_configs(&broker, &overrides(&[("compression.type", "gzip")])).is_ok());
    assert!(
        validate_topic_configs(&broker, &overrides(&[("compression.type", "brotli")])).is_err()
    );
    assert!(validate_topic_configs(&broker, &overrides(&[("preallocate", "maybe")])).is_err());
    let e = validate_topic_configs(
        &broker,
        &overrides(&[
            ("min.compaction.lag.ms", "10"),
            ("max.compaction.lag.ms", "5"),
        ]),
    )
    .unwrap_err();
    assert!(e.message.contains("min.compaction.lag.ms"), "{}", e.message);
    assert!(validate_topic_configs(
        &broker,
        &overrides(&[("leader.replication.throttled.replicas", "0:1,1:1")])
    )
    .is_ok());
    assert!(validate_topic_configs(
        &broker,
        &overrides(&[("leader.replication.throttled.replicas", "0-1")])
    )
    .is_err());
    assert!(
        validate_topic_configs(&broker, &overrides(&[("remote.storage.enable", "true")])).is_err()
    );
}

#[test]
fn empty_cleanup_policy_is_accepted() {
    // Kafka 4.2: the empty list keeps everything.
    let broker = BrokerConfig::default();
    let log = validate_topic_configs(&broker, &overrides(&[("cleanup.policy", "")])).unwrap();
    assert!(!log.cleanup_policy.deletes());
    assert!(!log.cleanup_policy.compacts());
    let all = describe_topic(&broker, &overrides(&[("cleanup.policy", "")]), &log);
    let cp = all.iter().find(|d| d.name == "cleanup.policy").unwrap();
    assert_eq!(cp.value.as_deref(), Some(""));
    assert_eq!(cp.source, SOURCE_DYNAMIC_TOPIC);
}

#[test]
fn formerly_fixed_topic_configs_are_ordinary() {
    let broker = BrokerConfig::default();
    let over = overrides(&[
        ("message.timestamp.before.max.ms", "3600000"),
        ("message.timestamp.after.max.ms", "60000"),
        ("local.retention.ms", "1000"),
        ("local.retention.bytes", "4096"),
    ]);
    let log = validate_topic_configs(&broker, &over).unwrap();
    assert_eq!(log.message_timestamp_before_max_ms, 3_600_000);
    assert_eq!(log.message_timestamp_after_max_ms, 60_000);
    let all = describe_topic(&broker, &over, &log);
    assert!(
        all.iter().all(|d| !d.read_only),
        "topic configs are never read-only"
    );
    let get = |n: &str| all.iter().find(|d| d.name == n).unwrap().clone();
    assert_eq!(get("local.retention.ms").value.as_deref(), Some("1000"));
    assert_eq!(
        get("message.timestamp.after.max.ms").source,
        SOURCE_DYNAMIC_TOPIC
    );
}

#[test]
fn topic_sources_and_synonyms() {
    let mut broker = BrokerConfig::default();
    assert!(broker.set("log.retention.ms", "3600000").unwrap());
    let over = overrides(&[("segment.bytes", "1048576"), ("min.insync.replicas", "1")]);
    let log = validate_topic_configs(&broker, &over).unwrap();
    let all = describe_topic(&broker, &over, &log);
    let get = |n: &str| all.iter().find(|d| d.name == n).unwrap().clone();

    let seg = get("segment.bytes");
    assert_eq!(seg.value.as_deref(), Some("1048576"));
    assert_eq!(seg.source, SOURCE_DYNAMIC_TOPIC);
    assert_eq!(
        seg.synonyms,
        vec![
            (
                "segment.bytes".into(),
                Some("1048576".into()),
                SOURCE_DYNAMIC_TOPIC
            ),
            (
                "log.segment.bytes".into(),
                Some("1073741824".into()),
                SOURCE_DEFAULT
            )
        ]
    );

    let ret = get("retention.ms");
    assert_eq!(ret.value.as_deref(), Some("3600000"));
    assert_eq!(ret.source, SOURCE_STATIC_BROKER);
    // Everything from the first entry for log.retention.ms on is kept,
    // including log.retention.hours' default, as Kafka lists it.
    assert_eq!(
        ret.synonyms,
        vec![
            (
                "log.retention.ms".into(),
                Some("3600000".into()),
                SOURCE_STATIC_BROKER
            ),
            (
                "log.retention.hours".into(),
                Some("168".into()),
                SOURCE_DEFAULT
            )
        ]
    );

    let ratio = get("min.cleanable.dirty.ratio");
    assert_eq!(ratio.value.as_deref(), Some("0.5"));
    assert!(ratio.is_default());
    let cleanup = get("cleanup.policy");
    assert_eq!(cleanup.value.as_deref(), Some("delete"));
    assert_eq!(cleanup.source, SOURCE_DEFAULT);
    assert_eq!(cleanup.config_type, TYPE_LIST);
    assert_eq!(get("min.insync.replicas").source, SOURCE_DYNAMIC_TOPIC);
    assert!(all.windows(2).all(|w| w[0].name < w[1].name));
    for n in LogConfig::names() {
        assert!(is_topic_config(n), "{n} missing from the catalogue");
    }
}

#[test]
fn a_default_has_no_synonym_beyond_its_default_entry() {
    let broker = BrokerConfig::default();
    let log = broker.log.clone();
    let all = describe_topic(&broker, &BTreeMap::new(), &log);
    let get = |n: &str| all.iter().find(|d| d.name == n).unwrap().clone();
    // retention.ms at its default: Kafka's log.retention.ms has no default
    // of its own (it comes from log.retention.hours), so no synonym.
    let ret = get("retention.ms");
    assert_eq!(ret.source, SOURCE_DEFAULT);
    assert_eq!(ret.value.as_deref(), Some("604800000"));
    assert!(ret.synonyms.is_empty(), "{:?}", ret.synonyms);
    // One with a default of its own has exactly that entry.
    assert_eq!(
        get("segment.bytes").synonyms,
        vec![(
            "log.segment.bytes".into(),
            Some("1073741824".into()),
            SOURCE_DEFAULT
        )]
    );
    // No broker synonym: nothing.
    assert!(get("remote.storage.enable").synonyms.is_empty());
    for d in &all {
        assert!(d.synonyms.len() <= 1, "{} {:?}", d.name, d.synonyms);
        assert_eq!(d.source, SOURCE_DEFAULT, "{}", d.name);
    }
}

#[test]
fn synonym_order_over_every_source() {
    let mut stat = BrokerConfig::default();
    assert!(stat.set("log.retention.hours", "2").unwrap());
    assert!(stat.set("log.segment.bytes", "2048").unwrap());
    let cd = overrides(&[("log.retention.ms", "5000"), ("log.segment.bytes", "4096")]);
    let pb = overrides(&[("log.segment.bytes", "8192")]);
    let broker = stat.with_dynamic(cd, pb).unwrap();
    assert_eq!(broker.log.retention_ms, 5000);
    assert_eq!(broker.log.segment_bytes, 8192);
    let over = overrides(&[("segment.bytes", "16384")]);
    let log = broker.topic_log_config(&over);
    let all = describe_topic(&broker, &over, &log);
    let get = |n: &str| all.iter().find(|d| d.name == n).unwrap().clone();
    assert_eq!(
        get("segment.bytes").synonyms,
        vec![
            (
                "segment.bytes".into(),
                Some("16384".into()),
                SOURCE_DYNAMIC_TOPIC
            ),
            (
                "log.segment.bytes".into(),
                Some("8192".into()),
                SOURCE_DYNAMIC_BROKER
            ),
            (
                "log.segment.bytes".into(),
                Some("4096".into()),
                SOURCE_DYNAMIC_DEFAULT_BROKER
            ),
            (
                "log.segment.bytes".into(),
                Some("2048".into()),
                SOURCE_STATIC_BROKER
            ),
            (
                "log.segment.bytes".into(),
                Some("1073741824".into()),
                SOURCE_DEFAULT
            ),
        ]
    );
    let ret = get("retention.ms");
    assert_eq!(ret.source, SOURCE_DYNAMIC_DEFAULT_BROKER);
    assert_eq!(
        ret.synonyms,
        vec![
            (
                "log.retention.ms".into(),
                Some("5000".into()),
                SOURCE_DYNAMIC_DEFAULT_BROKER
            ),
            (
                "log.retention.hours".into(),
                Some("2".into()),
                SOURCE_STATIC_BROKER
            ),
            (
                "log.retention.hours".into(),
                Some("168".into()),
                SOURCE_DEFAULT
            ),
        ]
    );
    // The broker resource lists the same chain for its own names.
    let b = describe_broker(&broker);
    let hours = b.iter().find(|d| d.name == "log.retention.hours").unwrap();
    assert_eq!(hours.value.as_deref(), Some("2"));
    assert_eq!(hours.source, SOURCE_STATIC_BROKER);
    assert!(hours.read_only);
    let ms = b.iter().find(|d| d.name == "log.retention.ms").unwrap();
    assert!(!ms.read_only);
    assert_eq!(ms.value.as_deref(), Some("5000"));
    // The <default> resource shows only what is set there.
    let d = describe_cluster_default(&broker);
    assert_eq!(
        d.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        vec!["log.retention.ms", "log.segment.bytes"]
    );
    assert!(d
        .iter()
        .all(|d| d.source == SOURCE_DYNAMIC_DEFAULT_BROKER && d.synonyms.len() == 1));
}

#[test]
fn broker_sources() {
    let mut broker = BrokerConfig::default();
    assert!(broker.set("num.partitions", "3").unwrap());
    assert!(broker.set("fjord.slow.request.ms", "777").unwrap());
    assert!(broker
        .set("group.consumer.session.timeout.ms", "31000")
        .unwrap());
    let all = describe_broker(&broker);
    let get = |n: &str| all.iter().find(|d| d.name == n).unwrap().clone();
    assert_eq!(get("num.partitions").value.as_deref(), Some("3"));
    assert_eq!(get("num.partitions").source, SOURCE_STATIC_BROKER);
    assert!(get("num.partitions").read_only);
    for (n, v) in [
        ("fjord.slow.request.ms", "777"),
        ("group.consumer.session.timeout.ms", "31000"),
    ] {
        assert_eq!(get(n).value.as_deref(), Some(v), "{n}");
        assert_eq!(get(n).source, SOURCE_STATIC_BROKER, "{n}");
    }
    assert_eq!(get("log.retention.ms").source, SOURCE_DEFAULT);
    assert_eq!(get("log.retention.ms").value.as_deref(), Some("604800000"));
    assert_eq!(get("log.retention.minutes").value, None);
    assert_eq!(
        get("fjord.log.flush.before.ack").value.as_deref(),
        Some("true")
    );
    assert_eq!(
        get("log.flush.interval.messages").value.as_deref(),
        Some("9223372036854775807")
    );
    assert!(!get("log.cleaner.backoff.ms").read_only);
    assert!(!get("message.max.bytes").read_only);
    // Every key the file accepts is listed.
    for d in keys::broker_defs() {
        assert!(
            all.iter().any(|x| x.name == d.name()),
            "{} missing",
            d.name()
        );
    }
}
