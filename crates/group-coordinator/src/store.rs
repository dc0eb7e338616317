//! The `__consumer_offsets` record formats (Kafka's schemas, each key and
//! value prefixed by its i16 version); a group's partition is picked by
//! `fjord_protocol::internal_topics::partition_for`.

use bytes::{BufMut, Bytes, BytesMut};
use fjord_protocol::messages::group_metadata_value::MemberMetadata;
use fjord_protocol::messages::{
    GroupMetadataKey, GroupMetadataValue, OffsetCommitKey, OffsetCommitValue,
};
use fjord_protocol::{Decode, Encode};

pub use fjord_protocol::internal_topics::{java_string_hash, partition_for};

fn encode_versioned<M: Encode>(m: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i16(version);
    // Encoding our own well-formed values cannot fail at these versions.
    if let Err(e) = m.encode(&mut buf, version) {
        tracing::error!(error = %e, "encoding a __consumer_offsets record failed");
    }
    buf.freeze()
}

pub fn offset_key(group: &str, topic: &str, partition: i32) -> Bytes {
    encode_versioned(
        &OffsetCommitKey {
            group: group.to_string(),
            topic: topic.to_string(),
            partition,
            ..Default::default()
        },
        1,
    )
}

pub fn offset_value(offset: i64, leader_epoch: i32, metadata: &str, commit_ts: i64) -> Bytes {
    encode_versioned(
        &OffsetCommitValue {
            offset,
            leader_epoch,
            metadata: metadata.to_string(),
            commit_timestamp: commit_ts,
            expire_timestamp: -1,
            ..Default::default()
        },
        3,
    )
}

pub fn group_key(group: &str) -> Bytes {
    encode_versioned(
        &GroupMetadataKey {
            group: group.to_string(),
            ..Default::default()
        },
        2,
    )
}

pub struct GroupRecord {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub state_timestamp: i64,
    pub members: Vec<MemberMetadata>,
}

pub fn group_value(g: GroupRecord) -> Bytes {
    encode_versioned(
        &GroupMetadataValue {
            protocol_type: g.protocol_type,
            generation: g.generation,
            protocol: g.protocol,
            leader: g.leader,
            current_state_timestamp: g.state_timestamp,
            members: g.members,
            ..Default::default()
        },
        3,
    )
}

/// One record of `__consumer_offsets`, decoded.
pub enum Entry {
    Offset {
        group: String,
        topic: String,
        partition: i32,
        /// `None` is a tombstone.
        value: Option<OffsetCommitValue>,
    },
    Group {
        group: String,
        value: Option<GroupMetadataValue>,
    },
}

pub fn decode_entry(key: &Bytes, value: Option<&Bytes>) -> Option<Entry> {
    let mut k = key.clone();
    if k.len() < 2 {
        return None;
    }
    let kv = i16::from_be_bytes([k[0], k[1]]);
    let _ = k.split_to(2);
    let split_value = |v: &Bytes| -> Option<(i16, Bytes)> {
        if v.len() < 2 {
            return None;
        }
        let mut b = v.clone();
        let ver = i16::from_be_bytes([b[0], b[1]]);
        let _ = b.split_to(2);
        Some((ver, b))
    };
    match kv {
        0 | 1 => {
            let key = OffsetCommitKey::decode(&mut k, kv).ok()?;
            let value = match value {
                None => None,
                Some(v) => {
                    let (ver, mut b) = split_value(v)?;
                    Some(OffsetCommitValue::decode(&mut b, ver).ok()?)
                }
            };
            Some(Entry::Offset {
                group: key.group,
                topic: key.topic,
                partition: key.partition,
                value,
            })
        }
        2 => {
            let key = GroupMetadataKey::decode(&mut k, 2).ok()?;
            let value = match value {
                None => None,
                Some(v) => {
                    let (ver, mut b) = split_value(v)?;
                    Some(GroupMetadataValue::decode(&mut b, ver).ok()?)
                }
            };
            Some(Entry::Group {
                group: key.group,
                value,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_matches_java() {
        // Values computed with java.lang.String#hashCode.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99162322);
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        // Non-BMP characters hash as two UTF-16 units.
        assert_eq!(java_string_hash("\u{1F600}"), 55357 * 31 + 56832);
    }

    #[test]
    fn partition_is_abs_mod() {
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        assert_eq!(partition_for("hello", 50), 99162322 % 50);
        for g in ["g1", "group-x", "a-very-long-group-name-with-stuff"] {
            let p = partition_for(g, 8);
            assert!((0..8).contains(&p));
        }
        // "Aa" and "BB" collide in Java.
        assert_eq!(java_string_hash("Aa"), java_string_hash("BB"));
    }

    #[test]
    fn records_round_trip() {
        let k = offset_key("g", "t", 3);
        let v = offset_value(42, 7, "meta", 1000);
        assert_eq!(&k[..2], &[0, 1]);
        assert_eq!(&v[..2], &[0, 3]);
        match decode_entry(&k, Some(&v)) {
            Some(Entry::Offset {
                group,
                topic,
                partition,
                value: Some(val),
            }) => {
                assert_eq!((group.as_str(), topic.as_str(), partition), ("g", "t", 3));
                assert_eq!((val.offset, val.leader_epoch), (42, 7));
                assert_eq!(val.metadata, "meta");
            }
            _ => panic!("bad decode"),
        }
        let gk = group_key("g");
        assert_eq!(&gk[..2], &[0, 2]);
        let gv = group_value(GroupRecord {
            protocol_type: "consumer".into(),
            generation: 3,
            protocol: Some("range".into()),
            leader: Some("m1".into()),
            state_timestamp: 5,
            members: vec![MemberMetadata {
                member_id: "m1".into(),
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout: 1,
                session_timeout: 2,
                ..Default::default()
            }],
        });
        match decode_entry(&gk, Some(&gv)) {
            Some(Entry::Group {
                group,
                value: Some(val),
            }) => {
                assert_eq!(group, "g");
                assert_eq!(val.generation, 3);
                assert_eq!(val.members.len(), 1);
            }
            _ => panic!("bad decode"),
        }
        assert!(matches!(
            decode_entry(&gk, None),
            Some(Entry::Group { value: None, .. })
        ));
    }
}
