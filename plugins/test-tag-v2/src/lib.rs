//! Test fixture for hot reload: the second build of `test-tag-v1`'s source
//! (see there); it tags rows `weir-plugin-test-tag-v2`.

include!("../../test-tag-v1/src/tag.rs");
