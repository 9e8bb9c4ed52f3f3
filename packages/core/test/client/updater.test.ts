import { beforeEach, describe, expect, it } from 'vitest';
import type { MemoryMetadataStore } from '../../src/client/store.js';
import type { UpdaterOptions } from '../../src/client/updater.js';
import { Metadata } from '../../src/metadata/metadata.js';
import { newUpdater, PAST, refreshedUpdater, trustingStore } from '../helpers/client.js';
import { newSigner, Simulator } from '../helpers/simulator.js';

let sim: Simulator;
let store: MemoryMetadataStore;

const updater = (extra: Partial<UpdaterOptions> = {}) => newUpdater(sim, store, extra);
const refreshed = () => refreshedUpdater(sim, store);

/** What the store holds: role → version of the stored bytes. */
function stored(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [role, bytes] of store.files) out[role] = Metadata.fromBytes(bytes).signed.version;
  return out;
}

async function setup(options: { consistentSnapshot?: boolean } = {}): Promise<void> {
  sim = new Simulator(options);
  await sim.publishRoot();
  await sim.publish();
  store = await trustingStore(sim);
}

beforeEach(async () => {
  await setup();
});

describe('top-level workflow', () => {
  it('refreshes with exactly the spec requests and persists each role', async () => {
    await updater().refresh();
    expect(sim.requests).toEqual([
      'metadata/2.root.json',
      'metadata/timestamp.json',
      'metadata/1.snapshot.json',
      'metadata/1.targets.json',
    ]);
    expect(stored()).toEqual({ root: 1, timestamp: 1, snapshot: 1, targets: 1 });
  });

  it('loads snapshot and targets from the cache when the repository is unchanged', async () => {
    await refreshed();
    await updater().refresh();
    expect(sim.requests).toEqual(['metadata/2.root.json', 'metadata/timestamp.json']);
  });

  it('stores exactly the bytes received', async () => {
    await updater().refresh();
    expect(store.files.get('timestamp')).toEqual(sim.files.get('metadata/timestamp.json'));
    expect(store.files.get('targets')).toEqual(sim.files.get('metadata/1.targets.json'));
  });

  it('fails before any request when the trusted root is not signed by itself', async () => {
    sim.root.version = 1;
    const bytes = await sim.sign(sim.root, [newSigner()]);
    await store.write('root', bytes);
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'THRESHOLD' });
    expect(sim.requests).toEqual([]);
  });

  it('needs a trusted root', async () => {
    await store.remove('root');
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'STATE' });
  });

  it('works without consistent snapshots', async () => {
    await setup({ consistentSnapshot: false });
    await sim.addTarget('a/file.txt', 'hello');
    await sim.publish();
    const u = updater();
    await u.refresh();
    expect(sim.requests).toEqual([
      'metadata/2.root.json',
      'metadata/timestamp.json',
      'metadata/snapshot.json',
      'metadata/targets.json',
    ]);
    const info = await u.getTargetInfo('a/file.txt');
    expect(new TextDecoder().decode(await u.downloadTarget(info!.target))).toBe('hello');
    expect(sim.requests.at(-1)).toBe('targets/a/file.txt');
  });
});

