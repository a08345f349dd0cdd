//! The `delta` sink: a Delta Lake table, written with delta-rs. The table
//! is created from the edge's schema, or must have the edge's columns. Data
//! files are written at every checkpoint; in `append` mode each checkpoint's
//! files become one Delta commit that carries a transaction action (`txn`,
//! app id `weir/<pipeline>/<node>`, the commit's number as its version), and
//! the executor commits a number only once every source recorded the
//! position after its rows (see [`Transactional`]): the table holds every
//! row exactly once across crashes. `overwrite` replaces the table's
//! contents in one commit when the run has read all its input.

use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use deltalake::kernel::engine::arrow_conversion::{TryIntoArrow, TryIntoKernel};
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add, StructType, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};
use futures::TryStreamExt;
use serde::Deserialize;
use url::Url;

use super::{
    ConnectorConfig, ConnectorError, Sink, SinkConnector, SinkContext, Transactional, config_error,
};

/// Config of `type: delta` sinks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The table: a folder (relative to the pipeline file) or a `file://`
    /// URL. Created with the edge's schema when it holds no table.
    pub path: String,
    /// Columns whose values become the table's partition folders (for a
    /// new table; an existing table keeps its own, which must match).
    #[serde(default)]
    pub partition_by: Vec<String>,
    /// `append` (each checkpoint adds its rows in one commit, exactly once),
    /// `overwrite` (the run's rows replace the table's contents in one
    /// commit when the run has read all its input) or `merge` (each row is
    /// a change of the row with its `keys`, applied exactly once).
    #[serde(default)]
    pub mode: Mode,
    /// `merge`: the columns that identify a row.
    #[serde(default)]
    pub keys: Vec<String>,
    /// `merge`: the column that says what a change is: `c`, `r` or `u`
    /// insert or update the row, `d` deletes it (`op`, as Debezium and
    /// Weir's change-data-capture sources write it); not stored.
    #[serde(default = "default_op_column")]
    pub op_column: String,
    /// `merge`: an input column the table lacks is added to it (nullable);
    /// a table column the input lacks is written as nulls. Without it, the
    /// columns must be the same.
    pub schema_mode: Option<SchemaMode>,
    /// Start a new data file once this many MiB of Parquet are buffered
    /// (128); files are also cut at every checkpoint.
    #[serde(default = "default_file_mib")]
    pub target_file_mib: u64,
    /// `append` and `merge`: after every this many commits, compact the
    /// table's small files (as `weir table optimize`, to `target_file_mib`);
    /// never by default.
    pub optimize_every: Option<u64>,
    /// With `optimize_every`: after each compaction, delete the files no
    /// version of the last this many hours reads (as `weir table vacuum`).
    pub vacuum_retain_hours: Option<u64>,
    #[serde(skip)]
    url: Option<Url>,
}

/// What a `delta` sink does with the table's rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Add the run's rows.
    #[default]
    Append,
    /// Replace the table's rows by the run's, in one commit at its end.
    Overwrite,
    /// Apply each row as a change of the row with its keys.
    Merge,
}

/// How a `delta` sink treats a table whose columns differ from the input's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchemaMode {
    /// Add the input's new columns to the table.
    Merge,
}

fn default_file_mib() -> u64 {
    128
}

fn default_op_column() -> String {
    "op".into()
}

impl ConnectorConfig for Config {
    fn prepare(&mut self, base_dir: &Path) -> Result<(), ConnectorError> {
        if self.target_file_mib == 0 {
            return Err(config_error("target_file_mib", "must be at least 1"));
        }
        if self.optimize_every == Some(0) {
            return Err(config_error("optimize_every", "must be at least 1"));
        }
        if self.optimize_every.is_some() && self.mode == Mode::Overwrite {
            return Err(config_error(
                "optimize_every",
                "compacts between the commits of `append` and `merge`; run `weir table optimize` after an overwrite",
            ));
        }
        if self.vacuum_retain_hours.is_some() && self.optimize_every.is_none() {
            return Err(config_error(
                "vacuum_retain_hours",
                "vacuums after each compaction: set optimize_every too",
            ));
        }
        self.url = Some(table_url(&self.path, base_dir)?);
        Ok(())
    }
}

