/**
 * The Node adapters with the real Updater: a simulated repository served over HTTP (and from
 * disk), an FsMetadataStore, and targets written with downloadTargetToFile.
 */

import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Updater } from '../../src/client/updater.js';
import {
  downloadTargetToFile,
  FileFetcher,
  FsMetadataStore,
  fileBaseUrl,
  HttpFetcher,
  localTargetPath,
} from '../../src/node/index.js';
import { Simulator } from '../helpers/simulator.js';
import { useTempDir } from '../helpers/temp-dir.js';
import { close, listen } from './helpers.js';

const NOW = new Date('2030-01-01T00:00:00Z');

let sim: Simulator;
const requested: string[] = [];
const server = http.createServer((q, s) => {
  // The simulator stores metadata under encoded names and targets under raw ones.
  const path = (q.url ?? '').slice(1);
  requested.push(path);
  const bytes = sim.files.get(path) ?? sim.files.get(decodeURIComponent(path));
  if (bytes) s.end(bytes);
  else s.writeHead(404).end();
});
let base = '';
let dir: string;
useTempDir('each', (d) => {
  dir = d;
});

beforeAll(async () => {
  base = await listen(server);
});
afterAll(async () => {
  await close(server);
});
beforeEach(async () => {
  requested.length = 0;
  sim = new Simulator();
  await sim.publishRoot();
  sim.delegate('targets', '../evil', { paths: ['evil/*'] });
  await sim.addTarget('app/my file.txt', 'hello, world');
  await sim.addTarget('evil/x.txt', 'delegated', '../evil');
  await sim.publish();
});

describe('Updater + HttpFetcher + FsMetadataStore + downloadTargetToFile', () => {
  it('refreshes, stores metadata under safe names, and downloads targets once', async () => {
    const metadataDir = join(dir, 'metadata');
    const targetDir = join(dir, 'targets');
    const store = await FsMetadataStore.initialize(metadataDir, sim.rootBytes(1));
    const updater = () =>
      new Updater({
        metadataBaseUrl: `${base}/metadata/`,
        targetBaseUrl: `${base}/targets/`,
        fetcher: new HttpFetcher({ env: {} }),
        store,
        now: () => NOW,
      });
    const u = updater();
    await u.refresh();
    expect((await readdir(metadataDir)).sort()).toEqual([
      'root.json',
      'snapshot.json',
      'targets.json',
      'timestamp.json',
    ]);

    for (const [path, content] of [
      ['app/my file.txt', 'hello, world'],
      ['evil/x.txt', 'delegated'],
    ] as const) {
      const info = await u.getTargetInfo(path);
      if (!info) throw new Error(`no ${path}`);
      const dest = localTargetPath(targetDir, info.target.path);
      expect(await downloadTargetToFile(u, info.target, dest)).toEqual({ path: dest, cached: false });
      expect(await readFile(dest, 'utf8')).toBe(content);
    }
    // The delegated role "../evil" went out as "..%2Fevil" and was stored inside the directory.
    expect(requested).toContain('metadata/1...%2Fevil.json');
    expect((await readdir(metadataDir)).sort()).toEqual([
      '%2E%2E%2Fevil.json',
      'root.json',
      'snapshot.json',
      'targets.json',
      'timestamp.json',
    ]);

    // A second client run: metadata from the cache, targets already in place.
    requested.length = 0;
    const again = updater();
    await again.refresh();
    const info = await again.getTargetInfo('app/my file.txt');
    if (!info) throw new Error('no target');
    const r = await downloadTargetToFile(again, info.target, localTargetPath(targetDir, info.target.path));
    expect(r.cached).toBe(true);
    expect(requested.filter((p) => p.startsWith('targets/'))).toEqual([]);
  });
});

describe('Updater + FileFetcher', () => {
  it('reads a repository from disk through a file: base URL', async () => {
    const repo = join(dir, 'repo #1');
    for (const [path, bytes] of sim.files) {
      if (path.includes('%2F')) continue; // a role name with "/" has no single file on disk
      await mkdir(dirname(join(repo, path)), { recursive: true });
      await writeFile(join(repo, path), bytes);
    }
    const store = await FsMetadataStore.initialize(join(dir, 'metadata'), sim.rootBytes(1));
    const u = new Updater({
      metadataBaseUrl: fileBaseUrl(join(repo, 'metadata')),
      targetBaseUrl: fileBaseUrl(join(repo, 'targets')),
      fetcher: new FileFetcher(),
      store,
      now: () => NOW,
    });
    await u.refresh();
    const info = await u.getTargetInfo('app/my file.txt');
    if (!info) throw new Error('no target');
    const dest = localTargetPath(join(dir, 'out'), info.target.path);
    await downloadTargetToFile(u, info.target, dest);
    expect(await readFile(dest, 'utf8')).toBe('hello, world');
  });
});
