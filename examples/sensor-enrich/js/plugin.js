// `sensor-enrich`, in JavaScript: one of three identical versions (Rust,
// Python, JavaScript) of the example in `examples/sensor-enrich`.
//
// Keeps the readings whose `battery` is known and at least `min_battery` and
// appends `value_si` (the value in SI units: temperature °C + 273.15 -> K,
// humidity % / 100 -> 1, pressure hPa × 100 -> Pa) and `unit` (`K`, `1` or
// `Pa`); both are null for another sensor.
//
// Configuration: `{"min_battery": 20}` (the default).
// Build: `weir plugin build examples/sensor-enrich/js`.
import { defineTransform, derived, invalidInput, layout, Field, Float64, Utf8 } from 'weir-sdk';

const SI = {
  temperature: [(v) => v + 273.15, 'K'],
  humidity: [(v) => v / 100.0, '1'],
  pressure: [(v) => v * 100.0, 'Pa'],
};

let minBattery;

export const transform = defineTransform({
  name: 'sensor-enrich-js',
  description: 'Keeps readings with enough battery and adds the value in SI units.',

  open(config, input) {
    minBattery = config.min_battery ?? 20;
    for (const name of ['sensor', 'value', 'battery']) {
      if (!input.fields.some((f) => f.name === name)) {
        throw invalidInput(`the input has no column "${name}"`);
      }
    }
    // Derived mode: the host passes every input column on by itself; the
    // plugin reads three, says which rows to keep and adds two columns.
    this.reads = ['sensor', 'value', 'battery'];
    return layout(input)
      .keepAll()
      .append(new Field('value_si', new Float64(), true))
      .append(new Field('unit', new Utf8(), true));
  },

  process(table) {
    const battery = table.getChild('battery');
    const levels = battery.toArray(); // a Float64Array: loops over it are fast
    const values = table.getChild('value');
    const sensors = table.getChild('sensor');
    const keep = new Uint8Array(table.numRows);
    const valueSi = [];
    const unit = [];
    for (let row = 0; row < table.numRows; row++) {
      if (!(levels[row] >= minBattery && battery.isValid(row))) continue;
      keep[row] = 1;
      const value = values.get(row);
      const convert = value === null ? undefined : SI[sensors.get(row)];
      valueSi.push(convert ? convert[0](value) : null);
      unit.push(convert ? convert[1] : null);
    }
    return derived({ keep, columns: { value_si: valueSi, unit } });
  },
});
