//! `format: debezium-json`: each change a `postgres-cdc` source read (a row
//! with `_op`, `_table`, `_lsn`, `_commit_time`, `_txid`, `_before`) as the
//! envelope Debezium's PostgreSQL connector writes with the JSON converter
//! and `schemas.enable=false`: `before`, `after`, `source` (`version`,
//! `connector`, `name`, `ts_ms`, `snapshot`, `db`, `schema`, `table`,
//! `txId`, `lsn`), `op` and `ts_ms`, so that Debezium's consumers read it.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type, SchemaRef, TimestampMicrosecondType};
use serde_json::{Value, json};

use crate::connectors::{ConnectorError, config_error};

/// The metadata columns of a change; the others are the row's.
const METADATA: [&str; 6] = ["_op", "_table", "_lsn", "_commit_time", "_txid", "_before"];

/// Checks that `schema` is a stream of changes.
pub fn check(schema: &SchemaRef) -> Result<(), ConnectorError> {
    for (name, data_type) in [
        ("_op", DataType::Utf8),
        ("_table", DataType::Utf8),
        ("_lsn", DataType::Int64),
    ] {
        match schema.field_with_name(name) {
            Ok(field) if *field.data_type() == data_type => {}
            _ => {
                return Err(config_error(
                    "format",
                    &format!(
                        "debezium-json writes changes: the input needs a {data_type} column {name} (as a postgres-cdc source writes)"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Whether column `name` is a change's metadata rather than the row's.
pub fn is_metadata(name: &str) -> bool {
    METADATA.contains(&name)
}

/// The envelopes of the changes in `batch`, one per row; `rows` are the
/// rows' own columns as JSON objects (written once by the sink's JSON
/// writer and spliced in, not parsed again), `database` the envelope's
/// `source.db`.
pub fn envelopes(
    batch: &RecordBatch,
    rows: &[&[u8]],
    database: &str,
) -> Result<Vec<Vec<u8>>, ConnectorError> {
    let column = |name: &str| batch.column_by_name(name);
    let ops = column("_op").expect("checked").as_string::<i32>();
    let tables = column("_table").expect("checked").as_string::<i32>();
    let lsns = column("_lsn").expect("checked").as_primitive::<Int64Type>();
    let commit_times = column("_commit_time")
        .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>().cloned());
    let txids = column("_txid").and_then(|c| c.as_primitive_opt::<Int64Type>().cloned());
    let befores = column("_before").and_then(|c| c.as_string_opt::<i32>().cloned());
    let now = chrono::Utc::now().timestamp_millis();
    let null: &[u8] = b"null";
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let op = ops.value(i);
            let (schema, table) = tables
                .value(i)
                .split_once('.')
                .unwrap_or(("", tables.value(i)));
            let committed = commit_times
                .as_ref()
                .filter(|c| c.is_valid(i))
                .map(|c| c.value(i) / 1000);
            let old = befores
                .as_ref()
                .filter(|b| b.is_valid(i))
                .map(|b| b.value(i).as_bytes());
            let (before, after) = match op {
                // The deleted row's key (the whole row with REPLICA
                // IDENTITY FULL), as Debezium writes it.
                "d" => (*row, null),
                "u" => (old.unwrap_or(null), *row),
                _ => (null, *row),
            };
            let source = json!({
                "version": env!("CARGO_PKG_VERSION"),
                "connector": "postgresql",
                "name": "weir",
                "ts_ms": committed.unwrap_or(now),
                "snapshot": if op == "r" { "true" } else { "false" },
                "db": database,
                "sequence": Value::Null,
                "schema": schema,
                "table": table,
                "txId": txids.as_ref().filter(|t| t.is_valid(i)).map(|t| t.value(i)),
                "lsn": lsns.value(i),
                "xmin": Value::Null,
            });
            let mut envelope = Vec::with_capacity(row.len() * 2 + 256);
            envelope.extend_from_slice(b"{\"before\":");
            envelope.extend_from_slice(before);
            envelope.extend_from_slice(b",\"after\":");
            envelope.extend_from_slice(after);
            envelope.extend_from_slice(b",\"source\":");
            serde_json::to_writer(&mut envelope, &source)
                .map_err(|e| ConnectorError::Kafka(e.to_string()))?;
            envelope.extend_from_slice(b",\"op\":");
            serde_json::to_writer(&mut envelope, op)
                .map_err(|e| ConnectorError::Kafka(e.to_string()))?;
            envelope.extend_from_slice(format!(",\"ts_ms\":{now}}}").as_bytes());
            Ok(envelope)
        })
        .collect()
}
