//! Checkpoints of a transform instance: what its outputs acknowledge, and
//! for a stateful plugin (one whose `snapshot` answers state), its state
//! stored in the state folder at every checkpoint and restored by the next
//! run after a crash.
//!
//! A stateless transform's outputs carry the acks of the batch they came
//! from. A stateful one may keep rows of a batch in its state (an open
//! window) long after the call: its outputs carry one [`Group`] holding the
//! acks of every batch since the last checkpoint, and the group is released
//! only once the state that includes those batches is on disk. A restarted
//! run restores that state and re-reads from the last commit, which is never
//! later than the state: rows may count twice after a crash, never zero
//! times (at-least-once).

use std::path::{Path, PathBuf};

use super::acks::{Ack, Group, release};
use super::positions;
use crate::plugin::TransformInstance;

/// How an instance's outputs are acknowledged.
pub(crate) enum Holding {
    /// Outputs carry their input's acks.
    Stateless,
    /// Outputs carry the group of every input since the last checkpoint.
    Stateful {
        group: Group,
        /// Where the state is stored.
        file: PathBuf,
        /// The instance, for logs.
        instance: String,
    },
}

impl Holding {
    /// Restores `transform` (instance `name`) from the state a crashed run
    /// stored in `state_dir`, and answers how it is acknowledged.
    pub(crate) fn open(
        state_dir: &Path,
        name: &str,
        transform: &mut TransformInstance,
    ) -> Result<Self, String> {
        let file = positions::state_file(state_dir, name);
        if let Some(state) = positions::read(&file)? {
            transform.restore(&state).map_err(|e| {
                format!(
                    "cannot restore the state stored in {} (delete it to start empty): {e}",
                    file.display()
                )
            })?;
            tracing::info!(node = name, file = %file.display(), bytes = state.len(), "state restored from the last checkpoint");
        }
        let stateful = transform
            .snapshot()
            .map_err(|e| format!("snapshot: {e}"))?
            .is_some();
        Ok(match stateful {
            true => Self::Stateful {
                group: Group::new(),
                file,
                instance: name.to_string(),
            },
            false => Self::Stateless,
        })
    }

    /// The acks an output of an input with `acks` carries.
    pub(crate) fn output_acks(&self, acks: &[Ack]) -> Vec<Ack> {
        match self {
            Self::Stateless => acks.to_vec(),
            Self::Stateful { group, .. } => vec![group.ack()],
        }
    }

    /// The instance is done with an input that brought `acks`.
    pub(crate) fn took(&self, acks: Vec<Ack>) {
        match self {
            Self::Stateless => release(acks),
            Self::Stateful { group, .. } => group.hold(acks),
        }
    }

    /// Stores the state of `transform` and lets go of the inputs it
    /// includes. A failure is logged and only delays the commit: the inputs
    /// stay held until a later checkpoint succeeds.
    pub(crate) fn checkpoint(&mut self, transform: &mut TransformInstance) {
        let Self::Stateful {
            group,
            file,
            instance,
        } = self
        else {
            return;
        };
        let stored = match transform.snapshot() {
            Ok(Some(state)) => positions::write(file, &state).map_err(|e| e.to_string()),
            Ok(None) => std::fs::remove_file(&*file)
                .or_else(ignore_missing)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match stored {
            Ok(()) => std::mem::replace(group, Group::new()).release(),
            Err(error) => {
                tracing::warn!(node = %instance, file = %file.display(), %error, "cannot store the state; commits wait for the next checkpoint")
            }
        }
    }

    /// The instance trapped and was re-created as `fresh` (or not, when the
    /// node gave up on its plugin): the state it held is gone. The inputs
    /// since the last checkpoint are never acknowledged (so this run
    /// commits nothing past them and a restart reads them again), and
    /// `fresh` starts from the last stored state.
    pub(crate) fn lost(&mut self, fresh: Option<&mut TransformInstance>) -> Result<(), String> {
        let Self::Stateful {
            group,
            file,
            instance,
        } = self
        else {
            return Ok(());
        };
        drop(std::mem::replace(group, Group::new()));
        tracing::warn!(node = %instance, "the instance's state was lost with it; commits stop until a restart re-reads what it held");
        match (fresh, positions::read(file)?) {
            (Some(fresh), Some(state)) => fresh
                .restore(&state)
                .map_err(|e| format!("cannot restore {}: {e}", file.display())),
            _ => Ok(()),
        }
    }

    /// The input ended and `finish` emitted what the state held: the stored
    /// state is obsolete.
    pub(crate) fn finished(self) -> Result<(), String> {
        if let Self::Stateful { group, file, .. } = self {
            std::fs::remove_file(&file)
                .or_else(ignore_missing)
                .map_err(|e| format!("cannot remove {}: {e}", file.display()))?;
            group.release();
        }
        Ok(())
    }
}

fn ignore_missing(error: std::io::Error) -> std::io::Result<()> {
    match error.kind() {
        std::io::ErrorKind::NotFound => Ok(()),
        _ => Err(error),
    }
}
