//! Plugins in Python and JavaScript, built from source with `weir plugin
//! build` (the toolchains `scripts/toolchains.sh` installs): the Python
//! SDK's own IPC codec round-trips arrow-rs batches of every supported type
//! exactly; echo plugins in both languages return every row unchanged
//! through a real pipeline; the three-language example gives identical
//! output; a Python plugin's state survives a hot reload; Python and
//! JavaScript transforms pass millions of rows in 128 MiB; what they print
//! reaches the log; and `weir plugin new` scaffolds build, inspect and run
//! as made.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Float32Array, Float64Array, Int8Array,
    Int16Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, UInt8Array, UInt16Array, UInt32Array, UInt64Array,
};
use arrow::datatypes::{Field, Schema};
use support::*;

/// Builds the plugin folder `dir` into `out` with `weir plugin build`.
fn build(dir: &Path, out: &Path) {
    let result = weir(&[
        "plugin",
        "build",
        dir.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        result.status.success(),
        "building {}: {}",
        dir.display(),
        text(&result.stderr)
    );
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .into()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/languages")
        .join(name)
}

/// One column of every type the SDKs support, with nulls.
fn every_type(rows: usize) -> RecordBatch {
    let utc: Option<Arc<str>> = Some("+00:00".into());
    let null_every = |n: usize| move |i: usize| !i.is_multiple_of(n);
    let ints = |i: usize| i as i64 * 37 - 500;
    let columns: Vec<(&str, ArrayRef, bool)> = vec![
        (
            "i8",
            Arc::new(
                (0..rows)
                    .map(|i| null_every(3)(i).then_some(ints(i) as i8))
                    .collect::<Int8Array>(),
            ),
            true,
        ),
        (
            "i16",
            Arc::new(
                (0..rows)
                    .map(|i| Some(ints(i) as i16))
                    .collect::<Int16Array>(),
            ),
            false,
        ),
        (
            "i32",
            Arc::new(
                (0..rows)
                    .map(|i| null_every(4)(i).then_some(ints(i) as i32))
                    .collect::<Int32Array>(),
            ),
            true,
        ),
        (
            "i64",
            Arc::new(
                (0..rows)
                    .map(|i| null_every(5)(i).then_some(ints(i) * 1_000_000_007))
                    .collect::<Int64Array>(),
            ),
            true,
        ),
        (
            "u8",
            Arc::new((0..rows).map(|i| Some(i as u8)).collect::<UInt8Array>()),
            true,
        ),
        (
            "u16",
            Arc::new(
                (0..rows)
                    .map(|i| null_every(2)(i).then_some(i as u16 * 300))
                    .collect::<UInt16Array>(),
            ),
            true,
        ),
        (
            "u32",
            Arc::new(
                (0..rows)
                    .map(|i| Some(u32::MAX - i as u32))
                    .collect::<UInt32Array>(),
            ),
            true,
        ),
        (
            "u64",
            Arc::new(
                (0..rows)
                    .map(|i| null_every(3)(i).then_some(u64::MAX - i as u64))
                    .collect::<UInt64Array>(),
            ),
            true,
        ),
        (
            "f32",
            Arc::new(
                (0..rows)
                    .map(|i| null_every(6)(i).then_some(i as f32 / 3.0))
                    .collect::<Float32Array>(),
            ),
            true,
        ),
        (
            "f64",
            Arc::new(
                (0..rows)
                    .map(|i| null_every(7)(i).then_some(-(i as f64) / 7.0))
                    .collect::<Float64Array>(),
            ),
            true,
        ),
        (
            "flag",
            Arc::new(
                (0..rows)
                    .map(|i| null_every(3)(i).then_some(i % 2 == 0))
                    .collect::<BooleanArray>(),
            ),
            true,
        ),
        (
            "text",
            Arc::new(
                (0..rows)
                    .map(|i| {
                        null_every(4)(i)
                            .then(|| ["", "ascii", "héllo wörld", "日本"][i % 4].repeat(i % 3))
                    })
                    .collect::<StringArray>(),
            ),
            true,
        ),
        (
            "bytes",
            Arc::new(
                (0..rows)
                    .map(|i| null_every(5)(i).then(|| vec![i as u8; i % 4]))
                    .collect::<BinaryArray>(),
            ),
            true,
        ),
        (
            "day",
            Arc::new(
                (0..rows)
                    .map(|i| null_every(3)(i).then_some(19_000 + i as i32))
                    .collect::<Date32Array>(),
            ),
            true,
        ),
        (
            "ms",
            Arc::new(
                (0..rows)
                    .map(|i| null_every(2)(i).then_some(1_700_000_000_000 + i as i64))
                    .collect::<TimestampMillisecondArray>()
                    .with_timezone_opt(utc.clone()),
            ),
            true,
        ),
        (
            "us",
            Arc::new(
                (0..rows)
                    .map(|i| Some(1_700_000_000_000_000 + i as i64))
                    .collect::<TimestampMicrosecondArray>(),
            ),
            true,
        ),
        (
            "all_null",
            Arc::new(Int64Array::from(vec![None; rows])),
            true,
        ),
    ];
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array, nullable)| Field::new(*name, array.data_type().clone(), *nullable))
        .collect();
    let arrays = columns.into_iter().map(|(_, array, _)| array).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

