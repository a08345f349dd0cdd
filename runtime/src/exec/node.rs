//! The loop of one node instance: pull from its input channel (or produce,
//! for sources), call its plugin or connector, push downstream, and apply
//! the node's error policy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use crossbeam_channel::{Receiver, Sender};

use super::acks::{Ack, Envelope, Ledger, Message, release};
use super::checkpoint::Holding;
use super::event_time::{Announcement, Clock, Origin, one_part};
use super::plugin_source::PluginSource;
use super::reload::{ReloadRequest, Replacement, Swapped};
use super::{AuditEvent, AuditLog, DeadLetters, NodeStats, RunOptions};
use crate::connectors::{Connector, Parts, SinkConnector, Source};
use crate::graph::{Implementation, Node, Opened};
use crate::plugin::{
    Grants, Limits, OutputMode, Plugin, PluginEngine, PluginError, Poll, SinkInstance,
    SourceInstance, TransformInstance, with_causes,
};
use crate::spec::{OnError, Section};

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
}

/// How often a source's lag is noted for the metrics.
const LAG_EVERY: Duration = Duration::from_secs(1);

/// Longest a plugin source's `wait` answer is slept before the stop flag is
/// checked again.
const MAX_WAIT: Duration = Duration::from_millis(100);

/// Runs the instance to the end of its input; `Err` stops the pipeline.
pub(crate) fn run(mut context: Context<'_>) -> Result<(), String> {
    let result = match (&context.node.implementation, context.node.section) {
        (Implementation::Connector(Connector::Source(connector)), _) => {
            let resumes = connector.resumes();
            source_node(&mut context, resumes, &|cx: &Context<'_>, start| {
                let schema = cx.node.output_schema.as_ref().expect("typed graph");
                connector.open(schema, start).map_err(|e| e.to_string())
            })
        }
        (Implementation::Plugin(plugin), Section::Sources) => {
            source_node(&mut context, true, &|cx: &Context<'_>, start| {
                open_plugin_source(cx, plugin, start)
            })
        }
        (Implementation::Connector(Connector::Sink(connector)), _) => {
            connector_sink(&context, &**connector)
        }
        (Implementation::Plugin(plugin), Section::Transforms) => plugin_transform(&context, plugin),
        (Implementation::Plugin(plugin), Section::Sinks) => plugin_sink(&context, plugin),
    };
    let flushed = context.dead_letters.flush().map_err(|e| {
        format!(
            "cannot write dead letters to {}: {e}",
            context.dead_letters.path().display()
        )
    });
    result.and(flushed)
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
    fn failed(&self, failed: Failed<'_>) -> Result<(), String> {
        let count = match &failed {
            Failed::Rows { rows, .. } => rows.len(),
            Failed::Batch { batch, .. } => batch.num_rows(),
            Failed::Record(_) => 1,
        };
        match self.node.spec.on_error {
            OnError::Stop => Err(match failed {
                Failed::Rows { rows, .. } => match rows.first() {
                    Some((row, error)) => format!("row {row} failed (on_error: stop): {error}"),
                    None => "failed (on_error: stop)".into(),
                },
                Failed::Batch { error, .. } => error.to_string(),
                Failed::Record(record) => record.error.clone(),
            }),
            OnError::Skip => {
                NodeStats::add(&self.stats.skipped, count);
                Ok(())
            }
            OnError::DeadLetter => {
                let written = match failed {
                    Failed::Rows { batch, rows } => self.dead_letters.rows(batch, rows),
                    Failed::Batch { batch, error } => {
                        tracing::warn!(node = %self.node.name, %error, rows = count, "batch failed");
                        let rows: Vec<_> = (0..count).map(|r| (r, error.to_string())).collect();
                        self.dead_letters.rows(batch, &rows)
                    }
                    Failed::Record(record) => {
                        self.dead_letters.record(&record.record, &record.error)
                    }
                };
                written.map_err(|e| {
                    format!(
                        "cannot write dead letters to {}: {e}",
                        self.dead_letters.path().display()
                    )
                })?;
                NodeStats::add(&self.stats.dead_letters, count);
                Ok(())
            }
        }
    }

    /// Applies the policy to `rows` of `batch` that failed.
    fn failed_rows(&self, batch: &RecordBatch, rows: &[(usize, String)]) -> Result<(), String> {
        self.failed(Failed::Rows { batch, rows })
    }

    /// Applies the policy to a whole batch that failed with `error`.
    fn failed_batch(&self, batch: &RecordBatch, error: &str) -> Result<(), String> {
        self.failed(Failed::Batch { batch, error })
    }

    /// Appends `event` of the node's plugin to the audit log.
    fn audit(&self, event: AuditEvent, detail: Option<&str>) -> Result<(), String> {
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
    ) -> Result<I, String> {
        let node = &self.node;
        let mut instance = create(
            self.engine,
            &running.plugin,
            &self.instance_name(),
            &self.metered(&running.limits),
            &node.grants,
        )
        .map_err(|e| with_causes(&e))?;
        self.audit(event, detail)?;
        open(&mut instance, &running.config).map_err(|e| with_causes(&e))?;
        Ok(instance)
    }

    fn config(&self) -> String {
        self.node.spec.config.to_string()
    }

    /// The instance the graph opened for this node, moved under the
    /// executor's limits and recorded in the audit log as loaded; `None`
    /// when the graph kept none (parallel nodes), or another instance of the
    /// node took it.
    fn adopt<I: Adopted>(&self) -> Result<Option<I>, String> {
        let Some(mut instance) = self.node.take_opened().and_then(I::take) else {
            return Ok(None);
        };
        instance
            .adopt(&self.metered(&self.node.limits))
            .map_err(|e| with_causes(&e))?;
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

    fn instance_name(&self) -> String {
        match self.node.spec.parallelism {
            1 => self.node.name.clone(),
            _ => format!("{}#{}", self.node.name, self.instance),
        }
    }
}

