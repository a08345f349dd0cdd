//! Capabilities a pipeline grants one plugin node, beyond the clocks and
//! random numbers every plugin has: host directories, opened through cap-std
//! preopens (a plugin cannot leave them by `..`, absolute paths or symlinks),
//! read-only unless granted `write`, and environment variables by name.
//! There is no network and never stdin.

use std::path::PathBuf;

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// What one node's plugin instances may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Host directories visible inside the sandbox.
    pub dirs: Vec<DirGrant>,
    /// Environment variables (name, value) the plugin can read.
    pub env: Vec<(String, String)>,
}

/// A host directory granted to a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the plugin sees it, e.g. `/data`.
    pub guest: String,
    /// Whether the plugin may create, change and delete files in it.
    pub write: bool,
}

impl Grants {
    /// Adds the grants to a WASI context; fails when a directory cannot be
    /// opened.
    pub(crate) fn apply(&self, builder: &mut WasiCtxBuilder) -> wasmtime::Result<()> {
        for (name, value) in &self.env {
            builder.env(name, value);
        }
        for dir in &self.dirs {
            let perms = match dir.write {
                true => FsPerms::ReadWrite,
                false => FsPerms::ReadOnly,
            };
            builder.preopened_dir(&dir.host, &dir.guest, perms)?;
        }
        Ok(())
    }
}
