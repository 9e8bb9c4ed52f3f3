#!/usr/bin/env node
// The `tufa` command as npm links it. A committed file rather than dist/bin.js itself: npm creates
// the link at `npm ci`, before the first build, and skips a bin whose target does not exist —
// after which `npx tufa` would look the name up on the npm registry instead.
//
// It runs dist/tufa.mjs, the whole CLI in one file (scripts/bundle-cli.mjs, part of
// `npm run build`; docs/adr/0023-cli-bundle-and-standalone.md): one file to read and compile
// instead of ~120 modules, on every run of every CI job. A checkout built with `tsc -b` alone
// has no bundle yet and runs the modules tsc wrote.
//
// The bundle runs in its CommonJS form, dist/tufa.cjs, with the V8 code cache the build made
// for it (./code-cache.js; docs/adr/0030-cli-code-cache.md): Node 20 caches no compiled code for
// ES modules. Without a cache this Node can use, the ES module bundle; without that, the
// modules.
//
// CommonJS (bin/package.json): Node starts a CommonJS entry point without its ES module loader,
// a few ms less on every run; `import()` below still loads the ES module builds.
'use strict';
const { join } = require('node:path');
const { runBundle } = require('./code-cache.js');

const missing = (e, file) => e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes(file);
const ran = runBundle(join(__dirname, '..', 'dist', 'tufa.cjs'));
if (ran === undefined) {
  import('../dist/tufa.mjs')
    .catch((e) => {
      if (missing(e, 'dist/tufa.mjs')) return import('../dist/bin.js');
      throw e;
    })
    .catch((e) => {
      if (missing(e, 'dist/bin.js')) {
        process.stderr.write('Error: tufa is not built yet in this checkout\nHint: npm run build\n');
        process.exitCode = 2;
        return;
      }
      throw e;
    });
}
