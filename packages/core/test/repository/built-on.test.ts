/**
 * A publisher never signs over published metadata that does not verify (built-on.ts). The
 * attacker here controls storage and holds the online keys, as a compromised trust server or
 * registry does: it rewrites a targets role (signatures left as they were), then re-signs
 * snapshot and timestamp so that everything else is consistent. Without the check, the
 * publisher's next edit of that role would sign the attacker's entries with the publisher's key.
 */
import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { PrivateKeySigner } from '../../src/crypto/signer.js';
import { canonicalBytes } from '../../src/json/canonical.js';
import { TargetFile } from '../../src/metadata/files.js';
import { DelegatedRole } from '../../src/metadata/roles.js';
import { Repository } from '../../src/repository/repository.js';
import { MemoryRepositoryStorage } from '../../src/repository/storage.js';
import { fixedSigner } from '../helpers/keys.js';
import { client } from './helpers.js';

const NOW = new Date('2030-01-01T00:00:00Z');
// biome-ignore lint/suspicious/noExplicitAny: metadata as the attacker edits it, as JSON
type Json = Record<string, any>;

let storage: MemoryRepositoryStorage;
let keys: Record<'root' | 'targets' | 'snapshot' | 'timestamp' | 'releases' | 'attacker', PrivateKeySigner>;

const target = (path: string, n = 1) =>
  new TargetFile(path, 100 + n, new Map([['sha256', n.toString(16).padStart(64, '0')]]));
const json = (b: Uint8Array | undefined): Json => JSON.parse(new TextDecoder().decode(b));
const file = (path: string): Json => json(storage.files.get(path));
const open = (options: { trustedRoot?: Uint8Array } = {}) =>
  Repository.open(storage, { signers: Object.values(keys), now: () => NOW, ...options });

async function signed(body: Json, signers: PrivateKeySigner[]): Promise<Uint8Array> {
  const signatures = [];
  for (const s of signers) signatures.push((await s.sign(canonicalBytes(body))).toJSON());
  return new TextEncoder().encode(JSON.stringify({ signatures, signed: body }));
}