/// Opens a node's source, continuing from `start` (the position its last
/// run committed).
type OpenSource<'f> =
    &'f dyn Fn(&Context<'_>, Option<serde_json::Value>) -> Result<Box<dyn Source>, String>;

/// Runs a source node, native or plugin, that `open` opens (loading the
/// position its last run committed when it `resumes`): reads it to its end
/// or the stop, then, once downstream has seen the end, commits what every
/// sink has made durable.
fn source_node(
    context: &mut Context<'_>,
    resumes: bool,
    open: OpenSource<'_>,
) -> Result<(), String> {
    let start = match resumes {
        true => super::positions::load(context.state_dir, &context.node.name)?,
        false => None,
    };
    let source = open(context, start)?;
    let (mut source, ledger, ended) = read_source(context, source, resumes)?;
    // Let downstream see the end, then commit what was read once every sink
    // has flushed and closed its output.
    context.outputs.clear();
    let Some(ledger) = ledger else { return Ok(()) };
    let everything = context.durable.wait(context.failed) && ledger.in_flight() == 0;
    if everything && ended && source.forgets_at_end() {
        let file = super::positions::position_file(context.state_dir, &context.node.name);
        return super::positions::remove(&file)
            .map_err(|e| format!("cannot remove {}: {e}", file.display()));
    }
    match everything {
        // Also past records that only went to the dead letters.
        true => source.position(),
        false => ledger.take_committable(),
    }
    .map_or(Ok(()), |position| {
        commit(context, &mut *source, resumes, &position)
    })
}

/// Takes the node's source plugin instance that the graph opened (or
/// opens one) and restores `start`.
fn open_plugin_source(
    cx: &Context<'_>,
    plugin: &Plugin,
    start: Option<serde_json::Value>,
) -> Result<Box<dyn Source>, String> {
    let adopted = cx.adopt::<SourceInstance>()?;
    let instance = match adopted {
        Some(instance) => instance,
        None => cx.instance(
            &Running::initial(cx, plugin),
            AuditEvent::Load,
            None,
            SourceInstance::with_grants,
            |source, config| source.open(config).map(drop),
        )?,
    };
    let resuming = start.is_some();
    let source =
        PluginSource::new(instance, cx.options.source_batch_rows, start).map_err(
            |e| match resuming {
                true => format!(
                    "cannot resume from {}: {}",
                    super::positions::position_file(cx.state_dir, &cx.node.name).display(),
                    with_causes(&e)
                ),
                false => with_causes(&e),
            },
        )?;
    Ok(Box::new(source))
}

/// A source after its run, the ledger of what it sent (when it has
/// positions to commit), and whether it ended (rather than being stopped).
type Read = (Box<dyn Source>, Option<Arc<Ledger>>, bool);

