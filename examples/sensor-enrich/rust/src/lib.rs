//! `sensor-enrich`, in Rust: one of three identical versions (Rust, Python,
//! JavaScript) of the example in `examples/sensor-enrich`.
//!
//! Keeps the readings whose `battery` is known and at least `min_battery`,
//! and appends `value_si` (float64: the value in SI units: temperature in
//! °C plus 273.15 gives K, humidity in % over 100 gives 1, pressure in hPa
//! times 100 gives Pa) and `unit` (utf8: `K`, `1` or `Pa`); both are null
//! for another sensor.
//!
//! Configuration: `{"min_battery": 20}` (the default). Reads `sensor`,
//! `value` and `battery`; answers with a selection and two appended
//! columns, so the other columns never cross the boundary.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, SchemaRef};
use weir_sdk::{Error, Layout, Output, Plan, Result, Transform};

/// The example's configuration.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Readings with less battery (or none known) are dropped.
    #[serde(default = "default_min_battery")]
    pub min_battery: f64,
}

fn default_min_battery() -> f64 {
    20.0
}

/// The SI value and unit of a reading of `sensor`.
pub fn to_si(sensor: &str, value: f64) -> Option<(f64, &'static str)> {
    match sensor {
        "temperature" => Some((value + 273.15, "K")),
        "humidity" => Some((value / 100.0, "1")),
        "pressure" => Some((value * 100.0, "Pa")),
        _ => None,
    }
}

/// The opened transform.
pub struct SensorEnrich {
    min_battery: f64,
}

/// Index of column `name` of `input`, which must have type `expected`.
fn column(input: &SchemaRef, name: &str, expected: &DataType) -> Result<usize> {
    let (index, field) = input
        .column_with_name(name)
        .ok_or_else(|| Error::invalid_input(format!("the input has no column {name:?}")))?;
    if field.data_type() != expected {
        return Err(Error::invalid_input(format!(
            "column {name:?} is {}, expected {expected}",
            field.data_type()
        )));
    }
    Ok(index)
}

impl Transform for SensorEnrich {
    type Config = Config;

    fn open(config: Config, input: &SchemaRef) -> Result<(Self, Plan)> {
        let reads = [
            column(input, "sensor", &DataType::Utf8)?,
            column(input, "value", &DataType::Float64)?,
            column(input, "battery", &DataType::Float64)?,
        ];
        let layout = Layout::all(input)
            .append(Field::new("value_si", DataType::Float64, true))
            .append(Field::new("unit", DataType::Utf8, true));
        let plan = Plan::derived(layout).reading(reads);
        Ok((
            SensorEnrich {
                min_battery: config.min_battery,
            },
            plan,
        ))
    }

    fn process(&mut self, batch: RecordBatch) -> Result<Output> {
        let typed = |i: usize| batch.column(i).as_any();
        let sensor = typed(0).downcast_ref::<StringArray>().expect("utf8");
        let value = typed(1).downcast_ref::<Float64Array>().expect("float64");
        let battery = typed(2).downcast_ref::<Float64Array>().expect("float64");
        let keep: BooleanArray = (0..batch.num_rows())
            .map(|r| Some(battery.is_valid(r) && battery.value(r) >= self.min_battery))
            .collect();
        let kept = (0..batch.num_rows()).filter(|&r| keep.value(r));
        let si: Vec<Option<(f64, &str)>> = kept
            .map(|r| match sensor.is_valid(r) && value.is_valid(r) {
                true => to_si(sensor.value(r), value.value(r)),
                false => None,
            })
            .collect();
        let value_si: ArrayRef =
            Arc::new(si.iter().map(|s| s.map(|s| s.0)).collect::<Float64Array>());
        let unit: ArrayRef = Arc::new(si.iter().map(|s| s.map(|s| s.1)).collect::<StringArray>());
        Ok(Output::select(&keep).with_appended(vec![value_si, unit]))
    }
}

weir_sdk::export_transform!(SensorEnrich);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn si_units_of_each_sensor() {
        assert_eq!(to_si("temperature", 20.0), Some((293.15, "K")));
        assert_eq!(to_si("humidity", 50.0), Some((0.5, "1")));
        assert_eq!(to_si("pressure", 1013.0), Some((101300.0, "Pa")));
        assert_eq!(to_si("wind", 1.0), None);
    }
}
