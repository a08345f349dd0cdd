//! `filter`: keeps the rows that match a predicate, optionally projecting
//! columns.
//!
//! Configuration:
//!
//! | field | meaning | example |
//! | --- | --- | --- |
//! | `predicate` | the condition rows must meet (see [`expr`] for the language) | `"amount > 10 and country in ['DE', 'FR']"` |
//! | `columns` | output only these columns, in this order (default: all) | `["id", "amount"]` |
//! | `output` | `selection` (default): the plugin reads only the predicate's columns and answers a bitmap, the host keeps the rows; `batches`: the plugin receives the columns and returns filtered whole batches (slower; for comparison) | `"selection"` |
//!
//! A bad predicate or an unknown column is an `invalid-config` error that
//! gives the offset in the predicate.

mod bounds;
pub mod expr;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde::Deserialize;
use weir_sdk::{Bound, Error, Layout, Output, Plan, Result, Transform};

/// The filter's configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The condition rows must meet.
    pub predicate: String,
    /// Output only these columns, in this order.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// How the plugin answers.
    #[serde(default)]
    pub output: OutputKind,
}

/// How the filter answers each batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputKind {
    /// A selection bitmap; the host applies it.
    #[default]
    Selection,
    /// Whole filtered batches.
    Batches,
}

/// The running filter.
pub struct Filter {
    predicate: expr::Compiled,
    answer: Answer,
    /// What the predicate says of the rows it keeps, column by column.
    bounds: Vec<Bound>,
}

/// What [`Filter::process`] answers.
enum Answer {
    Selection,
    /// Whole batches of the output columns, at these positions in the
    /// received batch; `None` when they are the received batch as it is.
    Batches(Option<Vec<usize>>),
}

impl Transform for Filter {
    type Config = Config;

    fn open(config: Config, input: &SchemaRef) -> Result<(Self, Plan)> {
        let parsed = expr::parse(&config.predicate)
            .map_err(|e| Error::invalid_config(format!("field \"predicate\": {e}")))?;
        // Type-check against the full input first, so errors name real columns.
        expr::boolean(&parsed, input)
            .map_err(|e| Error::invalid_config(format!("field \"predicate\": {e}")))?;
        let output_columns = match &config.columns {
            None => (0..input.fields().len()).collect::<Vec<_>>(),
            Some(names) => names
                .iter()
                .map(|name| weir_sdk::config::column(input, name, "columns"))
                .collect::<Result<_>>()?,
        };
        // The predicate's columns first, then (for whole batches) the output's.
        let mut reads: Vec<usize> = parsed
            .columns()
            .iter()
            .map(|(name, _)| input.index_of(name).expect("checked"))
            .collect();
        if config.output == OutputKind::Batches {
            reads.extend(&output_columns);
        }
        let layout = output_columns
            .iter()
            .fold(Layout::new(input), |l, &i| l.input(i));
        let (plan, positions) = match config.output {
            OutputKind::Selection => Plan::derived(layout),
            OutputKind::Batches => Plan::batches(layout.output_schema()),
        }
        .reading_at(&reads);
        let received = plan.reads().received_schema(input)?;
        let predicate =
            expr::boolean(&parsed, &received).map_err(|e| Error::internal(e.to_string()))?;
        let answer = match config.output {
            OutputKind::Selection => Answer::Selection,
            OutputKind::Batches => {
                let projection = positions[positions.len() - output_columns.len()..].to_vec();
                let whole = projection.iter().copied().eq(0..received.fields().len());
                Answer::Batches((!whole).then_some(projection))
            }
        };
        let bounds = bounds::bounds(&parsed, input);
        Ok((
            Filter {
                predicate,
                answer,
                bounds,
            },
            plan,
        ))
    }

    fn input_bounds(&self) -> Vec<Bound> {
        self.bounds.clone()
    }

    fn process(&mut self, batch: RecordBatch) -> Result<Output> {
        let mask = self.predicate.evaluate(&batch)?;
        // The filter kernel treats null as false, as `select` does.
        let filter = |batch: &RecordBatch| weir_sdk::compute::filter_record_batch(batch, &mask);
        Ok(match &self.answer {
            Answer::Selection => Output::select(&mask),
            Answer::Batches(None) => Output::batch(filter(&batch)?),
            Answer::Batches(Some(projection)) => {
                Output::batch(filter(&batch.project(projection)?)?)
            }
        })
    }
}

weir_sdk::export_transform!(Filter);
