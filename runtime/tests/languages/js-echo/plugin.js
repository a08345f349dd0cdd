// Test fixture: decodes every batch with apache-arrow (through the SDK) and
// encodes it again, so a pipeline checks the JavaScript round trip.
import { defineTransform } from 'weir-sdk';

export const transform = defineTransform({
  name: 'test-js-echo',
  description: 'decodes every batch with the SDK and encodes it again',
  process: (table) => table,
});
