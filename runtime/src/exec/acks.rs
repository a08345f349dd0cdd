//! End-to-end acknowledgements: which source batches every sink has made
//! durable, so their source may commit how far it read.
//!
//! A resuming source keeps a [`Ledger`] and tags each batch it sends with an
//! [`Ack`]. Every batch derived from it carries a clone: a stateless
//! transform hands its input's acks to its outputs, a stateful one collects
//! them in a [`Group`] that its outputs carry until its state is stored at a
//! checkpoint, a fan-out clones them to every branch, and a sink keeps them
//! until a `flush` made the write durable. When the last clone is dropped the
//! batch is acknowledged, and the source commits the position after the
//! longest run of acknowledged batches from the start (an earlier batch still
//! in flight holds back the later ones: commits never skip data).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;

use super::event_time::{Announcement, Origin};

/// What travels on an edge.
pub(crate) enum Message {
    /// Rows.
    Batch(Envelope),
    /// A producer's parts changed (see [`super::event_time`]).
    Announce(Arc<Announcement>),
}

/// A batch, the acks of the source batches it derives from, and where its
/// rows come from.
pub(crate) struct Envelope {
    pub batch: RecordBatch,
    pub acks: Vec<Ack>,
    pub origin: Option<Origin>,
}

/// A claim on source batches, acknowledged once every clone was released.
/// A clone dropped without [`Ack::release`] (a node failed with it, a channel
/// was torn down) loses the claim: its batches are never acknowledged, so
/// the source never commits past them and a restart re-reads them.
pub(crate) struct Ack {
    claim: Arc<Claim>,
    released: bool,
}

struct Claim {
    kind: ClaimKind,
    /// A clone was dropped without being released.
    lost: AtomicBool,
}

enum ClaimKind {
    /// One batch of a source.
    Batch { ledger: Arc<Ledger>, sequence: u64 },
    /// The acks a stateful transform collected since its last checkpoint.
    Group(Mutex<Vec<Ack>>),
}

impl Ack {
    fn new(kind: ClaimKind) -> Self {
        Self {
            claim: Arc::new(Claim {
                kind,
                lost: AtomicBool::new(false),
            }),
            released: false,
        }
    }

    /// This holder is done with the batches: what it did with them (wrote,
    /// filtered out, sent on with clones) is as durable as it needs to be.
    pub(crate) fn release(mut self) {
        self.released = true;
    }

    /// Adds the source batches this ack claims to `latest`: per source, its
    /// ledger and the highest sequence.
    pub(crate) fn latest_batches(&self, latest: &mut BTreeMap<String, (Arc<Ledger>, u64)>) {
        match &self.claim.kind {
            ClaimKind::Batch { ledger, sequence } => {
                let entry = latest
                    .entry(ledger.node.clone())
                    .or_insert_with(|| (ledger.clone(), *sequence));
                entry.1 = entry.1.max(*sequence);
            }
            ClaimKind::Group(held) => {
                for ack in held.lock().expect("group lock").iter() {
                    ack.latest_batches(latest);
                }
            }
        }
    }
}

/// Releases every ack of `acks`.
pub(crate) fn release(acks: Vec<Ack>) {
    acks.into_iter().for_each(Ack::release);
}

impl Clone for Ack {
    fn clone(&self) -> Self {
        Self {
            claim: self.claim.clone(),
            released: false,
        }
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        if !self.released {
            self.claim.lost.store(true, Ordering::SeqCst);
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let lost = *self.lost.get_mut();
        match &mut self.kind {
            ClaimKind::Batch { ledger, sequence } if !lost => ledger.acknowledge(*sequence),
            ClaimKind::Batch { ledger, sequence } => ledger.lose(*sequence),
            // The group's inputs share its fate.
            ClaimKind::Group(held) if !lost => {
                release(std::mem::take(held.get_mut().expect("group lock")));
            }
            ClaimKind::Group(_) => {}
        }
    }
}

/// The batches a source sent and which of them are acknowledged. Batches
/// are numbered; a source that records its position numbers on from where
/// the last run recorded, so a number names one batch across runs.
pub(crate) struct Ledger {
    /// The source node.
    node: String,
    /// Whether the source records its positions (and their numbers) in the
    /// state folder.
    records: bool,
    state: Mutex<LedgerState>,
}

#[derive(Default)]
struct LedgerState {
    next: u64,
    /// The number of the batch after which the position was recorded last.
    recorded: Option<u64>,
    /// The number of the last batch of `committable`.
    committable_through: u64,
    /// Once a sink with numbered commits reads this source: the batches
    /// its prepared commits end with. A position is then committable only
    /// after one of them, so a recorded position never falls inside a
    /// prepared commit (see `exec::commits`).
    boundaries: Option<std::collections::BTreeSet<u64>>,
    /// Batches not yet committable, by sequence: the source's position after
    /// each, and whether it was acknowledged.
    in_flight: BTreeMap<u64, (serde_json::Value, bool)>,
    /// The position after the longest acknowledged run, not yet taken.
    committable: Option<serde_json::Value>,
    /// The first batch that was lost: nothing from it on is recorded.
    lost_from: Option<u64>,
}

impl Ledger {
    /// The ledger of source `node`, which does not record its positions.
    pub(crate) fn new(node: &str) -> Self {
        Self {
            node: node.to_string(),
            records: false,
            state: Mutex::default(),
        }
    }

