//! The process-wide Wasm engine: wasmtime configuration, the linker with the
//! host interfaces, the epoch ticker that enforces call deadlines, and
//! loading components into [`Plugin`]s.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings;
use super::cache::{ComponentCache, Origin, sha256_hex};
use super::error::{PluginError, boxed};
use super::host::HostState;
use super::limits::EPOCH_TICK;
use super::world::{self, Contract};
use crate::Kind;

/// How to build a [`PluginEngine`].
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Folder of compiled components; `None` compiles every load.
    pub cache_dir: Option<std::path::PathBuf>,
    /// Pre-allocate instance slots (wasmtime's pooling allocator): faster
    /// instantiation for a fixed reservation of virtual memory. Falls back
    /// to on-demand allocation when the machine refuses the reservation.
    pub pooling: bool,
    /// Bound every call by its deadline (epoch interruption). Only
    /// benchmarks turn it off, to measure what it costs.
    pub epoch_interruption: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            cache_dir: ComponentCache::default_dir(),
            pooling: true,
            epoch_interruption: true,
        }
    }
}

/// Instance slots reserved by the pooling allocator. Each reserves virtual
/// address space, not memory.
const POOL_INSTANCES: u32 = 256;

/// Bytes of each pooled memory and table reset with `memset` instead of
/// `madvise` when an instance ends, so its pages stay resident for the next
/// one. Measured on the filter plugin: 64 KiB takes pooled instantiation from
/// 11.4 to 9.2 µs; 256 KiB and more cost more in `memset` than they save.
const KEEP_RESIDENT: usize = 64 << 10;

/// A loaded, type-checked component, ready to instantiate.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginInner>,
}

struct PluginInner {
    name: String,
    digest: String,
    contract: Contract,
    origin: Origin,
    component: Component,
    pre: TypedPre,
    load_time: Duration,
}

/// The instance-pre of a component, type-checked against its world.
#[derive(Clone)]
pub(crate) enum TypedPre {
    Transform(TransformPre),
    Source(bindings::source::SourcePluginPre<HostState>),
    Sink(bindings::sink::SinkPluginPre<HostState>),
}

/// The instance-pre of a transform, with the export indices of its world
/// and of the optional `event-time` interface.
#[derive(Clone)]
pub(crate) struct TransformPre {
    pre: wasmtime::component::InstancePre<HostState>,
    transform: bindings::transform::TransformPluginIndices,
    event_time: Option<bindings::event_time::exports::weir::plugin::event_time::GuestIndices>,
    input_bounds: Option<bindings::input_bounds::exports::weir::plugin::input_bounds::GuestIndices>,
}

/// The bindings of one transform instance.
pub(crate) struct TransformBindings {
    pub plugin: bindings::transform::TransformPlugin,
    pub event_time: Option<bindings::event_time::exports::weir::plugin::event_time::Guest>,
    pub input_bounds: Option<bindings::input_bounds::exports::weir::plugin::input_bounds::Guest>,
}

impl TransformPre {
    /// Type-checks `pre`'s exports: the transform world's, the
    /// `event-time` interface's when it `exports_event_time` (plugins that
    /// keep their own clock do not) and the `input-bounds` interface's when
    /// it `exports_input_bounds`.
    fn new(
        pre: wasmtime::component::InstancePre<HostState>,
        exports_event_time: bool,
        exports_input_bounds: bool,
    ) -> wasmtime::Result<Self> {
        let transform = bindings::transform::TransformPluginIndices::new(&pre)?;
        let event_time = match exports_event_time {
            true => Some(
                bindings::event_time::exports::weir::plugin::event_time::GuestIndices::new(&pre)?,
            ),
            false => None,
        };
        let input_bounds = match exports_input_bounds {
            true => Some(
                bindings::input_bounds::exports::weir::plugin::input_bounds::GuestIndices::new(
                    &pre,
                )?,
            ),
            false => None,
        };
        Ok(Self {
            pre,
            transform,
            event_time,
            input_bounds,
        })
    }

    /// Instantiates the component in `store`.
    pub(crate) fn instantiate(
        &self,
        store: &mut wasmtime::Store<HostState>,
    ) -> wasmtime::Result<TransformBindings> {
        let instance = self.pre.instantiate(&mut *store)?;
        Ok(TransformBindings {
            plugin: self.transform.load(&mut *store, &instance)?,
            event_time: match &self.event_time {
                Some(indices) => Some(indices.load(&mut *store, &instance)?),
                None => None,
            },
            input_bounds: match &self.input_bounds {
                Some(indices) => Some(indices.load(&mut *store, &instance)?),
                None => None,
            },
        })
    }
}

impl Plugin {
    /// The plugin's name: its file name, or the name it was loaded under.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// `sha256:<hex>` of the `.wasm` bytes.
    pub fn digest(&self) -> &str {
        &self.inner.digest
    }

