//! Unit tests of the admin helpers that need no broker.

use bytes::{Bytes, BytesMut};
use fjord_protocol::messages::consumer_protocol_assignment::TopicPartition;
use fjord_protocol::messages::ConsumerProtocolAssignment;
use fjord_protocol::Encode;

use super::{decode_assignment, ConfigEntry};

#[test]
fn assignments_decode_with_their_version_prefix() {
    let a = ConsumerProtocolAssignment {
        assigned_partitions: vec![TopicPartition {
            topic: "t".into(),
            partitions: vec![0, 2],
            ..Default::default()
        }],
        user_data: None,
        ..Default::default()
    };
    for version in [0i16, 1, 3] {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&version.to_be_bytes());
        a.encode(&mut buf, version).unwrap();
        assert_eq!(
            decode_assignment(&buf.freeze()),
            Some(vec![("t".to_string(), vec![0, 2])])
        );
    }
    assert_eq!(decode_assignment(&Bytes::new()), Some(vec![]));
    assert_eq!(decode_assignment(&Bytes::from_static(&[0, 0, 0xff])), None);
}

#[test]
fn config_sources_have_kafka_names() {
    let mut c = ConfigEntry {
        name: "retention.ms".into(),
        value: Some("1".into()),
        source: 1,
        read_only: false,
        sensitive: false,
    };
    assert_eq!(c.source_name(), "DYNAMIC_TOPIC_CONFIG");
    c.source = 5;
    assert_eq!(c.source_name(), "DEFAULT_CONFIG");
    c.source = 0;
    assert_eq!(c.source_name(), "UNKNOWN");
}
