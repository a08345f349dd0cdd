//! Parquet files for the `file` source and sink, behind the `parquet`
//! cargo feature (default on). Built without it, `format: parquet` is a
//! config error that says so, and the reader and writer types are empty.

use std::fs::File;
use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::ConnectorError;

#[cfg(feature = "parquet")]
mod enabled {
    use super::*;
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;

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
        /// Reads `file` at `path` from row `offset`, `batch_rows` a batch.
        pub fn open(
            file: File,
            path: &Path,
            batch_rows: usize,
            offset: usize,
        ) -> Result<Self, ConnectorError> {
            ParquetRecordBatchReaderBuilder::try_new(file)
                .map_err(failed(path))?
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

    /// Writes a Parquet file (Snappy-compressed).
    pub struct Writer(ArrowWriter<File>);

    impl Writer {
        /// Starts a file of `schema` in `file` at `path`.
        pub fn create(file: File, path: &Path, schema: SchemaRef) -> Result<Self, ConnectorError> {
            let properties = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .build();
            ArrowWriter::try_new(file, schema, Some(properties))
                .map(Self)
                .map_err(failed(path))
        }

        /// Bytes written and buffered.
        pub fn bytes(&self) -> u64 {
            (self.0.bytes_written() + self.0.in_progress_size()) as u64
        }

        /// Adds `batch`.
        pub fn write(&mut self, batch: &RecordBatch) -> Result<(), arrow::error::ArrowError> {
            self.0
                .write(batch)
                .map_err(|e| arrow::error::ArrowError::ExternalError(Box::new(e)))
        }

        /// Writes the footer; answers the file.
        pub fn finish(self, path: &Path) -> Result<File, ConnectorError> {
            self.0.into_inner().map_err(failed(path))
        }
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
        pub fn open(_: File, _: &Path, _: usize, _: usize) -> Result<Self, ConnectorError> {
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
        pub fn create(_: File, _: &Path, _: SchemaRef) -> Result<Self, ConnectorError> {
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
