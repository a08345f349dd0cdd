//! Guest bindings of the three plugin worlds, generated from `wit/`.
//!
//! Plugin authors never use these directly: the traits and export macros of
//! this crate wrap them. They are public only so the macros can reach them.
#![allow(missing_docs, clippy::all)]

/// The `transform-plugin` world and the shared `types` and `host` interfaces.
pub mod transform {
    wit_bindgen::generate!({
        // The transform world and the optional `event-time` and
        // `input-bounds` interfaces: a transform that keeps its own clock
        // answers `none` to `time-column`, one that states no bounds an
        // empty list, as one built without them would.
        world: "weir:plugin/full-transform-plugin",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "__export_transform_world",
        default_bindings_module: "weir_sdk::bindings::transform",
    });
}

/// The `source-plugin` world.
pub mod source {
    wit_bindgen::generate!({
        world: "weir:plugin/source-plugin",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "__export_source_world",
        default_bindings_module: "weir_sdk::bindings::source",
        with: {
            "weir:plugin/types@0.1.0": crate::bindings::transform::weir::plugin::types,
            "weir:plugin/host@0.1.0": crate::bindings::transform::weir::plugin::host,
        },
    });
}

/// The `sink-plugin` world.
pub mod sink {
    wit_bindgen::generate!({
        world: "weir:plugin/sink-plugin",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "__export_sink_world",
        default_bindings_module: "weir_sdk::bindings::sink",
        with: {
            "weir:plugin/types@0.1.0": crate::bindings::transform::weir::plugin::types,
            "weir:plugin/host@0.1.0": crate::bindings::transform::weir::plugin::host,
        },
    });
}

pub use transform::weir::plugin::{host, types};
