//! Tests of the config catalogue and the layered broker config.

use super::keys::{broker_def, broker_defs, synonym_group, topic_defs, Apply, BROKER_KEYS};
use super::*;

#[test]
fn broker_names_map_to_topic_defaults() {
    let mut c = BrokerConfig::default();
    assert!(c.set("log.retention.hours", "1").unwrap());
    assert_eq!(c.log.retention_ms, 3_600_000);
    assert!(c.set("num.partitions", "3").unwrap());
    assert!(!c.set("no.such.key", "1").unwrap());
    assert!(c.set("num.partitions", "zero").is_err());
    assert!(c.set("log.segment.bytes", "-5").is_err());
    assert!(c.set("log.retention.hours", "-1").unwrap());
    assert_eq!(c.log.retention_ms, -1);
}

#[test]
fn cleaner_settings() {
    let mut c = BrokerConfig::default();
    assert!(c.log_cleaner_enable);
    assert_eq!(c.log_cleaner_backoff_ms, 15_000);
    assert_eq!(c.offsets_topic_segment_bytes, 104_857_600);
    assert!(c.set("log.cleaner.backoff.ms", "200").unwrap());
    assert!(c.set("log.cleaner.enable", "false").unwrap());
    assert!(c.set("offsets.topic.segment.bytes", "4096").unwrap());
    assert!(c.set("log.cleaner.min.cleanable.ratio", "0.1").unwrap());
    assert!(c.set("log.cleaner.delete.retention.ms", "1000").unwrap());
    assert_eq!(
        (c.log_cleaner_backoff_ms, c.log_cleaner_enable),
        (200, false)
    );
    assert_eq!(c.offsets_topic_segment_bytes, 4096);
    assert_eq!(c.log.min_cleanable_dirty_ratio, 0.1);
    assert_eq!(c.log.delete_retention_ms, 1000);
    assert!(c.set("log.cleaner.backoff.ms", "0").is_err());
    assert!(c.set("offsets.topic.segment.bytes", "10").is_err());
    assert!(c.set("log.cleaner.min.cleanable.ratio", "2").is_err());
}

#[test]
fn group_settings() {
    let mut c = BrokerConfig::default();
    assert_eq!(c.group, GroupConfig::default());
    assert_eq!(c.group.offsets_retention_ms, 7 * 24 * 3_600_000);
    assert!(c.set("group.initial.rebalance.delay.ms", "3000").unwrap());
    assert!(c.set("offsets.topic.num.partitions", "3").unwrap());
    assert!(c.set("offsets.retention.minutes", "2").unwrap());
    assert!(c.set("offsets.retention.check.interval.ms", "500").unwrap());
    assert!(c.set("group.min.session.timeout.ms", "1000").unwrap());
    assert!(c.set("group.max.session.timeout.ms", "60000").unwrap());
    assert!(c.set("offset.metadata.max.bytes", "10").unwrap());
    assert!(c.set("group.consumer.migration.policy", "UPGRADE").unwrap());
    assert_eq!(
        c.group,
        GroupConfig {
            initial_rebalance_delay_ms: 3000,
            offsets_topic_num_partitions: 3,
            offsets_retention_ms: 120_000,
            offsets_retention_check_interval_ms: 500,
            min_session_timeout_ms: 1000,
            max_session_timeout_ms: 60_000,
            offset_metadata_max_bytes: 10,
            consumer_migration_policy: fjord_group_coordinator::consumer::MigrationPolicy::Upgrade,
        }
    );
    assert!(c
        .set("group.consumer.migration.policy", "sometimes")
        .is_err());
    assert!(c.validate().is_ok());
    assert!(c.set("offsets.topic.num.partitions", "0").is_err());
    assert!(c.set("group.initial.rebalance.delay.ms", "-1").is_err());
    assert!(c.set("offsets.retention.minutes", "0").is_err());
    assert!(c.set("group.min.session.timeout.ms", "90000").unwrap());
    assert!(c.validate().is_err());
}

