//! Hot reload while data flows: transforms swapped between two batches lose
//! and repeat nothing, carry their state, and a version that cannot take
//! over is refused while the old one keeps running.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use arrow::array::{Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use common::*;
use weir::exec::{
    ReloadError, Reloader, Replacement, RunOptions, Summary, node_stats, reload_channels,
    run_reloadable,
};
use weir::graph::Graph;
use weir::spec::{LimitsSpec, Pipeline};

fn graph(dir: &Path, text: &str) -> Graph {
    let path = dir.join("pipeline.yaml");
    std::fs::write(&path, text).unwrap();
    Graph::build(Pipeline::from_file(&path).unwrap(), engine()).unwrap()
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<T>()
        .unwrap()
}

/// Every line of the JSON-lines files in `dir`.
fn json_lines(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flat_map(|e| {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            text.lines().map(str::to_string).collect::<Vec<_>>()
        })
        .collect()
}

/// Runs `graph` (plugin sources asked for 1000 rows a call) on a thread of
/// its own while `steer` sends it reloads; answers the summary and what
/// `steer` answered.
fn run_steered<R>(graph: &Graph, steer: impl FnOnce(&Reloader) -> R) -> (Summary, R) {
    let (reloader, inboxes) = reload_channels(graph);
    let stop = AtomicBool::new(false);
    let options = RunOptions {
        source_batch_rows: 1000,
        ..RunOptions::default()
    };
    let stats = node_stats(graph);
    std::thread::scope(|scope| {
        let run = scope.spawn(|| run_reloadable(graph, engine(), &options, &stop, inboxes, &stats));
        let steered = steer(&reloader);
        (run.join().unwrap().unwrap(), steered)
    })
}

const ROWS: i64 = 1_000_000;
const SWAPS: usize = 20;

#[test]
fn a_million_rows_through_twenty_swaps_arrive_exactly_once() {
    use weir_plugin_artifacts::{GENERATE, SELECT, TEST_TAG_V1, TEST_TAG_V2};
    let dir = tempfile::tempdir().unwrap();
    // event_time is the row number in ms: a unique id in source order. The
    // rate keeps the run long enough for every swap to land mid-stream.
    let graph = graph(
        dir.path(),
        &format!(
            "sources:
  gen: {{plugin: {GENERATE}, config: {{rows: {ROWS}, rate: 400000, start_ms: 0, step_ms: 1}}}}
transforms:
  ids: {{plugin: {SELECT}, inputs: [gen], config: {{columns: [{{name: event_time}}]}}}}
  tag: {{plugin: {TEST_TAG_V1}, inputs: [ids]}}
sinks:
  out: {{type: file, inputs: [tag], config: {{path: out, format: parquet}}}}
"
        ),
    );
    let versions = [load(TEST_TAG_V2), load(TEST_TAG_V1)];
    let (summary, pauses) = run_steered(&graph, |reloader| {
        let mut pauses = Vec::new();
        for swap in 0..SWAPS {
            std::thread::sleep(Duration::from_millis(60));
            let swapped = reloader
                .reload("tag", versions[swap % 2].clone())
                .unwrap_or_else(|e| panic!("swap {swap}: {e}"));
            assert_ne!(swapped.old_digest, swapped.new_digest);
            pauses.push(swapped.pause);
        }
        pauses
    });
    let tag = summary.nodes.iter().find(|n| n.name == "tag").unwrap();
    assert_eq!(tag.reloads, SWAPS as u64);

    let batches = read_parquet(&dir.path().join("out"));
    let (mut ids, mut seqs, mut tags) = (Vec::new(), Vec::new(), Vec::new());
    for batch in &batches {
        ids.extend(
            column::<TimestampMillisecondArray>(batch, "event_time")
                .values()
                .iter()
                .copied(),
        );
        seqs.extend(column::<Int64Array>(batch, "seq").values().iter().copied());
        let version = column::<StringArray>(batch, "version");
        tags.extend((0..version.len()).map(|i| version.value(i).to_string()));
    }
    assert_eq!(
        ids,
        (0..ROWS).collect::<Vec<_>>(),
        "every id exactly once, in order"
    );
    assert_eq!(
        seqs,
        (0..ROWS).collect::<Vec<_>>(),
        "the state moved with every swap"
    );
    let changes = tags.windows(2).filter(|w| w[0] != w[1]).count();
    assert_eq!(changes, SWAPS, "the version changes only at the swaps");
    assert_eq!(tags[0], "weir-plugin-test-tag-v1");
    assert_eq!(tags[tags.len() - 1], "weir-plugin-test-tag-v1");

    let mut millis: Vec<f64> = pauses.iter().map(|p| p.as_secs_f64() * 1e3).collect();
    millis.sort_by(f64::total_cmp);
    eprintln!(
        "swap pause over {SWAPS} swaps: median {:.2} ms, max {:.2} ms",
        millis[millis.len() / 2],
        millis[millis.len() - 1]
    );
}

