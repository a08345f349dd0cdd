//! OpenLineage events of runs with `lineage:`: every event checked against
//! the `openlineage-python` package's model of the spec
//! (`support/openlineage_check.py`, `scripts/python-readers.sh`), column
//! lineage through a rename, a filter, a computed column and a join, the
//! end of a run that completes, fails or is stopped, and delivery to an
//! HTTP endpoint (a real server, started by the test) with retries that do
//! not hold the pipeline up.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

/// The events in `file`, checked by the `openlineage-python` package.
fn checked_events(file: &Path) -> Vec<Value> {
    let home = std::env::var_os("HOME").unwrap();
    let python = std::env::var_os("WEIR_LINEAGE_DIR")
        .map_or_else(
            || Path::new(&home).join(".cache/weir/lineage"),
            PathBuf::from,
        )
        .join("bin/python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/openlineage_check.py");
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/python-readers.sh)", python.display()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect()
}

/// People and their orders in one stream, some in France.
const EVENTS: &str = r#"{"person_id": 1, "name": "Ann", "country": "DE"}
{"person_id": 2, "name": "Bob", "country": "FR"}
{"seller": 1, "price": 2.5, "quantity": 4, "country": "DE"}
{"seller": 1, "price": 1.0, "quantity": 3, "country": "DE"}
{"seller": 2, "price": 9.0, "quantity": 1, "country": "FR"}
"#;

