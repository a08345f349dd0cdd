//! The `expect` plugin, called directly: which rows a rule rejects, that
//! the others pass unchanged, and what `fail` answers.

use super::*;

#[test]
fn rejected_rows_leave_with_the_rules_name_and_the_rest_pass_unchanged() {
    let input = mixed_batch();
    let config = r#"{"rules": [
        {"name": "id_present", "not_null": "id", "severity": "reject"},
        {"name": "not_negative", "range": {"column": "amount", "min": 0}, "severity": "reject"},
        {"name": "short_name", "regex": {"column": "name", "pattern": "^...$"}}
    ]}"#;
    let mut t = transform(weir_plugin_artifacts::EXPECT, config, &input).unwrap();
    let processed = t.process(&input).unwrap();
    let rejected: Vec<(usize, &str)> = processed
        .rejected
        .iter()
        .map(|r| (r.row, r.message.as_str()))
        .collect();
    assert_eq!(
        rejected,
        [
            (2, "rule id_present (not_null id) failed: null"),
            (3, "rule not_negative (range amount) failed: \"-4.0\"")
        ]
    );
    let out = concat(&processed.batches);
    let kept = arrow::compute::filter_record_batch(
        &input,
        &arrow::array::BooleanArray::from(vec![true, true, false, false, true, true]),
    )
    .unwrap();
    assert_eq!(out, kept, "every column of the other rows, unchanged");
}

#[test]
fn a_fail_rule_answers_invalid_input_naming_the_rule_and_the_row() {
    let input = mixed_batch();
    let config =
        r#"{"rules": [{"name": "positive", "predicate": "amount > 0", "severity": "fail"}]}"#;
    let mut t = transform(weir_plugin_artifacts::EXPECT, config, &input).unwrap();
    let error = t.process(&input).unwrap_err();
    assert_eq!(error.guest_kind(), Some(GuestErrorKind::InvalidInput));
    let message = error.to_string();
    assert!(
        message.contains("rule positive (predicate amount > 0, severity fail) failed for 2 of 6 rows; the first is row 3"),
        "{message}"
    );
}
