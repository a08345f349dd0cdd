//! Instruction counts of the filter paths, for callgrind: on a shared VM
//! wall-clock medians move by ±20 % from run to run, instruction counts do
//! not. `filter_instructions PATH N` runs one path N times after the same
//! setup; `scripts/bench-instructions.sh` runs each path under callgrind
//! twice (20 and 120 iterations) and divides the difference by 100, so the
//! setup cancels out.
//!
//! Paths: `native`, `wasm_selection`, `wasm_batches`; a `_no_epoch` suffix
//! runs a Wasm path on an engine without epoch interruption (what deadlines
//! cost).

#[path = "filter_work.rs"]
mod work;

use std::hint::black_box;
use weir::plugin::PluginInstance;

use arrow::array::RecordBatch;

use weir::plugin::{EngineOptions, Limits, PluginEngine, TransformInstance};
use work::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(iterations)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: filter_instructions native|wasm_selection|wasm_batches ITERATIONS");
        std::process::exit(2);
    };
    let iterations: usize = iterations.parse().expect("ITERATIONS is a number");
    let input = batch();
    let (path, epochs) = match path.strip_suffix("_no_epoch") {
        Some(path) => (path, false),
        None => (path.as_str(), true),
    };
    // Instances allocated on demand: valgrind cannot reserve the pool.
    let engine = PluginEngine::new(&EngineOptions {
        pooling: false,
        epoch_interruption: epochs,
        ..EngineOptions::default()
    })
    .unwrap();
    let plugin = engine
        .load_file(weir_plugin_artifacts::FILTER.as_ref())
        .unwrap();
    let transform = |output: &str| {
        let mut t = TransformInstance::new(&engine, &plugin, "bench", &Limits::default()).unwrap();
        t.open(&filter_config(output), &input.schema()).unwrap();
        t
    };
    let mut instance = match path {
        "native" => None,
        "wasm_selection" => Some(transform("selection")),
        "wasm_batches" => Some(transform("batches")),
        other => panic!("unknown path {other:?}"),
    };
    let mut run = |batch: &RecordBatch| match &mut instance {
        None => vec![native(batch)],
        Some(t) => t.process(batch).unwrap().batches,
    };
    let expected = native(&input);
    assert_eq!(run(&input), vec![expected], "{path} disagrees with native");
    for _ in 0..iterations {
        black_box(run(black_box(&input)));
    }
}
