import { beforeEach, describe, expect, it } from 'vitest';
import type { PrivateKeySigner } from '../../src/crypto/signer.js';
import { TargetFile } from '../../src/metadata/files.js';
import { Metadata } from '../../src/metadata/metadata.js';
import { DelegatedRole } from '../../src/metadata/roles.js';
import { Repository } from '../../src/repository/repository.js';
import { MemoryRepositoryStorage } from '../../src/repository/storage.js';
import { fixedSigner } from '../helpers/keys.js';
import { client } from './helpers.js';

const NOW = new Date('2030-01-01T00:00:00Z');
let storage: MemoryRepositoryStorage;
let keys: Record<'root' | 'targets' | 'snapshot' | 'timestamp', PrivateKeySigner>;

function target(path: string, n = 1): TargetFile {
  const hex = n.toString(16).padStart(64, '0');
  return new TargetFile(path, 100 + n, new Map([['sha256', hex]]));
}

async function open(signers: PrivateKeySigner[] = Object.values(keys), now = NOW): Promise<Repository> {
  return Repository.open(storage, { signers, now: () => now });
}

beforeEach(async () => {
  storage = new MemoryRepositoryStorage();
  keys = {
    root: fixedSigner(101),
    targets: fixedSigner(102),
    snapshot: fixedSigner(103),
    timestamp: fixedSigner(104),
  };
  const repo = await Repository.create(storage, {
    keys: {
      root: [keys.root.key],
      targets: [keys.targets.key],
      snapshot: [keys.snapshot.key],
      timestamp: [keys.timestamp.key],
    },
    signers: Object.values(keys),
    now: () => NOW,
  });
  await repo.addTargets([target('registry.example.com/team/app:1.0')]);
  await repo.publish();
});

