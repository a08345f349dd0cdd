//! Sinks: the [`Sink`] trait and the [`SinkPlan`] it answers at open.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde::de::DeserializeOwned;

use crate::Reads;
use crate::error::Result;

/// A sink: consumes record batches.
///
/// Export the type with [`export_sink!`](crate::export_sink).
pub trait Sink: Sized + 'static {
    /// The configuration, parsed from the pipeline's `config` (JSON).
    type Config: DeserializeOwned;

    /// Checks the configuration against the input schema and returns the
    /// sink and its [`SinkPlan`]: the input columns it reads.
    fn open(config: Self::Config, input: &SchemaRef) -> Result<(Self, SinkPlan)>;

    /// Writes one batch holding the columns the plan reads (all of them
    /// unless [`SinkPlan::reading_at`] was used).
    fn write(&mut self, batch: RecordBatch) -> Result<()>;

    /// Makes everything written so far durable.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// What a sink answers at open.
#[derive(Debug, Clone, Default)]
pub struct SinkPlan {
    reads: Reads,
}

impl SinkPlan {
    /// The sink reads every input column.
    pub fn all() -> Self {
        Self::default()
    }

    /// The sink reads only `columns` (input indices, any order); answers,
    /// for each in the order given, its position in the batches `write`
    /// receives ([`Reads::of`]).
    pub fn reading_at(columns: &[usize]) -> (Self, Vec<usize>) {
        let (reads, positions) = Reads::of(columns);
        (Self { reads }, positions)
    }

    /// The input columns read.
    pub fn reads(&self) -> &Reads {
        &self.reads
    }
}

/// Glue between the generated bindings and a [`Sink`]; used by
/// [`export_sink!`](crate::export_sink).
#[doc(hidden)]
pub mod glue {
    use super::*;
    use crate::glue::{Opened, WitResult, answer, decode, open_reading, opened};

    use weir_ipc::BatchDecoder;

    pub use crate::bindings::sink::exports::weir::plugin::sink::{Guest, Plan as WitPlan};
    pub use crate::bindings::types::{Error as WitError, PluginInfo};

    /// An opened sink and its decoder.
    pub struct State<T> {
        plugin: T,
        decoder: BatchDecoder,
    }

    pub fn open<T: Sink>(
        state: &mut Option<State<T>>,
        config: String,
        schema: Vec<u8>,
    ) -> WitResult<WitPlan> {
        answer(|| {
            let opened = open_reading(&config, &schema, T::open, SinkPlan::reads)?;
            let Opened {
                plugin,
                decoder,
                reads,
                ..
            } = opened;
            *state = Some(State { plugin, decoder });
            Ok(WitPlan { reads })
        })
    }

    pub fn write<T: Sink>(state: &mut Option<State<T>>, bytes: Vec<u8>) -> WitResult<()> {
        answer(|| {
            let state = opened(state)?;
            let batch = decode(&mut state.decoder, bytes)?;
            state.plugin.write(batch)
        })
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
        $crate::__export_world!($plugin, sink, __export_sink_world, [
            fn open(config: String, input_schema: Vec<u8>) -> Result<glue::WitPlan, glue::WitError>;
            fn write(batch: Vec<u8>) -> Result<(), glue::WitError>;
            fn flush() -> Result<(), glue::WitError>;
        ]);
    };
}
