//! The Kafka sink: an idempotent producer writing one message per row.
//!
//! Delivery reports are awaited before the sink counts as closed: `close`
//! flushes the producer and fails if any message was not delivered, so the
//! executor never acknowledges (commits a source offset for) a row that did
//! not reach the broker.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use rdkafka::ClientContext;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use serde::Deserialize;

use super::{Connection, MessageFormat, kafka_error};
use crate::connectors::{
    ConnectorConfig, ConnectorError, Sink, SinkConnector, SinkContext, config_error,
};

/// How long closing waits for outstanding delivery reports.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// `type: kafka` as a sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// Brokers and librdkafka options.
    #[serde(flatten)]
    pub connection: Connection,
    /// The topic every message goes to (or see `topic_column`).
    pub topic: Option<String>,
    /// A utf8 column naming each row's topic.
    pub topic_column: Option<String>,
    /// A column whose value is the message key (utf8 or binary; other
    /// types as their display text).
    pub key: Option<String>,
    /// `json`: each row as one JSON object (without a `topic_column`);
    /// `raw`: the `value` column's bytes; `arrow-ipc`: each batch as one
    /// Arrow IPC stream (no `key` or `topic_column`: a message holds rows of
    /// many keys).
    #[serde(default)]
    pub format: MessageFormat,
    /// With `raw`: the column holding the message value (default `value`).
    pub value: Option<String>,
    /// With `debezium-json`: the envelope's `source.db` (the database the
    /// changes come from).
    #[serde(default)]
    pub database: String,
    /// Headers added to every message.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
}

impl ConnectorConfig for SinkConfig {}

impl SinkConnector for SinkConfig {
    fn check(&self, schema: &SchemaRef, _: &SinkContext) -> Result<(), ConnectorError> {
        self.check_schema(schema)
    }

    /// The topic; none when a column names each row's (known only as rows
    /// come).
    fn datasets(&self) -> Vec<crate::connectors::Dataset> {
        let brokers = &self.connection.brokers;
        let topic = self.topic.iter();
        topic
            .map(|t| crate::connectors::Dataset::kafka(brokers, t))
            .collect()
    }

    fn open(&self, schema: &SchemaRef, _: &SinkContext) -> Result<Box<dyn Sink>, ConnectorError> {
        Ok(Box::new(KafkaSink::open(self, schema)?))
    }
}

impl SinkConfig {
    /// Checks the config against the schema of the batches it will get.
    fn check_schema(&self, schema: &SchemaRef) -> Result<(), ConnectorError> {
        if self.topic.is_some() == self.topic_column.is_some() {
            return Err(config_error(
                "topic",
                "give either `topic` or `topic_column`",
            ));
        }
        let column = |field: &str, name: &str, types: &[DataType]| {
            let found = schema
                .field_with_name(name)
                .map_err(|_| config_error(field, &format!("the input has no column {name:?}")))?;
            match types.is_empty() || types.contains(found.data_type()) {
                true => Ok(()),
                false => Err(config_error(
                    field,
                    &format!(
                        "column {name:?} is {}, expected utf8 or binary",
                        found.data_type()
                    ),
                )),
            }
        };
        if self.format == MessageFormat::ArrowIpc {
            let per_row = [
                ("key", self.key.is_some()),
                ("topic_column", self.topic_column.is_some()),
            ];
            if let Some((field, _)) = per_row.iter().find(|(_, given)| *given) {
                return Err(config_error(
                    field,
                    "an arrow-ipc message holds a whole batch; a per-row key or topic does not apply",
                ));
            }
        }
        if let Some(name) = &self.topic_column {
            column("topic_column", name, &[DataType::Utf8])?;
        }
        if self.format == MessageFormat::DebeziumJson {
            super::debezium::check(schema)?;
        }
        if let Some(name) = &self.key {
            column("key", name, &[])?;
        }
        if self.format == MessageFormat::Raw {
            column(
                "value",
                self.value_column(),
                &[DataType::Utf8, DataType::Binary],
            )?;
        }
        Ok(())
    }

    fn value_column(&self) -> &str {
        self.value.as_deref().unwrap_or("value")
    }
}

/// Per topic, per partition: the first and last offsets delivered, and how
/// many messages. Keyed by topic first so a delivery report finds its entry
/// without allocating.
type Delivered =
    std::collections::BTreeMap<String, std::collections::BTreeMap<i32, (i64, i64, u64)>>;

