//! Paths of every plugin under `plugins/`, built for `wasm32-wasip2` by this
//! crate's build script. Tests and benchmarks use them:
//!
//! ```no_run
//! let path = weir_plugin_artifacts::FILTER;
//! ```
#![allow(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
