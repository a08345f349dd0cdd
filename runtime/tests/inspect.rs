//! `weir plugin inspect` as a user runs it: the real binary on real plugins.

use std::process::{Command, Output};

fn weir(args: &[&str]) -> Output {
    weir_with_cache(
        &std::env::temp_dir().join("weir-test-component-cache"),
        args,
    )
}

/// Runs `weir` with its component cache in `cache`.
fn weir_with_cache(cache: &std::path::Path, args: &[&str]) -> Output {
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

/// The digest `weir plugin inspect` prints for `plugin`, with its component
/// cache in `cache`.
fn inspected_digest(cache: &std::path::Path, plugin: &std::path::Path) -> String {
    let out = weir_with_cache(cache, &["plugin", "inspect", plugin.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("digest:      sha256:"))
        .unwrap_or_else(|| panic!("no digest in:\n{stdout}"))
        .to_string()
}

/// A load skips reading and hashing a plugin file whose digest the cache
/// remembers, so the remembered digest must never outlive the bytes: a
/// file rewritten in place at the same size, with its modification time
/// set back, is hashed again.
#[test]
fn a_remembered_plugin_digest_is_used_only_while_the_file_is_unchanged() {
    use std::io::{Seek, SeekFrom, Write};
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("filter.wasm");
    let original = std::fs::read(weir_plugin_artifacts::FILTER).unwrap();
    std::fs::write(&plugin, &original).unwrap();
    let modified = std::fs::metadata(&plugin).unwrap().modified().unwrap();
    let digests = cache.path().join("components/digests");
    // A file changed a moment ago is hashed, and its digest not remembered.
    let first = inspected_digest(cache.path(), &plugin);
    assert_eq!(first, weir::plugin::sha256_hex(&original));
    assert!(!digests.exists(), "a fresh file's digest is not remembered");
    // Left unchanged long enough, it is remembered and used.
    std::thread::sleep(weir::plugin::SETTLED + std::time::Duration::from_millis(100));
    assert_eq!(inspected_digest(cache.path(), &plugin), first);
    assert_eq!(std::fs::read_dir(&digests).unwrap().count(), 1);
    assert_eq!(inspected_digest(cache.path(), &plugin), first);

    // One letter of a custom section's text changes: same size, same inode,
    // the old modification time.
    let at = original
        .windows(5)
        .position(|w| w == b"rustc")
        .expect("a producers section");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&plugin)
        .unwrap();
    file.seek(SeekFrom::Start(at as u64)).unwrap();
    file.write_all(b"R").unwrap();
    file.set_modified(modified).unwrap();
    drop(file);
    let mut changed = original.clone();
    changed[at] = b'R';
    assert_eq!(
        inspected_digest(cache.path(), &plugin),
        weir::plugin::sha256_hex(&changed),
        "the changed bytes, not the remembered digest"
    );

    assert!(
        weir_with_cache(cache.path(), &["cache", "clear"])
            .status
            .success()
    );
    assert!(!digests.exists(), "`weir cache clear` forgets digests too");
}
