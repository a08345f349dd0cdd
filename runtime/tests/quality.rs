//! The `expect` plugin's data-quality rules in real runs: every check with
//! the severity that shows it (`warn` counts and lets rows go on, `reject`
//! sends them to the dead letters under the rule's name, `fail` stops the
//! run with exit code 4), results in the summary and in the OpenLineage
//! data-quality facet.

mod support;

use std::path::{Path, PathBuf};

use support::*;

/// Orders with one problem each after the first two: a null id, an
/// unknown country, a big amount, a malformed e-mail, a repeated id, a zero
/// amount outside France, a time three hours old.
fn orders() -> String {
    let now = chrono::Utc::now();
    let fresh = now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let old = (now - chrono::Duration::hours(3))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let rows = [
        ("1", "DE", 10.0, "a@x.org", &fresh),
        ("2", "FR", 0.0, "b@x.org", &fresh),
        ("null", "DE", 5.0, "c@x.org", &fresh),
        ("4", "XX", 5.0, "d@x.org", &fresh),
        ("5", "DE", 5000.0, "e@x.org", &fresh),
        ("6", "DE", 7.0, "not an address", &fresh),
        ("1", "DE", 8.0, "f@x.org", &fresh),
        ("8", "DE", 0.0, "g@x.org", &fresh),
        ("9", "FR", 9.0, "h@x.org", &old),
    ];
    rows.iter()
        .map(|(id, country, amount, email, at)| {
            format!(
                "{{\"id\": {id}, \"country\": \"{country}\", \"amount\": {amount:.1}, \"email\": \"{email}\", \"at\": \"{at}\"}}\n"
            )
        })
        .collect()
}

const EVERY_CHECK: &str = "
      - {name: id_present, not_null: id, severity: reject}
      - {name: one_per_id, unique: id}
      - {name: known_country, accepted_values: {column: country, values: [DE, FR]}, severity: reject}
      - {name: sane_amount, range: {column: amount, min: 0, max: 1000}, severity: reject}
      - {name: email_shape, regex: {column: email, pattern: '^[^@ ]+@[^@ ]+$'}}
      - {name: paid, predicate: \"amount > 0 or country = 'FR'\"}
      - {name: fresh, freshness: {column: at, max_delay_ms: 3600000}}
      - {name: some_rows, row_count: {min: 1}}";

/// A pipeline in `dir` checking `orders()` with `rules` (YAML list items)
/// into JSON files; `extra` goes at the top.
fn checked(dir: &Path, rules: &str, extra: &str) -> PathBuf {
    std::fs::write(dir.join("orders.jsonl"), orders()).unwrap();
    write_pipeline(
        dir,
        &format!(
            "{extra}sources:
  orders:
    type: file
    config: {{path: orders.jsonl, schema: {{id: int64, country: utf8, amount: float64, email: utf8, at: 'timestamp[ms]'}}}}
transforms:
  checks:
    plugin: expect
    inputs: [orders]
    config:
      rules:{rules}
sinks:
  out: {{type: file, inputs: [checks], config: {{path: out, format: json}}}}
"
        ),
    )
}

#[test]
fn every_check_counts_warns_and_rejects_as_its_severity_says() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = checked(dir.path(), EVERY_CHECK, "");
    let stderr = run_pipeline(&pipeline, &[]);
    let mut ids: Vec<i64> = read_json_dir(&dir.path().join("out"))
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [1, 1, 2, 6, 8, 9],
        "the rejected rows are gone, the warned ones went on"
    );
    let letters = dead_letters(dir.path(), "checks");
    let errors: Vec<&str> = letters
        .iter()
        .map(|l| l["error"].as_str().unwrap())
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("rule id_present (not_null id) failed")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("rule known_country (accepted_values country) failed: \"XX\"")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("rule sane_amount (range amount) failed: \"5000.0\"")),
        "{errors:?}"
    );
    for line in [
        "checks: rule id_present (not_null id, reject): 1 of 9 failed (broken)",
        "checks: rule one_per_id (unique id, warn): 1 of 9 failed (broken)",
        "checks: rule known_country (accepted_values country, reject): 1 of 9 failed (broken)",
        "checks: rule sane_amount (range amount, reject): 1 of 9 failed (broken)",
        "checks: rule email_shape (regex email, warn): 1 of 9 failed (broken)",
        "checks: rule paid (predicate, warn): 1 of 9 failed (broken)",
        "checks: rule fresh (freshness at, warn): 1 of 9 failed (broken)",
        "checks: rule some_rows (row_count, warn): 0 of 1 failed",
    ] {
        assert!(stderr.contains(line), "{line:?} in\n{stderr}");
    }
}

