//! `generate`: a source of synthetic, deterministic data.
//!
//! Every row is a pure function of the seed and its row number, so the same
//! configuration always yields the same data, and a restored position
//! continues exactly where it stopped.
//!
//! Configuration:
//!
//! | field | meaning | default |
//! | --- | --- | --- |
//! | `dataset` | `clickstream` (user activity events), `iot` (sensor readings) or `nexmark` (the Nexmark benchmark's people, auctions and bids: see [`nexmark`]) | `clickstream` |
//! | `rows` | stop after this many rows; absent: unbounded | absent |
//! | `rate` | at most this many rows per second (wall clock), in batches of 100 ms worth of rows; absent: as fast as asked | absent |
//! | `seed` | the random seed | `42` |
//! | `start_ms` | event time of row 0, milliseconds since the Unix epoch | `1795564800000` (2026-11-25T00:00:00Z) |
//! | `step_ms` | event time between consecutive rows | `100` |
//! | `users` / `devices` | how many distinct users (clickstream) or devices (iot) | `1000` / `100` |
//! | `fault_rate` | share of iot readings that are faults: far outside the sensor's range | `0` |
//!
//! Example: `{"dataset": "iot", "rows": 1000000, "seed": 7}`.
//!
//! Columns, and the values a predicate can match:
//!
//! - `clickstream`: `event_time` (timestamp, UTC), `user_id` (int64),
//!   `session_id` (string), `page` (`/`, `/search`, `/product/1`,
//!   `/product/2`, `/product/3`, `/cart`, `/checkout`, `/help`), `action`
//!   (`view`, `click`, `add_to_cart`, `purchase`), `price` (float64, set on
//!   `purchase`, else null), `country` (`DE`, `FR`, `US`, `GB`, `JP`,
//!   `BR`), `referrer` (`google`, `newsletter`, `partner`, or null).
//! - `iot`: `event_time`, `device_id` (string), `sensor` (`temperature`,
//!   `humidity`, `pressure`), `value` (float64), `battery` (float64, may be
//!   null).
//! - `nexmark`: see [`nexmark`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::{
    Float64Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::Deserialize;
use weir_sdk::{Error, Poll, Result, Source, SourcePlan};

pub mod nexmark;

/// The generator's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Which data set.
    #[serde(default)]
    pub dataset: Dataset,
    /// Total rows; `None` for unbounded.
    pub rows: Option<u64>,
    /// Rows per second; `None` for unlimited.
    pub rate: Option<f64>,
    /// Random seed.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Event time of row 0 (ms since the epoch).
    #[serde(default = "default_start")]
    pub start_ms: i64,
    /// Event time step between rows (ms).
    #[serde(default = "default_step")]
    pub step_ms: i64,
    /// Distinct users (clickstream).
    #[serde(default = "default_users")]
    pub users: u64,
    /// Distinct devices (iot).
    #[serde(default = "default_devices")]
    pub devices: u64,
    /// Share of iot readings that are faults (0 to 1).
    #[serde(default)]
    pub fault_rate: f64,
}

fn default_seed() -> u64 {
    42
}
/// The event time of row 0 unless `start_ms` says otherwise:
/// 2026-11-25T00:00:00Z.
pub const DEFAULT_START_MS: i64 = 1_795_564_800_000;

fn default_start() -> i64 {
    DEFAULT_START_MS
}
fn default_step() -> i64 {
    100
}
fn default_users() -> u64 {
    1000
}
fn default_devices() -> u64 {
    100
}

/// The data sets.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dataset {
    /// Web shop user activity: views, clicks, carts, purchases.
    #[default]
    Clickstream,
    /// Sensor readings from devices.
    Iot,
    /// The Nexmark auction stream (one flat schema for its three kinds).
    Nexmark,
}

const PAGES: [&str; 8] = [
    "/",
    "/search",
    "/product/1",
    "/product/2",
    "/product/3",
    "/cart",
    "/checkout",
    "/help",
];
const ACTIONS: [&str; 4] = ["view", "click", "add_to_cart", "purchase"];
const COUNTRIES: [&str; 6] = ["DE", "FR", "US", "GB", "JP", "BR"];
const REFERRERS: [&str; 3] = ["google", "newsletter", "partner"];
const SENSORS: [&str; 3] = ["temperature", "humidity", "pressure"];