    /// The ledger of source `node`, which records its positions; the last
    /// run recorded the one after batch `recorded`.
    pub(crate) fn recording(node: &str, recorded: Option<u64>) -> Self {
        let state = LedgerState {
            next: recorded.map_or(0, |n| n + 1),
            recorded,
            ..LedgerState::default()
        };
        Self {
            node: node.to_string(),
            records: true,
            state: Mutex::new(state),
        }
    }

    /// Whether the source records its positions in the state folder.
    pub(crate) fn records(&self) -> bool {
        self.records
    }

    /// The number of the last batch issued, if any.
    pub(crate) fn last_issued(&self) -> Option<u64> {
        self.state.lock().expect("ledger lock").next.checked_sub(1)
    }

    /// The position after batch `sequence` was recorded.
    pub(crate) fn recorded(&self, sequence: u64) {
        let mut state = self.state.lock().expect("ledger lock");
        state.recorded = state.recorded.max(Some(sequence));
    }

    /// A sink's prepared commit ends with batch `sequence`: from now on
    /// positions are committable only after such batches.
    pub(crate) fn boundary(&self, sequence: u64) {
        let mut state = self.state.lock().expect("ledger lock");
        state.boundaries.get_or_insert_default().insert(sequence);
    }

    /// Whether a restart would not read batch `sequence` again: the source
    /// recorded a position after it, or records none (a restart reads
    /// everything again).
    pub(crate) fn covers(&self, sequence: u64) -> bool {
        !self.records || self.state.lock().expect("ledger lock").recorded >= Some(sequence)
    }

    /// Records a batch after which the source stands at `position`; the
    /// answered ack travels with the batch.
    pub(crate) fn issue(self: &Arc<Self>, position: serde_json::Value) -> Ack {
        let mut state = self.state.lock().expect("ledger lock");
        let sequence = state.next;
        state.next += 1;
        if state.lost_from.is_none() {
            state.in_flight.insert(sequence, (position, false));
        }
        Ack::new(ClaimKind::Batch {
            ledger: self.clone(),
            sequence,
        })
    }

    fn acknowledge(&self, sequence: u64) {
        let mut state = self.state.lock().expect("ledger lock");
        if let Some(entry) = state.in_flight.get_mut(&sequence) {
            entry.1 = true;
        }
        while let Some(entry) = state.in_flight.first_entry() {
            if !entry.get().1 {
                break;
            }
            let (sequence, (position, _)) = entry.remove_entry();
            let at_boundary = match &mut state.boundaries {
                Some(boundaries) => boundaries.remove(&sequence),
                None => true,
            };
            if at_boundary {
                state.committable = Some(position);
                state.committable_through = sequence;
            }
        }
    }

    /// A batch was lost: no position from it on can be committed, so stop
    /// recording them (a long run would otherwise hold them all).
    fn lose(&self, sequence: u64) {
        let mut state = self.state.lock().expect("ledger lock");
        if state.lost_from.is_none_or(|from| sequence < from) {
            tracing::warn!(
                node = %self.node,
                sequence,
                "a batch was not delivered downstream; this run commits nothing past it"
            );
            state.lost_from = Some(sequence);
            state.in_flight.retain(|&s, _| s <= sequence);
        }
    }

    /// The position to commit and the number of the batch it follows, if
    /// more was acknowledged since the last call.
    pub(crate) fn take_committable(&self) -> Option<(serde_json::Value, u64)> {
        let mut state = self.state.lock().expect("ledger lock");
        let through = state.committable_through;
        state.committable.take().map(|p| (p, through))
    }

