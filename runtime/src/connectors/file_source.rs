//! The `file` and `stdin` sources: JSON lines, CSV and Parquet, with a
//! declared or inferred schema. Lines that do not parse go to the dead
//! letters; every other row of their batch still arrives.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use indexmap::IndexMap;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use serde::Deserialize;

use super::{BadRecord, ConnectorError, Format, Source, declared_schema};

/// Rows per batch unless the config says otherwise.
const DEFAULT_BATCH_ROWS: usize = 8192;
/// Records read to infer a schema.
const INFER_RECORDS: usize = 1000;

/// Config of `type: file` sources.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The file to read (relative to the pipeline file).
    pub path: PathBuf,
    /// `json` (lines), `csv` or `parquet`; by default from the extension.
    pub format: Option<Format>,
    /// Columns and their types (`{id: int64, name: utf8}`); inferred from
    /// the first records when absent.
    pub schema: Option<IndexMap<String, String>>,
    /// Rows per batch.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
}

/// Config of `type: stdin`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinConfig {
    /// `json` (lines) or `csv`.
    #[serde(default = "json")]
    pub format: Format,
    /// Columns and their types; required (standard input cannot be read twice).
    pub schema: IndexMap<String, String>,
    /// Rows per batch.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
}

fn default_batch_rows() -> usize {
    DEFAULT_BATCH_ROWS
}

fn json() -> Format {
    Format::Json
}

impl Config {
    /// The format to read.
    pub fn format(&self) -> Result<Format, ConnectorError> {
        self.format
            .or_else(|| Format::from_extension(&self.path))
            .ok_or_else(|| ConnectorError::Config {
                field: "format".into(),
                message: format!(
                    "cannot tell the format of {} from its extension; set json, csv or parquet",
                    self.path.display()
                ),
            })
    }

    /// Whether the schema will be inferred rather than taken from the config.
    pub fn infers_schema(&self) -> bool {
        self.schema.is_none() && self.format().ok() != Some(Format::Parquet)
    }

    /// The schema of the file: declared, read from Parquet metadata, or
    /// inferred from the first records.
    pub fn resolve_schema(&self) -> Result<SchemaRef, ConnectorError> {
        let format = self.format()?;
        if let Some(columns) = &self.schema
            && format != Format::Parquet
        {
            return declared_schema(columns);
        }
        let path = &self.path;
        let mut file = BufReader::new(File::open(path).map_err(|source| ConnectorError::Io {
            path: path.clone(),
            source,
        })?);
        let arrow = |source| ConnectorError::Arrow {
            path: path.clone(),
            source,
        };
        let schema = match format {
            Format::Parquet => {
                return ParquetRecordBatchReaderBuilder::try_new(file.into_inner())
                    .map(|b| b.schema().clone())
                    .map_err(|source| ConnectorError::Parquet {
                        path: path.clone(),
                        source,
                    });
            }
            Format::Json => {
                arrow::json::reader::infer_json_schema_from_seekable(&mut file, Some(INFER_RECORDS))
                    .map_err(arrow)?
                    .0
            }
            Format::Csv => {
                arrow::csv::reader::Format::default()
                    .with_header(true)
                    .infer_schema(&mut file, Some(INFER_RECORDS))
                    .map_err(arrow)?
                    .0
            }
        };
        Ok(Arc::new(schema))
    }
}

impl StdinConfig {
    /// The declared schema.
    pub fn resolve_schema(&self) -> Result<SchemaRef, ConnectorError> {
        declared_schema(&self.schema)
    }
}

/// A running file or stdin source.
pub struct FileSource {
    reader: Reader,
}

enum Reader {
    Lines(LineDecoder),
    Parquet {
        path: PathBuf,
        reader: ParquetRecordBatchReader,
    },
}

