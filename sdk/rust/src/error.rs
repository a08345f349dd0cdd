//! The error a plugin returns to the host, and its conversions.

use std::fmt;

use crate::bindings::types;

/// A plugin error: what went wrong and whose fault it is. The host uses the
/// kind to decide whether to fail the run, route the batch to dead letters
/// or retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// Whose fault an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The configuration is wrong (name the field).
    InvalidConfig,
    /// The input schema or a batch cannot be processed.
    InvalidInput,
    /// State given to `restore` cannot be used.
    InvalidState,
    /// An external system failed; retrying may help.
    Unavailable,
    /// A bug in the plugin.
    Internal,
}

/// `Result` with the plugin [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl fmt::Display) -> Self {
        Self {
            kind,
            message: message.to_string(),
        }
    }

    /// The configuration is wrong. Say which field and what was expected.
    pub fn invalid_config(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::InvalidConfig, message)
    }

    /// The input cannot be processed.
    pub fn invalid_input(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// State given to `restore` cannot be used.
    pub fn invalid_state(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::InvalidState, message)
    }

    /// An external system failed.
    pub fn unavailable(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// A bug in the plugin.
    pub fn internal(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Whose fault it is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefixes the message with where it happened, e.g. a field name.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

/// Arrow errors inside a plugin are most often bad input (a cast that does
/// not fit, an overflow); use [`Error::internal`] explicitly for bugs.
impl From<arrow_schema::ArrowError> for Error {
    fn from(error: arrow_schema::ArrowError) -> Self {
        Self::invalid_input(error)
    }
}

/// An error answered by a plugin's `open`. Its input there is a schema,
/// which the configuration must fit: an invalid-input answer (as Arrow
/// errors convert) is the configuration's fault, and is reported so.
pub(crate) fn at_open(error: Error) -> Error {
    match error.kind {
        ErrorKind::InvalidInput => Error {
            kind: ErrorKind::InvalidConfig,
            ..error
        },
        _ => error,
    }
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Self::invalid_input(error)
    }
}

impl From<Error> for types::Error {
    fn from(error: Error) -> Self {
        let Error { kind, message } = error;
        match kind {
            ErrorKind::InvalidConfig => types::Error::InvalidConfig(message),
            ErrorKind::InvalidInput => types::Error::InvalidInput(message),
            ErrorKind::InvalidState => types::Error::InvalidState(message),
            ErrorKind::Unavailable => types::Error::Unavailable(message),
            ErrorKind::Internal => types::Error::Internal(message),
        }
    }
}
