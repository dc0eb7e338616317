//! Consumer group (KIP-848) records in `__consumer_offsets`, in Kafka's
//! schemas: the key's version names the record type (3 group metadata,
//! 4 partition metadata, 5 member metadata, 6 target assignment metadata,
//! 7 target assignment member, 8 current member assignment), every value
//! has version 0, and a null value (tombstone) deletes.

use bytes::{BufMut, Bytes, BytesMut};
use fjord_protocol::messages::consumer_group_current_member_assignment_value::TopicPartitions as CurrentTopicPartitions;
use fjord_protocol::messages::consumer_group_member_metadata_value::{
    ClassicMemberMetadata, ClassicProtocol,
};
use fjord_protocol::messages::consumer_group_partition_metadata_value::TopicMetadata;
use fjord_protocol::messages::consumer_group_target_assignment_member_value::TopicPartition as TargetTopicPartition;
use fjord_protocol::messages::{
    ConsumerGroupCurrentMemberAssignmentKey, ConsumerGroupCurrentMemberAssignmentValue,
    ConsumerGroupMemberMetadataKey, ConsumerGroupMemberMetadataValue, ConsumerGroupMetadataKey,
    ConsumerGroupMetadataValue, ConsumerGroupPartitionMetadataKey,
    ConsumerGroupPartitionMetadataValue, ConsumerGroupTargetAssignmentMemberKey,
    ConsumerGroupTargetAssignmentMemberValue, ConsumerGroupTargetAssignmentMetadataKey,
    ConsumerGroupTargetAssignmentMetadataValue,
};
use fjord_protocol::{Decode, Encode, Uuid};

use super::reconcile::{Assignment, MemberState, Reconciled};

pub const GROUP_METADATA: i16 = 3;
pub const PARTITION_METADATA: i16 = 4;
pub const MEMBER_METADATA: i16 = 5;
pub const TARGET_METADATA: i16 = 6;
pub const TARGET_MEMBER: i16 = 7;
pub const CURRENT_MEMBER: i16 = 8;

/// Whether a `__consumer_offsets` key is one of ours (by its version).
pub fn is_consumer_group_key(key: &[u8]) -> bool {
    key.len() >= 2 && (3..=8).contains(&i16::from_be_bytes([key[0], key[1]]))
}

fn encode_versioned<M: Encode>(m: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i16(version);
    if let Err(e) = m.encode(&mut buf, version) {
        tracing::error!(error = %e, "encoding a consumer group record failed");
    }
    buf.freeze()
}

/// What the member metadata record holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemberMeta {
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub server_assignor: Option<String>,
    /// Set for a member that speaks the classic protocol (JoinGroup,
    /// SyncGroup, Heartbeat) inside a consumer group.
    pub classic: Option<ClassicMeta>,
}

/// What a classic member inside a consumer group joined with.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassicMeta {
    pub session_timeout_ms: i32,
    /// (protocol name, subscription metadata), in the member's order.
    pub protocols: Vec<(String, Bytes)>,
}

/// A decoded record: `None` payloads are tombstones.
#[derive(Debug, PartialEq)]
pub enum Record {
    Group {
        group: String,
        epoch: Option<i32>,
    },
    /// Topic name → (id, partitions).
    PartitionMetadata {
        group: String,
        topics: Option<Vec<(String, Uuid, i32)>>,
    },
    Member {
        group: String,
        member: String,
        meta: Option<MemberMeta>,
    },
    TargetMetadata {
        group: String,
        epoch: Option<i32>,
    },
    TargetMember {
        group: String,
        member: String,
        assignment: Option<Assignment>,
    },
    CurrentMember {
        group: String,
        member: String,
        current: Option<Reconciled>,
    },
}

impl Record {
    pub fn group(&self) -> &str {
        match self {
            Record::Group { group, .. }
            | Record::PartitionMetadata { group, .. }
            | Record::Member { group, .. }
            | Record::TargetMetadata { group, .. }
            | Record::TargetMember { group, .. }
            | Record::CurrentMember { group, .. } => group,
        }
    }
}

fn to_current(a: &Assignment) -> Vec<CurrentTopicPartitions> {
    a.iter()
        .map(|(t, ps)| CurrentTopicPartitions {
            topic_id: *t,
            partitions: ps.iter().copied().collect(),
            ..Default::default()
        })
        .collect()
}

fn from_pairs<'a>(it: impl Iterator<Item = (&'a Uuid, &'a Vec<i32>)>) -> Assignment {
    let mut a = Assignment::new();
    for (t, ps) in it {
        if !ps.is_empty() {
            a.entry(*t).or_default().extend(ps.iter().copied());
        }
    }
    a
}

