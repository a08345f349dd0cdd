//! Decoding JSON lines and CSV text a batch of lines at a time. When a batch
//! fails to decode, its lines are decoded one by one so the bad ones go to
//! the dead letters and every good one still arrives. A CSV file with a
//! header has its columns matched to the schema by name, never by position
//! (a schema listing columns in another order than the file must not put
//! one column's values under another's name).

use std::io::BufRead;

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use super::{BadRecord, ConnectorError, Format};

/// How far a text input has been read: a restarted run continues here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextPosition {
    /// Bytes of complete lines consumed.
    pub offset: u64,
    /// Lines consumed (for error messages that name the line).
    pub line: usize,
}

/// What one read of the input gave.
pub enum Lines {
    /// A batch of the good rows among the lines read.
    Batch(RecordBatch),
    /// The input has no complete line now (only when following a file).
    Idle,
    /// The input is exhausted.
    End,
}

/// How a CSV input names its columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvColumns {
    /// The first line names the columns: they are matched to the schema by
    /// name. Without one, columns are taken by position.
    pub header: bool,
    /// With a header: columns it names that the schema does not are an
    /// error (`true`) or left out (`false`).
    pub extra_is_error: bool,
}

/// Where the schema's columns are in a CSV input's lines.
#[derive(Debug)]
struct CsvLayout {
    /// Every column of a line, in the file's order: the schema's columns
    /// with their types, others as text.
    file_schema: SchemaRef,
    /// The file columns of the schema's columns, in the schema's order.
    projection: Vec<usize>,
}

impl CsvLayout {
    /// Columns by position, as the schema lists them.
    fn by_position(schema: &SchemaRef) -> Self {
        Self {
            file_schema: schema.clone(),
            projection: (0..schema.fields().len()).collect(),
        }
    }

    /// Matches `schema`'s columns to the names of header line `line` of
    /// input `name`.
    fn from_header(
        name: &str,
        line: &[u8],
        schema: &SchemaRef,
        columns: CsvColumns,
    ) -> Result<Self, ConnectorError> {
        let header = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line)
            .records()
            .next()
            .transpose()
            .map_err(|e| header_error(name, format!("cannot read the header line: {e}")))?
            .unwrap_or_default();
        let names: Vec<&str> = header.iter().map(str::trim).collect();
        let mut projection = Vec::with_capacity(schema.fields().len());
        let mut missing = Vec::new();
        for field in schema.fields() {
            let mut at = names
                .iter()
                .enumerate()
                .filter(|(_, n)| **n == field.name());
            match (at.next(), at.next()) {
                (Some((i, _)), None) => projection.push(i),
                (Some(_), Some(_)) => {
                    return Err(header_error(
                        name,
                        format!("the header names column {:?} twice", field.name()),
                    ));
                }
                (None, _) => missing.push(field.name().as_str()),
            }
        }
        let listed = || names.join(", ");
        if !missing.is_empty() {
            return Err(header_error(
                name,
                format!(
                    "the schema's column(s) {} are not in the header ({}); columns are matched by name (`header: false` takes them by position)",
                    quoted(&missing),
                    listed()
                ),
            ));
        }
        let extra: Vec<&str> = (0..names.len())
            .filter(|i| !projection.contains(i))
            .map(|i| names[i])
            .collect();
        if columns.extra_is_error && !extra.is_empty() {
            return Err(header_error(
                name,
                format!(
                    "the header has column(s) {} that the schema does not declare (`extra_columns: error`)",
                    quoted(&extra)
                ),
            ));
        }
        let fields = (0..names.len()).map(|i| match projection.iter().position(|&p| p == i) {
            Some(declared) => schema.field(declared).clone(),
            None => Field::new(format!("_extra_{i}"), DataType::Utf8, true),
        });
        Ok(Self {
            file_schema: Arc::new(Schema::new(fields.collect::<Vec<_>>())),
            projection,
        })
    }
}