/// Reads `source` to its end (or the stop), committing at every checkpoint
/// what every sink has made durable.
fn read_source(
    cx: &Context<'_>,
    mut source: Box<dyn Source>,
    resumes: bool,
) -> Result<Read, String> {
    let ledger = source
        .position()
        .is_some()
        .then(|| Arc::new(Ledger::new(&cx.node.name)));
    let mut bad_error = None;
    let mut lag_noted: Option<Instant> = None;
    let mut committed = Instant::now();
    let mut parts = PartsAnnounced::default();
    if cx.feeds_event_time {
        parts.update(cx, source.parts());
    }
    let mut ended = false;
    while !cx.stopping() {
        if lag_noted.is_none_or(|at| at.elapsed() >= LAG_EVERY) {
            *cx.stats.lag.lock().expect("lag lock") = source.lag();
            lag_noted = Some(Instant::now());
        }
        if let Some(ledger) = &ledger
            && committed.elapsed() >= cx.checkpoint_every
        {
            committed = Instant::now();
            if let Some(position) = ledger.take_committable() {
                commit(cx, &mut *source, resumes, &position)?;
            }
        }
        let started = Instant::now();
        let mut bad_records = 0;
        let mut bad = |record: crate::connectors::BadRecord| {
            NodeStats::add(&cx.stats.rows_in, 1);
            bad_records += 1;
            if let Err(error) = cx.failed(Failed::Record(&record)) {
                bad_error.get_or_insert(error);
            }
        };
        let next = source.next_batch(&mut bad).map_err(|e| e.to_string())?;
        cx.stats.busy(started);
        if let Some(error) = bad_error.take() {
            return Err(error);
        }
        if bad_records > 0 {
            // The batch's ack may commit past them: they must be on disk.
            cx.dead_letters.flush().map_err(|e| e.to_string())?;
        }
        let position = match (&ledger, &next) {
            (Some(ledger), Poll::Batch(_)) => source.position().map(|p| (ledger, p)),
            _ => None,
        };
        let acks = position.map_or_else(Vec::new, |(ledger, p)| vec![ledger.issue(p)]);
        let origin = cx.origin(&source.part());
        ended = matches!(next, Poll::Done);
        if !cx.forward(next, acks, &origin) {
            break;
        }
        if cx.feeds_event_time {
            parts.update(cx, source.parts());
        }
    }
    cx.announce_own(None);
    *cx.stats.lag.lock().expect("lag lock") = source.lag();
    *cx.stats.report.lock().expect("report lock") = source.report();
    Ok((source, ledger, ended))
}

/// Commits `position` of the node's source: in the state folder for sources
/// that resume from it, and with the source itself (Kafka offsets). A
/// failed commit is only delayed: the next one covers it.
fn commit(
    cx: &Context<'_>,
    source: &mut dyn crate::connectors::Source,
    resumes: bool,
    position: &serde_json::Value,
) -> Result<(), String> {
    if resumes {
        super::positions::store(cx.state_dir, &cx.node.name, position)?;
    }
    source.commit(position).map_err(|e| e.to_string())
}

/// A kind of plugin instance that the graph may have opened for a node
/// ([`Opened`]) and the executor then runs.
trait Adopted: Sized {
    /// The instance in `opened`, if it is of this kind.
    fn take(opened: Opened) -> Option<Self>;
    /// Moves it under the executor's `limits`.
    fn adopt(&mut self, limits: &Limits) -> Result<(), PluginError>;
}

/// `Adopted` for the instance type of each kind of [`Opened`].
macro_rules! adopted {
    ($($kind:ident => $instance:ty),*) => {$(
        impl Adopted for $instance {
            fn take(opened: Opened) -> Option<Self> {
                match opened {
                    Opened::$kind(instance) => Some(*instance),
                    _ => None,
                }
            }
            fn adopt(&mut self, limits: &Limits) -> Result<(), PluginError> {
                <$instance>::adopt(self, limits)
            }
        }
    )*};
}

adopted!(Source => SourceInstance, Transform => TransformInstance, Sink => SinkInstance);

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
        error: &'a str,
    },
    /// A record a source could not parse.
    Record(&'a crate::connectors::BadRecord),
}

/// The parts a source announced last.
#[derive(Default)]
struct PartsAnnounced(Option<Parts>);

impl PartsAnnounced {
    /// Announces `now` downstream if it differs from what was announced.
    fn update(&mut self, cx: &Context<'_>, now: Parts) {
        if self.0.as_ref() == Some(&now) {
            return;
        }
        match &now {
            Parts::One => cx.announce_own(Some(one_part())),
            Parts::NotYet => {}
            Parts::Now(parts) => cx.announce_own(Some(parts.clone())),
        }
        self.0 = Some(now);
    }
}

