//! The typed dataflow graph: a pipeline file resolved into nodes in
//! topological order, every plugin loaded and opened with its upstream
//! schema, and every edge typed. Errors are collected a class at a time
//! (structure, then implementations, then schemas) and all of a class are
//! reported together.

pub mod classify;
pub mod flow;
mod projection;
pub mod quality;
mod render;

use crate::plugin::PluginInstance;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;

use crate::Kind;
use crate::connectors::{Registry, SinkConnector, SinkContext, SourceConnector};
use crate::plugin::inspect::Capability;
use crate::plugin::{
    ColumnSource, DirGrant, Grants, Limits, OutputMode, Plugin, PluginEngine, SinkInstance,
    SourceInstance, TransformInstance,
};
use crate::spec::{LimitsSpec, NodeSpec, Pipeline};
use crate::{Error, Fault, Result, Stage};

/// A pipeline that is wrong as written (the user's to fix).
fn invalid(message: String) -> Error {
    Error::new(Stage::Graph, Fault::Configuration, message)
}

pub use render::{dot, mermaid, schema_line};

/// A checked pipeline, ready to run.
pub struct Graph {
    /// The pipeline file it was built from.
    pub pipeline: Pipeline,
    /// Nodes in topological order (every node after its inputs).
    pub nodes: Vec<Node>,
}

impl Graph {
    /// Puts every plugin instance of the graph under its tenant's `quota`.
    pub fn set_tenant_quota(&mut self, quota: &std::sync::Arc<crate::plugin::TenantQuota>) {
        for node in &mut self.nodes {
            node.limits.tenant = Some(quota.clone());
        }
    }
}

/// One node of the graph.
pub struct Node {
    /// Its name in the pipeline file.
    pub name: String,
    /// Its part of the pipeline file.
    pub spec: NodeSpec,
    /// What runs it (and so its kind).
    pub implementation: Implementation,
    /// Indices (into [`Graph::nodes`]) of its inputs.
    pub inputs: Vec<usize>,
    /// The schema it receives (not for sources).
    pub input_schema: Option<SchemaRef>,
    /// The schema it produces (not for sinks).
    pub output_schema: Option<SchemaRef>,
    /// For a transform whose plugin tracks event time (`wit/event-time.wit`):
    /// the input column that holds it.
    pub event_time: Option<usize>,
    /// Limits of its plugin instances.
    pub limits: Limits,
    /// Capabilities of its plugin instances.
    pub grants: Grants,
    /// For a transform: what its plugin said at open about its columns.
    pub columns: Option<ColumnPlan>,
    /// For a source: the rows it may leave unread, which every consumer
    /// would drop (see [`crate::connectors::skip`]).
    pub skip: Option<crate::connectors::skip::RowFilter>,
    /// The plugin instance the graph opened to learn the node's schemas,
    /// for the executor to run (see [`Opened`]).
    opened: std::sync::Mutex<Option<Opened>>,
}

/// What a transform's plugin said at open about its columns: the lineage
/// of its output columns follows from it.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnPlan {
    /// The input columns it reads; `None`: all of them.
    pub reads: Option<Vec<usize>>,
    /// Where each output column comes from (`Input` indexes the input
    /// schema), when the host lays out its output (derived mode); `None`
    /// when it answers whole batches.
    pub layout: Option<Vec<ColumnSource>>,
    /// What every row it passes on holds, by input column (`input-bounds`).
    pub bounds: Vec<(usize, crate::connectors::skip::Condition)>,
}

/// A plugin instance the graph opened to type a node, which the executor
/// runs instead of opening another: a plugin is opened once per run (the
/// contract says so; a source's `open` may connect or start a read). It is
/// the node's first instance (`name#0` of a parallel node); the executor
/// moves it under its tenant's quota and the node's meters
/// ([`SourceInstance::adopt`]).
pub enum Opened {
    /// A source plugin's instance.
    Source(Box<SourceInstance>),
    /// A transform plugin's instance.
    Transform(Box<TransformInstance>),
    /// A sink plugin's instance.
    Sink(Box<SinkInstance>),
}

impl Node {
    /// Source, transform or sink.
    pub fn kind(&self) -> Kind {
        self.implementation.kind()
    }

