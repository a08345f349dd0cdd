//! End-to-end tests of every plugin in `plugins/`, run as real Wasm
//! components in the Weir host: one file per plugin in this folder. A
//! plugin without a module here is a compile error
//! (`foreach_plugin!(assert_test_exists)`).

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/per_record.rs"]
mod per_record;

use std::sync::Arc;
use weir::plugin::PluginInstance;

use arrow::array::RecordBatch;
use common::*;
use weir::plugin::{
    GuestErrorKind, Limits, OutputMode, PluginError, Poll, SinkInstance, SourceInstance,
    TransformInstance,
};

macro_rules! assert_test_exists {
    ($name:ident) => {
        #[allow(unused_imports)]
        use self::$name as _;
    };
}
weir_plugin_artifacts::foreach_plugin!(assert_test_exists);

fn transform(
    path: &str,
    config: &str,
    input: &RecordBatch,
) -> Result<TransformInstance, PluginError> {
    let plugin = load(path);
    let mut instance = TransformInstance::new(engine(), &plugin, "test-node", &Limits::default())?;
    instance.open(config, &input.schema())?;
    Ok(instance)
}

fn run(instance: &mut TransformInstance, batch: &RecordBatch) -> RecordBatch {
    let processed = instance.process(batch).unwrap();
    assert!(processed.rejected.is_empty(), "{:?}", processed.rejected);
    concat(&processed.batches)
}

mod count;
mod expect;
mod filter;
mod generate;
mod join;
mod json_parse;
mod mask;
mod select;
mod window_aggregate;

/// Both builds of the hot-reload fixture tag rows with their own name and
/// carry the sequence across snapshot/restore.
fn check_test_tag(path: &str, name: &str) {
    let input = RecordBatch::try_from_iter([(
        "id",
        Arc::new(arrow::array::Int64Array::from_iter_values(0..5)) as _,
    )])
    .unwrap();
    let mut first = transform(path, "{}", &input).unwrap();
    first.process(&input).unwrap();
    let state = first.snapshot().unwrap().expect("stateful");
    let mut second = transform(path, "{}", &input).unwrap();
    second.restore(&state).unwrap();
    let out = &second.process(&input).unwrap().batches[0];
    let version = out.column_by_name("version").unwrap();
    let version = version
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .unwrap();
    assert!(version.iter().all(|v| v == Some(name)));
    let seq = out.column_by_name("seq").unwrap();
    let seq = seq
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap();
    assert_eq!(seq.values().to_vec(), (5..10).collect::<Vec<i64>>());
}

mod anomaly;
mod bench_per_record;
mod loading;
mod sensor_enrich;
mod test_files;
mod test_misbehave;
mod test_network;
mod test_not_a_plugin;
mod test_sink_trap;
mod test_source_flood;
mod test_tag_v1;
mod test_tag_v2;
