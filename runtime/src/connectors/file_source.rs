//! The `file` and `stdin` sources: JSON lines, CSV and Parquet, from one
//! path or a glob, with a declared or inferred schema. `follow: true` tails
//! growing files (logs) and picks up new files matching the glob. A source
//! that resumes reports its position per file, so a restarted run continues
//! where the last one ended.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use indexmap::IndexMap;
use serde::Deserialize;

use super::lines::{CsvColumns, LineDecoder, Lines, TextPosition, check_header};
use super::{
    BadRecord, ConnectorConfig, ConnectorError, Format, Lag, Parts, Source, SourceConnector,
    declared_schema,
};
use crate::plugin::Poll;

/// Rows per batch unless the config says otherwise.
const DEFAULT_BATCH_ROWS: usize = 8192;
/// Records read to infer a schema.
const INFER_RECORDS: usize = 1000;
/// How often a followed file is checked for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// Config of `type: file` sources.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The file to read, or a glob (`logs/*.jsonl`) whose matches are read
    /// in name order; relative to the pipeline file.
    pub path: PathBuf,
    /// `json` (lines), `csv` or `parquet`; by default from the extension.
    pub format: Option<Format>,
    /// Columns and their types (`{id: int64, name: utf8}`); inferred from
    /// the first records when absent.
    pub schema: Option<IndexMap<String, String>>,
    /// Rows per batch.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Keep reading as lines are appended and new files match; the run then
    /// ends only on Ctrl-C.
    #[serde(default)]
    pub follow: bool,
    /// Record how far each file was read when the run ends, and continue
    /// from there next time (default: on when following).
    pub resume: Option<bool>,
    /// CSV: the first line names the columns, matched to `schema` by name
    /// (default); `false`: there is no header, columns are taken by
    /// position.
    pub header: Option<bool>,
    /// CSV with a header: columns the schema does not declare are left out
    /// (`ignore`, default) or an error (`error`).
    pub extra_columns: Option<ExtraColumns>,
}

/// What to do with CSV columns the schema does not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExtraColumns {
    /// Leave them out.
    Ignore,
    /// Refuse the file.
    Error,
}

/// How a CSV input of `format` names its columns, from the config's
/// `header` and `extra_columns`; refused for other formats.
fn csv_columns(
    format: Format,
    header: Option<bool>,
    extra: Option<ExtraColumns>,
) -> Result<CsvColumns, ConnectorError> {
    if format != Format::Csv && (header.is_some() || extra.is_some()) {
        let field = if header.is_some() {
            "header"
        } else {
            "extra_columns"
        };
        return Err(config_error(field, "applies to csv input only"));
    }
    if header == Some(false) && extra.is_some() {
        return Err(config_error(
            "extra_columns",
            "without a header columns are taken by position; remove `extra_columns`",
        ));
    }
    Ok(CsvColumns {
        header: header.unwrap_or(true),
        extra_is_error: extra == Some(ExtraColumns::Error),
    })
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
    /// CSV: whether the first line names the columns (see the file source).
    pub header: Option<bool>,
    /// CSV with a header: what to do with undeclared columns.
    pub extra_columns: Option<ExtraColumns>,
}

fn default_batch_rows() -> usize {
    DEFAULT_BATCH_ROWS
}

fn json() -> Format {
    Format::Json
}

