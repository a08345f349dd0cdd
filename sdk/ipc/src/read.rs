//! Reading record batch messages whose columns are all flat (primitive,
//! boolean, date/time, utf8 and binary, also the large ones: the types the
//! single-copy encoder covers), without arrow's IPC reader.
//!
//! Batches cross the plugin boundary on every call, and for small batches
//! arrow's reader costs more than the data: it verifies the flatbuffer a
//! second time, and its validation of a string column
//! (`ArrayData::validate_full`) walks the offsets through iterator adapters
//! that carry a `Result` per offset (10 µs for 4096 strings, a quarter of
//! the time arrow needs to filter the whole batch). This walks the message
//! once: it checks what arrow's full validation checks — columns as long as
//! the batch, every buffer inside the body and long enough for its column,
//! null counts that match the validity bits, offsets that start at or after
//! 0, never decrease and stay in their values, UTF-8 text split only at
//! character boundaries — in plain loops, then builds the arrays over the
//! body's buffers without validating them again. A trusted reader (bytes
//! from the host's own encoder) skips the checks that take a pass over the
//! data.

use std::sync::Arc;

use arrow_array::types::{BinaryType, ByteArrayType, LargeBinaryType, LargeUtf8Type, Utf8Type};
use arrow_array::{
    ArrayRef, ArrowPrimitiveType, BooleanArray, GenericByteArray, PrimitiveArray, RecordBatch,
    downcast_primitive,
};
use arrow_buffer::bit_chunk_iterator::UnalignedBitChunk;
use arrow_buffer::bit_util::ceil;
use arrow_buffer::{
    ArrowNativeType, BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer,
};
use arrow_schema::{ArrowError, DataType, Schema, SchemaRef};

/// Whether every column of `schema` is of a type [`read`] reads.
pub(crate) fn is_flat(schema: &Schema) -> bool {
    schema
        .fields()
        .iter()
        .all(|f| crate::flat::is_flat_type(f.data_type()))
}

fn invalid(message: String) -> ArrowError {
    ArrowError::IpcError(message)
}

/// Whether [`read`] checks the data as well as the framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validation {
    /// Everything arrow's full validation checks.
    Full,
    /// Only what takes no pass over the data: lengths, buffer ranges and
    /// the last offset of each string column.
    ///
    /// # Safety (of choosing it)
    ///
    /// For bytes written by a trusted encoder from valid arrays only.
    Trusted,
}

