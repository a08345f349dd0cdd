//! Taps: the batches a node sends on, offered to whoever watches it (the
//! admin API's tap endpoint), and the other live facts the admin page shows
//! that counters cannot hold (the fill of the node's input channel, its
//! last dead letters).
//!
//! A tap never slows its node: with no reader attached it costs one atomic
//! load per batch; with readers, each gets the batch (an `Arc` clone) through
//! a small bounded queue, and a batch that finds a reader's queue full is
//! not given to that reader.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use arrow::array::RecordBatch;
use tokio::sync::mpsc;

/// Batches queued for one reader at most; the rest are passed over.
const READER_QUEUE: usize = 4;

/// Dead letters a node keeps for the live view.
const RECENT_LETTERS: usize = 5;

/// Longest dead letter kept for the live view, in bytes.
const RECENT_LETTER_BYTES: usize = 600;

/// The readers of one node's output.
#[derive(Debug, Default)]
pub struct Tap {
    /// How many readers are attached: checked before taking the lock.
    readers: AtomicUsize,
    senders: Mutex<Vec<mpsc::Sender<RecordBatch>>>,
}

impl Tap {
    /// A new reader: it receives the node's output batches from now on
    /// (those that find room in its queue) until the run ends or it drops
    /// the receiver.
    pub fn attach(&self) -> mpsc::Receiver<RecordBatch> {
        let (sender, receiver) = mpsc::channel(READER_QUEUE);
        let mut senders = self.senders.lock().expect("tap lock");
        senders.push(sender);
        self.readers.store(senders.len(), Ordering::SeqCst);
        receiver
    }

    /// Offers `batch` to every reader; drops readers that went away.
    pub(crate) fn offer(&self, batch: &RecordBatch) {
        if self.readers.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut senders = self.senders.lock().expect("tap lock");
        senders.retain(|sender| {
            !matches!(
                sender.try_send(batch.clone()),
                Err(mpsc::error::TrySendError::Closed(_))
            )
        });
        self.readers.store(senders.len(), Ordering::SeqCst);
    }

    /// Ends every reader's stream: the run is over.
    pub(crate) fn close(&self) {
        let mut senders = self.senders.lock().expect("tap lock");
        senders.clear();
        self.readers.store(0, Ordering::SeqCst);
    }
}

/// The fill of a node's input channel, noted each time it takes a batch:
/// a full channel means the node holds its producers back (backpressure).
#[derive(Debug, Default)]
pub struct QueueFill {
    /// Messages that were waiting behind the one last taken.
    pub waiting: AtomicU64,
    /// The channel's capacity (0 until the run starts).
    pub capacity: AtomicU64,
}

/// The last few dead letters of a node, as written to its file.
#[derive(Debug, Default)]
pub struct RecentLetters(Mutex<VecDeque<String>>);

impl RecentLetters {
    /// Keeps the last few of `lines` (only those can stay), each cut to a
    /// few hundred bytes, forgetting the oldest.
    pub(crate) fn keep_last(&self, lines: &[String]) {
        let last = &lines[lines.len().saturating_sub(RECENT_LETTERS)..];
        let mut letters = self.0.lock().expect("letters lock");
        for line in last {
            let mut end = line.len().min(RECENT_LETTER_BYTES);
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            let kept = match end < line.len() {
                true => format!("{}…", &line[..end]),
                false => line.clone(),
            };
            if letters.len() == RECENT_LETTERS {
                letters.pop_front();
            }
            letters.push_back(kept);
        }
    }

    /// The letters kept, oldest first.
    pub fn list(&self) -> Vec<String> {
        self.0
            .lock()
            .expect("letters lock")
            .iter()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;

    use super::*;

    fn batch(rows: i64) -> RecordBatch {
        let column = Arc::new(Int64Array::from_iter_values(0..rows));
        RecordBatch::try_from_iter([("n", column as _)]).expect("batch")
    }

    #[test]
    fn a_reader_that_does_not_read_misses_batches_and_holds_nothing_back() {
        let tap = Tap::default();
        let mut reader = tap.attach();
        for rows in 1..=100 {
            tap.offer(&batch(rows));
        }
        // Only the first few found room.
        let mut got = Vec::new();
        while let Ok(batch) = reader.try_recv() {
            got.push(batch.num_rows());
        }
        assert_eq!(got, [1, 2, 3, 4]);
        drop(reader);
        tap.offer(&batch(1));
        assert_eq!(
            tap.readers.load(Ordering::SeqCst),
            0,
            "a gone reader is dropped"
        );
    }

    #[test]
    fn closing_ends_every_reader() {
        let tap = Tap::default();
        let mut reader = tap.attach();
        tap.offer(&batch(3));
        tap.close();
        assert_eq!(reader.try_recv().map(|b| b.num_rows()).ok(), Some(3));
        assert!(matches!(
            reader.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }

    #[test]
    fn recent_letters_keep_the_last_few_cut_short() {
        let letters = RecentLetters::default();
        let lines: Vec<String> = (0..8).map(|i| format!("letter {i}")).collect();
        letters.keep_last(&lines[..3]);
        letters.keep_last(&lines[3..]);
        letters.keep_last(&["é".repeat(400)]);
        let list = letters.list();
        assert_eq!(list.len(), RECENT_LETTERS);
        assert_eq!(list[0], "letter 4");
        assert!(list[4].ends_with('…') && list[4].len() <= RECENT_LETTER_BYTES + 3);
    }
}
