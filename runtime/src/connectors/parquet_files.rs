//! Parquet files for the `file` source and sink, behind the `parquet`
//! cargo feature (default on). Built without it, `format: parquet` is a
//! config error that says so, and the reader and writer types are empty.

use std::fs::File;
use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use serde::{Deserialize, Deserializer};

use super::ConnectorError;

/// How the `file` sink encodes Parquet (its `compression`,
/// `row_group_rows`, `dictionary` and `encoding` options).
#[derive(Debug, Clone, PartialEq)]
pub struct ParquetOptions {
    /// The codec of every column's pages.
    pub compression: Compression,
    /// Rows per row group (the unit readers skip by their statistics).
    pub row_group_rows: usize,
    /// Which columns are dictionary-encoded.
    pub dictionary: Dictionary,
    /// How the integer columns without a dictionary are encoded.
    pub encoding: Encoding,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        Self {
            compression: Compression::default(),
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            dictionary: Dictionary::Auto,
            encoding: Encoding::Auto,
        }
    }
}

/// Rows per row group unless the sink says otherwise: 16 batches of 8,192;
/// small enough that readers skip by statistics at a useful grain (and
/// those that do, DuckDB and Polars, decode row groups in parallel), large
/// enough to compress well.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 131_072;

/// A Parquet page codec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Zstandard at level 1 (the best ratio of the four).
    Zstd,
    /// LZ4 (raw): the fastest to write and read.
    Lz4,
    /// Snappy: what most Parquet writers use by default.
    #[default]
    Snappy,
    /// Uncompressed.
    None,
}

/// Which columns a Parquet file dictionary-encodes.
#[derive(Debug, Clone, PartialEq)]
pub enum Dictionary {
    /// Those whose values repeat in the rows a file starts with, unless
    /// `encoding: auto` packs an integer column smaller; a column of mostly
    /// distinct values (ids, timestamps, prices) is written plain instead of
    /// filling a dictionary that would be given up.
    Auto,
    /// Every column (`true`) or none (`false`).
    All(bool),
    /// The named columns only.
    Columns(Vec<String>),
}

/// How a Parquet file encodes the integer columns (timestamps, dates,
/// ids) it writes without a dictionary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Delta-encoded (`DELTA_BINARY_PACKED`) where, in the first rows of a
    /// file, the differences between neighbouring values bit-packed take at
    /// most half the bits of the values: timestamps, sequence numbers,
    /// small ids. Plain otherwise.
    #[default]
    Auto,
    /// Plain: every value at its full width.
    Plain,
}

impl<'de> Deserialize<'de> for Dictionary {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let invalid =
            || serde::de::Error::custom("expected auto, true, false or a list of column names");
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) if s == "auto" => Ok(Self::Auto),
            serde_json::Value::Bool(enabled) => Ok(Self::All(enabled)),
            serde_json::Value::Array(columns) => columns
                .into_iter()
                .map(|c| c.as_str().map(str::to_string).ok_or_else(invalid))
                .collect::<Result<_, _>>()
                .map(Self::Columns),
            _ => Err(invalid()),
        }
    }
}

