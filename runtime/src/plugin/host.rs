//! The state of one plugin instance (its wasmtime `Store` data) and the
//! host side of the `weir:plugin/host` interface.
//!
//! Log records go to `tracing` with the node's name; counters and gauges go
//! to the node's [`NodeMetrics`], which its instances share and the metrics
//! endpoint exports.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::host::{self, Level};
use super::error::{PluginError, boxed};
use super::grants::Grants;
use super::limits::{Limiter, Limits};
use super::schedule::CallWindow;
use super::stdio::{LogStream, RateLimit};

/// Plugin-defined metrics reported through the `host` interface.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PluginMetrics {
    /// Counters by name.
    pub counters: BTreeMap<String, u64>,
    /// Gauges by name.
    pub gauges: BTreeMap<String, f64>,
    /// Updates dropped because they named a new metric past
    /// [`MAX_METRICS`], or a name longer than [`MAX_METRIC_NAME`].
    pub refused: u64,
}

/// The plugin metrics of one node: its instances (parallel ones, and those
/// re-created after a trap or swapped in by a reload) add to the same
/// counters, and the last gauge set wins.
pub type NodeMetrics = Arc<Mutex<PluginMetrics>>;

/// What a plugin instance's `Store` holds.
pub struct HostState {
    node: String,
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) metrics: NodeMetrics,
    /// The call in progress, with its deadline (see [`super::schedule`]).
    pub(crate) call: Option<CallWindow>,
    /// Bounds the `log` records written, as stdout's lines are.
    log_rate: RateLimit,
}

impl HostState {
    /// The node the instance runs as.
    pub(crate) fn node(&self) -> &str {
        &self.node
    }

    /// What the plugin reported through `counter-add` and `gauge-set` (with
    /// the node's other instances, when they share its metrics).
    pub fn metrics(&self) -> PluginMetrics {
        self.metrics.lock().expect("plugin metrics lock").clone()
    }

    /// State for an instance of the plugin running as `node`, granted no
    /// WASI capability beyond clocks and random numbers.
    pub fn new(node: &str, limits: &Limits) -> Result<Self, PluginError> {
        Self::with_grants(node, limits, &Grants::default())
    }