/// `source`, an error of the table at `url`.
pub(super) fn delta_error(url: &Url, source: DeltaTableError) -> ConnectorError {
    ConnectorError::Delta {
        table: url.to_string(),
        source,
    }
}

/// The folder of the local table at `url` (`table_url` refuses others).
pub(super) fn table_folder(url: &Url) -> Result<std::path::PathBuf, ConnectorError> {
    url.to_file_path()
        .map_err(|()| config_error("path", &format!("{url} is not a local folder")))
}

/// Rows per batch when Weir reads a table's data files itself (merge,
/// optimize).
pub(super) const READ_ROWS: usize = 65_536;

/// The URL of the table at `path` (a folder relative to `base_dir`, or a
/// URL); local tables only in this build.
pub(super) fn table_url(path: &str, base_dir: &Path) -> Result<Url, ConnectorError> {
    let url = match path.contains("://") {
        true => Url::parse(path).map_err(|e| config_error("path", &e.to_string()))?,
        false => {
            let dir = std::path::absolute(base_dir.join(path))
                .map_err(|e| config_error("path", &e.to_string()))?;
            Url::from_directory_path(&dir)
                .map_err(|()| config_error("path", "not a folder path"))?
        }
    };
    if url.scheme() != "file" {
        return Err(config_error(
            "path",
            &format!(
                "{url}: this build of weir reads and writes local tables (file://) only; object stores need delta-rs's s3, azure or gcs features"
            ),
        ));
    }
    Ok(url)
}

impl Config {
    fn url(&self) -> &Url {
        self.url.as_ref().expect("prepared before use")
    }

    fn delta_error(&self, source: DeltaTableError) -> ConnectorError {
        delta_error(self.url(), source)
    }

    /// The table's columns for an edge of `schema`: the edge's (without
    /// the operation column in `merge` mode), timestamps as Delta keeps
    /// them.
    fn table_schema(&self, schema: &SchemaRef) -> SchemaRef {
        let fields = schema
            .fields()
            .iter()
            .filter(|f| self.mode != Mode::Merge || *f.name() != self.op_column)
            .cloned()
            .collect::<Vec<_>>();
        table_schema(&Arc::new(Schema::new(fields)))
    }

    /// Checks the config against the edge's `schema` (the `merge` mode's
    /// columns, `partition_by`); answers the table's columns for it.
    fn check_input(&self, schema: &SchemaRef) -> Result<SchemaRef, ConnectorError> {
        self.check_merge(schema)?;
        let wanted = self.table_schema(schema);
        for column in &self.partition_by {
            if wanted.column_with_name(column).is_none() {
                return Err(config_error(
                    "partition_by",
                    &format!("no column {column:?} in the input"),
                ));
            }
        }
        Ok(wanted)
    }

    /// Checks the `merge` mode's keys and operation column against `schema`.
    fn check_merge(&self, schema: &SchemaRef) -> Result<(), ConnectorError> {
        if self.mode != Mode::Merge {
            if !self.keys.is_empty() {
                return Err(config_error("keys", "only for mode: merge"));
            }
            return Ok(());
        }
        if self.keys.is_empty() {
            return Err(config_error(
                "keys",
                "mode merge needs the columns that identify a row",
            ));
        }
        for key in &self.keys {
            if schema.column_with_name(key).is_none() || *key == self.op_column {
                return Err(config_error(
                    "keys",
                    &format!("no column {key:?} in the input"),
                ));
            }
        }
        match schema.column_with_name(&self.op_column) {
            Some((_, field)) if field.data_type() == &DataType::Utf8 => Ok(()),
            _ => Err(config_error(
                "op_column",
                &format!(
                    "mode merge needs a utf8 column {:?} (c, r, u: insert or update; d: delete)",
                    self.op_column
                ),
            )),
        }
    }
}

impl SinkConnector for Config {
    fn datasets(&self) -> Vec<super::Dataset> {
        vec![super::Dataset::at(&self.path)]
    }