/// Times a node's instance is re-created after traps or contract breaches
/// before the node gives up on its plugin and applies `on_error` to every
/// later batch (the run then fails at its end).
pub(crate) const MAX_RESTARTS: u64 = 5;
/// Wait before the first re-creation; it doubles with each one.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// Creates an instance of a node's plugin and records the event in the
/// audit log (`detail`: why it was re-created).
type Open<'c, I> = &'c dyn Fn(&Running, AuditEvent, Option<&str>) -> Result<I, String>;

/// What a node runs: its plugin, the config it opens it with and the
/// limits of its instance (the graph's, until a hot reload brings others).
#[derive(Clone)]
struct Running {
    plugin: Plugin,
    config: String,
    limits: Limits,
}

impl Running {
    /// What node `cx` runs first: `plugin` with the graph's config and limits.
    fn initial(cx: &Context<'_>, plugin: &Plugin) -> Self {
        Self {
            plugin: plugin.clone(),
            config: cx.config(),
            limits: cx.node.limits.clone(),
        }
    }

    /// What runs after `replacement`: what it gives, the rest as now. The
    /// node's tenant quota stays.
    fn replaced(&self, replacement: Replacement) -> Self {
        Self {
            plugin: replacement.plugin,
            config: replacement.config.unwrap_or_else(|| self.config.clone()),
            limits: match replacement.limits {
                Some(limits) => Limits {
                    tenant: self.limits.tenant.clone(),
                    ..limits
                },
                None => self.limits.clone(),
            },
        }
    }
}

/// A node's plugin instance that is re-created (after a backoff, at most
/// [`MAX_RESTARTS`] times) when it traps or breaks the contract; after that
/// the node has none, and `on_error` applies to every later batch.
struct Recreated<'c, I> {
    cx: &'c Context<'c>,
    open: Open<'c, I>,
    /// What it runs (other than the graph's after a hot reload).
    running: Running,
    instance: Option<I>,
    restarts: u64,
    /// The instance's linear memory after its first batch (see
    /// [`Recreated::recycle_if_grown`]); `None` until then.
    first_memory: Option<usize>,
}

impl<'c, I> Recreated<'c, I> {
    /// Runs `adopted` (the instance the graph opened), or opens the first
    /// instance of `running`.
    fn new(
        cx: &'c Context<'c>,
        open: Open<'c, I>,
        running: Running,
        adopted: Option<I>,
    ) -> Result<Self, String> {
        let instance = match adopted {
            Some(instance) => instance,
            None => open(&running, AuditEvent::Load, None)?,
        };
        Ok(Self {
            cx,
            open,
            instance: Some(instance),
            running,
            restarts: 0,
            first_memory: None,
        })
    }

    /// Runs `instance` of `running` from now on; answers what it replaces.
    fn replace(&mut self, instance: I, running: Running) -> (Option<I>, Running) {
        self.restarts = 0;
        self.first_memory = None;
        let old = self.instance.replace(instance);
        (old, std::mem::replace(&mut self.running, running))
    }

    /// The instance, or why there is none (for the batch's dead letter).
    fn get(&mut self) -> Result<&mut I, String> {
        self.instance.as_mut().ok_or_else(|| {
            format!(
                "the plugin trapped or broke the contract {} times; no instance left",
                MAX_RESTARTS + 1
            )
        })
    }

    /// Handles a call on `batch` that failed with `error`: audits a limit
    /// breach, applies the error policy to the batch, and re-creates the
    /// instance when it is `poisoned` (it trapped or broke the contract).
    fn failed(
        &mut self,
        batch: &RecordBatch,
        error: &PluginError,
        poisoned: bool,
    ) -> Result<(), String> {
        let cx = self.cx;
        let cause = with_causes(error);
        if error.is_limit_breach() {
            cx.audit(AuditEvent::LimitBreach, Some(&cause))?;
        }
        cx.failed_batch(batch, &cause)?;
        if !poisoned {
            return Ok(());
        }
        self.instance = None;
        self.first_memory = None;
        if self.restarts == MAX_RESTARTS {
            cx.stats.gave_up.store(true, Ordering::SeqCst);
            tracing::error!(node = %cx.instance_name(), restarts = self.restarts, "instance failed again; giving up on the plugin, on_error applies to every later batch");
            return Ok(());
        }
        std::thread::sleep(FIRST_BACKOFF * 2u32.pow(self.restarts as u32));
        self.restarts += 1;
        NodeStats::add(&cx.stats.restarts, 1);
        tracing::warn!(node = %cx.instance_name(), restarts = self.restarts, "instance trapped or broke the contract; re-created it");
        self.instance = Some((self.open)(
            &self.running,
            AuditEvent::Restart,
            Some(&cause),
        )?);
        Ok(())
    }
}