    /// Whether the node runs first-party plugin `name`, named as such in
    /// `plugin:` (found in the operator's plugin path; a `.wasm` path is
    /// never taken for it): the host trusts what `mask` and `expect` do.
    pub fn runs_first_party(&self, name: &str) -> bool {
        self.spec.plugin.as_deref().is_some_and(|p| {
            p == name
                || p.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with("@sha256:"))
        })
    }

    /// For a transform, how its input columns flow to its output.
    pub fn flows(&self) -> Option<flow::Flows> {
        let plan = self.columns.as_ref()?;
        let input = self.input_schema.as_ref()?;
        let output = self.output_schema.as_ref()?;
        Some(flow::flows(plan, input, output))
    }

    /// The name instance `instance` of the node's plugin runs as (in its
    /// log records and errors): the node's, `name#instance` when the node
    /// runs several.
    pub fn instance_name(&self, instance: usize) -> String {
        match self.spec.parallelism {
            1 => self.name.clone(),
            _ => format!("{}#{instance}", self.name),
        }
    }

    /// Takes the instance the graph opened for this node, if it kept one
    /// and nobody took it yet.
    pub fn take_opened(&self) -> Option<Opened> {
        self.opened.lock().expect("opened lock").take()
    }
}

/// What runs a node; its variant is the node's kind.
#[derive(Clone)]
pub enum Implementation {
    /// A source: a native connector or a plugin.
    Source(Runner<Arc<dyn SourceConnector>>),
    /// A transform: a plugin.
    Transform(Plugin),
    /// A sink: a native connector or a plugin.
    Sink(Runner<Arc<dyn SinkConnector>>),
}

/// What runs a source or a sink: a native connector `C` or a Wasm plugin.
#[derive(Clone)]
pub enum Runner<C> {
    /// A native connector, configured.
    Connector(C),
    /// A Wasm component.
    Plugin(Plugin),
}

impl Implementation {
    /// The kind of node it runs.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Source(_) => Kind::Source,
            Self::Transform(_) => Kind::Transform,
            Self::Sink(_) => Kind::Sink,
        }
    }

    /// Its plugin, unless it is a native connector.
    pub fn plugin(&self) -> Option<&Plugin> {
        match self {
            Self::Source(Runner::Plugin(plugin))
            | Self::Transform(plugin)
            | Self::Sink(Runner::Plugin(plugin)) => Some(plugin),
            Self::Source(Runner::Connector(_)) | Self::Sink(Runner::Connector(_)) => None,
        }
    }
}

/// The class of a graph error; only the first class found is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Inputs, cycles, dangling nodes.
    Structure,
    /// Connector types and configs, plugin files.
    Implementation,
    /// Plugins refusing their config or input, fan-in mismatches.
    Schema,
    /// `classify` naming no column; classified columns reaching sinks a
    /// policy does not allow them at.
    Policy,
}

/// A pipeline whose graph cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("{}: {} {} error(s):\n{}", path.display(), errors.len(), class.describe(), errors.iter().map(|e| format!("  - {}", e.with_causes())).collect::<Vec<_>>().join("\n"))]
pub struct GraphError {
    /// The pipeline file.
    pub path: PathBuf,
    /// The class of every error listed.
    pub class: ErrorClass,
    /// Every error, each naming its node (when it is of one).
    pub errors: Vec<Error>,
}

impl ErrorClass {
    fn describe(self) -> &'static str {
        match self {
            ErrorClass::Structure => "graph",
            ErrorClass::Implementation => "connector or plugin",
            ErrorClass::Schema => "schema",
            ErrorClass::Policy => "classification or policy",
        }
    }
}

impl Graph {
    /// Builds and checks the graph of `pipeline`, loading plugins into
    /// `engine`, with Weir's own connectors.
    pub fn build(pipeline: Pipeline, engine: &PluginEngine) -> Result<Self, GraphError> {
        Self::build_with(pipeline, engine, &Registry::builtin())
    }

    /// Builds and checks the graph of `pipeline`, loading plugins into
    /// `engine` and making connectors from `registry`.
    pub fn build_with(
        pipeline: Pipeline,
        engine: &PluginEngine,
        registry: &Registry,
    ) -> Result<Self, GraphError> {
        Self::build_for(pipeline, engine, registry, false)
    }

    /// Builds the graph of `pipeline` to describe it (`weir catalog`), not
    /// to run it: sinks do not refuse what their targets hold already.
    pub fn build_to_describe(
        pipeline: Pipeline,
        engine: &PluginEngine,
    ) -> Result<Self, GraphError> {
        Self::build_for(pipeline, engine, &Registry::builtin(), true)
    }