    fn check(&self, schema: &SchemaRef, _: &SinkContext) -> Result<(), ConnectorError> {
        let wanted = self.check_input(schema)?;
        let runtime = runtime()?;
        let Some(table) = runtime
            .block_on(load(self.url()))
            .map_err(|e| self.delta_error(e))?
        else {
            return Ok(());
        };
        self.check_table(&table, &wanted).map(drop)
    }

    fn open(
        &self,
        schema: &SchemaRef,
        context: &SinkContext,
    ) -> Result<Box<dyn Sink>, ConnectorError> {
        let wanted = self.check_input(schema)?;
        let runtime = runtime()?;
        let mut table = runtime
            .block_on(open_or_create(self.url(), &wanted, &self.partition_by))
            .map_err(|e| self.delta_error(e))?;
        let added = self.check_table(&table, &wanted)?;
        if !added.is_empty() {
            let fields: StructType = (&Schema::new(added))
                .try_into_kernel()
                .map_err(|e: arrow::error::ArrowError| self.delta_error(e.into()))?;
            let fields: Vec<_> = fields.fields().cloned().collect();
            table = runtime
                .block_on(table.add_columns().with_fields(fields).into_future())
                .map_err(|e| self.delta_error(e))?;
        }
        let writer = RecordBatchWriter::for_table(&table).map_err(|e| self.delta_error(e))?;
        let columns = writer.arrow_schema();
        let commits_since_optimize = match self.optimize_every {
            Some(every) => runtime
                .block_on(commits_since_optimize(&table, every))
                .map_err(|e| self.delta_error(e))?,
            None => 0,
        };
        Ok(Box::new(DeltaSink {
            config: self.clone(),
            app_id: format!("weir/{}/{}", context.pipeline, context.node),
            runtime,
            table,
            schema: columns,
            writer,
            adds: Vec::new(),
            changes: Vec::new(),
            changed_keys: Default::default(),
            commits_since_optimize,
            committed: None,
            made: Vec::new(),
        }))
    }
}

/// A running `delta` sink.
struct DeltaSink {
    config: Config,
    /// The `txn` application id of its commits.
    app_id: String,
    runtime: tokio::runtime::Runtime,
    table: DeltaTable,
    /// The table's columns, in its order (timestamps in microseconds, as
    /// Delta has them); rows are matched to them by name.
    schema: SchemaRef,
    writer: RecordBatchWriter,
    /// Data files written and not yet prepared.
    adds: Vec<Add>,
    /// `merge`: the changes since the last flush.
    changes: Vec<RecordBatch>,
    /// `merge`: the keys changed since the last prepare.
    changed_keys: std::collections::BTreeSet<String>,
    /// Commits made since the last compaction (see `optimize_every`).
    commits_since_optimize: u64,
    /// The table's last `txn` version of this sink, once known (read once,
    /// then kept as this sink commits: it is the table's only writer of its
    /// application id).
    committed: Option<Option<u64>>,
    /// The commits made since the audit log last asked.
    made: Vec<serde_json::Value>,
}

impl DeltaSink {
    fn delta_error(&self, source: DeltaTableError) -> ConnectorError {
        self.config.delta_error(source)
    }

    fn arrow_error(&self, source: arrow::error::ArrowError) -> ConnectorError {
        ConnectorError::Arrow {
            path: self.config.path.clone().into(),
            source,
        }
    }

    /// Buffers `batch` (cast to the table's types) for the data files.
    fn write_rows(&mut self, batch: &RecordBatch) -> Result<(), ConnectorError> {
        let batch = match batch.schema() == self.schema {
            true => batch.clone(),
            false => cast_batch(batch, &self.schema).map_err(|e| self.arrow_error(e))?,
        };
        self.runtime
            .block_on(self.writer.write(batch))
            .map_err(|e| self.config.delta_error(e))?;
        if self.writer.buffer_len() as u64 >= self.config.target_file_mib << 20 {
            self.write_files()?;
        }
        Ok(())
    }

