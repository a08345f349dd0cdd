//! The `delta` source: reads a Delta Lake table as a bounded source, at its
//! latest version or, by time travel, at a `version` or the latest one at a
//! `timestamp`. Data files are read with the `parquet` crate (no query
//! engine); partition columns are filled in from each file's partition
//! values. Tables whose rows need more than their data files to be read
//! (deletion vectors, column mapping) are refused by name.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray, new_null_array};
use arrow::datatypes::{Schema, SchemaRef};
use deltalake::kernel::engine::arrow_conversion::TryIntoArrow;
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};
use futures::TryStreamExt;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use serde::Deserialize;
use url::Url;

use super::{ConnectorConfig, ConnectorError, Source, SourceConnector, config_error};
use crate::plugin::Poll;

/// Config of `type: delta` sources.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The table: a folder (relative to the pipeline file) or a `file://`
    /// URL.
    pub path: String,
    /// Read the table as it was at this version (time travel).
    pub version: Option<i64>,
    /// Read the table as it was at this time (RFC 3339): its latest
    /// version committed at or before it.
    pub timestamp: Option<String>,
    /// Rows per batch (8192).
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    #[serde(skip)]
    url: Option<Url>,
}

fn default_batch_rows() -> usize {
    8192
}

impl ConnectorConfig for Config {
    fn prepare(&mut self, base_dir: &Path) -> Result<(), ConnectorError> {
        if self.version.is_some() && self.timestamp.is_some() {
            return Err(config_error(
                "timestamp",
                "give `version` or `timestamp`, not both",
            ));
        }
        if let Some(at) = &self.timestamp {
            chrono::DateTime::parse_from_rfc3339(at).map_err(|e| {
                config_error("timestamp", &format!("{at:?} is not an RFC 3339 time: {e}"))
            })?;
        }
        if self.batch_rows == 0 {
            return Err(config_error("batch_rows", "must be at least 1"));
        }
        self.url = Some(super::delta::table_url(&self.path, base_dir)?);
        Ok(())
    }
}

impl Config {
    fn url(&self) -> &Url {
        self.url.as_ref().expect("prepared before use")
    }

    fn delta_error(&self, source: DeltaTableError) -> ConnectorError {
        ConnectorError::Delta {
            table: self.url().to_string(),
            source,
        }
    }

    /// The table at the configured version.
    fn table(&self, runtime: &tokio::runtime::Runtime) -> Result<DeltaTable, ConnectorError> {
        let loaded: Result<DeltaTable, DeltaTableError> = runtime.block_on(async {
            let mut table = DeltaTableBuilder::from_url(self.url().clone())?.build()?;
            if !table.log_store().is_delta_table_location().await? {
                return Err(DeltaTableError::NotATable("no _delta_log folder".into()));
            }
            match (&self.version, &self.timestamp) {
                (Some(version), _) => table.load_version(*version).await?,
                (_, Some(at)) => {
                    let at = chrono::DateTime::parse_from_rfc3339(at)
                        .expect("checked in prepare")
                        .with_timezone(&chrono::Utc);
                    table.load_with_datetime(at).await?
                }
                _ => table.load().await?,
            }
            Ok(table)
        });
        let table = loaded.map_err(|e| self.delta_error(e))?;
        let protocol = table
            .snapshot()
            .map_err(|e| self.delta_error(e))?
            .protocol()
            .clone();
        let unsupported: Vec<String> = protocol
            .reader_features()
            .unwrap_or_default()
            .iter()
            .map(|f| f.to_string())
            .filter(|f| f != "timestampNtz" && f != "v2Checkpoint" && f != "vacuumProtocolCheck")
            .collect();
        if !unsupported.is_empty() {
            return Err(config_error(
                "path",
                &format!(
                    "the table needs reader features this source does not have: {}",
                    unsupported.join(", ")
                ),
            ));
        }
        Ok(table)
    }
}

impl SourceConnector for Config {
    fn schema(&self) -> Result<SchemaRef, ConnectorError> {
        let runtime = super::delta::runtime()?;
        let table = self.table(&runtime)?;
        table_schema(&table).map_err(|e| self.delta_error(e))
    }

    fn open(
        &self,
        schema: &SchemaRef,
        _position: Option<serde_json::Value>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        let runtime = super::delta::runtime()?;
        let table = self.table(&runtime)?;
        let snapshot = table.snapshot().map_err(|e| self.delta_error(e))?;
        let partition_columns = snapshot.metadata().partition_columns().clone();
        let files = runtime.block_on(data_files(&table));
        let root = self
            .url()
            .to_file_path()
            .map_err(|()| config_error("path", "not a local table"))?;
        Ok(Box::new(DeltaSource {
            root,
            schema: schema.clone(),
            partition_columns,
            files: files.map_err(|e| self.delta_error(e))?.into(),
            reading: None,
            batch_rows: self.batch_rows,
        }))
    }
}

