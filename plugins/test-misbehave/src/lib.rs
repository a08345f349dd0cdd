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
//! - `"reject-out-of-range"`: rejects a row index past the batch;
//! - `"reject-twice"`: passes batches through and rejects row 0 twice;
//! - `"reject-many"`: passes batches through and rejects 100,000 rows;
//! - `"reject-kept"`: keeps every row (derived output) and also rejects row 0;
//! - `"appended:N"`: derived output whose one appended column comes back as
//!   N MiB (of junk: the host must refuse the size before decoding it);
//! - `"big-batch:N"`: appends a `blob` column, N MiB long in the first row of
//!   the first batch (a legitimate, large batch);
//! - `"big-state:N"`: passes batches through and answers `snapshot` with an
//!   N MiB state;
//! - `"metric-names:N"`: passes batches through and reports N counters and N
//!   gauges of distinct names on every batch;
//! - `"spin-open"`: loops forever in `open`;
//! - `"log-flood"`: passes batches through; on the first it logs one record
//!   of 15,000 fields of 4 KiB, then makes 1,000,000 `log` calls;
//! - `"leak:N"`: passes batches through and never frees N MiB it allocates
//!   and touches on every batch (as a toolchain that leaks would);
//! - `"bounds-out-of-range"`: passes batches through and states input bounds
//!   on column 99 (`input-bounds`);
//! - `"bounds-lie"`: passes batches through but states that every row it
//!   passes on has `id` 1 (a wrong bound: it may lose only its own rows).
//!
//! It exports every optional transform interface (`full-transform-plugin`):
//! `event-time` answers that it keeps no event time.
#![allow(missing_docs)]
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::cell::RefCell;
use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

wit_bindgen::generate!({
    world: "weir:plugin/full-transform-plugin",
    path: "../../wit",
});

use exports::weir::plugin::transform::{
    ColumnSource, Derivation, Guest, Output, OutputMode, Plan, Processed,
};
use weir::plugin::host::Level;
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

/// The mode's word (before any `:`).
fn mode() -> String {
    let mode = MODE.with_borrow(|m| m.clone());
    mode.split(':').next().unwrap_or_default().to_string()
}

/// The mode's number (after `:`), in MiB or a count.
fn mode_number() -> usize {
    MODE.with_borrow(|m| {
        m.split(':')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    })
}

/// The input schema with a `blob` text column appended.
fn with_blob(input: &Schema) -> Schema {
    let mut fields: Vec<_> = input.fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new("blob", DataType::Utf8, true)));
    Schema::new(fields)
}

fn decode_input(batch: Vec<u8>) -> Result<RecordBatch, Error> {
    let schema = INPUT_SCHEMA.with_borrow(|s| s.clone());
    let mut decoder =
        weir_ipc::BatchDecoder::new(&schema).map_err(|e| Error::Internal(e.to_string()))?;
    decoder
        .decode(batch)
        .map_err(|e| Error::InvalidInput(e.to_string()))
}

thread_local! {
    static BATCHES_SEEN: RefCell<usize> = const { RefCell::new(0) };
}

