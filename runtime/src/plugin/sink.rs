//! A running sink plugin: opens it with its input schema and writes batches
//! (only the columns it reads).

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::bindings::sink::SinkPlugin;
use super::bindings::types::PluginInfo;
use super::engine::{Plugin, TypedPre};
use super::error::PluginError;
use super::host::PluginMetrics;
use super::input::InputEncoder;
use super::instance::{Instance, PluginInstance, Spawn};
use super::limits::Limits;
use super::lower::call_with_batch;
use crate::Kind;
use weir_ipc::schema_to_bytes;

/// One instance of a sink plugin.
pub struct SinkInstance {
    instance: Instance<SinkPlugin>,
    opened: Option<InputEncoder>,
}

impl PluginInstance for SinkInstance {
    fn spawn(plugin: &Plugin, spawn: &Spawn<'_>) -> Result<Self, PluginError> {
        let pre = match plugin.typed_pre() {
            TypedPre::Sink(pre) => Some(pre),
            _ => None,
        };
        let instance =
            spawn.instance(plugin, Kind::Sink, pre, |pre, store| pre.instantiate(store))?;
        Ok(Self {
            instance,
            opened: None,
        })
    }
}

impl SinkInstance {
    /// The plugin's name, version and description.
    pub fn about(&mut self) -> Result<PluginInfo, PluginError> {
        self.instance
            .call_infallible("about", |b, s| b.weir_plugin_sink().call_about(s))
    }

    /// Opens the sink with `config` (JSON) for batches of `input`.
    pub fn open(&mut self, config: &str, input: &SchemaRef) -> Result<(), PluginError> {
        let schema_bytes = schema_to_bytes(input).map_err(|source| PluginError::Encode {
            plugin: self.instance.node.clone(),
            call: "open",
            source,
        })?;
        let plan = self.instance.call("open", |b, s| {
            b.weir_plugin_sink().call_open(s, config, &schema_bytes)
        })?;
        self.opened = Some(InputEncoder::new(&self.instance, input, plan.reads)?);
        Ok(())
    }

    /// Writes one batch in the input schema given to `open`.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), PluginError> {
        let Some(opened) = self.opened.as_mut() else {
            return Err(self
                .instance
                .protocol("write", "called before a successful open"));
        };
        let framed = opened.frame(batch, &self.instance.node, "write")?;
        self.instance.call("write", |b, s| {
            call_with_batch(b.weir_plugin_sink().func_write(), s, &framed)
        })
    }

    /// Makes everything written so far durable.
    pub fn flush(&mut self) -> Result<(), PluginError> {
        self.instance
            .call("flush", |b, s| b.weir_plugin_sink().call_flush(s))
    }

    /// Moves the instance under `limits`: the executor's, sharing its
    /// tenant's quota and its node's memory meter and metrics, for an
    /// instance the graph opened to type the node (opened once per run).
    pub fn adopt(&mut self, limits: &Limits) -> Result<(), PluginError> {
        self.instance.adopt(limits)
    }

    /// Whether the instance trapped: it cannot be called again.
    pub fn trapped(&self) -> bool {
        self.instance.trapped()
    }

    /// Metrics the plugin reported through the host interface.
    pub fn metrics(&self) -> PluginMetrics {
        self.instance.metrics()
    }
}
