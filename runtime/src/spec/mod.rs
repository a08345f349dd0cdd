//! The pipeline file: YAML with named `sources`, `transforms` and `sinks`
//! (the shape Vector users know), environment substitution, and errors that
//! name the file, the node, the field, and the line where known.

mod env;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;

use crate::Kind;

pub use env::{MissingVar, substitute};

/// A parsed pipeline file.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The file it was read from.
    pub path: PathBuf,
    /// Folder that relative paths in the file are resolved against: the
    /// file's own folder.
    pub base_dir: PathBuf,
    /// Folder of the dead-letter files (one JSON-lines file per node).
    pub dead_letter_dir: PathBuf,
    /// Folder where resuming sources record how far they read
    /// (`<state>/<node>.json`) and stateful transforms their last
    /// checkpointed state (`<state>/<node>.state`).
    pub state_dir: PathBuf,
    /// How often sources commit what every sink has made durable, sinks
    /// flush and stateful transforms store their state.
    pub checkpoint_interval: std::time::Duration,
    /// The pipeline's name in logs, metrics, the admin API and the audit
    /// log: its `name:`, or the file's stem (see [`make_names_unique`]).
    pub name: String,
    /// Whether `name` was written in the file (not taken from its stem).
    pub named: bool,
    /// Who the pipeline runs for, and that tenant's quotas.
    pub tenant: TenantSpec,
    /// Most dead letters of the whole run, past which it fails (exit 3).
    pub max_dead_letters: Option<DeadLetterBudget>,
    /// The audit log (JSON lines) of plugin loads, restarts and breaches.
    pub audit_log: PathBuf,
    /// Where the run's OpenLineage events go, if anywhere.
    pub lineage: Option<LineageSpec>,
    /// Who answers for the pipeline and its outputs (`weir catalog`).
    pub owner: Option<String>,
    /// What the pipeline is for.
    pub description: Option<String>,
    /// Labels to find it by.
    pub tags: Vec<String>,
    /// Which classes of columns may reach which sinks: the pipeline's own
    /// `policy:` and the shared policy file it names; a column reaches a
    /// sink only if every one of them allows its classes there.
    pub policies: Vec<Policy>,
    /// Nodes that produce data.
    pub sources: IndexMap<String, NodeSpec>,
    /// Nodes that transform data.
    pub transforms: IndexMap<String, NodeSpec>,
    /// Nodes that consume data.
    pub sinks: IndexMap<String, NodeSpec>,
}

/// `lineage:`: where a run's OpenLineage events go.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineageSpec {
    /// The job's namespace (default `weir`); the job's name is the
    /// pipeline's.
    #[serde(default = "default_lineage_namespace")]
    pub namespace: String,
    /// A file the events are appended to, one JSON object a line
    /// (relative to the pipeline file).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// An OpenLineage HTTP endpoint (Marquez: `http://host:5000`): events
    /// are POSTed to `<url>/api/v1/lineage`.
    #[serde(default)]
    pub url: Option<String>,
    /// Sent as `Authorization: Bearer <api_key>` (`${ENV}` in the file).
    #[serde(default)]
    pub api_key: Option<String>,
}

fn default_lineage_namespace() -> String {
    "weir".into()
}

/// `policy:`: which classes of columns may reach which sinks.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// A class and the sinks (node names) it may reach; a class not listed
    /// may reach none.
    #[serde(default)]
    pub allow: BTreeMap<String, BTreeSet<String>>,
    /// A shared policy file (a tenant's: `allow:` only), relative to the
    /// pipeline file; it applies as well as `allow`.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// A shared policy file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    allow: BTreeMap<String, BTreeSet<String>>,
}

/// One policy a pipeline's columns must keep.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Where it is written: `policy:` of the pipeline file, or the shared
    /// file.
    pub origin: PathBuf,
    /// A class and the sinks it may reach; a class not listed may reach
    /// none.
    pub allow: BTreeMap<String, BTreeSet<String>>,
}

