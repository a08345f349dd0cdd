//! The Arrow IPC framing of the Weir plugin contract, shared by the host and
//! the Rust SDK so both sides frame bytes the same way.
//!
//! A schema crosses once, at open, as one IPC schema message; each batch then
//! crosses as the IPC messages of one record batch without the schema (see
//! `wit/types.wit`). Both sides therefore keep one encoder and one decoder per
//! instance and per direction.

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{ArrowError, Schema, SchemaRef};

/// Encodes a schema as one IPC schema message.
pub fn schema_to_bytes(schema: &Schema) -> Result<Vec<u8>, ArrowError> {
    // Not `into_inner`: that finishes the stream with an end-of-stream marker.
    Ok(StreamWriter::try_new(Vec::new(), schema)?.get_ref().clone())
}

/// The IPC end-of-stream marker. arrow's `StreamDecoder` handles a message
/// whose body ends its input only when more bytes follow, so after each unit
/// we feed this marker to complete it.
const END_OF_STREAM: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

/// Decodes one IPC schema message.
pub fn schema_from_bytes(bytes: &[u8]) -> Result<SchemaRef, ArrowError> {
    let mut decoder = StreamDecoder::new();
    let mut buffer = Buffer::from(bytes);
    let batch = decoder.decode(&mut buffer)?;
    if batch.is_some() || !buffer.is_empty() {
        return Err(ArrowError::IpcError(
            "expected exactly one IPC schema message".into(),
        ));
    }
    decoder.decode(&mut Buffer::from(END_OF_STREAM.as_slice()))?;
    decoder
        .schema()
        .ok_or_else(|| ArrowError::IpcError("incomplete IPC schema message".into()))
}

/// Encodes the batches of one stream, schema excluded, reusing its buffer.
pub struct BatchEncoder {
    writer: StreamWriter<Vec<u8>>,
}

impl BatchEncoder {
    /// An encoder for batches of `schema`.
    pub fn new(schema: &Schema) -> Result<Self, ArrowError> {
        let mut writer = StreamWriter::try_new(Vec::new(), schema)?;
        writer.get_mut().clear();
        Ok(Self { writer })
    }

    /// Encodes `batch` (its dictionaries, then the record batch message) and
    /// returns the bytes, valid until the next call. A `Vec` so it can be
    /// passed without a copy where generated bindings take `&Vec<u8>`.
    pub fn encode(&mut self, batch: &RecordBatch) -> Result<&Vec<u8>, ArrowError> {
        self.writer.get_mut().clear();
        self.writer.write(batch)?;
        Ok(self.writer.get_ref())
    }
}

/// Decodes the batches of one stream whose schema was agreed beforehand.
pub struct BatchDecoder {
    decoder: StreamDecoder,
    schema: SchemaRef,
    schema_bytes: Vec<u8>,
}

impl BatchDecoder {
    /// A decoder for batches of the schema encoded in `schema_bytes`.
    pub fn new(schema_bytes: &[u8]) -> Result<Self, ArrowError> {
        let schema = schema_from_bytes(schema_bytes)?;
        let mut decoder = Self {
            decoder: StreamDecoder::new(),
            schema,
            schema_bytes: schema_bytes.to_vec(),
        };
        decoder.reset()?;
        Ok(decoder)
    }

    /// Starts a fresh stream after an error left the decoder mid-message.
    fn reset(&mut self) -> Result<(), ArrowError> {
        self.decoder = StreamDecoder::new();
        self.decoder
            .decode(&mut Buffer::from(self.schema_bytes.as_slice()))?;
        Ok(())
    }

    /// The schema every decoded batch has.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Decodes the messages of exactly one record batch. Takes ownership of
    /// the bytes so the arrays can point into them without a copy.
    pub fn decode(&mut self, bytes: Vec<u8>) -> Result<RecordBatch, ArrowError> {
        let result = self.decode_one(bytes);
        if result.is_err() {
            self.reset()?;
        }
        result
    }

    fn decode_one(&mut self, bytes: Vec<u8>) -> Result<RecordBatch, ArrowError> {
        let mut buffer = Buffer::from_vec(bytes);
        let batch = match self.decoder.decode(&mut buffer)? {
            Some(batch) => batch,
            // A message without body (a batch with no columns) is still pending.
            None => self
                .decoder
                .decode(&mut Buffer::from(END_OF_STREAM.as_slice()))?
                .ok_or_else(|| {
                    ArrowError::IpcError("no complete record batch message in the bytes".into())
                })?,
        };
        if !buffer.is_empty() {
            return Err(ArrowError::IpcError(format!(
                "{} unexpected bytes after the record batch",
                buffer.len()
            )));
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Int32Type;
    use arrow_array::{ArrayRef, DictionaryArray, Int64Array, StringArray};
    use arrow_schema::{DataType, Field};
    use std::sync::Arc;

    fn sample() -> RecordBatch {
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(3)]));
        let names: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), Some("b"), None]));
        let dict: ArrayRef = Arc::new(
            vec![Some("x"), None, Some("x")]
                .into_iter()
                .collect::<DictionaryArray<Int32Type>>(),
        );
        RecordBatch::try_from_iter([("id", ids), ("name", names), ("tag", dict)]).unwrap()
    }

    #[test]
    fn batches_round_trip_without_resending_the_schema() {
        let batch = sample();
        let schema_bytes = schema_to_bytes(&batch.schema()).unwrap();
        let mut encoder = BatchEncoder::new(&batch.schema()).unwrap();
        let mut decoder = BatchDecoder::new(&schema_bytes).unwrap();
        for _ in 0..3 {
            let bytes = encoder.encode(&batch).unwrap().to_vec();
            assert_eq!(decoder.decode(bytes).unwrap(), batch);
        }
        assert_eq!(schema_from_bytes(&schema_bytes).unwrap(), batch.schema());
    }

    #[test]
    fn batches_without_columns_keep_their_row_count() {
        let batch = sample().project(&[]).unwrap();
        let mut encoder = BatchEncoder::new(&batch.schema()).unwrap();
        let mut decoder = BatchDecoder::new(&schema_to_bytes(&batch.schema()).unwrap()).unwrap();
        for _ in 0..2 {
            let decoded = decoder
                .decode(encoder.encode(&batch).unwrap().to_vec())
                .unwrap();
            assert_eq!(decoded.num_rows(), 3);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let schema = Schema::new(vec![Field::new("id", DataType::Int64, true)]);
        let mut decoder = BatchDecoder::new(&schema_to_bytes(&schema).unwrap()).unwrap();
        for bytes in [
            vec![],
            vec![0xff; 3],
            vec![0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0, 1, 2],
        ] {
            assert!(decoder.decode(bytes).is_err());
        }
        // The decoder recovers: a valid batch after garbage still decodes.
        let batch = RecordBatch::try_new(
            Arc::new(schema.clone()),
            vec![Arc::new(Int64Array::from(vec![7]))],
        )
        .unwrap();
        let bytes = BatchEncoder::new(&schema)
            .unwrap()
            .encode(&batch)
            .unwrap()
            .to_vec();
        assert_eq!(decoder.decode(bytes).unwrap(), batch);
        assert!(schema_from_bytes(b"not a schema").is_err());
    }
}