#[test]
fn host_port() {
    assert_eq!(
        split_host_port("127.0.0.1:9092"),
        Some(("127.0.0.1".into(), 9092))
    );
    assert_eq!(split_host_port("[::1]:9"), Some(("::1".into(), 9)));
    assert_eq!(split_host_port("nohost"), None);
}

#[test]
fn catalogue_is_consistent() {
    // Every default parses, and applying it changes nothing.
    let base = BrokerConfig::default();
    for d in broker_defs() {
        if let Some(v) = d.own_default() {
            let mut c = BrokerConfig::default();
            assert!(c.set(d.name(), &v).unwrap(), "{}", d.name());
            assert_eq!(
                format!(
                    "{:?}",
                    BrokerConfig {
                        layers: Layers::default(),
                        ..c
                    }
                ),
                format!("{base:?}"),
                "default of {}",
                d.name()
            );
        }
    }
    // Names are unique and sorted.
    let names: Vec<&str> = broker_defs().iter().map(|d| d.name()).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    let topics: Vec<&str> = topic_defs().iter().map(|d| d.name()).collect();
    assert!(topics.windows(2).all(|w| w[0] < w[1]), "{topics:?}");
    assert!(BROKER_KEYS.windows(2).all(|w| w[0].name < w[1].name));
    // Synonyms point at keys that exist.
    for k in BROKER_KEYS {
        if let Apply::Synonym { of, .. } = k.apply {
            assert!(broker_def(of).is_some(), "{} -> {of}", k.name);
        }
    }
    assert_eq!(
        synonym_group("log.retention.hours"),
        vec![
            "log.retention.ms",
            "log.retention.minutes",
            "log.retention.hours"
        ]
    );
    assert_eq!(synonym_group("num.partitions"), vec!["num.partitions"]);
    // Kafka's keys without a default of their own.
    for n in ["log.retention.ms", "log.roll.ms", "log.flush.interval.ms"] {
        assert_eq!(broker_def(n).and_then(|d| d.own_default()), None, "{n}");
    }
    assert_eq!(
        broker_def("log.segment.bytes").and_then(|d| d.own_default()),
        Some("1073741824".into())
    );
}

#[test]
fn every_file_key_is_a_broker_config() {
    // The keys issue 10 found missing from DescribeConfigs.
    for n in [
        "fjord.slow.request.ms",
        "group.consumer.session.timeout.ms",
        "group.consumer.heartbeat.interval.ms",
        "group.consumer.assignors",
        "group.consumer.max.size",
        "fjord.log.flush.before.ack",
    ] {
        assert!(broker_def(n).is_some(), "{n}");
    }
    let mut c = BrokerConfig::default();
    assert!(c.set("group.consumer.session.timeout.ms", "31000").unwrap());
    assert_eq!(c.consumer_group.session_timeout_ms, 31_000);
    assert!(c.set("group.consumer.assignors", "range, uniform").unwrap());
    assert_eq!(c.consumer_group.assignors, vec!["range", "uniform"]);
    assert!(c.set("group.consumer.assignors", "sticky").is_err());
    assert!(c.set("group.consumer.session.timeout.ms", "0").is_err());
}

