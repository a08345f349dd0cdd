//! The `test-tag-v1` plugin.

#[test]
fn tags_rows_and_carries_the_sequence_across_restore() {
    super::check_test_tag(
        weir_plugin_artifacts::TEST_TAG_V1,
        "weir-plugin-test-tag-v1",
    );
}
