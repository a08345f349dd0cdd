//! Event time across partitions: where each batch comes from, and the clock
//! of a transform that tracks event time (`wit/event-time.wit`).
//!
//! Every batch carries its [`Origin`]: the *producer* that made it (a source
//! node, or a transform that tracks event time) and the part of that
//! producer it comes from (a Kafka partition, a file; `""` for a producer
//! with one part). A source sends a batch of one part at a time, and an
//! [`Announcement`] in-band whenever its parts change (a rebalance, a new
//! file) or one is caught up (the end of a partition or a file), so an
//! announcement never overtakes the rows it follows. Other transforms pass
//! origins and announcements through.
//!
//! A [`Clock`] at a transform that tracks event time keeps, per part of
//! every producer upstream, the newest event time seen. Its watermark is the
//! minimum over the parts still sending, as Flink and Kafka Streams do: a
//! partition read later than another holds the clock back instead of having
//! its rows arrive late. A part that is caught up (idle) holds nothing back;
//! when all are, the clock is at the newest time seen. A producer not heard
//! from yet, or a part that has sent no row yet, holds the clock where it is.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, RecordBatch, TimestampMillisecondArray};
use arrow::datatypes::{DataType, TimeUnit};

/// Where a batch's rows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    /// The node that produced it: a source, or a transform that tracks
    /// event time.
    pub producer: Arc<str>,
    /// Its part: a Kafka partition (`topic/partition`), a file, or `""`.
    pub part: Arc<str>,
}

/// A producer's parts and whether each is caught up (`true`: idle), or
/// `None` once it has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Announcement {
    /// The producing node.
    pub producer: Arc<str>,
    /// Its parts now, with their idle flags; `None`: it sends no more.
    pub parts: Option<Arc<BTreeMap<String, bool>>>,
}

/// The parts of a producer of one part, always sending.
pub(crate) fn one_part() -> Arc<BTreeMap<String, bool>> {
    Arc::new([(String::new(), false)].into())
}

/// One part as the clock knows it.
#[derive(Debug, Clone, Copy, Default)]
struct Part {
    /// The newest event time seen (ms), `None` before its first row.
    newest: Option<i64>,
    idle: bool,
}

#[derive(Debug, Clone)]
enum Producer {
    /// Not heard from yet: holds the clock.
    Unknown,
    /// Its parts.
    Known(BTreeMap<String, Part>),
    /// Ended: holds nothing back.
    Ended,
}

/// The event-time clock of one transform instance.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    /// The input column holding event time.
    column: usize,
    producers: BTreeMap<Arc<str>, Producer>,
}

impl Clock {
    /// A clock over event time in input `column`, for rows of `producers`
    /// (every source and event-time transform upstream).
    pub(crate) fn new(column: usize, producers: impl IntoIterator<Item = String>) -> Self {
        Self {
            column,
            producers: producers
                .into_iter()
                .map(|p| (p.into(), Producer::Unknown))
                .collect(),
        }
    }

    /// Notes what `announcement` says.
    pub(crate) fn announce(&mut self, announcement: &Announcement) {
        let entry = self
            .producers
            .entry(announcement.producer.clone())
            .or_insert(Producer::Unknown);
        let Some(parts) = &announcement.parts else {
            *entry = Producer::Ended;
            return;
        };
        let known = match entry {
            Producer::Known(known) => std::mem::take(known),
            _ => BTreeMap::new(),
        };
        let parts = parts
            .iter()
            .map(|(name, &idle)| {
                let newest = known.get(name).and_then(|p| p.newest);
                (name.clone(), Part { newest, idle })
            })
            .collect();
        *entry = Producer::Known(parts);
    }

    /// Notes `batch`, which came from `origin`: its part is sending (not
    /// idle) and has reached the batch's newest event time.
    pub(crate) fn observe(&mut self, origin: Option<&Origin>, batch: &RecordBatch) {
        let Some(origin) = origin else { return };
        let newest = newest_ms(batch, self.column);
        let producer = self
            .producers
            .entry(origin.producer.clone())
            .or_insert(Producer::Unknown);
        // Rows before its first announcement: it sends.
        if !matches!(producer, Producer::Known(_)) {
            *producer = Producer::Known(BTreeMap::new());
        }
        if let Producer::Known(parts) = producer {
            let part = parts.entry(origin.part.to_string()).or_default();
            part.idle = false;
            part.newest = part.newest.max(newest);
        }
    }

