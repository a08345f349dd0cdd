//! `weir run --watch`: reloads a plugin node when its `.wasm` file changes
//! on disk, or when its `plugin:`, `config:` or `limits:` change in the
//! pipeline file.
//!
//! The folders of the nodes' plugin files are watched (editors and build
//! tools often replace a file by renaming a new one over it). After an
//! event, a file is left alone until it has been quiet for [`QUIET`]; then it
//! is loaded (compiled, off the node's thread). A file that is still being
//! written does not load as a component and is tried again at its next
//! event; a file whose digest is the running one is ignored. A loaded
//! version is handed to the node's [`Reloader`], which swaps it in or
//! refuses it (the old version keeps running; the reason is logged and
//! audited). A changed pipeline file is parsed again: a transform whose
//! `plugin`, `config` or `limits` changed is reloaded with them (a new
//! instance, its state moved over); any other change (nodes, inputs,
//! capabilities) is logged as needing a restart.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use crate::exec::{Reloader, Replacement};
use crate::graph::{Graph, Implementation, load_plugin};
use crate::plugin::{Plugin, PluginEngine, sha256_hex};
use crate::spec::{LimitsSpec, NodeSpec, Pipeline};

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
        if let Implementation::Transform(plugin) = &node.implementation {
            let path = canonical(Path::new(plugin.name()));
            let file = files.entry(path).or_insert_with(|| WatchedFile {
                nodes: Vec::new(),
                digest: plugin.digest().to_string(),
                changed: None,
            });
            file.nodes.push(node.name.clone());
        }
    }
    let pipeline_file = canonical(&graph.pipeline.path);
    let mut pipeline = PipelineWatch {
        applied: graph.pipeline.clone(),
        running: graph
            .nodes
            .iter()
            .filter_map(|n| Some((n.name.clone(), n.implementation.plugin()?.clone())))
            .collect(),
        changed: None,
    };
    let (events, changes) = crossbeam_channel::unbounded();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            for path in event.paths {
                let _ = events.send(canonical(&path));
            }
        }
    })?;
    let mut folders: Vec<&Path> = files
        .keys()
        .chain([&pipeline_file])
        .filter_map(|p| p.parent())
        .collect();
    folders.sort();
    folders.dedup();
    for folder in folders {
        watcher.watch(folder, RecursiveMode::NonRecursive)?;
    }
    while !done.load(Ordering::SeqCst) {
        if let Ok(path) = changes.recv_timeout(Duration::from_millis(100)) {
            if let Some(file) = files.get_mut(&path) {
                file.changed = Some(Instant::now());
            }
            if path == pipeline_file {
                pipeline.changed = Some(Instant::now());
            }
        }
        for (path, file) in &mut files {
            if file.changed.is_some_and(|at| at.elapsed() >= QUIET) {
                file.changed = None;
                reload_file(engine, reloader, path, file);
            }
        }
        if pipeline.changed.is_some_and(|at| at.elapsed() >= QUIET) {
            pipeline.changed = None;
            pipeline.apply(engine, reloader);
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
        match reloader.reload(node, plugin.clone()) {
            Ok(swapped) => {
                tracing::info!(node, file = %path.display(), old_digest = %swapped.old_digest, new_digest = %swapped.new_digest, ?compile, pause = ?swapped.pause, "reloaded");
                file.digest = digest.clone();
            }
            Err(error) => {
                let error = crate::plugin::with_causes(&error);
                tracing::warn!(node, file = %path.display(), %error, "reload refused")
            }
        }
    }
}

/// The pipeline file as last applied, and what each plugin node runs.
struct PipelineWatch {
    applied: Pipeline,
    running: HashMap<String, Plugin>,
    changed: Option<Instant>,
}

impl PipelineWatch {
    /// Reloads the transforms whose `plugin`, `config` or `limits` changed
    /// in the file; says which other changes need a restart.
    fn apply(&mut self, engine: &PluginEngine, reloader: &Reloader) {
        let path = self.applied.path.clone();
        let new = match Pipeline::from_file(&path) {
            Ok(new) => new,
            Err(error) => {
                tracing::warn!(%error, "the changed pipeline file does not parse; nothing reloaded");
                return;
            }
        };
        let reloadable = |spec: &NodeSpec| NodeSpec {
            plugin: None,
            config: serde_json::Value::Null,
            limits: LimitsSpec::default(),
            ..spec.clone()
        };
        let same_nodes = new.sources == self.applied.sources
            && new.sinks == self.applied.sinks
            && new.transforms.keys().eq(self.applied.transforms.keys());
        let mut restart = !same_nodes;
        for (name, spec) in &new.transforms {
            let Some(old) = self.applied.transforms.get(name) else {
                continue;
            };
            restart |= reloadable(spec) != reloadable(old);
            if (&spec.plugin, &spec.config, &spec.limits) == (&old.plugin, &old.config, &old.limits)
            {
                continue;
            }
            let plugin = match (&spec.plugin, self.running.get(name)) {
                (Some(_), Some(running)) if spec.plugin == old.plugin => Ok(running.clone()),
                (Some(reference), _) => {
                    load_plugin(reference, &new.base_dir, engine).map_err(|e| e.with_causes())
                }
                (None, _) => Err("the node is no longer a plugin".to_string()),
            };
            let result = plugin.and_then(|plugin| {
                let replacement = Replacement {
                    plugin: plugin.clone(),
                    config: Some(spec.config.to_string()),
                    limits: Some(crate::graph::limits(&spec.limits)),
                };
                reloader
                    .reload(name, replacement)
                    .map(|swapped| (plugin, swapped))
                    .map_err(|e| crate::plugin::with_causes(&e))
            });
            match result {
                Ok((plugin, swapped)) => {
                    tracing::info!(node = name.as_str(), new_digest = %swapped.new_digest, pause = ?swapped.pause, "reloaded from the changed pipeline file");
                    self.running.insert(name.clone(), plugin);
                    self.applied.transforms.insert(
                        name.clone(),
                        NodeSpec {
                            plugin: spec.plugin.clone(),
                            config: spec.config.clone(),
                            limits: spec.limits.clone(),
                            ..old.clone()
                        },
                    );
                }
                Err(error) => {
                    tracing::warn!(node = name.as_str(), %error, "reload from the pipeline file refused")
                }
            }
        }
        if restart {
            tracing::warn!(file = %path.display(), "the pipeline file changes more than transforms' plugin, config or limits (nodes, inputs, capabilities, ...): restart weir to apply that");
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
