//! The on-disk cache of compiled components.
//!
//! Compiling a component takes seconds; deserializing a compiled one takes
//! milliseconds. Compiled code is stored under a key made of the SHA-256 of
//! the `.wasm` bytes and a fingerprint of the engine (wasmtime version and
//! every setting that affects code generation), so a changed plugin or a
//! changed engine never reuses stale code. Files are written to a temporary
//! name and renamed, so concurrent processes never read half a file. The
//! folder is kept under a size cap (`$WEIR_CACHE_MAX_MIB`, default 1024):
//! after a store, the components used least recently go first (a load
//! marks its file as used).
//!
//! The SHA-256 of a plugin file is remembered too (`digests/`), by path,
//! with the file's identity: device, inode, size, and modification and
//! change times. While the file keeps that identity, a load neither reads
//! nor hashes it (18 MB for a Python plugin: about 30 ms a start). The
//! kernel sets the change time on every write and no program can set it
//! back; a digest is only remembered for a file unchanged for
//! [`SETTLED`], so a write within one tick of the file system's clock
//! cannot leave an identity unchanged.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// Most bytes of compiled components the folder keeps.
    max_bytes: u64,
}

/// Default cap of the cache folder, in MiB.
const DEFAULT_MAX_MIB: u64 = 1024;

/// What the cache folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheUsage {
    /// Compiled components.
    pub components: usize,
    /// Their bytes.
    pub bytes: u64,
}