#[test]
fn the_python_ipc_codec_round_trips_arrow_rs_batches_of_every_type_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let full = every_type(100);
    // The last one has the first's layout (lengths, null counts, buffer
    // sizes) and other values: the codec caches layouts, never values.
    let reversed = UInt32Array::from_iter_values((0..100).rev());
    let batches = [
        full.clone(),
        full.slice(0, 0),
        every_type(1),
        every_type(9),
        arrow::compute::take_record_batch(&full, &reversed).unwrap(),
    ];
    fs::write(
        dir.path().join("schema.ipc"),
        weir_ipc::schema_to_bytes(&full.schema()).unwrap(),
    )
    .unwrap();
    let mut encoder = weir_ipc::BatchEncoder::new(&full.schema()).unwrap();
    for (i, batch) in batches.iter().enumerate() {
        let bytes = encoder.encode_owned(batch).unwrap();
        fs::write(dir.path().join(format!("batch-{i}.ipc")), bytes).unwrap();
    }
    let python = weir::authoring::toolchains_dir().join("python/bin/python");
    let script = repo().join("sdk/python/tests/roundtrip.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run scripts/toolchains.sh python)",
                python.display()
            )
        });
    assert!(out.status.success(), "{}", text(&out.stderr));

    let schema_bytes = fs::read(dir.path().join("out-schema.ipc")).unwrap();
    let schema = weir_ipc::schema_from_bytes(&schema_bytes).unwrap();
    assert_eq!(
        schema,
        full.schema(),
        "the schema, with nullability and time zones"
    );
    // A validating decoder: the Python bytes must be valid Arrow.
    let mut decoder = weir_ipc::BatchDecoder::new(&schema_bytes).unwrap();
    for (i, batch) in batches.iter().enumerate() {
        let bytes = fs::read(dir.path().join(format!("out-batch-{i}.ipc"))).unwrap();
        assert_eq!(&decoder.decode(bytes).unwrap(), batch, "batch {i}");
    }
    // What Python code saw: plain values, None for nulls.
    let values: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("values.json")).unwrap()).unwrap();
    let first = &values[0];
    assert_eq!(first["i8"][0], serde_json::Value::Null);
    assert_eq!(first["i8"][1], (37 - 500) as i8);
    assert_eq!(first["u64"][1], u64::MAX - 1);
    assert_eq!(first["text"][2], "héllo wörldhéllo wörld");
    assert_eq!(first["flag"][2], true);
    assert_eq!(first["ms"][1], 1_700_000_000_001_i64);
    assert_eq!(first["day"][1], 19_001);
    assert_eq!(values[1]["i64"], serde_json::json!([]), "the empty batch");
}

