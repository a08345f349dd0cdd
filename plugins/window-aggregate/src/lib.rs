//! `window-aggregate`: tumbling or hopping event-time windows with aggregates
//! per key.
//!
//! Configuration:
//!
//! | field | meaning | example |
//! | --- | --- | --- |
//! | `time_column` | a timestamp column: the event time | `"event_time"` |
//! | `window` | window length: a number with `ms`, `s`, `m` or `h` | `"1m"` |
//! | `slide` | hopping windows: a new window starts every `slide` (at most `window`), so an event counts in `window / slide` windows; default: `window` (tumbling) | `"2s"` |
//! | `keys` | group by these columns (utf8, integer or bool); may be empty | `["page"]` |
//! | `aggregates` | `op` (`count`, `sum`, `min`, `max`, `avg`), `column` (not needed for `count`), `as` (output name; default `op` or `op_column`) | `[{"op": "count"}, {"op": "sum", "column": "price", "as": "revenue"}]` |
//! | `lateness` | how long a window stays open for late events after the watermark passed its end | `"5s"` (default `"0s"`) |
//! | `top` | emit only the groups whose aggregate `by` (an output name) is among the `rows` largest of their window, ties included (default `rows`: 1) | `{"by": "bids", "rows": 1}` |
//!
//! Output, one row per window and key: `window_start`, `window_end`
//! (timestamp\[ms\], UTC), the key columns, then the aggregates (`count` is
//! int64, the others float64; nulls are ignored as in SQL). A window is
//! emitted once the watermark minus `lateness` passes its end; the rest at
//! the end of input. The host moves the watermark: the event time every
//! Kafka partition and every file has reached, the slowest one still sending
//! holding it back, so a backlog read one partition after another makes no
//! row late (`wit/event-time.wit`). A host without that clock leaves the
//! watermark at the newest event seen. An event for a window already emitted
//! (for hopping windows: for the first of its windows) is rejected to the
//! dead letters, never silently dropped. The open windows
//! are the plugin's state: `snapshot`/`restore` carry them across restarts
//! and hot reloads.

use std::collections::BTreeMap;

use smallvec::SmallVec;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_cast::cast;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};
use weir_sdk::{Error, Output, Plan, Result, Transform};

/// The configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The event-time column.
    pub time_column: String,
    /// Window length, e.g. `"1m"`.
    pub window: String,
    /// Group-by columns.
    #[serde(default)]
    pub keys: Vec<String>,
    /// The aggregates.
    pub aggregates: Vec<AggregateSpec>,
    /// Allowed lateness, e.g. `"5s"`.
    #[serde(default)]
    pub lateness: Option<String>,
    /// Hopping windows: the time between window starts, e.g. `"2s"`.
    #[serde(default)]
    pub slide: Option<String>,
    /// Emit only the top groups of each window.
    #[serde(default)]
    pub top: Option<Top>,
}

/// Which groups of a window are emitted: those whose aggregate `by` is among
/// the `rows` largest values of the window (ties included).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Top {
    /// The output name of an aggregate.
    pub by: String,
    /// How many of the largest values to keep.
    #[serde(default = "one")]
    pub rows: usize,
}

fn one() -> usize {
    1
}

/// One aggregate.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateSpec {
    /// The function.
    pub op: Op,
    /// The input column (not for `count`).
    pub column: Option<String>,
    /// The output name.
    #[serde(rename = "as")]
    pub name: Option<String>,
}

/// Aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// Rows (or non-null values of `column`).
    Count,
    /// Sum.
    Sum,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
    /// Mean.
    Avg,
}

/// Parses `500ms`, `10s`, `1m`, `2h` into milliseconds.
pub fn duration_ms(text: &str) -> std::result::Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 500ms, 10s, 1m or 2h"))?;
    let factor = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?}; use ms, s, m or h"
            ));
        }
    };
    Ok(number * factor)
}

/// A group-by key value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Key {
    /// Null.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
}

