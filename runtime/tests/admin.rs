//! The admin HTTP API of a running `weir run --admin`: `/health`,
//! `/metrics` (parsed with a real Prometheus text-format parser, counters
//! matching the rows that flowed), `/pipelines/{p}`, and a hot reload
//! through `POST /pipelines/{p}/nodes/{n}/reload`; the live view: taps on
//! a node's output (`weir tap`), and the page in a real browser.

#[cfg(feature = "system-tests")]
#[path = "support/browser.rs"]
mod browser;
mod support;

use std::fs;

use support::*;

#[test]
fn metrics_pipelines_and_reloads_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let ids = dir.path().join("ids.jsonl");
    append_ids(&ids, 0..1000);
    let pipeline = dir.path().join("pipeline.yaml");
    let keep = ids_pipeline("keep", "plugin: filter, config: {predicate: \"id >= 500\"}");
    fs::write(&pipeline, keep).unwrap();
    let (weir, addr) = Running::with_admin(dir.path(), &pipeline, &[]);

    assert_eq!(http(&addr, "GET", "/health", ""), (200, "ok\n".to_string()));
    weir.wait_for("the first 1000 rows through the filter", || {
        counter(&scrape(&addr), "weir_node_rows_out_total", "out") == 500.0
    });
    let metrics = scrape(&addr);
    assert_eq!(counter(&metrics, "weir_node_rows_out_total", "ids"), 1000.0);
    assert_eq!(counter(&metrics, "weir_node_rows_in_total", "keep"), 1000.0);
    assert_eq!(counter(&metrics, "weir_node_rows_out_total", "keep"), 500.0);
    assert_eq!(counter(&metrics, "weir_node_filtered_total", "keep"), 500.0);
    assert_eq!(
        counter(&metrics, "weir_node_batches_in_total", "keep"),
        10.0
    );
    assert_eq!(
        counter(&metrics, "weir_node_dead_letters_total", "keep"),
        0.0
    );
    // A Rust guest starts with 18 pages (1.1 MiB) of linear memory.
    assert!(gauge(&metrics, "weir_node_memory_bytes", "keep") >= (18 << 16) as f64);
    assert!(
        !metrics
            .samples
            .iter()
            .any(|s| s.metric == "weir_node_memory_bytes" && s.labels.get("node") == Some("ids")),
        "a native source holds no plugin memory"
    );
    weir.wait_for("the source's lag noted after it read everything", || {
        gauge(&scrape(&addr), "weir_source_lag_bytes", "ids") == 0.0
    });
    // 1000 int64 values in: at least their 8,000 bytes of Arrow buffers.
    assert!(counter(&metrics, "weir_node_bytes_in_total", "keep") >= 8000.0);
    let calls = metrics
        .samples
        .iter()
        .find(|s| s.metric == "weir_node_call_seconds" && s.labels.get("node") == Some("keep"))
        .expect("a call-duration histogram");
    match &calls.value {
        prometheus_parse::Value::Histogram(buckets) => {
            assert_eq!(buckets.last().unwrap().count, 10.0, "one call per batch");
        }
        other => panic!("{other:?}"),
    }

    let (status, body) = http(&addr, "GET", "/pipelines/pipeline", "");
    assert_eq!(status, 200, "{body}");
    let view: serde_json::Value = serde_json::from_str(&body).unwrap();
    let keep = &view["nodes"][1];
    assert_eq!(keep["name"], "keep");
    assert!(
        keep["plugin"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(keep["counters"]["rows_in"], 1000);
    assert!(keep["memory_bytes"].as_u64().unwrap() >= 18 << 16);
    assert_eq!(view["nodes"][0]["lag_bytes"], 0);
    assert_eq!(view["nodes"][0]["memory_bytes"], serde_json::Value::Null);
    assert_eq!(http(&addr, "GET", "/pipelines/nope", "").0, 404);

    // A reload with a new predicate; the swap completes at the next batch.
    let reload = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            http(
                &addr,
                "POST",
                "/pipelines/pipeline/nodes/keep/reload",
                r#"{"config": {"predicate": "id >= 1900"}}"#,
            )
        })
    };
    weir.wait_for_audit(dir.path(), HOT_RELOAD);
    append_ids(&ids, 1000..2000);
    let (status, swap_answer) = reload.join().unwrap();
    assert_eq!(status, 200, "{swap_answer}");
    assert!(swap_answer.contains("new_digest"), "{swap_answer}");
    weir.wait_for("the rows the new predicate keeps", || {
        counter(&scrape(&addr), "weir_node_rows_out_total", "out") == 600.0
    });
    assert_eq!(
        counter(&scrape(&addr), "weir_node_reloads_total", "keep"),
        1.0
    );
    let (_, body) = http(&addr, "GET", "/pipelines/pipeline", "");
    let view: serde_json::Value = serde_json::from_str(&body).unwrap();
    let swapped: serde_json::Value = serde_json::from_str(&swap_answer).unwrap();
    assert_eq!(view["nodes"][1]["plugin"]["digest"], swapped["new_digest"]);
    let (status, body) = http(&addr, "POST", "/pipelines/pipeline/nodes/ids/reload", "");
    assert_eq!(status, 404, "{body}");
    drop(weir);
}

