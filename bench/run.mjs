#!/usr/bin/env node
/**
 * Benchmark entry point: `node bench/run.mjs [core|client|repository|adversarial|agent|all|cli-notary|cli-verify|client-million|server|scale]`
 * (default `all`: core, client, repository, adversarial and agent).
 * `npm run bench` builds first, then runs every suite.
 *
 * A suite is a sibling module `bench/<name>.mjs` exporting `main()`, which measures (in child
 * processes: bench/lib/harness.mjs runChild), prints its tables and writes its results (core
 * rewrites its section of docs/performance.md with writeDocSection). To add one, write the
 * module and list it in SUITES; a listed suite whose file is missing is skipped by `all`.
 */
import { existsSync } from 'node:fs';

const SUITES = {
  core: 'parse + verify of a signed targets.json (1k, 10k, 100k targets)',
  client: 'client refresh + target look-up over HTTP (1k, 10k, 100k targets)',
  repository: 'repository create/add/sign/publish (10k, 100k targets)',
  adversarial: 'hostile unsigned targets metadata (key order, escapes, nesting) against a well-formed file',
  agent: 'tufa sign of N tags in M repositories, unlocking key files each time against tufa agent',
};
// Run only when named (not by `all`): they need Debian's notary binaries, and take long.
const BY_NAME_ONLY = {
  'cli-notary': 'the tufa CLI against Notary v1 (scripts/notary/start-server.sh first)',
  'cli-verify': '`tufa verify` against `notary lookup`, 1 to 100k tags, cold and warm (starts notary-server)',
  'client-million':
    '`tufa verify` of one tag in a 1M-tag hash-binned repository, cold and warm (builds it once: ~1 min, 1.2 GB)',
  server:
    'tufa server against notary-server + notary-signer (Debian notary), reads and uploads, embedded stores then both on PostgreSQL (BENCH_SERVER_PARTS=embedded|postgres for one half), ~15 min each',
  scale: 'tufa sign --bulk of 100k and 1M tags, and adding one tag to them (whole processes, ~5 min)',
};
// Not suites: bench/crypto.mjs (crypto backends) and bench/profile-core.mjs (a breakdown of
// the core suite) are run directly.

const arg = process.argv[2] ?? 'all';
if (arg !== 'all' && !(arg in SUITES) && !(arg in BY_NAME_ONLY)) {
  const names = [...Object.keys(SUITES), 'all', ...Object.keys(BY_NAME_ONLY)];
  console.error(`usage: node bench/run.mjs [${names.join('|')}]`);
  process.exit(2);
}
const names = arg === 'all' ? Object.keys(SUITES) : [arg];
for (const name of names) {
  const url = new URL(`./${name}.mjs`, import.meta.url);
  if (!existsSync(url)) {
    const msg = `bench/${name}.mjs does not exist yet: ${SUITES[name] ?? BY_NAME_ONLY[name]}`;
    if (arg !== 'all') {
      console.error(msg);
      process.exit(2);
    }
    console.log(`skipping ${name}: ${msg}\n`);
    continue;
  }
  const suite = await import(url.href);
  await suite.main();
}
