//! The `anomaly` plugin.

use super::*;
use arrow::array::{Float64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

const CONFIG: &str = r#"{"keys": ["device"], "value": "value", "threshold": 4, "min_samples": 10}"#;

/// Device `a` hovers around 20, device `b` around 100; `spikes` are
/// (row, value) replacements.
fn readings(rows: usize, spikes: &[(usize, f64)]) -> RecordBatch {
    let device: Vec<&str> = (0..rows).map(|r| ["a", "b"][r % 2]).collect();
    let value: Vec<Option<f64>> = (0..rows)
        .map(|r| {
            let base = [20.0, 100.0][r % 2];
            let wobble = ((r * 7919) % 11) as f64 / 10.0 - 0.5;
            Some(
                spikes
                    .iter()
                    .find(|s| s.0 == r)
                    .map_or(base + wobble, |s| s.1),
            )
        })
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("device", DataType::Utf8, false),
            Field::new("value", DataType::Float64, true),
        ])),
        vec![
            Arc::new(StringArray::from(device)),
            Arc::new(Float64Array::from(value)),
        ],
    )
    .unwrap()
}

fn flagged(batch: &RecordBatch) -> Vec<usize> {
    let flags = column::<arrow::array::BooleanArray>(batch, "anomaly");
    (0..flags.len()).filter(|&r| flags.value(r)).collect()
}

#[test]
fn flags_a_spike_per_series_and_keeps_every_row() {
    // 100 is normal for b but a spike for a; 20 is a spike for b.
    let input = readings(200, &[(5, 100.0), (60, 100.0), (81, 20.0), (120, f64::NAN)]);
    let mut t = transform(weir_plugin_artifacts::ANOMALY, CONFIG, &input).unwrap();
    let out = run(&mut t, &input);
    assert_eq!(out.num_rows(), 200);
    assert_eq!(column_names(&out), ["device", "value", "zscore", "anomaly"]);
    // Row 5 comes before a has 10 readings: too early to judge.
    assert_eq!(floats(&out, "zscore")[5], None);
    assert_eq!(flagged(&out), [60, 81, 120]);
    let z = floats(&out, "zscore");
    assert!(z[60].unwrap() > 4.0 && z[81].unwrap() < -4.0, "{z:?}");
}

#[test]
fn series_statistics_move_to_a_new_instance() {
    let input = readings(200, &[(150, 30.0)]);
    let mut whole = transform(weir_plugin_artifacts::ANOMALY, CONFIG, &input).unwrap();
    let expected = run(&mut whole, &input);

    let mut first = transform(weir_plugin_artifacts::ANOMALY, CONFIG, &input).unwrap();
    let head = run(&mut first, &input.slice(0, 100));
    let state = first.snapshot().unwrap().expect("stateful");
    let mut second = transform(weir_plugin_artifacts::ANOMALY, CONFIG, &input).unwrap();
    second.restore(&state).unwrap();
    let tail = run(&mut second, &input.slice(100, 100));
    assert_eq!(concat(&[head, tail]), expected);
    assert_eq!(flagged(&expected), [150]);
}

#[test]
fn a_text_value_column_is_refused_naming_it() {
    let input = readings(10, &[]);
    let err = transform(
        weir_plugin_artifacts::ANOMALY,
        r#"{"keys": ["device"], "value": "device"}"#,
        &input,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("\"value\""), "{err}");
    assert!(err.to_string().contains("must be numeric"), "{err}");
}
