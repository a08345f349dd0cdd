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
import {
  defineTransform, invalidInput, Field, Float64, Utf8, Schema, RecordBatch, Struct,
  makeData, vectorFromArray,
} from 'weir-sdk';

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
    const kept = [];
    for (let row = 0; row < table.numRows; row++) {
      const b = battery.get(row);
      if (b !== null && b >= minBattery) kept.push(row);
    }
    const columns = table.schema.fields.map((field) => {
      const column = table.getChild(field.name);
      return vectorFromArray(kept.map((row) => column.get(row)), field.type);
    });
    const sensor = table.getChild('sensor');
    const value = table.getChild('value');
    const si = kept.map((row) => {
      const convert = SI[sensor.get(row)];
      const v = value.get(row);
      return convert && v !== null ? [convert[0](v), convert[1]] : [null, null];
    });
    columns.push(vectorFromArray(si.map((s) => s[0]), new Float64()));
    columns.push(vectorFromArray(si.map((s) => s[1]), new Utf8()));
    const data = makeData({
      type: new Struct(output.fields),
      length: kept.length,
      nullCount: 0,
      children: columns.map((c) => c.data[0]),
    });
    return new RecordBatch(output, data);
  },
});
