//! Single-copy IPC encoding of flat record batches.
//!
//! arrow's `StreamWriter` copies every buffer twice: into an intermediate
//! body, then into the output. Batches cross the plugin boundary on every
//! call, so for the common case (columns of primitive, boolean, date/time,
//! string or binary type) this writes the message header itself and leaves
//! the body's buffers where they are: [`Framer::frame`] gives the header and
//! the buffers, and whoever writes the message copies each buffer once,
//! straight to its destination. Anything else (nested or dictionary
//! columns, and sliced ones whose validity bits or string offsets do not
//! start at their first row) is `None` and left to arrow's writer. The bytes
//! are standard Arrow IPC (version 5), read by any IPC reader.

use arrow_array::cast::AsArray;
use arrow_array::types::ByteArrayType;
use arrow_array::{Array, ArrayRef, GenericByteArray, downcast_primitive};
use arrow_buffer::bit_util::ceil;
use arrow_buffer::{ArrowNativeType, Buffer};
use arrow_ipc::{FieldNode, MessageBuilder, MessageHeader, MetadataVersion, RecordBatchBuilder};
use arrow_schema::DataType;
use flatbuffers::FlatBufferBuilder;

/// Buffers start at multiples of this in the body.
const ALIGNMENT: usize = 8;

pub(crate) fn padded(len: usize) -> usize {
    len.next_multiple_of(ALIGNMENT)
}

/// Whether the single-copy path covers columns of type `t` (the decoder's
/// own reader, `read.rs`, covers the same types).
pub(crate) fn is_flat_type(t: &DataType) -> bool {
    t.is_primitive()
        || matches!(
            t,
            DataType::Boolean
                | DataType::Utf8
                | DataType::Binary
                | DataType::LargeUtf8
                | DataType::LargeBinary
        )
}

/// Appends body buffers to `out`, each padded to 8 bytes.
pub(crate) fn append_parts(out: &mut Vec<u8>, parts: &[Buffer]) {
    out.reserve(parts.iter().map(|p| padded(p.len())).sum());
    for part in parts {
        out.extend_from_slice(part);
        out.resize(out.len() + padded(part.len()) - part.len(), 0);
    }
}

/// Gives the IPC buffers of one column to `push`, in IPC order, each cut to
/// the bytes the message holds (`None` for an empty one); `None` when the
/// column is not flat, or sliced so that a buffer does not start at its
/// first value (validity bits or string offsets; arrow's writer rebases
/// those).
fn column_parts(array: &dyn Array, mut push: impl FnMut(Option<Buffer>)) -> Option<()> {
    let len = array.len();
    match array.nulls() {
        Some(nulls) if nulls.null_count() > 0 => {
            if nulls.offset() != 0 {
                return None;
            }
            push(Some(nulls.buffer().slice_with_length(0, ceil(len, 8))));
        }
        // No nulls: an empty validity buffer, as the format allows.
        _ => push(None),
    }
    match array.data_type() {
        DataType::Boolean => {
            let values = array.as_boolean().values();
            if values.offset() != 0 {
                return None;
            }
            push(Some(values.inner().slice_with_length(0, ceil(len, 8))));
        }
        DataType::Utf8 => byte_parts(array.as_string::<i32>(), push)?,
        DataType::Binary => byte_parts(array.as_binary::<i32>(), push)?,
        DataType::LargeUtf8 => byte_parts(array.as_string::<i64>(), push)?,
        DataType::LargeBinary => byte_parts(array.as_binary::<i64>(), push)?,
        t => {
            // A primitive array's values start at its first value, sliced
            // or not.
            macro_rules! values {
                ($t:ty) => {
                    array.as_primitive::<$t>().values().inner().clone()
                };
            }
            push(Some(
                downcast_primitive! { t => (values), _ => return None },
            ));
        }
    }
    Some(())
}

/// Gives the offsets and values of a string or binary column whose offsets
/// start at 0 to `push`.
fn byte_parts<T: ByteArrayType>(
    array: &GenericByteArray<T>,
    mut push: impl FnMut(Option<Buffer>),
) -> Option<()> {
    let offsets = array.offsets();
    if offsets.first()?.as_usize() != 0 {
        return None;
    }
    push(Some(offsets.inner().inner().clone()));
    push(Some(
        array
            .values()
            .slice_with_length(0, offsets.last()?.as_usize()),
    ));
    Some(())
}

/// Builds the heads of flat record batch messages; keeps its buffers
/// between calls.
#[derive(Default)]
pub(crate) struct Framer {
    fbb: FlatBufferBuilder<'static>,
    nodes: Vec<FieldNode>,
    buffers: Vec<arrow_ipc::Buffer>,
}

