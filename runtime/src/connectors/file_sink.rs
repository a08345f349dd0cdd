//! The `file` sink: JSON lines, CSV or Parquet files in a folder, rolled by
//! rows or bytes, optionally split into Hive-style partition folders
//! (`dt=2026-11-25/`). Each file is written under a hidden temporary name and
//! renamed when complete, so a reader never sees half a file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use serde::Deserialize;

use super::parquet_files::{Compression, Dictionary, Encoding, ParquetOptions};
use super::{ConnectorConfig, ConnectorError, Format, Sink, SinkConnector, SinkContext};

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
    /// Start a new file after this many rows.
    pub max_rows_per_file: Option<usize>,
    /// Start a new file once a file has reached this many bytes (checked
    /// after each batch, so a file may pass it by up to one batch).
    pub max_bytes_per_file: Option<u64>,
    /// Write rows into one folder per value of this column. A timestamp
    /// column gives `dt=YYYY-MM-DD` folders (days in its time zone) and stays in the
    /// files; any other column gives `<column>=<value>` folders and, as in
    /// Hive, is left out of the files (the value is in the path).
    pub partition_by: Option<String>,
    /// What to do with output already in `path`: `append` (add this run's
    /// files beside it), `overwrite` (this run's output replaces it, in one
    /// step, once the run read all its input) or `error-if-exists` (refuse
    /// to start when `path` holds any). Default: `error-if-exists` for a
    /// batch job, so running it again never doubles its output; `append`
    /// for a run that continues an earlier one (a source that resumes, or
    /// Kafka).
    pub mode: Option<Mode>,
    /// Parquet: the page codec, `zstd`, `lz4`, `snappy` (default) or `none`.
    pub compression: Option<Compression>,
    /// Parquet: rows per row group (default 131,072).
    pub row_group_rows: Option<usize>,
    /// Parquet: which columns are dictionary-encoded: `auto` (default: those
    /// whose values repeat in the rows a file starts with, unless delta
    /// encoding packs them smaller), `true`, `false` or a list of columns.
    pub dictionary: Option<Dictionary>,
    /// Parquet: how integer columns without a dictionary are encoded:
    /// `auto` (default: delta-encoded where neighbouring values differ by
    /// little, as timestamps do) or `plain`.
    pub encoding: Option<Encoding>,
}

impl Config {
    /// The Parquet encoding the config asks for.
    fn parquet(&self) -> ParquetOptions {
        let defaults = ParquetOptions::default();
        ParquetOptions {
            compression: self.compression.unwrap_or(defaults.compression),
            row_group_rows: self.row_group_rows.unwrap_or(defaults.row_group_rows),
            dictionary: self.dictionary.clone().unwrap_or(defaults.dictionary),
            encoding: self.encoding.unwrap_or(defaults.encoding),
        }
    }
}

/// What a `file` sink does with output already in its folder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Add this run's files beside what is there (a resumed streaming run
    /// continues its output this way).
    #[default]
    Append,
    /// Write this run's output beside the folder and, once the run read
    /// all its input, swap it in for the folder in one rename: a reader
    /// sees the old output or the new, never a mix. A run that is stopped
    /// or fails leaves the old output as it was.
    Overwrite,
    /// Refuse to start when the folder holds any file or partition folder.
    ErrorIfExists,
}

impl Mode {
    /// The mode of a sink whose config says `mode` in the run `context`
    /// describes.
    fn resolve(mode: Option<Mode>, context: &SinkContext) -> Mode {
        mode.unwrap_or(match context.continues {
            true => Mode::Append,
            false => Mode::ErrorIfExists,
        })
    }
}

fn default_prefix() -> String {
    "part".into()
}

/// The first file or folder of earlier output in `dir` (hidden ones, such
/// as files being written, do not count).
fn earlier_output(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| {
            path.file_name()
                .is_some_and(|name| !name.to_string_lossy().starts_with('.'))
        })
}

/// Folder name of rows whose partition column is null (Hive's convention).
const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// How rows are split into folders.
#[derive(Debug, Clone)]
struct Partitioning {
    column: usize,
    /// Directory key: `dt` for days of a timestamp, else the column name.
    key: String,
    /// Whether the column is written into the files too.
    kept: bool,
}

fn config_error(field: &str, message: String) -> ConnectorError {
    ConnectorError::Config {
        field: field.into(),
        message,
    }
}

