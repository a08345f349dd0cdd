//! What a tap costs: the quickstart pipeline (2,000,000 generated clicks,
//! its `console` sink left out) run with the admin API, without a tap
//! reader, with one reading node `shape`'s output at the default 10 rows a
//! second (as `weir tap` does), and with one at the most a tap sends
//! (1,000 rows a second); each reader a real HTTP client of
//! `GET /pipelines/{p}/nodes/shape/tap`, attached as soon as the pipeline
//! is listed. Runs alternated in one process; prints the median rows/s
//! and the ratios to the run without a reader (goal: at least 0.95).
//!
//! Run: `cargo bench -p weir-e2e --bench tap`.

#[path = "common/quickstart.rs"]
mod quickstart;

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use weir::plugin::PluginEngine;
use weir::runtime::{Outcome, Runtime};
use weir::spec::Pipeline;

const ROWS: u64 = 2_000_000;
const RUNS: usize = 7;

/// One run of `path` with the admin API, and a tap reader of `shape` at
/// `tap_rate` rows a second if given: the run's time and the rows the
/// reader got.
fn run(path: &Path, engine: &PluginEngine, tap_rate: Option<u32>) -> (Duration, usize) {
    let mut runtime = Runtime::new(engine.clone());
    let addr = runtime
        .serve_admin("127.0.0.1:0".parse().unwrap(), Duration::ZERO)
        .unwrap();
    let reader = tap_rate.map(|rate| {
        std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let base = format!("http://{addr}");
            let listed = || {
                agent
                    .get(format!("{base}/pipelines"))
                    .call()
                    .ok()
                    .is_some_and(|mut r| {
                        r.body_mut().read_to_string().is_ok_and(|body| body != "[]")
                    })
            };
            while !listed() {
                std::thread::sleep(Duration::from_millis(1));
            }
            let url = format!("{base}/pipelines/tapped/nodes/shape/tap?rows_per_second={rate}");
            let mut body = String::new();
            let response = agent.get(url).call().unwrap();
            response
                .into_body()
                .into_reader()
                .read_to_string(&mut body)
                .unwrap();
            body.lines().count()
        })
    });
    let pipeline = Pipeline::from_file(path).unwrap();
    let outcomes = runtime.run(vec![pipeline]).unwrap();
    let Outcome::Ran(ran) = &outcomes[0].1 else {
        panic!("the pipeline did not run");
    };
    let summary = ran.result.as_ref().expect("a clean run");
    assert_eq!(summary.source_rows(), ROWS);
    let tapped = reader.map_or(0, |r| r.join().unwrap());
    (summary.elapsed, tapped)
}

fn main() {
    let (dir, engine) = quickstart::prepare(ROWS);
    let path = quickstart::quickstart(dir.path(), "tapped", "", |text| text);
    let variants = [None, Some(10), Some(1000)];
    // A first run compiles the plugins and warms the caches.
    run(&path, &engine, None);
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); variants.len()];
    let mut tapped = vec![0; variants.len()];
    for _ in 0..RUNS {
        for (i, rate) in variants.iter().enumerate() {
            let (time, rows) = run(&path, &engine, *rate);
            times[i].push(time);
            tapped[i] += rows;
        }
    }
    assert!(
        tapped[1] > 0 && tapped[2] > tapped[1],
        "the readers got rows: {tapped:?}"
    );
    let rate = |d: Duration| ROWS as f64 / d.as_secs_f64();
    let rates: Vec<f64> = times
        .into_iter()
        .map(|t| rate(quickstart::median(t)))
        .collect();
    println!(
        "quickstart with the admin API, {ROWS} rows, median of {RUNS}: no tap reader {:.0} rows/s; a reader of `shape` at 10 rows/s {:.0} rows/s (ratio {:.2}, {} rows tapped per run); at 1,000 rows/s {:.0} rows/s (ratio {:.2}, {} rows tapped per run)",
        rates[0],
        rates[1],
        rates[1] / rates[0],
        tapped[1] / RUNS,
        rates[2],
        rates[2] / rates[0],
        tapped[2] / RUNS,
    );
}
