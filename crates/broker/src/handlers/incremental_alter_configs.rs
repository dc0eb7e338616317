//! IncrementalAlterConfigs (key 44): SET, DELETE, APPEND and SUBTRACT on
//! a topic's config overrides, this broker's dynamic configs or the
//! cluster-wide dynamic defaults (the broker resource with an empty name).
//! Every operation of a resource is checked before any is applied.
//!
//! With an authorizer, as Kafka: ALTER_CONFIGS on the topic (else
//! TOPIC_AUTHORIZATION_FAILED) or on the cluster for a broker (else
//! CLUSTER_AUTHORIZATION_FAILED).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use fjord_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use fjord_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use fjord_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};
use fjord_protocol::ErrorCode;

use fjord_storage::ValueType;

use super::configs::{self, AlterTarget, ConfigError};
use super::RequestCtx;
use crate::config::{keys, BrokerConfig};
use crate::state::BrokerState;

crate::handler!(IncrementalAlterConfigs, 0, 1);

pub const OP_SET: i8 = 0;
pub const OP_DELETE: i8 = 1;
pub const OP_APPEND: i8 = 2;
pub const OP_SUBTRACT: i8 = 3;

fn list_items(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// What APPEND and SUBTRACT need to know about a config: whether it is a
/// list, and its value when the resource does not set it.
struct ListInfo {
    is_list: bool,
    default: Option<String>,
}

/// Applies the operations to a copy of `current` (a topic's overrides or
/// a dynamic broker layer). `describe` gives what APPEND and SUBTRACT need
/// of a name (`None`: not a config of this resource).
fn apply_ops(
    current: &BTreeMap<String, String>,
    ops: &[AlterableConfig],
    describe: impl Fn(&str) -> Option<ListInfo>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut seen = HashSet::new();
    if ops.iter().any(|c| !seen.insert(c.name.as_str())) {
        return Err(ConfigError::new(
            ErrorCode::InvalidRequest,
            "Error due to duplicate config keys",
        ));
    }
    let mut out = current.clone();
    for c in ops {
        let name = c.name.as_str();
        let value = || {
            c.value.as_deref().ok_or_else(|| {
                ConfigError::new(
                    ErrorCode::InvalidRequest,
                    format!("Null value not supported for : {name}"),
                )
            })
        };
        match c.config_operation {
            OP_SET => {
                out.insert(name.to_string(), value()?.to_string());
            }
            OP_DELETE => {
                out.remove(name);
            }
            OP_APPEND | OP_SUBTRACT => {
                let verb = if c.config_operation == OP_APPEND {
                    "append"
                } else {
                    "subtract"
                };
                let Some(info) = describe(name) else {
                    return Err(ConfigError::new(
                        ErrorCode::InvalidConfig,
                        format!("Unknown config name: {name}"),
                    ));
                };
                if !info.is_list {
                    return Err(ConfigError::new(
                        ErrorCode::InvalidConfig,
                        format!("Config value {verb} is not allowed for config key: {name}"),
                    ));
                }
                let base = out.get(name).cloned().or(info.default).unwrap_or_default();
                let mut items = list_items(&base);
                let given = list_items(value()?);
                if c.config_operation == OP_APPEND {
                    // Kafka appends in order, skipping values already there.
                    for g in given {
                        if !items.contains(&g) {
                            items.push(g);
                        }
                    }
                } else {
                    items.retain(|i| !given.contains(i));
                }
                out.insert(name.to_string(), items.join(","));
            }
            other => {
                return Err(ConfigError::new(
                    ErrorCode::InvalidRequest,
                    format!("Unknown config operation {other} for config key: {name}"),
                ))
            }
        }
    }
    Ok(out)
}

/// APPEND/SUBTRACT facts of a topic config: its base is the topic's
/// effective default (the broker's).
fn topic_list_info(broker: &BrokerConfig, name: &str) -> Option<ListInfo> {
    configs::is_topic_config(name).then(|| ListInfo {
        is_list: configs::is_list_config(name),
        default: configs::topic_default_value(broker, name),
    })
}

/// APPEND/SUBTRACT facts of a broker config: its base is the value the
/// layers below give it.
fn broker_list_info(broker: &BrokerConfig, name: &str) -> Option<ListInfo> {
    let def = keys::broker_def(name)?;
    Some(ListInfo {
        is_list: def.ty() == ValueType::List,
        default: broker.value_of(def),
    })
}

fn alter(
    state: &BrokerState,
    r: &AlterConfigsResource,
    validate_only: bool,
) -> Result<(), ConfigError> {
    let broker = state.config();
    match configs::alter_target(state, r.resource_type, &r.resource_name)? {
        AlterTarget::Topic(topic) => {
            let overrides = apply_ops(&topic.configs, &r.configs, |n| topic_list_info(&broker, n))?;
            let log = configs::validate_topic_configs(&broker, &overrides)?;
            if validate_only || overrides == topic.configs {
                return Ok(());
            }
            configs::apply_topic_configs(state, &topic, overrides, log)?;
            tracing::info!(topic = %topic.name, "altered topic configs");
        }
        AlterTarget::Broker { per_broker } => {
            let current = configs::broker_layer(state, per_broker);
            let layer = apply_ops(&current, &r.configs, |n| broker_list_info(&broker, n))?;
            let config = configs::validate_broker_configs(state, per_broker, &layer)?;
            if validate_only || layer == current {
                return Ok(());
            }
            configs::apply_broker_configs(state, config)?;
            tracing::info!(per_broker, configs = ?layer, "altered dynamic broker configs");
        }
    }
    Ok(())
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let duplicates = configs::duplicate_resources(
        req.resources
            .iter()
            .map(|r| (r.resource_type, r.resource_name.as_str())),
    );
    // Held across read-modify-write so concurrent alters do not lose updates.
    let _guard = state.admin_lock.lock().await;
    let responses = req
        .resources
        .iter()
        .map(|r| {
            let outcome = if duplicates.contains(&(r.resource_type, r.resource_name.clone())) {
                Err(ConfigError::new(
                    ErrorCode::InvalidRequest,
                    "Duplicate resource.",
                ))
            } else {
                configs::authorize(
                    &state,
                    &ctx,
                    crate::acl::AclOperation::AlterConfigs,
                    r.resource_type,
                    &r.resource_name,
                )
                .and_then(|()| alter(&state, r, req.validate_only))
            };
            let (code, message) = match outcome {
                Ok(()) => (ErrorCode::None, None),
                Err(e) => (e.code, Some(e.message)),
            };
            AlterConfigsResourceResponse {
                error_code: code.code(),
                error_message: message,
                resource_type: r.resource_type,
                resource_name: r.resource_name.clone(),
                ..Default::default()
            }
        })
        .collect();
    IncrementalAlterConfigsResponse {
        responses,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str, op: i8, value: Option<&str>) -> AlterableConfig {
        AlterableConfig {
            name: name.into(),
            config_operation: op,
            value: value.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn operations() {
        let broker = BrokerConfig::default();
        let mut current = BTreeMap::new();
        current.insert("retention.ms".to_string(), "1000".to_string());

        let topic = |n: &str| topic_list_info(&broker, n);
        let out = apply_ops(
            &current,
            &[
                op("retention.ms", OP_DELETE, None),
                op("segment.bytes", OP_SET, Some("1048576")),
                op("cleanup.policy", OP_APPEND, Some("compact")),
            ],
            topic,
        )
        .unwrap();
        assert_eq!(out.get("retention.ms"), None);
        assert_eq!(
            out.get("segment.bytes").map(String::as_str),
            Some("1048576")
        );
        assert_eq!(
            out.get("cleanup.policy").map(String::as_str),
            Some("delete,compact")
        );

        let out = apply_ops(
            &out,
            &[op("cleanup.policy", OP_SUBTRACT, Some("delete"))],
            topic,
        )
        .unwrap();
        assert_eq!(
            out.get("cleanup.policy").map(String::as_str),
            Some("compact")
        );
        // Subtracting the last value leaves the empty list, which Kafka
        // accepts (nothing is deleted or compacted).
        let out = apply_ops(
            &out,
            &[op("cleanup.policy", OP_SUBTRACT, Some("compact"))],
            topic,
        )
        .unwrap();
        assert_eq!(out.get("cleanup.policy").map(String::as_str), Some(""));
        let log = configs::validate_topic_configs(&broker, &out).unwrap();
        assert!(!log.cleanup_policy.deletes() && !log.cleanup_policy.compacts());

        let code = |r: Result<_, ConfigError>| r.unwrap_err().code;
        assert_eq!(
            code(apply_ops(
                &current,
                &[op("retention.ms", OP_APPEND, Some("1"))],
                topic
            )),
            ErrorCode::InvalidConfig
        );
        assert_eq!(
            code(apply_ops(
                &current,
                &[op("retention.ms", 9, Some("1"))],
                topic
            )),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(apply_ops(
                &current,
                &[op("retention.ms", OP_SET, None)],
                topic
            )),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(apply_ops(
                &current,
                &[
                    op("retention.ms", OP_SET, Some("1")),
                    op("retention.ms", OP_DELETE, None)
                ],
                topic
            )),
            ErrorCode::InvalidRequest
        );
    }
}
