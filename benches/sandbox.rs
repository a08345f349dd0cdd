//! What the sandbox costs and how well it contains, each figure against a
//! baseline of the same run:
//!
//! - `deadline -> trap`: how long after its deadline a call that loops, or
//!   sleeps, comes back with the deadline error (100 ms deadline, 10 calls);
//! - `memory bomb`: the process's peak resident memory while a plugin
//!   capped at 64 MiB tries to take 256 MiB, against the cap;
//! - `churn`: resident memory after 2,000 instances that trapped and were
//!   dropped, against after 200 (a leak through guests would grow it);
//! - `neighbour`: a well-behaved pipeline's rows/s while another tenant's
//!   plugin misbehaves in each of the ways of `HOSTILE` (spins to its
//!   deadline in `process` or `open`, reads a FIFO, returns too much, rejects
//!   too many rows, floods the log, invents metric names, snapshots 512 MiB),
//!   as a ratio of its rows/s alone in runs next to it; and beside the
//!   spinning one without demotion of long calls.
//!
//! (What epoch interruption costs on the filter is in `benches/filter.rs`:
//! `wasm_*_no_epoch` against `wasm_*`.)
//!
//! Run: `cargo bench -p weir-e2e --bench sandbox`.

// Only the filter benchmark's input batch is used here.
#[allow(dead_code)]
#[path = "filter_work.rs"]
mod work;

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use weir::plugin::PluginInstance;

use weir::exec::{RunOptions, run};
use weir::graph::Graph;
use weir::plugin::{EngineOptions, Limits, PluginEngine, TransformInstance};
use weir::spec::Pipeline;

const DEADLINE: Duration = Duration::from_millis(100);
/// Rows the neighbour pipeline generates in each run.
const NEIGHBOUR_ROWS: u64 = 4_000_000;
/// Alternating runs of each neighbour variant.
const RUNS: usize = 3;

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let engine = PluginEngine::new(&EngineOptions::default()).unwrap();
    deadline_to_trap(&engine);
    memory_bomb(&engine);
    churn(&engine);
    neighbour(&engine);
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn deadline_to_trap(engine: &PluginEngine) {
    let plugin = engine
        .load_file(weir_plugin_artifacts::TEST_MISBEHAVE.as_ref())
        .unwrap();
    let input = work::batch();
    for mode in ["spin", "sleep"] {
        let mut late = Vec::new();
        for _ in 0..10 {
            let limits = Limits {
                call_timeout: DEADLINE,
                ..Limits::default()
            };
            let mut t = TransformInstance::new(engine, &plugin, "bench", &limits).unwrap();
            t.open(mode, &input.schema()).unwrap();
            let started = Instant::now();
            let error = t.process(&input).unwrap_err();
            assert!(error.to_string().contains("deadline"), "{error}");
            late.push((started.elapsed().saturating_sub(DEADLINE)).as_secs_f64() * 1e3);
        }
        let max = late.iter().copied().fold(0.0, f64::max);
        println!(
            "deadline -> trap ({mode}, deadline {} ms): median {:.1} ms, max {max:.1} ms after the deadline",
            DEADLINE.as_millis(),
            median(late)
        );
    }
}

fn peak_rss() -> u64 {
    weir::exec::process_memory("VmHWM").unwrap_or(0)
}

fn memory_bomb(engine: &PluginEngine) {
    let plugin = engine
        .load_file(weir_plugin_artifacts::TEST_MISBEHAVE.as_ref())
        .unwrap();
    let input = work::batch();
    let cap = 64usize << 20;
    let before = peak_rss();
    let limits = Limits {
        max_memory_bytes: cap,
        ..Limits::default()
    };
    let mut t = TransformInstance::new(engine, &plugin, "bench", &limits).unwrap();
    t.open("hog", &input.schema()).unwrap();
    let error = t.process(&input).unwrap_err();
    assert!(
        error.to_string().contains("memory limit exceeded"),
        "{error}"
    );
    let grew = peak_rss().saturating_sub(before);
    println!(
        "memory bomb (asks 256 MiB, cap {} MiB): the process's peak memory grew {:.1} MiB = {:.2} x the cap",
        cap >> 20,
        grew as f64 / 1048576.0,
        grew as f64 / cap as f64
    );
}

