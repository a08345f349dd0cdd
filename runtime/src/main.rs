//! The `weir` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use weir::plugin::{EngineOptions, PluginEngine, inspect::inspect};

/// Weir: a dataflow runtime whose stages are sandboxed WebAssembly components.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with plugin components.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

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
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Plugin(PluginCommand::Inspect { files }) => {
            let engine = PluginEngine::new(&EngineOptions::default())?;
            for file in files {
                let plugin = engine.load_file(&file)?;
                let report = inspect(&engine, &plugin)
                    .with_context(|| format!("inspecting {}", file.display()))?;
                print!("{report}");
            }
            Ok(())
        }
    }
}
