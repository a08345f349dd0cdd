//! The library's error: which node failed, at which stage of its life, and
//! whose fault it is, with the cause kept as `source` (never also pasted
//! into the message), as DataFusion's errors do.
//!
//! An embedder asks [`Error::node`], [`Error::stage`] and [`Error::fault`]
//! ("did node X trap?": stage [`Stage::Call`], fault [`Fault::Plugin`]), and
//! downcasts [`Error::cause`] for the typed error underneath (a
//! [`PluginError`], a [`ConnectorError`], an `io::Error`).

use std::fmt;

use crate::connectors::ConnectorError;
use crate::plugin::{BoxError, GuestErrorKind, PluginError};

/// When in a node's life an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading the pipeline file.
    Spec,
    /// Building and typing the graph: loading plugins, configuring connectors.
    Graph,
    /// Instantiating and opening a plugin or a connector.
    Open,
    /// Calling a plugin on a batch (`process`, `read`, `write`, `finish`, ...).
    Call,
    /// A native connector reading or writing, or the host writing a node's
    /// dead letters, audit log or state.
    Io,
    /// Recording how far a source was read (positions, Kafka offsets).
    Commit,
}

/// Whose fault an error is: what the user must look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The pipeline file or a node's config.
    Configuration,
    /// The data: a record, a row, a batch.
    InputData,
    /// The plugin: it trapped, broke its contract or a limit, or says it has
    /// a bug.
    Plugin,
    /// Something outside Weir: a file system, a broker.
    External,
    /// A bug in Weir.
    Internal,
    /// The data broke a data-quality rule of severity `fail` (the
    /// pipeline's own `expect` gate).
    Quality,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Spec => "spec",
            Self::Graph => "graph",
            Self::Open => "open",
            Self::Call => "call",
            Self::Io => "connector I/O",
            Self::Commit => "commit",
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Configuration => "configuration",
            Self::InputData => "input data",
            Self::Plugin => "plugin",
            Self::External => "external system",
            Self::Internal => "internal",
            Self::Quality => "data quality",
        })
    }
}

/// Something that failed at a node (or in a pipeline, before nodes exist).
///
/// Its text is its own message only; the cause is [`std::error::Error::source`].
/// An error made from a typed cause without a message of its own
/// ([`Error::plugin`], [`Error::connector`]) reads as that cause.
#[derive(Debug)]
pub struct Error {
    node: Option<String>,
    stage: Stage,
    fault: Fault,
    message: Option<String>,
    cause: Option<BoxError>,
}