pub fn group_metadata(group: &str, epoch: Option<i32>) -> (Bytes, Option<Bytes>) {
    let key = ConsumerGroupMetadataKey {
        group_id: group.to_string(),
        ..Default::default()
    };
    let value = epoch.map(|epoch| {
        encode_versioned(
            &ConsumerGroupMetadataValue {
                epoch,
                ..Default::default()
            },
            0,
        )
    });
    (encode_versioned(&key, GROUP_METADATA), value)
}

pub fn partition_metadata(
    group: &str,
    topics: Option<&[(String, Uuid, i32)]>,
) -> (Bytes, Option<Bytes>) {
    let key = ConsumerGroupPartitionMetadataKey {
        group_id: group.to_string(),
        ..Default::default()
    };
    let value = topics.map(|ts| {
        encode_versioned(
            &ConsumerGroupPartitionMetadataValue {
                topics: ts
                    .iter()
                    .map(|(name, id, n)| TopicMetadata {
                        topic_id: *id,
                        topic_name: name.clone(),
                        num_partitions: *n,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
            0,
        )
    });
    (encode_versioned(&key, PARTITION_METADATA), value)
}

pub fn member_metadata(
    group: &str,
    member: &str,
    meta: Option<&MemberMeta>,
) -> (Bytes, Option<Bytes>) {
    let key = ConsumerGroupMemberMetadataKey {
        group_id: group.to_string(),
        member_id: member.to_string(),
        ..Default::default()
    };
    let value = meta.map(|m| {
        encode_versioned(
            &ConsumerGroupMemberMetadataValue {
                instance_id: m.instance_id.clone(),
                rack_id: m.rack_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                subscribed_topic_names: m.subscribed_topic_names.clone(),
                subscribed_topic_regex: m.subscribed_topic_regex.clone(),
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                server_assignor: m.server_assignor.clone(),
                classic_member_metadata: m.classic.as_ref().map(|c| ClassicMemberMetadata {
                    session_timeout_ms: c.session_timeout_ms,
                    supported_protocols: c
                        .protocols
                        .iter()
                        .map(|(name, metadata)| ClassicProtocol {
                            name: name.clone(),
                            metadata: metadata.clone(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            0,
        )
    });
    (encode_versioned(&key, MEMBER_METADATA), value)
}

pub fn target_metadata(group: &str, epoch: Option<i32>) -> (Bytes, Option<Bytes>) {
    let key = ConsumerGroupTargetAssignmentMetadataKey {
        group_id: group.to_string(),
        ..Default::default()
    };
    let value = epoch.map(|assignment_epoch| {
        encode_versioned(
            &ConsumerGroupTargetAssignmentMetadataValue {
                assignment_epoch,
                ..Default::default()
            },
            0,
        )
    });
    (encode_versioned(&key, TARGET_METADATA), value)
}

pub fn target_member(group: &str, member: &str, a: Option<&Assignment>) -> (Bytes, Option<Bytes>) {
    let key = ConsumerGroupTargetAssignmentMemberKey {
        group_id: group.to_string(),
        member_id: member.to_string(),
        ..Default::default()
    };
    let value = a.map(|a| {
        encode_versioned(
            &ConsumerGroupTargetAssignmentMemberValue {
                topic_partitions: a
                    .iter()
                    .map(|(t, ps)| TargetTopicPartition {
                        topic_id: *t,
                        partitions: ps.iter().copied().collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
            0,
        )
    });
    (encode_versioned(&key, TARGET_MEMBER), value)
}

pub fn current_member(group: &str, member: &str, r: Option<&Reconciled>) -> (Bytes, Option<Bytes>) {
    let key = ConsumerGroupCurrentMemberAssignmentKey {
        group_id: group.to_string(),
        member_id: member.to_string(),
        ..Default::default()
    };
    let value = r.map(|r| {
        encode_versioned(
            &ConsumerGroupCurrentMemberAssignmentValue {
                member_epoch: r.member_epoch,
                previous_member_epoch: r.previous_member_epoch,
                state: r.state.value(),
                assigned_partitions: to_current(&r.assigned),
                partitions_pending_revocation: to_current(&r.pending_revocation),
                ..Default::default()
            },
            0,
        )
    });
    (encode_versioned(&key, CURRENT_MEMBER), value)
}

fn split_version(b: &Bytes) -> Option<(i16, Bytes)> {
    if b.len() < 2 {
        return None;
    }
    let mut b = b.clone();
    let v = i16::from_be_bytes([b[0], b[1]]);
    let _ = b.split_to(2);
    Some((v, b))
}

/// Decodes one record; `None` for keys that are not ours or do not parse.
pub fn decode(key: &Bytes, value: Option<&Bytes>) -> Option<Record> {
    let (kv, mut k) = split_version(key)?;
    let value = match value {
        Some(v) => Some(split_version(v)?),
        None => None,
    };
    Some(match kv {
        GROUP_METADATA => {
            let key = ConsumerGroupMetadataKey::decode(&mut k, kv).ok()?;
            let epoch = match value {
                Some((ver, mut b)) => {
                    Some(ConsumerGroupMetadataValue::decode(&mut b, ver).ok()?.epoch)
                }
                None => None,
            };
            Record::Group {
                group: key.group_id,
                epoch,
            }
        }
        PARTITION_METADATA => {
            let key = ConsumerGroupPartitionMetadataKey::decode(&mut k, kv).ok()?;
            let topics = match value {
                Some((ver, mut b)) => Some(
                    ConsumerGroupPartitionMetadataValue::decode(&mut b, ver)
                        .ok()?
                        .topics
                        .into_iter()
                        .map(|t| (t.topic_name, t.topic_id, t.num_partitions))
                        .collect(),
                ),
                None => None,
            };
            Record::PartitionMetadata {
                group: key.group_id,
                topics,
            }
        }
        MEMBER_METADATA => {
            let key = ConsumerGroupMemberMetadataKey::decode(&mut k, kv).ok()?;
            let meta = match value {
                Some((ver, mut b)) => {
                    let v = ConsumerGroupMemberMetadataValue::decode(&mut b, ver).ok()?;
                    Some(MemberMeta {
                        instance_id: v.instance_id,
                        rack_id: v.rack_id,
                        client_id: v.client_id,
                        client_host: v.client_host,
                        subscribed_topic_names: v.subscribed_topic_names,
                        subscribed_topic_regex: v.subscribed_topic_regex,
                        rebalance_timeout_ms: v.rebalance_timeout_ms,
                        server_assignor: v.server_assignor,
                        classic: v.classic_member_metadata.map(|c| ClassicMeta {
                            session_timeout_ms: c.session_timeout_ms,
                            protocols: c
                                .supported_protocols
                                .into_iter()
                                .map(|p| (p.name, p.metadata))
                                .collect(),
                        }),
                    })
                }
                None => None,
            };
            Record::Member {
                group: key.group_id,
                member: key.member_id,
                meta,
            }
        }
        TARGET_METADATA => {
            let key = ConsumerGroupTargetAssignmentMetadataKey::decode(&mut k, kv).ok()?;
            let epoch = match value {
                Some((ver, mut b)) => Some(
                    ConsumerGroupTargetAssignmentMetadataValue::decode(&mut b, ver)
                        .ok()?
                        .assignment_epoch,
                ),
                None => None,
            };
            Record::TargetMetadata {
                group: key.group_id,
                epoch,
            }
        }
        TARGET_MEMBER => {
            let key = ConsumerGroupTargetAssignmentMemberKey::decode(&mut k, kv).ok()?;
            let assignment = match value {
                Some((ver, mut b)) => {
                    let v = ConsumerGroupTargetAssignmentMemberValue::decode(&mut b, ver).ok()?;
                    Some(from_pairs(
                        v.topic_partitions
                            .iter()
                            .map(|t| (&t.topic_id, &t.partitions)),
                    ))
                }
                None => None,
            };
            Record::TargetMember {
                group: key.group_id,
                member: key.member_id,
                assignment,
            }
        }
        CURRENT_MEMBER => {
            let key = ConsumerGroupCurrentMemberAssignmentKey::decode(&mut k, kv).ok()?;
            let current = match value {
                Some((ver, mut b)) => {
                    let v = ConsumerGroupCurrentMemberAssignmentValue::decode(&mut b, ver).ok()?;
                    Some(Reconciled {
                        state: MemberState::from_value(v.state),
                        member_epoch: v.member_epoch,
                        previous_member_epoch: v.previous_member_epoch,
                        assigned: from_pairs(
                            v.assigned_partitions
                                .iter()
                                .map(|t| (&t.topic_id, &t.partitions)),
                        ),
                        pending_revocation: from_pairs(
                            v.partitions_pending_revocation
                                .iter()
                                .map(|t| (&t.topic_id, &t.partitions)),
                        ),
                    })
                }
                None => None,
            };
            Record::CurrentMember {
                group: key.group_id,
                member: key.member_id,
                current,
            }
        }
        _ => return None,
    })
}
