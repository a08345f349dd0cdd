//! The demo behind the README's first command: loads every first-party
//! plugin (printing what `weir plugin inspect` reports), then runs a chain of
//! real Wasm plugins over generated clickstream events and prints what each
//! stage did and the resulting windows.
//!
//! generate (source) → filter → mask → window-aggregate → count (sink)

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use weir::plugin::inspect::inspect;
use weir::plugin::{
    EngineOptions, Limits, PluginEngine, Poll, SinkInstance, SourceInstance, TransformInstance,
};

const ROWS: u64 = 500_000;
const BATCH_ROWS: u32 = 8192;

/// Per-stage totals.
#[derive(Default)]
struct Stage {
    rows_in: usize,
    rows_out: usize,
    rejected: usize,
    busy: Duration,
}

fn main() -> Result<()> {
    let engine = PluginEngine::new(&EngineOptions::default())?;

    println!("== First-party plugins (weir plugin inspect)\n");
    for (name, path) in weir_plugin_artifacts::ALL
        .iter()
        .filter(|(n, _)| !n.starts_with("test-") && !n.starts_with("bench-"))
    {
        let plugin = engine
            .load_file(path.as_ref())
            .with_context(|| format!("loading {name}"))?;
        let report = inspect(&engine, &plugin)?;
        println!(
            "{:<17} {:<9} {} {:<10} loaded in {:>8.1?} ({:?})",
            report.about.name,
            report.world.to_string(),
            &report.digest[..19],
            report.about.version,
            plugin.load_time(),
            plugin.origin()
        );
        println!("{:<17} {}", "", report.about.description);
    }

    println!(
        "\n== Pipeline: generate → filter → mask → window-aggregate → count ({ROWS} clickstream events)\n"
    );
    let limits = Limits::default();
    let load = |path: &str| engine.load_file(path.as_ref());
    let mut source = SourceInstance::new(
        &engine,
        &load(weir_plugin_artifacts::GENERATE)?,
        "clicks",
        &limits,
    )?;
    let schema = source.open(&format!(
        r#"{{"dataset": "clickstream", "rows": {ROWS}, "seed": 7}}"#
    ))?;

    let chain = [
        (
            "purchases",
            weir_plugin_artifacts::FILTER,
            r#"{"predicate": "action in ['add_to_cart', 'purchase'] and country != 'JP'"}"#,
        ),
        (
            "pseudonymize",
            weir_plugin_artifacts::MASK,
            r#"{"columns": {"session_id": {"method": "hash", "salt": "demo-salt"}, "user_id": {"method": "redact"}}}"#,
        ),
        (
            "per_minute",
            weir_plugin_artifacts::WINDOW_AGGREGATE,
            r#"{"time_column": "event_time", "window": "1m", "keys": ["page"], "aggregates": [{"op": "count", "as": "events"}, {"op": "sum", "column": "price", "as": "revenue"}]}"#,
        ),
    ];
    let mut transforms = Vec::new();
    let mut input = schema;
    for (node, path, config) in chain {
        let mut t = TransformInstance::new(&engine, &load(path)?, node, &limits)?;
        input = t
            .open(config, &input)
            .with_context(|| format!("opening {node}"))?;
        transforms.push((node, t, Stage::default()));
    }
    let mut sink = SinkInstance::new(
        &engine,
        &load(weir_plugin_artifacts::COUNT)?,
        "count",
        &limits,
    )?;
    sink.open("{}", &input)?;

    let started = Instant::now();
    let mut results = Vec::new();
    let mut generated = 0;
    loop {
        let batch = match source.next(BATCH_ROWS)? {
            Poll::Batch(batch) => batch,
            Poll::Wait(wait) => {
                std::thread::sleep(wait);
                continue;
            }
            Poll::Done => break,
        };
        generated += batch.num_rows();
        let out = push(&mut transforms, 0, vec![batch])?;
        write(&mut sink, &out, &mut results)?;
    }
    // End of input: each stage flushes what it holds into the next.
    for i in 0..transforms.len() {
        let held = transforms[i].1.finish()?;
        transforms[i].2.rows_out += held.iter().map(RecordBatch::num_rows).sum::<usize>();
        let out = push(&mut transforms, i + 1, held)?;
        write(&mut sink, &out, &mut results)?;
    }
    sink.flush()?;
    let elapsed = started.elapsed();

    println!(
        "{:<14} {:>10} {:>10} {:>9} {:>10}",
        "node", "rows in", "rows out", "rejected", "busy"
    );
    println!(
        "{:<14} {:>10} {:>10} {:>9} {:>10}",
        "clicks", "-", generated, 0, "-"
    );
    for (node, _, stage) in &transforms {
        println!(
            "{:<14} {:>10} {:>10} {:>9} {:>10.1?}",
            node, stage.rows_in, stage.rows_out, stage.rejected, stage.busy
        );
    }
    let counters = &sink.metrics().counters;
    println!(
        "{:<14} {:>10} {:>10} {:>9} {:>10}",
        "count",
        counters.get("rows").copied().unwrap_or(0),
        "-",
        0,
        "-"
    );
    println!(
        "\n{generated} events in {elapsed:.2?}: {:.1} M events/s through four Wasm plugins\n",
        generated as f64 / elapsed.as_secs_f64() / 1e6
    );
    println!("First windows (revenue per page and minute):");
    let first: Vec<RecordBatch> = results
        .iter()
        .take(1)
        .map(|b: &RecordBatch| b.slice(0, b.num_rows().min(8)))
        .collect();
    println!("{}", arrow::util::pretty::pretty_format_batches(&first)?);
    Ok(())
}

/// Pushes batches through the transforms from `from` on; returns the output.
fn push(
    transforms: &mut [(&str, TransformInstance, Stage)],
    from: usize,
    mut batches: Vec<RecordBatch>,
) -> Result<Vec<RecordBatch>> {
    for (_, transform, stage) in transforms.iter_mut().skip(from) {
        let mut next = Vec::new();
        for batch in &batches {
            let started = Instant::now();
            let processed = transform.process(batch)?;
            stage.busy += started.elapsed();
            stage.rows_in += batch.num_rows();
            stage.rejected += processed.rejected.len();
            stage.rows_out += processed
                .batches
                .iter()
                .map(RecordBatch::num_rows)
                .sum::<usize>();
            next.extend(processed.batches);
        }
        batches = next;
    }
    Ok(batches)
}

fn write(
    sink: &mut SinkInstance,
    batches: &[RecordBatch],
    results: &mut Vec<RecordBatch>,
) -> Result<()> {
    for batch in batches.iter().filter(|b| b.num_rows() > 0) {
        sink.write(batch)?;
        results.push(batch.clone());
    }
    Ok(())
}
