//! Native connectors: sources and sinks that run in the host (files, stdin,
//! stdout, Kafka), with configs checked field by field before anything runs.

mod file_sink;
mod file_source;
#[cfg(feature = "http")]
mod http;
#[cfg(feature = "kafka")]
mod kafka;
mod lines;
#[cfg(feature = "mqtt")]
mod mqtt;
mod parquet_files;
#[cfg(any(feature = "http", feature = "mqtt"))]
mod payload;
mod registry;
pub mod skip;
mod stdout;

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use serde::Deserialize;

use crate::plugin::Poll;

pub use file_sink::FileSink;
pub use file_source::{FileSource, Positions};
#[cfg(feature = "kafka")]
pub use kafka::{KafkaSink, KafkaSource, MessageFormat};
#[cfg(feature = "delta")]
mod delta;
#[cfg(feature = "delta")]
mod delta_merge;
#[cfg(feature = "delta")]
mod delta_source;
#[cfg(feature = "delta")]
mod delta_table;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "delta")]
pub use delta_table::{Compacted, TableVersion, history, optimize, vacuum};

pub use registry::{
    ConnectorConfig, Dataset, Registry, SinkConnector, SinkContext, SourceConnector,
};
pub use stdout::StdoutSink;

/// A connector that cannot be configured or fails while running.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// A config field is wrong.
    #[error("config field `{field}`: {message}")]
    Config {
        /// The field's path.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A file cannot be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Data cannot be decoded or encoded.
    #[error("{}", path.display())]
    Arrow {
        /// The file.
        path: PathBuf,
        /// Why.
        source: arrow::error::ArrowError,
    },
    /// A Kafka client failed (connecting, consuming, producing, committing).
    #[error("kafka: {0}")]
    Kafka(String),
    /// What a connector reads changed under it in a way it cannot pass on
    /// (a table altered or truncated mid-stream, a replication slot gone).
    #[error("{0}")]
    Upstream(String),
    /// A plugin run behind this interface (a Wasm source) failed.
    #[error(transparent)]
    Plugin(#[from] crate::plugin::PluginError),
    /// A Delta table cannot be read, written or committed to.
    #[cfg(feature = "delta")]
    #[error("{table}")]
    Delta {
        /// The table's location.
        table: String,
        /// Why.
        source: deltalake::DeltaTableError,
    },
    /// A PostgreSQL server refused or failed (connecting, replicating, a
    /// catalog query).
    #[cfg(feature = "postgres")]
    #[error("postgres: {what}")]
    Postgres {
        /// What was being done, on which server.
        what: String,
        /// Why.
        source: pg_walstream::ReplicationError,
    },
    /// A Parquet file cannot be read or written.
    #[cfg(feature = "parquet")]
    #[error("{}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// Why.
        source: parquet::errors::ParquetError,
    },
}

/// A record a source could not parse: it goes to the dead letters.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRecord {
    /// The record as read (a line of text).
    pub record: String,
    /// Why it was refused, naming the file and line.
    pub error: String,
}

/// What a native source yields.
pub trait Source: Send {
    /// The next batch, a wait (a followed file has no new line), or the end
    /// of a bounded input. Records that do not parse are handed to `bad` and
    /// left out of the batch.
    fn next_batch(&mut self, bad: &mut dyn FnMut(BadRecord)) -> Result<Poll, ConnectorError>;

    /// Where the source stands after the batch it gave last, for sources
    /// whose position can be committed (`None`: nothing to commit). The
    /// executor tracks it with the batch and commits it once every sink has
    /// made the batch and all before it durable.
    fn position(&self) -> Option<serde_json::Value> {
        None
    }

    /// Its parts (Kafka partitions, files) and which of them are caught up,
    /// for event time: asked before the first batch and after every one,
    /// and passed downstream when it changed. Default: one part.
    fn parts(&self) -> Parts {
        Parts::One
    }

    /// The part the batch it gave last comes from (every batch comes from
    /// one); `""` for a source of one part.
    fn part(&self) -> String {
        String::new()
    }

    /// Whether a run that read the source to its end forgets its position,
    /// so that the next run starts anew (plugin sources, as stateful
    /// transforms forget their state); `false`: the next run continues after
    /// it (files, Kafka).
    fn forgets_at_end(&self) -> bool {
        false
    }

    /// How much input is waiting to be read, for sources that know; called
    /// about once a second.
    fn lag(&self) -> Option<Lag> {
        None
    }

    /// A line for the run's summary, for sources with something to say at
    /// the end (a bounded Kafka run: every partition and its end offset).
    fn report(&self) -> Option<String> {
        None
    }

    /// The run is stopping (Ctrl-C): stop taking input, and answer whether
    /// input already taken is still to be sent; the executor then polls
    /// until [`Poll::Done`] before it closes the sinks. Sources whose input
    /// waits for them elsewhere (files, Kafka, a replication slot) have
    /// nothing to send: `false`, the default.
    fn stop_taking(&mut self) -> bool {
        false
    }

