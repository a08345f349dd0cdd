//! Decoding JSON lines and CSV text a batch of lines at a time. When a batch
//! fails to decode, its lines are decoded one by one so the bad ones go to
//! the dead letters and every good one still arrives.

use std::io::BufRead;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
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
    /// A CSV header still to be skipped (a followed file may start empty).
    header_pending: bool,
}

impl LineDecoder {
    /// Decodes `input`, named `name` in errors, which starts at `position`
    /// of its file. A CSV input read from its start has its header skipped
    /// (columns are taken by position in the schema's order).
    pub fn new(
        name: String,
        input: Box<dyn BufRead + Send>,
        format: Format,
        schema: SchemaRef,
        batch_rows: usize,
        follow: bool,
        position: TextPosition,
    ) -> Result<Self, ConnectorError> {
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
            header_pending: format == Format::Csv && position.offset == 0,
        };
        decoder.skip_header()?;
        Ok(decoder)
    }

    /// Skips the CSV header once it has been written.
    fn skip_header(&mut self) -> Result<(), ConnectorError> {
        if self.header_pending {
            self.header_pending = self.read_chunk(1)?.is_empty();
        }
        Ok(())
    }

    /// How far the input has been consumed.
    pub fn position(&self) -> TextPosition {
        self.position
    }

    /// The next batch of good rows; bad lines are handed to `bad`.
    pub fn next_batch(&mut self, bad: &mut dyn FnMut(BadRecord)) -> Result<Lines, ConnectorError> {
        self.skip_header()?;
        loop {
            let lines = self.read_chunk(self.batch_rows)?;
            if lines.is_empty() {
                return Ok(match self.follow {
                    true => Lines::Idle,
                    false => Lines::End,
                });
            }
            let batch = match self.decode(&self.chunk) {
                Ok(batch) => batch,
                Err(_) => self.decode_line_by_line(&lines, bad)?,
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
