// `{{name}}`: {{description}}
//
// Produces `rows` rows (`id`: int64, `name`: utf8 `row-ID`), then ends.
// Configuration: `{"rows": 10}` (the default).
import { batchFromColumns, defineSource, invalidConfig, Field, Int64, Schema, Utf8 } from 'weir-sdk';

let rows;
let nextId = 0;
let schema;

export const source = defineSource({
  name: '{{name}}',
  description: '{{description}}',

  open(config) {
    rows = config.rows ?? 10;
    if (rows < 0) throw invalidConfig('rows: must not be negative');
    schema = new Schema([new Field('id', new Int64(), false), new Field('name', new Utf8(), false)]);
    return schema;
  },

  next(maxRows) {
    const end = Math.min(rows, nextId + maxRows);
    if (nextId >= end) return undefined;
    const ids = [];
    for (let id = nextId; id < end; id++) ids.push(id);
    nextId = end;
    return batchFromColumns(schema, {
      id: ids.map(BigInt),
      name: ids.map((id) => `row-${id}`),
    });
  },

  snapshot() {
    return new TextEncoder().encode(String(nextId));
  },

  restore(state) {
    nextId = Number(new TextDecoder().decode(state));
  },
});
