//! The `filter` plugin.

use super::*;

const FILTER: &str = weir_plugin_artifacts::FILTER;

#[test]
fn keeps_matching_rows_with_sql_null_semantics() {
    let input = mixed_batch();
    let mut f = transform(
        FILTER,
        r#"{"predicate": "amount > 0 and name != 'eve' or id is null"}"#,
        &input,
    )
    .unwrap();
    let out = run(&mut f, &input);
    // Row 2 (amount null) is dropped: null > 0 is null, not true.
    assert_eq!(ints(&out, "id"), [Some(1), None]);
    assert_eq!(out.schema(), input.schema());
}

/// An arrow comparison kernel.
type Kernel = fn(
    &dyn arrow::array::Datum,
    &dyn arrow::array::Datum,
) -> Result<arrow::array::BooleanArray, arrow::error::ArrowError>;

/// The plugin compares 64-bit integer columns with a literal in its own
/// SIMD loop; it must agree with arrow's kernels on every operator, at
/// lengths around the 64-row word, with nulls and extreme values.
#[test]
fn integer_and_timestamp_comparisons_agree_with_arrow() {
    use arrow::array::{Int64Array, TimestampMillisecondArray};
    use arrow::compute::kernels::cmp;
    for len in [0, 1, 2, 63, 64, 65, 130] {
        let values: Vec<Option<i64>> = (0..len)
            .map(|i| match i % 7 {
                3 => None,
                5 => Some(i64::MIN),
                6 => Some(i64::MAX),
                _ => Some((i as i64 * 37) % 11 - 5),
            })
            .collect();
        let times = TimestampMillisecondArray::from(values.clone()).with_timezone("+00:00");
        let input = RecordBatch::try_from_iter([
            (
                "n",
                Arc::new(Int64Array::from(values.clone())) as arrow::array::ArrayRef,
            ),
            ("t", Arc::new(times.clone()) as arrow::array::ArrayRef),
        ])
        .unwrap();
        let ops: [(&str, Kernel); 6] = [
            ("=", cmp::eq),
            ("!=", cmp::neq),
            ("<", cmp::lt),
            ("<=", cmp::lt_eq),
            (">", cmp::gt),
            (">=", cmp::gt_eq),
        ];
        for (op, kernel) in ops {
            for column in ["n", "t"] {
                let mask = match column {
                    "n" => kernel(
                        &Int64Array::from(values.clone()),
                        &Int64Array::new_scalar(0),
                    ),
                    _ => kernel(
                        &times,
                        &arrow::array::Scalar::new(
                            TimestampMillisecondArray::from(vec![0]).with_timezone("+00:00"),
                        ),
                    ),
                }
                .unwrap();
                let expected = arrow::compute::filter_record_batch(&input, &mask).unwrap();
                let predicate = format!(r#"{{"predicate": "{column} {op} 0"}}"#);
                let mut f = transform(FILTER, &predicate, &input).unwrap();
                let out = concat(&f.process(&input).unwrap().batches);
                let got = if out.num_columns() == 0 {
                    input.slice(0, 0)
                } else {
                    out
                };
                assert_eq!(got, expected, "{column} {op} 0 on {len} rows");
            }
        }
    }
}

#[test]
fn answers_its_output_schema_and_mode_before_data() {
    let input = mixed_batch();
    let f = transform(
        FILTER,
        r#"{"predicate": "vip", "columns": ["name", "id"]}"#,
        &input,
    )
    .unwrap();
    let schema = f.output_schema().unwrap();
    let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["name", "id"]);
    assert!(matches!(f.output_mode(), Some(OutputMode::Derived { .. })));
}

#[test]
fn selection_and_whole_batch_outputs_agree() {
    let input = mixed_batch();
    let predicate = r#""predicate": "name in ['ann', 'cid', 'fay'] and not vip is null", "columns": ["id", "name", "at"]"#;
    let mut selection = transform(FILTER, &format!("{{{predicate}}}"), &input).unwrap();
    let mut batches = transform(
        FILTER,
        &format!(r#"{{{predicate}, "output": "batches"}}"#),
        &input,
    )
    .unwrap();
    assert!(matches!(batches.output_mode(), Some(OutputMode::Batches)));
    let (a, b) = (run(&mut selection, &input), run(&mut batches, &input));
    assert_eq!(a, b);
    assert_eq!(
        strings(&a, "name"),
        [Some("ann".into()), Some("cid".into()), Some("fay".into())]
    );
}

/// The host frames batches with the arrays' own buffers where it can
/// (one copy, into the plugin) and through arrow's writer otherwise
/// (sliced arrays, dictionaries): the plugin must receive the same rows
/// either way.
#[test]
fn sliced_and_dictionary_columns_reach_the_plugin_intact() {
    let mixed = mixed_batch();
    let labels: arrow::array::DictionaryArray<arrow::datatypes::Int32Type> =
        ["x", "y", "x", "z", "y", "x"].into_iter().collect();
    let mut columns = mixed.columns().to_vec();
    columns.push(Arc::new(labels));
    let mut fields = mixed.schema().fields().to_vec();
    fields.push(Arc::new(arrow::datatypes::Field::new(
        "label",
        columns[5].data_type().clone(),
        false,
    )));
    let with_labels =
        RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns).unwrap();
    let config = r#"{"predicate": "amount is null or amount >= 0", "output": "batches"}"#;
    for input in [
        mixed.slice(1, 4),
        with_labels.clone(),
        with_labels.slice(2, 3),
    ] {
        let mut f = transform(FILTER, config, &input).unwrap();
        let amount = input.column_by_name("amount").unwrap();
        let keep = arrow::compute::kernels::cmp::gt_eq(
            amount,
            &arrow::array::Float64Array::new_scalar(0.0),
        )
        .unwrap();
        let keep =
            arrow::compute::or_kleene(&keep, &arrow::compute::is_null(amount).unwrap()).unwrap();
        let expected = arrow::compute::filter_record_batch(&input, &keep).unwrap();
        assert!(expected.num_rows() > 0);
        assert_eq!(run(&mut f, &input), expected);
    }
}

#[test]
fn empty_batches_and_no_matches_give_empty_output() {
    let input = mixed_batch();
    let mut f = transform(FILTER, r#"{"predicate": "id > 100"}"#, &input).unwrap();
    assert_eq!(run(&mut f, &input).num_rows(), 0);
    assert_eq!(run(&mut f, &input.slice(0, 0)).num_rows(), 0);
}

#[test]
fn bad_config_is_invalid_config_that_says_where() {
    let input = mixed_batch();
    for (config, expected) in [
        (
            r#"{"predicate": "amount > 3 and nme = 'x'"}"#,
            "unknown column \"nme\"",
        ),
        (r#"{"predicate": "amount > "}"#, "offset 9"),
        (r#"{"predicate": "id > 'abc'"}"#, "cannot be compared"),
        (
            r#"{"predicate": "vip", "columns": ["nope"]}"#,
            "field \"columns\"",
        ),
        (r#"{"predicate": "vip", "colums": []}"#, "colums"),
        (r#"{}"#, "predicate"),
    ] {
        let err = transform(FILTER, config, &input).err().expect(config);
        assert_eq!(
            err.guest_kind(),
            Some(GuestErrorKind::InvalidConfig),
            "{config}: {err}"
        );
        assert!(err.to_string().contains(expected), "{config}: {err}");
        assert!(
            err.to_string().contains("test-node"),
            "the error names the node: {err}"
        );
    }
}
