//! One plugin instance: its own `Store`, limits and deadline, and the one
//! way every contract call is made so that traps and typed errors become
//! [`PluginError`]s naming the node.

use wasmtime::{Store, UpdateDeadline};

use super::bindings::types;
use super::clocks::SleptPastDeadline;
use super::engine::{Plugin, PluginEngine};
use super::error::{GuestErrorKind, PluginError, boxed};
use super::grants::Grants;
use super::host::{HostState, PluginMetrics};
use super::limits::{Limits, MemoryBreach};
use super::schedule::CallWindow;

/// What instantiating a plugin as a node takes: the engine, the node's name,
/// its limits and the capabilities it grants.
pub struct Spawn<'a> {
    /// The engine the plugin was loaded into.
    pub engine: &'a PluginEngine,
    /// The node (or `node#instance`), for errors and logs.
    pub node: &'a str,
    /// The instance's limits.
    pub limits: &'a Limits,
    /// Directories and environment variables granted.
    pub grants: &'a Grants,
}

impl Spawn<'_> {
    /// A fresh instance of `plugin` made by `bind` from its pre-instantiated
    /// component `pre`, which is `None` when the plugin is not of `kind`.
    pub(crate) fn instance<P, B>(
        &self,
        plugin: &Plugin,
        kind: crate::Kind,
        pre: Option<&P>,
        bind: impl FnOnce(&P, &mut Store<HostState>) -> wasmtime::Result<B>,
    ) -> Result<Instance<B>, PluginError> {
        let Some(pre) = pre else {
            return Err(plugin.wrong_world(self.node, kind));
        };
        Instance::new(self.engine, self.node, self.limits, self.grants, |store| {
            bind(pre, store)
        })
    }
}

/// An instance of one kind of plugin (source, transform or sink): every
/// kind is made the same way.
pub trait PluginInstance: Sized {
    /// Instantiates `plugin`, which must be of this kind, as `spawn` says.
    fn spawn(plugin: &Plugin, spawn: &Spawn<'_>) -> Result<Self, PluginError>;

    /// Instantiates `plugin` as node `node`, granting nothing.
    fn new(
        engine: &PluginEngine,
        plugin: &Plugin,
        node: &str,
        limits: &Limits,
    ) -> Result<Self, PluginError> {
        Self::with_grants(engine, plugin, node, limits, &Grants::default())
    }

    /// Like `new`, with the capabilities `grants` (directories, environment).
    fn with_grants(
        engine: &PluginEngine,
        plugin: &Plugin,
        node: &str,
        limits: &Limits,
        grants: &Grants,
    ) -> Result<Self, PluginError> {
        let spawn = Spawn {
            engine,
            node,
            limits,
            grants,
        };
        Self::spawn(plugin, &spawn)
    }
}

/// A store and the typed bindings of one instantiated component.
pub(crate) struct Instance<B> {
    pub(crate) node: String,
    store: Store<HostState>,
    bindings: B,
    limits: Limits,
    trapped: bool,
}

impl<B> Instance<B> {
    /// Instantiates a component as `node` in a fresh store; `bind`
    /// instantiates it and returns the typed bindings.
    pub(crate) fn new(
        engine: &PluginEngine,
        node: &str,
        limits: &Limits,
        grants: &Grants,
        bind: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<B>,
    ) -> Result<Self, PluginError> {
        let state = HostState::with_grants(node, limits, grants)?;
        let mut store = Store::new(engine.engine(), state);
        store.limiter(|state| &mut state.limiter);
        // Every tick, the running call's deadline and slice are checked.
        store.epoch_deadline_callback(|mut store| {
            Ok(match &mut store.data_mut().call {
                Some(call) => call.tick(),
                None => UpdateDeadline::Continue(1),
            })
        });
        // Instantiation runs guest code (start functions) under the same
        // deadline as a call.
        let instantiated = within_call(&mut store, limits, "instantiate", bind);
        let bindings = match instantiated {
            Ok(bindings) => bindings,
            Err(e) => {
                let breach = store.data_mut().limiter.breach.take();
                return Err(breach
                    .map(|breach| memory_error(node, "instantiate", breach))
                    .or_else(|| count_limit(node, limits, &e))
                    .unwrap_or_else(|| PluginError::Instantiate {
                        plugin: node.to_string(),
                        source: boxed(e),
                    }));
            }
        };
        Ok(Self {
            node: node.to_string(),
            store,
            bindings,
            limits: limits.clone(),
            trapped: false,
        })
    }

