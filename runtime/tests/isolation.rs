//! A plugin that traps costs only the batch it trapped on: the batch goes to
//! the dead letters with the cause, the instance is re-created (with backoff,
//! up to a maximum, after which the node's `on_error` applies to every
//! batch), and every other node carries on. Through the real binary.

mod support;

use std::fs;
use std::path::Path;

use support::*;

/// Runs `test-misbehave` in `mode` on ids 1..=100 in batches of 10, with a
/// second branch that copies the source straight to a sink and a third into
/// `extra_sink` (YAML flow mapping, or none). Returns stderr.
fn run_misbehaving(dir: &Path, mode: &str, extra_sink: Option<&str>) -> String {
    let lines: String = (1..=100).map(|id| format!("{{\"id\": {id}}}\n")).collect();
    fs::write(dir.join("ids.jsonl"), lines).unwrap();
    let pipeline = dir.join("pipeline.yaml");
    fs::write(
        &pipeline,
        format!(
            "sources:
  ids: {{type: file, config: {{path: ids.jsonl, schema: {{id: int64}}, batch_rows: 10}}}}
transforms:
  fragile: {{plugin: test-misbehave, inputs: [ids], config: {mode}}}
sinks:
  survivors: {{type: file, inputs: [fragile], config: {{path: survivors, format: json}}}}
  everything: {{type: file, inputs: [ids], config: {{path: everything, format: json}}}}
{}",
            extra_sink
                .map(|sink| format!("  fragile_sink: {sink}\n"))
                .unwrap_or_default()
        ),
    )
    .unwrap();
    let out = weir(&["run", pipeline.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    stderr
}

fn ids(rows: &[serde_json::Value]) -> Vec<i64> {
    rows.iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

#[test]
fn a_trap_costs_only_its_batch_and_the_instance_is_re_created() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = run_misbehaving(dir.path(), "trap-on-13", None);

    let survivors = ids(&read_json_dir(&dir.path().join("survivors")));
    let expected: Vec<i64> = (1..=100).filter(|id| !(11..=20).contains(id)).collect();
    assert_eq!(survivors, expected);
    let letters = dead_letters(dir.path(), "fragile");
    let dead: Vec<i64> = letters
        .iter()
        .map(|l| l["row"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(dead, (11..=20).collect::<Vec<_>>());
    let error = letters[0]["error"].as_str().unwrap();
    assert!(
        error.contains("process trapped") && error.contains("unreachable"),
        "the dead letter names the cause: {error}"
    );
    assert!(
        stderr.contains("fragile: instance re-created 1 time(s) after traps or contract breaches"),
        "{stderr}"
    );
    assert_eq!(
        ids(&read_json_dir(&dir.path().join("everything"))).len(),
        100
    );
}

#[test]
fn a_plugin_sink_that_traps_costs_only_its_batch_and_is_re_created() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = run_misbehaving(
        dir.path(),
        "pass",
        Some("{plugin: test-sink-trap, inputs: [ids]}"),
    );
    let dead: Vec<i64> = dead_letters(dir.path(), "fragile_sink")
        .iter()
        .map(|l| l["row"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(dead, (11..=20).collect::<Vec<_>>());
    assert!(
        stderr.contains("fragile_sink: instance re-created 1 time(s)"),
        "{stderr}"
    );
    let sink_line = stderr
        .lines()
        .find(|l| l.starts_with("fragile_sink "))
        .unwrap();
    assert!(sink_line.contains(" 90 "), "90 rows written: {sink_line}");
    assert_eq!(
        ids(&read_json_dir(&dir.path().join("survivors"))).len(),
        100
    );
}

#[test]
fn a_pipeline_grants_directories_and_variables_by_name_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("lookup")).unwrap();
    fs::write(dir.path().join("lookup/rates.txt"), "1.08").unwrap();
    let pipeline = dir.path().join("pipeline.yaml");
    fs::write(
        &pipeline,
        r#"sources:
  gen: {plugin: generate, config: {rows: 10}}
transforms:
  probe:
    plugin: test-files
    inputs: [gen]
    config: {read: [/lookup/rates.txt], write: [/lookup/x.txt], env: [WEIR_TEST_REGION, WEIR_TEST_SECRET], report: true}
    capabilities:
      dirs: [{host: lookup, guest: /lookup}]
      env: [WEIR_TEST_REGION]
sinks:
  out: {type: stdout, inputs: [probe]}
"#,
    )
    .unwrap();
    let out = weir_command(&["validate", pipeline.to_str().unwrap()])
        .env("WEIR_TEST_REGION", "eu-west")
        .env("WEIR_TEST_SECRET", "hunter2")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    for expected in [
        "read /lookup/rates.txt: 1.08",
        "write /lookup/x.txt failed",
        "env WEIR_TEST_REGION=eu-west",
        "env WEIR_TEST_SECRET unset",
    ] {
        assert!(stderr.contains(expected), "{expected:?} in:\n{stderr}");
    }

    // Granting a variable weir itself does not have is an error naming it.
    let out = weir_command(&["validate", pipeline.to_str().unwrap()])
        .env_remove("WEIR_TEST_REGION")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("capabilities.env[0]`: WEIR_TEST_REGION is not set"),
        "{stderr}"
    );
}

#[test]
fn validate_shows_what_each_plugin_imports_and_what_it_is_granted() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("lookup")).unwrap();
    let pipeline = dir.path().join("pipeline.yaml");
    fs::write(
        &pipeline,
        r#"sources:
  gen: {plugin: generate, config: {rows: 10}}
transforms:
  probe:
    plugin: test-files
    inputs: [gen]
    capabilities: {dirs: [{host: lookup, guest: /lookup, write: true}], env: [WEIR_TEST_REGION]}
sinks:
  out: {type: stdout, inputs: [probe]}
"#,
    )
    .unwrap();
    let out = weir_command(&["validate", pipeline.to_str().unwrap()])
        .env("WEIR_TEST_REGION", "eu-west")
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let probe = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("probe:"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        probe.contains("files [wasi:filesystem/")
            && probe.contains("/lookup (read-write)")
            && probe.contains("env WEIR_TEST_REGION")
            && !probe.contains("eu-west"),
        "{probe}"
    );
    assert!(
        stdout.contains("  gen: imports environment [wasi:cli/environment]; granted nothing"),
        "{stdout}"
    );
}

