//! Errors of loading, instantiating and calling plugins.
//!
//! Grouped by who is at fault, as DataFusion does: the file given
//! ([`PluginError::NotWasm`], [`PluginError::CoreModule`], ...), the plugin's
//! own answer ([`PluginError::Guest`]), the plugin breaking the contract
//! ([`PluginError::Protocol`], [`PluginError::MalformedIpc`]), or the plugin
//! crashing ([`PluginError::Trap`]). Every variant names the plugin.

use std::fmt;
use std::path::PathBuf;

use super::limits::QuotaBreach;

/// A boxed error kept as the `source` of a [`PluginError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The kind of error a plugin reported through the contract's `error` variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestErrorKind {
    /// The configuration given at open is wrong.
    InvalidConfig,
    /// The plugin cannot process its input (schema at open, or a batch).
    InvalidInput,
    /// State given to `restore` cannot be used.
    InvalidState,
    /// An external system the plugin uses failed; retrying may help.
    Unavailable,
    /// A bug in the plugin.
    Internal,
}

impl fmt::Display for GuestErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidConfig => "invalid config",
            Self::InvalidInput => "invalid input",
            Self::InvalidState => "invalid state",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal error",
        })
    }
}

/// Everything that can go wrong with a plugin, each naming the plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The plugin file could not be read.
    #[error("cannot read plugin file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The bytes are not WebAssembly at all.
    #[error(
        "{plugin}: not a WebAssembly file (no `\\0asm` header); expected a Wasm component built for wasm32-wasip2"
    )]
    NotWasm {
        /// The plugin (file or node).
        plugin: String,
    },

    /// A core Wasm module was given where a component is needed.
    #[error(
        "{plugin}: this is a core WebAssembly module, not a component; build the plugin for the wasm32-wasip2 target (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule {
        /// The plugin (file or node).
        plugin: String,
    },

    /// wasmtime could not compile or deserialize the component.
    #[error("{plugin}: cannot compile the component")]
    Compile {
        /// The plugin (file or node).
        plugin: String,
        /// wasmtime's error.
        #[source]
        source: BoxError,
    },

    /// The component does not export exactly one Weir plugin world.
    #[error("{plugin}: not a Weir plugin: expected a component exporting {expected}, found exports [{}]", found.join(", "))]
    WrongWorld {
        /// The plugin (file or node).
        plugin: String,
        /// What was expected.
        expected: String,
        /// The component's exports.
        found: Vec<String>,
    },

    /// The component was built against an incompatible `weir:plugin` version.
    #[error(
        "{plugin}: built against weir:plugin@{found}, but this host implements weir:plugin@{expected}; rebuild the plugin with a compatible SDK"
    )]
    IncompatibleVersion {
        /// The plugin (file or node).
        plugin: String,
        /// The version the component was built against.
        found: String,
        /// The version this host implements.
        expected: String,
    },

    /// Linking or instantiating the component failed (for example it imports
    /// something the host does not provide).
    #[error("{plugin}: cannot instantiate the component")]
    Instantiate {
        /// The plugin (file or node).
        plugin: String,
        /// wasmtime's error.
        #[source]
        source: BoxError,
    },

    /// The plugin answered one of the contract's typed errors.
    #[error("{plugin}: {call} failed: {kind}: {message}")]
    Guest {
        /// The plugin (file or node).
        plugin: String,
        /// The contract function that failed (`open`, `process`, ...).
        call: &'static str,
        /// Whose fault it is.
        kind: GuestErrorKind,
        /// The plugin's message.
        message: String,
    },

    /// The component's SHA-256 is not the one the pipeline pins.
    #[error(
        "{plugin}: SHA-256 is {actual}, but the pipeline pins sha256:{expected}; refusing to load it"
    )]
    DigestMismatch {
        /// The component file.
        plugin: String,
        /// The pinned digest (hex).
        expected: String,
        /// The file's digest (hex).
        actual: String,
    },

    /// The plugin tried to grow its memory past its limit (and trapped).
    #[error(
        "{plugin}: memory limit exceeded in {call}: requested {requested} bytes, limit {limit} bytes"
    )]
    MemoryLimit {
        /// The node.
        plugin: String,
        /// The contract function.
        call: &'static str,
        /// Bytes the memory would have grown to.
        requested: usize,
        /// The limit in bytes (`limits.memory_mib`).
        limit: usize,
    },

    /// A call returned more rows or bytes than its node allows.
    #[error("{plugin}: {call} returned {produced} {unit}, more than the limit of {limit} {unit}")]
    OutputLimit {
        /// The node.
        plugin: String,
        /// The contract function.
        call: &'static str,
        /// `rows` or `bytes`.
        unit: &'static str,
        /// What the call returned.
        produced: usize,
        /// The limit (`limits.max_output_rows` or `max_output_mib`).
        limit: usize,
    },

    /// A call tried to copy more bytes out of the plugin than its node allows
    /// (wasmtime's hostcall fuel, set from the limits), and trapped.
    #[error(
        "{plugin}: {call} tried to copy more than {limit} bytes out of the plugin in one call (twice limits.max_output_mib; for snapshot, limits.memory_mib)"
    )]
    CopyLimit {
        /// The node.
        plugin: String,
        /// The contract function.
        call: &'static str,
        /// The most bytes the call may copy.
        limit: usize,
    },

    /// A call ran past its deadline and was interrupted.
    #[error("{plugin}: {call} ran past its deadline of {} ms", limit.as_millis())]
    Deadline {
        /// The node.
        plugin: String,
        /// The contract function.
        call: &'static str,
        /// The deadline (`limits.call_timeout_ms`).
        limit: std::time::Duration,
    },

    /// The component creates more core instances, memories or tables than
    /// its node allows.
    #[error(
        "{plugin}: the component needs at least {requested} {resource}, more than the limit of {limit} (limits.max_{setting})"
    )]
    InstanceLimit {
        /// The node.
        plugin: String,
        /// `instances`, `memories` or `tables`.
        resource: &'static str,
        /// The count at which the component was refused.
        requested: usize,
        /// The limit.
        limit: usize,
        /// The pipeline setting that holds the limit.
        setting: &'static str,
    },

    /// The plugin's tenant has no quota left for what the plugin asked:
    /// memory (all the tenant's instances together) or another instance.
    #[error("{plugin}: {}", quota_message(breach))]
    Quota {
        /// The node.
        plugin: String,
        /// What the tenant would have used, and its quota.
        breach: QuotaBreach,
    },

    /// The plugin trapped (panicked, ran past its deadline, hit a limit), or
    /// was called after it had trapped.
    #[error("{plugin}: {call} trapped")]
    Trap {
        /// The plugin (file or node).
        plugin: String,
        /// The contract function that trapped.
        call: &'static str,
        /// wasmtime's trap, with the guest backtrace.
        #[source]
        source: BoxError,
    },

    /// The plugin returned bytes that are not valid Arrow IPC.
    #[error(
        "{plugin}: {call} returned bytes that are not a valid Arrow IPC batch in the schema it announced at open"
    )]
    MalformedIpc {
        /// The plugin (file or node).
        plugin: String,
        /// The contract function.
        call: &'static str,
        /// The IPC decoder's error.
        #[source]
        source: arrow::error::ArrowError,
    },

    /// The plugin broke the contract in some other way: a batch in a schema
    /// other than the one it announced, a selection of the wrong length, an
    /// invalid column layout.
    #[error("{plugin}: {call} broke the plugin contract: {message}")]
    Protocol {
        /// The plugin (file or node).
        plugin: String,
        /// The contract function.
        call: &'static str,
        /// What was wrong.
        message: String,
    },

    /// The host could not encode a batch for the plugin.
    #[error("{plugin}: cannot encode the input batch for {call}")]
    Encode {
        /// The plugin (file or node).
        plugin: String,
        /// The contract function.
        call: &'static str,
        /// The IPC encoder's error.
        #[source]
        source: arrow::error::ArrowError,
    },

    /// The compiled-component cache could not be written.
    #[error("cannot write the compiled-component cache at {path}")]
    Cache {
        /// The cache file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The wasmtime engine could not be configured.
    #[error("cannot configure the Wasm engine")]
    Engine {
        /// wasmtime's error.
        #[source]
        source: BoxError,
    },
}

