//! `expect`: data-quality rules on the rows that pass, as dbt and Soda
//! users know them; the rows go on unchanged.
//!
//! Configuration: `rules`, a list; each rule has a `name`, a `severity`
//! and one check:
//!
//! | check | fails a row when | example |
//! | --- | --- | --- |
//! | `not_null` | the column is null | `{name: id_present, not_null: id}` |
//! | `unique` | its value was seen before: in the last `window_rows` rows, or (without it) in the whole run | `{name: one_order, unique: {column: order_id, window_rows: 100000}}` |
//! | `accepted_values` | its value (as text) is not one of `values` | `{name: known_country, accepted_values: {column: country, values: [DE, FR]}}` |
//! | `range` | its value (as a number) is below `min` or above `max` | `{name: sane_amount, range: {column: amount, min: 0, max: 10000}}` |
//! | `regex` | its text does not match `pattern` (anywhere; anchor with `^...$`) | `{name: email_shape, regex: {column: email, pattern: '^[^@]+@[^@]+$'}}` |
//! | `freshness` | its time (a timestamp column) is more than `max_delay_ms` before the clock | `{name: fresh, freshness: {column: event_time, max_delay_ms: 60000}}` |
//! | `predicate` | `filter`'s expression is false | `{name: paid, predicate: "amount > 0 or status = 'free'"}` |
//! | `row_count` | (not a row) a window's rows are fewer than `min` or more than `max`: with `column` (a timestamp) and `window_ms`, each tumbling window of event time, checked once a row of a later window arrives (rows of a window already checked are not counted) and the last when the run ends; without them, the whole run, checked when a bounded run ends | `{name: steady, row_count: {column: event_time, window_ms: 60000, min: 100}}` |
//!
//! A null passes every check but `not_null` (as in dbt). `unique` keeps
//! what it has seen in the plugin instance: each of `parallelism`
//! instances sees its own rows, and a re-created instance starts afresh.
//! Severities:
//!
//! | severity | what a failing row does |
//! | --- | --- |
//! | `warn` (default) | goes on; the failures are counted and logged |
//! | `reject` | goes to the node's dead letters, with the rule's name and the value |
//! | `fail` | stops the run (exit code 4), naming the rule and the first failing row |
//!
//! Every rule counts the rows it checked and those that failed in the
//! plugin counters `rule.<name>.checked` and `rule.<name>.failed` (in
//! `/metrics`, the run's summary and the OpenLineage data-quality facet).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow_cast::cast;
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use serde::Deserialize;
use weir_sdk::{Error, Layout, Output, Plan, Result, Transform};

/// The plugin's configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The rules, checked in order.
    pub rules: Vec<serde_json::Value>,
}

/// What a failing row does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// It goes on; failures are counted and logged.
    #[default]
    Warn,
    /// It goes to the dead letters.
    Reject,
    /// It stops the run.
    Fail,
}

/// A check of one column's values.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnCheck {
    column: String,
    #[serde(default)]
    values: Vec<serde_json::Value>,
    min: Option<f64>,
    max: Option<f64>,
    pattern: Option<String>,
    window_rows: Option<usize>,
    max_delay_ms: Option<u64>,
}

/// `row_count`'s bounds, and its event-time window if any.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bounds {
    min: Option<u64>,
    max: Option<u64>,
    column: Option<String>,
    window_ms: Option<u64>,
}

impl Bounds {
    fn broken_by(&self, rows: u64) -> bool {
        self.min.is_some_and(|min| rows < min) || self.max.is_some_and(|max| rows > max)
    }
}

/// The event-time window a windowed `row_count` is counting.
struct Window {
    /// Its start, in milliseconds since the epoch.
    start: i64,
    rows: u64,
}

/// How a rule checks a batch.
enum Check {
    NotNull,
    Unique {
        window: Option<usize>,
        seen: HashMap<String, usize>,
        order: VecDeque<String>,
    },
    AcceptedValues(HashSet<String>),
    Range {
        min: f64,
        max: f64,
    },
    Regex(regex_lite::Regex),
    Freshness {
        max_delay_ms: i64,
    },
    /// Parsed and type-checked at open; compiled once the received
    /// batch's columns are known.
    PredicateText(String),
    Predicate(weir_expr::Compiled),
    RowCount {
        bounds: Bounds,
        rows: u64,
        /// Windowed: the window being counted, and the windows closed since
        /// the last batch (start, rows), empty ones between them included.
        open: Option<Window>,
        closed: Vec<(i64, u64)>,
    },
}

