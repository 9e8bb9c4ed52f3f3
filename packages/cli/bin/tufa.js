#!/usr/bin/env node
// The `tufa` command as npm links it. A committed file rather than dist/bin.js itself: npm creates
// the link at `npm ci`, before the first build, and skips a bin whose target does not exist —
// after which `npx tufa` would look the name up on the npm registry instead.
import('../dist/bin.js').catch((e) => {
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('dist/bin.js')) {
    process.stderr.write('Error: tufa is not built yet in this checkout\nHint: npm run build\n');
    process.exitCode = 2;
    return;
  }
  throw e;
});