/// A pipeline reading `rows.jsonl` of every type a JSON file source reads,
/// through `transform` (a plugin file, or none), into Parquet.
fn echo_pipeline(dir: &Path, transform: Option<&Path>) -> Vec<RecordBatch> {
    let schema = "{i8: int8, i32: int32, i64: int64, u16: uint16, u64: uint64, f32: float32, \
                  f64: float64, flag: bool, text: utf8, day: date32, ms: 'timestamp[ms]', us: 'timestamp[us]'}";
    let (transforms, input) = match transform {
        Some(plugin) => (
            format!(
                "transforms:\n  echo: {{plugin: {}, inputs: [rows]}}\n",
                plugin.display()
            ),
            "echo",
        ),
        None => (String::new(), "rows"),
    };
    let out = dir.join(match transform {
        Some(plugin) => format!("out-{}", plugin.file_stem().unwrap().display()),
        None => "out-reference".into(),
    });
    let pipeline = dir.join("echo.yaml");
    fs::write(
        &pipeline,
        format!(
            "sources:\n  rows: {{type: file, config: {{path: rows.jsonl, schema: {schema}, batch_rows: 700}}}}\n{transforms}sinks:\n  out: {{type: file, inputs: [{input}], config: {{path: {}, format: parquet}}}}\n",
            out.display()
        ),
    )
    .unwrap();
    run_pipeline(&pipeline, &[]);
    read_parquet_dir(&out)
}

#[test]
fn python_and_javascript_plugins_return_every_row_and_type_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..5000)
        .map(|i| {
            let maybe = |n: i64, v: String| if i % n == 0 { "null".to_string() } else { v };
            format!(
                "{{\"i8\": {}, \"i32\": {}, \"i64\": {}, \"u16\": {}, \"u64\": {}, \"f32\": {}, \"f64\": {}, \"flag\": {}, \"text\": {}, \"day\": {}, \"ms\": {}, \"us\": {}}}\n",
                maybe(3, (i % 100 - 50).to_string()),
                maybe(4, (i * 1000).to_string()),
                maybe(5, (i * 1_000_000_007).to_string()),
                maybe(2, (i % 60_000).to_string()),
                maybe(3, (u64::MAX - i as u64).to_string()),
                maybe(6, format!("{}", i as f32 / 4.0)),
                maybe(7, format!("{}", -(i as f64) / 7.0)),
                maybe(3, (i % 2 == 0).to_string()),
                maybe(4, format!("\"row {i} é\"")),
                maybe(5, (19_000 + i).to_string()),
                maybe(2, format!("\"2026-11-25T00:00:{:02}.{:03}Z\"", i % 60, i % 1000)),
                maybe(9, (1_700_000_000_000_000 + i).to_string()),
            )
        })
        .collect();
    fs::write(dir.path().join("rows.jsonl"), rows).unwrap();
    let expected = echo_pipeline(dir.path(), None);
    let expected_rows: usize = expected.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(expected_rows, 5000);
    for fixture_name in ["py-echo", "js-echo"] {
        let component = dir.path().join(format!("{fixture_name}.wasm"));
        build(&fixture(fixture_name), &component);
        let echoed = echo_pipeline(dir.path(), Some(&component));
        let schema = expected[0].schema();
        let echoed = arrow::compute::concat_batches(&schema, &echoed).unwrap();
        let expected = arrow::compute::concat_batches(&schema, &expected).unwrap();
        for (field, (got, want)) in schema
            .fields()
            .iter()
            .zip(echoed.columns().iter().zip(expected.columns()))
        {
            assert_eq!(got, want, "{fixture_name}: column {}", field.name());
        }
    }
}