describe('create and publish', () => {
  it('writes every file, timestamp last, and a client verifies it', async () => {
    const fresh = new MemoryRepositoryStorage();
    const repo = await Repository.create(fresh, {
      keys: {
        root: [keys.root.key],
        targets: [keys.targets.key],
        snapshot: [keys.snapshot.key],
        timestamp: [keys.timestamp.key],
      },
      signers: Object.values(keys),
      now: () => NOW,
    });
    const result = await repo.publish();
    expect(result.written).toEqual([
      'metadata/1.root.json',
      'metadata/1.targets.json',
      'metadata/1.snapshot.json',
      'metadata/root.json',
      'metadata/timestamp.json',
    ]);
    const { updater } = await client(fresh, { now: NOW });
    await updater.refresh();
  });

  it('refuses to create over an existing repository', async () => {
    await expect(
      Repository.create(storage, {
        keys: {
          root: [keys.root.key],
          targets: [keys.targets.key],
          snapshot: [keys.snapshot.key],
          timestamp: [keys.timestamp.key],
        },
      }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('snapshot and timestamp meta carry length and sha256', async () => {
    const repo = await open();
    const sn = repo.snapshotMetadata!.signed.roleMeta('targets')!;
    expect(sn.length).toBeGreaterThan(0);
    expect(sn.hashes?.get('sha256')).toMatch(/^[0-9a-f]{64}$/);
    const ts = repo.timestampMetadata!.signed.snapshotMeta;
    expect(ts.length).toBeGreaterThan(0);
    expect(ts.hashes?.get('sha256')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('publishes nothing when nothing changed', async () => {
    const repo = await open();
    expect((await repo.publish()).written).toEqual([]);
  });

  it('bumps only what changed', async () => {
    const repo = await open();
    await repo.addTargets([target('registry.example.com/team/app:1.1', 2)]);
    const r = await repo.publish();
    expect(r.written).toEqual([
      'metadata/2.targets.json',
      'metadata/2.snapshot.json',
      'metadata/timestamp.json',
    ]);
    const { updater } = await client(storage, { now: NOW });
    expect((await updater.getTargetInfo('registry.example.com/team/app:1.1'))?.target.length).toBe(102);
  });

  it('adds ten thousand targets in one call', async () => {
    const repo = await open();
    await repo.addTargets(
      Array.from({ length: 10_000 }, (_, i) => target(`registry.example.com/bulk:${i}`, i + 10)),
    );
    await repo.publish();
    const { updater } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('registry.example.com/bulk:9999')).toMatchObject({ role: 'targets' });
  });

  it('refuses a duplicate target when asked not to replace', async () => {
    const repo = await open();
    await expect(
      repo.addTargets([target('registry.example.com/team/app:1.0', 9)], { replace: false }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
    });
  });

  it('removes targets', async () => {
    const repo = await open();
    await repo.removeTarget('registry.example.com/team/app:1.0');
    await repo.publish();
    const { updater } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('registry.example.com/team/app:1.0')).toBeUndefined();
    await expect((await open()).removeTarget('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses to publish without a threshold of signatures, writing nothing', async () => {
    const repo = await open([keys.snapshot, keys.timestamp]);
    await repo.addTargets([target('x', 5)]);
    const before = new Map(storage.files);
    await expect(repo.publish()).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('targets'),
    });
    expect(storage.files).toEqual(before);
  });

  it('refuses to publish when another publisher got there first', async () => {
    const a = await open();
    const b = await open();
    await a.addTargets([target('a', 3)]);
    await b.addTargets([target('b', 4)]);
    await a.publish();
    await expect(b.publish()).rejects.toMatchObject({ code: 'CONFLICT' });
    const again = await open();
    await again.addTargets([target('b', 4)]);
    await again.publish();
    const { updater } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('a')).toBeDefined();
    expect(await updater.getTargetInfo('b')).toBeDefined();
  });

  it('never publishes metadata its own client would reject (expired on arrival)', async () => {
    const repo = await Repository.open(storage, {
      signers: Object.values(keys),
      now: () => NOW,
      expiry: { targets: -10 },
    });
    await repo.addTargets([target('late', 6)]);
    const before = new Map(storage.files);
    await expect(repo.publish()).rejects.toMatchObject({ code: 'EXPIRED' });
    expect(storage.files).toEqual(before);
  });

  it('refreshTimestamp re-signs only the timestamp, and snapshot when it would expire first', async () => {
    const repo = await open(Object.values(keys), new Date(NOW.getTime() + 3600_000));
    const r = await repo.refreshTimestamp();
    expect(r.written).toEqual(['metadata/timestamp.json']);
    const weekLater = await open(Object.values(keys), new Date(NOW.getTime() + 6.5 * 86400_000));
    expect((await weekLater.refreshTimestamp()).written).toEqual([
      'metadata/2.snapshot.json',
      'metadata/timestamp.json',
    ]);
    const { updater } = await client(storage, { now: new Date(NOW.getTime() + 6.5 * 86400_000) });
    await updater.refresh();
  });
});

describe('keys and rotation', () => {
  it('rotates the root key, signed by the old and the new root', async () => {
    const newRoot = fixedSigner(111);
    const repo = await open([...Object.values(keys), newRoot]);
    repo.rotateKeys('root', { add: [newRoot.key], remove: [keys.root.keyid] });
    const r = await repo.publish();
    expect(r.written).toContain('metadata/2.root.json');
    const md = Metadata.fromBytes(storage.files.get('metadata/2.root.json')!, 'root');
    expect([...md.signatures.keys()].sort()).toEqual([keys.root.keyid, newRoot.keyid].sort());
    const { updater, store } = await client(storage, { now: NOW });
    await updater.refresh();
    expect(Metadata.fromBytes((await store.read('root'))!).signed.version).toBe(2);
  });

  it('refuses a root rotation the old root key did not sign', async () => {
    const newRoot = fixedSigner(111);
    const repo = await open([keys.targets, keys.snapshot, keys.timestamp, newRoot]);
    repo.rotateKeys('root', { add: [newRoot.key], remove: [keys.root.keyid] });
    await expect(repo.publish()).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('root'),
    });
  });

  it('rotating the targets key re-signs targets with the new key', async () => {
    const newTargets = fixedSigner(112);
    const repo = await open([...Object.values(keys), newTargets]);
    repo.rotateKeys('targets', { add: [newTargets.key], remove: [keys.targets.keyid] });
    const r = await repo.publish();
    expect(r.written).toEqual(expect.arrayContaining(['metadata/2.root.json', 'metadata/2.targets.json']));
    const { updater } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('registry.example.com/team/app:1.0')).toBeDefined();
  });

  it('raises a threshold only with enough keys', () => {
    return open().then((repo) => {
      expect(() => repo.rotateKeys('snapshot', { threshold: 2 })).toThrow(/threshold 2 exceeds/);
      expect(() => repo.rotateKeys('snapshot', { remove: [keys.snapshot.keyid] })).toThrow(/no keys left/);
    });
  });
});

describe('delegations', () => {
  let releases: PrivateKeySigner;
  beforeEach(async () => {
    releases = fixedSigner(120);
    const repo = await open([...Object.values(keys), releases]);
    await repo.addDelegation(
      'targets',
      new DelegatedRole({
        name: 'releases',
        keyids: [releases.keyid],
        threshold: 1,
        terminating: true,
        paths: ['registry.example.com/team/*'],
      }),
      [releases.key],
    );
    await repo.publish();
  });

  it('signs into a delegated role and the client finds it there', async () => {
    const repo = await open([...Object.values(keys), releases]);
    await repo.addTargets([target('registry.example.com/team/svc:2.0', 7)], { role: 'releases' });
    const r = await repo.publish();
    expect(r.written).toEqual([
      'metadata/2.releases.json',
      'metadata/3.snapshot.json',
      'metadata/timestamp.json',
    ]);
    const { updater } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('registry.example.com/team/svc:2.0')).toMatchObject({
      role: 'releases',
    });
  });

  it('refuses a target outside the delegated paths', async () => {
    const repo = await open([...Object.values(keys), releases]);
    await expect(repo.addTargets([target('elsewhere/x', 8)], { role: 'releases' })).rejects.toMatchObject({
      code: 'USAGE',
    });
  });

  it('needs the delegated key to publish the role', async () => {
    const repo = await open();
    await repo.addTargets([target('registry.example.com/team/svc:2.0', 7)], { role: 'releases' });
    await expect(repo.publish()).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('releases'),
    });
  });

  it('rotates a delegated key and re-signs the role', async () => {
    const next = fixedSigner(121);
    const repo = await open([...Object.values(keys), next]);
    await repo.rotateDelegatedKeys('targets', 'releases', { add: [next.key], remove: [releases.keyid] });
    const r = await repo.publish();
    expect(r.written).toEqual(
      expect.arrayContaining(['metadata/3.targets.json', 'metadata/2.releases.json']),
    );
    const { updater } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('registry.example.com/team/none')).toBeUndefined();
  });

  it('re-signs a delegated role whose keys the delegation replaces', async () => {
    const next = fixedSigner(122);
    const repo = await open([...Object.values(keys), releases, next]);
    await repo.addTargets([target('registry.example.com/team/svc:3.0', 9)], { role: 'releases' });
    await repo.publish();
    const again = await open([...Object.values(keys), next]);
    await again.addDelegation(
      'targets',
      new DelegatedRole({
        name: 'releases',
        keyids: [next.keyid],
        threshold: 1,
        terminating: true,
        paths: ['registry.example.com/team/*'],
      }),
      [next.key],
    );
    const r = await again.publish();
    expect(r.written).toEqual(
      expect.arrayContaining(['metadata/3.targets.json', 'metadata/3.releases.json']),
    );
    const { updater } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('registry.example.com/team/svc:3.0')).toMatchObject({
      role: 'releases',
    });
  });

  it('refuses role names a client could not cache', async () => {
    const repo = await open();
    const name = 'A'.repeat(80); // 240 bytes once capitals are percent-encoded in a cache file name
    await expect(
      repo.addDelegation(
        'targets',
        new DelegatedRole({ name, keyids: [releases.keyid], threshold: 1, terminating: false, paths: ['*'] }),
        [releases.key],
      ),
    ).rejects.toMatchObject({ code: 'UNSAFE_NAME' });
  });

  it.each([
    ['a bidi override', 'team\u202eppa'],
    ['a zero-width space', 'rel\u200beases'],
    ['a C1 control', 'team\u009b2J'],
    ['a line separator', 'team\u2028x'],
  ])('refuses a new role name with %s, showing it escaped', async (_what, name) => {
    const repo = await open();
    const add = repo.addDelegation(
      'targets',
      new DelegatedRole({ name, keyids: [releases.keyid], threshold: 1, terminating: false, paths: ['*'] }),
      [releases.key],
    );
    await expect(add).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('visible characters'),
    });
    const message = await add.catch((e: Error) => e.message);
    expect(message).not.toMatch(/[\u202e\u200b\u009b\u2028]/);
    expect(repo.hasChanges).toBe(false);
  });

  it('removes a delegation', async () => {
    const repo = await open();
    await repo.removeDelegation('targets', 'releases');
    await repo.publish();
    expect((await (await open()).getTargets()).delegations).toBeUndefined();
  });
});

