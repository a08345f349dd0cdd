//! `anomaly`: flags readings that lie far from the running mean of their
//! key (a device, a device and sensor, ...), by z-score.
//!
//! Configuration:
//!
//! | field | meaning | default |
//! | --- | --- | --- |
//! | `keys` | columns that identify a series (utf8, integer or bool) | required |
//! | `value` | the numeric column to watch | required |
//! | `threshold` | flag a reading when \|z\| exceeds this | `3.0` |
//! | `min_samples` | readings of a series seen before it can flag | `30` |
//!
//! Example: `{"keys": ["device_id", "sensor"], "value": "value", "threshold": 4}`.
//!
//! Two columns are appended: `zscore` (float64; null while a series has
//! fewer than `min_samples` readings, or for a null value) and `anomaly`
//! (bool). A value that is NaN or infinite is always flagged (with a null
//! `zscore`). A reading is scored against the mean and standard deviation of
//! the readings *before* it, so a spike cannot hide itself; flagged readings
//! are left out of their series' statistics (Welford's algorithm) so one
//! fault does not widen the band for the next. The statistics are the
//! plugin's state: `snapshot`/`restore` carry them across restarts and hot
//! reloads. Only the key and value columns cross into the plugin.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, Field, SchemaRef};
use serde::Deserialize;
use weir_sdk::{Error, Layout, Output, Plan, Result, Transform};

/// The configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Columns that identify a series.
    pub keys: Vec<String>,
    /// The column to watch.
    pub value: String,
    /// The |z| above which a reading is flagged.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Readings of a series needed before it can flag.
    #[serde(default = "default_min_samples")]
    pub min_samples: u64,
}

fn default_threshold() -> f64 {
    3.0
}

fn default_min_samples() -> u64 {
    30
}

/// Running mean and variance of one series (Welford).
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    count: u64,
    mean: f64,
    /// Sum of squared differences from the mean.
    m2: f64,
}

impl Stats {
    fn add(&mut self, x: f64) {
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
    }

    fn zscore(&self, x: f64) -> f64 {
        let std = (self.m2 / (self.count - 1) as f64).sqrt();
        match std {
            0.0 => match x == self.mean {
                true => 0.0,
                false => f64::INFINITY.copysign(x - self.mean),
            },
            std => (x - self.mean) / std,
        }
    }
}

/// The running transform.
pub struct Anomaly {
    threshold: f64,
    min_samples: u64,
    /// Positions of the key columns and the value column in received batches.
    keys: Vec<usize>,
    value: usize,
    series: HashMap<String, Stats>,
}

impl Transform for Anomaly {
    type Config = Config;

    fn open(config: Config, input: &SchemaRef) -> Result<(Self, Plan)> {
        if config.keys.is_empty() {
            return Err(Error::invalid_config(
                "field \"keys\": list at least one column",
            ));
        }
        if config.threshold.is_nan() || config.threshold <= 0.0 {
            return Err(Error::invalid_config(
                "field \"threshold\": must be a positive number",
            ));
        }
        let mut reads = Vec::new();
        for (n, key) in config.keys.iter().enumerate() {
            let index = weir_sdk::config::column(input, key, &format!("keys[{n}]"))?;
            let data_type = input.field(index).data_type();
            if !(data_type.is_integer() || matches!(data_type, DataType::Utf8 | DataType::Boolean))
            {
                return Err(Error::invalid_config(format!(
                    "field \"keys[{n}]\": column {key:?} is {data_type}; keys are utf8, integer or bool"
                )));
            }
            reads.push(index);
        }
        let value = weir_sdk::config::column(input, &config.value, "value")?;
        if !input.field(value).data_type().is_numeric() {
            return Err(Error::invalid_config(format!(
                "field \"value\": column {:?} is {}; it must be numeric",
                config.value,
                input.field(value).data_type()
            )));
        }
        reads.push(value);
        let layout = Layout::all(input)
            .append(Field::new("zscore", DataType::Float64, true))
            .append(Field::new("anomaly", DataType::Boolean, false));
        let anomaly = Anomaly {
            threshold: config.threshold,
            min_samples: config.min_samples.max(2),
            keys: (0..config.keys.len()).collect(),
            value: config.keys.len(),
            series: HashMap::new(),
        };
        Ok((anomaly, Plan::derived(layout).reading(reads)))
    }

    fn process(&mut self, batch: RecordBatch) -> Result<Output> {
        let values = arrow_cast::cast(batch.column(self.value), &DataType::Float64)?;
        let values = values
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("cast to float64");
        let options = FormatOptions::default();
        let keys = self
            .keys
            .iter()
            .map(|&k| ArrayFormatter::try_new(batch.column(k).as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut zscores = Vec::with_capacity(batch.num_rows());
        let mut flags = Vec::with_capacity(batch.num_rows());
        let mut key = String::new();
        for row in 0..batch.num_rows() {
            if values.is_null(row) {
                zscores.push(None);
                flags.push(false);
                continue;
            }
            key.clear();
            for (k, formatter) in keys.iter().enumerate() {
                // Null keys form their own series, distinct from "null" text.
                match batch.column(self.keys[k]).is_null(row) {
                    true => key.push('\u{0}'),
                    false => key.push_str(&formatter.value(row).to_string()),
                }
                key.push('\u{1f}');
            }
            let x = values.value(row);
            let stats = self.series.entry(key.clone()).or_default();
            if !x.is_finite() {
                // NaN or infinity from a sensor is a fault, and would
                // poison the series' statistics.
                zscores.push(None);
                flags.push(true);
                continue;
            }
            let z = (stats.count >= self.min_samples).then(|| stats.zscore(x));
            let flagged = z.is_some_and(|z| z.abs() > self.threshold);
            if !flagged {
                stats.add(x);
            }
            zscores.push(z);
            flags.push(flagged);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(zscores)),
            Arc::new(BooleanArray::from(flags)),
        ];
        Ok(Output::keep_all().with_appended(columns))
    }

    /// Series as `[key, count, mean bits, m2 bits]`: floats travel as their
    /// bits so a restored instance scores exactly as the old one would.
    fn snapshot(&self) -> Result<Option<Vec<u8>>> {
        let series: Vec<_> = self
            .series
            .iter()
            .map(|(key, s)| (key, s.count, s.mean.to_bits(), s.m2.to_bits()))
            .collect();
        let state = serde_json::to_vec(&series)
            .map_err(|e| Error::internal(format!("series state: {e}")))?;
        Ok(Some(state))
    }

    fn restore(&mut self, state: &[u8]) -> Result<()> {
        let series: Vec<(String, u64, u64, u64)> = serde_json::from_slice(state)
            .map_err(|e| Error::invalid_state(format!("series state: {e}")))?;
        self.series = series
            .into_iter()
            .map(|(key, count, mean, m2)| {
                let (mean, m2) = (f64::from_bits(mean), f64::from_bits(m2));
                (key, Stats { count, mean, m2 })
            })
            .collect();
        Ok(())
    }
}

weir_sdk::export_transform!(Anomaly);
