//! `weir table ...`: looking after a Delta table a `delta` sink writes:
//! its history, compaction of small files (`optimize`) and removal of
//! files no version needs any more (`vacuum`).

use std::collections::BTreeMap;
use std::path::Path;

use deltalake::kernel::Action;
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::protocol::DeltaOperation;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableError};
use url::Url;

use super::ConnectorError;
use super::delta::{READ_ROWS, delta_error, load, runtime, table_folder, table_url};
use super::delta_source::{DataFile, complete, data_files, open_file};

/// A runtime and the URL of the table at `path`.
fn open(path: &str) -> Result<(tokio::runtime::Runtime, Url), ConnectorError> {
    Ok((runtime()?, table_url(path, Path::new("."))?))
}

async fn load_table(url: &Url) -> Result<DeltaTable, DeltaTableError> {
    load(url)
        .await?
        .ok_or_else(|| DeltaTableError::NotATable("no _delta_log folder".into()))
}

/// One version of a table, as `weir table history` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableVersion {
    /// The version.
    pub version: i64,
    /// When it was committed (milliseconds since the Unix epoch).
    pub timestamp: Option<i64>,
    /// What made it: `CREATE TABLE`, `WRITE (Append)`, `WRITE (Overwrite)`,
    /// ...
    pub operation: String,
    /// Rows it added, when its writer said (Spark and Weir do).
    pub rows: Option<u64>,
}

/// The versions of the Delta table at `path` (a folder or URL), newest
/// first.
pub fn history(path: &str) -> Result<Vec<TableVersion>, ConnectorError> {
    let (runtime, url) = open(path)?;
    let listed: Result<Vec<TableVersion>, DeltaTableError> = runtime.block_on(async {
        let table = load_table(&url).await?;
        let latest = table.version().unwrap_or(0);
        let infos = table.history(None).await?;
        Ok(infos
            .enumerate()
            .map(|(i, info)| TableVersion {
                version: latest - i as i64,
                timestamp: info.timestamp,
                operation: {
                    let operation = info.operation.clone().unwrap_or_default();
                    let mode = info
                        .operation_parameters
                        .as_ref()
                        .and_then(|p| p.get("mode"));
                    match mode.and_then(|m| m.as_str()) {
                        Some(mode) if operation == "WRITE" => format!("{operation} ({mode})"),
                        _ => operation,
                    }
                },
                rows: info.info.get("operationMetrics").and_then(|m| {
                    let rows = &m["numOutputRows"];
                    rows.as_u64().or_else(|| rows.as_str()?.parse().ok())
                }),
            })
            .collect())
    });
    listed.map_err(|e| delta_error(&url, e))
}

/// What `optimize` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compacted {
    /// Small files replaced.
    pub removed: usize,
    /// Files written in their place.
    pub added: usize,
}

/// Rewrites the files of each partition of the table at `path` that are
/// smaller than `target_bytes` into files of about that size, in one
/// `OPTIMIZE` commit that changes no row (`dataChange: false`), so
/// streaming readers of the table skip it.
pub fn optimize(path: &str, target_bytes: u64) -> Result<Compacted, ConnectorError> {
    let (runtime, url) = open(path)?;
    optimize_table(&runtime, &url, target_bytes)
}

/// [`optimize`] of the table at `url`, on `runtime`.
pub(super) fn optimize_table(
    runtime: &tokio::runtime::Runtime,
    url: &Url,
    target_bytes: u64,
) -> Result<Compacted, ConnectorError> {
    let root = table_folder(url)?;
    let error = |e| delta_error(url, e);
    let mut table = runtime.block_on(load_table(url)).map_err(error)?;
    let snapshot = table.snapshot().map_err(error)?;
    let partition_columns = snapshot.metadata().partition_columns().clone();
    let schema = super::delta_source::table_schema(&table).map_err(error)?;
    let files = runtime.block_on(data_files(&table)).map_err(error)?;
    let mut small: BTreeMap<Vec<(String, Option<String>)>, Vec<DataFile>> = BTreeMap::new();
    for file in files.into_iter().filter(|f| (f.size as u64) < target_bytes) {
        let mut partition: Vec<_> = file.partition_values.clone().into_iter().collect();
        partition.sort();
        small.entry(partition).or_default().push(file);
    }
    let mut writer = RecordBatchWriter::for_table(&table).map_err(error)?;
    let (mut actions, mut removed) = (Vec::new(), 0);
    for file in small
        .into_values()
        .filter(|files| files.len() > 1)
        .flatten()
    {
        for batch in open_file(&root, &file, READ_ROWS)? {
            let batch = batch
                .and_then(|b| complete(&b, &file, &schema, &partition_columns))
                .map_err(|source| ConnectorError::Arrow {
                    path: root.join(&file.path),
                    source,
                })?;
            runtime.block_on(writer.write(batch)).map_err(error)?;
        }
        let mut remove = file.remove;
        remove.data_change = false;
        actions.push(Action::Remove(remove));
        removed += 1;
        if writer.buffer_len() as u64 >= target_bytes {
            let adds = runtime.block_on(writer.flush()).map_err(error)?;
            actions.extend(adds.into_iter().map(rearranged));
        }
    }
    let adds = runtime.block_on(writer.flush()).map_err(error)?;
    actions.extend(adds.into_iter().map(rearranged));
    let added = actions.len() - removed;
    if removed == 0 {
        return Ok(Compacted { removed, added: 0 });
    }
    let committed: Result<(), DeltaTableError> = runtime.block_on(async {
        let snapshot = table.snapshot()?.clone();
        CommitBuilder::default()
            .with_actions(actions)
            .build(
                Some(&snapshot),
                table.log_store(),
                DeltaOperation::Optimize {
                    predicate: None,
                    target_size: target_bytes as i64,
                },
            )
            .await?;
        table.update_state().await
    });
    committed.map_err(error)?;
    Ok(Compacted { removed, added })
}

/// An add action of rows only moved to another file.
fn rearranged(mut add: deltalake::kernel::Add) -> Action {
    add.data_change = false;
    Action::Add(add)
}

/// Deletes the table's files that no version newer than `retain_hours`
/// ago reads (all when `dry_run` is false); answers their paths.
pub fn vacuum(path: &str, retain_hours: u64, dry_run: bool) -> Result<Vec<String>, ConnectorError> {
    let (runtime, url) = open(path)?;
    vacuum_table(&runtime, &url, retain_hours, dry_run)
}

/// [`vacuum`] of the table at `url`, on `runtime`.
pub(super) fn vacuum_table(
    runtime: &tokio::runtime::Runtime,
    url: &Url,
    retain_hours: u64,
    dry_run: bool,
) -> Result<Vec<String>, ConnectorError> {
    let error = |e| delta_error(url, e);
    let vacuumed: Result<Vec<String>, DeltaTableError> = runtime.block_on(async {
        let table = load_table(url).await?;
        let (_, metrics) = table
            .vacuum()
            .with_retention_period(chrono::Duration::hours(retain_hours as i64))
            .with_enforce_retention_duration(false)
            .with_dry_run(dry_run)
            .await?;
        Ok(metrics.files_deleted)
    });
    vacuumed.map_err(error)
}
