//! The `delta` source: reads a Delta Lake table as a bounded source, at its
//! latest version or, by time travel, at a `version` or the latest one at a
//! `timestamp`; with `follow`, it then reads the rows each new commit adds
//! as it lands, its position being the last version read (an append-only
//! stream: a commit that removes rows stops it). Data files are read with the `parquet` crate (no query
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
    /// After the version read, read the rows of every later commit as it
    /// lands, until Ctrl-C; the last version read is the position a
    /// restart continues from.
    #[serde(default)]
    pub follow: bool,
    /// With `follow`: how often to look for a new commit (ms).
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
    #[serde(skip)]
    url: Option<Url>,
}

fn default_poll_ms() -> u64 {
    1000
}

/// Where a `delta` source stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Position {
    /// Reading the table as of `version` (`snapshot`), or every version up
    /// to `version` is read.
    version: i64,
    snapshot: bool,
    /// Data files read of the snapshot, or of the version after `version`.
    files: usize,
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
        super::delta::delta_error(self.url(), source)
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
    fn datasets(&self) -> Vec<super::Dataset> {
        vec![super::Dataset::at(&self.path)]
    }

    fn schema(&self) -> Result<SchemaRef, ConnectorError> {
        let runtime = super::delta::runtime()?;
        let table = self.table(&runtime)?;
        table_schema(&table).map_err(|e| self.delta_error(e))
    }

    fn resumes(&self) -> bool {
        self.follow
    }

    fn open(
        &self,
        schema: &SchemaRef,
        position: Option<serde_json::Value>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        let position = position
            .map(|p| {
                serde_json::from_value::<Position>(p.clone()).map_err(|e| {
                    config_error(
                        "path",
                        &format!("the recorded position {p} is not a delta source's: {e}"),
                    )
                })
            })
            .transpose()?;
        let runtime = super::delta::runtime()?;
        let mut config = self.clone();
        if let Some(position) = position {
            (config.version, config.timestamp) = (Some(position.version), None);
        }
        let table = config.table(&runtime)?;
        let snapshot = table.snapshot().map_err(|e| self.delta_error(e))?;
        let partition_columns = snapshot.metadata().partition_columns().clone();
        let version = snapshot.version();
        let position = position.unwrap_or(Position {
            version,
            snapshot: true,
            files: 0,
        });
        let files = match position.snapshot {
            true => runtime
                .block_on(data_files(&table))
                .map_err(|e| self.delta_error(e))?,
            false => Vec::new(),
        };
        let root = super::delta::table_folder(self.url())?;
        Ok(Box::new(DeltaSource {
            root,
            schema: schema.clone(),
            partition_columns,
            files: files.into_iter().skip(position.files).collect(),
            reading: None,
            batch_rows: self.batch_rows,
            follow: self
                .follow
                .then(|| std::time::Duration::from_millis(self.poll_ms)),
            skip: if position.snapshot { 0 } else { position.files },
            position,
            in_commit: false,
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
    /// With `follow`: how often to look for a new commit.
    follow: Option<std::time::Duration>,
    /// Files of the next version already read by the run that recorded
    /// the position.
    skip: usize,
    position: Position,
    /// The files of the commit after the position's version are queued.
    in_commit: bool,
}

impl DeltaSource {
    /// Queues the data files the commit after the position's version
    /// added; `false` when it has not landed yet.
    fn next_commit(&mut self) -> Result<bool, ConnectorError> {
        let version = self.position.version + 1;
        let log = self.root.join(format!("_delta_log/{version:020}.json"));
        let text = match std::fs::read_to_string(&log) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(source) => return Err(ConnectorError::Io { path: log, source }),
        };
        let invalid = |message: String| ConnectorError::Io {
            path: log.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, message),
        };
        let mut added = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let action: serde_json::Value =
                serde_json::from_str(line).map_err(|e| invalid(e.to_string()))?;
            if let Some(add) = action.get("add").filter(|a| a["dataChange"] != false) {
                let raw = add["path"]
                    .as_str()
                    .ok_or_else(|| invalid("an add without a path".into()))?;
                let file = Url::from_directory_path(&self.root)
                    .ok()
                    .and_then(|root| root.join(raw).ok())
                    .and_then(|url| url.to_file_path().ok())
                    .ok_or_else(|| invalid(format!("cannot resolve data file {raw:?}")))?;
                let partition_values = serde_json::from_value(add["partitionValues"].clone())
                    .map_err(|e| invalid(e.to_string()))?;
                added.push(DataFile {
                    path: file
                        .strip_prefix(&self.root)
                        .unwrap_or(&file)
                        .display()
                        .to_string(),
                    partition_values,
                    size: add["size"].as_i64().unwrap_or(0),
                    remove: Default::default(),
                });
            }
            let removes_rows = action
                .get("remove")
                .is_some_and(|r| r["dataChange"] != false);
            if removes_rows || action.get("metaData").is_some() {
                return Err(invalid(format!(
                    "version {version} {} the table; a following delta source reads tables rows are only added to",
                    if removes_rows {
                        "removes rows from (an overwrite, merge or delete)"
                    } else {
                        "changes the schema of"
                    }
                )));
            }
        }
        let skip = std::mem::take(&mut self.skip);
        self.position.files = skip;
        self.files = added.into_iter().skip(skip).collect();
        Ok(true)
    }
}

impl Source for DeltaSource {
    fn next_batch(
        &mut self,
        _bad: &mut dyn FnMut(super::BadRecord),
    ) -> Result<Poll, ConnectorError> {
        loop {
            if self.reading.is_none() {
                let Some(file) = self.files.pop_front() else {
                    let Some(poll) = self.follow else {
                        return Ok(Poll::Done);
                    };
                    // The snapshot, or the commit being read, is read whole.
                    let version = self.position.version + i64::from(self.in_commit);
                    self.position = Position {
                        version,
                        snapshot: false,
                        files: 0,
                    };
                    self.in_commit = self.next_commit()?;
                    if !self.in_commit {
                        return Ok(Poll::Wait(poll));
                    }
                    continue;
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
                None => {
                    self.reading = None;
                    self.position.files += 1;
                }
            }
        }
    }

    fn position(&self) -> Option<serde_json::Value> {
        self.follow
            .map(|_| serde_json::to_value(self.position).expect("serializes"))
    }
}
