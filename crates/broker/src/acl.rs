//! Kafka's ACL vocabulary: resource types, pattern types, operation codes
//! (`AclOperation`), permission types, each with its wire code and the
//! name Kafka prints, and per resource type the operations that exist for
//! it. Responses that report "authorized operations" (Metadata,
//! DescribeCluster, DescribeGroups, ConsumerGroupDescribe,
//! DescribeTopicPartitions) build the bit set with
//! [`authorized_operations`], which keeps the operations the request's
//! principal may perform (the decision comes from
//! `security::authorizer`, asked through `RequestCtx::allowed`; without
//! an authorizer every operation is allowed, as in Kafka).

/// Kafka's `ResourceType` values that ACLs can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceType {
    Topic,
    Group,
    Cluster,
    TransactionalId,
    DelegationToken,
    User,
}

impl ResourceType {
    pub const ALL: [ResourceType; 6] = [
        ResourceType::Topic,
        ResourceType::Group,
        ResourceType::Cluster,
        ResourceType::TransactionalId,
        ResourceType::DelegationToken,
        ResourceType::User,
    ];

    /// The wire code (UNKNOWN 0 and ANY 1 are not resource types).
    pub fn code(self) -> i8 {
        match self {
            ResourceType::Topic => 2,
            ResourceType::Group => 3,
            ResourceType::Cluster => 4,
            ResourceType::TransactionalId => 5,
            ResourceType::DelegationToken => 6,
            ResourceType::User => 7,
        }
    }

    pub fn from_code(code: i8) -> Option<ResourceType> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Index in [`ResourceType::ALL`].
    pub fn index(self) -> usize {
        (self.code() - 2) as usize
    }

    /// The name Kafka prints (`TOPIC`, `TRANSACTIONAL_ID`).
    pub fn name(self) -> &'static str {
        match self {
            ResourceType::Topic => "TOPIC",
            ResourceType::Group => "GROUP",
            ResourceType::Cluster => "CLUSTER",
            ResourceType::TransactionalId => "TRANSACTIONAL_ID",
            ResourceType::DelegationToken => "DELEGATION_TOKEN",
            ResourceType::User => "USER",
        }
    }

    pub fn from_name(name: &str) -> Option<ResourceType> {
        let n = name.trim().replace('-', "_").to_ascii_uppercase();
        let n = if n == "TRANSACTIONALID" {
            "TRANSACTIONAL_ID".to_string()
        } else {
            n
        };
        Self::ALL.into_iter().find(|r| r.name() == n)
    }
}

/// The one cluster resource's name.
pub const CLUSTER_NAME: &str = "kafka-cluster";

/// The literal resource name that matches every resource of its type.
pub const WILDCARD: &str = "*";

/// How a binding's resource name matches (Kafka's `PatternType`, KIP-290).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PatternType {
    /// The name itself (`*`: every resource of the type).
    Literal,
    /// Every resource whose name starts with the name.
    Prefixed,
}

impl PatternType {
    pub fn code(self) -> i8 {
        match self {
            PatternType::Literal => 3,
            PatternType::Prefixed => 4,
        }
    }

    pub fn from_code(code: i8) -> Option<PatternType> {
        match code {
            3 => Some(PatternType::Literal),
            4 => Some(PatternType::Prefixed),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PatternType::Literal => "LITERAL",
            PatternType::Prefixed => "PREFIXED",
        }
    }

    pub fn from_name(name: &str) -> Option<PatternType> {
        match name.trim().to_ascii_uppercase().as_str() {
            "LITERAL" => Some(PatternType::Literal),
            "PREFIXED" => Some(PatternType::Prefixed),
            _ => None,
        }
    }
}

/// Pattern type codes of filters (DescribeAcls, DeleteAcls).
pub const PATTERN_ANY: i8 = 1;
pub const PATTERN_MATCH: i8 = 2;
/// Operation and permission code `ANY` of filters.
pub const ANY: i8 = 1;

/// Kafka's `AclOperation` codes (the bit index in an authorized-operations
/// field). `All` exists only in bindings: it grants or denies every
/// operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i8)]
pub enum AclOperation {
    All = 2,
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

impl AclOperation {
    pub const ALL_OPS: [AclOperation; 13] = [
        AclOperation::All,
        AclOperation::Read,
        AclOperation::Write,
        AclOperation::Create,
        AclOperation::Delete,
        AclOperation::Alter,
        AclOperation::Describe,
        AclOperation::ClusterAction,
        AclOperation::DescribeConfigs,
        AclOperation::AlterConfigs,
        AclOperation::IdempotentWrite,
        AclOperation::CreateTokens,
        AclOperation::DescribeTokens,
    ];

