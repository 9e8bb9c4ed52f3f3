/**
 * `Repository.stageSignedMetadata` and `createFromSignedRoot`: metadata signed by a publisher
 * elsewhere, staged by a repository that holds only the online keys (a trust server). Every
 * refusal is tested by an upload that a client would refuse, or that names a stale version.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { Key } from '../../src/crypto/key.js';
import type { PrivateKeySigner } from '../../src/crypto/signer.js';
import {
  ConflictError,
  FormatError,
  StaleVersionError,
  ThresholdError,
  UsageError,
  ValueError,
  VersionMismatchError,
} from '../../src/errors.js';
import { TargetFile } from '../../src/metadata/files.js';
import { Metadata } from '../../src/metadata/metadata.js';
import { DelegatedRole } from '../../src/metadata/roles.js';
import { type Root, SPECIFICATION_VERSION, Targets } from '../../src/metadata/signed.js';
import { Repository } from '../../src/repository/repository.js';
import { MemoryRepositoryStorage } from '../../src/repository/storage.js';
import { fixedSigner } from '../helpers/keys.js';
import { client } from './helpers.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const now = () => NOW;
const [ROOT1, ROOT2, TARGETS, SNAPSHOT, TIMESTAMP, DELEGATE, OTHER] = [301, 302, 303, 304, 305, 306, 307].map(
  (n) => fixedSigner(n),
) as [PrivateKeySigner, ...PrivateKeySigner[]] as PrivateKeySigner[];
const online = () => [SNAPSHOT as PrivateKeySigner, TIMESTAMP as PrivateKeySigner];

const LATER = new Date('2031-01-01T00:00:00Z');

/** Metadata signed by one key, as a publisher's tool would make it. */
async function signed(t: Targets, by: PrivateKeySigner): Promise<Metadata> {
  const md = new Metadata(t);
  await md.sign(by);
  return Metadata.fromBytes(md.toBytes());
}

function target(path: string, seed = 1): TargetFile {
  return new TargetFile(path, 10, new Map([['sha256', String(seed).repeat(64).slice(0, 64)]]));
}

/**
 * What a publisher sends: the metadata its edit produces on a copy of `storage`, signed with
 * `signers` only (snapshot and timestamp stay unsigned: the server signs those).
 */
async function signedElsewhere(
  storage: MemoryRepositoryStorage,
  signers: PrivateKeySigner[],
  edit: (repo: Repository) => Promise<void> | void,
): Promise<Map<string, Metadata>> {
  const copy = new MemoryRepositoryStorage();
  for (const [p, b] of storage.files) copy.files.set(p, b);
  const repo = await Repository.open(copy, { signers, now });
  await edit(repo);
  const { prepared } = await repo.prepare({ allowPending: true });
  prepared.delete('snapshot');
  prepared.delete('timestamp');
  // Through bytes, as an upload arrives.
  return new Map([...prepared].map(([role, md]) => [role, Metadata.fromBytes(md.toBytes())]));
}

/** Root version 1 and targets version 1, made by a publisher with its offline keys. */
async function firstUpload(): Promise<{ root: Metadata<Root>; targets: Metadata }> {
  const scratch = new MemoryRepositoryStorage();
  const repo = await Repository.create(scratch, {
    keys: {
      root: [(ROOT1 as PrivateKeySigner).key],
      targets: [(TARGETS as PrivateKeySigner).key],
      snapshot: [(SNAPSHOT as PrivateKeySigner).key],
      timestamp: [(TIMESTAMP as PrivateKeySigner).key],
    },
    signers: [ROOT1 as PrivateKeySigner, TARGETS as PrivateKeySigner],
    now,
  });
  const { prepared } = await repo.prepare({ allowPending: true });
  return {
    root: Metadata.fromBytes((prepared.get('root') as Metadata).toBytes(), 'root'),
    targets: Metadata.fromBytes((prepared.get('targets') as Metadata).toBytes(), 'targets'),
  };
}

let storage: MemoryRepositoryStorage;

beforeEach(async () => {
  storage = new MemoryRepositoryStorage();
  const { root, targets } = await firstUpload();
  const repo = await Repository.createFromSignedRoot(storage, root, { signers: online(), now });
  repo.stageSignedMetadata('targets', targets);
  await repo.publish();
});

async function server(): Promise<Repository> {
  return Repository.open(storage, { signers: online(), now });
}

