//! The loop of a plugin transform: process each input batch, apply the
//! error policy to rejected rows and failed calls, move an event-time
//! clock, checkpoint state, and take hot reloads between batches.

use crate::plugin::PluginInstance;
use std::time::Instant;

use arrow::array::RecordBatch;

use super::Context;
use super::supervisor::{Recreated, Running};
use crate::exec::NodeStats;
use crate::exec::acks::{Envelope, Message};
use crate::exec::checkpoint::Holding;
use crate::exec::event_time::{Clock, Origin, one_part};
use crate::exec::reload::swap::{Standby, confirm, refuse, swap};
use crate::plugin::{OutputMode, Plugin, PluginError, TransformInstance};
use crate::{Error, Result, Stage};

/// What one batch through a transform instance came to.
pub(in crate::exec) enum Step {
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
) -> Result<Step> {
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
) -> Result<bool> {
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
            transform.failed(&none, error, poisoned)?;
            if poisoned {
                holding.lost(transform.get().ok())?;
            }
            Ok(true)
        }
    }
}

/// Whether a transform answers with selections (derived output).
pub(in crate::exec) fn selects(instance: Option<&mut TransformInstance>) -> bool {
    matches!(
        instance.and_then(|t| t.output_mode().cloned()),
        Some(OutputMode::Derived { .. })
    )
}

pub(super) fn plugin_transform(cx: &Context<'_>, plugin: &Plugin) -> Result<()> {
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
                    Err(reason) => refuse(cx, &new_plugin, request.reply, reason)?,
                }
                continue;
            },
        };
        cx.stats.received(&input.batch, cx.input.len());
        let origin = own.as_ref().or(input.origin.as_ref());
        let run =
            |transform: &mut Recreated<'_, TransformInstance>, selecting| match transform.get() {
                Ok(instance) => process_batch(cx, instance, &input, selecting, &holding, origin),
                Err(none_left) => cx
                    .failed_batch(&input.batch, none_left)
                    .map(|()| Step::Done),
            };
        let mut step = run(&mut transform, selecting)?;
        if let Some(pending) = standby.take() {
            step = match step {
                // The new version failed its first batch: back to the old
                // one, which has not seen the batch, and let it process it.
                Step::Failed(error, true) => {
                    let reason = Error::plugin(Stage::Call, error)
                        .context("the new version failed on its first batch");
                    let new_plugin = transform.running.plugin.clone();
                    if let Some(old) = pending.instance {
                        transform.replace(old, pending.running);
                    }
                    selecting = pending.selects;
                    refuse(cx, &new_plugin, pending.reply, reason)?;
                    run(&mut transform, selecting)?
                }
                step => {
                    confirm(cx, pending)?;
                    step
                }
            };
        }
        match step {
            Step::Done => transform.recycle_if_grown(),
            Step::DownstreamGone => return Ok(()),
            Step::Failed(error, poisoned) => {
                transform.failed(&input.batch, error, poisoned)?;
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
            let rest = instance.finish().map_err(|e| {
                let error = Error::plugin(Stage::Call, e);
                match cx.node.is_quality_gate() {
                    true => super::quality_failed(error),
                    false => error,
                }
            })?;
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
