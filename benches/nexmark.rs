//! Nexmark in Weir against its baselines, in one run, written to
//! `BENCHMARKS.md`: every query as a Weir pipeline of Wasm plugins, the same
//! query natively in Rust on arrow compute, and for q1/q2 a per-record Wasm
//! variant (one JSON event per call); then the micro-figures (instantiation,
//! hot swap pause, cached vs uncached component load).
//!
//! Run: `scripts/bench.sh` (set-up, then `cargo bench -p weir-e2e --bench
//! nexmark`). `NEXMARK_EVENTS` (default 2,000,000) and `NEXMARK_RUNS`
//! (default 5) override the size.
//!
//! Every measurement runs in a child process of its own (this binary with
//! `NEXMARK_CHILD` set), so each reports its own peak memory and CPU time;
//! runs of the variants alternate, and the median is reported.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "nexmark/native.rs"]
mod native;
#[path = "../tests/common/per_record.rs"]
mod per_record;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use weir::plugin::PluginInstance;

use common::nexmark::{QUERIES, SEED, START_MS, pipeline};
use serde_json::{Value, json};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Schema};
use weir::Kind;
use weir::exec::{RunOptions, node_stats, reload_channels, run, run_reloadable};
use weir::graph::{Graph, Implementation};
use weir::plugin::{EngineOptions, Limits, PluginEngine, TransformInstance};
use weir_plugin_generate::nexmark;

/// Rows per batch, as Weir's sources are asked for.
const BATCH_ROWS: usize = 8192;

/// What each query does, for the table.
const WHAT: [(&str, &str); 6] = [
    ("q0", "pass-through of the bids"),
    ("q1", "currency conversion (map)"),
    ("q2", "selection by auction id"),
    ("q3", "join people with their auctions"),
    ("q5", "hot items: hopping window counts, top per window"),
    ("q7", "highest bid per tumbling window"),
];

/// What a child's run made, and how long the query's own work took
/// (without generating the events).
#[derive(Debug, Clone, Copy)]
struct Ran {
    rows: u64,
    query: Duration,
}

/// One child's report.
#[derive(Debug, Clone, Copy)]
struct Measured {
    rows: u64,
    query_seconds: f64,
    seconds: f64,
    cpu_seconds: f64,
    peak_bytes: u64,
}

fn main() {
    let events: u64 = env_or("NEXMARK_EVENTS", 2_000_000);
    if let Ok(child) = std::env::var("NEXMARK_CHILD") {
        return run_child(&child, events);
    }
    let runs: usize = env_or("NEXMARK_RUNS", 5);
    let mut variants: Vec<(String, &str)> = Vec::new();
    for query in QUERIES {
        variants.push((query.to_string(), "weir"));
        variants.push((query.to_string(), "native"));
        variants.push((query.to_string(), "plugins"));
        if matches!(query, "q1" | "q2") {
            variants.push((query.to_string(), "per-record"));
        }
    }
    // Compile every plugin into the cache before timing anything.
    child("warm-up", 10_000);
    let mut results: BTreeMap<(String, &str), Vec<Measured>> = BTreeMap::new();
    for run in 1..=runs {
        for (query, engine) in &variants {
            let measured = child(&format!("{engine}:{query}"), events);
            eprintln!(
                "run {run}/{runs} {query} {engine}: {:.0} events/s, {} rows, peak {} MiB",
                events as f64 / measured.seconds,
                measured.rows,
                measured.peak_bytes >> 20
            );
            results
                .entry((query.clone(), engine))
                .or_default()
                .push(measured);
        }
    }
    // The micro-figures, from a child of their own.
    let micro = child_json("micro", 0);
    let page = report(events, runs, &results, &micro);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md");
    std::fs::write(&path, with_peers_section(&page, &path)).unwrap();
    println!("{page}");
    eprintln!("wrote {}", path.display());
}

