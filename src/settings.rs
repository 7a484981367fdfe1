//! The vocabulary every group of settings shares (a server's, a load's, an experiment's): the error that says a
//! setting cannot work, in one line, and the range check that most of them use.

use std::fmt;

/// A setting that cannot work, said in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(message: impl Into<String>) -> ConfigError {
        ConfigError(message.into())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Checks `low <= value <= high` for the setting `flag`, in one line that says the range.
pub fn in_range<T: PartialOrd + fmt::Display>(
    flag: &str,
    value: T,
    low: T,
    high: T,
) -> Result<(), ConfigError> {
    if value < low || value > high {
        return Err(ConfigError::new(format!(
            "{flag} must be between {low} and {high}, not {value}"
        )));
    }
    Ok(())
}