#[test]
fn the_example_gives_identical_output_in_rust_python_and_javascript() {
    let dir = tempfile::tempdir().unwrap();
    let example = repo().join("examples/sensor-enrich");
    fs::copy(
        example.join("pipeline.yaml"),
        dir.path().join("pipeline.yaml"),
    )
    .unwrap();
    fs::copy(
        weir_plugin_artifacts::SENSOR_ENRICH,
        dir.path().join("sensor-enrich-rust.wasm"),
    )
    .unwrap();
    for language in ["python", "js"] {
        build(
            &example.join(language),
            &dir.path().join(format!("sensor-enrich-{language}.wasm")),
        );
    }
    let output = |language: &str| {
        run_pipeline(
            &dir.path().join("pipeline.yaml"),
            &[("LANGUAGE", language), ("ROWS", "30000")],
        );
        // A failed batch would only show as missing rows: say why instead.
        let letters = dir.path().join("dead-letters/enriched.jsonl");
        if let Ok(text) = fs::read_to_string(&letters) {
            let first = text.lines().next().unwrap_or_default();
            panic!(
                "{language}: {} dead letters, first: {first:.600}",
                text.lines().count()
            );
        }
        read_json_dir(&dir.path().join("out").join(language))
    };
    let rust = output("rust");
    assert!(
        rust.len() > 15_000 && rust.len() < 30_000,
        "{} rows kept",
        rust.len()
    );
    assert!(
        rust.iter().all(|r| r["battery"].as_f64().unwrap() >= 20.0),
        "every kept reading has battery >= 20"
    );
    assert!(rust.iter().any(|r| r["unit"] == "Pa"));
    for language in ["python", "js"] {
        let rows = output(language);
        assert_eq!(rows.len(), rust.len(), "{language}");
        for (i, (row, expected)) in rows.iter().zip(&rust).enumerate() {
            assert_eq!(row, expected, "{language}, row {i}");
        }
    }
}

/// `weir plugin new` for `language` and `kind`, built, inspected and run on
/// its sample; answers the folder and what the run wrote to `out/`.
fn scaffold(
    parent: &Path,
    language: &str,
    kind: &str,
) -> (PathBuf, Vec<serde_json::Value>, String) {
    let name = format!("my-{language}-{kind}");
    let made = weir(&[
        "plugin",
        "new",
        &name,
        "--lang",
        language,
        "--kind",
        kind,
        "--dir",
        parent.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let mut dir = parent.join(&name);
    for file in ["README.md", "pipeline.yaml"] {
        assert!(dir.join(file).is_file(), "{name}: {file}");
    }
    let readme = fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(readme.contains("weir plugin build ."), "{readme}");
    if language == "rust" {
        // It builds without the checkout that built `weir`: nothing points
        // into it, and the folder builds after a move.
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(!manifest.contains(checkout.to_str().unwrap()), "{manifest}");
        assert!(dir.join("weir/sdk/rust/src/lib.rs").is_file());
        let moved = parent.join("moved").join(&name);
        fs::create_dir_all(moved.parent().unwrap()).unwrap();
        fs::rename(&dir, &moved).unwrap();
        dir = moved;
    }
    // Rust scaffolds share one target folder, so only the first compiles
    // the dependencies.
    let target = Path::new(env!("CARGO_BIN_EXE_weir"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("weir-scaffolds");
    // One cargo job: the other tests of this binary run plugins under
    // time limits beside this build, on two cores in CI.
    let built = weir_command(&["plugin", "build", dir.to_str().unwrap()])
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_BUILD_JOBS", "1")
        .output()
        .unwrap();
    assert!(built.status.success(), "{name}: {}", text(&built.stderr));
    let component = dir.join(format!("{name}.wasm"));
    let inspected = weir(&["plugin", "inspect", component.to_str().unwrap()]);
    assert!(
        inspected.status.success(),
        "{name}: {}",
        text(&inspected.stderr)
    );
    let report = text(&inspected.stdout);
    assert!(
        report.contains(&format!("world:       {kind}-plugin")),
        "{report}"
    );
    let log = run_pipeline(&dir.join("pipeline.yaml"), &[("WEIR_LOG", "weir=info")]);
    (dir.clone(), read_json_dir(&dir.join("out")), log)
}

#[test]
fn scaffolds_build_inspect_and_run_as_generated_in_every_language() {
    let parent = tempfile::tempdir().unwrap();
    for language in ["python", "js", "rust"] {
        let (_, rows, _) = scaffold(parent.path(), language, "transform");
        let upper: Vec<_> = rows.iter().map(|r| r["name_upper"].clone()).collect();
        assert_eq!(
            upper,
            serde_json::json!(["ADA", "GRACE", null, "EDSGER"])
                .as_array()
                .unwrap()
                .clone(),
            "{language} transform"
        );
        let (_, rows, _) = scaffold(parent.path(), language, "source");
        let ids: Vec<_> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, (0..10).collect::<Vec<_>>(), "{language} source");
        assert_eq!(rows[3]["name"], "row-3");
        let (_, rows, log) = scaffold(parent.path(), language, "sink");
        assert_eq!(rows.len(), 4, "{language} sink: the copy");
        assert!(
            log.contains("rows written") && log.contains("rows=4"),
            "{language} sink: {log}"
        );
    }
    let refused = weir(&["plugin", "new", "Bad Name", "--lang", "python"]);
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("not a plugin name"));
}

#[test]
fn a_python_plugin_keeps_its_state_across_a_hot_reload() {
    let dir = tempfile::tempdir().unwrap();
    let component = dir.path().join("counter.wasm");
    build(&fixture("py-counter"), &component);
    let ids = dir.path().join("ids.jsonl");
    append_ids(&ids, 0..1000);
    let pipeline = dir.path().join("pipeline.yaml");
    fs::write(&pipeline, ids_pipeline("counter", "plugin: ./counter.wasm")).unwrap();
    let (weir, addr) = Running::with_admin(dir.path(), &pipeline, &[]);
    let out = dir.path().join("out");
    weir.wait_for("the first 1000 rows", || rows_in(&out) == 1000);
    // The swap completes at the next batch; the request waits for it.
    let reload = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            http(
                &addr,
                "POST",
                "/pipelines/pipeline/nodes/counter/reload",
                "",
            )
        })
    };
    weir.wait_for_audit(dir.path(), HOT_RELOAD);
    append_ids(&ids, 1000..2000);
    let (status, answer) = reload.join().unwrap();
    assert_eq!(status, 200, "{answer}");
    weir.wait_for("every row", || rows_in(&out) == 2000);
    let mut rows = read_json_dir(&out);
    rows.sort_by_key(|r| r["id"].as_i64());
    for row in &rows {
        assert_eq!(
            row["seq"], row["id"],
            "the count carried over the swap: {row}"
        );
    }
    assert_eq!(
        counter(&scrape(&addr), "weir_node_reloads_total", "counter"),
        1.0
    );
}

