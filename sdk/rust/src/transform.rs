//! Transforms: the [`Transform`] trait, the [`Plan`] a transform answers at
//! open, and the [`Output`] it answers per batch.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions};
use arrow_buffer::BooleanBuffer;
use arrow_schema::{FieldRef, Schema, SchemaRef};
use serde::de::DeserializeOwned;

use crate::Reads;
use crate::error::{Error, Result};

/// A transform: turns record batches into record batches.
///
/// The host calls [`Transform::open`] once with the parsed configuration and
/// the input schema, then [`Transform::process`] for every batch, then
/// [`Transform::finish`] at the end of bounded input. Export the type with
/// [`export_transform!`](crate::export_transform).
pub trait Transform: Sized + 'static {
    /// The configuration, parsed from the pipeline's `config` (JSON). Use
    /// `#[serde(deny_unknown_fields)]` so typos are reported.
    type Config: DeserializeOwned;

    /// Checks the configuration against the input schema and returns the
    /// transform and its [`Plan`]: output schema, columns read, output mode.
    fn open(config: Self::Config, input: &SchemaRef) -> Result<(Self, Plan)>;

    /// Processes one batch. It holds the columns the plan reads (all of them
    /// unless [`Plan::reading`] was used), under their input names.
    fn process(&mut self, batch: RecordBatch) -> Result<Output>;

    /// Emits what the transform still holds at the end of bounded input.
    fn finish(&mut self) -> Result<Vec<RecordBatch>> {
        Ok(Vec::new())
    }

    /// The transform's state, for checkpoints and hot reload; `None` (the
    /// default) for a stateless transform.
    fn snapshot(&self) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }

    /// Restores state returned by [`Transform::snapshot`], right after open.
    fn restore(&mut self, state: &[u8]) -> Result<()> {
        let _ = state;
        Err(Error::invalid_state(
            "this transform is stateless and cannot restore state",
        ))
    }

    /// For a transform whose output depends on event time (windows): the
    /// input column (an index into the input schema, of a timestamp column)
    /// that holds it. The host asks once, right after open. Answering
    /// `Some` means the host tracks event time per Kafka partition and per
    /// file and moves the transform's clock with [`Transform::advance`]; the
    /// transform must close nothing on a clock of its own from then on.
    /// Default: `None`, the transform keeps its own clock.
    fn event_time(&mut self) -> Option<usize> {
        None
    }

    /// What every row the transform passes on holds (a filter's
    /// predicate, loosened to what can be said column by column), by input
    /// column; asked once, right after open. A source that reads by blocks
    /// with statistics (Parquet row groups) then leaves unread the blocks
    /// no row of which can meet them. A bound may be loose, never wrong:
    /// the transform still decides about every row it is sent. Default:
    /// nothing stated.
    fn input_bounds(&self) -> Vec<Bound> {
        Vec::new()
    }

    /// Every input has reached `watermark` (milliseconds since 1970, UTC):
    /// emit what that completes (windows that close), as whole batches in
    /// the output schema. Called only after [`Transform::event_time`]
    /// answered `Some`, with a watermark that only grows.
    fn advance(&mut self, watermark: i64) -> Result<Vec<RecordBatch>> {
        let _ = watermark;
        Ok(Vec::new())
    }
}

/// A value in a [`Condition`]: `Int` for integer, date (days) and
/// timestamp (the column's unit) columns, `Float` for floating point (and
/// integer) columns, `Text` for strings, `Boolean` for booleans.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// An integer.
    Int(i64),
    /// A floating point number.
    Float(f64),
    /// A string.
    Text(String),
    /// A boolean.
    Boolean(bool),
}

/// What every row a transform passes on holds in one column; null values
/// meet none but [`Condition::NotNull`]'s opposite.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// At least the first, at most the second (inclusive; `None`: open).
    Between(Option<Scalar>, Option<Scalar>),
    /// One of these values.
    OneOf(Vec<Scalar>),
    /// Not null.
    NotNull,
}

/// A [`Condition`] on input column `column` (an index into the input schema).
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    /// The input column.
    pub column: usize,
    /// What every row passed on holds there.
    pub condition: Condition,
}

/// Where one output column comes from in derived output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnSource {
    /// Input column `n`, passed through by the host without crossing the
    /// boundary.
    Input(usize),
    /// Appended column `n`, returned by the transform.
    Appended(usize),
}