#[cfg(feature = "parquet")]
mod enabled {
    use super::*;
    use std::collections::HashSet;

    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Field};
    use parquet::arrow::arrow_reader::{
        ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
        RowSelection, RowSelector,
    };
    use parquet::arrow::arrow_writer::{
        ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves,
    };
    use parquet::arrow::{ArrowWriter, ProjectionMask};
    use parquet::basic::{Compression, Encoding, ZstdLevel};
    use parquet::file::metadata::{ParquetMetaData, RowGroupMetaData};
    use parquet::file::page_index::column_index::ColumnIndexMetaData;
    use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
    use parquet::file::statistics::Statistics;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::types::ColumnPath;

    use crate::connectors::skip::{Range, RowFilter, Value};
    use rayon::prelude::*;

    /// Rows of a sample below which `auto` cannot tell: `dictionary: auto`
    /// leaves every column dictionary-encoded (the writer still gives a
    /// dictionary up when it outgrows its page), `encoding: auto` plain.
    const MIN_SAMPLE_ROWS: usize = 1024;

    /// Rows at the start of a file whose values choose its columns'
    /// encodings.
    const SAMPLE_ROWS: usize = 8192;

    /// What the first [`SAMPLE_ROWS`] rows of a file tell of each of its
    /// columns: the facts `auto` chooses their encodings by, each measured
    /// once and only when an `auto` option asks for it.
    pub(super) struct Sample(Vec<Sampled>);

    /// The facts of one column of a [`Sample`].
    struct Sampled {
        name: String,
        rows: usize,
        /// Distinct values (under `dictionary: auto`; `None` for a type not
        /// looked at).
        distinct: Option<usize>,
        /// Bits delta-encoded, if an integer column worth it (under
        /// `encoding: auto`).
        delta: Option<u64>,
        /// Bits of one plain value.
        width: u64,
    }

    impl Sample {
        /// Measures the first [`SAMPLE_ROWS`] rows of `batch` as `options` need.
        pub(super) fn of(batch: &RecordBatch, options: &ParquetOptions) -> Self {
            let rows = batch.num_rows().min(SAMPLE_ROWS);
            let dictionary = options.dictionary == super::Dictionary::Auto;
            let delta = options.encoding == super::Encoding::Auto;
            let schema = batch.schema();
            Self(
                (schema.fields().iter().zip(batch.columns()))
                    .map(|(field, column)| {
                        let column = column.slice(0, rows);
                        Sampled {
                            name: field.name().clone(),
                            rows,
                            distinct: dictionary.then(|| distinct(&column)).flatten(),
                            delta: delta.then(|| delta_size(&column)).flatten(),
                            width: plain_width(&column),
                        }
                    })
                    .collect(),
            )
        }

        fn names_where(&self, wanted: impl Fn(&Sampled) -> bool) -> HashSet<String> {
            self.0
                .iter()
                .filter(|c| wanted(c))
                .map(|c| c.name.clone())
                .collect()
        }

        /// The columns worth a dictionary: at most half of their values
        /// distinct. Columns of other types than numbers, strings and binary
        /// keep the writer's default.
        pub(super) fn repetitive(&self) -> HashSet<String> {
            self.names_where(|c| {
                c.rows < MIN_SAMPLE_ROWS || c.distinct.is_none_or(|n| n * 2 <= c.rows)
            })
        }

        /// The integer columns worth delta encoding: 32- and 64-bit
        /// integers, timestamps, dates, times and durations whose non-null
        /// values take at most half their plain size delta-encoded.
        pub(super) fn stepping(&self) -> HashSet<String> {
            self.names_where(|c| c.delta.is_some())
        }

        /// The stepping columns that take fewer bits delta-encoded than with
        /// a dictionary (its values once, then each row's index at the width
        /// the number of distinct values needs): small ids, which also repeat.
        pub(super) fn packed_smaller(&self) -> HashSet<String> {
            self.names_where(|c| {
                let (Some(delta), Some(distinct)) = (c.delta, c.distinct) else {
                    return false;
                };
                let indices = u64::from(usize::BITS - distinct.saturating_sub(1).leading_zeros());
                delta < distinct as u64 * c.width + c.rows as u64 * indices
            })
        }
    }

    /// The number of distinct values of `column`, `None` for a type not looked at.
    fn distinct(column: &dyn Array) -> Option<usize> {
        fn count<T: std::hash::Hash + Eq>(values: impl Iterator<Item = T>) -> usize {
            values.collect::<HashSet<T>>().len()
        }
        let n = match column.data_type() {
            DataType::Utf8 => count(column.as_string::<i32>().iter()),
            DataType::LargeUtf8 => count(column.as_string::<i64>().iter()),
            DataType::Utf8View => count(column.as_string_view().iter()),
            DataType::Binary => count(column.as_binary::<i32>().iter()),
            DataType::LargeBinary => count(column.as_binary::<i64>().iter()),
            t if t.is_primitive() => {
                let data = column.to_data();
                let width = t.primitive_width()?;
                let bytes = &data.buffers()[0].as_slice()[data.offset() * width..];
                count(bytes.chunks_exact(width).take(column.len()))
            }
            _ => return None,
        };
        Some(n)
    }

    /// Bits of one plain value of `column`.
    fn plain_width(column: &dyn Array) -> u64 {
        column.data_type().primitive_width().unwrap_or(8) as u64 * 8
    }

    /// The bits the values of `column` take delta-encoded, if it is an
    /// integer column worth it: at most half its plain size.
    fn delta_size(column: &dyn Array) -> Option<u64> {
        let values = integers(column)?;
        let bits = delta_bits(&values);
        (values.len() >= MIN_SAMPLE_ROWS && 2 * bits <= plain_width(column) * values.len() as u64)
            .then_some(bits)
    }

    /// The non-null values of an integer-like column of 32 or 64 bits (the
    /// Parquet INT32 and INT64 columns), widened; `None` for other types.
    fn integers(column: &dyn Array) -> Option<Vec<i64>> {
        use arrow::datatypes::DataType as T;
        let data = column.to_data();
        let valid = (0..column.len()).filter(|&i| column.is_valid(i));
        // The column's own values only: its buffer may run on far past them.
        Some(match column.data_type() {
            T::Int32 | T::UInt32 | T::Date32 | T::Time32(_) => {
                let values = data.buffer::<i32>(0);
                valid.map(|i| i64::from(values[i])).collect()
            }
            T::Int64 | T::UInt64 | T::Timestamp(..) | T::Time64(_) | T::Duration(_) => {
                let values = data.buffer::<i64>(0);
                valid.map(|i| values[i]).collect()
            }
            _ => return None,
        })
    }

    /// The bits `values` take as Parquet's `DELTA_BINARY_PACKED` lays
    /// them out: blocks of 128 differences, each less the block's least,
    /// bit-packed in runs of 32 at the width the run's largest needs.
    fn delta_bits(values: &[i64]) -> u64 {
        let deltas: Vec<i64> = values.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
        deltas
            .chunks(128)
            .map(|block| {
                let least = block.iter().copied().min().unwrap_or(0);
                let packed: u64 = block
                    .chunks(32)
                    .map(|run| {
                        let largest = run.iter().map(|d| d.wrapping_sub(least) as u64).max();
                        32 * u64::from(64 - largest.unwrap_or(0).leading_zeros())
                    })
                    .sum();
                // The block's least difference and its runs' widths.
                packed + 64
            })
            .sum()
    }

    fn failed(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> ConnectorError + '_ {
        move |source| ConnectorError::Parquet {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether this build reads and writes Parquet.
    pub fn available() -> Result<(), ConnectorError> {
        Ok(())
    }

    /// The schema of the Parquet file `file` at `path`.
    pub fn schema(file: File, path: &Path) -> Result<SchemaRef, ConnectorError> {
        ParquetRecordBatchReaderBuilder::try_new(file)
            .map(|b| b.schema().clone())
            .map_err(failed(path))
    }

    /// Reads a Parquet file in batches.
    pub struct Reader(ParquetRecordBatchReader);

    impl Reader {
        /// Reads the columns of `schema` (all of the file's or some, in the
        /// file's order) from `file` at `path`, from row `offset`,
        /// `batch_rows` a batch. Only those columns are decoded.
        /// With `skip`, the row groups whose statistics show no row any
        /// consumer passes on are not read.
        pub fn open(
            file: File,
            path: &Path,
            schema: &SchemaRef,
            skip: Option<&RowFilter>,
            batch_rows: usize,
            offset: usize,
        ) -> Result<Self, ConnectorError> {
            // The page index (each page's statistics and first row) is only
            // worth loading when it may leave pages unread; a file whose
            // page index does not decode is read without it.
            let indexed = match skip {
                Some(_) => file.try_clone().ok().and_then(|file| {
                    let options = ArrowReaderOptions::new().with_page_index(true);
                    ParquetRecordBatchReaderBuilder::try_new_with_options(file, options)
                        .inspect_err(|error| tracing::warn!(file = %path.display(), %error, "page index unreadable; reading without it"))
                        .ok()
                }),
                None => None,
            };
            let builder = match indexed {
                Some(builder) => builder,
                None => ParquetRecordBatchReaderBuilder::try_new(file).map_err(failed(path))?,
            };
            let indices = columns_of(builder.schema(), schema).ok_or_else(|| {
                ConnectorError::Config {
                    field: "path".into(),
                    message: format!(
                        "{} has a different schema from the first file (or changed since the pipeline was checked)",
                        path.display()
                    ),
                }
            })?;
            let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
            let mut builder = builder;
            if let Some(skip) = skip {
                let metadata = builder.metadata().clone();
                let groups = metadata.row_groups();
                let read: Vec<usize> = (0..groups.len())
                    .filter(|&g| !skip.excludes(|column| range(&groups[g], schema, column)))
                    .collect();
                let pages = page_selection(&metadata, &read, schema, skip);
                if read.len() < groups.len() {
                    tracing::info!(file = %path.display(), read = read.len(), of = groups.len(), "row groups read (the others hold no row any consumer passes on)");
                    builder = builder.with_row_groups(read);
                }
                if let Some((selection, skipped)) = pages {
                    tracing::info!(file = %path.display(), rows = skipped, "rows left unread by the page index (pages that hold no row any consumer passes on)");
                    builder = builder.with_row_selection(selection);
                }
            }
            builder
                .with_projection(mask)
                .with_batch_size(batch_rows)
                .with_offset(offset)
                .build()
                .map(Self)
                .map_err(failed(path))
        }

        /// The next batch, `None` at the end.
        pub fn next_batch(&mut self) -> Option<Result<RecordBatch, arrow::error::ArrowError>> {
            self.0.next()
        }
    }

    /// Writes a Parquet file, encoding the columns of each batch in
    /// parallel on the cores that are idle (rayon's pool) and closing a row
    /// group every `row_group_rows` rows.
    pub struct Writer {
        file: SerializedFileWriter<File>,
        factory: ArrowRowGroupWriterFactory,
        schema: SchemaRef,
        /// The open row group's column writers, one per leaf column.
        columns: Vec<ArrowColumnWriter>,
        /// Rows in the open row group.
        rows: usize,
        row_groups: usize,
        row_group_rows: usize,
    }

    /// Batches smaller than this are encoded on the calling thread: handing
    /// them to the pool costs more than it saves.
    const PARALLEL_ROWS: usize = 1024;

    impl Writer {
        /// Starts a file of `schema` in `file` at `path`; `first`, the rows
        /// it will start with, is the sample `dictionary: auto` decides by.
        pub fn create(
            file: File,
            path: &Path,
            schema: SchemaRef,
            options: &ParquetOptions,
            first: &RecordBatch,
        ) -> Result<Self, ConnectorError> {
            let properties = properties(options, first);
            let (file, factory) = ArrowWriter::try_new(file, schema.clone(), Some(properties))
                .and_then(ArrowWriter::into_serialized_writer)
                .map_err(failed(path))?;
            let columns = factory.create_column_writers(0).map_err(failed(path))?;
            Ok(Self {
                file,
                factory,
                schema,
                columns,
                rows: 0,
                row_groups: 0,
                row_group_rows: options.row_group_rows,
            })
        }

        /// Bytes written and buffered (an estimate until the file is closed).
        pub fn bytes(&self) -> u64 {
            let buffered: usize = self
                .columns
                .iter()
                .map(ArrowColumnWriter::get_estimated_total_bytes)
                .sum();
            (self.file.bytes_written() + buffered) as u64
        }

        /// Adds `batch`.
        pub fn write(&mut self, batch: &RecordBatch) -> Result<(), arrow::error::ArrowError> {
            let mut offset = 0;
            while offset < batch.num_rows() {
                let take = (self.row_group_rows - self.rows).min(batch.num_rows() - offset);
                self.encode(&batch.slice(offset, take)).map_err(external)?;
                self.rows += take;
                offset += take;
                if self.rows == self.row_group_rows {
                    self.close_row_group().map_err(external)?;
                }
            }
            Ok(())
        }

        fn encode(&mut self, batch: &RecordBatch) -> parquet::errors::Result<()> {
            let mut leaves = Vec::with_capacity(self.columns.len());
            for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
                leaves.extend(compute_leaves(field, column)?);
            }
            let pairs = self.columns.iter_mut().zip(&leaves);
            if batch.num_rows() < PARALLEL_ROWS || leaves.len() == 1 {
                return pairs
                    .into_iter()
                    .try_for_each(|(writer, leaf)| writer.write(leaf));
            }
            pairs
                .collect::<Vec<_>>()
                .into_par_iter()
                .try_for_each(|(writer, leaf)| writer.write(leaf))
        }

        /// Finishes the open row group's column chunks (in parallel) and
        /// appends them to the file; starts the next row group.
        fn close_row_group(&mut self) -> parquet::errors::Result<()> {
            self.row_groups += 1;
            let next = self.factory.create_column_writers(self.row_groups)?;
            let chunks: Vec<ArrowColumnChunk> = std::mem::replace(&mut self.columns, next)
                .into_par_iter()
                .map(ArrowColumnWriter::close)
                .collect::<parquet::errors::Result<_>>()?;
            let mut row_group = self.file.next_row_group()?;
            for chunk in chunks {
                chunk.append_to_row_group(&mut row_group)?;
            }
            row_group.close()?;
            self.rows = 0;
            Ok(())
        }

        /// Writes the last row group and the footer; answers the file.
        pub fn finish(mut self, path: &Path) -> Result<File, ConnectorError> {
            if self.rows > 0 {
                self.close_row_group().map_err(failed(path))?;
            }
            self.file.into_inner().map_err(failed(path))
        }
    }

    /// The rows of row groups `read` worth reading by the page index of
    /// `metadata`: the pages of the bounded columns cut each row group into
    /// runs of rows, and a run is skipped when every consumer has a bound
    /// that no value of its pages can meet. `None` when nothing is skipped
    /// (or the file has no page index); otherwise the selection and the
    /// number of rows skipped.
    fn page_selection(
        metadata: &ParquetMetaData,
        read: &[usize],
        schema: &SchemaRef,
        skip: &RowFilter,
    ) -> Option<(RowSelection, usize)> {
        let (column_index, offset_index) = (metadata.column_index()?, metadata.offset_index()?);
        let mut columns: Vec<&str> = skip
            .consumers
            .iter()
            .flatten()
            .map(|b| b.column.as_str())
            .collect();
        columns.sort_unstable();
        columns.dedup();
        let mut selectors: Vec<RowSelector> = Vec::new();
        let mut skipped = 0;
        for &g in read {
            let group = metadata.row_group(g);
            let rows = group.num_rows() as usize;
            // Per bounded column with a page index: its index and the first
            // row of each of its pages.
            let paged: Vec<(&str, &ColumnIndexMetaData, Vec<usize>)> = columns
                .iter()
                .filter_map(|&name| {
                    let leaf = group
                        .columns()
                        .iter()
                        .position(|c| matches!(c.column_path().parts(), [only] if only == name))?;
                    let index = column_index.get(g)?.get(leaf)?;
                    let pages = offset_index.get(g)?.get(leaf)?.page_locations();
                    let firsts: Vec<usize> = pages
                        .iter()
                        .map(|p| usize::try_from(p.first_row_index).ok())
                        .collect::<Option<_>>()?;
                    // A malformed index (pages out of order, statistics for
                    // other pages) says nothing.
                    let consistent = firsts.first() == Some(&0)
                        && firsts.windows(2).all(|w| w[0] < w[1])
                        && !matches!(index, ColumnIndexMetaData::NONE)
                        && index.num_pages() == firsts.len() as u64;
                    consistent.then_some((name, index, firsts))
                })
                .collect();
            // Where a page of some bounded column starts (a malformed index
            // cannot cut outside the row group).
            let mut cuts: Vec<usize> = paged
                .iter()
                .flat_map(|(_, _, firsts)| firsts.iter().copied())
                .filter(|&first| first > 0 && first < rows)
                .collect();
            cuts.push(rows);
            cuts.sort_unstable();
            cuts.dedup();
            let mut start = 0;
            for end in cuts {
                let excluded = skip.excludes(|column| {
                    let (_, index, firsts) = paged.iter().find(|(name, _, _)| *name == column)?;
                    let page = firsts
                        .partition_point(|&first| first <= start)
                        .checked_sub(1)?;
                    Some(page_range(
                        index,
                        page,
                        schema.field_with_name(column).ok()?,
                    ))
                });
                if excluded {
                    skipped += end - start;
                }
                let selector = match excluded {
                    true => RowSelector::skip(end - start),
                    false => RowSelector::select(end - start),
                };
                match selectors.last_mut() {
                    Some(last) if last.skip == selector.skip => {
                        last.row_count += selector.row_count
                    }
                    _ => selectors.push(selector),
                }
                start = end;
            }
        }
        (skipped > 0).then(|| (RowSelection::from(selectors), skipped))
    }

    /// What page `page` of a column chunk's page index says of its values,
    /// as [`range`] does of a row group's statistics. `index` is not `NONE`
    /// and has that page ([`page_selection`] checks both).
    fn page_range(index: &ColumnIndexMetaData, page: usize, field: &Field) -> Range {
        let min_max = match index {
            ColumnIndexMetaData::INT32(i) => MinMax::Int32(i.min_value(page), i.max_value(page)),
            ColumnIndexMetaData::INT64(i) => MinMax::Int64(i.min_value(page), i.max_value(page)),
            ColumnIndexMetaData::FLOAT(i) => MinMax::Float(i.min_value(page)),
            ColumnIndexMetaData::DOUBLE(i) => MinMax::Double(i.min_value(page)),
            ColumnIndexMetaData::BYTE_ARRAY(i) => {
                MinMax::Bytes(i.min_value(page), i.max_value(page))
            }
            ColumnIndexMetaData::BOOLEAN(i) => {
                MinMax::Boolean(i.min_value(page), i.max_value(page))
            }
            _ => MinMax::Unknown,
        };
        min_max.range(field, index.is_null_page(page))
    }

    /// What row group `group`'s statistics say of top-level column `name`
    /// of `schema`.
    fn range(group: &RowGroupMetaData, schema: &SchemaRef, name: &str) -> Option<Range> {
        let field = schema.field_with_name(name).ok()?;
        let chunk = group
            .columns()
            .iter()
            .find(|c| matches!(c.column_path().parts(), [only] if only == name))?;
        let statistics = chunk.statistics()?;
        let all_null = statistics
            .null_count_opt()
            .is_some_and(|nulls| nulls as i64 == group.num_rows());
        let min_max = match statistics {
            Statistics::Int32(st) => MinMax::Int32(st.min_opt(), st.max_opt()),
            Statistics::Int64(st) => MinMax::Int64(st.min_opt(), st.max_opt()),
            Statistics::Float(st) => MinMax::Float(st.min_opt()),
            Statistics::Double(st) => MinMax::Double(st.min_opt()),
            Statistics::ByteArray(st) => MinMax::Bytes(
                st.min_opt().map(|v| v.data()),
                st.max_opt().map(|v| v.data()),
            ),
            Statistics::Boolean(st) => MinMax::Boolean(st.min_opt(), st.max_opt()),
            _ => MinMax::Unknown,
        };
        Some(min_max.range(field, all_null))
    }

    /// A column's smallest and largest value as a row group's statistics
    /// or a page's index give them, by physical type. Only the minimum of
    /// a float column: writers leave NaN out of the statistics, and arrow's
    /// comparisons take NaN as the largest value, so the maximum is not
    /// known.
    enum MinMax<'a> {
        Int32(Option<&'a i32>, Option<&'a i32>),
        Int64(Option<&'a i64>, Option<&'a i64>),
        Float(Option<&'a f32>),
        Double(Option<&'a f64>),
        Bytes(Option<&'a [u8]>, Option<&'a [u8]>),
        Boolean(Option<&'a bool>, Option<&'a bool>),
        Unknown,
    }

    impl MinMax<'_> {
        /// The range these say of the values of `field`: for signed
        /// integers, dates, timestamps, floats, strings and booleans;
        /// unknown ends for other types (unsigned and decimal columns,
        /// binary).
        fn range(self, field: &Field, all_null: bool) -> Range {
            let signed = matches!(
                field.data_type(),
                DataType::Int8
                    | DataType::Int16
                    | DataType::Int32
                    | DataType::Int64
                    | DataType::Date32
                    | DataType::Timestamp(..)
            );
            let text = matches!(field.data_type(), DataType::Utf8 | DataType::LargeUtf8);
            let utf8 = |v: &[u8]| {
                std::str::from_utf8(v)
                    .ok()
                    .map(|s| Value::Text(s.to_string()))
            };
            let (min, max) = match self {
                MinMax::Int32(min, max) if signed => (
                    min.map(|v| Value::Int(*v as i64)),
                    max.map(|v| Value::Int(*v as i64)),
                ),
                MinMax::Int64(min, max) if signed => {
                    (min.map(|v| Value::Int(*v)), max.map(|v| Value::Int(*v)))
                }
                MinMax::Float(min) => (min.map(|v| Value::Float(*v as f64)), None),
                MinMax::Double(min) => (min.map(|v| Value::Float(*v)), None),
                MinMax::Bytes(min, max) if text => (min.and_then(utf8), max.and_then(utf8)),
                MinMax::Boolean(min, max) => (
                    min.map(|v| Value::Boolean(*v)),
                    max.map(|v| Value::Boolean(*v)),
                ),
                _ => (None, None),
            };
            Range { min, max, all_null }
        }
    }

    /// The positions in `file` of the columns of `wanted`, if `file` has
    /// them all, of the same types, in the same order.
    fn columns_of(file: &SchemaRef, wanted: &SchemaRef) -> Option<Vec<usize>> {
        let mut at = 0;
        wanted
            .fields()
            .iter()
            .map(|field| {
                let found = at + file.fields()[at..].iter().position(|f| f == field)?;
                at = found + 1;
                Some(found)
            })
            .collect()
    }

    fn external(error: parquet::errors::ParquetError) -> arrow::error::ArrowError {
        arrow::error::ArrowError::ExternalError(Box::new(error))
    }

    /// The writer properties `options` ask for; `sample` decides which
    /// columns are dictionary-encoded under `dictionary: auto` and which
    /// delta-encoded under `encoding: auto`.
    fn properties(options: &ParquetOptions, sample: &RecordBatch) -> WriterProperties {
        let compression = match options.compression {
            super::Compression::Zstd => Compression::ZSTD(ZstdLevel::default()),
            super::Compression::Lz4 => Compression::LZ4_RAW,
            super::Compression::Snappy => Compression::SNAPPY,
            super::Compression::None => Compression::UNCOMPRESSED,
        };
        let measured = Sample::of(sample, options);
        let mut builder = WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_size(options.row_group_rows);
        let by_column = |builder: WriterPropertiesBuilder, wanted: &dyn Fn(&str) -> bool| {
            sample.schema().fields().iter().fold(builder, |b, field| {
                let path = ColumnPath::from(field.name().as_str());
                b.set_column_dictionary_enabled(path, wanted(field.name()))
            })
        };
        builder = match &options.dictionary {
            super::Dictionary::All(enabled) => builder.set_dictionary_enabled(*enabled),
            super::Dictionary::Columns(columns) => {
                by_column(builder, &|name| columns.iter().any(|c| c == name))
            }
            super::Dictionary::Auto => {
                let repetitive = measured.repetitive();
                // Given the choice (`encoding: auto`), the smaller of the two.
                let packed = measured.packed_smaller();
                by_column(builder, &|name| {
                    repetitive.contains(name) && !packed.contains(name)
                })
            }
        };
        let properties = builder.build();
        if options.encoding == super::Encoding::Plain {
            return properties;
        }
        // Delta encoding for the stepping columns that have no dictionary.
        let delta: Vec<ColumnPath> = measured
            .stepping()
            .into_iter()
            .map(ColumnPath::from)
            .filter(|path| !properties.dictionary_enabled(path))
            .collect();
        delta
            .into_iter()
            .fold(properties.into_builder(), |b, path| {
                b.set_column_encoding(path, Encoding::DELTA_BINARY_PACKED)
            })
            .build()
    }
}

