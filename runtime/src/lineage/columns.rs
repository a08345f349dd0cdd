//! Column lineage through the typed graph: for every output column of every
//! node, the dataset columns it was derived from, traced from the sources
//! through the transforms' column flows ([`crate::graph::flow`]): a column
//! passed on keeps its origins (`IDENTITY`), a computed one comes from the
//! columns it was computed from (`TRANSFORMATION`), and the columns that
//! decided which rows went on are the output's indirect lineage. A node
//! with several inputs (one schema) unions their origins per column.

use std::collections::BTreeSet;

use crate::connectors::Dataset;
use crate::graph::flow::{Flow, Flows};
use crate::graph::{Graph, Implementation, Node, Runner};

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
                match node.flows() {
                    Some(flows) => through(&flows, input),
                    None => input,
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

/// The lineage after a transform whose columns flow as `flows`.
fn through(flows: &Flows, input: Traced) -> Traced {
    let origins = |i: &usize| input.columns.get(*i).into_iter().flatten();
    let columns = flows
        .columns
        .iter()
        .map(|flow| match flow {
            Flow::Passed(i) => origins(i).cloned().collect(),
            Flow::Computed(from) => from
                .iter()
                .flat_map(origins)
                .map(|origin| Origin {
                    derivation: Derivation::Transformation,
                    ..origin.clone()
                })
                .collect(),
        })
        .collect();
    let mut rows = input.rows.clone();
    for origin in flows.deciding.iter().flat_map(origins) {
        rows.insert((origin.dataset.clone(), origin.field.clone()));
    }
    Traced { columns, rows }
}
