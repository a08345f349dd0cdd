// Test fixture: reads its columns in another order than the input's,
// rejects the rows whose id ends in 3 (the others go on), and with config
// {"fail": "process"} throws a RangeError in process, {"fail": "open"} a
// TypeError in open.
import { batchFromColumns, defineTransform, Schema } from 'weir-sdk';

let output;
let fail;

export const transform = defineTransform({
  name: 'test-js-picky',
  description: 'rejects single rows; throws when asked',

  open(config, input) {
    fail = config.fail;
    if (fail === 'open') config.missing.key;
    this.reads = ['name', 'id'];
    output = new Schema(['id', 'name'].map((name) => input.fields.find((f) => f.name === name)));
    return output;
  },

  process(table, reject) {
    if (fail === 'process') throw new RangeError('seven is bad luck');
    const ids = Array.from(table.getChild('id'));
    const names = Array.from(table.getChild('name'));
    const columns = { id: [], name: [] };
    ids.forEach((id, row) => {
      if (id !== null && BigInt(id) % 10n === 3n) {
        reject(row, `id ${id} ends in 3`);
      } else {
        columns.id.push(id);
        columns.name.push(names[row]);
      }
    });
    return batchFromColumns(output, columns);
  },
});
