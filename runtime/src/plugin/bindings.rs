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

/// The optional `input-bounds` interface of a transform
/// (`full-transform-plugin`); only its export is used.
pub mod input_bounds {
    wasmtime::component::bindgen!({
        world: "weir:plugin/full-transform-plugin",
        path: "../wit",
        with: {
            "weir:plugin/types": crate::plugin::bindings::transform::weir::plugin::types,
            "weir:plugin/host": crate::plugin::bindings::transform::weir::plugin::host,
            "weir:plugin/transform": crate::plugin::bindings::transform::exports::weir::plugin::transform,
            "weir:plugin/event-time": crate::plugin::bindings::event_time::exports::weir::plugin::event_time,
        },
    });
}

pub use transform::weir::plugin::{host, types};