impl Recreated<'_, TransformInstance> {
    /// Replaces the instance by a fresh one holding its state once its
    /// linear memory has reached 3/4 of its limit and twice what it held
    /// after its first batch: memory a guest never gives back (as
    /// componentize-py 0.25 does with every `list<u8>` a Python export
    /// returns) would otherwise reach the limit, trap, and send a batch to
    /// the dead letters. Between batches, so nothing is lost; a plugin that
    /// cannot move its state keeps its instance.
    fn recycle_if_grown(&mut self) {
        let Some(old) = self.instance.as_mut() else {
            return;
        };
        let now = old.memory_bytes();
        let first = *self.first_memory.get_or_insert(now);
        if now < self.running.limits.max_memory_bytes / 4 * 3 || now < first.saturating_mul(2) {
            return;
        }
        let cx = self.cx;
        let detail = format!(
            "its linear memory grew from {} MiB after its first batch to {} MiB (limit {} MiB)",
            first >> 20,
            now >> 20,
            self.running.limits.max_memory_bytes >> 20
        );
        let moved = old
            .snapshot()
            .map_err(|e| format!("cannot snapshot its state: {}", with_causes(&e)))
            .and_then(|state| {
                let mut fresh = (self.open)(&self.running, AuditEvent::Recycle, Some(&detail))?;
                if let Some(state) = state {
                    fresh.restore(&state).map_err(|e| {
                        format!("the fresh instance cannot restore it: {}", with_causes(&e))
                    })?;
                }
                Ok(fresh)
            });
        match moved {
            Ok(fresh) => {
                tracing::info!(node = %cx.instance_name(), %detail, "replaced a growing instance by a fresh one");
                self.instance = Some(fresh);
                self.first_memory = None;
            }
            Err(reason) => {
                tracing::warn!(node = %cx.instance_name(), %detail, %reason, "cannot replace a growing instance; it stays");
                // Not again for this instance.
                self.first_memory = Some(usize::MAX / 2);
            }
        }
    }
}

/// What one batch through a transform instance came to.
enum Step {
    /// Processed (its output sent on, rejected rows handled).
    Done,
    /// Every downstream node has gone: stop.
    DownstreamGone,
    /// The call failed; `true` when the instance is poisoned (trapped or
    /// broke the contract).
    Failed(PluginError, bool),
}

/// Processes `input` with `instance`; `selects` when it answers
/// selections. Outputs carry the acks `holding` gives them and come from
/// `origin`.
fn process_batch(
    cx: &Context<'_>,
    instance: &mut TransformInstance,
    input: &Envelope,
    selects: bool,
    holding: &Holding,
    origin: Option<&Origin>,
) -> Result<Step, String> {
    let batch = &input.batch;
    let started = Instant::now();
    let result = instance.process(batch);
    cx.stats.busy(started);
    let processed = match result {
        Ok(processed) => processed,
        Err(error) => {
            let poisoned = instance.trapped() || error.breaks_contract();
            return Ok(Step::Failed(error, poisoned));
        }
    };
    if selects {
        let kept: usize = processed.batches.iter().map(|b| b.num_rows()).sum();
        let left_out = batch
            .num_rows()
            .saturating_sub(processed.rejected.len() + kept);
        NodeStats::add(&cx.stats.filtered, left_out);
    }
    if !processed.rejected.is_empty() {
        let rows: Vec<_> = processed
            .rejected
            .into_iter()
            .map(|r| (r.row, r.message))
            .collect();
        cx.failed_rows(batch, &rows)?;
    }
    for output in processed.batches {
        if !cx.emit(output, holding.output_acks(&input.acks), origin) {
            return Ok(Step::DownstreamGone);
        }
    }
    Ok(Step::Done)
}