/// Checks that CSV header line `line` of input `name` holds `schema`'s
/// columns (see [`CsvColumns`]), before any row is read.
pub fn check_header(
    name: &str,
    line: &[u8],
    schema: &SchemaRef,
    columns: CsvColumns,
) -> Result<(), ConnectorError> {
    CsvLayout::from_header(name, line, schema, columns).map(drop)
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn header_error(name: &str, message: String) -> ConnectorError {
    ConnectorError::Config {
        field: "schema".into(),
        message: format!("{name}: {message}"),
    }
}

/// Lines decoded together when their batch holds a bad line that the
/// suspect columns do not explain (JSON, or a CSV line with the wrong
/// number of fields): JSON lines are bisected down to the bad one, so
/// small groups cost least (64: of 32, 64 and 128 the fastest with
/// `cargo bench --bench dirty_input`); Arrow's CSV error names the failing
/// row, and building a CSV decoder per group costs more than the decodes
/// around a bad row.
fn group_lines(format: Format) -> usize {
    match format {
        Format::Csv => CSV_GROUP_LINES,
        _ => 64,
    }
}

const CSV_GROUP_LINES: usize = 512;

/// Where one line lies in a chunk, and its 1-based number in the input.
struct Line {
    number: usize,
    span: std::ops::Range<usize>,
}

/// Decodes the lines of one input (a file or standard input).
pub struct LineDecoder {
    name: String,
    input: Box<dyn BufRead + Send>,
    format: Format,
    schema: SchemaRef,
    batch_rows: usize,
    /// Keep an unfinished last line for later instead of taking it as
    /// complete (the file is still being written).
    follow: bool,
    position: TextPosition,
    /// The lines of the current batch, each ending in a newline.
    chunk: Vec<u8>,
    /// The start of a line whose end has not been written yet.
    unfinished: Vec<u8>,
    /// How a CSV input names its columns.
    csv: CsvColumns,
    /// Where the schema's columns are in a CSV line; `None` until the
    /// header has been read (a followed file may start empty).
    layout: Option<CsvLayout>,
    /// The last batch held a bad line: decode the next one in groups at
    /// once rather than try it whole first (a dirty file is dirty
    /// throughout; trying costs a whole decode per batch).
    dirty: bool,
    /// CSV file columns that held a value of the wrong type: a batch with
    /// bad lines is decoded with them as text, and their values are
    /// parsed here, so a bad value costs its line, not a decode.
    suspects: std::collections::BTreeSet<usize>,
    /// JSON fields that held a value of the wrong kind: lines whose value
    /// of one looks wrong are decoded alone, the rest together.
    json_suspects: std::collections::BTreeSet<usize>,
}

impl LineDecoder {
    /// Decodes `input`, named `name` in errors, which starts at `position`
    /// of its file. A CSV input read from its start has its header read
    /// there; one read from further on is given the file's first line as
    /// `header` (`csv.header`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        input: Box<dyn BufRead + Send>,
        format: Format,
        schema: SchemaRef,
        batch_rows: usize,
        follow: bool,
        position: TextPosition,
        csv: CsvColumns,
        header: Option<&[u8]>,
    ) -> Result<Self, ConnectorError> {
        let layout = match (format, csv.header, header) {
            (Format::Csv, false, _) => Some(CsvLayout::by_position(&schema)),
            (Format::Csv, true, Some(line)) if position.offset > 0 => {
                Some(CsvLayout::from_header(&name, line, &schema, csv)?)
            }
            _ => None,
        };
        let mut decoder = Self {
            name,
            input,
            format,
            schema,
            batch_rows: batch_rows.max(1),
            follow,
            position,
            chunk: Vec::new(),
            unfinished: Vec::new(),
            csv,
            layout,
            dirty: false,
            suspects: Default::default(),
            json_suspects: Default::default(),
        };
        decoder.read_header()?;
        Ok(decoder)
    }

    /// Reads a CSV input's header once it has been written.
    fn read_header(&mut self) -> Result<(), ConnectorError> {
        if self.format != Format::Csv || self.layout.is_some() {
            return Ok(());
        }
        if self.read_chunk(1)?.is_empty() {
            return Ok(());
        }
        let layout = CsvLayout::from_header(&self.name, &self.chunk, &self.schema, self.csv)?;
        self.layout = Some(layout);
        Ok(())
    }

    /// How far the input has been consumed.
    pub fn position(&self) -> TextPosition {
        self.position
    }

    /// The next batch of good rows; bad lines are handed to `bad`.
    pub fn next_batch(&mut self, bad: &mut dyn FnMut(BadRecord)) -> Result<Lines, ConnectorError> {
        self.read_header()?;
        if self.format == Format::Csv && self.layout.is_none() {
            // No header yet: nothing else either.
            return Ok(match self.follow {
                true => Lines::Idle,
                false => Lines::End,
            });
        }
        loop {
            let lines = self.read_chunk(self.batch_rows)?;
            if lines.is_empty() {
                return Ok(match self.follow {
                    true => Lines::Idle,
                    false => Lines::End,
                });
            }
            let whole = match self.dirty {
                true => None,
                false => self.decode(&self.chunk, lines.len()).ok(),
            };
            let batch = match whole {
                Some(batch) => batch,
                None => {
                    let mut found = 0;
                    let mut count = |record| {
                        found += 1;
                        bad(record)
                    };
                    let suspected = match self.format {
                        Format::Json => self.decode_json_suspects(&lines, &mut count)?,
                        _ => self.decode_csv_suspects(&lines, &mut count)?,
                    };
                    let batch = match suspected {
                        Some(batch) => Some(batch),
                        None => self.decode_line_by_line(&lines, &mut count)?,
                    };
                    self.dirty = found > 0;
                    batch
                }
            };
            if let Some(batch) = batch.filter(|b| b.num_rows() > 0) {
                return Ok(Lines::Batch(batch));
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
            self.chunk.append(&mut self.unfinished);
            self.input
                .read_until(b'\n', &mut self.chunk)
                .map_err(|source| ConnectorError::Io {
                    path: self.name.clone().into(),
                    source,
                })?;
            if self.chunk.len() == start {
                break;
            }
            if self.chunk.last() != Some(&b'\n') && self.follow {
                self.unfinished = self.chunk.split_off(start);
                break;
            }
            self.position.offset += (self.chunk.len() - start) as u64;
            self.position.line += 1;
            if self.chunk[start..].trim_ascii().is_empty() {
                self.chunk.truncate(start);
                continue;
            }
            if self.chunk.last() != Some(&b'\n') {
                self.chunk.push(b'\n');
            }
            lines.push(Line {
                number: self.position.line,
                span: start..self.chunk.len(),
            });
        }
        Ok(lines)
    }

    /// Decodes `bytes`, `rows` lines (a decoder's buffers are sized for
    /// them: one sized for a whole batch makes decoding a line alone slow).
    /// Arrow's error for one line, as a user reads it: without the line
    /// and row Arrow counted inside the one line it was given (the dead
    /// letter says `file:line` and holds the record), and with the CSV
    /// column named.
    fn line_error(&self, error: &arrow::error::ArrowError) -> String {
        use arrow::error::ArrowError as E;
        let mut text = match error {
            E::ParseError(m) | E::CsvError(m) | E::JsonError(m) => m.clone(),
            other => other.to_string(),
        };
        if let Some(at) = text.find(". Row data: ") {
            text.truncate(at);
        }
        if let Some(at) = text.find(" at line ") {
            let rest = &text[at + " at line ".len()..];
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            text = format!("{}{}", &text[..at], &rest[digits..]);
        }
        let columns = self.layout.as_ref().map(|l| l.file_schema.clone());
        if let (Some(columns), Some(at)) = (columns, text.find("for column ")) {
            let rest = &text[at + "for column ".len()..];
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if let Some(field) = rest[..digits]
                .parse()
                .ok()
                .and_then(|i: usize| columns.fields().get(i))
            {
                text = format!(
                    "{}for column {:?}{}",
                    &text[..at],
                    field.name(),
                    &rest[digits..]
                );
            }
        }
        text
    }

    fn decode(
        &self,
        bytes: &[u8],
        rows: usize,
    ) -> Result<Option<RecordBatch>, arrow::error::ArrowError> {
        match self.format {
            Format::Json => self.decode_json([bytes], rows),
            _ => {
                let layout = self.layout.as_ref().expect("the header is read first");
                self.decode_csv(&layout.file_schema, &layout.projection, bytes, rows)
            }
        }
    }

    /// Decodes the JSON lines in `pieces` (whole lines each), `rows` in
    /// all, as one batch.
    fn decode_json<'b>(
        &self,
        pieces: impl IntoIterator<Item = &'b [u8]>,
        rows: usize,
    ) -> Result<Option<RecordBatch>, arrow::error::ArrowError> {
        let mut decoder = arrow::json::ReaderBuilder::new(self.schema.clone())
            .with_batch_size(rows.max(1))
            .build_decoder()?;
        for piece in pieces {
            feed(piece, |b| decoder.decode(b))?;
        }
        decoder.flush()
    }

    /// Decodes CSV `bytes`, `rows` lines of `file_schema`, keeping the
    /// columns of `projection`.
    fn decode_csv(
        &self,
        file_schema: &SchemaRef,
        projection: &[usize],
        bytes: &[u8],
        rows: usize,
    ) -> Result<Option<RecordBatch>, arrow::error::ArrowError> {
        let mut decoder = arrow::csv::ReaderBuilder::new(file_schema.clone())
            .with_header(false)
            .with_projection(projection.to_vec())
            .with_batch_size(rows.max(1))
            .build_decoder();
        feed(bytes, |b| decoder.decode(b))?;
        decoder.decode(&[])?;
        decoder.flush()
    }

    /// Decodes a CSV chunk with the suspect columns as text, adding the
    /// column a failed decode names to them, then parses their values:
    /// lines with one that does not parse go to `bad` and the rest make the
    /// batch. `None` when this cannot help (JSON, a line with the wrong
    /// number of fields): the caller isolates the bad lines.
    fn decode_csv_suspects(
        &mut self,
        lines: &[Line],
        bad: &mut dyn FnMut(BadRecord),
    ) -> Result<Option<RecordBatch>, ConnectorError> {
        let Some(layout) = self.layout.as_ref().filter(|_| self.format == Format::Csv) else {
            return Ok(None);
        };
        let (file_schema, projection) = (layout.file_schema.clone(), layout.projection.clone());
        let batch = loop {
            let as_text: Vec<_> = file_schema
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| match self.suspects.contains(&i) {
                    true => Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8)),
                    false => f.clone(),
                })
                .collect();
            let text_schema = Arc::new(Schema::new(as_text));
            match self.decode_csv(&text_schema, &projection, &self.chunk, lines.len()) {
                Ok(batch) => break batch,
                Err(error) => match failed_column(&error) {
                    Some(column)
                        if column < file_schema.fields().len() && self.suspects.insert(column) => {}
                    _ => return Ok(None),
                },
            }
        };
        let Some(batch) = batch else {
            return Ok(None);
        };
        let mut columns = batch.columns().to_vec();
        let mut bad_rows: std::collections::BTreeMap<usize, String> = Default::default();
        for (at, &file_column) in projection.iter().enumerate() {
            if !self.suspects.contains(&file_column) {
                continue;
            }
            let field = self.schema.field(at);
            let text = batch.column(at).as_string::<i32>();
            let parsed =
                parse_text(text, field.data_type()).map_err(|source| ConnectorError::Arrow {
                    path: self.name.clone().into(),
                    source,
                })?;
            for row in 0..text.len() {
                if parsed.is_null(row) && text.is_valid(row) && !text.value(row).is_empty() {
                    bad_rows.entry(row).or_insert_with(|| {
                        format!(
                            "Error while parsing value '{}' as type '{}' for column {:?}",
                            text.value(row),
                            field.data_type(),
                            field.name()
                        )
                    });
                }
            }
            columns[at] = parsed;
        }
        for (&row, error) in &bad_rows {
            let line = &lines[row];
            bad(BadRecord {
                record: String::from_utf8_lossy(self.chunk[line.span.clone()].trim_ascii_end())
                    .into_owned(),
                error: format!("{}:{}: {error}", self.name, line.number),
            });
        }
        let arrow = |source| ConnectorError::Arrow {
            path: self.name.clone().into(),
            source,
        };
        let all = RecordBatch::try_new(self.schema.clone(), columns).map_err(arrow)?;
        if bad_rows.is_empty() {
            return Ok(Some(all));
        }
        let keep: arrow::array::BooleanArray = (0..all.num_rows())
            .map(|row| Some(!bad_rows.contains_key(&row)))
            .collect();
        arrow::compute::filter_record_batch(&all, &keep)
            .map(Some)
            .map_err(arrow)
    }

    /// Decodes a JSON chunk with bad lines: the lines whose value of a
    /// suspect field looks wrong for its type (a cheap look at the value's
    /// first byte) are decoded one by one, the rest together; a field the
    /// decode of the rest names becomes a suspect. Exact whatever the
    /// look: a line is bad only if Arrow refuses it alone, and a good one
    /// goes back in its place. `None` when this cannot help (the rest
    /// fails without naming a new field).
    fn decode_json_suspects(
        &mut self,
        lines: &[Line],
        bad: &mut dyn FnMut(BadRecord),
    ) -> Result<Option<RecordBatch>, ConnectorError> {
        let arrow = |source| ConnectorError::Arrow {
            path: self.name.clone().into(),
            source,
        };
        let (rest, decoded) = loop {
            let keys: Vec<(memchr::memmem::Finder<'_>, &Field)> = self
                .json_suspects
                .iter()
                .map(|&field| {
                    let field = self.schema.field(field);
                    let key = format!("\"{}\"", field.name()).into_bytes();
                    (memchr::memmem::Finder::new(&key).into_owned(), field)
                })
                .collect();
            let flagged: Vec<usize> = (0..lines.len())
                .filter(|&i| {
                    let line = &self.chunk[lines[i].span.clone()];
                    keys.iter()
                        .any(|(key, field)| looks_wrong(line, key, field))
                })
                .collect();
            let mut next_flagged = flagged.iter().peekable();
            let rest: Vec<usize> = (0..lines.len())
                .filter(|i| next_flagged.next_if_eq(&i).is_none())
                .collect();
            let pieces = rest.iter().map(|&i| &self.chunk[lines[i].span.clone()]);
            match self.decode_json(pieces, rest.len()) {
                Ok(decoded) => break (rest, decoded),
                Err(error) => match failed_field(&error, &self.schema) {
                    Some(field) if self.json_suspects.insert(field) => {}
                    _ => return Ok(None),
                },
            }
        };
        // Every row's place: (batch, row) into [rest, good flagged lines...].
        let mut batches: Vec<RecordBatch> = decoded.into_iter().collect();
        let mut places: Vec<(usize, usize)> = Vec::with_capacity(lines.len());
        let mut rest_rows = rest.iter().enumerate().peekable();
        for (i, line) in lines.iter().enumerate() {
            if let Some((row, _)) = rest_rows.next_if(|(_, r)| **r == i) {
                places.push((0, row));
                continue;
            }
            let bytes = &self.chunk[line.span.clone()];
            match self.decode(bytes, 1) {
                Ok(Some(alone)) => {
                    if batches.is_empty() {
                        batches.push(RecordBatch::new_empty(self.schema.clone()));
                    }
                    batches.push(alone);
                    places.push((batches.len() - 1, 0));
                }
                Ok(None) => {}
                Err(error) => bad(BadRecord {
                    record: String::from_utf8_lossy(bytes.trim_ascii_end()).into_owned(),
                    error: format!("{}:{}: {}", self.name, line.number, self.line_error(&error)),
                }),
            }
        }
        if batches.is_empty() {
            return Ok(Some(RecordBatch::new_empty(self.schema.clone())));
        }
        let refs: Vec<&RecordBatch> = batches.iter().collect();
        arrow::compute::interleave_record_batch(&refs, &places)
            .map(Some)
            .map_err(arrow)
    }

    /// Decodes a chunk that failed as a whole, keeping every good line: in
    /// groups of [`GROUP_LINES`], and a group that fails in halves, halved
    /// again down to the single bad lines. A bad line then costs about one
    /// group's decoding twice, not a decoder per line of its batch.
    fn decode_line_by_line(
        &self,
        lines: &[Line],
        bad: &mut dyn FnMut(BadRecord),
    ) -> Result<Option<RecordBatch>, ConnectorError> {
        let mut good = Vec::new();
        for group in lines.chunks(group_lines(self.format)) {
            self.isolate(group, &mut good, bad);
        }
        arrow::compute::concat_batches(&self.schema, &good)
            .map(Some)
            .map_err(|source| ConnectorError::Arrow {
                path: self.name.clone().into(),
                source,
            })
    }
}

