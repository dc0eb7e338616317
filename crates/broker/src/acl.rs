//! Kafka's ACL vocabulary as the responses use it: resource types, the
//! operation codes (`AclOperation`) and, per resource type, the operations
//! that exist for it. Responses that report "authorized operations"
//! (Metadata, DescribeCluster, DescribeGroups, ConsumerGroupDescribe,
//! DescribeTopicPartitions) ask [`authorized_operations`] for the bit set.
//!
//! fjord has no authorizer yet, so every operation of a resource is
//! allowed, which is what Kafka answers when `authorizer.class.name` is
//! unset. When ACLs land, [`authorized_operations`] is the one place that
//! filters the set by the request's principal.

/// Kafka's `ResourceType` values that have operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceType {
    Topic,
    Group,
    Cluster,
    TransactionalId,
    DelegationToken,
    User,
}

/// Kafka's `AclOperation` codes (the bit index in an authorized-operations
/// field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i8)]
pub enum AclOperation {
    Read = 3,
    Write = 4,
    Create = 5,
    Delete = 6,
    Alter = 7,
    Describe = 8,
    ClusterAction = 9,
    DescribeConfigs = 10,
    AlterConfigs = 11,
    IdempotentWrite = 12,
    CreateTokens = 13,
    DescribeTokens = 14,
}

/// What a response carries when the client did not ask for the operations.
pub const NOT_REQUESTED: i32 = i32::MIN;

/// The operations defined for a resource type (Kafka's
/// `AclEntry.supportedOperations`).
pub fn supported_operations(resource: ResourceType) -> &'static [AclOperation] {
    use AclOperation::*;
    match resource {
        ResourceType::Topic => &[
            Read,
            Write,
            Create,
            Describe,
            Delete,
            Alter,
            DescribeConfigs,
            AlterConfigs,
        ],
        ResourceType::Group => &[Read, Describe, Delete, DescribeConfigs, AlterConfigs],
        ResourceType::Cluster => &[
            Create,
            ClusterAction,
            DescribeConfigs,
            AlterConfigs,
            IdempotentWrite,
            Alter,
            Describe,
        ],
        ResourceType::TransactionalId => &[Describe, Write],
        ResourceType::DelegationToken => &[Describe],
        ResourceType::User => &[CreateTokens, DescribeTokens],
    }
}

/// The bit set of operations the requester may perform on the resource
/// `name` of type `resource` (bit `code` set for each allowed
/// operation). Without an authorizer: all of the type's operations.
pub fn authorized_operations(resource: ResourceType, _name: &str) -> i32 {
    supported_operations(resource)
        .iter()
        .fold(0i32, |bits, op| bits | (1i32 << (*op as i8)))
}

/// [`authorized_operations`] when `requested`, else [`NOT_REQUESTED`].
pub fn if_requested(requested: bool, resource: ResourceType, name: &str) -> i32 {
    if requested {
        authorized_operations(resource, name)
    } else {
        NOT_REQUESTED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_sets_match_kafka_without_an_authorizer() {
        // READ WRITE CREATE DELETE ALTER DESCRIBE DESCRIBE_CONFIGS ALTER_CONFIGS
        assert_eq!(
            authorized_operations(ResourceType::Topic, "t"),
            0b1101_1111_1000
        );
        // CREATE ALTER DESCRIBE CLUSTER_ACTION DESCRIBE_CONFIGS ALTER_CONFIGS IDEMPOTENT_WRITE
        assert_eq!(
            authorized_operations(ResourceType::Cluster, "kafka-cluster"),
            0b1_1111_1010_0000
        );
        // READ DELETE DESCRIBE DESCRIBE_CONFIGS ALTER_CONFIGS
        assert_eq!(
            authorized_operations(ResourceType::Group, "g"),
            0b1101_0100_1000
        );
        assert_eq!(
            authorized_operations(ResourceType::TransactionalId, "x"),
            (1 << 4) | (1 << 8)
        );
        assert_eq!(if_requested(false, ResourceType::Topic, "t"), i32::MIN);
    }
}
