/**
 * tufa's client against a repository that python-tuf produced (test-vectors/python-tuf):
 * consistent snapshot, root 1 -> 2 -> 3 with ed25519, ecdsa-sha2-nistp256 and rsassa-pss-sha256
 * root keys, a terminating `releases` delegation, a `hashed` delegation to eight succinct hash
 * bins, a target with a non-ASCII name and custom fields.
 *
 * The repository is served twice, as a client would meet it: from disk through FileFetcher and
 * over a local HTTP static server through HttpFetcher. Starting from 1.root.json, the Updater
 * must reach root version 3, and every target that any targets role lists (found by walking the
 * metadata files by hand) must be found by getTargetInfo in the role that lists it, then
 * downloaded and verified into a temporary directory. tuf-js's Updater refreshes the same
 * repository over HTTP and downloads targets, as a cross-check.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Updater as TufJsUpdater } from 'tuf-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fetcher, Updater } from '../../src/index.js';
import {
  downloadTargetToFile,
  FileFetcher,
  FsMetadataStore,
  fileBaseUrl,
  HttpFetcher,
  localTargetPath,
} from '../../src/node/index.js';
import { useTempDir } from '../helpers/temp-dir.js';
import { metadataFiles, readJson } from './chain.js';
import { type StaticServer, serveDirectory } from './static-server.js';

const repoUrl = new URL('../../../../test-vectors/python-tuf/repository/', import.meta.url);
const metadataUrl = new URL('metadata/', repoUrl);
const repoDir = fileURLToPath(repoUrl);
const readme = JSON.parse(readFileSync(new URL('../README.json', repoUrl), 'utf8')) as Record<string, string>;

/** Before the vectors expire (2050-01-01T00:00:00Z), and fixed, so the test never ages. */
const NOW = new Date('2030-06-01T00:00:00Z');

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

interface ListedTarget {
  path: string;
  /** The role whose metadata lists the target. */
  role: string;
  length: number;
  hashes: Record<string, string>;
  custom: unknown;
}

