//! Host side of the per-record benchmark baseline (`plugins/bench-per-record`):
//! one Wasm call per JSON record, as per-record Wasm stream processors do.

#![allow(dead_code)]

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

wasmtime::component::bindgen!({
    world: "per-record",
    path: "plugins/bench-per-record/wit",
});

struct State {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// An instance of the per-record filter.
pub struct PerRecordFilter {
    store: Store<State>,
    bindings: PerRecord,
}

impl PerRecordFilter {
    /// Instantiates the component at `path`, configured to keep `id > threshold`
    /// and output `columns`.
    pub fn new(path: &str, threshold: i64, columns: &[String]) -> Self {
        let engine = Engine::default();
        let component =
            Component::from_file(&engine, path).expect("compile the per-record component");
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("link WASI");
        let state = State {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        };
        let mut store = Store::new(&engine, state);
        let bindings =
            PerRecord::instantiate(&mut store, &component, &linker).expect("instantiate");
        bindings
            .call_configure(&mut store, threshold, columns)
            .expect("configure");
        Self { store, bindings }
    }

    /// Runs Nexmark q1 or q2 on one JSON event.
    pub fn nexmark(&mut self, query: u8, event: &str) -> Option<String> {
        self.bindings
            .call_nexmark_record(&mut self.store, query, event)
            .expect("call")
    }

    /// Filters one record.
    pub fn filter(&mut self, record: &str) -> Option<String> {
        self.bindings
            .call_filter_record(&mut self.store, record)
            .expect("call")
    }
}

/// Every row of `batch` as a JSON object (null fields left out): the
/// records a per-record system receives.
pub fn json_records(batch: &arrow::array::RecordBatch) -> Vec<String> {
    let mut writer = arrow::json::LineDelimitedWriter::new(Vec::new());
    writer.write(batch).unwrap();
    writer.finish().unwrap();
    String::from_utf8(writer.into_inner())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}
