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
