//! How the executor should call Wasm: the same `filter` plugin called
//! synchronously on a thread of its own (what Weir does), through wasmtime's
//! async support with epoch yielding (each call runs on a fiber and yields
//! to the tokio scheduler every epoch tick), and synchronously from tokio's
//! blocking pool (`spawn_blocking` per call).
//!
//! - `call/*`: one `process` call on 8192 rows, one instance;
//! - `four_instances/*`: four instances process 64 batches each at once on
//!   this machine's cores (throughput when instances outnumber cores).
//!
//! Run: `cargo bench -p weir-e2e --bench executor`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, Store};
use weir::plugin::{HostState, Limits, bindings};

/// The transform world with async exports, sharing the host interfaces.
mod async_plugin {
    wasmtime::component::bindgen!({
        world: "weir:plugin/transform-plugin",
        path: "wit",
        exports: { default: async },
        with: {
            "weir:plugin/types": ::weir::plugin::bindings::types,
            "weir:plugin/host": ::weir::plugin::bindings::host,
        },
    });
}

use async_plugin::TransformPlugin as AsyncPlugin;
use bindings::transform::TransformPlugin as SyncPlugin;

const ROWS: usize = 8192;
const CONFIG: &str = r#"{"predicate": "id > 500"}"#;
const BATCHES_PER_INSTANCE: usize = 64;

/// The input schema, and one batch of its only column encoded as the
/// plugin receives it (the filter reads `id` only).
fn input() -> (Vec<u8>, Vec<u8>) {
    let schema = Schema::new(vec![Field::new("id", DataType::Int64, false)]);
    let ids = Int64Array::from_iter_values((0..ROWS as i64).map(|i| (i * 7919) % 1000));
    let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![Arc::new(ids)]).unwrap();
    let mut encoder = weir_ipc::BatchEncoder::new(&schema).unwrap();
    let bytes = encoder.encode(&batch).unwrap().clone();
    (weir_ipc::schema_to_bytes(&schema).unwrap(), bytes)
}

fn engine() -> Engine {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    let engine = Engine::new(&config).unwrap();
    let ticker = engine.clone();
    // The executor's 10 ms epoch tick.
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(weir::plugin::EPOCH_TICK);
            ticker.increment_epoch();
        }
    });
    engine
}

fn linker(engine: &Engine, async_support: bool) -> Linker<HostState> {
    let mut linker = Linker::new(engine);
    match async_support {
        true => wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap(),
        false => wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap(),
    }
    bindings::host::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).unwrap();
    bindings::types::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).unwrap();
    linker
}

fn store(engine: &Engine) -> Store<HostState> {
    Store::new(
        engine,
        HostState::new("bench", &Limits::default()).expect("no quota"),
    )
}

struct SyncInstance {
    store: Store<HostState>,
    plugin: SyncPlugin,
}

impl SyncInstance {
    fn new(engine: &Engine, component: &Component, linker: &Linker<HostState>) -> Self {
        let (schema, _) = input();
        let mut store = store(engine);
        store.set_epoch_deadline(100);
        let plugin = SyncPlugin::instantiate(&mut store, component, linker).unwrap();
        plugin
            .weir_plugin_transform()
            .call_open(&mut store, CONFIG, &schema)
            .unwrap()
            .unwrap();
        Self { store, plugin }
    }

    fn process(&mut self, batch: &Vec<u8>) {
        // As the executor does: a fresh deadline (100 ticks) for each call.
        self.store.set_epoch_deadline(100);
        let out = self
            .plugin
            .weir_plugin_transform()
            .call_process(&mut self.store, batch)
            .unwrap()
            .unwrap();
        black_box(out);
    }
}

struct AsyncInstance {
    store: Store<HostState>,
    plugin: AsyncPlugin,
}

impl AsyncInstance {
    async fn new(engine: &Engine, component: &Component, linker: &Linker<HostState>) -> Self {
        let (schema, _) = input();
        let mut store = store(engine);
        // Yield to the scheduler at every epoch tick instead of trapping.
        store.epoch_deadline_async_yield_and_update(1);
        let plugin = AsyncPlugin::instantiate_async(&mut store, component, linker)
            .await
            .unwrap();
        plugin
            .weir_plugin_transform()
            .call_open(&mut store, CONFIG, &schema)
            .await
            .unwrap()
            .unwrap();
        Self { store, plugin }
    }

