//! The registry of native connectors: each registers under its `type` name
//! with its config struct, and the graph builds every connector node
//! through it. Adding a connector is its file (the config struct with
//! [`SourceConnector`] or [`SinkConnector`], and the running stage) plus one
//! line in [`Registry::builtin`]; a program that embeds Weir registers its
//! own with [`Registry::source`] and [`Registry::sink`].

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use serde::de::DeserializeOwned;

use super::{ConnectorError, Sink, Source, config_error};
use crate::Kind;

/// A connector's config as a pipeline file gives it (a serde struct,
/// `deny_unknown_fields`), ready to be checked.
pub trait ConnectorConfig: DeserializeOwned + Debug + Send + Sync + 'static {
    /// Resolves relative paths against `base_dir` (the pipeline file's
    /// folder) and checks what serde cannot (fields that depend on each
    /// other). Default: nothing to do.
    fn prepare(&mut self, base_dir: &Path) -> Result<(), ConnectorError> {
        let _ = base_dir;
        Ok(())
    }
}

/// A dataset a connector reads or writes, named as OpenLineage names
/// datasets (<https://openlineage.io/docs/spec/naming>): `file` and an
/// absolute path, `kafka://host:port` and a topic, `postgres://host:port`
/// and `database.schema.table`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Dataset {
    /// Where it lives.
    pub namespace: String,
    /// Its name there.
    pub name: String,
}

impl Dataset {
    /// A file or folder on this machine, made absolute and without `.`
    /// and `..` (as written: links are not followed, so a name does not
    /// change once the folder exists).
    pub fn local(path: &Path) -> Self {
        use std::path::Component;
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let mut clean = std::path::PathBuf::new();
        for part in absolute.components() {
            match part {
                Component::CurDir => {}
                Component::ParentDir => {
                    clean.pop();
                }
                other => clean.push(other),
            }
        }
        Self {
            namespace: "file".into(),
            name: clean.display().to_string(),
        }
    }

    /// A table or folder at `location`: a `file://` URL or a path is
    /// [`Dataset::local`]; another URL is its scheme and authority, then
    /// its path.
    pub fn at(location: &str) -> Self {
        if let Some(path) = location.strip_prefix("file://") {
            return Self::local(Path::new(path));
        }
        match location.split_once("://") {
            Some((scheme, rest)) => {
                let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                Self {
                    namespace: format!("{scheme}://{authority}"),
                    name: format!("/{path}"),
                }
            }
            None => Self::local(Path::new(location)),
        }
    }

    /// Topic `topic` of the Kafka cluster whose bootstrap brokers are
    /// `brokers` (named by the first).
    pub fn kafka(brokers: &str, topic: &str) -> Self {
        let first = brokers.split(',').next().unwrap_or_default().trim();
        Self {
            namespace: format!("kafka://{first}"),
            name: topic.to_string(),
        }
    }
}

/// A configured native source, ready to open.
pub trait SourceConnector: Debug + Send + Sync {
    /// The schema it produces: declared in its config, read from a file's
    /// metadata, or inferred from its first records.
    fn schema(&self) -> Result<SchemaRef, ConnectorError>;

    /// Whether [`SourceConnector::schema`] reads the schema off the data
    /// (the graph then warns: declare it to fix it).
    fn infers_schema(&self) -> bool {
        false
    }

    /// Whether [`SourceConnector::open`] may be given a schema of some of
    /// the columns [`SourceConnector::schema`] answers (in its order), and
    /// then reads only those: the graph narrows it to the columns its
    /// nodes use.
    fn projects(&self) -> bool {
        false
    }

    /// Whether the source continues where the previous run ended: its
    /// position is then stored in `<state>/<node>.json` and passed to
    /// [`SourceConnector::open`]. Sources that commit elsewhere (Kafka's
    /// consumer group) answer `false`.
    fn resumes(&self) -> bool {
        false
    }

    /// Whether a later run continues where this one stopped (it resumes
    /// from its stored position, or commits its position elsewhere, as
    /// Kafka's consumer group): its sinks then add to their output by
    /// default rather than refuse a re-run. Default: [`Self::resumes`].
    fn continues(&self) -> bool {
        self.resumes()
    }

    /// The datasets it reads, for lineage. Default: none (stdin, data made
    /// up).
    fn datasets(&self) -> Vec<Dataset> {
        Vec::new()
    }

    /// Whether [`SourceConnector::open_skipping`] may leave rows unread
    /// (else it reads every row, whatever it is told).
    fn skips(&self) -> bool {
        false
    }

    /// Opens the source as [`SourceConnector::open`] does, told which rows
    /// it may leave unread (no consumer would pass them on). Default: reads
    /// every row.
    fn open_skipping(
        &self,
        schema: &SchemaRef,
        position: Option<serde_json::Value>,
        skip: &super::skip::RowFilter,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        let _ = skip;
        self.open(schema, position)
    }

    /// Opens the source for rows of `schema` (from
    /// [`SourceConnector::schema`], resolved when the graph was built),
    /// continuing from `position` (see [`Source::position`]) when given.
    fn open(
        &self,
        schema: &SchemaRef,
        position: Option<serde_json::Value>,
    ) -> Result<Box<dyn Source>, ConnectorError>;
}