fn partitioning(
    config: &Config,
    schema: &SchemaRef,
) -> Result<Option<Partitioning>, ConnectorError> {
    let Some(name) = &config.partition_by else {
        return Ok(None);
    };
    let (column, field) = schema.column_with_name(name).ok_or_else(|| {
        let columns: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        config_error(
            "partition_by",
            format!("no column {name:?}; the input has {}", columns.join(", ")),
        )
    })?;
    let partitioning = match field.data_type() {
        DataType::Timestamp(_, _) => Partitioning {
            column,
            key: "dt".into(),
            kept: true,
        },
        _ if schema.fields().len() == 1 => {
            return Err(config_error(
                "partition_by",
                format!(
                    "{name:?} is the only column: its value goes into the folder name, so the files would hold no column; partition by another column or add one"
                ),
            ));
        }
        t if t.is_integer()
            || matches!(
                t,
                DataType::Utf8
                    | DataType::LargeUtf8
                    | DataType::Boolean
                    | DataType::Date32
                    | DataType::Date64
            ) =>
        {
            Partitioning {
                column,
                key: name.clone(),
                kept: false,
            }
        }
        other => {
            return Err(config_error(
                "partition_by",
                format!(
                    "cannot partition by {name:?} of type {other}; use a string, integer, boolean, date or timestamp column"
                ),
            ));
        }
    };
    Ok(Some(partitioning))
}

impl ConnectorConfig for Config {
    fn prepare(&mut self, base_dir: &Path) -> Result<(), ConnectorError> {
        self.path = base_dir.join(&self.path);
        if self.format == Format::Parquet {
            super::parquet_files::available()?;
        }
        Ok(())
    }
}

impl SinkConnector for Config {
    fn check(&self, schema: &SchemaRef, context: &SinkContext) -> Result<(), ConnectorError> {
        let mode = match context.describing {
            // What the target holds now is the run's business.
            true => Mode::Append,
            false => Mode::resolve(self.mode, context),
        };
        check(self, schema, mode)
    }

    fn datasets(&self) -> Vec<super::Dataset> {
        vec![super::Dataset::local(&self.path)]
    }

    fn open(
        &self,
        schema: &SchemaRef,
        context: &SinkContext,
    ) -> Result<Box<dyn Sink>, ConnectorError> {
        Ok(Box::new(FileSink::open(
            self,
            schema,
            Mode::resolve(self.mode, context),
        )?))
    }
}

/// Checks that the sink can write batches of `schema` in `mode`.
fn check(config: &Config, schema: &SchemaRef, mode: Mode) -> Result<(), ConnectorError> {
    if config.path.exists() && !config.path.is_dir() {
        return Err(config_error(
            "path",
            format!(
                "{} is a file; the sink writes a folder of files there",
                config.path.display()
            ),
        ));
    }
    if let Some(why) = super::unwritable_folder(&config.path) {
        return Err(config_error("path", why));
    }
    if mode == Mode::ErrorIfExists
        && let Some(found) = earlier_output(&config.path)
    {
        return Err(config_error(
            "mode",
            format!(
                "{} holds output already ({}); mode error-if-exists (the default for a batch job) refuses to add to it: remove it, or set mode: overwrite or append",
                config.path.display(),
                found.display()
            ),
        ));
    }
    if config.format == Format::Csv
        && let Some(field) = schema.fields().iter().find(|f| f.data_type().is_nested())
    {
        return Err(config_error(
            "format",
            format!(
                "CSV cannot hold column {:?} of type {}; use json or parquet",
                field.name(),
                field.data_type()
            ),
        ));
    }
    if config.max_rows_per_file == Some(0) {
        return Err(config_error(
            "max_rows_per_file",
            "must be at least 1".into(),
        ));
    }
    check_parquet_options(config, schema)?;
    if config.max_bytes_per_file == Some(0) {
        return Err(config_error(
            "max_bytes_per_file",
            "must be at least 1".into(),
        ));
    }
    partitioning(config, schema).map(|_| ())
}

