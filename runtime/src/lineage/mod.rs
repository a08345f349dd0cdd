//! OpenLineage run events (<https://openlineage.io/docs/spec/object-model>)
//! for a pipeline with `lineage:`: `START` when the run begins, then
//! `COMPLETE`, `FAIL` (a node failed, or a dead-letter budget was passed)
//! or `ABORT` (stopped: Ctrl-C). The job is the pipeline (its `namespace`
//! and name); inputs and outputs are the datasets its connectors name
//! ([`crate::connectors::Dataset`]), each with the schema of its edge;
//! outputs carry the column lineage traced through the graph
//! ([`columns`]) and, at the end, the rows and Arrow bytes written.

pub mod columns;
mod transport;

use std::collections::BTreeSet;

use arrow::datatypes::{DataType, Field, Schema};
use serde_json::{Value, json};

use crate::exec::Summary;
use crate::graph::Graph;
use columns::{Derivation, Traced};
use transport::Transport;

/// OpenLineage's base schema, and the facets' schemas, that the events
/// follow.
const SPEC: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json";
const SCHEMA_FACET: &str =
    "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet";
const COLUMN_LINEAGE_FACET: &str = "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet";
const OUTPUT_STATISTICS_FACET: &str = "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet";
const PROCESSING_ENGINE_FACET: &str = "https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet";
const ASSERTIONS_FACET: &str = "https://openlineage.io/spec/facets/1-1-0/DataQualityAssertionsDatasetFacet.json#/$defs/DataQualityAssertionsDatasetFacet";
const ERROR_MESSAGE_FACET: &str = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet";

/// Who wrote the events (a URI, as the spec asks).
fn producer() -> String {
    format!(
        "{}/{}",
        env!("CARGO_PKG_REPOSITORY"),
        env!("CARGO_PKG_VERSION")
    )
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every node finished.
    Complete,
    /// It failed, for this reason.
    Fail(String),
    /// It was stopped before its end.
    Abort,
}

/// The lineage of one run: emits `START` when made, the end event when
/// [`Lineage::end`] is called.
pub struct Lineage {
    transport: Transport,
    run_id: String,
    namespace: String,
    job: String,
    /// The input datasets, each with the nodes downstream of the source
    /// that reads it (whose data-quality rules check it).
    inputs: Vec<(Value, BTreeSet<String>)>,
    /// Per sink (node index), its output datasets without statistics.
    outputs: Vec<(usize, Value)>,
}

impl Lineage {
    /// The lineage of a run of `graph`, `START` emitted; `None` when the
    /// pipeline has no `lineage:`.
    pub fn start(graph: &Graph) -> Option<Self> {
        let spec = graph.pipeline.lineage.as_ref()?;
        let namespace = spec.namespace.clone();
        let traced = columns::trace(graph, &namespace);
        let mut inputs = Vec::new();
        let mut seen = BTreeSet::new();
        let mut outputs = Vec::new();
        for (i, node) in graph.nodes.iter().enumerate() {
            let datasets = || columns::datasets(graph, &namespace, node);
            match node.kind() {
                crate::Kind::Source => {
                    let schema = node.output_schema.as_deref();
                    for dataset in datasets() {
                        if seen.insert(dataset.clone()) {
                            let json = dataset_json(&dataset, schema, None);
                            inputs.push((json, downstream(graph, i)));
                        }
                    }
                }
                crate::Kind::Sink => {
                    let schema = node.input_schema.as_deref();
                    for dataset in datasets() {
                        let lineage = column_lineage(schema, &traced[i]);
                        outputs.push((i, dataset_json(&dataset, schema, Some(lineage))));
                    }
                }
                crate::Kind::Transform => {}
            }
        }
        let lineage = Self {
            transport: Transport::new(spec),
            run_id: uuid::Uuid::new_v4().to_string(),
            namespace,
            job: graph.pipeline.name.clone(),
            inputs,
            outputs,
        };
        let inputs: Vec<Value> = lineage.inputs.iter().map(|(i, _)| i.clone()).collect();
        let outputs: Vec<Value> = lineage.outputs.iter().map(|(_, o)| o.clone()).collect();
        lineage
            .transport
            .send(&lineage.event("START", json!({}), inputs, outputs));
        Some(lineage)
    }

