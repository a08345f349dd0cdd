//! Test fixture: at `open`, tries what its config asks (read a file, write a
//! file, read environment variables) and, with `"report": true`, fails
//! `open` with a report of what happened, so a test can see what the node's
//! grants allow. With `"at": "process"` it tries them on every batch
//! instead and fails the batch with the report (so the report lands in the
//! dead letters). Otherwise it passes batches through.
//!
//! Config: `{"read": ["/data/a.txt"], "write": ["/data/b.txt"], "env": ["NAME"], "report": true}`.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde::Deserialize;
use weir_sdk::{Error, Output, Plan, Result, Transform};

/// What to try.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Files to read.
    #[serde(default)]
    pub read: Vec<String>,
    /// Files to write (the text `written`).
    #[serde(default)]
    pub write: Vec<String>,
    /// Environment variables to read.
    #[serde(default)]
    pub env: Vec<String>,
    /// Fail `open` with the report.
    #[serde(default)]
    pub report: bool,
    /// `open` (default) or `process`: when to try.
    #[serde(default)]
    pub at: Option<String>,
}

/// Passes batches through, or fails each with the report.
pub struct Files {
    per_batch: Option<Config>,
}

/// Tries what `config` asks; one line per attempt.
fn attempt(config: &Config) -> Vec<String> {
    let mut report = Vec::new();
    for path in &config.read {
        report.push(match std::fs::read_to_string(path) {
            Ok(text) => format!("read {path}: {}", text.trim()),
            Err(e) => format!("read {path} failed: {e}"),
        });
    }
    for path in &config.write {
        report.push(match std::fs::write(path, "written") {
            Ok(()) => format!("wrote {path}"),
            Err(e) => format!("write {path} failed: {e}"),
        });
    }
    for name in &config.env {
        report.push(match std::env::var(name) {
            Ok(value) => format!("env {name}={value}"),
            Err(_) => format!("env {name} unset"),
        });
    }
    report
}

impl Transform for Files {
    type Config = Config;

    fn open(config: Config, input: &SchemaRef) -> Result<(Self, Plan)> {
        if config.at.as_deref() == Some("process") {
            let plan = Plan::batches(input.clone());
            return Ok((
                Files {
                    per_batch: Some(config),
                },
                plan,
            ));
        }
        let report = attempt(&config);
        if config.report {
            return Err(Error::invalid_config(report.join("; ")));
        }
        Ok((Files { per_batch: None }, Plan::batches(input.clone())))
    }

    fn process(&mut self, batch: RecordBatch) -> Result<Output> {
        match &self.per_batch {
            Some(config) => Err(Error::invalid_input(attempt(config).join("; "))),
            None => Ok(Output::batch(batch)),
        }
    }
}

weir_sdk::export_transform!(Files);