impl LineDecoder {
    /// Decodes `lines` into `good`, or, when they fail together, each half
    /// on its own; a single line that fails is handed to `bad`.
    fn isolate(&self, lines: &[Line], good: &mut Vec<RecordBatch>, bad: &mut dyn FnMut(BadRecord)) {
        let (Some(first), Some(last)) = (lines.first(), lines.last()) else {
            return;
        };
        let bytes = &self.chunk[first.span.start..last.span.end];
        let Err(error) = self
            .decode(bytes, lines.len())
            .map(|batch| good.extend(batch))
        else {
            return;
        };
        // A CSV error names the row that failed (in one column: the rows
        // before it may fail in another, so they are decoded again);
        // otherwise each half is tried on its own.
        let row = match (lines.len(), self.format) {
            (1, _) => Some(0),
            (_, Format::Csv) => failed_row(&error).filter(|&row| row < lines.len()),
            _ => None,
        };
        match row {
            Some(row) => {
                self.isolate(&lines[..row], good, bad);
                let line = &lines[row];
                bad(BadRecord {
                    record: String::from_utf8_lossy(self.chunk[line.span.clone()].trim_ascii_end())
                        .into_owned(),
                    error: format!("{}:{}: {}", self.name, line.number, self.line_error(&error)),
                });
                self.isolate(&lines[row + 1..], good, bad);
            }
            None => {
                let (front, back) = lines.split_at(lines.len() / 2);
                self.isolate(front, good, bad);
                self.isolate(back, good, bad);
            }
        }
    }
}

