//! Config validation and description tests.
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
    assert!(validate_topic_configs(
        &broker,
        &overrides(&[
            ("min.compaction.lag.ms", "10"),
            ("max.compaction.lag.ms", "5")
        ])
    )
    .is_err());
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
}

#[test]
fn topic_sources_and_synonyms() {
    let mut broker = BrokerConfig::default();
    assert!(broker.set("log.retention.hours", "1").unwrap());
    let over = overrides(&[("segment.bytes", "1048576"), ("min.insync.replicas", "1")]);
    let log = validate_topic_configs(&broker, &over).unwrap();
    let all = describe_topic(&broker, &over, &log);
    let get = |n: &str| all.iter().find(|d| d.name == n).unwrap().clone();

    let seg = get("segment.bytes");
    assert_eq!(seg.value.as_deref(), Some("1048576"));
    assert_eq!(seg.source, SOURCE_DYNAMIC_TOPIC);
    assert_eq!(seg.synonyms.len(), 2);
    assert_eq!(
        seg.synonyms[1],
        (
            "log.segment.bytes".into(),
            Some("1073741824".into()),
            SOURCE_DEFAULT
        )
    );

    let ret = get("retention.ms");
    assert_eq!(ret.value.as_deref(), Some("3600000"));
    assert_eq!(ret.source, SOURCE_STATIC_BROKER);
    assert_eq!(
        ret.synonyms[0],
        (
            "log.retention.ms".into(),
            Some("3600000".into()),
            SOURCE_STATIC_BROKER
        )
    );

    let ratio = get("min.cleanable.dirty.ratio");
    assert_eq!(ratio.value.as_deref(), Some("0.5"));
    assert!(ratio.is_default());
    assert_eq!(
        get("delete.retention.ms").value.as_deref(),
        Some("86400000")
    );
    let cleanup = get("cleanup.policy");
    assert_eq!(cleanup.value.as_deref(), Some("delete"));
    assert_eq!(cleanup.source, SOURCE_DEFAULT);
    assert_eq!(cleanup.config_type, TYPE_LIST);
    assert!(cleanup.is_default());

    assert_eq!(get("min.insync.replicas").source, SOURCE_DYNAMIC_TOPIC);
    assert!(!get("compression.type").read_only);
    assert!(all.windows(2).all(|w| w[0].name < w[1].name));
    for n in LogConfig::NAMES {
        assert!(is_topic_config(n), "{n} missing from the catalogue");
    }
}

#[test]
fn broker_sources() {
    let mut broker = BrokerConfig::default();
    assert!(broker.set("num.partitions", "3").unwrap());
    let all = describe_broker(&broker);
    let get = |n: &str| all.iter().find(|d| d.name == n).unwrap().clone();
    assert_eq!(get("num.partitions").value.as_deref(), Some("3"));
    assert_eq!(get("num.partitions").source, SOURCE_STATIC_BROKER);
    assert_eq!(get("log.retention.ms").source, SOURCE_DEFAULT);
    assert_eq!(get("log.retention.ms").value.as_deref(), Some("604800000"));
    assert!(all.iter().all(|d| d.read_only));
    for (b, _) in BROKER_TO_TOPIC {
        assert!(all.iter().any(|d| d.name == *b), "{b} missing");
    }
}
