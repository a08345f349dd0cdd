//! `weir tap URL NODE`: prints a sample of a running node's output rows as
//! tables, read from the admin API's tap endpoint (see `weir::admin`).

use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use arrow::json::ReaderBuilder;
use arrow::json::reader::infer_json_schema_from_iterator;

/// Streams the tap of `node` (`pipeline/node`, or a node name that one
/// pipeline has) from the admin API at `url` to stdout, one table per
/// `group` rows, until the run ends or `limit` rows were printed.
pub fn tap(url: &str, node: &str, rows_per_second: u32, limit: Option<u64>) -> anyhow::Result<()> {
    let base = match url.contains("://") {
        true => url.trim_end_matches('/').to_string(),
        false => format!("http://{}", url.trim_end_matches('/')),
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let (pipeline, node) = match node.split_once('/') {
        Some((pipeline, node)) => (pipeline.to_string(), node.to_string()),
        None => (pipeline_of(&agent, &base, node)?, node.to_string()),
    };
    let mut query = format!("rows_per_second={rows_per_second}");
    if let Some(limit) = limit {
        query.push_str(&format!("&limit={limit}"));
    }
    let tap_url = format!("{base}/pipelines/{pipeline}/nodes/{node}/tap?{query}");
    let response = agent
        .get(&tap_url)
        .call()
        .with_context(|| format!("cannot reach the admin API at {base}"))?;
    if !response.status().is_success() {
        let status = response.status();
        let text = response.into_body().read_to_string().unwrap_or_default();
        bail!("{tap_url}: {status}: {}", error_message(&text));
    }
    eprintln!("tapping {pipeline}/{node} (at most {rows_per_second} rows a second; Ctrl-C stops)");
    let group = rows_per_second.clamp(1, 50) as usize;
    let mut lines = Vec::with_capacity(group);
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(response.into_body().into_reader()).lines() {
        let line = line.context("reading the tap")?;
        if line.is_empty() {
            continue;
        }
        lines.push(line);
        if lines.len() == group {
            write!(out, "{}", table(&lines)?)?;
            out.flush()?;
            lines.clear();
        }
    }
    if !lines.is_empty() {
        write!(out, "{}", table(&lines)?)?;
    }
    eprintln!("the tap ended (the run is over, or the limit was reached)");
    Ok(())
}

/// The pipeline that has a node named `node`, asked of the admin API.
fn pipeline_of(agent: &ureq::Agent, base: &str, node: &str) -> anyhow::Result<String> {
    let text = agent
        .get(format!("{base}/pipelines"))
        .call()
        .with_context(|| format!("cannot reach the admin API at {base}"))?
        .into_body()
        .read_to_string()?;
    let pipelines: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{base}/pipelines is not the admin API"))?;
    let mut having = Vec::new();
    let mut nodes = Vec::new();
    for pipeline in pipelines.as_array().into_iter().flatten() {
        let name = pipeline["name"].as_str().unwrap_or_default();
        for n in pipeline["nodes"].as_array().into_iter().flatten() {
            let node_name = n["name"].as_str().unwrap_or_default();
            nodes.push(format!("{name}/{node_name}"));
            if node_name == node {
                having.push(name.to_string());
            }
        }
    }
    match having.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!(
            "no running pipeline has a node named {node:?}; nodes: {}",
            nodes.join(", ")
        ),
        several => bail!(
            "several pipelines have a node named {node:?} ({}): say which, as PIPELINE/{node}",
            several.join(", ")
        ),
    }
}

/// The `error` of an API error answer, or the answer itself.
fn error_message(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.trim().to_string())
}

/// JSON rows as a table, columns in the order they first appear.
fn table(lines: &[String]) -> anyhow::Result<String> {
    let values = lines
        .iter()
        .map(|line| serde_json::from_str::<serde_json::Value>(line))
        .collect::<Result<Vec<_>, _>>()
        .context("the tap sent a line that is not JSON")?;
    let schema = infer_json_schema_from_iterator(values.iter().map(Ok))?;
    let mut decoder = ReaderBuilder::new(Arc::new(schema)).build_decoder()?;
    decoder.serialize(&values)?;
    let batch = decoder.flush()?.context("no rows")?;
    Ok(format!(
        "{}\n",
        arrow::util::pretty::pretty_format_batches(&[batch])?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_a_table_with_columns_in_order() {
        let lines = [
            r#"{"id":1,"name":"a","price":null}"#.to_string(),
            r#"{"id":2,"name":"b","price":2.5}"#.to_string(),
        ];
        let table = table(&lines).unwrap();
        let header = table.lines().nth(1).unwrap();
        assert!(
            header.contains("id") && header.find("id") < header.find("price"),
            "{table}"
        );
        assert!(table.contains("| 2  | b    | 2.5   |"), "{table}");
    }
}
