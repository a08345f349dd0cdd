//! What governance costs on the quickstart pipeline
//! (`examples/quickstart/pipeline.yaml`, 2,000,000 generated clicks, its
//! `console` sink left out so nothing is printed): rows/s without
//! `lineage:`, with it (OpenLineage events to a JSON-lines file, the column
//! lineage traced when the run starts), and with lineage and an `expect`
//! gate of four rules (warn) after `shape`; runs alternated in one
//! process; prints the medians and the ratios to the plain pipeline.
//!
//! Run: `cargo bench -p weir-e2e --bench governance`.

#[path = "common/quickstart.rs"]
mod quickstart;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use weir::exec::RunOptions;
use weir::graph::Graph;
use weir::plugin::PluginEngine;
use weir::spec::Pipeline;

use quickstart::{median, quickstart};

const ROWS: u64 = 2_000_000;
const RUNS: usize = 7;

/// The rules of the `expect` gate.
const GATE: &str = "  checked:
    plugin: expect
    inputs: [shape]
    config:
      rules:
        - {name: has_time, not_null: event_time}
        - {name: known_action, accepted_values: {column: action, values: [view, click, add_to_cart, purchase]}}
        - {name: sane_price, range: {column: price, min: 0, max: 100000}}
        - {name: priced_purchase, predicate: \"action != 'purchase' or price is not null\"}
";

/// The quickstart pipeline in `dir` with `extra` appended and, when
/// `gated`, the `expect` gate after `shape`.
fn pipeline(dir: &Path, name: &str, extra: &str, gated: bool) -> std::path::PathBuf {
    quickstart(dir, name, extra, |text| match gated {
        true => {
            let mut text = text.replacen("    inputs: [shape]", "    inputs: [checked]", 1);
            let at = text.find("  purchases_and_views:").expect("the filter");
            text.insert_str(at, GATE);
            text
        }
        false => text,
    })
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

fn main() {
    let (dir, engine) = quickstart::prepare(ROWS);
    let lineage = "lineage: {namespace: bench, file: lineage.jsonl}\n";
    let variants = [
        pipeline(dir.path(), "plain", "", false),
        pipeline(dir.path(), "traced", lineage, false),
        pipeline(dir.path(), "gated", lineage, true),
    ];
    // A first run of each compiles its plugins and warms the caches.
    for path in &variants {
        run(path, &engine);
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); variants.len()];
    for _ in 0..RUNS {
        for (path, times) in variants.iter().zip(&mut times) {
            times.push(run(path, &engine));
        }
    }
    let events = std::fs::read_to_string(dir.path().join("lineage.jsonl")).unwrap();
    assert_eq!(
        events.lines().count(),
        2 * 2 * (RUNS + 1),
        "START and COMPLETE per run with lineage"
    );
    let rate = |d: Duration| ROWS as f64 / d.as_secs_f64();
    let rates: Vec<f64> = times.into_iter().map(|t| rate(median(t))).collect();
    println!(
        "quickstart, {ROWS} rows, median of {RUNS}: plain {:.0} rows/s; with lineage {:.0} rows/s (ratio {:.2}); with lineage and an expect gate of 4 rules {:.0} rows/s (ratio {:.2})",
        rates[0],
        rates[1],
        rates[1] / rates[0],
        rates[2],
        rates[2] / rates[0]
    );
}