    fn build_for(
        pipeline: Pipeline,
        engine: &PluginEngine,
        registry: &Registry,
        describing: bool,
    ) -> Result<Self, GraphError> {
        let fail = |class, errors: Vec<Error>| GraphError {
            path: pipeline.path.clone(),
            class,
            errors,
        };
        let order = structure(&pipeline).map_err(|e| fail(ErrorClass::Structure, e))?;

        let mut errors = Vec::new();
        let mut nodes: Vec<Node> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (section, name, spec) in order {
            let grants = match grants(&pipeline, spec) {
                Ok(grants) => grants,
                Err(error) => {
                    errors.push(error.at(name));
                    continue;
                }
            };
            let implementation =
                match implementation(&pipeline, engine, registry, section, spec, &grants) {
                    Ok(implementation) => implementation,
                    Err(error) => {
                        errors.push(error.at(name));
                        continue;
                    }
                };
            index.insert(name.to_string(), nodes.len());
            nodes.push(Node {
                name: name.to_string(),
                inputs: spec
                    .inputs
                    .iter()
                    .filter_map(|i| index.get(i).copied())
                    .collect(),
                spec: spec.clone(),
                implementation,
                input_schema: None,
                output_schema: None,
                event_time: None,
                columns: None,
                skip: None,
                limits: limits(&spec.limits),
                grants,
                opened: Default::default(),
            });
        }
        // Nodes that could be made are still typed, so one round shows
        // every mistake; the class is that of the first.
        let class = match errors.is_empty() {
            true => ErrorClass::Schema,
            false => ErrorClass::Implementation,
        };

        // A transform that failed is assumed to pass its input through, so
        // the nodes after it are still checked and every config mistake of
        // the pipeline shows in one round; their errors say so.
        let mut assumed: Vec<Option<String>> = vec![None; nodes.len()];
        for i in 0..nodes.len() {
            let upstream_failed = nodes[i].inputs.len() < nodes[i].spec.inputs.len()
                || nodes[i]
                    .inputs
                    .iter()
                    .any(|&j| nodes[j].output_schema.is_none());
            if upstream_failed {
                continue; // Its input's error is reported already.
            }
            let guess = nodes[i].inputs.iter().find_map(|&j| assumed[j].clone());
            if let Err(error) = type_node(engine, &pipeline, &mut nodes, i, describing) {
                errors.push(
                    match &guess {
                        Some(failed) => error.context(format!(
                            "checked as if {failed:?}, which failed, passed its input through"
                        )),
                        None => error,
                    }
                    .at(&nodes[i].name),
                );
                if nodes[i].kind() == Kind::Transform
                    && let [input] = nodes[i].inputs[..]
                {
                    nodes[i].output_schema = nodes[input].output_schema.clone();
                    assumed[i] = Some(guess.unwrap_or_else(|| nodes[i].name.clone()));
                }
            } else if guess.is_some() {
                assumed[i] = guess;
            }
        }
        if !errors.is_empty() {
            return Err(fail(class, errors));
        }
        // Described (`weir catalog`), a source shows its dataset's columns;
        // run, it reads only those its consumers take.
        if !describing {
            project_sources(engine, &pipeline, &mut nodes)
                .map_err(|error| fail(ErrorClass::Schema, vec![error]))?;
            for i in 0..nodes.len() {
                nodes[i].skip = row_filter(&nodes, i);
            }
        }
        let graph = Self { pipeline, nodes };
        let refused = classify::check(&graph);
        if !refused.is_empty() {
            return Err(GraphError {
                path: graph.pipeline.path.clone(),
                class: ErrorClass::Policy,
                errors: refused,
            });
        }
        Ok(graph)
    }
}

/// Narrows the output of each source that can read fewer columns
/// ([`SourceConnector::projects`]: Parquet files) to the columns its
/// consumers take, then types again the nodes whose input that changed
/// (their plugins are opened again, with the narrower input). A source
/// feeding a node with several inputs keeps all its columns: fan-in needs
/// equal schemas. Should a plugin refuse the narrower input, every source
/// keeps all its columns, as before.
fn project_sources(
    engine: &PluginEngine,
    pipeline: &Pipeline,
    nodes: &mut [Node],
) -> std::result::Result<(), Error> {
    let full: Vec<Option<SchemaRef>> = nodes.iter().map(|n| n.output_schema.clone()).collect();
    if let Err(error) = narrow_sources(engine, pipeline, nodes) {
        tracing::debug!(%error, "sources read every column: a plugin refused fewer");
        for (node, schema) in nodes.iter_mut().zip(&full) {
            if node.kind() == Kind::Source {
                node.output_schema = schema.clone();
            }
        }
        let changed: Vec<bool> = nodes.iter().map(|n| n.kind() == Kind::Source).collect();
        return retype(engine, pipeline, nodes, changed);
    }
    Ok(())
}

fn narrow_sources(
    engine: &PluginEngine,
    pipeline: &Pipeline,
    nodes: &mut [Node],
) -> std::result::Result<(), Error> {
    let used = projection::used_columns(nodes);
    let mut changed = vec![false; nodes.len()];
    for (i, used) in used.iter().enumerate() {
        let Implementation::Source(Runner::Connector(source)) = &nodes[i].implementation else {
            continue;
        };
        let schema = nodes[i].output_schema.clone().expect("typed");
        let fans_in = nodes
            .iter()
            .any(|n| n.inputs.len() > 1 && n.inputs.contains(&i));
        if !source.projects() || fans_in || used.is_empty() || used.len() == schema.fields().len() {
            continue;
        }
        let columns: Vec<usize> = used.iter().copied().collect();
        let projected = schema
            .project(&columns)
            .expect("used columns are the schema's");
        nodes[i].output_schema = Some(Arc::new(projected));
        changed[i] = true;
    }
    retype(engine, pipeline, nodes, changed)
}

