//! IncrementalAlterConfigs (key 44): SET, DELETE, APPEND and SUBTRACT on
//! a topic's config overrides. Every operation of a resource is checked
//! before any is applied. Only topic resources can be altered; broker
//! configs are static in fjord.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use fjord_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use fjord_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use fjord_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};
use fjord_protocol::ErrorCode;

use super::configs::{self, ConfigError};
use super::RequestCtx;
use crate::config::BrokerConfig;
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

/// Applies the operations to a copy of `current` (a topic's overrides).
fn apply_ops(
    broker: &BrokerConfig,
    current: &BTreeMap<String, String>,
    ops: &[AlterableConfig],
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
                if !configs::is_topic_config(name) {
                    return Err(ConfigError::new(
                        ErrorCode::InvalidConfig,
                        format!("Unknown topic config name: {name}"),
                    ));
                }
                if !configs::is_list_config(name) {
                    return Err(ConfigError::new(
                        ErrorCode::InvalidConfig,
                        format!("Config value {verb} is not allowed for config key: {name}"),
                    ));
                }
                let base = out
                    .get(name)
                    .cloned()
                    .or_else(|| configs::topic_default_value(broker, name))
                    .unwrap_or_default();
                let mut items = list_items(&base);
                let given = list_items(value()?);
                if c.config_operation == OP_APPEND {
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

fn alter(
    state: &BrokerState,
    r: &AlterConfigsResource,
    validate_only: bool,
) -> Result<(), ConfigError> {
    let topic = configs::alter_target(state, r.resource_type, &r.resource_name)?;
    let overrides = apply_ops(&state.config, &topic.configs, &r.configs)?;
    let log = configs::validate_topic_configs(&state.config, &overrides)?;
    if validate_only || overrides == topic.configs {
        return Ok(());
    }
    configs::apply_topic_configs(state, &topic, overrides, log)?;
    tracing::info!(topic = %topic.name, "altered topic configs");
    Ok(())
}

async fn handle(
    state: Arc<BrokerState>,
    _ctx: RequestCtx,
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
                alter(&state, r, req.validate_only)
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

        let out = apply_ops(
            &broker,
            &current,
            &[
                op("retention.ms", OP_DELETE, None),
                op("segment.bytes", OP_SET, Some("1048576")),
                op("cleanup.policy", OP_APPEND, Some("compact")),
            ],
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
            &broker,
            &out,
            &[op("cleanup.policy", OP_SUBTRACT, Some("delete"))],
        )
        .unwrap();
        assert_eq!(
            out.get("cleanup.policy").map(String::as_str),
            Some("compact")
        );

        let code = |r: Result<_, ConfigError>| r.unwrap_err().code;
        assert_eq!(
            code(apply_ops(
                &broker,
                &current,
                &[op("retention.ms", OP_APPEND, Some("1"))]
            )),
            ErrorCode::InvalidConfig
        );
        assert_eq!(
            code(apply_ops(
                &broker,
                &current,
                &[op("retention.ms", 9, Some("1"))]
            )),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(apply_ops(
                &broker,
                &current,
                &[op("retention.ms", OP_SET, None)]
            )),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(apply_ops(
                &broker,
                &current,
                &[
                    op("retention.ms", OP_SET, Some("1")),
                    op("retention.ms", OP_DELETE, None)
                ]
            )),
            ErrorCode::InvalidRequest
        );
    }
}
