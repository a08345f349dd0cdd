//! Resource limits of one plugin instance, in one place.
//!
//! The defaults are generous: they stop a runaway plugin from taking the
//! machine, not a well-behaved one from working. Pipelines tighten them per
//! node, and a tenant's quota bounds what all its instances take together.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// How often the engine's epoch advances: a running call's deadline (and
/// slice, see [`super::schedule`]) is checked this often, so this is the
/// precision of deadlines; it is coarse enough that the checks cost nothing
/// measurable.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits applied to one plugin instance (one wasmtime `Store`).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest linear memory the instance may grow to, in bytes.
    pub max_memory_bytes: usize,
    /// Wall-clock deadline of one call into the plugin.
    pub call_timeout: Duration,
    /// A call running longer than this gives up priority to other threads
    /// until it returns (see [`super::schedule`]); `None` never does.
    pub demote_after: Option<Duration>,
    /// Most core instances the component may create (a Rust component
    /// built for wasm32-wasip2 uses a handful).
    pub max_instances: usize,
    /// Most tables the component may create.
    pub max_tables: usize,
    /// Most rows one call may return.
    pub max_output_rows: usize,
    /// Most bytes (Arrow IPC) one call may return.
    pub max_output_bytes: usize,
    /// The quota of the tenant the instance runs for, shared with the
    /// tenant's other instances (`None`: no quota).
    pub tenant: Option<Arc<TenantQuota>>,
    /// Where the instance's linear memory is counted while it lives, with
    /// other instances sharing the meter (a node's, for its metrics).
    pub memory_meter: Option<Arc<AtomicU64>>,
    /// Where the instance's plugin metrics go, shared with the node's other
    /// instances (`None`: its own).
    pub metrics: Option<super::host::NodeMetrics>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_memory_bytes: 1 << 30,
            call_timeout: Duration::from_secs(30),
            demote_after: Some(super::schedule::SLICE),
            max_instances: 64,
            max_tables: 64,
            max_output_rows: 1 << 22,
            max_output_bytes: 256 << 20,
            tenant: None,
            memory_meter: None,
            metrics: None,
        }
    }
}

/// What every plugin instance of one tenant may take together, and what they
/// take now.
#[derive(Debug)]
pub struct TenantQuota {
    /// The tenant.
    pub name: String,
    /// Most linear memory, in bytes, of all the tenant's instances together.
    pub max_memory_bytes: Option<usize>,
    /// Most plugin instances of the tenant alive at once.
    pub max_instances: Option<usize>,
    memory_in_use: AtomicUsize,
    instances: AtomicUsize,
}

impl TenantQuota {
    /// A quota for `name`; `None` leaves a resource unbounded.
    pub fn new(name: &str, max_memory_bytes: Option<usize>, max_instances: Option<usize>) -> Self {
        Self {
            name: name.to_string(),
            max_memory_bytes,
            max_instances,
            memory_in_use: AtomicUsize::new(0),
            instances: AtomicUsize::new(0),
        }
    }

    /// Bytes of linear memory the tenant's live instances hold.
    pub fn memory_in_use(&self) -> usize {
        self.memory_in_use.load(Ordering::SeqCst)
    }

    /// The tenant's live plugin instances.
    pub fn instances(&self) -> usize {
        self.instances.load(Ordering::SeqCst)
    }

    /// Adds `amount` to `counter` unless that passes `max`; on refusal
    /// answers what the total would have been.
    fn charge(counter: &AtomicUsize, amount: usize, max: Option<usize>) -> Result<(), usize> {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                let total = used.saturating_add(amount);
                (max.is_none_or(|max| total <= max)).then_some(total)
            })
            .map(drop)
            .map_err(|used| used.saturating_add(amount))
    }
}

/// A tenant quota an instance would have broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaBreach {
    /// The tenant.
    pub tenant: String,
    /// `memory` (bytes) or `instances`.
    pub resource: &'static str,
    /// What the tenant would have used.
    pub requested: usize,
    /// The quota.
    pub limit: usize,
}

/// A memory growth the limiter refused: the numbers of the breach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemoryBreach {
    /// The instance's own limit (`limits.memory_mib`).
    Instance {
        /// Bytes the linear memory would have grown to.
        requested: usize,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The tenant's quota (all its instances together).
    Tenant(QuotaBreach),
}

/// Enforces [`Limits`] on one store and remembers the last refused memory
/// growth, so the trap that usually follows (a Rust guest aborts when
/// allocation fails) can be reported with its numbers. Holds one of its
/// tenant's instance slots and the memory it charged to the tenant (and its
/// memory meter) until it is dropped with its store.
#[derive(Debug)]
pub(crate) struct Limiter {
    limits: Limits,
    /// Bytes of linear memory the store's memories have grown to, charged
    /// to the tenant's quota and the memory meter.
    charged: usize,
    /// The memory growth refused during the current call, if any.
    pub(crate) breach: Option<MemoryBreach>,
}

