//! The audit log: one JSON line per plugin event that an operator answers
//! for (a plugin loaded, an instance re-created after a trap or contract
//! breach, a limit or quota breached, a hot swap made or refused), with who
//! ran what under which grants.
//!
//! `{"time", "tenant", "pipeline", "node", "path", "digest", "capabilities",
//! "event", "detail"}`; `capabilities` lists granted directories (with
//! `write`) and the names (never the values) of granted variables.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::json;

use crate::graph::Node;

/// What happened to a node's plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEvent {
    /// An instance was created for the first time in the run.
    Load,
    /// An instance was re-created after its predecessor trapped.
    Restart,
    /// An instance whose memory kept growing was replaced by a fresh one
    /// holding its state (`detail`: how much it had grown).
    Recycle,
    /// A call broke a limit or the tenant's quota.
    LimitBreach,
    /// A hot reload swapped the plugin (`detail`: both digests).
    Swap,
    /// A hot reload was refused; the running version stays.
    ReloadRefused,
}

impl AuditEvent {
    fn name(self) -> &'static str {
        match self {
            Self::Load => "load",
            Self::Restart => "restart",
            Self::Recycle => "recycle",
            Self::LimitBreach => "limit-breach",
            Self::Swap => "swap",
            Self::ReloadRefused => "reload-refused",
        }
    }
}

/// The audit log of one pipeline run, appended to (created at the first
/// event, with its folder).
pub struct AuditLog {
    path: PathBuf,
    tenant: String,
    pipeline: String,
    file: Mutex<Option<File>>,
}

impl AuditLog {
    /// The log at `path` for `pipeline` of `tenant`.
    pub fn new(path: &Path, tenant: &str, pipeline: &str) -> Self {
        Self {
            path: path.to_path_buf(),
            tenant: tenant.to_string(),
            pipeline: pipeline.to_string(),
            file: Mutex::new(None),
        }
    }

    /// The file it appends to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `event` of `node`'s plugin (a node without one is ignored);
    /// `detail` says more (the breach, the cause of a restart).
    pub fn record(
        &self,
        node: &Node,
        event: AuditEvent,
        detail: Option<&str>,
    ) -> crate::Result<()> {
        let Some(plugin) = node.implementation.plugin() else {
            return Ok(());
        };
        let dirs: Vec<_> = node
            .grants
            .dirs
            .iter()
            .map(|d| json!({"host": d.host, "guest": d.guest, "write": d.write}))
            .collect();
        let env: Vec<_> = node.grants.env.iter().map(|(name, _)| name).collect();
        let line = json!({
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "tenant": self.tenant,
            "pipeline": self.pipeline,
            "node": node.name,
            "path": plugin.name(),
            "digest": plugin.digest(),
            "capabilities": {"dirs": dirs, "env": env},
            "event": event.name(),
            "detail": detail,
        });
        self.append(&format!("{line}\n"))
            .map_err(|e| self.unwritable(e))
    }

    /// Appends what a commit of sink `node` made durable and visible
    /// (`made`: files, a table version, topic offsets, with their rows).
    pub fn record_commit(&self, node: &Node, made: serde_json::Value) -> crate::Result<()> {
        let line = json!({
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "tenant": self.tenant,
            "pipeline": self.pipeline,
            "node": node.name,
            "event": "commit",
            "commit": made,
        });
        self.append(&format!("{line}\n"))
            .map_err(|e| self.unwritable(e))
    }

    fn unwritable(&self, error: std::io::Error) -> crate::Error {
        crate::Error::caused(
            crate::Stage::Io,
            crate::Fault::External,
            format!("cannot write the audit log {}", self.path.display()),
            error,
        )
    }

    fn append(&self, line: &str) -> std::io::Result<()> {
        let mut file = self.file.lock().expect("audit log lock");
        if file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            *file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        // One write per line: lines of pipelines sharing the file stay whole.
        file.as_mut()
            .expect("opened above")
            .write_all(line.as_bytes())
    }
}