describe('hash bins', () => {
  it('assigns targets to bins and re-signs only the bin that changed', async () => {
    const bins = fixedSigner(130);
    const repo = await open([...Object.values(keys), bins]);
    await repo.removeTarget('registry.example.com/team/app:1.0');
    await repo.setSuccinctDelegation('targets', { keys: [bins.key], bitLength: 4, namePrefix: 'bin' });
    await repo.addTargets(Array.from({ length: 500 }, (_, i) => target(`img:${i}`, i + 1)));
    await repo.publish();
    const again = await open([...Object.values(keys), bins]);
    await again.addTargets([target('img:new', 999)]);
    const r = await again.publish();
    expect(r.written).toHaveLength(3);
    expect(r.written[0]).toMatch(/^metadata\/2\.bin-[0-9a-f]\.json$/);
    const { updater } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('img:new')).toMatchObject({ role: expect.stringMatching(/^bin-/) });
    expect(await updater.getTargetInfo('img:250')).toBeDefined();
  });
});

describe('crash consistency', () => {
  it('leaves the previous repository valid if publishing stops at any write', async () => {
    let i = 0;
    for (;;) {
      const copy = new MemoryRepositoryStorage();
      for (const [k, v] of storage.files) copy.files.set(k, v);
      const repo = await Repository.open(copy, { signers: Object.values(keys), now: () => NOW });
      await repo.addTargets([target('crash', 42)]);
      repo.rotateKeys('timestamp', { threshold: 1 });
      let n = 0;
      copy.beforeWrite = () => {
        if (n++ === i) throw new Error('crash');
      };
      const crashed = await repo.publish().then(
        () => false,
        () => true,
      );
      copy.beforeWrite = undefined;
      const { updater } = await client(copy, { now: NOW });
      await updater.refresh();
      const found = await updater.getTargetInfo('crash');
      expect(found !== undefined).toBe(!crashed);
      if (!crashed) break;
      i++;
    }
    expect(i).toBeGreaterThan(2);
  });
});

