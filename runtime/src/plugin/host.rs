//! The state of one plugin instance (its wasmtime `Store` data) and the
//! host side of the `weir:plugin/host` interface.
//!
//! Log records go to `tracing` with the node's name; counters and gauges are
//! kept per instance and read by the executor and the metrics endpoint.

use std::collections::BTreeMap;

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::host::{self, Level};
use super::limits::Limits;

/// Plugin-defined metrics reported through the `host` interface.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PluginMetrics {
    /// Counters by name.
    pub counters: BTreeMap<String, u64>,
    /// Gauges by name.
    pub gauges: BTreeMap<String, f64>,
}

/// What a plugin instance's `Store` holds.
pub struct HostState {
    node: String,
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) metrics: PluginMetrics,
}

impl HostState {
    /// State for an instance of the plugin running as `node`, granted no
    /// WASI capability beyond clocks and random numbers.
    pub fn new(node: &str, limits: &Limits) -> Self {
        Self {
            node: node.to_string(),
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.max_memory_bytes)
                .instances(limits.max_instances)
                .tables(limits.max_tables)
                .memories(limits.max_instances)
                .build(),
            metrics: PluginMetrics::default(),
        }
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

impl host::Host for HostState {
    fn log(&mut self, level: Level, message: String, fields: Vec<(String, String)>) {
        let fields = fields
            .iter()
            .map(|(k, v)| format!("{}={}", clip(k), clip(v)))
            .collect::<Vec<_>>()
            .join(" ");
        let (node, message) = (self.node.as_str(), clip(&message));
        match level {
            Level::Trace => tracing::trace!(target: "weir::plugin", node, fields, "{message}"),
            Level::Debug => tracing::debug!(target: "weir::plugin", node, fields, "{message}"),
            Level::Info => tracing::info!(target: "weir::plugin", node, fields, "{message}"),
            Level::Warn => tracing::warn!(target: "weir::plugin", node, fields, "{message}"),
            Level::Error => tracing::error!(target: "weir::plugin", node, fields, "{message}"),
        }
    }

    fn counter_add(&mut self, name: String, delta: u64) {
        let counter = self.metrics.counters.entry(name).or_default();
        *counter = counter.saturating_add(delta);
    }

    fn gauge_set(&mut self, name: String, value: f64) {
        self.metrics.gauges.insert(name, value);
    }
}

impl super::bindings::types::Host for HostState {}
