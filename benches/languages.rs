//! The same transform (`examples/sensor-enrich`) in Rust, Python and
//! JavaScript, in the same run:
//!
//! - `process/*`: one call on an 8192-row batch of IoT readings (rows/s);
//! - `instantiate/*`: a new instance of an already compiled component,
//!   opened (componentize-py and componentize-js pre-initialize, so this is
//!   what a restart or a parallel instance costs);
//! - printed before: each component's size and build time, and how long
//!   loading it takes without the compiled-component cache (Cranelift
//!   compiles it) and with it (deserializes).
//!
//! The Python and JavaScript versions are built from source here with
//! `weir plugin build`'s library (toolchains: `scripts/toolchains.sh`).
//!
//! Run: `cargo bench -p weir-e2e --bench languages`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use weir::plugin::PluginInstance;

use arrow::array::RecordBatch;
use criterion::{Criterion, Throughput};
use weir::plugin::{
    EngineOptions, Limits, Plugin, PluginEngine, Poll, SourceInstance, TransformInstance,
};

const ROWS: u32 = 8192;
const CONFIG: &str = r#"{"min_battery": 20}"#;

/// 8192 readings from the `generate` plugin.
fn readings(engine: &PluginEngine) -> RecordBatch {
    let plugin = engine
        .load_file(Path::new(weir_plugin_artifacts::GENERATE))
        .unwrap();
    let mut source = SourceInstance::new(engine, &plugin, "readings", &Limits::default()).unwrap();
    source
        .open(r#"{"dataset": "iot", "rows": 8192, "devices": 20, "seed": 3}"#)
        .unwrap();
    match source.next(ROWS).unwrap() {
        Poll::Batch(batch) => batch,
        other => panic!("{other:?}"),
    }
}

/// Each language's component: (language, file, build time if built here).
fn components(out: &Path) -> Vec<(&'static str, PathBuf, Option<Duration>)> {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sensor-enrich");
    let mut components = vec![(
        "rust",
        PathBuf::from(weir_plugin_artifacts::SENSOR_ENRICH),
        None,
    )];
    for language in ["python", "js"] {
        let file = out.join(format!("sensor-enrich-{language}.wasm"));
        let built = weir::authoring::build(&example.join(language), Some(&file))
            .unwrap_or_else(|e| panic!("{e}"));
        components.push((language, file, Some(built.took)));
    }
    components
}

/// Load times of `file` by a fresh engine: with an empty cache (compiles),
/// then with that cache filled (deserializes).
fn load_times(file: &Path) -> (Duration, Duration) {
    let cache = tempfile::tempdir().unwrap();
    let options = EngineOptions {
        cache_dir: Some(cache.path().into()),
        ..EngineOptions::default()
    };
    let mut times = [Duration::ZERO; 2];
    for time in &mut times {
        let engine = PluginEngine::new(&options).unwrap();
        let started = Instant::now();
        engine.load_file(file).unwrap();
        *time = started.elapsed();
    }
    (times[0], times[1])
}

fn instance(engine: &PluginEngine, plugin: &Plugin, batch: &RecordBatch) -> TransformInstance {
    let mut instance =
        TransformInstance::new(engine, plugin, "enrich", &Limits::default()).unwrap();
    instance.open(CONFIG, &batch.schema()).unwrap();
    instance
}

fn main() {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-languages");
    std::fs::create_dir_all(&out).unwrap();
    let components = components(&out);
    for (language, file, built) in &components {
        let size = std::fs::metadata(file).unwrap().len() as f64 / 1048576.0;
        let (compile, cached) = load_times(file);
        let built = built.map_or("by cargo with the workspace".into(), |t| {
            format!("in {:.1} s", t.as_secs_f64())
        });
        println!(
            "{language:>6}: {size:5.1} MiB, built {built}; load: {:.2} s compiling, {:.1} ms from the cache",
            compile.as_secs_f64(),
            cached.as_secs_f64() * 1e3
        );
    }

    let engine = PluginEngine::new(&EngineOptions::default()).unwrap();
    let batch = readings(&engine);
    let plugins: Vec<_> = components
        .iter()
        .map(|(language, file, _)| (*language, engine.load_file(file).unwrap()))
        .collect();
    let mut criterion = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    let mut group = criterion.benchmark_group("process");
    group.throughput(Throughput::Elements(u64::from(ROWS)));
    for (language, plugin) in &plugins {
        let mut instance = instance(&engine, plugin, &batch);
        group.bench_function(*language, |b| {
            b.iter(|| black_box(instance.process(&batch).unwrap()))
        });
    }
    group.finish();
    let mut group = criterion.benchmark_group("instantiate");
    for (language, plugin) in &plugins {
        group.bench_function(*language, |b| {
            b.iter(|| black_box(instance(&engine, plugin, &batch)))
        });
    }
    group.finish();
    criterion.final_summary();
}
