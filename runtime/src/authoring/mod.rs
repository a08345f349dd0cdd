//! Writing plugins: scaffolding a plugin folder in Rust, Python or
//! JavaScript (`weir plugin new`) and building one into a component
//! (`weir plugin build`).

mod build;
mod scaffold;

pub use build::{BuildError, Built, build, language_of, toolchains_dir};
pub use scaffold::{ScaffoldError, scaffold};

/// A language plugins are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// Rust, on the `weir-sdk` crate.
    Rust,
    /// Python, on `weir_sdk` and componentize-py.
    Python,
    /// JavaScript, on `weir-sdk` (apache-arrow) and componentize-js.
    #[value(name = "js")]
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

/// What a plugin is: the world it implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Batches in, batches out.
    Transform,
    /// Produces batches.
    Source,
    /// Writes batches somewhere.
    Sink,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 3] = [Kind::Transform, Kind::Source, Kind::Sink];

    /// `transform`, `source` or `sink`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Transform => "transform",
            Kind::Source => "source",
            Kind::Sink => "sink",
        }
    }

    /// The WIT world of the kind.
    pub fn world(self) -> &'static str {
        match self {
            Kind::Transform => "transform-plugin",
            Kind::Source => "source-plugin",
            Kind::Sink => "sink-plugin",
        }
    }
}
