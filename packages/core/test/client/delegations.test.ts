import { beforeEach, describe, expect, it } from 'vitest';
import type { MemoryMetadataStore } from '../../src/client/store.js';
import type { Updater, UpdaterOptions } from '../../src/client/updater.js';
import { Metadata } from '../../src/metadata/metadata.js';
import { newUpdater, refreshedUpdater, trustingStore } from '../helpers/client.js';
import { Simulator } from '../helpers/simulator.js';

let sim: Simulator;
let store: MemoryMetadataStore;

const updater = (extra: Partial<UpdaterOptions> = {}) => newUpdater(sim, store, extra);

/** Publishes what the test set up and returns a client that has refreshed against it. */
async function start(): Promise<Updater> {
  await sim.publish();
  store = await trustingStore(sim);
  return refreshedUpdater(sim, store);
}

/** The delegated roles requested, in order. */
function visited(): string[] {
  return sim.requests
    .filter((r) => r.startsWith('metadata/'))
    .map((r) => decodeURIComponent(r.replace(/^metadata\/\d+\.|\.json$/g, '')));
}

beforeEach(async () => {
  sim = new Simulator();
  await sim.publishRoot();
});

type Graph = { from: string; to: string; paths?: string[]; terminating?: boolean }[];

const graphs: { name: string; graph: Graph; target: string; expect: string[]; found?: string }[] = [
  {
    name: 'pre-order depth-first in listed order',
    graph: [
      { from: 'targets', to: 'A' },
      { from: 'targets', to: 'B' },
      { from: 'A', to: 'C' },
      { from: 'A', to: 'D' },
    ],
    target: 'missing',
    expect: ['A', 'C', 'D', 'B'],
  },
  {
    name: 'a terminating role ends the search after its descendants',
    graph: [
      { from: 'targets', to: 'A' },
      { from: 'targets', to: 'B' },
      { from: 'A', to: 'C', terminating: true },
      { from: 'A', to: 'D' },
      { from: 'C', to: 'E' },
    ],
    target: 'missing',
    expect: ['A', 'C', 'E'],
  },
  {
    name: 'non-matching paths are skipped',
    graph: [
      { from: 'targets', to: 'A', paths: ['other/*'] },
      { from: 'targets', to: 'B', paths: ['*'] },
    ],
    target: 'missing',
    expect: ['B'],
  },
  {
    name: 'a non-matching terminating role does not end the search',
    graph: [
      { from: 'targets', to: 'A', paths: ['other/*'], terminating: true },
      { from: 'targets', to: 'B' },
    ],
    target: 'missing',
    expect: ['B'],
  },
  {
    name: 'cycles visit each role once',
    graph: [
      { from: 'targets', to: 'A' },
      { from: 'A', to: 'B' },
      { from: 'B', to: 'A' },
      { from: 'B', to: 'C' },
    ],
    target: 'missing',
    expect: ['A', 'B', 'C'],
  },
  {
    name: 'diamonds visit the shared role once',
    graph: [
      { from: 'targets', to: 'A' },
      { from: 'targets', to: 'B' },
      { from: 'A', to: 'C' },
      { from: 'B', to: 'C' },
    ],
    target: 'missing',
    expect: ['A', 'C', 'B'],
  },
  {
    name: 'the search stops at the first role that has the target',
    graph: [
      { from: 'targets', to: 'A' },
      { from: 'targets', to: 'B' },
    ],
    target: 'in-A',
    expect: ['A'],
    found: 'A',
  },
];