/// A pipeline in `dir` over `EVENTS`: a rename and a computed column
/// (`select`), a filter and a join, into JSON files, with `lineage`.
fn shop_pipeline(dir: &Path, lineage: &str) -> PathBuf {
    std::fs::write(dir.join("events.jsonl"), EVENTS).unwrap();
    write_pipeline(
        dir,
        &format!(
            "name: orders-by-customer
lineage: {{{lineage}}}
sources:
  events:
    type: file
    config:
      path: events.jsonl
      schema: {{person_id: int64, name: utf8, seller: int64, price: float64, quantity: int64, country: utf8}}
transforms:
  shaped:
    plugin: select
    inputs: [events]
    config:
      columns:
        - {{name: person_id}}
        - {{name: customer, from: name}}
        - {{name: seller}}
        - {{name: total, expr: 'price * quantity'}}
        - {{name: country}}
  german: {{plugin: filter, inputs: [shaped], config: {{predicate: \"country = 'DE'\"}}}}
  joined:
    plugin: join
    inputs: [german]
    config: {{left: {{key: person_id, columns: [customer]}}, right: {{key: seller, columns: [total]}}}}
sinks:
  out: {{type: file, inputs: [joined], config: {{path: out, format: json}}}}
"
        ),
    )
}

/// `field`'s input fields in a column-lineage facet, as (column, subtype).
fn derived_from(lineage: &Value, field: &str) -> BTreeSet<(String, String)> {
    lineage["fields"][field]["inputFields"]
        .as_array()
        .unwrap_or_else(|| panic!("no lineage for {field}: {lineage}"))
        .iter()
        .map(|input| {
            (
                input["field"].as_str().unwrap().to_string(),
                input["transformations"][0]["subtype"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn a_run_emits_start_and_complete_with_column_lineage_through_rename_filter_computation_and_join() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = shop_pipeline(dir.path(), "namespace: shop, file: lineage.jsonl");
    run_pipeline(&pipeline, &[]);
    let events = checked_events(&dir.path().join("lineage.jsonl"));
    assert_eq!(types(&events), ["START", "COMPLETE"]);
    let (start, complete) = (&events[0], &events[1]);
    assert_eq!(start["run"]["runId"], complete["run"]["runId"]);
    assert_eq!(complete["job"]["namespace"], "shop");
    assert_eq!(complete["job"]["name"], "orders-by-customer");

    let source = std::fs::canonicalize(dir.path().join("events.jsonl")).unwrap();
    let input = &complete["inputs"][0];
    assert_eq!(input["namespace"], "file");
    assert_eq!(input["name"], source.display().to_string());
    let input_columns: Vec<&str> = input["facets"]["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        input_columns,
        [
            "person_id",
            "name",
            "seller",
            "price",
            "quantity",
            "country"
        ]
    );

    let output = &complete["outputs"][0];
    assert_eq!(output["namespace"], "file");
    let out_dir = std::fs::canonicalize(dir.path().join("out")).unwrap();
    assert_eq!(output["name"], out_dir.display().to_string());
    let lineage = &output["facets"]["columnLineage"];
    let pair = |field: &str, how: &str| (field.to_string(), how.to_string());
    assert_eq!(
        derived_from(lineage, "customer"),
        BTreeSet::from([pair("name", "IDENTITY")]),
        "renamed, still the same values"
    );
    assert_eq!(
        derived_from(lineage, "total"),
        BTreeSet::from([
            pair("price", "TRANSFORMATION"),
            pair("quantity", "TRANSFORMATION")
        ]),
        "computed from the columns the expression reads"
    );
    for input in lineage["fields"]["total"]["inputFields"]
        .as_array()
        .unwrap()
    {
        assert_eq!(input["name"], source.display().to_string());
    }
    let decided: BTreeSet<&str> = lineage["dataset"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|d| assert_eq!(d["transformations"][0]["type"], "INDIRECT"))
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        decided,
        BTreeSet::from(["country", "person_id", "seller"]),
        "the filter's predicate and the join's keys"
    );

    let written = read_json_dir(&dir.path().join("out"));
    assert_eq!(written.len(), 2, "Ann's two German orders: {written:?}");
    let statistics = &output["outputFacets"]["outputStatistics"];
    assert_eq!(statistics["rowCount"], 2);
    assert!(statistics["size"].as_u64().unwrap() > 0);
    assert!(
        start["outputs"][0]["outputFacets"].is_null(),
        "no statistics before the end"
    );
}

#[test]
fn a_failed_run_ends_with_fail_and_its_error_and_a_stopped_one_with_abort() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = shop_pipeline(dir.path(), "file: lineage.jsonl");
    let yaml = std::fs::read_to_string(&pipeline).unwrap();
    std::fs::write(&pipeline, format!("max_dead_letters: 0\n{yaml}")).unwrap();
    std::fs::write(
        dir.path().join("events.jsonl"),
        format!("{EVENTS}{{\"person_id\": \"not a number\"}}\n"),
    )
    .unwrap();
    let out = weir(&["run", pipeline.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let events = checked_events(&dir.path().join("lineage.jsonl"));
    assert_eq!(types(&events), ["START", "FAIL"]);
    let message = events[1]["run"]["facets"]["errorMessage"]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("max_dead_letters"), "{message}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("log.jsonl"), "{\"id\": 1}\n").unwrap();
    let pipeline = write_pipeline(
        dir.path(),
        "lineage: {file: lineage.jsonl}
sources:
  log: {type: file, config: {path: log.jsonl, follow: true, schema: {id: int64}}}
sinks:
  out: {type: file, inputs: [log], config: {path: out, format: json}}
",
    );
    let mut running = Running::start(dir.path(), &["run", pipeline.to_str().unwrap()], &[]);
    running.wait_for("the first row", || {
        dir.path().join("out").exists() && !read_json_dir(&dir.path().join("out")).is_empty()
    });
    interrupt(&running.child);
    assert_eq!(running.exited("after Ctrl-C").code(), Some(130));
    let events = checked_events(&dir.path().join("lineage.jsonl"));
    assert_eq!(types(&events), ["START", "ABORT"]);
    assert_eq!(
        events[1]["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"],
        1
    );
}

/// A real HTTP server (Python's, a process of its own) on a free port that
/// answers the first `fail_first` POSTs with 503, then 200, and appends
/// every body it accepts to `received` as a line; `hang` makes it accept
/// connections and never answer.
struct Endpoint {
    child: std::process::Child,
    url: String,
}

impl Endpoint {
    fn start(received: &Path, fail_first: u32, hang: bool) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = r#"
import http.server, sys, time
received, fail_first, hang = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "hang"
seen = 0
class Lineage(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        if hang:
            time.sleep(3600)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        seen += 1
        ok = self.path == "/api/v1/lineage" and seen > fail_first
        if ok:
            with open(received, "ab") as out:
                out.write(body + b"\n")
        self.send_response(200 if ok else 503)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[4])), Lineage).serve_forever()
"#;
        let child = std::process::Command::new("python3")
            .args(["-c", server])
            .arg(received)
            .arg(fail_first.to_string())
            .arg(if hang { "hang" } else { "answer" })
            .arg(port.to_string())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn events_reach_an_http_endpoint_through_its_failures_and_a_silent_one_does_not_hold_the_run_up() {
    let dir = tempfile::tempdir().unwrap();
    let received = dir.path().join("received.jsonl");
    let endpoint = Endpoint::start(&received, 2, false);
    let pipeline = shop_pipeline(
        dir.path(),
        &format!("url: '{}', file: lineage.jsonl", endpoint.url),
    );
    run_pipeline(&pipeline, &[]);
    let events = checked_events(&received);
    assert_eq!(types(&events), ["START", "COMPLETE"], "after two 503s");
    assert_eq!(
        events,
        checked_events(&dir.path().join("lineage.jsonl")),
        "the same events over HTTP and in the file"
    );

    let dir = tempfile::tempdir().unwrap();
    let silent = Endpoint::start(&dir.path().join("never.jsonl"), 0, true);
    let pipeline = shop_pipeline(dir.path(), &format!("url: '{}'", silent.url));
    let started = Instant::now();
    let out = weir(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        read_json_dir(&dir.path().join("out")).len(),
        2,
        "the data is written"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the run waits a bounded time for its events: {:?}",
        started.elapsed()
    );
    assert!(
        text(&out.stderr).contains("lineage"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn data_quality_results_reach_the_input_datasets_assertions_facet() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("orders.jsonl"),
        "{\"id\": 1, \"amount\": 5}\n{\"id\": null, \"amount\": 7}\n{\"id\": 3, \"amount\": -1}\n",
    )
    .unwrap();
    let pipeline = write_pipeline(
        dir.path(),
        "lineage: {file: lineage.jsonl}
sources:
  orders: {type: file, config: {path: orders.jsonl, schema: {id: int64, amount: float64}}}
transforms:
  checks:
    plugin: expect
    inputs: [orders]
    config:
      rules:
        - {name: id_present, not_null: id, severity: reject}
        - {name: positive, range: {column: amount, min: 0}}
        - {name: small, range: {column: amount, max: 100}}
sinks:
  out: {type: file, inputs: [checks], config: {path: out, format: json}}
",
    );
    run_pipeline(&pipeline, &[]);
    let events = checked_events(&dir.path().join("lineage.jsonl"));
    assert_eq!(types(&events), ["START", "COMPLETE"]);
    assert!(
        events[0]["inputs"][0]["inputFacets"].is_null(),
        "results come at the end"
    );
    let assertions = events[1]["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]
        .as_array()
        .unwrap()
        .clone();
    let found: Vec<(&str, &str, bool, &str, &str)> = assertions
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap(),
                a["assertion"].as_str().unwrap(),
                a["success"].as_bool().unwrap(),
                a["column"].as_str().unwrap(),
                a["actual"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("id_present", "not_null", false, "id", "1"),
            ("positive", "range", false, "amount", "1"),
            ("small", "range", true, "amount", "0"),
        ]
    );
}
