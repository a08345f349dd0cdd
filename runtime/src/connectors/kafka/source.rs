//! The Kafka source: a consumer in a consumer group that turns messages
//! into batches (up to `batch_rows`, or what arrived within `linger_ms`).
//!
//! Offsets are never committed by librdkafka on its own. Each batch's
//! position is the group and the next offset of every partition read so
//! far; once every sink has made that batch and all before it durable (at
//! every checkpoint and at the end), the executor records it in the state
//! folder and calls [`Source::commit`], which commits it to the group, so a
//! crash re-reads what came after the last commit (at-least-once; exactly
//! once into a transactional sink, which needs the recorded position). After
//! a rebalance only partitions still assigned are committed: the new owner
//! of a revoked partition re-reads what was in flight here.
//!
//! As in Flink, the recorded position wins over the group's offsets: a
//! restarted run starts an assigned partition at the offset it recorded for
//! it (or at the group's, if another member has since got further), so it
//! reads exactly what its sinks' prepared commits did not hold.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arrow::array::{
    ArrayRef, BinaryBuilder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};
use serde::Deserialize;

use super::bounded::{Ends, Progress};
use super::{Connection, MessageFormat, kafka_error};
use crate::connectors::{
    BadRecord, ConnectorConfig, ConnectorError, Parts, Source, SourceConnector, config_error,
    declared_schema,
};
use crate::plugin::Poll;

/// Where a partition without a committed offset (a new group) starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Start {
    /// The oldest message kept.
    #[default]
    Earliest,
    /// Only messages produced from now on.
    Latest,
    /// The first message with a timestamp at or after this (milliseconds
    /// since 1970, UTC), given as an RFC 3339 time.
    Timestamp(i64),
}

/// A `start` that is none of the three forms (serde shows its text only).
#[derive(Debug, thiserror::Error)]
#[error(
    "expected earliest, latest or an RFC 3339 time (2026-01-31T08:00:00Z), got {text:?}: {reason}"
)]
pub struct BadStart {
    text: String,
    reason: chrono::ParseError,
}

impl TryFrom<String> for Start {
    type Error = BadStart;

    fn try_from(text: String) -> Result<Self, BadStart> {
        match text.as_str() {
            "earliest" => Ok(Self::Earliest),
            "latest" => Ok(Self::Latest),
            time => match chrono::DateTime::parse_from_rfc3339(time) {
                Ok(t) => Ok(Self::Timestamp(t.timestamp_millis())),
                Err(reason) => Err(BadStart { text, reason }),
            },
        }
    }
}

/// Messages read to infer a schema when none is declared.
const SAMPLE_MESSAGES: usize = 1000;
/// Longest wait for them.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(10);

/// `type: kafka` as a source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Brokers and librdkafka options.
    #[serde(flatten)]
    pub connection: Connection,
    /// Topics to read; a name starting with `^` is a regular expression.
    pub topics: Vec<String>,
    /// The consumer group: processes with the same group share partitions.
    pub group_id: String,
    /// Where a group with no committed offset starts.
    #[serde(default)]
    pub start: Start,
    /// How message values are read.
    #[serde(default)]
    pub format: MessageFormat,
    /// The columns: `{name: type}`. Without it, `json` infers them from the
    /// first messages of the topics and `arrow-ipc` takes the first
    /// message's schema.
    pub schema: Option<indexmap::IndexMap<String, String>>,
    /// Most rows in one batch.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Longest wait for a batch to fill, in milliseconds.
    #[serde(default = "default_linger_ms")]
    pub linger_ms: u64,
    /// End once every partition of the topics has been read to the end
    /// offsets taken when the run started, here or by another member of the
    /// group (a batch run over what the topics hold now); default: run until
    /// stopped.
    #[serde(default)]
    pub until_end: bool,
    /// With `until_end`: how long to wait, without progress, for partitions
    /// another member holds before failing the run, naming them.
    #[serde(default = "default_until_end_timeout_ms")]
    pub until_end_timeout_ms: u64,
    /// librdkafka's `group.instance.id` (static membership): a process
    /// restarted with the same id gets its partitions back at once, instead
    /// of after the dead member's session times out. Give each process of
    /// the group its own, stable id.
    pub group_instance_id: Option<String>,
}

fn default_until_end_timeout_ms() -> u64 {
    60_000
}

