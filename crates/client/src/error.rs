//! One error type for everything the client does. Its `Display` is a
//! single line meant for an operator: what was asked, what went wrong, and
//! Kafka's error name when the broker answered with one.

use fjord_protocol::ErrorCode;

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// No TCP connection (refused, unresolvable, timed out) or no answer to
    /// ApiVersions.
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    /// The TLS handshake failed (untrusted or mismatched certificate, not
    /// a TLS listener, client certificate refused).
    #[error("TLS handshake with {addr} failed: {reason}")]
    Tls { addr: String, reason: String },
    /// SASL authentication failed; `reason` carries the broker's message
    /// (never a secret).
    #[error("authentication with {addr} failed: {reason}")]
    Auth { addr: String, reason: String },
    /// The connection broke while a request was in flight.
    #[error("connection to {addr} failed: {reason}")]
    Io { addr: String, reason: String },
    #[error("{addr} did not answer {api} within {ms} ms")]
    Timeout { addr: String, api: String, ms: u128 },
    #[error("cannot read the {api} response from {addr}: {reason}")]
    Decode {
        addr: String,
        api: String,
        reason: String,
    },
    #[error("cannot encode the {api} request: {reason}")]
    Encode { api: String, reason: String },
    #[error("{addr} does not support {api} in a version fjord speaks ({detail})")]
    Unsupported {
        addr: String,
        api: String,
        detail: String,
    },
    /// The broker answered with a Kafka error code.
    #[error("{}", kafka_message(.context, *.code, .message.as_deref()))]
    Kafka {
        context: String,
        code: i16,
        message: Option<String>,
    },
    #[error("{0}")]
    Other(String),
}

impl ClientError {
    /// A Kafka error about `context` (e.g. `topic "x"`); `None` for code 0.
    pub fn from_code(
        context: impl Into<String>,
        code: i16,
        message: Option<String>,
    ) -> Option<Self> {
        if code == 0 {
            return None;
        }
        Some(ClientError::Kafka {
            context: context.into(),
            code,
            message: message.filter(|m| !m.is_empty()),
        })
    }

    /// The Kafka error code, for errors the broker sent.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Kafka { code, .. } => ErrorCode::from_code(*code),
            _ => None,
        }
    }

    /// Whether trying again (after refreshing metadata or reconnecting) may
    /// succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            ClientError::Kafka { code, .. } => {
                ErrorCode::from_code(*code).is_some_and(|c| c.is_retriable())
            }
            ClientError::Io { .. } | ClientError::Timeout { .. } | ClientError::Connect { .. } => {
                true
            }
            _ => false,
        }
    }
}

/// Kafka's name for `code` (`UNKNOWN_TOPIC_OR_PARTITION`), or the number.
pub fn error_name(code: i16) -> String {
    match ErrorCode::from_code(code) {
        Some(c) => c.name().to_string(),
        None => format!("error code {code}"),
    }
}

/// A few words for the errors an operator meets most.
fn hint(code: ErrorCode) -> Option<&'static str> {
    Some(match code {
        ErrorCode::UnknownTopicOrPartition => "does not exist",
        ErrorCode::TopicAlreadyExists => "already exists",
        ErrorCode::GroupIdNotFound => "does not exist",
        ErrorCode::NonEmptyGroup => "has active members; stop its consumers first",
        ErrorCode::InvalidPartitions => "invalid partition count",
        ErrorCode::InvalidReplicationFactor => "invalid replication factor",
        ErrorCode::InvalidConfig => "invalid config",
        ErrorCode::InvalidTopicException => "invalid topic name",
        ErrorCode::CoordinatorNotAvailable => "the group coordinator is not available",
        ErrorCode::TopicDeletionDisabled => "topic deletion is disabled on the broker",
        ErrorCode::MessageTooLarge => "record is larger than the topic allows",
        ErrorCode::OffsetOutOfRange => "offset is out of range",
        _ => return None,
    })
}

fn kafka_message(context: &str, code: i16, message: Option<&str>) -> String {
    let name = error_name(code);
    let mut out = match ErrorCode::from_code(code).and_then(hint) {
        Some(h) => format!("{context}: {h} ({name})"),
        None => format!("{context}: {name}"),
    };
    if let Some(m) = message {
        out.push_str(": ");
        out.push_str(m);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_errors_read_as_one_line() {
        let e = ClientError::from_code("topic \"x\"", 3, None).unwrap();
        assert_eq!(
            e.to_string(),
            "topic \"x\": does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
        );
        assert!(e.is_retriable());
        let e = ClientError::from_code("topic \"x\"", 40, Some("bad value".into())).unwrap();
        assert_eq!(
            e.to_string(),
            "topic \"x\": invalid config (INVALID_CONFIG): bad value"
        );
        let e = ClientError::from_code("group \"g\"", 16, Some(String::new())).unwrap();
        assert_eq!(e.to_string(), "group \"g\": NOT_COORDINATOR");
        assert!(ClientError::from_code("x", 0, None).is_none());
        assert_eq!(error_name(9999), "error code 9999");
    }
}
