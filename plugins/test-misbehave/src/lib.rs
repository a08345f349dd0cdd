//! Test fixture: a transform built on the raw WIT bindings (no SDK), so it
//! can break the contract on purpose. Its config is one word:
//!
//! - `"pass"`: passes every batch through (whole-batch output);
//! - `"malformed-ipc"`: returns bytes that are not Arrow IPC;
//! - `"wrong-schema"`: announces `{id: Int64}` but returns `{name: Utf8, n: Float64}` batches;
//! - `"short-selection"`: answers derived output with a too-short bitmap;
//! - `"trap"`: panics in `process`;
//! - `"flood"`: returns each input batch 1000 times;
//! - `"hog"`: allocates and touches 256 MiB, 1 MiB at a time, in `process`;
//! - `"spin"`: loops forever in `process`;
//! - `"recurse"`: recurses in `process` until the stack overflows;
//! - `"sleep"`: sleeps an hour in `process`;
//! - `"print"`: writes 10,000 lines to stdout and stderr in `process`, then
//!   passes the batch through;
//! - `"trap-on-13"`: passes batches through, but panics on a batch whose
//!   `id` column (int64) holds 13: a poison pill;
//! - `"reject-out-of-range"`: rejects a row index past the batch.
#![allow(missing_docs)]
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::cell::RefCell;
use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

wit_bindgen::generate!({
    world: "weir:plugin/transform-plugin",
    path: "../../wit",
});

use exports::weir::plugin::transform::{
    ColumnSource, Derivation, Guest, Output, OutputMode, Plan, Processed,
};
use weir::plugin::types::{Error, PluginInfo, RejectedRow};

thread_local! {
    static MODE: RefCell<String> = const { RefCell::new(String::new()) };
    static INPUT_SCHEMA: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

struct Misbehave;

/// Recurses without end in Wasm locals only (no frame in linear memory),
/// so it is Wasm's own call stack that overflows.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    recurse(std::hint::black_box(depth + 1)).wrapping_add(depth)
}

fn mode() -> String {
    MODE.with_borrow(|m| m.clone())
}

impl Guest for Misbehave {
    fn about() -> PluginInfo {
        PluginInfo {
            name: "test-misbehave".into(),
            version: "0.0.0".into(),
            description: "misbehaves on purpose".into(),
        }
    }

    fn open(config: String, input_schema: Vec<u8>) -> Result<Plan, Error> {
        let mode = config.trim().trim_matches('"').to_string();
        MODE.with_borrow_mut(|m| *m = mode.clone());
        INPUT_SCHEMA.with_borrow_mut(|s| *s = input_schema.clone());
        let schema = weir_ipc::schema_from_bytes(&input_schema)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let (output_schema, mode) = match mode.as_str() {
            "pass"
            | "malformed-ipc"
            | "trap"
            | "trap-on-13"
            | "flood"
            | "hog"
            | "spin"
            | "recurse"
            | "sleep"
            | "print"
            | "reject-out-of-range" => (input_schema, OutputMode::Batches),
            "wrong-schema" => {
                let announced = Schema::new(vec![Field::new("id", DataType::Int64, true)]);
                (
                    weir_ipc::schema_to_bytes(&announced).unwrap(),
                    OutputMode::Batches,
                )
            }
            "short-selection" => {
                let layout = (0..schema.fields().len() as u32)
                    .map(ColumnSource::Input)
                    .collect();
                (input_schema, OutputMode::Derived(layout))
            }
            other => return Err(Error::InvalidConfig(format!("unknown mode {other:?}"))),
        };
        Ok(Plan {
            output_schema,
            reads: None,
            mode,
        })
    }

    fn process(batch: Vec<u8>) -> Result<Processed, Error> {
        let output = match mode().as_str() {
            "pass" | "reject-out-of-range" => Output::Batches(vec![batch]),
            "malformed-ipc" => {
                Output::Batches(vec![vec![0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0, 1, 2, 3]])
            }
            "wrong-schema" => {
                let schema = Arc::new(Schema::new(vec![
                    Field::new("name", DataType::Utf8, true),
                    Field::new("n", DataType::Float64, true),
                ]));
                let batch = RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        Arc::new(StringArray::from(vec!["x"; 3])),
                        Arc::new(Float64Array::from(vec![1.0; 3])),
                    ],
                )
                .unwrap();
                let bytes = weir_ipc::BatchEncoder::new(&schema)
                    .unwrap()
                    .encode(&batch)
                    .unwrap()
                    .to_vec();
                Output::Batches(vec![bytes])
            }
            "short-selection" => Output::Derived(Derivation {
                selection: Some(vec![]),
                appended: None,
            }),
            "trap" => panic!("this plugin traps on purpose"),
            "flood" => Output::Batches(vec![batch; 1000]),
            "hog" => {
                // Grows 1 MiB at a time, touching every page, to 256 MiB.
                let hog: Vec<Vec<u8>> = (0..256).map(|_| vec![1u8; 1 << 20]).collect();
                let touched: usize = std::hint::black_box(&hog)
                    .iter()
                    .map(|c| c[4096] as usize)
                    .sum();
                Output::Batches(vec![batch[..batch.len().min(touched << 20)].to_vec()])
            }
            "spin" => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "recurse" => {
                let depth = recurse(std::hint::black_box(1));
                Output::Batches(vec![batch; depth.min(1) as usize])
            }
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Output::Batches(vec![batch])
            }
            "print" => {
                for line in 0..10_000 {
                    println!("stdout line {line}");
                    eprintln!("stderr line {line}");
                }
                Output::Batches(vec![batch])
            }
            "trap-on-13" => {
                let schema = INPUT_SCHEMA.with_borrow(|s| s.clone());
                let mut decoder = weir_ipc::BatchDecoder::new(&schema)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                let decoded = decoder
                    .decode(batch.clone())
                    .map_err(|e| Error::InvalidInput(e.to_string()))?;
                let ids = decoded
                    .column_by_name("id")
                    .and_then(|c| c.as_any().downcast_ref::<arrow_array::Int64Array>());
                if ids.is_some_and(|ids| ids.iter().any(|id| id == Some(13))) {
                    panic!("poison pill: id 13");
                }
                Output::Batches(vec![batch])
            }
            other => return Err(Error::Internal(format!("unknown mode {other:?}"))),
        };
        let rejected = match mode().as_str() {
            "reject-out-of-range" => vec![RejectedRow {
                row: u32::MAX,
                message: "no such row".into(),
            }],
            _ => Vec::new(),
        };
        Ok(Processed { output, rejected })
    }

    fn finish() -> Result<Vec<Vec<u8>>, Error> {
        Ok(Vec::new())
    }

    fn snapshot() -> Result<Option<Vec<u8>>, Error> {
        Ok(None)
    }

    fn restore(_state: Vec<u8>) -> Result<(), Error> {
        Err(Error::InvalidState("stateless".into()))
    }
}

// Exports exist only in the component; a native build of the workspace links none.
#[cfg(target_arch = "wasm32")]
export!(Misbehave);