fn default_batch_rows() -> usize {
    8192
}

fn default_linger_ms() -> u64 {
    100
}

impl ConnectorConfig for SourceConfig {
    fn prepare(&mut self, _base_dir: &std::path::Path) -> Result<(), ConnectorError> {
        self.check()
    }
}

/// The position is recorded in the state folder and committed to the group.
impl SourceConnector for SourceConfig {
    fn schema(&self) -> Result<SchemaRef, ConnectorError> {
        self.resolve_schema()
    }

    fn datasets(&self) -> Vec<crate::connectors::Dataset> {
        let brokers = &self.connection.brokers;
        let topics = self.topics.iter();
        topics
            .map(|t| crate::connectors::Dataset::kafka(brokers, t))
            .collect()
    }

    fn resumes(&self) -> bool {
        true
    }

    fn infers_schema(&self) -> bool {
        self.schema.is_none() && self.format != MessageFormat::Raw
    }

    fn open(
        &self,
        schema: &SchemaRef,
        position: Option<serde_json::Value>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        let recorded = match position {
            Some(position) => Position::deserialize(&position).map_err(|e| {
                ConnectorError::Kafka(format!("unreadable position {position}: {e}"))
            })?,
            None => Position::default(),
        };
        let offsets = match recorded.group_id == self.group_id {
            true => recorded.offsets,
            false => {
                if !recorded.offsets.is_empty() {
                    tracing::warn!(
                        recorded = %recorded.group_id,
                        group = %self.group_id,
                        "the recorded position is another group's; starting from this group's offsets"
                    );
                }
                Offsets::new()
            }
        };
        Ok(Box::new(KafkaSource::open(self, schema, offsets)?))
    }
}

impl SourceConfig {
    /// Checks what can be checked without a broker.
    pub fn check(&self) -> Result<(), ConnectorError> {
        if self.topics.is_empty() {
            return Err(config_error("topics", "name at least one topic"));
        }
        if self.batch_rows == 0 {
            return Err(config_error("batch_rows", "must be at least 1"));
        }
        if self.until_end && self.topics.iter().any(|t| t.starts_with('^')) {
            return Err(config_error(
                "until_end",
                "a bounded run needs topic names: the partitions of a pattern are not known when the run starts",
            ));
        }
        match (self.format, &self.schema) {
            (MessageFormat::Raw, Some(_)) => Err(config_error(
                "schema",
                "raw messages have a fixed schema (key, value, topic, partition, offset, timestamp, headers); remove `schema`",
            )),
            (MessageFormat::DebeziumJson, _) => Err(config_error(
                "format",
                "debezium-json is written by sinks; read Debezium's envelopes as `json` with their fields as columns",
            )),
            _ => Ok(()),
        }
    }

    /// The schema of the batches: declared, fixed (raw), or read off the
    /// first messages of the topics.
    pub fn resolve_schema(&self) -> Result<SchemaRef, ConnectorError> {
        match (&self.schema, self.format) {
            (Some(columns), _) => declared_schema(columns),
            (None, MessageFormat::Raw) => Ok(raw_schema()),
            (None, MessageFormat::Json | MessageFormat::DebeziumJson) => {
                let values = self.sample()?;
                let objects = values.iter().filter_map(|v| {
                    serde_json::from_slice::<serde_json::Value>(v)
                        .ok()
                        .filter(serde_json::Value::is_object)
                        .map(Ok)
                });
                arrow::json::reader::infer_json_schema_from_iterator(objects)
                    .map(Arc::new)
                    .map_err(|source| ConnectorError::Arrow {
                        path: self.topics.join(",").into(),
                        source,
                    })
            }
            (None, MessageFormat::ArrowIpc) => {
                let first = self.sample()?.swap_remove(0);
                weir_ipc::read_stream(&first)
                    .map(|(schema, _)| schema)
                    .map_err(|e| {
                        config_error(
                            "schema",
                            &format!("the first message of {} is not an Arrow IPC stream ({e}); declare `schema`", self.topics.join(",")),
                        )
                    })
            }
        }
    }