/// One rule, opened.
struct Rule {
    name: String,
    severity: Severity,
    /// What it checks, for messages: `not_null id`.
    what: String,
    /// Where its column is in the batches `process` receives.
    position: Option<usize>,
    check: Check,
}

/// Most rules in one node: each reports two counters, and the host keeps
/// 256 per plugin.
const MOST_RULES: usize = 128;
/// Longest rule name: `rule.<name>.checked` must fit the host's 128 bytes.
const MOST_NAME_BYTES: usize = 100;

/// The running plugin.
pub struct Expect {
    rules: Vec<Rule>,
}

/// Parses rule `i` of the configuration against `input`; answers it and the
/// input columns it reads.
fn parse_rule(i: usize, rule: &serde_json::Value, input: &SchemaRef) -> Result<(Rule, Vec<usize>)> {
    let field = |key: &str| format!("rules[{i}].{key}");
    let bad =
        |key: &str, why: String| Error::invalid_config(format!("field \"{}\": {why}", field(key)));
    let object = rule
        .as_object()
        .ok_or_else(|| bad("", "expected a rule: {name, severity, <check>}".into()))?;
    let name = object
        .get("name")
        .and_then(|n| n.as_str())
        .filter(|n| !n.is_empty() && n.len() <= MOST_NAME_BYTES)
        .ok_or_else(|| {
            bad(
                "name",
                format!("required: a string of 1 to {MOST_NAME_BYTES} bytes (it names the rule's counters)"),
            )
        })?
        .to_string();
    let severity: Severity = match object.get("severity") {
        Some(s) => serde_json::from_value(s.clone())
            .map_err(|e| bad("severity", format!("{e} (warn, reject or fail)")))?,
        None => Severity::Warn,
    };
    let mut checks = object
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "name" | "severity"));
    let (kind, spec) = match (checks.next(), checks.next()) {
        (Some(check), None) => check,
        _ => {
            return Err(bad(
                "",
                "give exactly one check: not_null, unique, accepted_values, range, regex, freshness, predicate or row_count".into(),
            ));
        }
    };
    // A check of one column: `not_null: id`, or `{column: id, ...}`.
    let column_check = || -> Result<ColumnCheck> {
        match spec {
            serde_json::Value::String(column) if matches!(kind.as_str(), "not_null" | "unique") => {
                Ok(ColumnCheck {
                    column: column.clone(),
                    values: Vec::new(),
                    min: None,
                    max: None,
                    pattern: None,
                    window_rows: None,
                    max_delay_ms: None,
                })
            }
            spec => serde_json::from_value(spec.clone()).map_err(|e| bad(kind, e.to_string())),
        }
    };
    let located = |c: &ColumnCheck| {
        weir_sdk::config::column(input, &c.column, &field(&format!("{kind}.column")))
    };
    let (check, reads, what) = match kind.as_str() {
        "not_null" | "unique" | "accepted_values" | "range" | "regex" | "freshness" => {
            let c = column_check()?;
            let index = located(&c)?;
            let check = match kind.as_str() {
                "not_null" => Check::NotNull,
                "unique" => Check::Unique {
                    window: c.window_rows,
                    seen: HashMap::new(),
                    order: VecDeque::new(),
                },
                "accepted_values" if c.values.is_empty() => {
                    return Err(bad(kind, "`values` must list at least one value".into()));
                }
                "accepted_values" => Check::AcceptedValues(
                    c.values
                        .iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                        .collect(),
                ),
                "range" if c.min.is_none() && c.max.is_none() => {
                    return Err(bad(kind, "give `min`, `max` or both".into()));
                }
                "range" => Check::Range {
                    min: c.min.unwrap_or(f64::NEG_INFINITY),
                    max: c.max.unwrap_or(f64::INFINITY),
                },
                "regex" => {
                    let pattern = c
                        .pattern
                        .as_deref()
                        .ok_or_else(|| bad(kind, "`pattern` is required".into()))?;
                    Check::Regex(
                        regex_lite::Regex::new(pattern)
                            .map_err(|e| bad(&format!("{kind}.pattern"), e.to_string()))?,
                    )
                }
                _ => {
                    if !matches!(input.field(index).data_type(), DataType::Timestamp(_, _)) {
                        return Err(bad(
                            &format!("{kind}.column"),
                            format!("{} is not a timestamp", c.column),
                        ));
                    }
                    let max_delay_ms = c
                        .max_delay_ms
                        .ok_or_else(|| bad(kind, "`max_delay_ms` is required".into()))?;
                    Check::Freshness {
                        max_delay_ms: max_delay_ms as i64,
                    }
                }
            };
            (check, vec![index], format!("{kind} {}", c.column))
        }
        "predicate" => {
            let text = spec
                .as_str()
                .ok_or_else(|| bad(kind, "expected the expression as a string".into()))?;
            let parsed = weir_expr::parse(text).map_err(|e| bad(kind, e.to_string()))?;
            weir_expr::boolean(&parsed, input).map_err(|e| bad(kind, e.to_string()))?;
            let reads = parsed
                .columns()
                .iter()
                .map(|(name, _)| input.index_of(name).expect("type-checked"))
                .collect();
            (
                Check::PredicateText(text.to_string()),
                reads,
                format!("predicate {text}"),
            )
        }
        "row_count" => {
            if severity == Severity::Reject {
                return Err(bad(
                    "severity",
                    "row_count fails no row to reject: use warn or fail".into(),
                ));
            }
            let bounds: Bounds =
                serde_json::from_value(spec.clone()).map_err(|e| bad(kind, e.to_string()))?;
            let reads = match (&bounds.column, bounds.window_ms) {
                (None, None) => Vec::new(),
                (Some(column), Some(window)) if window > 0 => {
                    let index =
                        weir_sdk::config::column(input, column, &field("row_count.column"))?;
                    if !matches!(input.field(index).data_type(), DataType::Timestamp(_, _)) {
                        return Err(bad(
                            "row_count.column",
                            format!("{column} is not a timestamp"),
                        ));
                    }
                    vec![index]
                }
                _ => {
                    return Err(bad(
                        kind,
                        "give `column` (a timestamp) and `window_ms` (above 0) together, or neither (the whole run)".into(),
                    ));
                }
            };
            let rule = Check::RowCount {
                bounds,
                rows: 0,
                open: None,
                closed: Vec::new(),
            };
            (rule, reads, "row_count".into())
        }
        other => return Err(bad(other, "unknown check".into())),
    };
    Ok((
        Rule {
            name,
            severity,
            what,
            position: None,
            check,
        },
        reads,
    ))
}

