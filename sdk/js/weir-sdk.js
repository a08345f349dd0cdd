// Weir's JavaScript SDK: write Weir plugins in JavaScript over the
// `apache-arrow` package, built into WebAssembly components with
// componentize-js (`weir plugin build DIR`).
//
// Authors never see IPC bytes or the WIT bindings: a transform gets an
// apache-arrow `Table` (one record batch) and returns tables. A complete
// transform, the `plugin.js` of a plugin:
//
//     import { defineTransform, Field, Float64 } from 'weir-sdk';
//
//     export const transform = defineTransform({
//       name: 'fahrenheit',
//       description: 'adds temperature_f',
//       open(config, inputSchema) {
//         return new Schema([...inputSchema.fields, new Field('temperature_f', new Float64(), true)]);
//       },
//       process(table) { ... return a Table, a RecordBatch, an array of them, or nothing },
//     });
//
// The exported name (`transform`, `source` or `sink`) is the world's export.
// Values are apache-arrow's: int64 columns hold BigInt, timestamps numbers
// of their unit (milliseconds for `timestamp[ms]`), utf8 strings.

import {
  DataType, DateUnit, Precision, RecordBatch, Schema, Struct, Table, TimeUnit, Utf8, makeData,
  tableFromIPC, tableToIPC, vectorFromArray,
} from 'apache-arrow';
import { log as hostLog } from 'weir:plugin/host@0.1.0';

export * from 'apache-arrow';

/**
 * A record batch of exactly `schema` from plain values: `columns` maps each
 * field name to an array of values (`null` for nulls; BigInt for 64-bit
 * integers, numbers of the unit for timestamps).
 */
export function batchFromColumns(schema, columns) {
  const children = schema.fields.map((field) => {
    const values = columns[field.name];
    if (values === undefined) throw invalidInput(`no values for column ${field.name}`);
    return columnData(values, field.type);
  });
  const data = makeData({
    type: new Struct(schema.fields),
    length: children.length ? children[0].length : 0,
    nullCount: 0,
    children,
  });
  return new RecordBatch(schema, data);
}

const isNull = (v) => v === null || v === undefined;

/** The validity bitmap of `values`, or undefined when none is null. */
function validity(values) {
  let nulls = 0;
  for (const v of values) if (isNull(v)) nulls++;
  if (nulls === 0) return [undefined, 0];
  const bitmap = new Uint8Array((values.length + 7) >> 3);
  values.forEach((v, i) => {
    if (!isNull(v)) bitmap[i >> 3] |= 1 << (i & 7);
  });
  return [bitmap, nulls];
}

const textEncoder = new TextEncoder();

/**
 * Arrow data of `type` from plain values: typed arrays and offsets built
 * directly (apache-arrow's builders are slow under an interpreter), its
 * builders for the other types.
 */
function columnData(values, type) {
  const length = values.length;
  const [nullBitmap, nullCount] = validity(values);
  if (type instanceof Utf8) {
    const offsets = new Int32Array(length + 1);
    const parts = [];
    let end = 0;
    values.forEach((v, i) => {
      if (!isNull(v)) {
        const bytes = textEncoder.encode(v);
        parts.push(bytes);
        end += bytes.length;
      }
      offsets[i + 1] = end;
    });
    const data = new Uint8Array(end);
    let at = 0;
    for (const part of parts) {
      data.set(part, at);
      at += part.length;
    }
    return makeData({ type, length, nullCount, nullBitmap, valueOffsets: offsets, data });
  }
  // Values as apache-arrow's getters give them: numbers, BigInt for 64-bit
  // integers, milliseconds for timestamp[ms]; other units go to the builders.
  const fixed = DataType.isInt(type)
    || (DataType.isFloat(type) && type.precision !== Precision.HALF)
    || (DataType.isDate(type) && type.unit === DateUnit.DAY)
    || (DataType.isTimestamp(type) && type.unit === TimeUnit.MILLISECOND);
  if (fixed) {
    const { ArrayType } = type;
    const big = ArrayType === BigInt64Array || ArrayType === BigUint64Array;
    const zero = big ? 0n : 0;
    const data = ArrayType.from(values, (v) => (isNull(v) ? zero : big ? BigInt(v) : v));
    return makeData({ type, length, nullCount, nullBitmap, data });
  }
  return vectorFromArray(values, type).data[0];
}