/// The columns of derived output: input columns the host passes through
/// (possibly renamed) and columns the transform appends, in output order.
#[derive(Debug, Clone)]
pub struct Layout {
    input: SchemaRef,
    fields: Vec<FieldRef>,
    sources: Vec<ColumnSource>,
    appended: usize,
}

impl Layout {
    /// An empty layout over `input`: add columns with the other methods.
    pub fn new(input: &SchemaRef) -> Self {
        Self {
            input: input.clone(),
            fields: Vec::new(),
            sources: Vec::new(),
            appended: 0,
        }
    }

    /// Every input column, passed through unchanged.
    pub fn all(input: &SchemaRef) -> Self {
        (0..input.fields().len()).fold(Self::new(input), Self::input)
    }

    /// Adds input column `index` under its own name.
    pub fn input(self, index: usize) -> Self {
        let field = self.input.field(index).clone();
        self.push(Arc::new(field), ColumnSource::Input(index))
    }

    /// Adds input column `index` renamed to `name`.
    pub fn input_as(self, index: usize, name: &str) -> Self {
        let field = self.input.field(index).clone().with_name(name);
        self.push(Arc::new(field), ColumnSource::Input(index))
    }

    /// Adds a column the transform appends (in [`Output::with_appended`], in
    /// the order of the `append` and `replace` calls).
    pub fn append(mut self, field: impl Into<FieldRef>) -> Self {
        let source = ColumnSource::Appended(self.appended);
        self.appended += 1;
        self.push(field.into(), source)
    }

    /// Replaces the output column at `position` with an appended one.
    pub fn replace(mut self, position: usize, field: impl Into<FieldRef>) -> Self {
        self.fields[position] = field.into();
        self.sources[position] = ColumnSource::Appended(self.appended);
        self.appended += 1;
        self
    }

    /// The output schema this layout produces.
    pub fn output_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(self.fields.clone()))
    }

    /// The schema of the appended columns, in appended order.
    pub fn appended_schema(&self) -> SchemaRef {
        let mut appended: Vec<(usize, FieldRef)> = self
            .sources
            .iter()
            .zip(&self.fields)
            .filter_map(|(source, field)| match source {
                ColumnSource::Appended(n) => Some((*n, field.clone())),
                ColumnSource::Input(_) => None,
            })
            .collect();
        appended.sort_by_key(|(n, _)| *n);
        Arc::new(Schema::new(
            appended.into_iter().map(|(_, f)| f).collect::<Vec<_>>(),
        ))
    }

    /// Where each output column comes from.
    pub fn sources(&self) -> &[ColumnSource] {
        &self.sources
    }

    fn push(mut self, field: FieldRef, source: ColumnSource) -> Self {
        self.fields.push(field);
        self.sources.push(source);
        self
    }
}

/// What a transform answers at open.
#[derive(Debug, Clone)]
pub struct Plan {
    output_schema: SchemaRef,
    reads: Reads,
    layout: Option<Layout>,
}

impl Plan {
    /// The transform returns whole batches in `output_schema`
    /// ([`Output::batches`]).
    pub fn batches(output_schema: SchemaRef) -> Self {
        Self {
            output_schema,
            reads: Reads::all(),
            layout: None,
        }
    }

    /// The transform returns selections and appended columns
    /// ([`Output::select`], [`Output::with_appended`]); the host lays out the
    /// output as `layout` says. Input columns never cross the boundary twice.
    pub fn derived(layout: Layout) -> Self {
        Self {
            output_schema: layout.output_schema(),
            reads: Reads::all(),
            layout: Some(layout),
        }
    }

    /// Only these input columns (by index) are sent to `process`. The
    /// fewer, the faster. Where each lands in the batch `process` receives:
    /// [`Plan::reading_at`].
    pub fn reading(self, columns: impl IntoIterator<Item = usize>) -> Self {
        let columns: Vec<usize> = columns.into_iter().collect();
        self.reading_at(&columns).0
    }

    /// Only these input columns (by index, any order, repeats allowed) are
    /// sent to `process`; answers, for each of `columns` in the order given,
    /// its position in the batches `process` receives ([`Reads::of`]).
    pub fn reading_at(mut self, columns: &[usize]) -> (Self, Vec<usize>) {
        let (reads, positions) = Reads::of(columns);
        self.reads = reads;
        (self, positions)
    }

    /// The output schema.
    pub fn output_schema(&self) -> &SchemaRef {
        &self.output_schema
    }

    /// The input columns read.
    pub fn reads(&self) -> &Reads {
        &self.reads
    }

