//! Where resuming sources record how far they read: one JSON file per node
//! in the pipeline's state folder, written only after every sink closed its
//! output, so a restarted run re-reads (never skips) what was in flight.

use std::path::{Path, PathBuf};

/// The position file of `node` in `dir`.
fn file(dir: &Path, node: &str) -> PathBuf {
    dir.join(format!("{node}.json"))
}

/// The position a previous run recorded for `node`, if any.
pub fn load(dir: &Path, node: &str) -> Result<Option<serde_json::Value>, String> {
    let path = file(dir, node);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e}; delete it to read from the start", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Records `position` for `node`, replacing the file atomically.
pub fn store(dir: &Path, node: &str, position: &serde_json::Value) -> Result<(), String> {
    let path = file(dir, node);
    let temporary = dir.join(format!(".{node}.json.tmp"));
    let text = serde_json::to_vec_pretty(position).expect("JSON values serialize");
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&temporary, text))
        .and_then(|()| std::fs::rename(&temporary, &path))
        .map_err(|e| format!("cannot record the position in {}: {e}", path.display()))
}
