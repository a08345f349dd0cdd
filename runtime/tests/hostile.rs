//! The hostile-plugin suite: plugins that loop, hog memory, overflow their
//! stack, panic, flood, return malformed or mistyped output, reach for files,
//! sockets and variables they were not granted, or sleep past their
//! deadline. Each runs in one `weir run` beside a well-behaved pipeline of
//! another tenant; each test asserts the containment (the typed error in the
//! dead letters, the re-created instance, the audit log) and that the
//! neighbour delivered every one of its rows.

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;

use support::*;

/// Rows of the neighbour pipeline.
const NEIGHBOUR_ROWS: i64 = 2000;
/// Rows the hostile pipeline feeds its plugin, in batches of 10.
const HOSTILE_ROWS: i64 = 100;

/// What the hostile node is: its `plugin`, `config`, `limits` and
/// `capabilities` as YAML flow values.
struct Hostile<'a> {
    /// The hostile pipeline's `tenant`.
    tenant: &'a str,
    plugin: &'a str,
    config: &'a str,
    limits: &'a str,
    capabilities: &'a str,
}

impl<'a> Hostile<'a> {
    fn misbehave(mode: &'a str, limits: &'a str) -> Self {
        Self {
            tenant: "{name: evil}",
            plugin: "test-misbehave",
            config: mode,
            limits,
            capabilities: "{}",
        }
    }
}

/// Writes both pipelines into `dir` and runs them in one process.
fn run_beside_neighbour(dir: &Path, hostile: &Hostile<'_>) -> Output {
    write_pipelines(dir, hostile);
    run_both(dir)
}

/// Runs `hostile.yaml` and `neighbour.yaml` of `dir` in one process.
fn run_both(dir: &Path) -> Output {
    weir(&[
        "run",
        dir.join("hostile.yaml").to_str().unwrap(),
        dir.join("neighbour.yaml").to_str().unwrap(),
    ])
}

/// The neighbour pipeline in `dir` delivered every row, once, in order,
/// and dead-lettered none.
fn neighbour_delivered_everything(dir: &Path) {
    let delivered = ids(&read_json_dir(&dir.join("neighbour-out")));
    assert_eq!(
        delivered,
        (1..=NEIGHBOUR_ROWS).collect::<Vec<_>>(),
        "the neighbour delivered every row, once, in order"
    );
    assert!(!dir.join("neighbour-dead-letters").exists());
}

