//! Dirty input against clean input: the `file` source reading 120,000
//! orders as CSV and as JSON lines, clean and with 0.1 % malformed lines
//! (each a dead letter). Prints the median of each and the ratio dirty /
//! clean, measured in the same run (`cargo bench --bench dirty_input`).
//! Issue 20 asks for dirty within 1.5x of clean.

use std::path::Path;
use std::time::{Duration, Instant};

use weir::connectors::{BadRecord, Registry};
use weir::plugin::Poll;

const ROWS: usize = 120_000;
const RUNS: usize = 7;

/// Writes the orders file: every `bad_every`-th line malformed (0: none).
fn write(dir: &Path, csv: bool, bad_every: usize) -> std::path::PathBuf {
    let path = dir.join(format!(
        "orders-{}-{bad_every}.{}",
        if csv { "csv" } else { "json" },
        if csv { "csv" } else { "jsonl" }
    ));
    let mut text = String::new();
    if csv {
        text.push_str("id,customer,amount,country\n");
    }
    for i in 0..ROWS {
        let bad = bad_every > 0 && i % bad_every == bad_every / 2;
        let amount = if bad {
            "lots".to_string()
        } else {
            format!("{}.{:02}", i % 500, i % 100)
        };
        let country = ["DE", "FR", "US", "GB"][i % 4];
        if csv {
            text.push_str(&format!("{i},customer-{},{amount},{country}\n", i % 977));
        } else {
            let amount = if bad { "\"lots\"".to_string() } else { amount };
            text.push_str(&format!(
                "{{\"id\": {i}, \"customer\": \"customer-{}\", \"amount\": {amount}, \"country\": \"{country}\"}}\n",
                i % 977
            ));
        }
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// Reads `path` to its end; answers the time, good rows and bad lines.
fn read(path: &Path) -> (Duration, usize, usize) {
    let config = serde_json::json!({
        "path": path,
        "schema": {"id": "int64", "customer": "utf8", "amount": "float64", "country": "utf8"},
        "resume": false,
    });
    let connector = Registry::builtin()
        .build_source("file", &config, Path::new("."))
        .unwrap();
    let started = Instant::now();
    let schema = connector.schema().unwrap();
    let mut source = connector.open(&schema, None).unwrap();
    let (mut rows, mut bad) = (0, 0);
    loop {
        let mut count = |_: BadRecord| bad += 1;
        match source.next_batch(&mut count).unwrap() {
            Poll::Batch(batch) => rows += batch.num_rows(),
            Poll::Wait(_) => {}
            Poll::Done => break,
        }
    }
    (started.elapsed(), rows, bad)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    println!("{ROWS} rows, median of {RUNS} runs, 0.1 % malformed lines in the dirty input");
    println!("| format | clean | dirty | dirty / clean |");
    println!("| --- | ---: | ---: | ---: |");
    for csv in [true, false] {
        let clean = write(dir.path(), csv, 0);
        let dirty = write(dir.path(), csv, 1000);
        let (mut clean_times, mut dirty_times) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let (time, rows, bad) = read(&clean);
            assert_eq!((rows, bad), (ROWS, 0));
            clean_times.push(time);
            let (time, rows, bad) = read(&dirty);
            assert_eq!((rows, bad), (ROWS - ROWS / 1000, ROWS / 1000));
            dirty_times.push(time);
        }
        let (clean, dirty) = (median(clean_times), median(dirty_times));
        println!(
            "| {} | {:.1} ms | {:.1} ms | {:.2} |",
            if csv { "CSV" } else { "JSON lines" },
            clean.as_secs_f64() * 1e3,
            dirty.as_secs_f64() * 1e3,
            dirty.as_secs_f64() / clean.as_secs_f64()
        );
    }
}
