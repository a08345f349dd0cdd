//! The executor: runs a [`Graph`] with one thread per node instance and
//! bounded channels between nodes, so a slow sink slows the source instead of
//! growing memory. Fan-out hands every downstream node the same batch (arrays
//! are shared, not copied); `parallelism: N` runs N instances of a transform
//! on one input channel.
//!
//! Wasm calls are synchronous CPU work, so each instance owns a thread of its
//! own and never blocks an async reactor (tokio only watches for Ctrl-C).
//! Measured in `benches/executor.rs`: four instances on two cores run as
//! fast on threads as on tokio with wasmtime's async calls and epoch
//! yielding, a single call is about 15 % cheaper without the fiber switch,
//! and `spawn_blocking` per call is twice as slow. A stop flag (set on Ctrl-C) makes
//! sources end early, after which everything in flight drains and every sink
//! closes its files.

mod acks;
mod audit;
mod budget;
mod checkpoint;
mod commits;
mod dead_letters;
mod durable;
mod event_time;
mod node;
mod plugin_source;
mod positions;
mod reload;
mod several;
mod stats;
mod tap;

use crate::lineage::Outcome;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use crate::Kind;
use crate::graph::Graph;
use crate::plugin::PluginEngine;
use crate::{Error, Fault, Stage};
use acks::Message;

pub use audit::{AuditEvent, AuditLog};
pub use budget::{BudgetBreach, breaches};
pub use dead_letters::DeadLetters;
pub use reload::{ReloadError, ReloadInboxes, Reloader, Replacement, Swapped, reload_channels};
pub use several::prepare;
pub use stats::{CALL_BUCKETS, NodeStats, NodeSummary, Progress, Summary, process_memory};
pub use tap::{QueueFill, RecentLetters, Tap};

/// How to run a graph.
#[derive(Clone)]
pub struct RunOptions {
    /// Batches buffered on each edge.
    pub channel_capacity: usize,
    /// Rows a plugin source is asked for per call.
    pub source_batch_rows: u32,
    /// Told how the run is going while it lasts (`None`: nobody).
    pub progress: Option<Arc<dyn Progress>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            channel_capacity: 4,
            source_batch_rows: 8192,
            progress: None,
        }
    }
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("channel_capacity", &self.channel_capacity)
            .field("source_batch_rows", &self.source_batch_rows)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// A run that ended with an error. Its text lists every node's error with
/// its causes, one a line; [`RunError::errors`] has them typed.
#[derive(Debug, thiserror::Error)]
#[error("{}", errors.iter().map(Error::with_causes).collect::<Vec<_>>().join("\n"))]
pub struct RunError {
    /// Every node that failed, with why (each names its node).
    pub errors: Vec<Error>,
    /// What the run did before it stopped.
    pub summary: Summary,
}

/// Runs `graph` to the end of its inputs (or until `stop` is set), then
/// closes every sink. Returns the per-node summary.
pub fn run(
    graph: &Graph,
    engine: &PluginEngine,
    options: &RunOptions,
    stop: &AtomicBool,
) -> Result<Summary, RunError> {
    run_reloadable(
        graph,
        engine,
        options,
        stop,
        ReloadInboxes::none(),
        &node_stats(graph),
    )
}

/// Fresh counters for every node of `graph`, in the graph's order: hand
/// them to [`run_reloadable`] to read them while it runs.
pub fn node_stats(graph: &Graph) -> Vec<Arc<NodeStats>> {
    graph.nodes.iter().map(|_| Arc::default()).collect()
}

