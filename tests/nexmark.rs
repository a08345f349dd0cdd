//! The Nexmark queries (`benches/nexmark/`) run as Weir pipelines of Wasm
//! plugins, each checked against a reference computed here in plain Rust
//! from the same events (`weir_plugin_generate::nexmark::event`, the
//! generator's own code run natively).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::AtomicBool;

use arrow::array::{RecordBatch, TimestampMillisecondArray};
use common::nexmark::{SEED, START_MS, pipeline};
use common::*;
use weir::exec::{RunOptions, run};
use weir::graph::Graph;
use weir_plugin_generate::nexmark::{Event, event};

/// Enough events for q5's and q7's windows (100 s of event time) and for
/// bids on q2's auctions (created by event 18,000).
const EVENTS: u64 = 100_000;

/// Every event with its time.
fn events() -> impl Iterator<Item = (i64, Event)> {
    (0..EVENTS).map(|n| (START_MS + n as i64, event(SEED, n)))
}

/// Every bid: (time, auction, bidder, price).
fn bids() -> impl Iterator<Item = (i64, i64, i64, i64)> {
    events().filter_map(|(time, e)| match e {
        Event::Bid {
            auction,
            bidder,
            price,
            ..
        } => Some((time, auction, bidder, price)),
        _ => None,
    })
}

/// Runs `query` over [`EVENTS`] events and answers its output.
fn output(query: &str) -> RecordBatch {
    let dir = tempfile::tempdir().unwrap();
    let graph = Graph::build(pipeline(query, EVENTS, dir.path(), true), engine()).unwrap();
    run(
        &graph,
        engine(),
        &RunOptions::default(),
        &AtomicBool::new(false),
    )
    .unwrap();
    concat(&read_parquet(&dir.path().join("out")))
}

fn times(batch: &RecordBatch, name: &str) -> Vec<i64> {
    column::<TimestampMillisecondArray>(batch, name)
        .values()
        .to_vec()
}

fn some<T>(values: Vec<Option<T>>) -> Vec<T> {
    values.into_iter().map(Option::unwrap).collect()
}

#[test]
fn q0_passes_every_bid_through() {
    let out = output("q0");
    assert_eq!(
        column_names(&out),
        ["auction", "bidder", "price", "date_time"]
    );
    let (at, auctions) = (times(&out, "date_time"), some(ints(&out, "auction")));
    let (bidders, prices) = (some(ints(&out, "bidder")), some(ints(&out, "price")));
    let got: Vec<_> = (0..out.num_rows())
        .map(|r| (at[r], auctions[r], bidders[r], prices[r]))
        .collect();
    let expected: Vec<_> = bids().collect();
    assert_eq!(expected.len(), 92_000, "46 of every 50 events are bids");
    assert_eq!(got, expected);
}