/// Counts delivery failures reported by librdkafka's background thread,
/// and the offsets delivered to each topic partition since the audit log
/// last asked (first, last, messages).
struct Deliveries {
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
    delivered: Mutex<Delivered>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        use rdkafka::message::Message;
        if let Ok(message) = result {
            let mut delivered = self.delivered.lock().expect("delivered lock");
            if !delivered.contains_key(message.topic()) {
                delivered.insert(message.topic().to_string(), Default::default());
            }
            let partitions = delivered.get_mut(message.topic()).expect("inserted above");
            let offset = message.offset();
            let range = partitions
                .entry(message.partition())
                .or_insert((offset, offset, 0));
            range.0 = range.0.min(offset);
            range.1 = range.1.max(offset);
            range.2 += 1;
        }
        if let Err((error, message)) = result {
            self.failed.fetch_add(1, Ordering::SeqCst);
            let mut first = self.first_error.lock().expect("error lock");
            first.get_or_insert_with(|| format!("{} (topic {})", error, message.topic()));
        }
    }
}

/// A running Kafka sink.
pub struct KafkaSink {
    config: SinkConfig,
    schema: SchemaRef,
    producer: ThreadedProducer<Deliveries>,
}

/// A column's values as message bytes, one per row: utf8 and binary as
/// they are, other types as their display text; `None` for null.
fn column_bytes(column: &dyn Array) -> Vec<Option<Vec<u8>>> {
    let rows = 0..column.len();
    match column.data_type() {
        DataType::Utf8 => {
            let strings = column.as_string::<i32>();
            rows.map(|r| {
                strings
                    .is_valid(r)
                    .then(|| strings.value(r).as_bytes().to_vec())
            })
            .collect()
        }
        DataType::Binary => {
            let bytes = column.as_binary::<i32>();
            rows.map(|r| bytes.is_valid(r).then(|| bytes.value(r).to_vec()))
                .collect()
        }
        _ => {
            let formatter =
                arrow::util::display::ArrayFormatter::try_new(column, &Default::default());
            rows.map(|r| {
                let text = formatter.as_ref().ok().filter(|_| column.is_valid(r))?;
                Some(text.value(r).to_string().into_bytes())
            })
            .collect()
        }
    }
}

impl KafkaSink {
    /// Connects an idempotent producer for batches of `schema`.
    pub fn open(config: &SinkConfig, schema: &SchemaRef) -> Result<Self, ConnectorError> {
        config.check_schema(schema)?;
        let deliveries = Deliveries {
            failed: AtomicU64::new(0),
            first_error: Mutex::new(None),
            delivered: Mutex::default(),
        };
        let producer = config
            .connection
            .client(&[("enable.idempotence", "true"), ("linger.ms", "5")])
            .create_with_context(deliveries)
            .map_err(|e| kafka_error("cannot create the producer", e))?;
        Ok(Self {
            config: config.clone(),
            schema: schema.clone(),
            producer,
        })
    }

    /// The message values of `batch`, one per row.
    fn values(&self, batch: &RecordBatch) -> Result<Vec<Option<Vec<u8>>>, ConnectorError> {
        if self.config.format == MessageFormat::Raw {
            let column = batch
                .column_by_name(self.config.value_column())
                .expect("checked");
            return Ok(column_bytes(column.as_ref()));
        }
        // JSON of the row (the key column too), without a topic column
        // (and, for Debezium, without the change's metadata).
        let debezium = self.config.format == MessageFormat::DebeziumJson;
        let keep: Vec<usize> = (0..batch.num_columns())
            .filter(|&i| {
                let name = self.schema.field(i).name();
                Some(name) != self.config.topic_column.as_ref()
                    && !(debezium && super::debezium::is_metadata(name))
            })
            .collect();
        let projected = batch
            .project(&keep)
            .map_err(|e| ConnectorError::Kafka(e.to_string()))?;
        let mut writer = crate::connectors::json_lines(Vec::new());
        writer
            .write(&projected)
            .and_then(|()| writer.finish())
            .map_err(|e| ConnectorError::Kafka(e.to_string()))?;
        let text = writer.into_inner();
        let lines = text.split(|&b| b == b'\n').take(batch.num_rows());
        if debezium {
            let rows: Vec<&[u8]> = lines.collect();
            let envelopes = super::debezium::envelopes(batch, &rows, &self.config.database)?;
            return Ok(envelopes.into_iter().map(Some).collect());
        }
        Ok(lines.map(|line| Some(line.to_vec())).collect())
    }
}

