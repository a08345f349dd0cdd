//! A program that embeds Weir: it registers a native source of its own,
//! `type: countdown`, beside Weir's connectors and runs a pipeline through
//! it with [`weir::Runtime`], as `weir run` would.
//!
//! ```sh
//! cargo run -p weir --example embed            # in a temporary folder
//! cargo run -p weir --example embed -- FOLDER  # leaves pipeline.yaml and out/ there
//! ```
//!
//! The connector is this file: its config struct (serde, unknown fields
//! refused), the two connector traits and the running source.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::Deserialize;
use weir::connectors::{
    BadRecord, ConnectorConfig, ConnectorError, Registry, Source, SourceConnector,
};
use weir::exec::Summary;
use weir::plugin::{EngineOptions, PluginEngine, Poll};
use weir::runtime::Outcome;
use weir::spec::Pipeline;

/// `type: countdown`: the numbers from `from` down to 1, `per_batch` a
/// batch.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Countdown {
    from: i64,
    per_batch: i64,
}

impl ConnectorConfig for Countdown {
    fn prepare(&mut self, _base_dir: &Path) -> Result<(), ConnectorError> {
        match self.per_batch > 0 {
            true => Ok(()),
            false => Err(ConnectorError::Config {
                field: "per_batch".into(),
                message: "must be at least 1".into(),
            }),
        }
    }
}

impl SourceConnector for Countdown {
    fn schema(&self) -> Result<SchemaRef, ConnectorError> {
        Ok(Arc::new(Schema::new(vec![Field::new(
            "n",
            DataType::Int64,
            false,
        )])))
    }

    fn open(
        &self,
        schema: &SchemaRef,
        _position: Option<serde_json::Value>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        Ok(Box::new(Counting {
            schema: schema.clone(),
            next: self.from,
            per_batch: self.per_batch,
        }))
    }
}

struct Counting {
    schema: SchemaRef,
    next: i64,
    per_batch: i64,
}

impl Source for Counting {
    fn next_batch(&mut self, _bad: &mut dyn FnMut(BadRecord)) -> Result<Poll, ConnectorError> {
        if self.next == 0 {
            return Ok(Poll::Done);
        }
        let last = (self.next - self.per_batch).max(0);
        let values: Int64Array = (last + 1..=self.next).rev().collect();
        self.next = last;
        let batch = RecordBatch::try_new(self.schema.clone(), vec![Arc::new(values)])
            .expect("one int64 column");
        Ok(Poll::Batch(batch))
    }
}

/// The pipeline the example runs: the numbers 1000 down to 1 into JSON lines.
pub const PIPELINE: &str = "sources:
  numbers: {type: countdown, config: {from: 1000, per_batch: 64}}
sinks:
  out: {type: file, inputs: [numbers], config: {path: out, format: json}}
";

/// Writes [`PIPELINE`] into `dir` and runs it with `countdown` registered;
/// answers the run's summary.
pub fn run_in(dir: &Path) -> Result<Summary, Box<dyn std::error::Error>> {
    let path = dir.join("pipeline.yaml");
    std::fs::write(&path, PIPELINE)?;
    let mut registry = Registry::builtin();
    registry.source::<Countdown>("countdown");
    let engine = PluginEngine::new(&EngineOptions::default())?;
    let runtime = weir::Runtime::new(engine).registry(registry);
    let pipeline = Pipeline::from_file(&path)?;
    let (_, outcome) = runtime
        .run(vec![pipeline])?
        .into_iter()
        .next()
        .expect("one pipeline");
    match outcome {
        Outcome::Ran(ran) => Ok(ran.result?),
        Outcome::NotBuilt(error) => Err(error.into()),
        Outcome::Refused(error) => Err(error.into()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Pipelines are this program's main work: take `weir run`'s allocator policy.
    weir::runtime::keep_freed_memory();
    let temporary = tempfile::tempdir()?;
    let dir = match std::env::args_os().nth(1) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => temporary.path().to_path_buf(),
    };
    std::fs::create_dir_all(&dir)?;
    let summary = run_in(&dir)?;
    println!("{summary}");
    println!("wrote {}", dir.join("out").display());
    Ok(())
}
