//! The hook where authentication and authorization plug in. fjord has no
//! user store or ACLs yet, so no authenticator is installed and every
//! request is allowed; when security lands, an [`Authenticator`] checks
//! HTTP basic credentials against the broker's users and subject ACLs, and
//! the router calls it before any handler (see `http::guard`).

use axum::http::HeaderMap;

use crate::error::RegistryError;

/// What a request does to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Read,
    Write,
    Delete,
}

pub trait Authenticator: Send + Sync + 'static {
    /// The principal the request's credentials (e.g. `Authorization:
    /// Basic …`) prove, or 40101.
    fn authenticate(&self, headers: &HeaderMap) -> Result<String, RegistryError>;
    /// Whether `principal` may do `op` on `subject` (`None`: a global
    /// resource such as `/config` or `/schemas/ids/{id}`).
    fn authorize(&self, principal: &str, op: Operation, subject: Option<&str>) -> bool;
}
