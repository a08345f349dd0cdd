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
use crate::plugin::{BoxError, TransformInstance};
use crate::{Error, Fault, Result, Stage};

/// A state file that exists but cannot be read.
fn unreadable(file: &Path, error: std::io::Error) -> Error {
    Error::caused(
        Stage::Open,
        Fault::External,
        format!("cannot read {}", file.display()),
        error,
    )
}

/// How an instance's outputs are acknowledged: with their input's acks
/// (stateless, `None`), or with the group of every input since the last
/// checkpoint.
pub(crate) struct Holding(Option<Stateful>);

struct Stateful {
    group: Group,
    /// Where the state is stored.
    file: PathBuf,
    /// The instance, for logs.
    instance: String,
}

impl Holding {
    /// Restores `transform` (instance `name`) from the state a crashed run
    /// stored in `state_dir`, and answers how it is acknowledged.
    pub(crate) fn open(
        state_dir: &Path,
        name: &str,
        transform: &mut TransformInstance,
    ) -> Result<Self> {
        let file = positions::state_file(state_dir, name);
        let stored = positions::read(&file).map_err(|e| unreadable(&file, e))?;
        if let Some(state) = stored {
            transform.restore(&state).map_err(|e| {
                Error::plugin(Stage::Open, e).context(format!(
                    "cannot restore the state stored in {} (delete it to start empty)",
                    file.display()
                ))
            })?;
            tracing::info!(node = name, file = %file.display(), bytes = state.len(), "state restored from the last checkpoint");
        }
        let stateful = transform
            .snapshot()
            .map_err(|e| Error::plugin(Stage::Open, e))?
            .is_some();
        Ok(Self(stateful.then(|| Stateful {
            group: Group::new(),
            file,
            instance: name.to_string(),
        })))
    }

    /// The acks an output of an input with `acks` carries.
    pub(crate) fn output_acks(&self, acks: &[Ack]) -> Vec<Ack> {
        match &self.0 {
            None => acks.to_vec(),
            Some(state) => vec![state.group.ack()],
        }
    }

    /// The instance is done with an input that brought `acks`.
    pub(crate) fn took(&self, acks: Vec<Ack>) {
        match &self.0 {
            None => release(acks),
            Some(state) => state.group.hold(acks),
        }
    }

    /// Stores the state of `transform` and lets go of the inputs it
    /// includes. A failure is logged and only delays the commit: the inputs
    /// stay held until a later checkpoint succeeds.
    pub(crate) fn checkpoint(&mut self, transform: &mut TransformInstance) {
        let Some(state) = &mut self.0 else { return };
        let stored = match transform.snapshot() {
            Ok(Some(bytes)) => positions::write(&state.file, &bytes).map_err(BoxError::from),
            Ok(None) => positions::remove(&state.file).map_err(BoxError::from),
            Err(e) => Err(e.into()),
        };
        match stored {
            Ok(()) => std::mem::replace(&mut state.group, Group::new()).release(),
            Err(error) => {
                tracing::warn!(node = %state.instance, file = %state.file.display(), %error, "cannot store the state; commits wait for the next checkpoint")
            }
        }
    }

    /// The instance trapped and was re-created as `fresh` (or not, when the
    /// node gave up on its plugin): the state it held is gone. The inputs
    /// since the last checkpoint are never acknowledged (so this run
    /// commits nothing past them and a restart reads them again), and
    /// `fresh` starts from the last stored state.
    pub(crate) fn lost(&mut self, fresh: Option<&mut TransformInstance>) -> Result<()> {
        let Some(state) = &mut self.0 else {
            return Ok(());
        };
        drop(std::mem::replace(&mut state.group, Group::new()));
        tracing::warn!(node = %state.instance, "the instance's state was lost with it; commits stop until a restart re-reads what it held");
        let stored = positions::read(&state.file).map_err(|e| unreadable(&state.file, e))?;
        match (fresh, stored) {
            (Some(fresh), Some(bytes)) => fresh.restore(&bytes).map_err(|e| {
                Error::plugin(Stage::Call, e)
                    .context(format!("cannot restore {}", state.file.display()))
            }),
            _ => Ok(()),
        }
    }

    /// The input ended and `finish` emitted what the state held: the stored
    /// state is obsolete.
    pub(crate) fn finished(self) -> Result<()> {
        if let Some(state) = self.0 {
            positions::remove(&state.file).map_err(|e| {
                Error::caused(
                    Stage::Commit,
                    Fault::External,
                    format!("cannot remove {}", state.file.display()),
                    e,
                )
            })?;
            state.group.release();
        }
        Ok(())
    }
}
