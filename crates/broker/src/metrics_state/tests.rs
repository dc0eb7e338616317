//! Reading the broker state into gauges, and their encoding.

use std::path::PathBuf;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Registry;

use super::*;
use crate::metrics::tests::sample;

#[test]
fn lag_is_never_negative() {
    assert_eq!(consumer_lag(10, 4), 6);
    assert_eq!(consumer_lag(10, 10), 0);
    // A commit past the high watermark (e.g. after truncation).
    assert_eq!(consumer_lag(10, 12), 0);
    assert_eq!(consumer_lag(i64::MAX, -5), i64::MAX);
}

#[test]
fn state_snapshot_encodes_kafka_exporter_names() {
    let snap = StateSnapshot {
        node_id: 1,
        data_dir: PathBuf::from("/nonexistent/fjord-data"),
        topics: vec![(Arc::from("t"), 2)],
        partitions: vec![
            PartitionRow {
                topic: Arc::from("t"),
                partition: 0,
                log_start: 2,
                log_end: 11,
                high_watermark: 10,
                size_bytes: 700,
                leader: 1,
                replicas: 1,
                in_sync: 1,
            },
            PartitionRow {
                topic: Arc::from("t"),
                partition: 1,
                log_start: 0,
                log_end: 0,
                high_watermark: 0,
                size_bytes: 0,
                leader: 1,
                replicas: 1,
                in_sync: 0,
            },
        ],
        groups: vec![(Arc::from("g\"1"), 3)],
        group_offsets: vec![
            GroupOffsetRow {
                group: Arc::from("g\"1"),
                topic: Arc::from("t"),
                partition: 0,
                offset: 4,
                lag: Some(6),
            },
            GroupOffsetRow {
                group: Arc::from("g\"1"),
                topic: Arc::from("gone"),
                partition: 0,
                offset: 9,
                lag: None,
            },
        ],
        cluster: Some(ClusterRow {
            under_replicated: 2,
            under_min_isr: 1,
            controller_active: 1,
            offline: Some(3),
            quorum_leader: 1,
            quorum_epoch: 7,
            quorum_high_watermark: 42,
        }),
    };
    let mut text = String::new();
    {
        struct C(StateSnapshot);
        impl std::fmt::Debug for C {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("C")
            }
        }
        impl Collector for C {
            fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
                self.0.encode(&mut e)
            }
        }
        let mut r = Registry::default();
        r.register_collector(Box::new(C(snap)));
        prometheus_client::encoding::text::encode(&mut text, &r).unwrap();
    }
    let p = |s: &str| sample(&text, s);
    assert_eq!(p(r#"kafka_topic_partitions{topic="t"}"#), Some(2.0));
    assert_eq!(p("fjord_under_replicated_partitions"), Some(2.0));
    assert_eq!(p("fjord_under_min_isr_partitions"), Some(1.0));
    assert_eq!(p("fjord_controller_active"), Some(1.0));
    assert_eq!(p("fjord_offline_partitions"), Some(3.0));
    assert_eq!(p("fjord_quorum_epoch"), Some(7.0));
    assert_eq!(p("fjord_quorum_high_watermark"), Some(42.0));
    assert_eq!(
        p(r#"kafka_topic_partition_current_offset{topic="t",partition="0"}"#),
        Some(10.0)
    );
    assert_eq!(
        p(r#"kafka_topic_partition_oldest_offset{topic="t",partition="0"}"#),
        Some(2.0)
    );
    assert_eq!(
        p(r#"fjord_partition_log_end_offset{topic="t",partition="0"}"#),
        Some(11.0)
    );
    assert_eq!(
        p(r#"kafka_topic_partition_under_replicated_partition{topic="t",partition="0"}"#),
        Some(0.0)
    );
    assert_eq!(
        p(r#"kafka_topic_partition_under_replicated_partition{topic="t",partition="1"}"#),
        Some(1.0)
    );
    assert_eq!(
        p(r#"fjord_log_dir_size_bytes{dir="/nonexistent/fjord-data"}"#),
        Some(700.0)
    );
    // Group ids are escaped in label values.
    assert_eq!(
        p(r#"kafka_consumergroup_current_offset{consumergroup="g\"1",topic="t",partition="0"}"#),
        Some(4.0)
    );
    assert_eq!(
        p(r#"kafka_consumergroup_lag{consumergroup="g\"1",topic="t",partition="0"}"#),
        Some(6.0)
    );
    assert!(!text.contains(r#"kafka_consumergroup_lag{consumergroup="g\"1",topic="gone""#));
    assert_eq!(
        p(r#"kafka_consumergroup_lag_sum{consumergroup="g\"1",topic="t"}"#),
        Some(6.0)
    );
    assert_eq!(
        p(r#"kafka_consumergroup_members{consumergroup="g\"1"}"#),
        Some(3.0)
    );
}

#[test]
fn snapshot_reads_broker_state() {
    use fjord_group_coordinator::OffsetToCommit;
    let dir = std::env::temp_dir().join(format!("fjord-metrics-test-{}", rand::random::<u64>()));
    let config = crate::config::BrokerConfig {
        data_dir: dir.clone(),
        ..Default::default()
    };
    let state = Arc::new(BrokerState::open(config).unwrap());
    attach(&state.metrics, &state);
    let topic = state
        .create_topic("orders", 2, std::collections::BTreeMap::new())
        .unwrap();
    let p0 = &topic.partitions[0];
    let mut b = fjord_protocol::records::BatchBuilder::default();
    for i in 0..10u8 {
        b.append(1_700_000_000_000, None, Some(&[i]), &[]).unwrap();
    }
    let mut buf = bytes::BytesMut::from(&b.build().unwrap()[..]);
    let info = p0.log.append(&mut buf, p0.leader_epoch, 0).unwrap();
    p0.log.sync_to(info.last_offset + 1).unwrap();
    p0.advance_high_watermark(p0.log.durable_offset());
    let commit = |partition, offset| OffsetToCommit {
        topic: "orders".into(),
        partition,
        offset,
        leader_epoch: -1,
        metadata: None,
    };
    // A simple (generation -1) consumer: 4 of 10 on partition 0, and an
    // offset past the end of partition 1 (lag clamps at 0).
    let (errs, _) = state.groups.commit_offsets(
        "billing",
        -1,
        "",
        None,
        &[commit(0, 4), commit(1, 7)],
        crate::handlers::now_ms(),
    );
    assert!(
        errs.iter().all(|e| *e == fjord_protocol::ErrorCode::None),
        "{errs:?}"
    );

    let snap = StateSnapshot::read(&state);
    let row = snap
        .partitions
        .iter()
        .find(|r| &*r.topic == "orders" && r.partition == 0)
        .cloned()
        .unwrap();
    assert_eq!(
        (row.log_start, row.log_end, row.high_watermark),
        (0, 10, 10)
    );
    assert!(row.size_bytes > 0);
    assert_eq!(
        (row.replicas, row.in_sync, row.leader),
        (1, 1, state.node_id)
    );
    assert!(snap.topics.iter().any(|(t, n)| &**t == "orders" && *n == 2));
    let lag = |p| {
        snap.group_offsets
            .iter()
            .find(|r| &*r.group == "billing" && r.partition == p)
            .map(|r| (r.offset, r.lag))
    };
    assert_eq!(lag(0), Some((4, Some(6))));
    assert_eq!(lag(1), Some((7, Some(0))));

    let text = state.metrics.encode(None).0;
    assert_eq!(
        sample(
            &text,
            r#"kafka_consumergroup_lag{consumergroup="billing",topic="orders",partition="0"}"#
        ),
        Some(6.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"kafka_topic_partition_current_offset{topic="orders",partition="0"}"#
        ),
        Some(10.0)
    );
    assert!(text.contains("process_resident_memory_bytes"));
    state.close_all();
    let _ = std::fs::remove_dir_all(&dir);
}