/// Running state of one aggregate. Floats are kept as bits so the snapshot
/// is exact (JSON has no NaN).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Acc {
    count: u64,
    sum: u64,
    min: u64,
    max: u64,
}

impl Acc {
    fn add(&mut self, value: Option<f64>) {
        let Some(v) = value else { return };
        let (sum, min, max) = (
            f64::from_bits(self.sum),
            f64::from_bits(self.min),
            f64::from_bits(self.max),
        );
        let first = self.count == 0;
        self.count += 1;
        self.sum = (sum + v).to_bits();
        self.min = if first || v < min { v } else { min }.to_bits();
        self.max = if first || v > max { v } else { max }.to_bits();
    }

    /// Adds what `other` accumulated (another pane of the same window).
    fn merge(&mut self, other: &Acc) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let float = f64::from_bits;
        self.count += other.count;
        self.sum = (float(self.sum) + float(other.sum)).to_bits();
        self.min = float(self.min).min(float(other.min)).to_bits();
        self.max = float(self.max).max(float(other.max)).to_bits();
    }

    fn result(&self, op: Op) -> Option<f64> {
        (self.count > 0).then(|| match op {
            Op::Sum => f64::from_bits(self.sum),
            Op::Min => f64::from_bits(self.min),
            Op::Max => f64::from_bits(self.max),
            Op::Avg => f64::from_bits(self.sum) / self.count as f64,
            Op::Count => self.count as f64,
        })
    }
}

/// Key → one accumulator per aggregate. Hashed with Fx (cheap in Wasm,
/// unlike SipHash or a B-tree); sorted by key when a window is emitted.
type Groups = rustc_hash::FxHashMap<KeyRow, Accs>;

/// A group's key values: up to two inline, so a new group of a one- or
/// two-column key allocates nothing but its table slot.
type KeyRow = SmallVec<[Key; 2]>;

/// A group's accumulators, one per aggregate (two inline).
type Accs = SmallVec<[Acc; 2]>;

/// Open panes: start → groups. A pane is a slice of time that every window
/// holding any of it holds whole (the greatest common divisor of window and
/// slide; the window itself when tumbling), so each event updates one pane
/// and a hopping window merges its panes when it is emitted (Flink and
/// Arroyo do the same), instead of every event updating `window / slide`
/// windows.
type Panes = BTreeMap<i64, Groups>;

/// The groups of one pane, as stored in a snapshot.
type SavedGroups = Vec<(Vec<Key>, Vec<Acc>)>;

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// The open panes (windows, when tumbling).
    windows: Vec<(i64, SavedGroups)>,
    newest: Option<i64>,
    /// Windows starting before this were emitted.
    closed_before: i64,
}

/// The running transform.
pub struct WindowAggregate {
    size: i64,
    slide: i64,
    pane: i64,
    lateness: i64,
    /// The aggregate (index) and how many of its largest values to emit.
    top: Option<(usize, usize)>,
    /// The event-time column in the input schema (for the host's clock).
    time_input: usize,
    /// The host moves the clock (`advance`); otherwise it is the newest
    /// event minus `lateness`.
    host_clock: bool,
    /// Received-batch indices: time, keys, aggregate inputs (`None` for count(*)).
    time: usize,
    keys: Vec<(usize, DataType)>,
    aggregates: Vec<(Op, Option<usize>)>,
    output: SchemaRef,
    panes: Panes,
    newest: Option<i64>,
    closed_before: i64,
}

impl Transform for WindowAggregate {
    type Config = Config;

