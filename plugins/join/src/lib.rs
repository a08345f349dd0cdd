//! `join`: an inner equi-join of the two sides of one stream, such as the
//! people and the auctions of the Nexmark stream (Nexmark query 3).
//!
//! A row belongs to the left side when its left key is not null, to the
//! right side when its right key is not null (so one stream can carry both,
//! as a union of two inputs or a stream of several event kinds does). Every
//! row is kept, and each new row is joined with every row of the other side
//! seen so far: each matching pair is emitted once, when its later row
//! arrives, whatever the order. The kept rows are the plugin's state
//! (`snapshot`/`restore`); nothing expires, as in an SQL join of two streams
//! without a time bound, so filter the sides before the join.
//!
//! Configuration:
//!
//! | field | meaning | example |
//! | --- | --- | --- |
//! | `left.key` | the left side's key column (integer or utf8) | `"person_id"` |
//! | `left.columns` | the left side's output columns | `["name", "city", "state"]` |
//! | `right.key` | the right side's key column, of the same kind | `"seller"` |
//! | `right.columns` | the right side's output columns | `["auction_id"]` |
//!
//! Output: the left columns then the right columns, under their input names
//! (which must differ: rename with `select` before the join otherwise).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_arith::boolean::is_not_null;
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_cast::cast;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use arrow_select::concat::concat_batches;
use arrow_select::filter::filter_record_batch;
use arrow_select::interleave::interleave;
use serde::Deserialize;
use weir_sdk::{Error, Output, Plan, Result, Transform};

/// The configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The left side.
    pub left: SideSpec,
    /// The right side.
    pub right: SideSpec,
}

/// One side of the join.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideSpec {
    /// The key column: rows where it is not null belong to this side.
    pub key: String,
    /// The columns this side contributes to the output.
    pub columns: Vec<String>,
}

/// A join key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Int(i64),
    Text(String),
}

/// The rows of one side kept so far: chunks of `[key, columns...]` and
/// where each key's rows are (as row numbers over all chunks).
struct Side {
    /// Received-batch indices: the key, then the output columns.
    reads: Vec<usize>,
    key_type: DataType,
    schema: SchemaRef,
    chunks: Vec<RecordBatch>,
    /// The first row number of each chunk.
    starts: Vec<usize>,
    rows: usize,
    index: HashMap<Key, Vec<usize>>,
}

/// Chunks are merged into one when there are this many, so output columns
/// are gathered from few arrays.
const MAX_CHUNKS: usize = 64;

impl Side {
    /// This side's key column of `batch`, as its key type.
    fn key(&self, batch: &RecordBatch) -> Result<ArrayRef> {
        Ok(cast(batch.column(self.reads[0]), &self.key_type)?)
    }

    /// Keeps this side's rows of `batch` (those where `key` is not null);
    /// answers the row number the first of them gets.
    fn keep(&mut self, batch: &RecordBatch, key: ArrayRef) -> Result<usize> {
        let mut columns = vec![key];
        columns.extend(self.reads[1..].iter().map(|i| batch.column(*i).clone()));
        let projected = RecordBatch::try_new(self.schema.clone(), columns)?;
        let mine = filter_record_batch(&projected, &is_not_null(projected.column(0))?)?;
        match mine.num_rows() {
            0 => Ok(self.rows),
            _ => self.push(mine),
        }
    }

    /// Keeps `chunk`; answers the row number of its first row.
    fn push(&mut self, chunk: RecordBatch) -> Result<usize> {
        if self.chunks.len() >= MAX_CHUNKS {
            let merged = concat_batches(&self.schema, &self.chunks)?;
            self.chunks = vec![merged];
            self.starts = vec![0];
        }
        let first = self.rows;
        self.starts.push(first);
        self.rows += chunk.num_rows();
        self.chunks.push(chunk);
        Ok(first)
    }

    /// Where row number `row` is: (chunk, row in chunk).
    fn locate(&self, row: usize) -> (usize, usize) {
        let chunk = self.starts.partition_point(|s| *s <= row) - 1;
        (chunk, row - self.starts[chunk])
    }