    /// The derived layout, `None` for whole-batch output.
    pub fn layout(&self) -> Option<&Layout> {
        self.layout.as_ref()
    }
}

/// What a transform answers for one batch.
#[derive(Debug, Clone)]
pub struct Output {
    pub(crate) data: Data,
    pub(crate) rejected: Vec<(usize, String)>,
}

#[derive(Debug, Clone)]
pub(crate) enum Data {
    Batches(Vec<RecordBatch>),
    Derived {
        selection: Option<BooleanBuffer>,
        appended: Vec<ArrayRef>,
    },
}

impl Output {
    /// Whole batches in the output schema (whole-batch plans).
    pub fn batches(batches: Vec<RecordBatch>) -> Self {
        Self::from_data(Data::Batches(batches))
    }

    /// One whole batch (whole-batch plans).
    pub fn batch(batch: RecordBatch) -> Self {
        Self::batches(vec![batch])
    }

    /// Nothing for now (whole-batch plans that buffer).
    pub fn nothing() -> Self {
        Self::batches(Vec::new())
    }

    /// Keeps every input row (derived plans).
    pub fn keep_all() -> Self {
        Self::from_data(Data::Derived {
            selection: None,
            appended: Vec::new(),
        })
    }

    /// Keeps the rows where `mask` is true; null counts as false (derived
    /// plans).
    pub fn select(mask: &BooleanArray) -> Self {
        let bits = match mask.nulls() {
            Some(nulls) => mask.values() & nulls.inner(),
            None => mask.values().clone(),
        };
        Self::from_data(Data::Derived {
            selection: Some(bits),
            appended: Vec::new(),
        })
    }

    /// Sets the appended columns (derived plans): one array per appended
    /// field of the layout, each with one row per kept row.
    pub fn with_appended(mut self, columns: Vec<ArrayRef>) -> Self {
        match &mut self.data {
            Data::Derived { appended, .. } => *appended = columns,
            Data::Batches(_) => {
                self.data = Data::Derived {
                    selection: None,
                    appended: columns,
                }
            }
        }
        self
    }

    /// Reports input row `row` as rejected with `message`; the host sends it
    /// to the node's dead letters. The row must not appear in the output.
    pub fn reject(mut self, row: usize, message: impl Into<String>) -> Self {
        self.rejected.push((row, message.into()));
        self
    }

    /// Reports several rejected rows at once.
    pub fn reject_all(mut self, rows: impl IntoIterator<Item = (usize, String)>) -> Self {
        self.rejected.extend(rows);
        self
    }

    fn from_data(data: Data) -> Self {
        Self {
            data,
            rejected: Vec::new(),
        }
    }
}

/// Glue between the generated bindings and a [`Transform`]; used by
/// [`export_transform!`](crate::export_transform).
#[doc(hidden)]
pub mod glue {
    use super::*;
    use crate::bindings::transform::exports::weir::plugin::transform as wit;
    use crate::bindings::types;
    use crate::glue::{Opened, WitResult, answer, decode, open_reading, opened};
    use weir_ipc::{BatchDecoder, BatchEncoder, schema_to_bytes};

    pub use crate::bindings::transform::exports::weir::plugin::event_time::Guest as EventTimeGuest;
    pub use crate::bindings::transform::exports::weir::plugin::input_bounds::{
        Bound as WitBound, Guest as InputBoundsGuest,
    };
    pub use crate::bindings::transform::exports::weir::plugin::transform::{
        Guest, Plan as WitPlan, Processed,
    };
    pub use crate::bindings::types::{Error as WitError, PluginInfo};

    /// An opened transform and its codecs.
    pub struct State<T> {
        plugin: T,
        decoder: BatchDecoder,
        output_schema: SchemaRef,
        /// Encodes whole batches, or the appended columns.
        encoder: BatchEncoder,
        appended_schema: Option<SchemaRef>,
    }