impl Transform for Expect {
    type Config = Config;

    fn open(config: Config, input: &SchemaRef) -> Result<(Self, Plan)> {
        if config.rules.len() > MOST_RULES {
            return Err(Error::invalid_config(format!(
                "field \"rules\": {} rules; at most {MOST_RULES} (each has two counters, and a plugin has {} at most)",
                config.rules.len(),
                2 * MOST_RULES
            )));
        }
        let mut rules = Vec::new();
        let mut wanted: Vec<Vec<usize>> = Vec::new();
        for (i, spec) in config.rules.iter().enumerate() {
            let (rule, reads) = parse_rule(i, spec, input)?;
            if rules.iter().any(|r: &Rule| r.name == rule.name) {
                return Err(Error::invalid_config(format!(
                    "field \"rules[{i}].name\": {:?} names another rule too",
                    rule.name
                )));
            }
            rules.push(rule);
            wanted.push(reads);
        }
        let all: Vec<usize> = wanted.iter().flatten().copied().collect();
        let (plan, positions) = Plan::derived(Layout::all(input)).reading_at(&all);
        let received = plan.reads().received_schema(input)?;
        let mut next = 0;
        for (rule, reads) in rules.iter_mut().zip(&wanted) {
            rule.position = positions.get(next).copied().filter(|_| !reads.is_empty());
            next += reads.len();
            if let Check::PredicateText(text) = &rule.check {
                let parsed = weir_expr::parse(text).expect("parsed before");
                let compiled = weir_expr::boolean(&parsed, &received)
                    .map_err(|e| Error::internal(e.to_string()))?;
                rule.check = Check::Predicate(compiled);
            }
        }
        Ok((Expect { rules }, plan))
    }

