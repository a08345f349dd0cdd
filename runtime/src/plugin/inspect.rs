//! `weir plugin inspect`: what a component is and what it would need.

use super::PluginInstance;
use std::fmt;

use super::bindings::types::PluginInfo;
use super::engine::{Plugin, PluginEngine};
use super::error::PluginError;
use super::limits::Limits;
use super::{SinkInstance, SourceInstance, TransformInstance};
use crate::Kind;

/// Everything `weir plugin inspect` reports about a component.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The file or name it was loaded from.
    pub name: String,
    /// `sha256:<hex>` of the `.wasm` bytes.
    pub digest: String,
    /// The world it implements.
    pub world: Kind,
    /// The `weir:plugin` version it was built against.
    pub contract_version: String,
    /// What the plugin says about itself.
    pub about: PluginInfo,
    /// Every import, with the capability it stands for.
    pub imports: Vec<Import>,
}

/// One import of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The import name, e.g. `wasi:filesystem/preopens@0.2.6`.
    pub name: String,
    /// The capability a pipeline must grant for it to do anything.
    pub capability: Capability,
}

/// What an import lets a plugin reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Weir's own host interface (logs, metrics): always available.
    Host,
    /// Needs nothing granted: clocks, random numbers, I/O plumbing, exit.
    Always,
    /// Files and directories (granted per node as `dirs`).
    Filesystem,
    /// Environment variables and arguments (granted per node as `env`).
    Environment,
    /// Sockets and HTTP: Weir offers no network; such a plugin is refused.
    Network,
    /// Standard input, output and error streams.
    Stdio,
    /// Anything else: Weir provides no such import.
    Unknown,
}

impl Capability {
    fn of(import: &str) -> Self {
        let interface = import.split('@').next().unwrap_or(import);
        match interface {
            i if i.starts_with("weir:plugin/") => Self::Host,
            i if i.starts_with("wasi:filesystem/") => Self::Filesystem,
            i if i.starts_with("wasi:sockets/") || i.starts_with("wasi:http/") => Self::Network,
            "wasi:cli/environment" => Self::Environment,
            i if i.starts_with("wasi:cli/std") || i.starts_with("wasi:cli/terminal") => Self::Stdio,
            i if i.starts_with("wasi:clocks/")
                || i.starts_with("wasi:random/")
                || i.starts_with("wasi:io/") =>
            {
                Self::Always
            }
            "wasi:cli/exit" => Self::Always,
            _ => Self::Unknown,
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Host => "weir host (always)",
            Self::Always => "always granted",
            Self::Filesystem => "filesystem (needs `dirs`)",
            Self::Environment => "environment (needs `env`)",
            Self::Network => "network: not offered, refused in pipelines",
            Self::Stdio => "stdio (stdin never; stdout and stderr go to the log, rate-limited)",
            Self::Unknown => "unknown: not provided by Weir",
        })
    }
}

/// Every import of a plugin's component, with the capability it stands for.
pub fn imports(engine: &PluginEngine, plugin: &Plugin) -> Vec<Import> {
    plugin
        .component()
        .component_type()
        .imports(engine.engine())
        .map(|(name, _)| Import {
            name: name.to_string(),
            capability: Capability::of(name),
        })
        .collect()
}

/// Loads a plugin, instantiates it without opening it, and describes it.
pub fn inspect(engine: &PluginEngine, plugin: &Plugin) -> Result<Inspection, PluginError> {
    let limits = Limits::default();
    let node = plugin.name();
    let about = match plugin.world() {
        Kind::Transform => TransformInstance::new(engine, plugin, node, &limits)?.about()?,
        Kind::Source => SourceInstance::new(engine, plugin, node, &limits)?.about()?,
        Kind::Sink => SinkInstance::new(engine, plugin, node, &limits)?.about()?,
    };
    let imports = imports(engine, plugin);
    Ok(Inspection {
        name: plugin.name().to_string(),
        digest: plugin.digest().to_string(),
        world: plugin.world(),
        contract_version: plugin.contract().version.clone(),
        about,
        imports,
    })
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.name)?;
        writeln!(
            f,
            "  plugin:      {} {}",
            self.about.name, self.about.version
        )?;
        writeln!(f, "  description: {}", self.about.description)?;
        writeln!(
            f,
            "  world:       {} (weir:plugin/{}@{})",
            self.world.world_name(),
            self.world,
            self.contract_version
        )?;
        writeln!(f, "  digest:      {}", self.digest)?;
        writeln!(f, "  imports:")?;
        for import in &self.imports {
            writeln!(f, "    {:<44} {}", import.name, import.capability)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_map_to_capabilities() {
        assert_eq!(
            Capability::of("wasi:filesystem/preopens@0.2.6"),
            Capability::Filesystem
        );
        assert_eq!(
            Capability::of("wasi:sockets/tcp@0.2.0"),
            Capability::Network
        );
        assert_eq!(
            Capability::of("wasi:cli/environment@0.2.6"),
            Capability::Environment
        );
        assert_eq!(
            Capability::of("wasi:clocks/monotonic-clock@0.2.6"),
            Capability::Always
        );
        assert_eq!(Capability::of("weir:plugin/host@0.1.0"), Capability::Host);
        assert_eq!(Capability::of("acme:thing/x"), Capability::Unknown);
    }
}