/// How far each file of a source was read, by path: bytes and lines for
/// text, rows for Parquet.
pub type Positions = BTreeMap<String, TextPosition>;

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

    /// Checks the fields that depend on each other.
    pub fn check(&self) -> Result<(), ConnectorError> {
        let format = self.format()?;
        if format == Format::Parquet {
            super::parquet_files::available()?;
        }
        if self.schema.is_some() && format == Format::Parquet {
            return Err(config_error(
                "schema",
                "a Parquet file carries its own schema; remove `schema`",
            ));
        }
        if self.follow && format == Format::Parquet {
            return Err(config_error(
                "follow",
                "a Parquet file is complete when written; follow reads json or csv",
            ));
        }
        if self.follow && self.schema.is_none() {
            return Err(config_error(
                "schema",
                "a followed file may start empty; declare its schema",
            ));
        }
        // A bounded read of nothing is a mistake: say so before the run.
        if !self.follow && self.files()?.iter().all(|f| !f.is_file()) {
            return Err(config_error(
                "path",
                &format!("no file matches {}", self.path.display()),
            ));
        }
        csv_columns(format, self.header, self.extra_columns).map(drop)
    }

    /// Checks the header of the first CSV file matched (if any yet)
    /// against the declared `schema`, so that `weir validate` finds a
    /// column the file lacks.
    fn check_csv_header(&self, format: Format, schema: &SchemaRef) -> Result<(), ConnectorError> {
        let csv = csv_columns(format, self.header, self.extra_columns)?;
        if format != Format::Csv || !csv.header {
            return Ok(());
        }
        let Some(path) = self.files()?.into_iter().find(|p| p.exists()) else {
            return Ok(());
        };
        let mut line = Vec::new();
        BufReader::new(open(&path)?)
            .read_until(b'\n', &mut line)
            .map_err(|source| ConnectorError::Io {
                path: path.clone(),
                source,
            })?;
        match line.trim_ascii().is_empty() {
            // A followed file not written yet.
            true => Ok(()),
            false => check_header(&path.display().to_string(), &line, schema, csv),
        }
    }

    /// The files the path names now, in name order.
    pub fn files(&self) -> Result<Vec<PathBuf>, ConnectorError> {
        let pattern = self.path.to_string_lossy();
        if !pattern.contains(['*', '?', '[']) {
            return Ok(match self.path.exists() || !self.follow {
                true => vec![self.path.clone()],
                false => Vec::new(),
            });
        }
        let paths = glob::glob(&pattern).map_err(|e| config_error("path", &e.to_string()))?;
        let mut files = paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect::<Vec<_>>();
        files.sort();
        Ok(files)
    }

    /// The schema of the files: declared, read from the first Parquet
    /// file's metadata, or inferred from the first file's first records.
    pub fn resolve_schema(&self) -> Result<SchemaRef, ConnectorError> {
        let format = self.format()?;
        if let Some(columns) = &self.schema {
            let schema = declared_schema(columns)?;
            self.check_csv_header(format, &schema)?;
            return Ok(schema);
        }
        let path = self.files()?.into_iter().next().ok_or_else(|| {
            config_error("path", &format!("no file matches {}", self.path.display()))
        })?;
        let mut file = BufReader::new(open(&path)?);
        let arrow = |source| ConnectorError::Arrow {
            path: path.clone(),
            source,
        };
        let schema = match format {
            Format::Parquet => return parquet_schema(&path),
            Format::Json => {
                arrow::json::reader::infer_json_schema_from_seekable(&mut file, Some(INFER_RECORDS))
                    .map_err(arrow)?
                    .0
            }
            Format::Csv => {
                arrow::csv::reader::Format::default()
                    .with_header(self.header != Some(false))
                    .infer_schema(&mut file, Some(INFER_RECORDS))
                    .map_err(arrow)?
                    .0
            }
        };
        Ok(Arc::new(schema))
    }
}

impl ConnectorConfig for Config {
    fn prepare(&mut self, base_dir: &Path) -> Result<(), ConnectorError> {
        self.path = base_dir.join(&self.path);
        self.check()
    }
}

impl SourceConnector for Config {
    fn schema(&self) -> Result<SchemaRef, ConnectorError> {
        self.resolve_schema()
    }

    fn infers_schema(&self) -> bool {
        self.schema.is_none() && self.format().ok() != Some(Format::Parquet)
    }

    /// Parquet files are read by column: only those the graph uses.
    fn projects(&self) -> bool {
        self.format().ok() == Some(Format::Parquet)
    }

    fn resumes(&self) -> bool {
        self.resume.unwrap_or(self.follow)
    }