    pub fn code(self) -> i8 {
        self as i8
    }

    pub fn from_code(code: i8) -> Option<AclOperation> {
        Self::ALL_OPS.into_iter().find(|o| o.code() == code)
    }

    /// The name Kafka prints (`READ`, `IDEMPOTENT_WRITE`).
    pub fn name(self) -> &'static str {
        match self {
            AclOperation::All => "ALL",
            AclOperation::Read => "READ",
            AclOperation::Write => "WRITE",
            AclOperation::Create => "CREATE",
            AclOperation::Delete => "DELETE",
            AclOperation::Alter => "ALTER",
            AclOperation::Describe => "DESCRIBE",
            AclOperation::ClusterAction => "CLUSTER_ACTION",
            AclOperation::DescribeConfigs => "DESCRIBE_CONFIGS",
            AclOperation::AlterConfigs => "ALTER_CONFIGS",
            AclOperation::IdempotentWrite => "IDEMPOTENT_WRITE",
            AclOperation::CreateTokens => "CREATE_TOKENS",
            AclOperation::DescribeTokens => "DESCRIBE_TOKENS",
        }
    }

    /// Parses `READ`, `Read`, `IdempotentWrite`, `idempotent-write`.
    pub fn from_name(name: &str) -> Option<AclOperation> {
        let squash = |s: &str| {
            s.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_uppercase()
        };
        let want = squash(name);
        Self::ALL_OPS.into_iter().find(|o| squash(o.name()) == want)
    }
}

/// ALLOW or DENY.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    Deny,
    Allow,
}

impl Permission {
    pub fn code(self) -> i8 {
        match self {
            Permission::Deny => 2,
            Permission::Allow => 3,
        }
    }

    pub fn from_code(code: i8) -> Option<Permission> {
        match code {
            2 => Some(Permission::Deny),
            3 => Some(Permission::Allow),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Permission::Deny => "DENY",
            Permission::Allow => "ALLOW",
        }
    }

    pub fn from_name(name: &str) -> Option<Permission> {
        match name.trim().to_ascii_uppercase().as_str() {
            "DENY" => Some(Permission::Deny),
            "ALLOW" => Some(Permission::Allow),
            _ => None,
        }
    }
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

/// The bit set (bit `code` per operation) of the operations of
/// `resource`'s type that `allowed` grants.
pub fn authorized_operations(
    resource: ResourceType,
    mut allowed: impl FnMut(AclOperation) -> bool,
) -> i32 {
    supported_operations(resource)
        .iter()
        .filter(|op| allowed(**op))
        .fold(0i32, |bits, op| bits | (1i32 << (*op as i8)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_sets_match_kafka_without_an_authorizer() {
        let all = |_| true;
        // READ WRITE CREATE DELETE ALTER DESCRIBE DESCRIBE_CONFIGS ALTER_CONFIGS
        assert_eq!(
            authorized_operations(ResourceType::Topic, all),
            0b1101_1111_1000
        );
        // CREATE ALTER DESCRIBE CLUSTER_ACTION DESCRIBE_CONFIGS ALTER_CONFIGS IDEMPOTENT_WRITE
        assert_eq!(
            authorized_operations(ResourceType::Cluster, all),
            0b1_1111_1010_0000
        );
        // READ DELETE DESCRIBE DESCRIBE_CONFIGS ALTER_CONFIGS
        assert_eq!(
            authorized_operations(ResourceType::Group, all),
            0b1101_0100_1000
        );
        assert_eq!(
            authorized_operations(ResourceType::TransactionalId, all),
            (1 << 4) | (1 << 8)
        );
        assert_eq!(
            authorized_operations(ResourceType::Topic, |op| op == AclOperation::Read),
            1 << 3
        );
    }

    #[test]
    fn names_and_codes_round_trip() {
        for op in AclOperation::ALL_OPS {
            assert_eq!(AclOperation::from_code(op.code()), Some(op));
            assert_eq!(AclOperation::from_name(op.name()), Some(op));
        }
        assert_eq!(
            AclOperation::from_name("IdempotentWrite"),
            Some(AclOperation::IdempotentWrite)
        );
        for r in ResourceType::ALL {
            assert_eq!(ResourceType::from_code(r.code()), Some(r));
            assert_eq!(ResourceType::from_name(r.name()), Some(r));
        }
        assert_eq!(ResourceType::from_code(1), None);
        assert_eq!(
            ResourceType::from_name("transactional-id"),
            Some(ResourceType::TransactionalId)
        );
    }
}
