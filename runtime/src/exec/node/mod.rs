//! One node instance: what it needs ([`Context`]), the one place its error
//! policy (`on_error`) is applied, and the dispatch to the loop of its kind:
//! [`source`], [`transform`] or [`sink`], each with its plugin instance
//! under the [`supervisor`].

mod sink;
mod source;
pub(in crate::exec) mod supervisor;
mod transform;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arrow::array::RecordBatch;
use crossbeam_channel::{Receiver, Sender};

use super::acks::{Ack, Envelope, Message, release};
use super::event_time::{Announcement, Origin};
use super::reload::ReloadRequest;
use super::{AuditEvent, AuditLog, DeadLetters, NodeStats, RunOptions};
use crate::graph::{Implementation, Node, Runner};
use crate::plugin::{Grants, Limits, Plugin, PluginEngine, PluginError, Poll};
use crate::spec::OnError;
use crate::{Error, Fault, Result, Stage};
use supervisor::{Adopted, Running};

/// The node's dead letters cannot be written.
fn dead_letters_unwritable(cx: &Context<'_>, error: std::io::Error) -> Error {
    Error::caused(
        Stage::Io,
        Fault::External,
        format!(
            "cannot write dead letters to {}",
            cx.dead_letters.path().display()
        ),
        error,
    )
}

/// Everything one node instance needs.
pub(crate) struct Context<'a> {
    pub node: &'a Node,
    pub instance: usize,
    pub engine: &'a PluginEngine,
    pub options: &'a RunOptions,
    pub input: Receiver<Message>,
    pub outputs: Vec<Sender<Message>>,
    /// The sources and event-time transforms upstream, whose parts the
    /// node's event-time clock waits for.
    pub producers: Vec<String>,
    /// Whether an event-time clock downstream waits for this node's parts:
    /// only then does it announce them.
    pub feeds_event_time: bool,
    /// Whether a source upstream leaves rows unread by the bounds this
    /// node stated: a hot reload may not change them.
    pub input_skipped_by_bounds: bool,
    pub stats: Arc<NodeStats>,
    pub dead_letters: Arc<DeadLetters>,
    pub stop: &'a AtomicBool,
    pub failed: &'a AtomicBool,
    /// The pipeline's state folder.
    pub state_dir: &'a std::path::Path,
    /// How often sources commit, sinks flush and stateful transforms store
    /// their state.
    pub checkpoint_every: Duration,
    /// The pipeline's audit log.
    pub audit: &'a AuditLog,
    /// Hot reload requests for this node, if it can be reloaded.
    pub reloads: Option<crossbeam_channel::Receiver<ReloadRequest>>,
    /// Told when this sink instance has closed; waited on by sources that
    /// commit once the output is durable.
    pub durable: &'a super::durable::Durable,
    /// What a sink is told about the run.
    pub sink_context: crate::connectors::SinkContext,
}

/// Longest a plugin source's `wait` answer is slept before the stop flag is
/// checked again.
const MAX_WAIT: Duration = Duration::from_millis(100);

/// Sets the run's failed flag when dropped armed: a node that fails (or
/// panics) raises it before its channel ends close (the context, a
/// parameter, is dropped after this local), so a sink never takes an input
/// that closed because its producer failed for the end of the run.
struct FailedUnlessDone<'a>(Option<&'a AtomicBool>);

impl Drop for FailedUnlessDone<'_> {
    fn drop(&mut self) {
        if let Some(failed) = self.0 {
            failed.store(true, Ordering::SeqCst);
        }
    }
}

/// Runs the instance to the end of its input; `Err` stops the pipeline.
pub(crate) fn run(mut context: Context<'_>) -> Result<()> {
    let mut failing = FailedUnlessDone(Some(context.failed));
    let result = match &context.node.implementation {
        Implementation::Source(Runner::Connector(connector)) => {
            let resumes = connector.resumes();
            source::source_node(&mut context, resumes, &|cx: &Context<'_>, start| {
                let schema = cx.node.output_schema.as_ref().expect("typed graph");
                match &cx.node.skip {
                    Some(skip) => connector.open_skipping(schema, start, skip),
                    None => connector.open(schema, start),
                }
                .map_err(|e| Error::connector(Stage::Open, e))
            })
        }
        Implementation::Source(Runner::Plugin(plugin)) => {
            source::source_node(&mut context, true, &|cx: &Context<'_>, start| {
                source::open_plugin_source(cx, plugin, start)
            })
        }
        Implementation::Transform(plugin) => transform::plugin_transform(&context, plugin),
        Implementation::Sink(Runner::Connector(connector)) => {
            sink::connector_sink(&context, &**connector)
        }
        Implementation::Sink(Runner::Plugin(plugin)) => sink::plugin_sink(&context, plugin),
    };
    let flushed = context
        .dead_letters
        .flush()
        .map_err(|e| dead_letters_unwritable(&context, e));
    let result = result.and(flushed);
    if result.is_ok() {
        failing.0 = None;
    }
    result
}