/// The Parquet options are for Parquet files, name columns there are, and
/// ask for row groups of at least one row.
fn check_parquet_options(config: &Config, schema: &SchemaRef) -> Result<(), ConnectorError> {
    if config.format != Format::Parquet {
        let set = [
            ("compression", config.compression.is_some()),
            ("row_group_rows", config.row_group_rows.is_some()),
            ("dictionary", config.dictionary.is_some()),
            ("encoding", config.encoding.is_some()),
        ];
        if let Some((field, _)) = set.iter().find(|(_, set)| *set) {
            return Err(config_error(
                field,
                "applies to format: parquet only".into(),
            ));
        }
    }
    if config.row_group_rows == Some(0) {
        return Err(config_error("row_group_rows", "must be at least 1".into()));
    }
    if let Some(Dictionary::Columns(columns)) = &config.dictionary
        && let Some(missing) = columns.iter().find(|c| schema.index_of(c).is_err())
    {
        let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        return Err(config_error(
            "dictionary",
            format!("no column {missing:?}; the input has {}", names.join(", ")),
        ));
    }
    Ok(())
}

/// A running file sink.
pub struct FileSink {
    config: Config,
    /// Where its files go: the configured folder, or the staging folder
    /// beside it in `overwrite` mode.
    root: PathBuf,
    /// In `overwrite` mode: the staging folder, swapped in at the end.
    staged: Option<PathBuf>,
    partitioning: Option<Partitioning>,
    /// The schema of the files (without a partition column left out).
    file_schema: SchemaRef,
    /// One folder per partition value ("" when not partitioned).
    folders: HashMap<String, Folder>,
    /// Files finished (path, rows) since the audit log last asked.
    finished: Vec<(PathBuf, usize)>,
}

/// A folder of output files and the file being written in it.
struct Folder {
    dir: PathBuf,
    next_number: usize,
    open: Option<OpenFile>,
}

struct OpenFile {
    temporary: PathBuf,
    path: PathBuf,
    writer: Writer,
    rows: usize,
    /// Bytes handed to the file so far (JSON and CSV).
    bytes: Arc<AtomicU64>,
}

enum Writer {
    Json(arrow::json::LineDelimitedWriter<Counting>),
    Csv(Box<arrow::csv::Writer<Counting>>),
    Parquet(super::parquet_files::Writer),
}

/// A buffered file that counts the bytes written to it.
struct Counting {
    file: BufWriter<File>,
    bytes: Arc<AtomicU64>,
}

impl Counting {
    fn new(file: File, bytes: &Arc<AtomicU64>) -> Self {
        Self {
            file: BufWriter::new(file),
            bytes: bytes.clone(),
        }
    }
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.file.write(buf)?;
        self.bytes.fetch_add(written as u64, Ordering::Relaxed);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl OpenFile {
    fn bytes(&self) -> u64 {
        match &self.writer {
            Writer::Parquet(w) => w.bytes(),
            _ => self.bytes.load(Ordering::Relaxed),
        }
    }
}

impl FileSink {
    /// Prepares the folder (in `overwrite` mode an empty staging folder
    /// beside it); files are created when rows arrive.
    pub fn open(config: &Config, schema: &SchemaRef, mode: Mode) -> Result<Self, ConnectorError> {
        check(config, schema, mode)?;
        let partitioning = partitioning(config, schema)?;
        let file_schema = match &partitioning {
            Some(p) if !p.kept => {
                let mut fields = schema.fields().to_vec();
                fields.remove(p.column);
                Arc::new(arrow::datatypes::Schema::new(fields))
            }
            _ => schema.clone(),
        };
        let staged = (mode == Mode::Overwrite).then(|| staging_folder(&config.path));
        if let Some(staging) = &staged {
            // What a stopped or crashed run staged is not wanted.
            remove_folder(staging)?;
        }
        let root = staged.clone().unwrap_or_else(|| config.path.clone());
        create_dir(&root)?;
        Ok(Self {
            root,
            staged,
            config: config.clone(),
            partitioning,
            file_schema,
            folders: HashMap::new(),
            finished: Vec::new(),
        })
    }

    /// The folder of partition `value`, prepared on first use.
    fn folder(&mut self, value: &str) -> Result<&mut Folder, ConnectorError> {
        if !self.folders.contains_key(value) {
            let dir = match &self.partitioning {
                Some(p) => self.root.join(format!("{}={value}", p.key)),
                None => self.root.clone(),
            };
            create_dir(&dir)?;
            let folder = Folder {
                next_number: next_free_number(&dir, &self.config.prefix)?,
                dir,
                open: None,
            };
            self.folders.insert(value.to_string(), folder);
        }
        Ok(self.folders.get_mut(value).expect("inserted above"))
    }