/// componentize-py 0.25 never frees the copy it makes of a `list<u8>` a
/// plugin returns (each batch's Arrow IPC bytes), and a componentize-js
/// plugin grows as fast: a Python or JavaScript transform's memory grows
/// with every row it returns. The
/// host replaces such an instance by a fresh one between batches before it
/// reaches its limit: millions of rows pass in 128 MiB, none is lost, and
/// no instance traps.
#[test]
fn python_and_javascript_transforms_pass_millions_of_rows_in_128_mib_and_lose_nothing() {
    const LIMIT: f64 = (128 << 20) as f64;
    let dir = tempfile::tempdir().unwrap();
    for (fixture_name, rows) in [("py-echo", 20_000_000), ("js-echo", 5_000_000)] {
        let component = dir.path().join(format!("{fixture_name}.wasm"));
        build(&fixture(fixture_name), &component);
        let run_dir = dir.path().join(fixture_name);
        fs::create_dir_all(&run_dir).unwrap();
        let pipeline = run_dir.join("pipeline.yaml");
        fs::write(
            &pipeline,
            format!(
                "sources:
  readings: {{plugin: generate, config: {{dataset: iot, rows: {rows}, devices: 20, seed: 3}}}}
transforms:
  echo: {{plugin: {}, inputs: [readings], limits: {{memory_mib: 128}}}}
sinks:
  out: {{plugin: count, inputs: [echo]}}
",
                component.display()
            ),
        )
        .unwrap();
        let mut running = Running::start(
            &run_dir,
            &["run", "--admin", "127.0.0.1:0", pipeline.to_str().unwrap()],
            &[],
        );
        let admin = running.admin_address();
        let mut peak: f64 = 0.0;
        let status = loop {
            if let Some(status) = running.child.try_wait().unwrap() {
                break status;
            }
            // The run may end while a scrape is on its way.
            let body = metrics_text(&admin).unwrap_or_default();
            let shown = body.lines().any(|line| {
                line.starts_with("weir_node_memory_bytes") && line.contains("node=\"echo\"")
            });
            if shown {
                let metrics =
                    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string())))
                        .unwrap();
                peak = peak.max(gauge(&metrics, "weir_node_memory_bytes", "echo"));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        let stderr = running.stderr();
        assert!(status.success(), "{fixture_name}: {stderr}");
        let echo: Vec<&str> = stderr
            .lines()
            .find(|line| line.starts_with("echo "))
            .unwrap_or_else(|| panic!("no summary: {stderr}"))
            .split_whitespace()
            .collect();
        // name, kind, rows in, rows out, filtered, batches, dead letters
        assert_eq!(echo[2], rows.to_string(), "{stderr}");
        assert_eq!(echo[3], rows.to_string(), "{stderr}");
        assert_eq!(echo[6], "0", "{fixture_name}: no dead letters: {stderr}");
        assert!(!stderr.contains("trapped"), "{fixture_name}: {stderr}");
        let audit = fs::read_to_string(run_dir.join("state/audit.jsonl")).unwrap();
        let recycled = audit.matches("\"recycle\"").count();
        eprintln!(
            "{fixture_name}: {rows} rows in 128 MiB, {recycled} fresh instances, peak linear memory {:.0} MiB",
            peak / f64::from(1 << 20)
        );
        assert!(recycled > 0, "{fixture_name} grew: {audit}");
        assert!(peak < LIMIT, "{peak}");
    }
}

