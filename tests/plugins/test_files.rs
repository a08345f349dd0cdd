//! The `test-files` plugin.

use super::*;
use weir::plugin::{DirGrant, Grants};

/// What the fixture managed to do at open with `grants`.
fn report(grants: &Grants, config: &str) -> String {
    let input = mixed_batch();
    let plugin = load(weir_plugin_artifacts::TEST_FILES);
    let mut t =
        TransformInstance::with_grants(engine(), &plugin, "files", &Limits::default(), grants)
            .unwrap();
    t.open(config, &input.schema()).err().unwrap().to_string()
}

fn sandbox(write: bool) -> (tempfile::TempDir, Grants) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("hello.txt"), "hello").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), data.join("link")).unwrap();
    let grants = Grants {
        dirs: vec![DirGrant {
            host: data,
            guest: "/data".into(),
            write,
        }],
        env: Vec::new(),
    };
    (dir, grants)
}

#[test]
fn a_read_only_grant_reads_inside_and_nothing_escapes_it() {
    let (dir, grants) = sandbox(false);
    let report = report(
        &grants,
        r#"{"read": ["/data/hello.txt", "/data/../secret.txt", "/data/link", "/etc/hostname"],
            "write": ["/data/new.txt"], "report": true}"#,
    );
    assert!(report.contains("read /data/hello.txt: hello"), "{report}");
    for escape in ["/data/../secret.txt", "/data/link", "/etc/hostname"] {
        assert!(
            report.contains(&format!("read {escape} failed")),
            "{escape} was readable: {report}"
        );
    }
    assert!(!report.contains("secret;"), "{report}");
    assert!(report.contains("write /data/new.txt failed"), "{report}");
    assert!(!dir.path().join("data/new.txt").exists());
}

#[test]
fn a_write_grant_lets_the_plugin_create_files() {
    let (dir, grants) = sandbox(true);
    let report = report(&grants, r#"{"write": ["/data/new.txt"], "report": true}"#);
    assert!(report.contains("wrote /data/new.txt"), "{report}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("data/new.txt")).unwrap(),
        "written"
    );
}

#[test]
fn without_grants_there_are_no_files_and_only_granted_variables() {
    let grants = Grants {
        dirs: Vec::new(),
        env: vec![("REGION".into(), "eu-west".into())],
    };
    let report = report(
        &grants,
        r#"{"read": ["/etc/hostname"], "env": ["REGION", "HOME", "PATH"], "report": true}"#,
    );
    assert!(report.contains("read /etc/hostname failed"), "{report}");
    assert!(report.contains("env REGION=eu-west"), "{report}");
    assert!(
        report.contains("env HOME unset") && report.contains("env PATH unset"),
        "{report}"
    );
}