    /// Up to [`SAMPLE_MESSAGES`] message values from the start of every
    /// partition of the topics, read without joining the group.
    fn sample(&self) -> Result<Vec<Vec<u8>>, ConnectorError> {
        if self.topics.iter().any(|t| t.starts_with('^')) {
            return Err(config_error(
                "schema",
                "the schema of a topic pattern cannot be read off its messages; declare `schema`",
            ));
        }
        let consumer: BaseConsumer = self
            .connection
            .client(&[
                ("group.id", "weir-schema-sample"),
                ("enable.auto.commit", "false"),
                ("enable.partition.eof", "true"),
            ])
            .create()
            .map_err(|e| kafka_error("cannot create the consumer", e))?;
        let mut assignment = TopicPartitionList::new();
        for topic in &self.topics {
            let metadata = consumer
                .fetch_metadata(Some(topic), SAMPLE_TIMEOUT)
                .map_err(|e| kafka_error(&format!("cannot read the partitions of {topic}"), e))?;
            for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
                assignment
                    .add_partition_offset(topic, partition.id(), Offset::Beginning)
                    .map_err(|e| kafka_error("cannot list the partitions", e))?;
            }
        }
        consumer
            .assign(&assignment)
            .map_err(|e| kafka_error("cannot read the topics", e))?;
        let deadline = Instant::now() + SAMPLE_TIMEOUT;
        let (mut values, mut ended) = (Vec::new(), 0);
        while values.len() < SAMPLE_MESSAGES && ended < assignment.count() {
            let left = deadline.saturating_duration_since(Instant::now());
            match consumer.poll(left) {
                Some(Ok(message)) => values.push(message.payload().unwrap_or_default().to_vec()),
                Some(Err(KafkaError::PartitionEOF(_))) => ended += 1,
                Some(Err(e)) => return Err(kafka_error("cannot read the topics", e)),
                None => break,
            }
        }
        match values.is_empty() {
            true => Err(config_error(
                "schema",
                &format!(
                    "{} holds no message to read the schema off; declare `schema`",
                    self.topics.join(",")
                ),
            )),
            false => Ok(values),
        }
    }
}

/// The columns of `format: raw`.
pub fn raw_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("key", DataType::Binary, true),
        Field::new("value", DataType::Binary, true),
        Field::new("topic", DataType::Utf8, false),
        Field::new("partition", DataType::Int32, false),
        Field::new("offset", DataType::Int64, false),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
            true,
        ),
        // The headers as a JSON object of strings (binary values lossily).
        Field::new("headers", DataType::Utf8, true),
    ]))
}

/// Next offsets by topic and partition.
type Offsets = BTreeMap<String, BTreeMap<i32, i64>>;

/// The source's position: the next offsets of the partitions read, in a
/// consumer group.
#[derive(Debug, Default, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Position {
    group_id: String,
    offsets: Offsets,
}

/// librdkafka's callbacks: errors to the log, except the end of a
/// partition, which `until_end` asks for and `poll` reports; assigned
/// partitions start at their `recorded` offsets, or, without a committed
/// offset, at `start_at` (ms) when given.
struct SourceContext {
    start_at: Option<i64>,
    /// The next offsets the last run recorded (see the module doc).
    recorded: Offsets,
    /// A first assignment has come (possibly of no partition).
    assigned: AtomicBool,
}

impl ClientContext for SourceContext {
    fn error(&self, error: KafkaError, reason: &str) {
        let end_of_partition = matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        );
        if !end_of_partition {
            tracing::error!(%error, reason, "kafka consumer");
        }
    }
}

impl ConsumerContext for SourceContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        event: RDKafkaRespErr,
        partitions: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let named = partitions
            .elements()
            .iter()
            .map(|p| format!("{}/{}", p.topic(), p.partition()))
            .collect::<Vec<_>>()
            .join(",");
        let done = match event {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                tracing::info!(partitions = named, "kafka: assigned");
                self.assigned.store(true, Ordering::SeqCst);
                if let Err(error) = self.place(consumer, partitions) {
                    tracing::error!(%error, "cannot find where the assigned partitions start; they start at the group's offsets or `start`");
                }
                match cooperative {
                    true => consumer.incremental_assign(partitions),
                    false => consumer.assign(partitions),
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS if cooperative => {
                tracing::info!(partitions = named, "kafka: revoked");
                consumer.incremental_unassign(partitions)
            }
            _ => {
                tracing::info!(partitions = named, "kafka: revoked");
                consumer.unassign()
            }
        };
        if let Err(error) = done {
            tracing::error!(%error, "kafka rebalance");
        }
    }
}