describe('converting to hash bins', () => {
  it('moves every target into its bin and clients still find them', async () => {
    const repo = await open();
    await repo.addTargets(Array.from({ length: 3000 }, (_, i) => target(`img:${i}`, i + 1)));
    await repo.publish();
    const again = await open();
    const bins = await again.useHashBins({ keys: [keys.targets.key] });
    expect(bins).toHaveLength(64); // 3001 targets: about √3001 bins (defaultBitLength)
    await again.publish();
    expect((await (await open()).getTargets()).targets.size).toBe(0);
    const { updater } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('img:2999')).toMatchObject({ role: expect.stringMatching(/^bins-/) });
    expect(await updater.getTargetInfo('registry.example.com/team/app:1.0')).toBeDefined();
    await expect((await open()).useHashBins({ keys: [keys.targets.key] })).rejects.toMatchObject({
      code: 'USAGE',
    });
  });
});

describe('role names as file names', () => {
  it('refuses delegated role names that cannot be one file name', async () => {
    const repo = await open();
    for (const name of ['a/b', '..', '.', 'x\\y', 'nl\nx', '']) {
      await expect(
        repo.addDelegation(
          'targets',
          new DelegatedRole({
            name,
            keyids: [keys.targets.keyid],
            threshold: 1,
            terminating: false,
            paths: ['*'],
          }),
          [keys.targets.key],
        ),
      ).rejects.toMatchObject({ code: 'UNSAFE_NAME' });
    }
  });
});

describe('nested delegations', () => {
  it('publishes and verifies a role delegated by a delegated role', async () => {
    const [team, nested] = [fixedSigner(140), fixedSigner(141)];
    const repo = await open([...Object.values(keys), team, nested]);
    await repo.addDelegation(
      'targets',
      new DelegatedRole({
        name: 'team',
        keyids: [team.keyid],
        threshold: 1,
        terminating: false,
        paths: ['team/*'],
      }),
      [team.key],
    );
    await repo.addDelegation(
      'team',
      new DelegatedRole({
        name: 'nested',
        keyids: [nested.keyid],
        threshold: 1,
        terminating: false,
        paths: ['team/n*'],
      }),
      [nested.key],
    );
    await repo.addTargets([target('team/n1', 3)], { role: 'nested' });
    await repo.publish();
    const again = await open([...Object.values(keys), team, nested]);
    await again.addTargets([target('team/n2', 4)], { role: 'nested' });
    await again.publish();
    const { updater } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('team/n2')).toMatchObject({ role: 'nested' });
    // Re-keying the nested role in its delegator re-signs it, and the result verifies.
    const other = fixedSigner(142);
    const third = await open([...Object.values(keys), team, other]);
    await third.rotateDelegatedKeys('team', 'nested', { add: [other.key], remove: [nested.keyid] });
    await third.publish();
    const fresh = await client(storage, { now: NOW });
    expect(await fresh.updater.getTargetInfo('team/n1')).toMatchObject({ role: 'nested' });
  });
});

describe('large roles', () => {
  it('are written compact, still parse, and verify in a client (with a PEM key in the role)', async () => {
    const ec = await (await import('../../src/crypto/keygen.js')).generateKeyPair('ecdsa-p256');
    const repo = await open([...Object.values(keys), ec.signer]);
    await repo.addDelegation(
      'targets',
      new DelegatedRole({
        name: 'ec',
        keyids: [ec.key.keyid()],
        threshold: 1,
        terminating: false,
        paths: ['ec/*'],
      }),
      [ec.key],
    );
    await repo.addTargets(Array.from({ length: 1500 }, (_, i) => target(`big:${i}`, i + 1)));
    const r = await repo.publish();
    const file = storage.files.get(
      r.written.find((p) => p.endsWith('.targets.json')) as string,
    ) as Uint8Array;
    expect(new TextDecoder().decode(file.subarray(0, 3))).toBe('{"s');
    const { updater } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('big:1499')).toBeDefined();
  });
});