describe('root rotation', () => {
  type Case = {
    name: string;
    steps: { rotate?: number; threshold?: number; signWith: ('old' | 'new')[] }[];
    ok: boolean;
    finalVersion: number;
  };
  // Each step publishes root N+1 whose root role has `rotate` fresh keys (default: keep) and
  // `threshold`, signed by old and/or new root keys.
  const cases: Case[] = [
    {
      name: '1-of-1 rotation signed by old and new',
      steps: [{ rotate: 1, signWith: ['old', 'new'] }],
      ok: true,
      finalVersion: 2,
    },
    {
      name: 'rotation not signed by the old key',
      steps: [{ rotate: 1, signWith: ['new'] }],
      ok: false,
      finalVersion: 1,
    },
    {
      name: 'rotation not signed by the new key',
      steps: [{ rotate: 1, signWith: ['old'] }],
      ok: false,
      finalVersion: 1,
    },
    {
      name: 'threshold raised to 2 and met by the new keys',
      steps: [{ rotate: 2, threshold: 2, signWith: ['old', 'new'] }],
      ok: true,
      finalVersion: 2,
    },
    {
      name: 'two rotations in a row',
      steps: [
        { rotate: 1, signWith: ['old', 'new'] },
        { rotate: 1, signWith: ['old', 'new'] },
      ],
      ok: true,
      finalVersion: 3,
    },
    {
      name: 'second rotation fails: the first stays trusted',
      steps: [
        { rotate: 1, signWith: ['old', 'new'] },
        { rotate: 1, signWith: ['new'] },
      ],
      ok: false,
      finalVersion: 2,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      for (const step of c.steps) {
        const old = sim.signers.get('root') ?? [];
        if (step.rotate) {
          sim.root.roles.root.keyids = [];
          sim.signers.set('root', []);
          for (let i = 0; i < step.rotate; i++) sim.addKey('root', newSigner());
        }
        if (step.threshold) sim.root.roles.root.threshold = step.threshold;
        sim.root.version++;
        const fresh = sim.signers.get('root') ?? [];
        const signers = [
          ...(step.signWith.includes('old') ? old : []),
          ...(step.signWith.includes('new') ? fresh : []),
        ];
        await sim.publishRoot([...new Set(signers)]);
      }
      const p = updater().refresh();
      if (c.ok) await p;
      else await expect(p).rejects.toMatchObject({ code: 'THRESHOLD' });
      expect(stored().root).toBe(c.finalVersion);
    });
  }

  it('refuses a root whose version is not the one its file name promises', async () => {
    sim.root.version = 3;
    const bytes = await sim.publishRoot();
    sim.files.set('metadata/2.root.json', bytes);
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'VERSION_MISMATCH' });
    expect(stored()).toEqual({ root: 1 });
  });

  it('persists an expired new root, then fails', async () => {
    sim.root.version = 2;
    sim.root.expires = PAST;
    await sim.publishRoot();
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'EXPIRED' });
    expect(stored()).toEqual({ root: 2 });
  });

  it('stops after the configured number of rotations', async () => {
    for (let v = 2; v <= 5; v++) {
      sim.root.version = v;
      await sim.publishRoot();
    }
    await updater({ limits: { maxRootRotations: 2 } }).refresh();
    expect(stored().root).toBe(3);
  });

  it('counts one key listed twice in the root role once', async () => {
    const key = sim.signers.get('snapshot')?.[0];
    sim.root.roles.snapshot.keyids = [key?.keyid, key?.keyid];
    sim.root.roles.snapshot.threshold = 2;
    sim.root.version = 2;
    await sim.publishRoot();
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'THRESHOLD' });
    expect(stored()).toEqual({ root: 2, timestamp: 1 });
  });

  it('counts one key under two keyids once', async () => {
    const key = sim.signers.get('snapshot')?.[0];
    sim.root.keys['alias'] = key?.key.toJSON();
    sim.root.roles.snapshot.keyids = [key?.keyid, 'alias'];
    sim.root.roles.snapshot.threshold = 2;
    sim.root.version = 2;
    await sim.publishRoot();
    // Sign snapshot under both keyids with the same key.
    const sn = sim.files.get('metadata/1.snapshot.json');
    const doc = JSON.parse(new TextDecoder().decode(sn));
    doc.signatures.push({ keyid: 'alias', sig: doc.signatures[0].sig });
    sim.files.set('metadata/1.snapshot.json', new TextEncoder().encode(JSON.stringify(doc)));
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'THRESHOLD' });
  });

  it('rejects metadata with the same keyid twice in signatures', async () => {
    const sn = sim.files.get('metadata/1.snapshot.json');
    const doc = JSON.parse(new TextDecoder().decode(sn));
    doc.signatures.push(doc.signatures[0]);
    sim.files.set('metadata/1.snapshot.json', new TextEncoder().encode(JSON.stringify(doc)));
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'FORMAT' });
    expect(stored()).toEqual({ root: 1, timestamp: 1 });
  });

  it('ignores an invalid signature from an authorised key when the threshold is still met', async () => {
    const extra = newSigner();
    sim.addKey('snapshot', extra);
    sim.root.version = 2;
    await sim.publishRoot();
    await sim.publish();
    const sn = sim.files.get('metadata/1.snapshot.json');
    const doc = JSON.parse(new TextDecoder().decode(sn));
    doc.signatures[1].sig = '';
    sim.files.set('metadata/1.snapshot.json', new TextEncoder().encode(JSON.stringify(doc)));
    // The timestamp's snapshot meta has no hashes, so this altered (still validly signed) file is fine.
    await updater().refresh();
    expect(stored().snapshot).toBe(1);
  });
});

