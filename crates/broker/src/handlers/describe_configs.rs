//! DescribeConfigs (key 32): topic configs (overrides over the broker's
//! defaults, with synonyms), this broker's configs with their sources
//! (dynamic per broker, dynamic cluster default, static, default) and the
//! cluster-wide dynamic defaults (the broker resource with an empty name).
//!
//! With an authorizer, as Kafka: DESCRIBE_CONFIGS on the topic (else
//! TOPIC_AUTHORIZATION_FAILED, whether it exists or not) or on the
//! cluster for a broker (else CLUSTER_AUTHORIZATION_FAILED).

use std::sync::Arc;

use fjord_protocol::messages::describe_configs_request::DescribeConfigsResource;
use fjord_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use fjord_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use fjord_protocol::ErrorCode;

use super::configs::{self, ConfigError, Described};
use super::RequestCtx;
use crate::state::{validate_topic_name, BrokerState};

crate::handler!(DescribeConfigs, 0, 4);

/// Parses a BROKER / BROKER_LOGGER resource name and checks it is us.
fn check_broker_id(state: &BrokerState, name: &str) -> Result<(), ConfigError> {
    let id: i32 = name.trim().parse().map_err(|_| {
        ConfigError::new(
            ErrorCode::InvalidRequest,
            format!("Broker id must be an integer, but it is: {name}"),
        )
    })?;
    if id != state.node_id {
        return Err(ConfigError::new(
            ErrorCode::InvalidRequest,
            format!(
                "Unexpected broker id, expected {} or empty string, but received {name}",
                state.node_id
            ),
        ));
    }
    Ok(())
}

fn describe(
    state: &BrokerState,
    r: &DescribeConfigsResource,
) -> Result<Vec<Described>, ConfigError> {
    match r.resource_type {
        configs::RESOURCE_TOPIC => {
            validate_topic_name(&r.resource_name)
                .map_err(|m| ConfigError::new(ErrorCode::InvalidTopicException, m))?;
            let Some(topic) = state.topic(&r.resource_name) else {
                return Err(ConfigError::new(
                    ErrorCode::UnknownTopicOrPartition,
                    format!("The topic '{}' does not exist.", r.resource_name),
                ));
            };
            Ok(configs::describe_topic(
                &state.config(),
                &topic.configs,
                &topic.log_config,
            ))
        }
        configs::RESOURCE_BROKER => {
            // An empty name asks for the cluster-wide dynamic defaults.
            if r.resource_name.is_empty() {
                return Ok(configs::describe_cluster_default(&state.config()));
            }
            check_broker_id(state, &r.resource_name)?;
            Ok(configs::describe_broker(&state.config()))
        }
        configs::RESOURCE_BROKER_LOGGER => {
            if r.resource_name.is_empty() {
                return Err(ConfigError::new(
                    ErrorCode::InvalidRequest,
                    "Broker id must not be empty",
                ));
            }
            check_broker_id(state, &r.resource_name)?;
            // Log levels are set by RUST_LOG at start, not per logger.
            Ok(Vec::new())
        }
        other => Err(ConfigError::new(
            ErrorCode::InvalidRequest,
            format!("Unsupported resource type: {other}"),
        )),
    }
}

fn entry(
    d: Described,
    include_synonyms: bool,
    include_documentation: bool,
) -> DescribeConfigsResourceResult {
    let is_default = d.is_default();
    DescribeConfigsResourceResult {
        name: d.name,
        value: d.value,
        read_only: d.read_only,
        is_default,
        config_source: d.source,
        is_sensitive: d.sensitive,
        synonyms: if include_synonyms {
            d.synonyms
                .into_iter()
                .map(|(name, value, source)| DescribeConfigsSynonym {
                    name,
                    value,
                    source,
                    ..Default::default()
                })
                .collect()
        } else {
            Vec::new()
        },
        config_type: d.config_type,
        documentation: if include_documentation {
            d.documentation.map(str::to_string)
        } else {
            None
        },
        ..Default::default()
    }
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let include_synonyms = ctx.api_version >= 1 && req.include_synonyms;
    let include_documentation = ctx.api_version >= 3 && req.include_documentation;
    let results = req
        .resources
        .iter()
        .map(|r| {
            match configs::authorize(
                &state,
                &ctx,
                crate::acl::AclOperation::DescribeConfigs,
                r.resource_type,
                &r.resource_name,
            )
            .and_then(|()| describe(&state, r))
            {
                Ok(all) => {
                    // Null or empty keys mean every config.
                    let wanted = |name: &str| match &r.configuration_keys {
                        Some(keys) if !keys.is_empty() => keys.iter().any(|k| k == name),
                        _ => true,
                    };
                    DescribeConfigsResult {
                        error_code: ErrorCode::None.code(),
                        error_message: None,
                        resource_type: r.resource_type,
                        resource_name: r.resource_name.clone(),
                        configs: all
                            .into_iter()
                            .filter(|d| wanted(&d.name))
                            .map(|d| entry(d, include_synonyms, include_documentation))
                            .collect(),
                        ..Default::default()
                    }
                }
                Err(e) => DescribeConfigsResult {
                    error_code: e.code.code(),
                    error_message: Some(e.message),
                    resource_type: r.resource_type,
                    resource_name: r.resource_name.clone(),
                    configs: Vec::new(),
                    ..Default::default()
                },
            }
        })
        .collect();
    DescribeConfigsResponse {
        results,
        ..Default::default()
    }
}