/// Writes `hostile.yaml`, `neighbour.yaml` and their inputs into `dir`.
fn write_pipelines(dir: &Path, hostile: &Hostile<'_>) {
    let ids = |n: i64| -> String { (1..=n).map(|id| format!("{{\"id\": {id}}}\n")).collect() };
    fs::write(dir.join("neighbour-ids.jsonl"), ids(NEIGHBOUR_ROWS)).unwrap();
    fs::write(dir.join("hostile-ids.jsonl"), ids(HOSTILE_ROWS)).unwrap();
    fs::write(
        dir.join("neighbour.yaml"),
        "tenant: {name: good}
dead_letters: neighbour-dead-letters
sources:
  ids: {type: file, config: {path: neighbour-ids.jsonl, schema: {id: int64}, batch_rows: 100}}
transforms:
  keep: {plugin: filter, inputs: [ids], config: {predicate: \"id > 0\"}}
sinks:
  delivered: {type: file, inputs: [keep], config: {path: neighbour-out, format: json}}
",
    )
    .unwrap();
    let Hostile {
        tenant,
        plugin,
        config,
        limits,
        capabilities,
    } = hostile;
    fs::write(
        dir.join("hostile.yaml"),
        format!(
            "tenant: {tenant}
sources:
  ids: {{type: file, config: {{path: hostile-ids.jsonl, schema: {{id: int64}}, batch_rows: 10}}}}
transforms:
  hostile: {{plugin: {plugin}, inputs: [ids], config: {config}, limits: {limits}, capabilities: {capabilities}}}
sinks:
  survivors: {{type: file, inputs: [hostile], config: {{path: survivors, format: json}}}}
"
        ),
    )
    .unwrap();
}

fn ids(rows: &[serde_json::Value]) -> Vec<i64> {
    rows.iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// What the hostile pipeline left behind.
struct Contained {
    stderr: String,
    dead_letters: Vec<serde_json::Value>,
    audit: Vec<serde_json::Value>,
}

/// Runs `hostile`, checks that the neighbour delivered every row and that
/// every row the hostile plugin saw is accounted for, and returns the rest
/// for the case's own checks.
fn contain(hostile: Hostile<'_>) -> Contained {
    let dir = tempfile::tempdir().unwrap();
    let out = run_beside_neighbour(dir.path(), &hostile);
    let stderr = text(&out.stderr);
    // A node that gave up on its plugin fails its pipeline's run, and so
    // the exit code (1); nothing else may fail.
    match stderr.contains("gave up on its plugin") {
        true => assert_eq!(out.status.code(), Some(1), "{stderr}"),
        false => assert!(out.status.success(), "{stderr}"),
    }

    neighbour_delivered_everything(dir.path());

    let dead_letters = json_lines(&dir.path().join("dead-letters/hostile.jsonl"));
    let mut seen = ids(&read_json_dir(&dir.path().join("survivors")));
    seen.extend(
        dead_letters
            .iter()
            .map(|l| l["row"]["id"].as_i64().unwrap()),
    );
    seen.sort();
    assert_eq!(
        seen,
        (1..=HOSTILE_ROWS).collect::<Vec<_>>(),
        "every hostile row either passed or is a dead letter"
    );
    let audit = json_lines(&dir.path().join("state/audit.jsonl"));
    Contained {
        stderr,
        dead_letters,
        audit,
    }
}

impl Contained {
    /// Every dead letter carries `cause`.
    fn every_letter_says(&self, cause: &str) {
        assert_eq!(self.dead_letters.len() as i64, HOSTILE_ROWS);
        let first = self.dead_letters[0]["error"].as_str().unwrap();
        assert!(first.contains(cause), "{cause:?} in {first}");
    }

    /// The instance trapped, was re-created five times with backoff, and the
    /// node then gave up on the plugin; the audit log has the restarts.
    fn restarted_to_the_limit(&self) {
        assert!(
            self.stderr
                .contains("node \"hostile\": gave up on its plugin after 5 re-creations"),
            "the run fails: {}",
            self.stderr
        );
        assert!(
            self.stderr
                .contains("hostile: instance re-created 5 time(s)"),
            "{}",
            self.stderr
        );
        let last = self.dead_letters.last().unwrap()["error"].as_str().unwrap();
        assert!(last.contains("no instance left"), "{last}");
        let events: Vec<&str> = self
            .audit
            .iter()
            .filter(|e| e["node"] == "hostile")
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(events.iter().filter(|e| **e == "restart").count(), 5);
        assert_eq!(events[0], "load");
        let restart = self.audit.iter().find(|e| e["event"] == "restart").unwrap();
        assert_eq!(restart["tenant"], "evil");
        assert_eq!(restart["pipeline"], "hostile");
        assert!(restart["digest"].as_str().unwrap().starts_with("sha256:"));
        assert!(restart["detail"].is_string());
    }

    fn breaches_audited(&self) {
        let breaches = self
            .audit
            .iter()
            .filter(|e| e["event"] == "limit-breach")
            .count();
        assert!(breaches >= 6, "{:?}", self.audit);
    }
}

#[test]
fn a_plugin_that_loops_forever_is_interrupted_at_its_deadline() {
    let c = contain(Hostile::misbehave("spin", "{call_timeout_ms: 100}"));
    c.every_letter_says("process ran past its deadline of 100 ms");
    c.restarted_to_the_limit();
    c.breaches_audited();
}

#[test]
fn a_memory_bomb_is_refused_at_its_limit() {
    let c = contain(Hostile::misbehave("hog", "{memory_mib: 64}"));
    c.every_letter_says("memory limit exceeded in process: requested");
    assert!(
        c.dead_letters[0]["error"]
            .as_str()
            .unwrap()
            .contains("limit 67108864 bytes")
    );
    c.restarted_to_the_limit();
    c.breaches_audited();
}

#[test]
fn a_tenant_memory_quota_bounds_its_instances_together() {
    // Under its own 512 MiB limit the 256 MiB hog passes ...
    let c = contain(Hostile::misbehave("hog", "{memory_mib: 512}"));
    assert!(c.dead_letters.is_empty(), "{:?}", c.dead_letters.first());
    // ... but not under a tenant quota of 128 MiB.
    let c = contain(Hostile {
        tenant: "{name: evil, max_memory_mib: 128}",
        ..Hostile::misbehave("hog", "{memory_mib: 512}")
    });
    c.every_letter_says("tenant \"evil\" memory quota exceeded");
    assert!(
        c.dead_letters[0]["error"]
            .as_str()
            .unwrap()
            .contains("quota 134217728 bytes")
    );
    c.restarted_to_the_limit();
    c.breaches_audited();
}

#[test]
fn a_tenant_instance_quota_is_checked_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_beside_neighbour(
        dir.path(),
        &Hostile {
            tenant: "{name: evil, max_instances: 0}",
            ..Hostile::misbehave("pass", "{}")
        },
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("tenant \"evil\"'s pipelines keep 1 plugin instances alive, more than its quota (tenant.max_instances: 0)"),
        "{stderr}"
    );
    neighbour_delivered_everything(dir.path());

    // The one instance the pipeline needs fits a quota of one.
    let c = contain(Hostile {
        tenant: "{name: evil, max_instances: 1}",
        ..Hostile::misbehave("pass", "{}")
    });
    assert!(c.dead_letters.is_empty());
}

#[test]
fn a_stack_overflow_traps_without_harm() {
    let c = contain(Hostile::misbehave("recurse", "{}"));
    c.every_letter_says("process trapped");
    assert!(
        c.dead_letters[0]["error"]
            .as_str()
            .unwrap()
            .contains("call stack exhausted"),
        "{}",
        c.dead_letters[0]
    );
    c.restarted_to_the_limit();
}

#[test]
fn a_panic_traps_without_harm() {
    let c = contain(Hostile::misbehave("trap", "{}"));
    c.every_letter_says("process trapped");
    c.restarted_to_the_limit();
}

#[test]
fn a_huge_output_is_refused_by_the_output_limit() {
    // Each batch of 10 rows comes back 1000 times: 10,000 rows.
    let c = contain(Hostile::misbehave("flood", "{max_output_rows: 5000}"));
    c.every_letter_says("process returned 10000 rows, more than the limit of 5000 rows");
    c.restarted_to_the_limit();
    c.breaches_audited();
}

#[test]
fn malformed_ipc_is_caught() {
    let c = contain(Hostile::misbehave("malformed-ipc", "{}"));
    c.every_letter_says("returned bytes that are not a valid Arrow IPC batch");
    c.restarted_to_the_limit();
}

#[test]
fn a_schema_other_than_announced_is_caught() {
    let c = contain(Hostile::misbehave("wrong-schema", "{}"));
    c.every_letter_says("not a valid Arrow IPC batch in the schema it announced at open");
    c.restarted_to_the_limit();
}

#[test]
fn a_plugin_sleeping_past_its_deadline_is_stopped_at_the_deadline() {
    let started = std::time::Instant::now();
    let c = contain(Hostile::misbehave("sleep", "{call_timeout_ms: 100}"));
    c.every_letter_says("process ran past its deadline of 100 ms");
    c.restarted_to_the_limit();
    // Six sleeps of an hour each were cut to 100 ms.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

/// Runs the file-probing plugin with `config` under `capabilities` on every
/// batch; returns its report (the first dead letter).
fn probe(dir_setup: impl FnOnce(&Path), config: &str, capabilities: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    dir_setup(dir.path());
    let out = run_beside_neighbour(
        dir.path(),
        &Hostile {
            tenant: "{name: evil}",
            plugin: "test-files",
            config,
            limits: "{}",
            capabilities,
        },
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    neighbour_delivered_everything(dir.path());
    let letters = json_lines(&dir.path().join("dead-letters/hostile.jsonl"));
    assert_eq!(letters.len() as i64, HOSTILE_ROWS);
    letters[0]["error"].as_str().unwrap().to_string()
}

fn granted_data_dir(dir: &Path) {
    fs::create_dir(dir.join("data")).unwrap();
    fs::write(dir.join("data/ok.txt"), "granted").unwrap();
    fs::write(dir.join("secret.txt"), "top secret").unwrap();
    std::os::unix::fs::symlink(dir.join("secret.txt"), dir.join("data/link.txt")).unwrap();
}

#[test]
fn files_outside_the_grant_cannot_be_read() {
    let report = probe(
        granted_data_dir,
        r#"{at: process, read: [/data/ok.txt, /etc/passwd, /data/../secret.txt, /data/link.txt]}"#,
        "{dirs: [{host: data, guest: /data}]}",
    );
    assert!(report.contains("read /data/ok.txt: granted"), "{report}");
    for path in ["/etc/passwd", "/data/../secret.txt", "/data/link.txt"] {
        assert!(
            report.contains(&format!("read {path} failed")),
            "{path}: {report}"
        );
    }
    assert!(!report.contains("top secret") && !report.contains("root:"));
}

#[test]
fn a_read_only_grant_cannot_be_written() {
    let report = probe(
        granted_data_dir,
        r#"{at: process, write: [/data/new.txt]}"#,
        "{dirs: [{host: data, guest: /data}]}",
    );
    assert!(report.contains("write /data/new.txt failed"), "{report}");
}

#[test]
fn a_variable_that_was_not_granted_cannot_be_read() {
    let report = probe(
        granted_data_dir,
        r#"{at: process, env: [HOME, PATH]}"#,
        "{dirs: [{host: data, guest: /data}]}",
    );
    assert!(
        report.contains("env HOME unset") && report.contains("env PATH unset"),
        "{report}"
    );
}

#[test]
fn a_plugin_that_imports_sockets_is_refused_and_its_neighbour_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_beside_neighbour(
        dir.path(),
        &Hostile {
            tenant: "{name: evil}",
            plugin: "test-network",
            config: "{}",
            limits: "{}",
            capabilities: "{}",
        },
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "a refused pipeline fails the run");
    assert!(
        stderr.contains("hostile.yaml: not started") && stderr.contains("wasi:sockets"),
        "{stderr}"
    );
    neighbour_delivered_everything(dir.path());
}

#[test]
fn plugin_output_goes_to_the_log_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    write_pipelines(dir.path(), &Hostile::misbehave("print", "{}"));
    let out = weir_command(&["run", dir.path().join("hostile.yaml").to_str().unwrap()])
        .env("WEIR_LOG", "weir::plugin=info")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("stdout line 0") && stderr.contains("node=\"hostile\""),
        "{stderr}"
    );
    // 10 batches × 20,000 lines were printed; the log kept a burst.
    let logged = stderr.lines().filter(|l| l.contains(" line ")).count();
    assert!((100..2000).contains(&logged), "{logged} lines logged");
    assert!(stderr.contains("dropped by the rate limit"), "{stderr}");
    assert_eq!(
        read_json_dir(&dir.path().join("survivors")).len() as i64,
        HOSTILE_ROWS
    );
}

/// Writes the neighbour and `hostile_yaml` (a whole pipeline file) into
/// `dir`, runs both in one process, checks that the neighbour delivered
/// every row, and answers the run.
fn beside_neighbour(dir: &Path, hostile_yaml: &str) -> Output {
    write_pipelines(dir, &Hostile::misbehave("pass", "{}"));
    fs::write(dir.join("hostile.yaml"), hostile_yaml).unwrap();
    let out = run_both(dir);
    neighbour_delivered_everything(dir);
    out
}

#[test]
fn a_named_pipe_in_a_granted_folder_is_refused_not_waited_on() {
    let fifo_in_data = |dir: &Path| {
        granted_data_dir(dir);
        let made = std::process::Command::new("mkfifo")
            .arg(dir.join("data/fifo"))
            .status()
            .unwrap();
        assert!(made.success());
    };
    // In `process`, under a short deadline: refused, not blocked on.
    let report = probe(
        fifo_in_data,
        r#"{at: process, read: [/data/fifo, /data/ok.txt]}"#,
        "{dirs: [{host: data, guest: /data}]}",
    );
    assert!(report.contains("read /data/fifo failed"), "{report}");
    assert!(report.contains("read /data/ok.txt: granted"), "{report}");

    // In `open`, through `weir validate`: it answers instead of hanging.
    let dir = tempfile::tempdir().unwrap();
    fifo_in_data(dir.path());
    fs::write(dir.path().join("ids.jsonl"), "{\"id\": 1}\n").unwrap();
    fs::write(
        dir.path().join("fifo.yaml"),
        "sources:
  ids: {type: file, config: {path: ids.jsonl, schema: {id: int64}}}
transforms:
  reader: {plugin: test-files, inputs: [ids], config: {read: [/data/fifo], report: true}, capabilities: {dirs: [{host: data, guest: /data}]}, limits: {call_timeout_ms: 500}}
sinks:
  out: {type: file, inputs: [reader], config: {path: out, format: json}}
",
    )
    .unwrap();
    let mut validate = weir_command(&["validate", dir.path().join("fifo.yaml").to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while validate.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            validate.kill().unwrap();
            panic!("weir validate hangs on a FIFO opened in `open`");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = validate.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("read /data/fifo failed"), "{stderr}");
}

#[test]
fn the_first_ctrl_c_exits_within_the_drain_timeout_whatever_a_plugin_does() {
    // A call that will not return for a minute: the drain cannot finish.
    let dir = tempfile::tempdir().unwrap();
    write_pipelines(
        dir.path(),
        &Hostile::misbehave("spin", "{call_timeout_ms: 60000}"),
    );
    let mut running = Running::start(
        dir.path(),
        &[
            "run",
            "--drain-timeout",
            "2",
            dir.path().join("hostile.yaml").to_str().unwrap(),
        ],
        &[],
    );
    running.wait_for("the plugin to spin", || {
        fs::read_to_string(dir.path().join("state/audit.jsonl"))
            .is_ok_and(|log| log.contains("\"load\""))
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    interrupt(&running.child);
    let status = running.exited("after Ctrl-C");
    assert_eq!(status.code(), Some(130), "{}", running.stderr());
    assert!(
        running.stderr().contains("still draining after 2 s"),
        "{}",
        running.stderr()
    );
}

#[test]
fn a_slow_open_does_not_delay_the_neighbour_s_start() {
    let dir = tempfile::tempdir().unwrap();
    write_pipelines(
        dir.path(),
        &Hostile::misbehave("spin-open", "{call_timeout_ms: 20000}"),
    );
    let mut running = Running::start(
        dir.path(),
        &[
            "run",
            dir.path().join("hostile.yaml").to_str().unwrap(),
            dir.path().join("neighbour.yaml").to_str().unwrap(),
        ],
        &[],
    );
    // The neighbour delivers everything while the hostile `open` still
    // spins (it runs for 20 s before its deadline stops it).
    running.wait_for("the neighbour's rows", || {
        rows_in(&dir.path().join("neighbour-out")) == NEIGHBOUR_ROWS as usize
    });
    assert!(
        running.child.try_wait().unwrap().is_none(),
        "the hostile open was still running: {}",
        running.stderr()
    );
    let status = running.child.wait().unwrap();
    assert!(!status.success());
    let stderr = running.stderr();
    assert!(
        stderr.contains("hostile.yaml: not started")
            && stderr.contains("open ran past its deadline of 20000 ms"),
        "{stderr}"
    );
}

#[test]
fn appended_columns_count_against_the_output_limit() {
    let c = contain(Hostile::misbehave("appended:12", "{max_output_mib: 8}"));
    c.every_letter_says("process returned 12582912 bytes, more than the limit of 8388608 bytes");
    c.restarted_to_the_limit();
    c.breaches_audited();
    // Far past the limit, the copy out of the plugin is stopped on the way.
    let c = contain(Hostile::misbehave("appended:40", "{max_output_mib: 8}"));
    c.every_letter_says("process tried to copy more than 16777216 bytes out of the plugin");
    c.restarted_to_the_limit();
}

#[test]
fn a_source_s_batches_count_against_the_output_limit() {
    let dir = tempfile::tempdir().unwrap();
    let out = beside_neighbour(
        dir.path(),
        "tenant: {name: evil}
sources:
  hostile: {plugin: test-source-flood, config: 12, limits: {max_output_mib: 8}}
sinks:
  survivors: {type: file, inputs: [hostile], config: {path: survivors, format: json}}
",
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("next returned 12582912 bytes, more than the limit of 8388608 bytes"),
        "{stderr}"
    );
    assert_eq!(rows_in(&dir.path().join("survivors")), 0);
}

#[test]
fn the_documented_defaults_hold_at_their_edges() {
    // A 200 MiB batch and a 512 MiB state are within `max_output_mib: 256`
    // and `memory_mib: 1024`: wasmtime's own 128 MiB copy cap must not
    // refuse them.
    let c = contain(Hostile::misbehave("big-batch:200", "{}"));
    assert!(c.dead_letters.is_empty(), "{:?}", c.dead_letters.first());
    let c = contain(Hostile::misbehave("big-state:512", "{}"));
    assert!(c.dead_letters.is_empty(), "{:?}", c.dead_letters.first());
    assert!(!c.stderr.contains("fuel"), "{}", c.stderr);
}

#[test]
fn a_plugin_that_never_frees_memory_gets_fresh_instances_and_loses_nothing() {
    // 16 MiB more on each of 10 batches would pass 64 MiB at the fourth.
    let c = contain(Hostile::misbehave("leak:16", "{memory_mib: 64}"));
    assert!(c.dead_letters.is_empty(), "{:?}", c.dead_letters.first());
    assert!(!c.stderr.contains("trapped"), "{}", c.stderr);
    let recycles: Vec<_> = c.audit.iter().filter(|e| e["event"] == "recycle").collect();
    assert!(recycles.len() >= 2, "{:?}", c.audit);
    let detail = recycles[0]["detail"].as_str().unwrap();
    assert!(detail.contains("(limit 64 MiB)"), "{detail}");
}

#[test]
fn rejected_rows_are_checked() {
    let c = contain(Hostile::misbehave("reject-twice", "{}"));
    c.every_letter_says("rejected row 0 more than once");
    c.restarted_to_the_limit();
    let c = contain(Hostile::misbehave("reject-many", "{}"));
    c.every_letter_says("rejected 100000 rows of a 10-row batch");
    let c = contain(Hostile::misbehave("reject-kept", "{}"));
    c.every_letter_says("rejected row 0 but the answer also delivers it");
}

#[test]
fn a_log_flood_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let out = beside_neighbour(
        dir.path(),
        "tenant: {name: evil}
sources:
  ids: {type: file, config: {path: hostile-ids.jsonl, schema: {id: int64}, batch_rows: 10}}
transforms:
  hostile: {plugin: test-misbehave, inputs: [ids], config: log-flood, limits: {memory_mib: 128}}
sinks:
  survivors: {type: file, inputs: [hostile], config: {path: survivors, format: json}}
",
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        rows_in(&dir.path().join("survivors")),
        HOSTILE_ROWS as usize
    );
    // One record of 60 MB and a million calls: a few KiB a line, and the
    // rest dropped by the rate limit.
    assert!(stderr.len() < 4 << 20, "{} bytes of stderr", stderr.len());
    assert!(stderr.lines().all(|l| l.len() < 20 << 10));
    assert!(stderr.contains("more fields left out"), "{stderr}");
}

#[test]
fn causes_reach_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let validate = |dir: &Path, plugin: &str, limits: &str| {
        fs::write(dir.join("ids.jsonl"), "{\"id\": 1}\n").unwrap();
        let file = dir.join("p.yaml");
        fs::write(
            &file,
            format!(
                "sources:
  ids: {{type: file, config: {{path: ids.jsonl, schema: {{id: int64}}}}}}
transforms:
  t: {{plugin: {plugin}, inputs: [ids], config: pass, limits: {limits}}}
sinks:
  out: {{type: file, inputs: [t], config: {{path: out, format: json}}}}
"
            ),
        )
        .unwrap();
        let out = weir(&["validate", file.to_str().unwrap()]);
        assert!(!out.status.success());
        text(&out.stderr)
    };
    // A component whose memory does not fit its limit says so.
    let stderr = validate(dir.path(), "test-misbehave", "{memory_mib: 1}");
    assert!(
        stderr.contains("memory limit exceeded in instantiate: requested")
            && stderr.contains("limit 1048576 bytes"),
        "{stderr}"
    );
    // A component that does not compile says why.
    let mut broken = b"\0asm\x0d\x00\x01\x00".to_vec();
    broken.extend_from_slice(&[0xff; 64]);
    fs::write(dir.path().join("broken.wasm"), broken).unwrap();
    let stderr = validate(dir.path(), "broken.wasm", "{}");
    let line = stderr
        .lines()
        .find(|l| l.contains("cannot compile the component"))
        .unwrap_or_else(|| panic!("{stderr}"));
    let (_, cause) = line.split_once("cannot compile the component").unwrap();
    assert!(cause.trim_start_matches(':').trim().len() > 5, "{stderr}");
}

#[test]
fn plugin_metrics_are_exported_and_their_names_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("metrics.yaml");
    fs::write(
        &pipeline,
        ids_pipeline(
            "hostile",
            "plugin: test-misbehave, config: \"metric-names:10000\"",
        ),
    )
    .unwrap();
    append_ids(&dir.path().join("ids.jsonl"), 1..1001);
    let (running, addr) = Running::with_admin(dir.path(), &pipeline, &[]);
    running.wait_for("the rows", || rows_in(&dir.path().join("out")) == 1000);
    // Ten batches of 10,000 names each: 100,000 counters and as many gauges.
    let (status, body) = http(&addr, "GET", "/metrics", "");
    assert_eq!(status, 200);
    assert!(body.len() < 256 << 10, "{} bytes of metrics", body.len());
    let scrape = scrape(&addr);
    let plugin_samples = |name: &str| {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name && s.labels.get("node") == Some("hostile"))
            .count()
    };
    assert_eq!(plugin_samples("weir_plugin_metric_total"), 256);
    assert_eq!(plugin_samples("weir_plugin_metric_value"), 256);
    let batches = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "weir_plugin_metric_total" && s.labels.get("metric") == Some("batches")
        })
        .expect("the plugin's first counter is exported");
    assert!(
        matches!(
            batches.value,
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) if v == 10.0
        ),
        "{:?}",
        batches.value
    );
    assert!(
        counter(
            &scrape,
            "weir_plugin_metric_updates_refused_total",
            "hostile"
        ) > 100_000.0
    );
}

