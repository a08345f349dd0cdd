//! A running transform plugin: opens it with its input schema, sends each
//! batch (only the columns it reads), and turns its answer back into record
//! batches, applying selections and appended columns natively.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions};
use arrow::buffer::{BooleanBuffer, Buffer};
use arrow::compute::FilterBuilder;
use arrow::datatypes::{Schema, SchemaRef};

use super::bindings::transform::exports::weir::plugin::transform as wit;
use super::bindings::types::PluginInfo;
use super::engine::{Plugin, TransformBindings, TypedPre};
use super::error::PluginError;
use super::host::PluginMetrics;
use super::input::InputEncoder;
use super::instance::{Instance, PluginInstance, Spawn};
use super::limits::Limits;
use super::lower::call_with_batch;
use crate::Kind;
use weir_ipc::{BatchDecoder, schema_from_bytes, schema_to_bytes};

/// A row a transform could not process; it goes to dead letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// Index of the row in the input batch.
    pub row: usize,
    /// The plugin's reason.
    pub message: String,
}

/// What a transform produced for one input batch.
#[derive(Debug, Default)]
pub struct Processed {
    /// Output batches, in the transform's output schema.
    pub batches: Vec<RecordBatch>,
    /// Input rows the plugin rejected.
    pub rejected: Vec<RejectedRow>,
}

/// Where an output column comes from in derived output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnSource {
    /// A column of the full input batch.
    Input(usize),
    /// A column appended by the plugin.
    Appended(usize),
}

/// How the plugin answers `process`, checked at open.
#[derive(Debug, Clone)]
pub enum OutputMode {
    /// Whole batches in the output schema.
    Batches,
    /// Selections and appended columns, laid out by the host.
    Derived {
        /// One entry per output field.
        layout: Vec<ColumnSource>,
        /// Input columns the layout takes, in the order they are projected.
        passthrough: Vec<usize>,
    },
}

struct Opened {
    output_schema: SchemaRef,
    mode: OutputMode,
    input: InputEncoder,
    /// Decodes whole output batches, or the appended columns.
    decoder: BatchDecoder,
    /// The input column holding event time, when the host moves the
    /// plugin's clock (it exports `event-time` and named one).
    event_time: Option<usize>,
    /// The last watermark given to `advance`.
    advanced: Option<i64>,
    /// What the plugin stated of the rows it passes on (`input-bounds`),
    /// by input column.
    bounds: Vec<(usize, crate::connectors::skip::Condition)>,
}

/// One instance of a transform plugin.
pub struct TransformInstance {
    instance: Instance<TransformBindings>,
    opened: Option<Opened>,
}

impl PluginInstance for TransformInstance {
    fn spawn(plugin: &Plugin, spawn: &Spawn<'_>) -> Result<Self, PluginError> {
        let pre = match plugin.typed_pre() {
            TypedPre::Transform(pre) => Some(pre),
            _ => None,
        };
        let instance = spawn.instance(plugin, Kind::Transform, pre, |pre, store| {
            pre.instantiate(store)
        })?;
        Ok(Self {
            instance,
            opened: None,
        })
    }
}

impl TransformInstance {
    /// The input columns the opened plugin reads (`None`: all of them).
    pub fn reads(&self) -> Option<&[usize]> {
        self.opened.as_ref().and_then(|o| o.input.reads())
    }

    /// The plugin's name, version and description.
    pub fn about(&mut self) -> Result<PluginInfo, PluginError> {
        self.instance.call_infallible("about", |b, s| {
            b.plugin.weir_plugin_transform().call_about(s)
        })
    }

    /// Opens the plugin with `config` (JSON) for batches of `input`, and
    /// returns its output schema.
    pub fn open(&mut self, config: &str, input: &SchemaRef) -> Result<SchemaRef, PluginError> {
        let node = self.instance.node.clone();
        let encode_error = |source| PluginError::Encode {
            plugin: node.clone(),
            call: "open",
            source,
        };
        let schema_bytes = schema_to_bytes(input).map_err(encode_error)?;
        let plan = self.instance.call("open", |b, s| {
            b.plugin
                .weir_plugin_transform()
                .call_open(s, config, &schema_bytes)
        })?;

        let malformed = |source| PluginError::MalformedIpc {
            plugin: node.clone(),
            call: "open",
            source,
        };
        let output_schema = schema_from_bytes(&plan.output_schema).map_err(malformed)?;
        let input_encoder = InputEncoder::new(&self.instance, input, plan.reads)?;
        let (mode, decoded_schema) = match plan.mode {
            wit::OutputMode::Batches => (OutputMode::Batches, output_schema.clone()),
            wit::OutputMode::Derived(layout) => self.check_layout(input, &output_schema, layout)?,
        };
        let decoder = BatchDecoder::new(&schema_to_bytes(&decoded_schema).map_err(encode_error)?)
            .map_err(encode_error)?;
        let event_time = self.ask_time_column(input, &mode)?;
        let bounds = self.ask_bounds(input)?;
        self.opened = Some(Opened {
            output_schema: output_schema.clone(),
            mode,
            input: input_encoder,
            decoder,
            event_time,
            advanced: None,
            bounds,
        });
        Ok(output_schema)
    }

