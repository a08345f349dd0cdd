//! Resource limits of one plugin instance, in one place.
//!
//! The defaults are generous: they stop a runaway plugin from taking the
//! machine, not a well-behaved one from working. Pipelines tighten them per
//! node.

use std::time::Duration;

/// How often the engine's epoch advances. A call's deadline is rounded up to
/// a whole number of ticks, so this is the precision of CPU deadlines; it is
/// coarse enough that the ticker thread costs nothing measurable.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits applied to one plugin instance (one wasmtime `Store`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory the instance may grow to, in bytes.
    pub max_memory_bytes: usize,
    /// Wall-clock deadline of one call into the plugin.
    pub call_timeout: Duration,
    /// Most core instances the component may create (a Rust component
    /// built for wasm32-wasip2 uses a handful).
    pub max_instances: usize,
    /// Most tables the component may create.
    pub max_tables: usize,
    /// Most rows one call may return.
    pub max_output_rows: usize,
    /// Most bytes (Arrow IPC) one call may return.
    pub max_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_memory_bytes: 1 << 30,
            call_timeout: Duration::from_secs(30),
            max_instances: 64,
            max_tables: 64,
            max_output_rows: 1 << 22,
            max_output_bytes: 256 << 20,
        }
    }
}

impl Limits {
    /// The call timeout as a number of epoch ticks (at least one).
    pub fn deadline_ticks(&self) -> u64 {
        let ticks = self.call_timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos());
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }
}

/// A memory growth the limiter refused: the numbers of the breach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBreach {
    /// Bytes the linear memory would have grown to.
    pub requested: usize,
    /// The limit, in bytes.
    pub limit: usize,
}

/// Enforces [`Limits`] on one store and remembers the last refused memory
/// growth, so the trap that usually follows (a Rust guest aborts when
/// allocation fails) can be reported with its numbers.
#[derive(Debug)]
pub(crate) struct Limiter {
    limits: Limits,
    /// The memory growth refused during the current call, if any.
    pub(crate) breach: Option<MemoryBreach>,
}

impl Limiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            limits: limits.clone(),
            breach: None,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limits.max_memory_bytes {
            self.breach = Some(MemoryBreach {
                requested: desired,
                limit: self.limits.max_memory_bytes,
            });
            return Ok(false);
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
    fn deadlines_round_up_to_whole_ticks() {
        let limits = |ms| Limits {
            call_timeout: Duration::from_millis(ms),
            ..Limits::default()
        };
        assert_eq!(limits(0).deadline_ticks(), 1);
        assert_eq!(limits(1).deadline_ticks(), 1);
        assert_eq!(limits(25).deadline_ticks(), 3);
        assert_eq!(Limits::default().deadline_ticks(), 3000);
    }
}
