//! The configuration error: a leaf module, so the config sections defined beside
//! their users (`network`, `optimizer`) can validate without importing the config.

use thiserror::Error;

/// A configuration problem, always naming the key at fault.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ConfigError {
    /// A value outside its allowed range.
    #[error("config key `{key}` = {value} is out of range: allowed {allowed}")]
    OutOfRange {
        key: String,
        value: String,
        allowed: String,
    },
    /// Anything else wrong with the file or an override (unknown key, wrong type, syntax).
    #[error("{0}")]
    Invalid(String),
}

impl ConfigError {
    /// Shorthand for [`ConfigError::OutOfRange`].
    pub fn range(key: &str, value: impl std::fmt::Display, allowed: &str) -> Self {
        ConfigError::OutOfRange {
            key: key.to_string(),
            value: value.to_string(),
            allowed: allowed.to_string(),
        }
    }
}
