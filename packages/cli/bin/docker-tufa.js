#!/usr/bin/env node
// `docker-tufa`, the Docker CLI plugin, as npm links it: a committed file for the reason
// bin/tufa.js gives (npm skips a bin whose target is not built yet).
import('../dist/docker-tufa.js').catch((e) => {
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('dist/docker-tufa.js')) {
    process.stderr.write('Error: tufa is not built yet in this checkout\nHint: npm run build\n');
    process.exitCode = 2;
    return;
  }
  throw e;
});