describe('a repository created from a root signed elsewhere', () => {
  it('publishes root 1 and targets 1 with snapshot and timestamp signed by the online keys', async () => {
    const { updater } = await client(storage, { now: NOW });
    await updater.refresh();
    expect(updater.trustedSet?.snapshot?.signed.version).toBe(1);
  });

  it('refuses to start over a repository, and a root that is not version 1', async () => {
    const { root } = await firstUpload();
    await expect(Repository.createFromSignedRoot(storage, root)).rejects.toBeInstanceOf(ConflictError);
    const repo = await server();
    repo.rotateKeys('targets', { add: [(OTHER as PrivateKeySigner).key] });
    const { prepared } = await repo.prepare({ allowPending: true });
    const v2 = prepared.get('root') as Metadata<Root>;
    await expect(Repository.createFromSignedRoot(new MemoryRepositoryStorage(), v2)).rejects.toBeInstanceOf(
      VersionMismatchError,
    );
  });

  it('refuses a first upload whose root is not signed by its root keys', async () => {
    const { root, targets } = await firstUpload();
    root.signatures.clear();
    const fresh = new MemoryRepositoryStorage();
    const repo = await Repository.createFromSignedRoot(fresh, root, { signers: online(), now });
    repo.stageSignedMetadata('targets', targets);
    await expect(repo.publish()).rejects.toBeInstanceOf(ThresholdError);
    expect(fresh.files.size).toBe(0);
  });
});

describe('stageSignedMetadata', () => {
  it('publishes a new targets version exactly as signed, and a client sees it', async () => {
    const up = await signedElsewhere(storage, [TARGETS as PrivateKeySigner], (r) =>
      r.addTargets([target('app')]),
    );
    const repo = await server();
    repo.stageSignedMetadata('targets', up.get('targets') as Metadata);
    const r = await repo.publish();
    expect(r.versions.get('targets')).toBe(2);
    expect(storage.files.get('metadata/2.targets.json')).toEqual((up.get('targets') as Metadata).toBytes());
    const { updater } = await client(storage, { now: NOW });
    expect((await updater.getTargetInfo('app'))?.target.path).toBe('app');
  });

  it("verifies each signature of an upload once, in the publish's self-check", async () => {
    const up = await signedElsewhere(storage, [TARGETS as PrivateKeySigner], (r) =>
      r.addTargets([target('once')]),
    );
    const uploaded = up.get('targets') as Metadata;
    const sig = [...uploaded.signatures.values()][0]?.sig;
    const repo = await server();
    repo.stageSignedMetadata('targets', uploaded);
    const verify = vi.spyOn(Key.prototype, 'verify');
    try {
      await repo.publish();
      expect(verify.mock.calls.filter(([, s]) => s === sig)).toHaveLength(1);
    } finally {
      verify.mockRestore();
    }
  });

  it('names the current version when the upload is stale, and refuses a skipped version', async () => {
    const up = await signedElsewhere(storage, [TARGETS as PrivateKeySigner], (r) =>
      r.addTargets([target('a')]),
    );
    const first = await server();
    first.stageSignedMetadata('targets', up.get('targets') as Metadata);
    await first.publish();
    // The same version again: another publisher's version 2 is already published.
    const again = await server();
    let err: unknown;
    try {
      again.stageSignedMetadata('targets', up.get('targets') as Metadata);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StaleVersionError);
    expect(err).toMatchObject({ code: 'CONFLICT', role: 'targets', current: 2 });
    // Version 4 after 2 skips 3.
    const four = await signed(
      new Targets({ version: 4, specVersion: SPECIFICATION_VERSION, expires: LATER, targets: new Map() }),
      TARGETS as PrivateKeySigner,
    );
    expect(() => again.stageSignedMetadata('targets', four)).toThrow(VersionMismatchError);
  });

  it('refuses targets signed by a key root does not authorise, and writes nothing', async () => {
    const up = await signedElsewhere(storage, [OTHER as PrivateKeySigner], (r) =>
      r.addTargets([target('evil')]),
    );
    const before = new Map(storage.files);
    const repo = await server();
    repo.stageSignedMetadata('targets', up.get('targets') as Metadata);
    await expect(repo.publish()).rejects.toBeInstanceOf(ThresholdError);
    expect(storage.files).toEqual(before);
  });

  it('refuses snapshot and timestamp, and metadata of the wrong type', async () => {
    const repo = await server();
    const ts = await repo.publishedMetadata('timestamp');
    expect(() => repo.stageSignedMetadata('timestamp', ts)).toThrow(UsageError);
    expect(() => repo.stageSignedMetadata('targets', repo.rootMetadata)).toThrow(FormatError);
  });

  it('refuses a delegated role listing a target outside its delegated paths', async () => {
    const d = DELEGATE as PrivateKeySigner;
    const role = new DelegatedRole({
      name: 'team',
      keyids: [d.keyid],
      threshold: 1,
      terminating: false,
      paths: ['team/*'],
    });
    const up = await signedElsewhere(storage, [TARGETS as PrivateKeySigner, d], async (r) => {
      await r.addDelegation('targets', role, [d.key]);
    });
    const repo = await server();
    for (const [name, md] of up) repo.stageSignedMetadata(name, md);
    await repo.publish();

    // The delegate signs a target outside team/*: a client would never look for it there.
    const bad = await signed(
      new Targets({
        version: 2,
        specVersion: SPECIFICATION_VERSION,
        expires: LATER,
        targets: new Map([['other/app', target('other/app')]]),
      }),
      d,
    );
    const repo2 = await server();
    repo2.stageSignedMetadata('team', bad);
    await expect(repo2.publish()).rejects.toBeInstanceOf(ValueError);

    const good = await signedElsewhere(storage, [d], (r) =>
      r.addTargets([target('team/app')], { role: 'team' }),
    );
    const repo3 = await server();
    repo3.stageSignedMetadata('team', good.get('team') as Metadata);
    expect((await repo3.publish()).versions.get('team')).toBe(2);
  });

  it('takes a new root signed by the old and the new root keys, and refuses one signed by the new only', async () => {
    const r2 = ROOT2 as PrivateKeySigner;
    const onlyNew = await signedElsewhere(storage, [r2], (r) => {
      r.rotateKeys('root', { add: [r2.key], remove: [(ROOT1 as PrivateKeySigner).keyid] });
    });
    const refused = await server();
    refused.stageSignedMetadata('root', onlyNew.get('root') as Metadata);
    await expect(refused.publish()).rejects.toBeInstanceOf(ThresholdError);

    const both = await signedElsewhere(storage, [ROOT1 as PrivateKeySigner, r2], (r) => {
      r.rotateKeys('root', { add: [r2.key], remove: [(ROOT1 as PrivateKeySigner).keyid] });
    });
    const repo = await server();
    repo.stageSignedMetadata('root', both.get('root') as Metadata);
    const r = await repo.publish();
    expect(r.written).toContain('metadata/2.root.json');
    const { updater } = await client(storage, { now: NOW });
    await updater.refresh();
    expect(updater.trustedSet?.root.signed.version).toBe(2);
  });
});

