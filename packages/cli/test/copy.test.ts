/**
 * copyRepository (`tufa publish --to`) as data, on in-memory storages: what is copied and in
 * which order, and each check on the source refusing before anything is written — a broken
 * signature, a missing file, a delegated role at another version than the snapshot names,
 * expiry, no consistent snapshots. (Against a registry and a server: cli-publish-copy.test.ts,
 * cli-server-publish.test.ts.)
 */
import {
  DelegatedRole,
  MemoryRepositoryStorage,
  Repository,
  TargetFile,
  type TufError,
  withRepository,
} from '@tufa/core';
import { describe, expect, it } from 'vitest';
import { fixedSigner, topLevelKeys } from '../../oci/test/helpers/keys.js';
import { copyRepository } from '../src/copy.js';

const keys = {
  root: fixedSigner(61),
  root2: fixedSigner(62),
  targets: fixedSigner(63),
  snapshot: fixedSigner(64),
  timestamp: fixedSigner(65),
  team: fixedSigner(66),
};
const signers = Object.values(keys);
const names = { from: 'SOURCE', to: 'DESTINATION', latestRootFile: true };

async function published(options: { consistentSnapshot?: boolean } = {}): Promise<MemoryRepositoryStorage> {
  const s = new MemoryRepositoryStorage();
  const repo = await Repository.create(s, { keys: topLevelKeys(keys), signers, ...options });
  await repo.addTargets([new TargetFile('app:1', 10, new Map([['sha256', 'a'.repeat(64)]]))]);
  await repo.publish();
  return s;
}

async function withDelegationAndRotation(): Promise<MemoryRepositoryStorage> {
  const s = await published();
  await withRepository(s, { signers }, async (repo) => {
    await repo.addDelegation(
      'targets',
      new DelegatedRole({
        name: 'team',
        keyids: [keys.team.keyid],
        threshold: 1,
        terminating: false,
        paths: ['team/*'],
      }),
      [keys.team.key],
    );
    await repo.addTargets([new TargetFile('team/app:1', 11, new Map([['sha256', 'b'.repeat(64)]]))], {
      role: 'team',
    });
  });
  await withRepository(s, { signers }, async (repo) => {
    repo.rotateKeys('root', { add: [keys.root2.key] });
  });
  return s;
}

async function refused(from: MemoryRepositoryStorage, now?: Date): Promise<TufError> {
  const to = new MemoryRepositoryStorage();
  const e = await copyRepository(from, to, { ...names, ...(now ? { now } : {}) }).then(
    () => undefined,
    (x: unknown) => x as TufError,
  );
  expect(e, 'the copy was not refused').toBeDefined();
  expect([...to.files.keys()]).toEqual([]); // nothing written
  return e as TufError;
}

describe('copyRepository', () => {
  it('copies every root, the current snapshot and the role versions it names, timestamp last', async () => {
    const from = await withDelegationAndRotation();
    const to = new MemoryRepositoryStorage();
    const progress: string[] = [];
    const r = await copyRepository(from, to, { ...names, onProgress: (_d, _t, p) => progress.push(p) });
    expect(r.copied).toEqual([
      'metadata/1.root.json',
      'metadata/2.root.json',
      'metadata/2.targets.json',
      'metadata/1.team.json',
      'metadata/2.snapshot.json',
      'metadata/root.json',
      'metadata/timestamp.json',
    ]);
    expect(progress).toEqual(r.copied);
    for (const p of r.copied) expect([p, to.files.get(p)]).toEqual([p, from.files.get(p)]);
    expect(to.files.get('metadata/root.json')).toEqual(from.files.get('metadata/2.root.json'));
    const timestamp = JSON.parse(new TextDecoder().decode(from.files.get('metadata/timestamp.json')));
    expect(Object.fromEntries(r.versions)).toEqual({
      root: 2,
      timestamp: timestamp.signed.version,
      snapshot: 2,
      targets: 2,
      team: 1,
    });
    // Older versions of other roles are not reachable, and not copied.
    expect(from.files.has('metadata/1.targets.json')).toBe(true);
    expect(to.files.has('metadata/1.targets.json')).toBe(false);
    // A registry gets no root.json.
    const oci = new MemoryRepositoryStorage();
    const r2 = await copyRepository(from, oci, { ...names, latestRootFile: false });
    expect(r2.copied).not.toContain('metadata/root.json');
  });

  it('refuses a timestamp whose signature does not verify', async () => {
    const from = await published();
    const ts = JSON.parse(new TextDecoder().decode(from.files.get('metadata/timestamp.json')));
    const sig: string = ts.signatures[0].sig;
    ts.signatures[0].sig = `${sig[0] === '0' ? '1' : '0'}${sig.slice(1)}`;
    from.files.set('metadata/timestamp.json', new TextEncoder().encode(JSON.stringify(ts)));
    expect((await refused(from)).code).toBe('THRESHOLD');
  });

  it('refuses a source missing a file the snapshot names (exit 5)', async () => {
    const from = await withDelegationAndRotation();
    from.files.delete('metadata/1.team.json');
    const e = await refused(from);
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toContain('SOURCE: metadata/1.team.json is missing');
  });

  it('refuses a delegated role file that is not the version the snapshot names', async () => {
    const from = await withDelegationAndRotation();
    // The team role's later version under the name of version 1.
    await withRepository(from, { signers }, async (repo) => {
      await repo.addTargets([new TargetFile('team/app:2', 12, new Map([['sha256', 'c'.repeat(64)]]))], {
        role: 'team',
      });
    });
    const newer = from.files.get('metadata/2.team.json') as Uint8Array;
    // Roll the repository back to the state whose snapshot names team version 1.
    const back = await withDelegationAndRotation();
    back.files.set('metadata/1.team.json', newer);
    const e = await refused(back);
    expect(e.code).toBe('CONFLICT');
    expect(e.message).toContain('metadata/1.team.json is not version 1 of team');
  });

  it('refuses an expired source', async () => {
    const from = await published();
    expect((await refused(from, new Date(Date.now() + 400 * 86_400_000))).code).toBe('EXPIRED');
  });

  it('refuses a repository without consistent snapshots', async () => {
    const from = await published({ consistentSnapshot: false });
    const e = await refused(from);
    expect(e.code).toBe('USAGE');
    expect(e.message).toContain('does not use consistent snapshots');
  });
});
