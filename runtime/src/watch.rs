//! `weir run --watch`: reloads a plugin node when its `.wasm` file changes
//! on disk.
//!
//! The folders of the nodes' plugin files are watched (editors and build
//! tools often replace a file by renaming a new one over it). After an
//! event, a file is left alone until it has been quiet for [`QUIET`]; then it
//! is loaded (compiled, off the node's thread). A file that is still being
//! written does not load as a component and is tried again at its next
//! event; a file whose digest is the running one is ignored. A loaded
//! version is handed to the node's [`Reloader`], which swaps it in or
//! refuses it (the old version keeps running; the reason is logged and
//! audited).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use crate::exec::Reloader;
use crate::graph::{Graph, Implementation};
use crate::plugin::{PluginEngine, sha256_hex};

/// How long a changed file must stay unchanged before it is loaded.
pub const QUIET: Duration = Duration::from_millis(300);

/// A watched plugin file and what runs from it now.
struct WatchedFile {
    nodes: Vec<String>,
    digest: String,
    changed: Option<Instant>,
}

/// Watches the plugin files of `graph`'s transforms and reloads their nodes
/// when they change, until `done` is set. Returns an error when the files
/// cannot be watched.
pub fn watch_plugins(
    graph: &Graph,
    engine: &PluginEngine,
    reloader: &Reloader,
    done: &AtomicBool,
) -> Result<(), notify::Error> {
    let mut files: HashMap<PathBuf, WatchedFile> = HashMap::new();
    for node in &graph.nodes {
        if let Implementation::Plugin(plugin) = &node.implementation
            && node.section == crate::spec::Section::Transforms
        {
            let path = canonical(Path::new(plugin.name()));
            let file = files.entry(path).or_insert_with(|| WatchedFile {
                nodes: Vec::new(),
                digest: plugin.digest().to_string(),
                changed: None,
            });
            file.nodes.push(node.name.clone());
        }
    }
    if files.is_empty() {
        return Ok(());
    }
    let (events, changes) = crossbeam_channel::unbounded();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            for path in event.paths {
                let _ = events.send(canonical(&path));
            }
        }
    })?;
    let mut folders: Vec<&Path> = files.keys().filter_map(|p| p.parent()).collect();
    folders.sort();
    folders.dedup();
    for folder in folders {
        watcher.watch(folder, RecursiveMode::NonRecursive)?;
    }
    while !done.load(Ordering::SeqCst) {
        if let Ok(path) = changes.recv_timeout(Duration::from_millis(100))
            && let Some(file) = files.get_mut(&path)
        {
            file.changed = Some(Instant::now());
        }
        for (path, file) in &mut files {
            if file.changed.is_some_and(|at| at.elapsed() >= QUIET) {
                file.changed = None;
                reload_file(engine, reloader, path, file);
            }
        }
    }
    Ok(())
}

/// Loads a changed plugin file and hands it to every node that runs it.
fn reload_file(engine: &PluginEngine, reloader: &Reloader, path: &Path, file: &mut WatchedFile) {
    let Ok(bytes) = std::fs::read(path) else {
        return; // removed or being replaced; its next event tries again
    };
    let digest = format!("sha256:{}", sha256_hex(&bytes));
    if digest == file.digest {
        return;
    }
    let started = Instant::now();
    let plugin = match engine.load_bytes(&path.display().to_string(), &bytes) {
        Ok(plugin) => plugin,
        Err(error) => {
            tracing::warn!(file = %path.display(), %error, "changed plugin file does not load (yet); the running version stays");
            return;
        }
    };
    let compile = started.elapsed();
    for node in &file.nodes {
        match reloader.reload(node, plugin.clone(), None) {
            Ok(swapped) => {
                tracing::info!(node, file = %path.display(), old_digest = %swapped.old_digest, new_digest = %swapped.new_digest, ?compile, pause = ?swapped.pause, "reloaded");
                file.digest = digest.clone();
            }
            Err(error) => tracing::warn!(node, file = %path.display(), %error, "reload refused"),
        }
    }
}

/// `path` with its folder resolved, so event paths and node paths compare.
fn canonical(path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(folder), Some(name)) => std::fs::canonicalize(if folder.as_os_str().is_empty() {
            Path::new(".")
        } else {
            folder
        })
        .map(|folder| folder.join(name))
        .unwrap_or_else(|_| path.to_path_buf()),
        _ => path.to_path_buf(),
    }
}
