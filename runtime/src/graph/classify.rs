//! Classified columns (`classify: {email: pii}` on any node) and the
//! policies that say which classes may reach which sinks.
//!
//! A class travels with its column along the typed graph, through each
//! transform's column flows ([`super::flow`]): a column passed on (renamed
//! or not) keeps its classes, a computed one takes the classes of every
//! column it was computed from, so a plugin that copies an e-mail into a new
//! column passes the class on with it. The first-party `mask` plugin (named
//! `mask`, found in the plugin path) clears the classes of the columns it
//! masks. A column whose classes a policy does not allow at a sink refuses
//! the pipeline, naming the column, its way through the graph and the sink.

use std::collections::BTreeMap;

use super::flow::Flow;
use super::{Graph, Node, invalid};
use crate::{Error, Kind};

/// A column's classes, each with the way it came: `node.column` hops from
/// where it was classified.
pub type Classes = BTreeMap<String, Vec<String>>;

/// Every node's output columns' classes (for sinks: of their input), in
/// the graph's order; errors for `classify` naming no column.
pub fn classes(graph: &Graph) -> (Vec<Vec<Classes>>, Vec<Error>) {
    let mut all: Vec<Vec<Classes>> = Vec::with_capacity(graph.nodes.len());
    let mut errors = Vec::new();
    for node in &graph.nodes {
        // The inputs' classes, column by column (fan-in: one schema).
        let mut input: Vec<Classes> = Vec::new();
        for &i in &node.inputs {
            input.resize_with(input.len().max(all[i].len()), Classes::new);
            for (mine, theirs) in input.iter_mut().zip(&all[i]) {
                for (class, way) in theirs {
                    mine.entry(class.clone()).or_insert_with(|| way.clone());
                }
            }
        }
        let width = node.output_schema.as_ref().map_or(0, |s| s.fields().len());
        let mut own = match (node.kind(), node.flows()) {
            (Kind::Transform, Some(flows)) => flows
                .columns
                .iter()
                .map(|flow| match flow {
                    Flow::Passed(i) => input.get(*i).cloned().unwrap_or_default(),
                    Flow::Computed(from) => {
                        let mut union = Classes::new();
                        for i in from {
                            for (class, way) in input.get(*i).into_iter().flatten() {
                                union.entry(class.clone()).or_insert_with(|| way.clone());
                            }
                        }
                        union
                    }
                })
                .collect(),
            (Kind::Source, _) => vec![Classes::new(); width],
            _ => input,
        };
        let names = node
            .output_schema
            .as_ref()
            .map(|s| s.fields().iter().map(|f| f.name().clone()).collect())
            .unwrap_or_else(Vec::new);
        for (column, classes) in names.iter().zip(own.iter_mut()) {
            for way in classes.values_mut() {
                way.push(format!("{}.{column}", node.name));
            }
        }
        for column in masked(node) {
            if let Some(i) = names.iter().position(|n| *n == column) {
                own[i].clear();
            }
        }
        for (column, class) in &node.spec.classify {
            match names.iter().position(|n| n == column) {
                Some(i) => {
                    own[i].insert(class.clone(), vec![format!("{}.{column}", node.name)]);
                }
                None if node.kind() == Kind::Sink => errors.push(
                    invalid("field `classify`: a sink has no output columns to classify".into())
                        .at(&node.name),
                ),
                None => errors.push(
                    invalid(format!(
                        "field `classify`: no output column {column:?} (columns: {})",
                        names.join(", ")
                    ))
                    .at(&node.name),
                ),
            }
        }
        all.push(own);
    }
    (all, errors)
}

/// The columns a first-party `mask` node masks (the keys of its
/// `columns`); none for any other node.
fn masked(node: &Node) -> Vec<String> {
    match (
        node.runs_first_party("mask"),
        node.spec.config.get("columns"),
    ) {
        (true, Some(serde_json::Value::Object(columns))) => columns.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Every classified column that reaches a sink one of the pipeline's
/// policies does not allow it at.
pub fn check(graph: &Graph) -> Vec<Error> {
    let (classes, mut errors) = classes(graph);
    if graph.pipeline.policies.is_empty() {
        return errors;
    }
    for (node, columns) in graph.nodes.iter().zip(&classes) {
        if node.kind() != Kind::Sink {
            continue;
        }
        let names = node.input_schema.as_ref().map_or(&[][..], |s| s.fields());
        for (field, column) in names.iter().zip(columns) {
            for (class, way) in column {
                for policy in &graph.pipeline.policies {
                    let allowed = policy.allow.get(class);
                    if allowed.is_some_and(|sinks| sinks.contains(&node.name)) {
                        continue;
                    }
                    let only = match allowed {
                        Some(sinks) if !sinks.is_empty() => {
                            format!("lets {class} reach only {}", join(sinks.iter()))
                        }
                        _ => format!("lets {class} reach no sink"),
                    };
                    errors.push(
                        invalid(format!(
                            "column {:?} is {class} ({} -> {}), and the policy in {} {only}",
                            field.name(),
                            way.join(" -> "),
                            node.name,
                            policy.origin.display(),
                        ))
                        .at(&node.name),
                    );
                }
            }
        }
    }
    errors
}

fn join<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names.map(String::as_str).collect::<Vec<_>>().join(", ")
}
