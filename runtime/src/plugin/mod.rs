//! The Wasm side of the host: the wasmtime engine, the compiled-component
//! cache, the linker and host imports, limits, and running instances of the
//! three plugin worlds.
//!
//! Load a component once with [`PluginEngine::load_file`], then create as
//! many instances as needed: [`TransformInstance`], [`SourceInstance`],
//! [`SinkInstance`]. Each instance has its own wasmtime `Store`, memory cap
//! and call deadline; nothing a guest returns can panic the host.

#[doc(hidden)] // generated; public for the executor benchmark only
pub mod bindings;
mod cache;
mod clocks;
mod engine;
mod error;
mod grants;
mod host;
mod input;
pub mod inspect;
mod instance;
mod limits;
mod lower;
pub mod schedule;
mod sink;
mod source;
mod special_files;
mod stdio;
mod transform;
mod world;

pub use bindings::types::PluginInfo;
pub use cache::{COMPILE_LOG, CacheUsage, ComponentCache, Origin, SETTLED, sha256_hex};
pub use engine::{EngineOptions, Plugin, PluginEngine};
pub use error::{BoxError, GuestErrorKind, PluginError, with_causes};
pub use grants::{DirGrant, Grants};
pub use host::{HostState, MAX_METRIC_NAME, MAX_METRICS, NodeMetrics, PluginMetrics};
pub use instance::{PluginInstance, Spawn};
pub use limits::{EPOCH_TICK, Limits, QuotaBreach, TenantQuota};
pub use sink::SinkInstance;
pub use source::{Poll, SourceInstance};
pub use transform::{ColumnSource, OutputMode, Processed, RejectedRow, TransformInstance};
pub use world::{CONTRACT_PACKAGE, CONTRACT_VERSION, Contract};