    /// Writes `batch` (already in the file schema) to partition `value`,
    /// rolling files at the configured limits.
    fn write_to(&mut self, value: &str, batch: &RecordBatch) -> Result<(), ConnectorError> {
        let config = self.config.clone();
        let schema = self.file_schema.clone();
        let mut finished = Vec::new();
        let folder = self.folder(value)?;
        let max_rows = config.max_rows_per_file.unwrap_or(usize::MAX);
        let max_bytes = config.max_bytes_per_file.unwrap_or(u64::MAX);
        let mut offset = 0;
        while offset < batch.num_rows() {
            let open = match &mut folder.open {
                Some(open) => open,
                None => folder.start_file(
                    &config,
                    &schema,
                    &batch.slice(offset, batch.num_rows() - offset),
                )?,
            };
            let take = (max_rows - open.rows).min(batch.num_rows() - offset);
            let part = batch.slice(offset, take);
            let path = open.temporary.clone();
            match &mut open.writer {
                Writer::Json(w) => w.write(&part),
                Writer::Csv(w) => w.write(&part),
                Writer::Parquet(w) => w.write(&part),
            }
            .map_err(|source| ConnectorError::Arrow { path, source })?;
            open.rows += take;
            offset += take;
            // A full file is closed at once, so readers see it without
            // waiting for the next batch.
            if open.rows >= max_rows || open.bytes() >= max_bytes {
                finished.extend(folder.finish_file()?);
            }
        }
        self.finished.extend(finished);
        Ok(())
    }
}

impl Folder {
    /// Starts the next file, which will begin with the rows of `first`.
    fn start_file(
        &mut self,
        config: &Config,
        schema: &SchemaRef,
        first: &RecordBatch,
    ) -> Result<&mut OpenFile, ConnectorError> {
        let name = format!(
            "{}-{:05}.{}",
            config.prefix,
            self.next_number,
            config.format.extension()
        );
        self.next_number += 1;
        let path = self.dir.join(&name);
        let temporary = self.dir.join(format!(".{name}.tmp"));
        let file = File::create(&temporary).map_err(|source| ConnectorError::Io {
            path: temporary.clone(),
            source,
        })?;
        let bytes = Arc::new(AtomicU64::new(0));
        let writer = match config.format {
            Format::Json => Writer::Json(super::json_lines(Counting::new(file, &bytes))),
            Format::Csv => Writer::Csv(Box::new(arrow::csv::Writer::new(Counting::new(
                file, &bytes,
            )))),
            Format::Parquet => Writer::Parquet(super::parquet_files::Writer::create(
                file,
                &temporary,
                schema.clone(),
                &config.parquet(),
                first,
            )?),
        };
        Ok(self.open.insert(OpenFile {
            temporary,
            path,
            writer,
            rows: 0,
            bytes,
        }))
    }

    /// Finishes the open file, if any; answers its path and rows.
    fn finish_file(&mut self) -> Result<Option<(PathBuf, usize)>, ConnectorError> {
        let Some(open) = self.open.take() else {
            return Ok(None);
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
                let file = writer.finish(&open.temporary)?;
                file.sync_all().map_err(io)?;
            }
        }
        std::fs::rename(&open.temporary, &open.path).map_err(io)?;
        Ok(Some((open.path, open.rows)))
    }
}

/// The hidden folder beside `path` where `overwrite` stages a run's output
/// (on the same file system, so it can be renamed into place).
fn staging_folder(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.weir-overwrite"))
}

