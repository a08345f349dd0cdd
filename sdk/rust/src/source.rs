//! Sources: the [`Source`] trait, the [`SourcePlan`] it answers at open and
//! what it answers per poll.

use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// A source: produces record batches until it is done.
///
/// Export the type with [`export_source!`](crate::export_source).
pub trait Source: Sized + 'static {
    /// The configuration, parsed from the pipeline's `config` (JSON).
    type Config: DeserializeOwned;

    /// Checks the configuration and returns the source and its
    /// [`SourcePlan`]: the schema of its batches.
    fn open(config: Self::Config) -> Result<(Self, SourcePlan)>;

    /// Produces the next batch of at most `max_rows` rows, asks to be polled
    /// later, or says the input is exhausted.
    fn next(&mut self, max_rows: usize) -> Result<Poll>;

    /// The source's position, so a restarted pipeline can resume; `None`
    /// (the default) when it cannot.
    fn snapshot(&self) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }

    /// Resumes from a position returned by [`Source::snapshot`].
    fn restore(&mut self, state: &[u8]) -> Result<()> {
        let _ = state;
        Err(Error::invalid_state(
            "this source cannot resume from a position",
        ))
    }
}

/// What a source answers at open.
#[derive(Debug, Clone)]
pub struct SourcePlan {
    output_schema: SchemaRef,
}

impl SourcePlan {
    /// The source produces batches of `output_schema`.
    pub fn new(output_schema: SchemaRef) -> Self {
        Self { output_schema }
    }

    /// The schema of every batch.
    pub fn output_schema(&self) -> &SchemaRef {
        &self.output_schema
    }
}

/// What a source answers when polled.
#[derive(Debug, Clone)]
pub enum Poll {
    /// A batch in the output schema.
    Batch(RecordBatch),
    /// Nothing now; poll again after this long (rate limits, idle inputs).
    Wait(Duration),
    /// The input is exhausted.
    Done,
}

/// Glue between the generated bindings and a [`Source`]; used by
/// [`export_source!`](crate::export_source).
#[doc(hidden)]
pub mod glue {
    use super::*;
    use crate::bindings::source::exports::weir::plugin::source as wit;
    use crate::glue::{WitResult, answer, opened};

    use weir_ipc::{BatchEncoder, schema_to_bytes};

    pub use crate::bindings::source::exports::weir::plugin::source::{
        Guest, Plan as WitPlan, Poll as WitPoll,
    };
    pub use crate::bindings::types::{Error as WitError, PluginInfo};

    /// An opened source and its encoder.
    pub struct State<T> {
        plugin: T,
        schema: SchemaRef,
        encoder: BatchEncoder,
    }

    pub fn open<T: Source>(state: &mut Option<State<T>>, config: String) -> WitResult<WitPlan> {
        answer(|| {
            let config = crate::config::parse::<T::Config>(&config)?;
            let (plugin, plan) = T::open(config).map_err(crate::error::at_open)?;
            let schema = plan.output_schema().clone();
            let encoder = BatchEncoder::new(&schema).map_err(Error::internal)?;
            let plan = WitPlan {
                output_schema: schema_to_bytes(&schema).map_err(Error::internal)?,
            };
            *state = Some(State {
                plugin,
                schema,
                encoder,
            });
            Ok(plan)
        })
    }

    pub fn next<T: Source>(state: &mut Option<State<T>>, max_rows: u32) -> WitResult<WitPoll> {
        answer(|| {
            let state = opened(state)?;
            Ok(match state.plugin.next(max_rows as usize)? {
                Poll::Batch(batch) => {
                    let batch =
                        RecordBatch::try_new(state.schema.clone(), batch.columns().to_vec())
                            .map_err(|e| {
                                Error::internal(format!(
                                    "batch does not match the source's schema: {e}"
                                ))
                            })?;
                    wit::Poll::Batch(
                        state
                            .encoder
                            .encode(&batch)
                            .map_err(Error::internal)?
                            .to_vec(),
                    )
                }
                Poll::Wait(duration) => {
                    wit::Poll::Wait(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX))
                }
                Poll::Done => wit::Poll::Done,
            })
        })
    }

    pub fn snapshot<T: Source>(state: &mut Option<State<T>>) -> WitResult<Option<Vec<u8>>> {
        opened(state)
            .and_then(|s| s.plugin.snapshot())
            .map_err(Into::into)
    }

    pub fn restore<T: Source>(state: &mut Option<State<T>>, bytes: Vec<u8>) -> WitResult<()> {
        opened(state)
            .and_then(|s| s.plugin.restore(&bytes))
            .map_err(Into::into)
    }
}

/// Exports a [`Source`] implementation as the plugin's `source` world. Use
/// it once, at the crate root of a `cdylib` crate.
#[macro_export]
macro_rules! export_source {
    ($plugin:ty) => {
        $crate::__export_world!($plugin, source, __export_source_world, [
            fn open(config: String) -> Result<glue::WitPlan, glue::WitError>;
            fn next(max_rows: u32) -> Result<glue::WitPoll, glue::WitError>;
            fn snapshot() -> Result<Option<Vec<u8>>, glue::WitError>;
            fn restore(state: Vec<u8>) -> Result<(), glue::WitError>;
        ]);
    };
}
