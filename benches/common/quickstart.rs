//! The quickstart pipeline (`examples/quickstart/pipeline.yaml`) as the
//! benchmarks run it: its `console` sink left out, so nothing is printed.

use std::path::{Path, PathBuf};

/// Writes the quickstart pipeline without its console sink to
/// `dir/<name>.yaml`, passed through `edit` and with `extra` appended.
pub fn quickstart(
    dir: &Path,
    name: &str,
    extra: &str,
    edit: impl FnOnce(String) -> String,
) -> PathBuf {
    let quickstart =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/pipeline.yaml");
    let mut text = std::fs::read_to_string(quickstart).unwrap();
    text.truncate(text.find("  console:").expect("the console sink"));
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, format!("{}{extra}", edit(text))).unwrap();
    path
}

/// Points the plugin path at the first-party plugins and `ROWS` at `rows`
/// (read by the quickstart's `generate` source); answers a folder for the
/// pipelines and an engine to load them into.
pub fn prepare(rows: u64) -> (tempfile::TempDir, weir::plugin::PluginEngine) {
    let plugins = Path::new(weir_plugin_artifacts::FILTER).parent().unwrap();
    // SAFETY: set before any thread of this process reads the environment.
    unsafe {
        std::env::set_var("WEIR_PLUGIN_PATH", plugins);
        std::env::set_var("ROWS", rows.to_string());
    }
    let engine = weir::plugin::PluginEngine::new(&Default::default()).unwrap();
    (tempfile::tempdir().unwrap(), engine)
}

/// The median of `times`.
pub fn median(mut times: Vec<std::time::Duration>) -> std::time::Duration {
    times.sort();
    times[times.len() / 2]
}