/// `page` followed by the section `scripts/bench-peers.sh` wrote into the
/// file at `path`, if any: each script rewrites only its own part.
fn with_peers_section(page: &str, path: &std::path::Path) -> String {
    const BEGIN: &str = "<!-- peers: written by scripts/bench-peers.sh -->";
    let old = std::fs::read_to_string(path).unwrap_or_default();
    match old.find(BEGIN) {
        Some(at) => format!("{}\n\n{}", page.trim_end(), &old[at..]),
        None => page.to_string(),
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs this binary as child `what` and answers its JSON report.
fn child_json(what: &str, events: u64) -> Value {
    let output = Command::new(std::env::current_exe().unwrap())
        .env("NEXMARK_CHILD", what)
        .env("NEXMARK_EVENTS", events.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child {what} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("child {what} answered {stdout:?}: {e}"))
}

fn child(what: &str, events: u64) -> Measured {
    let v = child_json(what, events);
    Measured {
        rows: v["rows"].as_u64().unwrap(),
        query_seconds: v["query_seconds"].as_f64().unwrap(),
        seconds: v["seconds"].as_f64().unwrap(),
        cpu_seconds: v["cpu_seconds"].as_f64().unwrap(),
        peak_bytes: v["peak_bytes"].as_u64().unwrap(),
    }
}

/// In a child: runs `what` and prints its report as one JSON line.
fn run_child(what: &str, events: u64) {
    // Every variant's process with the allocator policy `weir run` sets.
    weir::runtime::keep_freed_memory();
    if what == "micro" {
        println!("{}", micro());
        return;
    }
    let (engine, query) = what.split_once(':').unwrap_or((what, "q0"));
    let timed = Timed::default();
    let ran = match engine {
        // Every query once, so their plugins are compiled into the cache.
        "warm-up" => QUERIES
            .iter()
            .map(|q| weir_pipeline(q, events, &timed))
            .last()
            .expect("queries"),
        "weir" => weir_pipeline(query, events, &timed),
        "native" => native_query(query, events, &timed),
        "plugins" => plugin_work(query, events, &timed),
        "per-record" => per_record_query(query, events, &timed),
        other => panic!("unknown child {other}"),
    };
    let (seconds, cpu) = timed.0.get().expect("timed");
    let report = json!({
        "rows": ran.rows,
        "query_seconds": ran.query.as_secs_f64(),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_bytes": weir::exec::process_memory("VmHWM").unwrap_or(0),
    });
    println!("{report}");
}

/// Wall and CPU seconds of the part of a child that is measured (not
/// loading plugins or building the graph).
#[derive(Default)]
struct Timed(std::cell::OnceCell<(f64, f64)>);

impl Timed {
    fn measure<T>(&self, work: impl FnOnce() -> T) -> T {
        let (started, cpu) = (Instant::now(), cpu_seconds());
        let answer = work();
        let _ = self
            .0
            .set((started.elapsed().as_secs_f64(), cpu_seconds() - cpu));
        answer
    }
}

/// Weir: the query's pipeline file, its output counted by the `count` sink.
/// Its transforms' busy time is no measure of their own work (it counts
/// waits for a core): the `plugins` variant measures that.
fn weir_pipeline(query: &str, events: u64, timed: &Timed) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let graph = Graph::build(pipeline(query, events, dir.path(), false), common::engine()).unwrap();
    let stop = AtomicBool::new(false);
    let summary = timed
        .measure(|| run(&graph, common::engine(), &RunOptions::default(), &stop))
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    let sinks = summary.nodes.iter().filter(|n| n.kind == Kind::Sink);
    Ran {
        rows: sinks.map(|n| n.rows_in).sum(),
        query: Duration::ZERO,
    }
}

/// The events as batches of [`BATCH_ROWS`], from the generator's code run
/// natively (the plugin's own batches, without Wasm).
fn native_batches(events: u64) -> impl Iterator<Item = RecordBatch> {
    (0..events).step_by(BATCH_ROWS).map(move |first| {
        let count = BATCH_ROWS.min((events - first) as usize);
        nexmark::rows(SEED, START_MS, 1, first, count)
    })
}

/// Native: the same batches, generated natively, through arrow compute.
fn native_query(query: &str, events: u64, timed: &Timed) -> Ran {
    let mut state = native::query(query);
    let mut work = Duration::ZERO;
    let mut timed_work = |f: &mut dyn FnMut() -> usize| {
        let started = Instant::now();
        let rows = f();
        work += started.elapsed();
        rows
    };
    let rows = timed.measure(|| {
        let mut rows = 0;
        for batch in native_batches(events) {
            rows += timed_work(&mut || state.process(&batch));
        }
        rows + timed_work(&mut || state.finish())
    });
    Ran {
        rows: rows as u64,
        query: work,
    }
}

/// The query's transforms as plugin instances called on this thread, fed
/// the natively generated batches: the Wasm plugins' own work (host and
/// guest), with no other node competing for the cores, to set against the
/// native query's.
fn plugin_work(query: &str, events: u64, timed: &Timed) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let engine = common::engine();
    let graph = Graph::build(pipeline(query, events, dir.path(), false), engine).unwrap();
    let mut chain: Vec<TransformInstance> = graph
        .nodes
        .iter()
        .filter_map(|node| match &node.implementation {
            Implementation::Transform(plugin) => Some((node, plugin)),
            _ => None,
        })
        .map(|(node, plugin)| {
            let mut instance =
                TransformInstance::new(engine, plugin, &node.name, &node.limits).unwrap();
            instance
                .open(
                    &node.spec.config.to_string(),
                    node.input_schema.as_ref().unwrap(),
                )
                .unwrap();
            instance
        })
        .collect();
    let mut work = Duration::ZERO;
    let rows = timed.measure(|| {
        let mut rows = 0;
        for batch in native_batches(events) {
            let started = Instant::now();
            rows += through(&mut chain, vec![batch]);
            work += started.elapsed();
        }
        let started = Instant::now();
        for n in 0..chain.len() {
            let left = chain[n].finish().unwrap();
            rows += through(&mut chain[n + 1..], left);
        }
        work += started.elapsed();
        rows
    });
    Ran {
        rows: rows as u64,
        query: work,
    }
}