#[cfg(not(feature = "parquet"))]
mod disabled {
    use super::*;

    /// Neither a reader nor a writer exists in a build without Parquet.
    pub enum Never {}

    fn not_built() -> ConnectorError {
        ConnectorError::Config {
            field: "format".into(),
            message: "this weir was built without the `parquet` feature".into(),
        }
    }

    /// Whether this build reads and writes Parquet: it does not.
    pub fn available() -> Result<(), ConnectorError> {
        Err(not_built())
    }

    /// Refused: no Parquet in this build.
    pub fn schema(_file: File, _path: &Path) -> Result<SchemaRef, ConnectorError> {
        Err(not_built())
    }

    /// No Parquet reader in this build.
    pub struct Reader(Never);

    impl Reader {
        /// Refused: no Parquet in this build.
        pub fn open(
            _: File,
            _: &Path,
            _: &SchemaRef,
            _: Option<&crate::connectors::skip::RowFilter>,
            _: usize,
            _: usize,
        ) -> Result<Self, ConnectorError> {
            Err(not_built())
        }

        /// Never called: no reader exists.
        pub fn next_batch(&mut self) -> Option<Result<RecordBatch, arrow::error::ArrowError>> {
            match self.0 {}
        }
    }

    /// No Parquet writer in this build.
    pub struct Writer(Never);

