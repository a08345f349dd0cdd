//! The `weir` command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use weir::exec::{RunOptions, run};
use weir::graph::Graph;
use weir::plugin::{EngineOptions, PluginEngine, inspect::inspect};
use weir::spec::Pipeline;

/// Weir: a dataflow runtime whose stages are sandboxed WebAssembly components.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline file to the end of its inputs (Ctrl-C drains and stops).
    Run {
        /// The pipeline file (YAML).
        file: PathBuf,
        /// No progress line and no summary.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Check a pipeline file and print every edge with its schema.
    Validate {
        /// The pipeline file (YAML).
        file: PathBuf,
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
}

/// Formats of `weir graph`.
#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    /// A Mermaid flowchart.
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// Exit code of a run stopped by Ctrl-C (128 + SIGINT).
const INTERRUPTED: u8 = 130;

#[derive(Subcommand)]
enum PluginCommand {
    /// Print a component's world, contract version, name, version,
    /// description and every import it asks for (the capabilities it needs).
    Inspect {
        /// One or more `.wasm` components.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match execute(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Loads and checks the pipeline at `file`.
fn build(file: &Path) -> anyhow::Result<(Graph, PluginEngine)> {
    let pipeline = Pipeline::from_file(file)?;
    let engine = PluginEngine::new(&EngineOptions::default())?;
    let graph = Graph::build(pipeline, &engine)?;
    Ok((graph, engine))
}

/// Sets `stop` at the first Ctrl-C; exits at once at the second.
fn handle_ctrl_c(stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    std::thread::Builder::new()
        .name("weir-signals".into())
        .spawn(move || {
            runtime.block_on(async {
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!("\ninterrupted: draining in-flight batches and closing sinks (Ctrl-C again to exit at once)");
                    stop.store(true, Ordering::SeqCst);
                }
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(INTERRUPTED.into());
                }
            })
        })?;
    Ok(())
}

fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run { file, quiet } => {
            let (graph, engine) = build(&file)?;
            let stop = Arc::new(AtomicBool::new(false));
            handle_ctrl_c(stop.clone())?;
            let options = RunOptions {
                progress: (!quiet).then_some(Duration::from_secs(1)),
                ..RunOptions::default()
            };
            let result = run(&graph, &engine, &options, &stop);
            let summary = match &result {
                Ok(summary) => summary,
                Err(error) => &error.summary,
            };
            if !quiet {
                eprintln!("{summary}");
            }
            result.with_context(|| format!("running {}", file.display()))?;
            Ok(match stop.load(Ordering::SeqCst) {
                true => ExitCode::from(INTERRUPTED),
                false => ExitCode::SUCCESS,
            })
        }
        Command::Validate { file } => {
            let (graph, _) = build(&file)?;
            print!("{}", graph.edges_report());
            println!("{}: valid ({} nodes)", file.display(), graph.nodes.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph { file, format } => {
            let (graph, _) = build(&file)?;
            print!(
                "{}",
                match format {
                    GraphFormat::Mermaid => weir::graph::mermaid(&graph),
                    GraphFormat::Dot => weir::graph::dot(&graph),
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugin(PluginCommand::Inspect { files }) => {
            let engine = PluginEngine::new(&EngineOptions::default())?;
            for file in files {
                let plugin = engine.load_file(&file)?;
                let report = inspect(&engine, &plugin)
                    .with_context(|| format!("inspecting {}", file.display()))?;
                print!("{report}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
