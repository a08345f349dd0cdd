//! The `weir` command line.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use weir::Kind;
use weir::authoring::Language;
use weir::graph::Graph;
use weir::plugin::{EngineOptions, PluginEngine, inspect::inspect};
use weir::runtime::Outcome;
use weir::spec::Pipeline;

mod tap_command;

/// Weir: a dataflow runtime whose stages are sandboxed WebAssembly components.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run pipelines to the end of their inputs (Ctrl-C drains and stops).
    /// Several files (or folders of `.yaml` files) run side by side in one
    /// process, isolated from each other, under their tenants' quotas.
    Run {
        /// Pipeline files (YAML), or folders holding them.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// No progress line and no summary.
        #[arg(long, short)]
        quiet: bool,
        /// Reload a transform when its `.wasm` file changes (hot swap
        /// between two batches, state carried, nothing lost).
        #[arg(long)]
        watch: bool,
        /// Serve the admin HTTP API (metrics, pipelines, reloads) on this
        /// address: 127.0.0.1:9464, localhost:9464, or :9464 for every
        /// interface (port 0: any free port).
        #[arg(long, value_name = "ADDR", value_parser = admin_address)]
        admin: Option<std::net::SocketAddr>,
        /// After Ctrl-C, how long to let in-flight batches drain and sinks
        /// close before exiting anyway (a plugin stuck in a call the host
        /// cannot interrupt must not keep `weir` running).
        #[arg(long, value_name = "SECONDS", default_value_t = 10)]
        drain_timeout: u64,
        /// With --admin: once the pipelines have ended, keep the admin API
        /// up until `/metrics` has been scraped once more (so the last
        /// counts reach Prometheus), or at most this long.
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        admin_linger: u64,
    },
    /// Check a pipeline file and print every edge with its schema.
    Validate {
        /// The pipeline file (YAML).
        file: PathBuf,
    },
    /// List the datasets pipelines read and write: columns, classes,
    /// owners, and the lineage between them (nothing runs).
    Catalog {
        /// Pipeline files (YAML), or folders holding them.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = CatalogFormat::Table)]
        format: CatalogFormat,
    },
    /// Print a sample of a running node's output rows as tables, from the
    /// admin API of a `weir run --admin ADDR`.
    Tap {
        /// The admin API's address: http://127.0.0.1:9464 or 127.0.0.1:9464.
        url: String,
        /// The node: PIPELINE/NODE, or NODE when one pipeline has it.
        node: String,
        /// Rows a second at most (1 to 1000).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
        rows_per_second: u32,
        /// Stop after this many rows.
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Print a pipeline's graph.
    Graph {
        /// The pipeline file (YAML).
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
    /// Work with plugin components.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Look at a Delta table a `delta` sink writes.
    #[cfg(feature = "delta")]
    #[command(subcommand)]
    Table(TableCommand),
    /// Show the compiled-component cache ($WEIR_CACHE_DIR, capped at
    /// $WEIR_CACHE_MAX_MIB, default 1024), or clear it.
    Cache {
        /// `clear` removes every compiled component (the next load of each
        /// plugin compiles it again).
        #[arg(value_enum)]
        action: Option<CacheAction>,
    },
}

/// `weir table ...`.
#[cfg(feature = "delta")]
#[derive(Subcommand)]
enum TableCommand {
    /// Every version of the table, newest first: when, what made it, and
    /// the rows it added.
    History {
        /// The table's folder or `file://` URL.
        path: String,
    },
    /// Compacts each partition's small files into files of about
    /// `--target-mib`, in one commit that changes no row.
    Optimize {
        /// The table's folder or `file://` URL.
        path: String,
        /// The size of the files written (MiB).
        #[arg(long, default_value_t = 128)]
        target_mib: u64,
    },
    /// Deletes the files no version of the last `--retain-hours` reads
    /// (time travel further back stops working).
    Vacuum {
        /// The table's folder or `file://` URL.
        path: String,
        /// Keep what versions of this many hours back read.
        #[arg(long, default_value_t = 168)]
        retain_hours: u64,
        /// List the files only.
        #[arg(long)]
        dry_run: bool,
    },
}

/// What `weir cache` does besides showing the cache.
#[derive(Clone, Copy, ValueEnum)]
enum CacheAction {
    /// Remove every compiled component.
    Clear,
}

/// Formats of `weir catalog`.
#[derive(Clone, Copy, ValueEnum)]
enum CatalogFormat {
    /// Text for people.
    Table,
    /// JSON for tools.
    Json,
}

/// Formats of `weir graph`.
#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    /// A Mermaid flowchart.
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// An `--admin` address: `HOST:PORT` (a name is resolved), or `:PORT` for
/// every interface, as Prometheus exporters take it.
fn admin_address(text: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let text = match text.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => text.to_string(),
    };
    text.to_socket_addrs()
        .map_err(|e| format!("{e}; expected HOST:PORT or :PORT, e.g. 127.0.0.1:9464"))?
        .next()
        .ok_or_else(|| format!("{text} resolves to no address"))
}

