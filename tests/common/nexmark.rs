//! The Nexmark queries of `benches/nexmark/` as pipelines, with the plugins
//! built from `plugins/`: the tests check their output, the benchmark times
//! them.

use std::path::Path;

use weir::spec::Pipeline;

/// The queries, in order.
pub const QUERIES: [&str; 6] = ["q0", "q1", "q2", "q3", "q5", "q7"];
/// The generator's seed in the query files.
pub const SEED: u64 = 7;
/// Event `n` happens at `START_MS + n` (the generator's default start,
/// `step_ms: 1` in the query files).
pub const START_MS: i64 = weir_plugin_generate::DEFAULT_START_MS;

/// The plugins the query files name, and their built components.
const PLUGINS: [(&str, &str); 6] = [
    ("generate", weir_plugin_artifacts::GENERATE),
    ("filter", weir_plugin_artifacts::FILTER),
    ("select", weir_plugin_artifacts::SELECT),
    ("join", weir_plugin_artifacts::JOIN),
    ("window-aggregate", weir_plugin_artifacts::WINDOW_AGGREGATE),
    ("count", weir_plugin_artifacts::COUNT),
];

/// The file of `query`.
pub fn file(query: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/nexmark")
        .join(format!("{query}.yaml"))
}

/// `query` over `events` events, run in folder `dir` (its state, and with
/// `parquet` its output, in `dir/out`, instead of counting it with the
/// `count` sink).
pub fn pipeline(query: &str, events: u64, dir: &Path, parquet: bool) -> Pipeline {
    let mut text = std::fs::read_to_string(file(query)).unwrap();
    if parquet {
        let sink = "{plugin: count,";
        assert!(text.contains(sink), "{query}: the sink is {sink} ...}}");
        text = text.replace(sink, "{type: file, config: {path: out, format: parquet},");
    }
    for (name, component) in PLUGINS {
        text = text.replace(&format!("plugin: {name}"), &format!("plugin: {component}"));
    }
    Pipeline::parse(&dir.join(format!("{query}.yaml")), &text, |name| {
        (name == "EVENTS").then(|| events.to_string())
    })
    .unwrap()
}
