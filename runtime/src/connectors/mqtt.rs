//! `type: mqtt`: a source that subscribes to topics of an MQTT broker
//! (rumqttc, MQTT 3.1.1) and decodes each message's payload to rows (JSON
//! lines, a JSON array, CSV or an Arrow IPC stream), with the topic as a
//! column. QoS 1 messages are acknowledged to the broker only once every
//! sink has durably written their rows (the executor's commit), over a
//! persistent session (`clean_session: false`, a stable `client_id`), so
//! the broker sends again what a crashed run had not acknowledged.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use indexmap::IndexMap;
use rumqttc::{Client, Connection, Event, MqttOptions, Packet, Publish, QoS};
use serde::Deserialize;

use super::payload::{self, BodyFormat};
use super::{
    BadRecord, ConnectorConfig, ConnectorError, Dataset, Source, SourceConnector, config_error,
    declared_schema,
};
use crate::plugin::Poll;

/// Config of `type: mqtt`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The broker's host.
    pub host: String,
    /// Its port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// The client's id: the broker keeps its session (subscriptions and
    /// messages not acknowledged) under it, so it must stay the same from
    /// run to run and differ from every other client's.
    pub client_id: String,
    /// Topic filters to subscribe to (`+` and `#` wildcards).
    pub topics: Vec<String>,
    /// `1` (at least once, acknowledged once durable) or `0` (at most once).
    #[serde(default = "default_qos")]
    pub qos: u8,
    /// What a message's payload holds.
    #[serde(default = "default_format")]
    pub format: BodyFormat,
    /// Columns and their types (payloads are decoded to them).
    pub schema: IndexMap<String, String>,
    /// A text column holding each row's topic; `null`: none.
    #[serde(default = "default_topic_column")]
    pub topic_column: Option<String>,
    /// User name, if the broker asks for one.
    pub username: Option<String>,
    /// Password (say `${MQTT_PASSWORD}`).
    pub password: Option<String>,
    /// Messages per batch, at most.
    #[serde(default = "default_batch_messages")]
    pub batch_messages: usize,
    /// Largest payload taken, in bytes.
    #[serde(default = "default_max_payload_bytes")]
    pub max_payload_bytes: usize,
    /// Seconds of silence before the client pings the broker.
    #[serde(default = "default_keep_alive")]
    pub keep_alive_seconds: u64,
}

fn default_port() -> u16 {
    1883
}
fn default_qos() -> u8 {
    1
}
fn default_format() -> BodyFormat {
    BodyFormat::JsonLines
}
fn default_topic_column() -> Option<String> {
    Some("topic".into())
}
fn default_batch_messages() -> usize {
    1000
}
fn default_max_payload_bytes() -> usize {
    1 << 20
}
fn default_keep_alive() -> u64 {
    30
}

impl ConnectorConfig for Config {
    fn prepare(&mut self, _base_dir: &std::path::Path) -> Result<(), ConnectorError> {
        if self.topics.is_empty() {
            return Err(config_error("topics", "give at least one topic filter"));
        }
        for (i, topic) in self.topics.iter().enumerate() {
            if !rumqttc::valid_filter(topic) {
                let message = format!("{topic:?} is not an MQTT topic filter");
                return Err(config_error(&format!("topics[{i}]"), &message));
            }
        }
        if self.client_id.is_empty() || self.client_id.len() > 23 {
            let message = "1 to 23 characters, the same from run to run (an MQTT 3.1.1 broker need not take a longer one)";
            return Err(config_error("client_id", message));
        }
        if self.qos > 1 {
            return Err(config_error("qos", "0 or 1 (QoS 2 is not supported)"));
        }
        if self.schema.is_empty() {
            return Err(config_error(
                "schema",
                "declare the columns the payloads hold",
            ));
        }
        if let Some(column) = &self.topic_column
            && self.schema.contains_key(column)
        {
            let message = format!("{column:?} is already a column of the schema");
            return Err(config_error("topic_column", &message));
        }
        if self.password.is_some() && self.username.is_none() {
            return Err(config_error("password", "needs `username`"));
        }
        let limits = [
            ("batch_messages", self.batch_messages as u64),
            ("max_payload_bytes", self.max_payload_bytes as u64),
            ("keep_alive_seconds", self.keep_alive_seconds),
        ];
        if let Some((field, _)) = limits.iter().find(|(_, value)| *value == 0) {
            return Err(config_error(field, "must be at least 1"));
        }
        Ok(())
    }
}

