//! Column lineage through the typed graph: for every output column of every
//! node, the dataset columns it was derived from, traced from the sources
//! through the plans the transforms' plugins answered at open.
//!
//! - A column passed through (derived output, `input(n)`) keeps its origins,
//!   renamed or not: the value is the same (`IDENTITY`).
//! - A column a plugin appends comes from every column it reads
//!   (`TRANSFORMATION`).
//! - A plugin that answers whole batches: an output column named like a
//!   column it reads is that column (a join's or a window's passed-on key);
//!   any other comes from every column it reads.
//! - Columns read but not passed on decide which rows go on (a filter's
//!   predicate, a join's keys): they are the outputs' indirect lineage.
//! - A node with several inputs (same schema) unions their origins per
//!   column.

use std::collections::BTreeSet;

use crate::connectors::Dataset;
use crate::graph::{ColumnPlan, Graph, Implementation, Node, Runner};
use crate::plugin::ColumnSource;

/// How a column was made from one it derives from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Derivation {
    /// The same value (perhaps under another name).
    Identity,
    /// Computed from it.
    Transformation,
}

/// One input column a column was derived from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    /// The dataset it was read from.
    pub dataset: Dataset,
    /// The column there.
    pub field: String,
    /// How.
    pub derivation: Derivation,
}

/// The lineage of one node's output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Traced {
    /// Per output column, where it comes from.
    pub columns: Vec<BTreeSet<Origin>>,
    /// Input columns that decided which rows went on (filters, join keys).
    pub rows: BTreeSet<(Dataset, String)>,
}

/// The datasets node `node` reads or writes: its connector's, or for a
/// plugin source or sink, `weir://<job namespace>` and `<pipeline>.<node>`.
pub fn datasets(graph: &Graph, namespace: &str, node: &Node) -> Vec<Dataset> {
    let connector = match &node.implementation {
        Implementation::Source(Runner::Connector(source)) => Some(source.datasets()),
        Implementation::Sink(Runner::Connector(sink)) => Some(sink.datasets()),
        Implementation::Source(Runner::Plugin(_))
        | Implementation::Sink(Runner::Plugin(_))
        | Implementation::Transform(_) => None,
    };
    connector.unwrap_or_else(|| {
        vec![Dataset {
            namespace: format!("weir://{namespace}"),
            name: format!("{}.{}", graph.pipeline.name, node.name),
        }]
    })
}

/// The lineage of every node's output (for sinks: of what they receive),
/// in the graph's order.
pub fn trace(graph: &Graph, namespace: &str) -> Vec<Traced> {
    let mut traced: Vec<Traced> = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let own = match &node.implementation {
            Implementation::Source(_) => source(graph, namespace, node),
            Implementation::Transform(_) | Implementation::Sink(_) => {
                let input = union(node.inputs.iter().map(|&i| &traced[i]));
                match (&node.columns, node.output_schema.as_ref()) {
                    (Some(plan), Some(output)) => transform(node, plan, output, input),
                    _ => input,
                }
            }
        };
        traced.push(own);
    }
    traced
}

fn source(graph: &Graph, namespace: &str, node: &Node) -> Traced {
    let datasets = datasets(graph, namespace, node);
    let fields = node.output_schema.as_ref().map_or(&[][..], |s| s.fields());
    Traced {
        columns: fields
            .iter()
            .map(|field| {
                datasets
                    .iter()
                    .map(|dataset| Origin {
                        dataset: dataset.clone(),
                        field: field.name().clone(),
                        derivation: Derivation::Identity,
                    })
                    .collect()
            })
            .collect(),
        rows: BTreeSet::new(),
    }
}

/// Several inputs of one schema, column by column.
fn union<'t>(inputs: impl Iterator<Item = &'t Traced>) -> Traced {
    let mut all = Traced::default();
    for input in inputs {
        all.columns
            .resize_with(all.columns.len().max(input.columns.len()), BTreeSet::new);
        for (column, origins) in all.columns.iter_mut().zip(&input.columns) {
            column.extend(origins.iter().cloned());
        }
        all.rows.extend(input.rows.iter().cloned());
    }
    all
}

fn transform(
    node: &Node,
    plan: &ColumnPlan,
    output: &arrow::datatypes::SchemaRef,
    input: Traced,
) -> Traced {
    let input_fields = node.input_schema.as_ref().map_or(&[][..], |s| s.fields());
    let reads: Vec<usize> = match &plan.reads {
        Some(reads) => reads.clone(),
        None => (0..input.columns.len()).collect(),
    };
    let computed: BTreeSet<Origin> = reads
        .iter()
        .filter_map(|&i| input.columns.get(i))
        .flatten()
        .map(|origin| Origin {
            derivation: Derivation::Transformation,
            ..origin.clone()
        })
        .collect();
    let passed = |i: usize| input.columns.get(i).cloned().unwrap_or_default();
    let (columns, used): (Vec<BTreeSet<Origin>>, BTreeSet<usize>) = match &plan.layout {
        Some(layout) => {
            let appends = layout
                .iter()
                .any(|s| matches!(s, ColumnSource::Appended(_)));
            let columns = layout
                .iter()
                .map(|source| match source {
                    ColumnSource::Input(i) => passed(*i),
                    ColumnSource::Appended(_) => computed.clone(),
                })
                .collect();
            // Columns read only to select rows, when nothing is computed.
            let used = match appends {
                true => reads.iter().copied().collect(),
                false => BTreeSet::new(),
            };
            (columns, used)
        }
        None => {
            let mut used = BTreeSet::new();
            let columns = output
                .fields()
                .iter()
                .map(|field| {
                    let same = reads.iter().copied().find(|&i| {
                        input_fields
                            .get(i)
                            .is_some_and(|f| f.name() == field.name())
                    });
                    match same {
                        Some(i) => {
                            used.insert(i);
                            passed(i)
                        }
                        None => {
                            used.extend(reads.iter().copied());
                            computed.clone()
                        }
                    }
                })
                .collect();
            (columns, used)
        }
    };
    let mut rows = input.rows;
    for i in reads.iter().filter(|i| !used.contains(i)) {
        for origin in input.columns.get(*i).into_iter().flatten() {
            rows.insert((origin.dataset.clone(), origin.field.clone()));
        }
    }
    Traced { columns, rows }
}