/// Types again, in order, the nodes an input of which `changed`.
fn retype(
    engine: &PluginEngine,
    pipeline: &Pipeline,
    nodes: &mut [Node],
    mut changed: Vec<bool>,
) -> std::result::Result<(), Error> {
    for i in 0..nodes.len() {
        if !nodes[i].inputs.iter().any(|&j| changed[j]) {
            continue;
        }
        let before = nodes[i].output_schema.clone();
        type_node(engine, pipeline, nodes, i, false).map_err(|e| e.at(&nodes[i].name))?;
        changed[i] = nodes[i].output_schema != before;
    }
    Ok(())
}

/// For connector source `i`, if it can leave rows unread: the rows every
/// consumer stated it drops (see [`crate::connectors::skip`]); `None` when
/// some consumer states nothing.
fn row_filter(nodes: &[Node], i: usize) -> Option<crate::connectors::skip::RowFilter> {
    use crate::connectors::skip::{Bound, RowFilter};
    let Implementation::Source(Runner::Connector(source)) = &nodes[i].implementation else {
        return None;
    };
    if !source.skips() {
        return None;
    }
    let consumers = nodes
        .iter()
        .filter(|n| n.inputs.contains(&i))
        .map(|consumer| {
            let plan = consumer.columns.as_ref()?;
            let input = consumer.input_schema.as_ref()?;
            let bounds: Vec<Bound> = plan
                .bounds
                .iter()
                .map(|(column, condition)| Bound {
                    column: input.field(*column).name().clone(),
                    condition: condition.clone(),
                })
                .collect();
            (!bounds.is_empty()).then_some(bounds)
        })
        .collect::<Option<Vec<_>>>()?;
    Some(RowFilter { consumers })
}

/// One cycle of the graph, if it has one: its nodes in the order data
/// would flow, the first repeated at the end. Inputs naming no node are
/// left out (reported on their own).
fn find_cycle(pipeline: &Pipeline) -> Option<Vec<&str>> {
    let inputs: HashMap<&str, Vec<&str>> = pipeline
        .nodes()
        .map(|(_, name, spec)| (name, spec.inputs.iter().map(String::as_str).collect()))
        .collect();
    // Depth-first along inputs; a node met again on the current path
    // closes a cycle.
    let mut done: std::collections::HashSet<&str> = Default::default();
    for (_, start, _) in pipeline.nodes() {
        let mut path: Vec<&str> = Vec::new();
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        while let Some((node, next)) = stack.pop() {
            if next == 0 {
                if done.contains(node) {
                    continue;
                }
                if let Some(at) = path.iter().position(|n| *n == node) {
                    // The path runs against the data's flow: reverse it.
                    let mut cycle: Vec<&str> = path[at..].to_vec();
                    cycle.reverse();
                    cycle.push(cycle[0]);
                    return Some(cycle);
                }
                path.push(node);
            }
            let upstream = inputs.get(node).map_or(&[][..], Vec::as_slice);
            match upstream.get(next) {
                Some(&input) if inputs.contains_key(input) => {
                    stack.push((node, next + 1));
                    stack.push((input, 0));
                }
                Some(_) => stack.push((node, next + 1)),
                None => {
                    done.insert(node);
                    path.pop();
                }
            }
        }
    }
    None
}

