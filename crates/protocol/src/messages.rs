//! Generated message types (see `generated/`), and the request/response
//! enums that dispatch on api key.
#[path = "generated/mod.rs"]
mod generated;
pub use generated::*;
