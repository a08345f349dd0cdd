//! The `window-aggregate` plugin.

use super::*;
use std::collections::BTreeMap;

const CONFIG: &str = r#"{"time_column": "event_time", "window": "1m", "keys": ["page"],
    "aggregates": [{"op": "count"}, {"op": "sum", "column": "price", "as": "revenue"}, {"op": "max", "column": "price"}]}"#;

fn clicks(rows: u64) -> RecordBatch {
    let plugin = load(weir_plugin_artifacts::GENERATE);
    let mut source = SourceInstance::new(engine(), &plugin, "gen", &Limits::default()).unwrap();
    source
        .open(&format!(r#"{{"rows": {rows}, "step_ms": 250}}"#))
        .unwrap();
    let mut batches = Vec::new();
    while let Poll::Batch(b) = source.next(10_000).unwrap() {
        batches.push(b);
    }
    concat(&batches)
}

/// Event count and revenue per (window start, page).
type Totals = std::collections::BTreeMap<(i64, String), (i64, f64)>;

/// Totals per (window, page) computed in plain Rust.
fn reference(input: &RecordBatch) -> Totals {
    let times = column::<arrow::array::TimestampMillisecondArray>(input, "event_time");
    let pages = strings(input, "page");
    let prices = floats(input, "price");
    let mut totals = std::collections::BTreeMap::new();
    for row in 0..input.num_rows() {
        let entry = totals
            .entry((
                times.value(row) / 60_000 * 60_000,
                pages[row].clone().unwrap(),
            ))
            .or_insert((0, 0.0));
        entry.0 += 1;
        entry.1 += prices[row].unwrap_or(0.0);
    }
    totals
}

fn totals(batches: &[RecordBatch]) -> Totals {
    let out = concat(batches);
    let starts = column::<arrow::array::TimestampMillisecondArray>(&out, "window_start");
    let (pages, counts, revenue) = (
        strings(&out, "page"),
        ints(&out, "count"),
        floats(&out, "revenue"),
    );
    (0..out.num_rows())
        .map(|r| {
            (
                (starts.value(r), pages[r].clone().unwrap()),
                (counts[r].unwrap(), revenue[r].unwrap_or(0.0)),
            )
        })
        .collect()
}

fn assert_same(a: &Totals, b: &Totals) {
    assert_eq!(a.len(), b.len());
    for ((k, (ca, ra)), (kb, (cb, rb))) in a.iter().zip(b) {
        assert_eq!((k, ca), (kb, cb));
        assert!((ra - rb).abs() < 1e-6, "{k:?}: {ra} vs {rb}");
    }
}

#[test]
fn closed_windows_match_a_reference_and_emit_before_the_end() {
    let input = clicks(2000);
    let mut t = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, CONFIG, &input).unwrap();
    let time_column = input.schema().index_of("event_time").ok();
    assert_eq!(t.event_time(), time_column, "the host moves its clock");
    let mut out = run_batches(&mut t, &input.slice(0, 0));
    for start in (0..input.num_rows()).step_by(300) {
        let batch = input.slice(start, 300.min(input.num_rows() - start));
        let processed = run_batches(&mut t, &batch);
        assert!(
            processed.is_empty(),
            "windows close only when the host moves the clock"
        );
        out.extend(advance_past(&mut t, &batch));
    }
    assert!(!out.is_empty(), "windows close while data flows");
    out.extend(t.finish().unwrap());
    assert_same(&totals(&out), &reference(&input));
}

/// Moves the clock to `batch`'s newest event time, as the host does
/// for one input of one part; answers the windows that closes.
fn advance_past(t: &mut TransformInstance, batch: &RecordBatch) -> Vec<RecordBatch> {
    let times = column::<arrow::array::TimestampMillisecondArray>(batch, "event_time");
    t.advance(arrow::compute::max(times).unwrap()).unwrap()
}

fn run_batches(t: &mut TransformInstance, batch: &RecordBatch) -> Vec<RecordBatch> {
    let processed = t.process(batch).unwrap();
    assert!(processed.rejected.is_empty());
    processed.batches
}

#[test]
fn state_moves_to_a_new_instance_mid_window() {
    let input = clicks(2000);
    let mut first = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, CONFIG, &input).unwrap();
    let mut out = run_batches(&mut first, &input.slice(0, 1111));
    let state = first.snapshot().unwrap().expect("stateful");
    let mut second = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, CONFIG, &input).unwrap();
    second.restore(&state).unwrap();
    out.extend(run_batches(&mut second, &input.slice(1111, 889)));
    out.extend(second.finish().unwrap());
    assert_same(&totals(&out), &reference(&input));
}