impl Limiter {
    /// A limiter for a new instance; takes one of the tenant's instance
    /// slots, or says which quota a new instance would break.
    pub(crate) fn new(limits: &Limits) -> Result<Self, QuotaBreach> {
        if let Some(tenant) = &limits.tenant {
            TenantQuota::charge(&tenant.instances, 1, tenant.max_instances).map_err(
                |requested| QuotaBreach {
                    tenant: tenant.name.clone(),
                    resource: "instances",
                    requested,
                    limit: tenant.max_instances.unwrap_or_default(),
                },
            )?;
        }
        Ok(Self {
            limits: limits.clone(),
            charged: 0,
            breach: None,
        })
    }

    /// Bytes of linear memory the store's memories have grown to.
    pub(crate) fn charged(&self) -> usize {
        self.charged
    }

    /// Moves the instance under `limits` (another tenant quota and memory
    /// meter): charges them an instance slot and the memory it holds, then
    /// releases what it had charged before. Says which quota the move would
    /// break; the instance then stays as it was.
    pub(crate) fn adopt(&mut self, limits: &Limits) -> Result<(), QuotaBreach> {
        if let Some(tenant) = &limits.tenant {
            let breach = |resource, requested, limit: Option<usize>| QuotaBreach {
                tenant: tenant.name.clone(),
                resource,
                requested,
                limit: limit.unwrap_or_default(),
            };
            TenantQuota::charge(&tenant.instances, 1, tenant.max_instances)
                .map_err(|requested| breach("instances", requested, tenant.max_instances))?;
            if let Err(requested) =
                TenantQuota::charge(&tenant.memory_in_use, self.charged, tenant.max_memory_bytes)
            {
                tenant.instances.fetch_sub(1, Ordering::SeqCst);
                return Err(breach("memory", requested, tenant.max_memory_bytes));
            }
        }
        if let Some(meter) = &limits.memory_meter {
            meter.fetch_add(self.charged as u64, Ordering::Relaxed);
        }
        release(&self.limits, self.charged);
        self.limits = limits.clone();
        Ok(())
    }
}

/// Gives back the instance slot and `charged` bytes an instance under
/// `limits` took.
fn release(limits: &Limits, charged: usize) {
    if let Some(tenant) = &limits.tenant {
        tenant.instances.fetch_sub(1, Ordering::SeqCst);
        tenant.memory_in_use.fetch_sub(charged, Ordering::SeqCst);
    }
    if let Some(meter) = &limits.memory_meter {
        meter.fetch_sub(charged as u64, Ordering::Relaxed);
    }
}

impl Drop for Limiter {
    fn drop(&mut self) {
        release(&self.limits, self.charged);
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limits.max_memory_bytes {
            self.breach = Some(MemoryBreach::Instance {
                requested: desired,
                limit: self.limits.max_memory_bytes,
            });
            return Ok(false);
        }
        let growth = desired.saturating_sub(current);
        if let Some(tenant) = &self.limits.tenant
            && let Err(requested) =
                TenantQuota::charge(&tenant.memory_in_use, growth, tenant.max_memory_bytes)
        {
            self.breach = Some(MemoryBreach::Tenant(QuotaBreach {
                tenant: tenant.name.clone(),
                resource: "memory",
                requested,
                limit: tenant.max_memory_bytes.unwrap_or_default(),
            }));
            return Ok(false);
        }
        self.charged += growth;
        if let Some(meter) = &self.limits.memory_meter {
            meter.fetch_add(growth as u64, Ordering::Relaxed);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.limits.max_instances
    }

    fn tables(&self) -> usize {
        self.limits.max_tables
    }

    fn memories(&self) -> usize {
        self.limits.max_instances
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_quota_and_a_memory_meter_are_shared_by_their_instances_and_released_when_they_end()
    {
        let tenant = Arc::new(TenantQuota::new("acme", Some(100 << 20), Some(2)));
        let meter = Arc::new(AtomicU64::new(0));
        let limits = Limits {
            tenant: Some(tenant.clone()),
            memory_meter: Some(meter.clone()),
            ..Limits::default()
        };
        let mut first = Limiter::new(&limits).unwrap();
        let second = Limiter::new(&limits).unwrap();
        let refused = Limiter::new(&limits).unwrap_err();
        assert_eq!(
            refused,
            QuotaBreach {
                tenant: "acme".into(),
                resource: "instances",
                requested: 3,
                limit: 2
            }
        );
        use wasmtime::ResourceLimiter;
        assert!(first.memory_growing(0, 60 << 20, None).unwrap());
        assert_eq!(tenant.memory_in_use(), 60 << 20);
        let mut second = second;
        assert!(!second.memory_growing(0, 50 << 20, None).unwrap());
        assert_eq!(
            second.breach,
            Some(MemoryBreach::Tenant(QuotaBreach {
                tenant: "acme".into(),
                resource: "memory",
                requested: 110 << 20,
                limit: 100 << 20
            }))
        );
        assert!(second.memory_growing(0, 40 << 20, None).unwrap());
        assert_eq!(
            meter.load(Ordering::Relaxed),
            100 << 20,
            "refused growth is not counted"
        );
        drop(first);
        assert_eq!((tenant.instances(), tenant.memory_in_use()), (1, 40 << 20));
        assert_eq!(meter.load(Ordering::Relaxed), 40 << 20);
        drop(second);
        assert_eq!((tenant.instances(), tenant.memory_in_use()), (0, 0));
        assert_eq!(meter.load(Ordering::Relaxed), 0);
    }
}
