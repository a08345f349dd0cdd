//! `weir run --watch`: a transform whose `.wasm` file is replaced while the
//! pipeline runs is swapped between two batches; every row arrives once,
//! rows before the swap carry the old version's tag and rows after it the
//! new one's, and the plugin's state carries over. Through the real binary.

mod support;

use std::fs;

use support::*;

#[test]
fn a_replaced_wasm_file_is_swapped_in_without_losing_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("tag.wasm");
    fs::copy(weir_plugin_artifacts::TEST_TAG_V1, &plugin).unwrap();
    append_ids(&dir.path().join("ids.jsonl"), 0..1000);
    let pipeline = dir.path().join("pipeline.yaml");
    fs::write(&pipeline, ids_pipeline("tag", "plugin: ./tag.wasm")).unwrap();
    let mut weir = Running::start(
        dir.path(),
        &["run", "--watch", "--quiet", pipeline.to_str().unwrap()],
        &[("WEIR_LOG", "weir=info")],
    );
    let out = dir.path().join("out");
    weir.wait_for("the first 1000 rows", || rows_in(&out) == 1000);

    // Replace the plugin file the way a build does: a new file renamed over it.
    let staged = dir.path().join(".tag.wasm.new");
    fs::copy(weir_plugin_artifacts::TEST_TAG_V2, &staged).unwrap();
    fs::rename(&staged, &plugin).unwrap();
    weir.wait_for_audit(dir.path(), HOT_RELOAD);
    append_ids(&dir.path().join("ids.jsonl"), 1000..2000);
    weir.wait_for("all 2000 rows", || rows_in(&out) == 2000);
    interrupt(&weir.child);
    let status = weir.child.wait().unwrap();
    let stderr = weir.stderr();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("reloaded"), "{stderr}");

    let mut rows = read_json_dir(&out);
    rows.sort_by_key(|r| r["id"].as_i64().unwrap());
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, (0..2000).collect::<Vec<_>>(), "every row once");
    for row in &rows {
        let (id, seq) = (row["id"].as_i64().unwrap(), row["seq"].as_i64().unwrap());
        assert_eq!(seq, id, "the state carried over the swap");
        let expected = match id < 1000 {
            true => "weir-plugin-test-tag-v1",
            false => "weir-plugin-test-tag-v2",
        };
        assert_eq!(row["version"], expected, "row {id}");
    }
    let log = fs::read_to_string(dir.path().join("state/audit.jsonl")).unwrap();
    assert!(log.contains("\"event\":\"swap\""), "{log}");
}

#[test]
fn a_changed_config_in_the_pipeline_file_is_swapped_in() {
    let dir = tempfile::tempdir().unwrap();
    append_ids(&dir.path().join("ids.jsonl"), 0..1000);
    let pipeline = dir.path().join("pipeline.yaml");
    let text = |predicate: &str| {
        ids_pipeline(
            "keep",
            &format!("plugin: filter, config: {{predicate: \"{predicate}\"}}"),
        )
    };
    fs::write(&pipeline, text("id >= 0")).unwrap();
    let mut weir = Running::start(
        dir.path(),
        &["run", "--watch", "--quiet", pipeline.to_str().unwrap()],
        &[("WEIR_LOG", "weir=info")],
    );
    let out = dir.path().join("out");
    weir.wait_for("the first 1000 rows", || rows_in(&out) == 1000);

    fs::write(&pipeline, text("id >= 1500")).unwrap();
    weir.wait_for_audit(dir.path(), HOT_RELOAD);
    append_ids(&dir.path().join("ids.jsonl"), 1000..2000);
    weir.wait_for("the rows the new predicate keeps", || rows_in(&out) == 1500);
    interrupt(&weir.child);
    let status = weir.child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{}", weir.stderr());
    let mut ids: Vec<i64> = read_json_dir(&out)
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    ids.sort();
    let expected: Vec<i64> = (0..1000).chain(1500..2000).collect();
    assert_eq!(ids, expected);
    assert!(
        weir.stderr()
            .contains("reloaded from the changed pipeline file")
    );
}

#[test]
fn changed_limits_in_the_pipeline_file_apply_to_a_new_instance() {
    let dir = tempfile::tempdir().unwrap();
    let ids = dir.path().join("ids.jsonl");
    append_ids(&ids, 0..100);
    let pipeline = dir.path().join("pipeline.yaml");
    let text = |limits: &str| {
        ids_pipeline(
            "pass",
            &format!("plugin: test-misbehave, config: pass, limits: {{{limits}}}"),
        )
    };
    // A batch of 100 rows past a limit of 50 output rows: dead letters.
    fs::write(&pipeline, text("max_output_rows: 50")).unwrap();
    let (weir, addr) = Running::with_admin(dir.path(), &pipeline, &["--watch"]);
    weir.wait_for("the first batch in the dead letters", || {
        counter(&scrape(&addr), "weir_node_dead_letters_total", "pass") == 100.0
    });

    fs::write(&pipeline, text("max_output_rows: 100")).unwrap();
    weir.wait_for_audit(dir.path(), HOT_RELOAD);
    append_ids(&ids, 100..200);
    let out = dir.path().join("out");
    weir.wait_for("the rows the new limit lets through", || {
        rows_in(&out) == 100
    });
    assert_eq!(
        counter(&scrape(&addr), "weir_node_reloads_total", "pass"),
        1.0
    );

    // Too little memory to instantiate: refused, the running version stays.
    fs::write(&pipeline, text("max_output_rows: 100, memory_mib: 1")).unwrap();
    weir.wait_for_audit(dir.path(), "memory limit exceeded in instantiate");
    append_ids(&ids, 200..300);
    weir.wait_for("the next rows", || rows_in(&out) == 200);
    let metrics = scrape(&addr);
    assert_eq!(counter(&metrics, "weir_node_reloads_total", "pass"), 1.0);
    assert_eq!(
        counter(&metrics, "weir_node_dead_letters_total", "pass"),
        100.0
    );
}
