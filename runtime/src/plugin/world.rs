//! Which plugin world a component implements, read from its exports.
//!
//! A Weir plugin exports exactly one of `weir:plugin/transform`,
//! `weir:plugin/source` or `weir:plugin/sink` at a version compatible with
//! [`CONTRACT_VERSION`]. Anything else is refused with a message that says
//! what was found.

use super::error::PluginError;

/// The version of the `weir:plugin` WIT package this host implements.
pub const CONTRACT_VERSION: &str = "0.1.0";

/// The WIT package every plugin world belongs to.
pub const CONTRACT_PACKAGE: &str = "weir:plugin";

/// How the optional `event-time` interface's export is named (any
/// version): a transform that exports it has its clock moved by the host.
pub(crate) const EVENT_TIME_PREFIX: &str = "weir:plugin/event-time@";
/// The export name prefix of the optional `input-bounds` interface.
pub(crate) const INPUT_BOUNDS_PREFIX: &str = "weir:plugin/input-bounds@";

use crate::Kind;

fn from_interface(name: &str) -> Option<Kind> {
    Kind::ALL.into_iter().find(|w| w.name() == name)
}

/// The world a component implements and the contract version it was built
/// against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    /// The world.
    pub world: Kind,
    /// The `weir:plugin` version of its export, e.g. `0.1.0`.
    pub version: String,
}

/// Finds the plugin world among a component's export names.
pub fn detect<'a>(
    plugin: &str,
    exports: impl IntoIterator<Item = &'a str>,
) -> Result<Contract, PluginError> {
    let exports: Vec<&str> = exports.into_iter().collect();
    let mut found = Vec::new();
    let mut other_versions = Vec::new();
    for name in &exports {
        let Some((interface, version)) = parse_export(name) else {
            continue;
        };
        if !compatible(version) {
            other_versions.push(version.to_string());
            continue;
        }
        if let Some(world) = from_interface(interface) {
            found.push(Contract {
                world,
                version: version.to_string(),
            });
        }
    }
    match (found.len(), other_versions.first()) {
        (1, _) => Ok(found.remove(0)),
        (0, Some(version)) => Err(PluginError::IncompatibleVersion {
            plugin: plugin.to_string(),
            found: version.clone(),
            expected: CONTRACT_VERSION.to_string(),
        }),
        _ => Err(PluginError::WrongWorld {
            plugin: plugin.to_string(),
            expected: format!(
                "exactly one of {}",
                Kind::ALL
                    .map(|w| format!("{CONTRACT_PACKAGE}/{}@{CONTRACT_VERSION}", w.name()))
                    .join(", ")
            ),
            found: exports.iter().map(|s| s.to_string()).collect(),
        }),
    }
}

/// Splits `weir:plugin/transform@0.1.0` into (`transform`, `0.1.0`).
fn parse_export(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix(CONTRACT_PACKAGE)?.strip_prefix('/')?;
    let (interface, version) = rest.split_once('@')?;
    Some((interface, version))
}

/// Semver compatibility with [`CONTRACT_VERSION`]: the same major version,
/// or for `0.x` versions the same minor version.
fn compatible(version: &str) -> bool {
    fn key(v: &str) -> Option<(u64, u64)> {
        let mut parts = v.split(['.', '-', '+']);
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some((major, minor))
    }
    match (key(version), key(CONTRACT_VERSION)) {
        (Some((0, a)), Some((0, b))) => a == b,
        (Some((a, _)), Some((b, _))) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_one_world() {
        let contract = detect("p", ["wasi:cli/run@0.2.0", "weir:plugin/sink@0.1.0"]).unwrap();
        assert_eq!(contract.world, Kind::Sink);
        assert_eq!(contract.version, "0.1.0");
        assert!(detect("p", ["weir:plugin/transform@0.1.7"]).is_ok());
    }

    #[test]
    fn refuses_other_versions_and_worlds() {
        let err = detect("p", ["weir:plugin/transform@0.2.0"]).unwrap_err();
        assert!(
            matches!(err, PluginError::IncompatibleVersion { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("weir:plugin@0.2.0"), "{err}");

        let err = detect("p", ["wasi:cli/run@0.2.6"]).unwrap_err();
        assert!(err.to_string().contains("wasi:cli/run@0.2.6"), "{err}");
        assert!(
            err.to_string().contains("weir:plugin/transform@0.1.0"),
            "{err}"
        );

        let two = ["weir:plugin/transform@0.1.0", "weir:plugin/sink@0.1.0"];
        assert!(matches!(
            detect("p", two),
            Err(PluginError::WrongWorld { .. })
        ));
    }
}
