// `{{name}}`: {{description}}
//
// Counts the rows it is given and logs the total at each flush (see the
// run's log). Configuration: none (`{}`).
import { defineSink, log } from 'weir-sdk';

let rows = 0;

export const sink = defineSink({
  name: '{{name}}',
  description: '{{description}}',
  write(table) {
    rows += table.numRows;
  },
  flush() {
    log('info', 'rows written', { rows: String(rows) });
  },
});