    pub fn open<T: Transform>(
        state: &mut Option<State<T>>,
        config: String,
        schema: Vec<u8>,
    ) -> WitResult<WitPlan> {
        answer(|| {
            let opened = open_reading(&config, &schema, T::open, Plan::reads)?;
            let Opened {
                plugin,
                plan,
                decoder,
                reads,
            } = opened;
            let encoded_schema = match plan.layout() {
                Some(layout) => layout.appended_schema(),
                None => plan.output_schema().clone(),
            };
            let wit_plan = WitPlan {
                output_schema: schema_to_bytes(plan.output_schema()).map_err(Error::internal)?,
                reads,
                mode: match plan.layout() {
                    None => wit::OutputMode::Batches,
                    Some(layout) => wit::OutputMode::Derived(
                        layout
                            .sources()
                            .iter()
                            .map(|s| match *s {
                                ColumnSource::Input(i) => wit::ColumnSource::Input(i as u32),
                                ColumnSource::Appended(i) => wit::ColumnSource::Appended(i as u32),
                            })
                            .collect(),
                    ),
                },
            };
            *state = Some(State {
                plugin,
                decoder,
                output_schema: plan.output_schema().clone(),
                encoder: BatchEncoder::new(&encoded_schema).map_err(Error::internal)?,
                appended_schema: plan.layout().map(|_| encoded_schema),
            });
            Ok(wit_plan)
        })
    }

    pub fn process<T: Transform>(
        state: &mut Option<State<T>>,
        bytes: Vec<u8>,
    ) -> WitResult<Processed> {
        answer(|| {
            let state = opened(state)?;
            let batch = decode(&mut state.decoder, bytes)?;
            let output = state.plugin.process(batch)?;
            let rejected = output
                .rejected
                .into_iter()
                .map(|(row, message)| types::RejectedRow {
                    row: row as u32,
                    message,
                })
                .collect();
            let output = match (output.data, &state.appended_schema) {
                (Data::Batches(batches), None) => wit::Output::Batches(
                    batches
                        .iter()
                        .map(|b| encode_output(&mut state.encoder, &state.output_schema, b))
                        .collect::<Result<_>>()?,
                ),
                (
                    Data::Derived {
                        selection,
                        appended,
                    },
                    Some(schema),
                ) => wit::Output::Derived(derivation(
                    &mut state.encoder,
                    schema,
                    selection,
                    appended,
                )?),
                (Data::Batches(_), Some(_)) => {
                    return Err(Error::internal(
                        "process returned whole batches but the plan is derived",
                    ));
                }
                (Data::Derived { .. }, None) => {
                    return Err(Error::internal(
                        "process returned a selection but the plan returns whole batches",
                    ));
                }
            };
            Ok(Processed { output, rejected })
        })
    }

    pub fn finish<T: Transform>(state: &mut Option<State<T>>) -> WitResult<Vec<Vec<u8>>> {
        emit(state, |plugin| plugin.finish())
    }

    pub fn time_column<T: Transform>(state: &mut Option<State<T>>) -> Option<u32> {
        let state = state.as_mut()?;
        state.plugin.event_time().map(|column| column as u32)
    }

    pub fn bounds<T: Transform>(state: &mut Option<State<T>>) -> Vec<WitBound> {
        use crate::bindings::transform::exports::weir::plugin::input_bounds as bounds;
        let scalar = |value: Scalar| match value {
            Scalar::Int(i) => bounds::Scalar::Int(i),
            Scalar::Float(f) => bounds::Scalar::Float(f),
            Scalar::Text(t) => bounds::Scalar::Text(t),
            Scalar::Boolean(b) => bounds::Scalar::Boolean(b),
        };
        let Some(state) = state.as_ref() else {
            return Vec::new();
        };
        state
            .plugin
            .input_bounds()
            .into_iter()
            .map(|bound| WitBound {
                column: bound.column as u32,
                condition: match bound.condition {
                    Condition::Between(low, high) => {
                        bounds::Condition::Between((low.map(scalar), high.map(scalar)))
                    }
                    Condition::OneOf(values) => {
                        bounds::Condition::OneOf(values.into_iter().map(scalar).collect())
                    }
                    Condition::NotNull => bounds::Condition::NotNull,
                },
            })
            .collect()
    }

    pub fn advance<T: Transform>(
        state: &mut Option<State<T>>,
        watermark: i64,
    ) -> WitResult<Vec<Vec<u8>>> {
        emit(state, |plugin| plugin.advance(watermark))
    }

    /// Encodes the whole batches `call` answers.
    fn emit<T: Transform>(
        state: &mut Option<State<T>>,
        call: impl FnOnce(&mut T) -> Result<Vec<RecordBatch>>,
    ) -> WitResult<Vec<Vec<u8>>> {
        answer(|| {
            let state = opened(state)?;
            let batches = call(&mut state.plugin)?;
            batches
                .iter()
                .map(|b| encode_output(&mut state.encoder, &state.output_schema, b))
                .collect()
        })
    }

