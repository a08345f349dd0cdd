//! A program that embeds Weir registers a native connector of its own
//! under a `type` name and runs a pipeline through it next to Weir's own
//! connectors and plugins. The program is `runtime/examples/embed.rs`; these
//! tests run it, and its connector beside a plugin.

mod common;
#[path = "../runtime/examples/embed.rs"]
#[allow(dead_code)] // its `main`
mod embed;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use common::*;
use embed::Countdown;
use weir::connectors::Registry;
use weir::exec::RunOptions;
use weir::graph::Graph;
use weir::spec::Pipeline;

fn pipeline(dir: &Path, text: &str) -> Pipeline {
    let path = dir.join("pipeline.yaml");
    std::fs::write(&path, text).unwrap();
    Pipeline::from_file(&path).unwrap()
}

#[test]
fn a_connector_registered_by_the_embedding_program_runs_in_a_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "sources:
  numbers: {{type: countdown, config: {{from: 1000, per_batch: 64}}}}
transforms:
  small: {{plugin: {}, inputs: [numbers], config: {{predicate: \"n <= 100\"}}}}
sinks:
  out: {{type: file, inputs: [small], config: {{path: out, format: json}}}}
",
        weir_plugin_artifacts::FILTER
    );
    // Weir's own registry does not know the type.
    let Err(error) = Graph::build(pipeline(dir.path(), &text), engine()) else {
        panic!("an unknown type was accepted");
    };
    assert!(
        error
            .to_string()
            .contains("unknown connector \"countdown\""),
        "{error}"
    );

    let mut registry = Registry::builtin();
    registry.source::<Countdown>("countdown");
    let graph = Graph::build_with(pipeline(dir.path(), &text), engine(), &registry).unwrap();
    let summary = weir::exec::run(
        &graph,
        engine(),
        &RunOptions::default(),
        &AtomicBool::new(false),
    )
    .unwrap();
    let out = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    let numbers: Vec<i64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["n"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(numbers, (1..=100).rev().collect::<Vec<_>>());
    assert!(format!("{summary}").contains("numbers"), "{summary}");

    // Its config is checked like Weir's own: the field is named.
    let bad = text.replace("per_batch: 64", "per_batch: 0");
    let Err(error) = Graph::build_with(pipeline(dir.path(), &bad), engine(), &registry) else {
        panic!("per_batch: 0 was accepted");
    };
    assert!(
        error.to_string().contains("per_batch") && error.to_string().contains("at least 1"),
        "{error}"
    );
}

#[test]
fn the_embedding_example_runs_its_own_connector_through_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let summary = embed::run_in(dir.path()).unwrap();
    assert_eq!(summary.source_rows(), 1000, "{summary}");
    let out = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    assert_eq!(out.lines().count(), 1000);
    assert_eq!(out.lines().next(), Some(r#"{"n":1000}"#));
}
