//! The loop of a sink node, native or plugin: write every input batch,
//! flush at checkpoints, and acknowledge a batch only once the flush that
//! made it durable returned.

use crate::plugin::PluginInstance;
use std::time::Instant;

use arrow::array::RecordBatch;

use super::Context;
use super::supervisor::{Recreated, Running};
use crate::connectors::SinkConnector;
use crate::exec::acks::{Ack, Message, release};
use crate::plugin::{Plugin, SinkInstance};
use crate::{Error, Result, Stage};

pub(super) fn connector_sink(cx: &Context<'_>, connector: &dyn SinkConnector) -> Result<()> {
    let schema = cx.node.input_schema.as_ref().expect("typed graph");
    let sink = connector
        .open(schema, &cx.sink_context)
        .map_err(|e| Error::connector(Stage::Open, e))?;
    write_all(cx, ConnectorSink(sink))
}

pub(super) fn plugin_sink(cx: &Context<'_>, plugin: &Plugin) -> Result<()> {
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
    fn write(&mut self, cx: &Context<'_>, batch: &RecordBatch) -> Result<()>;
    /// Makes everything written so far durable.
    fn flush(&mut self) -> Result<()>;
    /// The run read all its input (see [`crate::connectors::Sink::finish`]).
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

struct ConnectorSink(Box<dyn crate::connectors::Sink>);

impl Writes for ConnectorSink {
    fn write(&mut self, cx: &Context<'_>, batch: &RecordBatch) -> Result<()> {
        let started = Instant::now();
        let result = self.0.write(batch);
        cx.stats.busy(started);
        match result {
            Ok(()) => {
                cx.stats.sent(batch);
                Ok(())
            }
            Err(error) => cx.failed_batch(batch, Error::connector(Stage::Io, error)),
        }
    }

    fn flush(&mut self) -> Result<()> {
        self.0.flush().map_err(|e| Error::connector(Stage::Io, e))
    }

    fn finish(&mut self) -> Result<()> {
        self.0
            .finish()
            .map_err(|e| Error::connector(Stage::Commit, e))
    }
}

impl Writes for Recreated<'_, SinkInstance> {
    fn write(&mut self, cx: &Context<'_>, batch: &RecordBatch) -> Result<()> {
        let instance = match self.get() {
            Ok(instance) => instance,
            Err(none_left) => return cx.failed_batch(batch, none_left),
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
                self.failed(batch, error, poisoned)
            }
        }
    }

    fn flush(&mut self) -> Result<()> {
        // Without an instance, every batch since the last went to the dead
        // letters: nothing to flush.
        match self.get() {
            Ok(sink) => sink.flush().map_err(|e| Error::plugin(Stage::Call, e)),
            Err(_) => Ok(()),
        }
    }
}

/// Writes every input batch to `sink`, flushing it at every checkpoint that
/// has new batches and at the end; a batch is acknowledged only after the
/// flush that made it durable.
fn write_all(cx: &Context<'_>, mut sink: impl Writes) -> Result<()> {
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
    if !cx.stopping() {
        sink.finish()?;
    }
    release(written);
    cx.durable.closed();
    Ok(())
}