/// Every example is `pipeline.yaml`: two of them in one run get distinct
/// names (the second `pipeline-2`), in the admin API and in the metrics.
#[test]
fn pipelines_of_one_run_are_told_apart_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = |folder: &str| {
        let folder = dir.path().join(folder);
        fs::create_dir_all(&folder).unwrap();
        append_ids(&folder.join("ids.jsonl"), 0..100);
        let path = folder.join("pipeline.yaml");
        fs::write(
            &path,
            ids_pipeline("keep", "plugin: filter, config: {predicate: \"id >= 0\"}"),
        )
        .unwrap();
        path
    };
    let (first, second) = (pipeline("a"), pipeline("b"));
    let (weir, addr) = Running::with_admin(dir.path(), &second, &[first.to_str().unwrap()]);
    // Each pipeline is shown once its own graph is built, in either order.
    weir.wait_for("both pipelines", || {
        let listed: serde_json::Value =
            serde_json::from_str(&http(&addr, "GET", "/pipelines", "").1).unwrap();
        let names: Vec<_> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        names.contains(&"pipeline".to_string()) && names.contains(&"pipeline-2".to_string())
    });
    for name in ["pipeline", "pipeline-2"] {
        let (status, body) = http(&addr, "GET", &format!("/pipelines/{name}"), "");
        assert_eq!(status, 200, "{body}");
        let view: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(view["name"], name);
        weir.wait_for(&format!("{name}'s rows in the metrics"), || {
            scrape(&addr).samples.iter().any(|s| {
                s.metric == "weir_node_rows_out_total"
                    && s.labels.get("pipeline") == Some(name)
                    && s.labels.get("node") == Some("keep")
                    && matches!(s.value, prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) if v == 100.0)
            })
        });
    }
}

/// A batch run ends in well under a scrape interval: with `--admin-linger`
/// the admin API stays up until Prometheus has scraped the final counts.
#[test]
fn a_finished_run_lingers_until_its_final_counts_are_scraped() {
    let dir = tempfile::tempdir().unwrap();
    append_ids(&dir.path().join("ids.jsonl"), 0..1000);
    let pipeline = dir.path().join("pipeline.yaml");
    fs::write(
        &pipeline,
        "sources:
  ids: {type: file, config: {path: ids.jsonl, schema: {id: int64}, batch_rows: 100}}
sinks:
  out: {type: file, inputs: [ids], config: {path: out, format: json}}
",
    )
    .unwrap();
    let mut weir = Running::start(
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
    // The run is over in a fraction of a second; weir waits for a scrape
    // after its end. Scraped every 100 ms, as Prometheus would, until it
    // exits: the last scrape it answered holds the final counts.
    let started = std::time::Instant::now();
    let mut last = String::new();
    while weir.child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "weir still runs: {}",
            weir.stderr()
        );
        if let Ok(mut stream) = std::net::TcpStream::connect(&addr) {
            let request =
                format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            let read = std::io::Write::write_all(&mut stream, request.as_bytes())
                .and_then(|()| std::io::Read::read_to_string(&mut stream, &mut answer));
            if read.is_ok() && answer.starts_with("HTTP/1.1 200") {
                last = answer;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(weir.exited("after a scrape").success(), "{}", weir.stderr());
    assert!(
        last.lines().any(|line| {
            line.starts_with("weir_node_rows_in_total{")
                && line.contains("node=\"out\"")
                && line.ends_with(" 1000")
        }),
        "the last scrape before weir exited: {last}"
    );
}

/// What Prometheus's own linter says of a scrape (`promtool`, from Debian's
/// `prometheus`, installed by `scripts/setup.sh --tests`): nothing; and a
/// scraper that asks for OpenMetrics gets it.
#[cfg(feature = "system-tests")]
#[test]
fn promtool_accepts_the_metrics_of_a_running_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    append_ids(&dir.path().join("ids.jsonl"), 0..1000);
    let pipeline = dir.path().join("pipeline.yaml");
    let keep = ids_pipeline("keep", "plugin: filter, config: {predicate: \"id >= 500\"}");
    fs::write(&pipeline, keep).unwrap();
    let (weir, addr) = Running::with_admin(dir.path(), &pipeline, &[]);
    weir.wait_for("rows through the filter", || {
        counter(&scrape(&addr), "weir_node_rows_out_total", "out") == 500.0
    });
    let (_, text) = http(&addr, "GET", "/metrics", "");
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed by scripts/setup.sh --tests");
    std::io::Write::write_all(&mut promtool.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("le=\"+Inf\""), "{text}");
    assert!(
        text.contains("# TYPE weir_node_busy_seconds_total counter"),
        "{text}"
    );

    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAccept: application/openmetrics-text; version=1.0.0\r\nConnection: close\r\n\r\n"
    );
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    assert!(
        response.contains("content-type: application/openmetrics-text"),
        "{response}"
    );
    assert!(response.trim_end().ends_with("# EOF"), "{response}");
    assert!(
        response.contains("# TYPE weir_node_rows_in counter"),
        "{response}"
    );
}

