//! The `test-sink-trap` plugin.

use super::*;

#[test]
fn accepts_batches_and_traps_on_the_poison_pill() {
    let plugin = load(weir_plugin_artifacts::TEST_SINK_TRAP);
    let ids = |range: std::ops::RangeInclusive<i64>| {
        RecordBatch::try_from_iter([(
            "id",
            Arc::new(arrow::array::Int64Array::from_iter_values(range)) as _,
        )])
        .unwrap()
    };
    let mut sink = SinkInstance::new(engine(), &plugin, "sink", &Limits::default()).unwrap();
    sink.open("{}", &ids(1..=1).schema()).unwrap();
    sink.write(&ids(1..=10)).unwrap();
    let err = sink.write(&ids(11..=20)).unwrap_err();
    assert!(matches!(err, PluginError::Trap { .. }), "{err}");
    assert!(sink.trapped());
}
