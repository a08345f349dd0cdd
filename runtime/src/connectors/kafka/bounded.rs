//! Bounded Kafka runs (`until_end: true`): what "read to the end" means.
//!
//! The end is taken when the run starts: the high watermark of every
//! partition of the subscribed topics. The run is complete once every one of
//! them has been reached by the consumer group: read by this process, or
//! committed by whichever member owned it. Only the partitions assigned here
//! are read here; another member's (a live one, or one killed that still
//! holds them until its session times out) are waited for. A run that sees
//! no progress on the missing partitions (no offset moved, no rebalance)
//! for `until_end_timeout_ms` fails, naming each partition and how far it
//! got, so that exit 0 always means "every partition read to its end".

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};

use super::kafka_error;
use crate::connectors::ConnectorError;

/// How long a broker request of this module may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long reading the group's commits may hold up polling.
const COMMITS_TIMEOUT: Duration = Duration::from_millis(500);
/// How often the group's committed offsets are read while waiting.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// A partition: topic and number.
type Partition = (String, i32);

/// Where a bounded run stands.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Progress {
    /// Every partition has been reached.
    Done,
    /// Some have not; keep polling (their owner may be reading them, or a
    /// rebalance may hand them here).
    Waiting,
}

/// The end offsets of a bounded run and how far the group has got.
pub(super) struct Ends {
    /// Per partition: its first offset and its end, when the run started.
    ends: BTreeMap<Partition, (i64, i64)>,
    /// Per partition: the farthest next offset committed by the group.
    committed: BTreeMap<Partition, i64>,
    /// When the group's commits were read last.
    checked: Option<Instant>,
    /// When a missing partition last moved (or the wait began).
    moved: Instant,
    /// What is still missing, summed, at the last check.
    missing_then: i64,
    /// The partitions assigned here at the last check: a rebalance counts
    /// as progress (it may hand the missing partitions here).
    assigned_then: Vec<Partition>,
    /// How long to wait without progress.
    timeout: Duration,
}

impl Ends {
    /// Takes the ends of every partition of `topics` (names, not patterns).
    pub(super) fn take<C: ConsumerContext>(
        consumer: &BaseConsumer<C>,
        topics: &[String],
        timeout: Duration,
    ) -> Result<Self, ConnectorError> {
        let mut ends = BTreeMap::new();
        for topic in topics {
            let metadata = consumer
                .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
                .map_err(|e| kafka_error(&format!("cannot read the partitions of {topic}"), e))?;
            let partitions: Vec<i32> = metadata
                .topics()
                .iter()
                .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                .collect();
            if partitions.is_empty() {
                return Err(ConnectorError::Kafka(format!(
                    "until_end: topic {topic:?} has no partitions (does it exist?)"
                )));
            }
            for partition in partitions {
                let (low, high) = consumer
                    .fetch_watermarks(topic, partition, REQUEST_TIMEOUT)
                    .map_err(|e| {
                        kafka_error(&format!("cannot read the end of {topic}/{partition}"), e)
                    })?;
                ends.insert((topic.clone(), partition), (low, high));
            }
        }
        Ok(Self {
            ends,
            committed: BTreeMap::new(),
            checked: None,
            moved: Instant::now(),
            missing_then: i64::MAX,
            assigned_then: Vec::new(),
            timeout,
        })
    }

    /// How far `partition` has got: read here (`read`: next offsets by
    /// topic and partition) or committed by the group.
    fn reached(&self, read: &BTreeMap<String, BTreeMap<i32, i64>>, partition: &Partition) -> i64 {
        let here = read.get(&partition.0).and_then(|t| t.get(&partition.1));
        let committed = self.committed.get(partition);
        here.max(committed).copied().unwrap_or(-1)
    }

    /// The partitions not reached yet, with how far each got and its end.
    fn missing(&self, read: &BTreeMap<String, BTreeMap<i32, i64>>) -> Vec<(Partition, i64, i64)> {
        self.ends
            .iter()
            .filter(|(_, (low, high))| high > low)
            .map(|(p, (_, high))| (p.clone(), self.reached(read, p), *high))
            .filter(|(_, reached, high)| reached < high)
            .collect()
    }

    /// Where the run stands, given what this process has read; reads the
    /// group's commits at most every [`CHECK_EVERY`]. Fails once the missing
    /// partitions have not moved for the timeout.
    pub(super) fn progress<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        read: &BTreeMap<String, BTreeMap<i32, i64>>,
    ) -> Result<Progress, ConnectorError> {
        let mut missing = self.missing(read);
        if !missing.is_empty() && self.checked.is_none_or(|at| at.elapsed() >= CHECK_EVERY) {
            self.checked = Some(Instant::now());
            // A broker that cannot answer now (the group is forming) is
            // asked again; only the timeout ends the wait.
            match self.read_commits(consumer) {
                Ok(()) => missing = self.missing(read),
                Err(error) => {
                    tracing::debug!(%error, "until_end: cannot read the group's commits yet")
                }
            }
        }
        if missing.is_empty() {
            return Ok(Progress::Done);
        }
        let left: i64 = missing
            .iter()
            .map(|(_, reached, high)| high - reached.max(&0))
            .sum();
        let assigned: Vec<Partition> = consumer
            .assignment()
            .map(|list| {
                let elements = list.elements();
                elements
                    .iter()
                    .map(|p| (p.topic().to_string(), p.partition()))
                    .collect()
            })
            .unwrap_or_default();
        if left < self.missing_then || assigned != self.assigned_then {
            self.missing_then = left;
            self.assigned_then = assigned;
            self.moved = Instant::now();
        }
        if self.moved.elapsed() < self.timeout {
            return Ok(Progress::Waiting);
        }
        let mut text = format!(
            "until_end: no progress for {} s (until_end_timeout_ms) on partitions not read to the end offsets taken when the run started:",
            self.timeout.as_secs()
        );
        for ((topic, partition), reached, high) in missing {
            match reached {
                -1 => write!(
                    text,
                    " {topic}/{partition} not read (no committed offset), end {high};"
                ),
                _ => write!(text, " {topic}/{partition} at {reached} of {high};"),
            }
            .expect("writing to a String");
        }
        text.push_str(" another member of the group may still hold them (a killed one holds them until its session times out: see group_instance_id)");
        Err(ConnectorError::Kafka(text))
    }

    /// Reads the offsets the group has committed for every partition.
    fn read_commits<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
    ) -> Result<(), ConnectorError> {
        let mut list = TopicPartitionList::new();
        for (topic, partition) in self.ends.keys() {
            list.add_partition(topic, *partition);
        }
        let committed = consumer
            .committed_offsets(list, COMMITS_TIMEOUT)
            .map_err(|e| kafka_error("cannot read the group's committed offsets", e))?;
        for p in committed.elements() {
            if let Offset::Offset(next) = p.offset() {
                self.committed
                    .insert((p.topic().to_string(), p.partition()), next);
            }
        }
        Ok(())
    }

    /// The summary line: every partition with how far it got and its end.
    pub(super) fn report(&self, read: &BTreeMap<String, BTreeMap<i32, i64>>) -> String {
        let mut text = String::from("read to the end offsets taken at the start:");
        for (partition @ (topic, number), (low, high)) in &self.ends {
            let reached = self.reached(read, partition).max(*low);
            let by = match read.get(topic).and_then(|t| t.get(number)) {
                _ if high == low => " (empty)",
                Some(_) => "",
                None => " (by another member)",
            };
            write!(text, " {topic}/{number} {reached} of {high}{by},")
                .expect("writing to a String");
        }
        text.pop();
        text
    }
}
