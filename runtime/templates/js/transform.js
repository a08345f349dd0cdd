// `{{name}}`: {{description}}
//
// Appends `name_upper`: the `name` column in upper case.
// Configuration: `{"column": "name"}` (the default).
import { batchFromColumns, defineTransform, invalidConfig, Field, Schema, Utf8 } from 'weir-sdk';

let column;
let output;

export const transform = defineTransform({
  name: '{{name}}',
  description: '{{description}}',

  open(config, input) {
    column = config.column ?? 'name';
    const field = input.fields.find((f) => f.name === column);
    if (!field) throw invalidConfig(`column: the input has no column "${column}"`);
    if (!(field.type instanceof Utf8)) throw invalidConfig(`column: "${column}" is not utf8`);
    output = new Schema([...input.fields, new Field(`${column}_upper`, new Utf8(), true)]);
    return output;
  },

  process(table) {
    const columns = {};
    for (const field of table.schema.fields) columns[field.name] = Array.from(table.getChild(field.name));
    const names = columns[column];
    columns[`${column}_upper`] = Array.from(names, (n) => (n === null ? null : n.toUpperCase()));
    return batchFromColumns(output, columns);
  },
});