impl SourceContext {
    /// Points the assigned `partitions` at their recorded offset (or the
    /// group's, when further), and those with neither at their first message
    /// at or after `start_at` (or their end when there is none).
    fn place(
        &self,
        consumer: &BaseConsumer<SourceContext>,
        partitions: &mut TopicPartitionList,
    ) -> Result<(), KafkaError> {
        if self.start_at.is_none() && self.recorded.is_empty() {
            return Ok(());
        }
        let committed = consumer.committed_offsets(partitions.clone(), SAMPLE_TIMEOUT)?;
        let mut new = TopicPartitionList::new();
        for p in committed.elements() {
            let recorded = self
                .recorded
                .get(p.topic())
                .and_then(|t| t.get(&p.partition()));
            match (recorded, p.offset()) {
                (Some(&recorded), Offset::Offset(group)) => {
                    let next = Offset::Offset(recorded.max(group));
                    partitions.set_partition_offset(p.topic(), p.partition(), next)?;
                }
                (Some(&recorded), _) => {
                    let next = Offset::Offset(recorded);
                    partitions.set_partition_offset(p.topic(), p.partition(), next)?;
                }
                (None, Offset::Invalid) => {
                    if let Some(at) = self.start_at {
                        new.add_partition_offset(p.topic(), p.partition(), Offset::Offset(at))?;
                    }
                }
                (None, _) => {}
            }
        }
        if new.count() == 0 {
            return Ok(());
        }
        for p in consumer.offsets_for_times(new, SAMPLE_TIMEOUT)?.elements() {
            let offset = match p.offset() {
                Offset::Offset(offset) => Offset::Offset(offset),
                _ => Offset::End,
            };
            partitions.set_partition_offset(p.topic(), p.partition(), offset)?;
        }
        Ok(())
    }
}

/// A running Kafka source.
pub struct KafkaSource {
    config: SourceConfig,
    schema: SchemaRef,
    consumer: BaseConsumer<SourceContext>,
    /// Next offset per topic and partition: one past the last message read,
    /// or, for a partition not read yet, the recorded one.
    read: Offsets,
    /// The partitions read by this run, whose offsets it commits.
    read_here: BTreeMap<String, std::collections::BTreeSet<i32>>,
    /// Partitions whose end has been reached and that have had no message
    /// since: caught up, for event time; with `until_end`, a batch is sent
    /// without waiting out `linger_ms` once all assigned are.
    at_end: HashSet<(String, i32)>,
    /// Messages polled but not sent yet, one partition per batch.
    ready: VecDeque<Vec<Record>>,
    /// The partition of the batch sent last.
    last_part: String,
    /// With `until_end`: the end offsets taken at the start, and how far the
    /// group has got.
    ends: Option<Ends>,
}

/// One message, copied out of librdkafka's buffer.
struct Record {
    topic: String,
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    timestamp: Option<i64>,
    headers: Option<String>,
}

impl Record {
    /// The message's value; an absent one reads as empty.
    fn value(&self) -> &[u8] {
        self.value.as_deref().unwrap_or_default()
    }

