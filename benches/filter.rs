//! The `filter` plugin against the same filter done natively, in one run.
//!
//! Batches of 8192 rows × 5 columns (i64, f64, utf8, timestamp, bool); the
//! work is `id > 500` (about half the rows) and a projection to 4 columns.
//!
//! - `native`: arrow's comparison kernel and `filter_record_batch` on the host;
//! - `native_sdk_kernel`: the same with the SDK's filter kernel, which the
//!   plugin's whole-batch path runs in Wasm (tuned for Wasm; shown natively so
//!   the Wasm cost is visible apart from the kernel's);
//! - `wasm_selection`: the plugin reads `id` only and answers a bitmap, the
//!   host applies it (the default);
//! - `wasm_batches`: the plugin receives the 4 output columns and `id` and
//!   returns whole filtered batches;
//! - `wasm_selection_no_epoch`, `wasm_batches_no_epoch`: the same without
//!   epoch interruption (what deadlines cost);
//! - `wasm_per_record_json`: one call per record, JSON in and out (the model
//!   of per-record Wasm systems), with the JSON prepared outside the timing;
//! - the host's parts of the selection path (encode `id`, apply the bitmap)
//!   and of the whole-batch path (copy in, copy out and decode);
//! - instantiation of a plugin instance, with and without the pooling allocator;
//! - `paired`: native, selection and whole batch interleaved call by call,
//!   printed as medians and ratios to native (robust to the machine's drift).
//!
//! Run: `cargo bench -p weir-e2e --bench filter`. Compare each throughput
//! with `native` of the same run.

#[path = "../tests/common/per_record.rs"]
mod per_record;
#[path = "filter_work.rs"]
mod work;

use std::hint::black_box;
use std::time::{Duration, Instant};
use weir::plugin::PluginInstance;

use arrow::array::RecordBatch;
use arrow::compute::filter_record_batch;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir::plugin::{EngineOptions, Limits, Plugin, PluginEngine, TransformInstance};

use work::*;

const OUTPUT: [&str; 4] = ["id", "amount", "name", "at"];

fn benches(c: &mut Criterion) {
    let input = batch();
    let engine = PluginEngine::new(&EngineOptions::default()).unwrap();
    let plugin = engine
        .load_file(weir_plugin_artifacts::FILTER.as_ref())
        .unwrap();
    let open = |output| filter_instance(&engine, &plugin, output, &input);
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

    let mut group = c.benchmark_group(format!("filter_{}x5", input.num_rows()));
    group.throughput(Throughput::Elements(input.num_rows() as u64));
    group.bench_function("native", |b| b.iter(|| native(black_box(&input))));
    assert_eq!(native_sdk_kernel(&input), expected);
    group.bench_function("native_sdk_kernel", |b| {
        b.iter(|| native_sdk_kernel(black_box(&input)))
    });
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
        let mut t = filter_instance(&unbounded, &unbounded_plugin, output, &input);
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
    let mask = mask(&input);
    let projected = input.project(&[0, 1, 2, 3]).unwrap();
    group.bench_function("part_apply_selection", |b| {
        b.iter(|| filter_record_batch(black_box(&projected), &mask).unwrap())
    });

    // The host's parts of the whole-batch path: the 4 read columns framed
    // and copied once (into the guest, here into a buffer), and the output
    // copied out and decoded with validation (the guest is not trusted).
    let mut encoder = weir_ipc::BatchEncoder::new(&projected.schema()).unwrap();
    let mut guest_memory = Vec::new();
    group.bench_function("part_batches_copy_in", |b| {
        b.iter(|| {
            let framed = encoder.frame(black_box(&projected), None).unwrap();
            guest_memory.resize(framed.len(), 0);
            framed.write_to(&mut guest_memory);
        })
    });
    let output = weir_ipc::BatchEncoder::new(&expected.schema())
        .unwrap()
        .encode_owned(&expected)
        .unwrap();
    let mut decoder =
        weir_ipc::BatchDecoder::new(&weir_ipc::schema_to_bytes(&expected.schema()).unwrap())
            .unwrap();
    group.bench_function("part_batches_copy_out_and_decode", |b| {
        b.iter(|| decoder.decode(black_box(&output).clone()).unwrap())
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
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let started = Instant::now();
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

/// The same filter with the SDK's Wasm-tuned kernel
/// (`weir_sdk::compute::filter_record_batch`) run natively: what the plugin's
/// whole-batch path computes, without Wasm.
fn native_sdk_kernel(batch: &RecordBatch) -> RecordBatch {
    weir_sdk::compute::filter_record_batch(&batch.project(&[0, 1, 2, 3]).unwrap(), &mask(batch))
        .unwrap()
}

/// A `filter` instance opened on `input`'s schema with output `output`.
fn filter_instance(
    engine: &PluginEngine,
    plugin: &Plugin,
    output: &str,
    input: &RecordBatch,
) -> TransformInstance {
    let mut t = TransformInstance::new(engine, plugin, "bench", &Limits::default()).unwrap();
    t.open(&filter_config(output), &input.schema()).unwrap();
    t
}

/// One way of doing the filter, answering the rows it kept.
type Path<'a> = dyn FnMut(&RecordBatch) -> usize + 'a;

/// Native, selection and whole-batch calls interleaved round by round (the
/// order rotating), so every ratio compares calls made in the same moments:
/// criterion measures each path in its own few seconds, and on a shared VM
/// those drift apart by ±20 % from run to run. Prints the median time of
/// each path and its ratio to native.
///
/// `FILTER_BENCH_ROWS=64` (say) runs it on smaller batches, where the fixed
/// cost of a call shows.
fn paired(_: &mut Criterion) {
    const ROUNDS: usize = 3000;
    let input = batch();
    let rows = input.num_rows();
    let engine = PluginEngine::new(&EngineOptions::default()).unwrap();
    let plugin = engine
        .load_file(weir_plugin_artifacts::FILTER.as_ref())
        .unwrap();
    let open = |output| {
        let mut t = filter_instance(&engine, &plugin, output, &input);
        move |batch: &RecordBatch| t.process(batch).unwrap().batches[0].num_rows()
    };
    let (mut selection, mut whole) = (open("selection"), open("batches"));
    let paths: [(&str, &mut Path); 4] = [
        ("native", &mut |b| native(b).num_rows()),
        ("native_sdk_kernel", &mut |b| {
            native_sdk_kernel(b).num_rows()
        }),
        ("wasm_selection", &mut selection),
        ("wasm_batches", &mut whole),
    ];
    let mut times = vec![Vec::with_capacity(ROUNDS); paths.len()];
    for round in 0..ROUNDS {
        for k in 0..paths.len() {
            let path = (round + k) % paths.len();
            let started = Instant::now();
            black_box((paths[path].1)(black_box(&input)));
            times[path].push(started.elapsed());
        }
    }
    let medians: Vec<Duration> = times
        .iter_mut()
        .map(|t| {
            t.sort_unstable();
            t[t.len() / 2]
        })
        .collect();
    println!("paired, {rows} rows, median of {ROUNDS} interleaved calls per path:");
    for ((name, _), median) in paths.iter().zip(&medians) {
        println!(
            "  {name:<18} {:>7.1} µs  {:>6.1} M rows/s  {:>4.0} % of native",
            median.as_secs_f64() * 1e6,
            rows as f64 / median.as_secs_f64() / 1e6,
            100.0 * medians[0].as_secs_f64() / median.as_secs_f64()
        );
    }
}

criterion_group! {
    name = filter;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = benches, paired
}
criterion_main!(filter);