/**
 * Logs through the host (`trace`, `debug`, `info`, `warn` or `error`), with
 * the node's name and `fields` (an object of strings).
 */
export function log(level, message, fields = {}) {
  hostLog(level, message, Object.entries(fields).map(([k, v]) => [k, String(v)]));
}

/**
 * The output of a transform in derived mode, answered by `open` instead of
 * a schema: input columns the host passes on by itself (their values never
 * cross into the plugin) and the columns the plugin appends. `process` then
 * answers `derived({ keep, columns })`.
 *
 *     return layout(input).keep('id', 'price').append(new Field('eur', new Float64(), true));
 */
export class Layout {
  constructor(inputSchema) {
    this.input = inputSchema;
    this.sources = [];
    this.fields = [];
    this.appended = [];
  }

  #index(name) {
    const index = this.input.fields.findIndex((f) => f.name === name);
    if (index < 0) throw invalidConfig(`no input column ${name}`);
    return index;
  }

  /** Passes on the input columns `names`, in that order. */
  keep(...names) {
    for (const name of names) {
      const index = this.#index(name);
      this.sources.push({ tag: 'input', val: index });
      this.fields.push(this.input.fields[index]);
    }
    return this;
  }

  /** Passes on every input column. */
  keepAll() {
    return this.keep(...this.input.fields.map((f) => f.name));
  }

  /** Passes on input column `name` as `newName`. */
  rename(name, newName) {
    const index = this.#index(name);
    this.sources.push({ tag: 'input', val: index });
    this.fields.push(this.input.fields[index].clone({ name: newName }));
    return this;
  }

  /** Adds a column whose values `process` returns. */
  append(field) {
    this.sources.push({ tag: 'appended', val: this.appended.length });
    this.appended.push(field);
    this.fields.push(field);
    return this;
  }

  /** Puts a column `process` computes in the place of column `name` laid out so far. */
  replace(name, field) {
    const at = this.fields.findIndex((f) => f.name === name);
    if (at < 0) throw invalidConfig(`no column ${name} in the layout`);
    this.sources[at] = { tag: 'appended', val: this.appended.length };
    this.appended.push(field);
    this.fields[at] = field;
    return this;
  }

  /** The output schema. */
  get schema() {
    return new Schema(this.fields);
  }
}

/** A derived-mode layout over `inputSchema` (see `Layout`). */
export const layout = (inputSchema) => new Layout(inputSchema);

/**
 * What a derived-mode `process` answers: `keep`, one truthy value per input
 * row (an array or a Uint8Array of 0/1), or undefined to keep all; `columns`,
 * the appended columns' values, one per kept row, by name or in append order
 * (typed arrays are taken as they are). Rejected rows must not be kept.
 */
export class Derived {
  constructor({ keep, columns } = {}) {
    this.keep = keep;
    this.columns = columns;
  }
}

/** A derived-mode answer (see `Derived`). */
export const derived = (answer) => new Derived(answer);

/** `keep` packed LSB first, and how many rows it keeps. */
function selection(keep, rows) {
  if (keep.length !== rows) throw invalidInput(`keep has ${keep.length} entries for a batch of ${rows} rows`);
  const bitmap = new Uint8Array((rows + 7) >> 3);
  let kept = 0;
  for (let i = 0; i < rows; i++) {
    if (keep[i]) {
      bitmap[i >> 3] |= 1 << (i & 7);
      kept++;
    }
  }
  return [bitmap, kept];
}

