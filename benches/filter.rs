//! The `filter` plugin against the same filter done natively, in one run.
//!
//! Batches of 8192 rows × 5 columns (i64, f64, utf8, timestamp, bool); the
//! work is `id > 500` (about half the rows) and a projection to 4 columns.
//!
//! - `native`: arrow's comparison kernel and `filter_record_batch` on the host;
//! - `wasm_selection`: the plugin reads `id` only and answers a bitmap, the
//!   host applies it (the default);
//! - `wasm_batches`: the plugin receives the 4 output columns and `id` and
//!   returns whole filtered batches;
//! - `wasm_selection_no_epoch`, `wasm_batches_no_epoch`: the same without
//!   epoch interruption (what deadlines cost);
//! - `wasm_per_record_json`: one call per record, JSON in and out (the model
//!   of per-record Wasm systems), with the JSON prepared outside the timing;
//! - the parts of the selection path (encode `id`, apply the bitmap);
//! - instantiation of a plugin instance, with and without the pooling allocator.
//!
//! Run: `cargo bench -p weir-e2e --bench filter`. Compare each throughput
//! with `native` of the same run.

#[path = "../tests/common/per_record.rs"]
mod per_record;
#[path = "filter_work.rs"]
mod work;

use std::hint::black_box;

use arrow::array::Int64Array;
use arrow::compute::filter_record_batch;
use arrow::compute::kernels::cmp::gt;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir::plugin::{EngineOptions, Limits, PluginEngine, TransformInstance};

use work::*;

const OUTPUT: [&str; 4] = ["id", "amount", "name", "at"];

fn benches(c: &mut Criterion) {
    let input = batch();
    let engine = PluginEngine::new(&EngineOptions::default()).unwrap();
    let plugin = engine
        .load_file(weir_plugin_artifacts::FILTER.as_ref())
        .unwrap();
    let open = |output: &str| {
        let mut t = TransformInstance::new(&engine, &plugin, "bench", &Limits::default()).unwrap();
        t.open(&filter_config(output), &input.schema()).unwrap();
        t
    };
    let (mut selection, mut whole) = (open("selection"), open("batches"));
    // All paths must agree before they are timed.
    let expected = native(&input);
    assert_eq!(
        selection.process(&input).unwrap().batches,
        vec![expected.clone()]
    );
    assert_eq!(
        whole.process(&input).unwrap().batches,
        vec![expected.clone()]
    );

    let mut group = c.benchmark_group("filter_8192x5");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("native", |b| b.iter(|| native(black_box(&input))));
    group.bench_function("wasm_selection", |b| {
        b.iter(|| selection.process(black_box(&input)).unwrap())
    });
    group.bench_function("wasm_batches", |b| {
        b.iter(|| whole.process(black_box(&input)).unwrap())
    });
    // What bounding every call by a deadline costs: the same plugin compiled
    // without epoch interruption checks.
    let unbounded = PluginEngine::new(&EngineOptions {
        epoch_interruption: false,
        cache_dir: None,
        ..EngineOptions::default()
    })
    .unwrap();
    let unbounded_plugin = unbounded
        .load_file(weir_plugin_artifacts::FILTER.as_ref())
        .unwrap();
    for output in ["selection", "batches"] {
        let mut t =
            TransformInstance::new(&unbounded, &unbounded_plugin, "bench", &Limits::default())
                .unwrap();
        t.open(&filter_config(output), &input.schema()).unwrap();
        assert_eq!(t.process(&input).unwrap().batches, vec![expected.clone()]);
        let name = match output {
            "selection" => "wasm_selection_no_epoch",
            _ => "wasm_batches_no_epoch",
        };
        group.bench_function(name, |b| b.iter(|| t.process(black_box(&input)).unwrap()));
    }

    let records = per_record::json_records(&input);
    let columns: Vec<String> = OUTPUT.iter().map(|s| s.to_string()).collect();
    let mut per_record = per_record::PerRecordFilter::new(
        weir_plugin_artifacts::BENCH_PER_RECORD,
        THRESHOLD,
        &columns,
    );
    let kept = records.iter().filter_map(|r| per_record.filter(r)).count();
    assert_eq!(kept, expected.num_rows());
    group.bench_function("wasm_per_record_json", |b| {
        b.iter(|| {
            records
                .iter()
                .filter_map(|r| per_record.filter(black_box(r)))
                .count()
        })
    });

    // The parts of the selection path that run on the host.
    let id_only = input.project(&[0]).unwrap();
    let mut encoder = weir_ipc::BatchEncoder::new(&id_only.schema()).unwrap();
    group.bench_function("part_encode_id_column", |b| {
        b.iter(|| encoder.encode(black_box(&id_only)).unwrap().len())
    });
    let id = input
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    let mask = gt(id, &Int64Array::new_scalar(THRESHOLD)).unwrap();
    let projected = input.project(&[0, 1, 2, 3]).unwrap();
    group.bench_function("part_apply_selection", |b| {
        b.iter(|| filter_record_batch(black_box(&projected), &mask).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("instantiate");
    for pooling in [true, false] {
        let engine = PluginEngine::new(&EngineOptions {
            pooling,
            ..EngineOptions::default()
        })
        .unwrap();
        let plugin = engine
            .load_file(weir_plugin_artifacts::FILTER.as_ref())
            .unwrap();
        let allocator = if pooling { "pooling" } else { "on_demand" };
        let instantiate =
            || TransformInstance::new(&engine, &plugin, "bench", &Limits::default()).unwrap();
        // Instantiation alone (the instance is dropped outside the timing),
        // then the whole cycle with the drop that returns its memory.
        group.bench_function(allocator, |b| {
            b.iter_custom(|iterations| {
                let mut total = std::time::Duration::ZERO;
                for _ in 0..iterations {
                    let started = std::time::Instant::now();
                    let instance = black_box(instantiate());
                    total += started.elapsed();
                    drop(instance);
                }
                total
            })
        });
        group.bench_function(format!("{allocator}_with_drop"), |b| b.iter(instantiate));
    }
    group.finish();
}

criterion_group! {
    name = filter;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .sample_size(30);
    targets = benches
}
criterion_main!(filter);
