//! The `test-tag-v2` plugin.

#[test]
fn tags_rows_and_carries_the_sequence_across_restore() {
    super::check_test_tag(
        weir_plugin_artifacts::TEST_TAG_V2,
        "weir-plugin-test-tag-v2",
    );
}