/// A scrape of `/metrics` at `addr`, or `None` when the server went away.
fn metrics_text(addr: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

/// Writes `ids.jsonl` (ids 0..100 with names) into `dir`, once.
fn write_ids(dir: &Path) {
    let ids: String = (0..100)
        .map(|i| format!("{{\"id\": {i}, \"name\": \"n{i}\"}}\n"))
        .collect();
    fs::write(dir.join("ids.jsonl"), ids).unwrap();
}

/// Writes the pipeline that runs `ids.jsonl` in `dir` (read once, unlike
/// [`ids_pipeline`]'s) through transform `node`, the component
/// `dir/<fixture>.wasm` with the further node keys `settings` (its
/// `config`, `parallelism`), into `dir/out` (JSON lines); clears the output
/// and dead letters of an earlier run first.
fn ids_through_pipeline(dir: &Path, fixture: &str, node: &str, settings: &str) -> PathBuf {
    let _ = fs::remove_dir_all(dir.join("out"));
    let _ = fs::remove_dir_all(dir.join("dead-letters"));
    write_pipeline(
        dir,
        &format!(
            "sources:
  ids: {{type: file, config: {{path: ids.jsonl, schema: {{id: int64, name: utf8}}, resume: false}}}}
transforms:
  {node}: {{plugin: ./{fixture}.wasm, inputs: [ids], {settings}}}
sinks:
  out: {{type: file, inputs: [{node}], config: {{path: out, format: json}}}}
"
        ),
    )
}

/// Runs `ids.jsonl` in `dir` through transform `node`, the component
/// `dir/<fixture>.wasm` with `config` (see [`ids_through_pipeline`]).
fn run_ids_through(dir: &Path, fixture: &str, node: &str, config: &str) -> std::process::Output {
    let pipeline = ids_through_pipeline(dir, fixture, node, &format!("config: {config}"));
    weir(&["run", "--quiet", pipeline.to_str().unwrap()])
}

/// What a Python or JavaScript plugin prints (`print`, `console.log` and
/// their stderr forms; the components have no WASI) reaches the log with
/// the instance's name and stream, and takes no row with it; a node of
/// three instances opens its plugin three times, each instance once (the
/// instance the graph opened to type the node runs as the first).
#[test]
fn python_and_javascript_plugins_print_to_the_log_and_a_parallel_node_opens_each_instance_once() {
    let dir = tempfile::tempdir().unwrap();
    write_ids(dir.path());
    for fixture_name in ["py-opens", "js-opens"] {
        let component = dir.path().join(format!("{fixture_name}.wasm"));
        build(&fixture(fixture_name), &component);
        let pipeline = ids_through_pipeline(dir.path(), fixture_name, "echo", "parallelism: 3");
        let out = weir_command(&["run", pipeline.to_str().unwrap()])
            .env("WEIR_LOG", "weir::plugin=info")
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{fixture_name}: {stderr}");
        assert_eq!(
            read_json_dir(&dir.path().join("out")).len(),
            100,
            "{fixture_name}: {stderr}"
        );
        let logged = |message: &str, stream: &str| -> Vec<String> {
            stderr
                .lines()
                .filter(|l| l.contains(message) && l.contains(&format!("stream={stream}")))
                .filter_map(|l| {
                    l.split("node=\"")
                        .nth(1)?
                        .split('"')
                        .next()
                        .map(String::from)
                })
                .collect()
        };
        let mut opened = logged("opened", "stdout");
        opened.sort();
        assert_eq!(
            opened,
            ["echo#0", "echo#1", "echo#2"],
            "{fixture_name}: {stderr}"
        );
        assert_eq!(
            logged("batch of", "stderr").len(),
            1,
            "{fixture_name}: one batch of 100 ids: {stderr}"
        );
    }
}

/// Python and JavaScript plugins in derived mode: the host passes on the
/// columns the layout keeps (renamed, in the layout's order) for the rows
/// the plugin keeps, with the column it appends; rejected rows reach the
/// dead letters; an appended column of the wrong length refuses the batch
/// with a message that says so.
#[test]
fn python_and_javascript_plugins_answer_selections_and_appended_columns() {
    let dir = tempfile::tempdir().unwrap();
    write_ids(dir.path());
    for fixture_name in ["py-derived", "js-derived"] {
        let component = dir.path().join(format!("{fixture_name}.wasm"));
        build(&fixture(fixture_name), &component);
        let run = |config: &str| run_ids_through(dir.path(), fixture_name, "derive", config);

        let out = run("{}");
        assert!(
            out.status.success(),
            "{fixture_name}: {}",
            text(&out.stderr)
        );
        let rows = read_json_dir(&dir.path().join("out"));
        let expected: Vec<serde_json::Value> = (0..100)
            .filter(|i| i % 2 == 0)
            .map(|i| serde_json::json!({"label": format!("n{i}"), "double": 2 * i, "id": i}))
            .collect();
        assert_eq!(rows, expected, "{fixture_name}");
        let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["label", "double", "id"],
            "{fixture_name}: the layout's order"
        );
        let letters = dead_letters(dir.path(), "derive");
        assert_eq!(letters.len(), 10, "{fixture_name}: {letters:?}");

        let out = run("{fail: lengths}");
        let stderr = text(&out.stderr);
        let letters = dead_letters(dir.path(), "derive");
        assert_eq!(letters.len(), 100, "{fixture_name}: {stderr}");
        let error = letters[0]["error"].as_str().unwrap();
        assert!(
            error.contains("has 51 values for 50 kept rows"),
            "{fixture_name}: {error}"
        );
        assert!(
            read_json_dir(&dir.path().join("out")).is_empty(),
            "{fixture_name}"
        );
    }
}

