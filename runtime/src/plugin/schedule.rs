//! Deadlines and fair CPU for calls into plugins, checked on every epoch
//! tick while a call runs.
//!
//! - A call past its deadline is interrupted (it traps; the executor
//!   re-creates the instance).
//! - A call that has run longer than its slice ([`SLICE`] unless the
//!   node's limits say otherwise) is demoted: its thread's
//!   nice value is raised to `DEMOTED_NICE` until the call returns. When
//!   cores are scarce, the kernel then gives them to threads doing short
//!   calls, so a runaway plugin of one tenant cannot starve another tenant's
//!   pipeline; on an idle machine a demoted call runs at full speed. (This
//!   is the multi-level feedback idea: long jobs yield to interactive ones.)
//!   Restoring the nice value needs `CAP_SYS_NICE` where `RLIMIT_NICE` is 0;
//!   without it the thread stays demoted, which costs it priority only.

use std::time::{Duration, Instant};

use wasmtime::UpdateDeadline;

/// How long a call runs at normal priority. Batch calls take microseconds to
/// a few milliseconds; a call past this is doing unusual work.
pub const SLICE: Duration = Duration::from_millis(50);

/// The nice value of a demoted call's thread, the lowest: CFS weighs it 15
/// against 1024 for a normal thread, so on a contended core it gets about
/// 1.5 % of the time. (Measured in `benches/sandbox.rs`: a neighbour
/// pipeline beside a spinning tenant kept 0.88 of its rate at nice 10, 0.91
/// at 19, and 0.55 to 0.68 without demotion.)
const DEMOTED_NICE: i32 = 19;

/// The call in progress on one instance.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallWindow {
    started: Instant,
    deadline: Instant,
    slice: Option<Duration>,
    /// The thread's nice value before demotion, once demoted.
    demoted_from: Option<i32>,
}

impl CallWindow {
    /// A call starting now that may run for `timeout`, demoted after
    /// `slice`.
    pub(crate) fn start(timeout: Duration, slice: Option<Duration>) -> Self {
        let started = Instant::now();
        Self {
            started,
            slice,
            // A timeout too large for an Instant never comes.
            deadline: started
                .checked_add(timeout)
                .unwrap_or(started + Duration::from_secs(100 * 365 * 86400)),
            demoted_from: None,
        }
    }

    /// When the call must end.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Called on every epoch tick while the call runs.
    pub(crate) fn tick(&mut self) -> UpdateDeadline {
        let now = Instant::now();
        if now >= self.deadline {
            return UpdateDeadline::Interrupt;
        }
        let past_slice = self
            .slice
            .is_some_and(|slice| now.duration_since(self.started) >= slice);
        if past_slice && self.demoted_from.is_none() {
            self.demoted_from = thread_nice::demote(DEMOTED_NICE);
        }
        UpdateDeadline::Continue(1)
    }

    /// Ends the call: restores its thread's priority.
    pub(crate) fn end(self) {
        if let Some(nice) = self.demoted_from {
            thread_nice::restore(nice);
        }
    }
}

#[cfg(target_os = "linux")]
mod thread_nice {
    use std::sync::atomic::{AtomicBool, Ordering};

    fn tid() -> libc::id_t {
        // SAFETY: gettid has no preconditions.
        unsafe { libc::gettid() as libc::id_t }
    }

    /// Raises the calling thread's nice value to `nice`; answers the value it
    /// had, or `None` when it could not be changed.
    pub(super) fn demote(nice: i32) -> Option<i32> {
        // SAFETY: getpriority/setpriority on the calling thread's id only
        // read and set its scheduling priority.
        unsafe {
            *libc::__errno_location() = 0;
            let before = libc::getpriority(libc::PRIO_PROCESS, tid());
            if before == -1 && *libc::__errno_location() != 0 {
                return None;
            }
            if before >= nice {
                return None;
            }
            (libc::setpriority(libc::PRIO_PROCESS, tid(), nice) == 0).then_some(before)
        }
    }

    /// Sets the calling thread's nice value back to `nice`.
    pub(super) fn restore(nice: i32) {
        static WARNED: AtomicBool = AtomicBool::new(false);
        // SAFETY: as above.
        let restored = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid(), nice) == 0 };
        if !restored && !WARNED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "cannot restore the priority of a thread demoted during a long plugin call (needs CAP_SYS_NICE); it stays demoted"
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod thread_nice {
    pub(super) fn demote(_nice: i32) -> Option<i32> {
        None
    }

    pub(super) fn restore(_nice: i32) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_interrupted_at_its_deadline_and_demoted_after_its_slice() {
        let mut call = CallWindow::start(Duration::from_millis(120), Some(SLICE));
        assert!(matches!(call.tick(), UpdateDeadline::Continue(1)));
        assert!(call.demoted_from.is_none());
        std::thread::sleep(SLICE);
        assert!(matches!(call.tick(), UpdateDeadline::Continue(1)));
        #[cfg(target_os = "linux")]
        if call.demoted_from.is_some() {
            // SAFETY: reads the calling thread's priority.
            let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as _) };
            assert_eq!(nice, DEMOTED_NICE, "the thread is demoted");
        }
        std::thread::sleep(Duration::from_millis(80));
        assert!(matches!(call.tick(), UpdateDeadline::Interrupt));
        let before = call.demoted_from;
        call.end();
        #[cfg(target_os = "linux")]
        {
            // SAFETY: as above.
            let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as _) };
            if before.is_some() {
                assert_eq!(Some(nice), before, "priority restored (as root)");
            }
        }
    }
}
