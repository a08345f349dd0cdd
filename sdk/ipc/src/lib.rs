//! The Arrow IPC framing of the Weir plugin contract, shared by the host and
//! the Rust SDK so both sides frame bytes the same way.
//!
//! A schema crosses once, at open, as one IPC schema message; each batch then
//! crosses as the IPC messages of one record batch without the schema (see
//! `wit/types.wit`). Both sides therefore keep one encoder and one decoder per
//! instance and per direction. It also holds the type names that plugin
//! configurations and pipeline files share.

mod flat;
mod read;

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::convert::fb_to_schema;
use arrow_ipc::reader::FileDecoder;
use arrow_ipc::writer::StreamWriter;
use arrow_ipc::{
    Block, Message, MessageHeader, MetadataVersion, root_as_message, root_as_message_unchecked,
};
use arrow_schema::{ArrowError, DataType, Schema, SchemaRef, TimeUnit};

use read::Validation;

/// Parses the type names that plugin configurations and pipeline files use:
/// `bool`, `int8` .. `int64`, `uint8` .. `uint64`, `float32`, `float64`,
/// `utf8` (or `string`), `binary`, `date32`, and `timestamp[s|ms|us|ns]`
/// (UTC).
pub fn data_type(name: &str) -> Result<DataType, String> {
    let timestamp = |unit| DataType::Timestamp(unit, Some("+00:00".into()));
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "bool" | "boolean" => DataType::Boolean,
        "int8" => DataType::Int8,
        "int16" => DataType::Int16,
        "int32" => DataType::Int32,
        "int64" => DataType::Int64,
        "uint8" => DataType::UInt8,
        "uint16" => DataType::UInt16,
        "uint32" => DataType::UInt32,
        "uint64" => DataType::UInt64,
        "float32" => DataType::Float32,
        "float64" | "double" => DataType::Float64,
        "utf8" | "string" => DataType::Utf8,
        "binary" => DataType::Binary,
        "date32" | "date" => DataType::Date32,
        "timestamp[s]" => timestamp(TimeUnit::Second),
        "timestamp[ms]" | "timestamp" => timestamp(TimeUnit::Millisecond),
        "timestamp[us]" => timestamp(TimeUnit::Microsecond),
        "timestamp[ns]" => timestamp(TimeUnit::Nanosecond),
        other => {
            return Err(format!(
                "unknown type {other:?}; expected bool, int8..int64, uint8..uint64, float32, float64, utf8, binary, date32 or timestamp[s|ms|us|ns]"
            ));
        }
    })
}

/// Encodes a schema as one IPC schema message.
pub fn schema_to_bytes(schema: &Schema) -> Result<Vec<u8>, ArrowError> {
    // Not `into_inner`: that finishes the stream with an end-of-stream marker.
    Ok(StreamWriter::try_new(Vec::new(), schema)?.get_ref().clone())
}

/// Decodes one IPC schema message.
pub fn schema_from_bytes(bytes: &[u8]) -> Result<SchemaRef, ArrowError> {
    let frame = Frame::read(bytes, 0, Validation::Full)?;
    if frame.end != bytes.len() {
        return Err(ArrowError::IpcError(
            "expected exactly one IPC schema message".into(),
        ));
    }
    let schema = frame
        .message
        .header_as_schema()
        .ok_or_else(|| ArrowError::IpcError("expected an IPC schema message".into()))?;
    Ok(std::sync::Arc::new(fb_to_schema(schema)))
}

/// Encodes the batches of one stream, schema excluded, reusing its buffer.
pub struct BatchEncoder {
    writer: StreamWriter<Vec<u8>>,
    framer: flat::Framer,
}

impl BatchEncoder {
    /// An encoder for batches of `schema`.
    pub fn new(schema: &Schema) -> Result<Self, ArrowError> {
        let mut writer = StreamWriter::try_new(Vec::new(), schema)?;
        writer.get_mut().clear();
        Ok(Self {
            writer,
            framer: flat::Framer::default(),
        })
    }