/// Exit code of a run that failed: a node stopped it, or gave up on its
/// plugin.
const FAILED: u8 = 1;
/// Exit code of an invalid pipeline file or command line (clap's too).
const INVALID: u8 = 2;
/// Exit code of a run that went past a dead-letter budget.
const OVER_BUDGET: u8 = 3;
/// A data-quality rule of severity `fail` stopped a run.
const QUALITY: u8 = 4;
/// Exit code of a run stopped by Ctrl-C (128 + SIGINT).
const INTERRUPTED: u8 = 130;

/// A pipeline that cannot run as written (exit [`INVALID`]), for refusals
/// that are not a spec or graph error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Invalid(String);

/// The exit code of `error`: [`INVALID`] when a pipeline file is wrong,
/// else [`FAILED`].
fn exit_code(error: &anyhow::Error) -> u8 {
    let invalid = error.chain().any(|e| {
        let refused = e.downcast_ref::<weir::Error>().is_some_and(|e| {
            e.fault() == weir::Fault::Configuration
                && matches!(e.stage(), weir::Stage::Spec | weir::Stage::Graph)
        });
        refused
            || e.is::<weir::spec::SpecError>()
            || e.is::<weir::graph::GraphError>()
            || e.is::<Invalid>()
    });
    match (invalid, broke_a_rule(error)) {
        (true, _) => INVALID,
        (false, true) => QUALITY,
        (false, false) => FAILED,
    }
}

/// Whether `error` is a run stopped by a data-quality rule of severity
/// `fail` (and by nothing else).
fn broke_a_rule(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<weir::RunError>()
            .is_some_and(|run| run.errors.iter().all(|e| e.fault() == weir::Fault::Quality))
    })
}

/// `--lang` of `weir plugin new`.
#[derive(Clone, Copy, ValueEnum)]
enum LanguageArg {
    /// Rust, on the `weir-sdk` crate.
    Rust,
    /// Python, on `weir_sdk` and componentize-py.
    Python,
    /// JavaScript, on `weir-sdk` (apache-arrow) and componentize-js.
    Js,
}

impl From<LanguageArg> for Language {
    fn from(language: LanguageArg) -> Self {
        match language {
            LanguageArg::Rust => Language::Rust,
            LanguageArg::Python => Language::Python,
            LanguageArg::Js => Language::JavaScript,
        }
    }
}

/// `--kind` of `weir plugin new`.
#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    /// Batches in, batches out.
    Transform,
    /// Produces batches.
    Source,
    /// Writes batches somewhere.
    Sink,
}

