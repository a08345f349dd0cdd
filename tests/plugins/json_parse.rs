//! The `json-parse` plugin.

use super::*;
use arrow::array::{ArrayRef, StringArray};

fn payloads(rows: &[Option<&str>]) -> RecordBatch {
    let id: ArrayRef = Arc::new(arrow::array::Int64Array::from_iter_values(
        0..rows.len() as i64,
    ));
    let payload: ArrayRef = Arc::new(StringArray::from(rows.to_vec()));
    RecordBatch::try_from_iter([("id", id), ("payload", payload)]).unwrap()
}

const CONFIG: &str = r#"{"column": "payload", "fields": [
    {"name": "user", "type": "int64", "required": true},
    {"name": "page", "type": "utf8"},
    {"name": "price", "type": "float64", "path": "cart.price"},
    {"name": "at", "type": "timestamp[ms]"}
]}"#;

#[test]
fn parses_typed_columns_and_rejects_bad_rows_with_reasons() {
    let input = payloads(&[
        Some(r#"{"user": 1, "page": "/", "cart": {"price": 9.5}, "at": "2026-11-25T10:00:00Z"}"#),
        Some(r#"{"user": "x"}"#),
        Some("not json"),
        None,
        Some(r#"{"page": "/help"}"#),
        Some(r#"{"user": 6, "page": null, "at": 1000}"#),
        Some("[1, 2]"),
    ]);
    let mut t = transform(weir_plugin_artifacts::JSON_PARSE, CONFIG, &input).unwrap();
    let processed = t.process(&input).unwrap();
    let out = concat(&processed.batches);
    assert_eq!(ints(&out, "id"), [Some(0), Some(5)]);
    assert_eq!(ints(&out, "user"), [Some(1), Some(6)]);
    assert_eq!(strings(&out, "page"), [Some("/".into()), None]);
    assert_eq!(floats(&out, "price"), [Some(9.5), None]);
    assert!(out.column_by_name("payload").is_none());
    let rejected: Vec<(usize, &str)> = processed
        .rejected
        .iter()
        .map(|r| (r.row, r.message.as_str()))
        .collect();
    assert_eq!(
        rejected.iter().map(|r| r.0).collect::<Vec<_>>(),
        [1, 2, 3, 4, 6]
    );
    assert!(
        rejected[0]
            .1
            .contains("\"user\": expected Int64, found text"),
        "{rejected:?}"
    );
    assert!(rejected[1].1.contains("not JSON"), "{rejected:?}");
    assert!(rejected[2].1.contains("null"), "{rejected:?}");
    assert!(
        rejected[3].1.contains("required but missing"),
        "{rejected:?}"
    );
    assert!(rejected[4].1.contains("an array"), "{rejected:?}");
    // Every input row is accounted for: output + rejected.
    assert_eq!(out.num_rows() + processed.rejected.len(), input.num_rows());
    assert_eq!(run(&mut t, &input.slice(0, 0)).num_rows(), 0);
}

#[test]
fn the_column_must_be_text() {
    let input = payloads(&[]);
    let err = transform(
        weir_plugin_artifacts::JSON_PARSE,
        r#"{"column": "id", "fields": [{"name": "a", "type": "utf8"}]}"#,
        &input,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("not text"), "{err}");
}