impl Context<'_> {
    /// Whether sources should stop producing: Ctrl-C, or another node failed.
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.failed.load(Ordering::SeqCst)
    }

    /// Sends `batch`, derived from the source batches of `acks` and coming
    /// from `origin`, to every downstream node; `false` when they are all
    /// gone.
    fn emit(&self, batch: RecordBatch, acks: Vec<Ack>, origin: Option<&Origin>) -> bool {
        if batch.num_rows() == 0 && batch.num_columns() > 0 {
            release(acks);
            return true;
        }
        self.stats.sent(&batch);
        let mut delivered = false;
        for output in &self.outputs {
            let envelope = Envelope {
                batch: batch.clone(),
                acks: acks.clone(),
                origin: origin.cloned(),
            };
            // A send that fails drops its acks unreleased: never committed.
            delivered |= output.send(Message::Batch(envelope)).is_ok();
        }
        release(acks);
        delivered
    }

    /// Passes `announcement` to every downstream node.
    fn announce(&self, announcement: Arc<Announcement>) {
        for output in &self.outputs {
            let _ = output.send(Message::Announce(announcement.clone()));
        }
    }

    /// Announces this node's parts (`None`: it has ended), as a producer.
    fn announce_own(&self, parts: Option<Arc<std::collections::BTreeMap<String, bool>>>) {
        if !self.feeds_event_time {
            return;
        }
        self.announce(Arc::new(Announcement {
            producer: self.node.name.as_str().into(),
            parts,
        }));
    }

    /// The origin of the batches of this node's part `part`.
    fn origin(&self, part: &str) -> Origin {
        Origin {
            producer: self.node.name.as_str().into(),
            part: part.into(),
        }
    }

    /// Handles what a source's poll gave: sends a batch from `origin` on
    /// (with `acks`), or sleeps when asked to wait; `false` once the source
    /// is done or nobody listens.
    fn forward(&self, poll: Poll, acks: Vec<Ack>, origin: &Origin) -> bool {
        match poll {
            Poll::Batch(batch) => {
                NodeStats::add(&self.stats.rows_in, batch.num_rows());
                self.emit(batch, acks, Some(origin))
            }
            Poll::Wait(wait) => {
                std::thread::sleep(wait.min(MAX_WAIT));
                true
            }
            Poll::Done => false,
        }
    }

    /// Applies the node's error policy (`on_error`) to what failed: the one
    /// place it is applied. `Err` stops the node (`on_error: stop`, or the
    /// dead letters cannot be written).
    fn failed(&self, failed: Failed<'_>) -> Result<()> {
        let count = match &failed {
            Failed::Rows { rows, .. } => rows.len(),
            Failed::Batch { batch, .. } => batch.num_rows(),
            Failed::Record(_) => 1,
        };
        // A quality gate fails a batch only for a rule of severity `fail`:
        // that stops the run, whatever `on_error` says of rejected rows.
        if self.node.is_quality_gate()
            && let Failed::Batch { error, .. } = failed
        {
            return Err(quality_failed(error));
        }
        match self.node.spec.on_error {
            OnError::Stop => Err(match failed {
                Failed::Rows { rows, .. } => {
                    let (row, error) = rows.first().map_or((0, ""), |(r, e)| (*r, e.as_str()));
                    Error::new(
                        Stage::Call,
                        Fault::InputData,
                        format!("row {row} failed (on_error: stop): {error}"),
                    )
                }
                Failed::Batch { error, .. } => error,
                Failed::Record(record) => {
                    Error::new(Stage::Io, Fault::InputData, record.error.clone())
                }
            }),
            OnError::Skip => {
                NodeStats::add(&self.stats.skipped, count);
                Ok(())
            }
            OnError::DeadLetter => {
                let written = match failed {
                    Failed::Rows { batch, rows } => self.dead_letters.rows(batch, rows),
                    Failed::Batch { batch, error } => {
                        let error = error.with_causes();
                        tracing::warn!(node = %self.node.name, %error, rows = count, "batch failed");
                        let rows: Vec<_> = (0..count).map(|r| (r, error.clone())).collect();
                        self.dead_letters.rows(batch, &rows)
                    }
                    Failed::Record(record) => {
                        self.dead_letters.record(&record.record, &record.error)
                    }
                };
                written.map_err(|e| dead_letters_unwritable(self, e))?;
                NodeStats::add(&self.stats.dead_letters, count);
                Ok(())
            }
        }
    }

    /// Applies the policy to `rows` of `batch` that failed.
    fn failed_rows(&self, batch: &RecordBatch, rows: &[(usize, String)]) -> Result<()> {
        self.failed(Failed::Rows { batch, rows })
    }

    /// Applies the policy to a whole batch that failed with `error`.
    fn failed_batch(&self, batch: &RecordBatch, error: Error) -> Result<()> {
        self.failed(Failed::Batch { batch, error })
    }

    /// Appends `event` of the node's plugin to the audit log.
    pub(in crate::exec) fn audit(&self, event: AuditEvent, detail: Option<&str>) -> Result<()> {
        self.audit.record(self.node, event, detail)
    }

    /// An instance of `running`'s plugin for this node, made by `create`
    /// (the world's `with_grants`), recorded in the audit log as `event`,
    /// and opened with `running`'s config by `open`.
    fn instance<I>(
        &self,
        running: &Running,
        event: AuditEvent,
        detail: Option<&str>,
        create: fn(&PluginEngine, &Plugin, &str, &Limits, &Grants) -> Result<I, PluginError>,
        open: impl FnOnce(&mut I, &str) -> Result<(), PluginError>,
    ) -> Result<I> {
        let node = &self.node;
        let mut instance = create(
            self.engine,
            &running.plugin,
            &self.instance_name(),
            &self.metered(&running.limits),
            &node.grants,
        )
        .map_err(|e| Error::plugin(Stage::Open, e))?;
        self.audit(event, detail)?;
        open(&mut instance, &running.config).map_err(|e| Error::plugin(Stage::Open, e))?;
        Ok(instance)
    }

    fn config(&self) -> String {
        self.node.spec.config.to_string()
    }

    /// The instance the graph opened for this node, moved under the
    /// executor's limits and recorded in the audit log as loaded; `None`
    /// when the graph kept none, or this is not the node's first instance
    /// (the graph opened that one).
    fn adopt<I: Adopted>(&self) -> Result<Option<I>> {
        if self.instance != 0 {
            return Ok(None);
        }
        let Some(mut instance) = self.node.take_opened().and_then(I::take) else {
            return Ok(None);
        };
        instance
            .adopt(&self.metered(&self.node.limits))
            .map_err(|e| Error::plugin(Stage::Open, e))?;
        self.audit(AuditEvent::Load, None)?;
        Ok(Some(instance))
    }

    /// `limits` counting the instance's memory into the node's gauge and
    /// its plugin metrics into the node's.
    fn metered(&self, limits: &Limits) -> Limits {
        Limits {
            memory_meter: Some(self.stats.memory_bytes.clone()),
            metrics: Some(self.stats.plugin_metrics.clone()),
            ..limits.clone()
        }
    }

    pub(in crate::exec) fn instance_name(&self) -> String {
        self.node.instance_name(self.instance)
    }
}

/// What failed, for the node's error policy ([`Context::failed`]).
enum Failed<'a> {
    /// Rows of a batch, each with why.
    Rows {
        batch: &'a RecordBatch,
        rows: &'a [(usize, String)],
    },
    /// A whole batch.
    Batch {
        batch: &'a RecordBatch,
        error: Error,
    },
    /// A record a source could not parse.
    Record(&'a crate::connectors::BadRecord),
}

/// A quality gate's failure (a rule of severity `fail`, `error` says
/// which): the run stops with exit code 4.
pub(crate) fn quality_failed(error: Error) -> Error {
    Error::caused(
        Stage::Call,
        Fault::Quality,
        "a data-quality rule of severity fail failed",
        error,
    )
}
