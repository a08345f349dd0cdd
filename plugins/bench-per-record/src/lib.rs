//! Benchmark baseline: the same filter and projection as the `filter`
//! benchmark, and Nexmark q1 and q2, in the per-record model (one call per
//! JSON record).
#![allow(missing_docs)]
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::cell::RefCell;

use serde_json::{Map, Value};

wit_bindgen::generate!({
    world: "per-record",
    path: "wit",
});

thread_local! {
    static CONFIG: RefCell<(i64, Vec<String>)> = const { RefCell::new((0, Vec::new())) };
}

struct PerRecord;

impl Guest for PerRecord {
    fn configure(threshold: i64, columns: Vec<String>) {
        CONFIG.with_borrow_mut(|c| *c = (threshold, columns));
    }

    fn filter_record(json: String) -> Option<String> {
        let Value::Object(record) = serde_json::from_str::<Value>(&json).ok()? else {
            return None;
        };
        CONFIG.with_borrow(|(threshold, columns)| {
            let id = record.get("id").and_then(Value::as_i64)?;
            if id <= *threshold {
                return None;
            }
            let projected: Map<String, Value> = columns
                .iter()
                .filter_map(|c| record.get(c).map(|v| (c.clone(), v.clone())))
                .collect();
            serde_json::to_string(&projected).ok()
        })
    }

    fn nexmark_record(query: u8, json: String) -> Option<String> {
        let Value::Object(event) = serde_json::from_str::<Value>(&json).ok()? else {
            return None;
        };
        if event.get("event_type")?.as_str()? != "bid" {
            return None;
        }
        let field = |name: &str| event.get(name).cloned().unwrap_or(Value::Null);
        let out = match query {
            1 => {
                let price = 0.908 * event.get("price")?.as_i64()? as f64;
                serde_json::json!({"auction": field("auction"), "bidder": field("bidder"),
                    "price": price, "date_time": field("date_time")})
            }
            2 => {
                let auction = event.get("auction")?.as_i64()?;
                if ![1007, 1020, 2001, 2019, 2087].contains(&auction) {
                    return None;
                }
                serde_json::json!({"auction": auction, "price": field("price")})
            }
            _ => return None,
        };
        serde_json::to_string(&out).ok()
    }
}

#[cfg(target_arch = "wasm32")]
export!(PerRecord);