    fn new(message: &BorrowedMessage<'_>) -> Self {
        let headers = message.headers().map(|headers| {
            let map: BTreeMap<&str, String> = headers
                .iter()
                .map(|h| {
                    let value = h.value.map(String::from_utf8_lossy).unwrap_or_default();
                    (h.key, value.into_owned())
                })
                .collect();
            serde_json::to_string(&map).expect("strings serialize")
        });
        Self {
            topic: message.topic().to_string(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            timestamp: message.timestamp().to_millis(),
            headers,
        }
    }

    /// Where the message is, for dead letters.
    fn locator(&self) -> String {
        format!("{}/{}@{}", self.topic, self.partition, self.offset)
    }
}

/// `records` in batches of one partition each, in the order their
/// partitions first appear (each partition's messages in offset order).
fn by_partition(records: Vec<Record>) -> VecDeque<Vec<Record>> {
    let mut batches: Vec<Vec<Record>> = Vec::new();
    for record in records {
        let same =
            |b: &Vec<Record>| b[0].partition == record.partition && b[0].topic == record.topic;
        // Messages come in runs of one partition: try the last batch first.
        let found = match batches.last().is_some_and(same) {
            true => batches.len().checked_sub(1),
            false => batches.iter().position(same),
        };
        match found {
            Some(i) => batches[i].push(record),
            None => batches.push(vec![record]),
        }
    }
    batches.into()
}

impl KafkaSource {
    /// Joins the consumer group of `config` and subscribes to its topics;
    /// assigned partitions start at their `recorded` offsets.
    pub fn open(
        config: &SourceConfig,
        schema: &SchemaRef,
        recorded: Offsets,
    ) -> Result<Self, ConnectorError> {
        let start = match config.start {
            Start::Earliest | Start::Timestamp(_) => "earliest",
            Start::Latest => "latest",
        };
        let start_at = match config.start {
            Start::Timestamp(at) => Some(at),
            _ => None,
        };
        let mut settings = vec![
            ("group.id", config.group_id.as_str()),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", start),
            // Caught-up partitions hold back no event-time clock.
            ("enable.partition.eof", "true"),
        ];
        if let Some(id) = &config.group_instance_id {
            settings.push(("group.instance.id", id));
        }
        let consumer: BaseConsumer<SourceContext> = config
            .connection
            .client(&settings)
            .create_with_context(SourceContext {
                start_at,
                recorded: recorded.clone(),
                assigned: AtomicBool::new(false),
            })
            .map_err(|e| kafka_error("cannot create the consumer", e))?;
        let timeout = Duration::from_millis(config.until_end_timeout_ms);
        let ends = match config.until_end {
            true => Some(Ends::take(&consumer, &config.topics, timeout)?),
            false => None,
        };
        let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|e| kafka_error("cannot subscribe", e))?;
        Ok(Self {
            config: config.clone(),
            schema: schema.clone(),
            consumer,
            read: recorded,
            read_here: BTreeMap::new(),
            at_end: HashSet::new(),
            ready: VecDeque::new(),
            last_part: String::new(),
            ends,
        })
    }

    /// Moves the partition of `record` past it (no allocation once the
    /// topic is known: this runs for every message sent).
    fn note_read(&mut self, record: &Record) {
        let next = record.offset + 1;
        match self.read.get_mut(&record.topic) {
            Some(partitions) => {
                partitions.insert(record.partition, next);
            }
            None => {
                let partitions = BTreeMap::from([(record.partition, next)]);
                self.read.insert(record.topic.clone(), partitions);
            }
        }
    }

    /// Whether every assigned partition has been read to its end.
    fn all_at_end(&self) -> bool {
        let Ok(assignment) = self.consumer.assignment() else {
            return false;
        };
        let assigned = assignment.elements();
        !assigned.is_empty()
            && assigned.iter().all(|p| {
                self.at_end
                    .contains(&(p.topic().to_string(), p.partition()))
            })
    }

