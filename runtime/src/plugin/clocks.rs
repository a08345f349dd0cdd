//! Sleeps that would outlast a call's deadline.
//!
//! Epoch interruption stops Wasm code, but a guest that sleeps sits in the
//! host (`wasi:clocks/monotonic-clock` then `wasi:io/poll`), where no epoch
//! check runs: `sleep(1 h)` under a 100 ms deadline would hold its thread for
//! an hour. The linker's `subscribe-duration` and `subscribe-instant` are
//! replaced by versions that, when the wake-up lies past the current call's
//! deadline, wait until the deadline and then trap with
//! [`SleptPastDeadline`], which the instance reports as a deadline breach.

use std::time::{Duration, Instant};

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::clocks::WasiClocksView;
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock::Host as _;

use super::host::HostState;

/// The interface whose functions are replaced, as wasmtime-wasi names it.
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// The trap of a guest that asked to sleep past its call's deadline.
#[derive(Debug, thiserror::Error)]
#[error("the plugin slept past its call's deadline")]
pub(crate) struct SleptPastDeadline;

/// Replaces the sleeping functions of the monotonic clock in `linker`
/// (which already holds wasmtime-wasi's).
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store: StoreContextMut<'_, HostState>, (nanos,): (u64,)| {
            let duration = Duration::from_nanos(nanos);
            within_deadline(store.data(), duration)?;
            Ok((store.data_mut().clocks().subscribe_duration(nanos)?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store: StoreContextMut<'_, HostState>, (when,): (u64,)| {
            let mut clocks = store.data_mut().clocks();
            let now = clocks.now()?;
            let duration = Duration::from_nanos(when.saturating_sub(now));
            within_deadline(store.data(), duration)?;
            let pollable: Resource<DynPollable> =
                store.data_mut().clocks().subscribe_instant(when)?;
            Ok((pollable,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Passes when a sleep of `duration` ends before the call's deadline;
/// otherwise waits out the deadline and traps.
fn within_deadline(state: &HostState, duration: Duration) -> wasmtime::Result<()> {
    let Some(deadline) = state.call.map(|call| call.deadline()) else {
        return Ok(());
    };
    let now = Instant::now();
    if now
        .checked_add(duration)
        .is_some_and(|wake| wake <= deadline)
    {
        return Ok(());
    }
    std::thread::sleep(deadline.saturating_duration_since(now));
    Err(wasmtime::Error::new(SleptPastDeadline))
}
