//! `weir plugin new NAME --lang L --kind K`: a plugin folder that builds and
//! runs as generated: the code, a README with the one build command, a
//! sample input and a pipeline that runs the plugin on it.

use std::path::{Path, PathBuf};

use super::Language;
use crate::Kind;

/// Why a plugin folder was not made.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// Plugin names become file, crate and node names.
    #[error(
        "{0:?} is not a plugin name: use lower-case letters, digits and dashes, starting with a letter"
    )]
    BadName(String),
    /// The folder is there already.
    #[error("{0} exists already; choose another name or folder")]
    Exists(PathBuf),
    /// Writing a file failed.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// The plugin code of each language and kind.
fn code(language: Language, kind: Kind) -> (&'static str, &'static str) {
    use {Kind::*, Language::*};
    match (language, kind) {
        (Rust, Transform) => (
            "src/lib.rs",
            include_str!("../../templates/rust/transform.rs"),
        ),
        (Rust, Source) => ("src/lib.rs", include_str!("../../templates/rust/source.rs")),
        (Rust, Sink) => ("src/lib.rs", include_str!("../../templates/rust/sink.rs")),
        (Python, Transform) => (
            "app.py",
            include_str!("../../templates/python/transform.py"),
        ),
        (Python, Source) => ("app.py", include_str!("../../templates/python/source.py")),
        (Python, Sink) => ("app.py", include_str!("../../templates/python/sink.py")),
        (JavaScript, Transform) => ("plugin.js", include_str!("../../templates/js/transform.js")),
        (JavaScript, Source) => ("plugin.js", include_str!("../../templates/js/source.js")),
        (JavaScript, Sink) => ("plugin.js", include_str!("../../templates/js/sink.js")),
    }
}

fn pipeline(kind: Kind) -> &'static str {
    match kind {
        Kind::Transform => include_str!("../../templates/transform.yaml"),
        Kind::Source => include_str!("../../templates/source.yaml"),
        Kind::Sink => include_str!("../../templates/sink.yaml"),
    }
}

/// What the README says about the toolchain of `language`.
fn toolchain(language: Language) -> &'static str {
    match language {
        Language::Rust => {
            "It needs the `wasm32-wasip2` target (`rustup target add wasm32-wasip2`). The Weir SDK it builds with is in `weir/` (its sources, written by `weir plugin new`), so the folder builds wherever it is moved."
        }
        Language::Python => {
            "It needs componentize-py in Weir's toolchain folder: `scripts/toolchains.sh python` in the Weir checkout installs it. Values reach the code as Python lists (`batch.column`), or in place without a list (`batch.values`; see `weir_sdk.arrow`)."
        }
        Language::JavaScript => {
            "It needs componentize-js, esbuild and apache-arrow in Weir's toolchain folder: `scripts/toolchains.sh js` in the Weir checkout installs them. Batches reach the code as apache-arrow Tables."
        }
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Makes `parent/NAME/` with a `kind` plugin in `language`; answers the
/// folder.
pub fn scaffold(
    parent: &Path,
    name: &str,
    language: Language,
    kind: Kind,
) -> Result<PathBuf, ScaffoldError> {
    if !valid_name(name) {
        return Err(ScaffoldError::BadName(name.to_string()));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir));
    }
    let description = format!("A {} written in {}.", kind.name(), language.name());
    let (code_file, code_text) = code(language, kind);
    let mut files = vec![
        (code_file, code_text),
        ("README.md", include_str!("../../templates/README.md")),
        ("pipeline.yaml", pipeline(kind)),
    ];
    if kind != Kind::Source {
        files.push(("sample.jsonl", include_str!("../../templates/sample.jsonl")));
    }
    if language == Language::Rust {
        files.push((
            "Cargo.toml",
            include_str!("../../templates/rust/Cargo.toml"),
        ));
        files.push((".gitignore", "/target\n*.wasm\n/out\n/state\n"));
        files.extend(super::rust_sdk::files());
    } else {
        files.push((".gitignore", "*.wasm\n/out\n/state\n"));
    }
    for (file, template) in files {
        let text = template
            .replace("{{name}}", name)
            .replace("{{description}}", &description)
            .replace("{{kind}}", kind.name())
            .replace("{{language}}", language.name())
            .replace("{{entry}}", code_file)
            .replace("{{toolchain}}", toolchain(language))
            .replace("{{weir_version}}", env!("CARGO_PKG_VERSION"));
        let path = dir.join(file);
        let io = |source| ScaffoldError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(path.parent().expect("inside the folder")).map_err(io)?;
        std::fs::write(&path, text).map_err(io)?;
    }
    Ok(dir)
}