    /// Messages until `batch_rows` or `linger_ms` (or the end of every
    /// partition, with `until_end`).
    fn poll_records(&mut self) -> Result<Vec<Record>, ConnectorError> {
        let deadline = Instant::now() + Duration::from_millis(self.config.linger_ms);
        let mut records = Vec::new();
        while records.len() < self.config.batch_rows {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.consumer.poll(left) {
                Some(Ok(message)) => {
                    let record = Record::new(&message);
                    if !self.at_end.is_empty() {
                        self.at_end
                            .remove(&(record.topic.clone(), record.partition));
                    }
                    records.push(record);
                }
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    // The error names the partition, not the topic: mark the
                    // assigned partitions of that number that have been read.
                    if let Ok(assignment) = self.consumer.assignment() {
                        for p in assignment.elements() {
                            if p.partition() == partition {
                                self.at_end.insert((p.topic().to_string(), partition));
                            }
                        }
                    }
                    if self.config.until_end && self.all_at_end() {
                        break;
                    }
                }
                Some(Err(error)) => return Err(kafka_error("cannot consume", error)),
                None => break,
            }
            if left.is_zero() {
                break;
            }
        }
        Ok(records)
    }

    fn raw_batch(&self, records: &[Record]) -> Result<RecordBatch, ConnectorError> {
        let (mut key, mut value) = (BinaryBuilder::new(), BinaryBuilder::new());
        let (mut topic, mut headers) = (StringBuilder::new(), StringBuilder::new());
        let (mut partition, mut offset) = (Int32Builder::new(), Int64Builder::new());
        let mut timestamp = TimestampMillisecondBuilder::new().with_timezone("+00:00");
        for r in records {
            key.append_option(r.key.as_deref());
            value.append_option(r.value.as_deref());
            topic.append_value(&r.topic);
            partition.append_value(r.partition);
            offset.append_value(r.offset);
            timestamp.append_option(r.timestamp);
            headers.append_option(r.headers.as_deref());
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(key.finish()),
            Arc::new(value.finish()),
            Arc::new(topic.finish()),
            Arc::new(partition.finish()),
            Arc::new(offset.finish()),
            Arc::new(timestamp.finish()),
            Arc::new(headers.finish()),
        ];
        RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| self.arrow_error(e))
    }

    fn arrow_error(&self, source: arrow::error::ArrowError) -> ConnectorError {
        ConnectorError::Arrow {
            path: self.config.topics.join(",").into(),
            source,
        }
    }

    /// Decodes JSON messages; a message that is not one object of the schema
    /// goes to `bad` with its topic, partition and offset.
    fn json_batch(
        &self,
        records: &[Record],
        bad: &mut dyn FnMut(BadRecord),
    ) -> Result<RecordBatch, ConnectorError> {
        let decode = |values: &mut dyn Iterator<Item = &[u8]>| {
            let mut decoder = arrow::json::ReaderBuilder::new(self.schema.clone())
                .with_batch_size(self.config.batch_rows.max(1))
                .build_decoder()?;
            let mut rows = 0;
            for value in values {
                decoder.decode(value)?;
                decoder.decode(b"\n")?;
                rows += 1;
            }
            let batch = decoder
                .flush()?
                .unwrap_or_else(|| RecordBatch::new_empty(self.schema.clone()));
            match batch.num_rows() == rows {
                true => Ok(batch),
                false => Err(arrow::error::ArrowError::JsonError(format!(
                    "{rows} messages gave {} rows: each message must hold one JSON object",
                    batch.num_rows()
                ))),
            }
        };
        if let Ok(batch) = decode(&mut records.iter().map(Record::value)) {
            return Ok(batch);
        }
        let mut good = Vec::new();
        for record in records {
            match decode(&mut std::iter::once(record.value())) {
                Ok(batch) => good.push(batch),
                Err(error) => bad(BadRecord {
                    record: String::from_utf8_lossy(record.value()).into_owned(),
                    error: format!("{}: {error}", record.locator()),
                }),
            }
        }
        arrow::compute::concat_batches(&self.schema, &good).map_err(|e| self.arrow_error(e))
    }
}

impl KafkaSource {
    /// Decodes Arrow IPC messages; one that is not a stream of the schema
    /// goes to `bad` with its topic, partition and offset.
    fn arrow_batch(
        &self,
        records: &[Record],
        bad: &mut dyn FnMut(BadRecord),
    ) -> Result<RecordBatch, ConnectorError> {
        let mut good = Vec::new();
        for record in records {
            let error = match weir_ipc::read_stream(record.value()) {
                Ok((schema, batches)) if schema.fields() == self.schema.fields() => {
                    good.extend(batches);
                    continue;
                }
                Ok((schema, _)) => format!(
                    "the message's schema [{}] is not the source's [{}]",
                    crate::graph::schema_line(&schema),
                    crate::graph::schema_line(&self.schema)
                ),
                Err(e) => format!("not an Arrow IPC stream: {e}"),
            };
            bad(BadRecord {
                record: format!("<{} bytes of Arrow IPC>", record.value().len()),
                error: format!("{}: {error}", record.locator()),
            });
        }
        let good: Vec<RecordBatch> = good
            .into_iter()
            .map(|b| b.with_schema(self.schema.clone()))
            .collect::<Result<_, _>>()
            .map_err(|e| self.arrow_error(e))?;
        arrow::compute::concat_batches(&self.schema, &good).map_err(|e| self.arrow_error(e))
    }
}

