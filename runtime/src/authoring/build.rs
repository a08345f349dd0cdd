//! `weir plugin build DIR`: turns a plugin folder into a component, whatever
//! its language.
//!
//! - Rust (`Cargo.toml`): `cargo build --release --target wasm32-wasip2`;
//! - Python (`app.py`): componentize-py, with the Python SDK and the WIT
//!   carried inside this binary, WASI stubbed out (the plugin gets only the
//!   weir host interface);
//! - JavaScript (`plugin.js`): esbuild bundles it with the JavaScript SDK and
//!   apache-arrow, then the componentize-js API builds the component.
//!
//! Python and JavaScript toolchains live in the toolchain folder
//! ([`toolchains_dir`]) where `scripts/toolchains.sh` installs them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::Language;
use crate::Kind;

/// The Python SDK's modules.
const PYTHON_SDK: [(&str, &str); 5] = [
    (
        "__init__.py",
        include_str!("../../../sdk/python/weir_sdk/__init__.py"),
    ),
    (
        "arrow.py",
        include_str!("../../../sdk/python/weir_sdk/arrow.py"),
    ),
    (
        "bounds.py",
        include_str!("../../../sdk/python/weir_sdk/bounds.py"),
    ),
    (
        "ipc.py",
        include_str!("../../../sdk/python/weir_sdk/ipc.py"),
    ),
    (
        "plugin.py",
        include_str!("../../../sdk/python/weir_sdk/plugin.py"),
    ),
];

/// The JavaScript SDK and the script that bundles and componentizes.
const JS_SDK: &str = include_str!("../../../sdk/js/weir-sdk.js");
const JS_BUILD: &str = include_str!("../../../sdk/js/build.mjs");

/// The WIT world the Python and JavaScript SDKs build a plugin of `kind`
/// against: a transform also exports `input-bounds` (the SDKs answer the
/// plugin's `bounds`, nothing when it sets none).
fn sdk_world(kind: Kind) -> &'static str {
    match kind {
        Kind::Transform => "bounded-transform-plugin",
        kind => kind.world_name(),
    }
}

/// Why a plugin folder did not build.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The folder holds no plugin of a known language.
    #[error(
        "{0}: not a plugin folder (expected Cargo.toml for Rust, app.py for Python or plugin.js for JavaScript)"
    )]
    NotAPlugin(PathBuf),
    /// The plugin's kind could not be read from its source.
    #[error("{file}: cannot tell whether it is a transform, source or sink: {expected}")]
    UnknownKind {
        /// The file looked at.
        file: PathBuf,
        /// What it should contain.
        expected: &'static str,
    },
    /// A toolchain is not installed.
    #[error(
        "{tool} is not installed at {path}: run `scripts/toolchains.sh {language}` (or point WEIR_TOOLCHAINS at a folder holding the toolchains)"
    )]
    MissingToolchain {
        /// The missing program.
        tool: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// `python` or `js`.
        language: &'static str,
    },
    /// The toolchain ran and failed.
    #[error("building {dir} failed: {command} exited with {status}:\n{output}")]
    Failed {
        /// The plugin folder.
        dir: PathBuf,
        /// The program that failed.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed.
        output: String,
    },
    /// The build succeeded but left no component.
    #[error("building {0} left no .wasm component")]
    NoComponent(PathBuf),
    /// Reading or writing a file failed.
    #[error("{path}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A component built from a plugin folder.
#[derive(Debug, Clone)]
pub struct Built {
    /// The component file.
    pub path: PathBuf,
    /// The plugin's language.
    pub language: Language,
    /// What it is.
    pub kind: Kind,
    /// How long the build took.
    pub took: Duration,
}

/// Where the Python and JavaScript toolchains are: `$WEIR_TOOLCHAINS`, else
/// `$HOME/.cache/weir/toolchains`.
pub fn toolchains_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WEIR_TOOLCHAINS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/weir/toolchains")
}

/// The language of the plugin in `dir`, from the file that defines it.
pub fn language_of(dir: &Path) -> Result<Language, BuildError> {
    [Language::Rust, Language::Python, Language::JavaScript]
        .into_iter()
        .find(|language| dir.join(language.entry()).is_file())
        .ok_or_else(|| BuildError::NotAPlugin(dir.to_path_buf()))
}