/// What a sink is told about the run it writes for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkContext {
    /// The pipeline's name.
    pub pipeline: String,
    /// The sink node's name.
    pub node: String,
    /// Whether the run continues an earlier one: a source of the pipeline
    /// resumes or commits its position ([`SourceConnector::continues`]; a
    /// plugin source may resume after a crash). A run that does not is a
    /// batch job, and running it again is a re-run.
    pub continues: bool,
    /// The graph is built to describe the pipeline (`weir catalog`), not
    /// to run it: check what the sink would write, not what its target
    /// holds now.
    pub describing: bool,
}

/// A configured native sink, ready to open.
pub trait SinkConnector: Debug + Send + Sync {
    /// Checks that the sink accepts batches of `schema` in the run `context`
    /// describes, writing nothing. Default: it accepts any.
    fn check(&self, schema: &SchemaRef, context: &SinkContext) -> Result<(), ConnectorError> {
        let _ = (schema, context);
        Ok(())
    }

    /// The datasets it writes, for lineage. Default: none (stdout).
    fn datasets(&self) -> Vec<Dataset> {
        Vec::new()
    }

    /// Opens the sink for batches of `schema`.
    fn open(
        &self,
        schema: &SchemaRef,
        context: &SinkContext,
    ) -> Result<Box<dyn Sink>, ConnectorError>;
}

/// Makes a connector from a node's `config` and the pipeline's folder.
type Build<C> = Arc<dyn Fn(&serde_json::Value, &Path) -> Result<C, ConnectorError> + Send + Sync>;

/// The native connectors a pipeline can name in `type`, by section.
#[derive(Clone, Default)]
pub struct Registry {
    sources: BTreeMap<String, Build<Arc<dyn SourceConnector>>>,
    sinks: BTreeMap<String, Build<Arc<dyn SinkConnector>>>,
}

impl Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("sources", &self.sources.keys())
            .field("sinks", &self.sinks.keys())
            .finish()
    }
}

impl Registry {
    /// Weir's own connectors: sources `file`, `stdin`, `kafka`, `delta`,
    /// `postgres-cdc`; sinks `file`, `stdout`, `kafka`, `delta` (each behind
    /// its cargo feature).
    pub fn builtin() -> Self {
        let mut registry = Self::default();
        registry
            .source::<super::file_source::Config>("file")
            .source::<super::file_source::StdinConfig>("stdin")
            .sink::<super::file_sink::Config>("file")
            .sink::<super::stdout::Config>("stdout");
        #[cfg(feature = "delta")]
        registry
            .source::<super::delta_source::Config>("delta")
            .sink::<super::delta::Config>("delta");
        #[cfg(feature = "postgres")]
        registry.source::<super::postgres::Config>("postgres-cdc");
        #[cfg(feature = "http")]
        registry.source::<super::http::Config>("http");
        #[cfg(feature = "mqtt")]
        registry.source::<super::mqtt::Config>("mqtt");
        #[cfg(feature = "kafka")]
        registry
            .source::<super::kafka::SourceConfig>("kafka")
            .sink::<super::kafka::SinkConfig>("kafka");
        registry
    }

    /// Registers source type `name`, configured by `C`; replaces one of
    /// that name.
    pub fn source<C: ConnectorConfig + SourceConnector>(&mut self, name: &str) -> &mut Self {
        let build: Build<Arc<dyn SourceConnector>> =
            Arc::new(|config, base_dir| Ok(Arc::new(parse::<C>(config, base_dir)?)));
        self.sources.insert(name.to_string(), build);
        self
    }

    /// Registers sink type `name`, configured by `C`; replaces one of that
    /// name.
    pub fn sink<C: ConnectorConfig + SinkConnector>(&mut self, name: &str) -> &mut Self {
        let build: Build<Arc<dyn SinkConnector>> =
            Arc::new(|config, base_dir| Ok(Arc::new(parse::<C>(config, base_dir)?)));
        self.sinks.insert(name.to_string(), build);
        self
    }

    /// The source of type `kind` with `config`; relative paths are
    /// resolved against `base_dir`.
    pub fn build_source(
        &self,
        kind: &str,
        config: &serde_json::Value,
        base_dir: &Path,
    ) -> Result<Arc<dyn SourceConnector>, ConnectorError> {
        find(&self.sources, Kind::Source, kind)?(config, base_dir)
    }

    /// The sink of type `kind` with `config`; relative paths are resolved
    /// against `base_dir`.
    pub fn build_sink(
        &self,
        kind: &str,
        config: &serde_json::Value,
        base_dir: &Path,
    ) -> Result<Arc<dyn SinkConnector>, ConnectorError> {
        find(&self.sinks, Kind::Sink, kind)?(config, base_dir)
    }
}

/// How to build connector `kind` of `section`, or an error listing the
/// known ones.
fn find<'r, C>(
    known: &'r BTreeMap<String, Build<C>>,
    section: Kind,
    kind: &str,
) -> Result<&'r Build<C>, ConnectorError> {
    known.get(kind).ok_or_else(|| {
        let names: Vec<&str> = known.keys().map(String::as_str).collect();
        config_error(
            "type",
            &format!(
                "unknown connector {kind:?}; native {} here: {}",
                section.section(),
                names.join(", ")
            ),
        )
    })
}

/// Parses and prepares a connector config, naming the field that is wrong.
fn parse<C: ConnectorConfig>(
    config: &serde_json::Value,
    base_dir: &Path,
) -> Result<C, ConnectorError> {
    let mut config: C =
        serde_path_to_error::deserialize(config).map_err(|error| ConnectorError::Config {
            field: error.path().to_string(),
            message: error.into_inner().to_string(),
        })?;
    config.prepare(base_dir)?;
    Ok(config)
}
