"""``sensor-enrich``, in Python: one of three identical versions (Rust,
Python, JavaScript) of the example in ``examples/sensor-enrich``.

Keeps the readings whose ``battery`` is known and at least ``min_battery``
and appends ``value_si`` (the value in SI units: temperature °C + 273.15 →
K, humidity % / 100 → 1, pressure hPa × 100 → Pa) and ``unit`` (``K``,
``1`` or ``Pa``); both are null for another sensor.

Configuration: ``{"min_battery": 20}`` (the default).
Build: ``weir plugin build examples/sensor-enrich/python``.
"""

import weir_sdk
from weir_sdk import FLOAT64, UTF8, Field

SI = {
    "temperature": (lambda v: v + 273.15, "K"),
    "humidity": (lambda v: v / 100.0, "1"),
    "pressure": (lambda v: v * 100.0, "Pa"),
}


class SensorEnrich(weir_sdk.Transform):
    name = "sensor-enrich-python"
    description = "Keeps readings with enough battery and adds the value in SI units."

    def open(self, config, input_schema):
        self.min_battery = float(config.get("min_battery", 20))
        for name, expected in (("sensor", UTF8), ("value", FLOAT64), ("battery", FLOAT64)):
            if name not in input_schema.names:
                raise weir_sdk.InvalidInput(f"the input has no column {name!r}")
            if input_schema.field(name).type != expected:
                raise weir_sdk.InvalidInput(f"column {name!r} is not {expected}")
        # Derived mode: the host passes every input column on by itself; the
        # plugin reads three, says which rows to keep and adds two columns.
        self.reads = ["sensor", "value", "battery"]
        layout = weir_sdk.Layout(input_schema).keep_all()
        return layout.append(Field("value_si", FLOAT64)).append(Field("unit", UTF8))

    def process(self, batch):
        keep = [b is not None and b >= self.min_battery for b in batch.column("battery")]
        value_si, unit = [], []
        for sensor, value, kept in zip(batch.column("sensor"), batch.column("value"), keep):
            if kept:
                convert = SI.get(sensor) if value is not None else None
                value_si.append(convert[0](value) if convert else None)
                unit.append(convert[1] if convert else None)
        return weir_sdk.Derived(keep=keep, columns={"value_si": value_si, "unit": unit})


Transform = weir_sdk.export_transform(SensorEnrich)
