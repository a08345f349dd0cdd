//! Test fixture for hot reload, built twice (`test-tag-v1` and
//! `test-tag-v2` compile this same file): appends `version` (utf8: the
//! crate's name, so the two builds differ) and `seq` (int64: how many rows the
//! node had seen before this one). `seq` is the plugin's state: `snapshot`
//! and `restore` carry it across a swap, so a test can check that no row was
//! counted twice or skipped. Reads no input column; config: `{}`.

include!("tag.rs");
