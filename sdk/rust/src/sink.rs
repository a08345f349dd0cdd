//! Sinks: the [`Sink`] trait.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// A sink: consumes record batches.
///
/// Export the type with [`export_sink!`](crate::export_sink).
pub trait Sink: Sized + 'static {
    /// The configuration, parsed from the pipeline's `config` (JSON).
    type Config: DeserializeOwned;

    /// Checks the configuration against the input schema. Returns the sink
    /// and the input columns it reads (`None` for all).
    fn open(config: Self::Config, input: &SchemaRef) -> Result<(Self, Option<Vec<usize>>)>;

    /// Writes one batch holding the columns the sink reads.
    fn write(&mut self, batch: RecordBatch) -> Result<()>;

    /// Makes everything written so far durable.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Glue between the generated bindings and a [`Sink`]; used by
/// [`export_sink!`](crate::export_sink).
#[doc(hidden)]
pub mod glue {
    use super::*;
    use crate::bindings::types;
    use crate::trusted_decoder;
    use std::sync::Arc;
    use weir_ipc::{BatchDecoder, schema_from_bytes};

    pub use crate::bindings::sink::exports::weir::plugin::sink::{Guest, Plan as WitPlan};
    pub use crate::bindings::types::{Error as WitError, PluginInfo};

    /// An opened sink and its decoder.
    pub struct State<T> {
        plugin: T,
        decoder: BatchDecoder,
    }

    type WitResult<T> = std::result::Result<T, types::Error>;

    fn opened<T>(state: &mut Option<State<T>>) -> Result<&mut State<T>> {
        state
            .as_mut()
            .ok_or_else(|| Error::internal("called before a successful open"))
    }

    pub fn open<T: Sink>(
        state: &mut Option<State<T>>,
        config: String,
        schema: Vec<u8>,
    ) -> WitResult<WitPlan> {
        let result: Result<_> = (|| {
            let config = crate::config::parse::<T::Config>(&config)?;
            let input = schema_from_bytes(&schema)
                .map_err(|e| Error::internal(format!("input schema: {e}")))?;
            let (plugin, reads) = T::open(config, &input)?;
            let reads = reads.map(|mut r| {
                r.sort_unstable();
                r.dedup();
                r
            });
            let read_schema = match &reads {
                Some(reads) => Arc::new(input.project(reads)?),
                None => input,
            };
            let decoder = trusted_decoder(&read_schema)?;
            *state = Some(State { plugin, decoder });
            Ok(WitPlan {
                reads: reads.map(|r| r.into_iter().map(|i| i as u32).collect()),
            })
        })();
        result.map_err(Into::into)
    }

    pub fn write<T: Sink>(state: &mut Option<State<T>>, bytes: Vec<u8>) -> WitResult<()> {
        let result: Result<_> = (|| {
            let state = opened(state)?;
            let batch = state
                .decoder
                .decode(bytes)
                .map_err(|e| Error::internal(format!("cannot decode the input batch: {e}")))?;
            state.plugin.write(batch)
        })();
        result.map_err(Into::into)
    }

    pub fn flush<T: Sink>(state: &mut Option<State<T>>) -> WitResult<()> {
        opened(state)
            .and_then(|s| s.plugin.flush())
            .map_err(Into::into)
    }
}

/// Exports a [`Sink`] implementation as the plugin's `sink` world. Use it
/// once, at the crate root of a `cdylib` crate.
#[macro_export]
macro_rules! export_sink {
    ($plugin:ty) => {
        // Exports exist only in the Wasm component; a native build (unit
        // tests of the plugin's logic) has none.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::sink::glue;
            $crate::__plugin_state!($plugin);
            struct Export;
            impl glue::Guest for Export {
                fn about() -> glue::PluginInfo {
                    $crate::__about!()
                }
                fn open(
                    config: String,
                    input_schema: Vec<u8>,
                ) -> Result<glue::WitPlan, glue::WitError> {
                    STATE.with_borrow_mut(|s| glue::open::<$plugin>(s, config, input_schema))
                }
                fn write(batch: Vec<u8>) -> Result<(), glue::WitError> {
                    STATE.with_borrow_mut(|s| glue::write::<$plugin>(s, batch))
                }
                fn flush() -> Result<(), glue::WitError> {
                    STATE.with_borrow_mut(|s| glue::flush::<$plugin>(s))
                }
            }
            $crate::bindings::sink::__export_sink_world!(Export);
        };
    };
}
