//! Test fixture: a source built on the raw WIT bindings (no SDK). It
//! announces `{id: Int64}` and its config is a number N: every `next`
//! answers a "batch" of N MiB (junk bytes: the host must refuse the size
//! before decoding it), three times, then `done`; with 0, `done` at once.
//! Every `open` logs "opened" (the host opens a plugin once per run).
#![allow(missing_docs)]
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::cell::Cell;

use arrow_schema::{DataType, Field, Schema};

wit_bindgen::generate!({
    world: "weir:plugin/source-plugin",
    path: "../../wit",
});

use exports::weir::plugin::source::{Guest, Plan, Poll};
use weir::plugin::types::{Error, PluginInfo};

thread_local! {
    static MIB: Cell<usize> = const { Cell::new(0) };
    static LEFT: Cell<u32> = const { Cell::new(3) };
}

struct SourceFlood;

impl Guest for SourceFlood {
    fn about() -> PluginInfo {
        PluginInfo {
            name: "test-source-flood".into(),
            version: "0.0.0".into(),
            description: "answers batches larger than its limit".into(),
        }
    }

    fn open(config: String) -> Result<Plan, Error> {
        let mib = config
            .trim()
            .parse()
            .map_err(|_| Error::InvalidConfig(format!("expected a number, got {config:?}")))?;
        MIB.set(mib);
        weir::plugin::host::log(weir::plugin::host::Level::Info, "opened", &[]);
        let schema = Schema::new(vec![Field::new("id", DataType::Int64, true)]);
        Ok(Plan {
            output_schema: weir_ipc::schema_to_bytes(&schema).unwrap(),
        })
    }

    fn next(_max_rows: u32) -> Result<Poll, Error> {
        let left = LEFT.get();
        if left == 0 || MIB.get() == 0 {
            return Ok(Poll::Done);
        }
        LEFT.set(left - 1);
        Ok(Poll::Batch(vec![0x5a; MIB.get() << 20]))
    }

    fn snapshot() -> Result<Option<Vec<u8>>, Error> {
        Ok(None)
    }

    fn restore(_state: Vec<u8>) -> Result<(), Error> {
        Err(Error::InvalidState("cannot resume".into()))
    }
}

// Exports exist only in the component; a native build of the workspace links none.
#[cfg(target_arch = "wasm32")]
export!(SourceFlood);
