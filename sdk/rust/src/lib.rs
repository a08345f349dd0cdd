#![doc = include_str!("../README.md")]

pub mod bindings;
pub mod compute;
pub mod config;
mod error;
mod glue;
pub mod host;
mod reads;
pub mod sink;
pub mod source;
pub mod transform;

pub use error::{Error, ErrorKind, Result};
pub use reads::Reads;
pub use sink::{Sink, SinkPlan};
pub use source::{Poll, Source, SourcePlan};
pub use transform::{Bound, ColumnSource, Condition, Layout, Output, Plan, Scalar, Transform};

/// The Arrow crates the SDK is built on, so plugins use the same versions.
pub mod arrow {
    pub use arrow_array as array;
    pub use arrow_buffer as buffer;
    pub use arrow_schema as schema;
}

/// A decoder for the batches the host sends, of `schema`.
///
/// It skips the verification of the messages' flatbuffers and the validation
/// of array contents: the host encodes them from arrays it has validated,
/// and validating again inside the sandbox measured a fifth of a whole-batch
/// transform's time. Lengths and buffer ranges are still checked.
fn trusted_decoder(schema: &arrow_schema::Schema) -> Result<weir_ipc::BatchDecoder> {
    let bytes = weir_ipc::schema_to_bytes(schema).map_err(Error::internal)?;
    // SAFETY: the bytes come from the host's encoder, which writes valid
    // arrays; a host that did not could only harm this sandboxed instance.
    unsafe { weir_ipc::BatchDecoder::trusted(&bytes) }.map_err(Error::internal)
}

/// The plugin's `about` answer from its Cargo package (used by the export
/// macros). A `weir-plugin-` prefix is dropped from the name.
#[doc(hidden)]
pub fn about(package: &str, version: &str, description: &str) -> bindings::types::PluginInfo {
    bindings::types::PluginInfo {
        name: package
            .strip_prefix("weir-plugin-")
            .unwrap_or(package)
            .to_string(),
        version: version.to_string(),
        description: description.to_string(),
    }
}

/// The export macros' per-instance state: the opened plugin of an instance
/// (a component instance is single-threaded, so a thread-local is exact).
#[doc(hidden)]
#[macro_export]
macro_rules! __plugin_state {
    ($plugin:ty) => {
        ::std::thread_local! {
            static STATE: ::std::cell::RefCell<::std::option::Option<glue::State<$plugin>>> =
                const { ::std::cell::RefCell::new(::std::option::Option::None) };
        }
    };
}

/// The export of one kind's world (used by the export macros): the
/// per-instance state, an `Export` type answering `about` and forwarding
/// each listed call to the kind's glue function of that name with the
/// state, any further items, then the bindings' export. Exports exist only
/// in the Wasm component; a native build (unit tests of a plugin's logic)
/// has none.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_world {
    (
        $plugin:ty, $kind:ident, $world:ident,
        [$(fn $call:ident($($arg:ident: $arg_type:ty),*) -> $answer:ty;)*]
        $($more:item)*
    ) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::$kind::glue;
            $crate::__plugin_state!($plugin);
            struct Export;
            impl glue::Guest for Export {
                fn about() -> glue::PluginInfo {
                    $crate::__about!()
                }
                $(
                    fn $call($($arg: $arg_type),*) -> $answer {
                        STATE.with_borrow_mut(|s| glue::$call::<$plugin>(s $(, $arg)*))
                    }
                )*
            }
            $($more)*
            $crate::bindings::$kind::$world!(Export);
        };
    };
}

/// The `about` answer from the calling crate's Cargo package.
#[doc(hidden)]
#[macro_export]
macro_rules! __about {
    () => {
        $crate::about(
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
            env!("CARGO_PKG_DESCRIPTION"),
        )
    };
}