impl Framer {
    /// Appends the head of the IPC record batch message of `columns` (of
    /// `rows` rows) to `head` (continuation marker, metadata length,
    /// metadata padded so the body starts 8-aligned) and returns the body's
    /// non-empty buffers, each to be padded to 8 bytes; `None` (and `head`
    /// untouched) when a column is not flat.
    pub(crate) fn frame<'c>(
        &mut self,
        columns: impl Iterator<Item = &'c ArrayRef>,
        rows: usize,
        head: &mut Vec<u8>,
    ) -> Option<Vec<Buffer>> {
        let Self {
            fbb,
            nodes,
            buffers,
        } = self;
        nodes.clear();
        buffers.clear();
        let mut parts = Vec::new();
        let mut body_len = 0;
        for column in columns {
            nodes.push(FieldNode::new(
                column.len() as i64,
                column.null_count() as i64,
            ));
            column_parts(column.as_ref(), |part| {
                let len = part.as_ref().map_or(0, |p| p.len());
                buffers.push(arrow_ipc::Buffer::new(body_len as i64, len as i64));
                body_len += padded(len);
                parts.extend(part);
            })?;
        }

        fbb.reset();
        let nodes = fbb.create_vector(nodes);
        let buffers = fbb.create_vector(buffers);
        let mut record_batch = RecordBatchBuilder::new(fbb);
        record_batch.add_length(rows as i64);
        record_batch.add_nodes(nodes);
        record_batch.add_buffers(buffers);
        let record_batch = record_batch.finish();
        let mut message = MessageBuilder::new(fbb);
        message.add_version(MetadataVersion::V5);
        message.add_header_type(MessageHeader::RecordBatch);
        message.add_bodyLength(body_len as i64);
        message.add_header(record_batch.as_union_value());
        let message = message.finish();
        fbb.finish(message, None);
        let metadata = fbb.finished_data();

        let metadata_len = padded(metadata.len() + 8) - 8;
        head.reserve(8 + metadata_len);
        head.extend_from_slice(&u32::MAX.to_le_bytes());
        head.extend_from_slice(&(metadata_len as i32).to_le_bytes());
        head.extend_from_slice(metadata);
        head.resize(head.len() + metadata_len - metadata.len(), 0);
        Some(parts)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use arrow_array::types::Int32Type;
    use arrow_array::*;
    use arrow_schema::{Field, Schema};

    use super::*;
    use crate::{BatchDecoder, BatchEncoder, schema_to_bytes};

    /// Every flat type, each column with a null, `rows` rows (at least 3).
    pub(crate) fn every_type(rows: usize) -> RecordBatch {
        let nth = |i: usize| (i % 3 != 1).then_some(i);
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "bool",
                Arc::new(
                    (0..rows)
                        .map(|i| nth(i).map(|i| i % 2 == 0))
                        .collect::<BooleanArray>(),
                ),
            ),
            (
                "i8",
                Arc::new(
                    (0..rows)
                        .map(|i| nth(i).map(|i| i as i8))
                        .collect::<Int8Array>(),
                ),
            ),
            (
                "i16",
                Arc::new(
                    (0..rows)
                        .map(|i| nth(i).map(|i| i as i16))
                        .collect::<Int16Array>(),
                ),
            ),
            (
                "i32",
                Arc::new(
                    (0..rows)
                        .map(|i| nth(i).map(|i| i as i32))
                        .collect::<Int32Array>(),
                ),
            ),
            (
                "i64",
                Arc::new(
                    (0..rows)
                        .map(|i| nth(i).map(|i| -(i as i64)))
                        .collect::<Int64Array>(),
                ),
            ),
            (
                "u8",
                Arc::new(
                    (0..rows)
                        .map(|i| nth(i).map(|i| i as u8))
                        .collect::<UInt8Array>(),
                ),
            ),
            (
                "u64",
                Arc::new(
                    (0..rows)
                        .map(|i| nth(i).map(|i| i as u64))
                        .collect::<UInt64Array>(),
                ),
            ),
            (
                "f32",
                Arc::new(
                    (0..rows)
                        .map(|i| nth(i).map(|i| i as f32 / 2.0))
                        .collect::<Float32Array>(),
                ),
            ),
            (
                "f64",
                Arc::new(
                    (0..rows)
                        .map(|i| nth(i).map(|i| i as f64 / 3.0))
                        .collect::<Float64Array>(),
                ),
            ),
            (
                "date",
                Arc::new(
                    (0..rows)
                        .map(|i| nth(i).map(|i| i as i32))
                        .collect::<Date32Array>(),
                ),
            ),
            (
                "time",
                Arc::new(
                    (0..rows)
                        .map(|i| nth(i).map(|i| 1_795_564_800_000 + i as i64))
                        .collect::<TimestampMillisecondArray>()
                        .with_timezone("+00:00"),
                ),
            ),
            (
                // 16-byte values: a body laid out at multiples of 8 leaves
                // some of them misaligned for i128.
                "decimal",
                Arc::new(
                    (0..rows)
                        .map(|i| nth(i).map(|i| i as i128 * 1_000_000_007))
                        .collect::<Decimal128Array>()
                        .with_precision_and_scale(30, 2)
                        .unwrap(),
                ),
            ),
            (
                "duration",
                Arc::new(
                    (0..rows)
                        .map(|i| nth(i).map(|i| i as i64))
                        .collect::<DurationMicrosecondArray>(),
                ),
            ),
            (
                "utf8",
                Arc::new(
                    (0..rows)
                        .map(|i| nth(i).map(|i| "é".repeat(i % 5)))
                        .collect::<StringArray>(),
                ),
            ),
            (
                "large",
                Arc::new(
                    (0..rows)
                        .map(|i| nth(i).map(|i| "x".repeat(i % 4)))
                        .collect::<LargeStringArray>(),
                ),
            ),
            (
                "binary",
                Arc::new(
                    (0..rows)
                        .map(|i| nth(i).map(|i| vec![i as u8; i % 3]))
                        .collect::<BinaryArray>(),
                ),
            ),
            (
                "no_nulls",
                Arc::new(Int64Array::from_iter_values(0..rows as i64)),
            ),
        ];
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn frame_batch(batch: &RecordBatch) -> Option<Vec<Buffer>> {
        Framer::default().frame(batch.columns().iter(), batch.num_rows(), &mut Vec::new())
    }

    fn round_trip(batch: &RecordBatch) -> RecordBatch {
        let mut encoder = BatchEncoder::new(&batch.schema()).unwrap();
        let mut decoder = BatchDecoder::new(&schema_to_bytes(&batch.schema()).unwrap()).unwrap();
        decoder
            .decode(encoder.encode(batch).unwrap().clone())
            .unwrap()
    }

    #[test]
    fn every_flat_type_with_nulls_round_trips_through_one_copy() {
        for rows in [3, 100] {
            let batch = every_type(rows);
            assert!(frame_batch(&batch).is_some(), "took the single-copy path");
            assert_eq!(round_trip(&batch), batch);
        }
    }

    #[test]
    fn arrows_own_stream_reader_reads_the_bytes() {
        let batch = every_type(10);
        let mut stream = Vec::new();
        let mut writer =
            arrow_ipc::writer::StreamWriter::try_new(&mut stream, &batch.schema()).unwrap();
        writer.flush().unwrap();
        assert!(frame_batch(&batch).is_some(), "took the single-copy path");
        let mut encoder = BatchEncoder::new(&batch.schema()).unwrap();
        let framed = encoder.frame(&batch, None).unwrap();
        let mut message = vec![0; framed.len()];
        framed.write_to(&mut message);
        writer.get_mut().extend_from_slice(&message);
        writer.finish().unwrap();
        let read: Vec<RecordBatch> = arrow_ipc::reader::StreamReader::try_new(&stream[..], None)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(read, vec![batch]);
    }

    #[test]
    fn empty_batches_round_trip() {
        let batch = every_type(3).slice(0, 0);
        assert_eq!(round_trip(&batch), batch);
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
        let empty = RecordBatch::new_empty(schema);
        assert_eq!(round_trip(&empty), empty);
    }

    #[test]
    fn sliced_and_nested_columns_go_through_arrows_writer() {
        let batch = every_type(100);
        let sliced = batch.slice(7, 50);
        assert!(
            frame_batch(&sliced).is_none(),
            "sliced nulls and strings are not flat"
        );
        assert_eq!(round_trip(&sliced), sliced);
        // Sliced primitive values without nulls start at their first value.
        let no_nulls = batch.project(&[batch.schema().index_of("no_nulls").unwrap()]);
        let no_nulls = no_nulls.unwrap().slice(7, 50);
        assert!(frame_batch(&no_nulls).is_some());
        assert_eq!(round_trip(&no_nulls), no_nulls);

        let dictionary: ArrayRef = Arc::new(
            vec![Some("x"), None, Some("y")]
                .into_iter()
                .collect::<DictionaryArray<Int32Type>>(),
        );
        let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1)]),
            None,
            Some(vec![]),
        ]));
        for column in [dictionary, list] {
            let batch = RecordBatch::try_from_iter([("c", column)]).unwrap();
            assert!(frame_batch(&batch).is_none());
            assert_eq!(round_trip(&batch), batch);
        }
    }
}