/// A data file's partition values as Delta writes them in paths
/// (`null` for none).
fn partition_values(
    file: &deltalake::kernel::LogicalFileView,
) -> std::collections::HashMap<String, Option<String>> {
    use deltalake::kernel::scalars::ScalarExt;
    let Some(values) = file.partition_values() else {
        return Default::default();
    };
    values
        .fields()
        .iter()
        .zip(values.values())
        .map(|(field, value)| {
            let value = (!value.is_null()).then(|| value.serialize());
            (field.name().to_string(), value)
        })
        .collect()
}

/// The table's columns as Arrow sees them.
pub(super) fn table_schema(table: &DeltaTable) -> Result<SchemaRef, DeltaTableError> {
    let schema: Schema = table.snapshot()?.schema().as_ref().try_into_arrow()?;
    Ok(Arc::new(schema))
}

/// A data file of a table version.
pub(super) struct DataFile {
    /// Its path under the table's folder.
    pub path: String,
    pub partition_values: std::collections::HashMap<String, Option<String>>,
    /// Its size in bytes.
    pub size: i64,
    /// The action that removes it from the table.
    pub remove: deltalake::kernel::Remove,
}

/// The data files of `table`'s version.
pub(super) async fn data_files(table: &DeltaTable) -> Result<Vec<DataFile>, DeltaTableError> {
    let log_store = table.log_store();
    table
        .snapshot()?
        .snapshot()
        .file_views(log_store.as_ref(), None)
        .map_ok(|file| DataFile {
            path: file.path().into_owned(),
            partition_values: partition_values(&file),
            size: file.size(),
            remove: file.remove_action(true),
        })
        .try_collect()
        .await
}

/// Reads data file `file` of the table at `root` in batches of `rows`.
pub(super) fn open_file(
    root: &Path,
    file: &DataFile,
    rows: usize,
) -> Result<ParquetRecordBatchReader, ConnectorError> {
    let path = root.join(&file.path);
    let parquet = |source| ConnectorError::Parquet {
        path: path.clone(),
        source,
    };
    let opened = std::fs::File::open(&path).map_err(|source| ConnectorError::Io {
        path: path.clone(),
        source,
    })?;
    ParquetRecordBatchReaderBuilder::try_new(opened)
        .map_err(parquet)?
        .with_batch_size(rows)
        .build()
        .map_err(parquet)
}

/// `batch` of data file `file` with the columns of `schema` in order:
/// those in the file cast to the table's types, `partition_columns`
/// filled in from the file's partition values.
pub(super) fn complete(
    batch: &RecordBatch,
    file: &DataFile,
    schema: &SchemaRef,
    partition_columns: &[String],
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let rows = batch.num_rows();
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let column: ArrayRef = if partition_columns.contains(field.name()) {
                match file.partition_values.get(field.name()).cloned().flatten() {
                    Some(value) => Arc::new(StringArray::from(vec![value; rows])),
                    None => new_null_array(field.data_type(), rows),
                }
            } else {
                match batch.column_by_name(field.name()) {
                    Some(column) => column.clone(),
                    None => new_null_array(field.data_type(), rows),
                }
            };
            match column.data_type() == field.data_type() {
                true => Ok(column),
                false => arrow::compute::cast(&column, field.data_type()),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns)
}

/// A running `delta` source.
struct DeltaSource {
    root: PathBuf,
    schema: SchemaRef,
    partition_columns: Vec<String>,
    files: VecDeque<DataFile>,
    /// The file being read.
    reading: Option<(ParquetRecordBatchReader, DataFile)>,
    batch_rows: usize,
}

impl Source for DeltaSource {
    fn next_batch(
        &mut self,
        _bad: &mut dyn FnMut(super::BadRecord),
    ) -> Result<Poll, ConnectorError> {
        loop {
            if self.reading.is_none() {
                let Some(file) = self.files.pop_front() else {
                    return Ok(Poll::Done);
                };
                self.reading = Some((open_file(&self.root, &file, self.batch_rows)?, file));
            }
            let (reader, file) = self.reading.as_mut().expect("opened above");
            match reader.next() {
                Some(batch) => {
                    let arrow = |source| ConnectorError::Arrow {
                        path: self.root.join(&file.path),
                        source,
                    };
                    let batch = batch.map_err(arrow)?;
                    let batch = complete(&batch, file, &self.schema, &self.partition_columns)
                        .map_err(arrow)?;
                    return Ok(Poll::Batch(batch));
                }
                None => self.reading = None,
            }
        }
    }
}