impl ComponentCache {
    /// A cache in `dir` (created when first written), capped at
    /// `$WEIR_CACHE_MAX_MIB` (default 1024 MiB).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let max_mib = std::env::var("WEIR_CACHE_MAX_MIB")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_MAX_MIB);
        Self {
            dir: dir.into(),
            max_bytes: max_mib.saturating_mul(1 << 20),
        }
    }

    /// The compiled components in the folder, with when each was last used
    /// and its size.
    fn entries(&self) -> Vec<(PathBuf, std::time::SystemTime, u64)> {
        let Ok(files) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        files
            .filter_map(Result::ok)
            .filter(|f| f.path().extension().is_some_and(|e| e == "cwasm"))
            .filter_map(|f| {
                let meta = f.metadata().ok()?;
                Some((f.path(), meta.modified().ok()?, meta.len()))
            })
            .collect()
    }

    /// What the folder holds now.
    pub fn usage(&self) -> CacheUsage {
        let entries = self.entries();
        CacheUsage {
            components: entries.len(),
            bytes: entries.iter().map(|(_, _, size)| size).sum(),
        }
    }

    /// Removes every compiled component (and the remembered digests);
    /// answers what was removed.
    pub fn clear(&self) -> std::io::Result<CacheUsage> {
        let mut removed = CacheUsage::default();
        for (path, _, size) in self.entries() {
            fs::remove_file(&path)?;
            removed.components += 1;
            removed.bytes += size;
        }
        match fs::remove_dir_all(self.dir.join("digests")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        Ok(removed)
    }

    /// Removes the components used least recently until the folder is
    /// under its cap; never `keep` (the one just stored).
    fn evict(&self, keep: &Path) {
        let mut entries = self.entries();
        let mut total: u64 = entries.iter().map(|(_, _, size)| size).sum();
        entries.sort_by_key(|(_, used, _)| *used);
        for (path, _, size) in entries {
            if total <= self.max_bytes {
                break;
            }
            if path != keep && fs::remove_file(&path).is_ok() {
                tracing::info!(path = %path.display(), "evicted from the component cache");
                total -= size;
            }
        }
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

    /// The compiled component whose `.wasm` has SHA-256 `digest`, if the
    /// cache holds a usable one.
    pub fn load_compiled(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.compiled_path(engine, digest);
        if !path.is_file() {
            return None;
        }
        // SAFETY: the file was written by `store` below from the output of
        // `Engine::precompile_component` for an engine with the same
        // fingerprint; it lives in the user's own cache folder.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => {
                // Used now: the last to be evicted.
                let _ = fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(SystemTime::now()));
                Some(component)
            }
            Err(error) => {
                tracing::warn!(
                    path = %path.display(),
                    error = %error,
                    "ignoring unusable compiled component in the cache; compiling again"
                );
                None
            }
        }
    }

    fn compiled_path(&self, engine: &Engine, digest: &str) -> PathBuf {
        self.dir
            .join(format!("{digest}-{}.cwasm", engine_fingerprint(engine)))
    }

    /// Compiles `wasm` (whose SHA-256 is `digest`) and stores the result
    /// for the next load ([`ComponentCache::load_compiled`]).
    pub fn compile(
        &self,
        engine: &Engine,
        plugin: &str,
        digest: &str,
        wasm: &[u8],
    ) -> Result<Component, PluginError> {
        let path = self.compiled_path(engine, digest);
        let started = std::time::Instant::now();
        announce_compile(plugin, wasm);
        let compiled = engine
            .precompile_component(wasm)
            .map_err(|e| PluginError::Compile {
                plugin: plugin.to_string(),
                source: boxed(e),
            })?;
        match store(&path, &compiled) {
            Ok(()) => {
                tracing::info!(
                    target: COMPILE_LOG,
                    "compiled {} in {:.1} s; cached in {}",
                    file_name(plugin),
                    started.elapsed().as_secs_f64(),
                    self.dir.display()
                );
                self.evict(&path);
            }
            Err(source) => {
                tracing::warn!(path = %path.display(), error = %source, "cannot write the component cache")
            }
        }
        // SAFETY: `compiled` was produced just now by this engine.
        unsafe { Component::deserialize(engine, &compiled) }.map_err(|e| PluginError::Compile {
            plugin: plugin.to_string(),
            source: boxed(e),
        })
    }

    /// The SHA-256 remembered for the file at `path`, if the file still has
    /// the identity `meta` (its metadata, taken before reading it) shows.
    pub fn known_digest(&self, path: &Path, meta: &fs::Metadata) -> Option<String> {
        let (identity, _) = identity(meta)?;
        let text = fs::read_to_string(self.digest_path(path)).ok()?;
        let (recorded, digest) = text.trim_end().split_once('\n')?;
        (recorded == identity
            && digest.len() == 64
            && digest.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| digest.to_string())
    }

    /// Remembers `digest` as the SHA-256 of the file at `path` while it has
    /// the identity `meta` shows (metadata taken before the bytes were
    /// read, so a write during the read changes the identity). Only a file
    /// unchanged for [`SETTLED`] is remembered; failing to write only costs
    /// a later load the hashing.
    pub fn remember_digest(&self, path: &Path, meta: &fs::Metadata, digest: &str) {
        let Some((identity, changed)) = identity(meta) else {
            return;
        };
        let settled = SystemTime::now()
            .duration_since(changed)
            .is_ok_and(|age| age >= SETTLED);
        if !settled {
            return;
        }
        let file = self.digest_path(path);
        if let Err(error) = store(&file, format!("{identity}\n{digest}\n").as_bytes()) {
            tracing::debug!(path = %file.display(), %error, "cannot remember a plugin digest");
        }
    }

    fn digest_path(&self, plugin: &Path) -> PathBuf {
        let path = std::path::absolute(plugin).unwrap_or_else(|_| plugin.to_path_buf());
        let key = sha256_hex(path.as_os_str().as_encoded_bytes());
        self.dir.join("digests").join(&key[..32])
    }
}

/// How long a file must have been left unchanged before its digest is
/// remembered: longer than any file system's clock tick.
pub const SETTLED: Duration = Duration::from_secs(2);

/// Device, inode, size, modification and change times of a file, and when
/// it last changed (any write or metadata change, which no program can date
/// back) (Unix); elsewhere `None`, and digests are not remembered.
fn identity(meta: &fs::Metadata) -> Option<(String, SystemTime)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let text = format!(
            "{} {} {} {}.{:09} {}.{:09}",
            meta.dev(),
            meta.ino(),
            meta.size(),
            meta.mtime(),
            meta.mtime_nsec(),
            meta.ctime(),
            meta.ctime_nsec()
        );
        let changed =
            UNIX_EPOCH + Duration::new(meta.ctime().max(0) as u64, meta.ctime_nsec() as u32);
        Some((text, changed))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
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