impl From<KindArg> for Kind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::Transform => Kind::Transform,
            KindArg::Source => Kind::Source,
            KindArg::Sink => Kind::Sink,
        }
    }
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Print a component's world, contract version, name, version,
    /// description and every import it asks for (the capabilities it needs).
    Inspect {
        /// `.wasm` files, or plugin names as a pipeline's `plugin:` gives
        /// them (looked up in WEIR_PLUGIN_PATH and `plugins/` next to weir).
        #[arg(required = true)]
        plugins: Vec<String>,
    },
    /// List the plugins a pipeline can name: name, kind, version,
    /// description and file.
    List,
    /// Print a first-party plugin's configuration reference (for another
    /// plugin: what it says about itself).
    Docs {
        /// The plugin's name, e.g. `filter`.
        name: String,
    },
    /// Make a plugin folder: its code, a README with the build command, a
    /// sample input and a pipeline that runs the plugin on it.
    New {
        /// The plugin's name (lower-case letters, digits, dashes): the folder,
        /// the component and the node in the sample pipeline.
        name: String,
        /// The language to write it in.
        #[arg(long, value_enum)]
        lang: LanguageArg,
        /// What it is.
        #[arg(long, value_enum, default_value_t = KindArg::Transform)]
        kind: KindArg,
        /// Where to make the folder.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Build a plugin folder (Rust, Python or JavaScript) into a component.
    Build {
        /// The plugin folder.
        dir: PathBuf,
        /// The component to write (default: DIR/NAME.wasm, NAME the folder's
        /// name).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

/// `error` and its causes, one after another (see [`weir::plugin::with_causes`]).
fn chain(error: &anyhow::Error) -> String {
    weir::plugin::with_causes(error.as_ref())
}

fn main() -> ExitCode {
    weir::runtime::keep_freed_memory();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG").unwrap_or_else(|_| {
                // Warnings, the compile of a new plugin (seconds, once), and
                // where push sources listen; pg_walstream warns of a slot
                // that exists, which is how a `postgres-cdc` source resumes.
                format!(
                    "warn,{}=info,weir::connectors::http=info,weir::connectors::mqtt=info,pg_walstream=error",
                    weir::plugin::COMPILE_LOG
                )
                .into()
            }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match execute(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", chain(&error));
            ExitCode::from(exit_code(&error))
        }
    }
}

/// What `reference` (a `.wasm` file, or a plugin name as in a pipeline) is.
fn inspect_plugin(
    engine: &PluginEngine,
    reference: &str,
) -> anyhow::Result<weir::plugin::inspect::Inspection> {
    let path = match Path::new(reference).is_file() {
        true => PathBuf::from(reference),
        false => weir::graph::resolve_plugin(reference, Path::new("."))?,
    };
    let plugin = engine.load_file(&path)?;
    inspect(engine, &plugin).with_context(|| format!("inspecting {}", path.display()))
}

/// Loads and checks the pipeline at `file`.
fn build(file: &Path) -> anyhow::Result<(Graph, PluginEngine)> {
    let pipeline = Pipeline::from_file(file)?;
    let engine = PluginEngine::new(&EngineOptions::default())?;
    let graph = Graph::build(pipeline, &engine)?;
    Ok((graph, engine))
}

/// Sets `stop` at the first Ctrl-C, then exits with 130 at the second or
/// once `drain` has passed, whichever comes first.
fn handle_ctrl_c(stop: Arc<AtomicBool>, drain: Duration) -> anyhow::Result<()> {
    on_ctrl_c(move || async move {
        eprintln!(
            "\ninterrupted: draining in-flight batches and closing sinks for up to {} s (Ctrl-C again to exit at once)",
            drain.as_secs()
        );
        stop.store(true, Ordering::SeqCst);
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = tokio::time::sleep(drain) => {
                eprintln!("error: still draining after {} s; exiting without waiting for it (a plugin or connector may be stuck in a call the host cannot interrupt; what was not committed is read again by the next run)", drain.as_secs());
            }
        }
        std::process::exit(INTERRUPTED.into());
    })
}

/// Exits with 130 at the first Ctrl-C, whatever a plugin's `open` is doing:
/// for commands with nothing to drain.
fn exit_on_ctrl_c() -> anyhow::Result<()> {
    on_ctrl_c(|| async { std::process::exit(INTERRUPTED.into()) })
}

/// Runs `then` on a thread of its own at the first Ctrl-C.
fn on_ctrl_c<F: Future<Output = ()>>(
    then: impl FnOnce() -> F + Send + 'static,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    std::thread::Builder::new()
        .name("weir-signals".into())
        .spawn(move || {
            runtime.block_on(async {
                if tokio::signal::ctrl_c().await.is_ok() {
                    then().await;
                }
            })
        })?;
    Ok(())
}

