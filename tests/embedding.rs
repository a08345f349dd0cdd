//! A program that embeds Weir registers a native connector of its own
//! under a `type` name and runs a pipeline through it next to Weir's own
//! connectors and plugins. The connector is this file: its config struct,
//! the two connector traits and the running source.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use common::*;
use serde::Deserialize;
use weir::connectors::{
    BadRecord, ConnectorConfig, ConnectorError, Registry, Source, SourceConnector,
};
use weir::exec::RunOptions;
use weir::graph::Graph;
use weir::plugin::Poll;
use weir::spec::Pipeline;

/// `type: countdown`: the numbers from `from` down to 1, `per_batch` a
/// batch.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Countdown {
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

fn pipeline(dir: &Path, text: &str) -> Pipeline {
    let path = dir.join("pipeline.yaml");
    std::fs::write(&path, text).unwrap();
    Pipeline::from_file(&path).unwrap()
}

#[test]
fn a_connector_registered_by_the_embedding_program_runs_in_a_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "sources:
  numbers: {{type: countdown, config: {{from: 1000, per_batch: 64}}}}
transforms:
  small: {{plugin: {}, inputs: [numbers], config: {{predicate: \"n <= 100\"}}}}
sinks:
  out: {{type: file, inputs: [small], config: {{path: out, format: json}}}}
",
        weir_plugin_artifacts::FILTER
    );
    // Weir's own registry does not know the type.
    let Err(error) = Graph::build(pipeline(dir.path(), &text), engine()) else {
        panic!("an unknown type was accepted");
    };
    assert!(
        error
            .to_string()
            .contains("unknown connector \"countdown\""),
        "{error}"
    );

    let mut registry = Registry::builtin();
    registry.source::<Countdown>("countdown");
    let graph = Graph::build_with(pipeline(dir.path(), &text), engine(), &registry).unwrap();
    let summary = weir::exec::run(
        &graph,
        engine(),
        &RunOptions::default(),
        &AtomicBool::new(false),
    )
    .unwrap();
    let out = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    let numbers: Vec<i64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["n"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(numbers, (1..=100).rev().collect::<Vec<_>>());
    assert!(format!("{summary}").contains("numbers"), "{summary}");

    // Its config is checked like Weir's own: the field is named.
    let bad = text.replace("per_batch: 64", "per_batch: 0");
    let Err(error) = Graph::build_with(pipeline(dir.path(), &bad), engine(), &registry) else {
        panic!("per_batch: 0 was accepted");
    };
    assert!(
        error.to_string().contains("per_batch") && error.to_string().contains("at least 1"),
        "{error}"
    );
}