#[test]
fn q1_converts_every_price() {
    let out = output("q1");
    assert_eq!(
        column_names(&out),
        ["auction", "bidder", "price", "date_time"]
    );
    let expected: Vec<(i64, i64, f64, i64)> = bids()
        .map(|(time, auction, bidder, price)| (auction, bidder, 0.908 * price as f64, time))
        .collect();
    let (auctions, bidders) = (some(ints(&out, "auction")), some(ints(&out, "bidder")));
    let (prices, at) = (some(floats(&out, "price")), times(&out, "date_time"));
    let got: Vec<(i64, i64, f64, i64)> = (0..out.num_rows())
        .map(|r| (auctions[r], bidders[r], prices[r], at[r]))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn q2_selects_the_bids_on_five_auctions() {
    let out = output("q2");
    assert_eq!(column_names(&out), ["auction", "price"]);
    let wanted = [1007, 1020, 2001, 2019, 2087];
    let expected: Vec<(i64, i64)> = bids()
        .filter(|b| wanted.contains(&b.1))
        .map(|(_, auction, _, price)| (auction, price))
        .collect();
    let auctions: BTreeSet<i64> = expected.iter().map(|e| e.0).collect();
    assert_eq!(auctions.len(), 5, "every listed auction has bids");
    let got: Vec<(i64, i64)> = some(ints(&out, "auction"))
        .into_iter()
        .zip(some(ints(&out, "price")))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn q3_joins_sellers_to_their_auctions() {
    let out = output("q3");
    assert_eq!(column_names(&out), ["name", "city", "state", "auction_id"]);
    let mut people = HashMap::new();
    let mut auctions = Vec::new();
    for (_, e) in events() {
        match e {
            Event::Person {
                id,
                name,
                city,
                state,
                ..
            } if ["OR", "ID", "CA"].contains(&state) => {
                people.insert(id, (name, city.to_string(), state.to_string()));
            }
            Event::Auction {
                id,
                seller,
                category: 10,
                ..
            } => auctions.push((seller, id)),
            _ => {}
        }
    }
    let mut expected: Vec<(String, String, String, i64)> = auctions
        .iter()
        .filter_map(|(seller, id)| {
            let (name, city, state) = people.get(seller)?.clone();
            Some((name, city, state, *id))
        })
        .collect();
    expected.sort();
    assert!(expected.len() > 100, "{} matches", expected.len());
    let (names, cities) = (some(strings(&out, "name")), some(strings(&out, "city")));
    let (states, ids) = (some(strings(&out, "state")), some(ints(&out, "auction_id")));
    let mut got: Vec<_> = (0..out.num_rows())
        .map(|r| {
            (
                names[r].clone(),
                cities[r].clone(),
                states[r].clone(),
                ids[r],
            )
        })
        .collect();
    got.sort();
    assert_eq!(got, expected);
}

#[test]
fn q5_finds_the_hottest_auction_of_every_sliding_window() {
    let out = output("q5");
    assert_eq!(
        column_names(&out),
        ["window_start", "window_end", "auction", "bids"]
    );
    // Windows of 10 s starting every 2 s: bids per auction.
    let mut windows: BTreeMap<i64, BTreeMap<i64, i64>> = BTreeMap::new();
    for (time, auction, _, _) in bids() {
        let mut start = time - time.rem_euclid(2_000);
        while start > time - 10_000 {
            *windows
                .entry(start)
                .or_default()
                .entry(auction)
                .or_default() += 1;
            start -= 2_000;
        }
    }
    let mut expected = BTreeSet::new();
    for (start, counts) in &windows {
        let most = counts.values().max().unwrap();
        for (auction, count) in counts.iter().filter(|(_, c)| *c == most) {
            expected.insert((*start, start + 10_000, *auction, *count));
        }
    }
    assert!(windows.len() >= 50, "{} windows", windows.len());
    let (starts, ends) = (times(&out, "window_start"), times(&out, "window_end"));
    let (auctions, counts) = (some(ints(&out, "auction")), some(ints(&out, "bids")));
    let got: BTreeSet<_> = (0..out.num_rows())
        .map(|r| (starts[r], ends[r], auctions[r], counts[r]))
        .collect();
    assert_eq!(got.len(), out.num_rows(), "no row twice");
    assert_eq!(got, expected);
}

#[test]
fn q7_finds_the_highest_bid_of_every_window() {
    let out = output("q7");
    assert_eq!(
        column_names(&out),
        ["window_start", "window_end", "auction", "bidder", "price"]
    );
    let mut windows: BTreeMap<i64, Vec<(i64, i64, i64)>> = BTreeMap::new();
    for (time, auction, bidder, price) in bids() {
        windows
            .entry(time - time.rem_euclid(10_000))
            .or_default()
            .push((auction, bidder, price));
    }
    let mut expected = BTreeSet::new();
    for (start, bids) in &windows {
        let highest = bids.iter().map(|b| b.2).max().unwrap();
        for (auction, bidder, _) in bids.iter().filter(|b| b.2 == highest) {
            expected.insert((*start, start + 10_000, *auction, *bidder, highest));
        }
    }
    assert_eq!(windows.len(), 10);
    let (starts, ends) = (times(&out, "window_start"), times(&out, "window_end"));
    let (auctions, bidders) = (some(ints(&out, "auction")), some(ints(&out, "bidder")));
    let prices = some(floats(&out, "price"));
    let got: BTreeSet<_> = (0..out.num_rows())
        .map(|r| {
            (
                starts[r],
                ends[r],
                auctions[r],
                bidders[r],
                prices[r] as i64,
            )
        })
        .collect();
    assert_eq!(got.len(), out.num_rows(), "no row twice");
    assert_eq!(got, expected);
}