    fn process(&mut self, batch: RecordBatch) -> Result<Output> {
        let rows = batch.num_rows();
        let mut rejected: Vec<Option<String>> = vec![None; rows];
        for rule in &mut self.rules {
            let column = rule.position.map(|p| batch.column(p).clone());
            let passes = rule.check.passes(column.as_ref(), &batch)?;
            if let Check::RowCount { bounds, closed, .. } = &mut rule.check {
                // Windows are checked as they close; the run, when it ends.
                let closed = std::mem::take(closed);
                check_windows(&rule.name, rule.severity, bounds, &closed)?;
                continue;
            }
            let failed: Vec<usize> = (0..rows).filter(|&r| !passes[r]).collect();
            weir_sdk::host::counter_add(&format!("rule.{}.checked", rule.name), rows as u64);
            weir_sdk::host::counter_add(&format!("rule.{}.failed", rule.name), failed.len() as u64);
            let Some(&first) = failed.first() else {
                continue;
            };
            // The column as text once per batch, for the failing rows' messages.
            let text = column.as_ref().map(as_text).transpose()?;
            let value = |row: usize| match &text {
                Some(text) if text.is_null(row) => ": null".to_string(),
                Some(text) => format!(": {:?}", text.value(row)),
                None => String::new(),
            };
            match rule.severity {
                Severity::Warn => {
                    let count = failed.len().to_string();
                    weir_sdk::host::warn(
                        "expectation failed",
                        &[
                            ("rule", &rule.name),
                            ("check", &rule.what),
                            ("rows", &count),
                        ],
                    );
                }
                Severity::Reject => {
                    for row in failed {
                        rejected[row].get_or_insert_with(|| {
                            format!("rule {} ({}) failed{}", rule.name, rule.what, value(row))
                        });
                    }
                }
                Severity::Fail => {
                    return Err(Error::invalid_input(format!(
                        "rule {} ({}, severity fail) failed for {} of {rows} rows; the first is row {first}{}",
                        rule.name,
                        rule.what,
                        failed.len(),
                        value(first)
                    )));
                }
            }
        }
        let keep: BooleanArray = rejected.iter().map(|r| Some(r.is_none())).collect();
        let rejections = rejected
            .into_iter()
            .enumerate()
            .filter_map(|(row, message)| message.map(|m| (row, m)));
        Ok(Output::select(&keep).reject_all(rejections))
    }

    /// `row_count` rules: the whole run, or the last window, are checked
    /// when a bounded run ends.
    fn finish(&mut self) -> Result<Vec<RecordBatch>> {
        for rule in &mut self.rules {
            let Check::RowCount {
                bounds, rows, open, ..
            } = &mut rule.check
            else {
                continue;
            };
            if bounds.window_ms.is_some() {
                let last: Vec<(i64, u64)> =
                    open.take().map(|w| (w.start, w.rows)).into_iter().collect();
                check_windows(&rule.name, rule.severity, bounds, &last)?;
                continue;
            }
            let broken = bounds.broken_by(*rows);
            weir_sdk::host::counter_add(&format!("rule.{}.checked", rule.name), 1);
            weir_sdk::host::counter_add(&format!("rule.{}.failed", rule.name), u64::from(broken));
            if !broken {
                continue;
            }
            let message = format!(
                "rule {} (row_count, min {:?}, max {:?}) failed: the run had {rows} rows",
                rule.name, bounds.min, bounds.max
            );
            match rule.severity {
                Severity::Fail => return Err(Error::invalid_input(message)),
                _ => weir_sdk::host::warn(
                    "expectation failed",
                    &[("rule", &rule.name), ("detail", &message)],
                ),
            }
        }
        Ok(Vec::new())
    }
}

/// Checks the `closed` windows (start, rows) of windowed `row_count` rule
/// `name`: counts them, logs or fails on those out of `bounds`.
fn check_windows(
    name: &str,
    severity: Severity,
    bounds: &Bounds,
    closed: &[(i64, u64)],
) -> Result<()> {
    if closed.is_empty() {
        return Ok(());
    }
    let broken: Vec<&(i64, u64)> = closed
        .iter()
        .filter(|(_, rows)| bounds.broken_by(*rows))
        .collect();
    weir_sdk::host::counter_add(&format!("rule.{name}.checked"), closed.len() as u64);
    weir_sdk::host::counter_add(&format!("rule.{name}.failed"), broken.len() as u64);
    let Some((start, rows)) = broken.first() else {
        return Ok(());
    };
    let message = format!(
        "rule {name} (row_count, min {:?}, max {:?}) failed for {} of {} windows; the first starts at {start} ms with {rows} rows",
        bounds.min,
        bounds.max,
        broken.len(),
        closed.len()
    );
    match severity {
        Severity::Fail => Err(Error::invalid_input(message)),
        _ => {
            weir_sdk::host::warn(
                "expectation failed",
                &[("rule", name), ("detail", &message)],
            );
            Ok(())
        }
    }
}

/// Empty windows listed one by one at most: past it, a gap counts as this
/// many.
const MOST_EMPTY_WINDOWS: i64 = 10_000;