/// The file column (from 0) that Arrow's CSV decoder says a value of
/// failed to parse in (`... for column N`), if it says.
fn failed_column(error: &arrow::error::ArrowError) -> Option<usize> {
    let text = error.to_string();
    let rest = &text[text.find("for column ")? + "for column ".len()..];
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    rest[..digits].parse().ok()
}

/// The field (index in `schema`) that Arrow's JSON decoder says a value
/// of failed to decode in (`whilst decoding field 'name'`), if it says.
fn failed_field(error: &arrow::error::ArrowError, schema: &Schema) -> Option<usize> {
    let text = error.to_string();
    let rest = &text[text.find("whilst decoding field '")? + "whilst decoding field '".len()..];
    let name = &rest[..rest.find('\'')?];
    schema.index_of(name).ok()
}

/// Whether the value of `field` (whose quoted name `key` finds) in JSON
/// `line` looks wrong for its type by
/// its first byte (a string for a number, a number for a string, an
/// object or list for a scalar...). Only a hint: the line is then decoded
/// alone, which decides.
fn looks_wrong(line: &[u8], key: &memchr::memmem::Finder<'_>, field: &Field) -> bool {
    let Some(at) = key.find(line) else {
        return false;
    };
    let after = line[at + key.needle().len()..].trim_ascii_start();
    let Some(value) = after.strip_prefix(b":").map(<[u8]>::trim_ascii_start) else {
        return false;
    };
    let first = value.first().copied().unwrap_or(b'n');
    let number = first == b'-' || first.is_ascii_digit();
    match field.data_type() {
        _ if first == b'n' => false,
        DataType::Boolean => !matches!(first, b't' | b'f'),
        DataType::Utf8 | DataType::LargeUtf8 => first != b'"',
        t if t.is_numeric() => !number,
        t if t.is_temporal() => !(number || first == b'"'),
        _ => matches!(first, b'{' | b'['),
    }
}

