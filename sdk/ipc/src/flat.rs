//! Single-copy IPC encoding of flat record batches.
//!
//! arrow's `StreamWriter` copies every buffer twice: into an intermediate
//! body, then into the output. Batches cross the plugin boundary on every
//! call, so for the common case (columns of primitive, boolean, date/time,
//! string or binary type, not sliced) this writes the message header
//! itself and leaves the body's buffers where they are: [`frame`] gives the
//! header and the buffers, and whoever writes the message copies each buffer
//! once, straight to its destination. Anything else (nested or dictionary
//! columns, sliced arrays) is `None` and left to arrow's writer. The bytes
//! are standard Arrow IPC (version 5), read by any IPC reader.

use arrow_array::{Array, ArrayRef};
use arrow_buffer::Buffer;
use arrow_buffer::bit_util::ceil;
use arrow_data::ArrayData;
use arrow_ipc::{FieldNode, MessageBuilder, MessageHeader, MetadataVersion, RecordBatchBuilder};
use arrow_schema::DataType;
use flatbuffers::FlatBufferBuilder;

/// Buffers start at multiples of this in the body.
const ALIGNMENT: usize = 8;

pub(crate) fn padded(len: usize) -> usize {
    len.next_multiple_of(ALIGNMENT)
}

/// Whether the single-copy path covers columns of type `t` (the decoder's
/// own check covers the same types).
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

/// The IPC buffers of one column, in IPC order, each cut to the bytes the
/// message holds, or `None` when the column is not flat and unsliced.
fn column_parts(data: &ArrayData) -> Option<Vec<Buffer>> {
    if data.offset() != 0 {
        return None;
    }
    let len = data.len();
    let validity = match data.nulls() {
        Some(nulls) if nulls.null_count() > 0 => {
            if nulls.offset() != 0 {
                return None;
            }
            nulls.buffer().slice_with_length(0, ceil(len, 8))
        }
        // No nulls: an empty validity buffer, as the format allows.
        _ => Buffer::from_vec(Vec::<u8>::new()),
    };
    let mut parts = vec![validity];
    let buffers = data.buffers();
    match data.data_type() {
        DataType::Boolean => parts.push(buffers[0].slice_with_length(0, ceil(len, 8))),
        DataType::Utf8 | DataType::Binary => parts.extend(byte_parts::<i32>(buffers, len)?),
        DataType::LargeUtf8 | DataType::LargeBinary => {
            parts.extend(byte_parts::<i64>(buffers, len)?)
        }
        t if t.is_primitive() => {
            let width = t.primitive_width()?;
            parts.push(buffers[0].slice_with_length(0, len * width));
        }
        _ => return None,
    }
    Some(parts)
}

/// The offsets and values of a string or binary column whose offsets start
/// at 0 (else it was sliced, and arrow's writer rebases it).
fn byte_parts<O>(buffers: &[Buffer], len: usize) -> Option<[Buffer; 2]>
where
    O: arrow_buffer::ArrowNativeType + TryInto<usize>,
{
    let offsets = buffers[0].typed_data::<O>();
    if offsets.first()?.as_usize() != 0 {
        return None;
    }
    let end = offsets[len].try_into().ok()?;
    Some([
        buffers[0].slice_with_length(0, (len + 1) * size_of::<O>()),
        buffers[1].slice_with_length(0, end),
    ])
}

/// Appends the head of the IPC record batch message of `columns` (of
/// `rows` rows) to `head`
/// (continuation marker, metadata length, metadata padded so the body starts
/// 8-aligned) and returns the body's buffers, each to be padded to 8 bytes;
/// `None` (and `head` untouched) when a column is not flat.
pub(crate) fn frame(
    columns: &[ArrayRef],
    rows: usize,
    head: &mut Vec<u8>,
    fbb: &mut FlatBufferBuilder<'static>,
) -> Option<Vec<Buffer>> {
    let data: Vec<ArrayData> = columns.iter().map(|c| c.to_data()).collect();
    let mut nodes = Vec::with_capacity(data.len());
    let mut buffers = Vec::new();
    let mut parts = Vec::new();
    let mut body_len = 0;
    for column in &data {
        nodes.push(FieldNode::new(
            column.len() as i64,
            column.null_count() as i64,
        ));
        for part in column_parts(column)? {
            buffers.push(arrow_ipc::Buffer::new(body_len as i64, part.len() as i64));
            body_len += padded(part.len());
            parts.push(part);
        }
    }

    fbb.reset();
    let nodes = fbb.create_vector(&nodes);
    let buffers = fbb.create_vector(&buffers);
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
        frame(
            batch.columns(),
            batch.num_rows(),
            &mut Vec::new(),
            &mut FlatBufferBuilder::new(),
        )
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
        let mut encoder = BatchEncoder::new(&batch.schema()).unwrap();
        let framed = encoder.frame(&batch, None).unwrap();
        assert!(framed.is_flat());
        framed.append_to(writer.get_mut());
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
