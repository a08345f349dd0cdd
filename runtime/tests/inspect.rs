//! `weir plugin inspect` as a user runs it: the real binary on real plugins.

use std::process::{Command, Output};

fn weir(args: &[&str]) -> Output {
    let cache = std::env::temp_dir().join("weir-test-component-cache");
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .env("WEIR_CACHE_DIR", cache)
        .output()
        .expect("run weir")
}

#[test]
fn inspect_prints_world_contract_metadata_and_imports() {
    let out = weir(&[
        "plugin",
        "inspect",
        weir_plugin_artifacts::FILTER,
        weir_plugin_artifacts::GENERATE,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "plugin:      filter 0.1.0",
        "description: Keeps the rows that match a predicate",
        "world:       transform-plugin (weir:plugin/transform@0.1.0)",
        "plugin:      generate 0.1.0",
        "world:       source-plugin (weir:plugin/source@0.1.0)",
        "digest:      sha256:",
        "wasi:cli/environment@0.2.6",
        "environment (needs `env`)",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}

#[test]
fn inspect_refuses_what_is_not_a_plugin_with_a_clear_message_and_exit_code() {
    let dir = tempfile_dir();
    let junk = dir.join("junk.wasm");
    std::fs::write(&junk, b"definitely not wasm").unwrap();
    for (file, expected) in [
        (junk.to_str().unwrap(), "not a WebAssembly file"),
        (
            weir_plugin_artifacts::TEST_NOT_A_PLUGIN,
            "not a Weir plugin",
        ),
        ("/nonexistent.wasm", "no file /nonexistent.wasm"),
    ] {
        let out = weir(&["plugin", "inspect", file]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains(expected), "{file}: {stderr}");
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("weir-inspect-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