impl Config {
    /// Subscribes `client` to every topic filter at the configured QoS;
    /// an error names the filter.
    fn subscribe(&self, client: &Client) -> Result<(), String> {
        let qos = match self.qos {
            0 => QoS::AtMostOnce,
            _ => QoS::AtLeastOnce,
        };
        for topic in &self.topics {
            client
                .subscribe(topic, qos)
                .map_err(|e| format!("cannot subscribe to {topic:?}: {e}"))?;
        }
        Ok(())
    }
}

impl SourceConnector for Config {
    fn schema(&self) -> Result<SchemaRef, ConnectorError> {
        let schema = declared_schema(&self.schema)?;
        Ok(match &self.topic_column {
            Some(column) => payload::with_text_column(&schema, column),
            None => schema,
        })
    }

    fn continues(&self) -> bool {
        true
    }

    fn datasets(&self) -> Vec<Dataset> {
        self.topics
            .iter()
            .map(|topic| Dataset {
                namespace: format!("mqtt://{}:{}", self.host, self.port),
                name: topic.clone(),
            })
            .collect()
    }

    fn open(
        &self,
        schema: &SchemaRef,
        _position: Option<serde_json::Value>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        Ok(Box::new(MqttSource::connect(self, schema.clone())?))
    }
}

/// How long `open` waits for the broker's first answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Messages received and not yet taken by the source, at most: past that
/// the connection thread waits, and the broker holds the rest.
const RECEIVED_MESSAGES: usize = 4096;

/// A running `type: mqtt` source.
pub struct MqttSource {
    client: Client,
    config: Config,
    /// The declared schema (payloads decode to it) and the output one.
    declared: SchemaRef,
    output: SchemaRef,
    received: crossbeam_channel::Receiver<Publish>,
    /// Messages taken and not acknowledged yet, by number.
    unacked: VecDeque<(u64, Publish)>,
    /// Messages durable, whose acknowledgement has not found room in the
    /// client's request queue yet (never waited for: the connection thread
    /// may itself be waiting for the source to take a message).
    to_ack: VecDeque<Publish>,
    numbered: u64,
    /// The last message whose rows were sent on.
    sent: u64,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Messages decoded and refused.
    taken: u64,
    refused: u64,
}