    /// The world it implements and the contract version it was built for.
    pub fn contract(&self) -> &Contract {
        &self.inner.contract
    }

    /// The world it implements.
    pub fn world(&self) -> Kind {
        self.inner.contract.world
    }

    /// Whether the component was compiled, read from the disk cache or
    /// already in memory.
    pub fn origin(&self) -> Origin {
        self.inner.origin
    }

    /// How long loading took: reading and hashing the file (or finding its
    /// remembered digest), then compiling or deserializing and checking it.
    pub fn load_time(&self) -> Duration {
        self.inner.load_time
    }

    /// The compiled component.
    pub fn component(&self) -> &Component {
        &self.inner.component
    }

    pub(crate) fn typed_pre(&self) -> &TypedPre {
        &self.inner.pre
    }

    /// The error for using this plugin as node `node` of kind `expected`.
    pub(crate) fn wrong_world(&self, node: &str, expected: Kind) -> PluginError {
        PluginError::WrongWorld {
            plugin: format!("{node} ({})", self.name()),
            expected: format!("a {expected} plugin (weir:plugin/{expected})"),
            found: vec![format!(
                "weir:plugin/{}@{}",
                self.world(),
                self.contract().version
            )],
        }
    }
}

/// The wasmtime engine and everything shared by all plugin instances.
#[derive(Clone)]
pub struct PluginEngine {
    engine: Engine,
    linker: Arc<Linker<HostState>>,
    cache: Option<ComponentCache>,
    loaded: Arc<Mutex<HashMap<String, Component>>>,
}

