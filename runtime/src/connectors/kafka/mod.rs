//! `type: kafka`: a consumer-group source and an idempotent producer sink
//! over librdkafka (rdkafka), with the client settings the two share.

mod bounded;
mod debezium;
mod sink;
mod source;

use std::collections::BTreeMap;

use rdkafka::ClientConfig;
use serde::Deserialize;

pub use sink::{KafkaSink, SinkConfig};
pub use source::{KafkaSource, SourceConfig};

use super::ConnectorError;

/// How message values are read and written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageFormat {
    /// One JSON object per message, in a declared schema.
    #[default]
    Json,
    /// The message as columns: key, value, topic, partition, offset,
    /// timestamp, headers (sources); a value column and optional key (sinks).
    Raw,
    /// One Arrow IPC stream per message: a whole batch, schema included.
    ArrowIpc,
    /// Sinks only: each change as Debezium's JSON envelope.
    DebeziumJson,
}

/// Connection settings every Kafka node has.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    /// `host:port,...` of the bootstrap brokers.
    pub brokers: String,
    /// librdkafka settings passed as they are, for real clusters:
    /// `security.protocol`, `sasl.mechanisms`, `sasl.username`,
    /// `ssl.ca.location`, ...
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl Connection {
    /// A librdkafka client config with the brokers, `settings` and then the
    /// user's options (which win).
    fn client(&self, settings: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (key, value) in settings {
            config.set(*key, *value);
        }
        for (key, value) in &self.options {
            config.set(key, value);
        }
        config
    }
}

fn kafka_error(what: &str, error: rdkafka::error::KafkaError) -> ConnectorError {
    ConnectorError::Kafka(format!("{what}: {error}"))
}
