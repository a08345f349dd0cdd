// Builds a JavaScript Weir plugin into a component: bundles it with the SDK
// and apache-arrow (esbuild), then componentizes the bundle (componentize-js
// API; its `jco componentize` command failed on these machines). Run by
// `weir plugin build`, from the toolchain folder that holds node_modules:
//
//     node build.mjs ENTRY.js WORLD WIT_DIR WEIR_SDK.js OUT.wasm
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { componentize } from '@bytecodealliance/componentize-js';
import * as esbuild from 'esbuild';

const [entry, world, witPath, sdk, out] = process.argv.slice(2);
const bundle = `${out}.bundle.js`;
// A transform also exports the SDK's `inputBounds` (the `bounds` its `open`
// states).
const exportsBounds = world === 'bounded-transform-plugin';
await esbuild.build({
  ...(exportsBounds
    ? {
        stdin: {
          contents: `export * from ${JSON.stringify(entry)};\nexport { inputBounds } from 'weir-sdk';\n`,
          resolveDir: dirname(entry),
          sourcefile: 'weir-entry.js',
        },
      }
    : { entryPoints: [entry] }),
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  mainFields: ['module', 'main'],
  alias: { 'weir-sdk': sdk },
  // The WIT imports are the component's, resolved by componentize-js.
  external: ['weir:*'],
  nodePaths: [join(dirname(fileURLToPath(import.meta.url)), 'node_modules')],
  outfile: bundle,
  logLevel: 'warning',
});
// No WASI: a plugin gets only the weir host interface.
const { component } = await componentize({
  sourcePath: bundle,
  witPath,
  worldName: world,
  disableFeatures: ['random', 'stdio', 'clocks', 'http', 'fetch-event'],
});
await writeFile(out, component);