/// The windows of a window-aggregate run over generated events, with
/// `swaps` hot reloads of the same plugin mid-window.
fn window_totals(swaps: usize) -> Vec<String> {
    use weir_plugin_artifacts::{GENERATE, WINDOW_AGGREGATE};
    let dir = tempfile::tempdir().unwrap();
    let graph = graph(
        dir.path(),
        &format!(
            "sources:
  gen: {{plugin: {GENERATE}, config: {{rows: 600000, rate: 300000, step_ms: 7, seed: 3}}}}
transforms:
  per_minute:
    plugin: {WINDOW_AGGREGATE}
    inputs: [gen]
    config: {{time_column: event_time, window: 1m, keys: [action], aggregates: [{{op: count}}, {{op: sum, column: price, as: revenue}}]}}
sinks:
  out: {{type: file, inputs: [per_minute], config: {{path: out, format: json}}}}
"
        ),
    );
    let plugin = load(WINDOW_AGGREGATE);
    run_steered(&graph, |reloader| {
        for _ in 0..swaps {
            std::thread::sleep(Duration::from_millis(80));
            reloader.reload("per_minute", plugin.clone()).unwrap();
        }
    });
    let mut lines = json_lines(&dir.path().join("out"));
    lines.sort();
    lines
}

#[test]
fn a_window_aggregate_swapped_mid_window_gives_the_same_totals() {
    let unswapped = window_totals(0);
    assert!(unswapped.len() > 50, "{} windows", unswapped.len());
    assert_eq!(window_totals(8), unswapped);
}

#[test]
fn a_version_that_cannot_take_over_is_refused_and_nothing_is_lost() {
    use weir_plugin_artifacts::{TEST_MISBEHAVE, TEST_TAG_V1};
    let dir = tempfile::tempdir().unwrap();
    let lines: String = (0..20_000)
        .map(|id| format!("{{\"id\": {id}}}\n"))
        .collect();
    std::fs::write(dir.path().join("ids.jsonl"), lines).unwrap();
    let graph = graph(
        dir.path(),
        &format!(
            "sources:
  ids: {{type: file, config: {{path: ids.jsonl, schema: {{id: int64}}, batch_rows: 10}}}}
transforms:
  node: {{plugin: {TEST_MISBEHAVE}, inputs: [ids], config: pass}}
sinks:
  out: {{plugin: {}, inputs: [node], config: {{delay_ms: 1}}}}
  copy: {{type: file, inputs: [node], config: {{path: out, format: json}}}}
",
            weir_plugin_artifacts::COUNT
        ),
    );
    let misbehave = load(TEST_MISBEHAVE);
    let tight = LimitsSpec {
        memory_mib: Some(1),
        ..LimitsSpec::default()
    };
    let refusals = [
        (
            misbehave.clone(),
            "\"no-such-mode\"",
            None,
            ["does not open", "no-such-mode"],
        ),
        (
            misbehave.clone(),
            "\"pass\"",
            Some(tight),
            ["does not open", "memory"],
        ),
        (
            misbehave.clone(),
            "\"trap\"",
            None,
            ["failed on its first batch", "trapped"],
        ),
        (
            misbehave.clone(),
            "\"malformed-ipc\"",
            None,
            ["failed on its first batch", "Arrow IPC"],
        ),
        (
            load(TEST_TAG_V1),
            "{}",
            None,
            ["output schema differs", "seq: Int64"],
        ),
    ];
    let (_, reloader) = run_steered(&graph, |reloader| {
        std::thread::sleep(Duration::from_millis(100));
        for (plugin, config, limits, expected) in refusals {
            let replacement = Replacement {
                plugin,
                config: Some(config.into()),
                limits: limits.as_ref().map(weir::graph::limits),
            };
            match reloader.reload("node", replacement) {
                Err(ReloadError::Refused { reason, .. }) => {
                    let reason = reason.with_causes();
                    assert!(
                        expected.iter().all(|e| reason.contains(e)),
                        "{config}: {reason}"
                    );
                }
                other => panic!("{config}: expected a refusal, got {other:?}"),
            }
        }
        assert!(
            matches!(
                reloader.reload("ids", misbehave.clone()),
                Err(ReloadError::UnknownNode(node)) if node == "ids"
            ),
            "a native source is no plugin transform"
        );
        reloader.clone()
    });
    assert!(
        matches!(
            reloader.reload("node", misbehave),
            Err(ReloadError::Finished(node)) if node == "node"
        ),
        "a request after the end fails instead of waiting"
    );
    // The old version processed every row, the refused ones none.
    let mut ids: Vec<i64> = json_lines(&dir.path().join("out"))
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, (0..20_000).collect::<Vec<_>>());
    assert!(
        !dir.path().join("dead-letters").exists(),
        "no batch was lost to a refused version"
    );
}
