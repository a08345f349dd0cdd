//! Finding plugins and their configs: `plugins/REFERENCE.md` is generated
//! from the first-party plugins' crate docs and kept up to date, and
//! `weir plugin docs`, `list` and `inspect NAME` answer as a user expects.

mod support;

use std::fs;
use std::path::Path;

use support::*;

#[test]
fn the_plugin_reference_page_is_up_to_date() {
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
    let page = weir::authoring::reference::reference_page(&plugins).unwrap();
    let file = plugins.join("REFERENCE.md");
    if std::env::var_os("WEIR_BLESS").is_some() {
        fs::write(&file, &page).unwrap();
    }
    assert!(
        fs::read_to_string(&file).unwrap() == page,
        "{} is stale: run WEIR_BLESS=1 cargo test -p weir --test plugin_reference",
        file.display()
    );
    for name in weir::authoring::reference::FIRST_PARTY {
        assert!(page.contains(&format!("\n## {name}\n")), "{name}");
    }
}

#[test]
fn plugin_docs_prints_a_plugins_reference_with_the_values_it_produces() {
    let out = weir(&["plugin", "docs", "generate"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.starts_with("## generate\n"), "{stdout}");
    assert!(stdout.contains("`add_to_cart`"), "{stdout}");
    assert!(
        !stdout.contains("## filter"),
        "one plugin's section: {stdout}"
    );

    let filter = text(&weir(&["plugin", "docs", "filter"]).stdout);
    assert!(
        filter.contains("### filter: expr"),
        "the predicate language: {filter}"
    );

    // A plugin that is not first-party: what it says about itself.
    let out = weir(&["plugin", "docs", "test-tag-v1"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("not a first-party plugin"), "{stdout}");
    assert!(stdout.contains("transform"), "{stdout}");

    let out = weir(&["plugin", "docs", "no-such-plugin"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no plugin named \"no-such-plugin\""),
        "{stderr}"
    );
}

#[test]
fn plugin_list_names_every_plugin_with_its_kind_and_description() {
    let out = weir(&["plugin", "list"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for (name, kind) in [
        ("filter", "transform"),
        ("generate", "source"),
        ("count", "sink"),
    ] {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} is not listed:\n{stdout}"));
        assert_eq!(line.split_whitespace().nth(1), Some(kind), "{line}");
        assert!(line.contains(".wasm)"), "{line}");
    }
    let filter = stdout.lines().find(|l| l.starts_with("filter ")).unwrap();
    assert!(filter.contains("predicate"), "its description: {filter}");
}

#[test]
fn plugin_inspect_takes_a_name_as_a_pipeline_does() {
    let out = weir(&["plugin", "inspect", "filter"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("transform"), "{stdout}");
}