    /// The watermark: how far event time has got on every part still
    /// sending; `None` while one of them holds it back from the start.
    pub(crate) fn watermark(&self) -> Option<i64> {
        let mut sending: Option<i64> = None;
        let mut any_sending = false;
        let mut newest: Option<i64> = None;
        for producer in self.producers.values() {
            let parts = match producer {
                Producer::Unknown => return None,
                Producer::Ended => continue,
                Producer::Known(parts) => parts,
            };
            for part in parts.values() {
                newest = newest.max(part.newest);
                if part.idle {
                    continue;
                }
                any_sending = true;
                let at = part.newest?;
                sending = Some(sending.map_or(at, |s| s.min(at)));
            }
        }
        match any_sending {
            true => sending,
            false => newest,
        }
    }
}

/// The newest non-null time (ms) in timestamp column `column` of `batch`.
fn newest_ms(batch: &RecordBatch, column: usize) -> Option<i64> {
    let array = batch.column(column);
    let millis = match array.data_type() {
        DataType::Timestamp(TimeUnit::Millisecond, _) => array.clone(),
        DataType::Timestamp(_, _) => {
            arrow::compute::cast(array, &DataType::Timestamp(TimeUnit::Millisecond, None)).ok()?
        }
        _ => return None,
    };
    let millis = millis
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()?;
    arrow::compute::max(millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, Schema};

    fn batch(times: &[i64]) -> RecordBatch {
        let schema = Schema::new(vec![Field::new(
            "t",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            true,
        )]);
        let array = TimestampMillisecondArray::from(times.to_vec());
        RecordBatch::try_new(Arc::new(schema), vec![Arc::new(array)]).unwrap()
    }

    fn origin(part: &str) -> Origin {
        Origin {
            producer: "kafka".into(),
            part: part.into(),
        }
    }

    fn parts(idle: &[(&str, bool)]) -> Announcement {
        Announcement {
            producer: "kafka".into(),
            parts: Some(Arc::new(
                idle.iter().map(|(p, i)| (p.to_string(), *i)).collect(),
            )),
        }
    }

    #[test]
    fn the_slowest_sending_part_holds_the_clock() {
        let mut clock = Clock::new(0, ["kafka".to_string()]);
        assert_eq!(clock.watermark(), None, "nothing heard yet");
        clock.announce(&parts(&[("t/0", false), ("t/1", false)]));
        clock.observe(Some(&origin("t/0")), &batch(&[5, 90, 40]));
        assert_eq!(clock.watermark(), None, "t/1 has sent nothing yet");
        clock.observe(Some(&origin("t/1")), &batch(&[10]));
        assert_eq!(clock.watermark(), Some(10));
        // t/1 caught up: only t/0 counts.
        clock.announce(&parts(&[("t/0", false), ("t/1", true)]));
        assert_eq!(clock.watermark(), Some(90));
        // Rows again from t/1: it sends, and counts again.
        clock.observe(Some(&origin("t/1")), &batch(&[20]));
        assert_eq!(clock.watermark(), Some(20));
        // Everything caught up: the newest time seen.
        clock.announce(&parts(&[("t/0", true), ("t/1", true)]));
        assert_eq!(clock.watermark(), Some(90));
    }

    #[test]
    fn every_producer_upstream_is_waited_for_until_it_ends() {
        let mut clock = Clock::new(0, ["kafka".to_string(), "files".to_string()]);
        clock.announce(&parts(&[("t/0", false)]));
        clock.observe(Some(&origin("t/0")), &batch(&[7]));
        assert_eq!(clock.watermark(), None, "files not heard from");
        clock.announce(&Announcement {
            producer: "files".into(),
            parts: None,
        });
        assert_eq!(clock.watermark(), Some(7));
    }

    #[test]
    fn a_new_part_holds_the_clock_until_its_first_row_and_nulls_are_ignored() {
        let mut clock = Clock::new(0, ["kafka".to_string()]);
        clock.announce(&parts(&[("t/0", false)]));
        clock.observe(Some(&origin("t/0")), &batch(&[30]));
        assert_eq!(clock.watermark(), Some(30));
        clock.announce(&parts(&[("t/0", false), ("t/2", false)]));
        assert_eq!(clock.watermark(), None);
        let nulls = {
            let array = TimestampMillisecondArray::from(vec![None, Some(50)]);
            RecordBatch::try_new(batch(&[]).schema(), vec![Arc::new(array)]).unwrap()
        };
        clock.observe(Some(&origin("t/2")), &nulls);
        assert_eq!(clock.watermark(), Some(30));
    }
}