/** The WIT derivation of a derived-mode answer for a batch of `rows` rows. */
function derivation(result, rows, shape, appendedEncoder) {
  if (!(result instanceof Derived)) throw invalidInput('process must return derived({ keep, columns }) in derived mode');
  const [bitmap, kept] = result.keep === undefined || result.keep === null ? [undefined, rows] : selection(result.keep, rows);
  let appended;
  if (shape.appended.length) {
    const given = result.columns;
    if (!given) throw invalidInput(`derived columns missing: the layout appends ${shape.appended.map((f) => f.name)}`);
    const columns = {};
    shape.appended.forEach((field, i) => {
      const values = Array.isArray(given) ? given[i] : given[field.name];
      if (values === undefined) throw invalidInput(`no values for appended column ${field.name}`);
      if (values.length !== kept) {
        throw invalidInput(`appended column ${field.name} has ${values.length} values for ${kept} kept rows`);
      }
      columns[field.name] = values;
    });
    [appended] = appendedEncoder.encode(batchFromColumns(appendedEncoder.schema, columns), 'process');
  }
  return { selection: bitmap, appended };
}

/** A plugin error with the WIT error variant it crosses as. */
export class PluginError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

/** The configuration is wrong: say which field and why. */
export const invalidConfig = (message) => new PluginError('invalid-config', message);
/** The input schema or a batch cannot be processed. */
export const invalidInput = (message) => new PluginError('invalid-input', message);
/** The state given to `restore` is not one this plugin wrote. */
export const invalidState = (message) => new PluginError('invalid-state', message);
/** Something the plugin needs is unavailable; retrying may help. */
export const unavailable = (message) => new PluginError('unavailable', message);

// The end-of-stream marker apache-arrow writes after the last message.
const EOS_BYTES = 8;

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** The IPC schema message of `schema` (what the host expects at open). */
function schemaBytes(schema) {
  const stream = tableToIPC(new Table(schema), 'stream');
  return stream.subarray(0, stream.length - EOS_BYTES);
}

/** Reads the schema and batches of one stream whose schema came at open. */
class Decoder {
  constructor(schemaMessage) {
    this.schemaMessage = new Uint8Array(schemaMessage);
    this.schema = tableFromIPC(this.schemaMessage).schema;
  }

  decode(batch) {
    return tableFromIPC(concat(this.schemaMessage, batch));
  }
}

/** Writes batches of `schema` as the messages of one record batch each. */
class Encoder {
  constructor(schema) {
    this.schema = schema;
    this.schemaMessage = schemaBytes(schema);
  }