describe('delegation search', () => {
  for (const g of graphs) {
    it(g.name, async () => {
      for (const e of g.graph) {
        if (sim.delegated.has(e.to) && e.from !== 'targets') {
          // A second edge to an existing role: delegate with the role's existing key.
          const parent = sim.delegated.get(e.from) ?? sim.targets;
          const existing = sim.signers.get(e.to)![0]!;
          parent.delegations ??= { keys: {}, roles: [] };
          parent.delegations.keys[existing.keyid] = existing.key.toJSON();
          parent.delegations.roles.push({
            name: e.to,
            keyids: [existing.keyid],
            threshold: 1,
            terminating: !!e.terminating,
            paths: e.paths ?? ['*'],
          });
        } else {
          sim.delegate(e.from, e.to, { paths: e.paths ?? ['*'], terminating: !!e.terminating });
        }
      }
      if (g.found) await sim.addTarget(g.target, 'x', g.found);
      const u = await start();
      const info = await u.getTargetInfo(g.target);
      expect(visited()).toEqual(g.expect);
      expect(info?.role).toBe(g.found);
    });
  }

  it('visits at most maxDelegations roles', async () => {
    let parent = 'targets';
    for (let i = 0; i < 5; i++) {
      sim.delegate(parent, `r${i}`);
      parent = `r${i}`;
    }
    await sim.addTarget('deep', 'x', 'r4');
    await start();
    const u = updater({ limits: { maxDelegations: 3 } });
    expect(await u.getTargetInfo('deep')).toBeUndefined();
    expect(await updater().getTargetInfo('deep')).toMatchObject({ role: 'r4' });
  });

  it('re-verifies a role cached via one delegator against the delegator on the current path', async () => {
    sim.delegate('targets', 'parent-a', { paths: ['a/*'] });
    sim.delegate('targets', 'parent-b', { paths: ['b/*'] });
    sim.delegate('parent-a', 'release', { paths: ['*/*'] });
    // parent-b delegates "release" to a different key; release is signed only with parent-a's key.
    sim.delegate('parent-b', 'release', { paths: ['*/*'] });
    await sim.addTarget('a/x', 'trusted A', 'release');
    await sim.addTarget('b/y', 'not trusted via B', 'release');
    const u = await start();
    expect(await u.getTargetInfo('a/x')).toMatchObject({ role: 'release' });
    await expect(u.getTargetInfo('b/y')).rejects.toMatchObject({ code: 'THRESHOLD' });
    // A fresh process with release in its cache must verify it against parent-b too.
    await expect(updater().getTargetInfo('b/y')).rejects.toMatchObject({ code: 'THRESHOLD' });
  });

  it('does not fetch a delegated role that snapshot does not list', async () => {
    sim.delegate('targets', 'ghost');
    await sim.publish();
    delete sim.snapshot.meta['ghost.json'];
    sim.snapshot.version = 2;
    sim.timestamp.version = 2;
    sim.files.set('metadata/2.snapshot.json', await sim.sign(sim.snapshot, sim.signers.get('snapshot')!));
    sim.timestamp.meta['snapshot.json'] = { version: 2 };
    sim.files.set('metadata/timestamp.json', await sim.sign(sim.timestamp, sim.signers.get('timestamp')!));
    store = await trustingStore(sim);
    const u = await refreshedUpdater(sim, store);
    await expect(u.getTargetInfo('x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(sim.requests).toEqual([]);
    expect(store.files.has('ghost')).toBe(false);
  });

  for (const name of [
    '2',
    '10',
    '?',
    '#',
    '/delegatedrole',
    '../delegatedrole',
    '__proto__',
    'constructor',
    'a%2Fb',
    'ü',
  ]) {
    it(`handles the role name ${JSON.stringify(name)}`, async () => {
      sim.delegate('targets', name);
      await sim.addTarget('file', 'content', name);
      const u = await start();
      expect(await u.getTargetInfo('file')).toMatchObject({ role: name });
      expect(sim.requests).toEqual([
        `metadata/1.${encodeURIComponent(name).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}.json`,
      ]);
      expect(Metadata.fromBytes(store.files.get(name)!).signed.version).toBe(1);
    });
  }

  it('keeps listed order for integer-like role names', async () => {
    for (const n of ['10', '2', '1']) sim.delegate('targets', n);
    const u = await start();
    await u.getTargetInfo('missing');
    expect(visited()).toEqual(['10', '2', '1']);
  });

  it('matches path_hash_prefixes against the hex sha256 of the target path', async () => {
    const { createHash } = await import('node:crypto');
    const h = createHash('sha256').update('some/target').digest('hex');
    sim.delegate('targets', 'nomatch', { path_hash_prefixes: [h[0] === 'f' ? '0' : 'f'] });
    sim.delegate('targets', 'match', { path_hash_prefixes: [h.slice(0, 2)] });
    await sim.addTarget('some/target', 'x', 'match');
    const u = await start();
    expect(await u.getTargetInfo('some/target')).toMatchObject({ role: 'match' });
    expect(visited()).toEqual(['match']);
  });

  it('follows succinct hash-bin delegations', async () => {
    const { newSigner } = await import('../helpers/simulator.js');
    const binKey = newSigner();
    sim.targets.delegations = {
      keys: { [binKey.keyid]: binKey.key.toJSON() },
      succinct_roles: { keyids: [binKey.keyid], threshold: 1, bit_length: 3, name_prefix: 'bin' },
    };
    const { SuccinctRoles } = await import('../../src/metadata/roles.js');
    const succinct = new SuccinctRoles([binKey.keyid], 1, 3, 'bin');
    const bin = succinct.getRoleForTarget('pkg/thing');
    sim.delegated.set(bin, {
      _type: 'targets',
      spec_version: '1.0.31',
      version: 1,
      expires: '2100-01-01T00:00:00Z',
      targets: {},
    });
    sim.signers.set(bin, [binKey]);
    await sim.addTarget('pkg/thing', 'binned', bin);
    const u = await start();
    expect(await u.getTargetInfo('pkg/thing')).toMatchObject({ role: bin });
    expect(visited()).toEqual([bin]);
  });

  it('rejects a delegated role signed by the wrong key and persists nothing for it', async () => {
    sim.delegate('targets', 'A');
    const { newSigner } = await import('../helpers/simulator.js');
    sim.signers.set('A', [newSigner()]);
    const u = await start();
    await expect(u.getTargetInfo('x')).rejects.toMatchObject({ code: 'THRESHOLD' });
    expect(store.files.has('A')).toBe(false);
  });

  it('rejects an expired delegated role', async () => {
    sim.delegate('targets', 'A');
    sim.delegated.get('A')!.expires = '2020-01-01T00:00:00Z';
    const u = await start();
    await expect(u.getTargetInfo('x')).rejects.toMatchObject({ code: 'EXPIRED' });
    expect(store.files.has('A')).toBe(false);
  });
});

describe('targets', () => {
  it('downloads by hash-prefixed name and verifies', async () => {
    await sim.addTarget('dir/file.tar.gz', 'payload');
    const u = await start();
    const info = await u.getTargetInfo('dir/file.tar.gz');
    expect(new TextDecoder().decode(await u.downloadTarget(info!.target))).toBe('payload');
    expect(sim.requests.at(-1)).toMatch(/^targets\/dir\/[0-9a-f]{64}\.file\.tar\.gz$/);
  });

  it('refuses substituted content', async () => {
    await sim.addTarget('f', 'good');
    const u = await start();
    const info = await u.getTargetInfo('f');
    const [path] = [...sim.files.keys()].filter((k) => k.startsWith('targets/'));
    sim.files.set(path!, new TextEncoder().encode('evil'));
    await expect(u.downloadTarget(info!.target)).rejects.toMatchObject({ code: 'LENGTH_OR_HASH' });
    sim.files.set(path!, new TextEncoder().encode('good and more'));
    await expect(u.downloadTarget(info!.target)).rejects.toMatchObject({ code: 'DOWNLOAD_LIMIT' });
  });

  it('refuses a target that lists only unknown hash algorithms before fetching it', async () => {
    await sim.addTarget('f', 'good');
    sim.targets.targets.f.hashes = { 'unknown-hash': 'abcd' };
    const u = await start();
    const info = await u.getTargetInfo('f');
    await expect(u.downloadTarget(info!.target)).rejects.toMatchObject({ code: 'UNSUPPORTED_HASH' });
    expect(sim.requests.filter((r) => r.startsWith('targets/'))).toEqual([]);
  });

  it('refuses target paths that would climb out of the target URL', async () => {
    await sim.addTarget('../escape', 'x');
    const u = await start();
    const info = await u.getTargetInfo('../escape');
    await expect(u.downloadTarget(info!.target)).rejects.toMatchObject({ code: 'UNSAFE_NAME' });
  });

  it('answers look-ups from the cache alone in offline mode, failing closed when expired', async () => {
    sim.delegate('targets', 'A');
    await sim.addTarget('f', 'x', 'A');
    const u = await start();
    await u.getTargetInfo('f');
    sim.requests.length = 0;
    const offline = updater({ offline: true });
    expect(await offline.getTargetInfo('f')).toMatchObject({ role: 'A' });
    expect(sim.requests).toEqual([]);
    const late = updater({ offline: true, now: () => new Date('2100-01-01T00:00:00Z') });
    await expect(late.refresh()).rejects.toMatchObject({ code: 'EXPIRED' });
    await store.remove('A');
    await expect(updater({ offline: true }).getTargetInfo('f')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(sim.requests).toEqual([]);
  });
});

describe('trusted set', () => {
  it('lets only targets metadata it verified itself delegate', async () => {
    sim.delegate('targets', 'A');
    const u = await start();
    const set = u.trustedSet!;
    const forged = Metadata.fromBytes(sim.files.get('metadata/1.targets.json')!, 'targets');
    const bytes = sim.files.get('metadata/1.A.json')!;
    await expect(set.updateDelegatedTargets(bytes, 'A', forged as never)).rejects.toMatchObject({
      code: 'STATE',
    });
    await expect(set.updateDelegatedTargets(bytes, 'A', set.targets!)).resolves.toBeDefined();
  });
});
