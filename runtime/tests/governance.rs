//! Classified columns and policies, checked before anything runs: a class
//! travels with its column through renames, computations and plugins in any
//! language, `mask` clears it, and `weir validate` (so `weir run`) refuses a
//! pipeline in which a class reaches a sink a policy does not allow it at,
//! naming the column, its way through the graph and the sink.

mod support;

use std::path::{Path, PathBuf};

use support::*;

/// Orders as a CSV export writes them (the header is not in the schema's
/// order).
const ORDERS_CSV: &str = "id,customer_email,country,amount
1,ann@example.com,FR,10.5
2,bob@example.com,DE,3
";

/// The first-hour pipeline: orders (their e-mails classified `pii`) through
/// `middle` (the transforms' YAML, the last one named `masked`) into a
/// lake, under `policy` (none when empty).
fn orders_pipeline(dir: &Path, middle: &str, policy: &str) -> PathBuf {
    std::fs::write(dir.join("orders.csv"), ORDERS_CSV).unwrap();
    let policy = match policy {
        "" => String::new(),
        policy => format!("policy: {{{policy}}}\n"),
    };
    write_pipeline(
        dir,
        &format!(
            "{policy}sources:
  orders:
    type: file
    config: {{path: orders.csv, schema: {{id: int64, country: utf8, customer_email: utf8, amount: float64}}}}
    classify: {{customer_email: pii}}
transforms:
{middle}
sinks:
  lake: {{type: file, inputs: [masked], config: {{path: lake, format: json}}}}
  audit: {{type: file, inputs: [orders], config: {{path: audit, format: json}}}}
"
        ),
    )
}

const MASK_EMAIL: &str = "  masked: {plugin: mask, inputs: [orders], config: {columns: {customer_email: {method: hash, salt: s}}}}";
const MASK_COUNTRY: &str = "  masked: {plugin: mask, inputs: [orders], config: {columns: {country: {method: hash, salt: s}}}}";
const PII_TO_AUDIT: &str = "allow: {pii: [audit]}";

fn validate(pipeline: &Path) -> (bool, String) {
    let out = weir(&["validate", pipeline.to_str().unwrap()]);
    (out.status.success(), text(&out.stderr))
}

