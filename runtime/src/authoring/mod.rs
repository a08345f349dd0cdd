//! Writing plugins: scaffolding a plugin folder in Rust, Python or
//! JavaScript (`weir plugin new`) and building one into a component
//! (`weir plugin build`).

mod build;
pub mod reference;
mod rust_sdk;
mod scaffold;

pub use build::{BuildError, Built, build, language_of, toolchains_dir};
pub use scaffold::{ScaffoldError, scaffold};

/// A language plugins are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Rust, on the `weir-sdk` crate.
    Rust,
    /// Python, on `weir_sdk` and componentize-py.
    Python,
    /// JavaScript, on `weir-sdk` (apache-arrow) and componentize-js.
    JavaScript,
}

impl Language {
    /// The file that makes a folder a plugin of this language.
    pub fn entry(self) -> &'static str {
        match self {
            Language::Rust => "Cargo.toml",
            Language::Python => "app.py",
            Language::JavaScript => "plugin.js",
        }
    }

    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::JavaScript => "JavaScript",
        }
    }
}