fn remove_folder(dir: &Path) -> Result<(), ConnectorError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ConnectorError::Io {
            path: dir.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// Puts `staged` in the place of `path` in one step (Linux's
/// `renameat2(RENAME_EXCHANGE)` swaps two folders atomically), then removes
/// the old output that is now in `staged`.
fn swap_in(staged: &Path, path: &Path) -> Result<(), ConnectorError> {
    let io = |source| ConnectorError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !path.exists() {
        return std::fs::rename(staged, path).map_err(io);
    }
    exchange(staged, path).map_err(io)?;
    remove_folder(staged)
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    };
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let done = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    match done {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Without an atomic exchange: the old output is moved aside first, so a
/// reader may briefly find no folder (never a mix).
#[cfg(not(target_os = "linux"))]
fn exchange(staged: &Path, path: &Path) -> std::io::Result<()> {
    let aside = staged.with_extension("old");
    std::fs::rename(path, &aside)?;
    std::fs::rename(staged, path)?;
    std::fs::rename(&aside, staged)
}

fn create_dir(dir: &Path) -> Result<(), ConnectorError> {
    std::fs::create_dir_all(dir).map_err(|source| ConnectorError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

fn finish_file(writer: Counting) -> std::io::Result<()> {
    writer
        .file
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()
}

/// The number after the highest file with `prefix` in `dir`, so a second
/// run adds files instead of replacing them.
fn next_free_number(dir: &Path, prefix: &str) -> Result<usize, ConnectorError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ConnectorError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let prefix = format!("{prefix}-");
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

/// The partition folder value of every row of `column`.
fn partition_values(column: &dyn Array) -> Result<Vec<Box<str>>, arrow::error::ArrowError> {
    let days;
    let column = match column.data_type() {
        DataType::Timestamp(_, _) => {
            days = arrow::compute::cast(column, &DataType::Date32)?;
            days.as_ref()
        }
        _ => column,
    };
    let formatter = ArrayFormatter::try_new(column, &FormatOptions::default())?;
    Ok((0..column.len())
        .map(|row| match column.is_null(row) {
            true => NULL_PARTITION.into(),
            false => escape(&formatter.value(row).to_string()).into(),
        })
        .collect())
}

/// Percent-encodes what cannot stand in a folder name (as Hive does):
/// separators, `=`, `%`, control characters, and the names `.` and `..`.
fn escape(value: &str) -> String {
    let plain = |c: char| c.is_alphanumeric() || "-_. :+".contains(c);
    if value.chars().all(plain) && value != "." && value != ".." {
        return value.to_string();
    }
    let mut escaped = String::with_capacity(value.len() * 3);
    for c in value.chars() {
        if plain(c) && c != '.' {
            escaped.push(c);
        } else {
            let mut buf = [0; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                escaped.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    escaped
}

impl Sink for FileSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ConnectorError> {
        let Some(partitioning) = self.partitioning.clone() else {
            return self.write_to("", batch);
        };
        let path = self.config.path.clone();
        let arrow = |source| ConnectorError::Arrow {
            path: path.clone(),
            source,
        };
        let values = partition_values(batch.column(partitioning.column)).map_err(arrow)?;
        let mut batch = batch.clone();
        if !partitioning.kept {
            batch.remove_column(partitioning.column);
        }
        let mut groups: indexmap::IndexMap<&str, Vec<u32>> = indexmap::IndexMap::new();
        for (row, value) in values.iter().enumerate() {
            groups.entry(value).or_default().push(row as u32);
        }
        if groups.len() == 1 {
            return self.write_to(&values[0], &batch);
        }
        for (value, rows) in groups {
            let part = arrow::compute::take_record_batch(&batch, &UInt32Array::from(rows))
                .map_err(arrow)?;
            self.write_to(value, &part)?;
        }
        Ok(())
    }

    /// Finishes every open file; the next write starts new ones.
    fn flush(&mut self) -> Result<(), ConnectorError> {
        let mut folders: Vec<_> = self.folders.iter_mut().collect();
        folders.sort_by(|a, b| a.0.cmp(b.0));
        for (_, folder) in folders {
            self.finished.extend(folder.finish_file()?);
        }
        Ok(())
    }

    /// The files finished, by their names under the sink's folder; in
    /// `overwrite` mode, only once the run's output is swapped in.
    fn take_committed(&mut self) -> Vec<serde_json::Value> {
        if self.staged.is_some() || self.finished.is_empty() {
            return Vec::new();
        }
        let finished = std::mem::take(&mut self.finished);
        let rows: usize = finished.iter().map(|(_, rows)| rows).sum();
        let files: Vec<serde_json::Value> = finished
            .iter()
            .map(|(path, rows)| {
                let name = path.strip_prefix(&self.root).unwrap_or(path);
                serde_json::json!({"name": name, "rows": rows})
            })
            .collect();
        vec![serde_json::json!({
            "folder": super::Dataset::local(&self.config.path).name,
            "files": files,
            "rows": rows,
        })]
    }

    /// In `overwrite` mode, swaps the staged output in for the old.
    fn finish(&mut self) -> Result<(), ConnectorError> {
        match self.staged.take() {
            Some(staged) => swap_in(&staged, &self.config.path),
            None => Ok(()),
        }
    }
}