describe('an upload that changes the keys of hash bins it does not re-sign', () => {
  it('is refused: every bin must still verify under the keys the new targets names', async () => {
    const tags = ['a', 'b', 'c', 'd', 'e', 'f'].map((p, i) => target(p, i + 1));
    const binned = await signedElsewhere(storage, [TARGETS as PrivateKeySigner], async (r) => {
      await r.useHashBins({ keys: [(TARGETS as PrivateKeySigner).key], bitLength: 2 });
      await r.addTargets(tags);
    });
    const repo = await server();
    for (const [role, md] of binned) repo.stageSignedMetadata(role, md);
    await repo.publish();

    // targets version 3: the bins now trusted for OTHER's key, no bin re-signed.
    const v2 = binned.get('targets') as Metadata<Targets>;
    const json = structuredClone(v2.signed.toJSON()) as {
      version: number;
      delegations: { keys: Record<string, unknown>; succinct_roles: { keyids: string[] } };
    };
    const other = (OTHER as PrivateKeySigner).key;
    json.version = 3;
    json.delegations.keys = { [other.keyid()]: other.toJSON() };
    json.delegations.succinct_roles.keyids = [other.keyid()];
    const rekeyed = await signed(Targets.fromJSON(json), TARGETS as PrivateKeySigner);
    const before = new Map(storage.files);
    const next = await server();
    next.stageSignedMetadata('targets', rekeyed);
    await expect(next.publish()).rejects.toBeInstanceOf(ThresholdError);
    expect(storage.files).toEqual(before);
  });
});