/// A result of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with `message` and no cause.
    pub fn new(stage: Stage, fault: Fault, message: impl Into<String>) -> Self {
        Self {
            node: None,
            stage,
            fault,
            message: Some(message.into()),
            cause: None,
        }
    }

    /// An error with `message` (what was being done), caused by `cause`.
    pub fn caused(
        stage: Stage,
        fault: Fault,
        message: impl Into<String>,
        cause: impl Into<BoxError>,
    ) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(stage, fault, message)
        }
    }

    /// `error` of a plugin at `stage`; the fault is the plugin error's.
    pub fn plugin(stage: Stage, error: PluginError) -> Self {
        Self {
            node: None,
            stage,
            fault: plugin_fault(&error),
            message: None,
            cause: Some(error.into()),
        }
    }

    /// `error` of a connector at `stage` (a plugin source's at
    /// [`Stage::Call`]); the fault is the connector error's.
    pub fn connector(stage: Stage, error: ConnectorError) -> Self {
        let (stage, fault) = match &error {
            ConnectorError::Plugin(plugin) => match stage {
                Stage::Io => (Stage::Call, plugin_fault(plugin)),
                _ => (stage, plugin_fault(plugin)),
            },
            ConnectorError::Config { .. } => (stage, Fault::Configuration),
            ConnectorError::Arrow { .. } => (stage, Fault::InputData),
            #[cfg(feature = "parquet")]
            ConnectorError::Parquet { .. } => (stage, Fault::InputData),
            ConnectorError::Io { .. } | ConnectorError::Kafka(_) => (stage, Fault::External),
            #[cfg(feature = "delta")]
            ConnectorError::Delta { .. } => (stage, Fault::External),
            #[cfg(feature = "postgres")]
            ConnectorError::Postgres { .. } => (stage, Fault::External),
            ConnectorError::Upstream(_) => (stage, Fault::External),
        };
        Self {
            node: None,
            stage,
            fault,
            message: None,
            cause: Some(error.into()),
        }
    }

    /// This error, said to be of `node`.
    pub fn at(mut self, node: &str) -> Self {
        self.node = Some(node.to_string());
        self
    }

    /// This error as the cause of `message` (same node, stage and fault).
    pub fn context(self, message: impl Into<String>) -> Self {
        Self {
            node: self.node.clone(),
            stage: self.stage,
            fault: self.fault,
            message: Some(message.into()),
            cause: Some(Box::new(Self { node: None, ..self })),
        }
    }

    /// The node that failed, when the error is of one.
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// When it happened.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// Whose fault it is.
    pub fn fault(&self) -> Fault {
        self.fault
    }

    /// The typed error underneath (to downcast), if any.
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self.cause.as_deref() {
            Some(inner) => match inner.downcast_ref::<Self>() {
                Some(inner) => inner.cause(),
                None => Some(inner),
            },
            None => None,
        }
    }

    /// The [`PluginError`] underneath, if a plugin failed.
    pub fn plugin_error(&self) -> Option<&PluginError> {
        self.cause()?.downcast_ref()
    }

    /// The text with every cause, each once (for dead letters and logs).
    pub fn with_causes(&self) -> String {
        crate::plugin::with_causes(self)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(node) = &self.node {
            write!(f, "node {node:?}: ")?;
        }
        match (&self.message, &self.cause) {
            (Some(message), _) => f.write_str(message),
            (None, Some(cause)) => write!(f, "{cause}"),
            (None, None) => f.write_str("failed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let cause = self.cause.as_deref()?;
        match self.message {
            Some(_) => Some(cause),
            // The text is the cause's: what follows it is the cause's cause.
            None => cause.source(),
        }
    }
}

impl From<crate::spec::SpecError> for Error {
    /// A pipeline file that cannot be used: the user's to fix, before any
    /// node exists.
    fn from(error: crate::spec::SpecError) -> Self {
        Self {
            node: None,
            stage: Stage::Spec,
            fault: Fault::Configuration,
            message: None,
            cause: Some(error.into()),
        }
    }
}

/// Whose fault a plugin error is.
fn plugin_fault(error: &PluginError) -> Fault {
    use PluginError as E;
    match error {
        E::Guest { kind, .. } => match kind {
            GuestErrorKind::InvalidConfig => Fault::Configuration,
            GuestErrorKind::InvalidInput | GuestErrorKind::InvalidState => Fault::InputData,
            GuestErrorKind::Unavailable => Fault::External,
            GuestErrorKind::Internal => Fault::Plugin,
        },
        E::Read { .. }
        | E::NotWasm { .. }
        | E::CoreModule { .. }
        | E::Compile { .. }
        | E::WrongWorld { .. }
        | E::IncompatibleVersion { .. }
        | E::Instantiate { .. }
        | E::DigestMismatch { .. } => Fault::Configuration,
        E::MemoryLimit { .. }
        | E::OutputLimit { .. }
        | E::CopyLimit { .. }
        | E::Deadline { .. }
        | E::InstanceLimit { .. }
        | E::Quota { .. }
        | E::Trap { .. }
        | E::MalformedIpc { .. }
        | E::Protocol { .. } => Fault::Plugin,
        E::Encode { .. } => Fault::Internal,
        E::Cache { .. } | E::Engine { .. } => Fault::External,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each level of `error`'s chain, as its own text.
    fn levels(error: &dyn std::error::Error) -> Vec<String> {
        std::iter::successors(Some(error), |e| e.source())
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn a_cause_is_kept_as_source_and_never_pasted_into_the_message() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let error = Error::caused(Stage::Io, Fault::External, "cannot write x", io).at("sink");
        assert_eq!(levels(&error), ["node \"sink\": cannot write x", "denied"]);
        let wrapped = error.context("cannot flush");
        assert_eq!(
            levels(&wrapped),
            ["node \"sink\": cannot flush", "cannot write x", "denied"]
        );
        assert_eq!(wrapped.node(), Some("sink"));
        assert!(
            wrapped
                .cause()
                .unwrap()
                .downcast_ref::<std::io::Error>()
                .is_some()
        );
    }

    #[test]
    fn a_plugin_error_reads_as_itself_and_says_whose_fault() {
        let guest = PluginError::Guest {
            plugin: "p".into(),
            call: "open",
            kind: GuestErrorKind::InvalidConfig,
            message: "no field x".into(),
        };
        let error = Error::plugin(Stage::Open, guest);
        assert_eq!(
            levels(&error),
            ["p: open failed: invalid config: no field x"]
        );
        assert_eq!(error.fault(), Fault::Configuration);
        assert!(error.plugin_error().is_some());
    }
}
