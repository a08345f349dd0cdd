//! The Nexmark queries written natively in Rust on arrow compute, no Wasm:
//! the baseline each Weir pipeline is compared with, over the same
//! generated batches. Each builds its output batches like the pipeline does
//! and answers how many rows it made.

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayBuilder, ArrayRef, BooleanArray, Float64Array, Int64Array, Int64Builder,
    RecordBatch, StringArray, StringBuilder, TimestampMillisecondArray,
    TimestampMillisecondBuilder,
};
use arrow::compute::filter_record_batch;
use arrow::compute::kernels::{boolean, cast, cmp, numeric};
use arrow::datatypes::DataType;

/// One query's running state.
pub trait Query {
    /// Processes one batch of events; answers the output rows made.
    fn process(&mut self, events: &RecordBatch) -> usize;
    /// Emits what is left at the end; answers the output rows made.
    fn finish(&mut self) -> usize {
        0
    }
}

/// The native version of `name`.
pub fn query(name: &str) -> Box<dyn Query> {
    match name {
        "q0" => Box::new(Q0),
        "q1" => Box::new(Q1),
        "q2" => Box::new(Q2),
        "q3" => Box::<Q3>::default(),
        "q5" => Box::<Q5>::default(),
        "q7" => Box::<Q7>::default(),
        other => panic!("no query {other}"),
    }
}

fn column(batch: &RecordBatch, name: &str) -> ArrayRef {
    batch.column_by_name(name).unwrap().clone()
}

fn is(batch: &RecordBatch, name: &str, value: &str) -> BooleanArray {
    cmp::eq(&column(batch, name), &StringArray::new_scalar(value)).unwrap()
}

fn equals(batch: &RecordBatch, name: &str, value: i64) -> BooleanArray {
    cmp::eq(&column(batch, name), &Int64Array::new_scalar(value)).unwrap()
}

fn any(masks: impl IntoIterator<Item = BooleanArray>) -> BooleanArray {
    masks
        .into_iter()
        .reduce(|a, b| boolean::or_kleene(&a, &b).unwrap())
        .unwrap()
}

fn and(a: &BooleanArray, b: &BooleanArray) -> BooleanArray {
    boolean::and_kleene(a, b).unwrap()
}

/// `columns` of the rows of `batch` where `mask` holds.
fn select(batch: &RecordBatch, mask: &BooleanArray, columns: &[&str]) -> RecordBatch {
    let indices: Vec<usize> = columns
        .iter()
        .map(|c| batch.schema().index_of(c).unwrap())
        .collect();
    filter_record_batch(&batch.project(&indices).unwrap(), mask).unwrap()
}

fn int(batch: &RecordBatch, name: &str) -> Int64Array {
    column(batch, name)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .clone()
}

fn time(batch: &RecordBatch, name: &str) -> TimestampMillisecondArray {
    column(batch, name)
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .unwrap()
        .clone()
}

const BID_COLUMNS: [&str; 4] = ["auction", "bidder", "price", "date_time"];

struct Q0;

impl Query for Q0 {
    fn process(&mut self, events: &RecordBatch) -> usize {
        black_box(select(
            events,
            &is(events, "event_type", "bid"),
            &BID_COLUMNS,
        ))
        .num_rows()
    }
}

struct Q1;

impl Query for Q1 {
    fn process(&mut self, events: &RecordBatch) -> usize {
        let bids = select(events, &is(events, "event_type", "bid"), &BID_COLUMNS);
        let dollars = cast::cast(bids.column(2), &DataType::Float64).unwrap();
        let euros = numeric::mul(&dollars, &Float64Array::new_scalar(0.908)).unwrap();
        let mut columns = bids.columns().to_vec();
        columns[2] = euros;
        let schema = arrow::datatypes::Schema::new(
            bids.schema()
                .fields()
                .iter()
                .map(|f| match f.name().as_str() {
                    "price" => f.as_ref().clone().with_data_type(DataType::Float64),
                    _ => f.as_ref().clone(),
                })
                .collect::<Vec<_>>(),
        );
        black_box(RecordBatch::try_new(Arc::new(schema), columns).unwrap()).num_rows()
    }
}

struct Q2;

impl Query for Q2 {
    fn process(&mut self, events: &RecordBatch) -> usize {
        let wanted = any([1007, 1020, 2001, 2019, 2087].map(|a| equals(events, "auction", a)));
        let mask = and(&is(events, "event_type", "bid"), &wanted);
        black_box(select(events, &mask, &["auction", "price"])).num_rows()
    }
}

/// People of OR, ID and CA by id, and the auctions in category 10 by
/// seller, each matched with the other side's earlier rows.
#[derive(Default)]
struct Q3 {
    people: HashMap<i64, (String, String, String)>,
    auctions: HashMap<i64, Vec<i64>>,
}

impl Query for Q3 {
    fn process(&mut self, events: &RecordBatch) -> usize {
        let people = and(
            &is(events, "event_type", "person"),
            &any(["OR", "ID", "CA"].map(|s| is(events, "state", s))),
        );
        let auctions = and(
            &is(events, "event_type", "auction"),
            &equals(events, "category", 10),
        );
        let sides = select(
            events,
            &any([people, auctions]),
            &["person_id", "name", "city", "state", "seller", "auction_id"],
        );
        let text = |n: usize| {
            sides
                .column(n)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone()
        };
        let (person, seller, auction) = (
            int(&sides, "person_id"),
            int(&sides, "seller"),
            int(&sides, "auction_id"),
        );
        let (name, city, state) = (text(1), text(2), text(3));
        let mut out = (
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            Int64Builder::new(),
        );
        let mut emit = |p: &(String, String, String), auction: i64| {
            out.0.append_value(&p.0);
            out.1.append_value(&p.1);
            out.2.append_value(&p.2);
            out.3.append_value(auction);
        };
        for row in 0..sides.num_rows() {
            if person.is_valid(row) {
                let p = (
                    name.value(row).to_string(),
                    city.value(row).to_string(),
                    state.value(row).to_string(),
                );
                for a in self.auctions.get(&person.value(row)).into_iter().flatten() {
                    emit(&p, *a);
                }
                self.people.insert(person.value(row), p);
            } else {
                let (s, a) = (seller.value(row), auction.value(row));
                if let Some(p) = self.people.get(&s) {
                    emit(p, a);
                }
                self.auctions.entry(s).or_default().push(a);
            }
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(out.0.finish()),
            Arc::new(out.1.finish()),
            Arc::new(out.2.finish()),
            Arc::new(out.3.finish()),
        ];
        black_box(columns)[0].len()
    }
}