/// Like [`run`], taking hot reload requests from the [`Reloader`] that
/// [`reload_channels`] made with `inboxes`, and counting into `stats` (from
/// [`node_stats`]).
pub fn run_reloadable(
    graph: &Graph,
    engine: &PluginEngine,
    options: &RunOptions,
    stop: &AtomicBool,
    mut inboxes: ReloadInboxes,
    stats: &[Arc<NodeStats>],
) -> Result<Summary, RunError> {
    let started = Instant::now();
    // Names the run in its dead letters: a re-run appends to the same files.
    let run = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert_eq!(stats.len(), graph.nodes.len(), "one counter set per node");
    let (senders, receivers): (Vec<Sender<Message>>, Vec<Receiver<Message>>) = graph
        .nodes
        .iter()
        .map(|_| crossbeam_channel::bounded(options.channel_capacity))
        .unzip();
    let failures = std::sync::Mutex::new(Vec::new());
    let failed = AtomicBool::new(false);
    // Dropped when every node thread has ended: the progress thread ends.
    let (finished, run_ended) = crossbeam_channel::bounded::<()>(0);
    let sink_instances = graph
        .nodes
        .iter()
        .filter(|n| n.kind() == Kind::Sink)
        .map(|n| n.spec.parallelism)
        .sum();
    let durable = durable::Durable::new(sink_instances);
    let pipeline = &graph.pipeline;
    let audit = AuditLog::new(&pipeline.audit_log, &pipeline.tenant.name, &pipeline.name);
    let lineage = crate::lineage::Lineage::start(graph);

    std::thread::scope(|scope| {
        let mut threads = Vec::new();
        for (i, node) in graph.nodes.iter().enumerate() {
            let outputs: Vec<Sender<Message>> = graph
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.inputs.contains(&i))
                .map(|(j, _)| senders[j].clone())
                .collect();
            let dead_letters = Arc::new(DeadLetters::new(
                &graph.pipeline.dead_letter_dir,
                &node.name,
                &run,
                stats[i].recent_dead_letters.clone(),
            ));
            let capacity = options.channel_capacity as u64;
            stats[i].queue.capacity.store(capacity, Ordering::Relaxed);
            for instance in 0..node.spec.parallelism {
                let context = node::Context {
                    node,
                    instance,
                    engine,
                    options,
                    input: receivers[i].clone(),
                    outputs: outputs.clone(),
                    producers: graph.producers(i),
                    feeds_event_time: graph.feeds_event_time(i),
                    input_skipped_by_bounds: graph.input_skipped_by_bounds(i),
                    stats: stats[i].clone(),
                    dead_letters: dead_letters.clone(),
                    stop: &*stop,
                    failed: &failed,
                    state_dir: &graph.pipeline.state_dir,
                    checkpoint_every: graph.pipeline.checkpoint_interval,
                    audit: &audit,
                    durable: &durable,
                    sink_context: graph.sink_context(i),
                    reloads: inboxes.take(&node.name),
                };
                let failures = &failures;
                let failed = &failed;
                let thread = std::thread::Builder::new()
                    .name(format!("weir-{}", node.name))
                    .spawn_scoped(scope, move || {
                        if let Err(error) = node::run(context) {
                            failed.store(true, Ordering::SeqCst);
                            failures
                                .lock()
                                .expect("failures lock")
                                .push(error.at(&node.name));
                        }
                    })
                    .expect("spawn a node thread");
                threads.push((node.name.clone(), thread));
            }
        }
        // Only the node threads hold channel ends now, so channels close as
        // upstream nodes finish.
        drop(senders);
        drop(receivers);
        if let Some(progress) = &options.progress {
            let (stats, run_ended) = (&stats, &run_ended);
            let progress = &**progress;
            scope.spawn(move || {
                stats::report_progress(graph, stats, progress, started, run_ended);
            });
        }
        for (node, thread) in threads {
            if thread.join().is_err() {
                failed.store(true, Ordering::SeqCst);
                let panicked =
                    Error::new(Stage::Call, Fault::Internal, "the node's thread panicked");
                failures
                    .lock()
                    .expect("failures lock")
                    .push(panicked.at(&node));
            }
        }
        drop(finished);
    });
    for stats in stats {
        stats.tap.close();
    }

    let mut errors = failures.into_inner().expect("failures lock");
    let summary = Summary::new(graph, stats, started.elapsed());
    // A node that gave up on its plugin ran on (each later batch met its
    // `on_error`), but the run did not do its work: it fails.
    for (node, stats) in graph.nodes.iter().zip(stats) {
        let failed = |e: &Error| e.node() == Some(node.name.as_str());
        if stats.gave_up.load(Ordering::SeqCst) && !errors.iter().any(failed) {
            let letters = summary.node(&node.name).map_or(0, |n| n.dead_letters);
            let gave_up = Error::new(
                Stage::Call,
                Fault::Plugin,
                format!(
                    "gave up on its plugin after {} re-creations; every later batch met `on_error` ({letters} dead letters in all)",
                    node::supervisor::MAX_RESTARTS
                ),
            );
            errors.push(gave_up.at(&node.name));
        }
    }
    if let Some(lineage) = lineage {
        let breaches = budget::breaches(graph, &summary);
        let outcome = match (errors.first(), breaches.first()) {
            (Some(error), _) => Outcome::Fail(error.with_causes()),
            (None, Some(breach)) => Outcome::Fail(breach.to_string()),
            (None, None) if stop.load(Ordering::SeqCst) => Outcome::Abort,
            (None, None) => Outcome::Complete,
        };
        lineage.end(&summary, &outcome);
    }
    match errors.is_empty() {
        true => Ok(summary),
        false => Err(RunError { errors, summary }),
    }
}
