//! Text renderings of a graph: the edge list with schemas (`weir
//! validate`), Mermaid and DOT (`weir graph`).

use std::fmt::Write;

use arrow::datatypes::Schema;

use super::Graph;
use crate::plugin::PluginEngine;
use crate::plugin::inspect::{Capability, imports};

/// `name: type, ...` on one line.
pub fn schema_line(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Graph {
    /// Every edge with the schema that crosses it, one per line; a
    /// classified column shows its classes (`email: Utf8 [pii]`).
    pub fn edges_report(&self) -> String {
        let (classes, _) = super::classify::classes(self);
        let mut out = String::new();
        for node in &self.nodes {
            for &input in &node.inputs {
                let from = &self.nodes[input];
                let fields = from.output_schema.as_ref().map_or(&[][..], |s| s.fields());
                let schema = fields
                    .iter()
                    .zip(
                        classes[input]
                            .iter()
                            .map(Some)
                            .chain(std::iter::repeat(None)),
                    )
                    .map(|(f, classes)| {
                        let tags: Vec<&str> = classes
                            .into_iter()
                            .flat_map(|c| c.keys())
                            .map(String::as_str)
                            .collect();
                        match tags.is_empty() {
                            true => format!("{}: {}", f.name(), f.data_type()),
                            false => {
                                format!("{}: {} [{}]", f.name(), f.data_type(), tags.join(", "))
                            }
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let _ = writeln!(out, "{} -> {}: {schema}", from.name, node.name);
            }
        }
        out
    }

    /// For every plugin node, what its component imports that needs a
    /// grant, and what the pipeline grants it, one line per node.
    pub fn capabilities_report(&self, engine: &PluginEngine) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            if out.is_empty() {
                out.push_str("capabilities (what each plugin imports beyond clocks, random and the log; what the pipeline grants):\n");
            }
            let Some(plugin) = node.implementation.plugin() else {
                continue;
            };
            // Imports that need a grant, by the capability they stand for.
            let mut needs: Vec<(&str, Vec<String>)> = Vec::new();
            for import in imports(engine, plugin) {
                let what = match import.capability {
                    // Stdout and stderr always go to the log; stdin is empty.
                    Capability::Host | Capability::Always | Capability::Stdio => continue,
                    Capability::Filesystem => "files",
                    Capability::Environment => "environment",
                    Capability::Network => "network",
                    Capability::Unknown => "unknown",
                };
                let name = import
                    .name
                    .split('@')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                match needs.iter_mut().find(|(w, _)| *w == what) {
                    Some((_, names)) => names.push(name),
                    None => needs.push((what, vec![name])),
                }
            }
            let needs: Vec<String> = needs
                .into_iter()
                .map(|(what, names)| format!("{what} [{}]", names.join(", ")))
                .collect();
            let mut grants: Vec<String> = node
                .grants
                .dirs
                .iter()
                .map(|d| {
                    let mode = if d.write { "read-write" } else { "read-only" };
                    format!("dir {} as {} ({mode})", d.host.display(), d.guest)
                })
                .collect();
            grants.extend(
                node.grants
                    .env
                    .iter()
                    .map(|(name, _)| format!("env {name}")),
            );
            let list = |items: &[String], none: &str| match items.is_empty() {
                true => none.to_string(),
                false => items.join(", "),
            };
            let _ = writeln!(
                out,
                "  {}: imports {}; granted {}",
                node.name,
                list(&needs, "nothing"),
                list(&grants, "nothing")
            );
        }
        out
    }

    fn label(&self, index: usize) -> String {
        let node = &self.nodes[index];
        let what = match (&node.spec.plugin, &node.spec.connector) {
            (Some(plugin), _) => format!("plugin {plugin}"),
            (None, Some(connector)) => connector.clone(),
            (None, None) => String::new(),
        };
        format!("{}\\n{what}", node.name)
    }
}

/// The graph as a Mermaid flowchart.
pub fn mermaid(graph: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    for (i, _) in graph.nodes.iter().enumerate() {
        let _ = writeln!(
            out,
            "    n{i}[\"{}\"]",
            graph.label(i).replace("\\n", "<br/>")
        );
    }
    for (i, node) in graph.nodes.iter().enumerate() {
        for &input in &node.inputs {
            let _ = writeln!(out, "    n{input} --> n{i}");
        }
    }
    out
}

/// The graph in Graphviz DOT.
pub fn dot(graph: &Graph) -> String {
    let mut out = String::from("digraph pipeline {\n    rankdir=LR;\n");
    for (i, _) in graph.nodes.iter().enumerate() {
        let _ = writeln!(out, "    n{i} [label=\"{}\"];", graph.label(i));
    }
    for (i, node) in graph.nodes.iter().enumerate() {
        for &input in &node.inputs {
            let _ = writeln!(out, "    n{input} -> n{i};");
        }
    }
    out.push_str("}\n");
    out
}