    fn open(config: Config, input: &SchemaRef) -> Result<(Self, Plan)> {
        let size = duration_ms(&config.window)
            .map_err(|e| Error::invalid_config(format!("field \"window\": {e}")))?;
        if size <= 0 {
            return Err(Error::invalid_config(
                "field \"window\": must be longer than 0",
            ));
        }
        let lateness = match &config.lateness {
            Some(l) => duration_ms(l)
                .map_err(|e| Error::invalid_config(format!("field \"lateness\": {e}")))?,
            None => 0,
        };
        let slide = match &config.slide {
            Some(s) => duration_ms(s)
                .map_err(|e| Error::invalid_config(format!("field \"slide\": {e}")))?,
            None => size,
        };
        if slide <= 0 || slide > size {
            return Err(Error::invalid_config(format!(
                "field \"slide\": must be longer than 0 and at most the window ({size} ms), not {slide} ms"
            )));
        }
        let index = |name: &str, field: &str| weir_sdk::config::column(input, name, field);
        let time = index(&config.time_column, "time_column")?;
        if !matches!(input.field(time).data_type(), DataType::Timestamp(..)) {
            return Err(Error::invalid_config(format!(
                "field \"time_column\": {:?} is {}, not a timestamp",
                config.time_column,
                input.field(time).data_type()
            )));
        }
        if config.aggregates.is_empty() {
            return Err(Error::invalid_config(
                "field \"aggregates\": declare at least one aggregate",
            ));
        }
        let ts = DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into()));
        let mut fields = vec![
            Field::new("window_start", ts.clone(), false),
            Field::new("window_end", ts, false),
        ];
        // Keys and aggregates hold the number of their read until the plan
        // says where each column lands in the batches `process` receives.
        let mut reads = vec![time];
        let mut keys = Vec::new();
        for (n, name) in config.keys.iter().enumerate() {
            let i = index(name, &format!("keys[{n}]"))?;
            let key_type = match input.field(i).data_type() {
                t if t.is_integer() => DataType::Int64,
                DataType::Boolean => DataType::Boolean,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
                other => {
                    return Err(Error::invalid_config(format!(
                        "field \"keys[{n}]\": cannot group by a {other} column"
                    )));
                }
            };
            fields.push(Field::new(name, key_type.clone(), true));
            keys.push((reads.len(), key_type));
            reads.push(i);
        }
        let mut aggregates = Vec::new();
        for (n, spec) in config.aggregates.iter().enumerate() {
            let column = match (&spec.column, spec.op) {
                (None, Op::Count) => None,
                (None, op) => {
                    return Err(Error::invalid_config(format!(
                        "field \"aggregates[{n}]\": {op:?} needs a \"column\""
                    )));
                }
                (Some(name), _) => {
                    let i = index(name, &format!("aggregates[{n}].column"))?;
                    if spec.op != Op::Count && !input.field(i).data_type().is_numeric() {
                        return Err(Error::invalid_config(format!(
                            "field \"aggregates[{n}].column\": {name:?} is {}, not a number",
                            input.field(i).data_type()
                        )));
                    }
                    reads.push(i);
                    Some(reads.len() - 1)
                }
            };
            let op_name = format!("{:?}", spec.op).to_lowercase();
            let name = spec.name.clone().unwrap_or_else(|| match &spec.column {
                Some(c) => format!("{op_name}_{c}"),
                None => op_name,
            });
            let data_type = if spec.op == Op::Count {
                DataType::Int64
            } else {
                DataType::Float64
            };
            fields.push(Field::new(name, data_type, spec.op != Op::Count));
            aggregates.push((spec.op, column));
        }
        let top = match &config.top {
            None => None,
            Some(Top { rows: 0, .. }) => {
                return Err(Error::invalid_config(
                    "field \"top.rows\": must be at least 1",
                ));
            }
            Some(top) => {
                let names = &fields[2 + keys.len()..];
                let Some(at) = names.iter().position(|f| f.name() == &top.by) else {
                    return Err(Error::invalid_config(format!(
                        "field \"top.by\": {:?} is not an aggregate; the aggregates are {:?}",
                        top.by,
                        names.iter().map(|f| f.name()).collect::<Vec<_>>()
                    )));
                };
                Some((at, top.rows))
            }
        };
        let output: SchemaRef = Arc::new(Schema::new(fields));
        let (plan, positions) = Plan::batches(output.clone()).reading_at(&reads);
        let at = |read: usize| positions[read];
        let transform = WindowAggregate {
            size,
            slide,
            pane: gcd(size, slide),
            lateness,
            top,
            time_input: time,
            host_clock: false,
            time: at(0),
            keys: keys.into_iter().map(|(i, t)| (at(i), t)).collect(),
            aggregates: aggregates
                .into_iter()
                .map(|(op, c)| (op, c.map(at)))
                .collect(),
            output: output.clone(),
            panes: Panes::new(),
            newest: None,
            closed_before: i64::MIN,
        };
        Ok((transform, plan))
    }

    fn process(&mut self, batch: RecordBatch) -> Result<Output> {
        let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
        let times = cast(&cast(batch.column(self.time), &ts)?, &DataType::Int64)?;
        let times = times.as_any().downcast_ref::<Int64Array>().expect("int64");
        let keys = self
            .keys
            .iter()
            .map(|(i, t)| cast(batch.column(*i), t))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let values = self
            .aggregates
            .iter()
            .map(|(_, c)| {
                c.map(|i| cast(batch.column(i), &DataType::Float64))
                    .transpose()
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let values: Vec<Option<&Float64Array>> = values
            .iter()
            .map(|v| {
                v.as_ref()
                    .map(|a| a.as_any().downcast_ref::<Float64Array>().expect("f64"))
            })
            .collect();

        let keys: Vec<KeyColumn> = keys.iter().map(KeyColumn::of).collect();
        // One row's key and aggregate inputs, reused from row to row.
        let (mut key, mut inputs) = (KeyRow::new(), Vec::new());
        // A new pane is sized like the newest one at the batch's start, so it
        // rarely grows.
        let newest_groups = self.panes.last_key_value().map_or(0, |(_, g)| g.len());
        let mut rejected: Vec<(usize, String)> = Vec::new();
        for row in 0..batch.num_rows() {
            if times.is_null(row) {
                rejected.push((row, "the event time is null".into()));
                continue;
            }
            let time = times.value(row);
            let first = self.first_window(time);
            if first < self.closed_before {
                rejected.push((
                    row,
                    format!(
                        "late event at {}: its window starting at {} was already emitted",
                        rfc3339(time),
                        rfc3339(first)
                    ),
                ));
                continue;
            }
            key.clear();
            key.extend(keys.iter().map(|k| k.value(row)));
            inputs.clear();
            inputs.extend(
                self.aggregates
                    .iter()
                    .zip(&values)
                    .map(|((op, _), column)| match column {
                        None => Some(0.0),
                        Some(c) => c
                            .is_valid(row)
                            .then(|| if *op == Op::Count { 0.0 } else { c.value(row) }),
                    }),
            );
            let add = |accs: &mut [Acc]| accs.iter_mut().zip(&inputs).for_each(|(a, v)| a.add(*v));
            let pane = time.div_euclid(self.pane) * self.pane;
            let groups = self.panes.entry(pane).or_insert_with(|| {
                Groups::with_capacity_and_hasher(newest_groups, Default::default())
            });
            match groups.get_mut(key.as_slice()) {
                Some(accs) => add(accs),
                None => {
                    let mut accs = Accs::from_elem(Acc::default(), self.aggregates.len());
                    add(&mut accs);
                    groups.insert(key.clone(), accs);
                }
            }
            self.newest = Some(self.newest.map_or(time, |n| n.max(time)));
        }
        // Windows whose end is at or before the watermark are complete.
        let closed = match self.newest {
            Some(newest) if !self.host_clock => self.emit(newest - self.lateness)?,
            _ => Vec::new(),
        };
        Ok(Output::batches(closed).reject_all(rejected))
    }

    fn finish(&mut self) -> Result<Vec<RecordBatch>> {
        self.emit(i64::MAX)
    }

    fn event_time(&mut self) -> Option<usize> {
        self.host_clock = true;
        Some(self.time_input)
    }

    fn advance(&mut self, watermark: i64) -> Result<Vec<RecordBatch>> {
        self.emit(watermark.saturating_sub(self.lateness))
    }

    fn snapshot(&self) -> Result<Option<Vec<u8>>> {
        let state = State {
            windows: self
                .panes
                .iter()
                .map(|(s, k)| {
                    (
                        *s,
                        k.iter().map(|(k, a)| (k.to_vec(), a.to_vec())).collect(),
                    )
                })
                .collect(),
            newest: self.newest,
            closed_before: self.closed_before,
        };
        Ok(Some(serde_json::to_vec(&state).map_err(Error::internal)?))
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<()> {
        let state: State = serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid_state(format!("window state: {e}")))?;
        if state
            .windows
            .iter()
            .flat_map(|(_, k)| k)
            .any(|(_, a)| a.len() != self.aggregates.len())
        {
            return Err(Error::invalid_state(
                "the state was taken with a different list of aggregates",
            ));
        }
        self.panes = state
            .windows
            .into_iter()
            .map(|(s, k)| {
                let groups = k
                    .into_iter()
                    .map(|(k, a)| (KeyRow::from_vec(k), Accs::from_vec(a)));
                (s, groups.collect())
            })
            .collect();
        self.newest = state.newest;
        self.closed_before = state.closed_before;
        Ok(())
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    match b {
        0 => a,
        _ => gcd(b, a % b),
    }
}

/// A key column, cast to its key type and downcast once per batch.
enum KeyColumn<'a> {
    Int(&'a Int64Array),
    Bool(&'a BooleanArray),
    Text(&'a StringArray),
}

impl<'a> KeyColumn<'a> {
    fn of(column: &'a ArrayRef) -> Self {
        let any = column.as_any();
        if let Some(a) = any.downcast_ref::<Int64Array>() {
            Self::Int(a)
        } else if let Some(a) = any.downcast_ref::<BooleanArray>() {
            Self::Bool(a)
        } else {
            Self::Text(any.downcast_ref::<StringArray>().expect("utf8 key"))
        }
    }

    fn value(&self, row: usize) -> Key {
        match self {
            Self::Int(a) if a.is_valid(row) => Key::Int(a.value(row)),
            Self::Bool(a) if a.is_valid(row) => Key::Bool(a.value(row)),
            Self::Text(a) if a.is_valid(row) => Key::Text(a.value(row).to_string()),
            _ => Key::Null,
        }
    }
}

impl WindowAggregate {
    /// The start of the earliest window not emitted yet that holds an open
    /// pane (so empty windows are skipped, however long a gap in time).
    fn next_window(&self) -> Option<i64> {
        let (&pane, _) = self.panes.first_key_value()?;
        Some(self.first_window(pane).max(self.closed_before))
    }

    /// The start of the earliest window holding `time`: the smallest
    /// multiple of the slide whose window ends after `time`.
    fn first_window(&self, time: i64) -> i64 {
        (time - self.size).div_euclid(self.slide) * self.slide + self.slide
    }

    /// The groups of the window at `start`: its panes merged (taken, when
    /// the window is its only pane).
    fn window(&mut self, start: i64) -> Groups {
        if self.pane == self.size {
            return self.panes.remove(&start).unwrap_or_default();
        }
        let mut merged = Groups::default();
        for (_, groups) in self.panes.range(start..start + self.size) {
            for (key, accs) in groups {
                match merged.get_mut(key) {
                    Some(into) => into.iter_mut().zip(accs).for_each(|(m, a)| m.merge(a)),
                    None => {
                        merged.insert(key.clone(), accs.clone());
                    }
                }
            }
        }
        merged
    }

    /// Emits every window that ends at or before `watermark` (all of
    /// them for `i64::MAX`) and drops the panes no open window needs.
    fn emit(&mut self, watermark: i64) -> Result<Vec<RecordBatch>> {
        let mut start_col = TimestampMillisecondBuilder::new().with_timezone("+00:00");
        let mut end_col = TimestampMillisecondBuilder::new().with_timezone("+00:00");
        let mut key_cols: Vec<Vec<Key>> = vec![Vec::new(); self.keys.len()];
        let mut agg_cols: Vec<Vec<Option<f64>>> = vec![Vec::new(); self.aggregates.len()];
        let mut emitted = 0;
        while let Some(start) = self.next_window() {
            if start.saturating_add(self.size) > watermark {
                break;
            }
            let mut groups = self.window(start);
            self.closed_before = start + self.slide;
            while let Some(entry) = self.panes.first_entry() {
                if *entry.key() >= self.closed_before {
                    break;
                }
                entry.remove();
            }
            if let Some((by, rows)) = self.top {
                let op = self.aggregates[by].0;
                let mut values: Vec<f64> =
                    groups.values().filter_map(|a| a[by].result(op)).collect();
                // The `rows`-th largest value (or the smallest, if fewer).
                let least = match values.len() {
                    0 => None,
                    n => Some(
                        *values
                            .select_nth_unstable_by((rows - 1).min(n - 1), |a, b| b.total_cmp(a))
                            .1,
                    ),
                };
                groups.retain(|_, a| {
                    a[by]
                        .result(op)
                        .zip(least)
                        .is_some_and(|(v, least)| v >= least)
                });
            }
            emitted += groups.len();
            let mut groups: Vec<_> = groups.into_iter().collect();
            groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            for (key, accs) in groups {
                start_col.append_value(start);
                end_col.append_value(start + self.size);
                key_cols.iter_mut().zip(key).for_each(|(c, k)| c.push(k));
                for ((col, acc), (op, _)) in agg_cols.iter_mut().zip(&accs).zip(&self.aggregates) {
                    col.push(
                        acc.result(*op)
                            .or(if *op == Op::Count { Some(0.0) } else { None }),
                    );
                }
            }
        }
        if emitted == 0 {
            return Ok(Vec::new());
        }
        let mut columns: Vec<ArrayRef> =
            vec![Arc::new(start_col.finish()), Arc::new(end_col.finish())];
        for ((_, t), keys) in self.keys.iter().zip(key_cols) {
            columns.push(match t {
                DataType::Int64 => {
                    let mut b = Int64Builder::new();
                    keys.iter().for_each(|k| {
                        b.append_option(if let Key::Int(v) = k { Some(*v) } else { None })
                    });
                    Arc::new(b.finish())
                }
                DataType::Boolean => {
                    let mut b = BooleanBuilder::new();
                    keys.iter().for_each(|k| {
                        b.append_option(if let Key::Bool(v) = k { Some(*v) } else { None })
                    });
                    Arc::new(b.finish())
                }
                _ => {
                    let mut b = StringBuilder::new();
                    keys.iter().for_each(|k| {
                        b.append_option(if let Key::Text(v) = k { Some(v) } else { None })
                    });
                    Arc::new(b.finish())
                }
            });
        }
        for ((op, _), values) in self.aggregates.iter().zip(agg_cols) {
            columns.push(match op {
                Op::Count => Arc::new(Int64Array::from_iter(
                    values.iter().map(|v| v.map(|v| v as i64)),
                )),
                _ => Arc::new(Float64Array::from(values)),
            });
        }
        Ok(vec![RecordBatch::try_new(self.output.clone(), columns)?])
    }
}

weir_sdk::export_transform!(WindowAggregate);

/// Milliseconds since 1970 as RFC 3339 text in UTC, for messages.
fn rfc3339(ms: i64) -> String {
    match arrow_array::temporal_conversions::timestamp_ms_to_datetime(ms) {
        Some(at) => at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => format!("{ms} ms since 1970"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_ms("1m"), Ok(60_000));
        assert_eq!(duration_ms("250ms"), Ok(250));
        assert!(duration_ms("1 fortnight").is_err());
    }
}
