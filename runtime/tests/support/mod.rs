//! Helpers shared by the end-to-end tests: the `weir` binary with the
//! first-party plugins, and readers of what it wrote.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use arrow::array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The `weir` command with the first-party plugins on its plugin path.
pub fn weir_command(args: &[&str]) -> Command {
    let plugins = Path::new(weir_plugin_artifacts::FILTER).parent().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_weir"));
    command
        .args(args)
        .env("WEIR_PLUGIN_PATH", plugins)
        .env(
            "WEIR_CACHE_DIR",
            std::env::temp_dir().join("weir-test-component-cache"),
        )
        .env_remove("WEIR_TEST_UNSET_ROWS");
    command
}

pub fn weir(args: &[&str]) -> Output {
    weir_command(args).output().expect("run weir")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pipelines")
}

/// Every batch of every Parquet file in `dir`, in file-name order.
pub fn read_parquet_dir(dir: &Path) -> Vec<RecordBatch> {
    files_with_extension(dir, "parquet")
        .into_iter()
        .flat_map(|path| {
            ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&path).unwrap())
                .unwrap()
                .build()
                .unwrap()
                .map(|b| b.unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The names of the entries of `dir` (none when it does not exist).
pub fn read_dir_names(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

/// Sends SIGINT (Ctrl-C) to `child`.
pub fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Every row of every JSON-lines file in `dir`, in file-name order.
pub fn read_json_dir(dir: &Path) -> Vec<serde_json::Value> {
    files_with_extension(dir, "jsonl")
        .iter()
        .flat_map(|path| {
            fs::read_to_string(path)
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The files of `dir` ending in `.<extension>`, in name order.
fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    files
}
