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
import { batchFromColumns, defineTransform, invalidInput, Field, Float64, Utf8, Schema } from 'weir-sdk';

const SI = {
  temperature: [(v) => v + 273.15, 'K'],
  humidity: [(v) => v / 100.0, '1'],
  pressure: [(v) => v * 100.0, 'Pa'],
};

let minBattery;
let output;

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
    output = new Schema([
      ...input.fields,
      new Field('value_si', new Float64(), true),
      new Field('unit', new Utf8(), true),
    ]);
    return output;
  },

  process(table) {
    const battery = table.getChild('battery');
    const levels = battery.toArray(); // a Float64Array: loops over it are fast
    const kept = [];
    for (let row = 0; row < table.numRows; row++) {
      if (levels[row] >= minBattery && battery.isValid(row)) kept.push(row);
    }
    const columns = {};
    for (const field of table.schema.fields) {
      const all = Array.from(table.getChild(field.name));
      columns[field.name] = kept.map((row) => all[row]);
    }
    const si = columns.sensor.map((sensor, i) => (columns.value[i] === null ? undefined : SI[sensor]));
    columns.value_si = si.map((convert, i) => (convert ? convert[0](columns.value[i]) : null));
    columns.unit = si.map((convert) => (convert ? convert[1] : null));
    return batchFromColumns(output, columns);
  },
});
