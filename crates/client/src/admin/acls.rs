//! ACLs: CreateAcls, DescribeAcls and DeleteAcls with Kafka's wire codes
//! (resource type, pattern type, operation, permission as `i8`); naming
//! them is the caller's business.

use fjord_protocol::messages::create_acls_request::AclCreation;
use fjord_protocol::messages::delete_acls_request::DeleteAclsFilter;
use fjord_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use fjord_protocol::Request;

use super::Outcome;
use crate::client::{Client, Target};
use crate::error::{ClientError, Result};
use crate::{expect_response, versions};

/// One ACL binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclEntry {
    pub resource_type: i8,
    pub name: String,
    pub pattern_type: i8,
    pub principal: String,
    pub host: String,
    pub operation: i8,
    pub permission: i8,
}

/// A binding filter: `None` and the ANY code (1) match anything; pattern
/// type MATCH (2) selects every binding that applies to the named resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclFilter {
    pub resource_type: i8,
    pub name: Option<String>,
    pub pattern_type: i8,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: i8,
    pub permission: i8,
}

impl Client {
    /// Creates `acls`; the first refused binding is the error.
    pub async fn create_acls(&mut self, acls: &[AclEntry]) -> Result<()> {
        let req = CreateAclsRequest {
            creations: acls
                .iter()
                .map(|a| AclCreation {
                    resource_type: a.resource_type,
                    resource_name: a.name.clone(),
                    resource_pattern_type: a.pattern_type,
                    principal: a.principal.clone(),
                    host: a.host.clone(),
                    operation: a.operation,
                    permission_type: a.permission,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let (_, resp) = self
            .send(
                Target::Any,
                Request::CreateAcls(req),
                versions::CREATE_ACLS,
                None,
            )
            .await?;
        let resp = expect_response!(resp, CreateAcls);
        for (a, r) in acls.iter().zip(resp.results) {
            let context = format!("acl for {} on {}", a.principal, a.name);
            if let Some(e) = ClientError::from_code(context, r.error_code, r.error_message) {
                return Err(e);
            }
        }
        Ok(())
    }

    /// The bindings `filter` selects.
    pub async fn describe_acls(&mut self, filter: &AclFilter) -> Result<Vec<AclEntry>> {
        let req = DescribeAclsRequest {
            resource_type_filter: filter.resource_type,
            resource_name_filter: filter.name.clone(),
            pattern_type_filter: filter.pattern_type,
            principal_filter: filter.principal.clone(),
            host_filter: filter.host.clone(),
            operation: filter.operation,
            permission_type: filter.permission,
            ..Default::default()
        };
        let resources = self
            .single_resource(
                Request::DescribeAcls(req),
                versions::DESCRIBE_ACLS,
                "acls",
                |resp| {
                    let resp = expect_response!(resp, DescribeAcls);
                    Ok(Some(Outcome::new(
                        resp.error_code,
                        resp.error_message,
                        resp.resources,
                    )))
                },
            )
            .await?;
        Ok(resources
            .into_iter()
            .flat_map(|r| {
                let (rt, name, pt) = (r.resource_type, r.resource_name, r.pattern_type);
                r.acls.into_iter().map(move |a| AclEntry {
                    resource_type: rt,
                    name: name.clone(),
                    pattern_type: pt,
                    principal: a.principal,
                    host: a.host,
                    operation: a.operation,
                    permission: a.permission_type,
                })
            })
            .collect())
    }

    /// Deletes what the filters select and returns the deleted bindings.
    pub async fn delete_acls(&mut self, filters: &[AclFilter]) -> Result<Vec<AclEntry>> {
        let req = DeleteAclsRequest {
            filters: filters
                .iter()
                .map(|f| DeleteAclsFilter {
                    resource_type_filter: f.resource_type,
                    resource_name_filter: f.name.clone(),
                    pattern_type_filter: f.pattern_type,
                    principal_filter: f.principal.clone(),
                    host_filter: f.host.clone(),
                    operation: f.operation,
                    permission_type: f.permission,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let (_, resp) = self
            .send(
                Target::Any,
                Request::DeleteAcls(req),
                versions::DELETE_ACLS,
                None,
            )
            .await?;
        let resp = expect_response!(resp, DeleteAcls);
        let mut out = Vec::new();
        for r in resp.filter_results {
            if let Some(e) = ClientError::from_code("acls", r.error_code, r.error_message) {
                return Err(e);
            }
            out.extend(r.matching_acls.into_iter().map(|a| AclEntry {
                resource_type: a.resource_type,
                name: a.resource_name,
                pattern_type: a.pattern_type,
                principal: a.principal,
                host: a.host,
                operation: a.operation,
                permission: a.permission_type,
            }));
        }
        Ok(out)
    }
}