/// Checks inputs, sections and cycles; returns the nodes in topological
/// order.
fn structure(pipeline: &Pipeline) -> Result<Vec<(Kind, &str, &NodeSpec)>, Vec<Error>> {
    let mut errors: Vec<String> = Vec::new();
    let mut sections: HashMap<&str, Kind> = HashMap::new();
    for (section, name, _) in pipeline.nodes() {
        if let Some(first) = sections.insert(name, section) {
            errors.push(format!(
                "node {name:?} is defined in both {} and {}; names are unique across sections",
                first.section(),
                section.section()
            ));
        }
    }
    let mut read: HashMap<&str, usize> = HashMap::new();
    for (section, name, spec) in pipeline.nodes() {
        match section {
            Kind::Source if !spec.inputs.is_empty() => {
                errors.push(format!(
                    "source {name:?} has inputs; sources produce data and take none"
                ));
            }
            Kind::Transform | Kind::Sink if spec.inputs.is_empty() => {
                errors.push(format!(
                    "{} {name:?} has no inputs; list upstream nodes in `inputs`",
                    section.name()
                ));
            }
            _ => {}
        }
        for input in &spec.inputs {
            match sections.get(input.as_str()) {
                None => errors.push(format!(
                    "node {name:?} reads {input:?}, which is not a node of this pipeline"
                )),
                Some(Kind::Sink) => errors.push(format!(
                    "node {name:?} reads sink {input:?}; sinks produce nothing"
                )),
                Some(_) => *read.entry(input.as_str()).or_default() += 1,
            }
        }
    }
    for (section, name, _) in pipeline.nodes() {
        if section != Kind::Sink && !read.contains_key(name) {
            errors.push(format!(
                "{} {name:?} is dangling: no node reads its output",
                section.name()
            ));
        }
    }
    if let Some(cycle) = find_cycle(pipeline) {
        let names: Vec<String> = cycle.iter().map(|n| format!("{n:?}")).collect();
        errors.push(format!(
            "the graph has a cycle: {}; data must flow from sources to sinks",
            names.join(" -> ")
        ));
    }
    if pipeline.sources.is_empty() {
        errors.push("the pipeline has no sources".into());
    }
    if pipeline.sinks.is_empty() {
        errors.push("the pipeline has no sinks".into());
    }
    for (field, folder) in [
        ("dead_letters", &pipeline.dead_letter_dir),
        ("state", &pipeline.state_dir),
    ] {
        if let Some(why) = crate::connectors::unwritable_folder(folder) {
            errors.push(format!("field `{field}`: {why}"));
        }
    }
    if !errors.is_empty() {
        return Err(errors.into_iter().map(invalid).collect());
    }

    // Kahn's algorithm, keeping file order among ready nodes.
    let all: Vec<_> = pipeline.nodes().collect();
    let mut placed: Vec<(Kind, &str, &NodeSpec)> = Vec::new();
    let mut done: std::collections::HashSet<&str> = Default::default();
    while placed.len() < all.len() {
        let ready: Vec<_> = all
            .iter()
            .filter(|(_, name, spec)| {
                !done.contains(name) && spec.inputs.iter().all(|i| done.contains(i.as_str()))
            })
            .copied()
            .collect();
        if ready.is_empty() {
            let stuck: Vec<_> = all
                .iter()
                .filter(|(_, n, _)| !done.contains(n))
                .map(|(_, n, _)| format!("{n:?}"))
                .collect();
            return Err(vec![invalid(format!(
                "the graph has a cycle through {}",
                stuck.join(", ")
            ))]);
        }
        for node in ready {
            done.insert(node.1);
            placed.push(node);
        }
    }
    Ok(placed)
}

/// The limits of an instance with `spec`'s numbers, defaults for the rest
/// (and no tenant quota: the run adds it).
pub fn limits(spec: &LimitsSpec) -> Limits {
    let mut limits = Limits::default();
    if let Some(mib) = spec.memory_mib {
        limits.max_memory_bytes = mib << 20;
    }
    if let Some(ms) = spec.call_timeout_ms {
        limits.call_timeout = Duration::from_millis(ms);
    }
    if let Some(rows) = spec.max_output_rows {
        limits.max_output_rows = rows;
    }
    if let Some(instances) = spec.max_instances {
        limits.max_instances = instances;
    }
    if let Some(tables) = spec.max_tables {
        limits.max_tables = tables;
    }
    if let Some(mib) = spec.max_output_mib {
        limits.max_output_bytes = mib << 20;
    }
    limits
}

/// Loads a node's plugin or configures its connector.
fn implementation(
    pipeline: &Pipeline,
    engine: &PluginEngine,
    registry: &Registry,
    section: Kind,
    spec: &NodeSpec,
    grants: &Grants,
) -> Result<Implementation> {
    if let Some(kind) = &spec.connector {
        if !spec.capabilities.is_empty() {
            return Err(invalid(format!(
                "field `capabilities`: connector {kind:?} runs in the host; capabilities are granted to plugins"
            )));
        }
        let (config, base_dir) = (&spec.config, &pipeline.base_dir);
        let built = match section {
            Kind::Source => registry
                .build_source(kind, config, base_dir)
                .map(|c| Implementation::Source(Runner::Connector(c))),
            Kind::Sink => registry
                .build_sink(kind, config, base_dir)
                .map(|c| Implementation::Sink(Runner::Connector(c))),
            Kind::Transform => Err(crate::connectors::config_error(
                "type",
                &format!(
                    "there are no native transforms; use `plugin` (e.g. plugin: filter) instead of type {kind:?}"
                ),
            )),
        };
        return built.map_err(|e| Error::connector(Stage::Graph, e));
    }
    let reference = spec.plugin.as_deref().expect("checked by the spec");
    let plugin = load_plugin(reference, &pipeline.base_dir, engine)?;
    let path = plugin.name().to_string();
    if plugin.world() != section {
        return Err(invalid(format!(
            "field `plugin`: {path} is a {} plugin, but this node is one of the {}",
            plugin.world(),
            section.section()
        )));
    }
    check_imports(engine, &plugin, grants)?;
    Ok(match section {
        Kind::Source => Implementation::Source(Runner::Plugin(plugin)),
        Kind::Transform => Implementation::Transform(plugin),
        Kind::Sink => Implementation::Sink(Runner::Plugin(plugin)),
    })
}