impl Source for KafkaSource {
    fn next_batch(&mut self, bad: &mut dyn FnMut(BadRecord)) -> Result<Poll, ConnectorError> {
        if self.ready.is_empty() {
            let records = self.poll_records()?;
            if records.is_empty() {
                let progress = match &mut self.ends {
                    Some(ends) => ends.progress(&self.consumer, &self.read)?,
                    None => Progress::Waiting,
                };
                return Ok(match progress {
                    Progress::Done => Poll::Done,
                    Progress::Waiting => Poll::Wait(Duration::ZERO),
                });
            }
            self.ready = by_partition(records);
        }
        let records = self.ready.pop_front().expect("filled above");
        for record in &records {
            self.note_read(record);
        }
        let (topic, partition) = (&records[0].topic, records[0].partition);
        match self.read_here.get_mut(topic) {
            Some(partitions) => {
                partitions.insert(partition);
            }
            None => {
                let partitions = std::collections::BTreeSet::from([partition]);
                self.read_here.insert(topic.clone(), partitions);
            }
        }
        self.last_part = format!("{}/{}", records[0].topic, records[0].partition);
        let batch = match self.config.format {
            MessageFormat::Raw => self.raw_batch(&records)?,
            // debezium-json is refused for sources when they are checked.
            MessageFormat::Json | MessageFormat::DebeziumJson => self.json_batch(&records, bad)?,
            MessageFormat::ArrowIpc => self.arrow_batch(&records, bad)?,
        };
        Ok(Poll::Batch(batch))
    }

    fn position(&self) -> Option<serde_json::Value> {
        // The fields of `Position`, without copying the offsets first.
        let position = serde_json::json!({"group_id": self.config.group_id, "offsets": self.read});
        Some(position)
    }

    /// The assigned partitions; caught up are those at their end with
    /// nothing of them waiting to be sent.
    fn parts(&self) -> Parts {
        let assignment = match self.consumer.context().assigned.load(Ordering::SeqCst) {
            true => self.consumer.assignment(),
            false => return Parts::NotYet,
        };
        let Ok(assignment) = assignment else {
            return Parts::NotYet;
        };
        let elements = assignment.elements();
        let parts = elements.iter().map(|p| {
            let (topic, partition) = (p.topic(), p.partition());
            let waiting = self
                .ready
                .iter()
                .any(|r| r[0].partition == partition && r[0].topic == topic);
            let at_end = self.at_end.contains(&(topic.to_string(), partition));
            (format!("{topic}/{partition}"), at_end && !waiting)
        });
        Parts::Now(Arc::new(parts.collect()))
    }

    fn part(&self) -> String {
        self.last_part.clone()
    }

    fn report(&self) -> Option<String> {
        self.ends.as_ref().map(|ends| ends.report(&self.read))
    }

    fn commit(&mut self, position: &serde_json::Value) -> Result<(), ConnectorError> {
        let read = Position::deserialize(position)
            .map_err(|e| ConnectorError::Kafka(format!("unreadable position {position}: {e}")))?
            .offsets;
        let assigned = self
            .consumer
            .assignment()
            .map_err(|e| kafka_error("cannot read the assignment", e))?;
        let mut offsets = TopicPartitionList::new();
        for p in assigned.elements() {
            // A partition only carried from the recorded position may have
            // been taken further by another member since.
            let here = self.read_here.get(p.topic());
            if !here.is_some_and(|partitions| partitions.contains(&p.partition())) {
                continue;
            }
            if let Some(next) = read.get(p.topic()).and_then(|t| t.get(&p.partition())) {
                offsets
                    .add_partition_offset(p.topic(), p.partition(), Offset::Offset(*next))
                    .map_err(|e| kafka_error("cannot list the offsets", e))?;
            }
        }
        if offsets.count() == 0 {
            return Ok(());
        }
        match self.consumer.commit(&offsets, CommitMode::Sync) {
            Ok(()) => Ok(()),
            // The group is rebalancing: the next commit, in the new
            // generation, covers these offsets (or the new owner re-reads).
            Err(KafkaError::ConsumerCommit(
                code @ (RDKafkaErrorCode::RebalanceInProgress
                | RDKafkaErrorCode::IllegalGeneration
                | RDKafkaErrorCode::UnknownMemberId),
            )) => {
                tracing::warn!(
                    group = %self.config.group_id,
                    ?code,
                    "offset commit refused during a rebalance; the next one retries"
                );
                Ok(())
            }
            Err(error) => Err(kafka_error("cannot commit the offsets", error)),
        }
    }
}
