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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_memory_bytes: 1 << 30,
            call_timeout: Duration::from_secs(30),
            max_instances: 64,
            max_tables: 64,
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
