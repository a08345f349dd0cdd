//! The `test-source-flood` plugin.

use super::*;

#[test]
fn a_source_batch_past_the_byte_limit_is_refused_before_decoding() {
    let plugin = load(weir_plugin_artifacts::TEST_SOURCE_FLOOD);
    let limits = Limits {
        max_output_bytes: 8 << 20,
        ..Limits::default()
    };
    let mut source = SourceInstance::new(engine(), &plugin, "flood", &limits).unwrap();
    source.open("12").unwrap();
    let err = source.next(1024).unwrap_err();
    assert!(
        err.to_string()
            .contains("flood: next returned 12582912 bytes, more than the limit of 8388608 bytes"),
        "{err}"
    );
    // Within the limit the junk gets as far as the decoder.
    let mut source = SourceInstance::new(engine(), &plugin, "flood", &limits).unwrap();
    source.open("1").unwrap();
    let err = source.next(1024).unwrap_err();
    assert!(matches!(err, PluginError::MalformedIpc { .. }), "{err}");
}