#[test]
fn late_events_are_rejected_not_dropped() {
    let input = clicks(1000);
    let mut t = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, CONFIG, &input).unwrap();
    let later = input.slice(500, 500);
    run_batches(&mut t, &later);
    advance_past(&mut t, &later);
    let processed = t.process(&input.slice(0, 10)).unwrap();
    assert_eq!(processed.rejected.len(), 10);
    assert!(
        processed.rejected[0]
            .message
            .contains("late event at 2026-11-25T00:00:00.000Z: its window starting at 2026-11-25T00:00:00.000Z"),
        "{:?}",
        processed.rejected[0]
    );
}

/// Hopping windows of 1 minute every 20 s: per window, the page(s)
/// with the most events, computed in plain Rust.
fn top_pages(input: &RecordBatch) -> Vec<(i64, String, i64)> {
    let times = column::<arrow::array::TimestampMillisecondArray>(input, "event_time");
    let pages = strings(input, "page");
    let mut windows = BTreeMap::<i64, BTreeMap<String, i64>>::new();
    for (&time, page) in times.values().iter().zip(&pages) {
        // Every window [start, start + 60 s) holding `time`; one starts every 20 s.
        let mut start = time - time.rem_euclid(20_000);
        while start > time - 60_000 {
            *windows
                .entry(start)
                .or_default()
                .entry(page.clone().unwrap())
                .or_default() += 1;
            start -= 20_000;
        }
    }
    let mut top = Vec::new();
    for (start, counts) in windows {
        let most = counts.values().copied().max();
        top.extend(
            counts
                .into_iter()
                .filter(|(_, c)| Some(*c) == most)
                .map(|(p, c)| (start, p, c)),
        );
    }
    top
}

#[test]
fn hopping_windows_emit_their_top_groups() {
    let input = clicks(3000);
    let config = r#"{"time_column": "event_time", "window": "1m", "slide": "20s", "keys": ["page"],
        "aggregates": [{"op": "count", "as": "events"}], "top": {"by": "events"}}"#;
    let mut t = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, config, &input).unwrap();
    let mut out = Vec::new();
    for start in (0..3000).step_by(250) {
        if start == 1500 {
            // Mid-window, the open panes move to a new instance.
            let state = t.snapshot().unwrap().expect("stateful");
            t = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, config, &input).unwrap();
            t.restore(&state).unwrap();
        }
        out.extend(run_batches(&mut t, &input.slice(start, 250)));
    }
    out.extend(t.finish().unwrap());
    let out = concat(&out);
    let starts = column::<arrow::array::TimestampMillisecondArray>(&out, "window_start");
    let got: Vec<(i64, String, i64)> = (0..out.num_rows())
        .map(|r| {
            (
                starts.value(r),
                strings(&out, "page")[r].clone().unwrap(),
                ints(&out, "events")[r].unwrap(),
            )
        })
        .collect();
    let expected = top_pages(&input);
    assert!(expected.len() > 3 * 750 / 60, "every window has a top page");
    assert_eq!(got, expected);
}

#[test]
fn bad_config_says_which_field() {
    let input = clicks(1);
    let config = r#"{"time_column": "page", "window": "1m", "aggregates": [{"op": "count"}]}"#;
    let err = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, config, &input)
        .err()
        .unwrap();
    assert!(err.to_string().contains("not a timestamp"), "{err}");
    let config = r#"{"time_column": "event_time", "window": "1 fortnight", "aggregates": [{"op": "count"}]}"#;
    let err = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, config, &input)
        .err()
        .unwrap();
    assert!(err.to_string().contains("field \"window\""), "{err}");
    let config = r#"{"time_column": "event_time", "window": "1m", "slide": "2m", "aggregates": [{"op": "count"}]}"#;
    let err = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, config, &input)
        .err()
        .unwrap();
    assert!(err.to_string().contains("field \"slide\""), "{err}");
    let config = r#"{"time_column": "event_time", "window": "1m", "aggregates": [{"op": "count"}], "top": {"by": "total"}}"#;
    let err = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, config, &input)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("\"total\" is not an aggregate"),
        "{err}"
    );
}