    /// State for an instance of the plugin running as `node`, with
    /// `grants` on top of clocks and random numbers. The plugin's stdout and
    /// stderr go to the log. Fails when a granted directory cannot be opened
    /// or the tenant has no instance left in its quota.
    pub fn with_grants(node: &str, limits: &Limits, grants: &Grants) -> Result<Self, PluginError> {
        let limiter = Limiter::new(limits).map_err(|breach| PluginError::Quota {
            plugin: node.to_string(),
            breach,
        })?;
        let mut wasi = WasiCtx::builder();
        wasi.stdout(LogStream::new(node, "stdout"))
            .stderr(LogStream::new(node, "stderr"));
        grants
            .apply(&mut wasi)
            .map_err(|e| PluginError::Instantiate {
                plugin: node.to_string(),
                source: boxed(e),
            })?;
        Ok(Self {
            node: node.to_string(),
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter,
            metrics: limits.metrics.clone().unwrap_or_default(),
            call: None,
            log_rate: RateLimit::default(),
        })
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Longest plugin log message or field kept, so a hostile plugin cannot flood
/// the log with one record.
const MAX_LOG_TEXT: usize = 4096;

/// Longest plugin log record (message and every field together) kept: the
/// fields past it are dropped and counted, so many clipped fields cannot add
/// up to one huge line either.
const MAX_LOG_RECORD: usize = 16 << 10;

/// Most distinct counters (and as many gauges) one node's plugin may
/// define, so a plugin inventing names cannot grow the host's memory or the
/// metrics endpoint without bound.
pub const MAX_METRICS: usize = 256;

/// Longest metric name kept, in bytes.
pub const MAX_METRIC_NAME: usize = 128;

impl PluginMetrics {
    /// Applies `update` to the metric `name` of `map`, created unless that
    /// would pass the bounds; a refusal is counted and warned about once.
    fn update<V: Default>(
        &mut self,
        map: impl FnOnce(&mut Self) -> &mut BTreeMap<String, V>,
        name: String,
        node: &str,
        update: impl FnOnce(&mut V),
    ) {
        let refused = self.refused;
        let map = map(self);
        if let Some(value) = map.get_mut(&name) {
            return update(value);
        }
        if map.len() < MAX_METRICS && name.len() <= MAX_METRIC_NAME {
            return update(map.entry(name).or_default());
        }
        if refused == 0 {
            tracing::warn!(
                node,
                metric = clip(&name),
                "plugin defines more than {MAX_METRICS} counters or gauges, or a name longer than {MAX_METRIC_NAME} bytes; ignoring those"
            );
        }
        self.refused += 1;
    }
}

fn clip(text: &str) -> &str {
    if text.len() <= MAX_LOG_TEXT {
        return text;
    }
    let mut end = MAX_LOG_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `key=value` pairs of `fields`, each clipped, in at most `room` bytes;
/// the fields past it are replaced by how many were left out.
fn bounded_fields(fields: &[(String, String)], room: usize) -> String {
    let mut text = String::new();
    for (n, (key, value)) in fields.iter().enumerate() {
        let (key, value) = (clip(key), clip(value));
        if text.len() + key.len() + value.len() + 2 > room {
            let _ = write!(text, " ({} more fields left out)", fields.len() - n);
            break;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(key);
        text.push('=');
        text.push_str(value);
    }
    text
}

impl host::Host for HostState {
    fn log(&mut self, level: Level, message: String, fields: Vec<(String, String)>) {
        let Some(dropped) = self.log_rate.allow() else {
            return;
        };
        let message = clip(&message);
        let fields = bounded_fields(&fields, MAX_LOG_RECORD.saturating_sub(message.len()));
        let fields = match dropped {
            0 => fields,
            _ => format!("{fields} (rate limit: {dropped} earlier records dropped)"),
        };
        let node = self.node.as_str();
        match level {
            Level::Trace => tracing::trace!(target: "weir::plugin", node, fields, "{message}"),
            Level::Debug => tracing::debug!(target: "weir::plugin", node, fields, "{message}"),
            Level::Info => tracing::info!(target: "weir::plugin", node, fields, "{message}"),
            Level::Warn => tracing::warn!(target: "weir::plugin", node, fields, "{message}"),
            Level::Error => tracing::error!(target: "weir::plugin", node, fields, "{message}"),
        }
    }

    fn counter_add(&mut self, name: String, delta: u64) {
        let mut metrics = self.metrics.lock().expect("plugin metrics lock");
        metrics.update(
            |m| &mut m.counters,
            name,
            &self.node,
            |c| *c = c.saturating_add(delta),
        );
    }

    fn gauge_set(&mut self, name: String, value: f64) {
        let mut metrics = self.metrics.lock().expect("plugin metrics lock");
        metrics.update(|m| &mut m.gauges, name, &self.node, |g| *g = value);
    }
}

impl super::bindings::types::Host for HostState {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::bindings::host::Host;

    #[test]
    fn metric_names_are_bounded_and_counters_saturate() {
        let shared = NodeMetrics::default();
        let limits = Limits {
            metrics: Some(shared.clone()),
            ..Limits::default()
        };
        let mut first = HostState::new("node", &limits).unwrap();
        for i in 0..100_000 {
            first.counter_add(format!("c{i}"), 1);
            first.gauge_set(format!("g{i}"), 1.0);
        }
        first.counter_add("x".repeat(MAX_METRIC_NAME + 1), 1);
        let metrics = shared.lock().unwrap().clone();
        assert_eq!(metrics.counters.len(), MAX_METRICS);
        assert_eq!(metrics.gauges.len(), MAX_METRICS);
        assert_eq!(metrics.refused, 2 * (100_000 - MAX_METRICS as u64) + 1);

        // A second instance of the node (a restart) adds to the same counters.
        let mut second = HostState::new("node", &limits).unwrap();
        second.counter_add("c0".into(), 41);
        assert_eq!(first.metrics().counters["c0"], 42);
        second.counter_add("c0".into(), u64::MAX);
        assert_eq!(first.metrics().counters["c0"], u64::MAX);
    }

    #[test]
    fn a_log_record_is_bounded_as_a_whole_and_log_calls_are_rate_limited() {
        let field = ("k".to_string(), "v".repeat(MAX_LOG_TEXT));
        let text = bounded_fields(&vec![field; 15_000], MAX_LOG_RECORD);
        assert!(text.len() < MAX_LOG_RECORD + 64, "{} bytes", text.len());
        assert!(
            text.ends_with("more fields left out)"),
            "{}",
            &text[text.len() - 40..]
        );

        let mut state = HostState::new("node", &Limits::default()).unwrap();
        for _ in 0..10_000 {
            state.log(Level::Error, "spam".into(), Vec::new());
        }
        let dropped = state.log_rate.dropped;
        assert!(dropped >= 9_800, "dropped {dropped}");
    }

    #[test]
    fn long_log_text_is_clipped_on_a_char_boundary() {
        let text = "é".repeat(MAX_LOG_TEXT);
        let clipped = clip(&text);
        assert!(clipped.len() <= MAX_LOG_TEXT && clipped.chars().all(|c| c == 'é'));
    }
}