/// Moves the clock of an event-time transform to `clock`'s watermark and
/// sends what that completes; `false` when every downstream node has gone.
fn advance(
    cx: &Context<'_>,
    transform: &mut Recreated<'_, TransformInstance>,
    clock: &Clock,
    holding: &mut Holding,
) -> Result<bool, String> {
    let (Some(watermark), Ok(instance)) = (clock.watermark(), transform.get()) else {
        return Ok(true);
    };
    let started = Instant::now();
    let result = instance.advance(watermark);
    cx.stats.busy(started);
    match result {
        Ok(batches) => {
            let origin = cx.origin("");
            Ok(batches
                .into_iter()
                .all(|batch| cx.emit(batch, holding.output_acks(&[]), Some(&origin))))
        }
        Err(error) => {
            // No input batch failed: nothing goes to the dead letters, but
            // the error policy and re-creation apply as for a batch.
            let poisoned = instance.trapped() || error.breaks_contract();
            let none = RecordBatch::new_empty(cx.node.input_schema.clone().expect("typed graph"));
            transform.failed(&none, &error, poisoned)?;
            if poisoned {
                holding.lost(transform.get().ok())?;
            }
            Ok(true)
        }
    }
}

/// Whether a transform answers with selections (derived output).
fn selects(instance: Option<&mut TransformInstance>) -> bool {
    matches!(
        instance.and_then(|t| t.output_mode().cloned()),
        Some(OutputMode::Derived { .. })
    )
}

/// The instance a hot reload replaced, kept until the new one has processed
/// its first batch.
struct Standby {
    instance: Option<TransformInstance>,
    running: Running,
    selects: bool,
    reply: crossbeam_channel::Sender<Result<Swapped, String>>,
    swapped: Swapped,
}

fn plugin_transform(cx: &Context<'_>, plugin: &Plugin) -> Result<(), String> {
    let input_schema = cx.node.input_schema.as_ref().expect("typed graph");
    let open = |running: &Running, event, detail: Option<&str>| {
        cx.instance(
            running,
            event,
            detail,
            TransformInstance::with_grants,
            |t, config| t.open(config, input_schema).map(drop),
        )
    };
    let adopted = cx.adopt::<TransformInstance>()?;
    let mut transform = Recreated::new(cx, &open, Running::initial(cx, plugin), adopted)?;
    let mut holding = Holding::open(cx.state_dir, &cx.instance_name(), transform.get()?)?;
    // A derived answer keeps, rejects or leaves out each input row.
    let mut selecting = selects(transform.get().ok());
    let mut standby: Option<Standby> = None;
    let never = crossbeam_channel::never();
    let reloads = cx.reloads.as_ref().unwrap_or(&never);
    let checkpoints = crossbeam_channel::tick(cx.checkpoint_every);
    // A transform that tracks event time is a producer of its own: its
    // outputs come from it, and it is waited for downstream.
    let mut clock = cx
        .node
        .event_time
        .map(|column| Clock::new(column, cx.producers.clone()));
    let own = clock.as_ref().map(|_| cx.origin(""));
    if clock.is_some() {
        cx.announce_own(Some(one_part()));
    }
    loop {
        let input = crossbeam_channel::select! {
            recv(cx.input) -> input => match input {
                Ok(Message::Batch(input)) => input,
                Ok(Message::Announce(announcement)) => {
                    match &mut clock {
                        None => cx.announce(announcement),
                        Some(clock) => {
                            clock.announce(&announcement);
                            if !advance(cx, &mut transform, clock, &mut holding)? {
                                return Ok(());
                            }
                        }
                    }
                    continue;
                }
                Err(_) => break,
            },
            recv(checkpoints) -> _ => {
                if let Ok(instance) = transform.get() {
                    holding.checkpoint(instance);
                }
                continue;
            },
            recv(reloads) -> request => {
                let Ok(request) = request else { continue };
                if let Some(pending) = standby.take() {
                    confirm(cx, pending)?;
                }
                let new_plugin = request.replacement.plugin.clone();
                let running = transform.running.replaced(request.replacement);
                match swap(cx, &mut transform, &open, running) {
                    Ok((old, previous, swapped)) => {
                        standby = Some(Standby {
                            instance: old,
                            running: previous,
                            selects: selecting,
                            reply: request.reply,
                            swapped,
                        });
                        selecting = selects(transform.get().ok());
                    }
                    Err(reason) => refuse(cx, &new_plugin, request.reply, &reason)?,
                }
                continue;
            },
        };
        cx.stats.received(&input.batch);
        let origin = own.as_ref().or(input.origin.as_ref());
        let run =
            |transform: &mut Recreated<'_, TransformInstance>, selecting| match transform.get() {
                Ok(instance) => process_batch(cx, instance, &input, selecting, &holding, origin),
                Err(none_left) => cx
                    .failed_batch(&input.batch, &none_left)
                    .map(|()| Step::Done),
            };
        let mut step = run(&mut transform, selecting)?;
        if let Some(pending) = standby.take() {
            match &step {
                // The new version failed its first batch: back to the old
                // one, which has not seen the batch, and let it process it.
                Step::Failed(error, true) => {
                    let reason = format!(
                        "the new version failed on its first batch: {}",
                        with_causes(error)
                    );
                    let new_plugin = transform.running.plugin.clone();
                    if let Some(old) = pending.instance {
                        transform.replace(old, pending.running);
                    }
                    selecting = pending.selects;
                    refuse(cx, &new_plugin, pending.reply, &reason)?;
                    step = run(&mut transform, selecting)?;
                }
                _ => confirm(cx, pending)?,
            }
        }
        match step {
            Step::Done => transform.recycle_if_grown(),
            Step::DownstreamGone => return Ok(()),
            Step::Failed(error, poisoned) => {
                transform.failed(&input.batch, &error, poisoned)?;
                if poisoned {
                    holding.lost(transform.get().ok())?;
                }
            }
        }
        if let Some(clock) = &mut clock {
            // After the call: the batch's own rows are never late for it.
            clock.observe(input.origin.as_ref(), &input.batch);
            if !advance(cx, &mut transform, clock, &mut holding)? {
                return Ok(());
            }
        }
        holding.took(input.acks);
    }
    if let Some(pending) = standby.take() {
        confirm(cx, pending)?;
    }
    let finished = match transform.get() {
        Ok(instance) => {
            let started = Instant::now();
            let rest = instance.finish().map_err(|e| e.to_string())?;
            cx.stats.busy(started);
            for output in rest {
                cx.emit(output, holding.output_acks(&[]), own.as_ref());
            }
            holding.finished()
        }
        Err(_) => Ok(()),
    };
    if clock.is_some() {
        cx.announce_own(None);
    }
    finished
}