impl PluginEngine {
    /// An engine with the given options; starts the epoch ticker thread.
    pub fn new(options: &EngineOptions) -> Result<Self, PluginError> {
        let epochs = options.epoch_interruption;
        let engine = match options.pooling {
            true => Engine::new(&config(true, epochs)).or_else(|error| {
                tracing::warn!(%error, "pooling allocator unavailable; allocating instances on demand");
                Engine::new(&config(false, epochs))
            }),
            false => Engine::new(&config(false, epochs)),
        }
        .map_err(|e| PluginError::Engine { source: boxed(e) })?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .and_then(|()| super::clocks::add_to_linker(&mut linker))
            .and_then(|()| super::special_files::add_to_linker(&mut linker))
            .and_then(|()| bindings::host::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s))
            .and_then(|()| bindings::types::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s))
            .map_err(|e| PluginError::Engine { source: boxed(e) })?;

        start_epoch_ticker(&engine);
        Ok(Self {
            engine,
            linker: Arc::new(linker),
            cache: options.cache_dir.clone().map(ComponentCache::new),
            loaded: Arc::default(),
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Loads the component at `path`. A file whose digest the cache
    /// remembers for its identity, and whose compiled form is cached, is
    /// neither read nor hashed (see [`super::cache`]).
    pub fn load_file(&self, path: &Path) -> Result<Plugin, PluginError> {
        let started = Instant::now();
        let name = path.display().to_string();
        // The metadata is taken before the bytes are read: a write during
        // the read changes it.
        let remembered = self.cache.as_ref().zip(std::fs::metadata(path).ok());
        if let Some((cache, meta)) = &remembered
            && let Some(digest) = cache.known_digest(path, meta)
            && let Some((component, origin)) = self.compiled(&digest)
        {
            return self.prepare(&name, digest, component, origin, started);
        }
        let bytes = read_plugin(path)?;
        let digest = sha256_hex(&bytes);
        if let Some((cache, meta)) = &remembered {
            cache.remember_digest(path, meta, &digest);
        }
        self.load_hashed(&name, &bytes, digest, started)
    }

    /// Loads the component at `path` only if its SHA-256 is `expected`
    /// (lowercase hex); a mismatch is refused before anything is compiled.
    pub fn load_file_pinned(&self, path: &Path, expected: &str) -> Result<Plugin, PluginError> {
        let started = Instant::now();
        let bytes = read_plugin(path)?;
        let name = path.display().to_string();
        let digest = sha256_hex(&bytes);
        if digest != expected {
            return Err(PluginError::DigestMismatch {
                plugin: name,
                expected: expected.to_string(),
                actual: digest,
            });
        }
        self.load_hashed(&name, &bytes, digest, started)
    }

    /// Loads a component from its bytes; `name` names it in errors and logs.
    pub fn load_bytes(&self, name: &str, wasm: &[u8]) -> Result<Plugin, PluginError> {
        let started = Instant::now();
        self.load_hashed(name, wasm, sha256_hex(wasm), started)
    }

    /// Loads `wasm`, whose SHA-256 is `digest`; the load began at `started`.
    fn load_hashed(
        &self,
        name: &str,
        wasm: &[u8],
        digest: String,
        started: Instant,
    ) -> Result<Plugin, PluginError> {
        check_header(name, wasm)?;
        let (component, origin) = self.compile(name, &digest, wasm)?;
        self.prepare(name, digest, component, origin, started)
    }

    /// Detects the component's world and type-checks its exports.
    fn prepare(
        &self,
        name: &str,
        digest: String,
        component: Component,
        origin: Origin,
        started: Instant,
    ) -> Result<Plugin, PluginError> {
        let component_type = component.component_type();
        let contract = world::detect(name, component_type.exports(&self.engine).map(|(n, _)| n))?;
        let exports_event_time = component_type
            .exports(&self.engine)
            .any(|(n, _)| n.starts_with(world::EVENT_TIME_PREFIX));
        let exports_input_bounds = component_type
            .exports(&self.engine)
            .any(|(n, _)| n.starts_with(world::INPUT_BOUNDS_PREFIX));
        let pre =
            self.linker
                .instantiate_pre(&component)
                .map_err(|e| PluginError::Instantiate {
                    plugin: name.to_string(),
                    source: boxed(e),
                })?;
        // Type-check the exports against the world once, here, not per instance.
        let pre = match contract.world {
            Kind::Transform => TransformPre::new(pre, exports_event_time, exports_input_bounds)
                .map(TypedPre::Transform),
            Kind::Source => bindings::source::SourcePluginPre::new(pre).map(TypedPre::Source),
            Kind::Sink => bindings::sink::SinkPluginPre::new(pre).map(TypedPre::Sink),
        }
        .map_err(|e| PluginError::Instantiate {
            plugin: name.to_string(),
            source: boxed(e),
        })?;

        let load_time = started.elapsed();
        tracing::info!(plugin = name, digest = %digest, world = %contract.world, ?origin, ?load_time, "plugin loaded");
        Ok(Plugin {
            inner: Arc::new(PluginInner {
                name: name.to_string(),
                digest: format!("sha256:{digest}"),
                contract,
                origin,
                component,
                pre,
                load_time,
            }),
        })
    }

    /// The component of SHA-256 `digest` if this engine loaded it already or
    /// the cache holds it compiled.
    fn compiled(&self, digest: &str) -> Option<(Component, Origin)> {
        let loaded = self
            .loaded
            .lock()
            .expect("component map lock")
            .get(digest)
            .cloned();
        if let Some(component) = loaded {
            return Some((component, Origin::Memory));
        }
        let component = self.cache.as_ref()?.load_compiled(&self.engine, digest)?;
        self.loaded
            .lock()
            .expect("component map lock")
            .insert(digest.to_string(), component.clone());
        Some((component, Origin::DiskCache))
    }

    fn compile(
        &self,
        name: &str,
        digest: &str,
        wasm: &[u8],
    ) -> Result<(Component, Origin), PluginError> {
        if let Some(found) = self.compiled(digest) {
            return Ok(found);
        }
        let (component, origin) = match &self.cache {
            Some(cache) => (
                cache.compile(&self.engine, name, digest, wasm)?,
                Origin::Compiled,
            ),
            None => {
                super::cache::announce_compile(name, wasm);
                let component =
                    Component::new(&self.engine, wasm).map_err(|e| PluginError::Compile {
                        plugin: name.to_string(),
                        source: boxed(e),
                    })?;
                (component, Origin::Compiled)
            }
        };
        self.loaded
            .lock()
            .expect("component map lock")
            .insert(digest.to_string(), component.clone());
        Ok((component, origin))
    }
}

fn config(pooling: bool, epoch_interruption: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(epoch_interruption);
    if std::env::var_os("WEIR_PERF_MAP").is_some() {
        // Names the compiled plugin functions for `perf` (/tmp/perf-PID.map).
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 8)
            .total_memories(POOL_INSTANCES * 4)
            .total_tables(POOL_INSTANCES * 8)
            .total_stacks(POOL_INSTANCES)
            .max_memory_size(super::limits::Limits::default().max_memory_bytes)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is
/// dropped, so each store's deadline (in ticks) bounds its calls.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("weir-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawn the epoch ticker thread");
}

/// The bytes of the plugin file at `path`.
fn read_plugin(path: &Path) -> Result<Vec<u8>, PluginError> {
    std::fs::read(path).map_err(|source| PluginError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Refuses anything that is not a component before wasmtime sees it, with a
/// message that says what the bytes are.
fn check_header(name: &str, wasm: &[u8]) -> Result<(), PluginError> {
    const CORE_MODULE: [u8; 4] = [1, 0, 0, 0];
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err(PluginError::NotWasm {
            plugin: name.to_string(),
        });
    }
    if wasm[4..8] == CORE_MODULE {
        return Err(PluginError::CoreModule {
            plugin: name.to_string(),
        });
    }
    Ok(())
}