    /// Batches sent and not committable yet (in flight, lost, or behind
    /// one that is).
    pub(crate) fn in_flight(&self) -> usize {
        self.state.lock().expect("ledger lock").in_flight.len()
    }
}

/// The acks a stateful transform holds: everything its input brought since
/// the last checkpoint. Its outputs carry the group's ack, so the inputs are
/// acknowledged only when those outputs are durable *and* the transform
/// released the group (its state, which may still hold their rows, was
/// stored).
pub(crate) struct Group(Ack);

impl Group {
    pub(crate) fn new() -> Self {
        Self(Ack::new(ClaimKind::Group(Mutex::new(Vec::new()))))
    }

    /// Holds `acks` until the group is released.
    pub(crate) fn hold(&self, acks: Vec<Ack>) {
        if let ClaimKind::Group(held) = &self.0.claim.kind {
            held.lock().expect("group lock").extend(acks);
        }
    }

    /// The ack an output of the transform carries.
    pub(crate) fn ack(&self) -> Ack {
        self.0.clone()
    }

    /// The transform's state was stored (or emitted): let go.
    pub(crate) fn release(self) {
        self.0.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(n: u64) -> serde_json::Value {
        serde_json::json!(n)
    }

    #[test]
    fn commits_only_the_acknowledged_prefix() {
        let ledger = Arc::new(Ledger::new("test"));
        let [first, second, third] = [1, 2, 3].map(|n| ledger.issue(position(n)));
        second.release();
        assert_eq!(
            ledger.take_committable(),
            None,
            "batch 1 is still in flight"
        );
        first.release();
        assert_eq!(ledger.take_committable(), Some((position(2), 1)));
        assert_eq!(ledger.take_committable(), None, "taken once");
        let copy = third.clone();
        third.release();
        assert_eq!(ledger.take_committable(), None, "a clone is still held");
        copy.release();
        assert_eq!(ledger.take_committable(), Some((position(3), 2)));
        assert_eq!(ledger.in_flight(), 0);
    }

    #[test]
    fn an_ack_dropped_without_release_holds_back_every_later_commit() {
        let ledger = Arc::new(Ledger::new("test"));
        let [first, second, third] = [1, 2, 3].map(|n| ledger.issue(position(n)));
        let copy = second.clone();
        first.release();
        second.release();
        drop(copy);
        third.release();
        assert_eq!(ledger.take_committable(), Some((position(1), 0)));
        assert_eq!(
            ledger.in_flight(),
            1,
            "the lost batch; the later ones are not kept"
        );
        ledger.issue(position(4)).release();
        assert_eq!(ledger.take_committable(), None);
        assert_eq!(ledger.in_flight(), 1);
    }

    #[test]
    fn a_group_holds_its_acks_until_released_and_every_output_is_released() {
        let ledger = Arc::new(Ledger::new("test"));
        let group = Group::new();
        group.hold(vec![ledger.issue(position(1))]);
        let output = group.ack();
        group.hold(vec![ledger.issue(position(2))]);
        group.release();
        assert_eq!(ledger.take_committable(), None, "an output is in flight");
        output.release();
        assert_eq!(ledger.take_committable(), Some((position(2), 1)));
    }

    #[test]
    fn with_prepared_commits_positions_are_committable_only_after_their_last_batch() {
        let ledger = Arc::new(Ledger::recording("test", Some(9)));
        let [a, b, c] = [1, 2, 3].map(|n| ledger.issue(position(n)));
        let mut latest = BTreeMap::new();
        c.latest_batches(&mut latest);
        assert_eq!(latest["test"].1, 12, "numbered on from the record");
        ledger.boundary(12);
        a.release();
        b.release();
        assert_eq!(ledger.take_committable(), None, "inside a prepared commit");
        c.release();
        assert_eq!(ledger.take_committable(), Some((position(3), 12)));
        assert!(!ledger.covers(12), "not recorded yet");
        ledger.recorded(12);
        assert!(ledger.covers(12));
    }

    #[test]
    fn a_group_dropped_without_release_loses_what_it_held() {
        let ledger = Arc::new(Ledger::new("test"));
        let group = Group::new();
        group.hold(vec![ledger.issue(position(1))]);
        drop(group);
        assert_eq!(ledger.take_committable(), None);
        assert_eq!(ledger.in_flight(), 1);
    }
}