    /// Calls the contract function `call` with a fresh deadline. A trap
    /// poisons the instance: later calls fail without entering it.
    pub(crate) fn call<R>(
        &mut self,
        call: &'static str,
        f: impl FnOnce(&B, &mut Store<HostState>) -> wasmtime::Result<Result<R, types::Error>>,
    ) -> Result<R, PluginError> {
        if self.trapped {
            return Err(PluginError::Trap {
                plugin: self.node.clone(),
                call,
                source: "the instance trapped earlier and cannot be called again".into(),
            });
        }
        self.store.data_mut().limiter.breach = None;
        let bindings = &self.bindings;
        let result = within_call(&mut self.store, &self.limits, call, |store| {
            f(bindings, store)
        });
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(guest_error(&self.node, call, error)),
            Err(error) => {
                self.trapped = true;
                let plugin = self.node.clone();
                if let Some(breach) = self.store.data_mut().limiter.breach.take() {
                    return Err(memory_error(&plugin, call, breach));
                }
                if is_copy_limit(&error) {
                    return Err(PluginError::CopyLimit {
                        plugin,
                        call,
                        limit: copy_limit(&self.limits, call),
                    });
                }
                if error.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt)
                    || error.downcast_ref::<SleptPastDeadline>().is_some()
                {
                    return Err(PluginError::Deadline {
                        plugin,
                        call,
                        limit: self.limits.call_timeout,
                    });
                }
                Err(PluginError::Trap {
                    plugin,
                    call,
                    source: boxed(error),
                })
            }
        }
    }

    /// Like [`Instance::call`] for functions that cannot return an error.
    pub(crate) fn call_infallible<R>(
        &mut self,
        call: &'static str,
        f: impl FnOnce(&B, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        self.call(call, |b, s| f(b, s).map(Ok))
    }

    /// Moves the instance under `limits`, which differ from its own only in
    /// the tenant quota, memory meter and metrics they share with other
    /// instances (the executor's, for an instance the graph opened).
    pub(crate) fn adopt(&mut self, limits: &Limits) -> Result<(), PluginError> {
        let state = self.store.data_mut();
        state
            .limiter
            .adopt(limits)
            .map_err(|breach| PluginError::Quota {
                plugin: self.node.clone(),
                breach,
            })?;
        if let Some(metrics) = &limits.metrics {
            state.metrics = metrics.clone();
        }
        self.limits = limits.clone();
        Ok(())
    }

    /// Whether the instance trapped: it cannot be called again.
    pub(crate) fn trapped(&self) -> bool {
        self.trapped
    }

    /// Bytes of linear memory the instance has grown to.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.store.data().limiter.charged()
    }

    /// Metrics the plugin reported through the host interface.
    pub(crate) fn metrics(&self) -> PluginMetrics {
        self.store.data().metrics()
    }

    /// Refuses `bytes` returned by `call` past the node's byte limit
    /// (`max_output_mib`): checked before they are decoded.
    pub(crate) fn check_bytes(&self, call: &'static str, bytes: usize) -> Result<(), PluginError> {
        self.check_output(call, "bytes", bytes, self.limits.max_output_bytes)
    }

    /// Refuses `rows` returned by `call` past the node's row limit.
    pub(crate) fn check_rows(&self, call: &'static str, rows: usize) -> Result<(), PluginError> {
        self.check_output(call, "rows", rows, self.limits.max_output_rows)
    }

    fn check_output(
        &self,
        call: &'static str,
        unit: &'static str,
        produced: usize,
        limit: usize,
    ) -> Result<(), PluginError> {
        match produced > limit {
            true => Err(PluginError::OutputLimit {
                plugin: self.node.clone(),
                call,
                unit,
                produced,
                limit,
            }),
            false => Ok(()),
        }
    }

    /// A contract violation by this plugin in `call`.
    pub(crate) fn protocol(&self, call: &'static str, message: impl Into<String>) -> PluginError {
        PluginError::Protocol {
            plugin: self.node.clone(),
            call,
            message: message.into(),
        }
    }
}

