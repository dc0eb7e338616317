//! Topic configs: DescribeConfigs (with each value's source) and
//! IncrementalAlterConfigs.

use fjord_protocol::messages::describe_configs_request::DescribeConfigsResource;
use fjord_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use fjord_protocol::messages::{DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use fjord_protocol::Request;

use super::Outcome;
use crate::client::Client;
use crate::error::Result;
use crate::{expect_response, versions};

/// Kafka's resource type for topics in config requests.
const RESOURCE_TOPIC: i8 = 2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    /// Kafka's config source code (1 = dynamic topic config, 5 = default, ...).
    pub source: i8,
    pub read_only: bool,
    pub sensitive: bool,
}

impl ConfigEntry {
    /// Kafka's name for the config source, as its tools print it.
    pub fn source_name(&self) -> &'static str {
        match self.source {
            1 => "DYNAMIC_TOPIC_CONFIG",
            2 => "DYNAMIC_BROKER_CONFIG",
            3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
            4 => "STATIC_BROKER_CONFIG",
            5 => "DEFAULT_CONFIG",
            6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
            7 => "CLIENT_METRICS_CONFIG",
            8 => "GROUP_CONFIG",
            _ => "UNKNOWN",
        }
    }
}

/// One IncrementalAlterConfigs operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigOp {
    Set(String, String),
    Delete(String),
}

impl Client {
    /// The topic's configs with their sources, sorted by name.
    pub async fn describe_topic_configs(&mut self, name: &str) -> Result<Vec<ConfigEntry>> {
        let req = DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type: RESOURCE_TOPIC,
                resource_name: name.to_string(),
                configuration_keys: None,
                ..Default::default()
            }],
            include_synonyms: false,
            include_documentation: false,
            ..Default::default()
        };
        let r = self
            .single_resource(
                Request::DescribeConfigs(req),
                versions::DESCRIBE_CONFIGS,
                &format!("topic {name}"),
                |resp| {
                    let resp = expect_response!(resp, DescribeConfigs);
                    Ok(resp
                        .results
                        .into_iter()
                        .next()
                        .map(|mut r| Outcome::new(r.error_code, r.error_message.take(), r)))
                },
            )
            .await?;
        let mut out: Vec<ConfigEntry> = r
            .configs
            .into_iter()
            .map(|c| ConfigEntry {
                name: c.name,
                value: c.value,
                source: c.config_source,
                read_only: c.read_only,
                sensitive: c.is_sensitive,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub async fn alter_topic_config(&mut self, name: &str, ops: &[ConfigOp]) -> Result<()> {
        let req = IncrementalAlterConfigsRequest {
            resources: vec![AlterConfigsResource {
                resource_type: RESOURCE_TOPIC,
                resource_name: name.to_string(),
                configs: ops
                    .iter()
                    .map(|op| match op {
                        ConfigOp::Set(k, v) => AlterableConfig {
                            name: k.clone(),
                            config_operation: 0,
                            value: Some(v.clone()),
                            ..Default::default()
                        },
                        ConfigOp::Delete(k) => AlterableConfig {
                            name: k.clone(),
                            config_operation: 1,
                            value: None,
                            ..Default::default()
                        },
                    })
                    .collect(),
                ..Default::default()
            }],
            validate_only: false,
            ..Default::default()
        };
        self.single_resource(
            Request::IncrementalAlterConfigs(req),
            versions::INCREMENTAL_ALTER_CONFIGS,
            &format!("topic {name}"),
            |resp| {
                let resp = expect_response!(resp, IncrementalAlterConfigs);
                Ok(resp
                    .responses
                    .into_iter()
                    .next()
                    .map(|r| Outcome::new(r.error_code, r.error_message, ())))
            },
        )
        .await
    }
}