    /// Writes the buffered rows to data files.
    fn write_files(&mut self) -> Result<(), ConnectorError> {
        let adds = self
            .runtime
            .block_on(self.writer.flush())
            .map_err(|e| self.config.delta_error(e))?;
        self.adds.extend(adds);
        Ok(())
    }

    /// Commits `actions` to the table as one `Write` in `mode`, with `txn`.
    /// Commits `actions` and keeps, for the audit log, the table version
    /// made with its data files and rows.
    fn commit_recorded(
        &mut self,
        actions: Vec<Action>,
        mode: SaveMode,
        txn: Option<Transaction>,
    ) -> Result<(), ConnectorError> {
        let files: Vec<&str> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Add(add) => Some(add.path.as_str()),
                _ => None,
            })
            .collect();
        let mut made = serde_json::json!({
            "table": self.config.url().as_str(),
            "files": files,
            "rows": metrics(&actions)["numOutputRows"].as_str().and_then(|r| r.parse::<u64>().ok()),
        });
        made["version"] = self.commit_actions(actions, mode, txn)?.into();
        self.made.push(made);
        Ok(())
    }

    /// Commits `actions`; answers the table version made.
    fn commit_actions(
        &mut self,
        actions: Vec<Action>,
        mode: SaveMode,
        txn: Option<Transaction>,
    ) -> Result<i64, ConnectorError> {
        let partition_by = Some(self.config.partition_by.clone()).filter(|p| !p.is_empty());
        let operation = match self.config.mode {
            Mode::Merge => DeltaOperation::Merge {
                predicate: None,
                merge_predicate: Some(format!("same {}", self.config.keys.join(", "))),
                matched_predicates: Vec::new(),
                not_matched_predicates: Vec::new(),
                not_matched_by_source_predicates: Vec::new(),
            },
            _ => DeltaOperation::Write {
                mode,
                partition_by,
                predicate: None,
            },
        };
        let properties = match txn {
            Some(txn) => CommitProperties::default().with_application_transaction(txn),
            None => CommitProperties::default(),
        }
        .with_metadata([("operationMetrics".to_string(), metrics(&actions))]);
        let table = &mut self.table;
        let committed: Result<i64, DeltaTableError> = self.runtime.block_on(async {
            let snapshot = table.snapshot()?.clone();
            let finalized = CommitBuilder::from(properties)
                .with_actions(actions)
                .build(Some(&snapshot), table.log_store(), operation)
                .await?;
            // The table as the commit left it, without listing the log.
            table.state = Some(finalized.snapshot());
            Ok(finalized.version())
        });
        committed.map_err(|e| self.config.delta_error(e))
    }
}

impl DeltaSink {
    /// Compacts the table's small files, then vacuums it when asked; a
    /// failure is logged (the table stays as it was) and retried after the
    /// next `optimize_every` commits.
    fn maintain(&mut self) {
        let url = self.config.url().clone();
        let target = self.config.target_file_mib << 20;
        let compacted = super::delta_table::optimize_table(&self.runtime, &url, target);
        let vacuumed = match (&compacted, self.config.vacuum_retain_hours) {
            (Ok(_), Some(hours)) => Some(super::delta_table::vacuum_table(
                &self.runtime,
                &url,
                hours,
                false,
            )),
            _ => None,
        };
        let path = &self.config.path;
        match compacted {
            Ok(done) => tracing::info!(
                path,
                removed = done.removed,
                added = done.added,
                "compacted the table's small files"
            ),
            Err(error) => {
                tracing::warn!(path, %error, "cannot compact the table; trying again later")
            }
        }
        match vacuumed {
            Some(Ok(files)) => tracing::info!(path, deleted = files.len(), "vacuumed the table"),
            Some(Err(error)) => {
                tracing::warn!(path, %error, "cannot vacuum the table; trying again later")
            }
            None => {}
        }
        // The compaction is a commit of its own.
        if let Err(error) = self.runtime.block_on(self.table.update_state()) {
            tracing::warn!(path, %error, "cannot read the table after compacting it");
        }
    }
}