/// The kind of a Python or JavaScript plugin, from the export in its entry
/// file (`export_transform(...)`, `export const transform = ...`).
fn kind_of(file: &Path, language: Language) -> Result<Kind, BuildError> {
    let text = std::fs::read_to_string(file).map_err(io(file))?;
    let (marker, expected): (fn(Kind) -> String, _) = match language {
        Language::Python => (
            |k| format!("export_{}(", k.name()),
            "expected one of weir_sdk.export_transform/export_source/export_sink",
        ),
        _ => (
            |k| format!("export const {} ", k.name()),
            "expected `export const transform` (or source, sink) = define...(...)",
        ),
    };
    Kind::ALL
        .into_iter()
        .find(|&kind| text.contains(&marker(kind)))
        .ok_or(BuildError::UnknownKind {
            file: file.to_path_buf(),
            expected,
        })
}

/// Runs `command`; its output becomes the error if it fails.
fn run(dir: &Path, mut command: Command) -> Result<String, BuildError> {
    let name = command.get_program().to_string_lossy().into_owned();
    // The toolchains are Rust programs: their backtraces tell a plugin's
    // author nothing.
    command
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0");
    let output = command.output().map_err(io(Path::new(&name)))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    Err(BuildError::Failed {
        dir: dir.to_path_buf(),
        command: name,
        status: output.status,
        output: concise(
            &format!("{stdout}{}", String::from_utf8_lossy(&output.stderr)),
            dir,
        ),
    })
}

/// What a failed build said, as its author needs it: a Python error in the
/// plugin's own code first, as `FILE:LINE: Error: message` with the line
/// and its caret, then the rest without the toolchain's own traceback.
fn concise(output: &str, dir: &Path) -> String {
    let lines: Vec<&str> = output.lines().collect();
    // componentize-py shows the plugin's files under `/0/`.
    let error_at = lines
        .iter()
        .rposition(|l| l.contains("File \"/0/") && l.contains("\", line "));
    let Some(at) = error_at else {
        let rest = output.split("\nStack backtrace:").next().unwrap_or(output);
        return rest.trim_end().to_string();
    };
    let header = &lines[at][lines[at].find("File \"/0/").unwrap_or_default()..];
    let file = header["File \"/0/".len()..]
        .split('"')
        .next()
        .unwrap_or_default();
    let line = header.rsplit("line ").next().unwrap_or_default();
    let detail: Vec<&str> = lines[at + 1..]
        .iter()
        .take_while(|l| !l.trim().is_empty())
        .copied()
        .collect();
    let (message, code) = match detail.split_last() {
        Some((message, code)) => (message.trim(), code),
        None => ("", &[][..]),
    };
    let mut text = format!("{}:{line}: {message}", dir.join(file).display());
    for code in code {
        text.push_str(&format!("\n{code}"));
    }
    text
}

/// Writes `files` into `dir`.
fn write_all(dir: &Path, files: &[(&str, &str)]) -> Result<(), BuildError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    Ok(())
}

/// A toolchain program, or the error that says how to install it.
fn tool(path: PathBuf, tool: &'static str, language: &'static str) -> Result<PathBuf, BuildError> {
    match path.exists() {
        true => Ok(path),
        false => Err(BuildError::MissingToolchain {
            tool,
            path,
            language,
        }),
    }
}

/// Builds the plugin in `dir` into `out` (default: `DIR/NAME.wasm`, NAME
/// the folder's name).
pub fn build(dir: &Path, out: Option<&Path>) -> Result<Built, BuildError> {
    let started = Instant::now();
    let dir = std::fs::canonicalize(dir).map_err(io(dir))?;
    let language = language_of(&dir)?;
    let out = match out {
        Some(out) => std::path::absolute(out).map_err(io(out))?,
        None => {
            let name = dir.file_name().unwrap_or_default().to_string_lossy();
            dir.join(format!("{name}.wasm"))
        }
    };
    let support = tempfile::tempdir().map_err(io(&std::env::temp_dir()))?;
    let wit = support.path().join("wit");
    let contract: Vec<_> = super::rust_sdk::wit_files().collect();
    write_all(&wit, &contract)?;
    let kind = match language {
        Language::Rust => build_rust(&dir, &out)?,
        Language::Python => {
            let kind = kind_of(&dir.join(language.entry()), language)?;
            build_python(&dir, kind, support.path(), &wit, &out)?;
            kind
        }
        Language::JavaScript => {
            let kind = kind_of(&dir.join(language.entry()), language)?;
            build_js(&dir, kind, support.path(), &wit, &out)?;
            kind
        }
    };
    if !out.is_file() {
        return Err(BuildError::NoComponent(dir));
    }
    Ok(Built {
        path: out,
        language,
        kind,
        took: started.elapsed(),
    })
}

