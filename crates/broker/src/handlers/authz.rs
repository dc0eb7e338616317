//! How handlers ask the authorizer: the one way in is
//! [`RequestCtx::allowed`] (audited: a denial is logged and counted) and
//! [`RequestCtx::visible`] (not audited: for filtering a listing, as
//! Kafka filters Metadata, ListGroups and ListTransactions). Handlers
//! never look at ACL bindings themselves. Without `authorizer.class.name`
//! both answer true.

use fjord_protocol::ErrorCode;

use crate::acl::{self, AclOperation, ResourceType, CLUSTER_NAME, NOT_REQUESTED};
use crate::state::BrokerState;

use super::RequestCtx;

impl RequestCtx {
    /// Whether this request's principal may perform `op` on the resource
    /// `name` of type `rt`; a denial goes to the audit log.
    pub fn allowed(
        &self,
        state: &BrokerState,
        op: AclOperation,
        rt: ResourceType,
        name: &str,
    ) -> bool {
        state
            .authorizer
            .authorize(&self.principal.0, self.peer.ip(), op, rt, name, true)
    }

    /// As [`RequestCtx::allowed`] without an audit line: whether a
    /// resource shows in a listing.
    pub fn visible(
        &self,
        state: &BrokerState,
        op: AclOperation,
        rt: ResourceType,
        name: &str,
    ) -> bool {
        state
            .authorizer
            .authorize(&self.principal.0, self.peer.ip(), op, rt, name, false)
    }

    /// [`RequestCtx::allowed`] on the cluster resource.
    pub fn allowed_on_cluster(&self, state: &BrokerState, op: AclOperation) -> bool {
        self.allowed(state, op, ResourceType::Cluster, CLUSTER_NAME)
    }

    /// The gate of the ACL APIs (CreateAcls, DescribeAcls, DeleteAcls):
    /// `op` (ALTER or DESCRIBE) on the cluster, then an authorizer at all.
    /// `Some((code, message))` is the error every entry of the answer gets.
    pub fn acl_admin_refusal(
        &self,
        state: &BrokerState,
        op: AclOperation,
    ) -> Option<(ErrorCode, &'static str)> {
        if !self.allowed_on_cluster(state, op) {
            Some((
                ErrorCode::ClusterAuthorizationFailed,
                "Cluster authorization failed.",
            ))
        } else if !state.authorizer.enabled() {
            Some((ErrorCode::SecurityDisabled, "No Authorizer is configured."))
        } else {
            None
        }
    }

    /// Whether `op` is allowed on some resource of type `rt` (Kafka's
    /// `authorizeByResourceType`).
    pub fn allowed_on_any(&self, state: &BrokerState, op: AclOperation, rt: ResourceType) -> bool {
        state
            .authorizer
            .authorize_any(&self.principal.0, self.peer.ip(), op, rt)
    }

    /// The authorized-operations bit set of a resource for this principal.
    pub fn authorized_operations(&self, state: &BrokerState, rt: ResourceType, name: &str) -> i32 {
        acl::authorized_operations(rt, |op| self.visible(state, op, rt, name))
    }

    /// [`RequestCtx::authorized_operations`] when `requested`, else
    /// [`NOT_REQUESTED`].
    pub fn operations_if_requested(
        &self,
        state: &BrokerState,
        requested: bool,
        rt: ResourceType,
        name: &str,
    ) -> i32 {
        if requested {
            self.authorized_operations(state, rt, name)
        } else {
            NOT_REQUESTED
        }
    }
}
