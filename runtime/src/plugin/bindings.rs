//! Host bindings of the plugin worlds, generated from `wit/`.
//!
//! This is the one place that calls `bindgen!`. The `source` and `sink`
//! worlds reuse the `types` and `host` bindings of the `transform` world so
//! the host implements `host` once.
#![allow(missing_docs)]

/// The `transform-plugin` world, and the shared `types` and `host` interfaces.
pub mod transform {
    wasmtime::component::bindgen!({
        world: "weir:plugin/transform-plugin",
        path: "../wit",
    });
}

/// The `source-plugin` world.
pub mod source {
    wasmtime::component::bindgen!({
        world: "weir:plugin/source-plugin",
        path: "../wit",
        with: {
            "weir:plugin/types": crate::plugin::bindings::transform::weir::plugin::types,
            "weir:plugin/host": crate::plugin::bindings::transform::weir::plugin::host,
        },
    });
}

/// The `sink-plugin` world.
pub mod sink {
    wasmtime::component::bindgen!({
        world: "weir:plugin/sink-plugin",
        path: "../wit",
        with: {
            "weir:plugin/types": crate::plugin::bindings::transform::weir::plugin::types,
            "weir:plugin/host": crate::plugin::bindings::transform::weir::plugin::host,
        },
    });
}

/// The optional `event-time` interface of a transform
/// (`event-time-transform-plugin`); only its export is used, next to the
/// `transform-plugin` world's.
pub mod event_time {
    wasmtime::component::bindgen!({
        world: "weir:plugin/event-time-transform-plugin",
        path: "../wit",
        with: {
            "weir:plugin/types": crate::plugin::bindings::transform::weir::plugin::types,
            "weir:plugin/host": crate::plugin::bindings::transform::weir::plugin::host,
        },
    });
}

pub use transform::weir::plugin::{host, types};