/** A parent's entry for `bytes`, re-stated as the parent lists entries (length, hashes). */
function restate(entry: Json, bytes: Uint8Array): void {
  if (entry.length !== undefined) entry.length = bytes.length;
  if (entry.hashes) entry.hashes = { sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * What a storage owner with the online keys can do: rewrite `role`'s published file (its
 * signatures untouched), then re-sign snapshot and timestamp (same versions) to match it.
 */
async function forge(role: string, edit: (signed: Json) => void): Promise<void> {
  const ts = file('metadata/timestamp.json');
  const snPath = `metadata/${ts.signed.meta['snapshot.json'].version}.snapshot.json`;
  const sn = file(snPath);
  const entry = sn.signed.meta[`${role}.json`];
  const path = `metadata/${entry.version}.${role}.json`;
  const doc = file(path);
  edit(doc.signed);
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  storage.files.set(path, bytes);
  restate(entry, bytes);
  const snBytes = await signed(sn.signed, [keys.snapshot]);
  storage.files.set(snPath, snBytes);
  restate(ts.signed.meta['snapshot.json'], snBytes);
  storage.files.set('metadata/timestamp.json', await signed(ts.signed, [keys.timestamp]));
}

const evil = { length: 1, hashes: { sha256: 'e'.repeat(64) } };

beforeEach(async () => {
  storage = new MemoryRepositoryStorage();
  keys = {
    root: fixedSigner(121),
    targets: fixedSigner(122),
    snapshot: fixedSigner(123),
    timestamp: fixedSigner(124),
    releases: fixedSigner(125),
    attacker: fixedSigner(126),
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
  await repo.addTargets([target('app:1.0')]);
  await repo.addDelegation(
    'targets',
    new DelegatedRole({
      name: 'releases',
      keyids: [keys.releases.keyid],
      threshold: 1,
      terminating: false,
      paths: ['rel-*'],
    }),
    [keys.releases.key],
  );
  await repo.addTargets([target('rel-1', 2)], { role: 'releases' });
  await repo.publish();
});

describe('the publisher verifies what it builds on', () => {
  it('refuses to sign over a targets role rewritten in storage, and writes nothing', async () => {
    await forge('targets', (s) => {
      s.targets.evil = evil;
    });
    const before = new Map(storage.files);
    const repo = await open();
    await expect(repo.addTargets([target('app:2.0', 3)])).rejects.toMatchObject({
      code: 'THRESHOLD',
      message: expect.stringMatching(
        /^published targets version 1: expected 1 valid signature\(s\) from its keys, found 0 \(refusing to sign over metadata that does not verify\)$/,
      ),
    });
    await expect(repo.publish()).rejects.toMatchObject({ code: 'THRESHOLD' });
    expect(storage.files).toEqual(before);
  });

  it('a file that no longer matches after timestamp.json moved on is a conflict (retried), not a refusal', async () => {
    const repo = await open();
    // Another publisher (here: the same forgery) wrote after this one opened.
    await forge('targets', (s) => {
      s.targets.evil = evil;
    });
    await expect(repo.addTargets([target('app:2.0', 3)])).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/changed while metadata\/\d+\.targets\.json was read/),
      cause: expect.objectContaining({ code: 'LENGTH_OR_HASH' }),
    });
  });

  it('opened for inspection only, a forged repository can be read but nothing signed over it', async () => {
    await forge('targets', (s) => {
      s.targets.evil = evil;
    });
    const repo = await Repository.open(storage, {
      signers: Object.values(keys),
      now: () => NOW,
      inspectOnly: true,
    });
    expect((await repo.listTargets()).map((t) => t.path)).toContain('evil');
    await repo.addTargets([target('app:2.0', 3)]);
    const before = new Map(storage.files);
    await expect(repo.publish()).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringMatching(/inspection only/),
    });
    await expect(repo.prepare()).rejects.toMatchObject({ code: 'USAGE' });
    expect(storage.files).toEqual(before);
  });

  it('refuses a delegated role rewritten in storage', async () => {
    await forge('releases', (s) => {
      s.targets['rel-evil'] = evil;
    });
    const repo = await open();
    await expect(repo.addTargets([target('rel-2', 4)], { role: 'releases' })).rejects.toMatchObject({
      code: 'THRESHOLD',
      message: expect.stringMatching(/^published releases version \d+: expected 1 valid signature/),
    });
  });

  it('refuses a delegation whose keys were swapped in storage (the delegator does not verify)', async () => {
    await forge('targets', (s) => {
      const keyid = keys.attacker.keyid;
      s.delegations.keys[keyid] = keys.attacker.key.toJSON();
      s.delegations.roles[0].keyids = [keyid];
    });
    await forge('releases', (s) => {
      s.targets['rel-evil'] = evil;
    });
    const repo = await open();
    await expect(repo.addTargets([target('rel-2', 4)], { role: 'releases' })).rejects.toMatchObject({
      code: 'THRESHOLD',
      message: expect.stringMatching(/^published targets version/),
    });
  });

  it('refuses a hash bin rewritten in storage, on an edit and on re-binning', async () => {
    let repo = await open();
    await repo.useHashBins({ keys: [keys.targets.key], bitLength: 1 });
    await repo.addTargets(Array.from({ length: 20 }, (_, i) => target(`bin-tag-${i}`, 10 + i)));
    await repo.publish();
    await forge('bins-0', (s) => {
      s.targets['bin-evil'] = evil;
    });
    repo = await open();
    let tag = 'new-0';
    for (let i = 1; (await repo.roleForTarget(tag)) !== 'bins-0'; i++) tag = `new-${i}`;
    // Staged compact; the bin is read when it is published, bin by bin.
    await repo.addTargets([target(tag, 99)]);
    const before = new Map(storage.files);
    await expect(repo.publish()).rejects.toMatchObject({
      code: 'THRESHOLD',
      message: expect.stringMatching(/^published bins-0 version \d+: expected 1 valid signature/),
    });
    expect(storage.files).toEqual(before);
    await expect((await open()).rebinHashBins(3)).rejects.toMatchObject({
      code: 'THRESHOLD',
      message: expect.stringMatching(/^published bins-0 version/),
    });
  });

  it('refuses a snapshot or timestamp the online keys did not sign, and a snapshot the timestamp does not list', async () => {
    const ts = file('metadata/timestamp.json');
    storage.files.set('metadata/timestamp.json', await signed(ts.signed, [keys.attacker]));
    await expect(open()).rejects.toMatchObject({
      code: 'THRESHOLD',
      message: expect.stringMatching(/^published timestamp version \d+: /),
    });
    const snPath = `metadata/${ts.signed.meta['snapshot.json'].version}.snapshot.json`;
    const sn = file(snPath);
    const snBytes = await signed(sn.signed, [keys.attacker]);
    storage.files.set(snPath, snBytes);
    restate(ts.signed.meta['snapshot.json'], snBytes);
    storage.files.set('metadata/timestamp.json', await signed(ts.signed, [keys.timestamp]));
    await expect(open()).rejects.toMatchObject({
      code: 'THRESHOLD',
      message: expect.stringMatching(/^published snapshot version \d+: /),
    });
    sn.signed.version += 1;
    storage.files.set(snPath, await signed(sn.signed, [keys.snapshot]));
    delete ts.signed.meta['snapshot.json'].hashes;
    delete ts.signed.meta['snapshot.json'].length;
    storage.files.set('metadata/timestamp.json', await signed(ts.signed, [keys.timestamp]));
    await expect(open()).rejects.toMatchObject({ code: 'VERSION_MISMATCH' });
  });

  it('walks the root chain from a pinned root, and refuses a root the pinned one did not sign', async () => {
    const pinned = storage.files.get('metadata/1.root.json') as Uint8Array;
    const newRoot = fixedSigner(127);
    // A genuine rotation (version 2, signed by the old and the new root key) is followed.
    const repo = await open({ trustedRoot: pinned });
    repo.rotateKeys('root', { add: [newRoot.key], remove: [keys.root.keyid] });
    repo.addSigner(newRoot);
    await repo.publish();
    expect((await open({ trustedRoot: pinned })).rootMetadata.signed.version).toBe(2);
    // A version 3 whose root key is the attacker's, signed by that key alone.
    const root = file('metadata/2.root.json');
    root.signed.version = 3;
    root.signed.keys[keys.attacker.keyid] = keys.attacker.key.toJSON();
    root.signed.roles.root.keyids = [keys.attacker.keyid];
    const forged = await signed(root.signed, [keys.attacker]);
    storage.files.set('metadata/3.root.json', forged);
    storage.files.set('metadata/root.json', forged);
    await expect(open({ trustedRoot: pinned })).rejects.toMatchObject({
      code: 'THRESHOLD',
      message: expect.stringMatching(/^published root version 3 by the keys of version 2: /),
    });
    // Without a pin the chain starts at the version before root.json: the forgery is refused too.
    await expect(open()).rejects.toMatchObject({
      code: 'THRESHOLD',
      message: expect.stringMatching(/^published root version 3 by the keys of version 2: /),
    });
  });

  it('refuses a first root that its own root keys did not sign', async () => {
    const root = file('metadata/1.root.json');
    const forged = await signed(root.signed, [keys.attacker]);
    storage.files.set('metadata/1.root.json', forged);
    storage.files.set('metadata/root.json', forged);
    await expect(open()).rejects.toMatchObject({
      code: 'THRESHOLD',
      message: expect.stringMatching(/^published root version 1 by its own keys: /),
    });
  });

  it('refuses a storage whose root is another root of the pinned version', async () => {
    const other = new MemoryRepositoryStorage();
    const k = [keys.attacker.key];
    await (
      await Repository.create(other, {
        keys: { root: k, targets: [keys.targets.key], snapshot: k, timestamp: k },
        signers: [keys.attacker, keys.targets],
        now: () => NOW,
      })
    ).publish();
    await expect(
      open({ trustedRoot: other.files.get('metadata/1.root.json') as Uint8Array }),
    ).rejects.toMatchObject({
      code: 'ROOT_NOT_IN_CHAIN',
      message: expect.stringMatching(
        /^published root.json \(version 1\) is not the root version 1 of the chain from the pinned root/,
      ),
    });
  });

  it('refuses a storage whose root is older than the pinned one', async () => {
    const newRoot = fixedSigner(127);
    const repo = await open();
    repo.rotateKeys('root', { add: [newRoot.key], remove: [keys.root.keyid] });
    repo.addSigner(newRoot);
    await repo.publish();
    const pinned = storage.files.get('metadata/2.root.json') as Uint8Array;
    storage.files.delete('metadata/2.root.json');
    storage.files.set('metadata/root.json', storage.files.get('metadata/1.root.json') as Uint8Array);
    await expect(open({ trustedRoot: pinned })).rejects.toMatchObject({ code: 'ROLLBACK' });
  });

  it('a repository left as published verifies and takes edits, a client seeing them', async () => {
    const repo = await open({ trustedRoot: storage.files.get('metadata/1.root.json') as Uint8Array });
    await repo.addTargets([target('app:2.0', 3)]);
    await repo.addTargets([target('rel-2', 4)], { role: 'releases' });
    await repo.publish();
    const { updater } = await client(storage, { now: NOW });
    await updater.refresh();
    expect(await updater.getTargetInfo('rel-2')).toBeDefined();
  });
});