  encode(result, call) {
    if (result === undefined || result === null) return [];
    const items = Array.isArray(result) ? result : [result];
    const batches = items.flatMap((item) => (item instanceof Table ? item.batches : [item]));
    return batches.map((batch) => {
      if (!(batch instanceof RecordBatch)) {
        throw invalidInput(`${call} must return Tables or RecordBatches, got ${typeof batch}`);
      }
      const stream = tableToIPC(new Table([batch]), 'stream');
      const prefix = stream.subarray(0, this.schemaMessage.length);
      if (!sameBytes(prefix, this.schemaMessage)) {
        throw invalidInput(
          `${call} returned a batch of schema ${batch.schema}, but the output schema is ${this.schema}`,
        );
      }
      return stream.slice(this.schemaMessage.length, stream.length - EOS_BYTES);
    });
  }
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function parseConfig(text) {
  if (!text.trim()) return {};
  try {
    return JSON.parse(text) ?? {};
  } catch (error) {
    throw invalidConfig(`the config is not JSON: ${error.message}`);
  }
}

// The component has no WASI, so `console` would print nowhere: while the
// host calls the plugin, each line goes to the host's log at `info`, with
// the stream's name (`console.error` and `console.warn`: stderr), as a Rust
// plugin's output does. Outside a call (at build time) there is no host.
let called = false;
const printed = (stream) => (...values) => {
  if (!called) return;
  const text = values.map((v) => (typeof v === 'string' ? v : String(v))).join(' ');
  for (const line of text.split('\n')) hostLog('info', line, [['stream', stream]]);
};
for (const name of ['log', 'info', 'debug', 'trace']) globalThis.console[name] = printed('stdout');
for (const name of ['warn', 'error']) globalThis.console[name] = printed('stderr');

/** Calls `fn`; any exception crosses as a typed WIT error. */
function calling(fn) {
  return (...args) => {
    called = true;
    try {
      return fn(...args);
    } catch (error) {
      if (error instanceof PluginError) throw { tag: error.kind, val: error.message };
      throw { tag: 'internal', val: `${error}${error?.stack ? `\n${error.stack}` : ''}` };
    }
  };
}

function about(plugin, fallback) {
  return {
    name: plugin.name ?? fallback,
    version: plugin.version ?? '0.1.0',
    description: plugin.description ?? '',
  };
}

function stateOf(plugin, restoring) {
  return {
    snapshot: calling(() => plugin.snapshot?.() ?? undefined),
    restore: calling((state) => {
      if (!plugin.restore) throw invalidState(`this ${restoring} keeps no state`);
      plugin.restore(state);
    }),
  };
}

/**
 * The `transform` export for `plugin`: `{ name, version, description,
 * open(config, inputSchema) -> Schema | Layout, process(table, reject) -> Table[s] | undefined,
 * or `derived({ keep, columns })` when `open` answered a `Layout`
 * (`reject(row, message)` sends one row to the dead letters),
 * finish?() -> Table[s], snapshot?() -> Uint8Array | undefined, restore?(bytes),
 * reads?: [column names] }` (set `reads` in `open` to get only those columns).
 */
export function defineTransform(plugin) {
  let decoder;
  let encoder;
  let shape;
  let appendedEncoder;
  return {
    about: () => about(plugin, 'js-transform'),
    open: calling((config, inputSchema) => {
      const input = new Decoder(inputSchema).schema;
      const output = plugin.open ? plugin.open(parseConfig(config), input) : input;
      let reads;
      let read = input;
      if (plugin.reads) {
        const indices = plugin.reads.map((name) => {
          const index = input.fields.findIndex((f) => f.name === name);
          if (index < 0) throw invalidConfig(`no input column ${name}`);
          return index;
        });
        // The host sends them in the input's order, each once.
        reads = [...new Set(indices)].sort((a, b) => a - b);
        read = new Schema(reads.map((i) => input.fields[i]));
      }
      statedBounds = witBounds(plugin.bounds, input);
      decoder = new Decoder(schemaBytes(read));
      shape = output instanceof Layout ? output : undefined;
      encoder = new Encoder(shape ? shape.schema : output);
      if (!shape) return { outputSchema: encoder.schemaMessage, reads, mode: { tag: 'batches' } };
      appendedEncoder = new Encoder(new Schema(shape.appended));
      return { outputSchema: encoder.schemaMessage, reads, mode: { tag: 'derived', val: shape.sources } };
    }),
    process: calling((batch) => {
      // `reject(row, message)`: that row of the batch goes to the dead
      // letters; the plugin leaves it out of what it returns.
      const rejected = [];
      const reject = (row, message) => rejected.push({ row, message: String(message) });
      const table = decoder.decode(batch);
      const result = plugin.process(table, reject);
      const output = shape
        ? { tag: 'derived', val: derivation(result, table.numRows, shape, appendedEncoder) }
        : { tag: 'batches', val: encoder.encode(result, 'process') };
      return { output, rejected };
    }),
    finish: calling(() => encoder.encode(plugin.finish?.(), 'finish')),
    ...stateOf(plugin, 'transform'),
  };
}

/**
 * Input bounds: what every row a transform passes on holds, stated in
 * `open` as `this.bounds = { column: condition or [conditions] }` so that
 * the host can leave unread the input no such row is in (Parquet row groups
 * whose min/max statistics exclude it). Loose is fine, wrong is not.
 */
export const between = (min = null, max = null) => {
  if (isNull(min) && isNull(max)) throw new Error('between() needs min, max or both');
  return { condition: 'between', values: [min, max] };
};
/** The value is one of `values` (nulls do not meet it). */
export const oneOf = (...values) => ({ condition: 'one-of', values: values.flat() });
/** The value is not null. */
export const notNull = () => ({ condition: 'not-null', values: [] });

/** The WIT scalar of a bound value on `column`. */
function boundScalar(value, column) {
  if (typeof value === 'boolean') return { tag: 'boolean', val: value };
  if (typeof value === 'bigint') return { tag: 'int', val: value };
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) ? { tag: 'int', val: BigInt(value) } : { tag: 'float', val: value };
  }
  if (typeof value === 'string') return { tag: 'text', val: value };
  throw invalidConfig(`bound on column ${column}: ${String(value)} is not a boolean, number, bigint or string`);
}