/// The error of a memory growth the limiter refused in `call`.
fn memory_error(node: &str, call: &'static str, breach: MemoryBreach) -> PluginError {
    let plugin = node.to_string();
    match breach {
        MemoryBreach::Instance { requested, limit } => PluginError::MemoryLimit {
            plugin,
            call,
            requested,
            limit,
        },
        MemoryBreach::Tenant(breach) => PluginError::Quota { plugin, breach },
    }
}

/// The instance, memory or table limit that refused `error`, if it was one.
/// wasmtime reports these as text only ("resource limit exceeded: table
/// count too high at 2").
fn count_limit(node: &str, limits: &Limits, error: &wasmtime::Error) -> Option<PluginError> {
    let text = error.to_string();
    let rest = text.strip_prefix("resource limit exceeded: ")?;
    let (what, count) = rest.split_once(" count too high at ")?;
    let requested = count.trim().parse().ok()?;
    let (resource, limit, setting) = match what {
        "instance" => ("instances", limits.max_instances, "instances"),
        "memory" => ("memories", limits.max_instances, "instances"),
        "table" => ("tables", limits.max_tables, "tables"),
        _ => return None,
    };
    Some(PluginError::InstanceLimit {
        plugin: node.to_string(),
        resource,
        requested,
        limit,
        setting,
    })
}

/// The most bytes `call` may copy out of the plugin's memory, the host
/// calls it makes included: wasmtime's hostcall fuel, which it checks while
/// copying, before the host holds the bytes. A state may be as large as the
/// memory holding it; any other answer gets twice the output limit, so that
/// the output limit, checked on what was copied, is what refuses an answer
/// a little too large, with its numbers.
pub(crate) fn copy_limit(limits: &Limits, call: &str) -> usize {
    match call {
        "snapshot" => limits.max_memory_bytes.max(limits.max_output_bytes),
        _ => limits.max_output_bytes.saturating_mul(2),
    }
}

/// Whether `error` is wasmtime refusing a copy past the hostcall fuel (its
/// error type is private: it is known by its text).
fn is_copy_limit(error: &wasmtime::Error) -> bool {
    error.chain().any(|e| {
        e.to_string()
            .contains("fuel allocated for hostcalls has been exhausted")
    })
}

/// Runs `f` as one call into the guest: with a fresh deadline, checked on
/// every epoch tick, its copy limit, and the thread's priority restored
/// afterwards.
fn within_call<R>(
    store: &mut Store<HostState>,
    limits: &Limits,
    call: &str,
    f: impl FnOnce(&mut Store<HostState>) -> R,
) -> R {
    store.set_hostcall_fuel(copy_limit(limits, call));
    store.data_mut().call = Some(CallWindow::start(limits.call_timeout, limits.demote_after));
    store.set_epoch_deadline(1);
    let result = f(store);
    if let Some(call) = store.data_mut().call.take() {
        call.end();
    }
    result
}

fn guest_error(node: &str, call: &'static str, error: types::Error) -> PluginError {
    let (kind, message) = match error {
        types::Error::InvalidConfig(m) => (GuestErrorKind::InvalidConfig, m),
        types::Error::InvalidInput(m) => (GuestErrorKind::InvalidInput, m),
        types::Error::InvalidState(m) => (GuestErrorKind::InvalidState, m),
        types::Error::Unavailable(m) => (GuestErrorKind::Unavailable, m),
        types::Error::Internal(m) => (GuestErrorKind::Internal, m),
    };
    PluginError::Guest {
        plugin: node.to_string(),
        call,
        kind,
        message,
    }
}
