//! The `stdout` sink: JSON lines, or a pretty table per batch.

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use serde::Deserialize;

use super::{ConnectorConfig, ConnectorError, Sink, SinkConnector};

/// Config of `type: stdout`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `json` (lines, the default) or `table`.
    #[serde(default)]
    pub format: StdoutFormat,
}

/// How rows are printed.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StdoutFormat {
    /// One JSON object per row.
    #[default]
    Json,
    /// A table per batch.
    Table,
}

impl ConnectorConfig for Config {}

impl SinkConnector for Config {
    fn open(
        &self,
        schema: &SchemaRef,
        _: &super::SinkContext,
    ) -> Result<Box<dyn Sink>, ConnectorError> {
        Ok(Box::new(StdoutSink::new(self, schema)))
    }
}

/// A running stdout sink.
pub struct StdoutSink {
    format: StdoutFormat,
}

impl StdoutSink {
    /// A sink printing batches of `_schema`.
    pub fn new(config: &Config, _schema: &SchemaRef) -> Self {
        Self {
            format: config.format,
        }
    }
}

impl Sink for StdoutSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ConnectorError> {
        let stdout = std::io::stdout().lock();
        let arrow = |source| ConnectorError::Arrow {
            path: "<stdout>".into(),
            source,
        };
        match self.format {
            StdoutFormat::Json => {
                let mut writer = super::json_lines(stdout);
                writer.write(batch).map_err(arrow)?;
                writer.finish().map_err(arrow)
            }
            StdoutFormat::Table => {
                let table = arrow::util::pretty::pretty_format_batches(std::slice::from_ref(batch))
                    .map_err(arrow)?;
                writeln!(&mut { stdout }, "{table}").map_err(|source| ConnectorError::Io {
                    path: "<stdout>".into(),
                    source,
                })
            }
        }
    }

    fn flush(&mut self) -> Result<(), ConnectorError> {
        std::io::stdout()
            .flush()
            .map_err(|source| ConnectorError::Io {
                path: "<stdout>".into(),
                source,
            })
    }
}