impl FileSource {
    /// Opens the file of `config`, whose rows have `schema` (the one the
    /// graph was typed with; a Parquet file that changed since is refused).
    pub fn open(config: &Config, schema: &SchemaRef) -> Result<Self, ConnectorError> {
        let path = &config.path;
        let file = File::open(path).map_err(|source| ConnectorError::Io {
            path: path.clone(),
            source,
        })?;
        let format = config.format()?;
        if format != Format::Parquet {
            let name = path.display().to_string();
            return Self::lines(
                name,
                Box::new(BufReader::new(file)),
                format,
                schema,
                config.batch_rows,
            );
        }
        let parquet = |source| ConnectorError::Parquet {
            path: path.clone(),
            source,
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
        if builder.schema().fields() != schema.fields() {
            return Err(ConnectorError::Config {
                field: "path".into(),
                message: format!(
                    "{} changed its schema since the pipeline was checked",
                    path.display()
                ),
            });
        }
        let reader = builder
            .with_batch_size(config.batch_rows)
            .build()
            .map_err(parquet)?;
        Ok(Self {
            reader: Reader::Parquet {
                path: path.clone(),
                reader,
            },
        })
    }

    /// Reads standard input as rows of `schema`.
    pub fn stdin(config: &StdinConfig, schema: &SchemaRef) -> Result<Self, ConnectorError> {
        let input = Box::new(BufReader::new(std::io::stdin()));
        Self::lines(
            "<stdin>".into(),
            input,
            config.format,
            schema,
            config.batch_rows,
        )
    }

    fn lines(
        name: String,
        input: Box<dyn BufRead + Send>,
        format: Format,
        schema: &SchemaRef,
        batch_rows: usize,
    ) -> Result<Self, ConnectorError> {
        Ok(Self {
            reader: Reader::Lines(LineDecoder::new(
                name,
                input,
                format,
                schema.clone(),
                batch_rows,
            )?),
        })
    }
}

impl Source for FileSource {
    fn next_batch(
        &mut self,
        bad: &mut dyn FnMut(BadRecord),
    ) -> Result<Option<RecordBatch>, ConnectorError> {
        match &mut self.reader {
            Reader::Lines(lines) => lines.next_batch(bad),
            Reader::Parquet { path, reader } => {
                reader
                    .next()
                    .transpose()
                    .map_err(|source| ConnectorError::Arrow {
                        path: path.clone(),
                        source,
                    })
            }
        }
    }
}

/// Feeds all of `bytes` to a push decoder that takes what fits each call.
fn feed(
    mut bytes: &[u8],
    mut decode: impl FnMut(&[u8]) -> Result<usize, arrow::error::ArrowError>,
) -> Result<(), arrow::error::ArrowError> {
    while !bytes.is_empty() {
        let used = decode(bytes)?;
        if used == 0 {
            break;
        }
        bytes = &bytes[used..];
    }
    Ok(())
}

/// Where one line lies in a chunk, and its 1-based number in the input.
struct Line {
    number: usize,
    span: std::ops::Range<usize>,
}

/// Decodes JSON or CSV text a batch of lines at a time; when a batch fails,
/// decodes its lines one by one to set the bad ones apart.
struct LineDecoder {
    name: String,
    input: Box<dyn BufRead + Send>,
    format: Format,
    schema: SchemaRef,
    batch_rows: usize,
    /// Lines read so far (for error messages).
    line_number: usize,
    /// The lines of the current batch, each ending in a newline.
    chunk: Vec<u8>,
}

impl LineDecoder {
    fn new(
        name: String,
        input: Box<dyn BufRead + Send>,
        format: Format,
        schema: SchemaRef,
        batch_rows: usize,
    ) -> Result<Self, ConnectorError> {
        let mut decoder = Self {
            name,
            input,
            format,
            schema,
            batch_rows: batch_rows.max(1),
            line_number: 0,
            chunk: Vec::new(),
        };
        if format == Format::Csv {
            // Columns are taken by position in the schema's order.
            decoder.read_chunk(1)?;
        }
        Ok(decoder)
    }

    fn next_batch(
        &mut self,
        bad: &mut dyn FnMut(BadRecord),
    ) -> Result<Option<RecordBatch>, ConnectorError> {
        loop {
            let lines = self.read_chunk(self.batch_rows)?;
            if lines.is_empty() {
                return Ok(None);
            }
            let batch = match self.decode(&self.chunk) {
                Ok(batch) => batch,
                Err(_) => self.decode_line_by_line(&lines, bad)?,
            };
            if let Some(batch) = batch.filter(|b| b.num_rows() > 0) {
                return Ok(Some(batch));
            }
        }
    }

    /// Reads up to `max` non-empty lines into the chunk; blank lines are
    /// skipped. Bytes are not checked here: a line that is not UTF-8 is a
    /// bad record like any other.
    fn read_chunk(&mut self, max: usize) -> Result<Vec<Line>, ConnectorError> {
        self.chunk.clear();
        let mut lines = Vec::new();
        while lines.len() < max {
            let start = self.chunk.len();
            let read = self
                .input
                .read_until(b'\n', &mut self.chunk)
                .map_err(|source| ConnectorError::Io {
                    path: self.name.clone().into(),
                    source,
                })?;
            if read == 0 {
                break;
            }
            self.line_number += 1;
            if self.chunk[start..].trim_ascii().is_empty() {
                self.chunk.truncate(start);
                continue;
            }
            if self.chunk.last() != Some(&b'\n') {
                self.chunk.push(b'\n');
            }
            lines.push(Line {
                number: self.line_number,
                span: start..self.chunk.len(),
            });
        }
        Ok(lines)
    }

    fn decode(&self, bytes: &[u8]) -> Result<Option<RecordBatch>, arrow::error::ArrowError> {
        match self.format {
            Format::Json => {
                let mut decoder = arrow::json::ReaderBuilder::new(self.schema.clone())
                    .with_batch_size(self.batch_rows)
                    .build_decoder()?;
                feed(bytes, |b| decoder.decode(b))?;
                decoder.flush()
            }
            _ => {
                let mut decoder = arrow::csv::ReaderBuilder::new(self.schema.clone())
                    .with_header(false)
                    .with_batch_size(self.batch_rows)
                    .build_decoder();
                feed(bytes, |b| decoder.decode(b))?;
                decoder.decode(&[])?;
                decoder.flush()
            }
        }
    }

    fn decode_line_by_line(
        &self,
        lines: &[Line],
        bad: &mut dyn FnMut(BadRecord),
    ) -> Result<Option<RecordBatch>, ConnectorError> {
        let mut good = Vec::new();
        for line in lines {
            let bytes = &self.chunk[line.span.clone()];
            match self.decode(bytes) {
                Ok(Some(batch)) => good.push(batch),
                Ok(None) => {}
                Err(error) => bad(BadRecord {
                    record: String::from_utf8_lossy(bytes.trim_ascii_end()).into_owned(),
                    error: format!("{}:{}: {error}", self.name, line.number),
                }),
            }
        }
        arrow::compute::concat_batches(&self.schema, &good)
            .map(Some)
            .map_err(|source| ConnectorError::Arrow {
                path: self.name.clone().into(),
                source,
            })
    }
}