    /// Asks a plugin that exports `event-time` which input column holds
    /// event time, and checks the answer.
    fn ask_time_column(
        &mut self,
        input: &Schema,
        mode: &OutputMode,
    ) -> Result<Option<usize>, PluginError> {
        let column = self.instance.call_infallible("time-column", |b, s| {
            b.event_time
                .as_ref()
                .map_or(Ok(None), |e| e.call_time_column(s))
        })?;
        let Some(column) = column.map(|c| c as usize) else {
            return Ok(None);
        };
        let bad = |message: String| self.instance.protocol("time-column", message);
        let field = input.fields().get(column).ok_or_else(|| {
            bad(format!(
                "named input column {column} for event time; the input has {}",
                input.fields().len()
            ))
        })?;
        if !matches!(field.data_type(), arrow::datatypes::DataType::Timestamp(..)) {
            return Err(bad(format!(
                "named input column {:?} for event time, of type {}; event time must be a timestamp",
                field.name(),
                field.data_type()
            )));
        }
        if !matches!(mode, OutputMode::Batches) {
            return Err(bad(
                "tracks event time but declared derived output; `advance` answers whole batches"
                    .into(),
            ));
        }
        Ok(Some(column))
    }

    /// Asks a plugin that exports `input-bounds` what the rows it passes on
    /// hold, and checks that the columns are the input's.
    fn ask_bounds(
        &mut self,
        input: &Schema,
    ) -> Result<Vec<(usize, crate::connectors::skip::Condition)>, PluginError> {
        use crate::connectors::skip::{Condition, Value};
        use crate::plugin::bindings::input_bounds::exports::weir::plugin::input_bounds as wit;
        let bounds = self.instance.call_infallible("bounds", |b, s| {
            b.input_bounds
                .as_ref()
                .map_or(Ok(Vec::new()), |i| i.call_bounds(s))
        })?;
        let value = |v: wit::Scalar| match v {
            wit::Scalar::Int(i) => Value::Int(i),
            wit::Scalar::Float(f) => Value::Float(f),
            wit::Scalar::Text(t) => Value::Text(t),
            wit::Scalar::Boolean(b) => Value::Boolean(b),
        };
        bounds
            .into_iter()
            .map(|bound| {
                let column = bound.column as usize;
                if column >= input.fields().len() {
                    return Err(self.instance.protocol(
                        "bounds",
                        format!(
                            "bounded input column {column}; the input has {}",
                            input.fields().len()
                        ),
                    ));
                }
                let condition = match bound.condition {
                    wit::Condition::Between((low, high)) => {
                        Condition::Between(low.map(value), high.map(value))
                    }
                    wit::Condition::OneOf(values) => {
                        Condition::OneOf(values.into_iter().map(value).collect())
                    }
                    wit::Condition::NotNull => Condition::NotNull,
                };
                Ok((column, condition))
            })
            .collect()
    }

    /// What the plugin stated, at open, every row it passes on holds, by
    /// input column (see `wit/input-bounds.wit`); empty when nothing.
    pub fn input_bounds(&self) -> &[(usize, crate::connectors::skip::Condition)] {
        self.opened.as_ref().map_or(&[], |o| &o.bounds)
    }

    /// The input column holding event time, when the host moves this
    /// instance's clock (see `wit/event-time.wit`).
    pub fn event_time(&self) -> Option<usize> {
        self.opened.as_ref().and_then(|o| o.event_time)
    }

    /// Moves the clock of an instance that tracks event time to `watermark`
    /// (ms since 1970) and answers the batches that completes; nothing when
    /// the instance is at or past it already.
    pub fn advance(&mut self, watermark: i64) -> Result<Vec<RecordBatch>, PluginError> {
        let Some(opened) = self.opened.as_mut() else {
            return Err(not_opened(&self.instance.node, "advance"));
        };
        if opened.event_time.is_none() || opened.advanced.is_some_and(|at| at >= watermark) {
            return Ok(Vec::new());
        }
        opened.advanced = Some(watermark);
        let list = self.instance.call("advance", |b, s| {
            let event_time = b.event_time.as_ref().expect("asked at open");
            event_time.call_advance(s, watermark)
        })?;
        self.decode_batches("advance", list)
    }

