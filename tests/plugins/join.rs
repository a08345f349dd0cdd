//! The `join` plugin.

use super::*;
use arrow::array::{ArrayRef, Int64Array, StringArray};

const CONFIG: &str = r#"{"left": {"key": "person_id", "columns": ["name"]},
    "right": {"key": "seller", "columns": ["auction_id"]}}"#;

/// A stream of people (`person_id`, `name`) and auctions (`seller`,
/// `auction_id`) where sellers come before and after their person
/// record, some never, and one person sells many times.
fn stream() -> RecordBatch {
    let mut person_id = Vec::new();
    let mut name = Vec::new();
    let mut seller = Vec::new();
    let mut auction_id = Vec::new();
    for n in 0..600_i64 {
        let person = n % 3 == 0;
        person_id.push(person.then_some(n / 3));
        name.push(person.then(|| format!("p{}", n / 3)));
        // Sellers range over ids up to 40 ahead of the newest person.
        seller.push((!person).then_some((n * 7919) % (n / 3 + 40)));
        auction_id.push((!person).then_some(n));
    }
    RecordBatch::try_from_iter([
        (
            "person_id",
            Arc::new(Int64Array::from(person_id)) as ArrayRef,
        ),
        ("name", Arc::new(StringArray::from(name)) as _),
        ("seller", Arc::new(Int64Array::from(seller)) as _),
        ("auction_id", Arc::new(Int64Array::from(auction_id)) as _),
    ])
    .unwrap()
}

/// (name, auction) pairs computed in plain Rust.
fn reference(input: &RecordBatch) -> Vec<(String, i64)> {
    let (people, names) = (ints(input, "person_id"), strings(input, "name"));
    let (sellers, auctions) = (ints(input, "seller"), ints(input, "auction_id"));
    let mut pairs = Vec::new();
    for (p, name) in people.iter().zip(&names) {
        for (s, a) in sellers.iter().zip(&auctions) {
            if p.is_some() && p == s {
                pairs.push((name.clone().unwrap(), a.unwrap()));
            }
        }
    }
    pairs.sort();
    pairs
}

fn pairs(batches: &[RecordBatch]) -> Vec<(String, i64)> {
    let out = concat(batches);
    assert_eq!(column_names(&out), ["name", "auction_id"]);
    let mut pairs: Vec<_> = strings(&out, "name")
        .into_iter()
        .zip(ints(&out, "auction_id"))
        .map(|(n, a)| (n.unwrap(), a.unwrap()))
        .collect();
    pairs.sort();
    pairs
}

fn run_in(t: &mut TransformInstance, batch: &RecordBatch) -> Vec<RecordBatch> {
    let processed = t.process(batch).unwrap();
    assert!(processed.rejected.is_empty());
    processed.batches
}

#[test]
fn every_matching_pair_is_emitted_once_whatever_the_order() {
    let input = stream();
    let expected = reference(&input);
    assert!(expected.len() > 300, "the data has many matches");
    for size in [1, 7, 600] {
        let mut t = transform(weir_plugin_artifacts::JOIN, CONFIG, &input).unwrap();
        let mut out = run_in(&mut t, &input.slice(0, 0));
        for start in (0..600).step_by(size) {
            out.extend(run_in(&mut t, &input.slice(start, size.min(600 - start))));
        }
        assert_eq!(pairs(&out), expected, "batches of {size} rows");
    }
}

#[test]
fn kept_rows_move_to_a_new_instance() {
    let input = stream();
    let mut first = transform(weir_plugin_artifacts::JOIN, CONFIG, &input).unwrap();
    let mut out = Vec::new();
    for start in (0..300).step_by(50) {
        out.extend(run_in(&mut first, &input.slice(start, 50)));
    }
    let state = first.snapshot().unwrap().expect("stateful");
    let mut second = transform(weir_plugin_artifacts::JOIN, CONFIG, &input).unwrap();
    second.restore(&state).unwrap();
    out.extend(run_in(&mut second, &input.slice(300, 300)));
    assert_eq!(pairs(&out), reference(&input));
    let err = second.restore(&state[..state.len() - 3]).unwrap_err();
    assert!(err.to_string().contains("join state"), "{err}");
}

#[test]
fn bad_config_says_which_field() {
    let input = stream();
    let cases = [
        (
            r#"{"left": {"key": "person_id", "columns": ["name"]}, "right": {"key": "name", "columns": ["auction_id"]}}"#,
            "join keys must be of one kind",
        ),
        (
            r#"{"left": {"key": "person_id", "columns": ["name"]}, "right": {"key": "seller", "columns": ["name"]}}"#,
            "field \"right.columns[0]\": \"name\" is already an output column; output names must differ",
        ),
        (
            r#"{"left": {"key": "person_id", "columns": ["name", "name"]}, "right": {"key": "seller", "columns": ["auction_id"]}}"#,
            "field \"left.columns[1]\"",
        ),
        (
            r#"{"left": {"key": "person_id", "columns": ["nam"]}, "right": {"key": "seller", "columns": ["auction_id"]}}"#,
            "left.columns[0]",
        ),
    ];
    for (config, expected) in cases {
        let err = transform(weir_plugin_artifacts::JOIN, config, &input)
            .err()
            .unwrap();
        assert!(err.to_string().contains(expected), "{config}: {err}");
    }
}
