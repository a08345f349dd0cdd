//! Builds every plugin crate under `plugins/` (and the Rust version of each
//! example, `examples/NAME/rust`) for `wasm32-wasip2` with one
//! nested `cargo build`, then generates a constant with the path of each
//! `.wasm` and a `foreach_plugin!` macro (the pattern of wasmtime's
//! `crates/test-programs/artifacts`). `cargo test` alone thus builds and
//! tests every plugin, and nothing stale is ever checked in.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

struct PluginCrate {
    /// Folder name under `plugins/` (e.g. `json-parse`), or the example's
    /// name for the Rust version of an example (`examples/NAME/rust`).
    dir: String,
    /// The crate's folder, relative to the workspace root.
    location: String,
    /// Cargo package name, e.g. `weir-plugin-json-parse`.
    package: String,
    /// Whether the crate is a binary (a plain WASI command, used as a
    /// "not a plugin" fixture) rather than a `cdylib`.
    is_bin: bool,
}

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let plugins_dir = manifest_dir.parent().unwrap().to_path_buf();
    let root = plugins_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());

    for watched in ["plugins", "sdk", "wit", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let mut crates = discover(&plugins_dir, |dir| dir.to_string());
    let examples = discover(&root.join("examples"), |dir| format!("{dir}/rust"));
    // Only the crates: running an example writes outputs beside them.
    for example in &examples {
        println!(
            "cargo:rerun-if-changed={}",
            root.join(&example.location).display()
        );
    }
    crates.extend(examples);
    crates.sort_by(|a, b| a.dir.cmp(&b.dir));
    // One folder for every profile and for `cargo check`, so the plugins are
    // built once, not once per host build flavour; cargo's own lock
    // serializes concurrent builds into it.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map(|t| t.join("weir-plugins"))
        .unwrap_or_else(|| out_dir.join("weir-plugins"));

    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&root)
        .args(["build", "--release", "--target", TARGET])
        .env("CARGO_TARGET_DIR", &target_dir)
        // Flags meant for the host build must not leak into the guest build.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        // `cargo clippy` lints the plugin crates natively; the guest build
        // must not change with it, or it would rebuild every time.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS");
    for c in &crates {
        cmd.args(["--package", &c.package]);
    }
    let status = cmd.status().expect("run cargo to build the plugins");
    assert!(
        status.success(),
        "building the plugins for {TARGET} failed: see the compiler's messages above \
         (a missing target is installed by `rustup target add {TARGET}`)"
    );

    let release = target_dir.join(TARGET).join("release");
    let mut generated = String::new();
    let mut names = Vec::new();
    for c in &crates {
        let file = match c.is_bin {
            true => format!("{}.wasm", c.package),
            false => format!("{}.wasm", c.package.replace('-', "_")),
        };
        let path = release.join(file);
        assert!(
            path.is_file(),
            "expected {} after the plugin build",
            path.display()
        );
        let ident = c.dir.replace('-', "_");
        writeln!(
            generated,
            "/// Path of the `{}` plugin component (`{}`).\npub const {}: &str = {:?};",
            c.dir,
            c.location,
            ident.to_uppercase(),
            path.display().to_string()
        )
        .unwrap();
        names.push(ident);
    }
    writeln!(
        generated,
        "/// Every plugin: (folder name, path of the component).\npub const ALL: &[(&str, &str)] = &[{}];",
        crates
            .iter()
            .zip(&names)
            .map(|(c, n)| format!("({:?}, {})", c.dir, n.to_uppercase()))
            .collect::<Vec<_>>()
            .join(", ")
    )
    .unwrap();
    writeln!(
        generated,
        "/// Calls `$m!(name)` for every plugin; `foreach_plugin!(assert_test_exists)`\n\
         /// makes a plugin without a test module a compile error.\n\
         #[macro_export]\nmacro_rules! foreach_plugin {{\n    ($m:ident) => {{\n{}    }};\n}}",
        names
            .iter()
            .map(|n| format!("        $m!({n});\n"))
            .collect::<String>()
    )
    .unwrap();
    fs::write(out_dir.join("plugins.rs"), generated).unwrap();
}

/// Every crate in a folder `crate_of(NAME)` of a folder `NAME` under
/// `parent` (`plugins/NAME`, `examples/NAME/rust`), except this one.
fn discover(parent: &Path, crate_of: impl Fn(&str) -> String) -> Vec<PluginCrate> {
    let base = parent.file_name().unwrap().to_str().unwrap();
    fs::read_dir(parent)
        .unwrap()
        .filter_map(|entry| {
            let dir = entry.ok()?.file_name().to_str()?.to_string();
            let location = format!("{base}/{}", crate_of(&dir));
            let path = parent.join(crate_of(&dir));
            let manifest = fs::read_to_string(path.join("Cargo.toml")).ok()?;
            if dir == "artifacts" {
                return None;
            }
            let package = manifest.lines().find_map(|l| {
                l.trim()
                    .strip_prefix("name = \"")?
                    .strip_suffix('"')
                    .map(str::to_string)
            })?;
            let is_bin = path.join("src/main.rs").is_file();
            Some(PluginCrate {
                dir,
                location,
                package,
                is_bin,
            })
        })
        .collect()
}
