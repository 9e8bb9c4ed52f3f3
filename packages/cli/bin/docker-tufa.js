#!/usr/bin/env node
// `docker-tufa`, the Docker CLI plugin, as npm links it: a committed file for the reason
// bin/tufa.js gives (npm skips a bin whose target is not built yet). Like bin/tufa.js it runs
// the one-file bundle (dist/docker-tufa.mjs), or without one the modules tsc wrote. CommonJS, as
// every file in bin/ (bin/package.json); `import()` loads the ES modules.
'use strict';
const missing = (e, file) => e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes(file);
import('../dist/docker-tufa.mjs')
  .catch((e) => {
    if (missing(e, 'dist/docker-tufa.mjs')) return import('../dist/docker-tufa.js');
    throw e;
  })
  .catch((e) => {
    if (missing(e, 'dist/docker-tufa.js')) {
      process.stderr.write('Error: tufa is not built yet in this checkout\nHint: npm run build\n');
      process.exitCode = 2;
      return;
    }
    throw e;
  });
