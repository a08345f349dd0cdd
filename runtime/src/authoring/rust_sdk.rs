//! The Rust SDK (`weir-sdk`, `weir-ipc` and the WIT they are generated
//! from; the WIT also serves Python and JavaScript builds), carried in this
//! binary: `weir plugin new --lang rust` writes it
//! into the plugin's `weir/` folder, so the plugin builds wherever it is
//! moved, with no Weir checkout. The folder mirrors the checkout's layout
//! (`sdk/rust`, `sdk/ipc`, `wit`), so the SDK's relative paths hold.

/// `(weir/<path>, text)` of the SDK's sources at `<path>` in the checkout.
macro_rules! carried {
    ($($path:literal),* $(,)?) => {
        [$((concat!("weir/", $path), include_str!(concat!("../../../", $path)))),*]
    };
}

/// The SDK's sources; a test checks none is missing.
const SOURCES: [(&str, &str); 21] = carried!(
    "sdk/rust/README.md",
    "sdk/rust/src/bindings.rs",
    "sdk/rust/src/compute.rs",
    "sdk/rust/src/config.rs",
    "sdk/rust/src/error.rs",
    "sdk/rust/src/glue.rs",
    "sdk/rust/src/host.rs",
    "sdk/rust/src/lib.rs",
    "sdk/rust/src/reads.rs",
    "sdk/rust/src/sink.rs",
    "sdk/rust/src/source.rs",
    "sdk/rust/src/transform.rs",
    "sdk/ipc/src/flat.rs",
    "sdk/ipc/src/lib.rs",
    "sdk/ipc/src/read.rs",
    "wit/event-time.wit",
    "wit/input-bounds.wit",
    "wit/sink.wit",
    "wit/source.wit",
    "wit/transform.wit",
    "wit/types.wit",
);

/// The two crates' manifests without the checkout's workspace: the same
/// dependencies at the workspace's versions (a test checks them).
const MANIFESTS: [(&str, &str); 2] = [
    (
        "weir/sdk/rust/Cargo.toml",
        include_str!("../../templates/rust/sdk/Cargo.toml"),
    ),
    (
        "weir/sdk/ipc/Cargo.toml",
        include_str!("../../templates/rust/ipc/Cargo.toml"),
    ),
];

/// The WIT files of the contract (file name, text), which Python and
/// JavaScript builds also need.
pub(super) fn wit_files() -> impl Iterator<Item = (&'static str, &'static str)> {
    SOURCES
        .into_iter()
        .filter_map(|(path, text)| Some((path.strip_prefix("weir/wit/")?, text)))
}

/// Every file of the carried SDK: its path in the plugin's folder (under
/// `weir/`) and its text (manifests still with `{{weir_version}}`).
pub(super) fn files() -> impl Iterator<Item = (&'static str, &'static str)> {
    SOURCES.into_iter().chain(MANIFESTS)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    fn checkout() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
    }

    #[test]
    fn every_source_of_the_sdk_is_carried() {
        let mut on_disk = BTreeSet::new();
        for dir in ["sdk/rust/src", "sdk/ipc/src", "wit"] {
            for entry in std::fs::read_dir(checkout().join(dir)).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                on_disk.insert(format!("{dir}/{name}"));
            }
        }
        on_disk.insert("sdk/rust/README.md".into());
        let carried: BTreeSet<String> = SOURCES
            .iter()
            .map(|(p, _)| p.strip_prefix("weir/").unwrap().to_string())
            .collect();
        assert_eq!(carried, on_disk, "list every SDK file in SOURCES");
    }

    /// `name = value` of the workspace's `[workspace.dependencies]`.
    fn workspace_dependencies() -> Vec<(String, String)> {
        let text = std::fs::read_to_string(checkout().join("Cargo.toml")).unwrap();
        let section = text.split("[workspace.dependencies]").nth(1).unwrap();
        section
            .lines()
            .take_while(|l| !l.starts_with('['))
            .filter_map(|l| l.split_once(" = "))
            .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
            .collect()
    }

    #[test]
    fn the_carried_manifests_name_the_checkouts_dependencies_at_its_versions() {
        let workspace = workspace_dependencies();
        for (path, carried) in MANIFESTS {
            let original =
                std::fs::read_to_string(checkout().join(path.strip_prefix("weir/").unwrap()))
                    .unwrap();
            let dependencies = original.split("[dependencies]").nth(1).unwrap();
            for line in dependencies
                .lines()
                .take_while(|l| !l.starts_with('['))
                .filter(|l| !l.starts_with('#'))
            {
                let Some(name) = line.split(['.', ' ']).next().filter(|n| !n.is_empty()) else {
                    continue;
                };
                let line_in_carried = carried
                    .lines()
                    .find(|l| l.starts_with(&format!("{name} = ")))
                    .unwrap_or_else(|| panic!("{path}: {name} is not carried"));
                let Some((_, value)) = workspace.iter().find(|(n, _)| n == name) else {
                    continue;
                };
                let version = value.split('"').nth(1).filter(|_| !value.contains("path"));
                if let Some(version) = version {
                    assert!(
                        line_in_carried.contains(&format!("\"{version}\"")),
                        "{path}: {name} should be at {version}: {line_in_carried}"
                    );
                }
            }
        }
    }
}
