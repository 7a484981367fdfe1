//! What a cell measures: one of serverlab's own models, or a server of someone else's started by a command
//! (`--server py-threads='python3 threading_server.py --port {port}'`).
//!
//! Both are measured the same way and sit in the same tables, charts and analysis; only what the experiment knows
//! beforehand differs. A model's concurrency is known, so its cells are predicted; a command's is whatever its
//! author wrote, so it is predicted only when `--server-k` says it.
//!
//! A [`Subject`] is `Copy`, like the [`Model`] it generalises, so the analysis can pass it around freely: a
//! command's name is kept inline ([`ServerName`]), bounded in length.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::models::Model;

/// The longest name a `--server` may have: it labels table columns and chart legends.
pub const MAX_NAME: usize = 24;

/// The name of a server started by a command: 1 to [`MAX_NAME`] letters, digits, `-`, `_` or `.`, and never
/// the name of one of our models (a column must say which it is).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerName {
    len: u8,
    bytes: [u8; MAX_NAME],
}

impl ServerName {
    pub fn new(name: &str) -> Result<ServerName, String> {
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if name.is_empty() || name.len() > MAX_NAME || !name.chars().all(valid) {
            return Err(format!(
                "server name {name:?}: use 1 to {MAX_NAME} letters, digits, '-', '_' or '.'"
            ));
        }
        if Model::ALL.iter().any(|m| m.name() == name) {
            return Err(format!(
                "server name {name:?} is one of serverlab's models: name it otherwise"
            ));
        }
        let mut bytes = [0; MAX_NAME];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Ok(ServerName {
            len: name.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (checked in `new`).
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }
}

impl fmt::Debug for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of our models, or a server started by a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    Model(Model),
    Command(ServerName),
}

impl Subject {
    pub fn name(&self) -> &str {
        match self {
            Subject::Model(model) => model.name(),
            Subject::Command(name) => name.as_str(),
        }
    }

    /// The model, when the subject is one of ours.
    pub fn model(self) -> Option<Model> {
        match self {
            Subject::Model(model) => Some(model),
            Subject::Command(_) => None,
        }
    }

    pub fn is(self, model: Model) -> bool {
        self == Subject::Model(model)
    }

    /// Whether the subject serves from an event loop (only ours are known to).
    pub fn is_event_driven(self) -> bool {
        self.model().is_some_and(Model::is_event_driven)
    }
}

impl From<Model> for Subject {
    fn from(model: Model) -> Subject {
        Subject::Model(model)
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Subject {
    type Err = String;

    /// A model's name is the model; anything else is a command's name.
    fn from_str(name: &str) -> Result<Subject, String> {
        match Model::ALL.iter().find(|m| m.name() == name) {
            Some(&model) => Ok(Subject::Model(model)),
            None => ServerName::new(name).map(Subject::Command),
        }
    }
}

// In results files a subject is its name, as a model always was: older results still read.
impl Serialize for Subject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Subject, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for ServerName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ServerName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ServerName, D::Error> {
        let name = String::deserialize(deserializer)?;
        ServerName::new(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_a_model_or_a_command() {
        assert_eq!("poll".parse(), Ok(Subject::Model(Model::Poll)));
        let nginx: Subject = "nginx-1.22".parse().unwrap();
        assert_eq!(nginx.name(), "nginx-1.22");
        assert_eq!(nginx.model(), None);
        assert!(!nginx.is_event_driven());
        assert!("".parse::<Subject>().is_err());
        assert!("a b".parse::<Subject>().is_err());
        assert!("x".repeat(MAX_NAME + 1).parse::<Subject>().is_err());
        assert!(ServerName::new("threads").unwrap_err().contains("models"));
    }

    #[test]
    fn subjects_are_their_names_in_json() {
        let subjects = vec![Subject::Model(Model::Async), "py-threads".parse().unwrap()];
        let json = serde_json::to_string(&subjects).unwrap();
        assert_eq!(json, r#"["async","py-threads"]"#);
        let back: Vec<Subject> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, subjects);
        assert!(serde_json::from_str::<Subject>(r#""no spaces""#).is_err());
    }
}
