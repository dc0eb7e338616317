//! The version range of each API this client can speak. A request uses the
//! highest version both this range and the broker's ApiVersions allow.
//!
//! Lower bounds are where the client's assumptions start to hold (for
//! example Metadata v4 is the first that can refuse to auto-create topics);
//! upper bounds stop before changes the client does not implement (Fetch
//! v13 identifies topics by id; OffsetCommit/OffsetFetch v9 are for
//! KIP-848 groups).

pub type Range = (i16, i16);

pub const API_VERSIONS: Range = (0, 3);
/// v1: the tokens go in SaslAuthenticate requests (v0 sent raw frames).
pub const SASL_HANDSHAKE: Range = (1, 1);
pub const SASL_AUTHENTICATE: Range = (0, 2);
pub const ALTER_USER_SCRAM_CREDENTIALS: Range = (0, 0);
pub const DESCRIBE_USER_SCRAM_CREDENTIALS: Range = (0, 0);
pub const METADATA: Range = (4, 12);
pub const CREATE_TOPICS: Range = (2, 7);
pub const DELETE_TOPICS: Range = (1, 6);
pub const DESCRIBE_CONFIGS: Range = (1, 4);
pub const INCREMENTAL_ALTER_CONFIGS: Range = (0, 1);
pub const DESCRIBE_CLIENT_QUOTAS: Range = (0, 1);
pub const ALTER_CLIENT_QUOTAS: Range = (0, 1);
pub const CREATE_PARTITIONS: Range = (0, 3);
pub const LIST_OFFSETS: Range = (1, 10);
pub const FIND_COORDINATOR: Range = (1, 6);
pub const LIST_GROUPS: Range = (0, 5);
pub const DESCRIBE_GROUPS: Range = (0, 5);
pub const OFFSET_FETCH: Range = (2, 8);
pub const OFFSET_COMMIT: Range = (2, 8);
pub const DELETE_GROUPS: Range = (0, 2);
pub const PRODUCE: Range = (3, 11);
pub const INIT_PRODUCER_ID: Range = (0, 5);
pub const FETCH: Range = (4, 12);
pub const JOIN_GROUP: Range = (1, 9);
pub const SYNC_GROUP: Range = (0, 5);
pub const HEARTBEAT: Range = (0, 4);
/// KIP-848; v1 (Kafka 4.0): the member makes its own id.
pub const CONSUMER_GROUP_HEARTBEAT: Range = (0, 1);
pub const LEAVE_GROUP: Range = (0, 5);
pub const DESCRIBE_ACLS: Range = (1, 3);
pub const CREATE_ACLS: Range = (1, 3);
pub const DELETE_ACLS: Range = (1, 3);
