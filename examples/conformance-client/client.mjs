#!/usr/bin/env node
/**
 * A TUF client speaking the public conformance suite's protocol
 * (theupdateframework/tuf-conformance): `init`, `refresh`, `download`, exit status 0 or 1.
 * A thin wrapper over the public API of @tufa/core: no test-specific logic.
 *
 *   client --metadata-dir MD init TRUSTED_ROOT
 *   client --metadata-url URL --metadata-dir MD refresh
 *   client --metadata-url URL --metadata-dir MD --target-name P [--target-name P2 …]
 *          --target-dir TD --target-base-url URL download
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Updater } from '@tufa/core';
import { downloadTarget, FsMetadataStore, HttpFetcher } from '@tufa/core/node';

async function main(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'metadata-dir': { type: 'string' },
      'metadata-url': { type: 'string' },
      'target-name': { type: 'string', multiple: true },
      'target-dir': { type: 'string' },
      'target-base-url': { type: 'string' },
    },
  });
  const [command, ...rest] = positionals;
  const metadataDir = values['metadata-dir'];
  if (!metadataDir) throw new Error('--metadata-dir is required');

  if (command === 'init') {
    if (rest.length !== 1) throw new Error('init takes the trusted root file');
    await FsMetadataStore.initialize(metadataDir, new Uint8Array(await readFile(rest[0])), {
      overwrite: true,
    });
    return;
  }

  const metadataUrl = values['metadata-url'];
  if (!metadataUrl) throw new Error('--metadata-url is required');
  const updater = new Updater({
    metadataBaseUrl: metadataUrl,
    ...(values['target-base-url'] ? { targetBaseUrl: values['target-base-url'] } : {}),
    fetcher: new HttpFetcher(),
    store: new FsMetadataStore(metadataDir),
  });

  if (command === 'refresh') {
    await updater.refresh();
    return;
  }
  if (command === 'download') {
    const targetDir = values['target-dir'];
    if (!targetDir) throw new Error('--target-dir is required');
    await updater.refresh();
    for (const name of values['target-name'] ?? []) {
      const info = await updater.getTargetInfo(name);
      if (!info) throw new Error(`target ${JSON.stringify(name)} is not signed by any trusted role`);
      await downloadTarget(updater, info.target, targetDir);
    }
    return;
  }
  throw new Error(`unknown command ${JSON.stringify(command)}`);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`Error: ${e?.message ?? e}${e?.code ? ` [${e.code}]` : ''}\n`);
    if (process.env.TUFA_DEBUG) process.stderr.write(`${e?.stack}\n`);
    process.exit(1);
  },
);