    pub fn snapshot<T: Transform>(state: &mut Option<State<T>>) -> WitResult<Option<Vec<u8>>> {
        opened(state)
            .and_then(|s| s.plugin.snapshot())
            .map_err(Into::into)
    }

    pub fn restore<T: Transform>(state: &mut Option<State<T>>, bytes: Vec<u8>) -> WitResult<()> {
        opened(state)
            .and_then(|s| s.plugin.restore(&bytes))
            .map_err(Into::into)
    }

    /// Encodes a whole output batch, adopting the announced schema's names
    /// and checking its types.
    fn encode_output(
        encoder: &mut BatchEncoder,
        schema: &SchemaRef,
        batch: &RecordBatch,
    ) -> Result<Vec<u8>> {
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        let batch =
            RecordBatch::try_new_with_options(schema.clone(), batch.columns().to_vec(), &options)
                .map_err(|e| {
                Error::internal(format!(
                    "output batch does not match the plan's output schema: {e}"
                ))
            })?;
        encoder.encode_owned(&batch).map_err(Error::internal)
    }

    fn derivation(
        encoder: &mut BatchEncoder,
        schema: &SchemaRef,
        selection: Option<BooleanBuffer>,
        appended: Vec<ArrayRef>,
    ) -> Result<wit::Derivation> {
        let appended = match schema.fields().is_empty() {
            true if appended.is_empty() => None,
            _ => {
                let rows = appended.first().map_or(0, |a| a.len());
                let options = RecordBatchOptions::new().with_row_count(Some(rows));
                let batch = RecordBatch::try_new_with_options(schema.clone(), appended, &options)
                    .map_err(|e| {
                    Error::internal(format!("appended columns do not match the layout: {e}"))
                })?;
                Some(encoder.encode_owned(&batch).map_err(Error::internal)?)
            }
        };
        Ok(wit::Derivation {
            selection: selection.map(|bits| bits.sliced().as_slice().to_vec()),
            appended,
        })
    }
}

/// Exports a [`Transform`] implementation as the plugin's `transform`
/// world. Use it once, at the crate root of a `cdylib` crate; the plugin's
/// name, version and description come from its `Cargo.toml`.
#[macro_export]
macro_rules! export_transform {
    ($plugin:ty) => {
        $crate::__export_world!($plugin, transform, __export_transform_world, [
            fn open(config: String, input_schema: Vec<u8>) -> Result<glue::WitPlan, glue::WitError>;
            fn process(batch: Vec<u8>) -> Result<glue::Processed, glue::WitError>;
            fn finish() -> Result<Vec<Vec<u8>>, glue::WitError>;
            fn snapshot() -> Result<Option<Vec<u8>>, glue::WitError>;
            fn restore(state: Vec<u8>) -> Result<(), glue::WitError>;
        ]
            impl glue::EventTimeGuest for Export {
                fn time_column() -> Option<u32> {
                    STATE.with_borrow_mut(|s| glue::time_column::<$plugin>(s))
                }
                fn advance(watermark: i64) -> Result<Vec<Vec<u8>>, glue::WitError> {
                    STATE.with_borrow_mut(|s| glue::advance::<$plugin>(s, watermark))
                }
            }
            impl glue::InputBoundsGuest for Export {
                fn bounds() -> Vec<glue::WitBound> {
                    STATE.with_borrow_mut(|s| glue::bounds::<$plugin>(s))
                }
            }
        );
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types;
    use arrow_schema::{DataType, Field};

    /// Opens by projecting a column that does not exist: an Arrow error.
    struct ProjectsTooFar;

    impl Transform for ProjectsTooFar {
        type Config = serde_json::Value;

        fn open(_config: Self::Config, input: &SchemaRef) -> Result<(Self, Plan)> {
            let projected = Arc::new(input.project(&[5])?);
            Ok((ProjectsTooFar, Plan::batches(projected)))
        }

        fn process(&mut self, _batch: RecordBatch) -> Result<Output> {
            Err(Error::internal("not called: open fails"))
        }
    }

    #[test]
    fn an_arrow_error_in_open_is_the_configs_fault_not_the_inputs() {
        let schema = Schema::new(vec![Field::new("a", DataType::Int64, true)]);
        let bytes = weir_ipc::schema_to_bytes(&schema).unwrap();
        let mut state = None;
        let answer = glue::open::<ProjectsTooFar>(&mut state, "{}".into(), bytes);
        assert!(
            matches!(answer, Err(types::Error::InvalidConfig(_))),
            "{answer:?}"
        );
    }
}
