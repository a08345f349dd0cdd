//! Per-node counters, progress reports and the end-of-run summary.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::Kind;
use crate::graph::Graph;

/// Counters of one node, shared by its instances.
#[derive(Debug, Default)]
pub struct NodeStats {
    /// Rows received.
    pub rows_in: AtomicU64,
    /// Rows sent downstream (sinks: rows written).
    pub rows_out: AtomicU64,
    /// Batches received.
    pub batches_in: AtomicU64,
    /// Batches sent downstream (sinks: batches written).
    pub batches_out: AtomicU64,
    /// Arrow buffer bytes of the batches received.
    pub bytes_in: AtomicU64,
    /// Arrow buffer bytes of the batches sent downstream (sinks: written).
    pub bytes_out: AtomicU64,
    /// The digest of the plugin a hot reload swapped in last, if any.
    pub swapped_digest: std::sync::Mutex<Option<String>>,
    /// Rows or records sent to the dead letters.
    pub dead_letters: AtomicU64,
    /// Rows or records dropped because of errors (`on_error: skip`).
    pub skipped: AtomicU64,
    /// Rows a transform answering by selection left out.
    pub filtered: AtomicU64,
    /// Instances re-created after a trap or a contract breach.
    pub restarts: AtomicU64,
    /// Hot reloads that swapped the plugin.
    pub reloads: AtomicU64,
    /// An instance of the node gave up on its plugin (re-created too often);
    /// the run then fails once its input has ended.
    pub gave_up: std::sync::atomic::AtomicBool,
    /// Bytes of linear memory the node's plugin instances hold now.
    pub memory_bytes: Arc<AtomicU64>,
    /// What the node's plugin reported through `counter-add` and
    /// `gauge-set`, over all its instances.
    pub plugin_metrics: crate::plugin::NodeMetrics,
    /// How far a source is behind its input, if it knows (updated about
    /// once a second).
    pub lag: std::sync::Mutex<Option<crate::connectors::Lag>>,
    /// What the node's source says for the summary at the end, if anything.
    pub report: std::sync::Mutex<Option<String>>,
    /// Nanoseconds spent working (not waiting on channels).
    pub busy_nanos: AtomicU64,
    /// Calls into the node's plugin or connector by duration: the count in
    /// each bucket of [`CALL_BUCKETS`] (not cumulative), the last for longer.
    pub calls: [AtomicU64; CALL_BUCKETS.len() + 1],
    /// Readers of the node's output (the admin API's tap).
    pub tap: super::tap::Tap,
    /// The fill of the node's input channel.
    pub queue: super::tap::QueueFill,
    /// The node's last few dead letters.
    pub recent_dead_letters: Arc<super::tap::RecentLetters>,
}

/// Upper bounds, in seconds, of the call-duration histogram's buckets.
pub const CALL_BUCKETS: [f64; 10] = [1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1.0, 5.0];

impl NodeStats {
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts a batch received, with `waiting` messages still queued
    /// behind it.
    pub(crate) fn received(&self, batch: &arrow::array::RecordBatch, waiting: usize) {
        Self::add(&self.rows_in, batch.num_rows());
        Self::add(&self.batches_in, 1);
        Self::add(&self.bytes_in, batch.get_array_memory_size());
        self.queue.waiting.store(waiting as u64, Ordering::Relaxed);
    }

    /// Counts a batch sent downstream (or written, for sinks).
    pub(crate) fn sent(&self, batch: &arrow::array::RecordBatch) {
        Self::add(&self.rows_out, batch.num_rows());
        Self::add(&self.batches_out, 1);
        Self::add(&self.bytes_out, batch.get_array_memory_size());
        self.tap.offer(batch);
    }

