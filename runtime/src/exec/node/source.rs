//! The loop of a source node, native or plugin: open it where the last run
//! stopped, read it to its end or the stop, announce its parts to
//! event-time clocks, and commit what every sink has made durable.

use crate::plugin::PluginInstance;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::supervisor::Running;
use super::{Context, Failed, dead_letters_unwritable};
use crate::connectors::{Parts, Source};
use crate::exec::acks::Ledger;
use crate::exec::event_time::one_part;
use crate::exec::plugin_source::PluginSource;
use crate::exec::{AuditEvent, NodeStats};
use crate::plugin::{Plugin, Poll, SourceInstance};
use crate::{Error, Fault, Result, Stage};

/// How often a source's lag is noted for the metrics.
const LAG_EVERY: Duration = Duration::from_secs(1);

/// Opens a node's source, continuing from `start` (the position its last
/// run committed).
type OpenSource<'f> =
    &'f dyn Fn(&Context<'_>, Option<serde_json::Value>) -> Result<Box<dyn Source>>;

/// Runs a source node, native or plugin, that `open` opens (loading the
/// position its last run committed when it `resumes`): reads it to its end
/// or the stop, then, once downstream has seen the end, commits what every
/// sink has made durable.
pub(super) fn source_node(
    context: &mut Context<'_>,
    resumes: bool,
    open: OpenSource<'_>,
) -> Result<()> {
    let (start, recorded) = match resumes {
        true => crate::exec::positions::load_recorded(context.state_dir, &context.node.name)?
            .map_or((None, None), |(position, sequence)| {
                (Some(position), sequence)
            }),
        false => (None, None),
    };
    let source = open(context, start)?;
    let ledger = match resumes {
        true => Ledger::recording(&context.node.name, recorded),
        false => Ledger::new(&context.node.name),
    };
    let (mut source, ledger, ended) = read_source(context, source, ledger)?;
    // Let downstream see the end, then commit what was read once every sink
    // has flushed and closed its output.
    context.outputs.clear();
    let Some(ledger) = ledger else { return Ok(()) };
    let everything = context.durable.wait(context.failed) && ledger.in_flight() == 0;
    let last = ledger.last_issued().or(recorded).unwrap_or(0);
    if everything && ended && source.forgets_at_end() {
        let file = crate::exec::positions::position_file(context.state_dir, &context.node.name);
        crate::exec::positions::remove(&file).map_err(|e| {
            Error::caused(
                Stage::Commit,
                Fault::External,
                format!("cannot remove {}", file.display()),
                e,
            )
        })?;
        ledger.recorded(last);
        return Ok(());
    }
    match everything {
        // Also past records that only went to the dead letters.
        true => source.position().map(|position| (position, last)),
        false => ledger.take_committable(),
    }
    .map_or(Ok(()), |(position, sequence)| {
        commit(context, &mut *source, &ledger, resumes, &position, sequence)
    })
}

/// Takes the node's source plugin instance that the graph opened (or
/// opens one) and restores `start`.
pub(super) fn open_plugin_source(
    cx: &Context<'_>,
    plugin: &Plugin,
    start: Option<serde_json::Value>,
) -> Result<Box<dyn Source>> {
    let adopted = cx.adopt::<SourceInstance>()?;
    let instance = match adopted {
        Some(instance) => instance,
        None => cx.instance(
            &Running::initial(cx, plugin),
            AuditEvent::Load,
            None,
            SourceInstance::with_grants,
            |source, config| source.open(config).map(drop),
        )?,
    };
    let resuming = start.is_some();
    let source = PluginSource::new(instance, cx.options.source_batch_rows, start).map_err(|e| {
        let error = Error::connector(Stage::Open, e);
        match resuming {
            true => error.context(format!(
                "cannot resume from {}",
                crate::exec::positions::position_file(cx.state_dir, &cx.node.name).display()
            )),
            false => error,
        }
    })?;
    Ok(Box::new(source))
}

/// A source after its run, the ledger of what it sent (when it has
/// positions to commit), and whether it ended (rather than being stopped).
type Read = (Box<dyn Source>, Option<Arc<Ledger>>, bool);