impl MqttSource {
    fn connect(config: &Config, output: SchemaRef) -> Result<Self, ConnectorError> {
        let broker = format!("{}:{}", config.host, config.port);
        let mut options = MqttOptions::new(&config.client_id, &config.host, config.port);
        options
            .set_keep_alive(Duration::from_secs(config.keep_alive_seconds))
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_max_packet_size(config.max_payload_bytes + 64 * 1024, 64 * 1024);
        if let Some(user) = &config.username {
            options.set_credentials(user, config.password.clone().unwrap_or_default());
        }
        let (client, mut connection) = Client::new(options, 1024);
        // The first answer, or why there is none.
        let started = Instant::now();
        loop {
            match connection.recv_timeout(CONNECT_TIMEOUT) {
                Ok(Ok(Event::Incoming(Packet::ConnAck(ack)))) => {
                    if !ack.session_present {
                        config
                            .subscribe(&client)
                            .map_err(|e| ConnectorError::Upstream(format!("mqtt {broker}: {e}")))?;
                    }
                    break;
                }
                Ok(Ok(_)) if started.elapsed() < CONNECT_TIMEOUT => continue,
                Ok(Err(e)) => {
                    return Err(ConnectorError::Upstream(format!(
                        "mqtt {broker}: cannot connect: {e}"
                    )));
                }
                _ => {
                    let message = format!(
                        "mqtt {broker}: no answer in {} s",
                        CONNECT_TIMEOUT.as_secs()
                    );
                    return Err(ConnectorError::Upstream(message));
                }
            }
        }
        let (deliver, received) = crossbeam_channel::bounded(RECEIVED_MESSAGES);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, client, config, broker) =
                (stop.clone(), client.clone(), config.clone(), broker.clone());
            std::thread::Builder::new()
                .name("weir-mqtt".into())
                .spawn(move || drive(connection, &client, &config, &broker, &deliver, &stop))
                .map_err(|e| {
                    ConnectorError::Upstream(format!("cannot start the mqtt thread: {e}"))
                })?
        };
        tracing::info!(%broker, topics = ?config.topics, client_id = %config.client_id, "mqtt source subscribed");
        Ok(Self {
            client,
            config: config.clone(),
            declared: declared_schema(&config.schema)?,
            output,
            received,
            unacked: VecDeque::new(),
            to_ack: VecDeque::new(),
            numbered: 0,
            sent: 0,
            stop,
            thread: Some(thread),
            taken: 0,
            refused: 0,
        })
    }

    /// Hands the client what acknowledgements it has room for.
    fn send_acks(&mut self) -> Result<(), ConnectorError> {
        while let Some(message) = self.to_ack.front() {
            match self.client.try_ack(message) {
                Ok(()) => {
                    self.to_ack.pop_front();
                }
                Err(rumqttc::ClientError::TryRequest(_)) => return Ok(()),
                Err(e) => {
                    return Err(ConnectorError::Upstream(format!(
                        "mqtt: cannot acknowledge: {e}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The rows of JSON-lines `messages` decoded at once (a decoder per
    /// message costs more than its one or two rows), with each message's
    /// topic; `None` when that does not hold for every message (one too
    /// large or with a bad line): they are then decoded one by one.
    fn joined(&self, messages: &[Publish]) -> Option<RecordBatch> {
        if self.config.format != BodyFormat::JsonLines || messages.len() < 2 {
            return None;
        }
        let mut text = Vec::with_capacity(messages.iter().map(|m| m.payload.len() + 1).sum());
        let mut rows = Vec::with_capacity(messages.len());
        for message in messages {
            if message.payload.len() > self.config.max_payload_bytes {
                return None;
            }
            text.extend_from_slice(&message.payload);
            text.push(b'\n');
            // The decoder skips blank lines: every other line is a row.
            let lines = message.payload.split(|&b| b == b'\n');
            rows.push(lines.filter(|line| !line.trim_ascii().is_empty()).count());
        }
        let batches = payload::decode(
            BodyFormat::JsonLines,
            text.into(),
            &self.declared,
            usize::MAX,
        )
        .ok()?;
        let decoded = arrow::compute::concat_batches(&self.declared, &batches).ok()?;
        if decoded.num_rows() != rows.iter().sum::<usize>() {
            return None;
        }
        let mut columns = decoded.columns().to_vec();
        if self.config.topic_column.is_some() {
            let mut topics = arrow::array::StringBuilder::with_capacity(decoded.num_rows(), 0);
            for (message, &rows) in messages.iter().zip(&rows) {
                for _ in 0..rows {
                    topics.append_value(&message.topic);
                }
            }
            columns.push(Arc::new(topics.finish()));
        }
        RecordBatch::try_new(self.output.clone(), columns).ok()
    }

    /// The rows of `messages` decoded one by one: a message that does not
    /// decode goes to the dead letters (through `bad`), whole.
    fn one_by_one(
        &mut self,
        messages: &[Publish],
        bad: &mut dyn FnMut(BadRecord),
    ) -> Result<Option<RecordBatch>, ConnectorError> {
        let mut batches = Vec::new();
        for message in messages {
            match self.rows(message) {
                Ok(rows) => {
                    self.taken += 1;
                    batches.extend(rows);
                }
                Err(error) => {
                    self.refused += 1;
                    let shown = &message.payload[..message.payload.len().min(4096)];
                    bad(BadRecord {
                        record: String::from_utf8_lossy(shown).into_owned(),
                        error: format!("topic {}: {error}", message.topic),
                    });
                }
            }
        }
        if batches.is_empty() {
            return Ok(None);
        }
        let batch = arrow::compute::concat_batches(&self.output, &batches).map_err(|e| {
            ConnectorError::Upstream(format!("mqtt: cannot join the messages' rows: {e}"))
        })?;
        Ok(Some(batch))
    }

    /// A message's rows as the output schema, or why they cannot be.
    fn rows(&self, message: &Publish) -> Result<Vec<RecordBatch>, String> {
        if message.payload.len() > self.config.max_payload_bytes {
            return Err(format!(
                "the payload is {} bytes, more than max_payload_bytes ({})",
                message.payload.len(),
                self.config.max_payload_bytes
            ));
        }
        let batches = payload::decode(
            self.config.format,
            message.payload.clone(),
            &self.declared,
            usize::MAX,
        )
        .map_err(|refused| refused.message)?;
        Ok(batches
            .into_iter()
            .map(|batch| match &self.config.topic_column {
                Some(_) => {
                    let mut columns = batch.columns().to_vec();
                    columns.push(payload::text_column(&message.topic, batch.num_rows()));
                    RecordBatch::try_new(self.output.clone(), columns)
                        .expect("the topic column is in the schema")
                }
                None => batch,
            })
            .collect())
    }
}

/// Polls the connection until `stop`: hands messages to the source, waits
/// while its queue is full, and lets rumqttc reconnect after an error
/// (subscribing again if the broker lost the session).
fn drive(
    mut connection: Connection,
    client: &Client,
    config: &Config,
    broker: &str,
    deliver: &crossbeam_channel::Sender<Publish>,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::SeqCst) {
        match connection.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(Event::Incoming(Packet::Publish(message)))) => {
                let mut message = message;
                loop {
                    match deliver.send_timeout(message, Duration::from_millis(100)) {
                        Ok(()) => break,
                        Err(crossbeam_channel::SendTimeoutError::Timeout(back))
                            if !stop.load(Ordering::SeqCst) =>
                        {
                            message = back;
                        }
                        Err(_) => return,
                    }
                }
            }
            // The source closes: its last acknowledgements went before this.
            Ok(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect))) => return,
            Ok(Ok(Event::Incoming(Packet::ConnAck(ack)))) if !ack.session_present => {
                if let Err(error) = config.subscribe(client) {
                    tracing::warn!(%broker, %error, "mqtt: after reconnecting");
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::warn!(%broker, %error, "mqtt connection lost; reconnecting");
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(rumqttc::RecvTimeoutError::Timeout) => {}
            Err(rumqttc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// How long the executor waits before it polls again when no message came.
const POLL_WAIT: Duration = Duration::from_millis(5);

impl Source for MqttSource {
    fn next_batch(&mut self, bad: &mut dyn FnMut(BadRecord)) -> Result<Poll, ConnectorError> {
        self.send_acks()?;
        let mut messages = Vec::new();
        while messages.len() < self.config.batch_messages {
            let Ok(message) = self.received.try_recv() else {
                break;
            };
            messages.push(message);
        }
        let batch = match self.joined(&messages) {
            Some(batch) => {
                self.taken += messages.len() as u64;
                Some(batch)
            }
            None => self.one_by_one(&messages, bad)?,
        };
        for message in messages {
            self.numbered += 1;
            if message.qos == QoS::AtLeastOnce {
                self.unacked.push_back((self.numbered, message));
            }
        }
        match batch {
            Some(batch) if batch.num_rows() > 0 => {
                self.sent = self.numbered;
                Ok(Poll::Batch(batch))
            }
            _ => Ok(Poll::Wait(POLL_WAIT)),
        }
    }

    fn position(&self) -> Option<serde_json::Value> {
        Some(self.sent.into())
    }

    fn commit(&mut self, position: &serde_json::Value) -> Result<(), ConnectorError> {
        let durable = position.as_u64().unwrap_or_default();
        while self.unacked.front().is_some_and(|(n, _)| *n <= durable) {
            let (_, message) = self.unacked.pop_front().expect("checked above");
            self.to_ack.push_back(message);
        }
        self.send_acks()
    }

    fn report(&self) -> Option<String> {
        Some(format!(
            "{} messages taken, {} refused (dead letters)",
            self.taken, self.refused
        ))
    }
}

impl Drop for MqttSource {
    fn drop(&mut self) {
        // The last acknowledgements, then a disconnect behind them, so they
        // reach the broker (else it sends those messages again next run):
        // a second at most. Messages still arriving are left unacknowledged
        // (the broker sends them again), which keeps the connection thread
        // from waiting on the source.
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut disconnecting = false;
        while self.thread.as_ref().is_some_and(|t| !t.is_finished()) && Instant::now() < deadline {
            while self.received.try_recv().is_ok() {}
            if self.send_acks().is_err() {
                break;
            }
            if self.to_ack.is_empty() && !disconnecting {
                disconnecting = self.client.try_disconnect().is_ok();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