/// Python and JavaScript filters state their input bounds (`self.bounds`,
/// `this.bounds`): a Parquet source then leaves unread the row groups whose
/// statistics no kept row can be in, with the output of a run that reads
/// them all; bounds on a column the input lacks refuse the run before it
/// starts, naming the node and the column.
#[test]
fn python_and_javascript_filters_state_bounds_that_skip_parquet_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    write_ids_lake(dir.path(), 10_000);
    let expected: Vec<serde_json::Value> = (95_000..100_000)
        .step_by(2)
        .map(|i| serde_json::json!({"label": format!("n{i}"), "double": 2 * i, "id": i}))
        .collect();
    for fixture_name in ["py-derived", "js-derived"] {
        build(
            &fixture(fixture_name),
            &dir.path().join(format!("{fixture_name}.wasm")),
        );
        let run = |config: &str| {
            let _ = fs::remove_dir_all(dir.path().join("out"));
            let pipeline = write_pipeline(
                dir.path(),
                &format!(
                    "sources:
  ids: {{type: file, config: {{path: lake/part-00000.parquet}}}}
transforms:
  derive: {{plugin: ./{fixture_name}.wasm, inputs: [ids], config: {config}}}
sinks:
  out: {{type: file, inputs: [derive], config: {{path: out, format: json}}}}
"
                ),
            );
            weir(&["run", pipeline.to_str().unwrap()])
        };
        let out = run("{from: 95000}");
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{fixture_name}: {stderr}");
        assert_eq!(
            rows_read(&stderr),
            10_000,
            "{fixture_name}: one row group of ten read: {stderr}"
        );
        let rows = read_json_dir(&dir.path().join("out"));
        assert_eq!(rows, expected, "{fixture_name}");

        let out = run("{from: 95000, bounds_column: nope}");
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{fixture_name}: {stderr}");
        assert!(
            stderr.contains("derive") && stderr.contains("nope"),
            "{fixture_name}: {stderr}"
        );
    }
}