/// Reads `source` to its end (or the stop), committing at every checkpoint
/// what every sink has made durable; `ledger` numbers its batches.
fn read_source(cx: &Context<'_>, mut source: Box<dyn Source>, ledger: Ledger) -> Result<Read> {
    let resumes = ledger.records();
    let ledger = source.position().is_some().then(|| Arc::new(ledger));
    let mut bad_error = None;
    let mut lag_noted: Option<Instant> = None;
    let mut committed = Instant::now();
    let mut parts = PartsAnnounced::default();
    if cx.feeds_event_time {
        parts.update(cx, source.parts());
    }
    let mut ended = false;
    let mut draining = false;
    loop {
        if cx.failed.load(Ordering::SeqCst) {
            break;
        }
        // At a stop, a source that took input not sent yet sends it first.
        if !draining && cx.stop.load(Ordering::SeqCst) {
            if !source.stop_taking() {
                break;
            }
            draining = true;
        }
        if lag_noted.is_none_or(|at| at.elapsed() >= LAG_EVERY) {
            *cx.stats.lag.lock().expect("lag lock") = source.lag();
            lag_noted = Some(Instant::now());
        }
        if let Some(ledger) = &ledger
            && committed.elapsed() >= cx.checkpoint_every
        {
            committed = Instant::now();
            if let Some((position, sequence)) = ledger.take_committable() {
                commit(cx, &mut *source, ledger, resumes, &position, sequence)?;
            }
        }
        let started = Instant::now();
        let mut bad_records = 0;
        let mut bad = |record: crate::connectors::BadRecord| {
            NodeStats::add(&cx.stats.rows_in, 1);
            bad_records += 1;
            if let Err(error) = cx.failed(Failed::Record(&record)) {
                bad_error.get_or_insert(error);
            }
        };
        let next = match source.next_batch(&mut bad) {
            Ok(next) => next,
            Err(error) => {
                if let Some(ledger) = &ledger {
                    settle(cx, &mut *source, ledger, resumes);
                }
                return Err(Error::connector(Stage::Io, error));
            }
        };
        cx.stats.busy(started);
        if let Some(error) = bad_error.take() {
            return Err(error);
        }
        if bad_records > 0 {
            // The batch's ack may commit past them: they must be on disk.
            cx.dead_letters
                .flush()
                .map_err(|e| dead_letters_unwritable(cx, e))?;
        }
        let position = match (&ledger, &next) {
            (Some(ledger), Poll::Batch(_)) => source.position().map(|p| (ledger, p)),
            _ => None,
        };
        let acks = position.map_or_else(Vec::new, |(ledger, p)| vec![ledger.issue(p)]);
        let origin = cx.origin(&source.part());
        ended = matches!(next, Poll::Done);
        if !cx.forward(next, acks, &origin) {
            break;
        }
        if cx.feeds_event_time {
            parts.update(cx, source.parts());
        }
    }
    cx.announce_own(None);
    *cx.stats.lag.lock().expect("lag lock") = source.lag();
    *cx.stats.report.lock().expect("report lock") = source.report();
    Ok((source, ledger, ended))
}

/// After the source failed: gives the sinks one checkpoint to make the
/// batches it sent before durable, committing their positions, so the next
/// run starts after them rather than sending them again (a failing source
/// stops where it failed). What is not acknowledged by then is sent again.
fn settle(
    cx: &Context<'_>,
    source: &mut dyn crate::connectors::Source,
    ledger: &Ledger,
    resumes: bool,
) {
    let deadline = Instant::now() + cx.checkpoint_every + Duration::from_secs(1);
    while ledger.in_flight() > 0 && Instant::now() < deadline && !cx.stopping() {
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Some((position, sequence)) = ledger.take_committable()
        && let Err(error) = commit(cx, source, ledger, resumes, &position, sequence)
    {
        tracing::warn!(node = %cx.node.name, %error, "cannot commit the position before the failure");
    }
}

/// Commits `position` of the node's source, which follows batch
/// `sequence` of `ledger`: in the state folder for sources that resume from
/// it, and with the source itself (Kafka offsets). A failed commit is only
/// delayed: the next one covers it.
fn commit(
    cx: &Context<'_>,
    source: &mut dyn crate::connectors::Source,
    ledger: &Ledger,
    resumes: bool,
    position: &serde_json::Value,
    sequence: u64,
) -> Result<()> {
    if resumes {
        crate::exec::positions::store_recorded(cx.state_dir, &cx.node.name, position, sequence)?;
        ledger.recorded(sequence);
    }
    source
        .commit(position)
        .map_err(|e| Error::connector(Stage::Commit, e))
}

/// The parts a source announced last.
#[derive(Default)]
struct PartsAnnounced(Option<Parts>);

impl PartsAnnounced {
    /// Announces `now` downstream if it differs from what was announced.
    fn update(&mut self, cx: &Context<'_>, now: Parts) {
        if self.0.as_ref() == Some(&now) {
            return;
        }
        match &now {
            Parts::One => cx.announce_own(Some(one_part())),
            Parts::NotYet => {}
            Parts::Now(parts) => cx.announce_own(Some(parts.clone())),
        }
        self.0 = Some(now);
    }
}