    /// Encodes `batch` (its dictionaries, then the record batch message) and
    /// returns the bytes, valid until the next call. A `Vec` so it can be
    /// passed without a copy where generated bindings take `&Vec<u8>`.
    pub fn encode(&mut self, batch: &RecordBatch) -> Result<&Vec<u8>, ArrowError> {
        // The head is already in the writer's buffer; the body follows it.
        let parts = self.frame(batch, None)?.parts;
        flat::append_parts(self.writer.get_mut(), &parts);
        Ok(self.writer.get_ref())
    }

    /// Like [`BatchEncoder::encode`], but hands the bytes over instead of
    /// lending them (the next call allocates a new buffer).
    pub fn encode_owned(&mut self, batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
        self.encode(batch)?;
        Ok(std::mem::take(self.writer.get_mut()))
    }

    /// Frames `batch`, or only its `columns` (the encoder's schema must be
    /// theirs), without copying its buffers: the same bytes as
    /// [`BatchEncoder::encode`] of those columns, given as a head and the
    /// arrays' own buffers, so a caller copies each buffer once, straight to
    /// where the message goes (the host writes it into a plugin's memory this
    /// way). Batches the single-copy path does not cover are encoded whole
    /// into the head.
    pub fn frame(
        &mut self,
        batch: &RecordBatch,
        columns: Option<&[usize]>,
    ) -> Result<FramedBatch<'_>, ArrowError> {
        self.writer.get_mut().clear();
        let (rows, head) = (batch.num_rows(), self.writer.get_mut());
        let framed = match columns {
            Some(indices) => {
                self.framer
                    .frame(indices.iter().map(|&i| batch.column(i)), rows, head)
            }
            None => self.framer.frame(batch.columns().iter(), rows, head),
        };
        let parts = match framed {
            Some(parts) => parts,
            None => {
                let sent = match columns {
                    Some(indices) => batch.project(indices)?,
                    None => batch.clone(),
                };
                self.writer.write(&sent)?;
                Vec::new()
            }
        };
        let head = self.writer.get_ref();
        let len = head.len() + parts.iter().map(|p| flat::padded(p.len())).sum::<usize>();
        Ok(FramedBatch { head, parts, len })
    }
}

/// The IPC messages of one record batch, framed but not yet copied: a head
/// (the message before its body, or the whole encoded messages), then body
/// buffers each padded to 8 bytes. See [`BatchEncoder::frame`].
pub struct FramedBatch<'a> {
    head: &'a [u8],
    parts: Vec<Buffer>,
    len: usize,
}

impl FramedBatch<'_> {
    /// The length of the messages in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the messages are empty (never, for a framed batch).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes the messages into `out`, which must be exactly
    /// [`FramedBatch::len`] bytes long.
    ///
    /// # Panics
    ///
    /// If `out` has another length.
    pub fn write_to(&self, out: &mut [u8]) {
        assert_eq!(out.len(), self.len, "output must fit the framed batch");
        let (head, mut rest) = out.split_at_mut(self.head.len());
        head.copy_from_slice(self.head);
        for part in &self.parts {
            let (written, after) = rest.split_at_mut(flat::padded(part.len()));
            let (bytes, padding) = written.split_at_mut(part.len());
            bytes.copy_from_slice(part);
            padding.fill(0);
            rest = after;
        }
    }
}

/// Decodes the batches of one stream whose schema was agreed beforehand.
///
/// Each call takes the messages of exactly one record batch: its
/// dictionary batches, then the record batch. Every length and buffer range
/// in the messages is checked against the bytes before they are read, so
/// hostile bytes are an error, never a panic. Batches of flat schemas (see
/// `read.rs`) are read without arrow's reader; others with it.
pub struct BatchDecoder {
    schema: SchemaRef,
    /// Reads batches of schemas that are not flat.
    decoder: FileDecoder,
    /// Whether the schema is flat, so batches are read by [`read::read`].
    flat: bool,
    validation: Validation,
}