/// Window starts → group → aggregate.
type Windows<K> = BTreeMap<i64, HashMap<K, i64>>;

/// Emits the windows that end at or before `watermark`: per window the
/// groups with the largest value; answers the rows.
fn emit_top<K: Copy>(
    windows: &mut Windows<K>,
    size: i64,
    watermark: i64,
    key: impl Fn(K, &mut [Int64Builder]),
) -> usize {
    let mut starts = TimestampMillisecondBuilder::new().with_timezone("+00:00");
    let mut ends = TimestampMillisecondBuilder::new().with_timezone("+00:00");
    let mut columns: Vec<Int64Builder> = (0..3).map(|_| Int64Builder::new()).collect();
    while let Some(entry) = windows.first_entry() {
        if entry.key() + size > watermark {
            break;
        }
        let (start, groups) = entry.remove_entry();
        let top = groups.values().copied().max().unwrap_or_default();
        for (k, v) in groups.into_iter().filter(|(_, v)| *v == top) {
            starts.append_value(start);
            ends.append_value(start + size);
            key(k, &mut columns);
            columns[2].append_value(v);
        }
    }
    let rows = starts.len();
    black_box((
        starts.finish(),
        ends.finish(),
        columns.iter_mut().map(|c| c.finish()).collect::<Vec<_>>(),
    ));
    rows
}

/// Bids per auction in 10 s windows every 2 s, counted per 2 s pane and
/// merged per window when it closes (as the window-aggregate plugin does).
#[derive(Default)]
struct Q5 {
    panes: BTreeMap<i64, HashMap<i64, i64>>,
    /// Windows starting before this were emitted.
    next: Option<i64>,
}

impl Q5 {
    const SIZE: i64 = 10_000;
    const SLIDE: i64 = 2_000;

    fn emit(&mut self, watermark: i64) -> usize {
        let mut windows: Windows<i64> = BTreeMap::new();
        while let Some((&pane, _)) = self.panes.first_key_value() {
            let earliest = (pane - Self::SIZE).div_euclid(Self::SLIDE) * Self::SLIDE + Self::SLIDE;
            let start = self.next.map_or(earliest, |n| n.max(earliest));
            if start + Self::SIZE > watermark {
                break;
            }
            let counts = windows.entry(start).or_default();
            for (_, pane) in self.panes.range(start..start + Self::SIZE) {
                for (auction, count) in pane {
                    *counts.entry(*auction).or_default() += count;
                }
            }
            self.next = Some(start + Self::SLIDE);
            self.panes.retain(|p, _| *p >= start + Self::SLIDE);
        }
        emit_top(&mut windows, Self::SIZE, i64::MAX, |a, c| {
            c[0].append_value(a)
        })
    }
}

impl Query for Q5 {
    fn process(&mut self, events: &RecordBatch) -> usize {
        let bids = select(
            events,
            &is(events, "event_type", "bid"),
            &["auction", "date_time"],
        );
        let (auction, at) = (int(&bids, "auction"), time(&bids, "date_time"));
        let mut newest = i64::MIN;
        for (a, t) in auction.values().iter().zip(at.values()) {
            let pane = t - t.rem_euclid(Self::SLIDE);
            *self.panes.entry(pane).or_default().entry(*a).or_default() += 1;
            newest = newest.max(*t);
        }
        self.emit(newest)
    }

    fn finish(&mut self) -> usize {
        self.emit(i64::MAX)
    }
}

/// The highest price per (auction, bidder) in 10 s tumbling windows.
#[derive(Default)]
struct Q7 {
    windows: Windows<(i64, i64)>,
}

impl Q7 {
    const SIZE: i64 = 10_000;
}

fn auction_and_bidder((auction, bidder): (i64, i64), columns: &mut [Int64Builder]) {
    columns[0].append_value(auction);
    columns[1].append_value(bidder);
}

impl Query for Q7 {
    fn process(&mut self, events: &RecordBatch) -> usize {
        let bids = select(events, &is(events, "event_type", "bid"), &BID_COLUMNS);
        let (auction, bidder, price, at) = (
            int(&bids, "auction"),
            int(&bids, "bidder"),
            int(&bids, "price"),
            time(&bids, "date_time"),
        );
        let mut newest = i64::MIN;
        for row in 0..bids.num_rows() {
            let t = at.value(row);
            let group = self
                .windows
                .entry(t - t.rem_euclid(Self::SIZE))
                .or_default();
            let highest = group
                .entry((auction.value(row), bidder.value(row)))
                .or_insert(i64::MIN);
            *highest = (*highest).max(price.value(row));
            newest = newest.max(t);
        }
        emit_top(&mut self.windows, Self::SIZE, newest, auction_and_bidder)
    }

    fn finish(&mut self) -> usize {
        emit_top(&mut self.windows, Self::SIZE, i64::MAX, auction_and_bidder)
    }
}
