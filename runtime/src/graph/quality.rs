//! Data-quality gates: nodes of the first-party `expect` plugin (named
//! `expect` in `plugin:`, found in the plugin path). The plugin checks the
//! rules; the host knows them from the node's config, so that a rule with
//! severity `fail` stops the run whatever the node's `on_error` (exit code
//! 4), and so that each rule's results (the plugin's `rule.<name>.checked`
//! and `rule.<name>.failed` counters) reach the run's summary and its
//! OpenLineage events.

use super::Node;

/// A rule of a quality gate, as its config states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Its `name`.
    pub name: String,
    /// `warn`, `reject` or `fail`.
    pub severity: String,
    /// Its check: `not_null`, `unique`, `range`, ...
    pub check: String,
    /// The column it checks, if one.
    pub column: Option<String>,
}

impl Node {
    /// Whether the node is a data-quality gate (first-party `expect`).
    pub fn is_quality_gate(&self) -> bool {
        self.runs_first_party("expect")
    }

    /// The rules of a quality gate; none for other nodes.
    pub fn quality_rules(&self) -> Vec<Rule> {
        if !self.is_quality_gate() {
            return Vec::new();
        }
        let rules = self.spec.config.get("rules").and_then(|r| r.as_array());
        rules
            .into_iter()
            .flatten()
            .filter_map(|rule| {
                let rule = rule.as_object()?;
                let (check, spec) = rule
                    .iter()
                    .find(|(key, _)| !matches!(key.as_str(), "name" | "severity"))?;
                let column = match spec {
                    serde_json::Value::String(column) if check != "predicate" => {
                        Some(column.clone())
                    }
                    spec => spec
                        .get("column")
                        .and_then(|c| c.as_str())
                        .map(String::from),
                };
                Some(Rule {
                    name: rule.get("name")?.as_str()?.to_string(),
                    severity: rule
                        .get("severity")
                        .and_then(|s| s.as_str())
                        .unwrap_or("warn")
                        .to_string(),
                    check: check.clone(),
                    column,
                })
            })
            .collect()
    }
}