/// Passes `batches` through `chain`; answers the rows that come out.
fn through(chain: &mut [TransformInstance], mut batches: Vec<RecordBatch>) -> usize {
    for instance in chain {
        batches = batches
            .iter()
            .flat_map(|b| instance.process(b).unwrap().batches)
            .collect();
    }
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// Per record: every event as a JSON object (what a per-record system
/// receives), written from the native generator's batches, then one Wasm
/// call each. The query's own work is the calls.
fn per_record_query(query: &str, events: u64, timed: &Timed) -> Ran {
    let number = query.trim_start_matches('q').parse().unwrap();
    let mut plugin =
        per_record::PerRecordFilter::new(weir_plugin_artifacts::BENCH_PER_RECORD, 0, &[]);
    let mut calls = Duration::ZERO;
    let rows = timed.measure(|| {
        let mut rows = 0;
        for batch in native_batches(events) {
            for json in per_record::json_records(&times_as_millis(&batch)) {
                let started = Instant::now();
                rows += u64::from(plugin.nexmark(number, &json).is_some());
                calls += started.elapsed();
            }
        }
        rows
    });
    Ran { rows, query: calls }
}

/// `batch` with its timestamps as integer milliseconds, as events carry
/// them in JSON (shorter to parse than RFC 3339 text).
fn times_as_millis(batch: &RecordBatch) -> RecordBatch {
    let (fields, columns): (Vec<_>, Vec<_>) = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, column)| match field.data_type() {
            DataType::Timestamp(..) => (
                field.as_ref().clone().with_data_type(DataType::Int64),
                arrow::compute::cast(column, &DataType::Int64).unwrap(),
            ),
            _ => (field.as_ref().clone(), column.clone()),
        })
        .unzip();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// User plus system CPU time of this process, from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with ')'): utime is the
    // 12th, stime the 13th, in clock ticks of 1/100 s on Linux.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// In a child: instantiation, cached and uncached load, hot swap pause.