impl Sink for KafkaSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ConnectorError> {
        let mut headers = OwnedHeaders::new();
        for (key, value) in &self.config.headers {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        if self.config.format == MessageFormat::ArrowIpc {
            let stream = self.arrow_stream(batch)?;
            let topic = self.config.topic.as_deref().expect("checked");
            self.produce(BaseRecord::to(topic).headers(headers).payload(&stream))?;
            return self.delivered();
        }
        let values = self.values(batch)?;
        let keys = self
            .config
            .key
            .as_ref()
            .map(|k| column_bytes(batch.column_by_name(k).expect("checked").as_ref()));
        let topics = self.config.topic_column.as_ref().map(|t| {
            batch
                .column_by_name(t)
                .expect("checked")
                .as_string::<i32>()
                .clone()
        });
        for (row, value) in values.into_iter().enumerate() {
            let topic = match (&topics, &self.config.topic) {
                (Some(column), _) if column.is_valid(row) => column.value(row),
                (Some(_), _) => {
                    return Err(ConnectorError::Kafka(format!(
                        "row {row}: topic_column {:?} is null",
                        self.config.topic_column.as_deref().unwrap_or_default()
                    )));
                }
                (None, topic) => topic.as_deref().expect("checked"),
            };
            let key = keys.as_ref().and_then(|k| k[row].as_ref());
            let mut record: BaseRecord<'_, Vec<u8>, Vec<u8>> =
                BaseRecord::to(topic).headers(headers.clone());
            if let Some(value) = &value {
                record = record.payload(value);
            }
            if let Some(key) = key {
                record = record.key(key);
            }
            self.produce(record)?;
        }
        self.delivered()
    }

    fn flush(&mut self) -> Result<(), ConnectorError> {
        self.producer
            .flush(FLUSH_TIMEOUT)
            .map_err(|e| kafka_error("cannot flush the producer", e))?;
        self.delivered()
    }

    /// Per topic partition, the offsets delivered since the last call.
    fn take_committed(&mut self) -> Vec<serde_json::Value> {
        let delivered = std::mem::take(
            &mut *self
                .producer
                .context()
                .delivered
                .lock()
                .expect("delivered lock"),
        );
        let mut made = Vec::new();
        for (topic, partitions) in delivered {
            for (partition, (first, last, messages)) in partitions {
                made.push(serde_json::json!({
                    "topic": topic,
                    "partition": partition,
                    "offsets": [first, last],
                    "messages": messages,
                }));
            }
        }
        made
    }
}

impl KafkaSink {
    /// Hands `record` to the producer, waiting while its queue is full.
    fn produce(&self, mut record: BaseRecord<'_, Vec<u8>, Vec<u8>>) -> Result<(), ConnectorError> {
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull,
                    ),
                    returned,
                )) => {
                    record = returned;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err((error, _)) => return Err(kafka_error("cannot produce", error)),
            }
        }
    }

    /// `batch` as one Arrow IPC stream: schema, batch, end marker.
    fn arrow_stream(&self, batch: &RecordBatch) -> Result<Vec<u8>, ConnectorError> {
        let encode = || {
            let mut writer = arrow::ipc::writer::StreamWriter::try_new(Vec::new(), &self.schema)?;
            writer.write(batch)?;
            writer.into_inner()
        };
        encode().map_err(|e| ConnectorError::Kafka(format!("cannot encode a batch: {e}")))
    }

    /// Fails once a delivery report said a message was not delivered.
    fn delivered(&self) -> Result<(), ConnectorError> {
        match self.producer.context().failed.load(Ordering::SeqCst) {
            0 => Ok(()),
            _ => Err(self.delivery_error()),
        }
    }

    fn delivery_error(&self) -> ConnectorError {
        let failed = self.producer.context().failed.load(Ordering::SeqCst);
        let first = self
            .producer
            .context()
            .first_error
            .lock()
            .expect("error lock")
            .clone();
        ConnectorError::Kafka(format!(
            "{failed} message(s) not delivered; first: {}",
            first.unwrap_or_default()
        ))
    }
}
