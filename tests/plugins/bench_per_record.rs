//! The `bench-per-record` plugin.

use super::per_record;

#[test]
fn filters_and_projects_one_json_record_per_call() {
    let columns = ["id".to_string(), "name".to_string()];
    let mut f =
        per_record::PerRecordFilter::new(weir_plugin_artifacts::BENCH_PER_RECORD, 5, &columns);
    assert_eq!(
        f.filter(r#"{"id": 7, "name": "x", "vip": true}"#)
            .as_deref(),
        Some(r#"{"id":7,"name":"x"}"#)
    );
    assert_eq!(f.filter(r#"{"id": 5, "name": "x"}"#), None);
    assert_eq!(f.filter("not json"), None);
}
