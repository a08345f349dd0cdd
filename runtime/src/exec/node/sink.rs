//! The loop of a sink node, native or plugin: write every input batch,
//! flush at checkpoints, and acknowledge a batch only once the flush that
//! made it durable returned.

use crate::plugin::PluginInstance;
use std::time::Instant;

use arrow::array::RecordBatch;

use super::Context;
use super::supervisor::{Recreated, Running};
use crate::connectors::{SinkConnector, Transactional};
use crate::exec::acks::{Ack, Message, release};
use crate::exec::commits::Commits;
use crate::plugin::{Plugin, SinkInstance};
use crate::{Error, Result, Stage};

pub(super) fn connector_sink(cx: &Context<'_>, connector: &dyn SinkConnector) -> Result<()> {
    let schema = cx.node.input_schema.as_ref().expect("typed graph");
    let mut sink = connector
        .open(schema, &cx.sink_context)
        .map_err(|e| Error::connector(Stage::Open, e))?;
    let commits = match sink.transactional() {
        Some(transactional) => Some(Commits::recover(
            cx.state_dir,
            &cx.instance_name(),
            transactional,
        )?),
        None => None,
    };
    write_all(cx, ConnectorSink { sink, commits })
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
    /// Makes everything written so far, from the source batches of `acks`,
    /// durable.
    fn flush(&mut self, acks: &[Ack]) -> Result<()>;
    /// The run read all its input (see [`crate::connectors::Sink::finish`]).
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
    /// Commits what its sources have recorded (see [`Commits`]).
    fn commit_recorded(&mut self) -> Result<()> {
        Ok(())
    }
    /// After the last flush: waits until its sources recorded what it
    /// prepared, and commits it (unless the run failed: the next run
    /// settles it).
    fn settle(&mut self, cx: &Context<'_>) -> Result<()> {
        let _ = cx;
        Ok(())
    }
    /// Records in the audit log what became durable and visible since the
    /// last call (see [`crate::connectors::Sink::take_committed`]).
    fn audit_commits(&mut self, cx: &Context<'_>) -> Result<()> {
        let _ = cx;
        Ok(())
    }
}

/// A native sink, and its commits if it makes its output exactly-once.
struct ConnectorSink {
    sink: Box<dyn crate::connectors::Sink>,
    commits: Option<Commits>,
}

impl ConnectorSink {
    fn transactional(&mut self) -> Option<(&mut Commits, &mut dyn Transactional)> {
        let commits = self.commits.as_mut()?;
        Some((commits, self.sink.transactional()?))
    }
}

impl Writes for ConnectorSink {
    fn write(&mut self, cx: &Context<'_>, batch: &RecordBatch) -> Result<()> {
        let started = Instant::now();
        let result = self.sink.write(batch);
        cx.stats.busy(started);
        match result {
            Ok(()) => {
                cx.stats.sent(batch);
                Ok(())
            }
            Err(error) => cx.failed_batch(batch, Error::connector(Stage::Io, error)),
        }
    }

    fn flush(&mut self, acks: &[Ack]) -> Result<()> {
        self.sink
            .flush()
            .map_err(|e| Error::connector(Stage::Io, e))?;
        match self.transactional() {
            Some((commits, sink)) => commits.prepare(sink, acks),
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<()> {
        self.sink
            .finish()
            .map_err(|e| Error::connector(Stage::Commit, e))
    }

    fn commit_recorded(&mut self) -> Result<()> {
        match self.transactional() {
            Some((commits, sink)) => commits.commit_recorded(sink),
            None => Ok(()),
        }
    }

    fn audit_commits(&mut self, cx: &Context<'_>) -> Result<()> {
        for made in self.sink.take_committed() {
            cx.audit.record_commit(cx.node, made)?;
        }
        Ok(())
    }

    fn settle(&mut self, cx: &Context<'_>) -> Result<()> {
        while let Some((commits, sink)) = self.transactional() {
            commits.commit_recorded(sink)?;
            if !commits.waiting() || cx.failed.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Ok(())
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

    fn flush(&mut self, _: &[Ack]) -> Result<()> {
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
                    cx.stats.received(&input.batch, cx.input.len());
                    sink.write(cx, &input.batch)?;
                    written.extend(input.acks);
                }
                Ok(Message::Announce(_)) => {}
                Err(_) => break,
            },
            recv(checkpoints) -> _ => {
                if !written.is_empty() {
                    sink.flush(&written)?;
                    release(std::mem::take(&mut written));
                }
                sink.commit_recorded()?;
                sink.audit_commits(cx)?;
            },
        }
    }
    sink.flush(&written)?;
    if !cx.stopping() {
        sink.finish()?;
    }
    release(written);
    cx.durable.closed();
    sink.settle(cx)?;
    sink.audit_commits(cx)
}