/// Refuses a plugin that imports what Weir never offers (network) or what
/// the node does not grant (files without `dirs`), naming the import.
fn check_imports(engine: &PluginEngine, plugin: &Plugin, grants: &Grants) -> Result<()> {
    let imports = crate::plugin::inspect::imports(engine, plugin);
    let find = |capability| imports.iter().find(|i| i.capability == capability);
    if let Some(import) = find(Capability::Network) {
        return Err(invalid(format!(
            "field `plugin`: {} imports {} (network), which Weir does not offer to plugins",
            plugin.name(),
            import.name
        )));
    }
    if let Some(import) = find(Capability::Filesystem)
        && grants.dirs.is_empty()
    {
        return Err(invalid(format!(
            "field `capabilities`: {} imports {} (files), but this node grants no `dirs`",
            plugin.name(),
            import.name
        )));
    }
    Ok(())
}

/// The capabilities a node grants, checked: directories exist, guest paths
/// are absolute, environment variables are set.
fn grants(pipeline: &Pipeline, spec: &NodeSpec) -> Result<Grants> {
    let capabilities = &spec.capabilities;
    let mut grants = Grants::default();
    for (n, dir) in capabilities.dirs.iter().enumerate() {
        let host = pipeline.base_dir.join(&dir.host);
        if !host.is_dir() {
            return Err(invalid(format!(
                "field `capabilities.dirs[{n}].host`: {} is not a directory",
                host.display()
            )));
        }
        if !dir.guest.starts_with('/') {
            return Err(invalid(format!(
                "field `capabilities.dirs[{n}].guest`: {:?} must be an absolute path such as /data",
                dir.guest
            )));
        }
        grants.dirs.push(DirGrant {
            host,
            guest: dir.guest.clone(),
            write: dir.write,
        });
    }
    for (n, name) in capabilities.env.iter().enumerate() {
        let value = std::env::var(name).map_err(|_| {
            invalid(format!(
                "field `capabilities.env[{n}]`: {name} is not set in weir's environment"
            ))
        })?;
        grants.env.push((name.clone(), value));
    }
    Ok(grants)
}

/// Splits `name@sha256:HEX` (or `path.wasm@sha256:HEX`) into the reference
/// and the pinned digest.
fn split_digest(reference: &str) -> Result<(&str, Option<&str>)> {
    let Some((reference, digest)) = reference.rsplit_once("@sha256:") else {
        return Ok((reference, None));
    };
    if digest.len() != 64 || !digest.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(invalid(format!(
            "field `plugin`: a pinned digest is `@sha256:` and 64 hex digits, got {digest:?}"
        )));
    }
    Ok((reference, Some(digest)))
}

/// Loads the component a `plugin:` reference names (a path or a name,
/// optionally pinned `@sha256:...`; a pinned digest must match).
pub fn load_plugin(reference: &str, base_dir: &Path, engine: &PluginEngine) -> Result<Plugin> {
    let (reference, pinned) = split_digest(reference)?;
    let path = resolve_plugin(reference, base_dir).map_err(|e| e.context("field `plugin`"))?;
    match pinned {
        Some(digest) => engine.load_file_pinned(&path, &digest.to_ascii_lowercase()),
        None => engine.load_file(&path),
    }
    .map_err(|e| Error::plugin(Stage::Graph, e).context("field `plugin`"))
}

/// Where a `plugin:` reference points: a path (relative to the pipeline
/// file) or a first-party plugin name looked up in `WEIR_PLUGIN_PATH`.
pub fn resolve_plugin(reference: &str, base_dir: &Path) -> Result<PathBuf> {
    if reference.contains('/') || reference.ends_with(".wasm") {
        let path = base_dir.join(reference);
        return match path.is_file() {
            true => Ok(path),
            false => Err(invalid(format!("no file {}", path.display()))),
        };
    }
    let file_names = [
        format!("{reference}.wasm"),
        format!("weir_plugin_{}.wasm", reference.replace('-', "_")),
    ];
    let dirs = plugin_dirs();
    dirs.iter()
        .flat_map(|dir| file_names.iter().map(move |f| dir.join(f)))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            invalid(format!(
                "no plugin named {reference:?} in {} (set WEIR_PLUGIN_PATH to the folders of your plugins, or give a path to a .wasm file)",
                match dirs.is_empty() {
                    true => "any plugin folder".to_string(),
                    false => dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
                }
            ))
        })
}