    impl Writer {
        /// Refused: no Parquet in this build.
        pub fn create(
            _: File,
            _: &Path,
            _: SchemaRef,
            _: &ParquetOptions,
            _: &RecordBatch,
        ) -> Result<Self, ConnectorError> {
            Err(not_built())
        }

        /// Never called: no writer exists.
        pub fn bytes(&self) -> u64 {
            match self.0 {}
        }

        /// Never called: no writer exists.
        pub fn write(&mut self, _: &RecordBatch) -> Result<(), arrow::error::ArrowError> {
            match self.0 {}
        }

        /// Never called: no writer exists.
        pub fn finish(self, _: &Path) -> Result<File, ConnectorError> {
            match self.0 {}
        }
    }
}

#[cfg(not(feature = "parquet"))]
pub use disabled::{Reader, Writer, available, schema};
#[cfg(feature = "parquet")]
pub use enabled::{Reader, Writer, available, schema};

#[cfg(all(test, feature = "parquet"))]
mod tests {
    use super::*;
    use arrow::array::{
        Array, ArrayRef, Float64Array, Int64Array, ListArray, StringArray, StructArray,
    };
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use std::sync::Arc;

    /// Writes `batches` to a new Parquet file at `path` with `options`; the
    /// first batch is the sample the options decide by.
    fn write_file(path: &Path, options: &ParquetOptions, batches: &[RecordBatch]) {
        let schema = batches[0].schema();
        let file = File::create(path).unwrap();
        let mut writer = Writer::create(file, path, schema, options, &batches[0]).unwrap();
        for b in batches {
            writer.write(b).unwrap();
        }
        assert!(writer.bytes() > 0);
        writer.finish(path).unwrap();
    }