    async fn process(&mut self, batch: &Vec<u8>) {
        let out = self
            .plugin
            .weir_plugin_transform()
            .call_process(&mut self.store, batch)
            .await
            .unwrap()
            .unwrap();
        black_box(out);
    }
}

fn benches(c: &mut Criterion) {
    let (_, batch) = input();
    let batch = Arc::new(batch);
    let wasm = std::fs::read(weir_plugin_artifacts::FILTER).unwrap();
    // One engine and component; each store is driven either way.
    let sync_engine = engine();
    let sync_component = Component::new(&sync_engine, &wasm).unwrap();
    let sync_linker = linker(&sync_engine, false);
    let (async_engine, async_component) = (sync_engine.clone(), sync_component.clone());
    let async_linker = linker(&async_engine, true);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut group = c.benchmark_group("call");
    group.throughput(Throughput::Elements(ROWS as u64));
    let mut instance = SyncInstance::new(&sync_engine, &sync_component, &sync_linker);
    group.bench_function("sync_on_own_thread", |b| {
        b.iter(|| instance.process(&batch))
    });
    let mut instance = runtime.block_on(AsyncInstance::new(
        &async_engine,
        &async_component,
        &async_linker,
    ));
    group.bench_function("async_epoch_yield", |b| {
        b.iter(|| runtime.block_on(instance.process(&batch)))
    });
    let shared = Arc::new(std::sync::Mutex::new(SyncInstance::new(
        &sync_engine,
        &sync_component,
        &sync_linker,
    )));
    group.bench_function("sync_spawn_blocking", |b| {
        b.iter(|| {
            let (shared, batch) = (shared.clone(), batch.clone());
            let task = runtime.spawn_blocking(move || shared.lock().unwrap().process(&batch));
            runtime.block_on(task).unwrap()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("four_instances");
    group.throughput(Throughput::Elements(
        (4 * BATCHES_PER_INSTANCE * ROWS) as u64,
    ));
    group.sample_size(10);
    group.bench_function("threads_sync", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut instances: Vec<_> = (0..4)
                    .map(|_| SyncInstance::new(&sync_engine, &sync_component, &sync_linker))
                    .collect();
                let started = Instant::now();
                std::thread::scope(|scope| {
                    for instance in &mut instances {
                        let batch = &batch;
                        scope.spawn(move || {
                            for _ in 0..BATCHES_PER_INSTANCE {
                                instance.process(batch);
                            }
                        });
                    }
                });
                total += started.elapsed();
            }
            total
        })
    });
    group.bench_function("tokio_async_epoch_yield", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let instances: Vec<_> = runtime.block_on(async {
                    let mut v = Vec::new();
                    for _ in 0..4 {
                        v.push(
                            AsyncInstance::new(&async_engine, &async_component, &async_linker)
                                .await,
                        );
                    }
                    v
                });
                let started = Instant::now();
                runtime.block_on(async {
                    let tasks: Vec<_> = instances
                        .into_iter()
                        .map(|mut instance| {
                            let batch = batch.clone();
                            tokio::spawn(async move {
                                for _ in 0..BATCHES_PER_INSTANCE {
                                    instance.process(&batch).await;
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                });
                total += started.elapsed();
            }
            total
        })
    });
    group.bench_function("tokio_spawn_blocking", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let instances: Vec<_> = (0..4)
                    .map(|_| {
                        Arc::new(std::sync::Mutex::new(SyncInstance::new(
                            &sync_engine,
                            &sync_component,
                            &sync_linker,
                        )))
                    })
                    .collect();
                let started = Instant::now();
                runtime.block_on(async {
                    let tasks: Vec<_> = instances
                        .into_iter()
                        .map(|instance| {
                            let batch = batch.clone();
                            tokio::spawn(async move {
                                for _ in 0..BATCHES_PER_INSTANCE {
                                    let (instance, batch) = (instance.clone(), batch.clone());
                                    tokio::task::spawn_blocking(move || {
                                        instance.lock().unwrap().process(&batch)
                                    })
                                    .await
                                    .unwrap();
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                });
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(executor, benches);
criterion_main!(executor);