    /// The file, or for a pattern (`lake/*.jsonl`) the folder before its
    /// first wildcard: the dataset a `file` sink writing there names.
    fn datasets(&self) -> Vec<super::Dataset> {
        let wild = |part: &std::path::Component<'_>| {
            part.as_os_str().to_string_lossy().contains(['*', '?', '['])
        };
        let folder: PathBuf = self.path.components().take_while(|c| !wild(c)).collect();
        vec![super::Dataset::local(&folder)]
    }

    fn open(
        &self,
        schema: &SchemaRef,
        position: Option<serde_json::Value>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        let positions = match position {
            Some(value) => serde_json::from_value(value).map_err(|e| {
                config_error("resume", &format!("the recorded position is unreadable ({e}); delete the state file to read from the start"))
            })?,
            None => Positions::new(),
        };
        Ok(Box::new(FileSource::open(self, schema, positions)?))
    }

    /// Parquet row groups and pages no consumer can pass a row of are left
    /// unread (not when resuming: a recorded position counts the rows read).
    fn skips(&self) -> bool {
        !self.resumes() && self.format().ok() == Some(Format::Parquet)
    }

    fn open_skipping(
        &self,
        schema: &SchemaRef,
        position: Option<serde_json::Value>,
        skip: &super::skip::RowFilter,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        if !self.skips() {
            return self.open(schema, position);
        }
        let mut source = FileSource::open(self, schema, Positions::new())?;
        source.skip = Some(skip.clone());
        Ok(Box::new(source))
    }
}

impl ConnectorConfig for StdinConfig {
    fn prepare(&mut self, _base_dir: &Path) -> Result<(), ConnectorError> {
        if self.format == Format::Parquet {
            return Err(config_error(
                "format",
                "standard input is read as json or csv",
            ));
        }
        csv_columns(self.format, self.header, self.extra_columns).map(drop)
    }
}

impl SourceConnector for StdinConfig {
    fn schema(&self) -> Result<SchemaRef, ConnectorError> {
        declared_schema(&self.schema)
    }

    fn open(
        &self,
        schema: &SchemaRef,
        _position: Option<serde_json::Value>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        Ok(Box::new(FileSource::stdin(self, schema)?))
    }
}

fn config_error(field: &str, message: &str) -> ConnectorError {
    ConnectorError::Config {
        field: field.into(),
        message: message.into(),
    }
}

