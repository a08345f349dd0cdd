// Test fixture: logs when it is opened (console.log) and for every batch
// (console.error), and passes batches on unchanged, so a test can see what
// a JavaScript plugin prints and count how often a pipeline opens it.
import { defineTransform } from 'weir-sdk';

export const transform = defineTransform({
  name: 'test-js-opens',
  description: "logs 'opened' in open and a line per batch",
  open: (config, inputSchema) => {
    console.log('opened');
    return inputSchema;
  },
  process: (table) => {
    console.error(`batch of ${table.numRows} rows`);
    return table;
  },
});
