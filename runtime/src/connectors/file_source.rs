//! The `file` and `stdin` sources: JSON lines, CSV and Parquet, with a
//! declared or inferred schema. Lines that do not parse go to the dead
//! letters; every other row of their batch still arrives.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek};
use std::path::PathBuf;

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
}

/// A running file or stdin source.
pub struct FileSource {
    schema: SchemaRef,
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
    /// Opens the file of `config`.
    pub fn open(config: &Config) -> Result<Self, ConnectorError> {
        let path = &config.path;
        let io = |source| ConnectorError::Io {
            path: path.clone(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let format = config.format()?;
        if format == Format::Parquet {
            let parquet = |source| ConnectorError::Parquet {
                path: path.clone(),
                source,
            };
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
            let schema = builder.schema().clone();
            let reader = builder
                .with_batch_size(config.batch_rows)
                .build()
                .map_err(parquet)?;
            return Ok(Self {
                schema,
                reader: Reader::Parquet {
                    path: path.clone(),
                    reader,
                },
            });
        }
        let mut file = BufReader::new(file);
        let schema = match &config.schema {
            Some(columns) => declared_schema(columns)?,
            None => {
                let arrow = |source| ConnectorError::Arrow {
                    path: path.clone(),
                    source,
                };
                let schema = match format {
                    Format::Json => {
                        arrow::json::reader::infer_json_schema_from_seekable(
                            &mut file,
                            Some(INFER_RECORDS),
                        )
                        .map_err(arrow)?
                        .0
                    }
                    _ => {
                        let (schema, _) = arrow::csv::reader::Format::default()
                            .with_header(true)
                            .infer_schema(&mut file, Some(INFER_RECORDS))
                            .map_err(arrow)?;
                        file.rewind().map_err(io)?;
                        schema
                    }
                };
                std::sync::Arc::new(schema)
            }
        };
        let lines = LineDecoder::new(
            path.display().to_string(),
            Box::new(file),
            format,
            schema.clone(),
            config.batch_rows,
        )?;
        Ok(Self {
            schema,
            reader: Reader::Lines(lines),
        })
    }

    /// Reads standard input.
    pub fn stdin(config: &StdinConfig) -> Result<Self, ConnectorError> {
        if config.format == Format::Parquet {
            return Err(ConnectorError::Config {
                field: "format".into(),
                message: "standard input is read as json or csv".into(),
            });
        }
        let schema = declared_schema(&config.schema)?;
        let lines = LineDecoder::new(
            "<stdin>".into(),
            Box::new(BufReader::new(std::io::stdin())),
            config.format,
            schema.clone(),
            config.batch_rows,
        )?;
        Ok(Self {
            schema,
            reader: Reader::Lines(lines),
        })
    }
}

impl Source for FileSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

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

/// A line of input and its 1-based number.
type NumberedLine = (usize, String);

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
}

impl LineDecoder {
    fn new(
        name: String,
        mut input: Box<dyn BufRead + Send>,
        format: Format,
        schema: SchemaRef,
        batch_rows: usize,
    ) -> Result<Self, ConnectorError> {
        let mut line_number = 0;
        if format == Format::Csv {
            // The header names the columns; the declared schema gives their order.
            let mut header = String::new();
            input
                .read_line(&mut header)
                .map_err(|source| ConnectorError::Io {
                    path: name.clone().into(),
                    source,
                })?;
            line_number = 1;
        }
        Ok(Self {
            name,
            input,
            format,
            schema,
            batch_rows: batch_rows.max(1),
            line_number,
        })
    }

    fn next_batch(
        &mut self,
        bad: &mut dyn FnMut(BadRecord),
    ) -> Result<Option<RecordBatch>, ConnectorError> {
        loop {
            let (chunk, lines) = self.read_chunk()?;
            if lines.is_empty() {
                return Ok(None);
            }
            let batch = match self.decode(&chunk) {
                Ok(batch) => batch,
                Err(_) => self.decode_line_by_line(&lines, bad)?,
            };
            if let Some(batch) = batch.filter(|b| b.num_rows() > 0) {
                return Ok(Some(batch));
            }
        }
    }

    /// Up to `batch_rows` non-empty lines, joined, and each with its number.
    fn read_chunk(&mut self) -> Result<(Vec<u8>, Vec<NumberedLine>), ConnectorError> {
        let mut chunk = Vec::new();
        let mut lines = Vec::new();
        let mut line = String::new();
        while lines.len() < self.batch_rows {
            line.clear();
            let read = self
                .input
                .read_line(&mut line)
                .map_err(|source| ConnectorError::Io {
                    path: self.name.clone().into(),
                    source,
                })?;
            if read == 0 {
                break;
            }
            self.line_number += 1;
            if line.trim().is_empty() {
                continue;
            }
            chunk.extend_from_slice(line.as_bytes());
            if !line.ends_with('\n') {
                chunk.push(b'\n');
            }
            lines.push((
                self.line_number,
                line.trim_end_matches(['\n', '\r']).to_string(),
            ));
        }
        Ok((chunk, lines))
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
        lines: &[NumberedLine],
        bad: &mut dyn FnMut(BadRecord),
    ) -> Result<Option<RecordBatch>, ConnectorError> {
        let mut good = Vec::new();
        for (number, line) in lines {
            let mut bytes = line.clone().into_bytes();
            bytes.push(b'\n');
            match self.decode(&bytes) {
                Ok(Some(batch)) => good.push(batch),
                Ok(None) => {}
                Err(error) => bad(BadRecord {
                    record: line.clone(),
                    error: format!("{}:{number}: {error}", self.name),
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
