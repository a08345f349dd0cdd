//! The node's side of a hot reload: open the new version, check it against
//! what downstream was built for, move the state, and keep the old instance
//! on standby until the new one has passed its first batch.

use std::time::Instant;

use arrow::datatypes::Schema;

use super::Swapped;
use crate::connectors::skip::Condition;
use crate::exec::node::Context;
use crate::exec::node::supervisor::{Open, Recreated, Running};
use crate::exec::{AuditEvent, NodeStats};
use crate::plugin::{Plugin, TransformInstance};
use crate::{Error, Fault, Result, Stage};

/// The instance a hot reload replaced, kept until the new one has processed
/// its first batch.
pub(in crate::exec) struct Standby {
    pub(in crate::exec) instance: Option<TransformInstance>,
    pub(in crate::exec) running: Running,
    pub(in crate::exec) selects: bool,
    pub(in crate::exec) reply: crossbeam_channel::Sender<Result<Swapped>>,
    pub(in crate::exec) swapped: Swapped,
}

/// Opens `plugin` for the node, checks its output schema against the one
/// downstream was built for and moves the running instance's state into it;
/// then runs it. Answers the replaced instance and plugin, or why not.
pub(in crate::exec) fn swap(
    cx: &Context<'_>,
    transform: &mut Recreated<'_, TransformInstance>,
    open: Open<'_, TransformInstance>,
    running: Running,
) -> Result<(Option<TransformInstance>, Running, Swapped)> {
    let started = Instant::now();
    let mut new = open(&running, AuditEvent::Load, Some("hot reload"))
        .map_err(|e| e.context("the new version does not open"))?;
    let refused = |message| Error::new(Stage::Open, Fault::Configuration, message);
    if new.event_time() != cx.node.event_time {
        return Err(refused(format!(
            "the new version tracks event time {}, the running one {}; a reload cannot change that",
            tracking(new.event_time()),
            tracking(cx.node.event_time)
        )));
    }
    if cx.input_skipped_by_bounds {
        let running = cx.node.columns.as_ref().map_or(&[][..], |c| &c.bounds[..]);
        let input = cx.node.input_schema.as_ref().expect("typed graph");
        keeps_bounds(running, new.input_bounds(), input).map_err(refused)?;
    }
    let expected = cx.node.output_schema.as_ref().expect("typed graph");
    let answered = new.output_schema().cloned().expect("opened");
    if answered.fields() != expected.fields() {
        return Err(refused(format!(
            "the new version's output schema differs from what downstream expects: expected [{}], got [{}]",
            crate::graph::schema_line(expected),
            crate::graph::schema_line(&answered)
        )));
    }
    if let Ok(old) = transform.get() {
        let state = old.snapshot().map_err(|e| {
            Error::plugin(Stage::Call, e).context("the running version cannot snapshot its state")
        })?;
        if let Some(state) = state {
            new.restore(&state).map_err(|e| {
                Error::plugin(Stage::Open, e).context("the new version cannot restore the state")
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

/// Refuses a new version that states other input bounds than the running
/// one, when a source already leaves rows unread by them: rows the new
/// version might pass on would never reach it.
fn keeps_bounds(
    running: &[(usize, Condition)],
    new: &[(usize, Condition)],
    input: &Schema,
) -> Result<(), String> {
    if running == new {
        return Ok(());
    }
    let describe = |bounds: &[(usize, Condition)]| match bounds {
        [] => "none".to_string(),
        bounds => {
            let each: Vec<String> = bounds
                .iter()
                .map(|(column, condition)| {
                    let name = input.fields().get(*column).map_or("?", |f| f.name());
                    format!("{name} {condition}")
                })
                .collect();
            each.join(", ")
        }
    };
    Err(format!(
        "the new version states other input bounds ({}) than the running one ({}), by which the source already leaves rows unread; restart the pipeline to apply them",
        describe(new),
        describe(running)
    ))
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
pub(in crate::exec) fn confirm(cx: &Context<'_>, pending: Standby) -> Result<()> {
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
pub(in crate::exec) fn refuse(
    cx: &Context<'_>,
    plugin: &Plugin,
    reply: crossbeam_channel::Sender<Result<Swapped>>,
    reason: Error,
) -> Result<()> {
    let why = reason.with_causes();
    let detail = format!("refused {}: {why}", plugin.digest());
    tracing::warn!(node = %cx.instance_name(), new_digest = %plugin.digest(), reason = why, "hot reload refused; the running version stays");
    cx.audit(AuditEvent::ReloadRefused, Some(&detail))?;
    let _ = reply.send(Err(reason));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::skip::Value;

    #[test]
    fn a_reload_keeps_the_bounds_a_source_skips_by() {
        let input = Schema::new(vec![arrow::datatypes::Field::new(
            "auction",
            arrow::datatypes::DataType::Int64,
            false,
        )]);
        let auction = vec![(0, Condition::OneOf(vec![Value::Int(1007)]))];
        assert_eq!(keeps_bounds(&auction, &auction, &input), Ok(()));
        let wider = vec![(
            0,
            Condition::OneOf(vec![Value::Int(1007), Value::Int(2001)]),
        )];
        let refused = keeps_bounds(&auction, &wider, &input).unwrap_err();
        assert!(
            refused
                .contains("(auction one of 1007, 2001) than the running one (auction one of 1007)"),
            "{refused}"
        );
        let dropped = keeps_bounds(&auction, &[], &input).unwrap_err();
        assert!(dropped.contains("(none)"), "{dropped}");
    }
}
