//! One plugin instance: its own `Store`, limits and deadline, and the one
//! way every contract call is made so that traps and typed errors become
//! [`PluginError`]s naming the node.

use wasmtime::Store;

use super::bindings::types;
use super::engine::PluginEngine;
use super::error::{GuestErrorKind, PluginError, boxed};
use super::grants::Grants;
use super::host::{HostState, PluginMetrics};
use super::limits::Limits;

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
        let state =
            HostState::with_grants(node, limits, grants).map_err(|e| PluginError::Instantiate {
                plugin: node.to_string(),
                source: boxed(e),
            })?;
        let mut store = Store::new(engine.engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(limits.deadline_ticks());
        let bindings = bind(&mut store).map_err(|e| PluginError::Instantiate {
            plugin: node.to_string(),
            source: boxed(e),
        })?;
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
        self.store.set_epoch_deadline(self.limits.deadline_ticks());
        self.store.data_mut().limiter.breach = None;
        match f(&self.bindings, &mut self.store) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(guest_error(&self.node, call, error)),
            Err(error) => {
                self.trapped = true;
                let plugin = self.node.clone();
                if let Some(breach) = self.store.data_mut().limiter.breach.take() {
                    return Err(PluginError::MemoryLimit {
                        plugin,
                        call,
                        requested: breach.requested,
                        limit: breach.limit,
                    });
                }
                if error.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
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

    /// The limits the instance runs under.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether the instance trapped: it cannot be called again.
    pub(crate) fn trapped(&self) -> bool {
        self.trapped
    }

    /// Metrics the plugin reported through the host interface.
    pub(crate) fn metrics(&self) -> &PluginMetrics {
        &self.store.data().metrics
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
