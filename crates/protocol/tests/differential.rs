//! Differential tests against an independent implementation of the Kafka
//! wire protocol, the `kafka-protocol` crate (0.18, generated from Kafka
//! 4.1's message definitions by different code).
//!
//! Every message that both crates define is covered, for every version
//! that both support: requests, responses and the two header schemas.
//! For each (message, version, seed):
//!
//! 1. A value of fjord's type is built with every field set to something
//!    random (edge values included), then restricted to the version by a
//!    round trip through fjord (fields the version lacks fall back to their
//!    defaults).
//! 2. Reverse: the value is converted field by field to kafka-protocol's
//!    type (`Conv`, written independently of either codec) and encoded by
//!    kafka-protocol; fjord must decode those bytes to the original, and
//!    fjord's own encoding must be byte-identical to kafka-protocol's.
//! 3. Forward: kafka-protocol decodes fjord's bytes; the result must equal
//!    the converted value, re-encode to the same bytes, and decode in fjord
//!    to the original.
//! 4. Reverse from the unrestricted value: kafka-protocol encodes the
//!    converted *full* value, deciding on its own which fields the version
//!    carries. It refuses when a non-default field is missing from the
//!    version; when it accepts, fjord must decode the result to the
//!    restricted value and its own bytes must be identical. This catches
//!    version-gating disagreements on tagged (and ignorable) fields, which
//!    positional decoding in 2–3 cannot see.
//!
//! Values are built by `Arb` (a small seeded generator) and converted by
//! `Conv`; the per-struct field lists (`arb!` in `support/arb_table.rs`, `conv!`
//! below) were derived from the two
//! crates' struct definitions and name every field, so a field that one
//! crate gains and the other lacks shows up here as a compile error or a
//! test failure. Seeds come from proptest; a failure prints the seed,
//! message, version and the first differing byte.
//!
//! kafka-protocol aborts the process on some hostile input (a huge array
//! count allocates before checking), and bytes written for a different
//! schema are hostile to it, so it only ever decodes bytes identical to its
//! own encoding (see step 2).

use std::collections::BTreeMap;
use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use fjord_protocol::messages as o;
use fjord_protocol::{Decode, Encode, EncodeError, RawTaggedField};
use kafka_protocol::messages as t;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use proptest::prelude::*;

include!("support/gen.rs");
include!("support/arb_table.rs");

// ----------------------------------------------------------- conversion

/// Field-by-field conversion of a fjord value to the kafka-protocol one.
trait Conv<T> {
    fn conv(&self) -> T;
}

macro_rules! conv_id {
    ($($ty:ty),*) => {$(
        impl Conv<$ty> for $ty {
            fn conv(&self) -> $ty {
                self.clone()
            }
        }
    )*};
}
conv_id!(bool, i8, i16, i32, i64, u16, u32, f64, Bytes);

impl Conv<t::BrokerId> for i32 {
    fn conv(&self) -> t::BrokerId {
        t::BrokerId(*self)
    }
}
impl Conv<t::ProducerId> for i64 {
    fn conv(&self) -> t::ProducerId {
        t::ProducerId(*self)
    }
}
impl Conv<StrBytes> for String {
    fn conv(&self) -> StrBytes {
        StrBytes::from_string(self.clone())
    }
}
impl Conv<t::TopicName> for String {
    fn conv(&self) -> t::TopicName {
        t::TopicName(self.conv())
    }
}
impl Conv<t::GroupId> for String {
    fn conv(&self) -> t::GroupId {
        t::GroupId(self.conv())
    }
}
impl Conv<t::TransactionalId> for String {
    fn conv(&self) -> t::TransactionalId {
        t::TransactionalId(self.conv())
    }
}
impl Conv<uuid::Uuid> for fjord_protocol::Uuid {
    fn conv(&self) -> uuid::Uuid {
        uuid::Uuid::from_bytes(self.0)
    }
}
impl<A: Conv<B>, B> Conv<Vec<B>> for Vec<A> {
    fn conv(&self) -> Vec<B> {
        self.iter().map(Conv::conv).collect()
    }
}
impl<A: Conv<B>, B> Conv<Option<B>> for Option<A> {
    fn conv(&self) -> Option<B> {
        self.as_ref().map(Conv::conv)
    }
}

/// fjord models every `records` field as `Option<Bytes>`, even where Kafka
/// declares it non-nullable (FetchSnapshotResponse's UnalignedRecords);
/// there `None` cannot be encoded and kafka-protocol uses plain `Bytes`.
impl Conv<Bytes> for Option<Bytes> {
    fn conv(&self) -> Bytes {
        self.clone().unwrap_or_default()
    }
}

fn conv_unknown(fields: &[RawTaggedField]) -> BTreeMap<i32, Bytes> {
    fields
        .iter()
        .map(|f| (f.tag as i32, f.data.clone()))
        .collect()
}

/// `Conv` for one struct: `shared` fields have the same name in both
/// crates, `ours_only` exist only in fjord (versions kafka-protocol dropped;
/// they must be absent from every version both support, or the checks
/// fail), `renamed` differ only in name, and `tags` says whether
/// kafka-protocol's struct keeps unknown tagged fields (it omits them for
/// messages with no flexible version).
macro_rules! conv {
    ($m:ident :: $s:ident, $($rest:tt)*) => {
        conv!($m::$s => $m::$s, $($rest)*);
    };
    ($m:ident :: $s:ident => $tm:ident :: $ts:ident, tags: $tags:ident, shared: [$($f:ident),*], ours_only: [$($of:ident),*], renamed: [$($ro:ident => $rt:ident),*]) => {
        impl Conv<t::$tm::$ts> for o::$m::$s {
            fn conv(&self) -> t::$tm::$ts {
                let mut x = <t::$tm::$ts>::default();
                $( x.$f = self.$f.conv(); )*
                $( x.$rt = self.$ro.conv(); )*
                let unknown = conv_unknown(&self.unknown_tagged_fields);
                conv!(@tags $tags, x, unknown);
                x
            }
        }
    };
    (@tags yes, $to:ident, $unknown:ident) => {
        $to.unknown_tagged_fields = $unknown;
    };
    (@tags no, $to:ident, $unknown:ident) => {
        let _ = $unknown;
    };
}