/// Opens `plugin` for the node, checks its output schema against the one
/// downstream was built for and moves the running instance's state into it;
/// then runs it. Answers the replaced instance and plugin, or why not.
fn swap(
    cx: &Context<'_>,
    transform: &mut Recreated<'_, TransformInstance>,
    open: Open<'_, TransformInstance>,
    running: Running,
) -> Result<(Option<TransformInstance>, Running, Swapped), String> {
    let started = Instant::now();
    let mut new = open(&running, AuditEvent::Load, Some("hot reload"))
        .map_err(|e| format!("the new version does not open: {e}"))?;
    if new.event_time() != cx.node.event_time {
        return Err(format!(
            "the new version tracks event time {}, the running one {}; a reload cannot change that",
            tracking(new.event_time()),
            tracking(cx.node.event_time)
        ));
    }
    let expected = cx.node.output_schema.as_ref().expect("typed graph");
    let answered = new.output_schema().cloned().expect("opened");
    if answered.fields() != expected.fields() {
        return Err(format!(
            "the new version's output schema differs from what downstream expects: expected [{}], got [{}]",
            crate::graph::schema_line(expected),
            crate::graph::schema_line(&answered)
        ));
    }
    if let Ok(old) = transform.get() {
        let state = old.snapshot().map_err(|e| {
            format!(
                "the running version cannot snapshot its state: {}",
                with_causes(&e)
            )
        })?;
        if let Some(state) = state {
            new.restore(&state).map_err(|e| {
                format!(
                    "the new version cannot restore the state: {}",
                    with_causes(&e)
                )
            })?;
        }
    }
    let old_digest = transform.running.plugin.digest().to_string();
    let new_digest = running.plugin.digest().to_string();
    let (old, previous) = transform.replace(new, running);
    let swapped = Swapped {
        old_digest,
        new_digest,
        pause: started.elapsed(),
    };
    Ok((old, previous, swapped))
}

/// How an instance tracks event time, for messages.
fn tracking(column: Option<usize>) -> String {
    match column {
        Some(column) => format!("in input column {column}"),
        None => "not at all".into(),
    }
}

/// The new version passed its first batch (or the input ended): the swap
/// stands.
fn confirm(cx: &Context<'_>, pending: Standby) -> Result<(), String> {
    let Swapped {
        old_digest,
        new_digest,
        pause,
    } = &pending.swapped;
    let detail = format!("from {old_digest} to {new_digest}, paused {pause:?}");
    tracing::info!(node = %cx.instance_name(), %old_digest, %new_digest, ?pause, "plugin swapped");
    cx.audit(AuditEvent::Swap, Some(&detail))?;
    NodeStats::add(&cx.stats.reloads, 1);
    *cx.stats.swapped_digest.lock().expect("digest lock") = Some(new_digest.clone());
    let _ = pending.reply.send(Ok(pending.swapped));
    Ok(())
}