#[test]
fn a_broken_rule_of_severity_fail_stops_the_run_with_exit_code_4() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = checked(
        dir.path(),
        "
      - {name: sane_amount, range: {column: amount, max: 1000}, severity: fail}",
        "",
    );
    let out = weir(&["run", pipeline.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("rule sane_amount (range amount, severity fail) failed for 1 of 9 rows; the first is row 4: \"5000.0\""),
        "{stderr}"
    );
    assert!(
        !dir.path().join("dead-letters/checks.jsonl").exists(),
        "nothing dead-lettered: the run stopped"
    );

    // row_count is checked when a bounded run ends.
    let pipeline = checked(
        dir.path(),
        "
      - {name: enough, row_count: {min: 100}, severity: fail}",
        "",
    );
    std::fs::remove_dir_all(dir.path().join("out")).ok();
    let out = weir(&["run", pipeline.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains(
            "rule enough (row_count, min Some(100), max None) failed: the run had 9 rows"
        ),
        "{stderr}"
    );
}

#[test]
fn unique_within_a_window_forgets_what_left_it() {
    let dir = tempfile::tempdir().unwrap();
    let ids: String = [1, 2, 1, 3, 4, 5, 1]
        .iter()
        .map(|i| format!("{{\"id\": {i}}}\n"))
        .collect();
    std::fs::write(dir.path().join("ids.jsonl"), ids).unwrap();
    let pipeline = write_pipeline(
        dir.path(),
        "sources:
  ids: {type: file, config: {path: ids.jsonl, schema: {id: int64}}}
transforms:
  checks:
    plugin: expect
    inputs: [ids]
    config: {rules: [{name: recent_once, unique: {column: id, window_rows: 3}, severity: reject}]}
sinks:
  out: {type: file, inputs: [checks], config: {path: out, format: json}}
",
    );
    run_pipeline(&pipeline, &[]);
    let letters = dead_letters(dir.path(), "checks");
    assert_eq!(
        letters.len(),
        1,
        "the second 1 is within 3 rows of the first, the third is not: {letters:?}"
    );
    assert_eq!(read_json_dir(&dir.path().join("out")).len(), 6);
}

#[test]
fn rule_mistakes_are_refused_before_the_run_naming_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let long_name = format!("\n      - {{name: {}, not_null: id}}", "n".repeat(101));
    let too_many: String = (0..129)
        .map(|i| format!("\n      - {{name: r{i}, not_null: id}}"))
        .collect();
    for (rules, expected) in [
        (
            long_name.as_str(),
            "field \"rules[0].name\": required: a string of 1 to 100 bytes",
        ),
        (too_many.as_str(), "field \"rules\": 129 rules; at most 128"),
        (
            "\n      - {name: a, not_null: nope}",
            "field \"rules[0].not_null.column\": unknown input column \"nope\"",
        ),
        (
            "\n      - {name: a, not_null: id, unique: id}",
            "field \"rules[0].\": give exactly one check",
        ),
        (
            "\n      - {name: a, range: {column: amount}}",
            "field \"rules[0].range\": give `min`, `max` or both",
        ),
        (
            "\n      - {name: a, regex: {column: email, pattern: '('}}",
            "field \"rules[0].regex.pattern\"",
        ),
        (
            "\n      - {name: a, row_count: {min: 1}, severity: reject}",
            "row_count fails no row to reject",
        ),
        (
            "\n      - {name: a, not_null: id}\n      - {name: a, not_null: email}",
            "\"a\" names another rule too",
        ),
        (
            "\n      - {name: a, predicate: 'amount >'}",
            "field \"rules[0].predicate\"",
        ),
    ] {
        let pipeline = checked(dir.path(), rules, "");
        let out = weir(&["validate", pipeline.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{rules}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{rules}: {expected:?} in {stderr}"
        );
    }
}

#[test]
fn rule_results_are_served_in_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = checked(dir.path(), EVERY_CHECK, "");
    let weir = Running::start(
        dir.path(),
        &[
            "run",
            "--quiet",
            "--admin",
            "127.0.0.1:0",
            "--admin-linger",
            "60",
            pipeline.to_str().unwrap(),
        ],
        &[],
    );
    let addr = weir.admin_address();
    let failed = |rule: &str| {
        let scrape = scrape(&addr);
        scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == "weir_plugin_metric_total"
                    && s.labels.get("node") == Some("checks")
                    && s.labels.get("metric") == Some(&format!("rule.{rule}.failed"))
            })
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v) => v,
                _ => -1.0,
            })
    };
    weir.wait_for("the rules' counts", || failed("sane_amount") == Some(1.0));
    assert_eq!(failed("id_present"), Some(1.0));
    assert_eq!(
        failed("some_rows"),
        Some(0.0),
        "row_count, when the run ended"
    );
}

#[test]
fn row_count_per_event_time_window_counts_empty_windows_too() {
    let dir = tempfile::tempdir().unwrap();
    // Minute 0: 3 rows, minute 1: 1, minute 2: none, minute 3: 2.
    let rows: String = [0, 10, 20, 65, 190, 200]
        .iter()
        .map(|s| format!("{{\"at\": {}}}\n", s * 1000))
        .collect();
    std::fs::write(dir.path().join("ticks.jsonl"), rows).unwrap();
    let pipeline = |severity: &str| {
        write_pipeline(
            dir.path(),
            &format!(
                "sources:
  ticks: {{type: file, config: {{path: ticks.jsonl, schema: {{at: 'timestamp[ms]'}}}}}}
transforms:
  checks:
    plugin: expect
    inputs: [ticks]
    config: {{rules: [{{name: steady, row_count: {{column: at, window_ms: 60000, min: 2}}, severity: {severity}}}]}}
sinks:
  out: {{type: file, inputs: [checks], config: {{path: out, format: json, mode: overwrite}}}}
"
            ),
        )
    };
    let stderr = run_pipeline(&pipeline("warn"), &[]);
    assert!(
        stderr.contains("checks: rule steady (row_count at, warn): 2 of 4 failed (broken)"),
        "{stderr}"
    );
    let out = weir(&["run", pipeline("fail").to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("failed for 2 of 3 windows; the first starts at 60000 ms with 1 rows"),
        "{stderr}"
    );
}