impl Sink for DeltaSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ConnectorError> {
        if self.config.mode == Mode::Merge {
            super::delta_merge::check_operations(batch, &self.config.op_column)?;
            self.changes.push(batch.clone());
            return Ok(());
        }
        self.write_rows(batch)
    }

    /// Writes the data files; they become visible when committed.
    fn flush(&mut self) -> Result<(), ConnectorError> {
        if !self.changes.is_empty() {
            let changes = std::mem::take(&mut self.changes);
            let reduced =
                super::delta_merge::reduce(&changes, &self.config.keys, &self.config.op_column)
                    .map_err(|source| self.arrow_error(source))?;
            self.write_rows(&reduced.upserts)?;
            self.changed_keys.extend(reduced.keys);
        }
        self.write_files()
    }

    /// In `overwrite` mode: one commit that removes every file the table
    /// had and adds the run's.
    fn finish(&mut self) -> Result<(), ConnectorError> {
        if self.config.mode != Mode::Overwrite {
            return Ok(());
        }
        self.write_files()?;
        let log_store = self.table.log_store();
        let snapshot = self.table.snapshot().map_err(|e| self.delta_error(e))?;
        let removes: Result<Vec<Action>, DeltaTableError> = self.runtime.block_on(async {
            snapshot
                .snapshot()
                .file_views(log_store.as_ref(), None)
                .map_ok(|file| Action::Remove(file.remove_action(true)))
                .try_collect()
                .await
        });
        let mut actions = removes.map_err(|e| self.delta_error(e))?;
        actions.extend(std::mem::take(&mut self.adds).into_iter().map(Action::Add));
        self.commit_recorded(actions, SaveMode::Overwrite, None)
    }

    fn take_committed(&mut self) -> Vec<serde_json::Value> {
        std::mem::take(&mut self.made)
    }

    fn transactional(&mut self) -> Option<&mut dyn Transactional> {
        match self.config.mode {
            Mode::Append | Mode::Merge => Some(self),
            Mode::Overwrite => None,
        }
    }
}

impl Transactional for DeltaSink {
    fn prepare(&mut self) -> Result<Option<serde_json::Value>, ConnectorError> {
        let adds = std::mem::take(&mut self.adds);
        let keys = std::mem::take(&mut self.changed_keys);
        if adds.is_empty() && keys.is_empty() {
            return Ok(None);
        }
        let prepared = Prepared { adds, keys };
        Ok(Some(serde_json::to_value(&prepared).expect("serializes")))
    }

    fn commit(&mut self, version: u64, prepared: &serde_json::Value) -> Result<(), ConnectorError> {
        let committed = match self.committed {
            Some(known) => known,
            None => self.committed_version()?,
        };
        if committed >= Some(version) {
            return Ok(());
        }
        let prepared: Prepared = serde_json::from_value(prepared.clone()).map_err(|e| {
            self.delta_error(DeltaTableError::Generic(format!(
                "a prepared commit in the state folder is not one of weir's: {e}"
            )))
        })?;
        let txn = Transaction::new(&self.app_id, version as i64);
        let mut actions = match prepared.keys.is_empty() {
            true => Vec::new(),
            false => self.replace_rows(&prepared.keys)?,
        };
        actions.extend(prepared.adds.into_iter().map(Action::Add));
        self.commit_recorded(actions, SaveMode::Append, Some(txn))?;
        self.committed = Some(Some(version));
        self.commits_since_optimize += 1;
        if self
            .config
            .optimize_every
            .is_some_and(|every| self.commits_since_optimize >= every)
        {
            self.commits_since_optimize = 0;
            self.maintain();
        }
        Ok(())
    }

    fn committed_version(&mut self) -> Result<Option<u64>, ConnectorError> {
        let table = &self.table;
        let app_id = self.app_id.clone();
        let version: Result<Option<i64>, DeltaTableError> = self.runtime.block_on(async {
            table
                .snapshot()?
                .transaction_version(table.log_store().as_ref(), app_id)
                .await
        });
        let version = version
            .map_err(|e| self.delta_error(e))?
            .map(|v| v.max(0) as u64);
        self.committed = Some(version);
        Ok(version)
    }
}