/// The pipeline files named on the command line: files as given, folders
/// replaced by their `.yaml`/`.yml` files in name order.
fn pipeline_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading the folder {}", path.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        anyhow::ensure!(
            !found.is_empty(),
            "{}: no .yaml pipeline files in this folder",
            path.display()
        );
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// Rows/s and per-node counts of one run on stderr: a live line on a
/// terminal (indicatif), else a line every ten seconds for logs.
struct ProgressLine {
    bar: indicatif::ProgressBar,
    /// The pipeline's name and `: `, when several run.
    label: String,
    terminal: bool,
}

impl ProgressLine {
    fn new(bars: &indicatif::MultiProgress, label: Option<&str>) -> Self {
        let style = indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
            .expect("a valid template");
        let bar = bars.add(indicatif::ProgressBar::new_spinner().with_style(style));
        let terminal = std::io::stderr().is_terminal();
        if terminal {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Self {
            bar,
            label: label.map(|l| format!("{l}: ")).unwrap_or_default(),
            terminal,
        }
    }
}

impl weir::exec::Progress for ProgressLine {
    fn every(&self) -> Duration {
        match self.terminal {
            true => Duration::from_secs(1),
            false => Duration::from_secs(10),
        }
    }

    fn update(&self, summary: &weir::exec::Summary) {
        let counts: Vec<String> = summary
            .nodes
            .iter()
            .map(|n| format!("{} {}", n.name, n.rows_out))
            .collect();
        let rate = summary.source_rows() as f64 / summary.elapsed.as_secs_f64();
        let line = format!("{}{rate:.0} rows/s | {}", self.label, counts.join(" | "));
        match self.terminal {
            true => self.bar.set_message(line),
            false => eprintln!("{:>6.0}s {line}", summary.elapsed.as_secs_f64()),
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Runs every pipeline in `files` side by side ([`weir::Runtime`]). One
/// pipeline alone fails as it is; with several, one that cannot start or
/// fails is reported, the others run to their end, and the exit code says
/// that one failed.
fn run_pipelines(
    files: &[PathBuf],
    quiet: bool,
    watch: bool,
    admin: Option<(std::net::SocketAddr, Duration)>,
    drain: Duration,
) -> anyhow::Result<ExitCode> {
    let several = files.len() > 1;
    let mut failed = Vec::new();
    let mut pipelines = Vec::new();
    for file in files {
        match Pipeline::from_file(file) {
            Ok(pipeline) => pipelines.push(pipeline),
            Err(error) if !several => return Err(error.into()),
            Err(error) => failed.push(format!(
                "{}: not started: {}",
                file.display(),
                chain(&anyhow::Error::from(error))
            )),
        }
    }
    let mut runtime =
        weir::Runtime::new(PluginEngine::new(&EngineOptions::default())?).watch(watch);
    if !quiet {
        let bars = indicatif::MultiProgress::new();
        runtime = runtime.progress(move |pipeline, several| {
            let label = several.then_some(pipeline.name.as_str());
            Arc::new(ProgressLine::new(&bars, label))
        });
    }
    handle_ctrl_c(runtime.stop_flag(), drain)?;
    if let Some((addr, linger)) = admin {
        let bound = runtime.serve_admin(addr, linger)?;
        eprintln!("admin API listening on http://{bound}");
    }
    // Pipelines that could not start are invalid; one whose run failed
    // makes the whole run failed.
    let mut run_failed = false;
    let mut rules_broken = false;
    let mut over_budget = false;
    for (path, outcome) in runtime.run(pipelines)? {
        let not_started = |error: anyhow::Error| match several {
            true => Ok(format!(
                "{}: not started: {}",
                path.display(),
                chain(&error)
            )),
            false => Err(error),
        };
        let ran = match outcome {
            Outcome::NotBuilt(error) => {
                failed.push(not_started(error.into())?);
                continue;
            }
            Outcome::Refused(error) => {
                failed.push(not_started(Invalid(error.with_causes()).into())?);
                continue;
            }
            Outcome::Ran(ran) => ran,
        };
        for breach in &ran.breaches {
            failed.push(format!(
                "{}: dead-letter budget exceeded: {breach}",
                path.display()
            ));
        }
        over_budget |= !ran.breaches.is_empty();
        if !quiet {
            if several {
                eprintln!("pipeline {} (tenant {}):", ran.name, ran.tenant);
            }
            let summary = match &ran.result {
                Ok(summary) => summary,
                Err(error) => &error.summary,
            };
            // One write: stderr is unbuffered, and the table is many pieces.
            let table = summary.to_string();
            eprintln!("{table}");
        }
        if let Err(error) = ran.result {
            let error = anyhow::Error::from(error).context(format!("running {}", path.display()));
            if broke_a_rule(&error) {
                rules_broken = true;
                failed.push(chain(&error));
                continue;
            }
            match several {
                true => failed.push(chain(&error)),
                false => return Err(error),
            }
            run_failed = true;
        }
    }
    for failure in &failed {
        eprintln!("error: {failure}");
    }
    let interrupted = runtime.stop_flag().load(Ordering::SeqCst);
    Ok(ExitCode::from(
        match (run_failed, failed.is_empty(), over_budget, interrupted) {
            (true, ..) => FAILED,
            (false, ..) if rules_broken => QUALITY,
            (false, true, _, true) => INTERRUPTED,
            (false, true, _, false) => 0,
            (false, false, true, _) => OVER_BUDGET,
            (false, false, false, _) => INVALID,
        },
    ))
}

fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run {
            files,
            quiet,
            watch,
            admin,
            drain_timeout,
            admin_linger,
        } => run_pipelines(
            &pipeline_files(&files)?,
            quiet,
            watch,
            admin.map(|addr| (addr, Duration::from_secs(admin_linger))),
            Duration::from_secs(drain_timeout),
        ),
        Command::Validate { file } => {
            exit_on_ctrl_c()?;
            let (graph, engine) = build(&file)?;
            say(&graph.edges_report());
            say(&graph.capabilities_report(&engine));
            say(&format!(
                "{}: valid ({} nodes)\n",
                file.display(),
                graph.nodes.len()
            ));
            Ok(ExitCode::SUCCESS)
        }
        Command::Catalog { files, format } => {
            exit_on_ctrl_c()?;
            let engine = PluginEngine::new(&EngineOptions::default())?;
            let mut pipelines = Vec::new();
            for file in pipeline_files(&files)? {
                pipelines.push(Pipeline::from_file(&file)?);
            }
            weir::spec::make_names_unique(&mut pipelines)?;
            let graphs = pipelines
                .into_iter()
                .map(|pipeline| Graph::build_to_describe(pipeline, &engine))
                .collect::<Result<Vec<_>, _>>()?;
            let catalog = weir::catalog::catalog(&graphs);
            say(&match format {
                CatalogFormat::Table => catalog.table(),
                CatalogFormat::Json => format!("{}\n", serde_json::to_string_pretty(&catalog)?),
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Tap {
            url,
            node,
            rows_per_second,
            limit,
        } => {
            exit_on_ctrl_c()?;
            tap_command::tap(&url, &node, rows_per_second, limit)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph { file, format } => {
            exit_on_ctrl_c()?;
            let (graph, _) = build(&file)?;
            say(&match format {
                GraphFormat::Mermaid => weir::graph::mermaid(&graph),
                GraphFormat::Dot => weir::graph::dot(&graph),
            });
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "delta")]
        Command::Table(TableCommand::History { path }) => {
            let versions = weir::connectors::history(&path)
                .with_context(|| format!("reading the history of {path}"))?;
            let mut out = format!(
                "{:>8}  {:<25}  {:<18}  {:>12}\n",
                "version", "committed", "operation", "rows added"
            );
            for v in versions {
                let when = v
                    .timestamp
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map_or_else(String::new, |t| {
                        t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                    });
                let rows = v.rows.map_or_else(String::new, |r| r.to_string());
                let line = format!(
                    "{:>8}  {when:<25}  {:<18}  {rows:>12}",
                    v.version, v.operation
                );
                out.push_str(line.trim_end());
                out.push('\n');
            }
            say(&out);
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "delta")]
        Command::Table(TableCommand::Optimize { path, target_mib }) => {
            let done = weir::connectors::optimize(&path, target_mib << 20)
                .with_context(|| format!("optimizing {path}"))?;
            say(&format!(
                "{path}: {} small file(s) rewritten into {}\n",
                done.removed, done.added
            ));
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "delta")]
        Command::Table(TableCommand::Vacuum {
            path,
            retain_hours,
            dry_run,
        }) => {
            let files = weir::connectors::vacuum(&path, retain_hours, dry_run)
                .with_context(|| format!("vacuuming {path}"))?;
            let verb = if dry_run { "would delete" } else { "deleted" };
            let mut out = format!("{path}: {verb} {} file(s)\n", files.len());
            for file in files {
                out.push_str(&format!("  {file}\n"));
            }
            say(&out);
            Ok(ExitCode::SUCCESS)
        }
        Command::Cache { action } => {
            let Some(dir) = weir::plugin::ComponentCache::default_dir() else {
                anyhow::bail!("no cache folder: set WEIR_CACHE_DIR (or HOME)");
            };
            let cache = weir::plugin::ComponentCache::new(&dir);
            let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
            match action {
                Some(CacheAction::Clear) => {
                    let removed = cache
                        .clear()
                        .with_context(|| format!("clearing {}", dir.display()))?;
                    say(&format!(
                        "removed {} compiled component(s), {:.1} MiB, from {}\n",
                        removed.components,
                        mib(removed.bytes),
                        dir.display()
                    ));
                }
                None => {
                    let usage = cache.usage();
                    say(&format!(
                        "{}: {} compiled component(s), {:.1} MiB\n",
                        dir.display(),
                        usage.components,
                        mib(usage.bytes)
                    ));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugin(PluginCommand::Inspect { plugins }) => {
            let engine = PluginEngine::new(&EngineOptions::default())?;
            for reference in plugins {
                say(&inspect_plugin(&engine, &reference)?.to_string());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugin(PluginCommand::List) => {
            let engine = PluginEngine::new(&EngineOptions::default())?;
            let named = weir::graph::named_plugins();
            if named.is_empty() {
                say("no plugins found: set WEIR_PLUGIN_PATH to the folders of your plugins\n");
            }
            for (name, file) in named {
                let line = match engine
                    .load_file(&file)
                    .map_err(anyhow::Error::from)
                    .and_then(|plugin| Ok(inspect(&engine, &plugin)?))
                {
                    Ok(found) => format!(
                        "{name:<20} {:<10} {:<8} {}  ({})",
                        found.world,
                        found.about.version,
                        found.about.description,
                        file.display()
                    ),
                    Err(error) => format!("{name:<20} not a usable plugin: {}", chain(&error)),
                };
                say(&format!("{line}\n"));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugin(PluginCommand::Docs { name }) => {
            let page = include_str!("../../plugins/REFERENCE.md");
            if let Some(section) = weir::authoring::reference::plugin_section(page, &name) {
                say(section);
                return Ok(ExitCode::SUCCESS);
            }
            let engine = PluginEngine::new(&EngineOptions::default())?;
            let found = inspect_plugin(&engine, &name)?;
            say(&format!(
                "{name} is not a first-party plugin (those are {}); what it says about itself:\n\n{found}",
                weir::authoring::reference::FIRST_PARTY.join(", ")
            ));
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugin(PluginCommand::New {
            name,
            lang,
            kind,
            dir,
        }) => {
            let (lang, kind) = (Language::from(lang), Kind::from(kind));
            let folder = weir::authoring::scaffold(&dir, &name, lang, kind)?;
            say(&format!(
                "made {} ({} {}); build it with: weir plugin build {}\n",
                folder.display(),
                lang.name(),
                kind.name(),
                folder.display()
            ));
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugin(PluginCommand::Build { dir, out }) => {
            eprintln!("building {} ...", dir.display());
            let built = weir::authoring::build(&dir, out.as_deref())?;
            say(&format!(
                "built {} ({} {}) in {:.1}s\n",
                built.path.display(),
                built.language.name(),
                built.kind.name(),
                built.took.as_secs_f64()
            ));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes `text` to stdout. A reader that went away (`weir validate p.yaml
/// | head -3`) ends the command quietly with exit 0, as other command-line
/// tools do; any other write error ends it with exit 1.
fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {error}");
        std::process::exit(1);
    }
}