fn micro() -> Value {
    use weir_plugin_artifacts::{FILTER, WINDOW_AGGREGATE};
    // Loading: compile into an empty cache, then a new engine (a restarted
    // process) reads the compiled component back.
    let cache = tempfile::tempdir().unwrap();
    let with_cache = || {
        PluginEngine::new(&EngineOptions {
            cache_dir: Some(cache.path().to_path_buf()),
            ..EngineOptions::default()
        })
        .unwrap()
    };
    let load = |engine: &PluginEngine| {
        let started = Instant::now();
        let plugin = engine.load_file(WINDOW_AGGREGATE.as_ref()).unwrap();
        (started.elapsed(), plugin.origin())
    };
    let (uncached, first) = load(&with_cache());
    let (cached, second) = load(&with_cache());
    assert_eq!(format!("{first:?}/{second:?}"), "Compiled/DiskCache");

    // Instantiation (pooling allocator) and open, on the engine the queries use.
    let engine = common::engine();
    let filter = engine.load_file(FILTER.as_ref()).unwrap();
    let input = nexmark::schema();
    // Each measured alone, the instance dropped outside the timing.
    let instantiate =
        || TransformInstance::new(engine, &filter, "micro", &Limits::default()).unwrap();
    let timed_micros = |work: &mut dyn FnMut()| {
        let started = Instant::now();
        work();
        micros(started.elapsed())
    };
    let new: Vec<f64> = (0..1000)
        .map(|_| {
            let mut instance = None;
            timed_micros(&mut || instance = Some(instantiate()))
        })
        .collect();
    let open: Vec<f64> = (0..1000)
        .map(|_| {
            let mut instance = instantiate();
            timed_micros(&mut || {
                instance
                    .open(r#"{"predicate": "event_type = 'bid'"}"#, &input)
                    .unwrap();
            })
        })
        .collect();

    // Hot swap: q5's window-aggregate, with its open windows moved, swapped
    // every 200 ms while the query runs.
    let dir = tempfile::tempdir().unwrap();
    let graph = Graph::build(pipeline("q5", u64::MAX >> 1, dir.path(), false), engine).unwrap();
    let (reloader, inboxes) = reload_channels(&graph);
    let stop = AtomicBool::new(false);
    let replacement = engine.load_file(WINDOW_AGGREGATE.as_ref()).unwrap();
    let stats = node_stats(&graph);
    let pauses: Vec<f64> = std::thread::scope(|scope| {
        let running = scope.spawn(|| {
            run_reloadable(
                &graph,
                engine,
                &RunOptions::default(),
                &stop,
                inboxes,
                &stats,
            )
        });
        let pauses = (0..10)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(200));
                reloader
                    .reload("q5", replacement.clone())
                    .unwrap()
                    .pause
                    .as_secs_f64()
                    * 1e3
            })
            .collect();
        stop.store(true, Ordering::SeqCst);
        running.join().unwrap().unwrap();
        pauses
    });
    json!({
        "component_bytes": std::fs::metadata(WINDOW_AGGREGATE).unwrap().len(),
        "load_uncached_ms": uncached.as_secs_f64() * 1e3,
        "load_cached_ms": cached.as_secs_f64() * 1e3,
        "instantiate_us": median(new),
        "open_us": median(open),
        "swap_pause_median_ms": median(pauses.clone()),
        "swap_pause_max_ms": pauses.iter().copied().fold(0.0, f64::max),
    })
}