#[test]
fn the_admin_address_may_be_a_host_name_or_only_a_port() {
    let dir = tempfile::tempdir().unwrap();
    append_ids(&dir.path().join("ids.jsonl"), 0..100);
    let path = dir.path().join("pipeline.yaml");
    fs::write(
        &path,
        ids_pipeline("keep", "plugin: filter, config: {predicate: \"id >= 0\"}"),
    )
    .unwrap();
    for (given, listening) in [("localhost:0", "127.0.0.1:"), (":0", "0.0.0.0:")] {
        let weir = Running::start(
            dir.path(),
            &["run", "--quiet", "--admin", given, path.to_str().unwrap()],
            &[],
        );
        let addr = weir.admin_address();
        assert!(addr.starts_with(listening), "{given}: {addr}");
        let port = addr.rsplit(':').next().unwrap();
        let (status, _) = http(&format!("127.0.0.1:{port}"), "GET", "/health", "");
        assert_eq!(status, 200, "{given}");
        // The root says what is served, and which pipelines run.
        let (status, body) = http(&format!("127.0.0.1:{port}"), "GET", "/", "");
        assert_eq!(status, 200, "{body}");
        let index: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(index["endpoints"]["GET /metrics"].is_string(), "{index}");
        weir.wait_for("the pipeline at /", || {
            http(&format!("127.0.0.1:{port}"), "GET", "/", "")
                .1
                .contains("\"pipeline\"")
        });
    }
}

/// `examples/monitoring`: Prometheus's `promtool` accepts the scrape config,
/// and every metric the Grafana dashboard queries is one that a running
/// pipeline (a plugin node, an `expect` gate, a following file source)
/// serves.
#[cfg(feature = "system-tests")]
#[test]
fn the_monitoring_example_checks_out_and_queries_metrics_weir_serves() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/monitoring");
    let out = std::process::Command::new("promtool")
        .args(["check", "config"])
        .arg(example.join("prometheus.yml"))
        .output()
        .expect("promtool is installed by scripts/setup.sh --tests");
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let dashboard: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(example.join("grafana-dashboard.json")).unwrap())
            .unwrap();
    let queried: std::collections::BTreeSet<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().unwrap().iter())
        .flat_map(|target| metric_names(target["expr"].as_str().unwrap()))
        .collect();
    assert!(queried.len() >= 9, "{queried:?}");

    let dir = tempfile::tempdir().unwrap();
    append_ids(&dir.path().join("ids.jsonl"), 0..1000);
    let pipeline = dir.path().join("pipeline.yaml");
    fs::write(
        &pipeline,
        "sources:
  ids: {type: file, config: {path: ids.jsonl, schema: {id: int64}, follow: true}}
transforms:
  checks: {plugin: expect, inputs: [ids], config: {rules: [{name: small, range: {column: id, max: 900}}]}}
sinks:
  out: {type: file, inputs: [checks], config: {path: out, format: json}}
",
    )
    .unwrap();
    let (weir, addr) = Running::with_admin(dir.path(), &pipeline, &[]);
    let started = std::time::Instant::now();
    loop {
        let served = metric_names(&http(&addr, "GET", "/metrics", "").1);
        let missing: Vec<&String> = queried.difference(&served).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the dashboard queries metrics weir does not serve: {missing:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    interrupt(&weir.child);
}

/// The metric names in `text` (PromQL or an exposition): every
/// `weir_...` word.
#[cfg(feature = "system-tests")]
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("weir_"))
        .map(String::from)
        .collect()
}