fn quota_message(breach: &QuotaBreach) -> String {
    let QuotaBreach {
        tenant,
        resource,
        requested,
        limit,
    } = breach;
    match *resource {
        "memory" => format!(
            "tenant {tenant:?} memory quota exceeded: its instances would use {requested} bytes, quota {limit} bytes"
        ),
        _ => format!(
            "tenant {tenant:?} {resource} quota exceeded: {requested} {resource} requested, quota {limit}"
        ),
    }
}

impl PluginError {
    /// Whether the plugin broke one of its limits or its tenant's quota.
    pub fn is_limit_breach(&self) -> bool {
        matches!(
            self,
            Self::MemoryLimit { .. }
                | Self::InstanceLimit { .. }
                | Self::Deadline { .. }
                | Self::OutputLimit { .. }
                | Self::CopyLimit { .. }
                | Self::Quota { .. }
        )
    }

    /// Whether the plugin returned what the contract forbids (malformed
    /// IPC, another schema, too much output): its state cannot be trusted.
    pub fn breaks_contract(&self) -> bool {
        matches!(
            self,
            Self::MalformedIpc { .. }
                | Self::Protocol { .. }
                | Self::OutputLimit { .. }
                | Self::CopyLimit { .. }
        )
    }

    /// The kind of guest error, when the plugin itself reported one.
    pub fn guest_kind(&self) -> Option<GuestErrorKind> {
        match self {
            Self::Guest { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

/// An error with its causes, as users read it in messages, dead letters and
/// logs: the first line of each cause, leaving out headers of multi-line
/// details (wasmtime's "error while executing at wasm backtrace:"). Errors
/// keep their cause as `source` and never paste it, so each appears once.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let line = error.to_string();
        let first = line.lines().next().unwrap_or_default().trim();
        if !first.is_empty() && !first.ends_with(':') {
            text.push_str(": ");
            text.push_str(first);
        }
        cause = error.source();
    }
    text
}

/// Converts wasmtime's error (its own type when built without `anyhow`) into a
/// boxed standard error that keeps its chain.
pub(crate) fn boxed(error: wasmtime::Error) -> BoxError {
    error.into_boxed_dyn_error()
}
