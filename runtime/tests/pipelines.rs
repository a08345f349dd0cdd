//! `weir validate` and `weir run` as a user runs them: the real binary on
//! pipeline files with real plugins, outputs read back row by row.

mod support;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type};

use support::*;

/// `weir validate` refuses the pipeline of case folder `case` (in
/// `tests/pipelines/`), saying every line its `error.txt` holds.
fn refuses_as_expected(case: &str) {
    let case = cases_dir().join(case);
    let expected = fs::read_to_string(case.join("error.txt")).unwrap();
    let out = weir(&["validate", case.join("pipeline.yaml").to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{case:?} validated:\n{}{stderr}",
        text(&out.stdout)
    );
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            stderr.contains(line.trim()),
            "{case:?}: expected {:?} in:\n{stderr}",
            line.trim()
        );
    }
}

/// One test per case folder, so one failing case hides no other.
macro_rules! refused_pipelines {
    ($($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                refuses_as_expected(&stringify!($case).replace('_', "-"));
            }
        )*

        #[test]
        fn every_case_folder_has_its_test() {
            let listed: Vec<String> = [$(stringify!($case)),*]
                .iter()
                .map(|c| c.replace('_', "-"))
                .collect();
            let mut folders: Vec<String> = fs::read_dir(cases_dir())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            folders.sort();
            let mut listed_sorted = listed.clone();
            listed_sorted.sort();
            assert_eq!(folders, listed_sorted, "list every folder of {:?} in refused_pipelines!", cases_dir());
        }
    };
}

refused_pipelines!(
    bad_connector_config,
    bad_plugin_config,
    classify_unknown_column,
    config_mistakes_in_one_round,
    cycle,
    cycle_beside_dangling,
    dangling,
    dead_letters_under_a_file,
    delta_maintenance_mistakes,
    digest_mismatch,
    fan_in_mismatch,
    files_without_dirs,
    lineage_nowhere,
    missing_variable,
    network_import,
    partition_by_the_only_column,
    sink_path_under_a_file,
    sink_without_inputs,
    source_with_inputs,
    unknown_connector,
    unknown_field,
    unknown_input,
    unknown_plugin,
    wrong_world,
);

#[test]
fn validate_prints_every_edge_with_its_schema() {
    let quickstart =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart/pipeline.yaml");
    let out = weir(&["validate", quickstart.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("clicks -> shape: event_time: Timestamp(ms, \"+00:00\"), user_id: Int64"),
        "{stdout}"
    );
    assert!(stdout.contains("per_minute -> lake: window_start: Timestamp(ms, \"+00:00\"), window_end: Timestamp(ms, \"+00:00\"), action: Utf8, count: Int64, revenue: Float64"), "{stdout}");

    let out = weir(&["graph", quickstart.to_str().unwrap(), "--format", "dot"]);
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("digraph pipeline {"), "{stdout}");
    assert!(
        stdout.contains("n0 -> n1;") && stdout.contains("plugin filter"),
        "{stdout}"
    );
}