#[test]
fn toml_file_flags_and_layers() {
    let dir = std::env::temp_dir().join(format!("fjord-cfg-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("fjord.toml");
    std::fs::write(
        &file,
        "\"fjord.slow.request.ms\" = 777\n\
         \"group.consumer.session.timeout.ms\" = 31000\n\
         \"log.retention.hours\" = 2\n\
         \"log.retention.minutes\" = 5\n\
         \"no.such\" = 1\n\
         [log]\n\
         dirs = \"/tmp/x\"\n",
    )
    .unwrap();
    let mut c = BrokerConfig::default();
    let unknown = c.load_toml(&file).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(unknown, vec!["no.such".to_string()]);
    assert_eq!(c.slow_request_ms, 777);
    assert_eq!(c.consumer_group.session_timeout_ms, 31_000);
    // minutes outranks hours, whatever the order in the file
    assert_eq!(c.log.retention_ms, 300_000);
    assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    assert_eq!(
        c.layers
            .statics
            .get("fjord.slow.request.ms")
            .map(String::as_str),
        Some("777")
    );

    // Dynamic layers: per broker over cluster default over static.
    let cd = BTreeMap::from([("log.retention.ms".to_string(), "1000".to_string())]);
    let d = c.with_dynamic(cd.clone(), BTreeMap::new()).unwrap();
    assert_eq!(d.log.retention_ms, 1000);
    let pb = BTreeMap::from([("log.retention.ms".to_string(), "2000".to_string())]);
    let d = c.with_dynamic(cd, pb).unwrap();
    assert_eq!(d.log.retention_ms, 2000);
    assert_eq!(d.slow_request_ms, 777);
    let bad = BTreeMap::from([("log.retention.ms".to_string(), "x".to_string())]);
    assert!(c.with_dynamic(bad, BTreeMap::new()).is_err());
}

#[test]
fn readme_config_table_is_fresh() {
    let readme = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let text = std::fs::read_to_string(readme).unwrap();
    let begin =
        "<!-- config-table:begin (generated by `fjord config list --format markdown`) -->\n";
    let end = "<!-- config-table:end -->";
    let start = text.find(begin).expect("README has the begin marker") + begin.len();
    let stop = text.find(end).expect("README has the end marker");
    assert!(
        text[start..stop] == keys::markdown_table(),
        "README's config table is stale: regenerate it with `fjord config list --format markdown`"
    );
}

#[test]
fn listeners_and_security_settings_parse_with_kafka_names() {
    use crate::security::listeners::SecurityProtocol;
    assert!(super::keys::SECURITY_KEYS
        .windows(2)
        .all(|w| w[0].name < w[1].name));
    // Zero config: PLAINTEXT on 127.0.0.1:9092, as before.
    let d = BrokerConfig::default();
    let l = d.listeners_resolved().unwrap();
    assert_eq!(l.len(), 1);
    assert_eq!(
        (l[0].name.as_str(), l[0].addr.as_str()),
        ("PLAINTEXT", "127.0.0.1:9092")
    );
    assert_eq!(d.advertised(), "127.0.0.1:9092");
    assert_eq!(
        d.sasl_mechanisms,
        vec!["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
    );
    assert_eq!(d.failed_auth_delay_ms, 100);
    let mut c = BrokerConfig::default();
    c.set(
        "listeners",
        "PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9094",
    )
    .unwrap();
    c.set("advertised.listeners", "SASL_SSL://kafka.example:19094")
        .unwrap();
    c.set("inter.broker.listener.name", "plaintext").unwrap();
    c.set("ssl.client.auth", "required").unwrap();
    c.validate().unwrap();
    let l = c.listeners_resolved().unwrap();
    assert_eq!(l[1].protocol, SecurityProtocol::SaslSsl);
    assert_eq!(
        c.advertised_for("SASL_SSL").unwrap().addr,
        "kafka.example:19094"
    );
    assert_eq!(
        c.advertised_for("PLAINTEXT").unwrap().addr,
        "127.0.0.1:9092"
    );
    // Refused: unknown protocol names, names without a protocol, Kafka's
    // formats fjord cannot read, mechanisms it does not have.
    let mut bad = BrokerConfig::default();
    bad.set("listeners", "INTERNAL://127.0.0.1:9095").unwrap();
    assert!(bad.validate().is_err());
    let mut c2 = BrokerConfig::default();
    assert!(c2.set("ssl.keystore.type", "JKS").is_err());
    assert!(c2.set("ssl.truststore.type", "JKS").is_err());
    assert!(c2
        .set("ssl.principal.mapping.rules", "RULE:^CN=(.*)$/$1/X")
        .is_err());
    assert!(c2.set("sasl.enabled.mechanisms", "GSSAPI").is_err());
    assert!(c2.set("ssl.enabled.protocols", "TLSv1.1").is_err());
    assert!(c2.set("listener.security.protocol.map", "A:TLS").is_err());
    // Secrets: sensitive, and kept out of Debug output.
    c2.set("ssl.keystore.key", "-----BEGIN PRIVATE KEY-----topsecret")
        .unwrap();
    assert!(!format!("{c2:?}").contains("topsecret"));
    assert!(broker_def("ssl.keystore.key").unwrap().sensitive());
    assert!(!broker_def("ssl.keystore.location").unwrap().sensitive());
    for k in [
        "ssl.keystore.password",
        "ssl.key.password",
        "ssl.truststore.password",
    ] {
        assert!(broker_def(k).unwrap().sensitive(), "{k}");
    }
    // PKCS12 stores and mapping rules as Kafka writes them.
    c2.set("ssl.keystore.type", "PKCS12").unwrap();
    c2.set("ssl.keystore.password", "store-secret").unwrap();
    c2.set("ssl.truststore.type", "pkcs12").unwrap();
    c2.set(
        "ssl.principal.mapping.rules",
        "RULE:^CN=(.*?),OU=(.*?),O=(.*?)$/$1/L,DEFAULT",
    )
    .unwrap();
    assert!(!format!("{c2:?}").contains("store-secret"));
    assert_eq!(c2.tls.truststore_type.name(), "PKCS12");
}

#[test]
fn the_inter_broker_listener_follows_kafkas_rules() {
    let cluster = || {
        let mut c = BrokerConfig::default();
        c.set("controller.quorum.voters", "1@127.0.0.1:9093")
            .unwrap();
        c.set(
            "listeners",
            "PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9094",
        )
        .unwrap();
        c
    };
    // Unset: the listener named as security.inter.broker.protocol
    // (PLAINTEXT by default).
    let c = cluster();
    assert_eq!(
        c.inter_broker().unwrap(),
        ("PLAINTEXT".to_string(), Some(SecurityProtocol::Plaintext))
    );
    // Both set: refused, whatever they say.
    let mut c = cluster();
    c.set("inter.broker.listener.name", "PLAINTEXT").unwrap();
    c.set("security.inter.broker.protocol", "PLAINTEXT")
        .unwrap();
    assert!(c.inter_broker().unwrap_err().contains("only one of"));
    // Derived from the protocol: that listener must exist in cluster mode.
    let mut c = cluster();
    c.set("security.inter.broker.protocol", "SSL").unwrap();
    assert!(c
        .inter_broker()
        .unwrap_err()
        .contains("SSL is not in listeners"));
    // A SASL listener needs an enabled mechanism and its login.
    let mut c = cluster();
    c.set("inter.broker.listener.name", "SASL_SSL").unwrap();
    assert!(c
        .inter_broker()
        .unwrap_err()
        .contains("sasl.mechanism.inter.broker.protocol"));
    assert!(c
        .set("sasl.mechanism.inter.broker.protocol", "GSSAPI")
        .is_err());
    c.set("sasl.mechanism.inter.broker.protocol", "scram-sha-512")
        .unwrap();
    assert!(c
        .inter_broker()
        .unwrap_err()
        .contains("listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"));
    c.set(
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config",
        r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="b" password="pw-123";"#,
    )
    .unwrap();
    assert_eq!(
        c.inter_broker().unwrap(),
        ("SASL_SSL".to_string(), Some(SecurityProtocol::SaslSsl))
    );
    assert!(!format!("{:?}", c.layers).contains("pw-123"));
    c.set("sasl.enabled.mechanisms", "PLAIN").unwrap();
    assert!(c
        .inter_broker()
        .unwrap_err()
        .contains("not in sasl.enabled.mechanisms"));
    // One node: a missing derived listener is no error (nothing dials it).
    let mut one = BrokerConfig::default();
    one.set("listeners", "SSL://127.0.0.1:9093").unwrap();
    assert_eq!(one.inter_broker().unwrap(), ("PLAINTEXT".to_string(), None));
}