/// Spark's `operationMetrics` of a write: rows and files added, files
/// removed (`weir table history` and Delta readers show them).
pub(super) fn metrics(actions: &[Action]) -> serde_json::Value {
    let (mut rows, mut files, mut removed) = (0, 0, 0);
    for action in actions {
        match action {
            Action::Add(add) => {
                files += 1;
                rows += add
                    .get_stats()
                    .ok()
                    .flatten()
                    .map_or(0, |stats| stats.num_records);
            }
            Action::Remove(_) => removed += 1,
            _ => {}
        }
    }
    serde_json::json!({
        "numOutputRows": rows.to_string(),
        "numFiles": files.to_string(),
        "numRemovedFiles": removed.to_string(),
    })
}

/// A commit the sink prepared: the data files it wrote and, in `merge`
/// mode, the keys whose rows in the table those files replace.
#[derive(serde::Serialize, Deserialize)]
struct Prepared {
    adds: Vec<Add>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    keys: std::collections::BTreeSet<String>,
}

impl DeltaSink {
    /// `merge`: removes every data file of the table holding a row with
    /// one of `keys`, and writes its other rows to new files; answers the
    /// actions. Made when the commit is, against the table as it then is.
    fn replace_rows(
        &mut self,
        keys: &std::collections::BTreeSet<String>,
    ) -> Result<Vec<Action>, ConnectorError> {
        let files = self
            .runtime
            .block_on(super::delta_source::data_files(&self.table))
            .map_err(|e| self.delta_error(e))?;
        let root = table_folder(self.config.url())?;
        let partition_columns = self.config.partition_by.clone();
        let mut writer =
            RecordBatchWriter::for_table(&self.table).map_err(|e| self.delta_error(e))?;
        let mut actions = Vec::new();
        for file in files {
            let mut kept = Vec::new();
            let mut changed = false;
            for batch in super::delta_source::open_file(&root, &file, READ_ROWS)? {
                let batch = batch
                    .and_then(|b| {
                        super::delta_source::complete(&b, &file, &self.schema, &partition_columns)
                    })
                    .map_err(|e| self.arrow_error(e))?;
                match super::delta_merge::without_keys(&batch, &self.config.keys, keys)
                    .map_err(|e| self.arrow_error(e))?
                {
                    Some(left) => {
                        changed = true;
                        kept.push(left);
                    }
                    None => kept.push(batch),
                }
            }
            if !changed {
                continue;
            }
            actions.push(Action::Remove(file.remove));
            for batch in kept.into_iter().filter(|b| b.num_rows() > 0) {
                self.runtime
                    .block_on(writer.write(batch))
                    .map_err(|e| self.config.delta_error(e))?;
            }
        }
        let rewritten = self
            .runtime
            .block_on(writer.flush())
            .map_err(|e| self.config.delta_error(e))?;
        actions.extend(rewritten.into_iter().map(Action::Add));
        Ok(actions)
    }
}

/// How many writes (`WRITE`, `MERGE`) came after the table's last
/// compaction, up to `every`, so that `optimize_every` counts across runs.
async fn commits_since_optimize(table: &DeltaTable, every: u64) -> Result<u64, DeltaTableError> {
    // A compaction may be followed by the two commits of a vacuum.
    let latest = table.history(Some(3 * every as usize + 3)).await?;
    let writes = latest
        .map(|info| info.operation.unwrap_or_default())
        .take_while(|operation| operation != "OPTIMIZE")
        .filter(|operation| operation == "WRITE" || operation == "MERGE")
        .count() as u64;
    Ok(writes.min(every))
}

/// The runtime delta-rs's calls run on (each node has its own thread).
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, ConnectorError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| ConnectorError::Io {
            path: "tokio runtime".into(),
            source,
        })
}

/// The table at `url`, if there is one.
pub(super) async fn load(url: &Url) -> Result<Option<DeltaTable>, DeltaTableError> {
    let mut table = DeltaTableBuilder::from_url(url.clone())?.build()?;
    if !table.log_store().is_delta_table_location().await? {
        return Ok(None);
    }
    table.load().await?;
    Ok(Some(table))
}