    /// The output schema announced at open.
    pub fn output_schema(&self) -> Option<&SchemaRef> {
        self.opened.as_ref().map(|o| &o.output_schema)
    }

    /// The output mode announced at open.
    pub fn output_mode(&self) -> Option<&OutputMode> {
        self.opened.as_ref().map(|o| &o.mode)
    }

    /// Processes one batch in the input schema given to `open`.
    pub fn process(&mut self, batch: &RecordBatch) -> Result<Processed, PluginError> {
        let opened = self
            .opened
            .as_mut()
            .ok_or_else(|| not_opened(&self.instance.node, "process"))?;
        let framed = opened.input.frame(batch, &self.instance.node, "process")?;
        let processed = self.instance.call("process", |b, s| {
            call_with_batch(b.plugin.weir_plugin_transform().func_process(), s, &framed)
        })?;

        self.instance
            .check_bytes("process", returned_bytes(&processed))?;
        let delivered = Delivered::by(&processed.output);
        let rejected = check_rejected(
            &self.instance,
            batch.num_rows(),
            processed.rejected,
            delivered,
        )?;
        let opened = self.opened.as_mut().expect("opened above");
        let batches = match (processed.output, &opened.mode) {
            (wit::Output::Batches(list), OutputMode::Batches) => {
                let batches = list
                    .into_iter()
                    .map(|bytes| decode(&self.instance, &mut opened.decoder, "process", bytes))
                    .collect::<Result<Vec<_>, _>>()?;
                self.instance.check_rows("process", total_rows(&batches))?;
                batches
            }
            (
                wit::Output::Derived(derivation),
                OutputMode::Derived {
                    layout,
                    passthrough,
                },
            ) => {
                let derived = derive(
                    &self.instance,
                    &mut opened.decoder,
                    &opened.output_schema,
                    layout,
                    passthrough,
                    batch,
                    derivation,
                )?;
                vec![derived]
            }
            (wit::Output::Batches(_), OutputMode::Derived { .. }) => {
                return Err(self.instance.protocol(
                    "process",
                    "returned whole batches but declared derived output at open",
                ));
            }
            (wit::Output::Derived(_), OutputMode::Batches) => {
                return Err(self.instance.protocol(
                    "process",
                    "returned a derivation but declared whole-batch output at open",
                ));
            }
        };
        Ok(Processed { batches, rejected })
    }

    /// Ends the input: returns what the plugin still holds.
    pub fn finish(&mut self) -> Result<Vec<RecordBatch>, PluginError> {
        if self.opened.is_none() {
            return Err(not_opened(&self.instance.node, "finish"));
        }
        let list = self.instance.call("finish", |b, s| {
            b.plugin.weir_plugin_transform().call_finish(s)
        })?;
        let opened = self.opened.as_mut().expect("checked above");
        if !list.is_empty() && !matches!(opened.mode, OutputMode::Batches) {
            return Err(self.instance.protocol(
                "finish",
                "returned batches but declared derived output at open",
            ));
        }
        self.decode_batches("finish", list)
    }

    /// Decodes the whole batches a call answered, within the limits.
    fn decode_batches(
        &mut self,
        call: &'static str,
        list: Vec<Vec<u8>>,
    ) -> Result<Vec<RecordBatch>, PluginError> {
        self.instance
            .check_bytes(call, list.iter().map(Vec::len).sum())?;
        let opened = self.opened.as_mut().expect("called on opened instances");
        let batches = list
            .into_iter()
            .map(|bytes| decode(&self.instance, &mut opened.decoder, call, bytes))
            .collect::<Result<Vec<_>, _>>()?;
        self.instance.check_rows(call, total_rows(&batches))?;
        Ok(batches)
    }

    /// Moves the instance under `limits`: the executor's, sharing its
    /// tenant's quota and its node's memory meter and metrics, for an
    /// instance the graph opened to type the node (opened once per run).
    pub fn adopt(&mut self, limits: &Limits) -> Result<(), PluginError> {
        self.instance.adopt(limits)
    }

    /// Whether the instance trapped (a panic, its deadline, its memory
    /// limit): every later call fails, so it must be replaced.
    pub fn trapped(&self) -> bool {
        self.instance.trapped()
    }

    /// Bytes of linear memory the instance has grown to.
    pub fn memory_bytes(&self) -> usize {
        self.instance.memory_bytes()
    }

