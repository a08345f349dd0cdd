//! When a run's output is durable: every sink instance has closed (files
//! complete, Kafka deliveries confirmed). Sources that commit their position
//! outside the state folder (Kafka consumer groups) wait for it, and commit
//! only if it happened.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Counts the sink instances still open.
pub(crate) struct Durable {
    open: Mutex<usize>,
    changed: Condvar,
}

impl Durable {
    /// `sinks` sink instances are open.
    pub(crate) fn new(sinks: usize) -> Self {
        Self {
            open: Mutex::new(sinks),
            changed: Condvar::new(),
        }
    }

    /// One sink instance has closed its output successfully.
    pub(crate) fn closed(&self) {
        let mut open = self.open.lock().expect("durable lock");
        *open = open.saturating_sub(1);
        self.changed.notify_all();
    }

    /// Waits until every sink has closed (`true`) or a node failed
    /// (`false`: nothing may be acknowledged).
    pub(crate) fn wait(&self, failed: &AtomicBool) -> bool {
        let mut open = self.open.lock().expect("durable lock");
        while *open > 0 {
            if failed.load(Ordering::SeqCst) {
                return false;
            }
            open = self
                .changed
                .wait_timeout(open, Duration::from_millis(50))
                .expect("durable lock")
                .0;
        }
        !failed.load(Ordering::SeqCst)
    }
}