    /// The rows of the Parquet file at `path`, as one batch of `schema`.
    fn read_file(path: &Path, schema: &SchemaRef) -> RecordBatch {
        let file = File::open(path).unwrap();
        let mut reader = Reader::open(file, path, schema, None, 8192, 0).unwrap();
        let mut read = Vec::new();
        while let Some(b) = reader.next_batch() {
            read.push(b.unwrap());
        }
        arrow::compute::concat_batches(schema, &read).unwrap()
    }

    /// The footer of the Parquet file at `path`.
    fn metadata(path: &Path) -> parquet::file::metadata::ParquetMetaData {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
        reader.metadata().clone()
    }

    /// `rows` rows of a flat, a list and a struct column (three leaves in
    /// one), a repeated and a distinct column.
    fn batch(first: i64, rows: i64) -> RecordBatch {
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(first..first + rows));
        let kinds: ArrayRef = Arc::new(StringArray::from_iter_values(
            (first..first + rows).map(|i| ["a", "b", "c"][(i % 3) as usize]),
        ));
        let lists: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(
            (first..first + rows).map(|i| (i % 4 != 0).then(|| vec![Some(i), None])),
        ));
        let point = StructArray::from(vec![
            (
                Arc::new(Field::new("x", DataType::Float64, true)),
                Arc::new(Float64Array::from_iter_values(
                    (first..first + rows).map(|i| i as f64),
                )) as ArrayRef,
            ),
            (
                Arc::new(Field::new("y", DataType::Int64, true)),
                Arc::new(Int64Array::from_iter(
                    (first..first + rows).map(|i| (i % 2 == 0).then_some(-i)),
                )) as ArrayRef,
            ),
        ]);
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("list", lists.data_type().clone(), true),
            Field::new("point", point.data_type().clone(), true),
        ]);
        RecordBatch::try_new(Arc::new(schema), vec![ids, kinds, lists, Arc::new(point)]).unwrap()
    }

    /// Batches encoded in parallel (nested columns with several leaves
    /// among them) and split across row groups read back as written.
    #[test]
    fn parallel_encoding_across_row_groups_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let batches = [batch(0, 3000), batch(3000, 10), batch(3010, 4000)];
        let options = ParquetOptions {
            row_group_rows: 2000,
            compression: Compression::Zstd,
            ..ParquetOptions::default()
        };
        write_file(&path, &options, &batches);
        let schema = batches[0].schema();
        let written = arrow::compute::concat_batches(&schema, &batches).unwrap();
        assert_eq!(read_file(&path, &schema), written);
        let metadata = metadata(&path);
        let groups: Vec<i64> = metadata.row_groups().iter().map(|g| g.num_rows()).collect();
        assert_eq!(groups, [2000, 2000, 2000, 1010]);
    }

    /// `dictionary: auto` keeps a dictionary for repeated values only, and
    /// cannot tell from a sample of a few rows.
    #[test]
    fn auto_dictionary_is_for_columns_whose_values_repeat() {
        let sampled = |rows| enabled::Sample::of(&batch(0, rows), &ParquetOptions::default());
        let repetitive = sampled(5000).repetitive();
        assert!(repetitive.contains("kind"), "{repetitive:?}");
        assert!(!repetitive.contains("id"), "{repetitive:?}");
        assert!(
            repetitive.contains("list"),
            "nested columns keep the default"
        );
        assert_eq!(sampled(10).repetitive().len(), 4);
    }

    /// `encoding: auto` delta-encodes the integer columns that step by
    /// little (timestamps, sequence numbers, small ids) and no others, and
    /// small ids packed so rather than with a dictionary; a file so written
    /// reads back as written, and `encoding: plain` keeps them plain (the
    /// small ids with a dictionary).
    #[test]
    fn auto_encoding_delta_encodes_stepping_integers_only() {
        use arrow::array::TimestampMillisecondArray;
        use parquet::basic::Encoding;
        let rows = 20_000i64;
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "at",
                Arc::new(
                    TimestampMillisecondArray::from_iter_values(
                        (0..rows).map(|i| 1_700_000_000_000 + i * 7 + i % 3),
                    )
                    .with_timezone("+00:00"),
                ),
            ),
            (
                "seq",
                Arc::new(Int64Array::from_iter(
                    (0..rows).map(|i| (i % 10 != 0).then_some(i)),
                )),
            ),
            (
                "random",
                Arc::new(Int64Array::from_iter_values((0..rows as u64).map(|i| {
                    let x = i.wrapping_mul(0x5851_F42D_4C95_7F2D);
                    (x ^ (x >> 29)) as i64
                }))),
            ),
            (
                "price",
                Arc::new(Float64Array::from_iter_values((0..rows).map(|i| i as f64))),
            ),
            (
                "small",
                Arc::new(Int64Array::from_iter_values(
                    (0..rows).map(|i| i * 37 % 200),
                )),
            ),
        ];
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let sample = enabled::Sample::of(&batch, &ParquetOptions::default());
        let stepping = sample.stepping();
        assert_eq!(
            stepping,
            ["at", "seq", "small"].map(String::from).into(),
            "nulls are skipped; random ids and floats stay plain"
        );
        let packed = sample.packed_smaller();
        assert!(
            packed.contains("small") && !packed.contains("random"),
            "the small ids repeat, but packed they are smaller than a dictionary: {packed:?}"
        );
        assert!(sample.repetitive().contains("small"));
        for (encoding, delta) in [
            (super::Encoding::Auto, true),
            (super::Encoding::Plain, false),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.parquet");
            let options = ParquetOptions {
                encoding,
                ..ParquetOptions::default()
            };
            write_file(&path, &options, std::slice::from_ref(&batch));
            assert_eq!(read_file(&path, &batch.schema()), batch, "{encoding:?}");
            let metadata = metadata(&path);
            let group = metadata.row_group(0);
            let encoded = |i: usize| {
                group
                    .column(i)
                    .encodings()
                    .any(|e| e == Encoding::DELTA_BINARY_PACKED)
            };
            let dictionary = |i: usize| group.column(i).dictionary_page_offset().is_some();
            assert_eq!(
                [0, 1, 2, 3, 4].map(encoded),
                [delta, delta, false, false, delta],
                "{encoding:?}"
            );
            assert_eq!(dictionary(4), !delta, "{encoding:?}: the small ids");
        }
    }
}

#[cfg(all(test, not(feature = "parquet")))]
mod tests {
    use crate::connectors::Registry;
    use std::path::Path;

    #[test]
    fn without_the_feature_parquet_is_refused_at_config_saying_why() {
        let registry = Registry::builtin();
        let config = |path| serde_json::json!({"path": path, "format": "parquet"});
        let errors = [
            registry
                .build_sink("file", &config("out"), Path::new("."))
                .err(),
            registry
                .build_source("file", &config("in.parquet"), Path::new("."))
                .err(),
        ];
        for error in errors {
            let error = error.expect("refused").to_string();
            assert!(error.contains("without the `parquet` feature"), "{error}");
        }
    }
}