describe('rollback, freeze and mix-and-match', () => {
  it('rejects a timestamp rollback and keeps the trusted one', async () => {
    sim.timestamp.version = 2;
    await sim.publish();
    await refreshed();
    sim.timestamp.version = 1;
    await sim.publish();
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'ROLLBACK' });
    expect(stored().timestamp).toBe(2);
  });

  it('rejects a timestamp naming an older snapshot', async () => {
    sim.snapshot.version = 2;
    await sim.publish();
    await refreshed();
    sim.snapshot.version = 1;
    sim.timestamp.version = 2;
    await sim.publish();
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'ROLLBACK' });
    expect(stored()).toEqual({ root: 1, timestamp: 1, snapshot: 2, targets: 1 });
    expect(sim.requests.at(-1)).toBe('metadata/timestamp.json');
  });

  it('ignores a timestamp of the same version with different bytes', async () => {
    await refreshed();
    const before = store.files.get('timestamp');
    sim.timestamp.meta['snapshot.json'].version = 100;
    sim.files.set(
      'metadata/timestamp.json',
      await sim.sign(sim.timestamp, sim.signers.get('timestamp') ?? []),
    );
    await updater().refresh();
    expect(store.files.get('timestamp')).toEqual(before);
    expect(sim.requests).toEqual(['metadata/2.root.json', 'metadata/timestamp.json']);
  });

  it('rejects a snapshot that rolls targets back or drops a role', async () => {
    sim.targets.version = 2;
    sim.snapshot.version = 2;
    sim.timestamp.version = 2;
    await sim.publish();
    await refreshed();
    for (const attack of ['rollback', 'removal'] as const) {
      sim.snapshot.version++;
      sim.timestamp.version++;
      await sim.publish();
      if (attack === 'rollback') sim.snapshot.meta['targets.json'] = { version: 1 };
      else delete sim.snapshot.meta['targets.json'];
      sim.files.set(
        `metadata/${sim.snapshot.version}.snapshot.json`,
        await sim.sign(sim.snapshot, sim.signers.get('snapshot') ?? []),
      );
      await expect(updater().refresh()).rejects.toMatchObject({ code: 'ROLLBACK' });
      expect(stored().snapshot).toBe(2);
      expect(stored().targets).toBe(2);
      sim.snapshot.meta['targets.json'] = { version: 2 };
    }
  });

  it.each([
    ['timestamp', 'root: 1, timestamp kept at 1'],
    ['snapshot', ''],
    ['targets', ''],
  ])('rejects an expired %s (freeze attack)', async (role) => {
    await refreshed();
    (sim as any)[role].expires = PAST;
    (sim as any)[role].version = 2;
    if (role !== 'timestamp') {
      sim.snapshot.version = 2;
      sim.timestamp.version = 2;
    }
    await sim.publish();
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'EXPIRED' });
    const s = stored();
    expect(s[role]).toBe(1);
    if (role === 'snapshot' || role === 'targets') expect(s.timestamp).toBe(2);
  });

  it('rejects an expired trusted root when there is no newer one', async () => {
    await setup();
    const u = updater({ now: () => new Date('2100-01-01T00:00:00Z') });
    await expect(u.refresh()).rejects.toMatchObject({ code: 'EXPIRED' });
    expect(stored()).toEqual({ root: 1 });
  });

  it('updates from an expired local timestamp to a valid newer one', async () => {
    sim.timestamp.expires = '2029-06-01T00:00:00Z';
    await sim.publish();
    await updater({ now: () => new Date('2029-01-01T00:00:00Z') }).refresh();
    sim.timestamp.expires = '2100-01-01T00:00:00Z';
    sim.timestamp.version = 2;
    await sim.publish();
    await updater().refresh();
    expect(stored().timestamp).toBe(2);
  });

  it('rejects a snapshot whose hash differs from what timestamp lists', async () => {
    await sim.publish({ hashes: true });
    const key = 'metadata/1.snapshot.json';
    const doc = JSON.parse(new TextDecoder().decode(sim.files.get(key)));
    sim.files.set(
      key,
      new TextEncoder().encode(`${JSON.stringify(doc)} `.padEnd(sim.files.get(key)!.length, ' ')),
    );
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'LENGTH_OR_HASH' });
    expect(stored()).toEqual({ root: 1, timestamp: 1 });
  });

  it('rejects targets longer than snapshot says (endless data cut at the length)', async () => {
    await sim.publish({ hashes: true });
    sim.misbehave.set('metadata/1.targets.json', 'endless');
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'DOWNLOAD_LIMIT' });
    expect(stored()).toEqual({ root: 1, timestamp: 1, snapshot: 1 });
  });

  it('cuts an endless timestamp at the default limit', async () => {
    sim.misbehave.set('metadata/timestamp.json', 'endless');
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'DOWNLOAD_LIMIT' });
    expect(stored()).toEqual({ root: 1 });
  });

  it('gives up on a stalled server at the deadline', async () => {
    sim.misbehave.set('metadata/timestamp.json', 'stall');
    await expect(updater({ limits: { timeoutMs: 50 } }).refresh()).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('fails on a dropped connection', async () => {
    sim.misbehave.set('metadata/timestamp.json', 'drop');
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'FETCH' });
  });

  it('rejects a snapshot of another version than timestamp names', async () => {
    sim.files.set(
      'metadata/1.snapshot.json',
      await sim.sign({ ...sim.snapshot, version: 2 }, sim.signers.get('snapshot')!),
    );
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'VERSION_MISMATCH' });
    expect(stored()).toEqual({ root: 1, timestamp: 1 });
  });

  it('rejects metadata of the wrong type signed by the right key', async () => {
    sim.files.set('metadata/timestamp.json', await sim.sign(sim.snapshot, sim.signers.get('timestamp')!));
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'FORMAT' });
    expect(stored()).toEqual({ root: 1 });
  });

  it('recovers from a fast-forward attack after the timestamp key rotates', async () => {
    sim.timestamp.version = 100;
    await sim.publish();
    await refreshed();
    sim.rotateKey('timestamp', newSigner());
    sim.root.version = 2;
    await sim.publishRoot([...(sim.signers.get('root') ?? [])]);
    sim.timestamp.version = 1;
    await sim.publish();
    await updater().refresh();
    expect(stored().timestamp).toBe(1);
  });

  it('recovers from a fast-forward attack after the snapshot key rotates', async () => {
    sim.snapshot.version = 100;
    sim.timestamp.version = 2;
    await sim.publish();
    await refreshed();
    sim.rotateKey('snapshot', newSigner());
    sim.root.version = 2;
    await sim.publishRoot();
    sim.snapshot.version = 1;
    sim.timestamp.version = 3;
    sim.timestamp.meta['snapshot.json'] = { version: 1 };
    sim.files.delete('metadata/timestamp.json');
    // The old timestamp names snapshot 100; after rotation it no longer verifies and does not count.
    sim.rotateKey('timestamp', newSigner());
    sim.root.version = 3;
    await sim.publishRoot([...(sim.signers.get('root') ?? [])]);
    await sim.publish();
    await updater().refresh();
    expect(stored().snapshot).toBe(1);
  });
});