fn open(path: &Path) -> Result<File, ConnectorError> {
    File::open(path).map_err(|source| ConnectorError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn parquet_schema(path: &Path) -> Result<SchemaRef, ConnectorError> {
    super::parquet_files::schema(open(path)?, path)
}

/// A running file or stdin source.
pub struct FileSource {
    /// `None` for standard input.
    config: Option<Config>,
    format: Format,
    /// How a CSV input names its columns.
    csv: CsvColumns,
    schema: SchemaRef,
    batch_rows: usize,
    /// Files matched but not opened yet.
    queue: VecDeque<PathBuf>,
    /// Every file matched so far (a followed glob adds only new ones).
    seen: HashSet<PathBuf>,
    current: Option<Current>,
    positions: Positions,
    /// Every file matched so far, and whether it is caught up (read to its
    /// end for now), for event time.
    parts: Arc<BTreeMap<String, bool>>,
    /// The file of the batch sent last.
    last_part: String,
    /// Rows no consumer passes on: Parquet row groups holding only such
    /// rows are left unread.
    skip: Option<super::skip::RowFilter>,
}

/// The file being read.
struct Current {
    path: PathBuf,
    reader: Reader,
}

enum Reader {
    Lines(LineDecoder),
    Parquet {
        reader: super::parquet_files::Reader,
        rows: u64,
    },
}

impl FileSource {
    /// Opens the files of `config`, whose rows have `schema` (the one the
    /// graph was typed with), continuing from `positions` of an earlier run.
    pub fn open(
        config: &Config,
        schema: &SchemaRef,
        positions: Positions,
    ) -> Result<Self, ConnectorError> {
        let files = config.files()?;
        if files.is_empty() && !config.follow {
            return Err(config_error(
                "path",
                &format!("no file matches {}", config.path.display()),
            ));
        }
        let format = config.format()?;
        Ok(Self {
            format,
            csv: csv_columns(format, config.header, config.extra_columns)?,
            config: Some(config.clone()),
            schema: schema.clone(),
            batch_rows: config.batch_rows,
            parts: Arc::new(
                files
                    .iter()
                    .map(|f| (f.display().to_string(), false))
                    .collect(),
            ),
            last_part: String::new(),
            skip: None,
            seen: files.iter().cloned().collect(),
            queue: files.into(),
            current: None,
            positions,
        })
    }

    /// Reads standard input as rows of `schema`.
    pub fn stdin(config: &StdinConfig, schema: &SchemaRef) -> Result<Self, ConnectorError> {
        let input = Box::new(BufReader::new(std::io::stdin()));
        let csv = csv_columns(config.format, config.header, config.extra_columns)?;
        let lines = LineDecoder::new(
            "<stdin>".into(),
            input,
            config.format,
            schema.clone(),
            config.batch_rows,
            false,
            TextPosition::default(),
            csv,
            None,
        )?;
        Ok(Self {
            config: None,
            format: config.format,
            csv,
            schema: schema.clone(),
            batch_rows: config.batch_rows,
            queue: VecDeque::new(),
            seen: HashSet::new(),
            current: Some(Current {
                path: "<stdin>".into(),
                reader: Reader::Lines(lines),
            }),
            positions: Positions::new(),
            parts: Arc::default(),
            last_part: String::new(),
            skip: None,
        })
    }

    fn follows(&self) -> bool {
        self.config.as_ref().is_some_and(|c| c.follow)
    }

    /// Queues files that started matching the glob since the last look.
    fn find_new_files(&mut self) -> Result<(), ConnectorError> {
        let Some(config) = &self.config else {
            return Ok(());
        };
        for file in config.files()? {
            if self.seen.insert(file.clone()) {
                Arc::make_mut(&mut self.parts).insert(file.display().to_string(), false);
                self.queue.push_back(file);
            }
        }
        Ok(())
    }

    /// Notes whether file `key` is caught up, when that changes.
    fn caught_up(&mut self, key: &str, idle: bool) {
        if self.parts.get(key) != Some(&idle) {
            Arc::make_mut(&mut self.parts).insert(key.to_string(), idle);
        }
    }

    fn open_file(&self, path: PathBuf) -> Result<Current, ConnectorError> {
        let key = path.display().to_string();
        let mut start = self.positions.get(&key).copied().unwrap_or_default();
        let mut file = open(&path)?;
        let io = |source| ConnectorError::Io {
            path: path.clone(),
            source,
        };
        if self.format == Format::Parquet {
            let reader = super::parquet_files::Reader::open(
                file,
                &path,
                &self.schema,
                self.skip.as_ref(),
                self.batch_rows,
                start.offset as usize,
            )?;
            return Ok(Current {
                reader: Reader::Parquet {
                    reader,
                    rows: start.offset,
                },
                path,
            });
        }
        let length = file.metadata().map_err(io)?.len();
        if start.offset > length {
            tracing::warn!(file = %path.display(), recorded = start.offset, length, "file is shorter than the recorded position (truncated or replaced); reading it from the start");
            start = TextPosition::default();
        }
        // A CSV file read from further on: its header is its first line.
        let mut header = Vec::new();
        if self.format == Format::Csv && self.csv.header && start.offset > 0 {
            BufReader::new(&file)
                .read_until(b'\n', &mut header)
                .map_err(io)?;
        }
        file.seek(SeekFrom::Start(start.offset)).map_err(io)?;
        let lines = LineDecoder::new(
            key,
            Box::new(BufReader::new(file)),
            self.format,
            self.schema.clone(),
            self.batch_rows,
            self.follows(),
            start,
            self.csv,
            Some(&header),
        )?;
        Ok(Current {
            path,
            reader: Reader::Lines(lines),
        })
    }
}

impl Source for FileSource {
    fn next_batch(&mut self, bad: &mut dyn FnMut(BadRecord)) -> Result<Poll, ConnectorError> {
        loop {
            let Some(current) = &mut self.current else {
                match self.queue.pop_front() {
                    Some(path) => self.current = Some(self.open_file(path)?),
                    None if self.follows() => {
                        self.find_new_files()?;
                        if self.queue.is_empty() {
                            return Ok(Poll::Wait(FOLLOW_POLL));
                        }
                    }
                    None => return Ok(Poll::Done),
                }
                continue;
            };
            let key = current.path.display().to_string();
            let (next, position) = match &mut current.reader {
                Reader::Lines(lines) => {
                    let next = lines.next_batch(bad)?;
                    (next, lines.position())
                }
                Reader::Parquet { reader, rows } => {
                    let next = reader.next_batch().transpose().map_err(|source| {
                        ConnectorError::Arrow {
                            path: current.path.clone(),
                            source,
                        }
                    })?;
                    *rows += next.as_ref().map_or(0, |b| b.num_rows() as u64);
                    let position = TextPosition {
                        offset: *rows,
                        line: 0,
                    };
                    (next.map_or(Lines::End, Lines::Batch), position)
                }
            };
            self.positions.insert(key.clone(), position);
            // Standard input is one part, "".
            if self.config.is_some() {
                self.caught_up(&key, !matches!(next, Lines::Batch(_)));
                self.last_part = key;
            }
            match next {
                Lines::Batch(batch) => return Ok(Poll::Batch(batch)),
                Lines::End => self.current = None,
                Lines::Idle => {
                    // A followed file at its end: move on once a newer
                    // file matches, else wait for more lines.
                    self.find_new_files()?;
                    if self.queue.is_empty() {
                        return Ok(Poll::Wait(FOLLOW_POLL));
                    }
                    self.current = None;
                }
            }
        }
    }

    /// Bytes of the matched text files past what has been read (files
    /// that vanished count as read); unknown for Parquet and stdin.
    fn lag(&self) -> Option<Lag> {
        if self.config.is_none() || self.format == Format::Parquet {
            return None;
        }
        let unread = |path: &PathBuf| {
            let length = std::fs::metadata(path).map_or(0, |m| m.len());
            let read = self
                .positions
                .get(&path.display().to_string())
                .map_or(0, |p| p.offset);
            length.saturating_sub(read)
        };
        let current = self.current.iter().map(|c| &c.path);
        Some(Lag::Bytes(current.chain(&self.queue).map(unread).sum()))
    }

    /// Every file matched; standard input is one part.
    fn parts(&self) -> Parts {
        match self.config {
            Some(_) => Parts::Now(self.parts.clone()),
            None => Parts::One,
        }
    }

    fn part(&self) -> String {
        self.last_part.clone()
    }

    fn position(&self) -> Option<serde_json::Value> {
        let resumes = self.config.as_ref().is_some_and(SourceConnector::resumes);
        resumes.then(|| serde_json::to_value(&self.positions).expect("positions serialize"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_the_bytes_of_matched_files_not_read_yet() {
        let dir = tempfile::tempdir().unwrap();
        let line = |id: usize| format!("{{\"id\": {id:02}}}\n");
        for (file, ids) in [("a.jsonl", 0..10), ("b.jsonl", 10..20)] {
            let text: String = ids.map(line).collect();
            std::fs::write(dir.path().join(file), text).unwrap();
        }
        let config: Config = serde_json::from_value(serde_json::json!({
            "path": dir.path().join("*.jsonl"),
            "schema": {"id": "int64"},
            "batch_rows": 4,
        }))
        .unwrap();
        let schema = config.resolve_schema().unwrap();
        let mut source = FileSource::open(&config, &schema, Positions::new()).unwrap();
        let line_bytes = line(0).len() as u64;
        assert_eq!(source.lag(), Some(Lag::Bytes(20 * line_bytes)));
        let next = |source: &mut FileSource| match source
            .next_batch(&mut |bad| panic!("{bad:?}"))
            .unwrap()
        {
            Poll::Batch(batch) => batch.num_rows(),
            other => panic!("{other:?}"),
        };
        assert_eq!(next(&mut source), 4);
        assert_eq!(source.lag(), Some(Lag::Bytes(16 * line_bytes)));
        let mut rows = 4;
        while source.lag() != Some(Lag::Bytes(0)) {
            rows += next(&mut source);
        }
        assert_eq!(rows, 20);
        assert!(matches!(
            source.next_batch(&mut |_| ()).unwrap(),
            Poll::Done
        ));
    }
}