fn rss() -> u64 {
    weir::exec::process_memory("VmRSS").unwrap_or(0)
}

fn churn(engine: &PluginEngine) {
    let plugin = engine
        .load_file(weir_plugin_artifacts::TEST_MISBEHAVE.as_ref())
        .unwrap();
    let input = work::batch();
    let trap_once = || {
        let mut t = TransformInstance::new(engine, &plugin, "bench", &Limits::default()).unwrap();
        t.open("trap", &input.schema()).unwrap();
        assert!(t.process(&input).is_err());
    };
    for _ in 0..200 {
        trap_once();
    }
    let after_200 = rss();
    for _ in 0..1800 {
        trap_once();
    }
    let after_2000 = rss();
    println!(
        "churn: resident memory after 200 trapped instances {:.1} MiB, after 2000 {:.1} MiB ({:+.1} KiB per instance)",
        after_200 as f64 / 1048576.0,
        after_2000 as f64 / 1048576.0,
        (after_2000 as f64 - after_200 as f64) / 1800.0 / 1024.0
    );
}

/// Writes a pipeline file into `dir` and builds its graph.
fn graph(engine: &PluginEngine, dir: &std::path::Path, name: &str, text: &str) -> Graph {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    Graph::build(Pipeline::from_file(&path).unwrap(), engine).unwrap()
}

/// The hostile transforms the neighbour runs beside: what each does, and
/// its node (YAML flow mapping without `inputs`).
const HOSTILE: [(&str, &str); 8] = [
    (
        "spins to a 2 s deadline in process",
        "{plugin: TEST_MISBEHAVE, config: spin, limits: {call_timeout_ms: 2000}}",
    ),
    (
        "spins to a 10 s deadline in open",
        "{plugin: TEST_MISBEHAVE, config: spin-open, limits: {call_timeout_ms: 10000}}",
    ),
    (
        "reads a FIFO in a granted folder",
        "{plugin: TEST_FILES, config: {at: process, read: [/data/fifo]}, capabilities: {dirs: [{host: data, guest: /data}]}, limits: {call_timeout_ms: 500}}",
    ),
    (
        "appends 40 MiB past an 8 MiB output limit",
        "{plugin: TEST_MISBEHAVE, config: \"appended:40\", limits: {max_output_mib: 8}}",
    ),
    (
        "rejects 100,000 rows of each batch",
        "{plugin: TEST_MISBEHAVE, config: reject-many}",
    ),
    (
        "logs 15,000 fields of 4 KiB and a million records",
        "{plugin: TEST_MISBEHAVE, config: log-flood, limits: {memory_mib: 128}}",
    ),
    (
        "reports 10,000 metric names a batch",
        "{plugin: TEST_MISBEHAVE, config: \"metric-names:10000\"}",
    ),
    (
        "answers a 512 MiB snapshot",
        "{plugin: TEST_MISBEHAVE, config: \"big-state:512\"}",
    ),
];

