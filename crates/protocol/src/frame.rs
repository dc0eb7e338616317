//! Request/response framing (to be written).
