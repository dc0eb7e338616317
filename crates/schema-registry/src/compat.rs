//! Compatibility levels and modes, and the check of a new schema against a
//! subject's earlier versions as each level defines it.

use crate::schema::{can_read, ParsedSchema};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Level {
    /// The registry's default, as Confluent's.
    pub const DEFAULT: Level = Level::Backward;
    pub const ALL: [Level; 7] = [
        Level::None,
        Level::Backward,
        Level::BackwardTransitive,
        Level::Forward,
        Level::ForwardTransitive,
        Level::Full,
        Level::FullTransitive,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Level::None => "NONE",
            Level::Backward => "BACKWARD",
            Level::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Level::Forward => "FORWARD",
            Level::ForwardTransitive => "FORWARD_TRANSITIVE",
            Level::Full => "FULL",
            Level::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s.trim()))
    }

    fn transitive(self) -> bool {
        matches!(
            self,
            Level::BackwardTransitive | Level::ForwardTransitive | Level::FullTransitive
        )
    }
    fn backward(self) -> bool {
        matches!(
            self,
            Level::Backward | Level::BackwardTransitive | Level::Full | Level::FullTransitive
        )
    }
    fn forward(self) -> bool {
        matches!(
            self,
            Level::Forward | Level::ForwardTransitive | Level::Full | Level::FullTransitive
        )
    }
}

/// A subject's or the registry's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    ReadWrite,
    ReadOnly,
    Import,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::ReadWrite => "READWRITE",
            Mode::ReadOnly => "READONLY",
            Mode::Import => "IMPORT",
        }
    }
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim().to_ascii_uppercase().as_str() {
            "READWRITE" => Some(Mode::ReadWrite),
            "READONLY" | "READONLY_OVERRIDE" => Some(Mode::ReadOnly),
            "IMPORT" => Some(Mode::Import),
            _ => None,
        }
    }
}

/// Why `new` is not compatible with `previous` (oldest first) under
/// `level`; empty when it is. Non-transitive levels look at the latest only.
pub fn check(level: Level, new: &ParsedSchema, previous: &[ParsedSchema]) -> Vec<String> {
    if level == Level::None {
        return Vec::new();
    }
    let against: Vec<&ParsedSchema> = if level.transitive() {
        previous.iter().collect()
    } else {
        previous.last().into_iter().collect()
    };
    let mut errors = Vec::new();
    for old in against {
        if level.backward() {
            for e in can_read(new, old) {
                errors.push(format!("{{oldSchemaVersion: backward, errorMessage: the new schema cannot read data written with an earlier one: {e}}}"));
            }
        }
        if level.forward() {
            for e in can_read(old, new) {
                errors.push(format!("{{oldSchemaVersion: forward, errorMessage: an earlier schema cannot read data written with the new one: {e}}}"));
            }
        }
    }
    errors
}