/// `text` parsed as `data_type` as Arrow's CSV reader parses it: empty is
/// null, booleans are `true` or `false` in any case, other types through
/// Arrow's casts (the same parsers); a value that does not parse is null.
fn parse_text(
    text: &arrow::array::StringArray,
    data_type: &DataType,
) -> Result<arrow::array::ArrayRef, arrow::error::ArrowError> {
    if *data_type == DataType::Boolean {
        let parsed: arrow::array::BooleanArray = text
            .iter()
            .map(|v| match v?.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            })
            .collect();
        return Ok(Arc::new(parsed));
    }
    // Empty is null: a null mask over the same buffers, no copy.
    let empty = arrow::compute::kernels::cmp::eq(text, &arrow::array::StringArray::new_scalar(""))?;
    let text = arrow::compute::nullif(text, &empty)?;
    let options = arrow::compute::CastOptions {
        safe: true,
        ..Default::default()
    };
    arrow::compute::cast_with_options(&text, data_type, &options)
}

/// The row (from 0, in what the decoder was given) that Arrow's CSV
/// decoder says failed (`... at line N`), if it says.
fn failed_row(error: &arrow::error::ArrowError) -> Option<usize> {
    let text = error.to_string();
    let rest = &text[text.find(" at line ")? + " at line ".len()..];
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    rest[..digits].parse().ok()
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::Int64Type;

    /// A decoder of `bytes` (a file named `name`) read from its start, a
    /// CSV one with its header.
    fn decoder(
        name: &str,
        bytes: Vec<u8>,
        format: Format,
        schema: SchemaRef,
        batch_rows: usize,
    ) -> LineDecoder {
        let csv = CsvColumns {
            header: true,
            extra_is_error: false,
        };
        let input = Box::new(std::io::Cursor::new(bytes));
        let position = TextPosition::default();
        LineDecoder::new(
            name.into(),
            input,
            format,
            schema,
            batch_rows,
            false,
            position,
            csv,
            None,
        )
        .unwrap()
    }

    #[test]
    fn bad_lines_anywhere_in_a_batch_cost_only_themselves_in_order() {
        let bad_at = [0, 5, 6, 200, 299];
        let text: String = (0..300)
            .map(|i| match bad_at.contains(&i) {
                true => format!("{{\"id\": \"bad {i}\"}}\n"),
                false => format!("{{\"id\": {i}}}\n"),
            })
            .collect();
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        let mut decoder = decoder("in.jsonl", text.into_bytes(), Format::Json, schema, 1000);
        let mut bad = Vec::new();
        let Lines::Batch(batch) = decoder.next_batch(&mut |b| bad.push(b)).unwrap() else {
            panic!("a batch");
        };
        let ids: Vec<i64> = batch
            .column(0)
            .as_primitive::<Int64Type>()
            .values()
            .to_vec();
        let expected: Int64Array = (0..300).filter(|i| !bad_at.contains(i)).collect();
        assert_eq!(ids, expected.values().to_vec());
        let lines: Vec<String> = bad
            .iter()
            .map(|b| b.error.split(':').nth(1).unwrap().to_string())
            .collect();
        assert_eq!(lines, ["1", "6", "7", "201", "300"]);
    }

    #[test]
    fn bad_csv_lines_in_different_columns_cost_only_themselves_batch_after_batch() {
        // Row 5 fails in `qty`, row 3 in `amount` (a column Arrow converts
        // first), in every batch of 10.
        let text: String = std::iter::once("id,amount,qty\n".to_string())
            .chain((0..40).map(|i| match i % 10 {
                3 => format!("{i},lots,1\n"),
                5 => format!("{i},1.5,many\n"),
                _ => format!("{i},1.5,2\n"),
            }))
            .collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("amount", DataType::Float64, true),
            Field::new("qty", DataType::Int64, true),
        ]));
        let mut decoder = decoder("o.csv", text.into_bytes(), Format::Csv, schema, 10);
        let (mut ids, mut bad) = (Vec::new(), Vec::new());
        while let Lines::Batch(batch) = decoder.next_batch(&mut |b| bad.push(b)).unwrap() {
            ids.extend(
                batch
                    .column(0)
                    .as_primitive::<Int64Type>()
                    .values()
                    .iter()
                    .copied(),
            );
        }
        let expected: Vec<i64> = (0..40).filter(|i| i % 10 != 3 && i % 10 != 5).collect();
        assert_eq!(ids, expected);
        let records: Vec<&str> = bad.iter().map(|b| b.record.as_str()).collect();
        assert_eq!(records.len(), 8, "{records:?}");
        assert!(
            records
                .iter()
                .all(|r| r.contains("lots") || r.contains("many")),
            "{records:?}"
        );
    }

    /// The suspect-column path keeps exactly the lines Arrow's CSV reader
    /// accepts one by one, with the same values, for every type a schema
    /// can declare, with nulls and with values of the wrong type in
    /// several columns.
    #[test]
    fn dirty_csv_batches_keep_exactly_the_lines_arrow_accepts_alone() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("u", DataType::UInt8, true),
            Field::new("f", DataType::Float32, true),
            Field::new("b", DataType::Boolean, true),
            Field::new("d", DataType::Date32, true),
            Field::new(
                "t",
                DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, Some("UTC".into())),
                true,
            ),
            Field::new("s", DataType::Utf8, true),
        ]));
        let values: [&[&str]; 7] = [
            &["1", "-7", "", "2.5", "x", "9999999999999999999999"],
            &["0", "255", "", "256", "-1", "3"],
            &["1.5", "", "1e3", "NaN", "abc", "-0"],
            &["true", "FALSE", "", "yes", "1", "True"],
            &[
                "2026-12-06",
                "",
                "2026-13-01",
                "06/12/2026",
                "2026-01-31",
                "x",
            ],
            &[
                "2026-12-06T10:00:00Z",
                "",
                "2026-12-06 10:00:00",
                "soon",
                "2026-12-06T10:00:00+02:00",
                "1",
            ],
            &["a", "", "b c", "\"q,uoted\"", "x", "y"],
        ];
        let lines: Vec<String> = pick_values(&values, 300, 3)
            .iter()
            .map(|fields| fields.join(","))
            .collect();
        assert_keeps_what_arrow_accepts_alone(Format::Csv, &schema, &lines, |line| {
            arrow::csv::ReaderBuilder::new(schema.clone())
                .with_header(false)
                .build(std::io::Cursor::new(format!("{line}\n")))
                .unwrap()
                .next()
                .unwrap()
                .ok()
        });
    }

    /// The JSON path keeps exactly the lines Arrow's JSON reader accepts
    /// one by one, in order, whatever kind of value each field holds
    /// (strings that parse as numbers too, which the look flags and the
    /// lone decode keeps).
    #[test]
    fn dirty_json_batches_keep_exactly_the_lines_arrow_accepts_alone() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
            Field::new("b", DataType::Boolean, true),
            Field::new("s", DataType::Utf8, true),
            Field::new(
                "t",
                DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, Some("UTC".into())),
                true,
            ),
        ]));
        let values: [&[&str]; 5] = [
            &["1", "-7", "null", "\"12\"", "\"x\"", "2.5", "true", "{}"],
            &["1.5", "null", "-3", "\"2.5\"", "\"lots\"", "false", "[1]"],
            &["true", "false", "null", "\"true\"", "1", "{\"a\": 1}"],
            &["\"a\"", "null", "\"b c\"", "5", "true", "[\"x\"]"],
            &[
                "\"2026-12-06T10:00:00Z\"",
                "null",
                "1765015200000",
                "\"soon\"",
                "true",
            ],
        ];
        let names = ["i", "f", "b", "s", "t"];
        let lines: Vec<String> = pick_values(&values, 400, 5)
            .iter()
            .map(|fields| {
                let fields: Vec<String> = names
                    .iter()
                    .zip(fields)
                    .map(|(name, value)| format!("\"{name}\": {value}"))
                    .collect();
                format!("{{{}}}", fields.join(", "))
            })
            .collect();
        assert_keeps_what_arrow_accepts_alone(Format::Json, &schema, &lines, |line| {
            let mut alone = arrow::json::ReaderBuilder::new(schema.clone())
                .build_decoder()
                .unwrap();
            alone.decode(format!("{line}\n").as_bytes()).unwrap();
            alone.flush().ok().flatten()
        });
    }

    /// `rows` rows of a value per column, from a linear congruential walk:
    /// mostly one of each column's first two (good) values.
    fn pick_values<'v>(columns: &[&[&'v str]], rows: usize, mut seed: u64) -> Vec<Vec<&'v str>> {
        (0..rows)
            .map(|_| {
                columns
                    .iter()
                    .map(|column| {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let pick = (seed >> 33) as usize;
                        match pick % 6 {
                            0 => column[pick / 6 % column.len()],
                            _ => column[pick % 2],
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// Decodes `lines` (a CSV header of the schema's names first) in
    /// batches of 50 and checks that exactly the rows `alone` (Arrow on one
    /// line) accepts arrive, in order, the others as bad lines.
    fn assert_keeps_what_arrow_accepts_alone(
        format: Format,
        schema: &SchemaRef,
        lines: &[String],
        alone: impl Fn(&str) -> Option<RecordBatch>,
    ) {
        let expected: Vec<RecordBatch> = lines.iter().filter_map(|l| alone(l)).collect();
        let expected = arrow::compute::concat_batches(schema, &expected).unwrap();
        let mut text = match format {
            Format::Csv => {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                names.join(",") + "\n"
            }
            _ => String::new(),
        };
        text.push_str(&(lines.join("\n") + "\n"));
        let mut decoder = decoder("all", text.into_bytes(), format, schema.clone(), 50);
        let (mut got, mut bad) = (Vec::new(), 0);
        while let Lines::Batch(batch) = decoder.next_batch(&mut |_| bad += 1).unwrap() {
            got.push(batch);
        }
        let got = arrow::compute::concat_batches(schema, &got).unwrap();
        let good = expected.num_rows();
        assert!(bad > 30 && good > 100, "{bad} bad, {good} good");
        assert_eq!(got.num_rows() + bad, lines.len());
        assert_eq!(got, expected);
    }

    #[test]
    fn a_bad_csv_line_says_its_file_line_and_column_not_arrows_positions() {
        let text = "id,amount,country\n1,2.5,DE\n2,lots,FR\n3,1.0,US\n";
        let schema = Arc::new(Schema::new(vec![
            Field::new("country", DataType::Utf8, true),
            Field::new("amount", DataType::Float64, true),
        ]));
        let mut decoder = decoder(
            "orders.csv",
            text.as_bytes().to_vec(),
            Format::Csv,
            schema,
            1000,
        );
        let mut bad = Vec::new();
        let Lines::Batch(batch) = decoder.next_batch(&mut |b| bad.push(b)).unwrap() else {
            panic!("a batch");
        };
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].record, "2,lots,FR");
        assert_eq!(
            bad[0].error,
            "orders.csv:3: Error while parsing value 'lots' as type 'Float64' for column \"amount\""
        );
    }
}