    /// Output column `n` (after the key) for the rows `at`.
    fn gather(&self, n: usize, at: &[usize]) -> Result<ArrayRef> {
        let arrays: Vec<&dyn Array> = self
            .chunks
            .iter()
            .map(|c| c.column(n + 1).as_ref())
            .collect();
        let at: Vec<(usize, usize)> = at.iter().map(|r| self.locate(*r)).collect();
        Ok(interleave(&arrays, &at)?)
    }

    /// All kept rows as one batch (for a snapshot).
    fn all(&self) -> Result<RecordBatch> {
        Ok(concat_batches(&self.schema, &self.chunks)?)
    }

    /// Replaces the kept rows with `rows` (from a snapshot).
    fn reset(&mut self, rows: RecordBatch) -> Result<()> {
        self.chunks.clear();
        self.starts.clear();
        self.rows = 0;
        self.index.clear();
        if rows.num_rows() == 0 {
            return Ok(());
        }
        let keys = key_values(rows.column(0));
        self.push(rows)?;
        for (row, key) in keys.into_iter().enumerate() {
            self.index
                .entry(key.expect("keys are not null"))
                .or_default()
                .push(row);
        }
        Ok(())
    }
}

/// The key of every row (`None` for null).
fn key_values(column: &ArrayRef) -> Vec<Option<Key>> {
    if let Some(ints) = column.as_any().downcast_ref::<Int64Array>() {
        ints.iter().map(|v| v.map(Key::Int)).collect()
    } else {
        let texts = column
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("utf8 keys");
        texts
            .iter()
            .map(|v| v.map(|t| Key::Text(t.to_string())))
            .collect()
    }
}

/// The running join.
pub struct Join {
    left: Side,
    right: Side,
    output: SchemaRef,
}

fn open_side(spec: &SideSpec, name: &str, input: &SchemaRef) -> Result<(Side, Vec<usize>)> {
    let column = |column: &str, field: String| weir_sdk::config::column(input, column, &field);
    let key = column(&spec.key, format!("{name}.key"))?;
    let key_type = match input.field(key).data_type() {
        t if t.is_integer() => DataType::Int64,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        other => {
            return Err(Error::invalid_config(format!(
                "field \"{name}.key\": cannot join on a {other} column ({:?}); use an integer or utf8 key",
                spec.key
            )));
        }
    };
    if spec.columns.is_empty() {
        return Err(Error::invalid_config(format!(
            "field \"{name}.columns\": name at least one output column"
        )));
    }
    let mut reads = vec![key];
    let mut fields = vec![Field::new("key", key_type.clone(), true)];
    for (n, c) in spec.columns.iter().enumerate() {
        let i = column(c, format!("{name}.columns[{n}]"))?;
        reads.push(i);
        fields.push(input.field(i).clone().with_nullable(true));
    }
    let side = Side {
        reads: Vec::new(),
        key_type,
        schema: Arc::new(Schema::new(fields)),
        chunks: Vec::new(),
        starts: Vec::new(),
        rows: 0,
        index: HashMap::new(),
    };
    Ok((side, reads))
}

impl Transform for Join {
    type Config = Config;

    fn open(config: Config, input: &SchemaRef) -> Result<(Self, Plan)> {
        let (mut left, left_reads) = open_side(&config.left, "left", input)?;
        let (mut right, right_reads) = open_side(&config.right, "right", input)?;
        if left.key_type != right.key_type {
            return Err(Error::invalid_config(format!(
                "fields \"left.key\" and \"right.key\": {:?} is {} but {:?} is {}; join keys must be of one kind",
                config.left.key, left.key_type, config.right.key, right.key_type
            )));
        }
        let fields: Vec<Field> = [&left, &right]
            .iter()
            .flat_map(|s| s.schema.fields()[1..].iter().map(|f| f.as_ref().clone()))
            .collect();
        let left_count = config.left.columns.len();
        for (n, field) in fields.iter().enumerate() {
            if fields[..n].iter().any(|f| f.name() == field.name()) {
                let (side, at) = match n < left_count {
                    true => ("left", n),
                    false => ("right", n - left_count),
                };
                return Err(Error::invalid_config(format!(
                    "field \"{side}.columns[{at}]\": {:?} is already an output column; output names must differ (rename one with `select` first)",
                    field.name()
                )));
            }
        }
        let reads: Vec<usize> = left_reads.iter().chain(&right_reads).copied().collect();
        let output: SchemaRef = Arc::new(Schema::new(fields));
        let (plan, mut positions) = Plan::batches(output.clone()).reading_at(&reads);
        right.reads = positions.split_off(left_reads.len());
        left.reads = positions;
        let join = Join {
            left,
            right,
            output,
        };
        Ok((join, plan))
    }