impl BatchDecoder {
    /// A decoder for batches of the schema encoded in `schema_bytes`, which
    /// validates every array it decodes.
    pub fn new(schema_bytes: &[u8]) -> Result<Self, ArrowError> {
        let schema = schema_from_bytes(schema_bytes)?;
        Ok(Self {
            decoder: FileDecoder::new(schema.clone(), MetadataVersion::V5),
            flat: read::is_flat(&schema),
            schema,
            validation: Validation::Full,
        })
    }

    /// A decoder that verifies neither the messages' flatbuffers nor the
    /// array contents (UTF-8, offsets, null counts, dictionary keys); lengths
    /// and buffer ranges are still checked.
    ///
    /// # Safety
    ///
    /// Only for bytes written by a trusted [`BatchEncoder`] from valid arrays,
    /// such as a plugin reading what the host sends: invalid bytes would be
    /// undefined behaviour in the reader.
    pub unsafe fn trusted(schema_bytes: &[u8]) -> Result<Self, ArrowError> {
        let mut decoder = Self::new(schema_bytes)?;
        // SAFETY: the caller guarantees the bytes come from a trusted encoder.
        decoder.decoder = unsafe {
            FileDecoder::new(decoder.schema.clone(), MetadataVersion::V5).with_skip_validation(true)
        };
        decoder.validation = Validation::Trusted;
        Ok(decoder)
    }

    /// The schema every decoded batch has.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Decodes the messages of exactly one record batch. Takes ownership of
    /// the bytes so the arrays can point into them without a copy.
    pub fn decode(&mut self, bytes: Vec<u8>) -> Result<RecordBatch, ArrowError> {
        // arrow's reader and validation assert some invariants instead of
        // returning an error (an offsets buffer whose length is not a
        // multiple of the offset width panics in `validate_full`): a batch
        // that trips one is refused like any other invalid batch.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.decode_unguarded(bytes)
        }))
        .unwrap_or_else(|panic| {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(ArrowError::IpcError(format!(
                "invalid IPC batch: arrow's reader panicked: {reason}"
            )))
        })
    }

    fn decode_unguarded(&mut self, bytes: Vec<u8>) -> Result<RecordBatch, ArrowError> {
        let bytes = Buffer::from_vec(bytes);
        if self.flat {
            return self.read_flat(&bytes);
        }
        let mut start = 0;
        loop {
            let frame = Frame::read(&bytes, start, self.validation)?;
            let message = frame.message;
            let unit = bytes.slice_with_length(start, frame.end - start);
            let block = Block::new(0, frame.metadata_len, frame.body_len as i64);
            match message.header_type() {
                MessageHeader::DictionaryBatch => {
                    let data = message.header_as_dictionary_batch().and_then(|d| d.data());
                    frame.check_buffers(data)?;
                    self.decoder.read_dictionary(&block, &unit)?;
                }
                MessageHeader::RecordBatch => {
                    frame.check_buffers(message.header_as_record_batch())?;
                    let batch = self.decoder.read_record_batch(&block, &unit)?;
                    frame.check_end(&bytes)?;
                    return batch
                        .ok_or_else(|| ArrowError::IpcError("empty record batch message".into()));
                }
                other => {
                    return Err(ArrowError::IpcError(format!(
                        "expected a record batch or dictionary message, found {other:?}"
                    )));
                }
            }
            start = frame.end;
        }
    }

    /// Reads the one record batch message of a flat schema (which has no
    /// dictionaries).
    fn read_flat(&self, bytes: &Buffer) -> Result<RecordBatch, ArrowError> {
        let frame = Frame::read(bytes, 0, self.validation)?;
        // As arrow's reader for the contract's schemas: version 5 only.
        if frame.message.version() != MetadataVersion::V5 {
            return Err(ArrowError::IpcError(format!(
                "IPC metadata version {:?}, expected V5",
                frame.message.version()
            )));
        }
        let record_batch = frame.message.header_as_record_batch().ok_or_else(|| {
            ArrowError::IpcError(format!(
                "expected a record batch message, found {:?}",
                frame.message.header_type()
            ))
        })?;
        let body = bytes.slice_with_length(frame.end - frame.body_len, frame.body_len);
        let batch = read::read(&self.schema, record_batch, &body, self.validation)?;
        frame.check_end(bytes)?;
        Ok(batch)
    }
}