/// Reads `batch` (whose body is `body`) as a record batch of `schema`,
/// which must be flat ([`is_flat`]). Buffers are read by their declared
/// offset and length; a misaligned one is copied.
pub(crate) fn read(
    schema: &SchemaRef,
    batch: arrow_ipc::RecordBatch<'_>,
    body: &Buffer,
    validation: Validation,
) -> Result<RecordBatch, ArrowError> {
    let full = validation == Validation::Full;
    if batch.compression().is_some() {
        return Err(invalid(
            "compressed IPC batches are not part of the contract".into(),
        ));
    }
    let nodes = batch
        .nodes()
        .ok_or_else(|| invalid("record batch without field nodes".into()))?;
    let buffers = batch
        .buffers()
        .ok_or_else(|| invalid("record batch without buffers".into()))?;
    if nodes.len() != schema.fields().len() {
        return Err(invalid(format!(
            "record batch has {} field nodes for {} columns",
            nodes.len(),
            schema.fields().len()
        )));
    }
    let mut buffers = buffers.iter();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(nodes.len());
    for (field, node) in schema.fields().iter().zip(nodes) {
        let name = field.name();
        let mut next = || -> Result<Buffer, ArrowError> {
            let buffer = buffers
                .next()
                .ok_or_else(|| invalid(format!("column {name:?}: missing buffers")))?;
            let start = usize::try_from(buffer.offset()).ok();
            let len = usize::try_from(buffer.length()).ok();
            start
                .zip(len)
                .filter(|&(start, len)| start.checked_add(len).is_some_and(|e| e <= body.len()))
                .map(|(start, len)| body.slice_with_length(start, len))
                .ok_or_else(|| {
                    invalid(format!(
                        "column {name:?}: IPC buffer at offset {} of length {} lies outside the {}-byte body",
                        buffer.offset(),
                        buffer.length(),
                        body.len()
                    ))
                })
        };
        let (len, null_count) = match (
            usize::try_from(node.length()),
            usize::try_from(node.null_count()),
        ) {
            // arrow's unvalidated reader trusts the batch's row count too.
            (Ok(len), Ok(nulls)) if nulls <= len && node.length() == batch.length() => (len, nulls),
            _ => {
                return Err(invalid(format!(
                    "column {name:?}: invalid length {} (the batch has {} rows) or null count {}",
                    node.length(),
                    batch.length(),
                    node.null_count()
                )));
            }
        };
        let short = |what: &str| {
            invalid(format!(
                "column {name:?}: {what} buffer too short for {len} rows"
            ))
        };
        let validity = next()?;
        // The validity bits count only when the node declares nulls.
        let nulls = match null_count {
            0 => None,
            _ => {
                if validity.len() < ceil(len, 8) {
                    return Err(short("validity"));
                }
                if full {
                    let valid = UnalignedBitChunk::new(&validity, 0, len).count_ones();
                    if len - valid != null_count {
                        return Err(invalid(format!(
                            "column {name:?}: declares {null_count} nulls but its validity bits say {}",
                            len - valid
                        )));
                    }
                }
                // SAFETY: the null count was checked above, or the bytes
                // are trusted.
                Some(unsafe {
                    NullBuffer::new_unchecked(BooleanBuffer::new(validity, 0, len), null_count)
                })
            }
        };
        let bytes = |offsets, values| Bytes {
            offsets,
            values,
            len,
            full,
            name,
        };
        columns.push(match field.data_type() {
            DataType::Boolean => {
                let values = next()?;
                if values.len() < ceil(len, 8) {
                    return Err(short("values"));
                }
                Arc::new(BooleanArray::new(BooleanBuffer::new(values, 0, len), nulls))
            }
            DataType::Utf8 => bytes(next()?, next()?).array::<Utf8Type>(nulls)?,
            DataType::Binary => bytes(next()?, next()?).array::<BinaryType>(nulls)?,
            DataType::LargeUtf8 => bytes(next()?, next()?).array::<LargeUtf8Type>(nulls)?,
            DataType::LargeBinary => bytes(next()?, next()?).array::<LargeBinaryType>(nulls)?,
            t => {
                let width = t
                    .primitive_width()
                    .ok_or_else(|| invalid(format!("column {name:?}: type {t} is not flat")))?;
                let values = next()?;
                if len.checked_mul(width).is_none_or(|n| values.len() < n) {
                    return Err(short("values"));
                }
                macro_rules! primitive {
                    ($t:ty) => {
                        Arc::new(
                            PrimitiveArray::<$t>::new(
                                ScalarBuffer::new(
                                    aligned::<<$t as ArrowPrimitiveType>::Native>(values),
                                    0,
                                    len,
                                ),
                                nulls,
                            )
                            .with_data_type(t.clone()),
                        )
                    };
                }
                downcast_primitive! {
                    t => (primitive),
                    _ => return Err(invalid(format!("column {name:?}: type {t} is not flat"))),
                }
            }
        });
    }
    if buffers.next().is_some() {
        return Err(invalid(
            "record batch has more buffers than its columns".into(),
        ));
    }
    // SAFETY: the columns have the schema's types, as many as its fields, and
    // the batch's length (checked per node above).
    Ok(unsafe { RecordBatch::new_unchecked(Arc::clone(schema), columns, batch.length() as usize) })
}

/// The buffers of a string or binary column, before they are checked.
struct Bytes<'a> {
    offsets: Buffer,
    values: Buffer,
    len: usize,
    /// Whether to check every offset and, for text, the UTF-8.
    full: bool,
    name: &'a str,
}

impl Bytes<'_> {
    /// Checks the `len + 1` offsets into the values (with `full` validation:
    /// that they never decrease, and for text that every value is UTF-8)
    /// and builds the array with `nulls`.
    fn array<T: ByteArrayType>(self, nulls: Option<NullBuffer>) -> Result<ArrayRef, ArrowError>
    where
        T::Offset: Into<i64>,
    {
        let Self {
            offsets,
            values,
            len,
            full,
            name,
        } = self;
        // Writers may leave the offsets of an empty column out.
        if len == 0 && offsets.is_empty() {
            let empty = OffsetBuffer::new_empty();
            // SAFETY: no values.
            return Ok(Arc::new(unsafe {
                GenericByteArray::<T>::new_unchecked(empty, values, None)
            }));
        }
        if offsets.len() < (len + 1) * size_of::<T::Offset>() {
            return Err(invalid(format!(
                "column {name:?}: offsets buffer too short for {len} rows"
            )));
        }
        let offsets = ScalarBuffer::<T::Offset>::new(aligned::<T::Offset>(offsets), 0, len + 1);
        let first: i64 = offsets[0].into();
        let last: i64 = offsets[len].into();
        let in_range = 0 <= first && first <= last && last as u64 <= values.len() as u64;
        let mut ordered = true;
        // Text values as far as the last offset: an offset there is the end,
        // whatever byte follows.
        let text = &values[..if in_range { last as usize } else { 0 }];
        let mut boundaries = true;
        if full && in_range {
            let utf8 = matches!(T::DATA_TYPE, DataType::Utf8 | DataType::LargeUtf8);
            let mut previous = first;
            // One pass, no early exit, so the loop stays simple.
            for &offset in offsets.iter() {
                let offset: i64 = offset.into();
                ordered &= offset >= previous;
                previous = offset;
                if utf8 {
                    // Not a UTF-8 continuation byte (0b10xx_xxxx), or the end.
                    boundaries &= text
                        .get(offset as usize)
                        .is_none_or(|&b| (b as i8) >= -0x40);
                }
            }
            if ordered && utf8 {
                // A string of valid UTF-8 cut only at character boundaries
                // gives valid strings, and valid strings put together are
                // valid UTF-8.
                std::str::from_utf8(&text[first as usize..])
                    .map_err(|e| invalid(format!("column {name:?}: invalid UTF-8: {e}")))?;
            }
        }
        if !in_range || !ordered {
            return Err(invalid(format!(
                "column {name:?}: offsets must not decrease and must stay within the {}-byte values",
                values.len()
            )));
        }
        if !boundaries {
            return Err(invalid(format!(
                "column {name:?}: an offset splits a UTF-8 character"
            )));
        }
        // SAFETY: the offsets were checked above to start at or after 0,
        // never decrease, stay within the values and, for text, cut them
        // only at character boundaries of valid UTF-8 (or the bytes are
        // trusted).
        let array = unsafe {
            GenericByteArray::<T>::new_unchecked(
                OffsetBuffer::new_unchecked(offsets),
                values,
                nulls,
            )
        };
        Ok(Arc::new(array))
    }
}

