//! The quota part of the broker key table ([`QUOTA_KEYS`]): the windows
//! client quotas are measured over and the connection limits, with Kafka's
//! names and defaults. Joined with the other tables by `keys::broker_keys`.
//! The connection limits are cluster-wide dynamic configs, as in Kafka:
//! each accept reads the live value.

use fjord_storage::config::parse_int;
use fjord_storage::ValueType;

use super::keys::{Apply, BrokerKey, KeyDefault, Mode};
use crate::quotas::connections::parse_overrides;

macro_rules! key {
    ($name:expr, $ty:expr, $default:expr, $mode:expr, $doc:expr, $set:expr, $get:expr) => {
        BrokerKey {
            name: $name,
            ty: $ty,
            default: KeyDefault::Value($default),
            mode: $mode,
            flag: None,
            doc: $doc,
            apply: Apply::Field {
                set: $set,
                get: $get,
            },
        }
    };
}

const MAX: i64 = i32::MAX as i64;

pub static QUOTA_KEYS: &[BrokerKey] = &[
    key!(
        "quota.window.num",
        ValueType::Int,
        "11",
        Mode::ReadOnly,
        "The number of windows client byte-rate and request quotas are measured over.",
        |c, v| {
            c.quota.samples = parse_int(v, 2, MAX)? as u32;
            Ok(())
        },
        |c| Some(c.quota.samples.to_string())
    ),
    key!(
        "quota.window.size.seconds",
        ValueType::Int,
        "1",
        Mode::ReadOnly,
        "The length of each client quota window, in seconds.",
        |c, v| {
            c.quota.window_ms = parse_int(v, 1, MAX)? as u64 * 1000;
            Ok(())
        },
        |c| Some((c.quota.window_ms / 1000).to_string())
    ),
    key!(
        "controller.quota.window.num",
        ValueType::Int,
        "11",
        Mode::ReadOnly,
        "The number of windows of the controller mutation quota (its token bucket holds this \
         many windows' worth of mutations).",
        |c, v| {
            c.quota.controller_samples = parse_int(v, 1, MAX)? as u32;
            Ok(())
        },
        |c| Some(c.quota.controller_samples.to_string())
    ),
    key!(
        "controller.quota.window.size.seconds",
        ValueType::Int,
        "1",
        Mode::ReadOnly,
        "The length of each controller mutation quota window, in seconds.",
        |c, v| {
            c.quota.controller_window_ms = parse_int(v, 1, MAX)? as u64 * 1000;
            Ok(())
        },
        |c| Some((c.quota.controller_window_ms / 1000).to_string())
    ),
    key!(
        "max.connections",
        ValueType::Int,
        "2147483647",
        Mode::ClusterWide,
        "The most client connections open at once; at the limit the listeners stop accepting \
         until one closes.",
        |c, v| {
            c.connection_limits.max_connections = parse_int(v, 0, MAX)? as u32;
            Ok(())
        },
        |c| Some(c.connection_limits.max_connections.to_string())
    ),
    key!(
        "max.connections.per.ip",
        ValueType::Int,
        "2147483647",
        Mode::ClusterWide,
        "The most connections open at once from one IP address; a connection over it is closed \
         at once.",
        |c, v| {
            c.connection_limits.per_ip = parse_int(v, 0, MAX)? as u32;
            Ok(())
        },
        |c| Some(c.connection_limits.per_ip.to_string())
    ),
    key!(
        "max.connections.per.ip.overrides",
        ValueType::String,
        "",
        Mode::ClusterWide,
        "Per-address exceptions to max.connections.per.ip: `ip:count,...` (IP addresses only).",
        |c, v| {
            c.connection_limits.per_ip_overrides = parse_overrides(v)?;
            Ok(())
        },
        |c| Some(
            c.connection_limits
                .per_ip_overrides
                .iter()
                .map(|(ip, n)| format!("{ip}:{n}"))
                .collect::<Vec<_>>()
                .join(",")
        )
    ),
    key!(
        "max.connection.creation.rate",
        ValueType::Int,
        "2147483647",
        Mode::ClusterWide,
        "The most connections each listener accepts per second; faster arrivals wait.",
        |c, v| {
            c.connection_limits.creation_rate = parse_int(v, 0, MAX)? as u32;
            Ok(())
        },
        |c| Some(c.connection_limits.creation_rate.to_string())
    ),
];
