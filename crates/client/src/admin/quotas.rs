//! Client quotas: DescribeClientQuotas and AlterClientQuotas.

use fjord_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use fjord_protocol::messages::describe_client_quotas_request::ComponentData;
use fjord_protocol::messages::{AlterClientQuotasRequest, DescribeClientQuotasRequest};
use fjord_protocol::Request;

use super::Outcome;
use crate::client::Client;
use crate::error::Result;
use crate::{expect_response, versions};

/// A quota entity: `(entity type, name)` pairs, a `None` name being the
/// `<default>` entity of that type.
pub type QuotaEntity = Vec<(String, Option<String>)>;

/// One entity's quotas, as DescribeClientQuotas returns them.
#[derive(Clone, Debug, PartialEq)]
pub struct QuotaEntry {
    pub entity: QuotaEntity,
    pub values: Vec<(String, f64)>,
}

/// How a DescribeClientQuotas filter matches one entity type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuotaMatch {
    Exact(String),
    Default,
    Any,
}

impl Client {
    /// The quotas of the entities matching `filter` (empty: all).
    pub async fn describe_client_quotas(
        &mut self,
        filter: &[(String, QuotaMatch)],
        strict: bool,
    ) -> Result<Vec<QuotaEntry>> {
        let req = DescribeClientQuotasRequest {
            components: filter
                .iter()
                .map(|(ty, m)| {
                    let (match_type, name) = match m {
                        QuotaMatch::Exact(n) => (0, Some(n.clone())),
                        QuotaMatch::Default => (1, None),
                        QuotaMatch::Any => (2, None),
                    };
                    ComponentData {
                        entity_type: ty.clone(),
                        match_type,
                        r#match: name,
                        ..Default::default()
                    }
                })
                .collect(),
            strict,
            ..Default::default()
        };
        let entries = self
            .single_resource(
                Request::DescribeClientQuotas(req),
                versions::DESCRIBE_CLIENT_QUOTAS,
                "client quotas",
                |resp| {
                    let resp = expect_response!(resp, DescribeClientQuotas);
                    Ok(Some(Outcome::new(
                        resp.error_code,
                        resp.error_message,
                        resp.entries,
                    )))
                },
            )
            .await?;
        Ok(entries
            .unwrap_or_default()
            .into_iter()
            .map(|e| QuotaEntry {
                entity: e
                    .entity
                    .into_iter()
                    .map(|x| (x.entity_type, x.entity_name))
                    .collect(),
                values: e.values.into_iter().map(|v| (v.key, v.value)).collect(),
            })
            .collect())
    }

    /// Sets (`Some`) or removes (`None`) quota keys of one entity.
    pub async fn alter_client_quotas(
        &mut self,
        entity: &QuotaEntity,
        ops: &[(String, Option<f64>)],
    ) -> Result<()> {
        let req = AlterClientQuotasRequest {
            entries: vec![EntryData {
                entity: entity
                    .iter()
                    .map(|(ty, name)| EntityData {
                        entity_type: ty.clone(),
                        entity_name: name.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ops: ops
                    .iter()
                    .map(|(key, value)| OpData {
                        key: key.clone(),
                        value: value.unwrap_or(0.0),
                        remove: value.is_none(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            validate_only: false,
            ..Default::default()
        };
        self.single_resource(
            Request::AlterClientQuotas(req),
            versions::ALTER_CLIENT_QUOTAS,
            "client quotas",
            |resp| {
                let resp = expect_response!(resp, AlterClientQuotas);
                Ok(resp
                    .entries
                    .into_iter()
                    .next()
                    .map(|r| Outcome::new(r.error_code, r.error_message, ())))
            },
        )
        .await
    }
}