/// `buffer`, copied if its start is not aligned for `T` (a reader may lay
/// buffers out at any offset).
fn aligned<T: ArrowNativeType>(buffer: Buffer) -> Buffer {
    match buffer.as_ptr().align_offset(align_of::<T>()) {
        0 => buffer,
        _ => Buffer::from_slice_ref(buffer.as_slice()),
    }
}

#[cfg(test)]
mod tests {
    use crate::flat::tests::every_type;
    use crate::{BatchDecoder, BatchEncoder, schema_to_bytes};

    /// A decoder that leaves all validation to arrow, for comparison.
    fn arrow_validated(schema_bytes: &[u8]) -> BatchDecoder {
        let mut decoder = BatchDecoder::new(schema_bytes).unwrap();
        decoder.flat = false;
        decoder
    }

    #[test]
    fn a_trusted_decoder_reads_every_flat_type() {
        let whole = every_type(50);
        let schema_bytes = schema_to_bytes(&whole.schema()).unwrap();
        // SAFETY: the bytes come from `BatchEncoder`.
        let mut decoder = unsafe { BatchDecoder::trusted(&schema_bytes) }.unwrap();
        let mut encoder = BatchEncoder::new(&whole.schema()).unwrap();
        assert!(decoder.flat);
        for batch in [whole.clone(), whole.slice(0, 0), whole.slice(7, 3)] {
            let bytes = encoder.encode_owned(&batch).unwrap();
            assert_eq!(decoder.decode(bytes).unwrap(), batch);
        }
    }

    /// Changes bytes of valid messages, one at a time, at every position and
    /// then at random ones: whatever arrow's own validation refuses, the
    /// reader refuses too, and what both accept decodes to the same batch.
    /// Neither decoder may panic.
    #[test]
    fn corrupted_messages_are_refused_as_arrows_validation_refuses_them() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for rows in [0, 3, 50] {
            let batch = every_type(rows.max(3)).slice(0, rows);
            let schema_bytes = schema_to_bytes(&batch.schema()).unwrap();
            let bytes = BatchEncoder::new(&batch.schema())
                .unwrap()
                .encode_owned(&batch)
                .unwrap();
            let (mut ours, mut arrows) = (
                BatchDecoder::new(&schema_bytes).unwrap(),
                arrow_validated(&schema_bytes),
            );
            assert!(ours.flat, "every_type is flat");
            assert_eq!(ours.decode(bytes.clone()).unwrap(), batch);
            let mut refused = 0;
            for trial in 0..6000 {
                let mut corrupt = bytes.clone();
                let at = match trial < bytes.len() {
                    true => trial,
                    false => (next() % bytes.len() as u64) as usize,
                };
                let value = match next() % 4 {
                    0 => corrupt[at].wrapping_add(1),
                    1 => corrupt[at].wrapping_sub(1),
                    2 => 0xff,
                    _ => next() as u8,
                };
                corrupt[at] = value;
                match (ours.decode(corrupt.clone()), arrows.decode(corrupt)) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "byte {at} set to {value}"),
                    (Err(_), Err(_)) => refused += 1,
                    // arrow asserts where it should refuse (a buffer length
                    // that is not a multiple of its values' width): the
                    // check may accept those bytes when they are valid.
                    (_, Err(e)) if e.to_string().contains("arrow's reader panicked") => {}
                    (Ok(_), Err(e)) => panic!("byte {at} set to {value}: accepted, arrow says {e}"),
                    // Stricter than arrow in one way: a negative null count,
                    // which arrow ignores.
                    (Err(e), Ok(_)) => assert!(
                        e.to_string().contains("rows) or null count -"),
                        "byte {at} set to {value}: refused ({e}), arrow accepts"
                    ),
                }
            }
            assert!(refused > 100, "{refused} of the corrupted messages refused");
        }
    }
}
