//! The `test-not-a-plugin` plugin.

use super::*;

#[test]
fn a_component_of_another_world_is_refused_with_what_was_found() {
    let err = common::engine()
        .load_file(weir_plugin_artifacts::TEST_NOT_A_PLUGIN.as_ref())
        .err()
        .unwrap();
    assert!(matches!(err, PluginError::WrongWorld { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("wasi:cli/run"),
        "says what it found: {message}"
    );
    assert!(
        message.contains("weir:plugin/transform@0.1.0"),
        "says what it expected: {message}"
    );
}