/// A plugin's input bounds name its input's columns, or it is refused
/// before the run; a plugin stating bounds its rows do not hold loses only
/// its own rows: a consumer stating none still gets every row.
#[test]
fn input_bounds_are_checked_and_a_wrong_one_harms_only_its_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let write = dir.path().join("write.yaml");
    let lines: String = (0..50_000).map(|i| format!("{{\"id\": {i}}}\n")).collect();
    fs::write(dir.path().join("ids.jsonl"), lines).unwrap();
    fs::write(
        &write,
        "sources:
  ids: {type: file, config: {path: ids.jsonl, schema: {id: int64}}}
sinks:
  lake: {type: file, inputs: [ids], config: {path: lake, format: parquet, row_group_rows: 5000}}
",
    )
    .unwrap();
    assert!(
        weir(&["run", "--quiet", write.to_str().unwrap()])
            .status
            .success()
    );
    let pipeline = |mode: &str, honest: bool| {
        let file = dir.path().join(format!("{mode}.yaml"));
        let neighbour = match honest {
            true => "  all: {type: file, inputs: [ids], config: {path: all, format: json}}\n",
            false => "",
        };
        fs::write(
            &file,
            format!(
                "sources:
  ids: {{type: file, config: {{path: lake/part-00000.parquet}}}}
transforms:
  liar: {{plugin: test-misbehave, inputs: [ids], config: {mode}}}
sinks:
  out: {{type: file, inputs: [liar], config: {{path: out-{mode}-{honest}, format: json}}}}
{neighbour}"
            ),
        )
        .unwrap();
        file
    };
    let refused = weir(&[
        "validate",
        pipeline("bounds-out-of-range", false).to_str().unwrap(),
    ]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("node \"liar\""), "{stderr}");
    assert!(
        stderr.contains("bounded input column 99; the input has 1"),
        "{stderr}"
    );

    let alone = weir(&["run", pipeline("bounds-lie", false).to_str().unwrap()]);
    assert!(alone.status.success(), "{}", text(&alone.stderr));
    assert_eq!(
        rows_in(&dir.path().join("out-bounds-lie-false")),
        5_000,
        "its lie skipped the other row groups"
    );
    let beside = weir(&["run", pipeline("bounds-lie", true).to_str().unwrap()]);
    assert!(beside.status.success(), "{}", text(&beside.stderr));
    assert_eq!(
        rows_in(&dir.path().join("all")),
        50_000,
        "the neighbour got every row"
    );
    assert_eq!(rows_in(&dir.path().join("out-bounds-lie-true")), 50_000);
}
