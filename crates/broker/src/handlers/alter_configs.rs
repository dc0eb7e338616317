//! AlterConfigs (key 33), the legacy non-incremental form: the configs
//! given replace the resource's whole set: a topic's overrides, this
//! broker's dynamic configs, or the cluster-wide dynamic defaults (the
//! broker resource with an empty name).
//!
//! With an authorizer, as Kafka: ALTER_CONFIGS on the topic (else
//! TOPIC_AUTHORIZATION_FAILED) or on the cluster for a broker (else
//! CLUSTER_AUTHORIZATION_FAILED).

use std::collections::BTreeMap;
use std::sync::Arc;

use fjord_protocol::messages::alter_configs_request::AlterConfigsResource;
use fjord_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use fjord_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};
use fjord_protocol::ErrorCode;

use super::configs::{self, AlterTarget, ConfigError};
use super::RequestCtx;
use crate::state::BrokerState;

crate::handler!(AlterConfigs, 0, 2);

fn alter(
    state: &BrokerState,
    r: &AlterConfigsResource,
    validate_only: bool,
) -> Result<(), ConfigError> {
    let target = configs::alter_target(state, r.resource_type, &r.resource_name)?;
    let mut given = BTreeMap::new();
    for c in &r.configs {
        let Some(value) = &c.value else {
            return Err(ConfigError::new(
                ErrorCode::InvalidRequest,
                format!("Null value not supported for : {}", c.name),
            ));
        };
        given.insert(c.name.clone(), value.clone());
    }
    match target {
        AlterTarget::Topic(topic) => {
            let log = configs::validate_topic_configs(&state.config(), &given)?;
            if validate_only {
                return Ok(());
            }
            configs::apply_topic_configs(state, &topic, given, log)?;
            tracing::info!(topic = %topic.name, "replaced topic configs");
        }
        AlterTarget::Broker { per_broker } => {
            let config = configs::validate_broker_configs(state, per_broker, &given)?;
            if validate_only {
                return Ok(());
            }
            configs::apply_broker_configs(state, config)?;
            tracing::info!(per_broker, configs = ?given, "replaced dynamic broker configs");
        }
    }
    Ok(())
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let duplicates = configs::duplicate_resources(
        req.resources
            .iter()
            .map(|r| (r.resource_type, r.resource_name.as_str())),
    );
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
    AlterConfigsResponse {
        responses,
        ..Default::default()
    }
}
