//! The `sensor-enrich` plugin.

use super::*;
use arrow::array::{Float64Array, StringArray};

#[test]
fn keeps_readings_with_battery_and_appends_si_values() {
    let readings = RecordBatch::try_from_iter([
        (
            "sensor",
            Arc::new(StringArray::from(vec![
                "temperature",
                "humidity",
                "pressure",
                "wind",
                "temperature",
            ])) as _,
        ),
        (
            "value",
            Arc::new(Float64Array::from(vec![20.0, 50.0, 1013.0, 3.0, 25.0])) as _,
        ),
        (
            "battery",
            Arc::new(Float64Array::from(vec![
                Some(90.0),
                Some(20.0),
                Some(55.5),
                Some(80.0),
                None,
            ])) as _,
        ),
    ])
    .unwrap();
    let mut t = transform(
        weir_plugin_artifacts::SENSOR_ENRICH,
        r#"{"min_battery": 20}"#,
        &readings,
    )
    .unwrap();
    let out = run(&mut t, &readings);
    assert_eq!(
        strings(&out, "sensor"),
        ["temperature", "humidity", "pressure", "wind"].map(|s| Some(s.to_string())),
        "the reading without a battery level is dropped"
    );
    assert_eq!(
        floats(&out, "value_si"),
        [Some(293.15), Some(0.5), Some(101300.0), None]
    );
    assert_eq!(
        strings(&out, "unit"),
        [
            Some("K".to_string()),
            Some("1".into()),
            Some("Pa".into()),
            None
        ]
    );
    let empty = readings.slice(0, 0);
    assert_eq!(run(&mut t, &empty).num_rows(), 0);
    let err = transform(weir_plugin_artifacts::SENSOR_ENRICH, "{}", &mixed_batch())
        .err()
        .expect("an input without the columns is refused");
    assert!(err.to_string().contains("sensor"), "{err}");
}
