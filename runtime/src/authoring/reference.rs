//! The reference page of the first-party plugins (`plugins/REFERENCE.md`,
//! and `weir plugin docs NAME`): each plugin's configuration as its crate
//! documents it, in the module docs of its `src/lib.rs` and of the modules
//! those docs link to (the `filter` predicate language, the Nexmark data).

use std::path::Path;

/// The plugins a pipeline uses, in the order of `plugins/README.md`; the
/// others in `plugins/` are test fixtures and benchmark baselines.
pub const FIRST_PARTY: [&str; 10] = [
    "filter",
    "select",
    "json-parse",
    "mask",
    "expect",
    "window-aggregate",
    "join",
    "anomaly",
    "generate",
    "count",
];

/// The reference page for the plugins in `plugins_dir` (the repository's
/// `plugins/` folder).
pub fn reference_page(plugins_dir: &Path) -> std::io::Result<String> {
    let mut page = String::from(
        "# First-party plugins: configuration reference\n\n\
         Generated from each plugin's crate docs by `WEIR_BLESS=1 cargo test -p weir --test plugin_reference`; \
         do not edit by hand. `weir plugin docs NAME` prints one section.\n",
    );
    for name in FIRST_PARTY {
        let src = plugins_dir.join(name).join("src");
        let lib = module_docs(&std::fs::read_to_string(src.join("lib.rs"))?);
        page.push_str(&format!("\n## {name}\n\n{lib}"));
        let mut linked: Vec<_> = std::fs::read_dir(&src)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_some_and(|f| f != "lib.rs"))
            .filter_map(|p| Some((p.file_stem()?.to_str()?.to_string(), p)))
            .filter(|(module, _)| lib.contains(&format!("[`{module}`]")))
            .collect();
        linked.sort();
        for (module, path) in linked {
            let docs = module_docs(&std::fs::read_to_string(path)?);
            page.push_str(&format!("\n### {name}: {module}\n\n{docs}"));
        }
    }
    Ok(page)
}

/// The section of `page` for plugin `name`, if it has one.
pub fn plugin_section<'p>(page: &'p str, name: &str) -> Option<&'p str> {
    let heading = format!("\n## {name}\n");
    let start = page.find(&heading)? + 1;
    let end = page[start + heading.len()..]
        .find("\n## ")
        .map_or(page.len(), |at| start + heading.len() + at + 1);
    // Up to its last line's newline, without the blank lines before the next.
    let section = &page[start..end];
    let text = section.trim_end_matches('\n').len();
    Some(&section[..(text + 1).min(section.len())])
}

/// The `//!` docs at the top of a Rust source file, as Markdown.
fn module_docs(source: &str) -> String {
    let mut docs = String::new();
    for line in source.lines().take_while(|l| l.starts_with("//!")) {
        let text = line.trim_start_matches("//!");
        docs.push_str(text.strip_prefix(' ').unwrap_or(text));
        docs.push('\n');
    }
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_runs_to_the_next_plugin() {
        let page = "# t\n\n## a\n\ntext a\n\n### a: m\n\nmore\n\n## b\n\ntext b\n";
        assert_eq!(
            plugin_section(page, "a"),
            Some("## a\n\ntext a\n\n### a: m\n\nmore\n")
        );
        assert_eq!(plugin_section(page, "b"), Some("## b\n\ntext b\n"));
        assert_eq!(plugin_section(page, "c"), None);
    }
}