/// The policies `spec` (of the pipeline file `path` in `base_dir`) stands
/// for: its `allow`, and its shared file's.
fn policies(path: &Path, base_dir: &Path, spec: PolicySpec) -> Result<Vec<Policy>, SpecError> {
    let mut policies = vec![Policy {
        origin: path.to_path_buf(),
        allow: spec.allow,
    }];
    if let Some(file) = spec.file {
        let file = base_dir.join(file);
        let text = std::fs::read_to_string(&file).map_err(|source| SpecError::Read {
            path: file.clone(),
            source,
        })?;
        let shared: PolicyFile = serde_yaml_ng::from_str(&text).map_err(|e| SpecError::Syntax {
            path: file.clone(),
            location: e.location().map(|l| (l.line(), l.column())),
            message: strip_location(&e.to_string()),
        })?;
        policies.push(Policy {
            origin: file,
            allow: shared.allow,
        });
    }
    Ok(policies)
}

/// The text of a pipeline file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    dead_letters: Option<PathBuf>,
    #[serde(default)]
    state: Option<PathBuf>,
    #[serde(default = "default_checkpoint_interval_ms")]
    checkpoint_interval_ms: u64,
    #[serde(default)]
    tenant: Option<TenantSpec>,
    #[serde(default)]
    max_dead_letters: Option<DeadLetterBudget>,
    #[serde(default)]
    audit_log: Option<PathBuf>,
    #[serde(default)]
    lineage: Option<LineageSpec>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    policy: Option<PolicySpec>,
    #[serde(default)]
    sources: IndexMap<String, NodeSpec>,
    #[serde(default)]
    transforms: IndexMap<String, NodeSpec>,
    #[serde(default)]
    sinks: IndexMap<String, NodeSpec>,
}

/// Arroyo's default: a Parquet file per sink partition every ten seconds.
fn default_checkpoint_interval_ms() -> u64 {
    10_000
}

/// How many dead letters a run (or one node) may leave before it counts as
/// failed: a count (`max_dead_letters: 100`) or a share of the rows read
/// (`max_dead_letters: "0.5%"`; of the node's input rows for a node).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DeadLetterBudget {
    /// At most this many.
    Count(u64),
    /// At most this percentage of the rows read.
    Percent(f64),
}

impl DeadLetterBudget {
    /// Whether `letters` dead letters out of `rows` rows break the budget.
    pub fn exceeded(self, letters: u64, rows: u64) -> bool {
        match self {
            Self::Count(most) => letters > most,
            Self::Percent(most) => letters as f64 > rows as f64 * most / 100.0,
        }
    }
}

impl std::fmt::Display for DeadLetterBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Count(most) => write!(f, "{most}"),
            Self::Percent(most) => write!(f, "{most}%"),
        }
    }
}

impl<'de> Deserialize<'de> for DeadLetterBudget {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Count(u64),
            Text(String),
        }
        let invalid = || {
            serde::de::Error::custom(
                "expected a count of rows (100) or a percentage of the rows read (\"0.5%\")",
            )
        };
        match Written::deserialize(deserializer).map_err(|_| invalid())? {
            Written::Count(most) => Ok(Self::Count(most)),
            Written::Text(text) => text
                .trim()
                .strip_suffix('%')
                .and_then(|number| number.trim().parse::<f64>().ok())
                .filter(|percent| (0.0..=100.0).contains(percent))
                .map(Self::Percent)
                .ok_or_else(invalid),
        }
    }
}

/// The tenant a pipeline runs for. Every plugin instance of the tenant's
/// pipelines in one `weir run` shares its quotas.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    /// The tenant's name.
    pub name: String,
    /// Most linear memory of all the tenant's plugin instances together, in
    /// MiB (default: no quota beyond each node's `limits.memory_mib`).
    pub max_memory_mib: Option<usize>,
    /// Most plugin instances of the tenant alive at once (default: no quota).
    pub max_instances: Option<usize>,
}

impl Default for TenantSpec {
    fn default() -> Self {
        Self {
            name: "default".into(),
            max_memory_mib: None,
            max_instances: None,
        }
    }
}