#[test]
fn a_pii_column_left_unmasked_is_refused_before_the_run_and_a_masked_one_runs() {
    let dir = tempfile::tempdir().unwrap();
    // The mix-up of the first-hour issue: the mask is on the wrong column.
    let wrong = orders_pipeline(dir.path(), MASK_COUNTRY, PII_TO_AUDIT);
    let (ok, stderr) = validate(&wrong);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("classification or policy error"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "column \"customer_email\" is pii (orders.customer_email -> masked.customer_email -> lake)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("lets pii reach only audit"), "{stderr}");
    let out = weir(&["run", wrong.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "run refuses it too");
    assert!(!dir.path().join("lake").exists(), "nothing ran");

    let right = orders_pipeline(dir.path(), MASK_EMAIL, PII_TO_AUDIT);
    let (ok, stderr) = validate(&right);
    assert!(ok, "{stderr}");
    let edges = text(&weir(&["validate", right.to_str().unwrap()]).stdout);
    assert!(
        edges.contains("orders -> masked: id: Int64, country: Utf8, customer_email: Utf8 [pii]"),
        "{edges}"
    );
    assert!(
        edges.contains("masked -> lake: id: Int64, country: Utf8, customer_email: Utf8, amount"),
        "masked, the class is gone: {edges}"
    );
    run_pipeline(&right, &[]);
    let lake = serde_json::to_string(&read_json_dir(&dir.path().join("lake"))).unwrap();
    assert!(!lake.contains('@'), "{lake}");
    let audit = read_json_dir(&dir.path().join("audit"));
    assert_eq!(
        audit[0]["customer_email"], "ann@example.com",
        "pii may reach the audit sink"
    );
}

#[test]
fn renamed_and_computed_columns_keep_their_class_and_every_policy_must_allow_it() {
    let dir = tempfile::tempdir().unwrap();
    let renamed = "  shaped:
    plugin: select
    inputs: [orders]
    config: {columns: [{name: id}, {name: contact, from: customer_email}, {name: country}]}
  masked: {plugin: mask, inputs: [shaped], config: {columns: {country: {method: redact}}}}";
    let (ok, stderr) = validate(&orders_pipeline(dir.path(), renamed, PII_TO_AUDIT));
    assert!(!ok);
    assert!(
        stderr.contains(
            "column \"contact\" is pii (orders.customer_email -> shaped.contact -> masked.contact -> lake)"
        ),
        "{stderr}"
    );

    // Columns before it projected away: the class still follows the value.
    let narrowed = "  masked:
    plugin: select
    inputs: [orders]
    config: {columns: [{name: contact, from: customer_email}]}";
    let (ok, stderr) = validate(&orders_pipeline(dir.path(), narrowed, PII_TO_AUDIT));
    assert!(!ok);
    assert!(
        stderr.contains(
            "column \"contact\" is pii (orders.customer_email -> masked.contact -> lake)"
        ),
        "{stderr}"
    );

    // A shared (tenant) policy applies as well as the pipeline's own: the
    // pipeline lets pii reach the lake, the tenant's file does not.
    std::fs::write(dir.path().join("tenant.yaml"), "allow: {pii: [audit]}\n").unwrap();
    let both = orders_pipeline(
        dir.path(),
        MASK_COUNTRY,
        "allow: {pii: [audit, lake]}, file: tenant.yaml",
    );
    let (ok, stderr) = validate(&both);
    assert!(!ok);
    assert!(
        stderr.contains("tenant.yaml lets pii reach only audit"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("is pii").count(),
        1,
        "the pipeline's own allows it: {stderr}"
    );

    // No policy: classes are carried, nothing is refused.
    let (ok, stderr) = validate(&orders_pipeline(dir.path(), MASK_COUNTRY, ""));
    assert!(ok, "{stderr}");
}

#[test]
fn a_python_plugin_that_copies_an_email_into_a_new_column_cannot_smuggle_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/languages/py-smuggle");
    let plugin = dir.path().join("smuggle.wasm");
    let built = weir(&[
        "plugin",
        "build",
        fixture.to_str().unwrap(),
        "-o",
        plugin.to_str().unwrap(),
    ]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    let middle = format!(
        "  smuggle: {{plugin: {}, inputs: [orders]}}
  masked: {{plugin: mask, inputs: [smuggle], config: {{columns: {{customer_email: {{method: hash, salt: s}}}}}}}}",
        plugin.display()
    );
    let (ok, stderr) = validate(&orders_pipeline(dir.path(), &middle, PII_TO_AUDIT));
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains(
            "column \"contact\" is pii (orders.customer_email -> smuggle.contact -> masked.contact -> lake)"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("column \"customer_email\""),
        "the masked column itself may go: {stderr}"
    );
}

#[test]
fn the_catalog_lists_datasets_with_classes_and_owners_and_the_lineage_between_pipelines() {
    let dir = tempfile::tempdir().unwrap();
    let masking = orders_pipeline(dir.path(), MASK_EMAIL, PII_TO_AUDIT);
    let yaml = std::fs::read_to_string(&masking).unwrap();
    std::fs::write(
        &masking,
        format!("name: orders-masking\nowner: privacy@example.com\n{yaml}"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("reports")).unwrap();
    let report = dir.path().join("reports/report.yaml");
    std::fs::write(
        &report,
        "name: revenue
owner: analytics@example.com
description: Revenue by country from the masked lake.
tags: [finance]
sources:
  lake: {type: file, config: {path: ../lake/*.jsonl, schema: {country: utf8, amount: float64}}}
transforms:
  big: {plugin: filter, inputs: [lake], config: {predicate: 'amount > 5'}}
sinks:
  by_country: {type: file, inputs: [big], config: {path: out, format: json}}
",
    )
    .unwrap();
    run_pipeline(&masking, &[]);
    let out = weir(&[
        "catalog",
        masking.to_str().unwrap(),
        report.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let catalog: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let path = |p: &str| root.join(p).display().to_string();
    let dataset = |name: &str| {
        catalog["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .unwrap_or_else(|| panic!("no dataset {name} in {catalog}"))
            .clone()
    };
    let orders = dataset(&path("orders.csv"));
    let email = orders["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "customer_email")
        .unwrap();
    assert_eq!(email["classes"], serde_json::json!(["pii"]));
    assert_eq!(
        orders["read_by"],
        serde_json::json!(["orders-masking.orders"])
    );
    let lake = dataset(&path("lake"));
    assert_eq!(
        lake["written_by"],
        serde_json::json!(["orders-masking.lake"])
    );
    assert_eq!(
        lake["read_by"],
        serde_json::json!(["revenue.lake"]),
        "the pattern's folder is the dataset"
    );
    assert_eq!(lake["owners"], serde_json::json!(["privacy@example.com"]));
    let edges: Vec<(String, String, String)> = catalog["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"]["name"].as_str().unwrap().to_string(),
                e["to"]["name"].as_str().unwrap().to_string(),
                e["pipeline"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for edge in [
        (path("orders.csv"), path("lake"), "orders-masking"),
        (path("orders.csv"), path("audit"), "orders-masking"),
        (path("lake"), path("reports/out"), "revenue"),
    ] {
        let edge = (edge.0, edge.1, edge.2.to_string());
        assert!(edges.contains(&edge), "{edge:?} in {edges:?}");
    }
    assert_eq!(
        catalog["pipelines"][1]["description"],
        "Revenue by country from the masked lake."
    );

    let table = text(
        &weir(&[
            "catalog",
            masking.to_str().unwrap(),
            report.to_str().unwrap(),
        ])
        .stdout,
    );
    assert!(table.contains("customer_email: Utf8 [pii]"), "{table}");
    assert!(
        table.contains("revenue  owner: analytics@example.com  tags: finance"),
        "{table}"
    );
}

/// The audit log's `commit` events, as JSON.
fn commits(audit: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(audit)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|event| event["event"] == "commit")
        .collect()
}

#[cfg(feature = "delta")]
#[test]
fn the_audit_log_records_every_commit_of_a_sink_with_its_files_version_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let ids: String = (0..5).map(|i| format!("{{\"id\": {i}}}\n")).collect();
    std::fs::write(dir.path().join("ids.jsonl"), ids).unwrap();
    let pipeline = write_pipeline(
        dir.path(),
        "name: ids
audit_log: audit.jsonl
sources:
  ids: {type: file, config: {path: ids.jsonl, schema: {id: int64}}}
sinks:
  files: {type: file, inputs: [ids], config: {path: out, format: json, max_rows_per_file: 2}}
  table: {type: delta, inputs: [ids], config: {path: lake/ids}}
",
    );
    run_pipeline(&pipeline, &[]);
    let made = commits(&dir.path().join("audit.jsonl"));
    let of = |node: &str| -> Vec<&serde_json::Value> {
        made.iter()
            .filter(|e| e["node"] == node)
            .map(|e| &e["commit"])
            .collect()
    };
    let files = of("files");
    let names: Vec<&str> = files
        .iter()
        .flat_map(|c| c["files"].as_array().unwrap())
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    let mut on_disk = read_dir_names(&dir.path().join("out"));
    on_disk.sort();
    assert_eq!(names, on_disk, "every file the sink finished, once");
    assert_eq!(
        files
            .iter()
            .map(|c| c["rows"].as_u64().unwrap())
            .sum::<u64>(),
        5
    );
    let root = std::fs::canonicalize(dir.path()).unwrap();
    assert_eq!(files[0]["folder"], root.join("out").display().to_string());

    let table = of("table");
    assert_eq!(table.len(), 1, "{made:?}");
    assert_eq!(
        table[0]["version"], 1,
        "the first after the table's creation (version 0)"
    );
    assert_eq!(table[0]["rows"], 5);
    let data_files = table[0]["files"].as_array().unwrap();
    assert!(!data_files.is_empty());
    for file in data_files {
        let file = file.as_str().unwrap();
        assert!(dir.path().join("lake/ids").join(file).is_file(), "{file}");
    }
}
