//! The classic Prometheus text format (0.0.4) for scrapers that do not ask
//! for OpenMetrics. prometheus-client writes OpenMetrics only, where a
//! counter family is named without its `_total` suffix and the text ends
//! with `# EOF`; in 0.0.4 the `# HELP` and `# TYPE` lines name the samples
//! themselves, so a counter's family takes `_total` and `# EOF` goes.

/// The `Content-Type` of [`from_openmetrics`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `Content-Type` of OpenMetrics text.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether a request's `Accept` header asks for OpenMetrics.
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|accept| accept.contains("application/openmetrics-text"))
}

/// `text` (OpenMetrics, as prometheus-client encodes it) in the 0.0.4 text
/// format.
pub fn from_openmetrics(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::with_capacity(text.len() + 64);
    for (i, line) in lines.iter().enumerate() {
        if *line == "# EOF" {
            continue;
        }
        let family = |prefix: &str| {
            line.strip_prefix(prefix)
                .and_then(|rest| rest.split(' ').next())
        };
        // A counter family's HELP comes right before its TYPE.
        let counter = match (family("# HELP "), family("# TYPE ")) {
            (Some(name), _) => lines
                .get(i + 1)
                .is_some_and(|next| *next == format!("# TYPE {name} counter"))
                .then_some(name),
            (_, Some(name)) => line.ends_with(" counter").then_some(name),
            _ => None,
        };
        match counter {
            Some(name) if !name.ends_with("_total") => {
                let (head, rest) = line.split_at(line.find(name).expect("the name is in the line"));
                out.push_str(head);
                out.push_str(name);
                out.push_str("_total");
                out.push_str(&rest[name.len()..]);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_families_take_their_total_suffix_and_eof_goes() {
        let openmetrics = "# HELP weir_node_rows_in Rows a node received.
# TYPE weir_node_rows_in counter
weir_node_rows_in_total{node=\"a\"} 3
# HELP weir_node_memory_bytes Linear memory.
# TYPE weir_node_memory_bytes gauge
weir_node_memory_bytes{node=\"a\"} 65536
# EOF
";
        assert_eq!(
            from_openmetrics(openmetrics),
            "# HELP weir_node_rows_in_total Rows a node received.
# TYPE weir_node_rows_in_total counter
weir_node_rows_in_total{node=\"a\"} 3
# HELP weir_node_memory_bytes Linear memory.
# TYPE weir_node_memory_bytes gauge
weir_node_memory_bytes{node=\"a\"} 65536
"
        );
    }

    #[test]
    fn openmetrics_is_served_only_to_who_asks() {
        assert!(wants_openmetrics(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        )));
        assert!(!wants_openmetrics(Some("text/plain; version=0.0.4")));
        assert!(!wants_openmetrics(None));
    }
}
