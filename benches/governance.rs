//! What governance costs on the quickstart pipeline
//! (`examples/quickstart/pipeline.yaml`, 2,000,000 generated clicks, its
//! `console` sink left out so nothing is printed): rows/s without
//! `lineage:`, and with it (OpenLineage events to a JSON-lines file, the
//! column lineage traced when the run starts), runs alternated in one
//! process; prints the medians and the ratio with / without.
//!
//! Run: `cargo bench -p weir-e2e --bench governance`.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use weir::exec::RunOptions;
use weir::graph::Graph;
use weir::plugin::{EngineOptions, PluginEngine};
use weir::spec::Pipeline;

const ROWS: u64 = 2_000_000;
const RUNS: usize = 7;

/// The quickstart pipeline in `dir` without its console sink, with
/// `extra` appended.
fn pipeline(dir: &Path, name: &str, extra: &str) -> std::path::PathBuf {
    let quickstart =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/pipeline.yaml");
    let text = std::fs::read_to_string(quickstart).unwrap();
    let without_console = &text[..text.find("  console:").expect("the console sink")];
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, format!("{without_console}{extra}")).unwrap();
    path
}

/// One run of `path`: its time.
fn run(path: &Path, engine: &PluginEngine) -> Duration {
    let graph = Graph::build(Pipeline::from_file(path).unwrap(), engine).unwrap();
    let started = Instant::now();
    let summary = weir::exec::run(
        &graph,
        engine,
        &RunOptions::default(),
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(summary.source_rows(), ROWS);
    started.elapsed()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let plugins = Path::new(weir_plugin_artifacts::FILTER).parent().unwrap();
    // SAFETY: set before any thread of this process reads the environment.
    unsafe {
        std::env::set_var("WEIR_PLUGIN_PATH", plugins);
        std::env::set_var("ROWS", ROWS.to_string());
    }
    let dir = tempfile::tempdir().unwrap();
    let engine = PluginEngine::new(&EngineOptions::default()).unwrap();
    let plain = pipeline(dir.path(), "plain", "");
    let traced = pipeline(
        dir.path(),
        "traced",
        "lineage: {namespace: bench, file: lineage.jsonl}\n",
    );
    run(&plain, &engine);
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        without.push(run(&plain, &engine));
        with.push(run(&traced, &engine));
    }
    let events = std::fs::read_to_string(dir.path().join("lineage.jsonl")).unwrap();
    assert_eq!(
        events.lines().count(),
        2 * RUNS,
        "START and COMPLETE per run"
    );
    let rate = |d: Duration| ROWS as f64 / d.as_secs_f64();
    let (without, with) = (median(without), median(with));
    println!(
        "quickstart, {ROWS} rows, median of {RUNS}: without lineage {:.0} rows/s, with lineage {:.0} rows/s (ratio {:.2})",
        rate(without),
        rate(with),
        rate(with) / rate(without)
    );
}