/// The table at `url`, created with `schema` and `partition_by` if there is
/// none.
async fn open_or_create(
    url: &Url,
    schema: &SchemaRef,
    partition_by: &[String],
) -> Result<DeltaTable, DeltaTableError> {
    if let Some(table) = load(url).await? {
        return Ok(table);
    }
    std::fs::create_dir_all(url.path()).map_err(|e| DeltaTableError::Generic(e.to_string()))?;
    let columns: StructType = schema.as_ref().try_into_kernel()?;
    deltalake::operations::create::CreateBuilder::new()
        .with_location(url.to_string())
        .with_columns(columns.fields().cloned())
        .with_partition_columns(partition_by.iter().cloned())
        .with_save_mode(SaveMode::Ignore)
        .await
}

impl Config {
    /// Checks that `table` can take rows of `wanted`: the same columns of
    /// the same types (with `schema_mode: merge`, new input columns are
    /// answered, to be added, and missing ones are written as nulls), and
    /// the same partitioning when `partition_by` is given.
    fn check_table(
        &self,
        table: &DeltaTable,
        wanted: &SchemaRef,
    ) -> Result<Vec<Field>, ConnectorError> {
        let merge = self.schema_mode == Some(SchemaMode::Merge);
        let snapshot = table.snapshot().map_err(|e| self.delta_error(e))?;
        let theirs: Schema = snapshot
            .schema()
            .as_ref()
            .try_into_arrow()
            .map_err(|e: arrow::error::ArrowError| self.delta_error(e.into()))?;
        let (mut problems, mut added) = (Vec::new(), Vec::new());
        for field in wanted.fields() {
            match theirs.column_with_name(field.name()) {
                None if merge => added.push(field.as_ref().clone().with_nullable(true)),
                None => problems.push(format!("{:?} is not in the table", field.name())),
                Some((_, column)) if column.data_type() != field.data_type() => {
                    problems.push(format!(
                        "{:?} is {} in the input but {} in the table",
                        field.name(),
                        field.data_type(),
                        column.data_type()
                    ))
                }
                Some(_) => {}
            }
        }
        for column in theirs.fields() {
            let missing = wanted.column_with_name(column.name()).is_none();
            if missing && !(merge && column.is_nullable()) {
                problems.push(format!(
                    "the table's column {:?} is not in the input",
                    column.name()
                ));
            }
        }
        if !problems.is_empty() {
            let hint = match merge {
                true => "",
                false => " (schema_mode: merge adds new columns)",
            };
            return Err(config_error(
                "path",
                &format!(
                    "the table at {} has other columns than the input{hint}: {}",
                    table.table_url(),
                    problems.join("; ")
                ),
            ));
        }
        let theirs = snapshot.metadata().partition_columns();
        if !self.partition_by.is_empty() && *theirs != self.partition_by {
            return Err(config_error(
                "partition_by",
                &format!(
                    "the table is partitioned by {theirs:?}, not {:?} (a table keeps its partitioning)",
                    self.partition_by
                ),
            ));
        }
        Ok(added)
    }
}

/// The schema the table stores for an edge of `schema`: Delta keeps
/// timestamps in microseconds, with a time zone (as UTC) or without one.
fn table_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| match field.data_type() {
            DataType::Timestamp(_, zone) => {
                field.as_ref().clone().with_data_type(DataType::Timestamp(
                    TimeUnit::Microsecond,
                    zone.as_ref().map(|_| Arc::from("UTC")),
                ))
            }
            _ => field.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// `batch` with the columns of `schema`, matched by name (timestamps cast
/// to microseconds; a column the batch lacks is null).
fn cast_batch(
    batch: &RecordBatch,
    schema: &SchemaRef,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(column) => arrow::compute::cast(column, field.data_type()),
            None => Ok(arrow::array::new_null_array(
                field.data_type(),
                batch.num_rows(),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns)
}
