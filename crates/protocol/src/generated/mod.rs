//! Placeholder until codegen runs.