/// `weir validate p.yaml | head -1`: the reader goes away before weir
/// writes; weir ends quietly with exit 0 (it panicked with `failed printing
/// to stdout: Broken pipe`).
#[test]
fn commands_whose_reader_went_away_end_quietly() {
    let quickstart =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart/pipeline.yaml");
    for args in [
        vec!["validate", quickstart.to_str().unwrap()],
        vec!["graph", quickstart.to_str().unwrap()],
    ] {
        let mut child = weir_command(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Closed before weir has loaded the plugins it writes about.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

const SALES_SCHEMA: &str = "{id: int64, store: utf8, amount: float64}";

#[test]
fn malformed_lines_go_to_dead_letters_and_every_valid_row_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        r#"{"id": 1, "store": "north", "amount": 12.5}"#,
        r#"{"id": 2, "store": "south", "amount": 3.0}"#,
        r#"this is not json"#,
        r#"{"id": 3, "store": "north", "amount": 7.25}"#,
        r#"{"id": 4, "store": "east", "amount": "a lot"}"#,
        r#"{"id": 5, "store": null, "amount": 40.0}"#,
        r#"{"id": 6, "store": "west""#,
        r#"{"id": 7, "store": "west", "amount": null}"#,
    ];
    fs::write(dir.path().join("sales.jsonl"), lines.join("\n")).unwrap();
    fs::write(
        dir.path().join("pipeline.yaml"),
        format!(
            "sources:
  sales:
    type: file
    config: {{path: sales.jsonl, schema: {SALES_SCHEMA}, batch_rows: 4}}
transforms:
  big:
    plugin: filter
    inputs: [sales]
    config: {{predicate: \"amount > 5\"}}
sinks:
  lake:
    type: file
    inputs: [big]
    config: {{path: out, format: parquet}}
"
        ),
    )
    .unwrap();

    let out = weir(&["run", dir.path().join("pipeline.yaml").to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    let batches = read_parquet_dir(&dir.path().join("out"));
    let ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(ids, [1, 3, 5]);
    let amounts: Vec<f64> = batches
        .iter()
        .flat_map(|b| b.column(2).as_primitive::<Float64Type>().values().to_vec())
        .collect();
    assert_eq!(amounts, [12.5, 7.25, 40.0]);
    assert!(
        batches.iter().any(|b| b.column(1).null_count() == 1),
        "the null store arrives as null"
    );

    let letters = dead_letters(dir.path(), "sales");
    let records: Vec<&str> = letters
        .iter()
        .map(|l| l["record"].as_str().unwrap())
        .collect();
    assert_eq!(records, [lines[2], lines[4], lines[6]]);
    for letter in &letters {
        assert_eq!(letter["node"], "sales");
        assert!(
            letter["error"].as_str().unwrap().contains("sales.jsonl:"),
            "{letter}"
        );
        assert!(
            letter["time"].as_str().unwrap().starts_with("20"),
            "{letter}"
        );
    }

    // The summary adds up: 8 lines read = 5 rows sent on + 3 dead letters;
    // the filter kept 3 of 5 and filtered 2 out; the sink wrote 3.
    let row = |name: &str| -> Vec<String> {
        stderr
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no summary line for {name} in:\n{stderr}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row("sales")[2..7], ["8", "5", "0", "2", "3"], "{stderr}");
    assert_eq!(row("big")[2..5], ["5", "3", "2"], "{stderr}");
    assert_eq!(row("lake")[2..5], ["3", "3", "0"], "{stderr}");
}

#[test]
fn ctrl_c_drains_and_leaves_only_complete_files() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("pipeline.yaml"),
        "sources:
  clicks: {plugin: generate, config: {dataset: clickstream}}
sinks:
  lake: {type: file, inputs: [clicks], config: {path: out, format: parquet, max_rows_per_file: 50000}}
",
    )
    .unwrap();
    let child = weir_command(&[
        "run",
        "--quiet",
        dir.path().join("pipeline.yaml").to_str().unwrap(),
    ])
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // Wait until at least one file is complete, then interrupt.
    let out_dir = dir.path().join("out");
    let started = Instant::now();
    while read_dir_names(&out_dir)
        .iter()
        .all(|n| !n.ends_with(".parquet"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no output file after 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));

    let names = read_dir_names(&out_dir);
    assert!(
        names.iter().all(|n| n.ends_with(".parquet")),
        "half-written files left: {names:?}"
    );
    let batches = read_parquet_dir(&out_dir);
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert!(rows >= 50_000, "{rows}");
    // Files are full except the last, which was closed on interrupt.
    assert_eq!(
        rows.div_ceil(50_000),
        names.len(),
        "{names:?} for {rows} rows"
    );
}

#[test]
fn rows_a_plugin_rejects_go_to_dead_letters_with_the_row_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let payloads = [
        r#"{"user": 1, "page": "/home"}"#,
        r#"{"user": "one", "page": "/cart"}"#,
        r#"{"page": "/missing-user"}"#,
        r#"{"user": 4, "page": "/pay"}"#,
    ];
    let lines: Vec<String> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| serde_json::json!({"id": i, "payload": p}).to_string())
        .collect();
    fs::write(dir.path().join("events.jsonl"), lines.join("\n")).unwrap();
    fs::write(
        dir.path().join("pipeline.yaml"),
        "sources:
  events: {type: file, config: {path: events.jsonl, schema: {id: int64, payload: utf8}}}
transforms:
  parse:
    plugin: json-parse
    inputs: [events]
    config:
      column: payload
      fields: [{name: user, type: int64, required: true}, {name: page, type: utf8}]
sinks:
  out: {type: file, inputs: [parse], config: {path: out, format: json}}
",
    )
    .unwrap();
    let out = weir(&["run", dir.path().join("pipeline.yaml").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let written = fs::read_to_string(dir.path().join("out/part-00000.jsonl")).unwrap();
    let users: Vec<i64> = written
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["user"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(users, [1, 4]);

    let letters = dead_letters(dir.path(), "parse");
    assert_eq!(letters.len(), 2, "{letters:?}");
    for (letter, id) in letters.iter().zip([1, 2]) {
        assert_eq!(letter["node"], "parse");
        assert_eq!(letter["row"]["id"], id, "{letter}");
        assert_eq!(letter["row"]["payload"], payloads[id as usize], "{letter}");
        assert!(
            letter["error"].as_str().unwrap().contains("user"),
            "{letter}"
        );
    }
}

#[test]
fn stdin_csv_is_read_once_header_included_and_bad_bytes_are_dead_letters() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("pipeline.yaml"),
        "sources:
  input: {type: stdin, config: {format: csv, schema: {id: int64, name: utf8}}}
sinks:
  out: {type: stdout, inputs: [input]}
",
    )
    .unwrap();
    let mut child = weir_command(&[
        "run",
        "--quiet",
        dir.path().join("pipeline.yaml").to_str().unwrap(),
    ])
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let input = b"id,name\n1,a\n2,\xff\xfe\nthree,c\n4,d\n";
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        rows,
        [
            serde_json::json!({"id": 1, "name": "a"}),
            serde_json::json!({"id": 4, "name": "d"})
        ]
    );

    let letters = fs::read_to_string(dir.path().join("dead-letters/input.jsonl")).unwrap();
    let errors: Vec<String> = letters
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["error"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(errors.len(), 2, "{letters}");
    assert!(errors[0].starts_with("<stdin>:3:"), "{errors:?}");
    assert!(errors[1].starts_with("<stdin>:4:"), "{errors:?}");
}

/// Peak memory in MiB from the summary `weir run` prints.
fn peak_memory_mib(stderr: &str) -> f64 {
    let (_, rest) = stderr
        .rsplit_once("peak memory ")
        .unwrap_or_else(|| panic!("no peak memory in:\n{stderr}"));
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn a_slow_sink_keeps_memory_flat_with_ten_times_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let payload = "x".repeat(200);
    let run_with_rows = |rows: usize| {
        let input = dir.path().join(format!("events-{rows}.jsonl"));
        let mut lines = String::with_capacity(rows * 240);
        for id in 0..rows {
            lines.push_str(&format!("{{\"id\": {id}, \"payload\": \"{payload}\"}}\n"));
        }
        fs::write(&input, lines).unwrap();
        let pipeline = dir.path().join(format!("pipeline-{rows}.yaml"));
        fs::write(
            &pipeline,
            format!(
                "sources:
  events: {{type: file, config: {{path: {}, schema: {{id: int64, payload: utf8}}, batch_rows: 1024}}}}
transforms:
  all: {{plugin: filter, inputs: [events], config: {{predicate: \"id >= 0\"}}}}
sinks:
  slow: {{plugin: count, inputs: [all], config: {{expect_rows: {rows}, delay_ms: 5}}}}
",
                input.display()
            ),
        )
        .unwrap();
        let out = weir(&["run", pipeline.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        fs::remove_file(&input).unwrap();
        peak_memory_mib(&stderr)
    };
    // The first run compiles the plugins into the cache, which takes memory
    // of its own; measure warm runs.
    run_with_rows(1_000);
    let small = run_with_rows(50_000);
    let large = run_with_rows(500_000);
    println!(
        "peak memory: {small} MiB for 50,000 rows (12 MB), {large} MiB for 500,000 rows (120 MB)"
    );
    // Both runs fill the channels (50 and 500 batches of 1,024 rows, each
    // about 250 KB). Buffering the input would add over 100 MiB; bounded
    // channels hold a few batches whatever the input size.
    assert!(
        large < small + 8.0,
        "memory grew with the input: {small} MiB -> {large} MiB"
    );
}

#[test]
fn a_plugin_pinned_to_its_own_digest_runs() {
    let digest = weir::plugin::sha256_hex(&fs::read(weir_plugin_artifacts::GENERATE).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("pipeline.yaml");
    fs::write(
        &pipeline,
        format!(
            "sources:
  gen: {{plugin: \"generate@sha256:{digest}\", config: {{rows: 10}}}}
sinks:
  out: {{type: stdout, inputs: [gen]}}
"
        ),
    )
    .unwrap();
    let out = weir(&["run", "--quiet", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 10);
}

#[test]
fn a_plugin_is_opened_once_per_run() {
    // The source logs every `open`; the graph opens it to learn its schema
    // and the executor runs that same instance.
    let dir = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(
        dir.path(),
        "sources:
  src: {plugin: test-source-flood, config: 0}
transforms:
  pass: {plugin: select, inputs: [src], config: {columns: [{name: id}]}}
sinks:
  out: {type: stdout, inputs: [pass]}
",
    );
    let stderr = run_pipeline(&pipeline, &[("WEIR_LOG", "info")]);
    let opens = stderr
        .lines()
        .filter(|l| l.contains("opened node=\"src\""))
        .count();
    assert_eq!(opens, 1, "{stderr}");
}

#[test]
fn the_command_line_prints_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.yaml");
    for command in ["validate", "run", "graph"] {
        let out = weir(&[command, missing.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert_eq!(
            stderr.matches("No such file or directory").count(),
            1,
            "weir {command}: {stderr}"
        );
        assert!(
            stderr.contains("missing.yaml: cannot read the pipeline file"),
            "{stderr}"
        );
    }
}

#[test]
fn exit_codes_tell_a_scheduler_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.yaml");
    let code = |pipeline: &str| {
        fs::write(&path, pipeline).unwrap();
        let out = weir(&["run", "--quiet", path.to_str().unwrap()]);
        (out.status.code(), text(&out.stderr))
    };
    fs::write(
        dir.path().join("readings.jsonl"),
        "{\"id\": 1}\n{\"id\": \"two\"}\n{\"id\": 3}\nnot json\n",
    )
    .unwrap();
    let pipeline = |budget: &str| {
        format!(
            "{budget}
sources:
  readings: {{type: file, config: {{path: readings.jsonl, schema: {{id: int64}}}}}}
sinks:
  out: {{type: file, inputs: [readings], config: {{path: out, format: json, mode: overwrite}}}}
"
        )
    };

    assert_eq!(
        code(&pipeline("")).0,
        Some(0),
        "dead letters within no budget"
    );
    let (status, stderr) = code(&pipeline("max_dead_letters: 1"));
    assert_eq!(status, Some(3), "{stderr}");
    assert!(
        stderr.contains(
            "dead-letter budget exceeded: the pipeline sent 2 of 4 rows (50.00%) to the dead letters, past its max_dead_letters: 1"
        ),
        "{stderr}"
    );
    assert_eq!(code(&pipeline("max_dead_letters: \"50%\"")).0, Some(0));
    let node_budget = pipeline("").replace(
        "schema: {id: int64}}}",
        "schema: {id: int64}}, max_dead_letters: \"10%\"}",
    );
    let (status, stderr) = code(&node_budget);
    assert_eq!(status, Some(3), "{stderr}");
    assert!(
        stderr.contains("node \"readings\" sent 2 of 4 rows"),
        "{stderr}"
    );

    // A node that gives up on its plugin fails the run.
    let (status, stderr) = code(
        "sources:
  gen: {plugin: generate, config: {rows: 100000}}
transforms:
  broken: {plugin: test-misbehave, inputs: [gen], config: trap}
sinks:
  out: {type: file, inputs: [broken], config: {path: out2, format: json}}
",
    );
    assert_eq!(status, Some(1), "{stderr}");
    assert!(
        stderr.contains("node \"broken\": gave up on its plugin"),
        "{stderr}"
    );

    // An invalid pipeline, and a bad budget.
    let (status, stderr) = code(&pipeline("").replace("type: file, config", "type: nope, config"));
    assert_eq!(status, Some(2), "{stderr}");
    let (status, stderr) = code(&pipeline("max_dead_letters: lots"));
    assert_eq!(status, Some(2), "{stderr}");
    assert!(stderr.contains("max_dead_letters"), "{stderr}");
}

#[test]
fn validate_finds_a_missing_input_and_a_sink_path_that_is_a_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("taken"), "not a folder\n").unwrap();
    fs::write(dir.path().join("in.jsonl"), "{\"id\": 1}\n").unwrap();
    let path = dir.path().join("pipeline.yaml");
    let validate = |input: &str, output: &str| {
        fs::write(
            &path,
            format!(
                "sources:
  s: {{type: file, config: {{path: {input}, schema: {{id: int64}}}}}}
sinks:
  o: {{type: file, inputs: [s], config: {{path: {output}, format: json}}}}
"
            ),
        )
        .unwrap();
        let out = weir(&["validate", path.to_str().unwrap()]);
        (out.status.code(), text(&out.stderr))
    };
    assert_eq!(validate("in.jsonl", "out").0, Some(0));
    let (code, stderr) = validate("missing.jsonl", "out");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("no file matches") && stderr.contains("missing.jsonl"),
        "{stderr}"
    );
    let (code, stderr) = validate("in.jsonl", "taken");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("taken is a file"), "{stderr}");
}

#[test]
fn a_plugin_folder_named_twice_is_listed_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_pipeline(
        dir.path(),
        "sources:
  s: {plugin: masker, config: {}}
sinks:
  o: {type: stdout, inputs: [s]}
",
    );
    let out = weir_command(&["validate", path.to_str().unwrap()])
        .env("WEIR_PLUGIN_PATH", "/nowhere/plugins:/nowhere/plugins")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("/nowhere/plugins").count(), 1, "{stderr}");
}

#[test]
fn json_outputs_write_null_fields() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("in.jsonl"),
        "{\"id\": 1}\n{\"id\": 2, \"name\": \"b\"}\n",
    )
    .unwrap();
    let path = write_pipeline(
        dir.path(),
        "sources:
  s: {type: file, config: {path: in.jsonl, schema: {id: int64, name: utf8}}}
sinks:
  file: {type: file, inputs: [s], config: {path: out, format: json}}
  screen: {type: stdout, inputs: [s]}
",
    );
    let out = weir(&["run", "--quiet", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(r#"{"id":1,"name":null}"#),
        "{}",
        text(&out.stdout)
    );
    let written: String = fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|f| fs::read_to_string(f.unwrap().path()).unwrap())
        .collect();
    assert!(written.contains(r#"{"id":1,"name":null}"#), "{written}");
}

/// Runs `weir args...` successfully with its component cache in `cache`,
/// capped at `max_mib`; answers its stdout and stderr.
fn with_cache(cache: &Path, max_mib: &str, args: &[&str]) -> (String, String) {
    let out = weir_command(args)
        .env("WEIR_CACHE_DIR", cache)
        .env("WEIR_CACHE_MAX_MIB", max_mib)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    (text(&out.stdout), text(&out.stderr))
}

#[test]
fn the_first_compile_of_a_plugin_says_so_and_later_runs_are_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let path = write_pipeline(
        dir.path(),
        "sources:
  s: {plugin: generate, config: {rows: 10}}
sinks:
  o: {type: stdout, inputs: [s]}
",
    );
    let validate = || with_cache(cache.path(), "1024", &["validate", path.to_str().unwrap()]).1;
    let first = validate();
    assert!(
        first.contains("compiling weir_plugin_generate.wasm (") && first.contains("cached in"),
        "{first}"
    );
    let second = validate();
    assert!(!second.contains("compil"), "{second}");
}

#[test]
fn the_component_cache_keeps_under_its_cap_and_can_be_shown_and_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let path = write_pipeline(
        dir.path(),
        "sources:
  s: {plugin: generate, config: {rows: 10}}
transforms:
  t: {plugin: select, inputs: [s], config: {columns: [{name: page}]}}
sinks:
  o: {type: stdout, inputs: [t]}
",
    );
    let weir_in = |args: &[&str], max_mib: &str| with_cache(cache.path(), max_mib, args).0;
    // Two components, a cap smaller than either: only the newest stays.
    weir_in(&["validate", path.to_str().unwrap()], "1");
    let shown = weir_in(&["cache"], "1");
    assert!(shown.contains(": 1 compiled component(s)"), "{shown}");
    // Under a roomy cap both stay, and a clear removes them.
    weir_in(&["validate", path.to_str().unwrap()], "1024");
    assert!(weir_in(&["cache"], "1024").contains(": 2 compiled component(s)"));
    let cleared = weir_in(&["cache", "clear"], "1024");
    assert!(
        cleared.contains("removed 2 compiled component(s)"),
        "{cleared}"
    );
    assert!(weir_in(&["cache"], "1024").contains(": 0 compiled component(s)"));
}