/// Every plugin a pipeline can name, with its file, sorted by name: the
/// `.wasm` files of the plugin folders ([`plugin_dirs`]); of two with one
/// name, the one a pipeline would load.
pub fn named_plugins() -> Vec<(String, PathBuf)> {
    let mut named: std::collections::BTreeMap<String, PathBuf> = Default::default();
    for dir in plugin_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        files.sort();
        for file in files {
            let Some(stem) = file.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let name = match stem.strip_prefix("weir_plugin_") {
                Some(name) => name.replace('_', "-"),
                None => stem.to_string(),
            };
            named.entry(name).or_insert(file);
        }
    }
    named.into_iter().collect()
}

/// Folders searched for plugins by name: `WEIR_PLUGIN_PATH`, then `plugins/`
/// next to the `weir` binary.
pub fn plugin_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("WEIR_PLUGIN_PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("plugins")))
    {
        dirs.push(dir);
    }
    // Each folder once, in the order first named (for lookups and messages).
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|dir| seen.insert(dir.clone()));
    dirs
}

/// Learns node `i`'s schemas from its inputs and its plugin or connector.
fn type_node(
    engine: &PluginEngine,
    pipeline: &Pipeline,
    nodes: &mut [Node],
    i: usize,
    describing: bool,
) -> Result<()> {
    let path = &pipeline.path;
    let input_schema = match nodes[i].inputs.as_slice() {
        [] => None,
        [first, rest @ ..] => {
            let schema = nodes[*first]
                .output_schema
                .clone()
                .expect("inputs typed first");
            for other in rest {
                let theirs = nodes[*other]
                    .output_schema
                    .as_ref()
                    .expect("inputs typed first");
                if theirs.fields() != schema.fields() {
                    return Err(invalid(format!(
                        "inputs {:?} and {:?} have different schemas; fan-in needs equal schemas:\n      {:?}: {}\n      {:?}: {}",
                        nodes[*first].name,
                        nodes[*other].name,
                        nodes[*first].name,
                        render::schema_line(&schema),
                        nodes[*other].name,
                        render::schema_line(theirs)
                    )));
                }
            }
            Some(schema)
        }
    };
    let node = &nodes[i];
    let config = node.spec.config.to_string();
    // A config the plugin refuses is pointed at in the pipeline file.
    let refused_config = |error: crate::plugin::PluginError| {
        let at = node
            .spec
            .config_at
            .filter(|_| error.guest_kind() == Some(crate::plugin::GuestErrorKind::InvalidConfig));
        let error = Error::plugin(Stage::Open, error);
        match at {
            Some((line, column)) => {
                error.context(format!("config at {}:{line}:{column}", path.display()))
            }
            None => error,
        }
    };
    let (mut event_time, mut opened, mut columns) = (None, None, None);
    // Opened as the node's first instance, which runs it.
    let name = node.instance_name(0);
    let output_schema = match &node.implementation {
        Implementation::Source(Runner::Connector(source)) => {
            let schema = source
                .schema()
                .map_err(|e| Error::connector(Stage::Open, e))?;
            if source.infers_schema() {
                tracing::warn!(node = %node.name, schema = %render::schema_line(&schema), "schema read off the first records; declare `schema` in the config to fix it");
            }
            Some(schema)
        }
        Implementation::Sink(Runner::Connector(sink)) => {
            let schema = input_schema.as_ref().expect("sinks have inputs");
            sink.check(schema, &sink_context(pipeline, nodes, i, describing))
                .map_err(|e| Error::connector(Stage::Open, e))?;
            None
        }
        Implementation::Source(Runner::Plugin(plugin)) => {
            let mut instance =
                SourceInstance::with_grants(engine, plugin, &name, &node.limits, &node.grants)
                    .map_err(|e| Error::plugin(Stage::Open, e))?;
            let schema = instance.open(&config).map_err(refused_config)?;
            opened = Some(Opened::Source(Box::new(instance)));
            Some(schema)
        }
        Implementation::Transform(plugin) => {
            let mut instance =
                TransformInstance::with_grants(engine, plugin, &name, &node.limits, &node.grants)
                    .map_err(|e| Error::plugin(Stage::Open, e))?;
            let input = input_schema.as_ref().expect("transforms have inputs");
            let output = instance.open(&config, input).map_err(refused_config)?;
            event_time = instance.event_time();
            columns = Some(ColumnPlan {
                reads: instance.reads().map(<[usize]>::to_vec),
                bounds: instance.input_bounds().to_vec(),
                layout: match instance.output_mode() {
                    // The host's layout indexes the columns it passes on.
                    Some(OutputMode::Derived {
                        layout,
                        passthrough,
                    }) => Some(
                        layout
                            .iter()
                            .map(|source| match source {
                                ColumnSource::Input(p) => ColumnSource::Input(passthrough[*p]),
                                appended => *appended,
                            })
                            .collect(),
                    ),
                    _ => None,
                },
            });
            if let Some(column) = event_time
                && let Some(refused) = event_time_refused(nodes, i, input.field(column).name())
            {
                return Err(invalid(refused));
            }
            opened = Some(Opened::Transform(Box::new(instance)));
            Some(output)
        }
        Implementation::Sink(Runner::Plugin(plugin)) => {
            let mut instance =
                SinkInstance::with_grants(engine, plugin, &name, &node.limits, &node.grants)
                    .map_err(|e| Error::plugin(Stage::Open, e))?;
            instance
                .open(&config, input_schema.as_ref().expect("sinks have inputs"))
                .map_err(refused_config)?;
            opened = Some(Opened::Sink(Box::new(instance)));
            None
        }
    };
    let node = &mut nodes[i];
    node.input_schema = input_schema;
    node.output_schema = output_schema;
    node.event_time = event_time;
    node.columns = columns;
    node.opened = std::sync::Mutex::new(opened);
    Ok(())
}

