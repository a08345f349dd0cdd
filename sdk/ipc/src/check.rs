//! Full validation of a record batch message whose columns are all flat,
//! done on the message before arrow reads it.
//!
//! The host decodes what plugins return, so every batch is validated.
//! arrow's validation of a string column (`ArrayData::validate_full`) walks
//! the offsets through a chain of iterator adapters that carry a `Result`
//! per offset: 10 µs for 4096 strings, a quarter of the time arrow needs to
//! filter the whole batch. For the flat types the host's single-copy
//! encoder covers (primitive, boolean, date/time, utf8 and binary, also the
//! large ones), this checks what arrow's full validation checks — columns
//! as long as the batch, every buffer long enough for its column, null
//! counts that match the validity
//! bits, offsets that start at or after 0, never decrease and stay in their
//! values, UTF-8 text split only at character boundaries — in plain loops,
//! so arrow can then build the arrays without validating them again.

use arrow_buffer::bit_chunk_iterator::UnalignedBitChunk;
use arrow_schema::{ArrowError, DataType, Schema};

/// Whether every column of `schema` is of a type [`check`] validates.
pub(crate) fn is_flat(schema: &Schema) -> bool {
    schema
        .fields()
        .iter()
        .all(|f| crate::flat::is_flat_type(f.data_type()))
}

fn invalid(message: String) -> ArrowError {
    ArrowError::IpcError(message)
}

/// Checks that `batch` (with its `body`) holds valid arrays of `schema`,
/// which must be flat ([`is_flat`]). Buffers are read by their declared
/// offset and length; alignment does not matter.
pub(crate) fn check(
    schema: &Schema,
    batch: arrow_ipc::RecordBatch<'_>,
    body: &[u8],
) -> Result<(), ArrowError> {
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
    for (field, node) in schema.fields().iter().zip(nodes) {
        let name = field.name();
        let mut next = || -> Result<&[u8], ArrowError> {
            let buffer = buffers
                .next()
                .ok_or_else(|| invalid(format!("column {name:?}: missing buffers")))?;
            let start = usize::try_from(buffer.offset()).ok();
            let len = usize::try_from(buffer.length()).ok();
            start
                .zip(len)
                .and_then(|(start, len)| body.get(start..start.checked_add(len)?))
                .ok_or_else(|| invalid(format!("column {name:?}: a buffer lies outside the body")))
        };
        let (len, nulls) = match (
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
        // arrow reads the validity bits only when the node declares nulls.
        if nulls > 0 {
            let bits = validity
                .get(..len.div_ceil(8))
                .ok_or_else(|| short("validity"))?;
            let valid = UnalignedBitChunk::new(bits, 0, len).count_ones();
            if len - valid != nulls {
                return Err(invalid(format!(
                    "column {name:?}: declares {nulls} nulls but its validity bits say {}",
                    len - valid
                )));
            }
        }
        match field.data_type() {
            DataType::Boolean => {
                if next()?.len() < len.div_ceil(8) {
                    return Err(short("values"));
                }
            }
            DataType::Utf8 => offsets::<i32>(next()?, next()?, len, true, name)?,
            DataType::Binary => offsets::<i32>(next()?, next()?, len, false, name)?,
            DataType::LargeUtf8 => offsets::<i64>(next()?, next()?, len, true, name)?,
            DataType::LargeBinary => offsets::<i64>(next()?, next()?, len, false, name)?,
            t => {
                let width = t
                    .primitive_width()
                    .ok_or_else(|| invalid(format!("column {name:?}: type {t} is not flat")))?;
                let values = next()?;
                if len.checked_mul(width).is_none_or(|n| values.len() < n) {
                    return Err(short("values"));
                }
            }
        }
    }
    if buffers.next().is_some() {
        return Err(invalid(
            "record batch has more buffers than its columns".into(),
        ));
    }
    Ok(())
}

/// An offset type of string and binary columns, read from little-endian bytes.
trait Offset {
    const WIDTH: usize;
    fn read(bytes: &[u8]) -> i64;
}

impl Offset for i32 {
    const WIDTH: usize = 4;
    fn read(bytes: &[u8]) -> i64 {
        i32::from_le_bytes(bytes.try_into().expect("4 bytes")).into()
    }
}

impl Offset for i64 {
    const WIDTH: usize = 8;
    fn read(bytes: &[u8]) -> i64 {
        i64::from_le_bytes(bytes.try_into().expect("8 bytes"))
    }
}

/// Checks the `len + 1` offsets of a string or binary column into `values`,
/// and for text that every value is UTF-8.
fn offsets<O: Offset>(
    offsets: &[u8],
    values: &[u8],
    len: usize,
    utf8: bool,
    name: &str,
) -> Result<(), ArrowError> {
    // Writers may leave the offsets of an empty column out.
    if len == 0 && offsets.is_empty() {
        return Ok(());
    }
    let offsets = (len + 1)
        .checked_mul(O::WIDTH)
        .and_then(|n| offsets.get(..n))
        .ok_or_else(|| {
            invalid(format!(
                "column {name:?}: offsets buffer too short for {len} rows"
            ))
        })?;
    let first = O::read(&offsets[..O::WIDTH]);
    let (mut previous, mut ordered) = (first, first >= 0);
    for offset in offsets.chunks_exact(O::WIDTH).skip(1) {
        let offset = O::read(offset);
        ordered &= offset >= previous;
        previous = offset;
    }
    let last = previous;
    if !ordered || usize::try_from(last).map_or(true, |last| last > values.len()) {
        return Err(invalid(format!(
            "column {name:?}: offsets must not decrease and must stay within the {}-byte values",
            values.len()
        )));
    }
    if utf8 {
        // A string of valid UTF-8 cut only at character boundaries gives
        // valid strings, and valid strings put together are valid UTF-8.
        let text = &values[first as usize..last as usize];
        std::str::from_utf8(text)
            .map_err(|e| invalid(format!("column {name:?}: invalid UTF-8: {e}")))?;
        let mut boundaries = true;
        for offset in offsets.chunks_exact(O::WIDTH) {
            let at = (O::read(offset) - first) as usize;
            // Not a UTF-8 continuation byte (0b10xx_xxxx), or the end.
            boundaries &= text.get(at).is_none_or(|&b| (b as i8) >= -0x40);
        }
        if !boundaries {
            return Err(invalid(format!(
                "column {name:?}: an offset splits a UTF-8 character"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::flat::tests::every_type;
    use crate::{BatchDecoder, BatchEncoder, schema_to_bytes};

    /// A decoder that leaves all validation to arrow, for comparison.
    fn arrow_validated(schema_bytes: &[u8]) -> BatchDecoder {
        let mut decoder = BatchDecoder::new(schema_bytes).unwrap();
        decoder.checked = None;
        decoder
    }

    /// Changes bytes of valid messages, one at a time, at every position and
    /// then at random ones: whatever arrow's own validation refuses, the
    /// check refuses too, and what both accept decodes to the same batch.
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
            assert!(ours.checked.is_some(), "every_type is flat");
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
