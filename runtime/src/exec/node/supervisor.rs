//! The supervisor of a node's plugin instance: the one the graph opened is
//! adopted, a trap or contract breach re-creates it with backoff (at most
//! [`MAX_RESTARTS`] times), and a transform whose memory only grows is
//! recycled between batches.

use std::sync::atomic::Ordering;
use std::time::Duration;

use arrow::array::RecordBatch;

use super::Context;
use crate::exec::reload::Replacement;
use crate::exec::{AuditEvent, NodeStats};
use crate::graph::Opened;
use crate::plugin::{
    Limits, Plugin, PluginError, SinkInstance, SourceInstance, TransformInstance, with_causes,
};
use crate::{Error, Fault, Result, Stage};

/// A kind of plugin instance that the graph may have opened for a node
/// ([`Opened`]) and the executor then runs.
pub(super) trait Adopted: Sized {
    /// The instance in `opened`, if it is of this kind.
    fn take(opened: Opened) -> Option<Self>;
    /// Moves it under the executor's `limits`.
    fn adopt(&mut self, limits: &Limits) -> Result<(), PluginError>;
}

/// `Adopted` for the instance type of each kind of [`Opened`].
macro_rules! adopted {
    ($($kind:ident => $instance:ty),*) => {$(
        impl Adopted for $instance {
            fn take(opened: Opened) -> Option<Self> {
                match opened {
                    Opened::$kind(instance) => Some(*instance),
                    _ => None,
                }
            }
            fn adopt(&mut self, limits: &Limits) -> Result<(), PluginError> {
                <$instance>::adopt(self, limits)
            }
        }
    )*};
}

adopted!(Source => SourceInstance, Transform => TransformInstance, Sink => SinkInstance);

/// Times a node's instance is re-created after traps or contract breaches
/// before the node gives up on its plugin and applies `on_error` to every
/// later batch (the run then fails at its end).
pub(crate) const MAX_RESTARTS: u64 = 5;
/// Wait before the first re-creation; it doubles with each one.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// Creates an instance of a node's plugin and records the event in the
/// audit log (`detail`: why it was re-created).
pub(in crate::exec) type Open<'c, I> = &'c dyn Fn(&Running, AuditEvent, Option<&str>) -> Result<I>;

/// What a node runs: its plugin, the config it opens it with and the
/// limits of its instance (the graph's, until a hot reload brings others).
#[derive(Clone)]
pub(in crate::exec) struct Running {
    pub(in crate::exec) plugin: Plugin,
    pub(in crate::exec) config: String,
    pub(in crate::exec) limits: Limits,
}

impl Running {
    /// What node `cx` runs first: `plugin` with the graph's config and limits.
    pub(in crate::exec) fn initial(cx: &Context<'_>, plugin: &Plugin) -> Self {
        Self {
            plugin: plugin.clone(),
            config: cx.config(),
            limits: cx.node.limits.clone(),
        }
    }

    /// What runs after `replacement`: what it gives, the rest as now. The
    /// node's tenant quota stays.
    pub(in crate::exec) fn replaced(&self, replacement: Replacement) -> Self {
        Self {
            plugin: replacement.plugin,
            config: replacement.config.unwrap_or_else(|| self.config.clone()),
            limits: match replacement.limits {
                Some(limits) => Limits {
                    tenant: self.limits.tenant.clone(),
                    ..limits
                },
                None => self.limits.clone(),
            },
        }
    }
}

/// A node's plugin instance that is re-created (after a backoff, at most
/// [`MAX_RESTARTS`] times) when it traps or breaks the contract; after that
/// the node has none, and `on_error` applies to every later batch.
pub(in crate::exec) struct Recreated<'c, I> {
    pub(in crate::exec) cx: &'c Context<'c>,
    pub(in crate::exec) open: Open<'c, I>,
    /// What it runs (other than the graph's after a hot reload).
    pub(in crate::exec) running: Running,
    pub(in crate::exec) instance: Option<I>,
    pub(in crate::exec) restarts: u64,
    /// The instance's linear memory after its first batch (see
    /// [`Recreated::recycle_if_grown`]); `None` until then.
    pub(in crate::exec) first_memory: Option<usize>,
}

impl<'c, I> Recreated<'c, I> {
    /// Runs `adopted` (the instance the graph opened), or opens the first
    /// instance of `running`.
    pub(in crate::exec) fn new(
        cx: &'c Context<'c>,
        open: Open<'c, I>,
        running: Running,
        adopted: Option<I>,
    ) -> Result<Self> {
        let instance = match adopted {
            Some(instance) => instance,
            None => open(&running, AuditEvent::Load, None)?,
        };
        Ok(Self {
            cx,
            open,
            instance: Some(instance),
            running,
            restarts: 0,
            first_memory: None,
        })
    }