/// componentize-py on `dir/app.py`, with the Python SDK written into
/// `support` and WASI stubbed out.
fn build_python(
    dir: &Path,
    kind: Kind,
    support: &Path,
    wit: &Path,
    out: &Path,
) -> Result<(), BuildError> {
    let venv = toolchains_dir().join("python");
    let componentize = tool(
        venv.join("bin/componentize-py"),
        "componentize-py",
        "python",
    )?;
    let sdk = support.join("python");
    write_all(&sdk.join("weir_sdk"), &PYTHON_SDK)?;
    let mut command = Command::new(componentize);
    command
        .env("VIRTUAL_ENV", &venv)
        .arg("-d")
        .arg(wit)
        .args(["-w", sdk_world(kind), "componentize", "--stub-wasi", "app"])
        .arg("-p")
        .arg(dir)
        .arg("-p")
        .arg(&sdk)
        .arg("-o")
        .arg(out);
    run(dir, command).map(drop)
}

/// The bundling and componentize-js script on `dir/plugin.js`, with the
/// JavaScript SDK written into `support`.
fn build_js(
    dir: &Path,
    kind: Kind,
    support: &Path,
    wit: &Path,
    out: &Path,
) -> Result<(), BuildError> {
    let js = toolchains_dir().join("js");
    tool(
        js.join("node_modules/@bytecodealliance/componentize-js"),
        "componentize-js",
        "js",
    )?;
    // Beside node_modules, so its imports resolve there.
    let script = js.join("weir-build.mjs");
    std::fs::write(&script, JS_BUILD).map_err(io(&script))?;
    let sdk = support.join("weir-sdk.js");
    std::fs::write(&sdk, JS_SDK).map_err(io(&sdk))?;
    let mut command = Command::new("node");
    command
        .arg(&script)
        .arg(dir.join(Language::JavaScript.entry()))
        .arg(sdk_world(kind))
        .arg(wit)
        .arg(&sdk)
        .arg(out);
    run(dir, command)?;
    let _ = std::fs::remove_file(format!("{}.bundle.js", out.display()));
    Ok(())
}

/// `cargo build`s the crate in `dir` for wasm32-wasip2 and copies its
/// component to `out`; answers the kind from the export macro it uses.
fn build_rust(dir: &Path, out: &Path) -> Result<Kind, BuildError> {
    let lib = dir.join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).map_err(io(&lib))?;
    let kind = Kind::ALL
        .into_iter()
        .find(|k| text.contains(&format!("export_{}!", k.name())))
        .ok_or(BuildError::UnknownKind {
            file: lib,
            expected: "expected weir_sdk::export_transform! (or export_source!, export_sink!)",
        })?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(dir)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .args(["--message-format", "json-render-diagnostics"])
        // Flags of an enclosing cargo run (tests) must not leak in.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    let messages = run(dir, command)?;
    let component = messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .rfind(|f| f.extension().is_some_and(|e| e == "wasm"))
        .ok_or_else(|| BuildError::NoComponent(dir.to_path_buf()))?;
    std::fs::copy(&component, out).map_err(io(out))?;
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_python_syntax_error_is_said_first_in_a_few_lines() {
        let output = "Traceback (most recent call last):
  File \"/p/bin/componentize-py\", line 8, in <module>
    sys.exit(script())
             ^^^^^^^^
AssertionError:   File \"/0/app.py\", line 25
    raise ValueError(\"x\"
                    ^
SyntaxError: '(' was never closed


Caused by:
    SyntaxError: '(' was never closed (app.py, line 25)

Stack backtrace:
   0: <anyhow::Error>::msg
";
        assert_eq!(
            concise(output, Path::new("/plugins/p")),
            "/plugins/p/app.py:25: SyntaxError: '(' was never closed\n    raise ValueError(\"x\"\n                    ^"
        );
        assert_eq!(
            concise("npm failed\nStack backtrace:\n 0: x", Path::new(".")),
            "npm failed"
        );
    }
}