    fn process(&mut self, batch: RecordBatch) -> Result<Output> {
        let (left_key, right_key) = (self.left.key(&batch)?, self.right.key(&batch)?);
        let (left_keys, right_keys) = (key_values(&left_key), key_values(&right_key));
        let left_first = self.left.keep(&batch, left_key)?;
        let right_first = self.right.keep(&batch, right_key)?;
        // Rows in arrival order: each pair is made when its later row comes.
        let (mut next_left, mut next_right) = (left_first, right_first);
        let (mut left_at, mut right_at) = (Vec::new(), Vec::new());
        for (left_key, right_key) in left_keys.into_iter().zip(right_keys) {
            if let Some(key) = left_key {
                for r in self.right.index.get(&key).into_iter().flatten() {
                    left_at.push(next_left);
                    right_at.push(*r);
                }
                self.left.index.entry(key).or_default().push(next_left);
                next_left += 1;
            }
            if let Some(key) = right_key {
                for l in self.left.index.get(&key).into_iter().flatten() {
                    left_at.push(*l);
                    right_at.push(next_right);
                }
                self.right.index.entry(key).or_default().push(next_right);
                next_right += 1;
            }
        }
        if left_at.is_empty() {
            return Ok(Output::nothing());
        }
        let mut columns = Vec::with_capacity(self.output.fields().len());
        for n in 0..self.left.reads.len() - 1 {
            columns.push(self.left.gather(n, &left_at)?);
        }
        for n in 0..self.right.reads.len() - 1 {
            columns.push(self.right.gather(n, &right_at)?);
        }
        Ok(Output::batch(RecordBatch::try_new(
            self.output.clone(),
            columns,
        )?))
    }

    fn snapshot(&self) -> Result<Option<Vec<u8>>> {
        let mut bytes = Vec::new();
        for side in [&self.left, &self.right] {
            let mut stream = weir_ipc::schema_to_bytes(&side.schema)?;
            let rows = side.all()?;
            stream.extend(weir_ipc::BatchEncoder::new(&side.schema)?.encode(&rows)?);
            bytes.extend((stream.len() as u64).to_le_bytes());
            bytes.extend(stream);
        }
        Ok(Some(bytes))
    }

    fn restore(&mut self, mut bytes: &[u8]) -> Result<()> {
        for side in [&mut self.left, &mut self.right] {
            let invalid = |what: String| Error::invalid_state(format!("join state: {what}"));
            let (length, rest) = bytes
                .split_first_chunk::<8>()
                .ok_or_else(|| invalid("cut short".into()))?;
            let length = usize::try_from(u64::from_le_bytes(*length))
                .ok()
                .filter(|l| *l <= rest.len())
                .ok_or_else(|| invalid("cut short".into()))?;
            let (schema, batches) =
                weir_ipc::read_stream(&rest[..length]).map_err(|e| invalid(e.to_string()))?;
            if schema.fields() != side.schema.fields() {
                return Err(invalid(format!(
                    "taken with other columns ({schema:?}); the configuration asks for {:?}",
                    side.schema
                )));
            }
            side.reset(concat_batches(&side.schema, &batches)?)?;
            bytes = &rest[length..];
        }
        Ok(())
    }
}

weir_sdk::export_transform!(Join);