/// A Parquet source reads only the columns its consumers take; when a
/// plugin refuses the narrower input (it checks columns it does not read),
/// the source reads every column and the run goes on as before.
#[test]
fn a_plugin_that_refuses_fewer_columns_is_given_them_all() {
    let dir = tempfile::tempdir().unwrap();
    build(&fixture("py-strict"), &dir.path().join("strict.wasm"));
    let write = write_pipeline(
        dir.path(),
        "sources:
  clicks: {plugin: generate, config: {dataset: clickstream, rows: 1000, seed: 5}}
sinks:
  lake: {type: file, inputs: [clicks], config: {path: lake, format: parquet}}
",
    );
    let out = weir(&["run", "--quiet", write.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let read = write_pipeline(
        dir.path(),
        "sources:
  clicks: {type: file, config: {path: lake/part-00000.parquet}}
transforms:
  strict: {plugin: ./strict.wasm, inputs: [clicks]}
sinks:
  out: {type: file, inputs: [strict], config: {path: out, format: json}}
",
    );
    let validated = weir(&["validate", read.to_str().unwrap()]);
    let stdout = text(&validated.stdout);
    assert!(validated.status.success(), "{}", text(&validated.stderr));
    assert!(
        stdout.contains(
            "clicks -> strict: event_time: Timestamp(ms, \"+00:00\"), user_id: Int64, session_id"
        ),
        "{stdout}"
    );
    let out = weir(&["run", "--quiet", read.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(read_json_dir(&dir.path().join("out")).len(), 1000);
}

/// Python and JavaScript plugins reject single rows (the rest of the batch
/// goes on), read columns in any order, and an exception reaches the dead
/// letters and the log with its type and message (Python: and the plugin's
/// own line), in `process` and in `open`.
#[test]
fn python_and_javascript_plugins_reject_single_rows_and_report_their_exceptions() {
    let dir = tempfile::tempdir().unwrap();
    write_ids(dir.path());
    for (fixture_name, raised, open_error) in [
        (
            "py-picky",
            "ValueError: seven is bad luck (at app.py:",
            "KeyError",
        ),
        ("js-picky", "RangeError: seven is bad luck", "TypeError"),
    ] {
        let component = dir.path().join(format!("{fixture_name}.wasm"));
        build(&fixture(fixture_name), &component);
        let run = |config: &str| run_ids_through(dir.path(), fixture_name, "picky", config);

        let out = run("{}");
        assert!(
            out.status.success(),
            "{fixture_name}: {}",
            text(&out.stderr)
        );
        let rows = read_json_dir(&dir.path().join("out"));
        assert_eq!(
            rows.len(),
            90,
            "{fixture_name}: only the ten rejected rows are missing"
        );
        let letters = dead_letters(dir.path(), "picky");
        assert_eq!(letters.len(), 10, "{fixture_name}");
        assert!(
            letters
                .iter()
                .all(|l| l["error"].as_str().unwrap().ends_with("ends in 3")),
            "{fixture_name}: {letters:?}"
        );

        let out = run("{fail: process}");
        let stderr = text(&out.stderr);
        let letters = dead_letters(dir.path(), "picky");
        assert_eq!(letters.len(), 100, "{fixture_name}: {stderr}");
        let error = letters[0]["error"].as_str().unwrap();
        assert!(error.contains(raised), "{fixture_name}: {error}");
        assert!(
            stderr.contains(raised),
            "{fixture_name}: the log says it too: {stderr}"
        );
        assert!(!error.contains("trapped"), "{fixture_name}: {error}");

        let out = run("{fail: open}");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{fixture_name}: {stderr}");
        assert!(stderr.contains(open_error), "{fixture_name}: {stderr}");
        assert!(!stderr.contains("trapped"), "{fixture_name}: {stderr}");
    }
}