/// One node of the pipeline.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// A native connector (`file`, `stdin`, `stdout`).
    #[serde(rename = "type")]
    pub connector: Option<String>,
    /// A plugin: a path to a `.wasm` component or a first-party plugin name.
    pub plugin: Option<String>,
    /// Upstream nodes.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Configuration passed to the connector or plugin.
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
    /// Instances of a stateless transform run side by side.
    #[serde(default = "one")]
    pub parallelism: usize,
    /// Resource limits of the node's plugin instances.
    #[serde(default)]
    pub limits: LimitsSpec,
    /// Capabilities granted to the node's plugin.
    #[serde(default)]
    pub capabilities: CapabilitiesSpec,
    /// What happens to data the node cannot process.
    #[serde(default)]
    pub on_error: OnError,
    /// Most dead letters of this node, past which the run fails (exit 3).
    #[serde(default)]
    pub max_dead_letters: Option<DeadLetterBudget>,
    /// Classes of its output columns (`{email: pii}`), which travel with
    /// the columns along the graph and which `policy` checks at the sinks.
    #[serde(default)]
    pub classify: BTreeMap<String, String>,
    /// Where its `config` is written in the pipeline file (line and
    /// column, from 1), for messages about it.
    #[serde(skip)]
    pub config_at: Option<(usize, usize)>,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

fn one() -> usize {
    1
}

/// What a node's plugin may reach beyond clocks and random numbers. There
/// is no network grant: Weir does not offer network access to plugins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilitiesSpec {
    /// Host directories the plugin may open.
    #[serde(default)]
    pub dirs: Vec<DirSpec>,
    /// Environment variables the plugin may read, by name; their values
    /// come from weir's own environment.
    #[serde(default)]
    pub env: Vec<String>,
}

impl CapabilitiesSpec {
    /// Whether nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty() && self.env.is_empty()
    }
}

/// A host directory granted to a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirSpec {
    /// The directory on the host (relative to the pipeline file).
    pub host: PathBuf,
    /// Where the plugin sees it: an absolute path such as `/data`.
    pub guest: String,
    /// Whether the plugin may create, change and delete files (default:
    /// read-only).
    #[serde(default)]
    pub write: bool,
}

/// Per-node resource limits; absent fields keep the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Largest linear memory of one instance, in MiB.
    pub memory_mib: Option<usize>,
    /// Deadline of one call into the plugin, in milliseconds.
    pub call_timeout_ms: Option<u64>,
    /// Most rows one call may return.
    pub max_output_rows: Option<usize>,
    /// Most MiB (Arrow IPC) one call may return.
    pub max_output_mib: Option<usize>,
    /// Most core Wasm instances (and memories) one plugin instance may
    /// create.
    pub max_instances: Option<usize>,
    /// Most tables one plugin instance may create.
    pub max_tables: Option<usize>,
}

/// What a node does with rows or batches it cannot process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// Write them to the node's dead-letter file and go on (the default).
    #[default]
    DeadLetter,
    /// Count them and go on.
    Skip,
    /// Stop the pipeline with an error.
    Stop,
}

/// A pipeline file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file cannot be read.
    #[error("{}: cannot read the pipeline file", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Environment variables without a value or default.
    #[error("{}", missing_vars(path, missing))]
    MissingVars {
        /// The file.
        path: PathBuf,
        /// Every missing reference.
        missing: Vec<MissingVar>,
    },
    /// The YAML does not parse, or a field has the wrong shape.
    #[error("{}{}: {message}", path.display(), location.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Line and column, when the parser knows them.
        location: Option<(usize, usize)>,
        /// What is wrong, with the field's path.
        message: String,
    },
    /// Two pipelines of one run have the same `name:`.
    #[error("{} and {}: both pipelines are named {name:?}; names must be unique in a run (metrics, the admin API and the audit log tell pipelines apart by name)", first.display(), second.display())]
    DuplicateName {
        /// The name.
        name: String,
        /// The first file with it.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// A node's fields are inconsistent.
    #[error("{}: node {node:?}, field `{field}`: {message}", path.display())]
    Node {
        /// The file.
        path: PathBuf,
        /// The node.
        node: String,
        /// The field.
        field: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
}

/// Why `name` cannot name a pipeline (it appears in metric labels and in
/// admin API paths), if it cannot.
fn name_problem(name: &str) -> Option<String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    match name.chars().next() {
        None => Some("must not be empty".into()),
        Some(first) if !first.is_ascii_alphanumeric() => {
            Some(format!("{name:?} must start with a letter or a digit"))
        }
        _ if name.len() > 64 => Some(format!("{name:?} is longer than 64 characters")),
        _ if !name.chars().all(allowed) => Some(format!(
            "{name:?} may hold only letters, digits, `_`, `-` and `.`"
        )),
        _ => None,
    }
}