    /// Emits the end event for `outcome`, with what every sink wrote
    /// (`summary`), and waits a bounded time for its delivery.
    pub fn end(self, summary: &Summary, outcome: &Outcome) {
        let (kind, run_facets) = match outcome {
            Outcome::Complete => ("COMPLETE", json!({})),
            Outcome::Abort => ("ABORT", json!({})),
            Outcome::Fail(message) => (
                "FAIL",
                json!({"errorMessage": facet(ERROR_MESSAGE_FACET, json!({
                    "message": message,
                    "programmingLanguage": "Rust",
                }))}),
            ),
        };
        let outputs = self
            .outputs
            .iter()
            .map(|(i, output)| {
                let mut output = output.clone();
                if let Some(written) = summary.nodes.get(*i) {
                    output["outputFacets"] = json!({
                        "outputStatistics": facet(OUTPUT_STATISTICS_FACET, json!({
                            "rowCount": written.rows_out,
                            "size": written.bytes_out,
                        })),
                    });
                }
                output
            })
            .collect();
        let inputs = self
            .inputs
            .iter()
            .map(|(input, checked_by)| {
                let mut input = input.clone();
                let assertions: Vec<Value> = summary
                    .quality
                    .iter()
                    .filter(|r| checked_by.contains(&r.node))
                    .map(|r| {
                        json!({
                            "assertion": r.rule.check,
                            "name": r.rule.name,
                            "success": r.held(),
                            "column": r.rule.column,
                            "severity": r.rule.severity,
                            "expected": "0",
                            "actual": r.failed.to_string(),
                            "description": format!("rows that fail, of {} checked at node {}", r.checked, r.node),
                        })
                    })
                    .collect();
                if !assertions.is_empty() {
                    input["inputFacets"] = json!({
                        "dataQualityAssertions": facet(ASSERTIONS_FACET, json!({"assertions": assertions})),
                    });
                }
                input
            })
            .collect();
        self.transport
            .send(&self.event(kind, run_facets, inputs, outputs));
        self.transport.close();
    }

    /// A run event of type `kind`.
    fn event(
        &self,
        kind: &str,
        mut run_facets: Value,
        inputs: Vec<Value>,
        outputs: Vec<Value>,
    ) -> Value {
        run_facets["processing_engine"] = facet(
            PROCESSING_ENGINE_FACET,
            json!({
                "version": env!("CARGO_PKG_VERSION"),
                "name": "Weir",
                "openlineageAdapterVersion": env!("CARGO_PKG_VERSION"),
            }),
        );
        json!({
            "eventType": kind,
            "eventTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "producer": producer(),
            "schemaURL": format!("{SPEC}#/$defs/RunEvent"),
            "run": {"runId": self.run_id, "facets": run_facets},
            "job": {"namespace": self.namespace, "name": self.job, "facets": {}},
            "inputs": inputs,
            "outputs": outputs,
        })
    }
}

/// The names of the nodes downstream of node `from`.
fn downstream(graph: &Graph, from: usize) -> BTreeSet<String> {
    let mut reached = BTreeSet::from([from]);
    // Nodes come after their inputs: one pass in order reaches them all.
    for (i, node) in graph.nodes.iter().enumerate().skip(from + 1) {
        if node.inputs.iter().any(|input| reached.contains(input)) {
            reached.insert(i);
        }
    }
    reached
        .iter()
        .map(|&i| graph.nodes[i].name.clone())
        .collect()
}

/// A facet: `fields` with the producer and the facet's schema.
fn facet(schema_url: &str, mut fields: Value) -> Value {
    fields["_producer"] = json!(producer());
    fields["_schemaURL"] = json!(schema_url);
    fields
}

/// A dataset with its schema facet and, for an output, its column lineage.
fn dataset_json(
    dataset: &crate::connectors::Dataset,
    schema: Option<&Schema>,
    lineage: Option<Value>,
) -> Value {
    let mut facets = json!({});
    if let Some(schema) = schema {
        facets["schema"] = facet(
            SCHEMA_FACET,
            json!({"fields": schema.fields().iter().map(|f| field_json(f)).collect::<Vec<_>>()}),
        );
    }
    if let Some(lineage) = lineage {
        facets["columnLineage"] = lineage;
    }
    json!({"namespace": dataset.namespace, "name": dataset.name, "facets": facets})
}

/// A schema facet's field: its name and Arrow type (and a struct's fields).
fn field_json(field: &Field) -> Value {
    let mut json = json!({"name": field.name(), "type": field.data_type().to_string()});
    if let DataType::Struct(children) = field.data_type() {
        json["fields"] = children.iter().map(|f| field_json(f)).collect();
    }
    json
}

/// The column-lineage facet of a sink receiving `schema`, traced as
/// `traced`.
fn column_lineage(schema: Option<&Schema>, traced: &Traced) -> Value {
    let mut fields = serde_json::Map::new();
    let names = schema.map_or(&[][..], |s| s.fields());
    for (field, origins) in names.iter().zip(&traced.columns) {
        let inputs: Vec<Value> = origins
            .iter()
            .map(|origin| {
                let subtype = match origin.derivation {
                    Derivation::Identity => "IDENTITY",
                    Derivation::Transformation => "TRANSFORMATION",
                };
                json!({
                    "namespace": origin.dataset.namespace,
                    "name": origin.dataset.name,
                    "field": origin.field,
                    "transformations": [{"type": "DIRECT", "subtype": subtype}],
                })
            })
            .collect();
        fields.insert(field.name().clone(), json!({"inputFields": inputs}));
    }
    let rows: Vec<Value> = traced
        .rows
        .iter()
        .map(|(dataset, field)| {
            json!({
                "namespace": dataset.namespace,
                "name": dataset.name,
                "field": field,
                "transformations": [{
                    "type": "INDIRECT",
                    "description": "read by a plugin to decide which rows go on (a predicate, a join key), not passed on",
                }],
            })
        })
        .collect();
    facet(
        COLUMN_LINEAGE_FACET,
        json!({"fields": fields, "dataset": rows}),
    )
}
