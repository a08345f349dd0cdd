//! The kind of a node: source, transform or sink. It names the section of a
//! pipeline file a node is written in, the plugin world a component exports
//! and the loop the executor runs.

use std::fmt;

/// What a node does with batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Produces batches (`sources:`, `source-plugin`).
    Source,
    /// Turns batches into batches (`transforms:`, `transform-plugin`).
    Transform,
    /// Consumes batches (`sinks:`, `sink-plugin`).
    Sink,
}

impl Kind {
    /// Every kind, in pipeline order.
    pub const ALL: [Kind; 3] = [Kind::Source, Kind::Transform, Kind::Sink];

    /// One node of the kind: `source`, `transform` or `sink` (also the name
    /// of the plugin interface it exports).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Source => "source",
            Kind::Transform => "transform",
            Kind::Sink => "sink",
        }
    }

    /// The section of a pipeline file its nodes are written in: `sources`,
    /// `transforms` or `sinks`.
    pub fn section(self) -> &'static str {
        match self {
            Kind::Source => "sources",
            Kind::Transform => "transforms",
            Kind::Sink => "sinks",
        }
    }

    /// The name of the WIT world of its plugins (`transform-plugin`, ...).
    pub fn world_name(self) -> &'static str {
        match self {
            Kind::Source => "source-plugin",
            Kind::Transform => "transform-plugin",
            Kind::Sink => "sink-plugin",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}
