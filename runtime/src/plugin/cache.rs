//! The on-disk cache of compiled components.
//!
//! Compiling a component takes seconds; deserializing a compiled one takes
//! milliseconds. Compiled code is stored under a key made of the SHA-256 of
//! the `.wasm` bytes and a fingerprint of the engine (wasmtime version and
//! every setting that affects code generation), so a changed plugin or a
//! changed engine never reuses stale code. Files are written to a temporary
//! name and renamed, so concurrent processes never read half a file.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::{PluginError, boxed};

/// Where a component came from when it was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Compiled now (and written to the cache, when there is one).
    Compiled,
    /// Deserialized from the on-disk cache.
    DiskCache,
    /// Already loaded by this engine in this process.
    Memory,
}

/// A folder of compiled components for one engine configuration.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
}

impl ComponentCache {
    /// A cache in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The default folder: `$WEIR_CACHE_DIR`, else `$XDG_CACHE_HOME/weir`,
    /// else `$HOME/.cache/weir`; `None` when none is set.
    pub fn default_dir() -> Option<PathBuf> {
        let env = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        env("WEIR_CACHE_DIR")
            .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("weir")))
            .or_else(|| env("HOME").map(|d| d.join(".cache").join("weir")))
            .map(|d| d.join("components"))
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads the compiled form of `wasm` (whose SHA-256 is `digest`) from the
    /// cache, or compiles it and stores it.
    pub fn load(
        &self,
        engine: &Engine,
        plugin: &str,
        digest: &str,
        wasm: &[u8],
    ) -> Result<(Component, Origin), PluginError> {
        let path = self
            .dir
            .join(format!("{digest}-{}.cwasm", engine_fingerprint(engine)));
        if path.is_file() {
            // SAFETY: the file was written by `store` below from the output of
            // `Engine::precompile_component` for an engine with the same
            // fingerprint; it lives in the user's own cache folder.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, Origin::DiskCache)),
                Err(error) => tracing::warn!(
                    path = %path.display(),
                    error = %error,
                    "ignoring unusable compiled component in the cache; compiling again"
                ),
            }
        }
        let started = std::time::Instant::now();
        announce_compile(plugin, wasm);
        let compiled = engine
            .precompile_component(wasm)
            .map_err(|e| PluginError::Compile {
                plugin: plugin.to_string(),
                source: boxed(e),
            })?;
        match store(&path, &compiled) {
            Ok(()) => tracing::info!(
                target: COMPILE_LOG,
                "compiled {} in {:.1} s; cached in {}",
                file_name(plugin),
                started.elapsed().as_secs_f64(),
                self.dir.display()
            ),
            Err(source) => {
                tracing::warn!(path = %path.display(), error = %source, "cannot write the component cache")
            }
        }
        // SAFETY: `compiled` was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &compiled) }.map_err(|e| {
            PluginError::Compile {
                plugin: plugin.to_string(),
                source: boxed(e),
            }
        })?;
        Ok((component, Origin::Compiled))
    }
}

/// Writes `bytes` to `path` atomically (temporary file, then rename).
fn store(path: &Path, bytes: &[u8]) -> Result<(), PluginError> {
    let dir = path.parent().expect("cache paths have a parent");
    let error = |source| PluginError::Cache {
        path: dir.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(error)?;
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(error)?;
    file.write_all(bytes).map_err(error)?;
    file.persist(path).map_err(|e| error(e.error))?;
    Ok(())
}

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A short, stable fingerprint of everything in the engine that affects the
/// compiled code.
fn engine_fingerprint(engine: &Engine) -> String {
    struct Sha(Sha256);
    impl Hasher for Sha {
        fn finish(&self) -> u64 {
            unreachable!("only `write` is used")
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = Sha(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The log target of compile progress, shown by `weir` unless asked
/// otherwise: compiling a large component takes seconds, once.
pub const COMPILE_LOG: &str = "weir::compile";

/// Says that `plugin` (its `wasm` bytes) is being compiled.
pub(crate) fn announce_compile(plugin: &str, wasm: &[u8]) {
    tracing::info!(
        target: COMPILE_LOG,
        "compiling {} ({:.1} MB), once: later runs load it from the cache",
        file_name(plugin),
        wasm.len() as f64 / 1e6
    );
}

/// The file name of a plugin path, for messages.
fn file_name(plugin: &str) -> &str {
    plugin.rsplit('/').next().unwrap_or(plugin)
}