    /// Records one call that started at `since`.
    pub(crate) fn busy(&self, since: Instant) {
        let took = since.elapsed();
        self.busy_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        let bucket = CALL_BUCKETS
            .iter()
            .position(|&bound| took.as_secs_f64() <= bound)
            .unwrap_or(CALL_BUCKETS.len());
        self.calls[bucket].fetch_add(1, Ordering::Relaxed);
    }
}

/// What one node did in a run.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSummary {
    /// The node.
    pub name: String,
    /// Its section.
    pub kind: Kind,
    /// Rows received (sources: rows read).
    pub rows_in: u64,
    /// Rows sent on (sinks: rows written).
    pub rows_out: u64,
    /// Batches received.
    pub batches_in: u64,
    /// Batches sent on or written.
    pub batches_out: u64,
    /// Arrow buffer bytes of the batches sent on or written.
    pub bytes_out: u64,
    /// Rows or records in the dead letters.
    pub dead_letters: u64,
    /// Rows or records dropped on error.
    pub skipped: u64,
    /// Rows a selecting transform left out: for such nodes, rows in = rows
    /// out + filtered + dead letters + skipped.
    pub filtered: u64,
    /// Instances re-created after a trap or a contract breach.
    pub restarts: u64,
    /// Hot reloads that swapped the plugin.
    pub reloads: u64,
    /// Time spent working.
    pub busy: Duration,
    /// What its source says at the end (see `Source::report`).
    pub report: Option<String>,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Per node, in topological order.
    pub nodes: Vec<NodeSummary>,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// The process's peak resident memory so far, in bytes (Linux only).
    pub peak_memory: Option<u64>,
    /// The results of the data-quality gates' rules, in graph order.
    pub quality: Vec<RuleResult>,
}

/// What one data-quality rule found (see [`crate::graph::quality`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleResult {
    /// The gate node.
    pub node: String,
    /// The rule, as configured.
    pub rule: crate::graph::quality::Rule,
    /// Rows checked (for `row_count`: 1 once the run ended).
    pub checked: u64,
    /// Of those, rows that broke it.
    pub failed: u64,
}

impl RuleResult {
    /// Whether the rule held for everything it checked.
    pub fn held(&self) -> bool {
        self.failed == 0
    }
}