    /// Everything up to `position` (one this source answered) is durable:
    /// sources that commit elsewhere (Kafka consumer groups) commit it now.
    /// Sources that resume from the state folder need nothing: the executor
    /// records the position there.
    fn commit(&mut self, _position: &serde_json::Value) -> Result<(), ConnectorError> {
        Ok(())
    }
}

/// The parts of a source's input, for event time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parts {
    /// One part, always sending.
    One,
    /// Not known yet (a Kafka consumer before its first assignment).
    NotYet,
    /// These parts; `true` for those caught up (at the end of their
    /// partition or file for now). Shared, so an unchanged answer compares
    /// equal without a look inside.
    Now(std::sync::Arc<std::collections::BTreeMap<String, bool>>),
}

/// How far a source is behind its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lag {
    /// Bytes of input files not read yet.
    Bytes(u64),
}

/// What a native sink does.
pub trait Sink: Send {
    /// Writes one batch.
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ConnectorError>;
    /// Makes everything written so far durable (files finished and synced,
    /// deliveries confirmed); called at checkpoints and at the end. Writing
    /// may go on after it.
    fn flush(&mut self) -> Result<(), ConnectorError>;
    /// The run read all its input (it was not stopped and nothing failed):
    /// called once, after the last flush. Sinks that stage a run's output
    /// (`mode: overwrite`) publish it now. Default: nothing to do.
    fn finish(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// What became durable and visible since the last call, for the audit
    /// log: the files finished, a table version and its files, the topic
    /// partitions' offsets, each with its rows. Called after every flush,
    /// commit and finish. Default: nothing to say.
    fn take_committed(&mut self) -> Vec<serde_json::Value> {
        Vec::new()
    }

    /// The sink's commits, if its output becomes visible in numbered
    /// commits a later run can recognise (a Delta table's transactions):
    /// the executor then makes its output exactly-once. Default: none.
    fn transactional(&mut self) -> Option<&mut dyn Transactional> {
        None
    }
}

/// A sink whose output becomes visible in numbered commits, each made once.
/// The executor drives it (see `exec::commits`): at a checkpoint it
/// `prepare`s what was flushed and records that in the state folder; it
/// `commit`s a version only once every source has recorded the position
/// after the batches in it, so a crash before then re-reads those batches
/// and the version is dropped, and a crash after it finds the version
/// recorded and commits it (again: a version the sink already committed is
/// skipped).
pub trait Transactional {
    /// What makes the data flushed since the last call visible (such as
    /// the files written), to be kept until it is committed; `None` when
    /// nothing was flushed.
    fn prepare(&mut self) -> Result<Option<serde_json::Value>, ConnectorError>;
    /// Makes `prepared` visible as commit `version`, unless the output
    /// already holds that version.
    fn commit(&mut self, version: u64, prepared: &serde_json::Value) -> Result<(), ConnectorError>;
    /// The highest version the output holds.
    fn committed_version(&mut self) -> Result<Option<u64>, ConnectorError>;
}

/// Data formats of files and standard streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// JSON lines: one object per line.
    Json,
    /// Comma-separated values with a header line.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// The format a file name's extension implies.
    pub fn from_extension(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "json" | "jsonl" | "ndjson" => Some(Self::Json),
            "csv" => Some(Self::Csv),
            "parquet" => Some(Self::Parquet),
            _ => None,
        }
    }

    /// The file extension written for this format.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "jsonl",
            Self::Csv => "csv",
            Self::Parquet => "parquet",
        }
    }
}

/// Why no folder can be made or written at `path`, if so: its nearest
/// existing ancestor is a file, or a folder this process cannot write.
pub(crate) fn unwritable_folder(path: &Path) -> Option<String> {
    let existing = path.ancestors().find(|p| p.exists())?;
    if !existing.is_dir() {
        return Some(format!(
            "{} is a file, so no folder can be made at {}",
            existing.display(),
            path.display()
        ));
    }
    let c_path = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: a valid NUL-terminated path that outlives the call.
    let writable = unsafe { libc::access(c_path.as_ptr(), libc::W_OK | libc::X_OK) } == 0;
    (!writable).then(|| format!("{} is not writable by this process", existing.display()))
}

pub(crate) fn config_error(field: &str, message: &str) -> ConnectorError {
    ConnectorError::Config {
        field: field.into(),
        message: message.into(),
    }
}

/// A JSON-lines writer that writes null fields as `null` (arrow leaves
/// them out by default, so a reader cannot tell a null from a column that
/// is not there). Every JSON output of Weir writes through one.
pub(crate) fn json_lines<W: std::io::Write>(out: W) -> arrow::json::LineDelimitedWriter<W> {
    arrow::json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<W, arrow::json::writer::LineDelimited>(out)
}

/// A schema declared in a config as `{column: type}` pairs.
fn declared_schema(
    columns: &indexmap::IndexMap<String, String>,
) -> Result<SchemaRef, ConnectorError> {
    let fields = columns
        .iter()
        .map(|(name, type_name)| {
            weir_ipc::data_type(type_name)
                .map(|t| arrow::datatypes::Field::new(name, t, true))
                .map_err(|message| ConnectorError::Config {
                    field: format!("schema.{name}"),
                    message,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(std::sync::Arc::new(arrow::datatypes::Schema::new(fields)))
}