#[test]
fn pipelines_of_one_run_may_not_share_dead_letter_files() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = "sources:
  gen: {plugin: generate, config: {rows: 100}}
sinks:
  out: {plugin: count, inputs: [gen]}
";
    fs::write(dir.path().join("a.yaml"), pipeline).unwrap();
    fs::write(dir.path().join("b.yaml"), pipeline).unwrap();
    let out = weir(&["run", dir.path().to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("b.yaml: not started: node \"gen\" would write dead letters to")
            && stderr.contains("give one of the pipelines its own `dead_letters:` folder"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pipeline a (tenant default)"),
        "a ran: {stderr}"
    );
}

#[test]
fn a_tenant_stated_with_other_quotas_in_a_second_file_is_refused_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = |quota: usize, folder: &str| {
        format!(
            "tenant: {{name: acme, max_memory_mib: {quota}}}
dead_letters: {folder}-dead
state: {folder}-state
sources:
  gen: {{plugin: generate, config: {{rows: 100}}}}
sinks:
  out: {{plugin: count, inputs: [gen]}}
"
        )
    };
    fs::write(dir.path().join("a.yaml"), pipeline(512, "a")).unwrap();
    fs::write(dir.path().join("b.yaml"), pipeline(256, "b")).unwrap();
    let out = weir(&["run", dir.path().to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("b.yaml: not started: tenant \"acme\" is given other quotas here than in")
            && stderr.contains("a.yaml"),
        "{stderr}"
    );
}