/** The WIT `bound` list of a plugin's `bounds`, columns resolved in `input`. */
function witBounds(bounds, input) {
  const answer = [];
  for (const [name, conditions] of Object.entries(bounds ?? {})) {
    const column = input.fields.findIndex((f) => f.name === name);
    if (column < 0) throw invalidConfig(`bounds: no input column ${name}`);
    for (const c of [conditions].flat()) {
      let condition;
      if (c?.condition === 'between') {
        const [low, high] = c.values.map((v) => (isNull(v) ? undefined : boundScalar(v, name)));
        condition = { tag: 'between', val: [low, high] };
      } else if (c?.condition === 'one-of') {
        condition = { tag: 'one-of', val: c.values.map((v) => boundScalar(v, name)) };
      } else if (c?.condition === 'not-null') {
        condition = { tag: 'not-null' };
      } else {
        throw invalidConfig(`bounds: the bound on column ${name} is not between(), oneOf() or notNull()`);
      }
      answer.push({ column, condition });
    }
  }
  return answer;
}

// What the transform's `open` stated (one transform per component).
let statedBounds = [];

/**
 * The `input-bounds` export: answers the `bounds` the transform set in
 * `open`. `weir plugin build` exports it beside `transform`.
 */
export const inputBounds = { bounds: () => statedBounds };

/**
 * The `source` export for `plugin`: `{ name, ..., open(config) -> Schema,
 * next(maxRows) -> Table | number (seconds to wait) | undefined (done),
 * snapshot?(), restore?(bytes) }`.
 */
export function defineSource(plugin) {
  let encoder;
  return {
    about: () => about(plugin, 'js-source'),
    open: calling((config) => {
      encoder = new Encoder(plugin.open(parseConfig(config)));
      return { outputSchema: encoder.schemaMessage };
    }),
    next: calling((maxRows) => {
      const result = plugin.next(maxRows);
      if (result === undefined || result === null) return { tag: 'done' };
      if (typeof result === 'number') return { tag: 'wait', val: BigInt(Math.round(result * 1000)) };
      const [batch] = encoder.encode(result, 'next');
      return batch === undefined ? { tag: 'wait', val: 0n } : { tag: 'batch', val: batch };
    }),
    ...stateOf(plugin, 'source'),
  };
}

/**
 * The `sink` export for `plugin`: `{ name, ..., open?(config, inputSchema),
 * write(table), flush?() }`.
 */
export function defineSink(plugin) {
  let decoder;
  return {
    about: () => about(plugin, 'js-sink'),
    open: calling((config, inputSchema) => {
      decoder = new Decoder(inputSchema);
      plugin.open?.(parseConfig(config), decoder.schema);
      return { reads: undefined };
    }),
    write: calling((batch) => {
      plugin.write(decoder.decode(batch));
    }),
    flush: calling(() => {
      plugin.flush?.();
    }),
  };
}