    /// The plugin's state (`None` for a stateless plugin).
    pub fn snapshot(&mut self) -> Result<Option<Vec<u8>>, PluginError> {
        self.instance.call("snapshot", |b, s| {
            b.plugin.weir_plugin_transform().call_snapshot(s)
        })
    }

    /// Restores state taken by [`TransformInstance::snapshot`].
    pub fn restore(&mut self, state: &[u8]) -> Result<(), PluginError> {
        self.instance.call("restore", |b, s| {
            b.plugin.weir_plugin_transform().call_restore(s, state)
        })
    }

    /// Metrics the plugin reported through the host interface.
    pub fn metrics(&self) -> PluginMetrics {
        self.instance.metrics()
    }

    /// Validates a derived layout against the schemas, and returns the mode
    /// and the schema of the appended columns.
    fn check_layout(
        &self,
        input: &Schema,
        output: &Schema,
        layout: Vec<wit::ColumnSource>,
    ) -> Result<(OutputMode, SchemaRef), PluginError> {
        let bad = |message: String| self.instance.protocol("open", message);
        if layout.len() != output.fields().len() {
            return Err(bad(format!(
                "the derived layout has {} entries but the output schema has {} fields",
                layout.len(),
                output.fields().len()
            )));
        }
        let mut appended = Vec::new();
        let mut passthrough = Vec::new();
        let layout = layout
            .into_iter()
            .zip(output.fields())
            .map(|(source, field)| match source {
                wit::ColumnSource::Input(i) => {
                    let i = i as usize;
                    let Some(input_field) = input.fields().get(i) else {
                        return Err(bad(format!("output field {:?} takes input column {i}, which does not exist", field.name())));
                    };
                    if input_field.data_type() != field.data_type() {
                        return Err(bad(format!(
                            "output field {:?} takes input column {:?} of type {} but is declared {}",
                            field.name(),
                            input_field.name(),
                            input_field.data_type(),
                            field.data_type()
                        )));
                    }
                    let position = passthrough.iter().position(|&p| p == i).unwrap_or_else(|| {
                        passthrough.push(i);
                        passthrough.len() - 1
                    });
                    Ok(ColumnSource::Input(position))
                }
                wit::ColumnSource::Appended(j) => {
                    appended.push((j as usize, field.clone()));
                    Ok(ColumnSource::Appended(j as usize))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        appended.sort_by_key(|(j, _)| *j);
        if appended.iter().enumerate().any(|(n, (j, _))| n != *j) {
            return Err(bad(format!(
                "appended column indices must be 0..{} each used once",
                appended.len()
            )));
        }
        let appended_schema = Arc::new(Schema::new(
            appended.into_iter().map(|(_, f)| f).collect::<Vec<_>>(),
        ));
        Ok((
            OutputMode::Derived {
                layout,
                passthrough,
            },
            appended_schema,
        ))
    }
}

fn not_opened(node: &str, call: &'static str) -> PluginError {
    PluginError::Protocol {
        plugin: node.to_string(),
        call,
        message: "called before a successful open".into(),
    }
}

/// Decodes one output batch and checks it has the announced schema.
pub(crate) fn decode<B>(
    instance: &Instance<B>,
    decoder: &mut BatchDecoder,
    call: &'static str,
    bytes: Vec<u8>,
) -> Result<RecordBatch, PluginError> {
    decoder
        .decode(bytes)
        .map_err(|source| PluginError::MalformedIpc {
            plugin: instance.node.clone(),
            call,
            source,
        })
}

fn total_rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// Every byte of a `process` answer: its batches or its selection and
/// appended columns, and its rejection messages.
fn returned_bytes(processed: &wit::Processed) -> usize {
    let data = match &processed.output {
        wit::Output::Batches(list) => list.iter().map(Vec::len).sum(),
        wit::Output::Derived(d) => {
            d.selection.as_ref().map_or(0, Vec::len) + d.appended.as_ref().map_or(0, Vec::len)
        }
    };
    let messages: usize = processed.rejected.iter().map(|r| r.message.len()).sum();
    data + messages
}

/// Which input rows an answer delivers, as far as the host can tell.
enum Delivered<'a> {
    /// Whole batches: their rows cannot be traced to input rows.
    Unknown,
    /// A derivation without a selection: every row.
    All,
    /// A derivation's selection bitmap.
    Selected(&'a [u8]),
}

impl<'a> Delivered<'a> {
    /// What `output` delivers.
    fn by(output: &'a wit::Output) -> Self {
        match output {
            wit::Output::Batches(_) => Self::Unknown,
            wit::Output::Derived(d) => match &d.selection {
                None => Self::All,
                Some(bits) => Self::Selected(bits),
            },
        }
    }

    fn contains(&self, row: usize) -> bool {
        match self {
            Self::Unknown => false,
            Self::All => true,
            Self::Selected(bits) => bits.get(row / 8).is_some_and(|b| b & (1 << (row % 8)) != 0),
        }
    }
}

/// Checks the rejected rows of a `rows`-row batch: each an input row,
/// reported once and not also delivered, so a call never dead-letters more
/// rows than it received nor a row it passed on.
fn check_rejected<B>(
    instance: &Instance<B>,
    rows: usize,
    rejected: Vec<wit::RejectedRow>,
    delivered: Delivered<'_>,
) -> Result<Vec<RejectedRow>, PluginError> {
    if rejected.is_empty() {
        return Ok(Vec::new());
    }
    let bad = |message: String| instance.protocol("process", message);
    if rejected.len() > rows {
        return Err(bad(format!(
            "rejected {} rows of a {rows}-row batch",
            rejected.len()
        )));
    }
    let mut seen = vec![false; rows];
    rejected
        .into_iter()
        .map(|r| {
            let row = r.row as usize;
            match seen.get_mut(row) {
                None => Err(bad(format!("rejected row {row} of a {rows}-row batch"))),
                Some(true) => Err(bad(format!("rejected row {row} more than once"))),
                Some(_) if delivered.contains(row) => Err(bad(format!(
                    "rejected row {row} but the answer also delivers it"
                ))),
                Some(seen) => {
                    *seen = true;
                    Ok(RejectedRow {
                        row,
                        message: r.message,
                    })
                }
            }
        })
        .collect()
}

/// Builds the output of a derived answer: the kept rows of the passthrough
/// columns, with the appended columns laid out between them.
fn derive<B>(
    instance: &Instance<B>,
    decoder: &mut BatchDecoder,
    output_schema: &SchemaRef,
    layout: &[ColumnSource],
    passthrough: &[usize],
    input: &RecordBatch,
    derivation: wit::Derivation,
) -> Result<RecordBatch, PluginError> {
    let rows = input.num_rows();
    // The passed-through columns, not a projected batch: projecting builds
    // a schema on every call, and the output gets its own schema below.
    let mut kept = passthrough
        .iter()
        .map(|&i| input.columns().get(i).cloned())
        .collect::<Option<Vec<ArrayRef>>>()
        .ok_or_else(|| {
            instance.protocol("process", "the input batch lacks a passed-through column")
        })?;
    let mut kept_rows = rows;
    if let Some(bits) = derivation.selection {
        if bits.len() < rows.div_ceil(8) {
            return Err(instance.protocol(
                "process",
                format!(
                    "selection has {} bytes for {rows} rows; expected {}",
                    bits.len(),
                    rows.div_ceil(8)
                ),
            ));
        }
        let mask = BooleanArray::new(BooleanBuffer::new(Buffer::from_vec(bits), 0, rows), None);
        if mask.true_count() < rows {
            // As `filter_record_batch` does: one predicate for every column.
            let mut builder = FilterBuilder::new(&mask);
            if kept.len() > 1 {
                builder = builder.optimize();
            }
            let predicate = builder.build();
            kept = kept
                .iter()
                .map(|column| predicate.filter(column))
                .collect::<Result<_, _>>()
                .map_err(|e| instance.protocol("process", e.to_string()))?;
            kept_rows = predicate.count();
        }
    }
    let appended = match derivation.appended {
        Some(bytes) => Some(decode(instance, decoder, "process", bytes)?),
        None => None,
    };
    let appended_columns = appended.as_ref().map_or(0, |a| a.num_columns());
    if appended_columns != decoder.schema().fields().len() {
        return Err(instance.protocol(
            "process",
            format!(
                "returned {appended_columns} appended columns; the layout declares {}",
                decoder.schema().fields().len()
            ),
        ));
    }
    if let Some(appended) = &appended
        && appended.num_rows() != kept_rows
    {
        return Err(instance.protocol(
            "process",
            format!(
                "appended columns have {} rows but the selection keeps {}",
                appended.num_rows(),
                kept_rows
            ),
        ));
    }
    let columns: Vec<ArrayRef> = layout
        .iter()
        .map(|source| match source {
            ColumnSource::Input(i) => kept[*i].clone(),
            ColumnSource::Appended(j) => {
                appended.as_ref().expect("checked above").column(*j).clone()
            }
        })
        .collect();
    let options = RecordBatchOptions::new().with_row_count(Some(kept_rows));
    RecordBatch::try_new_with_options(output_schema.clone(), columns, &options).map_err(|e| {
        instance.protocol(
            "process",
            format!("output does not match the announced schema: {e}"),
        )
    })
}