/// Gives the pipelines of one run distinct names: two that set the same
/// `name:` are refused; a name taken from the file's stem that another
/// pipeline of the run has too (every example is `pipeline.yaml`) gets
/// `-2`, `-3`, ... in file order.
pub fn make_names_unique(pipelines: &mut [Pipeline]) -> Result<(), SpecError> {
    let mut taken: std::collections::HashMap<String, PathBuf> = Default::default();
    for pipeline in pipelines.iter().filter(|p| p.named) {
        if let Some(first) = taken.insert(pipeline.name.clone(), pipeline.path.clone()) {
            return Err(SpecError::DuplicateName {
                name: pipeline.name.clone(),
                first,
                second: pipeline.path.clone(),
            });
        }
    }
    for pipeline in pipelines.iter_mut().filter(|p| !p.named) {
        let stem = pipeline.name.clone();
        let mut n = 1;
        while taken.contains_key(&pipeline.name) {
            n += 1;
            pipeline.name = format!("{stem}-{n}");
        }
        taken.insert(pipeline.name.clone(), pipeline.path.clone());
    }
    Ok(())
}

fn missing_vars(path: &Path, missing: &[MissingVar]) -> String {
    missing
        .iter()
        .map(|m| {
            format!(
                "{}:{}: environment variable {} is not set (set it, or write ${{{}:-default}})",
                path.display(),
                m.line,
                m.name,
                m.name
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Pipeline {
    /// Reads and parses the pipeline file at `path`, substituting
    /// environment variables.
    pub fn from_file(path: &Path) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text, |name| std::env::var(name).ok())
    }

    /// Parses pipeline text that was read from `path`.
    pub fn parse(
        path: &Path,
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SpecError> {
        let text = substitute(text, env).map_err(|missing| SpecError::MissingVars {
            path: path.to_path_buf(),
            missing,
        })?;
        let deserializer = serde_yaml_ng::Deserializer::from_str(&text);
        let file: PipelineFile =
            serde_path_to_error::deserialize(deserializer).map_err(|error| {
                let field = error.path().to_string();
                let inner = error.into_inner();
                let location = inner.location().map(|l| (l.line(), l.column()));
                let message = match field.as_str() {
                    "." | "" => inner.to_string(),
                    _ => format!("field `{field}`: {inner}"),
                };
                SpecError::Syntax {
                    path: path.to_path_buf(),
                    location,
                    message: strip_location(&message),
                }
            })?;
        if file.checkpoint_interval_ms == 0 {
            return Err(SpecError::Syntax {
                path: path.to_path_buf(),
                location: None,
                message: "field `checkpoint_interval_ms`: must be at least 1".into(),
            });
        }
        if let Some(lineage) = &file.lineage
            && lineage.file.is_none()
            && lineage.url.is_none()
        {
            return Err(SpecError::Syntax {
                path: path.to_path_buf(),
                location: None,
                message: "field `lineage`: give `file` (JSON lines) or `url` (an OpenLineage HTTP endpoint), or both".into(),
            });
        }
        if let Some(name) = &file.name
            && let Some(why) = name_problem(name)
        {
            return Err(SpecError::Syntax {
                path: path.to_path_buf(),
                location: None,
                message: format!("field `name`: {why}"),
            });
        }
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let state_dir = base_dir.join(file.state.unwrap_or_else(|| "state".into()));
        let pipeline = Self {
            path: path.to_path_buf(),
            dead_letter_dir: base_dir
                .join(file.dead_letters.unwrap_or_else(|| "dead-letters".into())),
            named: file.name.is_some(),
            name: file.name.unwrap_or_else(|| {
                path.file_stem()
                    .map(|stem| stem.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "pipeline".into())
            }),
            tenant: file.tenant.unwrap_or_default(),
            max_dead_letters: file.max_dead_letters,
            audit_log: match file.audit_log {
                Some(audit_log) => base_dir.join(audit_log),
                None => state_dir.join("audit.jsonl"),
            },
            policies: match file.policy {
                Some(policy) => policies(path, &base_dir, policy)?,
                None => Vec::new(),
            },
            owner: file.owner,
            description: file.description,
            tags: file.tags,
            lineage: file.lineage.map(|lineage| LineageSpec {
                file: lineage.file.map(|f| base_dir.join(f)),
                ..lineage
            }),
            state_dir,
            checkpoint_interval: std::time::Duration::from_millis(file.checkpoint_interval_ms),
            base_dir,
            sources: locate_configs(&text, "sources", file.sources),
            transforms: locate_configs(&text, "transforms", file.transforms),
            sinks: locate_configs(&text, "sinks", file.sinks),
        };
        pipeline.check_nodes()?;
        Ok(pipeline)
    }

    /// Every node with its section, sources first.
    pub fn nodes(&self) -> impl Iterator<Item = (Kind, &str, &NodeSpec)> {
        fn section(
            s: Kind,
            map: &IndexMap<String, NodeSpec>,
        ) -> impl Iterator<Item = (Kind, &str, &NodeSpec)> {
            map.iter().map(move |(n, spec)| (s, n.as_str(), spec))
        }
        section(Kind::Source, &self.sources)
            .chain(section(Kind::Transform, &self.transforms))
            .chain(section(Kind::Sink, &self.sinks))
    }

    /// Checks what can be checked of each node on its own.
    fn check_nodes(&self) -> Result<(), SpecError> {
        let error = |node: &str, field, message: String| SpecError::Node {
            path: self.path.clone(),
            node: node.to_string(),
            field,
            message,
        };
        for (section, name, node) in self.nodes() {
            match (&node.connector, &node.plugin) {
                (Some(_), Some(_)) => {
                    return Err(error(
                        name,
                        "type",
                        "a node has either `type` (a native connector) or `plugin`, not both"
                            .into(),
                    ));
                }
                (None, None) => {
                    return Err(error(name, "type", "missing: give `type` (a native connector) or `plugin` (a .wasm path or a first-party plugin name)".into()));
                }
                _ => {}
            }
            if node.parallelism == 0 {
                return Err(error(name, "parallelism", "must be at least 1".into()));
            }
            if node.parallelism > 1 && section != Kind::Transform {
                return Err(error(
                    name,
                    "parallelism",
                    format!(
                        "only transforms run in parallel; this node is one of the {}",
                        section.section()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Removes serde_yaml's " at line L column C" suffix: the location is shown
/// in front of the message.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) if message[at..].contains(" column ") => message[..at].to_string(),
        _ => message.to_string(),
    }
}

/// `nodes` (of top-level `section` in the pipeline file `text`), each told
/// where its `config` is written.
fn locate_configs(
    text: &str,
    section: &str,
    mut nodes: IndexMap<String, NodeSpec>,
) -> IndexMap<String, NodeSpec> {
    for (name, spec) in nodes.iter_mut() {
        spec.config_at = config_location(text, section, name);
    }
    nodes
}

/// Line and column (from 1) of the `config` key of node `node` of top-level
/// `section` in `text`: on the node's line (`node: {plugin: x, config: ...}`)
/// or in the block indented under it. `None` when it has none or is written
/// another way (a quoted name, flow style across lines).
fn config_location(text: &str, section: &str, node: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |line: &str| line.len() - line.trim_start().len();
    let header = format!("{section}:");
    let start = lines.iter().position(|l| l.trim_end() == header)? + 1;
    let names_node = |line: &&str| {
        let rest = line.trim_start().strip_prefix(node);
        indent(line) > 0 && rest.is_some_and(|r| r.trim_start().starts_with(':'))
    };
    let at = start + lines[start..].iter().position(names_node)?;
    let node_indent = indent(lines[at]);
    for (i, line) in lines[at..].iter().enumerate() {
        let ended = i > 0 && !line.trim().is_empty() && indent(line) <= node_indent;
        if ended {
            break;
        }
        let key = line
            .match_indices("config:")
            .find(|(col, _)| *col == 0 || matches!(line.as_bytes()[col - 1], b' ' | b'{' | b','));
        if let Some((col, _)) = key {
            return Some((at + i + 1, col + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nodes_config_is_located_in_the_file() {
        let text = "sources:\n  gen: {plugin: generate, config: {rows: 10}}\ntransforms:\n  keep:\n    plugin: filter\n    inputs: [gen]\n    config:\n      predicate: x\n  other: {plugin: filter, inputs: [keep]}\nsinks:\n  out: {type: stdout, inputs: [other]}\n";
        let p = parse(text).unwrap();
        assert_eq!(p.sources["gen"].config_at, Some((2, 27)));
        assert_eq!(p.transforms["keep"].config_at, Some((7, 5)));
        assert_eq!(p.transforms["other"].config_at, None);
    }

    fn parse(text: &str) -> Result<Pipeline, SpecError> {
        Pipeline::parse(Path::new("dir/p.yaml"), text, |_| None)
    }

    #[test]
    fn parses_nodes_in_order_with_defaults() {
        let p = parse(
            "sources:\n  gen:\n    plugin: generate\n    config: {rows: 10}\nsinks:\n  out:\n    type: stdout\n    inputs: [gen]\n",
        )
        .unwrap();
        assert_eq!(p.sources["gen"].config["rows"], 10);
        assert_eq!(p.sinks["out"].inputs, ["gen"]);
        assert_eq!(p.sinks["out"].on_error, OnError::DeadLetter);
        assert_eq!(p.dead_letter_dir, Path::new("dir/dead-letters"));
    }

    #[test]
    fn pipelines_of_a_run_get_distinct_names() {
        let at = |path: &str, text: &str| Pipeline::parse(Path::new(path), text, |_| None);
        let sink =
            "sinks:\n  out: {type: stdout, inputs: [gen]}\nsources:\n  gen: {plugin: generate}\n";
        let mut run = vec![
            at("a/pipeline.yaml", sink).unwrap(),
            at("b/pipeline.yaml", sink).unwrap(),
            at("c/other.yaml", &format!("name: pipeline-2\n{sink}")).unwrap(),
        ];
        make_names_unique(&mut run).unwrap();
        let names: Vec<_> = run.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["pipeline", "pipeline-3", "pipeline-2"]);

        let mut twice = vec![
            at("a/x.yaml", &format!("name: orders\n{sink}")).unwrap(),
            at("b/y.yaml", &format!("name: orders\n{sink}")).unwrap(),
        ];
        let error = make_names_unique(&mut twice).unwrap_err().to_string();
        assert!(
            error.starts_with("a/x.yaml and b/y.yaml: both pipelines are named \"orders\""),
            "{error}"
        );
        for bad in ["\"\"", "\"a/b\"", "\"-x\"", "\"with space\""] {
            let error = at("p.yaml", &format!("name: {bad}\n{sink}"))
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with("p.yaml: field `name`: "),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn unknown_fields_name_the_field_and_line() {
        let error = parse("sources:\n  gen:\n    plugin: generate\n    confg: {}\n")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("dir/p.yaml:4:"), "{error}");
        assert!(error.contains("sources.gen"), "{error}");
        assert!(error.contains("unknown field `confg`"), "{error}");
    }

    #[test]
    fn a_node_needs_exactly_one_implementation() {
        let error = parse("sinks:\n  out:\n    inputs: [a]\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("node \"out\", field `type`: missing"),
            "{error}"
        );
    }
}