// Generated from the two crates' struct definitions (one line per fjord struct
// that kafka-protocol also defines).
conv!(add_offsets_to_txn_request::AddOffsetsToTxnRequest, tags: yes, shared: [transactional_id, producer_id, producer_epoch, group_id], ours_only: [], renamed: []);
conv!(add_offsets_to_txn_response::AddOffsetsToTxnResponse, tags: yes, shared: [throttle_time_ms, error_code], ours_only: [], renamed: []);
conv!(add_partitions_to_txn_request::AddPartitionsToTxnRequest, tags: yes, shared: [transactions, v3_and_below_transactional_id, v3_and_below_producer_id, v3_and_below_producer_epoch, v3_and_below_topics], ours_only: [], renamed: []);
conv!(add_partitions_to_txn_request::AddPartitionsToTxnTransaction, tags: yes, shared: [transactional_id, producer_id, producer_epoch, verify_only, topics], ours_only: [], renamed: []);
conv!(add_partitions_to_txn_request::AddPartitionsToTxnTopic, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(add_partitions_to_txn_response::AddPartitionsToTxnResponse, tags: yes, shared: [throttle_time_ms, error_code, results_by_transaction, results_by_topic_v3_and_below], ours_only: [], renamed: []);
conv!(add_partitions_to_txn_response::AddPartitionsToTxnResult, tags: yes, shared: [transactional_id, topic_results], ours_only: [], renamed: []);
conv!(add_partitions_to_txn_response::AddPartitionsToTxnTopicResult, tags: yes, shared: [name, results_by_partition], ours_only: [], renamed: []);
conv!(add_partitions_to_txn_response::AddPartitionsToTxnPartitionResult, tags: yes, shared: [partition_index, partition_error_code], ours_only: [], renamed: []);
conv!(add_raft_voter_request::AddRaftVoterRequest, tags: yes, shared: [cluster_id, timeout_ms, voter_id, voter_directory_id, listeners], ours_only: [], renamed: []);
conv!(add_raft_voter_request::Listener, tags: yes, shared: [name, host, port], ours_only: [], renamed: []);
conv!(add_raft_voter_response::AddRaftVoterResponse, tags: yes, shared: [throttle_time_ms, error_code, error_message], ours_only: [], renamed: []);
conv!(allocate_producer_ids_request::AllocateProducerIdsRequest, tags: yes, shared: [broker_id, broker_epoch], ours_only: [], renamed: []);
conv!(allocate_producer_ids_response::AllocateProducerIdsResponse, tags: yes, shared: [throttle_time_ms, error_code, producer_id_start, producer_id_len], ours_only: [], renamed: []);
conv!(alter_client_quotas_request::AlterClientQuotasRequest, tags: yes, shared: [entries, validate_only], ours_only: [], renamed: []);
conv!(alter_client_quotas_request::EntryData, tags: yes, shared: [entity, ops], ours_only: [], renamed: []);
conv!(alter_client_quotas_request::EntityData, tags: yes, shared: [entity_type, entity_name], ours_only: [], renamed: []);
conv!(alter_client_quotas_request::OpData, tags: yes, shared: [key, value, remove], ours_only: [], renamed: []);
conv!(alter_client_quotas_response::AlterClientQuotasResponse, tags: yes, shared: [throttle_time_ms, entries], ours_only: [], renamed: []);
conv!(alter_client_quotas_response::EntryData, tags: yes, shared: [error_code, error_message, entity], ours_only: [], renamed: []);
conv!(alter_client_quotas_response::EntityData, tags: yes, shared: [entity_type, entity_name], ours_only: [], renamed: []);
conv!(alter_configs_request::AlterConfigsRequest, tags: yes, shared: [resources, validate_only], ours_only: [], renamed: []);
conv!(alter_configs_request::AlterConfigsResource, tags: yes, shared: [resource_type, resource_name, configs], ours_only: [], renamed: []);
conv!(alter_configs_request::AlterableConfig, tags: yes, shared: [name, value], ours_only: [], renamed: []);
conv!(alter_configs_response::AlterConfigsResponse, tags: yes, shared: [throttle_time_ms, responses], ours_only: [], renamed: []);
conv!(alter_configs_response::AlterConfigsResourceResponse, tags: yes, shared: [error_code, error_message, resource_type, resource_name], ours_only: [], renamed: []);
conv!(alter_partition_reassignments_request::AlterPartitionReassignmentsRequest, tags: yes, shared: [timeout_ms, topics], ours_only: [], renamed: []);
conv!(alter_partition_reassignments_request::ReassignableTopic, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(alter_partition_reassignments_request::ReassignablePartition, tags: yes, shared: [partition_index, replicas], ours_only: [], renamed: []);
conv!(alter_partition_reassignments_response::AlterPartitionReassignmentsResponse, tags: yes, shared: [throttle_time_ms, error_code, error_message, responses], ours_only: [], renamed: []);
conv!(alter_partition_reassignments_response::ReassignableTopicResponse, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(alter_partition_reassignments_response::ReassignablePartitionResponse, tags: yes, shared: [partition_index, error_code, error_message], ours_only: [], renamed: []);
conv!(alter_partition_request::AlterPartitionRequest, tags: yes, shared: [broker_id, broker_epoch, topics], ours_only: [], renamed: []);
conv!(alter_partition_request::TopicData, tags: yes, shared: [topic_id, partitions], ours_only: [topic_name], renamed: []);
conv!(alter_partition_request::PartitionData, tags: yes, shared: [partition_index, leader_epoch, new_isr, new_isr_with_epochs, leader_recovery_state, partition_epoch], ours_only: [], renamed: []);
conv!(alter_partition_request::BrokerState, tags: yes, shared: [broker_id, broker_epoch], ours_only: [], renamed: []);
conv!(alter_partition_response::AlterPartitionResponse, tags: yes, shared: [throttle_time_ms, error_code, topics], ours_only: [], renamed: []);
conv!(alter_partition_response::TopicData, tags: yes, shared: [topic_id, partitions], ours_only: [topic_name], renamed: []);
conv!(alter_partition_response::PartitionData, tags: yes, shared: [partition_index, error_code, leader_id, leader_epoch, isr, leader_recovery_state, partition_epoch], ours_only: [], renamed: []);
conv!(alter_replica_log_dirs_request::AlterReplicaLogDirsRequest, tags: yes, shared: [dirs], ours_only: [], renamed: []);
conv!(alter_replica_log_dirs_request::AlterReplicaLogDir, tags: yes, shared: [path, topics], ours_only: [], renamed: []);
conv!(alter_replica_log_dirs_request::AlterReplicaLogDirTopic, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(alter_replica_log_dirs_response::AlterReplicaLogDirsResponse, tags: yes, shared: [throttle_time_ms, results], ours_only: [], renamed: []);
conv!(alter_replica_log_dirs_response::AlterReplicaLogDirTopicResult, tags: yes, shared: [topic_name, partitions], ours_only: [], renamed: []);
conv!(alter_replica_log_dirs_response::AlterReplicaLogDirPartitionResult, tags: yes, shared: [partition_index, error_code], ours_only: [], renamed: []);
conv!(alter_user_scram_credentials_request::AlterUserScramCredentialsRequest, tags: yes, shared: [deletions, upsertions], ours_only: [], renamed: []);
conv!(alter_user_scram_credentials_request::ScramCredentialDeletion, tags: yes, shared: [name, mechanism], ours_only: [], renamed: []);
conv!(alter_user_scram_credentials_request::ScramCredentialUpsertion, tags: yes, shared: [name, mechanism, iterations, salt, salted_password], ours_only: [], renamed: []);
conv!(alter_user_scram_credentials_response::AlterUserScramCredentialsResponse, tags: yes, shared: [throttle_time_ms, results], ours_only: [], renamed: []);
conv!(alter_user_scram_credentials_response::AlterUserScramCredentialsResult, tags: yes, shared: [user, error_code, error_message], ours_only: [], renamed: []);
conv!(api_versions_request::ApiVersionsRequest, tags: yes, shared: [client_software_name, client_software_version], ours_only: [], renamed: []);
conv!(api_versions_response::ApiVersionsResponse, tags: yes, shared: [error_code, api_keys, throttle_time_ms, supported_features, finalized_features_epoch, finalized_features, zk_migration_ready], ours_only: [], renamed: []);
conv!(api_versions_response::ApiVersion, tags: yes, shared: [api_key, min_version, max_version], ours_only: [], renamed: []);
conv!(api_versions_response::SupportedFeatureKey, tags: yes, shared: [name, min_version, max_version], ours_only: [], renamed: []);
conv!(api_versions_response::FinalizedFeatureKey, tags: yes, shared: [name, max_version_level, min_version_level], ours_only: [], renamed: []);
conv!(assign_replicas_to_dirs_request::AssignReplicasToDirsRequest, tags: yes, shared: [broker_id, broker_epoch, directories], ours_only: [], renamed: []);
conv!(assign_replicas_to_dirs_request::DirectoryData, tags: yes, shared: [id, topics], ours_only: [], renamed: []);
conv!(assign_replicas_to_dirs_request::TopicData, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(assign_replicas_to_dirs_request::PartitionData, tags: yes, shared: [partition_index], ours_only: [], renamed: []);
conv!(assign_replicas_to_dirs_response::AssignReplicasToDirsResponse, tags: yes, shared: [throttle_time_ms, error_code, directories], ours_only: [], renamed: []);
conv!(assign_replicas_to_dirs_response::DirectoryData, tags: yes, shared: [id, topics], ours_only: [], renamed: []);
conv!(assign_replicas_to_dirs_response::TopicData, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(assign_replicas_to_dirs_response::PartitionData, tags: yes, shared: [partition_index, error_code], ours_only: [], renamed: []);
conv!(begin_quorum_epoch_request::BeginQuorumEpochRequest, tags: yes, shared: [cluster_id, voter_id, topics, leader_endpoints], ours_only: [], renamed: []);
conv!(begin_quorum_epoch_request::TopicData, tags: yes, shared: [topic_name, partitions], ours_only: [], renamed: []);
conv!(begin_quorum_epoch_request::PartitionData, tags: yes, shared: [partition_index, voter_directory_id, leader_id, leader_epoch], ours_only: [], renamed: []);
conv!(begin_quorum_epoch_request::LeaderEndpoint, tags: yes, shared: [name, host, port], ours_only: [], renamed: []);
conv!(begin_quorum_epoch_response::BeginQuorumEpochResponse, tags: yes, shared: [error_code, topics, node_endpoints], ours_only: [], renamed: []);
conv!(begin_quorum_epoch_response::TopicData, tags: yes, shared: [topic_name, partitions], ours_only: [], renamed: []);
conv!(begin_quorum_epoch_response::PartitionData, tags: yes, shared: [partition_index, error_code, leader_id, leader_epoch], ours_only: [], renamed: []);
conv!(begin_quorum_epoch_response::NodeEndpoint, tags: yes, shared: [node_id, host, port], ours_only: [], renamed: []);
conv!(broker_heartbeat_request::BrokerHeartbeatRequest, tags: yes, shared: [broker_id, broker_epoch, current_metadata_offset, want_fence, want_shut_down, offline_log_dirs], ours_only: [], renamed: []);
conv!(broker_heartbeat_response::BrokerHeartbeatResponse, tags: yes, shared: [throttle_time_ms, error_code, is_caught_up, is_fenced, should_shut_down], ours_only: [], renamed: []);
conv!(broker_registration_request::BrokerRegistrationRequest, tags: yes, shared: [broker_id, cluster_id, incarnation_id, listeners, features, rack, is_migrating_zk_broker, log_dirs, previous_broker_epoch], ours_only: [], renamed: []);
conv!(broker_registration_request::Listener, tags: yes, shared: [name, host, port, security_protocol], ours_only: [], renamed: []);
conv!(broker_registration_request::Feature, tags: yes, shared: [name, min_supported_version, max_supported_version], ours_only: [], renamed: []);
conv!(broker_registration_response::BrokerRegistrationResponse, tags: yes, shared: [throttle_time_ms, error_code, broker_epoch], ours_only: [], renamed: []);
conv!(consumer_group_describe_request::ConsumerGroupDescribeRequest, tags: yes, shared: [group_ids, include_authorized_operations], ours_only: [], renamed: []);
conv!(consumer_group_describe_response::ConsumerGroupDescribeResponse, tags: yes, shared: [throttle_time_ms, groups], ours_only: [], renamed: []);
conv!(consumer_group_describe_response::DescribedGroup, tags: yes, shared: [error_code, error_message, group_id, group_state, group_epoch, assignment_epoch, assignor_name, members, authorized_operations], ours_only: [], renamed: []);
conv!(consumer_group_describe_response::Member, tags: yes, shared: [member_id, instance_id, rack_id, member_epoch, client_id, client_host, subscribed_topic_names, subscribed_topic_regex, assignment, target_assignment], ours_only: [], renamed: []);
conv!(consumer_group_describe_response::Assignment, tags: yes, shared: [topic_partitions], ours_only: [], renamed: []);
conv!(consumer_group_describe_response::TopicPartitions, tags: yes, shared: [topic_id, topic_name, partitions], ours_only: [], renamed: []);
conv!(consumer_group_heartbeat_request::ConsumerGroupHeartbeatRequest, tags: yes, shared: [group_id, member_id, member_epoch, instance_id, rack_id, rebalance_timeout_ms, subscribed_topic_names, subscribed_topic_regex, server_assignor, topic_partitions], ours_only: [], renamed: []);
conv!(consumer_group_heartbeat_request::TopicPartitions, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(consumer_group_heartbeat_response::ConsumerGroupHeartbeatResponse, tags: yes, shared: [throttle_time_ms, error_code, error_message, member_id, member_epoch, heartbeat_interval_ms, assignment], ours_only: [], renamed: []);
conv!(consumer_group_heartbeat_response::Assignment, tags: yes, shared: [topic_partitions], ours_only: [], renamed: []);
conv!(consumer_group_heartbeat_response::TopicPartitions, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(controller_registration_request::ControllerRegistrationRequest, tags: yes, shared: [controller_id, incarnation_id, zk_migration_ready, listeners, features], ours_only: [], renamed: []);
conv!(controller_registration_request::Listener, tags: yes, shared: [name, host, port, security_protocol], ours_only: [], renamed: []);
conv!(controller_registration_request::Feature, tags: yes, shared: [name, min_supported_version, max_supported_version], ours_only: [], renamed: []);
conv!(controller_registration_response::ControllerRegistrationResponse, tags: yes, shared: [throttle_time_ms, error_code, error_message], ours_only: [], renamed: []);
conv!(create_acls_request::CreateAclsRequest, tags: yes, shared: [creations], ours_only: [], renamed: []);
conv!(create_acls_request::AclCreation, tags: yes, shared: [resource_type, resource_name, resource_pattern_type, principal, host, operation, permission_type], ours_only: [], renamed: []);
conv!(create_acls_response::CreateAclsResponse, tags: yes, shared: [throttle_time_ms, results], ours_only: [], renamed: []);
conv!(create_acls_response::AclCreationResult, tags: yes, shared: [error_code, error_message], ours_only: [], renamed: []);
conv!(create_delegation_token_request::CreateDelegationTokenRequest, tags: yes, shared: [owner_principal_type, owner_principal_name, renewers, max_lifetime_ms], ours_only: [], renamed: []);
conv!(create_delegation_token_request::CreatableRenewers, tags: yes, shared: [principal_type, principal_name], ours_only: [], renamed: []);
conv!(create_delegation_token_response::CreateDelegationTokenResponse, tags: yes, shared: [error_code, principal_type, principal_name, token_requester_principal_type, token_requester_principal_name, issue_timestamp_ms, expiry_timestamp_ms, max_timestamp_ms, token_id, hmac, throttle_time_ms], ours_only: [], renamed: []);
conv!(create_partitions_request::CreatePartitionsRequest, tags: yes, shared: [topics, timeout_ms, validate_only], ours_only: [], renamed: []);
conv!(create_partitions_request::CreatePartitionsTopic, tags: yes, shared: [name, count, assignments], ours_only: [], renamed: []);
conv!(create_partitions_request::CreatePartitionsAssignment, tags: yes, shared: [broker_ids], ours_only: [], renamed: []);
conv!(create_partitions_response::CreatePartitionsResponse, tags: yes, shared: [throttle_time_ms, results], ours_only: [], renamed: []);
conv!(create_partitions_response::CreatePartitionsTopicResult, tags: yes, shared: [name, error_code, error_message], ours_only: [], renamed: []);
conv!(create_topics_request::CreateTopicsRequest, tags: yes, shared: [topics, timeout_ms, validate_only], ours_only: [], renamed: []);
conv!(create_topics_request::CreatableTopic, tags: yes, shared: [name, num_partitions, replication_factor, assignments, configs], ours_only: [], renamed: []);
conv!(create_topics_request::CreatableReplicaAssignment, tags: yes, shared: [partition_index, broker_ids], ours_only: [], renamed: []);
conv!(create_topics_request::CreatableTopicConfig, tags: yes, shared: [name, value], ours_only: [], renamed: []);
conv!(create_topics_response::CreateTopicsResponse, tags: yes, shared: [throttle_time_ms, topics], ours_only: [], renamed: []);
conv!(create_topics_response::CreatableTopicResult, tags: yes, shared: [name, topic_id, error_code, error_message, topic_config_error_code, num_partitions, replication_factor, configs], ours_only: [], renamed: []);
conv!(create_topics_response::CreatableTopicConfigs, tags: yes, shared: [name, value, read_only, config_source, is_sensitive], ours_only: [], renamed: []);
conv!(delete_acls_request::DeleteAclsRequest, tags: yes, shared: [filters], ours_only: [], renamed: []);
conv!(delete_acls_request::DeleteAclsFilter, tags: yes, shared: [resource_type_filter, resource_name_filter, pattern_type_filter, principal_filter, host_filter, operation, permission_type], ours_only: [], renamed: []);
conv!(delete_acls_response::DeleteAclsResponse, tags: yes, shared: [throttle_time_ms, filter_results], ours_only: [], renamed: []);
conv!(delete_acls_response::DeleteAclsFilterResult, tags: yes, shared: [error_code, error_message, matching_acls], ours_only: [], renamed: []);
conv!(delete_acls_response::DeleteAclsMatchingAcl, tags: yes, shared: [error_code, error_message, resource_type, resource_name, pattern_type, principal, host, operation, permission_type], ours_only: [], renamed: []);
conv!(delete_groups_request::DeleteGroupsRequest, tags: yes, shared: [groups_names], ours_only: [], renamed: []);
conv!(delete_groups_response::DeleteGroupsResponse, tags: yes, shared: [throttle_time_ms, results], ours_only: [], renamed: []);
conv!(delete_groups_response::DeletableGroupResult, tags: yes, shared: [group_id, error_code], ours_only: [], renamed: []);
conv!(delete_records_request::DeleteRecordsRequest, tags: yes, shared: [topics, timeout_ms], ours_only: [], renamed: []);
conv!(delete_records_request::DeleteRecordsTopic, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(delete_records_request::DeleteRecordsPartition, tags: yes, shared: [partition_index, offset], ours_only: [], renamed: []);
conv!(delete_records_response::DeleteRecordsResponse, tags: yes, shared: [throttle_time_ms, topics], ours_only: [], renamed: []);
conv!(delete_records_response::DeleteRecordsTopicResult, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(delete_records_response::DeleteRecordsPartitionResult, tags: yes, shared: [partition_index, low_watermark, error_code], ours_only: [], renamed: []);
conv!(delete_share_group_state_request::DeleteShareGroupStateRequest, tags: yes, shared: [group_id, topics], ours_only: [], renamed: []);
conv!(delete_share_group_state_request::DeleteStateData, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(delete_share_group_state_request::PartitionData, tags: yes, shared: [partition], ours_only: [], renamed: []);
conv!(delete_share_group_state_response::DeleteShareGroupStateResponse, tags: yes, shared: [results], ours_only: [], renamed: []);
conv!(delete_share_group_state_response::DeleteStateResult, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(delete_share_group_state_response::PartitionResult, tags: yes, shared: [partition, error_code, error_message], ours_only: [], renamed: []);
conv!(delete_topics_request::DeleteTopicsRequest, tags: yes, shared: [topics, topic_names, timeout_ms], ours_only: [], renamed: []);
conv!(delete_topics_request::DeleteTopicState, tags: yes, shared: [name, topic_id], ours_only: [], renamed: []);
conv!(delete_topics_response::DeleteTopicsResponse, tags: yes, shared: [throttle_time_ms, responses], ours_only: [], renamed: []);
conv!(delete_topics_response::DeletableTopicResult, tags: yes, shared: [name, topic_id, error_code, error_message], ours_only: [], renamed: []);
conv!(describe_acls_request::DescribeAclsRequest, tags: yes, shared: [resource_type_filter, resource_name_filter, pattern_type_filter, principal_filter, host_filter, operation, permission_type], ours_only: [], renamed: []);
conv!(describe_acls_response::DescribeAclsResponse, tags: yes, shared: [throttle_time_ms, error_code, error_message, resources], ours_only: [], renamed: []);
conv!(describe_acls_response::DescribeAclsResource, tags: yes, shared: [resource_type, resource_name, pattern_type, acls], ours_only: [], renamed: []);
conv!(describe_acls_response::AclDescription, tags: yes, shared: [principal, host, operation, permission_type], ours_only: [], renamed: []);
conv!(describe_client_quotas_request::DescribeClientQuotasRequest, tags: yes, shared: [components, strict], ours_only: [], renamed: []);
conv!(describe_client_quotas_request::ComponentData, tags: yes, shared: [entity_type, match_type], ours_only: [], renamed: [r#match => _match]);
conv!(describe_client_quotas_response::DescribeClientQuotasResponse, tags: yes, shared: [throttle_time_ms, error_code, error_message, entries], ours_only: [], renamed: []);
conv!(describe_client_quotas_response::EntryData, tags: yes, shared: [entity, values], ours_only: [], renamed: []);
conv!(describe_client_quotas_response::EntityData, tags: yes, shared: [entity_type, entity_name], ours_only: [], renamed: []);
conv!(describe_client_quotas_response::ValueData, tags: yes, shared: [key, value], ours_only: [], renamed: []);
conv!(describe_cluster_request::DescribeClusterRequest, tags: yes, shared: [include_cluster_authorized_operations, endpoint_type], ours_only: [], renamed: []);
conv!(describe_cluster_response::DescribeClusterResponse, tags: yes, shared: [throttle_time_ms, error_code, error_message, endpoint_type, cluster_id, controller_id, brokers, cluster_authorized_operations], ours_only: [], renamed: []);
conv!(describe_cluster_response::DescribeClusterBroker, tags: yes, shared: [broker_id, host, port, rack], ours_only: [], renamed: []);
conv!(describe_configs_request::DescribeConfigsRequest, tags: yes, shared: [resources, include_synonyms, include_documentation], ours_only: [], renamed: []);
conv!(describe_configs_request::DescribeConfigsResource, tags: yes, shared: [resource_type, resource_name, configuration_keys], ours_only: [], renamed: []);
conv!(describe_configs_response::DescribeConfigsResponse, tags: yes, shared: [throttle_time_ms, results], ours_only: [], renamed: []);
conv!(describe_configs_response::DescribeConfigsResult, tags: yes, shared: [error_code, error_message, resource_type, resource_name, configs], ours_only: [], renamed: []);
conv!(describe_configs_response::DescribeConfigsResourceResult, tags: yes, shared: [name, value, read_only, config_source, is_sensitive, synonyms, config_type, documentation], ours_only: [is_default], renamed: []);
conv!(describe_configs_response::DescribeConfigsSynonym, tags: yes, shared: [name, value, source], ours_only: [], renamed: []);
conv!(describe_delegation_token_request::DescribeDelegationTokenRequest, tags: yes, shared: [owners], ours_only: [], renamed: []);
conv!(describe_delegation_token_request::DescribeDelegationTokenOwner, tags: yes, shared: [principal_type, principal_name], ours_only: [], renamed: []);
conv!(describe_delegation_token_response::DescribeDelegationTokenResponse, tags: yes, shared: [error_code, tokens, throttle_time_ms], ours_only: [], renamed: []);
conv!(describe_delegation_token_response::DescribedDelegationToken, tags: yes, shared: [principal_type, principal_name, token_requester_principal_type, token_requester_principal_name, issue_timestamp, expiry_timestamp, max_timestamp, token_id, hmac, renewers], ours_only: [], renamed: []);
conv!(describe_delegation_token_response::DescribedDelegationTokenRenewer, tags: yes, shared: [principal_type, principal_name], ours_only: [], renamed: []);
conv!(describe_groups_request::DescribeGroupsRequest, tags: yes, shared: [groups, include_authorized_operations], ours_only: [], renamed: []);
conv!(describe_groups_response::DescribeGroupsResponse, tags: yes, shared: [throttle_time_ms, groups], ours_only: [], renamed: []);
conv!(describe_groups_response::DescribedGroup, tags: yes, shared: [error_code, group_id, group_state, protocol_type, protocol_data, members, authorized_operations], ours_only: [], renamed: []);
conv!(describe_groups_response::DescribedGroupMember, tags: yes, shared: [member_id, group_instance_id, client_id, client_host, member_metadata, member_assignment], ours_only: [], renamed: []);
conv!(describe_log_dirs_request::DescribeLogDirsRequest, tags: yes, shared: [topics], ours_only: [], renamed: []);
conv!(describe_log_dirs_request::DescribableLogDirTopic, tags: yes, shared: [topic, partitions], ours_only: [], renamed: []);
conv!(describe_log_dirs_response::DescribeLogDirsResponse, tags: yes, shared: [throttle_time_ms, error_code, results], ours_only: [], renamed: []);
conv!(describe_log_dirs_response::DescribeLogDirsResult, tags: yes, shared: [error_code, log_dir, topics, total_bytes, usable_bytes], ours_only: [], renamed: []);
conv!(describe_log_dirs_response::DescribeLogDirsTopic, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(describe_log_dirs_response::DescribeLogDirsPartition, tags: yes, shared: [partition_index, partition_size, offset_lag, is_future_key], ours_only: [], renamed: []);
conv!(describe_producers_request::DescribeProducersRequest, tags: yes, shared: [topics], ours_only: [], renamed: []);
conv!(describe_producers_request::TopicRequest, tags: yes, shared: [name, partition_indexes], ours_only: [], renamed: []);
conv!(describe_producers_response::DescribeProducersResponse, tags: yes, shared: [throttle_time_ms, topics], ours_only: [], renamed: []);
conv!(describe_producers_response::TopicResponse, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(describe_producers_response::PartitionResponse, tags: yes, shared: [partition_index, error_code, error_message, active_producers], ours_only: [], renamed: []);
conv!(describe_producers_response::ProducerState, tags: yes, shared: [producer_id, producer_epoch, last_sequence, last_timestamp, coordinator_epoch, current_txn_start_offset], ours_only: [], renamed: []);
conv!(describe_quorum_request::DescribeQuorumRequest, tags: yes, shared: [topics], ours_only: [], renamed: []);
conv!(describe_quorum_request::TopicData, tags: yes, shared: [topic_name, partitions], ours_only: [], renamed: []);
conv!(describe_quorum_request::PartitionData, tags: yes, shared: [partition_index], ours_only: [], renamed: []);
conv!(describe_quorum_response::DescribeQuorumResponse, tags: yes, shared: [error_code, error_message, topics, nodes], ours_only: [], renamed: []);
conv!(describe_quorum_response::TopicData, tags: yes, shared: [topic_name, partitions], ours_only: [], renamed: []);
conv!(describe_quorum_response::PartitionData, tags: yes, shared: [partition_index, error_code, error_message, leader_id, leader_epoch, high_watermark, current_voters, observers], ours_only: [], renamed: []);
conv!(describe_quorum_response::ReplicaState, tags: yes, shared: [replica_id, replica_directory_id, log_end_offset, last_fetch_timestamp, last_caught_up_timestamp], ours_only: [], renamed: []);
conv!(describe_quorum_response::Node, tags: yes, shared: [node_id, listeners], ours_only: [], renamed: []);
conv!(describe_quorum_response::Listener, tags: yes, shared: [name, host, port], ours_only: [], renamed: []);
conv!(describe_topic_partitions_request::DescribeTopicPartitionsRequest, tags: yes, shared: [topics, response_partition_limit, cursor], ours_only: [], renamed: []);
conv!(describe_topic_partitions_request::TopicRequest, tags: yes, shared: [name], ours_only: [], renamed: []);
conv!(describe_topic_partitions_request::Cursor, tags: yes, shared: [topic_name, partition_index], ours_only: [], renamed: []);
conv!(describe_topic_partitions_response::DescribeTopicPartitionsResponse, tags: yes, shared: [throttle_time_ms, topics, next_cursor], ours_only: [], renamed: []);
conv!(describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic, tags: yes, shared: [error_code, name, topic_id, is_internal, partitions, topic_authorized_operations], ours_only: [], renamed: []);
conv!(describe_topic_partitions_response::DescribeTopicPartitionsResponsePartition, tags: yes, shared: [error_code, partition_index, leader_id, leader_epoch, replica_nodes, isr_nodes, eligible_leader_replicas, last_known_elr, offline_replicas], ours_only: [], renamed: []);
conv!(describe_topic_partitions_response::Cursor, tags: yes, shared: [topic_name, partition_index], ours_only: [], renamed: []);
conv!(describe_transactions_request::DescribeTransactionsRequest, tags: yes, shared: [transactional_ids], ours_only: [], renamed: []);
conv!(describe_transactions_response::DescribeTransactionsResponse, tags: yes, shared: [throttle_time_ms, transaction_states], ours_only: [], renamed: []);
conv!(describe_transactions_response::TransactionState, tags: yes, shared: [error_code, transactional_id, transaction_state, transaction_timeout_ms, transaction_start_time_ms, producer_id, producer_epoch, topics], ours_only: [], renamed: []);
conv!(describe_transactions_response::TopicData, tags: yes, shared: [topic, partitions], ours_only: [], renamed: []);
conv!(describe_user_scram_credentials_request::DescribeUserScramCredentialsRequest, tags: yes, shared: [users], ours_only: [], renamed: []);
conv!(describe_user_scram_credentials_request::UserName, tags: yes, shared: [name], ours_only: [], renamed: []);
conv!(describe_user_scram_credentials_response::DescribeUserScramCredentialsResponse, tags: yes, shared: [throttle_time_ms, error_code, error_message, results], ours_only: [], renamed: []);
conv!(describe_user_scram_credentials_response::DescribeUserScramCredentialsResult, tags: yes, shared: [user, error_code, error_message, credential_infos], ours_only: [], renamed: []);
conv!(describe_user_scram_credentials_response::CredentialInfo, tags: yes, shared: [mechanism, iterations], ours_only: [], renamed: []);
conv!(elect_leaders_request::ElectLeadersRequest, tags: yes, shared: [election_type, topic_partitions, timeout_ms], ours_only: [], renamed: []);
conv!(elect_leaders_request::TopicPartitions, tags: yes, shared: [topic, partitions], ours_only: [], renamed: []);
conv!(elect_leaders_response::ElectLeadersResponse, tags: yes, shared: [throttle_time_ms, error_code, replica_election_results], ours_only: [], renamed: []);
conv!(elect_leaders_response::ReplicaElectionResult, tags: yes, shared: [topic, partition_result], ours_only: [], renamed: []);
conv!(elect_leaders_response::PartitionResult, tags: yes, shared: [partition_id, error_code, error_message], ours_only: [], renamed: []);
conv!(end_quorum_epoch_request::EndQuorumEpochRequest, tags: yes, shared: [cluster_id, topics, leader_endpoints], ours_only: [], renamed: []);
conv!(end_quorum_epoch_request::TopicData, tags: yes, shared: [topic_name, partitions], ours_only: [], renamed: []);
conv!(end_quorum_epoch_request::PartitionData, tags: yes, shared: [partition_index, leader_id, leader_epoch, preferred_successors, preferred_candidates], ours_only: [], renamed: []);
conv!(end_quorum_epoch_request::ReplicaInfo, tags: yes, shared: [candidate_id, candidate_directory_id], ours_only: [], renamed: []);
conv!(end_quorum_epoch_request::LeaderEndpoint, tags: yes, shared: [name, host, port], ours_only: [], renamed: []);
conv!(end_quorum_epoch_response::EndQuorumEpochResponse, tags: yes, shared: [error_code, topics, node_endpoints], ours_only: [], renamed: []);
conv!(end_quorum_epoch_response::TopicData, tags: yes, shared: [topic_name, partitions], ours_only: [], renamed: []);
conv!(end_quorum_epoch_response::PartitionData, tags: yes, shared: [partition_index, error_code, leader_id, leader_epoch], ours_only: [], renamed: []);
conv!(end_quorum_epoch_response::NodeEndpoint, tags: yes, shared: [node_id, host, port], ours_only: [], renamed: []);
conv!(end_txn_request::EndTxnRequest, tags: yes, shared: [transactional_id, producer_id, producer_epoch, committed], ours_only: [], renamed: []);
conv!(end_txn_response::EndTxnResponse, tags: yes, shared: [throttle_time_ms, error_code, producer_id, producer_epoch], ours_only: [], renamed: []);
conv!(envelope_request::EnvelopeRequest, tags: yes, shared: [request_data, request_principal, client_host_address], ours_only: [], renamed: []);
conv!(envelope_response::EnvelopeResponse, tags: yes, shared: [response_data, error_code], ours_only: [], renamed: []);
conv!(expire_delegation_token_request::ExpireDelegationTokenRequest, tags: yes, shared: [hmac, expiry_time_period_ms], ours_only: [], renamed: []);
conv!(expire_delegation_token_response::ExpireDelegationTokenResponse, tags: yes, shared: [error_code, expiry_timestamp_ms, throttle_time_ms], ours_only: [], renamed: []);
conv!(fetch_request::FetchRequest, tags: yes, shared: [cluster_id, replica_id, replica_state, max_wait_ms, min_bytes, max_bytes, isolation_level, session_id, session_epoch, topics, forgotten_topics_data, rack_id], ours_only: [], renamed: []);
conv!(fetch_request::ReplicaState, tags: yes, shared: [replica_id, replica_epoch], ours_only: [], renamed: []);
conv!(fetch_request::FetchTopic, tags: yes, shared: [topic, topic_id, partitions], ours_only: [], renamed: []);
conv!(fetch_request::FetchPartition, tags: yes, shared: [partition, current_leader_epoch, fetch_offset, last_fetched_epoch, log_start_offset, partition_max_bytes, replica_directory_id], ours_only: [], renamed: []);
conv!(fetch_request::ForgottenTopic, tags: yes, shared: [topic, topic_id, partitions], ours_only: [], renamed: []);
conv!(fetch_response::FetchResponse, tags: yes, shared: [throttle_time_ms, error_code, session_id, responses, node_endpoints], ours_only: [], renamed: []);
conv!(fetch_response::FetchableTopicResponse, tags: yes, shared: [topic, topic_id, partitions], ours_only: [], renamed: []);
conv!(fetch_response::PartitionData, tags: yes, shared: [partition_index, error_code, high_watermark, last_stable_offset, log_start_offset, diverging_epoch, current_leader, snapshot_id, aborted_transactions, preferred_read_replica, records], ours_only: [], renamed: []);
conv!(fetch_response::EpochEndOffset, tags: yes, shared: [epoch, end_offset], ours_only: [], renamed: []);
conv!(fetch_response::LeaderIdAndEpoch, tags: yes, shared: [leader_id, leader_epoch], ours_only: [], renamed: []);
conv!(fetch_response::SnapshotId, tags: yes, shared: [end_offset, epoch], ours_only: [], renamed: []);
conv!(fetch_response::AbortedTransaction, tags: yes, shared: [producer_id, first_offset], ours_only: [], renamed: []);
conv!(fetch_response::NodeEndpoint, tags: yes, shared: [node_id, host, port, rack], ours_only: [], renamed: []);
conv!(fetch_snapshot_request::FetchSnapshotRequest, tags: yes, shared: [cluster_id, replica_id, max_bytes, topics], ours_only: [], renamed: []);
conv!(fetch_snapshot_request::TopicSnapshot, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(fetch_snapshot_request::PartitionSnapshot, tags: yes, shared: [partition, current_leader_epoch, snapshot_id, position, replica_directory_id], ours_only: [], renamed: []);
conv!(fetch_snapshot_request::SnapshotId, tags: yes, shared: [end_offset, epoch], ours_only: [], renamed: []);
conv!(fetch_snapshot_response::FetchSnapshotResponse, tags: yes, shared: [throttle_time_ms, error_code, topics, node_endpoints], ours_only: [], renamed: []);
conv!(fetch_snapshot_response::TopicSnapshot, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(fetch_snapshot_response::PartitionSnapshot, tags: yes, shared: [index, error_code, snapshot_id, current_leader, size, position, unaligned_records], ours_only: [], renamed: []);
conv!(fetch_snapshot_response::SnapshotId, tags: yes, shared: [end_offset, epoch], ours_only: [], renamed: []);
conv!(fetch_snapshot_response::LeaderIdAndEpoch, tags: yes, shared: [leader_id, leader_epoch], ours_only: [], renamed: []);
conv!(fetch_snapshot_response::NodeEndpoint, tags: yes, shared: [node_id, host, port], ours_only: [], renamed: []);
conv!(find_coordinator_request::FindCoordinatorRequest, tags: yes, shared: [key, key_type, coordinator_keys], ours_only: [], renamed: []);
conv!(find_coordinator_response::FindCoordinatorResponse, tags: yes, shared: [throttle_time_ms, error_code, error_message, node_id, host, port, coordinators], ours_only: [], renamed: []);
conv!(find_coordinator_response::Coordinator, tags: yes, shared: [key, node_id, host, port, error_code, error_message], ours_only: [], renamed: []);
conv!(get_telemetry_subscriptions_request::GetTelemetrySubscriptionsRequest, tags: yes, shared: [client_instance_id], ours_only: [], renamed: []);
conv!(get_telemetry_subscriptions_response::GetTelemetrySubscriptionsResponse, tags: yes, shared: [throttle_time_ms, error_code, client_instance_id, subscription_id, accepted_compression_types, push_interval_ms, telemetry_max_bytes, delta_temporality, requested_metrics], ours_only: [], renamed: []);
conv!(heartbeat_request::HeartbeatRequest, tags: yes, shared: [group_id, generation_id, member_id, group_instance_id], ours_only: [], renamed: []);
conv!(heartbeat_response::HeartbeatResponse, tags: yes, shared: [throttle_time_ms, error_code], ours_only: [], renamed: []);
conv!(incremental_alter_configs_request::IncrementalAlterConfigsRequest, tags: yes, shared: [resources, validate_only], ours_only: [], renamed: []);
conv!(incremental_alter_configs_request::AlterConfigsResource, tags: yes, shared: [resource_type, resource_name, configs], ours_only: [], renamed: []);
conv!(incremental_alter_configs_request::AlterableConfig, tags: yes, shared: [name, config_operation, value], ours_only: [], renamed: []);
conv!(incremental_alter_configs_response::IncrementalAlterConfigsResponse, tags: yes, shared: [throttle_time_ms, responses], ours_only: [], renamed: []);
conv!(incremental_alter_configs_response::AlterConfigsResourceResponse, tags: yes, shared: [error_code, error_message, resource_type, resource_name], ours_only: [], renamed: []);
conv!(init_producer_id_request::InitProducerIdRequest, tags: yes, shared: [transactional_id, transaction_timeout_ms, producer_id, producer_epoch], ours_only: [], renamed: []);
conv!(init_producer_id_response::InitProducerIdResponse, tags: yes, shared: [throttle_time_ms, error_code, producer_id, producer_epoch], ours_only: [], renamed: []);
conv!(initialize_share_group_state_request::InitializeShareGroupStateRequest, tags: yes, shared: [group_id, topics], ours_only: [], renamed: []);
conv!(initialize_share_group_state_request::InitializeStateData, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(initialize_share_group_state_request::PartitionData, tags: yes, shared: [partition, state_epoch, start_offset], ours_only: [], renamed: []);
conv!(initialize_share_group_state_response::InitializeShareGroupStateResponse, tags: yes, shared: [results], ours_only: [], renamed: []);
conv!(initialize_share_group_state_response::InitializeStateResult, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(initialize_share_group_state_response::PartitionResult, tags: yes, shared: [partition, error_code, error_message], ours_only: [], renamed: []);
conv!(join_group_request::JoinGroupRequest, tags: yes, shared: [group_id, session_timeout_ms, rebalance_timeout_ms, member_id, group_instance_id, protocol_type, protocols, reason], ours_only: [], renamed: []);
conv!(join_group_request::JoinGroupRequestProtocol, tags: yes, shared: [name, metadata], ours_only: [], renamed: []);
conv!(join_group_response::JoinGroupResponse, tags: yes, shared: [throttle_time_ms, error_code, generation_id, protocol_type, protocol_name, leader, skip_assignment, member_id, members], ours_only: [], renamed: []);
conv!(join_group_response::JoinGroupResponseMember, tags: yes, shared: [member_id, group_instance_id, metadata], ours_only: [], renamed: []);
conv!(leave_group_request::LeaveGroupRequest, tags: yes, shared: [group_id, member_id, members], ours_only: [], renamed: []);
conv!(leave_group_request::MemberIdentity, tags: yes, shared: [member_id, group_instance_id, reason], ours_only: [], renamed: []);
conv!(leave_group_response::LeaveGroupResponse, tags: yes, shared: [throttle_time_ms, error_code, members], ours_only: [], renamed: []);
conv!(leave_group_response::MemberResponse, tags: yes, shared: [member_id, group_instance_id, error_code], ours_only: [], renamed: []);
conv!(list_groups_request::ListGroupsRequest, tags: yes, shared: [states_filter, types_filter], ours_only: [], renamed: []);
conv!(list_groups_response::ListGroupsResponse, tags: yes, shared: [throttle_time_ms, error_code, groups], ours_only: [], renamed: []);
conv!(list_groups_response::ListedGroup, tags: yes, shared: [group_id, protocol_type, group_state, group_type], ours_only: [], renamed: []);
conv!(list_offsets_request::ListOffsetsRequest, tags: yes, shared: [replica_id, isolation_level, topics, timeout_ms], ours_only: [], renamed: []);
conv!(list_offsets_request::ListOffsetsTopic, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(list_offsets_request::ListOffsetsPartition, tags: yes, shared: [partition_index, current_leader_epoch, timestamp], ours_only: [max_num_offsets], renamed: []);
conv!(list_offsets_response::ListOffsetsResponse, tags: yes, shared: [throttle_time_ms, topics], ours_only: [], renamed: []);
conv!(list_offsets_response::ListOffsetsTopicResponse, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(list_offsets_response::ListOffsetsPartitionResponse, tags: yes, shared: [partition_index, error_code, timestamp, offset, leader_epoch], ours_only: [old_style_offsets], renamed: []);
conv!(list_partition_reassignments_request::ListPartitionReassignmentsRequest, tags: yes, shared: [timeout_ms, topics], ours_only: [], renamed: []);
conv!(list_partition_reassignments_request::ListPartitionReassignmentsTopics, tags: yes, shared: [name, partition_indexes], ours_only: [], renamed: []);
conv!(list_partition_reassignments_response::ListPartitionReassignmentsResponse, tags: yes, shared: [throttle_time_ms, error_code, error_message, topics], ours_only: [], renamed: []);
conv!(list_partition_reassignments_response::OngoingTopicReassignment, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(list_partition_reassignments_response::OngoingPartitionReassignment, tags: yes, shared: [partition_index, replicas, adding_replicas, removing_replicas], ours_only: [], renamed: []);
conv!(list_transactions_request::ListTransactionsRequest, tags: yes, shared: [state_filters, producer_id_filters, duration_filter], ours_only: [], renamed: []);
conv!(list_transactions_response::ListTransactionsResponse, tags: yes, shared: [throttle_time_ms, error_code, unknown_state_filters, transaction_states], ours_only: [], renamed: []);
conv!(list_transactions_response::TransactionState, tags: yes, shared: [transactional_id, producer_id, transaction_state], ours_only: [], renamed: []);
conv!(metadata_request::MetadataRequest, tags: yes, shared: [topics, allow_auto_topic_creation, include_cluster_authorized_operations, include_topic_authorized_operations], ours_only: [], renamed: []);
conv!(metadata_request::MetadataRequestTopic, tags: yes, shared: [topic_id, name], ours_only: [], renamed: []);
conv!(metadata_response::MetadataResponse, tags: yes, shared: [throttle_time_ms, brokers, cluster_id, controller_id, topics, cluster_authorized_operations], ours_only: [], renamed: []);
conv!(metadata_response::MetadataResponseBroker, tags: yes, shared: [node_id, host, port, rack], ours_only: [], renamed: []);
conv!(metadata_response::MetadataResponseTopic, tags: yes, shared: [error_code, name, topic_id, is_internal, partitions, topic_authorized_operations], ours_only: [], renamed: []);
conv!(metadata_response::MetadataResponsePartition, tags: yes, shared: [error_code, partition_index, leader_id, leader_epoch, replica_nodes, isr_nodes, offline_replicas], ours_only: [], renamed: []);
conv!(offset_commit_request::OffsetCommitRequest, tags: yes, shared: [group_id, generation_id_or_member_epoch, member_id, group_instance_id, retention_time_ms, topics], ours_only: [], renamed: []);
conv!(offset_commit_request::OffsetCommitRequestTopic, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(offset_commit_request::OffsetCommitRequestPartition, tags: yes, shared: [partition_index, committed_offset, committed_leader_epoch, committed_metadata], ours_only: [commit_timestamp], renamed: []);
conv!(offset_commit_response::OffsetCommitResponse, tags: yes, shared: [throttle_time_ms, topics], ours_only: [], renamed: []);
conv!(offset_commit_response::OffsetCommitResponseTopic, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(offset_commit_response::OffsetCommitResponsePartition, tags: yes, shared: [partition_index, error_code], ours_only: [], renamed: []);
conv!(offset_delete_request::OffsetDeleteRequest, tags: no, shared: [group_id, topics], ours_only: [], renamed: []);
conv!(offset_delete_request::OffsetDeleteRequestTopic, tags: no, shared: [name, partitions], ours_only: [], renamed: []);
conv!(offset_delete_request::OffsetDeleteRequestPartition, tags: no, shared: [partition_index], ours_only: [], renamed: []);
conv!(offset_delete_response::OffsetDeleteResponse, tags: no, shared: [error_code, throttle_time_ms, topics], ours_only: [], renamed: []);
conv!(offset_delete_response::OffsetDeleteResponseTopic, tags: no, shared: [name, partitions], ours_only: [], renamed: []);
conv!(offset_delete_response::OffsetDeleteResponsePartition, tags: no, shared: [partition_index, error_code], ours_only: [], renamed: []);
conv!(offset_fetch_request::OffsetFetchRequest, tags: yes, shared: [group_id, topics, groups, require_stable], ours_only: [], renamed: []);
conv!(offset_fetch_request::OffsetFetchRequestTopic, tags: yes, shared: [name, partition_indexes], ours_only: [], renamed: []);
conv!(offset_fetch_request::OffsetFetchRequestGroup, tags: yes, shared: [group_id, member_id, member_epoch, topics], ours_only: [], renamed: []);
conv!(offset_fetch_request::OffsetFetchRequestTopics, tags: yes, shared: [name, partition_indexes], ours_only: [], renamed: []);
conv!(offset_fetch_response::OffsetFetchResponse, tags: yes, shared: [throttle_time_ms, topics, error_code, groups], ours_only: [], renamed: []);
conv!(offset_fetch_response::OffsetFetchResponseTopic, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(offset_fetch_response::OffsetFetchResponsePartition, tags: yes, shared: [partition_index, committed_offset, committed_leader_epoch, metadata, error_code], ours_only: [], renamed: []);
conv!(offset_fetch_response::OffsetFetchResponseGroup, tags: yes, shared: [group_id, topics, error_code], ours_only: [], renamed: []);
conv!(offset_fetch_response::OffsetFetchResponseTopics, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(offset_fetch_response::OffsetFetchResponsePartitions, tags: yes, shared: [partition_index, committed_offset, committed_leader_epoch, metadata, error_code], ours_only: [], renamed: []);
conv!(offset_for_leader_epoch_request::OffsetForLeaderEpochRequest, tags: yes, shared: [replica_id, topics], ours_only: [], renamed: []);
conv!(offset_for_leader_epoch_request::OffsetForLeaderTopic, tags: yes, shared: [topic, partitions], ours_only: [], renamed: []);
conv!(offset_for_leader_epoch_request::OffsetForLeaderPartition, tags: yes, shared: [partition, current_leader_epoch, leader_epoch], ours_only: [], renamed: []);
conv!(offset_for_leader_epoch_response::OffsetForLeaderEpochResponse, tags: yes, shared: [throttle_time_ms, topics], ours_only: [], renamed: []);
conv!(offset_for_leader_epoch_response::OffsetForLeaderTopicResult, tags: yes, shared: [topic, partitions], ours_only: [], renamed: []);
conv!(offset_for_leader_epoch_response::EpochEndOffset, tags: yes, shared: [error_code, partition, leader_epoch, end_offset], ours_only: [], renamed: []);
conv!(produce_request::ProduceRequest, tags: yes, shared: [transactional_id, acks, timeout_ms, topic_data], ours_only: [], renamed: []);
conv!(produce_request::TopicProduceData, tags: yes, shared: [name, partition_data], ours_only: [], renamed: []);
conv!(produce_request::PartitionProduceData, tags: yes, shared: [index, records], ours_only: [], renamed: []);
conv!(produce_response::ProduceResponse, tags: yes, shared: [responses, throttle_time_ms, node_endpoints], ours_only: [], renamed: []);
conv!(produce_response::TopicProduceResponse, tags: yes, shared: [name, partition_responses], ours_only: [], renamed: []);
conv!(produce_response::PartitionProduceResponse, tags: yes, shared: [index, error_code, base_offset, log_append_time_ms, log_start_offset, record_errors, error_message, current_leader], ours_only: [], renamed: []);
conv!(produce_response::BatchIndexAndErrorMessage, tags: yes, shared: [batch_index, batch_index_error_message], ours_only: [], renamed: []);
conv!(produce_response::LeaderIdAndEpoch, tags: yes, shared: [leader_id, leader_epoch], ours_only: [], renamed: []);
conv!(produce_response::NodeEndpoint, tags: yes, shared: [node_id, host, port, rack], ours_only: [], renamed: []);
conv!(push_telemetry_request::PushTelemetryRequest, tags: yes, shared: [client_instance_id, subscription_id, terminating, compression_type, metrics], ours_only: [], renamed: []);
conv!(push_telemetry_response::PushTelemetryResponse, tags: yes, shared: [throttle_time_ms, error_code], ours_only: [], renamed: []);
conv!(read_share_group_state_request::ReadShareGroupStateRequest, tags: yes, shared: [group_id, topics], ours_only: [], renamed: []);
conv!(read_share_group_state_request::ReadStateData, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(read_share_group_state_request::PartitionData, tags: yes, shared: [partition, leader_epoch], ours_only: [], renamed: []);
conv!(read_share_group_state_response::ReadShareGroupStateResponse, tags: yes, shared: [results], ours_only: [], renamed: []);
conv!(read_share_group_state_response::ReadStateResult, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(read_share_group_state_response::PartitionResult, tags: yes, shared: [partition, error_code, error_message, state_epoch, start_offset, state_batches], ours_only: [], renamed: []);
conv!(read_share_group_state_response::StateBatch, tags: yes, shared: [first_offset, last_offset, delivery_state, delivery_count], ours_only: [], renamed: []);
conv!(read_share_group_state_summary_request::ReadShareGroupStateSummaryRequest, tags: yes, shared: [group_id, topics], ours_only: [], renamed: []);
conv!(read_share_group_state_summary_request::ReadStateSummaryData, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(read_share_group_state_summary_request::PartitionData, tags: yes, shared: [partition, leader_epoch], ours_only: [], renamed: []);
conv!(read_share_group_state_summary_response::ReadShareGroupStateSummaryResponse, tags: yes, shared: [results], ours_only: [], renamed: []);
conv!(read_share_group_state_summary_response::ReadStateSummaryResult, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(read_share_group_state_summary_response::PartitionResult, tags: yes, shared: [partition, error_code, error_message, state_epoch, start_offset], ours_only: [], renamed: []);
conv!(remove_raft_voter_request::RemoveRaftVoterRequest, tags: yes, shared: [cluster_id, voter_id, voter_directory_id], ours_only: [], renamed: []);
conv!(remove_raft_voter_response::RemoveRaftVoterResponse, tags: yes, shared: [throttle_time_ms, error_code, error_message], ours_only: [], renamed: []);
conv!(renew_delegation_token_request::RenewDelegationTokenRequest, tags: yes, shared: [hmac, renew_period_ms], ours_only: [], renamed: []);
conv!(renew_delegation_token_response::RenewDelegationTokenResponse, tags: yes, shared: [error_code, expiry_timestamp_ms, throttle_time_ms], ours_only: [], renamed: []);
conv!(request_header::RequestHeader, tags: yes, shared: [request_api_key, request_api_version, correlation_id, client_id], ours_only: [], renamed: []);
conv!(response_header::ResponseHeader, tags: yes, shared: [correlation_id], ours_only: [], renamed: []);
conv!(sasl_authenticate_request::SaslAuthenticateRequest, tags: yes, shared: [auth_bytes], ours_only: [], renamed: []);
conv!(sasl_authenticate_response::SaslAuthenticateResponse, tags: yes, shared: [error_code, error_message, auth_bytes, session_lifetime_ms], ours_only: [], renamed: []);
conv!(sasl_handshake_request::SaslHandshakeRequest, tags: no, shared: [mechanism], ours_only: [], renamed: []);
conv!(sasl_handshake_response::SaslHandshakeResponse, tags: no, shared: [error_code, mechanisms], ours_only: [], renamed: []);
conv!(share_acknowledge_request::ShareAcknowledgeRequest, tags: yes, shared: [group_id, member_id, share_session_epoch, topics], ours_only: [], renamed: []);
conv!(share_acknowledge_request::AcknowledgeTopic, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(share_acknowledge_request::AcknowledgePartition, tags: yes, shared: [partition_index, acknowledgement_batches], ours_only: [], renamed: []);
conv!(share_acknowledge_request::AcknowledgementBatch, tags: yes, shared: [first_offset, last_offset, acknowledge_types], ours_only: [], renamed: []);
conv!(share_acknowledge_response::ShareAcknowledgeResponse, tags: yes, shared: [throttle_time_ms, error_code, error_message, responses, node_endpoints], ours_only: [], renamed: []);
conv!(share_acknowledge_response::ShareAcknowledgeTopicResponse, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(share_acknowledge_response::PartitionData, tags: yes, shared: [partition_index, error_code, error_message, current_leader], ours_only: [], renamed: []);
conv!(share_acknowledge_response::LeaderIdAndEpoch, tags: yes, shared: [leader_id, leader_epoch], ours_only: [], renamed: []);
conv!(share_acknowledge_response::NodeEndpoint, tags: yes, shared: [node_id, host, port, rack], ours_only: [], renamed: []);
conv!(share_fetch_request::ShareFetchRequest, tags: yes, shared: [group_id, member_id, share_session_epoch, max_wait_ms, min_bytes, max_bytes, topics, forgotten_topics_data], ours_only: [], renamed: []);
conv!(share_fetch_request::FetchTopic, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(share_fetch_request::FetchPartition, tags: yes, shared: [partition_index, partition_max_bytes, acknowledgement_batches], ours_only: [], renamed: []);
conv!(share_fetch_request::AcknowledgementBatch, tags: yes, shared: [first_offset, last_offset, acknowledge_types], ours_only: [], renamed: []);
conv!(share_fetch_request::ForgottenTopic, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(share_fetch_response::ShareFetchResponse, tags: yes, shared: [throttle_time_ms, error_code, error_message, responses, node_endpoints], ours_only: [], renamed: []);
conv!(share_fetch_response::ShareFetchableTopicResponse, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(share_fetch_response::PartitionData, tags: yes, shared: [partition_index, error_code, error_message, acknowledge_error_code, acknowledge_error_message, current_leader, records, acquired_records], ours_only: [], renamed: []);
conv!(share_fetch_response::LeaderIdAndEpoch, tags: yes, shared: [leader_id, leader_epoch], ours_only: [], renamed: []);
conv!(share_fetch_response::AcquiredRecords, tags: yes, shared: [first_offset, last_offset, delivery_count], ours_only: [], renamed: []);
conv!(share_fetch_response::NodeEndpoint, tags: yes, shared: [node_id, host, port, rack], ours_only: [], renamed: []);
conv!(share_group_describe_request::ShareGroupDescribeRequest, tags: yes, shared: [group_ids, include_authorized_operations], ours_only: [], renamed: []);
conv!(share_group_describe_response::ShareGroupDescribeResponse, tags: yes, shared: [throttle_time_ms, groups], ours_only: [], renamed: []);
conv!(share_group_describe_response::DescribedGroup, tags: yes, shared: [error_code, error_message, group_id, group_state, group_epoch, assignment_epoch, assignor_name, members, authorized_operations], ours_only: [], renamed: []);
conv!(share_group_describe_response::Member, tags: yes, shared: [member_id, rack_id, member_epoch, client_id, client_host, subscribed_topic_names, assignment], ours_only: [], renamed: []);
conv!(share_group_describe_response::Assignment, tags: yes, shared: [topic_partitions], ours_only: [], renamed: []);
conv!(share_group_describe_response::TopicPartitions, tags: yes, shared: [topic_id, topic_name, partitions], ours_only: [], renamed: []);
conv!(share_group_heartbeat_request::ShareGroupHeartbeatRequest, tags: yes, shared: [group_id, member_id, member_epoch, rack_id, subscribed_topic_names], ours_only: [], renamed: []);
conv!(share_group_heartbeat_response::ShareGroupHeartbeatResponse, tags: yes, shared: [throttle_time_ms, error_code, error_message, member_id, member_epoch, heartbeat_interval_ms, assignment], ours_only: [], renamed: []);
conv!(share_group_heartbeat_response::Assignment, tags: yes, shared: [topic_partitions], ours_only: [], renamed: []);
conv!(share_group_heartbeat_response::TopicPartitions, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(sync_group_request::SyncGroupRequest, tags: yes, shared: [group_id, generation_id, member_id, group_instance_id, protocol_type, protocol_name, assignments], ours_only: [], renamed: []);
conv!(sync_group_request::SyncGroupRequestAssignment, tags: yes, shared: [member_id, assignment], ours_only: [], renamed: []);
conv!(sync_group_response::SyncGroupResponse, tags: yes, shared: [throttle_time_ms, error_code, protocol_type, protocol_name, assignment], ours_only: [], renamed: []);
conv!(txn_offset_commit_request::TxnOffsetCommitRequest, tags: yes, shared: [transactional_id, group_id, producer_id, producer_epoch, generation_id, member_id, group_instance_id, topics], ours_only: [], renamed: []);
conv!(txn_offset_commit_request::TxnOffsetCommitRequestTopic, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(txn_offset_commit_request::TxnOffsetCommitRequestPartition, tags: yes, shared: [partition_index, committed_offset, committed_leader_epoch, committed_metadata], ours_only: [], renamed: []);
conv!(txn_offset_commit_response::TxnOffsetCommitResponse, tags: yes, shared: [throttle_time_ms, topics], ours_only: [], renamed: []);
conv!(txn_offset_commit_response::TxnOffsetCommitResponseTopic, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(txn_offset_commit_response::TxnOffsetCommitResponsePartition, tags: yes, shared: [partition_index, error_code], ours_only: [], renamed: []);
conv!(unregister_broker_request::UnregisterBrokerRequest, tags: yes, shared: [broker_id], ours_only: [], renamed: []);
conv!(unregister_broker_response::UnregisterBrokerResponse, tags: yes, shared: [throttle_time_ms, error_code, error_message], ours_only: [], renamed: []);
conv!(update_features_request::UpdateFeaturesRequest, tags: yes, shared: [timeout_ms, feature_updates, validate_only], ours_only: [], renamed: []);
conv!(update_features_request::FeatureUpdateKey, tags: yes, shared: [feature, max_version_level, allow_downgrade, upgrade_type], ours_only: [], renamed: []);
conv!(update_features_response::UpdateFeaturesResponse, tags: yes, shared: [throttle_time_ms, error_code, error_message, results], ours_only: [], renamed: []);
conv!(update_features_response::UpdatableFeatureResult, tags: yes, shared: [feature, error_code, error_message], ours_only: [], renamed: []);
conv!(update_raft_voter_request::UpdateRaftVoterRequest, tags: yes, shared: [cluster_id, current_leader_epoch, voter_id, voter_directory_id, listeners, k_raft_version_feature], ours_only: [], renamed: []);
conv!(update_raft_voter_request::Listener, tags: yes, shared: [name, host, port], ours_only: [], renamed: []);
conv!(update_raft_voter_request::KRaftVersionFeature, tags: yes, shared: [min_supported_version, max_supported_version], ours_only: [], renamed: []);
conv!(update_raft_voter_response::UpdateRaftVoterResponse, tags: yes, shared: [throttle_time_ms, error_code, current_leader], ours_only: [], renamed: []);
conv!(update_raft_voter_response::CurrentLeader, tags: yes, shared: [leader_id, leader_epoch, host, port], ours_only: [], renamed: []);
conv!(vote_request::VoteRequest, tags: yes, shared: [cluster_id, voter_id, topics], ours_only: [], renamed: []);
conv!(vote_request::TopicData, tags: yes, shared: [topic_name, partitions], ours_only: [], renamed: []);
conv!(vote_request::PartitionData, tags: yes, shared: [partition_index, voter_directory_id, last_offset_epoch, last_offset], ours_only: [], renamed: [candidate_epoch => replica_epoch, candidate_id => replica_id, candidate_directory_id => replica_directory_id]);
conv!(vote_response::VoteResponse, tags: yes, shared: [error_code, topics, node_endpoints], ours_only: [], renamed: []);
conv!(vote_response::TopicData, tags: yes, shared: [topic_name, partitions], ours_only: [], renamed: []);
conv!(vote_response::PartitionData, tags: yes, shared: [partition_index, error_code, leader_id, leader_epoch, vote_granted], ours_only: [], renamed: []);
conv!(vote_response::NodeEndpoint, tags: yes, shared: [node_id, host, port], ours_only: [], renamed: []);
conv!(write_share_group_state_request::WriteShareGroupStateRequest, tags: yes, shared: [group_id, topics], ours_only: [], renamed: []);
conv!(write_share_group_state_request::WriteStateData, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(write_share_group_state_request::PartitionData, tags: yes, shared: [partition, state_epoch, leader_epoch, start_offset, state_batches], ours_only: [], renamed: []);
conv!(write_share_group_state_request::StateBatch, tags: yes, shared: [first_offset, last_offset, delivery_state, delivery_count], ours_only: [], renamed: []);
conv!(write_share_group_state_response::WriteShareGroupStateResponse, tags: yes, shared: [results], ours_only: [], renamed: []);
conv!(write_share_group_state_response::WriteStateResult, tags: yes, shared: [topic_id, partitions], ours_only: [], renamed: []);
conv!(write_share_group_state_response::PartitionResult, tags: yes, shared: [partition, error_code, error_message], ours_only: [], renamed: []);
conv!(write_txn_markers_request::WriteTxnMarkersRequest, tags: yes, shared: [markers], ours_only: [], renamed: []);
conv!(write_txn_markers_request::WritableTxnMarker, tags: yes, shared: [producer_id, producer_epoch, transaction_result, topics, coordinator_epoch], ours_only: [], renamed: []);
conv!(write_txn_markers_request::WritableTxnMarkerTopic, tags: yes, shared: [name, partition_indexes], ours_only: [], renamed: []);
conv!(write_txn_markers_response::WriteTxnMarkersResponse, tags: yes, shared: [markers], ours_only: [], renamed: []);
conv!(write_txn_markers_response::WritableTxnMarkerResult, tags: yes, shared: [producer_id, topics], ours_only: [], renamed: []);
conv!(write_txn_markers_response::WritableTxnMarkerTopicResult, tags: yes, shared: [name, partitions], ours_only: [], renamed: []);
conv!(write_txn_markers_response::WritableTxnMarkerPartitionResult, tags: yes, shared: [partition_index, error_code], ours_only: [], renamed: []);
// Kafka 4.1 (KIP-1142) renamed ListClientMetricsResources (api key 74) to
// ListConfigResources; v0 is the same on the wire.
conv!(list_client_metrics_resources_request::ListClientMetricsResourcesRequest => list_config_resources_request::ListConfigResourcesRequest, tags: yes, shared: [], ours_only: [], renamed: []);
conv!(list_client_metrics_resources_response::ListClientMetricsResourcesResponse => list_config_resources_response::ListConfigResourcesResponse, tags: yes, shared: [throttle_time_ms, error_code], ours_only: [], renamed: [client_metrics_resources => config_resources]);
conv!(list_client_metrics_resources_response::ClientMetricsResource => list_config_resources_response::ConfigResource, tags: yes, shared: [], ours_only: [], renamed: [name => resource_name]);

// --------------------------------------------------------------- checks

fn ours_encode<O: Encode>(v: &O, version: i16) -> Result<Bytes, EncodeError> {
    let mut b = BytesMut::new();
    v.encode(&mut b, version)?;
    Ok(b.freeze())
}

fn ours_decode<O: Decode>(bytes: &Bytes, version: i16) -> Result<O, String> {
    let mut buf = bytes.clone();
    let v = O::decode(&mut buf, version).map_err(|e| e.to_string())?;
    if !buf.is_empty() {
        return Err(format!("{} bytes left over", buf.len()));
    }
    Ok(v)
}

fn theirs_encode<T: Encodable>(v: &T, version: i16) -> Result<Bytes, String> {
    let mut b = BytesMut::new();
    v.encode(&mut b, version).map_err(|e| e.to_string())?;
    let size = v.compute_size(version).map_err(|e| e.to_string())?;
    if size != b.len() {
        return Err(format!(
            "kafka-protocol compute_size {size} != encoded {}",
            b.len()
        ));
    }
    Ok(b.freeze())
}

fn theirs_decode<T: Decodable>(bytes: &Bytes, version: i16) -> Result<T, String> {
    let mut buf = bytes.clone();
    let v = T::decode(&mut buf, version).map_err(|e| e.to_string())?;
    if !buf.is_empty() {
        return Err(format!("{} bytes left over", buf.len()));
    }
    Ok(v)
}

fn first_diff(a: &[u8], b: &[u8]) -> String {
    let i = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let lo = i.saturating_sub(8);
    format!(
        "lengths {} vs {}, first difference at byte {i}: ...{:02x?} vs ...{:02x?}",
        a.len(),
        b.len(),
        &a[lo..(i + 8).min(a.len())],
        &b[lo..(i + 8).min(b.len())]
    )
}

fn short<D: Debug>(v: &D) -> String {
    let s = format!("{v:?}");
    if s.len() > 1500 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(1500).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

/// What one (message, version, seed) check exercised.
#[derive(Default, Clone, Copy)]
struct Outcome {
    /// Step 4 ran (kafka-protocol accepted the unrestricted value).
    full_value_checked: bool,
}

fn check<O, T>(seed: u64, version: i16) -> Result<Outcome, String>
where
    O: Arb + Encode + Decode + PartialEq + Debug + Conv<T>,
    T: Encodable + Decodable + PartialEq + Debug,
{
    // 1. Build, then restrict to the version.
    let mut full = O::arb(&mut G::new(seed, true));
    let b_full = match ours_encode(&full, version) {
        Ok(b) => b,
        Err(EncodeError::NullNotAllowed(_)) => {
            full = O::arb(&mut G::new(seed, false));
            ours_encode(&full, version).map_err(|e| format!("fjord encode: {e}"))?
        }
        Err(e) => return Err(format!("fjord encode: {e}")),
    };
    let canon: O = ours_decode(&b_full, version)
        .map_err(|e| format!("fjord cannot decode its own encoding: {e}"))?;
    let b1 = ours_encode(&canon, version).map_err(|e| format!("fjord re-encode: {e}"))?;
    if b1 != b_full {
        return Err(format!(
            "fjord re-encode differs: {}",
            first_diff(&b_full, &b1)
        ));
    }

    // 2. Reverse: the converted value through kafka-protocol, then fjord.
    //    This runs first because fjord is safe on any input while
    //    kafka-protocol is not: it only ever decodes bytes it has just
    //    produced itself (step 3 runs only once fjord's bytes are known to
    //    be identical to kafka-protocol's), so a schema disagreement shows
    //    up as a failure here rather than as an aborted test process.
    let expect: T = canon.conv();
    let tb = theirs_encode(&expect, version)
        .map_err(|e| format!("reverse: kafka-protocol refuses a value fjord encodes in this version: {e}\n  value: {}", short(&expect)))?;
    let o2: O = ours_decode(&tb, version).map_err(|e| {
        format!(
            "reverse: fjord rejects kafka-protocol's bytes: {e}\n  value: {}\n  {}",
            short(&expect),
            first_diff(&b1, &tb)
        )
    })?;
    if o2 != canon {
        return Err(format!(
            "reverse: fjord reads kafka-protocol's bytes as a different value\n  fjord: {}\n  want:  {}",
            short(&o2),
            short(&canon)
        ));
    }
    let ob = ours_encode(&o2, version).map_err(|e| format!("reverse: fjord encode: {e}"))?;
    if ob != tb || b1 != tb {
        return Err(format!(
            "encodings differ (fjord vs kafka-protocol): {}",
            first_diff(&b1, &tb)
        ));
    }

    // 3. Forward: fjord's bytes (now known to equal kafka-protocol's own)
    //    decoded by kafka-protocol and encoded again.
    let t1: T = theirs_decode(&b1, version)
        .map_err(|e| format!("forward: kafka-protocol rejects fjord's bytes: {e}"))?;
    if t1 != expect {
        return Err(format!(
            "forward: kafka-protocol reads fjord's bytes as a different value\n  kafka-protocol: {}\n  expected:       {}",
            short(&t1),
            short(&expect)
        ));
    }
    let b2 = theirs_encode(&t1, version)
        .map_err(|e| format!("forward: kafka-protocol re-encode: {e}"))?;
    let back: O = ours_decode(&b2, version)
        .map_err(|e| format!("forward: fjord decode of kafka-protocol bytes: {e}"))?;
    if b2 != b1 || back != canon {
        return Err(format!(
            "forward: round trip changed the value: {}",
            first_diff(&b1, &b2)
        ));
    }

    // 4. Reverse from the unrestricted value: kafka-protocol picks the fields.
    let t_full: T = full.conv();
    let mut outcome = Outcome::default();
    if let Ok(tb_full) = theirs_encode(&t_full, version) {
        outcome.full_value_checked = true;
        let o3: O = ours_decode(&tb_full, version)
            .map_err(|e| format!("unrestricted: fjord rejects kafka-protocol's bytes: {e}"))?;
        if o3 != canon {
            return Err(format!(
                "unrestricted: the versions disagree on which fields exist\n  fjord keeps:          {}\n  kafka-protocol keeps: {}",
                short(&canon),
                short(&o3)
            ));
        }
        if tb_full != b_full {
            return Err(format!(
                "unrestricted: encodings differ (fjord vs kafka-protocol): {}",
                first_diff(&b_full, &tb_full)
            ));
        }
    }
    Ok(outcome)
}

fn sample<O: Arb + Encode>(seed: u64, version: i16) -> Option<Bytes> {
    ours_encode(&O::arb(&mut G::new(seed, true)), version)
        .or_else(|_| ours_encode(&O::arb(&mut G::new(seed, false)), version))
        .ok()
}

/// One message both crates define, with its checker.
struct Case {
    name: &'static str,
    ours: (i16, i16),
    theirs: (i16, i16),
    run: fn(u64, i16) -> Result<Outcome, String>,
    /// fjord's encoding of a random value at a version.
    sample: fn(u64, i16) -> Option<Bytes>,
}

impl Case {
    /// The versions both crates support.
    fn versions(&self) -> std::ops::RangeInclusive<i16> {
        self.ours.0.max(self.theirs.0)..=self.ours.1.min(self.theirs.1)
    }
}

macro_rules! case {
    ($m:ident :: $s:ident) => {
        case!($m::$s => $m::$s)
    };
    ($m:ident :: $s:ident => $tm:ident :: $ts:ident) => {
        Case {
            name: stringify!($s),
            ours: <o::$m::$s as fjord_protocol::Message>::VERSIONS,
            theirs: (
                <t::$tm::$ts as kafka_protocol::protocol::Message>::VERSIONS.min,
                <t::$tm::$ts as kafka_protocol::protocol::Message>::VERSIONS.max,
            ),
            run: check::<o::$m::$s, t::$tm::$ts>,
            sample: sample::<o::$m::$s>,
        }
    };
}

/// Versions whose definitions Kafka changed after fjord's specs were taken:
/// both crates follow their own spec, so the wire formats differ. Each was
/// marked unstable ("latestVersionUnstable") when fjord's specs were cut.
/// These are skipped by the sweeps; `known_schema_changes_still_differ`
/// checks that they really differ, so an entry cannot outlive its cause.
const KNOWN_SCHEMA_CHANGES: &[(&str, i16, &str)] = &[(
    "ReadShareGroupStateSummaryResponse",
    0,
    "Kafka 4.1 added PartitionResult.LeaderEpoch (int32, after StateEpoch) to the \
     unstable v0; fjord's spec predates it (kafka-protocol 0.18 follows 4.1)",
)];

fn is_known_change(name: &str, version: i16) -> bool {
    KNOWN_SCHEMA_CHANGES
        .iter()
        .any(|(n, v, _)| *n == name && *v == version)
}

#[test]
fn known_schema_changes_still_differ() {
    for (name, version, why) in KNOWN_SCHEMA_CHANGES {
        let case = cases()
            .into_iter()
            .find(|c| c.name == *name)
            .expect("case exists");
        let failed = (0..16u64).any(|seed| (case.run)(seed, *version).is_err());
        assert!(
            failed,
            "{name} v{version} agrees now; remove it from KNOWN_SCHEMA_CHANGES ({why})"
        );
    }
}

/// Runs every case and version for `seed`; returns the failures.
fn run_seed(seed: u64, full_checked: &mut BTreeMap<(&'static str, i16), u32>) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases() {
        for version in case.versions().filter(|v| !is_known_change(case.name, *v)) {
            // A panic in either crate is a failure too, reported with its seed.
            match std::panic::catch_unwind(|| (case.run)(seed, version)) {
                Ok(Ok(outcome)) => {
                    if outcome.full_value_checked {
                        *full_checked.entry((case.name, version)).or_default() += 1;
                    }
                }
                Ok(Err(e)) => {
                    failures.push(format!("{} v{version} (seed {seed:#x}): {e}", case.name))
                }
                Err(_) => failures.push(format!(
                    "{} v{version} (seed {seed:#x}): panicked",
                    case.name
                )),
            }
        }
    }
    failures
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(debug_assertions) { 128 } else { 512 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn fjord_and_kafka_protocol_agree(seed in any::<u64>()) {
        let failures = run_seed(seed, &mut BTreeMap::new());
        prop_assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n\n"));
    }
}

/// A fixed sweep that collects every disagreement (rather than stopping at
/// the first, as proptest does) and reports how much was covered.
#[test]
fn deterministic_sweep() {
    let mut full_checked = BTreeMap::new();
    let mut failures = Vec::new();
    for seed in 0..64u64 {
        failures.extend(run_seed(
            seed.wrapping_mul(0x2545_f491_4f6c_dd1d),
            &mut full_checked,
        ));
    }
    let pairs: usize = cases().iter().map(|c| c.versions().len()).sum();
    eprintln!(
        "differential sweep: {} messages, {pairs} (message, version) pairs, 64 seeds; \
         step 4 (unrestricted value) ran for {} pairs",
        cases().len(),
        full_checked.len()
    );
    // Group by message and version so the report stays readable.
    let mut seen = BTreeMap::new();
    for f in &failures {
        let key = f.split(" (seed").next().unwrap().to_string();
        seen.entry(key).or_insert(f.clone());
    }
    assert!(
        failures.is_empty(),
        "{} disagreements in {} (message, version) pairs; first of each:\n\n{}",
        failures.len(),
        seen.len(),
        seen.values().cloned().collect::<Vec<_>>().join("\n\n")
    );
}

/// The messages the issue names explicitly must be covered in every version
/// both crates support, requests and responses alike.
#[test]
fn required_messages_are_covered() {
    let required = [
        "ApiVersions",
        "Metadata",
        "Produce",
        "Fetch",
        "ListOffsets",
        "CreateTopics",
        "FindCoordinator",
        "JoinGroup",
        "SyncGroup",
        "Heartbeat",
        "OffsetCommit",
        "OffsetFetch",
        "InitProducerId",
        "AddPartitionsToTxn",
        "EndTxn",
        "DescribeConfigs",
        "ConsumerGroupHeartbeat",
    ];
    let cases = cases();
    for name in required {
        for kind in ["Request", "Response"] {
            let full = format!("{name}{kind}");
            let case = cases
                .iter()
                .find(|c| c.name == full)
                .unwrap_or_else(|| panic!("{full} not covered"));
            assert!(!case.versions().is_empty(), "{full}: no common version");
        }
    }
    let mut keys = 0;
    let mut key_versions = 0;
    for key in fjord_protocol::ApiKey::ALL {
        let req = cases
            .iter()
            .find(|c| c.name == format!("{}Request", key.name()));
        if let Some(c) = req {
            if !c.versions().is_empty() {
                keys += 1;
                key_versions += c.versions().len();
            }
        }
    }
    eprintln!(
        "api keys covered: {keys} of {} ({key_versions} request versions)",
        fjord_protocol::ApiKey::ALL.len()
    );
    assert!(keys >= 60, "only {keys} api keys covered");
}

/// Header versions: both crates must pick the same request and response
/// header version for every api key and version they share.
#[test]
fn header_versions_agree() {
    use fjord_protocol::frame::{request_header_version, response_header_version};
    let mut checked = 0;
    let mut bad = Vec::new();
    for key in fjord_protocol::ApiKey::ALL {
        let Ok(theirs) = t::ApiKey::try_from(*key as i16) else {
            continue;
        };
        let (lo, hi) = key.versions();
        let tr = theirs.valid_versions();
        for v in lo.max(tr.min)..=hi.min(tr.max) {
            checked += 1;
            let ours = (
                request_header_version(*key, v),
                response_header_version(*key, v),
            );
            let theirs = (
                theirs.request_header_version(v),
                theirs.response_header_version(v),
            );
            if ours != theirs {
                bad.push(format!("{key:?} v{v}: fjord (request, response) headers {ours:?}, kafka-protocol {theirs:?}"));
            }
        }
    }
    eprintln!("header versions compared for {checked} (api key, version) pairs");
    assert!(checked > 250, "{checked}");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Full request frames: fjord's `encode_request` must produce a header
/// that kafka-protocol's `RequestHeader` reads, and fjord's `parse_request`
/// must read kafka-protocol's header, for every api key and version both
/// support (with a random body of that key behind it).
#[test]
fn request_frame_headers_agree() {
    use fjord_protocol::frame::{encode_request, parse_request, request_header_version};
    use fjord_protocol::Request;
    let cases = cases();
    let mut checked = 0;
    for key in fjord_protocol::ApiKey::ALL {
        let Ok(theirs) = t::ApiKey::try_from(*key as i16) else {
            continue;
        };
        let Some(case) = cases
            .iter()
            .find(|c| c.name == format!("{}Request", key.name()))
        else {
            continue;
        };
        for v in case.versions() {
            let body =
                (case.sample)(u64::from(v as u16) * 31 + *key as u64, v).expect("sample encodes");
            let req = Request::decode(*key as i16, v, &mut body.clone()).unwrap();
            let mut out = BytesMut::new();
            encode_request(&mut out, 0x0102_0304, Some("fjord-diff"), v, &req).unwrap();
            let frame = out.freeze().slice(4..);
            let hv = theirs.request_header_version(v);
            assert_eq!(hv, request_header_version(*key, v), "{key:?} v{v}");
            let mut buf = frame.clone();
            let h = t::RequestHeader::decode(&mut buf, hv).unwrap();
            assert_eq!(h.request_api_key, *key as i16);
            assert_eq!(h.request_api_version, v);
            assert_eq!(h.correlation_id, 0x0102_0304);
            assert_eq!(h.client_id.as_ref().map(|s| s.as_str()), Some("fjord-diff"));
            assert_eq!(
                buf, body,
                "{key:?} v{v}: body after kafka-protocol's header"
            );
            let f = parse_request(frame).unwrap();
            assert_eq!(f.body, body, "{key:?} v{v}: body after fjord's header");

            let mut th = BytesMut::new();
            let mut hdr = t::RequestHeader::default();
            hdr.request_api_key = *key as i16;
            hdr.request_api_version = v;
            hdr.correlation_id = -7;
            hdr.client_id = Some(StrBytes::from_static_str("librdkafka"));
            hdr.encode(&mut th, hv).unwrap();
            th.extend_from_slice(&body);
            let f2 = parse_request(th.freeze()).unwrap();
            assert_eq!(
                (f2.api_key, f2.api_version, f2.correlation_id),
                (*key, v, -7)
            );
            assert_eq!(f2.client_id.as_deref(), Some("librdkafka"));
            assert_eq!(f2.decode().unwrap(), req, "{key:?} v{v}");
            checked += 1;
        }
    }
    assert!(checked > 250, "{checked}");
}

/// Every request, response and header schema both crates define.
fn cases() -> Vec<Case> {
    vec![
        case!(add_offsets_to_txn_request::AddOffsetsToTxnRequest),
        case!(add_offsets_to_txn_response::AddOffsetsToTxnResponse),
        case!(add_partitions_to_txn_request::AddPartitionsToTxnRequest),
        case!(add_partitions_to_txn_response::AddPartitionsToTxnResponse),
        case!(add_raft_voter_request::AddRaftVoterRequest),
        case!(add_raft_voter_response::AddRaftVoterResponse),
        case!(allocate_producer_ids_request::AllocateProducerIdsRequest),
        case!(allocate_producer_ids_response::AllocateProducerIdsResponse),
        case!(alter_client_quotas_request::AlterClientQuotasRequest),
        case!(alter_client_quotas_response::AlterClientQuotasResponse),
        case!(alter_configs_request::AlterConfigsRequest),
        case!(alter_configs_response::AlterConfigsResponse),
        case!(alter_partition_reassignments_request::AlterPartitionReassignmentsRequest),
        case!(alter_partition_reassignments_response::AlterPartitionReassignmentsResponse),
        case!(alter_partition_request::AlterPartitionRequest),
        case!(alter_partition_response::AlterPartitionResponse),
        case!(alter_replica_log_dirs_request::AlterReplicaLogDirsRequest),
        case!(alter_replica_log_dirs_response::AlterReplicaLogDirsResponse),
        case!(alter_user_scram_credentials_request::AlterUserScramCredentialsRequest),
        case!(alter_user_scram_credentials_response::AlterUserScramCredentialsResponse),
        case!(api_versions_request::ApiVersionsRequest),
        case!(api_versions_response::ApiVersionsResponse),
        case!(assign_replicas_to_dirs_request::AssignReplicasToDirsRequest),
        case!(assign_replicas_to_dirs_response::AssignReplicasToDirsResponse),
        case!(begin_quorum_epoch_request::BeginQuorumEpochRequest),
        case!(begin_quorum_epoch_response::BeginQuorumEpochResponse),
        case!(broker_heartbeat_request::BrokerHeartbeatRequest),
        case!(broker_heartbeat_response::BrokerHeartbeatResponse),
        case!(broker_registration_request::BrokerRegistrationRequest),
        case!(broker_registration_response::BrokerRegistrationResponse),
        case!(consumer_group_describe_request::ConsumerGroupDescribeRequest),
        case!(consumer_group_describe_response::ConsumerGroupDescribeResponse),
        case!(consumer_group_heartbeat_request::ConsumerGroupHeartbeatRequest),
        case!(consumer_group_heartbeat_response::ConsumerGroupHeartbeatResponse),
        case!(controller_registration_request::ControllerRegistrationRequest),
        case!(controller_registration_response::ControllerRegistrationResponse),
        case!(create_acls_request::CreateAclsRequest),
        case!(create_acls_response::CreateAclsResponse),
        case!(create_delegation_token_request::CreateDelegationTokenRequest),
        case!(create_delegation_token_response::CreateDelegationTokenResponse),
        case!(create_partitions_request::CreatePartitionsRequest),
        case!(create_partitions_response::CreatePartitionsResponse),
        case!(create_topics_request::CreateTopicsRequest),
        case!(create_topics_response::CreateTopicsResponse),
        case!(delete_acls_request::DeleteAclsRequest),
        case!(delete_acls_response::DeleteAclsResponse),
        case!(delete_groups_request::DeleteGroupsRequest),
        case!(delete_groups_response::DeleteGroupsResponse),
        case!(delete_records_request::DeleteRecordsRequest),
        case!(delete_records_response::DeleteRecordsResponse),
        case!(delete_share_group_state_request::DeleteShareGroupStateRequest),
        case!(delete_share_group_state_response::DeleteShareGroupStateResponse),
        case!(delete_topics_request::DeleteTopicsRequest),
        case!(delete_topics_response::DeleteTopicsResponse),
        case!(describe_acls_request::DescribeAclsRequest),
        case!(describe_acls_response::DescribeAclsResponse),
        case!(describe_client_quotas_request::DescribeClientQuotasRequest),
        case!(describe_client_quotas_response::DescribeClientQuotasResponse),
        case!(describe_cluster_request::DescribeClusterRequest),
        case!(describe_cluster_response::DescribeClusterResponse),
        case!(describe_configs_request::DescribeConfigsRequest),
        case!(describe_configs_response::DescribeConfigsResponse),
        case!(describe_delegation_token_request::DescribeDelegationTokenRequest),
        case!(describe_delegation_token_response::DescribeDelegationTokenResponse),
        case!(describe_groups_request::DescribeGroupsRequest),
        case!(describe_groups_response::DescribeGroupsResponse),
        case!(describe_log_dirs_request::DescribeLogDirsRequest),
        case!(describe_log_dirs_response::DescribeLogDirsResponse),
        case!(describe_producers_request::DescribeProducersRequest),
        case!(describe_producers_response::DescribeProducersResponse),
        case!(describe_quorum_request::DescribeQuorumRequest),
        case!(describe_quorum_response::DescribeQuorumResponse),
        case!(describe_topic_partitions_request::DescribeTopicPartitionsRequest),
        case!(describe_topic_partitions_response::DescribeTopicPartitionsResponse),
        case!(describe_transactions_request::DescribeTransactionsRequest),
        case!(describe_transactions_response::DescribeTransactionsResponse),
        case!(describe_user_scram_credentials_request::DescribeUserScramCredentialsRequest),
        case!(describe_user_scram_credentials_response::DescribeUserScramCredentialsResponse),
        case!(elect_leaders_request::ElectLeadersRequest),
        case!(elect_leaders_response::ElectLeadersResponse),
        case!(end_quorum_epoch_request::EndQuorumEpochRequest),
        case!(end_quorum_epoch_response::EndQuorumEpochResponse),
        case!(end_txn_request::EndTxnRequest),
        case!(end_txn_response::EndTxnResponse),
        case!(envelope_request::EnvelopeRequest),
        case!(envelope_response::EnvelopeResponse),
        case!(expire_delegation_token_request::ExpireDelegationTokenRequest),
        case!(expire_delegation_token_response::ExpireDelegationTokenResponse),
        case!(fetch_request::FetchRequest),
        case!(fetch_response::FetchResponse),
        case!(fetch_snapshot_request::FetchSnapshotRequest),
        case!(fetch_snapshot_response::FetchSnapshotResponse),
        case!(find_coordinator_request::FindCoordinatorRequest),
        case!(find_coordinator_response::FindCoordinatorResponse),
        case!(get_telemetry_subscriptions_request::GetTelemetrySubscriptionsRequest),
        case!(get_telemetry_subscriptions_response::GetTelemetrySubscriptionsResponse),
        case!(heartbeat_request::HeartbeatRequest),
        case!(heartbeat_response::HeartbeatResponse),
        case!(incremental_alter_configs_request::IncrementalAlterConfigsRequest),
        case!(incremental_alter_configs_response::IncrementalAlterConfigsResponse),
        case!(init_producer_id_request::InitProducerIdRequest),
        case!(init_producer_id_response::InitProducerIdResponse),
        case!(initialize_share_group_state_request::InitializeShareGroupStateRequest),
        case!(initialize_share_group_state_response::InitializeShareGroupStateResponse),
        case!(join_group_request::JoinGroupRequest),
        case!(join_group_response::JoinGroupResponse),
        case!(leave_group_request::LeaveGroupRequest),
        case!(leave_group_response::LeaveGroupResponse),
        case!(list_groups_request::ListGroupsRequest),
        case!(list_groups_response::ListGroupsResponse),
        case!(list_offsets_request::ListOffsetsRequest),
        case!(list_offsets_response::ListOffsetsResponse),
        case!(list_partition_reassignments_request::ListPartitionReassignmentsRequest),
        case!(list_partition_reassignments_response::ListPartitionReassignmentsResponse),
        case!(list_transactions_request::ListTransactionsRequest),
        case!(list_transactions_response::ListTransactionsResponse),
        case!(metadata_request::MetadataRequest),
        case!(metadata_response::MetadataResponse),
        case!(offset_commit_request::OffsetCommitRequest),
        case!(offset_commit_response::OffsetCommitResponse),
        case!(offset_delete_request::OffsetDeleteRequest),
        case!(offset_delete_response::OffsetDeleteResponse),
        case!(offset_fetch_request::OffsetFetchRequest),
        case!(offset_fetch_response::OffsetFetchResponse),
        case!(offset_for_leader_epoch_request::OffsetForLeaderEpochRequest),
        case!(offset_for_leader_epoch_response::OffsetForLeaderEpochResponse),
        case!(produce_request::ProduceRequest),
        case!(produce_response::ProduceResponse),
        case!(push_telemetry_request::PushTelemetryRequest),
        case!(push_telemetry_response::PushTelemetryResponse),
        case!(read_share_group_state_request::ReadShareGroupStateRequest),
        case!(read_share_group_state_response::ReadShareGroupStateResponse),
        case!(read_share_group_state_summary_request::ReadShareGroupStateSummaryRequest),
        case!(read_share_group_state_summary_response::ReadShareGroupStateSummaryResponse),
        case!(remove_raft_voter_request::RemoveRaftVoterRequest),
        case!(remove_raft_voter_response::RemoveRaftVoterResponse),
        case!(renew_delegation_token_request::RenewDelegationTokenRequest),
        case!(renew_delegation_token_response::RenewDelegationTokenResponse),
        case!(request_header::RequestHeader),
        case!(response_header::ResponseHeader),
        case!(sasl_authenticate_request::SaslAuthenticateRequest),
        case!(sasl_authenticate_response::SaslAuthenticateResponse),
        case!(sasl_handshake_request::SaslHandshakeRequest),
        case!(sasl_handshake_response::SaslHandshakeResponse),
        case!(share_acknowledge_request::ShareAcknowledgeRequest),
        case!(share_acknowledge_response::ShareAcknowledgeResponse),
        case!(share_fetch_request::ShareFetchRequest),
        case!(share_fetch_response::ShareFetchResponse),
        case!(share_group_describe_request::ShareGroupDescribeRequest),
        case!(share_group_describe_response::ShareGroupDescribeResponse),
        case!(share_group_heartbeat_request::ShareGroupHeartbeatRequest),
        case!(share_group_heartbeat_response::ShareGroupHeartbeatResponse),
        case!(sync_group_request::SyncGroupRequest),
        case!(sync_group_response::SyncGroupResponse),
        case!(txn_offset_commit_request::TxnOffsetCommitRequest),
        case!(txn_offset_commit_response::TxnOffsetCommitResponse),
        case!(unregister_broker_request::UnregisterBrokerRequest),
        case!(unregister_broker_response::UnregisterBrokerResponse),
        case!(update_features_request::UpdateFeaturesRequest),
        case!(update_features_response::UpdateFeaturesResponse),
        case!(update_raft_voter_request::UpdateRaftVoterRequest),
        case!(update_raft_voter_response::UpdateRaftVoterResponse),
        case!(vote_request::VoteRequest),
        case!(vote_response::VoteResponse),
        case!(write_share_group_state_request::WriteShareGroupStateRequest),
        case!(write_share_group_state_response::WriteShareGroupStateResponse),
        case!(write_txn_markers_request::WriteTxnMarkersRequest),
        case!(write_txn_markers_response::WriteTxnMarkersResponse),
        case!(list_client_metrics_resources_request::ListClientMetricsResourcesRequest => list_config_resources_request::ListConfigResourcesRequest),
        case!(list_client_metrics_resources_response::ListClientMetricsResourcesResponse => list_config_resources_response::ListConfigResourcesResponse),
    ]
}