fn neighbour(engine: &PluginEngine) {
    use weir_plugin_artifacts::{COUNT, FILTER, GENERATE, TEST_FILES, TEST_MISBEHAVE};
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let fifo = std::process::Command::new("mkfifo")
        .arg(dir.path().join("data/fifo"))
        .status()
        .unwrap();
    assert!(fifo.success());
    // Two sources and two filter instances: the neighbour can use both
    // cores of this machine.
    let half = NEIGHBOUR_ROWS / 2;
    let neighbour_text = format!(
        "tenant: {{name: good}}
dead_letters: neighbour-dead-letters
sources:
  a: {{plugin: {GENERATE}, config: {{dataset: clickstream, rows: {half}, seed: 7}}}}
  b: {{plugin: {GENERATE}, config: {{dataset: clickstream, rows: {half}, seed: 8}}}}
transforms:
  buys: {{plugin: {FILTER}, inputs: [a, b], parallelism: 2, config: {{predicate: \"action = 'purchase' or price > 10\"}}}}
sinks:
  counted: {{plugin: {COUNT}, inputs: [buys]}}
"
    );
    // Each hostile node misbehaves on every batch until it is given up on
    // (then its batches are skipped).
    let hostile_text = |node: &str| {
        let node = node
            .replace("TEST_MISBEHAVE", TEST_MISBEHAVE)
            .replace("TEST_FILES", TEST_FILES);
        format!(
            "tenant: {{name: evil}}
sources:
  clicks: {{plugin: {GENERATE}, config: {{dataset: clickstream, rows: 100000, seed: 1}}}}
transforms:
  hostile: {node}
sinks:
  counted: {{plugin: {COUNT}, inputs: [hostile]}}
"
        )
        .replace("hostile: {", "hostile: {inputs: [clicks], on_error: skip, ")
    };
    let options = RunOptions::default();
    // The neighbour's rows/s, alone or while `hostile` (a pipeline file)
    // builds and runs on threads of its own, as `weir run` runs them.
    let rate = |demote: bool, hostile: Option<&str>| -> f64 {
        let set_demotion = |mut graph: Graph| {
            for node in &mut graph.nodes {
                node.limits.demote_after = demote.then_some(weir::plugin::schedule::SLICE);
            }
            graph
        };
        let good = set_demotion(graph(engine, dir.path(), "neighbour", &neighbour_text));
        let (stop, stop_hostile) = (AtomicBool::new(false), AtomicBool::new(false));
        std::thread::scope(|scope| {
            let hostile = hostile.map(|text| {
                let (dir, options, stop_hostile) = (&dir, &options, &stop_hostile);
                let handle = scope.spawn(move || {
                    let path = dir.path().join("hostile.yaml");
                    std::fs::write(&path, text).unwrap();
                    let pipeline = Pipeline::from_file(&path).unwrap();
                    // A hostile `open` fails the build at its deadline.
                    if let Ok(evil) = Graph::build(pipeline, engine) {
                        let evil = set_demotion(evil);
                        run(&evil, engine, options, stop_hostile).unwrap();
                    }
                });
                // Let the hostile plugin start misbehaving.
                std::thread::sleep(Duration::from_millis(300));
                handle
            });
            let summary = run(&good, engine, &options, &stop).unwrap();
            let rows = summary.source_rows() as f64;
            let rate = rows / summary.elapsed.as_secs_f64();
            stop_hostile.store(true, std::sync::atomic::Ordering::SeqCst);
            if let Some(hostile) = hostile {
                hostile.join().unwrap();
            }
            rate
        })
    };
    rate(true, None); // warm the caches
    let spin = hostile_text(HOSTILE[0].1);
    let (mut alone, mut plain) = (Vec::new(), Vec::new());
    let mut beside: Vec<Vec<f64>> = vec![Vec::new(); HOSTILE.len()];
    for _ in 0..RUNS {
        for (i, (_, node)) in HOSTILE.iter().enumerate() {
            alone.push(rate(true, None));
            beside[i].push(rate(true, Some(&hostile_text(node))));
        }
        plain.push(rate(false, Some(&spin)));
    }
    let alone = median(alone);
    println!("neighbour alone: {:.2} M rows/s", alone / 1e6);
    for ((what, _), rates) in HOSTILE.iter().zip(beside) {
        let rate = median(rates);
        println!(
            "neighbour beside a tenant that {what}: {:.2} M rows/s = {:.2} x alone",
            rate / 1e6,
            rate / alone
        );
    }
    let plain = median(plain);
    println!(
        "neighbour beside a tenant that spins in process, without demotion of long calls: {:.2} M rows/s = {:.2} x alone",
        plain / 1e6,
        plain / alone
    );
}