/// What sink `i` is told about the run (see [`SinkContext`]).
fn sink_context(pipeline: &Pipeline, nodes: &[Node], i: usize, describing: bool) -> SinkContext {
    let continues = nodes.iter().any(|node| match &node.implementation {
        Implementation::Source(Runner::Connector(source)) => source.continues(),
        // A plugin source resumes after a crash from its stored position.
        Implementation::Source(Runner::Plugin(_)) => true,
        Implementation::Transform(_) | Implementation::Sink(_) => false,
    });
    SinkContext {
        pipeline: pipeline.name.clone(),
        node: nodes[i].name.clone(),
        continues,
        describing,
    }
}

impl Graph {
    /// What sink node `i` is told about the run (see [`SinkContext`]).
    pub fn sink_context(&self, i: usize) -> SinkContext {
        sink_context(&self.pipeline, &self.nodes, i, false)
    }

    /// The producers of the rows that reach node `i`: every source and
    /// event-time transform upstream, found through the other transforms.
    pub fn producers(&self, i: usize) -> Vec<String> {
        let (producers, _) = upstream(&self.nodes, i);
        producers
            .into_iter()
            .map(|j| self.nodes[j].name.clone())
            .collect()
    }

    /// Whether a source feeding node `i` leaves input unread by the bounds
    /// node `i` stated (`input-bounds`): a hot reload must then keep them.
    pub fn input_skipped_by_bounds(&self, i: usize) -> bool {
        self.nodes[i]
            .inputs
            .iter()
            .any(|&source| self.nodes[source].skip.is_some())
    }

    /// Whether node `i` is a producer whose parts an event-time clock
    /// downstream waits for (else it need not announce them).
    pub fn feeds_event_time(&self, i: usize) -> bool {
        (0..self.nodes.len())
            .filter(|&j| self.nodes[j].event_time.is_some())
            .any(|j| upstream(&self.nodes, j).0.contains(&i))
    }
}

/// What lies upstream of node `i` for event time: the producers (sources
/// and event-time transforms, in graph order) and the transforms between
/// them and `i`.
fn upstream(nodes: &[Node], i: usize) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let (mut producers, mut between) = (BTreeSet::new(), BTreeSet::new());
    let mut todo = nodes[i].inputs.clone();
    while let Some(j) = todo.pop() {
        let node = &nodes[j];
        if node.kind() == Kind::Source || node.event_time.is_some() {
            producers.insert(j);
        } else if between.insert(j) {
            todo.extend(&node.inputs);
        }
    }
    (producers, between)
}

/// Why an event-time transform at node `i` cannot run as the graph stands:
/// it runs in parallel, or rows reach it through a transform that does
/// (its instances may reorder the rows of one Kafka partition or file, so a
/// part's rows could arrive behind the clock).
fn event_time_refused(nodes: &[Node], i: usize, column: &str) -> Option<String> {
    if nodes[i].spec.parallelism > 1 {
        return Some(format!(
            "its plugin tracks event time (in input column {column:?}) and runs as one instance; remove `parallelism`"
        ));
    }
    let (_, between) = upstream(nodes, i);
    let parallel = between
        .into_iter()
        .map(|j| &nodes[j])
        .find(|n| n.spec.parallelism > 1)?;
    Some(format!(
        "its plugin tracks event time (in input column {column:?}), and its input passes through {:?}, which runs with `parallelism: {}`: its instances may reorder the rows of one partition or file, making them late; run {:?} as one instance",
        parallel.name, parallel.spec.parallelism, parallel.name
    ))
}
