//! `mode: merge` of the `delta` sink: the changes of a checkpoint (rows with
//! an operation column, as change-data-capture sources produce: `c`, `r`,
//! `u` insert or update a row, `d` deletes it) reduced to the last change
//! of each key, and the table's rows those keys replace.

use std::collections::{BTreeSet, HashMap};

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, UInt32Array};
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::{ConnectorError, config_error};

/// What a checkpoint's changes come to.
pub(super) struct Reduced {
    /// The rows to write: the last insert or update of every key whose
    /// last change is not a delete, in arrival order, without the
    /// operation column.
    pub upserts: RecordBatch,
    /// Every key changed: the table's rows with these keys are replaced.
    pub keys: BTreeSet<String>,
}

/// Checks that every row of `batch` has an operation `c`, `r`, `u` or `d`
/// in column `op`; names the first that does not.
pub(super) fn check_operations(batch: &RecordBatch, op: &str) -> Result<(), ConnectorError> {
    let wrong = |message: &str| config_error("op_column", message);
    let column = batch
        .column_by_name(op)
        .ok_or_else(|| wrong(&format!("no column {op:?}")))?
        .as_string_opt::<i32>()
        .ok_or_else(|| wrong(&format!("column {op:?} is not utf8")))?;
    for (row, value) in column.iter().enumerate() {
        if !matches!(value, Some("c" | "r" | "u" | "d")) {
            return Err(wrong(&format!(
                "row {row} of the batch: {op} is {value:?}; expected c, r, u (insert or update) or d (delete)"
            )));
        }
    }
    Ok(())
}

/// Reduces `batches` (in arrival order, with operation column `op`) to
/// the last change of each key of columns `keys`.
pub(super) fn reduce(
    batches: &[RecordBatch],
    keys: &[String],
    op: &str,
) -> Result<Reduced, ArrowError> {
    let schema = batches[0].schema();
    let all = arrow::compute::concat_batches(&schema, batches)?;
    let names = key_strings(&all, keys)?;
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(names.len());
    for (row, name) in names.iter().enumerate() {
        last.insert(name, row);
    }
    let ops = all
        .column_by_name(op)
        .expect("checked when written")
        .as_string::<i32>();
    let mut kept: Vec<u32> = last
        .values()
        .filter(|&&row| ops.value(row) != "d")
        .map(|&row| row as u32)
        .collect();
    kept.sort_unstable();
    let mut upserts = arrow::compute::take_record_batch(&all, &UInt32Array::from(kept))?;
    upserts.remove_column(schema.index_of(op)?);
    Ok(Reduced {
        upserts,
        keys: names.into_iter().collect(),
    })
}

/// `rows` without those whose key is in `keys` (`None`: none of them
/// has one).
pub(super) fn without_keys(
    rows: &RecordBatch,
    key_columns: &[String],
    keys: &BTreeSet<String>,
) -> Result<Option<RecordBatch>, ArrowError> {
    let names = key_strings(rows, key_columns)?;
    let keep: BooleanArray = names.iter().map(|n| Some(!keys.contains(n))).collect();
    if keep.true_count() == rows.num_rows() {
        return Ok(None);
    }
    arrow::compute::filter_record_batch(rows, &keep).map(Some)
}

/// Each row's key: its key columns' values as text, joined by a unit
/// separator (a null is a NUL).
fn key_strings(batch: &RecordBatch, keys: &[String]) -> Result<Vec<String>, ArrowError> {
    let options = FormatOptions::default();
    let columns = keys
        .iter()
        .map(|key| {
            let column = batch
                .column_by_name(key)
                .ok_or_else(|| ArrowError::SchemaError(format!("no key column {key:?}")))?;
            Ok((column, ArrayFormatter::try_new(column.as_ref(), &options)?))
        })
        .collect::<Result<Vec<_>, ArrowError>>()?;
    Ok((0..batch.num_rows())
        .map(|row| {
            let mut name = String::new();
            for (i, (column, format)) in columns.iter().enumerate() {
                if i > 0 {
                    name.push('\u{1f}');
                }
                match column.is_null(row) {
                    true => name.push('\u{0}'),
                    false => name.push_str(&format.value(row).to_string()),
                }
            }
            name
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use std::sync::Arc;

    fn changes(rows: &[(i64, &str, &str)]) -> RecordBatch {
        RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))) as _,
            ),
            (
                "name",
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))) as _,
            ),
            (
                "op",
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))) as _,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn the_last_change_of_a_key_wins_and_a_delete_leaves_no_row() {
        let batches = [
            changes(&[(1, "a", "c"), (2, "b", "c"), (3, "c", "c")]),
            changes(&[(2, "B", "u"), (3, "c", "d"), (4, "d", "r"), (1, "A", "u")]),
        ];
        let reduced = reduce(&batches, &["id".into()], "op").unwrap();
        assert_eq!(reduced.upserts.num_columns(), 2, "no op column");
        let ids = reduced
            .upserts
            .column(0)
            .as_primitive::<arrow::datatypes::Int64Type>();
        let names = reduced.upserts.column(1).as_string::<i32>();
        let rows: Vec<(i64, &str)> = ids
            .values()
            .iter()
            .copied()
            .zip(names.iter().flatten())
            .collect();
        assert_eq!(rows, [(2, "B"), (4, "d"), (1, "A")], "in arrival order");
        assert_eq!(reduced.keys.len(), 4);
        let table = changes(&[(1, "a", "-"), (3, "c", "-"), (9, "z", "-")]);
        let left = without_keys(&table, &["id".into()], &reduced.keys)
            .unwrap()
            .unwrap();
        assert_eq!(left.num_rows(), 1, "only key 9 was not changed");
        let untouched = changes(&[(9, "z", "-")]);
        assert!(
            without_keys(&untouched, &["id".into()], &reduced.keys)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn an_unknown_operation_is_named() {
        let error = check_operations(&changes(&[(1, "a", "c"), (2, "b", "x")]), "op")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("row 1") && error.contains("\"x\""),
            "{error}"
        );
    }
}