    /// Runs `instance` of `running` from now on; answers what it replaces.
    pub(in crate::exec) fn replace(
        &mut self,
        instance: I,
        running: Running,
    ) -> (Option<I>, Running) {
        self.restarts = 0;
        self.first_memory = None;
        let old = self.instance.replace(instance);
        (old, std::mem::replace(&mut self.running, running))
    }

    /// The instance, or why there is none (for the batch's dead letter).
    pub(in crate::exec) fn get(&mut self) -> Result<&mut I> {
        self.instance.as_mut().ok_or_else(|| {
            Error::new(
                Stage::Call,
                Fault::Plugin,
                format!(
                    "the plugin trapped or broke the contract {} times; no instance left",
                    MAX_RESTARTS + 1
                ),
            )
        })
    }

    /// Handles a call on `batch` that failed with `error`: audits a limit
    /// breach, applies the error policy to the batch, and re-creates the
    /// instance when it is `poisoned` (it trapped or broke the contract).
    pub(in crate::exec) fn failed(
        &mut self,
        batch: &RecordBatch,
        error: PluginError,
        poisoned: bool,
    ) -> Result<()> {
        let cx = self.cx;
        let cause = with_causes(&error);
        if error.is_limit_breach() {
            cx.audit(AuditEvent::LimitBreach, Some(&cause))?;
        }
        cx.failed_batch(batch, Error::plugin(Stage::Call, error))?;
        if !poisoned {
            return Ok(());
        }
        self.instance = None;
        self.first_memory = None;
        if self.restarts == MAX_RESTARTS {
            cx.stats.gave_up.store(true, Ordering::SeqCst);
            tracing::error!(node = %cx.instance_name(), restarts = self.restarts, "instance failed again; giving up on the plugin, on_error applies to every later batch");
            return Ok(());
        }
        std::thread::sleep(FIRST_BACKOFF * 2u32.pow(self.restarts as u32));
        self.restarts += 1;
        NodeStats::add(&cx.stats.restarts, 1);
        tracing::warn!(node = %cx.instance_name(), restarts = self.restarts, "instance trapped or broke the contract; re-created it");
        self.instance = Some((self.open)(
            &self.running,
            AuditEvent::Restart,
            Some(&cause),
        )?);
        Ok(())
    }
}

impl Recreated<'_, TransformInstance> {
    /// Replaces the instance by a fresh one holding its state once its
    /// linear memory has reached 3/4 of its limit and twice what it held
    /// after its first batch: memory a guest never gives back (as
    /// componentize-py 0.25 does with every `list<u8>` a Python export
    /// returns) would otherwise reach the limit, trap, and send a batch to
    /// the dead letters. Between batches, so nothing is lost; a plugin that
    /// cannot move its state keeps its instance.
    pub(in crate::exec) fn recycle_if_grown(&mut self) {
        let Some(old) = self.instance.as_mut() else {
            return;
        };
        let now = old.memory_bytes();
        let first = *self.first_memory.get_or_insert(now);
        if now < self.running.limits.max_memory_bytes / 4 * 3 || now < first.saturating_mul(2) {
            return;
        }
        let cx = self.cx;
        let detail = format!(
            "its linear memory grew from {} MiB after its first batch to {} MiB (limit {} MiB)",
            first >> 20,
            now >> 20,
            self.running.limits.max_memory_bytes >> 20
        );
        let moved = old
            .snapshot()
            .map_err(|e| Error::plugin(Stage::Call, e).context("cannot snapshot its state"))
            .and_then(|state| {
                let mut fresh = (self.open)(&self.running, AuditEvent::Recycle, Some(&detail))?;
                if let Some(state) = state {
                    fresh.restore(&state).map_err(|e| {
                        Error::plugin(Stage::Open, e)
                            .context("the fresh instance cannot restore it")
                    })?;
                }
                Ok(fresh)
            });
        match moved {
            Ok(fresh) => {
                tracing::info!(node = %cx.instance_name(), %detail, "replaced a growing instance by a fresh one");
                self.instance = Some(fresh);
                self.first_memory = None;
            }
            Err(reason) => {
                let reason = reason.with_causes();
                tracing::warn!(node = %cx.instance_name(), %detail, %reason, "cannot replace a growing instance; it stays");
                // Not again for this instance.
                self.first_memory = Some(usize::MAX / 2);
            }
        }
    }
}