/// A clickstream at `rate` rows a second (unbounded, or `rows` in all),
/// its columns cut to three, `not_null` on the price rejecting the rows
/// without one (dead letters), written to JSON lines twice.
fn clicks_pipeline(rate: u32, rows: Option<u32>) -> String {
    let rows = rows.map_or(String::new(), |rows| format!(", rows: {rows}"));
    format!(
        "sources:
  clicks: {{plugin: generate, config: {{dataset: clickstream, rate: {rate}, seed: 7{rows}}}}}
transforms:
  shape:
    plugin: select
    inputs: [clicks]
    config: {{columns: [{{name: event_time}}, {{name: action}}, {{name: price}}]}}
  priced:
    plugin: expect
    inputs: [shape]
    config: {{rules: [{{name: has_price, not_null: price, severity: reject}}]}}
sinks:
  lake: {{type: file, inputs: [priced], config: {{path: lake, format: json}}}}
  everything: {{type: file, inputs: [shape], config: {{path: everything, format: json}}}}
"
    )
}

/// `GET url`: the status and the body's lines (a tap's rows).
fn get_lines(url: &str) -> (u16, Vec<String>) {
    let agent = http_client();
    let mut response = agent.get(url).call().unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, text.lines().map(String::from).collect())
}

#[test]
fn a_tap_streams_a_bounded_sample_of_a_nodes_output_rows() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(dir.path(), &clicks_pipeline(2000, None));
    let (weir, addr) = Running::with_admin(dir.path(), &pipeline, &[]);
    let tap = format!("http://{addr}/pipelines/pipeline/nodes/shape/tap");

    let (status, rows) = get_lines(&format!("{tap}?limit=5"));
    assert_eq!(status, 200);
    assert_eq!(rows.len(), 5, "{rows:?}");
    for row in &rows {
        let row: serde_json::Value = serde_json::from_str(row).unwrap();
        let columns: Vec<&String> = row.as_object().unwrap().keys().collect();
        assert_eq!(columns, ["event_time", "action", "price"], "{row}");
    }

    // At most 20 rows a second: 20 at once, the next 30 over 1.5 s.
    let started = std::time::Instant::now();
    let (_, rows) = get_lines(&format!("{tap}?rows_per_second=20&limit=50"));
    assert_eq!(rows.len(), 50);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );

    let (status, body) = get_lines(&format!("http://{addr}/pipelines/pipeline/nodes/nope/tap"));
    assert_eq!(status, 404);
    assert!(body[0].contains(r#"no node named \"nope\""#), "{body:?}");
    let (status, body) = get_lines(&format!("{tap}?rows=3"));
    assert_eq!(status, 400);
    assert!(body[0].contains("unknown field `rows`"), "{body:?}");

    // The sink's tap shows what it wrote: priced rows only.
    let (_, rows) = get_lines(&format!(
        "http://{addr}/pipelines/pipeline/nodes/lake/tap?limit=3"
    ));
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|r| !r.contains(r#""price":null"#)),
        "{rows:?}"
    );
    drop(weir);
}

/// `weir tap` prints the rows as tables, finds the pipeline of a bare node
/// name, and ends when the run does.
#[test]
fn weir_tap_prints_tables_until_the_run_ends() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(dir.path(), &clicks_pipeline(2000, Some(8000)));
    let (mut weir, addr) = Running::with_admin(dir.path(), &pipeline, &[]);
    let out = weir_command(&["tap", &addr, "shape", "--rows-per-second", "5"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(weir.exited("after its 8000 rows").success());
    let header = stdout.lines().nth(1).unwrap_or_default();
    assert!(
        header.contains("event_time") && header.contains("action") && header.contains("price"),
        "{stdout}"
    );
    // 4 s of run at 5 rows a second, a table of 5 rows at a time.
    let rows = stdout.lines().filter(|l| l.contains("| 20")).count();
    assert!((5..=25).contains(&rows), "{rows} rows:\n{stdout}");
    assert!(
        text(&out.stderr).contains("the tap ended"),
        "{}",
        text(&out.stderr)
    );

    let out = weir_command(&["tap", &addr, "shape"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("cannot reach the admin API"),
        "{}",
        text(&out.stderr)
    );
}

/// The page at `/` in a real browser (Debian's headless Chromium driven
/// over WebDriver): every node drawn with its edges, counters that rise
/// between two reads, dead letters shown, and a clicked node's tap showing
/// rows. Saves a screenshot to `target/tmp/live-view.png`.
#[cfg(feature = "system-tests")]
#[test]
fn the_live_view_shows_the_running_graph_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(dir.path(), &clicks_pipeline(3000, None));
    let (weir, addr) = Running::with_admin(dir.path(), &pipeline, &[]);
    let (_, page) = get_lines(&format!("http://{addr}/assets/live.js"));
    assert!(page.len() > 100, "the script is served");

    let browser = browser::Browser::start();
    browser.goto(&format!("http://{addr}/"));
    browser.wait_for(
        "every node drawn",
        "return [...document.querySelectorAll('g.node')].map(g => g.dataset.node).sort().join() \
         === 'clicks,everything,lake,priced,shape'",
    );
    let edges = browser.run(
        "return [...document.querySelectorAll('path.edge')].map(e => e.dataset.from + '>' + e.dataset.to).sort()",
    );
    assert_eq!(
        edges,
        serde_json::json!([
            "clicks>shape",
            "priced>lake",
            "shape>everything",
            "shape>priced"
        ])
    );
    let edge_schema = browser.run(
        "return document.querySelector('path.edge[data-from=shape][data-to=priced] title').textContent",
    );
    assert!(
        edge_schema.as_str().unwrap().contains("action: Utf8"),
        "{edge_schema}"
    );
    // Sources on the left, sinks on the right.
    let x = |node: &str| {
        let script = format!(
            "return document.querySelector('g.node[data-node={node}]').getBoundingClientRect().x"
        );
        browser.run(&script).as_f64().unwrap()
    };
    assert!(x("clicks") < x("shape") && x("shape") < x("priced") && x("priced") < x("lake"));

    let rows_out = |node: &str| {
        let script = format!(
            "return Number(document.querySelector('g.node[data-node={node}]').dataset.rowsOut)"
        );
        browser.run(&script).as_f64().unwrap()
    };
    browser.wait_for(
        "rows written",
        "return Number(document.querySelector('g.node[data-node=lake]').dataset.rowsOut) > 0",
    );
    let first = rows_out("lake");
    browser.wait_for(
        "the counters to rise",
        &format!("return Number(document.querySelector('g.node[data-node=lake]').dataset.rowsOut) > {first}"),
    );
    assert!(rows_out("clicks") > first);
    browser.wait_for(
        "a rate and dead letters on the gate",
        "const g = document.querySelector('g.node[data-node=priced]'); \
         return g.classList.contains('troubled') && /out [1-9]/.test(g.querySelector('text.rates').textContent) \
         && /· [1-9][0-9.]*k? dead letters/.test(g.querySelector('text.faults').textContent)",
    );

    browser.run(
        "document.querySelector('g.node[data-node=priced]').dispatchEvent(new MouseEvent('click'))",
    );
    browser.wait_for(
        "the gate's last dead letters",
        "return [...document.querySelectorAll('pre.letter')].some(p => p.textContent.includes('has_price'))",
    );
    browser.wait_for(
        "rows in the gate's tap",
        "return document.querySelectorAll('#tap tbody tr').length >= 3",
    );
    let columns =
        browser.run("return [...document.querySelectorAll('#tap th')].map(th => th.textContent)");
    assert_eq!(
        columns,
        serde_json::json!(["event_time", "action", "price"])
    );
    let prices = browser.run(
        "return [...document.querySelectorAll('#tap tbody tr')].map(tr => tr.children[2].textContent)",
    );
    assert!(
        prices
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p.as_str().unwrap().parse::<f64>().is_ok()),
        "the gate passes priced rows only: {prices}"
    );

    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("live-view.png");
    browser.screenshot(&screenshot);
    let png = fs::read(&screenshot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    drop(weir);
}