/// Counts a batch received: 1 for the first.
fn batch_number() -> usize {
    BATCHES_SEEN.with_borrow_mut(|n| {
        *n += 1;
        *n
    })
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
        let word = mode.split(':').next().unwrap_or_default();
        if word == "spin-open" {
            let mut n = 0u64;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        let (output_schema, mode) = match word {
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
            | "reject-out-of-range"
            | "reject-twice"
            | "reject-many"
            | "big-state"
            | "metric-names"
            | "log-flood"
            | "leak"
            | "bounds-out-of-range"
            | "bounds-lie" => (input_schema, OutputMode::Batches),
            "big-batch" => (
                weir_ipc::schema_to_bytes(&with_blob(&schema)).unwrap(),
                OutputMode::Batches,
            ),
            "reject-kept" => {
                let layout = (0..schema.fields().len() as u32)
                    .map(ColumnSource::Input)
                    .collect();
                (input_schema, OutputMode::Derived(layout))
            }
            "appended" => {
                let mut layout: Vec<_> = (0..schema.fields().len() as u32)
                    .map(ColumnSource::Input)
                    .collect();
                layout.push(ColumnSource::Appended(0));
                (
                    weir_ipc::schema_to_bytes(&with_blob(&schema)).unwrap(),
                    OutputMode::Derived(layout),
                )
            }
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
            "pass"
            | "reject-out-of-range"
            | "reject-twice"
            | "reject-many"
            | "big-state"
            | "bounds-out-of-range"
            | "bounds-lie" => Output::Batches(vec![batch]),
            "leak" => {
                std::mem::forget(vec![1u8; mode_number() << 20]);
                Output::Batches(vec![batch])
            }
            "log-flood" => {
                if batch_number() == 1 {
                    let fields: Vec<(String, String)> = (0..15_000)
                        .map(|i| (format!("field{i}"), "v".repeat(4096)))
                        .collect();
                    weir::plugin::host::log(Level::Error, "one huge record", &fields);
                    for i in 0..1_000_000 {
                        weir::plugin::host::log(Level::Error, &format!("flood {i}"), &[]);
                    }
                }
                Output::Batches(vec![batch])
            }
            "metric-names" => {
                let seen = batch_number();
                weir::plugin::host::counter_add("batches", 1);
                for i in 0..mode_number() {
                    let name = format!("metric_{seen}_{i}");
                    weir::plugin::host::counter_add(&name, 1);
                    weir::plugin::host::gauge_set(&name, i as f64);
                }
                Output::Batches(vec![batch])
            }
            "reject-kept" => Output::Derived(Derivation {
                selection: None,
                appended: None,
            }),
            "appended" => Output::Derived(Derivation {
                selection: None,
                appended: Some(vec![0x5a; mode_number() << 20]),
            }),
            "big-batch" => {
                let input = decode_input(batch)?;
                let first = batch_number() == 1;
                let blob: StringArray = (0..input.num_rows())
                    .map(|row| match (first, row) {
                        (true, 0) => Some("x".repeat(mode_number() << 20)),
                        _ => Some(String::new()),
                    })
                    .collect();
                let schema = Arc::new(with_blob(&input.schema()));
                let mut columns = input.columns().to_vec();
                columns.push(Arc::new(blob));
                let output = RecordBatch::try_new(schema.clone(), columns)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                let bytes = weir_ipc::BatchEncoder::new(&schema)
                    .unwrap()
                    .encode_owned(&output)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                Output::Batches(vec![bytes])
            }
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
        let reject = |row: u32| RejectedRow {
            row,
            message: "rejected on purpose".into(),
        };
        let rejected = match mode().as_str() {
            "reject-out-of-range" => vec![RejectedRow {
                row: u32::MAX,
                message: "no such row".into(),
            }],
            "reject-twice" => vec![reject(0), reject(0)],
            "reject-many" => (0..100_000).map(|i| reject(i % 10)).collect(),
            "reject-kept" => vec![reject(0)],
            _ => Vec::new(),
        };
        Ok(Processed { output, rejected })
    }

    fn finish() -> Result<Vec<Vec<u8>>, Error> {
        Ok(Vec::new())
    }

    fn snapshot() -> Result<Option<Vec<u8>>, Error> {
        Ok(match mode().as_str() {
            "big-state" => Some(vec![7; mode_number() << 20]),
            _ => None,
        })
    }

    fn restore(state: Vec<u8>) -> Result<(), Error> {
        match mode().as_str() {
            "big-state" if state.len() == mode_number() << 20 => Ok(()),
            _ => Err(Error::InvalidState("stateless".into())),
        }
    }
}

impl exports::weir::plugin::event_time::Guest for Misbehave {
    fn time_column() -> Option<u32> {
        None
    }

    fn advance(_watermark: i64) -> Result<Vec<Vec<u8>>, Error> {
        Ok(Vec::new())
    }
}

impl exports::weir::plugin::input_bounds::Guest for Misbehave {
    fn bounds() -> Vec<exports::weir::plugin::input_bounds::Bound> {
        use exports::weir::plugin::input_bounds::{Bound, Condition, Scalar};
        match mode().as_str() {
            "bounds-out-of-range" => vec![Bound {
                column: 99,
                condition: Condition::NotNull,
            }],
            "bounds-lie" => vec![Bound {
                column: 0,
                condition: Condition::OneOf(vec![Scalar::Int(1)]),
            }],
            _ => Vec::new(),
        }
    }
}

// Exports exist only in the component; a native build of the workspace links none.
#[cfg(target_arch = "wasm32")]
export!(Misbehave);