/// Decodes a whole IPC stream (its schema, then record batches with their
/// dictionaries, then optionally the end-of-stream marker), as Kafka
/// messages of `format: arrow-ipc` hold one. Validates like
/// [`BatchDecoder::new`]: hostile bytes are an error, never a panic.
pub fn read_stream(bytes: &[u8]) -> Result<(SchemaRef, Vec<RecordBatch>), ArrowError> {
    let schema_end = Frame::read(bytes, 0, Validation::Full)?.end;
    let mut decoder = BatchDecoder::new(&bytes[..schema_end])?;
    let (mut start, mut unit) = (schema_end, schema_end);
    let mut batches = Vec::new();
    while start < bytes.len() {
        if bytes[start..] == END_OF_STREAM {
            break;
        }
        let frame = Frame::read(bytes, start, Validation::Full)?;
        if frame.message.header_type() == MessageHeader::RecordBatch {
            batches.push(decoder.decode(bytes[unit..frame.end].to_vec())?);
            unit = frame.end;
        }
        start = frame.end;
    }
    if unit != start {
        return Err(ArrowError::IpcError(
            "the IPC stream ends with messages that belong to no record batch".into(),
        ));
    }
    Ok((decoder.schema, batches))
}

/// The end-of-stream marker: a continuation marker and a zero length.
const END_OF_STREAM: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

/// The IPC continuation marker that starts every encapsulated message.
const CONTINUATION: [u8; 4] = [0xff; 4];

/// One encapsulated IPC message inside a byte slice: its metadata and where
/// its body is, with every length checked against the slice.
struct Frame<'a> {
    /// The flatbuffer metadata, verified once (unless trusted).
    message: Message<'a>,
    /// Prefix (continuation marker and length) plus flatbuffer metadata.
    metadata_len: i32,
    body_len: usize,
    /// Where the message ends (after its body).
    end: usize,
}

impl<'a> Frame<'a> {
    /// Reads the message at `start`: its framing and metadata, whose
    /// flatbuffer is verified unless `validation` is trusted.
    fn read(bytes: &'a [u8], start: usize, validation: Validation) -> Result<Self, ArrowError> {
        let truncated = || ArrowError::IpcError(format!("truncated IPC message at byte {start}"));
        let prefix = bytes.get(start..start + 8).ok_or_else(truncated)?;
        if prefix[..4] != CONTINUATION {
            return Err(ArrowError::IpcError(format!(
                "no IPC continuation marker at byte {start}"
            )));
        }
        let flatbuffer_len = i32::from_le_bytes(prefix[4..].try_into().expect("4 bytes"));
        let metadata_len = flatbuffer_len
            .checked_add(8)
            .filter(|_| flatbuffer_len > 0)
            .ok_or_else(|| {
                ArrowError::IpcError(format!("invalid IPC metadata length {flatbuffer_len}"))
            })?;
        let metadata_end = start
            .checked_add(metadata_len as usize)
            .ok_or_else(truncated)?;
        let metadata = bytes.get(start + 8..metadata_end).ok_or_else(truncated)?;
        let message = match validation {
            Validation::Full => root_as_message(metadata)
                .map_err(|e| ArrowError::IpcError(format!("invalid IPC message metadata: {e}")))?,
            // SAFETY: the decoder was made for bytes of a trusted encoder.
            Validation::Trusted => unsafe { root_as_message_unchecked(metadata) },
        };
        let body_len = message.bodyLength();
        let body_len = usize::try_from(body_len)
            .map_err(|_| ArrowError::IpcError(format!("invalid IPC body length {body_len}")))?;
        let end = metadata_end
            .checked_add(body_len)
            .filter(|&end| end <= bytes.len())
            .ok_or_else(truncated)?;
        Ok(Self {
            message,
            metadata_len,
            body_len,
            end,
        })
    }

