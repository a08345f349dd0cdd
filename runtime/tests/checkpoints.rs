//! Checkpoints of a stateful transform: its state is stored with every
//! checkpoint, and a run killed with open windows continues from it, so no
//! row read before the last commit is lost.

mod support;

use std::fs;

use support::*;

/// Readings `ids` (keys k0..k4), all in the first hour of 2026: one window
/// stays open the whole run.
fn append_readings(path: &std::path::Path, ids: std::ops::Range<i64>) {
    use std::io::Write;
    let lines: String = ids
        .map(|id| {
            format!(
                "{{\"id\": {id}, \"key\": \"k{}\", \"at\": \"2026-01-01T00:{:02}:{:02}Z\"}}\n",
                id % 5,
                (id / 60) % 60,
                id % 60
            )
        })
        .collect();
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
}

#[test]
fn open_windows_survive_a_crash_through_the_stored_state() {
    const ROWS: i64 = 3000;
    let dir = tempfile::tempdir().unwrap();
    let readings = dir.path().join("readings.jsonl");
    append_readings(&readings, 0..ROWS);
    let pipeline = dir.path().join("pipeline.yaml");
    fs::write(
        &pipeline,
        "checkpoint_interval_ms: 100
sources:
  readings: {type: file, config: {path: readings.jsonl, follow: true, resume: true, batch_rows: 100,
             schema: {id: int64, key: utf8, at: timestamp}}}
transforms:
  hourly:
    plugin: window-aggregate
    inputs: [readings]
    config: {time_column: at, window: 1h, keys: [key], aggregates: [{op: count, as: readings}]}
sinks:
  out: {type: file, inputs: [hourly], config: {path: out, format: json}}
",
    )
    .unwrap();
    let state = dir.path().join("state");
    let (first, _) = Running::with_admin(dir.path(), &pipeline, &[]);
    first.wait_for("a committed position and a stored window state", || {
        state.join("readings.json").exists() && state.join("hourly.state").exists()
    });
    drop(first); // SIGKILL with the window open: nothing was emitted
    assert_eq!(
        rows_in(&dir.path().join("out")),
        0,
        "the window was still open"
    );

    // More readings arrive; a second run restores the window and reads on
    // from the committed position, and its Ctrl-C emits the window.
    append_readings(&readings, ROWS..2 * ROWS);
    let (mut second, addr) = Running::with_admin(dir.path(), &pipeline, &[]);
    second.wait_for("every reading", || {
        counter(&scrape(&addr), "weir_node_rows_in_total", "readings") > 0.0
            && !state.join("readings.json").exists()
            || read_position(&state) == Some(fs::metadata(&readings).unwrap().len())
    });
    interrupt(&second.child);
    second.child.wait().unwrap();
    let windows = read_json_dir(&dir.path().join("out"));
    assert_eq!(windows.len(), 5, "one row per key: {windows:?}");
    let counted: i64 = windows
        .iter()
        .map(|w| w["readings"].as_i64().unwrap())
        .sum();
    // At-least-once: rows read between the last commit and the stored
    // state count twice; none of the first run's rows is missing.
    assert!(
        (2 * ROWS..3 * ROWS).contains(&counted),
        "{counted} readings counted for {}",
        2 * ROWS
    );
    for window in &windows {
        assert!(
            window["readings"].as_i64().unwrap() >= 2 * ROWS / 5,
            "{window}"
        );
    }
}

/// The byte offset the file source recorded for its one file.
fn read_position(state: &std::path::Path) -> Option<u64> {
    let text = fs::read_to_string(state.join("readings.json")).ok()?;
    let recorded: serde_json::Value = serde_json::from_str(&text).ok()?;
    recorded["position"].as_object()?.values().next()?["offset"].as_u64()
}

/// The event times (ms) of every row in the JSON-lines files of `dir`.
fn event_times(dir: &std::path::Path) -> Vec<String> {
    read_json_dir(dir)
        .iter()
        .map(|row| row["event_time"].to_string())
        .collect()
}

#[test]
fn a_plugin_source_killed_mid_run_resumes_from_its_committed_snapshot() {
    const ROWS: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("pipeline.yaml");
    fs::write(
        &pipeline,
        format!(
            "checkpoint_interval_ms: 100
sources:
  clicks: {{plugin: generate, config: {{rows: {ROWS}, rate: 5000}}}}
sinks:
  out: {{type: file, inputs: [clicks], config: {{path: out, format: json}}}}
"
        ),
    )
    .unwrap();
    let position = dir.path().join("state/clicks.json");
    let out = dir.path().join("out");
    let first = Running::start(
        dir.path(),
        &["run", "--quiet", pipeline.to_str().unwrap()],
        &[],
    );
    first.wait_for("a committed snapshot of the source", || position.exists());
    first.wait_for("a third of the rows written", || {
        read_dir_names(&out).len() > 1 && event_times(&out).len() > ROWS / 3
    });
    drop(first); // SIGKILL
    let before = event_times(&out).len();
    assert!(before < ROWS, "killed before the end: {before}");

    run_pipeline(&pipeline, &[]);
    let times = event_times(&out);
    let distinct: std::collections::HashSet<&String> = times.iter().collect();
    assert_eq!(distinct.len(), ROWS, "every row at least once");
    let again = times.len() - before;
    assert!(
        again < ROWS,
        "the second run resumed from the snapshot instead of starting over: it wrote {again} rows"
    );
    println!(
        "killed after {before} rows; the second run wrote {again}, {} of them twice",
        times.len() - ROWS
    );
    assert!(
        !position.exists(),
        "a source read to its end starts anew next run"
    );

    // A position that cannot be read fails the run, naming the file.
    fs::write(&position, r#"{"snapshot": 5}"#).unwrap();
    let out = weir(&["run", "--quiet", pipeline.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot resume from") && stderr.contains("clicks.json"),
        "{stderr}"
    );
}
