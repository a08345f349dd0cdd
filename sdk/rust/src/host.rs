//! What a plugin can ask of the host: structured logs and metrics.
//!
//! Logs appear in the host's log with the node's name; counters and gauges
//! are exported as metrics of the node.

use crate::bindings::host::{self, Level};

fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    host::log(level, message, &fields);
}

/// Logs at debug level with key/value fields.
pub fn debug(message: &str, fields: &[(&str, &str)]) {
    log(Level::Debug, message, fields);
}

/// Logs at info level with key/value fields.
pub fn info(message: &str, fields: &[(&str, &str)]) {
    log(Level::Info, message, fields);
}

/// Logs at warn level with key/value fields.
pub fn warn(message: &str, fields: &[(&str, &str)]) {
    log(Level::Warn, message, fields);
}

/// Logs at error level with key/value fields.
pub fn error(message: &str, fields: &[(&str, &str)]) {
    log(Level::Error, message, fields);
}

/// Adds `delta` to this node's counter `name`.
pub fn counter_add(name: &str, delta: u64) {
    host::counter_add(name, delta);
}

/// Sets this node's gauge `name`.
pub fn gauge_set(name: &str, value: f64) {
    host::gauge_set(name, value);
}
