//! The `generate` plugin.

use super::*;

fn open(config: &str) -> SourceInstance {
    let plugin = load(weir_plugin_artifacts::GENERATE);
    let mut source = SourceInstance::new(engine(), &plugin, "gen", &Limits::default()).unwrap();
    source.open(config).unwrap();
    source
}

fn drain(source: &mut SourceInstance, max_rows: u32) -> Vec<RecordBatch> {
    let mut batches = Vec::new();
    loop {
        match source.next(max_rows).unwrap() {
            Poll::Batch(b) => batches.push(b),
            Poll::Wait(_) => panic!("unexpected wait without a rate"),
            Poll::Done => return batches,
        }
    }
}

#[test]
fn a_rate_batches_by_time_not_by_row() {
    // 2000 rows/s: 100 ms worth is 200 rows a batch, however often the
    // host asks (here: as soon as it is told to).
    let mut source = open(r#"{"rows": 1000, "rate": 2000}"#);
    let mut sizes = Vec::new();
    loop {
        match source.next(8192).unwrap() {
            Poll::Batch(b) => sizes.push(b.num_rows()),
            Poll::Wait(wait) => std::thread::sleep(wait),
            Poll::Done => break,
        }
    }
    assert_eq!(sizes.iter().sum::<usize>(), 1000);
    // All but the last, which holds what is left.
    let (_, full) = sizes.split_last().unwrap();
    assert!(full.iter().all(|&rows| rows >= 200), "{sizes:?}");
    assert!(sizes.len() <= 5, "{sizes:?}");
}

#[test]
fn bounded_output_is_deterministic_and_batch_size_independent() {
    for dataset in ["clickstream", "iot", "nexmark"] {
        let config = format!(r#"{{"dataset": "{dataset}", "rows": 2500, "seed": 7}}"#);
        let small = concat(&drain(&mut open(&config), 100));
        let large = concat(&drain(&mut open(&config), 4096));
        assert_eq!(small.num_rows(), 2500);
        assert_eq!(small, large);
    }
}

#[test]
fn the_nexmark_stream_in_wasm_is_the_native_generator_s() {
    let config = r#"{"dataset": "nexmark", "rows": 5000, "seed": 3, "start_ms": 0, "step_ms": 1}"#;
    let wasm = concat(&drain(&mut open(config), 1024));
    assert_eq!(wasm, weir_plugin_generate::nexmark::rows(3, 0, 1, 0, 5000));
    let bids = arrow::compute::kernels::cmp::eq(
        wasm.column_by_name("event_type").unwrap(),
        &arrow::array::StringArray::new_scalar("bid"),
    )
    .unwrap();
    assert_eq!(bids.true_count(), 5000 / 50 * 46);
}

#[test]
fn restore_resumes_at_the_snapshot_position() {
    let config = r#"{"rows": 1000}"#;
    let mut first = open(config);
    let Poll::Batch(head) = first.next(300).unwrap() else {
        panic!()
    };
    let position = first.snapshot().unwrap().expect("generate has a position");
    let mut resumed = open(config);
    resumed.restore(&position).unwrap();
    let tail = concat(&drain(&mut resumed, 1000));
    assert_eq!(
        concat(&[head, tail]),
        concat(&drain(&mut open(config), 1000))
    );
}

#[test]
fn a_rate_makes_it_wait() {
    let mut source = open(r#"{"rate": 10}"#);
    let Poll::Batch(batch) = source.next(1000).unwrap() else {
        panic!()
    };
    assert!(batch.num_rows() <= 2);
    assert!(matches!(source.next(1000).unwrap(), Poll::Wait(_)));
}

#[test]
fn bad_rate_is_invalid_config() {
    let plugin = load(weir_plugin_artifacts::GENERATE);
    let mut source = SourceInstance::new(engine(), &plugin, "gen", &Limits::default()).unwrap();
    let err = source.open(r#"{"rate": -1}"#).unwrap_err();
    assert_eq!(err.guest_kind(), Some(GuestErrorKind::InvalidConfig));
    assert!(err.to_string().contains("rate"), "{err}");
}