    /// Checks that the message is the last of `bytes`.
    fn check_end(&self, bytes: &[u8]) -> Result<(), ArrowError> {
        match bytes.len() - self.end {
            0 => Ok(()),
            extra => Err(ArrowError::IpcError(format!(
                "{extra} unexpected bytes after the record batch"
            ))),
        }
    }

    /// Checks that every buffer of a record batch lies inside the body:
    /// arrow's reader slices them without checking.
    fn check_buffers(&self, batch: Option<arrow_ipc::RecordBatch<'_>>) -> Result<(), ArrowError> {
        let batch =
            batch.ok_or_else(|| ArrowError::IpcError("IPC message without record batch".into()))?;
        if batch.compression().is_some() {
            return Err(ArrowError::IpcError(
                "compressed IPC batches are not part of the contract".into(),
            ));
        }
        for buffer in batch.buffers().iter().flatten() {
            let end = u64::try_from(buffer.offset())
                .ok()
                .zip(u64::try_from(buffer.length()).ok())
                .and_then(|(offset, length)| offset.checked_add(length));
            if end.is_none_or(|end| end > self.body_len as u64) {
                return Err(ArrowError::IpcError(format!(
                    "IPC buffer at offset {} of length {} lies outside the {}-byte body",
                    buffer.offset(),
                    buffer.length(),
                    self.body_len
                )));
            }
        }
        Ok(())
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
    fn a_whole_stream_reads_back_and_a_cut_one_is_an_error() {
        let batch = sample();
        let mut writer = StreamWriter::try_new(Vec::new(), &batch.schema()).unwrap();
        writer.write(&batch).unwrap();
        writer.write(&batch.slice(1, 2)).unwrap();
        let bytes = writer.into_inner().unwrap();
        let (schema, batches) = read_stream(&bytes).unwrap();
        assert_eq!(schema, batch.schema());
        assert_eq!(batches, vec![batch.clone(), batch.slice(1, 2)]);
        for cut in [1, 9, bytes.len() / 2, bytes.len() - 9] {
            assert!(read_stream(&bytes[..cut]).is_err(), "cut at {cut}");
        }
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
    fn a_buffer_outside_the_body_is_an_error_not_a_panic() {
        let column = || Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef;
        let batch = RecordBatch::try_from_iter([("a", column()), ("b", column())]).unwrap();
        let mut bytes = BatchEncoder::new(&batch.schema())
            .unwrap()
            .encode(&batch)
            .unwrap()
            .clone();
        // Two value buffers, each padded to half the body: the body length
        // is a number no buffer offset or length has. Claim half of it and
        // cut the bytes to match, so the second buffer points past the end.
        let metadata_len = 8 + i32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
        let body_len = (bytes.len() - metadata_len) as i64;
        let at = bytes
            .windows(8)
            .position(|w| w == body_len.to_le_bytes())
            .expect("body length in the metadata");
        bytes[at..at + 8].copy_from_slice(&(body_len / 2).to_le_bytes());
        bytes.truncate(bytes.len() - body_len as usize / 2);
        let expected = format!("outside the {}-byte body", body_len / 2);

        let mut decoder = BatchDecoder::new(&schema_to_bytes(&batch.schema()).unwrap()).unwrap();
        let error = decoder.decode(bytes).unwrap_err().to_string();
        assert!(error.contains(&expected), "{error}");
    }

    #[test]
    fn trusted_decoders_read_what_the_encoder_writes() {
        let batch = sample();
        let schema_bytes = schema_to_bytes(&batch.schema()).unwrap();
        // SAFETY: the bytes come from `BatchEncoder`.
        let mut decoder = unsafe { BatchDecoder::trusted(&schema_bytes) }.unwrap();
        let mut encoder = BatchEncoder::new(&batch.schema()).unwrap();
        for _ in 0..2 {
            assert_eq!(
                decoder
                    .decode(encoder.encode_owned(&batch).unwrap())
                    .unwrap(),
                batch
            );
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