/// A memory figure of this process from `/proc/self/status`, in bytes:
/// `VmHWM` (peak resident set) or `VmRSS` (resident now); `None` where the
/// file or the field does not exist.
pub fn process_memory(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?;
    let kib: u64 = line.split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// Peak resident set size of this process.
fn peak_memory() -> Option<u64> {
    process_memory("VmHWM")
}

impl Summary {
    pub(crate) fn new(graph: &Graph, stats: &[Arc<NodeStats>], elapsed: Duration) -> Self {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Self {
            nodes: graph
                .nodes
                .iter()
                .zip(stats)
                .map(|(node, s)| NodeSummary {
                    name: node.name.clone(),
                    kind: node.kind(),
                    rows_in: load(&s.rows_in),
                    rows_out: load(&s.rows_out),
                    batches_in: load(&s.batches_in),
                    batches_out: load(&s.batches_out),
                    bytes_out: load(&s.bytes_out),
                    dead_letters: load(&s.dead_letters),
                    skipped: load(&s.skipped),
                    filtered: load(&s.filtered),
                    restarts: load(&s.restarts),
                    reloads: load(&s.reloads),
                    busy: Duration::from_nanos(load(&s.busy_nanos)),
                    report: s.report.lock().expect("report lock").clone(),
                })
                .collect(),
            elapsed,
            peak_memory: peak_memory(),
            quality: rule_results(graph, stats),
        }
    }

    /// Rows the sources produced.
    pub fn source_rows(&self) -> u64 {
        self.nodes
            .iter()
            .filter(|n| n.kind == Kind::Source)
            .map(|n| n.rows_out)
            .sum()
    }

    /// The summary of node `name`.
    pub fn node(&self, name: &str) -> Option<&NodeSummary> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

/// Each quality gate's rules with the counts its plugin reported.
fn rule_results(graph: &Graph, stats: &[Arc<NodeStats>]) -> Vec<RuleResult> {
    let mut results = Vec::new();
    for (node, stats) in graph.nodes.iter().zip(stats) {
        let metrics = stats.plugin_metrics.lock().expect("metrics lock");
        for rule in node.quality_rules() {
            let count = |what: &str| {
                let name = format!("rule.{}.{what}", rule.name);
                metrics.counters.get(&name).copied().unwrap_or(0)
            };
            results.push(RuleResult {
                node: node.name.clone(),
                checked: count("checked"),
                failed: count("failed"),
                rule,
            });
        }
    }
    results
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<20} {:<10} {:>12} {:>12} {:>12} {:>9} {:>12} {:>9} {:>10}",
            "node",
            "kind",
            "rows in",
            "rows out",
            "filtered",
            "batches",
            "dead letters",
            "skipped",
            "busy"
        )?;
        for n in &self.nodes {
            writeln!(
                f,
                "{:<20} {:<10} {:>12} {:>12} {:>12} {:>9} {:>12} {:>9} {:>9.2}s",
                n.name,
                n.kind.name(),
                n.rows_in,
                n.rows_out,
                n.filtered,
                n.batches_out,
                n.dead_letters,
                n.skipped,
                n.busy.as_secs_f64()
            )?;
        }
        for n in self.nodes.iter().filter(|n| n.restarts > 0) {
            writeln!(
                f,
                "{}: instance re-created {} time(s) after traps or contract breaches (see the dead letters)",
                n.name, n.restarts
            )?;
        }
        for n in self.nodes.iter().filter(|n| n.reloads > 0) {
            writeln!(
                f,
                "{}: plugin swapped {} time(s) by hot reload",
                n.name, n.reloads
            )?;
        }
        for n in &self.nodes {
            if let Some(report) = &n.report {
                writeln!(f, "{}: {report}", n.name)?;
            }
        }
        for r in &self.quality {
            let column = r
                .rule
                .column
                .as_deref()
                .map(|c| format!(" {c}"))
                .unwrap_or_default();
            writeln!(
                f,
                "{}: rule {} ({}{column}, {}): {} of {} failed{}",
                r.node,
                r.rule.name,
                r.rule.check,
                r.rule.severity,
                r.failed,
                r.checked,
                if r.held() { "" } else { " (broken)" }
            )?;
        }
        let read = self.source_rows();
        let secs = self.elapsed.as_secs_f64();
        write!(
            f,
            "{read} rows from sources in {secs:.2}s ({:.0} rows/s)",
            read as f64 / secs.max(1e-9)
        )?;
        match self.peak_memory {
            Some(bytes) => write!(f, ", peak memory {:.1} MiB", bytes as f64 / 1048576.0),
            None => Ok(()),
        }
    }
}

/// Told how a run is going while it lasts: the CLI draws a progress line
/// from it; an embedder may log or export it.
pub trait Progress: Send + Sync {
    /// How often [`Progress::update`] is called.
    fn every(&self) -> Duration;
    /// The run so far.
    fn update(&self, summary: &Summary);
    /// The run has ended (its summary follows as the run's result).
    fn finish(&self) {}
}

/// Tells `progress` the run's summary every [`Progress::every`] until the
/// run drops the sending end of `finished`, which ends it at once (a short
/// run does not wait out a polling interval).
pub(crate) fn report_progress(
    graph: &Graph,
    stats: &[Arc<NodeStats>],
    progress: &dyn Progress,
    started: Instant,
    finished: &crossbeam_channel::Receiver<()>,
) {
    let mut last = Instant::now();
    while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
        finished.recv_timeout(Duration::from_millis(50))
    {
        if last.elapsed() < progress.every() {
            continue;
        }
        last = Instant::now();
        progress.update(&Summary::new(graph, stats, started.elapsed()));
    }
    progress.finish();
}
