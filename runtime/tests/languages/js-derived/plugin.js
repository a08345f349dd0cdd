// Test fixture, derived mode: reads only `id`, passes `name` on as `label`
// and `id` as it is, appends `double` (2 * id) between them, keeps the even
// ids and rejects those ending in 3. With config {"fail": "lengths"} it
// answers one value too many for `double`. With {"from": N} it keeps only
// ids from N on and states so (`bounds` on `bounds_column`, default `id`).
import { between, defineTransform, derived, layout, Field, Int64 } from 'weir-sdk';

let fail;
let start = 0n;

export const transform = defineTransform({
  name: 'test-js-derived',
  description: 'keeps even ids, appends their double',

  open(config, input) {
    fail = config.fail;
    this.reads = ['id'];
    if (config.from !== undefined) {
      start = BigInt(config.from);
      this.bounds = { [config.bounds_column ?? 'id']: between(config.from) };
    }
    return layout(input).rename('name', 'label').append(new Field('double', new Int64(), true)).keep('id');
  },

  process(table, reject) {
    const ids = table.getChild('id').toArray(); // a BigInt64Array
    const keep = new Uint8Array(table.numRows);
    const double = [];
    ids.forEach((id, row) => {
      if (id % 10n === 3n) reject(row, `id ${id} ends in 3`);
      if (id % 2n === 0n && id >= start) {
        keep[row] = 1;
        double.push(2n * id);
      }
    });
    if (fail === 'lengths') double.push(0n);
    return derived({ keep, columns: { double } });
  },
});
