//! Hot reload: replacing a running transform's plugin between two batches,
//! without losing or repeating a row.
//!
//! A [`Reloader`] sends a [`Replacement`] (an already compiled plugin, so
//! compiling stays off the hot path, with the config and limits to open it
//! with) to the node's thread. Between two
//! batches the node instantiates the new plugin, opens it with its input
//! schema, refuses it if its output schema is not the one downstream was
//! built for, moves the old instance's state into it with `snapshot` /
//! `restore`, and swaps. The old instance is kept until the new one has
//! processed its first batch: if that traps, the node goes back to the old
//! one (which has not seen the batch) and processes the batch there, so a
//! refused version loses nothing. Every swap and refusal is audited with both
//! digests.

pub(in crate::exec) mod swap;

use std::collections::HashMap;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use crate::Kind;
use crate::graph::Graph;
use crate::plugin::{Limits, Plugin};

/// A swap the node made.
#[derive(Debug, Clone)]
pub struct Swapped {
    /// `sha256:` digest of the plugin that ran before.
    pub old_digest: String,
    /// `sha256:` digest of the plugin that runs now.
    pub new_digest: String,
    /// How long no batch could pass the node: instantiating and opening the
    /// new version and moving the state.
    pub pause: Duration,
}

/// Why a reload did not happen; the old version keeps running.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReloadError {
    /// No transform of that name runs in this pipeline.
    #[error("no plugin transform named {0:?} runs in this pipeline")]
    UnknownNode(String),
    /// The node runs several instances; reloading them is not supported yet.
    #[error("node {0:?} runs several instances (parallelism); only single-instance nodes reload")]
    Parallel(String),
    /// The node refused the new version.
    #[error("node {node:?} kept its plugin")]
    Refused {
        /// The node.
        node: String,
        /// What went wrong.
        #[source]
        reason: std::sync::Arc<crate::Error>,
    },
    /// The node's input ended before the request was taken.
    #[error("node {0:?} has finished")]
    Finished(String),
}

/// What a node is to run after a reload.
#[derive(Clone)]
pub struct Replacement {
    /// The plugin, compiled.
    pub plugin: Plugin,
    /// The config (JSON) to open it with; `None`: the one running.
    pub config: Option<String>,
    /// The instance's limits; `None`: the ones running. The node's tenant
    /// quota applies either way.
    pub limits: Option<Limits>,
}

impl From<Plugin> for Replacement {
    /// `plugin` with the running config and limits.
    fn from(plugin: Plugin) -> Self {
        Self {
            plugin,
            config: None,
            limits: None,
        }
    }
}

/// A request to swap a node's plugin.
pub(crate) struct ReloadRequest {
    pub replacement: Replacement,
    pub reply: Sender<crate::Result<Swapped>>,
}

/// Sends reload requests to the transforms of one run; cheap to clone.
#[derive(Clone)]
pub struct Reloader {
    senders: HashMap<String, Result<Sender<ReloadRequest>, ReloadError>>,
}

/// The receiving ends, handed to the run.
pub struct ReloadInboxes {
    receivers: HashMap<String, Receiver<ReloadRequest>>,
}

impl ReloadInboxes {
    /// Takes the inbox of `node`, if it can be reloaded. The node drops it
    /// when it ends, so later requests fail instead of waiting.
    pub(crate) fn take(&mut self, node: &str) -> Option<Receiver<ReloadRequest>> {
        self.receivers.remove(node)
    }

    /// Inboxes for no node: a run that cannot be reloaded.
    pub fn none() -> Self {
        Self {
            receivers: HashMap::new(),
        }
    }
}

/// Reload channels for every plugin transform of `graph`.
pub fn reload_channels(graph: &Graph) -> (Reloader, ReloadInboxes) {
    let mut senders = HashMap::new();
    let mut receivers = HashMap::new();
    for node in &graph.nodes {
        if node.kind() != Kind::Transform {
            continue;
        }
        if node.spec.parallelism > 1 {
            senders.insert(
                node.name.clone(),
                Err(ReloadError::Parallel(node.name.clone())),
            );
            continue;
        }
        let (sender, receiver) = crossbeam_channel::bounded(1);
        senders.insert(node.name.clone(), Ok(sender));
        receivers.insert(node.name.clone(), receiver);
    }
    (Reloader { senders }, ReloadInboxes { receivers })
}

impl Reloader {
    /// Asks `node` to swap to `replacement` (a [`Plugin`] converts into one
    /// that keeps the running config and limits), and waits until it has
    /// (after the new version's first batch) or has refused.
    pub fn reload(
        &self,
        node: &str,
        replacement: impl Into<Replacement>,
    ) -> Result<Swapped, ReloadError> {
        let sender = match self.senders.get(node) {
            Some(Ok(sender)) => sender,
            Some(Err(error)) => return Err(error.clone()),
            None => return Err(ReloadError::UnknownNode(node.to_string())),
        };
        let (reply, answer) = crossbeam_channel::bounded(1);
        let finished = || ReloadError::Finished(node.to_string());
        sender
            .send(ReloadRequest {
                replacement: replacement.into(),
                reply,
            })
            .map_err(|_| finished())?;
        answer
            .recv()
            .map_err(|_| finished())?
            .map_err(|reason| ReloadError::Refused {
                node: node.to_string(),
                reason: reason.into(),
            })
    }
}
