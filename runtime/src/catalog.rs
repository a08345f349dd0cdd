//! `weir catalog`: the datasets a set of pipelines reads and writes, with
//! their columns' types and classes, the pipelines (and owners) that read
//! and write them, and the lineage edges between them, from the typed
//! graphs alone (nothing runs).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::Serialize;

use crate::Kind;
use crate::connectors::Dataset;
use crate::graph::Graph;
use crate::lineage::columns;

/// What the pipelines read and write.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Catalog {
    /// The pipelines, by name.
    pub pipelines: Vec<PipelineEntry>,
    /// Every dataset read or written, once.
    pub datasets: Vec<DatasetEntry>,
    /// Which dataset is derived from which, and by which pipeline.
    pub edges: Vec<Edge>,
}

/// One pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineEntry {
    /// Its name.
    pub name: String,
    /// Its `owner`.
    pub owner: Option<String>,
    /// Its `description`.
    pub description: Option<String>,
    /// Its `tags`.
    pub tags: Vec<String>,
}

/// One dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetEntry {
    /// Its name.
    #[serde(flatten)]
    pub dataset: Dataset,
    /// Its columns, as the first pipeline that names it sees them.
    pub columns: Vec<Column>,
    /// `pipeline.node` of the sources that read it.
    pub read_by: Vec<String>,
    /// `pipeline.node` of the sinks that write it.
    pub written_by: Vec<String>,
    /// The owners of the pipelines that write it.
    pub owners: BTreeSet<String>,
}

/// A column of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its Arrow type.
    #[serde(rename = "type")]
    pub data_type: String,
    /// Its classes (`classify`, carried along the graph).
    pub classes: Vec<String>,
}

/// `to` is derived from `from` by `pipeline`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Edge {
    /// The dataset read.
    pub from: Dataset,
    /// The dataset written.
    pub to: Dataset,
    /// The pipeline.
    pub pipeline: String,
}

/// The catalog of `graphs`.
pub fn catalog(graphs: &[Graph]) -> Catalog {
    let mut datasets: BTreeMap<Dataset, DatasetEntry> = BTreeMap::new();
    let mut edges = BTreeSet::new();
    let mut pipelines = Vec::new();
    for graph in graphs {
        let pipeline = &graph.pipeline;
        pipelines.push(PipelineEntry {
            name: pipeline.name.clone(),
            owner: pipeline.owner.clone(),
            description: pipeline.description.clone(),
            tags: pipeline.tags.clone(),
        });
        let namespace = pipeline
            .lineage
            .as_ref()
            .map_or("weir", |l| l.namespace.as_str());
        let traced = columns::trace(graph, namespace);
        let (classes, _) = crate::graph::classify::classes(graph);
        for (i, node) in graph.nodes.iter().enumerate() {
            let schema = match node.kind() {
                Kind::Source => node.output_schema.as_ref(),
                Kind::Sink => node.input_schema.as_ref(),
                Kind::Transform => continue,
            };
            let at = format!("{}.{}", pipeline.name, node.name);
            for dataset in columns::datasets(graph, namespace, node) {
                let entry = datasets
                    .entry(dataset.clone())
                    .or_insert_with(|| DatasetEntry {
                        dataset: dataset.clone(),
                        columns: schema
                            .map(|s| s.fields().iter())
                            .into_iter()
                            .flatten()
                            .zip(classes[i].iter())
                            .map(|(field, classes)| Column {
                                name: field.name().clone(),
                                data_type: field.data_type().to_string(),
                                classes: classes.keys().cloned().collect(),
                            })
                            .collect(),
                        read_by: Vec::new(),
                        written_by: Vec::new(),
                        owners: BTreeSet::new(),
                    });
                if node.kind() == Kind::Source {
                    entry.read_by.push(at.clone());
                    continue;
                }
                entry.written_by.push(at.clone());
                entry.owners.extend(pipeline.owner.clone());
                let from = traced[i]
                    .columns
                    .iter()
                    .flatten()
                    .map(|origin| &origin.dataset)
                    .chain(traced[i].rows.iter().map(|(dataset, _)| dataset));
                for from in from {
                    edges.insert(Edge {
                        from: from.clone(),
                        to: dataset.clone(),
                        pipeline: pipeline.name.clone(),
                    });
                }
            }
        }
    }
    Catalog {
        pipelines,
        datasets: datasets.into_values().collect(),
        edges: edges.into_iter().collect(),
    }
}

impl Catalog {
    /// The catalog as text: pipelines, datasets (columns with classes),
    /// then lineage edges.
    pub fn table(&self) -> String {
        let mut out = String::from("pipelines:\n");
        for p in &self.pipelines {
            let _ = writeln!(
                out,
                "  {}  owner: {}  tags: {}{}",
                p.name,
                p.owner.as_deref().unwrap_or("-"),
                match p.tags.is_empty() {
                    true => "-".to_string(),
                    false => p.tags.join(", "),
                },
                p.description
                    .as_deref()
                    .map(|d| format!("\n    {d}"))
                    .unwrap_or_default()
            );
        }
        out.push_str("datasets:\n");
        for d in &self.datasets {
            let _ = writeln!(out, "  {} {}", d.dataset.namespace, d.dataset.name);
            let columns: Vec<String> = d
                .columns
                .iter()
                .map(|c| match c.classes.is_empty() {
                    true => format!("{}: {}", c.name, c.data_type),
                    false => format!("{}: {} [{}]", c.name, c.data_type, c.classes.join(", ")),
                })
                .collect();
            let _ = writeln!(out, "    columns: {}", columns.join(", "));
            let list = |names: &[String]| match names.is_empty() {
                true => "-".to_string(),
                false => names.join(", "),
            };
            let _ = writeln!(
                out,
                "    read by: {}  written by: {}  owners: {}",
                list(&d.read_by),
                list(&d.written_by),
                list(&d.owners.iter().cloned().collect::<Vec<_>>())
            );
        }
        out.push_str("lineage:\n");
        for e in &self.edges {
            let _ = writeln!(
                out,
                "  {} {} -> {} {}  ({})",
                e.from.namespace, e.from.name, e.to.namespace, e.to.name, e.pipeline
            );
        }
        out
    }
}