/// SplitMix64: a tiny, well-mixed hash of (seed, row, stream).
fn mix(seed: u64, row: u64, stream: u64) -> u64 {
    let mut z =
        seed ^ row.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(seed: u64, row: u64, stream: u64) -> f64 {
    (mix(seed, row, stream) >> 11) as f64 / (1u64 << 53) as f64
}

/// The schema of a data set.
pub fn schema(dataset: Dataset) -> SchemaRef {
    let time = Field::new(
        "event_time",
        DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
        false,
    );
    Arc::new(Schema::new(match dataset {
        Dataset::Clickstream => vec![
            time,
            Field::new("user_id", DataType::Int64, false),
            Field::new("session_id", DataType::Utf8, false),
            Field::new("page", DataType::Utf8, false),
            Field::new("action", DataType::Utf8, false),
            Field::new("price", DataType::Float64, true),
            Field::new("country", DataType::Utf8, false),
            Field::new("referrer", DataType::Utf8, true),
        ],
        Dataset::Iot => vec![
            time,
            Field::new("device_id", DataType::Utf8, false),
            Field::new("sensor", DataType::Utf8, false),
            Field::new("value", DataType::Float64, false),
            Field::new("battery", DataType::Float64, true),
        ],
        Dataset::Nexmark => return nexmark::schema(),
    }))
}

/// With a `rate`: the time whose rows make one batch.
const RATE_BATCH: Duration = Duration::from_millis(100);

/// Generates rows `first..first + count` of the configured data set.
pub fn rows(config: &Config, first: u64, count: usize) -> Result<RecordBatch> {
    let seed = config.seed;
    let mut time = TimestampMillisecondBuilder::with_capacity(count).with_timezone("+00:00");
    let columns: Vec<ArrayRef> = match config.dataset {
        Dataset::Clickstream => {
            let (mut user, mut session) =
                (Int64Builder::with_capacity(count), StringBuilder::new());
            let (mut page, mut action, mut price) = (
                StringBuilder::new(),
                StringBuilder::new(),
                Float64Builder::new(),
            );
            let (mut country, mut referrer) = (StringBuilder::new(), StringBuilder::new());
            for row in first..first + count as u64 {
                time.append_value(config.start_ms + row as i64 * config.step_ms);
                let user_id = mix(seed, row, 1) % config.users.max(1);
                user.append_value(user_id as i64);
                // A session lasts about 64 events of a user.
                session.append_value(format!("s{user_id}-{}", row / 64));
                page.append_value(PAGES[(mix(seed, row, 2) % PAGES.len() as u64) as usize]);
                let a = match unit(seed, row, 3) {
                    x if x < 0.70 => 0,
                    x if x < 0.90 => 1,
                    x if x < 0.97 => 2,
                    _ => 3,
                };
                action.append_value(ACTIONS[a]);
                match a {
                    3 => price.append_value((unit(seed, row, 4) * 20000.0).round() / 100.0),
                    _ => price.append_null(),
                }
                country.append_value(
                    COUNTRIES[(mix(seed, user_id, 5) % COUNTRIES.len() as u64) as usize],
                );
                match mix(seed, row, 6) % 4 {
                    3 => referrer.append_null(),
                    r => referrer.append_value(REFERRERS[r as usize]),
                }
            }
            vec![
                Arc::new(time.finish()),
                Arc::new(user.finish()),
                Arc::new(session.finish()),
                Arc::new(page.finish()),
                Arc::new(action.finish()),
                Arc::new(price.finish()),
                Arc::new(country.finish()),
                Arc::new(referrer.finish()),
            ]
        }
        Dataset::Iot => {
            let (mut device, mut sensor) = (StringBuilder::new(), StringBuilder::new());
            let (mut value, mut battery) = (
                Float64Builder::with_capacity(count),
                Float64Builder::with_capacity(count),
            );
            for row in first..first + count as u64 {
                time.append_value(config.start_ms + row as i64 * config.step_ms);
                let d = mix(seed, row, 1) % config.devices.max(1);
                device.append_value(format!("device-{d:04}"));
                let s = (mix(seed, row, 2) % SENSORS.len() as u64) as usize;
                sensor.append_value(SENSORS[s]);
                let base = [20.0, 50.0, 1013.0][s];
                let spread = [10.0, 30.0, 20.0][s];
                // A fault lands 3 to 5 spreads away from the base.
                let offset = match unit(seed, row, 5) < config.fault_rate {
                    true => {
                        (3.0 + 2.0 * unit(seed, row, 6)) * if row % 2 == 0 { 1.0 } else { -1.0 }
                    }
                    false => unit(seed, row, 3) - 0.5,
                };
                value.append_value(((base + offset * spread) * 100.0).round() / 100.0);
                match unit(seed, row, 4) {
                    x if x < 0.05 => battery.append_null(),
                    _ => battery.append_value(
                        (100.0 - (row % 10_000) as f64 / 100.0 - (d % 10) as f64).max(0.0),
                    ),
                }
            }
            vec![
                Arc::new(time.finish()),
                Arc::new(device.finish()),
                Arc::new(sensor.finish()),
                Arc::new(value.finish()),
                Arc::new(battery.finish()),
            ]
        }
        Dataset::Nexmark => {
            let events = nexmark::rows(seed, config.start_ms, config.step_ms, first, count);
            return Ok(events);
        }
    };
    Ok(RecordBatch::try_new(schema(config.dataset), columns)?)
}

/// The running generator.
pub struct Generate {
    config: Config,
    next_row: u64,
    started: Option<Instant>,
    emitted_since_start: u64,
}

impl Source for Generate {
    type Config = Config;

    fn open(config: Config) -> Result<(Self, SourcePlan)> {
        if let Some(rate) = config.rate
            && !(rate > 0.0 && rate.is_finite())
        {
            return Err(Error::invalid_config(format!(
                "field \"rate\": must be a positive number of rows per second, got {rate}"
            )));
        }
        if !(0.0..=1.0).contains(&config.fault_rate) {
            return Err(Error::invalid_config(format!(
                "field \"fault_rate\": must be between 0 and 1, got {}",
                config.fault_rate
            )));
        }
        if config.step_ms < 0 {
            return Err(Error::invalid_config(
                "field \"step_ms\": must not be negative",
            ));
        }
        let schema = schema(config.dataset);
        let generator = Generate {
            config,
            next_row: 0,
            started: None,
            emitted_since_start: 0,
        };
        Ok((generator, SourcePlan::new(schema)))
    }

    fn next(&mut self, max_rows: usize) -> Result<Poll> {
        let remaining = self
            .config
            .rows
            .map_or(u64::MAX, |total| total.saturating_sub(self.next_row));
        if remaining == 0 {
            return Ok(Poll::Done);
        }
        let mut count = remaining.min(max_rows.max(1) as u64);
        if let Some(rate) = self.config.rate {
            let started = *self.started.get_or_insert_with(Instant::now);
            let allowed = (started.elapsed().as_secs_f64() * rate) as u64 + 1;
            // Rows come in batches of what RATE_BATCH allows (or what was
            // asked for), not a call per row as soon as it is due.
            let batch = count.min(((rate * RATE_BATCH.as_secs_f64()).ceil() as u64).max(1));
            if self.emitted_since_start + batch > allowed {
                let due = (self.emitted_since_start + batch - 1) as f64 / rate;
                let wait = Duration::from_secs_f64(due).saturating_sub(started.elapsed());
                return Ok(Poll::Wait(wait.max(Duration::from_millis(1))));
            }
            count = count.min(allowed - self.emitted_since_start);
        }
        let batch = rows(&self.config, self.next_row, count as usize)?;
        self.next_row += count;
        self.emitted_since_start += count;
        Ok(Poll::Batch(batch))
    }

    fn snapshot(&self) -> Result<Option<Vec<u8>>> {
        Ok(Some(self.next_row.to_le_bytes().to_vec()))
    }

    fn restore(&mut self, state: &[u8]) -> Result<()> {
        let bytes: [u8; 8] = state.try_into().map_err(|_| {
            Error::invalid_state(format!(
                "expected an 8-byte row position, got {} bytes",
                state.len()
            ))
        })?;
        self.next_row = u64::from_le_bytes(bytes);
        Ok(())
    }
}

weir_sdk::export_source!(Generate);

#[cfg(test)]
mod tests {
    use super::*;

    /// The module docs list every value a predicate can match (they are
    /// the plugin's reference page).
    #[test]
    fn the_docs_list_every_value_of_the_data_sets() {
        let docs: String = include_str!("lib.rs")
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect();
        for value in PAGES
            .iter()
            .chain(&ACTIONS)
            .chain(&COUNTRIES)
            .chain(&REFERRERS)
            .chain(&SENSORS)
        {
            assert!(
                docs.contains(&format!("`{value}`")),
                "{value} is not in the docs"
            );
        }
    }

    fn config(dataset: Dataset) -> Config {
        weir_sdk::config::parse(&format!(
            "{{\"dataset\": \"{}\"}}",
            if dataset == Dataset::Iot {
                "iot"
            } else {
                "clickstream"
            }
        ))
        .unwrap()
    }

    #[test]
    fn rows_depend_only_on_seed_and_position() {
        for dataset in [Dataset::Clickstream, Dataset::Iot] {
            let c = config(dataset);
            let whole = rows(&c, 0, 100).unwrap();
            let tail = rows(&c, 60, 40).unwrap();
            assert_eq!(whole.slice(60, 40), tail);
            let other = Config {
                seed: 1,
                ..c.clone()
            };
            assert_ne!(rows(&other, 0, 100).unwrap(), whole);
        }
    }
}
