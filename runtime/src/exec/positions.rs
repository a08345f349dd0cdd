//! The pipeline's state folder: where resuming sources record how far every
//! sink has durably written what they read (`<node>.json`), and stateful
//! transforms their state at the last checkpoint (`<instance>.state`). Both
//! are replaced atomically, so a crash leaves the previous version.

use std::path::{Path, PathBuf};

use crate::plugin::BoxError;
use crate::{Error, Fault, Result, Stage};

/// The position file of `node` in `dir`.
pub fn position_file(dir: &Path, node: &str) -> PathBuf {
    dir.join(format!("{node}.json"))
}

/// What a run recorded for a source: its position, and the number of the
/// batch it follows (see `acks::Ledger`; files written before batches were
/// numbered hold the bare position).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    /// The source's position.
    pub position: serde_json::Value,
    /// The number of the last batch before it.
    pub sequence: u64,
}

/// What a previous run recorded for `node`, if anything: its position and
/// the number of the batch before it (`None` in files of older versions).
pub fn load_recorded(dir: &Path, node: &str) -> Result<Option<(serde_json::Value, Option<u64>)>> {
    Ok(load(dir, node)?.map(
        |value| match serde_json::from_value::<Recorded>(value.clone()) {
            Ok(recorded) => (recorded.position, Some(recorded.sequence)),
            Err(_) => (value, None),
        },
    ))
}

/// Records `position`, which follows batch `sequence`, for `node`.
pub fn store_recorded(
    dir: &Path,
    node: &str,
    position: &serde_json::Value,
    sequence: u64,
) -> Result<()> {
    let recorded = Recorded {
        position: position.clone(),
        sequence,
    };
    store(
        dir,
        node,
        &serde_json::to_value(recorded).expect("serializes"),
    )
}

/// The JSON a previous run recorded for `node`, if any.
fn load(dir: &Path, node: &str) -> Result<Option<serde_json::Value>> {
    let path = position_file(dir, node);
    let unusable = |message: String, cause: BoxError| {
        Error::caused(Stage::Open, Fault::External, message, cause)
    };
    match read(&path) {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            unusable(
                format!(
                    "{}: not a position; delete it to read from the start",
                    path.display()
                ),
                e.into(),
            )
        }),
        Ok(None) => Ok(None),
        Err(e) => Err(unusable(
            format!("cannot read {}", path.display()),
            e.into(),
        )),
    }
}

/// Records `position` for `node`.
fn store(dir: &Path, node: &str, position: &serde_json::Value) -> Result<()> {
    let path = position_file(dir, node);
    let text = serde_json::to_vec_pretty(position).expect("JSON values serialize");
    write(&path, &text).map_err(|e| {
        Error::caused(
            Stage::Commit,
            Fault::External,
            format!("cannot record the position in {}", path.display()),
            e,
        )
    })
}

/// The state file of a transform instance.
pub fn state_file(dir: &Path, instance: &str) -> PathBuf {
    dir.join(format!("{instance}.state"))
}

/// The bytes of `path`, or `None` when there is no such file.
pub fn read(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replaces `path` with `bytes` atomically (a temporary file, synced, then
/// renamed over it).
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = dir.join(format!(".{name}.tmp"));
    std::fs::create_dir_all(dir)?;
    let mut file = std::fs::File::create(&temporary)?;
    std::io::Write::write_all(&mut file, bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// Removes `path`; a file that is not there is fine.
pub fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