impl Check {
    /// For each row of `batch`, whether it passes; `column` is the rule's.
    fn passes(&mut self, column: Option<&ArrayRef>, batch: &RecordBatch) -> Result<Vec<bool>> {
        let rows = batch.num_rows();
        Ok(match (self, column) {
            (Check::NotNull, Some(c)) => (0..rows).map(|r| !c.is_null(r)).collect(),
            (
                Check::Unique {
                    window,
                    seen,
                    order,
                },
                Some(c),
            ) => {
                let text = as_text(c)?;
                (0..rows)
                    .map(|r| {
                        if text.is_null(r) {
                            return true;
                        }
                        let key = text.value(r).to_string();
                        let fresh = !seen.contains_key(&key);
                        *seen.entry(key.clone()).or_insert(0) += 1;
                        order.push_back(key);
                        while window.is_some_and(|w| order.len() > w) {
                            let old = order.pop_front().expect("longer than the window");
                            if let Some(count) = seen.get_mut(&old) {
                                *count -= 1;
                                if *count == 0 {
                                    seen.remove(&old);
                                }
                            }
                        }
                        fresh
                    })
                    .collect()
            }
            (Check::AcceptedValues(values), Some(c)) => {
                let text = as_text(c)?;
                (0..rows)
                    .map(|r| text.is_null(r) || values.contains(text.value(r)))
                    .collect()
            }
            (Check::Range { min, max }, Some(c)) => {
                let numbers =
                    cast(c, &DataType::Float64).map_err(|e| Error::invalid_input(e.to_string()))?;
                let numbers = numbers.as_primitive::<Float64Type>();
                (0..rows)
                    .map(|r| numbers.is_null(r) || (*min..=*max).contains(&numbers.value(r)))
                    .collect()
            }
            (Check::Regex(pattern), Some(c)) => {
                let text = as_text(c)?;
                (0..rows)
                    .map(|r| text.is_null(r) || pattern.is_match(text.value(r)))
                    .collect()
            }
            (Check::Freshness { max_delay_ms }, Some(c)) => {
                let millis = cast(c, &DataType::Timestamp(TimeUnit::Millisecond, None))
                    .map_err(|e| Error::invalid_input(e.to_string()))?;
                let millis = millis.as_primitive::<TimestampMillisecondType>();
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                (0..rows)
                    .map(|r| millis.is_null(r) || now - millis.value(r) <= *max_delay_ms)
                    .collect()
            }
            (Check::Predicate(compiled), _) => {
                let result = compiled.evaluate(batch)?;
                // Only false fails: null passes, as in an SQL CHECK.
                (0..rows)
                    .map(|r| result.is_null(r) || result.value(r))
                    .collect()
            }
            (
                Check::RowCount {
                    bounds,
                    rows: seen,
                    open,
                    closed,
                },
                column,
            ) => {
                *seen += rows as u64;
                if let (Some(window), Some(c)) = (bounds.window_ms, column) {
                    let window = window as i64;
                    let millis = cast(c, &DataType::Timestamp(TimeUnit::Millisecond, None))
                        .map_err(|e| Error::invalid_input(e.to_string()))?;
                    let millis = millis.as_primitive::<TimestampMillisecondType>();
                    for r in (0..rows).filter(|&r| !millis.is_null(r)) {
                        let start = millis.value(r).div_euclid(window) * window;
                        match open {
                            Some(w) if w.start == start => w.rows += 1,
                            // A row of a window already checked is not counted.
                            Some(w) if w.start > start => {}
                            _ => {
                                if let Some(w) = open.take() {
                                    closed.push((w.start, w.rows));
                                    let empty =
                                        ((start - w.start) / window - 1).min(MOST_EMPTY_WINDOWS);
                                    closed.extend((1..=empty).map(|k| (w.start + k * window, 0)));
                                }
                                *open = Some(Window { start, rows: 1 });
                            }
                        }
                    }
                }
                vec![true; rows]
            }
            (Check::PredicateText(_), _) | (_, None) => {
                return Err(Error::internal("a rule not opened, or without its column"));
            }
        })
    }
}

/// `column` as text (utf8), for comparing values as the config gives them.
fn as_text(column: &ArrayRef) -> Result<Arc<arrow_array::StringArray>> {
    let text = cast(column, &DataType::Utf8).map_err(|e| Error::invalid_input(e.to_string()))?;
    Ok(Arc::new(text.as_string::<i32>().clone()))
}

weir_sdk::export_transform!(Expect);