/// Refuses a reload to `plugin` for `reason`; the running version stays.
fn refuse(
    cx: &Context<'_>,
    plugin: &Plugin,
    reply: crossbeam_channel::Sender<Result<Swapped, String>>,
    reason: &str,
) -> Result<(), String> {
    let detail = format!("refused {}: {reason}", plugin.digest());
    tracing::warn!(node = %cx.instance_name(), new_digest = %plugin.digest(), reason, "hot reload refused; the running version stays");
    cx.audit(AuditEvent::ReloadRefused, Some(&detail))?;
    let _ = reply.send(Err(reason.to_string()));
    Ok(())
}

fn connector_sink(cx: &Context<'_>, connector: &dyn SinkConnector) -> Result<(), String> {
    let schema = cx.node.input_schema.as_ref().expect("typed graph");
    let sink = connector.open(schema).map_err(|e| e.to_string())?;
    write_all(cx, ConnectorSink(sink))
}

fn plugin_sink(cx: &Context<'_>, plugin: &Plugin) -> Result<(), String> {
    let schema = cx.node.input_schema.as_ref().expect("typed graph");
    let open = |running: &Running, event, detail: Option<&str>| {
        cx.instance(
            running,
            event,
            detail,
            SinkInstance::with_grants,
            |sink, config| sink.open(config, schema),
        )
    };
    let adopted = cx.adopt::<SinkInstance>()?;
    write_all(
        cx,
        Recreated::new(cx, &open, Running::initial(cx, plugin), adopted)?,
    )
}

/// A sink as the executor drives it.
trait Writes {
    /// Writes `batch`, applying the node's error policy if it fails.
    fn write(&mut self, cx: &Context<'_>, batch: &RecordBatch) -> Result<(), String>;
    /// Makes everything written so far durable.
    fn flush(&mut self) -> Result<(), String>;
}

struct ConnectorSink(Box<dyn crate::connectors::Sink>);

impl Writes for ConnectorSink {
    fn write(&mut self, cx: &Context<'_>, batch: &RecordBatch) -> Result<(), String> {
        let started = Instant::now();
        let result = self.0.write(batch);
        cx.stats.busy(started);
        match result {
            Ok(()) => {
                cx.stats.sent(batch);
                Ok(())
            }
            Err(error) => cx.failed_batch(batch, &error.to_string()),
        }
    }

    fn flush(&mut self) -> Result<(), String> {
        self.0.flush().map_err(|e| e.to_string())
    }
}

impl Writes for Recreated<'_, SinkInstance> {
    fn write(&mut self, cx: &Context<'_>, batch: &RecordBatch) -> Result<(), String> {
        let instance = match self.get() {
            Ok(instance) => instance,
            Err(none_left) => return cx.failed_batch(batch, &none_left),
        };
        let started = Instant::now();
        let result = instance.write(batch);
        cx.stats.busy(started);
        match result {
            Ok(()) => {
                cx.stats.sent(batch);
                Ok(())
            }
            Err(error) => {
                let poisoned = instance.trapped() || error.breaks_contract();
                self.failed(batch, &error, poisoned)
            }
        }
    }

    fn flush(&mut self) -> Result<(), String> {
        // Without an instance, every batch since the last went to the dead
        // letters: nothing to flush.
        match self.get() {
            Ok(sink) => sink.flush().map_err(|e| e.to_string()),
            Err(_) => Ok(()),
        }
    }
}

/// Writes every input batch to `sink`, flushing it at every checkpoint that
/// has new batches and at the end; a batch is acknowledged only after the
/// flush that made it durable.
fn write_all(cx: &Context<'_>, mut sink: impl Writes) -> Result<(), String> {
    let mut written: Vec<Ack> = Vec::new();
    let checkpoints = crossbeam_channel::tick(cx.checkpoint_every);
    loop {
        crossbeam_channel::select! {
            recv(cx.input) -> input => match input {
                Ok(Message::Batch(input)) => {
                    cx.stats.received(&input.batch);
                    sink.write(cx, &input.batch)?;
                    written.extend(input.acks);
                }
                Ok(Message::Announce(_)) => {}
                Err(_) => break,
            },
            recv(checkpoints) -> _ => if !written.is_empty() {
                sink.flush()?;
                release(std::mem::take(&mut written));
            },
        }
    }
    sink.flush()?;
    release(written);
    cx.durable.closed();
    Ok(())
}
