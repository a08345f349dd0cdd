//! Weir: a dataflow runtime whose stages are sandboxed WebAssembly components.
//!
//! Sources, transforms and sinks are Wasm components implementing the WIT
//! contract in `wit/` (package `weir:plugin`); record batches cross the
//! boundary as Arrow IPC. [`plugin`] owns everything Wasm: the engine, the
//! compiled-component cache, limits and running instances. [`spec`] reads
//! pipeline files, [`graph`] turns one into a checked, typed graph,
//! [`exec`] runs it, and [`connectors`] are the native sources and sinks.
//! `watch` reloads plugins whose files change while a pipeline runs, and
//! `admin` serves the HTTP admin API and Prometheus metrics (the `watch` and
//! `admin` features). [`Runtime`] runs several pipelines as `weir run` does.
//!
//! What an embedder needs is re-exported here: read a [`Pipeline`], build
//! its [`Graph`] with a [`Registry`] holding your own connectors, and run it
//! ([`exec::run`], or [`Runtime::run`] for several); failures are
//! [`Error`]s saying which node, at which [`Stage`] and whose [`Fault`].

#[cfg(feature = "admin")]
pub mod admin;
pub mod authoring;
pub mod catalog;
pub mod connectors;
mod error;
pub mod exec;
pub mod graph;
mod kind;
pub mod lineage;
pub mod plugin;
pub mod runtime;
pub mod spec;
#[cfg(feature = "watch")]
pub mod watch;

pub use error::{Error, Fault, Result, Stage};
pub use kind::Kind;
pub use runtime::Runtime;

pub use connectors::Registry;
pub use exec::{RunError, RunOptions, Summary};
pub use graph::{Graph, GraphError};
pub use plugin::{EngineOptions, PluginEngine};
pub use spec::Pipeline;
