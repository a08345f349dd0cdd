//! Every class of error, as an embedder and as a CLI user meet it: the
//! library's [`weir::Error`] says which node failed, at which stage and
//! whose fault it is, keeps its cause as `source` (no level repeats the
//! next), and `weir` prints each cause once.

mod support;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use support::*;
use weir::exec::RunOptions;
use weir::graph::Graph;
use weir::plugin::{EngineOptions, PluginEngine, PluginError};
use weir::spec::Pipeline;
use weir::{Error, Fault, Stage};

fn engine() -> PluginEngine {
    PluginEngine::new(&EngineOptions {
        cache_dir: Some(std::env::temp_dir().join("weir-test-component-cache")),
        ..Default::default()
    })
    .unwrap()
}

/// The text of every level of `error`'s chain.
fn levels(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    std::iter::successors(Some(error), |e| e.source())
        .map(|e| e.to_string())
        .collect()
}

/// Fails if a level of the chain pastes the next (its cause) into itself.
fn assert_causes_once(error: &(dyn std::error::Error + 'static)) {
    let levels = levels(error);
    for pair in levels.windows(2) {
        assert!(
            !pair[0].contains(pair[1].trim()),
            "a cause is pasted into its error: {levels:#?}"
        );
    }
}

/// Fails unless `error` is of `node`, at `stage`, `fault`'s, with every
/// cause said once in its chain.
fn assert_class(error: &Error, node: Option<&str>, stage: Stage, fault: Fault) {
    assert_eq!(error.node(), node, "{error}");
    assert_eq!((error.stage(), error.fault()), (stage, fault), "{error}");
    assert_causes_once(error);
}

/// Fails if `weir`'s printed error line says a cause twice: no `: `
/// separated part of it (but short ones) appears twice.
fn assert_printed_once(stderr: &str) {
    for line in stderr.lines().filter(|l| l.contains("error")) {
        let parts: Vec<&str> = line.split(": ").map(str::trim).collect();
        for (i, part) in parts.iter().enumerate() {
            assert!(
                part.len() < 12 || !parts[i + 1..].contains(part),
                "{part:?} printed twice in {line:?}"
            );
        }
    }
}

/// The pipeline of `text` in `dir` (plugins named by file path).
fn pipeline(dir: &Path, text: &str) -> Pipeline {
    let text = text.replace("MISBEHAVE", weir_plugin_artifacts::TEST_MISBEHAVE);
    Pipeline::from_file(&write_pipeline(dir, &text)).unwrap()
}

/// The one error of building `text`'s graph.
fn graph_error(dir: &Path, text: &str) -> Error {
    let error = Graph::build(pipeline(dir, text), &engine())
        .err()
        .expect("no graph");
    assert_eq!(error.errors.len(), 1, "{error}");
    error.errors.into_iter().next().unwrap()
}

/// The one error of running `text`.
fn run_error(dir: &Path, text: &str) -> Error {
    let engine = engine();
    let graph = Graph::build(pipeline(dir, text), &engine).unwrap();
    let stop = AtomicBool::new(false);
    let Err(error) = weir::exec::run(&graph, &engine, &RunOptions::default(), &stop) else {
        panic!("the run succeeded");
    };
    assert_eq!(error.errors.len(), 1, "{error}");
    error.errors.into_iter().next().unwrap()
}

/// Runs `weir run` on `text` in `dir`; answers its stderr, checked to say
/// every cause once and to exit with `code`.
fn cli(dir: &Path, text: &str, code: i32) -> String {
    let path = write_pipeline(dir, &text.replace("MISBEHAVE", "test-misbehave"));
    let out = weir(&["run", "--quiet", path.to_str().unwrap()]);
    let stderr = support::text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert_printed_once(&stderr);
    stderr
}

const IDS: &str = "sources:
  ids: {type: file, config: {path: ids.jsonl, schema: {id: int64}, resume: false}}
";

/// The ids source, then transform `node` (its `spec` inside the braces,
/// reading `ids`) into a stdout sink.
fn through(dir: &Path, node: &str, spec: &str) -> String {
    with_ids(
        dir,
        &format!(
            "transforms:\n  {node}: {{{spec}, inputs: [ids]}}\nsinks:\n  out: {{type: stdout, inputs: [{node}]}}\n"
        ),
    )
}

fn with_ids(dir: &Path, rest: &str) -> String {
    std::fs::write(dir.join("ids.jsonl"), "{\"id\": 1}\n{\"id\": 2}\n").unwrap();
    format!("{IDS}{rest}")
}

#[test]
fn a_missing_pipeline_file_is_a_spec_error_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("p.yaml");
    let error: Error = Pipeline::from_file(&missing).unwrap_err().into();
    assert_class(&error, None, Stage::Spec, Fault::Configuration);

    let out = weir(&["run", missing.to_str().unwrap()]);
    let stderr = support::text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );
    assert_printed_once(&stderr);
}

#[test]
fn an_unknown_plugin_is_its_nodes_configuration_error_at_graph() {
    let dir = tempfile::tempdir().unwrap();
    let text = through(dir.path(), "t", "plugin: ./nothing.wasm");
    let error = graph_error(dir.path(), &text);
    assert_class(&error, Some("t"), Stage::Graph, Fault::Configuration);
    cli(dir.path(), &text, 2);
}