/// The machine, from `/proc` and the toolchain.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()
        })
        .map_or("?".into(), |kib| {
            format!("{:.1} GiB", kib as f64 / (1 << 20) as f64)
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let lock = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"),
    )
    .unwrap_or_default();
    let version = |name: &str| {
        lock.split("[[package]]")
            .find(|p| p.contains(&format!("name = \"{name}\"\n")))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
            .map_or("?".into(), |v| v.trim_matches('"').to_string())
    };
    format!(
        "- CPU: {cpu}, {cores} cores available\n- Memory: {memory}\n- Linux {}\n- {rustc}; wasmtime {}, arrow {}\n",
        kernel.trim(),
        version("wasmtime"),
        version("arrow")
    )
}

fn rate(events: u64, m: &Measured) -> f64 {
    events as f64 / m.seconds
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1 << 20) as f64)
}

/// Millions with two decimals.
fn millions(value: f64) -> String {
    format!("{:.2} M", value / 1e6)
}

/// The median run of `runs` by time.
fn median_run(runs: &[Measured]) -> Measured {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    sorted[sorted.len() / 2]
}

fn report(
    events: u64,
    runs: usize,
    results: &BTreeMap<(String, &str), Vec<Measured>>,
    micro: &Value,
) -> String {
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut page = String::new();
    writeln!(page, "# Benchmarks\n\nGenerated by `scripts/bench.sh` ({date}); do not edit by hand, run it again.\nEvery ratio compares figures measured in the same run.\n\n## Machine\n\n{}", machine()).unwrap();
    writeln!(page, "## Nexmark\n\n{events} events per run (people, auctions and bids 1 : 3 : 46, seed {SEED}, one event per ms of event time), batches of {BATCH_ROWS} rows, median of {runs} runs (ratios: the median of each run's ratio to the other variant's run next to it). Events/s is wall clock from the first event generated to the last output row counted.\n").unwrap();
    writeln!(page, "### End to end\n\nFrom the first event generated to the last output row counted; the generator is part of every variant.\n").unwrap();
    writeln!(page, "| query | what | Weir (Wasm) events/s | native events/s | Weir / native | CPU time Weir / native | per-record Wasm events/s | per-batch / per-record | output rows | peak memory Weir / native |").unwrap();
    writeln!(
        page,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    .unwrap();
    let mut work = String::new();
    for (query, what) in WHAT {
        let runs = |engine: &'static str| results.get(&(query.to_string(), engine));
        let get = |engine: &'static str| runs(engine).map(|r| median_run(r));
        // Ratios pair each run with the other variant's run next to it, so
        // a slow spell of the machine weighs on both sides.
        let ratio = |a: &'static str, b: &'static str, f: fn(&Measured, &Measured) -> f64| {
            runs(a)
                .zip(runs(b))
                .map(|(a, b)| median(a.iter().zip(b).map(|(a, b)| f(a, b)).collect()))
        };
        let speed = |a: &Measured, b: &Measured| b.seconds / a.seconds;
        let (weir, native) = (get("weir").unwrap(), get("native").unwrap());
        assert_eq!(
            weir.rows, native.rows,
            "{query}: Weir made {} rows, native {}",
            weir.rows, native.rows
        );
        let per_record = get("per-record");
        let plugins = get("plugins").unwrap();
        assert_eq!(
            plugins.rows, weir.rows,
            "{query}: the plugins alone made {} rows, the pipeline {}",
            plugins.rows, weir.rows
        );
        if let Some(p) = per_record {
            assert_eq!(
                p.rows, weir.rows,
                "{query}: per-record made {} rows, Weir {}",
                p.rows, weir.rows
            );
        }
        writeln!(
            page,
            "| {query} | {what} | {} | {} | {:.2} | {:.2} | {} | {} | {} | {} / {} |",
            millions(rate(events, &weir)),
            millions(rate(events, &native)),
            ratio("weir", "native", speed).unwrap(),
            ratio("weir", "native", |a, b| a.cpu_seconds / b.cpu_seconds).unwrap(),
            per_record.map_or("".into(), |p| format!("{:.0} k", rate(events, &p) / 1e3)),
            ratio("weir", "per-record", speed).map_or("".into(), |r| format!("{r:.1}×")),
            weir.rows,
            mib(weir.peak_bytes),
            mib(native.peak_bytes),
        )
        .unwrap();
        let ns = |seconds: f64| format!("{:.0} ns", seconds * 1e9 / events as f64);
        writeln!(
            work,
            "| {query} | {} | {} | {:.2} | {} | {} |",
            ns(plugins.query_seconds),
            ns(native.query_seconds),
            ratio("plugins", "native", |a, b| a.query_seconds
                / b.query_seconds)
            .unwrap(),
            per_record.map_or("".into(), |p| ns(p.query_seconds)),
            ratio("plugins", "per-record", |a, b| b.query_seconds
                / a.query_seconds)
            .map_or("".into(), |r| format!("{r:.0}×")),
        )
        .unwrap();
    }
    writeln!(page, "\n### The query's own work\n\nTime per event spent in the query, without generating the events, on one thread: the query's Wasm plugins called by the host (`TransformInstance`: IPC both ways, the calls, the host applying selections) on the natively generated batches, the native query's code on the same batches, and the per-record Wasm calls.\n").unwrap();
    writeln!(page, "| query | Wasm plugins | native query | Weir / native | per-record calls | per-record / per-batch |\n| --- | ---: | ---: | ---: | ---: | ---: |\n{work}").unwrap();
    let m = micro;
    let f = |k: &str| m[k].as_f64().unwrap();
    writeln!(
        page,
        "\n## Micro-figures\n\n| figure | value |\n| --- | ---: |"
    )
    .unwrap();
    writeln!(
        page,
        "| instantiate a plugin (`filter`, pooling allocator, median of 1000) | {:.1} µs |",
        f("instantiate_us")
    )
    .unwrap();
    writeln!(
        page,
        "| open it (config and schema checked, plan answered) | {:.1} µs |",
        f("open_us")
    )
    .unwrap();
    writeln!(page, "| hot swap pause of q5's window-aggregate, state moved (median / max of 10, running) | {:.2} ms / {:.2} ms |", f("swap_pause_median_ms"), f("swap_pause_max_ms")).unwrap();
    writeln!(
        page,
        "| load `window-aggregate` ({:.1} MB), not cached: compile | {:.0} ms |",
        f("component_bytes") / 1e6,
        f("load_uncached_ms")
    )
    .unwrap();
    writeln!(
        page,
        "| load it again in a new engine, from the disk cache | {:.1} ms ({:.0}× faster) |",
        f("load_cached_ms"),
        f("load_uncached_ms") / f("load_cached_ms")
    )
    .unwrap();
    writeln!(page, "\n## How it is measured\n").unwrap();
    writeln!(page, "- **Weir**: the pipeline files in `benches/nexmark/`, run by the executor as `weir run` does: the `generate` source (dataset `nexmark`), the transforms and the `count` sink are all Wasm plugins, each node on a thread of its own.").unwrap();
    writeln!(page, "- **native**: the same query in plain Rust on arrow compute kernels (`benches/nexmark/native.rs`), on one thread, over the same batches generated by the same generator code compiled natively.").unwrap();
    writeln!(page, "- **Wasm plugins** (the own-work table): the query's transform plugins called one after the other on one thread by the host's `TransformInstance`, on the native generator's batches.\n- **per-record**: q1 and q2 as one Wasm call per event, the event as a JSON object in and the result out (`plugins/bench-per-record`), the model of per-record Wasm stream processors; the JSON is made natively from the same events.").unwrap();
    writeln!(page, "- Each measurement is a process of its own (peak memory is its `VmHWM`; CPU is user + system time). The runs of all variants alternate. The outputs' row counts are checked equal across variants; `tests/nexmark.rs` checks every row against a reference.").unwrap();
    writeln!(
        page,
        "- Reproduce: `scripts/bench.sh` (`NEXMARK_EVENTS`, `NEXMARK_RUNS` change the size)."
    )
    .unwrap();
    page
}
