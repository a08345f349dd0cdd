//! The `file` sink: JSON lines, CSV or Parquet files in a folder, rolled by
//! rows. Each file is written under a hidden temporary name and renamed when
//! complete, so a reader never sees half a file.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde::Deserialize;

use super::{ConnectorError, Format, Sink};

/// Config of `type: file` sinks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Folder the files are written to (relative to the pipeline file);
    /// created if missing.
    pub path: PathBuf,
    /// `json` (lines), `csv` or `parquet`.
    pub format: Format,
    /// File names are `<prefix>-<number>.<extension>`.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Start a new file after this many rows (one file per run when absent).
    pub max_rows_per_file: Option<usize>,
}

fn default_prefix() -> String {
    "part".into()
}

/// Checks that the sink can write batches of `schema`.
pub fn check(config: &Config, schema: &SchemaRef) -> Result<(), ConnectorError> {
    if config.format == Format::Csv
        && let Some(field) = schema.fields().iter().find(|f| f.data_type().is_nested())
    {
        return Err(ConnectorError::Config {
            field: "format".into(),
            message: format!(
                "CSV cannot hold column {:?} of type {}; use json or parquet",
                field.name(),
                field.data_type()
            ),
        });
    }
    if config.max_rows_per_file == Some(0) {
        return Err(ConnectorError::Config {
            field: "max_rows_per_file".into(),
            message: "must be at least 1".into(),
        });
    }
    Ok(())
}

/// A running file sink.
pub struct FileSink {
    config: Config,
    schema: SchemaRef,
    next_number: usize,
    open: Option<OpenFile>,
}

struct OpenFile {
    temporary: PathBuf,
    path: PathBuf,
    writer: Writer,
    rows: usize,
}

enum Writer {
    Json(arrow::json::LineDelimitedWriter<BufWriter<File>>),
    Csv(Box<arrow::csv::Writer<BufWriter<File>>>),
    Parquet(ArrowWriter<File>),
}

impl FileSink {
    /// Prepares the folder; files are created when rows arrive.
    pub fn open(config: &Config, schema: &SchemaRef) -> Result<Self, ConnectorError> {
        check(config, schema)?;
        std::fs::create_dir_all(&config.path).map_err(|source| ConnectorError::Io {
            path: config.path.clone(),
            source,
        })?;
        Ok(Self {
            next_number: next_free_number(config)?,
            config: config.clone(),
            schema: schema.clone(),
            open: None,
        })
    }

    fn start_file(&mut self) -> Result<&mut OpenFile, ConnectorError> {
        let name = format!(
            "{}-{:05}.{}",
            self.config.prefix,
            self.next_number,
            self.config.format.extension()
        );
        self.next_number += 1;
        let path = self.config.path.join(&name);
        let temporary = self.config.path.join(format!(".{name}.tmp"));
        let file = File::create(&temporary).map_err(|source| ConnectorError::Io {
            path: temporary.clone(),
            source,
        })?;
        let writer = match self.config.format {
            Format::Json => {
                Writer::Json(arrow::json::LineDelimitedWriter::new(BufWriter::new(file)))
            }
            Format::Csv => Writer::Csv(Box::new(arrow::csv::Writer::new(BufWriter::new(file)))),
            Format::Parquet => {
                let properties = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .build();
                Writer::Parquet(
                    ArrowWriter::try_new(file, self.schema.clone(), Some(properties)).map_err(
                        |source| ConnectorError::Parquet {
                            path: temporary.clone(),
                            source,
                        },
                    )?,
                )
            }
        };
        Ok(self.open.insert(OpenFile {
            temporary,
            path,
            writer,
            rows: 0,
        }))
    }

    fn finish_file(&mut self) -> Result<(), ConnectorError> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let arrow = |source| ConnectorError::Arrow {
            path: open.temporary.clone(),
            source,
        };
        let io = |source| ConnectorError::Io {
            path: open.temporary.clone(),
            source,
        };
        match open.writer {
            Writer::Json(mut writer) => {
                writer.finish().map_err(arrow)?;
                finish_file(writer.into_inner()).map_err(io)?;
            }
            Writer::Csv(writer) => finish_file(writer.into_inner()).map_err(io)?,
            Writer::Parquet(writer) => {
                let file = writer
                    .into_inner()
                    .map_err(|source| ConnectorError::Parquet {
                        path: open.temporary.clone(),
                        source,
                    })?;
                file.sync_all().map_err(io)?;
            }
        }
        std::fs::rename(&open.temporary, &open.path).map_err(io)
    }
}

fn finish_file(writer: BufWriter<File>) -> std::io::Result<()> {
    writer.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// The number after the highest file this sink's prefix already has, so a
/// second run adds files instead of replacing them.
fn next_free_number(config: &Config) -> Result<usize, ConnectorError> {
    let entries = std::fs::read_dir(&config.path).map_err(|source| ConnectorError::Io {
        path: config.path.clone(),
        source,
    })?;
    let prefix = format!("{}-", config.prefix);
    Ok(entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = Path::new(&name).file_stem()?.to_str()?.to_string();
            stem.strip_prefix(&prefix)?.parse::<usize>().ok()
        })
        .map(|n| n + 1)
        .max()
        .unwrap_or(0))
}

impl Sink for FileSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ConnectorError> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let limit = self.config.max_rows_per_file.unwrap_or(usize::MAX);
            let open = match self.open.as_mut() {
                Some(open) if open.rows < limit => open,
                Some(_) => {
                    self.finish_file()?;
                    self.start_file()?
                }
                None => self.start_file()?,
            };
            let take = (limit - open.rows).min(batch.num_rows() - offset);
            let part = batch.slice(offset, take);
            let path = open.temporary.clone();
            match &mut open.writer {
                Writer::Json(w) => w.write(&part),
                Writer::Csv(w) => w.write(&part),
                Writer::Parquet(w) => w
                    .write(&part)
                    .map_err(|source| arrow::error::ArrowError::ExternalError(Box::new(source))),
            }
            .map_err(|source| ConnectorError::Arrow { path, source })?;
            open.rows += take;
            offset += take;
        }
        Ok(())
    }

    fn close(mut self: Box<Self>) -> Result<(), ConnectorError> {
        self.finish_file()
    }
}
