//! A running source plugin: opens it and polls it for batches.

use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::bindings::source::SourcePlugin;
use super::bindings::source::exports::weir::plugin::source as wit;
use super::bindings::types::PluginInfo;
use super::engine::{Plugin, TypedPre};
use super::error::PluginError;
use super::host::PluginMetrics;
use super::instance::{Instance, PluginInstance, Spawn};
use super::limits::Limits;
use super::transform::decode;
use crate::Kind;
use weir_ipc::{BatchDecoder, schema_from_bytes};

/// The answer to one poll of a source.
#[derive(Debug)]
pub enum Poll {
    /// A batch in the source's output schema.
    Batch(RecordBatch),
    /// Nothing now; poll again after this long.
    Wait(Duration),
    /// The source is exhausted.
    Done,
}

/// One instance of a source plugin.
pub struct SourceInstance {
    instance: Instance<SourcePlugin>,
    decoder: Option<BatchDecoder>,
}

impl PluginInstance for SourceInstance {
    fn spawn(plugin: &Plugin, spawn: &Spawn<'_>) -> Result<Self, PluginError> {
        let pre = match plugin.typed_pre() {
            TypedPre::Source(pre) => Some(pre),
            _ => None,
        };
        let instance = spawn.instance(plugin, Kind::Source, pre, |pre, store| {
            pre.instantiate(store)
        })?;
        Ok(Self {
            instance,
            decoder: None,
        })
    }
}

impl SourceInstance {
    /// The plugin's name, version and description.
    pub fn about(&mut self) -> Result<PluginInfo, PluginError> {
        self.instance
            .call_infallible("about", |b, s| b.weir_plugin_source().call_about(s))
    }

    /// Opens the source with `config` (JSON) and returns its output schema.
    pub fn open(&mut self, config: &str) -> Result<SchemaRef, PluginError> {
        let plan = self
            .instance
            .call("open", |b, s| b.weir_plugin_source().call_open(s, config))?;
        let malformed = |source| PluginError::MalformedIpc {
            plugin: self.instance.node.clone(),
            call: "open",
            source,
        };
        let schema = schema_from_bytes(&plan.output_schema).map_err(malformed)?;
        self.decoder = Some(BatchDecoder::new(&plan.output_schema).map_err(malformed)?);
        Ok(schema)
    }

    /// Asks for the next batch of at most `max_rows` rows.
    pub fn next(&mut self, max_rows: u32) -> Result<Poll, PluginError> {
        if self.decoder.is_none() {
            return Err(self
                .instance
                .protocol("next", "called before a successful open"));
        }
        let poll = self
            .instance
            .call("next", |b, s| b.weir_plugin_source().call_next(s, max_rows))?;
        let decoder = self.decoder.as_mut().expect("checked above");
        Ok(match poll {
            wit::Poll::Batch(bytes) => {
                self.instance.check_bytes("next", bytes.len())?;
                let batch = decode(&self.instance, decoder, "next", bytes)?;
                if batch.num_rows() > max_rows as usize {
                    return Err(self.instance.protocol(
                        "next",
                        format!(
                            "returned {} rows; at most {max_rows} were asked for",
                            batch.num_rows()
                        ),
                    ));
                }
                Poll::Batch(batch)
            }
            wit::Poll::Wait(nanos) => Poll::Wait(Duration::from_nanos(nanos)),
            wit::Poll::Done => Poll::Done,
        })
    }

    /// The source's position (`None` when it cannot resume).
    pub fn snapshot(&mut self) -> Result<Option<Vec<u8>>, PluginError> {
        self.instance
            .call("snapshot", |b, s| b.weir_plugin_source().call_snapshot(s))
    }

    /// Resumes from a position taken by [`SourceInstance::snapshot`].
    pub fn restore(&mut self, state: &[u8]) -> Result<(), PluginError> {
        self.instance.call("restore", |b, s| {
            b.weir_plugin_source().call_restore(s, state)
        })
    }

    /// Moves the instance under `limits`: the executor's, sharing its
    /// tenant's quota and its node's memory meter and metrics, for an
    /// instance the graph opened to type the node (opened once per run).
    pub fn adopt(&mut self, limits: &Limits) -> Result<(), PluginError> {
        self.instance.adopt(limits)
    }

    /// Metrics the plugin reported through the host interface.
    pub fn metrics(&self) -> PluginMetrics {
        self.instance.metrics()
    }
}