/** Every target of every targets role, read from the metadata files without any TUF library. */
function listedTargets(): ListedTarget[] {
  const out: ListedTarget[] = [];
  for (const { file, role } of metadataFiles(metadataUrl)) {
    const signed = readJson(metadataUrl, file)['signed'];
    if (signed._type !== 'targets') continue;
    const listed = signed.targets as Record<string, Omit<ListedTarget, 'path' | 'role'>>;
    for (const [path, info] of Object.entries(listed)) {
      out.push({ path, role, length: info.length, hashes: info.hashes, custom: info.custom });
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

const targets = listedTargets();
const rootBytes = (v: number) => new Uint8Array(readFileSync(new URL(`${v}.root.json`, metadataUrl)));

let server: StaticServer;
let tmp: string;

useTempDir('all', (d) => {
  tmp = d;
});
beforeAll(async () => {
  server = await serveDirectory(repoDir);
});

afterAll(async () => {
  await server?.close();
});

describe('the python-tuf vector repository', () => {
  it('is the repository the README describes', () => {
    expect(readme['trusted_root']).toBe('repository/metadata/1.root.json');
    expect(readme['generator']).toMatch(/^python-tuf /);
  });

  it('lists each target in exactly one role, in every kind of role', () => {
    expect(new Set(targets.map((t) => t.path)).size).toBe(targets.length);
    const roles = new Set(targets.map((t) => t.role));
    expect(roles).toContain('targets');
    expect(roles).toContain('releases');
    expect([...roles].filter((r) => /^bin-[0-7]$/.test(r)).length).toBe(8);
    expect(targets.map((t) => t.path)).toContain('docs/über.txt');
    expect(targets.length).toBe(25);
  });
});

interface Transport {
  name: string;
  fetcher: () => Fetcher;
  base: () => string;
}

const transports: Transport[] = [
  { name: 'FileFetcher', fetcher: () => new FileFetcher(), base: () => fileBaseUrl(repoDir) },
  {
    name: 'HttpFetcher',
    // No proxy from the environment: the server is on the loopback interface.
    fetcher: () => new HttpFetcher({ env: {} }),
    base: () => `${server.base}/`,
  },
];

describe.each(transports)('tufa Updater through $name', (transport) => {
  let updater: Updater;
  let store: FsMetadataStore;
  let dir: string;
  let requestsBefore: number;

  beforeAll(async () => {
    dir = join(tmp, transport.name);
    store = await FsMetadataStore.initialize(join(dir, 'metadata'), rootBytes(1));
    requestsBefore = server.requests.length;
    updater = new Updater({
      metadataBaseUrl: `${transport.base()}metadata/`,
      targetBaseUrl: `${transport.base()}targets/`,
      fetcher: transport.fetcher(),
      store,
      now: () => NOW,
    });
    await updater.refresh();
  });

  it('rotates the trusted root from version 1 to version 3', async () => {
    const root = updater.trustedSet?.root.signed;
    expect(root?.version).toBe(3);
    expect(root?.consistentSnapshot).toBe(true);
    expect(root?.unrecognized['x-vendor-note']).toBe('unknown fields are signed too');
    // The persisted root is the repository's 3.root.json byte for byte.
    expect(await store.read('root')).toEqual(rootBytes(3));
    // Root 3 keeps an ed25519, an ecdsa and an RSA key (the rotations swapped key types).
    const types = [...(root?.keys.values() ?? [])].map((k) => k.keytype).sort();
    expect(new Set(types)).toEqual(new Set(['ecdsa', 'ed25519', 'rsa']));
    expect(updater.trustedSet?.timestamp?.signed.version).toBe(1);
    expect(updater.trustedSet?.snapshot?.signed.version).toBe(1);
  });

  it.each(targets)('finds $path in $role and downloads it verified', async (t) => {
    const info = await updater.getTargetInfo(t.path);
    expect(info?.role).toBe(t.role);
    expect(info?.target.length).toBe(t.length);
    expect(Object.fromEntries(info?.target.hashes ?? [])).toEqual(t.hashes);
    expect(info?.target.custom).toEqual(t.custom);
    const dest = localTargetPath(join(dir, 'targets'), t.path);
    const result = await downloadTargetToFile(updater, info!.target, dest);
    expect(result).toEqual({ path: dest, cached: false });
    const bytes = new Uint8Array(await readFile(dest));
    expect(bytes.length).toBe(t.length);
    expect(sha256(bytes)).toBe(t.hashes['sha256']);
    // A second download finds the verified file in place and leaves it alone.
    expect((await downloadTargetToFile(updater, info!.target, dest)).cached).toBe(true);
  });

  it('keeps custom target fields', async () => {
    const info = await updater.getTargetInfo('images/sha256-manifest.json');
    expect(info?.target.custom).toEqual({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      tag: '1.0',
    });
  });

  it('does not find targets nobody signed, and respects the terminating delegation', async () => {
    expect(await updater.getTargetInfo('releases/tool-9.9.tgz')).toBeUndefined();
    expect(await updater.getTargetInfo('hashed/file-20.txt')).toBeUndefined();
    expect(await updater.getTargetInfo('nowhere/file.txt')).toBeUndefined();
  });

  it('caches every role it verified under its own name', async () => {
    for (const role of ['root', 'timestamp', 'snapshot', 'targets', 'releases', 'hashed']) {
      expect(await store.read(role), role).toBeDefined();
    }
    for (let bin = 0; bin < 8; bin++) expect(await store.read(`bin-${bin}`)).toBeDefined();
  });

  it('refreshes again from its cache without new downloads of unchanged roles', async () => {
    const again = new Updater({
      metadataBaseUrl: `${transport.base()}metadata/`,
      targetBaseUrl: `${transport.base()}targets/`,
      fetcher: transport.fetcher(),
      store,
      now: () => NOW,
    });
    const before = server.requests.length;
    await again.refresh();
    expect(again.trustedSet?.root.signed.version).toBe(3);
    expect((await again.getTargetInfo('hashed/file-5.txt'))?.role).toMatch(/^bin-/);
    if (transport.name === 'HttpFetcher') {
      // Only the next root (absent) and timestamp.json: snapshot and targets come from the cache.
      expect(server.requests.slice(before)).toEqual(['/metadata/4.root.json', '/metadata/timestamp.json']);
    }
  });

  if (transport.name !== 'HttpFetcher') return;

  it('asks for versioned metadata and hash-prefixed targets only', () => {
    const asked = server.requests.slice(requestsBefore);
    const metadata = asked.filter((p) => p.startsWith('/metadata/'));
    expect(metadata.slice(0, 4)).toEqual([
      '/metadata/2.root.json',
      '/metadata/3.root.json',
      '/metadata/4.root.json',
      '/metadata/timestamp.json',
    ]);
    for (const p of metadata) expect(p).toMatch(/^\/metadata\/(\d+\.[a-z0-9-]+|timestamp)\.json$/);
    const uber = targets.find((t) => t.path === 'docs/über.txt');
    expect(asked).toContain(`/targets/docs/${uber?.hashes['sha256']}.%C3%BCber.txt`);
    for (const p of asked.filter((a) => a.startsWith('/targets/'))) {
      expect(p).toMatch(/^\/targets\/[a-z]+\/[0-9a-f]{64}\./);
    }
  });
});

describe('tuf-js Updater over HTTP (cross-check)', () => {
  let metadataDir: string;
  let targetDir: string;
  let client: TufJsUpdater;

  beforeAll(async () => {
    metadataDir = join(tmp, 'tuf-js', 'metadata');
    targetDir = join(tmp, 'tuf-js', 'targets');
    await mkdir(metadataDir, { recursive: true });
    await mkdir(targetDir, { recursive: true });
    await writeFile(join(metadataDir, 'root.json'), rootBytes(1));
    client = new TufJsUpdater({
      metadataDir,
      metadataBaseUrl: `${server.base}/metadata`,
      targetDir,
      targetBaseUrl: `${server.base}/targets`,
      config: { fetchRetry: 0 },
    });
  });

  it('refreshes to root version 3', async () => {
    await client.refresh();
    expect(new Uint8Array(await readFile(join(metadataDir, 'root.json')))).toEqual(rootBytes(3));
  });

  it.each(['releases/tool-2.0.tgz', 'hashed/file-5.txt', 'docs/über.txt', 'app/README.md'])(
    'finds and downloads %s',
    async (path) => {
      const expected = targets.find((t) => t.path === path) as ListedTarget;
      const info = await client.getTargetInfo(path);
      expect(info?.length).toBe(expected.length);
      const file = await client.downloadTarget(info!);
      const bytes = new Uint8Array(await readFile(file));
      expect(sha256(bytes)).toBe(expected.hashes['sha256']);
    },
  );

  it('finds every listed target', async () => {
    for (const t of targets) {
      expect((await client.getTargetInfo(t.path))?.hashes, t.path).toEqual(t.hashes);
    }
  });
});
