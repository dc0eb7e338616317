// Generated from fjord-protocol's message structs (crates/protocol/src/generated):
// one `arb!` per struct, naming every field but the unknown tagged fields.
// Regenerate when the generated code gains or loses a field (a missing
// field is harmless: it keeps its default; a removed one is a compile error).
arb!(add_offsets_to_txn_request::AddOffsetsToTxnRequest { transactional_id, producer_id, producer_epoch, group_id });
arb!(add_offsets_to_txn_response::AddOffsetsToTxnResponse { throttle_time_ms, error_code });
arb!(add_partitions_to_txn_request::AddPartitionsToTxnRequest { transactions, v3_and_below_transactional_id, v3_and_below_producer_id, v3_and_below_producer_epoch, v3_and_below_topics });
arb!(add_partitions_to_txn_request::AddPartitionsToTxnTransaction { transactional_id, producer_id, producer_epoch, verify_only, topics });
arb!(add_partitions_to_txn_request::AddPartitionsToTxnTopic { name, partitions });
arb!(add_partitions_to_txn_response::AddPartitionsToTxnResponse { throttle_time_ms, error_code, results_by_transaction, results_by_topic_v3_and_below });
arb!(add_partitions_to_txn_response::AddPartitionsToTxnResult { transactional_id, topic_results });
arb!(add_partitions_to_txn_response::AddPartitionsToTxnTopicResult { name, results_by_partition });
arb!(add_partitions_to_txn_response::AddPartitionsToTxnPartitionResult { partition_index, partition_error_code });
arb!(add_raft_voter_request::AddRaftVoterRequest { cluster_id, timeout_ms, voter_id, voter_directory_id, listeners });
arb!(add_raft_voter_request::Listener { name, host, port });
arb!(add_raft_voter_response::AddRaftVoterResponse { throttle_time_ms, error_code, error_message });
arb!(allocate_producer_ids_request::AllocateProducerIdsRequest { broker_id, broker_epoch });
arb!(allocate_producer_ids_response::AllocateProducerIdsResponse { throttle_time_ms, error_code, producer_id_start, producer_id_len });
arb!(alter_client_quotas_request::AlterClientQuotasRequest { entries, validate_only });
arb!(alter_client_quotas_request::EntryData { entity, ops });
arb!(alter_client_quotas_request::EntityData { entity_type, entity_name });
arb!(alter_client_quotas_request::OpData { key, value, remove });
arb!(alter_client_quotas_response::AlterClientQuotasResponse { throttle_time_ms, entries });
arb!(alter_client_quotas_response::EntryData { error_code, error_message, entity });
arb!(alter_client_quotas_response::EntityData { entity_type, entity_name });
arb!(alter_configs_request::AlterConfigsRequest { resources, validate_only });
arb!(alter_configs_request::AlterConfigsResource { resource_type, resource_name, configs });
arb!(alter_configs_request::AlterableConfig { name, value });
arb!(alter_configs_response::AlterConfigsResponse { throttle_time_ms, responses });
arb!(alter_configs_response::AlterConfigsResourceResponse { error_code, error_message, resource_type, resource_name });
arb!(alter_partition_reassignments_request::AlterPartitionReassignmentsRequest { timeout_ms, topics });
arb!(alter_partition_reassignments_request::ReassignableTopic { name, partitions });
arb!(alter_partition_reassignments_request::ReassignablePartition { partition_index, replicas });
arb!(alter_partition_reassignments_response::AlterPartitionReassignmentsResponse { throttle_time_ms, error_code, error_message, responses });
arb!(alter_partition_reassignments_response::ReassignableTopicResponse { name, partitions });
arb!(alter_partition_reassignments_response::ReassignablePartitionResponse { partition_index, error_code, error_message });
arb!(alter_partition_request::AlterPartitionRequest { broker_id, broker_epoch, topics });
arb!(alter_partition_request::TopicData { topic_name, topic_id, partitions });
arb!(alter_partition_request::PartitionData { partition_index, leader_epoch, new_isr, new_isr_with_epochs, leader_recovery_state, partition_epoch });
arb!(alter_partition_request::BrokerState { broker_id, broker_epoch });
arb!(alter_partition_response::AlterPartitionResponse { throttle_time_ms, error_code, topics });
arb!(alter_partition_response::TopicData { topic_name, topic_id, partitions });
arb!(alter_partition_response::PartitionData { partition_index, error_code, leader_id, leader_epoch, isr, leader_recovery_state, partition_epoch });
arb!(alter_replica_log_dirs_request::AlterReplicaLogDirsRequest { dirs });
arb!(alter_replica_log_dirs_request::AlterReplicaLogDir { path, topics });
arb!(alter_replica_log_dirs_request::AlterReplicaLogDirTopic { name, partitions });
arb!(alter_replica_log_dirs_response::AlterReplicaLogDirsResponse { throttle_time_ms, results });
arb!(alter_replica_log_dirs_response::AlterReplicaLogDirTopicResult { topic_name, partitions });
arb!(alter_replica_log_dirs_response::AlterReplicaLogDirPartitionResult { partition_index, error_code });
arb!(alter_user_scram_credentials_request::AlterUserScramCredentialsRequest { deletions, upsertions });
arb!(alter_user_scram_credentials_request::ScramCredentialDeletion { name, mechanism });
arb!(alter_user_scram_credentials_request::ScramCredentialUpsertion { name, mechanism, iterations, salt, salted_password });
arb!(alter_user_scram_credentials_response::AlterUserScramCredentialsResponse { throttle_time_ms, results });
arb!(alter_user_scram_credentials_response::AlterUserScramCredentialsResult { user, error_code, error_message });
arb!(api_versions_request::ApiVersionsRequest { client_software_name, client_software_version });
arb!(api_versions_response::ApiVersionsResponse { error_code, api_keys, throttle_time_ms, supported_features, finalized_features_epoch, finalized_features, zk_migration_ready });
arb!(api_versions_response::ApiVersion { api_key, min_version, max_version });
arb!(api_versions_response::SupportedFeatureKey { name, min_version, max_version });
arb!(api_versions_response::FinalizedFeatureKey { name, max_version_level, min_version_level });
arb!(assign_replicas_to_dirs_request::AssignReplicasToDirsRequest { broker_id, broker_epoch, directories });
arb!(assign_replicas_to_dirs_request::DirectoryData { id, topics });
arb!(assign_replicas_to_dirs_request::TopicData { topic_id, partitions });
arb!(assign_replicas_to_dirs_request::PartitionData { partition_index });
arb!(assign_replicas_to_dirs_response::AssignReplicasToDirsResponse { throttle_time_ms, error_code, directories });
arb!(assign_replicas_to_dirs_response::DirectoryData { id, topics });
arb!(assign_replicas_to_dirs_response::TopicData { topic_id, partitions });
arb!(assign_replicas_to_dirs_response::PartitionData { partition_index, error_code });
arb!(begin_quorum_epoch_request::BeginQuorumEpochRequest { cluster_id, voter_id, topics, leader_endpoints });
arb!(begin_quorum_epoch_request::TopicData { topic_name, partitions });
arb!(begin_quorum_epoch_request::PartitionData { partition_index, voter_directory_id, leader_id, leader_epoch });
arb!(begin_quorum_epoch_request::LeaderEndpoint { name, host, port });
arb!(begin_quorum_epoch_response::BeginQuorumEpochResponse { error_code, topics, node_endpoints });
arb!(begin_quorum_epoch_response::TopicData { topic_name, partitions });
arb!(begin_quorum_epoch_response::PartitionData { partition_index, error_code, leader_id, leader_epoch });
arb!(begin_quorum_epoch_response::NodeEndpoint { node_id, host, port });
arb!(broker_heartbeat_request::BrokerHeartbeatRequest { broker_id, broker_epoch, current_metadata_offset, want_fence, want_shut_down, offline_log_dirs });
arb!(broker_heartbeat_response::BrokerHeartbeatResponse { throttle_time_ms, error_code, is_caught_up, is_fenced, should_shut_down });
arb!(broker_registration_request::BrokerRegistrationRequest { broker_id, cluster_id, incarnation_id, listeners, features, rack, is_migrating_zk_broker, log_dirs, previous_broker_epoch });
arb!(broker_registration_request::Listener { name, host, port, security_protocol });
arb!(broker_registration_request::Feature { name, min_supported_version, max_supported_version });
arb!(broker_registration_response::BrokerRegistrationResponse { throttle_time_ms, error_code, broker_epoch });
arb!(consumer_group_current_member_assignment_key::ConsumerGroupCurrentMemberAssignmentKey { group_id, member_id });
arb!(consumer_group_current_member_assignment_value::ConsumerGroupCurrentMemberAssignmentValue { member_epoch, previous_member_epoch, state, assigned_partitions, partitions_pending_revocation });
arb!(consumer_group_current_member_assignment_value::TopicPartitions { topic_id, partitions });
arb!(consumer_group_describe_request::ConsumerGroupDescribeRequest { group_ids, include_authorized_operations });
arb!(consumer_group_describe_response::ConsumerGroupDescribeResponse { throttle_time_ms, groups });
arb!(consumer_group_describe_response::DescribedGroup { error_code, error_message, group_id, group_state, group_epoch, assignment_epoch, assignor_name, members, authorized_operations });
arb!(consumer_group_describe_response::Member { member_id, instance_id, rack_id, member_epoch, client_id, client_host, subscribed_topic_names, subscribed_topic_regex, assignment, target_assignment });
arb!(consumer_group_describe_response::Assignment { topic_partitions });
arb!(consumer_group_describe_response::TopicPartitions { topic_id, topic_name, partitions });
arb!(consumer_group_heartbeat_request::ConsumerGroupHeartbeatRequest { group_id, member_id, member_epoch, instance_id, rack_id, rebalance_timeout_ms, subscribed_topic_names, subscribed_topic_regex, server_assignor, topic_partitions });
arb!(consumer_group_heartbeat_request::TopicPartitions { topic_id, partitions });
arb!(consumer_group_heartbeat_response::ConsumerGroupHeartbeatResponse { throttle_time_ms, error_code, error_message, member_id, member_epoch, heartbeat_interval_ms, assignment });
arb!(consumer_group_heartbeat_response::Assignment { topic_partitions });
arb!(consumer_group_heartbeat_response::TopicPartitions { topic_id, partitions });
arb!(consumer_group_member_metadata_key::ConsumerGroupMemberMetadataKey { group_id, member_id });
arb!(consumer_group_member_metadata_value::ConsumerGroupMemberMetadataValue { instance_id, rack_id, client_id, client_host, subscribed_topic_names, subscribed_topic_regex, rebalance_timeout_ms, server_assignor, classic_member_metadata });
arb!(consumer_group_member_metadata_value::ClassicMemberMetadata { session_timeout_ms, supported_protocols });
arb!(consumer_group_member_metadata_value::ClassicProtocol { name, metadata });
arb!(consumer_group_metadata_key::ConsumerGroupMetadataKey { group_id });
arb!(consumer_group_metadata_value::ConsumerGroupMetadataValue { epoch });
arb!(consumer_group_partition_metadata_key::ConsumerGroupPartitionMetadataKey { group_id });
arb!(consumer_group_partition_metadata_value::ConsumerGroupPartitionMetadataValue { topics });
arb!(consumer_group_partition_metadata_value::TopicMetadata { topic_id, topic_name, num_partitions, partition_metadata });
arb!(consumer_group_partition_metadata_value::PartitionMetadata { partition, racks });
arb!(consumer_group_target_assignment_member_key::ConsumerGroupTargetAssignmentMemberKey { group_id, member_id });
arb!(consumer_group_target_assignment_member_value::ConsumerGroupTargetAssignmentMemberValue { topic_partitions });
arb!(consumer_group_target_assignment_member_value::TopicPartition { topic_id, partitions });
arb!(consumer_group_target_assignment_metadata_key::ConsumerGroupTargetAssignmentMetadataKey { group_id });
arb!(consumer_group_target_assignment_metadata_value::ConsumerGroupTargetAssignmentMetadataValue { assignment_epoch });
arb!(consumer_protocol_assignment::ConsumerProtocolAssignment { assigned_partitions, user_data });
arb!(consumer_protocol_assignment::TopicPartition { topic, partitions });
arb!(consumer_protocol_subscription::ConsumerProtocolSubscription { topics, user_data, owned_partitions, generation_id, rack_id });
arb!(consumer_protocol_subscription::TopicPartition { topic, partitions });
arb!(controlled_shutdown_request::ControlledShutdownRequest { broker_id, broker_epoch });
arb!(controlled_shutdown_response::ControlledShutdownResponse { error_code, remaining_partitions });
arb!(controlled_shutdown_response::RemainingPartition { topic_name, partition_index });
arb!(controller_registration_request::ControllerRegistrationRequest { controller_id, incarnation_id, zk_migration_ready, listeners, features });
arb!(controller_registration_request::Listener { name, host, port, security_protocol });
arb!(controller_registration_request::Feature { name, min_supported_version, max_supported_version });
arb!(controller_registration_response::ControllerRegistrationResponse { throttle_time_ms, error_code, error_message });
arb!(create_acls_request::CreateAclsRequest { creations });
arb!(create_acls_request::AclCreation { resource_type, resource_name, resource_pattern_type, principal, host, operation, permission_type });
arb!(create_acls_response::CreateAclsResponse { throttle_time_ms, results });
arb!(create_acls_response::AclCreationResult { error_code, error_message });
arb!(create_delegation_token_request::CreateDelegationTokenRequest { owner_principal_type, owner_principal_name, renewers, max_lifetime_ms });
arb!(create_delegation_token_request::CreatableRenewers { principal_type, principal_name });
arb!(create_delegation_token_response::CreateDelegationTokenResponse { error_code, principal_type, principal_name, token_requester_principal_type, token_requester_principal_name, issue_timestamp_ms, expiry_timestamp_ms, max_timestamp_ms, token_id, hmac, throttle_time_ms });
arb!(create_partitions_request::CreatePartitionsRequest { topics, timeout_ms, validate_only });
arb!(create_partitions_request::CreatePartitionsTopic { name, count, assignments });
arb!(create_partitions_request::CreatePartitionsAssignment { broker_ids });
arb!(create_partitions_response::CreatePartitionsResponse { throttle_time_ms, results });
arb!(create_partitions_response::CreatePartitionsTopicResult { name, error_code, error_message });
arb!(create_topics_request::CreateTopicsRequest { topics, timeout_ms, validate_only });
arb!(create_topics_request::CreatableTopic { name, num_partitions, replication_factor, assignments, configs });
arb!(create_topics_request::CreatableReplicaAssignment { partition_index, broker_ids });
arb!(create_topics_request::CreatableTopicConfig { name, value });
arb!(create_topics_response::CreateTopicsResponse { throttle_time_ms, topics });
arb!(create_topics_response::CreatableTopicResult { name, topic_id, error_code, error_message, topic_config_error_code, num_partitions, replication_factor, configs });
arb!(create_topics_response::CreatableTopicConfigs { name, value, read_only, config_source, is_sensitive });
arb!(default_principal_data::DefaultPrincipalData { r#type, name, token_authenticated });
arb!(delete_acls_request::DeleteAclsRequest { filters });
arb!(delete_acls_request::DeleteAclsFilter { resource_type_filter, resource_name_filter, pattern_type_filter, principal_filter, host_filter, operation, permission_type });
arb!(delete_acls_response::DeleteAclsResponse { throttle_time_ms, filter_results });
arb!(delete_acls_response::DeleteAclsFilterResult { error_code, error_message, matching_acls });
arb!(delete_acls_response::DeleteAclsMatchingAcl { error_code, error_message, resource_type, resource_name, pattern_type, principal, host, operation, permission_type });
arb!(delete_groups_request::DeleteGroupsRequest { groups_names });
arb!(delete_groups_response::DeleteGroupsResponse { throttle_time_ms, results });
arb!(delete_groups_response::DeletableGroupResult { group_id, error_code });
arb!(delete_records_request::DeleteRecordsRequest { topics, timeout_ms });
arb!(delete_records_request::DeleteRecordsTopic { name, partitions });
arb!(delete_records_request::DeleteRecordsPartition { partition_index, offset });
arb!(delete_records_response::DeleteRecordsResponse { throttle_time_ms, topics });
arb!(delete_records_response::DeleteRecordsTopicResult { name, partitions });
arb!(delete_records_response::DeleteRecordsPartitionResult { partition_index, low_watermark, error_code });
arb!(delete_share_group_state_request::DeleteShareGroupStateRequest { group_id, topics });
arb!(delete_share_group_state_request::DeleteStateData { topic_id, partitions });
arb!(delete_share_group_state_request::PartitionData { partition });
arb!(delete_share_group_state_response::DeleteShareGroupStateResponse { results });
arb!(delete_share_group_state_response::DeleteStateResult { topic_id, partitions });
arb!(delete_share_group_state_response::PartitionResult { partition, error_code, error_message });
arb!(delete_topics_request::DeleteTopicsRequest { topics, topic_names, timeout_ms });
arb!(delete_topics_request::DeleteTopicState { name, topic_id });
arb!(delete_topics_response::DeleteTopicsResponse { throttle_time_ms, responses });
arb!(delete_topics_response::DeletableTopicResult { name, topic_id, error_code, error_message });
arb!(describe_acls_request::DescribeAclsRequest { resource_type_filter, resource_name_filter, pattern_type_filter, principal_filter, host_filter, operation, permission_type });
arb!(describe_acls_response::DescribeAclsResponse { throttle_time_ms, error_code, error_message, resources });
arb!(describe_acls_response::DescribeAclsResource { resource_type, resource_name, pattern_type, acls });
arb!(describe_acls_response::AclDescription { principal, host, operation, permission_type });
arb!(describe_client_quotas_request::DescribeClientQuotasRequest { components, strict });
arb!(describe_client_quotas_request::ComponentData { entity_type, match_type, r#match });
arb!(describe_client_quotas_response::DescribeClientQuotasResponse { throttle_time_ms, error_code, error_message, entries });
arb!(describe_client_quotas_response::EntryData { entity, values });
arb!(describe_client_quotas_response::EntityData { entity_type, entity_name });
arb!(describe_client_quotas_response::ValueData { key, value });
arb!(describe_cluster_request::DescribeClusterRequest { include_cluster_authorized_operations, endpoint_type });
arb!(describe_cluster_response::DescribeClusterResponse { throttle_time_ms, error_code, error_message, endpoint_type, cluster_id, controller_id, brokers, cluster_authorized_operations });
arb!(describe_cluster_response::DescribeClusterBroker { broker_id, host, port, rack });
arb!(describe_configs_request::DescribeConfigsRequest { resources, include_synonyms, include_documentation });
arb!(describe_configs_request::DescribeConfigsResource { resource_type, resource_name, configuration_keys });
arb!(describe_configs_response::DescribeConfigsResponse { throttle_time_ms, results });
arb!(describe_configs_response::DescribeConfigsResult { error_code, error_message, resource_type, resource_name, configs });
arb!(describe_configs_response::DescribeConfigsResourceResult { name, value, read_only, is_default, config_source, is_sensitive, synonyms, config_type, documentation });
arb!(describe_configs_response::DescribeConfigsSynonym { name, value, source });
arb!(describe_delegation_token_request::DescribeDelegationTokenRequest { owners });
arb!(describe_delegation_token_request::DescribeDelegationTokenOwner { principal_type, principal_name });
arb!(describe_delegation_token_response::DescribeDelegationTokenResponse { error_code, tokens, throttle_time_ms });
arb!(describe_delegation_token_response::DescribedDelegationToken { principal_type, principal_name, token_requester_principal_type, token_requester_principal_name, issue_timestamp, expiry_timestamp, max_timestamp, token_id, hmac, renewers });
arb!(describe_delegation_token_response::DescribedDelegationTokenRenewer { principal_type, principal_name });
arb!(describe_groups_request::DescribeGroupsRequest { groups, include_authorized_operations });
arb!(describe_groups_response::DescribeGroupsResponse { throttle_time_ms, groups });
arb!(describe_groups_response::DescribedGroup { error_code, group_id, group_state, protocol_type, protocol_data, members, authorized_operations });
arb!(describe_groups_response::DescribedGroupMember { member_id, group_instance_id, client_id, client_host, member_metadata, member_assignment });
arb!(describe_log_dirs_request::DescribeLogDirsRequest { topics });
arb!(describe_log_dirs_request::DescribableLogDirTopic { topic, partitions });
arb!(describe_log_dirs_response::DescribeLogDirsResponse { throttle_time_ms, error_code, results });
arb!(describe_log_dirs_response::DescribeLogDirsResult { error_code, log_dir, topics, total_bytes, usable_bytes });
arb!(describe_log_dirs_response::DescribeLogDirsTopic { name, partitions });
arb!(describe_log_dirs_response::DescribeLogDirsPartition { partition_index, partition_size, offset_lag, is_future_key });
arb!(describe_producers_request::DescribeProducersRequest { topics });
arb!(describe_producers_request::TopicRequest { name, partition_indexes });
arb!(describe_producers_response::DescribeProducersResponse { throttle_time_ms, topics });
arb!(describe_producers_response::TopicResponse { name, partitions });
arb!(describe_producers_response::PartitionResponse { partition_index, error_code, error_message, active_producers });
arb!(describe_producers_response::ProducerState { producer_id, producer_epoch, last_sequence, last_timestamp, coordinator_epoch, current_txn_start_offset });
arb!(describe_quorum_request::DescribeQuorumRequest { topics });
arb!(describe_quorum_request::TopicData { topic_name, partitions });
arb!(describe_quorum_request::PartitionData { partition_index });
arb!(describe_quorum_response::DescribeQuorumResponse { error_code, error_message, topics, nodes });
arb!(describe_quorum_response::TopicData { topic_name, partitions });
arb!(describe_quorum_response::PartitionData { partition_index, error_code, error_message, leader_id, leader_epoch, high_watermark, current_voters, observers });
arb!(describe_quorum_response::ReplicaState { replica_id, replica_directory_id, log_end_offset, last_fetch_timestamp, last_caught_up_timestamp });
arb!(describe_quorum_response::Node { node_id, listeners });
arb!(describe_quorum_response::Listener { name, host, port });
arb!(describe_topic_partitions_request::DescribeTopicPartitionsRequest { topics, response_partition_limit, cursor });
arb!(describe_topic_partitions_request::TopicRequest { name });
arb!(describe_topic_partitions_request::Cursor { topic_name, partition_index });
arb!(describe_topic_partitions_response::DescribeTopicPartitionsResponse { throttle_time_ms, topics, next_cursor });
arb!(describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic { error_code, name, topic_id, is_internal, partitions, topic_authorized_operations });
arb!(describe_topic_partitions_response::DescribeTopicPartitionsResponsePartition { error_code, partition_index, leader_id, leader_epoch, replica_nodes, isr_nodes, eligible_leader_replicas, last_known_elr, offline_replicas });
arb!(describe_topic_partitions_response::Cursor { topic_name, partition_index });
arb!(describe_transactions_request::DescribeTransactionsRequest { transactional_ids });
arb!(describe_transactions_response::DescribeTransactionsResponse { throttle_time_ms, transaction_states });
arb!(describe_transactions_response::TransactionState { error_code, transactional_id, transaction_state, transaction_timeout_ms, transaction_start_time_ms, producer_id, producer_epoch, topics });
arb!(describe_transactions_response::TopicData { topic, partitions });
arb!(describe_user_scram_credentials_request::DescribeUserScramCredentialsRequest { users });
arb!(describe_user_scram_credentials_request::UserName { name });
arb!(describe_user_scram_credentials_response::DescribeUserScramCredentialsResponse { throttle_time_ms, error_code, error_message, results });
arb!(describe_user_scram_credentials_response::DescribeUserScramCredentialsResult { user, error_code, error_message, credential_infos });
arb!(describe_user_scram_credentials_response::CredentialInfo { mechanism, iterations });
arb!(elect_leaders_request::ElectLeadersRequest { election_type, topic_partitions, timeout_ms });
arb!(elect_leaders_request::TopicPartitions { topic, partitions });
arb!(elect_leaders_response::ElectLeadersResponse { throttle_time_ms, error_code, replica_election_results });
arb!(elect_leaders_response::ReplicaElectionResult { topic, partition_result });
arb!(elect_leaders_response::PartitionResult { partition_id, error_code, error_message });
arb!(end_quorum_epoch_request::EndQuorumEpochRequest { cluster_id, topics, leader_endpoints });
arb!(end_quorum_epoch_request::TopicData { topic_name, partitions });
arb!(end_quorum_epoch_request::PartitionData { partition_index, leader_id, leader_epoch, preferred_successors, preferred_candidates });
arb!(end_quorum_epoch_request::ReplicaInfo { candidate_id, candidate_directory_id });
arb!(end_quorum_epoch_request::LeaderEndpoint { name, host, port });
arb!(end_quorum_epoch_response::EndQuorumEpochResponse { error_code, topics, node_endpoints });
arb!(end_quorum_epoch_response::TopicData { topic_name, partitions });
arb!(end_quorum_epoch_response::PartitionData { partition_index, error_code, leader_id, leader_epoch });
arb!(end_quorum_epoch_response::NodeEndpoint { node_id, host, port });
arb!(end_txn_request::EndTxnRequest { transactional_id, producer_id, producer_epoch, committed });
arb!(end_txn_response::EndTxnResponse { throttle_time_ms, error_code, producer_id, producer_epoch });
arb!(envelope_request::EnvelopeRequest { request_data, request_principal, client_host_address });
arb!(envelope_response::EnvelopeResponse { response_data, error_code });
arb!(expire_delegation_token_request::ExpireDelegationTokenRequest { hmac, expiry_time_period_ms });
arb!(expire_delegation_token_response::ExpireDelegationTokenResponse { error_code, expiry_timestamp_ms, throttle_time_ms });
arb!(fetch_request::FetchRequest { cluster_id, replica_id, replica_state, max_wait_ms, min_bytes, max_bytes, isolation_level, session_id, session_epoch, topics, forgotten_topics_data, rack_id });
arb!(fetch_request::ReplicaState { replica_id, replica_epoch });
arb!(fetch_request::FetchTopic { topic, topic_id, partitions });
arb!(fetch_request::FetchPartition { partition, current_leader_epoch, fetch_offset, last_fetched_epoch, log_start_offset, partition_max_bytes, replica_directory_id });
arb!(fetch_request::ForgottenTopic { topic, topic_id, partitions });
arb!(fetch_response::FetchResponse { throttle_time_ms, error_code, session_id, responses, node_endpoints });
arb!(fetch_response::FetchableTopicResponse { topic, topic_id, partitions });
arb!(fetch_response::PartitionData { partition_index, error_code, high_watermark, last_stable_offset, log_start_offset, diverging_epoch, current_leader, snapshot_id, aborted_transactions, preferred_read_replica, records });
arb!(fetch_response::EpochEndOffset { epoch, end_offset });
arb!(fetch_response::LeaderIdAndEpoch { leader_id, leader_epoch });
arb!(fetch_response::SnapshotId { end_offset, epoch });
arb!(fetch_response::AbortedTransaction { producer_id, first_offset });
arb!(fetch_response::NodeEndpoint { node_id, host, port, rack });
arb!(fetch_snapshot_request::FetchSnapshotRequest { cluster_id, replica_id, max_bytes, topics });
arb!(fetch_snapshot_request::TopicSnapshot { name, partitions });
arb!(fetch_snapshot_request::PartitionSnapshot { partition, current_leader_epoch, snapshot_id, position, replica_directory_id });
arb!(fetch_snapshot_request::SnapshotId { end_offset, epoch });
arb!(fetch_snapshot_response::FetchSnapshotResponse { throttle_time_ms, error_code, topics, node_endpoints });
arb!(fetch_snapshot_response::TopicSnapshot { name, partitions });
arb!(fetch_snapshot_response::PartitionSnapshot { index, error_code, snapshot_id, current_leader, size, position, unaligned_records });
arb!(fetch_snapshot_response::SnapshotId { end_offset, epoch });
arb!(fetch_snapshot_response::LeaderIdAndEpoch { leader_id, leader_epoch });
arb!(fetch_snapshot_response::NodeEndpoint { node_id, host, port });
arb!(find_coordinator_request::FindCoordinatorRequest { key, key_type, coordinator_keys });
arb!(find_coordinator_response::FindCoordinatorResponse { throttle_time_ms, error_code, error_message, node_id, host, port, coordinators });
arb!(find_coordinator_response::Coordinator { key, node_id, host, port, error_code, error_message });
arb!(get_telemetry_subscriptions_request::GetTelemetrySubscriptionsRequest { client_instance_id });
arb!(get_telemetry_subscriptions_response::GetTelemetrySubscriptionsResponse { throttle_time_ms, error_code, client_instance_id, subscription_id, accepted_compression_types, push_interval_ms, telemetry_max_bytes, delta_temporality, requested_metrics });
arb!(group_metadata_key::GroupMetadataKey { group });
arb!(group_metadata_value::GroupMetadataValue { protocol_type, generation, protocol, leader, current_state_timestamp, members });
arb!(group_metadata_value::MemberMetadata { member_id, group_instance_id, client_id, client_host, rebalance_timeout, session_timeout, subscription, assignment });
arb!(heartbeat_request::HeartbeatRequest { group_id, generation_id, member_id, group_instance_id });
arb!(heartbeat_response::HeartbeatResponse { throttle_time_ms, error_code });
arb!(incremental_alter_configs_request::IncrementalAlterConfigsRequest { resources, validate_only });
arb!(incremental_alter_configs_request::AlterConfigsResource { resource_type, resource_name, configs });
arb!(incremental_alter_configs_request::AlterableConfig { name, config_operation, value });
arb!(incremental_alter_configs_response::IncrementalAlterConfigsResponse { throttle_time_ms, responses });
arb!(incremental_alter_configs_response::AlterConfigsResourceResponse { error_code, error_message, resource_type, resource_name });
arb!(init_producer_id_request::InitProducerIdRequest { transactional_id, transaction_timeout_ms, producer_id, producer_epoch });
arb!(init_producer_id_response::InitProducerIdResponse { throttle_time_ms, error_code, producer_id, producer_epoch });
arb!(initialize_share_group_state_request::InitializeShareGroupStateRequest { group_id, topics });
arb!(initialize_share_group_state_request::InitializeStateData { topic_id, partitions });
arb!(initialize_share_group_state_request::PartitionData { partition, state_epoch, start_offset });
arb!(initialize_share_group_state_response::InitializeShareGroupStateResponse { results });
arb!(initialize_share_group_state_response::InitializeStateResult { topic_id, partitions });
arb!(initialize_share_group_state_response::PartitionResult { partition, error_code, error_message });
arb!(join_group_request::JoinGroupRequest { group_id, session_timeout_ms, rebalance_timeout_ms, member_id, group_instance_id, protocol_type, protocols, reason });
arb!(join_group_request::JoinGroupRequestProtocol { name, metadata });
arb!(join_group_response::JoinGroupResponse { throttle_time_ms, error_code, generation_id, protocol_type, protocol_name, leader, skip_assignment, member_id, members });
arb!(join_group_response::JoinGroupResponseMember { member_id, group_instance_id, metadata });
arb!(k_raft_version_record::KRaftVersionRecord { version, k_raft_version });
arb!(leader_and_isr_request::LeaderAndIsrRequest { controller_id, is_k_raft_controller, controller_epoch, broker_epoch, r#type, ungrouped_partition_states, topic_states, live_leaders });
arb!(leader_and_isr_request::LeaderAndIsrPartitionState { topic_name, partition_index, controller_epoch, leader, leader_epoch, isr, partition_epoch, replicas, adding_replicas, removing_replicas, is_new, leader_recovery_state });
arb!(leader_and_isr_request::LeaderAndIsrTopicState { topic_name, topic_id, partition_states });
arb!(leader_and_isr_request::LeaderAndIsrLiveLeader { broker_id, host_name, port });
arb!(leader_and_isr_response::LeaderAndIsrResponse { error_code, partition_errors, topics });
arb!(leader_and_isr_response::LeaderAndIsrPartitionError { topic_name, partition_index, error_code });
arb!(leader_and_isr_response::LeaderAndIsrTopicError { topic_id, partition_errors });
arb!(leader_change_message::LeaderChangeMessage { version, leader_id, voters, granting_voters });
arb!(leader_change_message::Voter { voter_id, voter_directory_id });
arb!(leave_group_request::LeaveGroupRequest { group_id, member_id, members });
arb!(leave_group_request::MemberIdentity { member_id, group_instance_id, reason });
arb!(leave_group_response::LeaveGroupResponse { throttle_time_ms, error_code, members });
arb!(leave_group_response::MemberResponse { member_id, group_instance_id, error_code });
arb!(list_client_metrics_resources_request::ListClientMetricsResourcesRequest {  });
arb!(list_client_metrics_resources_response::ListClientMetricsResourcesResponse { throttle_time_ms, error_code, client_metrics_resources });
arb!(list_client_metrics_resources_response::ClientMetricsResource { name });
arb!(list_groups_request::ListGroupsRequest { states_filter, types_filter });
arb!(list_groups_response::ListGroupsResponse { throttle_time_ms, error_code, groups });
arb!(list_groups_response::ListedGroup { group_id, protocol_type, group_state, group_type });
arb!(list_offsets_request::ListOffsetsRequest { replica_id, isolation_level, topics, timeout_ms });
arb!(list_offsets_request::ListOffsetsTopic { name, partitions });
arb!(list_offsets_request::ListOffsetsPartition { partition_index, current_leader_epoch, timestamp, max_num_offsets });
arb!(list_offsets_response::ListOffsetsResponse { throttle_time_ms, topics });
arb!(list_offsets_response::ListOffsetsTopicResponse { name, partitions });
arb!(list_offsets_response::ListOffsetsPartitionResponse { partition_index, error_code, old_style_offsets, timestamp, offset, leader_epoch });
arb!(list_partition_reassignments_request::ListPartitionReassignmentsRequest { timeout_ms, topics });
arb!(list_partition_reassignments_request::ListPartitionReassignmentsTopics { name, partition_indexes });
arb!(list_partition_reassignments_response::ListPartitionReassignmentsResponse { throttle_time_ms, error_code, error_message, topics });
arb!(list_partition_reassignments_response::OngoingTopicReassignment { name, partitions });
arb!(list_partition_reassignments_response::OngoingPartitionReassignment { partition_index, replicas, adding_replicas, removing_replicas });
arb!(list_transactions_request::ListTransactionsRequest { state_filters, producer_id_filters, duration_filter });
arb!(list_transactions_response::ListTransactionsResponse { throttle_time_ms, error_code, unknown_state_filters, transaction_states });
arb!(list_transactions_response::TransactionState { transactional_id, producer_id, transaction_state });
arb!(metadata_request::MetadataRequest { topics, allow_auto_topic_creation, include_cluster_authorized_operations, include_topic_authorized_operations });
arb!(metadata_request::MetadataRequestTopic { topic_id, name });
arb!(metadata_response::MetadataResponse { throttle_time_ms, brokers, cluster_id, controller_id, topics, cluster_authorized_operations });
arb!(metadata_response::MetadataResponseBroker { node_id, host, port, rack });
arb!(metadata_response::MetadataResponseTopic { error_code, name, topic_id, is_internal, partitions, topic_authorized_operations });
arb!(metadata_response::MetadataResponsePartition { error_code, partition_index, leader_id, leader_epoch, replica_nodes, isr_nodes, offline_replicas });
arb!(offset_commit_key::OffsetCommitKey { group, topic, partition });
arb!(offset_commit_request::OffsetCommitRequest { group_id, generation_id_or_member_epoch, member_id, group_instance_id, retention_time_ms, topics });
arb!(offset_commit_request::OffsetCommitRequestTopic { name, partitions });
arb!(offset_commit_request::OffsetCommitRequestPartition { partition_index, committed_offset, committed_leader_epoch, commit_timestamp, committed_metadata });
arb!(offset_commit_response::OffsetCommitResponse { throttle_time_ms, topics });
arb!(offset_commit_response::OffsetCommitResponseTopic { name, partitions });
arb!(offset_commit_response::OffsetCommitResponsePartition { partition_index, error_code });
arb!(offset_commit_value::OffsetCommitValue { offset, leader_epoch, metadata, commit_timestamp, expire_timestamp });
arb!(offset_delete_request::OffsetDeleteRequest { group_id, topics });
arb!(offset_delete_request::OffsetDeleteRequestTopic { name, partitions });
arb!(offset_delete_request::OffsetDeleteRequestPartition { partition_index });
arb!(offset_delete_response::OffsetDeleteResponse { error_code, throttle_time_ms, topics });
arb!(offset_delete_response::OffsetDeleteResponseTopic { name, partitions });
arb!(offset_delete_response::OffsetDeleteResponsePartition { partition_index, error_code });
arb!(offset_fetch_request::OffsetFetchRequest { group_id, topics, groups, require_stable });
arb!(offset_fetch_request::OffsetFetchRequestTopic { name, partition_indexes });
arb!(offset_fetch_request::OffsetFetchRequestGroup { group_id, member_id, member_epoch, topics });
arb!(offset_fetch_request::OffsetFetchRequestTopics { name, partition_indexes });
arb!(offset_fetch_response::OffsetFetchResponse { throttle_time_ms, topics, error_code, groups });
arb!(offset_fetch_response::OffsetFetchResponseTopic { name, partitions });
arb!(offset_fetch_response::OffsetFetchResponsePartition { partition_index, committed_offset, committed_leader_epoch, metadata, error_code });
arb!(offset_fetch_response::OffsetFetchResponseGroup { group_id, topics, error_code });
arb!(offset_fetch_response::OffsetFetchResponseTopics { name, partitions });
arb!(offset_fetch_response::OffsetFetchResponsePartitions { partition_index, committed_offset, committed_leader_epoch, metadata, error_code });
arb!(offset_for_leader_epoch_request::OffsetForLeaderEpochRequest { replica_id, topics });
arb!(offset_for_leader_epoch_request::OffsetForLeaderTopic { topic, partitions });
arb!(offset_for_leader_epoch_request::OffsetForLeaderPartition { partition, current_leader_epoch, leader_epoch });
arb!(offset_for_leader_epoch_response::OffsetForLeaderEpochResponse { throttle_time_ms, topics });
arb!(offset_for_leader_epoch_response::OffsetForLeaderTopicResult { topic, partitions });
arb!(offset_for_leader_epoch_response::EpochEndOffset { error_code, partition, leader_epoch, end_offset });
arb!(produce_request::ProduceRequest { transactional_id, acks, timeout_ms, topic_data });
arb!(produce_request::TopicProduceData { name, partition_data });
arb!(produce_request::PartitionProduceData { index, records });
arb!(produce_response::ProduceResponse { responses, throttle_time_ms, node_endpoints });
arb!(produce_response::TopicProduceResponse { name, partition_responses });
arb!(produce_response::PartitionProduceResponse { index, error_code, base_offset, log_append_time_ms, log_start_offset, record_errors, error_message, current_leader });
arb!(produce_response::BatchIndexAndErrorMessage { batch_index, batch_index_error_message });
arb!(produce_response::LeaderIdAndEpoch { leader_id, leader_epoch });
arb!(produce_response::NodeEndpoint { node_id, host, port, rack });
arb!(push_telemetry_request::PushTelemetryRequest { client_instance_id, subscription_id, terminating, compression_type, metrics });
arb!(push_telemetry_response::PushTelemetryResponse { throttle_time_ms, error_code });
arb!(quorum_state_data::QuorumStateData { cluster_id, leader_id, leader_epoch, voted_id, voted_directory_id, applied_offset, current_voters });
arb!(quorum_state_data::Voter { voter_id });
arb!(read_share_group_state_request::ReadShareGroupStateRequest { group_id, topics });
arb!(read_share_group_state_request::ReadStateData { topic_id, partitions });
arb!(read_share_group_state_request::PartitionData { partition, leader_epoch });
arb!(read_share_group_state_response::ReadShareGroupStateResponse { results });
arb!(read_share_group_state_response::ReadStateResult { topic_id, partitions });
arb!(read_share_group_state_response::PartitionResult { partition, error_code, error_message, state_epoch, start_offset, state_batches });
arb!(read_share_group_state_response::StateBatch { first_offset, last_offset, delivery_state, delivery_count });
arb!(read_share_group_state_summary_request::ReadShareGroupStateSummaryRequest { group_id, topics });
arb!(read_share_group_state_summary_request::ReadStateSummaryData { topic_id, partitions });
arb!(read_share_group_state_summary_request::PartitionData { partition, leader_epoch });
arb!(read_share_group_state_summary_response::ReadShareGroupStateSummaryResponse { results });
arb!(read_share_group_state_summary_response::ReadStateSummaryResult { topic_id, partitions });
arb!(read_share_group_state_summary_response::PartitionResult { partition, error_code, error_message, state_epoch, start_offset });
arb!(remove_raft_voter_request::RemoveRaftVoterRequest { cluster_id, voter_id, voter_directory_id });
arb!(remove_raft_voter_response::RemoveRaftVoterResponse { throttle_time_ms, error_code, error_message });
arb!(renew_delegation_token_request::RenewDelegationTokenRequest { hmac, renew_period_ms });
arb!(renew_delegation_token_response::RenewDelegationTokenResponse { error_code, expiry_timestamp_ms, throttle_time_ms });
arb!(request_header::RequestHeader { request_api_key, request_api_version, correlation_id, client_id });
arb!(response_header::ResponseHeader { correlation_id });
arb!(sasl_authenticate_request::SaslAuthenticateRequest { auth_bytes });
arb!(sasl_authenticate_response::SaslAuthenticateResponse { error_code, error_message, auth_bytes, session_lifetime_ms });
arb!(sasl_handshake_request::SaslHandshakeRequest { mechanism });
arb!(sasl_handshake_response::SaslHandshakeResponse { error_code, mechanisms });
arb!(share_acknowledge_request::ShareAcknowledgeRequest { group_id, member_id, share_session_epoch, topics });
arb!(share_acknowledge_request::AcknowledgeTopic { topic_id, partitions });
arb!(share_acknowledge_request::AcknowledgePartition { partition_index, acknowledgement_batches });
arb!(share_acknowledge_request::AcknowledgementBatch { first_offset, last_offset, acknowledge_types });
arb!(share_acknowledge_response::ShareAcknowledgeResponse { throttle_time_ms, error_code, error_message, responses, node_endpoints });
arb!(share_acknowledge_response::ShareAcknowledgeTopicResponse { topic_id, partitions });
arb!(share_acknowledge_response::PartitionData { partition_index, error_code, error_message, current_leader });
arb!(share_acknowledge_response::LeaderIdAndEpoch { leader_id, leader_epoch });
arb!(share_acknowledge_response::NodeEndpoint { node_id, host, port, rack });
arb!(share_fetch_request::ShareFetchRequest { group_id, member_id, share_session_epoch, max_wait_ms, min_bytes, max_bytes, topics, forgotten_topics_data });
arb!(share_fetch_request::FetchTopic { topic_id, partitions });
arb!(share_fetch_request::FetchPartition { partition_index, partition_max_bytes, acknowledgement_batches });
arb!(share_fetch_request::AcknowledgementBatch { first_offset, last_offset, acknowledge_types });
arb!(share_fetch_request::ForgottenTopic { topic_id, partitions });
arb!(share_fetch_response::ShareFetchResponse { throttle_time_ms, error_code, error_message, responses, node_endpoints });
arb!(share_fetch_response::ShareFetchableTopicResponse { topic_id, partitions });
arb!(share_fetch_response::PartitionData { partition_index, error_code, error_message, acknowledge_error_code, acknowledge_error_message, current_leader, records, acquired_records });
arb!(share_fetch_response::LeaderIdAndEpoch { leader_id, leader_epoch });
arb!(share_fetch_response::AcquiredRecords { first_offset, last_offset, delivery_count });
arb!(share_fetch_response::NodeEndpoint { node_id, host, port, rack });
arb!(share_group_current_member_assignment_key::ShareGroupCurrentMemberAssignmentKey { group_id, member_id });
arb!(share_group_current_member_assignment_value::ShareGroupCurrentMemberAssignmentValue { member_epoch, previous_member_epoch, state, assigned_partitions });
arb!(share_group_current_member_assignment_value::TopicPartitions { topic_id, partitions });
arb!(share_group_describe_request::ShareGroupDescribeRequest { group_ids, include_authorized_operations });
arb!(share_group_describe_response::ShareGroupDescribeResponse { throttle_time_ms, groups });
arb!(share_group_describe_response::DescribedGroup { error_code, error_message, group_id, group_state, group_epoch, assignment_epoch, assignor_name, members, authorized_operations });
arb!(share_group_describe_response::Member { member_id, rack_id, member_epoch, client_id, client_host, subscribed_topic_names, assignment });
arb!(share_group_describe_response::Assignment { topic_partitions });
arb!(share_group_describe_response::TopicPartitions { topic_id, topic_name, partitions });
arb!(share_group_heartbeat_request::ShareGroupHeartbeatRequest { group_id, member_id, member_epoch, rack_id, subscribed_topic_names });
arb!(share_group_heartbeat_response::ShareGroupHeartbeatResponse { throttle_time_ms, error_code, error_message, member_id, member_epoch, heartbeat_interval_ms, assignment });
arb!(share_group_heartbeat_response::Assignment { topic_partitions });
arb!(share_group_heartbeat_response::TopicPartitions { topic_id, partitions });
arb!(share_group_member_metadata_key::ShareGroupMemberMetadataKey { group_id, member_id });
arb!(share_group_member_metadata_value::ShareGroupMemberMetadataValue { rack_id, client_id, client_host, subscribed_topic_names });
arb!(share_group_metadata_key::ShareGroupMetadataKey { group_id });
arb!(share_group_metadata_value::ShareGroupMetadataValue { epoch });
arb!(share_group_partition_metadata_key::ShareGroupPartitionMetadataKey { group_id });
arb!(share_group_partition_metadata_value::ShareGroupPartitionMetadataValue { topics });
arb!(share_group_partition_metadata_value::TopicMetadata { topic_id, topic_name, num_partitions, partition_metadata });
arb!(share_group_partition_metadata_value::PartitionMetadata { partition, racks });
arb!(share_group_state_partition_metadata_key::ShareGroupStatePartitionMetadataKey { group_id });
arb!(share_group_state_partition_metadata_value::ShareGroupStatePartitionMetadataValue { initialized_topics, deleting_topics });
arb!(share_group_state_partition_metadata_value::TopicPartitionsInfo { topic_id, topic_name, partitions });
arb!(share_group_state_partition_metadata_value::TopicInfo { topic_id, topic_name });
arb!(share_group_target_assignment_member_key::ShareGroupTargetAssignmentMemberKey { group_id, member_id });
arb!(share_group_target_assignment_member_value::ShareGroupTargetAssignmentMemberValue { topic_partitions });
arb!(share_group_target_assignment_member_value::TopicPartition { topic_id, partitions });
arb!(share_group_target_assignment_metadata_key::ShareGroupTargetAssignmentMetadataKey { group_id });
arb!(share_group_target_assignment_metadata_value::ShareGroupTargetAssignmentMetadataValue { assignment_epoch });
arb!(share_snapshot_key::ShareSnapshotKey { group_id, topic_id, partition });
arb!(share_snapshot_value::ShareSnapshotValue { snapshot_epoch, state_epoch, leader_epoch, start_offset, state_batches });
arb!(share_snapshot_value::StateBatch { first_offset, last_offset, delivery_state, delivery_count });
arb!(share_update_key::ShareUpdateKey { group_id, topic_id, partition });
arb!(share_update_value::ShareUpdateValue { snapshot_epoch, leader_epoch, start_offset, state_batches });
arb!(share_update_value::StateBatch { first_offset, last_offset, delivery_state, delivery_count });
arb!(snapshot_footer_record::SnapshotFooterRecord { version });
arb!(snapshot_header_record::SnapshotHeaderRecord { version, last_contained_log_timestamp });
arb!(stop_replica_request::StopReplicaRequest { controller_id, is_k_raft_controller, controller_epoch, broker_epoch, delete_partitions, ungrouped_partitions, topics, topic_states });
arb!(stop_replica_request::StopReplicaPartitionV0 { topic_name, partition_index });
arb!(stop_replica_request::StopReplicaTopicV1 { name, partition_indexes });
arb!(stop_replica_request::StopReplicaTopicState { topic_name, partition_states });
arb!(stop_replica_request::StopReplicaPartitionState { partition_index, leader_epoch, delete_partition });
arb!(stop_replica_response::StopReplicaResponse { error_code, partition_errors });
arb!(stop_replica_response::StopReplicaPartitionError { topic_name, partition_index, error_code });
arb!(sync_group_request::SyncGroupRequest { group_id, generation_id, member_id, group_instance_id, protocol_type, protocol_name, assignments });
arb!(sync_group_request::SyncGroupRequestAssignment { member_id, assignment });
arb!(sync_group_response::SyncGroupResponse { throttle_time_ms, error_code, protocol_type, protocol_name, assignment });
arb!(transaction_log_key::TransactionLogKey { transactional_id });
arb!(transaction_log_value::TransactionLogValue { producer_id, previous_producer_id, next_producer_id, producer_epoch, transaction_timeout_ms, transaction_status, transaction_partitions, transaction_last_update_timestamp_ms, transaction_start_timestamp_ms, client_transaction_version });
arb!(transaction_log_value::PartitionsSchema { topic, partition_ids });
arb!(txn_offset_commit_request::TxnOffsetCommitRequest { transactional_id, group_id, producer_id, producer_epoch, generation_id, member_id, group_instance_id, topics });
arb!(txn_offset_commit_request::TxnOffsetCommitRequestTopic { name, partitions });
arb!(txn_offset_commit_request::TxnOffsetCommitRequestPartition { partition_index, committed_offset, committed_leader_epoch, committed_metadata });
arb!(txn_offset_commit_response::TxnOffsetCommitResponse { throttle_time_ms, topics });
arb!(txn_offset_commit_response::TxnOffsetCommitResponseTopic { name, partitions });
arb!(txn_offset_commit_response::TxnOffsetCommitResponsePartition { partition_index, error_code });
arb!(unregister_broker_request::UnregisterBrokerRequest { broker_id });
arb!(unregister_broker_response::UnregisterBrokerResponse { throttle_time_ms, error_code, error_message });
arb!(update_features_request::UpdateFeaturesRequest { timeout_ms, feature_updates, validate_only });
arb!(update_features_request::FeatureUpdateKey { feature, max_version_level, allow_downgrade, upgrade_type });
arb!(update_features_response::UpdateFeaturesResponse { throttle_time_ms, error_code, error_message, results });
arb!(update_features_response::UpdatableFeatureResult { feature, error_code, error_message });
arb!(update_metadata_request::UpdateMetadataRequest { controller_id, is_k_raft_controller, r#type, controller_epoch, broker_epoch, ungrouped_partition_states, topic_states, live_brokers });
arb!(update_metadata_request::UpdateMetadataPartitionState { topic_name, partition_index, controller_epoch, leader, leader_epoch, isr, zk_version, replicas, offline_replicas });
arb!(update_metadata_request::UpdateMetadataTopicState { topic_name, topic_id, partition_states });
arb!(update_metadata_request::UpdateMetadataBroker { id, v0_host, v0_port, endpoints, rack });
arb!(update_metadata_request::UpdateMetadataEndpoint { port, host, listener, security_protocol });
arb!(update_metadata_response::UpdateMetadataResponse { error_code });
arb!(update_raft_voter_request::UpdateRaftVoterRequest { cluster_id, current_leader_epoch, voter_id, voter_directory_id, listeners, k_raft_version_feature });
arb!(update_raft_voter_request::Listener { name, host, port });
arb!(update_raft_voter_request::KRaftVersionFeature { min_supported_version, max_supported_version });
arb!(update_raft_voter_response::UpdateRaftVoterResponse { throttle_time_ms, error_code, current_leader });
arb!(update_raft_voter_response::CurrentLeader { leader_id, leader_epoch, host, port });
arb!(vote_request::VoteRequest { cluster_id, voter_id, topics });
arb!(vote_request::TopicData { topic_name, partitions });
arb!(vote_request::PartitionData { partition_index, candidate_epoch, candidate_id, candidate_directory_id, voter_directory_id, last_offset_epoch, last_offset });
arb!(vote_response::VoteResponse { error_code, topics, node_endpoints });
arb!(vote_response::TopicData { topic_name, partitions });
arb!(vote_response::PartitionData { partition_index, error_code, leader_id, leader_epoch, vote_granted });
arb!(vote_response::NodeEndpoint { node_id, host, port });
arb!(voters_record::VotersRecord { version, voters });
arb!(voters_record::Voter { voter_id, voter_directory_id, endpoints, k_raft_version_feature });
arb!(voters_record::Endpoint { name, host, port });
arb!(voters_record::KRaftVersionFeature { min_supported_version, max_supported_version });
arb!(write_share_group_state_request::WriteShareGroupStateRequest { group_id, topics });
arb!(write_share_group_state_request::WriteStateData { topic_id, partitions });
arb!(write_share_group_state_request::PartitionData { partition, state_epoch, leader_epoch, start_offset, state_batches });
arb!(write_share_group_state_request::StateBatch { first_offset, last_offset, delivery_state, delivery_count });
arb!(write_share_group_state_response::WriteShareGroupStateResponse { results });
arb!(write_share_group_state_response::WriteStateResult { topic_id, partitions });
arb!(write_share_group_state_response::PartitionResult { partition, error_code, error_message });
arb!(write_txn_markers_request::WriteTxnMarkersRequest { markers });
arb!(write_txn_markers_request::WritableTxnMarker { producer_id, producer_epoch, transaction_result, topics, coordinator_epoch });
arb!(write_txn_markers_request::WritableTxnMarkerTopic { name, partition_indexes });
arb!(write_txn_markers_response::WriteTxnMarkersResponse { markers });
arb!(write_txn_markers_response::WritableTxnMarkerResult { producer_id, topics });
arb!(write_txn_markers_response::WritableTxnMarkerTopicResult { name, partitions });
arb!(write_txn_markers_response::WritableTxnMarkerPartitionResult { partition_index, error_code });

/// A random request of `key`, with the fields of every version set (encoding
/// at a version keeps only that version's fields).
#[allow(dead_code, unreachable_patterns)]
fn arb_request(key: fjord_protocol::ApiKey, g: &mut G) -> fjord_protocol::Request {
    match key {
        fjord_protocol::ApiKey::Produce => fjord_protocol::Request::Produce(Arb::arb(g)),
        fjord_protocol::ApiKey::Fetch => fjord_protocol::Request::Fetch(Arb::arb(g)),
        fjord_protocol::ApiKey::ListOffsets => fjord_protocol::Request::ListOffsets(Arb::arb(g)),
        fjord_protocol::ApiKey::Metadata => fjord_protocol::Request::Metadata(Arb::arb(g)),
        fjord_protocol::ApiKey::LeaderAndIsr => fjord_protocol::Request::LeaderAndIsr(Arb::arb(g)),
        fjord_protocol::ApiKey::StopReplica => fjord_protocol::Request::StopReplica(Arb::arb(g)),
        fjord_protocol::ApiKey::UpdateMetadata => fjord_protocol::Request::UpdateMetadata(Arb::arb(g)),
        fjord_protocol::ApiKey::ControlledShutdown => fjord_protocol::Request::ControlledShutdown(Arb::arb(g)),
        fjord_protocol::ApiKey::OffsetCommit => fjord_protocol::Request::OffsetCommit(Arb::arb(g)),
        fjord_protocol::ApiKey::OffsetFetch => fjord_protocol::Request::OffsetFetch(Arb::arb(g)),
        fjord_protocol::ApiKey::FindCoordinator => fjord_protocol::Request::FindCoordinator(Arb::arb(g)),
        fjord_protocol::ApiKey::JoinGroup => fjord_protocol::Request::JoinGroup(Arb::arb(g)),
        fjord_protocol::ApiKey::Heartbeat => fjord_protocol::Request::Heartbeat(Arb::arb(g)),
        fjord_protocol::ApiKey::LeaveGroup => fjord_protocol::Request::LeaveGroup(Arb::arb(g)),
        fjord_protocol::ApiKey::SyncGroup => fjord_protocol::Request::SyncGroup(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeGroups => fjord_protocol::Request::DescribeGroups(Arb::arb(g)),
        fjord_protocol::ApiKey::ListGroups => fjord_protocol::Request::ListGroups(Arb::arb(g)),
        fjord_protocol::ApiKey::SaslHandshake => fjord_protocol::Request::SaslHandshake(Arb::arb(g)),
        fjord_protocol::ApiKey::ApiVersions => fjord_protocol::Request::ApiVersions(Arb::arb(g)),
        fjord_protocol::ApiKey::CreateTopics => fjord_protocol::Request::CreateTopics(Arb::arb(g)),
        fjord_protocol::ApiKey::DeleteTopics => fjord_protocol::Request::DeleteTopics(Arb::arb(g)),
        fjord_protocol::ApiKey::DeleteRecords => fjord_protocol::Request::DeleteRecords(Arb::arb(g)),
        fjord_protocol::ApiKey::InitProducerId => fjord_protocol::Request::InitProducerId(Arb::arb(g)),
        fjord_protocol::ApiKey::OffsetForLeaderEpoch => fjord_protocol::Request::OffsetForLeaderEpoch(Arb::arb(g)),
        fjord_protocol::ApiKey::AddPartitionsToTxn => fjord_protocol::Request::AddPartitionsToTxn(Arb::arb(g)),
        fjord_protocol::ApiKey::AddOffsetsToTxn => fjord_protocol::Request::AddOffsetsToTxn(Arb::arb(g)),
        fjord_protocol::ApiKey::EndTxn => fjord_protocol::Request::EndTxn(Arb::arb(g)),
        fjord_protocol::ApiKey::WriteTxnMarkers => fjord_protocol::Request::WriteTxnMarkers(Arb::arb(g)),
        fjord_protocol::ApiKey::TxnOffsetCommit => fjord_protocol::Request::TxnOffsetCommit(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeAcls => fjord_protocol::Request::DescribeAcls(Arb::arb(g)),
        fjord_protocol::ApiKey::CreateAcls => fjord_protocol::Request::CreateAcls(Arb::arb(g)),
        fjord_protocol::ApiKey::DeleteAcls => fjord_protocol::Request::DeleteAcls(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeConfigs => fjord_protocol::Request::DescribeConfigs(Arb::arb(g)),
        fjord_protocol::ApiKey::AlterConfigs => fjord_protocol::Request::AlterConfigs(Arb::arb(g)),
        fjord_protocol::ApiKey::AlterReplicaLogDirs => fjord_protocol::Request::AlterReplicaLogDirs(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeLogDirs => fjord_protocol::Request::DescribeLogDirs(Arb::arb(g)),
        fjord_protocol::ApiKey::SaslAuthenticate => fjord_protocol::Request::SaslAuthenticate(Arb::arb(g)),
        fjord_protocol::ApiKey::CreatePartitions => fjord_protocol::Request::CreatePartitions(Arb::arb(g)),
        fjord_protocol::ApiKey::CreateDelegationToken => fjord_protocol::Request::CreateDelegationToken(Arb::arb(g)),
        fjord_protocol::ApiKey::RenewDelegationToken => fjord_protocol::Request::RenewDelegationToken(Arb::arb(g)),
        fjord_protocol::ApiKey::ExpireDelegationToken => fjord_protocol::Request::ExpireDelegationToken(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeDelegationToken => fjord_protocol::Request::DescribeDelegationToken(Arb::arb(g)),
        fjord_protocol::ApiKey::DeleteGroups => fjord_protocol::Request::DeleteGroups(Arb::arb(g)),
        fjord_protocol::ApiKey::ElectLeaders => fjord_protocol::Request::ElectLeaders(Arb::arb(g)),
        fjord_protocol::ApiKey::IncrementalAlterConfigs => fjord_protocol::Request::IncrementalAlterConfigs(Arb::arb(g)),
        fjord_protocol::ApiKey::AlterPartitionReassignments => fjord_protocol::Request::AlterPartitionReassignments(Arb::arb(g)),
        fjord_protocol::ApiKey::ListPartitionReassignments => fjord_protocol::Request::ListPartitionReassignments(Arb::arb(g)),
        fjord_protocol::ApiKey::OffsetDelete => fjord_protocol::Request::OffsetDelete(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeClientQuotas => fjord_protocol::Request::DescribeClientQuotas(Arb::arb(g)),
        fjord_protocol::ApiKey::AlterClientQuotas => fjord_protocol::Request::AlterClientQuotas(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeUserScramCredentials => fjord_protocol::Request::DescribeUserScramCredentials(Arb::arb(g)),
        fjord_protocol::ApiKey::AlterUserScramCredentials => fjord_protocol::Request::AlterUserScramCredentials(Arb::arb(g)),
        fjord_protocol::ApiKey::Vote => fjord_protocol::Request::Vote(Arb::arb(g)),
        fjord_protocol::ApiKey::BeginQuorumEpoch => fjord_protocol::Request::BeginQuorumEpoch(Arb::arb(g)),
        fjord_protocol::ApiKey::EndQuorumEpoch => fjord_protocol::Request::EndQuorumEpoch(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeQuorum => fjord_protocol::Request::DescribeQuorum(Arb::arb(g)),
        fjord_protocol::ApiKey::AlterPartition => fjord_protocol::Request::AlterPartition(Arb::arb(g)),
        fjord_protocol::ApiKey::UpdateFeatures => fjord_protocol::Request::UpdateFeatures(Arb::arb(g)),
        fjord_protocol::ApiKey::Envelope => fjord_protocol::Request::Envelope(Arb::arb(g)),
        fjord_protocol::ApiKey::FetchSnapshot => fjord_protocol::Request::FetchSnapshot(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeCluster => fjord_protocol::Request::DescribeCluster(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeProducers => fjord_protocol::Request::DescribeProducers(Arb::arb(g)),
        fjord_protocol::ApiKey::BrokerRegistration => fjord_protocol::Request::BrokerRegistration(Arb::arb(g)),
        fjord_protocol::ApiKey::BrokerHeartbeat => fjord_protocol::Request::BrokerHeartbeat(Arb::arb(g)),
        fjord_protocol::ApiKey::UnregisterBroker => fjord_protocol::Request::UnregisterBroker(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeTransactions => fjord_protocol::Request::DescribeTransactions(Arb::arb(g)),
        fjord_protocol::ApiKey::ListTransactions => fjord_protocol::Request::ListTransactions(Arb::arb(g)),
        fjord_protocol::ApiKey::AllocateProducerIds => fjord_protocol::Request::AllocateProducerIds(Arb::arb(g)),
        fjord_protocol::ApiKey::ConsumerGroupHeartbeat => fjord_protocol::Request::ConsumerGroupHeartbeat(Arb::arb(g)),
        fjord_protocol::ApiKey::ConsumerGroupDescribe => fjord_protocol::Request::ConsumerGroupDescribe(Arb::arb(g)),
        fjord_protocol::ApiKey::ControllerRegistration => fjord_protocol::Request::ControllerRegistration(Arb::arb(g)),
        fjord_protocol::ApiKey::GetTelemetrySubscriptions => fjord_protocol::Request::GetTelemetrySubscriptions(Arb::arb(g)),
        fjord_protocol::ApiKey::PushTelemetry => fjord_protocol::Request::PushTelemetry(Arb::arb(g)),
        fjord_protocol::ApiKey::AssignReplicasToDirs => fjord_protocol::Request::AssignReplicasToDirs(Arb::arb(g)),
        fjord_protocol::ApiKey::ListClientMetricsResources => fjord_protocol::Request::ListClientMetricsResources(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeTopicPartitions => fjord_protocol::Request::DescribeTopicPartitions(Arb::arb(g)),
        fjord_protocol::ApiKey::ShareGroupHeartbeat => fjord_protocol::Request::ShareGroupHeartbeat(Arb::arb(g)),
        fjord_protocol::ApiKey::ShareGroupDescribe => fjord_protocol::Request::ShareGroupDescribe(Arb::arb(g)),
        fjord_protocol::ApiKey::ShareFetch => fjord_protocol::Request::ShareFetch(Arb::arb(g)),
        fjord_protocol::ApiKey::ShareAcknowledge => fjord_protocol::Request::ShareAcknowledge(Arb::arb(g)),
        fjord_protocol::ApiKey::AddRaftVoter => fjord_protocol::Request::AddRaftVoter(Arb::arb(g)),
        fjord_protocol::ApiKey::RemoveRaftVoter => fjord_protocol::Request::RemoveRaftVoter(Arb::arb(g)),
        fjord_protocol::ApiKey::UpdateRaftVoter => fjord_protocol::Request::UpdateRaftVoter(Arb::arb(g)),
        fjord_protocol::ApiKey::InitializeShareGroupState => fjord_protocol::Request::InitializeShareGroupState(Arb::arb(g)),
        fjord_protocol::ApiKey::ReadShareGroupState => fjord_protocol::Request::ReadShareGroupState(Arb::arb(g)),
        fjord_protocol::ApiKey::WriteShareGroupState => fjord_protocol::Request::WriteShareGroupState(Arb::arb(g)),
        fjord_protocol::ApiKey::DeleteShareGroupState => fjord_protocol::Request::DeleteShareGroupState(Arb::arb(g)),
        fjord_protocol::ApiKey::ReadShareGroupStateSummary => fjord_protocol::Request::ReadShareGroupStateSummary(Arb::arb(g)),
        other => panic!("no generator for {other:?}"),
    }
}

/// A random response of `key`; see `arb_request`.
#[allow(dead_code, unreachable_patterns)]
fn arb_response(key: fjord_protocol::ApiKey, g: &mut G) -> fjord_protocol::Response {
    match key {
        fjord_protocol::ApiKey::Produce => fjord_protocol::Response::Produce(Arb::arb(g)),
        fjord_protocol::ApiKey::Fetch => fjord_protocol::Response::Fetch(Arb::arb(g)),
        fjord_protocol::ApiKey::ListOffsets => fjord_protocol::Response::ListOffsets(Arb::arb(g)),
        fjord_protocol::ApiKey::Metadata => fjord_protocol::Response::Metadata(Arb::arb(g)),
        fjord_protocol::ApiKey::LeaderAndIsr => fjord_protocol::Response::LeaderAndIsr(Arb::arb(g)),
        fjord_protocol::ApiKey::StopReplica => fjord_protocol::Response::StopReplica(Arb::arb(g)),
        fjord_protocol::ApiKey::UpdateMetadata => fjord_protocol::Response::UpdateMetadata(Arb::arb(g)),
        fjord_protocol::ApiKey::ControlledShutdown => fjord_protocol::Response::ControlledShutdown(Arb::arb(g)),
        fjord_protocol::ApiKey::OffsetCommit => fjord_protocol::Response::OffsetCommit(Arb::arb(g)),
        fjord_protocol::ApiKey::OffsetFetch => fjord_protocol::Response::OffsetFetch(Arb::arb(g)),
        fjord_protocol::ApiKey::FindCoordinator => fjord_protocol::Response::FindCoordinator(Arb::arb(g)),
        fjord_protocol::ApiKey::JoinGroup => fjord_protocol::Response::JoinGroup(Arb::arb(g)),
        fjord_protocol::ApiKey::Heartbeat => fjord_protocol::Response::Heartbeat(Arb::arb(g)),
        fjord_protocol::ApiKey::LeaveGroup => fjord_protocol::Response::LeaveGroup(Arb::arb(g)),
        fjord_protocol::ApiKey::SyncGroup => fjord_protocol::Response::SyncGroup(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeGroups => fjord_protocol::Response::DescribeGroups(Arb::arb(g)),
        fjord_protocol::ApiKey::ListGroups => fjord_protocol::Response::ListGroups(Arb::arb(g)),
        fjord_protocol::ApiKey::SaslHandshake => fjord_protocol::Response::SaslHandshake(Arb::arb(g)),
        fjord_protocol::ApiKey::ApiVersions => fjord_protocol::Response::ApiVersions(Arb::arb(g)),
        fjord_protocol::ApiKey::CreateTopics => fjord_protocol::Response::CreateTopics(Arb::arb(g)),
        fjord_protocol::ApiKey::DeleteTopics => fjord_protocol::Response::DeleteTopics(Arb::arb(g)),
        fjord_protocol::ApiKey::DeleteRecords => fjord_protocol::Response::DeleteRecords(Arb::arb(g)),
        fjord_protocol::ApiKey::InitProducerId => fjord_protocol::Response::InitProducerId(Arb::arb(g)),
        fjord_protocol::ApiKey::OffsetForLeaderEpoch => fjord_protocol::Response::OffsetForLeaderEpoch(Arb::arb(g)),
        fjord_protocol::ApiKey::AddPartitionsToTxn => fjord_protocol::Response::AddPartitionsToTxn(Arb::arb(g)),
        fjord_protocol::ApiKey::AddOffsetsToTxn => fjord_protocol::Response::AddOffsetsToTxn(Arb::arb(g)),
        fjord_protocol::ApiKey::EndTxn => fjord_protocol::Response::EndTxn(Arb::arb(g)),
        fjord_protocol::ApiKey::WriteTxnMarkers => fjord_protocol::Response::WriteTxnMarkers(Arb::arb(g)),
        fjord_protocol::ApiKey::TxnOffsetCommit => fjord_protocol::Response::TxnOffsetCommit(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeAcls => fjord_protocol::Response::DescribeAcls(Arb::arb(g)),
        fjord_protocol::ApiKey::CreateAcls => fjord_protocol::Response::CreateAcls(Arb::arb(g)),
        fjord_protocol::ApiKey::DeleteAcls => fjord_protocol::Response::DeleteAcls(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeConfigs => fjord_protocol::Response::DescribeConfigs(Arb::arb(g)),
        fjord_protocol::ApiKey::AlterConfigs => fjord_protocol::Response::AlterConfigs(Arb::arb(g)),
        fjord_protocol::ApiKey::AlterReplicaLogDirs => fjord_protocol::Response::AlterReplicaLogDirs(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeLogDirs => fjord_protocol::Response::DescribeLogDirs(Arb::arb(g)),
        fjord_protocol::ApiKey::SaslAuthenticate => fjord_protocol::Response::SaslAuthenticate(Arb::arb(g)),
        fjord_protocol::ApiKey::CreatePartitions => fjord_protocol::Response::CreatePartitions(Arb::arb(g)),
        fjord_protocol::ApiKey::CreateDelegationToken => fjord_protocol::Response::CreateDelegationToken(Arb::arb(g)),
        fjord_protocol::ApiKey::RenewDelegationToken => fjord_protocol::Response::RenewDelegationToken(Arb::arb(g)),
        fjord_protocol::ApiKey::ExpireDelegationToken => fjord_protocol::Response::ExpireDelegationToken(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeDelegationToken => fjord_protocol::Response::DescribeDelegationToken(Arb::arb(g)),
        fjord_protocol::ApiKey::DeleteGroups => fjord_protocol::Response::DeleteGroups(Arb::arb(g)),
        fjord_protocol::ApiKey::ElectLeaders => fjord_protocol::Response::ElectLeaders(Arb::arb(g)),
        fjord_protocol::ApiKey::IncrementalAlterConfigs => fjord_protocol::Response::IncrementalAlterConfigs(Arb::arb(g)),
        fjord_protocol::ApiKey::AlterPartitionReassignments => fjord_protocol::Response::AlterPartitionReassignments(Arb::arb(g)),
        fjord_protocol::ApiKey::ListPartitionReassignments => fjord_protocol::Response::ListPartitionReassignments(Arb::arb(g)),
        fjord_protocol::ApiKey::OffsetDelete => fjord_protocol::Response::OffsetDelete(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeClientQuotas => fjord_protocol::Response::DescribeClientQuotas(Arb::arb(g)),
        fjord_protocol::ApiKey::AlterClientQuotas => fjord_protocol::Response::AlterClientQuotas(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeUserScramCredentials => fjord_protocol::Response::DescribeUserScramCredentials(Arb::arb(g)),
        fjord_protocol::ApiKey::AlterUserScramCredentials => fjord_protocol::Response::AlterUserScramCredentials(Arb::arb(g)),
        fjord_protocol::ApiKey::Vote => fjord_protocol::Response::Vote(Arb::arb(g)),
        fjord_protocol::ApiKey::BeginQuorumEpoch => fjord_protocol::Response::BeginQuorumEpoch(Arb::arb(g)),
        fjord_protocol::ApiKey::EndQuorumEpoch => fjord_protocol::Response::EndQuorumEpoch(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeQuorum => fjord_protocol::Response::DescribeQuorum(Arb::arb(g)),
        fjord_protocol::ApiKey::AlterPartition => fjord_protocol::Response::AlterPartition(Arb::arb(g)),
        fjord_protocol::ApiKey::UpdateFeatures => fjord_protocol::Response::UpdateFeatures(Arb::arb(g)),
        fjord_protocol::ApiKey::Envelope => fjord_protocol::Response::Envelope(Arb::arb(g)),
        fjord_protocol::ApiKey::FetchSnapshot => fjord_protocol::Response::FetchSnapshot(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeCluster => fjord_protocol::Response::DescribeCluster(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeProducers => fjord_protocol::Response::DescribeProducers(Arb::arb(g)),
        fjord_protocol::ApiKey::BrokerRegistration => fjord_protocol::Response::BrokerRegistration(Arb::arb(g)),
        fjord_protocol::ApiKey::BrokerHeartbeat => fjord_protocol::Response::BrokerHeartbeat(Arb::arb(g)),
        fjord_protocol::ApiKey::UnregisterBroker => fjord_protocol::Response::UnregisterBroker(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeTransactions => fjord_protocol::Response::DescribeTransactions(Arb::arb(g)),
        fjord_protocol::ApiKey::ListTransactions => fjord_protocol::Response::ListTransactions(Arb::arb(g)),
        fjord_protocol::ApiKey::AllocateProducerIds => fjord_protocol::Response::AllocateProducerIds(Arb::arb(g)),
        fjord_protocol::ApiKey::ConsumerGroupHeartbeat => fjord_protocol::Response::ConsumerGroupHeartbeat(Arb::arb(g)),
        fjord_protocol::ApiKey::ConsumerGroupDescribe => fjord_protocol::Response::ConsumerGroupDescribe(Arb::arb(g)),
        fjord_protocol::ApiKey::ControllerRegistration => fjord_protocol::Response::ControllerRegistration(Arb::arb(g)),
        fjord_protocol::ApiKey::GetTelemetrySubscriptions => fjord_protocol::Response::GetTelemetrySubscriptions(Arb::arb(g)),
        fjord_protocol::ApiKey::PushTelemetry => fjord_protocol::Response::PushTelemetry(Arb::arb(g)),
        fjord_protocol::ApiKey::AssignReplicasToDirs => fjord_protocol::Response::AssignReplicasToDirs(Arb::arb(g)),
        fjord_protocol::ApiKey::ListClientMetricsResources => fjord_protocol::Response::ListClientMetricsResources(Arb::arb(g)),
        fjord_protocol::ApiKey::DescribeTopicPartitions => fjord_protocol::Response::DescribeTopicPartitions(Arb::arb(g)),
        fjord_protocol::ApiKey::ShareGroupHeartbeat => fjord_protocol::Response::ShareGroupHeartbeat(Arb::arb(g)),
        fjord_protocol::ApiKey::ShareGroupDescribe => fjord_protocol::Response::ShareGroupDescribe(Arb::arb(g)),
        fjord_protocol::ApiKey::ShareFetch => fjord_protocol::Response::ShareFetch(Arb::arb(g)),
        fjord_protocol::ApiKey::ShareAcknowledge => fjord_protocol::Response::ShareAcknowledge(Arb::arb(g)),
        fjord_protocol::ApiKey::AddRaftVoter => fjord_protocol::Response::AddRaftVoter(Arb::arb(g)),
        fjord_protocol::ApiKey::RemoveRaftVoter => fjord_protocol::Response::RemoveRaftVoter(Arb::arb(g)),
        fjord_protocol::ApiKey::UpdateRaftVoter => fjord_protocol::Response::UpdateRaftVoter(Arb::arb(g)),
        fjord_protocol::ApiKey::InitializeShareGroupState => fjord_protocol::Response::InitializeShareGroupState(Arb::arb(g)),
        fjord_protocol::ApiKey::ReadShareGroupState => fjord_protocol::Response::ReadShareGroupState(Arb::arb(g)),
        fjord_protocol::ApiKey::WriteShareGroupState => fjord_protocol::Response::WriteShareGroupState(Arb::arb(g)),
        fjord_protocol::ApiKey::DeleteShareGroupState => fjord_protocol::Response::DeleteShareGroupState(Arb::arb(g)),
        fjord_protocol::ApiKey::ReadShareGroupStateSummary => fjord_protocol::Response::ReadShareGroupStateSummary(Arb::arb(g)),
        other => panic!("no generator for {other:?}"),
    }
}
