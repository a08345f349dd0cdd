//! Exactly-once output for sinks whose output becomes visible in numbered
//! commits (a Delta table's transactions, see
//! [`crate::connectors::Transactional`]): a two-phase commit whose decision
//! is the sources' recorded positions.
//!
//! At a checkpoint the sink writes its data and `prepare`s it; the prepared
//! commit, its version and the last batch of every source it holds are
//! recorded in `<state>/<sink>.commits.json` before the batches are
//! acknowledged, and each source records positions only after such last
//! batches (`Ledger::boundary`), so no recorded position falls inside a
//! prepared commit: it is either wholly read again or wholly committed. A version is committed once every source recorded a
//! position after its batches (a restart will not read them again). After a
//! crash, the next run commits the recorded versions whose batches the
//! sources recorded (the sink skips a version its output already holds) and
//! drops the others, whose batches are read again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::acks::{Ack, Ledger};
use super::positions;
use crate::connectors::Transactional;
use crate::{Error, Fault, Result, Stage};

/// What a sink's commit file holds.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Recorded {
    /// The version the next prepared commit gets.
    next_version: u64,
    /// Prepared commits not known to be committed, oldest first.
    pending: Vec<Pending>,
}

/// A prepared commit.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pending {
    version: u64,
    /// What the sink's `commit` takes.
    prepared: serde_json::Value,
    /// Per source node, the number of the last of its batches in it.
    batches: BTreeMap<String, u64>,
}

/// The commits of one sink node.
pub(crate) struct Commits {
    file: PathBuf,
    recorded: Recorded,
    /// The ledgers of the sources whose batches reached the sink this run.
    ledgers: BTreeMap<String, Arc<Ledger>>,
}

impl Commits {
    /// Recovers what the last run of sink `node` left: commits the versions
    /// whose batches every source recorded, drops the rest.
    pub(crate) fn recover(
        state_dir: &Path,
        node: &str,
        sink: &mut dyn Transactional,
    ) -> Result<Self> {
        let file = state_dir.join(format!("{node}.commits.json"));
        let unusable = |message: String, cause: crate::plugin::BoxError| {
            Error::caused(Stage::Open, Fault::External, message, cause)
        };
        let recorded: Recorded = match positions::read(&file) {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes).map_err(|e| {
                unusable(
                    format!("{}: not a commit record of weir", file.display()),
                    e.into(),
                )
            })?,
            Ok(None) => Recorded::default(),
            Err(e) => {
                return Err(unusable(
                    format!("cannot read {}", file.display()),
                    e.into(),
                ));
            }
        };
        let mut commits = Self {
            file,
            recorded,
            ledgers: BTreeMap::new(),
        };
        let committed = sink
            .committed_version()
            .map_err(|e| Error::connector(Stage::Open, e))?;
        // The number of the batch each source recorded its position after.
        let mut sources: BTreeMap<&str, Option<u64>> = BTreeMap::new();
        let pendings = std::mem::take(&mut commits.recorded.pending);
        for source in pendings.iter().flat_map(|p| p.batches.keys()) {
            if !sources.contains_key(source.as_str()) {
                let sequence = positions::load_recorded(state_dir, source)?.and_then(|(_, s)| s);
                sources.insert(source, sequence);
            }
        }
        for pending in &pendings {
            let recorded = pending
                .batches
                .iter()
                .all(|(source, &last)| sources[source.as_str()] >= Some(last));
            if !recorded {
                tracing::info!(
                    node,
                    version = pending.version,
                    "dropped a prepared commit whose rows the sources read again"
                );
                break; // Later ones hold later batches.
            }
            sink.commit(pending.version, &pending.prepared)
                .map_err(|e| Error::connector(Stage::Commit, e))?;
            tracing::info!(
                node,
                version = pending.version,
                "committed what the last run prepared"
            );
        }
        let after_committed = committed.map_or(0, |v| v + 1);
        commits.recorded.next_version = commits.recorded.next_version.max(after_committed);
        commits.store()?;
        Ok(commits)
    }

    /// Prepares what `sink` flushed, which came from the source batches of
    /// `acks`, and records it; the acks may be released after this.
    pub(crate) fn prepare(&mut self, sink: &mut dyn Transactional, acks: &[Ack]) -> Result<()> {
        let mut latest = BTreeMap::new();
        for ack in acks {
            ack.latest_batches(&mut latest);
        }
        let Some(prepared) = sink
            .prepare()
            .map_err(|e| Error::connector(Stage::Commit, e))?
        else {
            return Ok(());
        };
        let mut batches = BTreeMap::new();
        for (source, (ledger, last)) in latest {
            ledger.boundary(last);
            batches.insert(source.clone(), last);
            self.ledgers.insert(source, ledger);
        }
        let version = self.recorded.next_version;
        self.recorded.next_version += 1;
        self.recorded.pending.push(Pending {
            version,
            prepared,
            batches,
        });
        self.store()
    }

    /// Commits, in order, the prepared versions whose batches every source
    /// has recorded.
    pub(crate) fn commit_recorded(&mut self, sink: &mut dyn Transactional) -> Result<()> {
        let mut done = 0;
        for pending in &self.recorded.pending {
            let recorded = pending.batches.iter().all(|(source, &last)| {
                self.ledgers
                    .get(source)
                    .is_none_or(|ledger| ledger.covers(last))
            });
            if !recorded {
                break;
            }
            sink.commit(pending.version, &pending.prepared)
                .map_err(|e| Error::connector(Stage::Commit, e))?;
            done += 1;
        }
        if done == 0 {
            return Ok(());
        }
        self.recorded.pending.drain(..done);
        self.store()
    }

    /// Whether prepared versions wait for their sources.
    pub(crate) fn waiting(&self) -> bool {
        !self.recorded.pending.is_empty()
    }

    fn store(&self) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(&self.recorded).expect("serializes");
        positions::write(&self.file, &bytes).map_err(|e| {
            Error::caused(
                Stage::Commit,
                Fault::External,
                format!("cannot record prepared commits in {}", self.file.display()),
                e,
            )
        })
    }
}