#[test]
fn a_plugin_that_is_not_wasm_keeps_the_plugin_error_as_cause() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.wasm"), "not wasm").unwrap();
    let text = through(dir.path(), "t", "plugin: ./bad.wasm");
    let error = graph_error(dir.path(), &text);
    assert_class(&error, Some("t"), Stage::Graph, Fault::Configuration);
    assert!(
        matches!(error.plugin_error(), Some(PluginError::NotWasm { .. })),
        "{error:?}"
    );
    let stderr = cli(dir.path(), &text, 2);
    assert!(stderr.contains("field `plugin`: "), "{stderr}");
    assert!(stderr.contains("not a WebAssembly file"), "{stderr}");
}

#[test]
fn a_plugin_refusing_its_config_is_a_configuration_error_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!(
        "plugin: {}, config: {{predicate: \"nope > 1\"}}",
        weir_plugin_artifacts::FILTER
    );
    let text = through(dir.path(), "keep", &spec);
    let error = graph_error(dir.path(), &text);
    assert_class(&error, Some("keep"), Stage::Open, Fault::Configuration);
    assert!(
        matches!(error.plugin_error(), Some(PluginError::Guest { .. })),
        "{error:?}"
    );
}

#[test]
fn a_trap_with_on_error_stop_is_the_plugins_fault_at_call() {
    let dir = tempfile::tempdir().unwrap();
    let text = through(
        dir.path(),
        "crash",
        "plugin: MISBEHAVE, config: trap, on_error: stop",
    );
    let error = run_error(dir.path(), &text);
    assert_class(&error, Some("crash"), Stage::Call, Fault::Plugin);
    assert!(
        matches!(error.plugin_error(), Some(PluginError::Trap { .. })),
        "{error:?}"
    );
    let stderr = cli(dir.path(), &text, 1);
    assert!(stderr.contains("node \"crash\": "), "{stderr}");
    assert!(stderr.contains("process trapped"), "{stderr}");
}

#[test]
fn a_malformed_record_with_on_error_stop_is_the_inputs_fault() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{}sinks:\n  out: {{type: stdout, inputs: [ids]}}\n",
        IDS.replace("resume: false}", "resume: false}, on_error: stop")
    );
    std::fs::write(
        dir.path().join("ids.jsonl"),
        "{\"id\": 1}\n{\"id\": \"x\"\n",
    )
    .unwrap();
    let error = run_error(dir.path(), &text);
    assert_class(&error, Some("ids"), Stage::Io, Fault::InputData);
    cli(dir.path(), &text, 1);
}

#[test]
fn dead_letters_that_cannot_be_written_are_an_external_fault() {
    let dir = tempfile::tempdir().unwrap();
    // The node's dead-letter file is a folder. (A folder that cannot be
    // made is refused before the run: `pipelines/dead-letters-under-a-file`.)
    std::fs::create_dir_all(dir.path().join("letters/crash.jsonl")).unwrap();
    let text = format!(
        "dead_letters: letters\n{}",
        through(dir.path(), "crash", "plugin: MISBEHAVE, config: trap")
    );
    let error = run_error(dir.path(), &text);
    assert_class(&error, Some("crash"), Stage::Io, Fault::External);
    assert!(
        error
            .cause()
            .unwrap()
            .downcast_ref::<std::io::Error>()
            .is_some()
    );
    let stderr = cli(dir.path(), &text, 1);
    assert!(stderr.contains("cannot write dead letters to"), "{stderr}");
}

#[test]
fn a_state_folder_that_cannot_be_read_is_an_external_fault_at_open() {
    let dir = tempfile::tempdir().unwrap();
    // The source's position file is a folder.
    std::fs::create_dir_all(dir.path().join("state/ids.json")).unwrap();
    let text = format!(
        "state: state\n{}",
        with_ids(dir.path(), "sinks:\n  out: {type: stdout, inputs: [ids]}\n")
            .replace("resume: false", "resume: true")
    );
    let error = run_error(dir.path(), &text);
    assert_class(&error, Some("ids"), Stage::Open, Fault::External);
    cli(dir.path(), &text, 1);
}

#[test]
fn a_config_a_plugin_refuses_is_pointed_at_in_the_pipeline_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = with_ids(
        dir.path(),
        "transforms:\n  keep:\n    plugin: filter\n    inputs: [ids]\n    config: {predicat: \"id > 1\"}\nsinks:\n  out: {type: stdout, inputs: [keep]}\n",
    );
    let path = write_pipeline(dir.path(), &text);
    let out = weir(&["validate", path.to_str().unwrap()]);
    let stderr = support::text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // The config is on line 7 of the file (after the two of the source).
    let at = format!("config at {}:7:5", path.display());
    assert!(stderr.contains(&at), "expected {at:?} in:\n{stderr}");
    assert!(stderr.contains("unknown field `predicat`"), "{stderr}");
    assert!(
        !stderr.contains("at line 1 column"),
        "an internal JSON position: {stderr}"
    );
    assert_printed_once(&stderr);
}
