/**
 * Uploads a client would refuse, sent to the server's HTTP API. The publish's self-check is the
 * one check of an upload's signatures (Repository.stageSignedMetadata), and the server judges
 * an upload with the repository it kept from the GUN's last upload (ADR 0027): each case comes
 * right after an accepted upload, so that kept repository is the one that judges it. Each is
 * answered with a 4xx and the client's error code, stores nothing, and the next good upload is
 * still taken. Each fails if the self-check ever stops covering what it names.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DelegatedRole,
  Delegations,
  MemoryMetadataStore,
  MemoryRepositoryStorage,
  Metadata,
  Repository,
  type Signer,
  SPECIFICATION_VERSION,
  TargetFile,
  Targets,
  Updater,
} from '@tufa/core';
import { HttpFetcher } from '@tufa/core/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerClient, ServerRepositoryStorage } from '../src/index.js';
import { fixedSigner } from './helpers/keys.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';

const ROOT = fixedSigner(111);
const NEW_ROOT = fixedSigner(112);
const T1 = fixedSigner(113);
const T2 = fixedSigner(114);
const TEAM = fixedSigner(115);
const TEAM_2 = fixedSigner(116);
const BINS = fixedSigner(117);
const STRANGER = fixedSigner(118);
const LONG = { root: 3650 * 86400, targets: 3650 * 86400 };

function target(path: string, seed: number): TargetFile {
  return new TargetFile(path, seed, new Map([['sha256', seed.toString(16).padStart(64, '0')]]));
}

let server: TestServer;
let client: ServerClient;

beforeAll(async () => {
  server = await startTestServer();
  client = new ServerClient({ url: server.url });
});
afterAll(async () => {
  await server?.stop();
});

/** Every file under the store directory, with its bytes (to prove a refusal stored nothing). */
async function storeFiles(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(p, (await readFile(p)).toString('base64'));
    }
  };
  await walk(server.dir);
  return out;
}

/** A GUN whose targets role needs two signatures (T1 and T2), with one accepted upload. */
async function created(gun: string): Promise<void> {
  await client.create(gun, {
    keys: { root: [ROOT.key], targets: [T1.key, T2.key] },
    thresholds: { targets: 2 },
    signers: [ROOT, T1, T2],
    expiry: LONG,
  });
  await client.publish(gun, { signers: [T1, T2] }, (r) => r.addTargets([target('first', 1)]));
}

/**
 * What a publisher holding `signers` would upload after `edit`, by role: the staged roles, each
 * signed by whichever of `signers` the published delegations name (nothing is sent here).
 */
async function staged(
  gun: string,
  signers: Signer[],
  edit: (r: Repository) => Promise<unknown>,
): Promise<Map<string, Metadata>> {
  const repo = await Repository.open(new ServerRepositoryStorage(client, gun), { signers, expiry: LONG });
  await edit(repo);
  const { files, prepared } = await repo.prepare({ allowPending: true });
  return new Map(
    files
      .filter((f) => f.role !== 'snapshot' && f.role !== 'timestamp')
      .map((f) => [f.role, prepared.get(f.role) as Metadata]),
  );
}

/** `md`'s signed part, signed by `signers` alone. */
async function signedBy(md: Metadata, signers: Signer[]): Promise<Metadata> {
  const out = new Metadata(md.signed);
  for (const s of signers) await out.sign(s);
  return out;
}

/** A copy of `md`'s signed part one version further on (unsigned; `md` is left as it is). */
function nextVersion(md: Metadata): Metadata {
  const copy = new Metadata(Metadata.fromBytes(md.toBytes(), md.signed.type).signed);
  (copy.signed as { version: number }).version += 1;
  return copy;
}

/** Posts an upload as any client could, and checks that the store is unchanged after it. */
async function refused(gun: string, roles: [string, Metadata][]): Promise<{ status: number; code: string }> {
  const before = await storeFiles();
  const r = await call(`${server.url}${gun}/metadata`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      roles: roles.map(([role, md]) => ({ role, metadata: Buffer.from(md.toBytes()).toString('base64') })),
    }),
  });
  expect(await storeFiles()).toEqual(before);
  return { status: r.status, code: r.json().error?.code };
}

/** What a client that trusts root 1 finds for `path` (its length), or undefined. */
async function found(gun: string, path: string): Promise<number | undefined> {
  const store = new MemoryMetadataStore();
  await store.write('root', (await client.readFile(gun, 'metadata/1.root.json')) as Uint8Array);
  const u = new Updater({ metadataBaseUrl: client.metadataUrl(gun), fetcher: new HttpFetcher(), store });
  return (await u.getTargetInfo(path))?.target.length;
}

describe('uploads the self-check refuses, judged by the repository kept from the last upload', () => {
  it('targets signed below the threshold, or by a key root does not name', async () => {
    const gun = 'refusals.test/threshold';
    await created(gun);
    const up = (await staged(gun, [T1, T2], (r) => r.addTargets([target('evil', 2)]))).get(
      'targets',
    ) as Metadata;
    expect(await refused(gun, [['targets', await signedBy(up, [T1])]])).toEqual({
      status: 400,
      code: 'THRESHOLD',
    });
    expect(await refused(gun, [['targets', await signedBy(up, [T1, STRANGER])]])).toEqual({
      status: 400,
      code: 'THRESHOLD',
    });
    // Signed as the root asks, it is taken.
    await client.upload(gun, [{ role: 'targets', metadata: up }]);
    expect(await found(gun, 'evil')).toBe(2);
  });

  it('a targets version that skips one', async () => {
    const gun = 'refusals.test/version';
    await created(gun);
    const up = (await staged(gun, [T1, T2], (r) => r.addTargets([target('skip', 3)]))).get(
      'targets',
    ) as Metadata;
    const skipped = nextVersion(up);
    expect(await refused(gun, [['targets', await signedBy(skipped, [T1, T2])]])).toEqual({
      status: 400,
      code: 'VERSION_MISMATCH',
    });
  });

  it('a delegated role signed by a key its delegator does not list, also when the delegator changes with it', async () => {
    const gun = 'refusals.test/delegated';
    await created(gun);
    const team = new DelegatedRole({
      name: 'team',
      keyids: [TEAM.keyid],
      threshold: 1,
      terminating: true,
      paths: ['team/*'],
    });
    await client.publish(gun, { signers: [T1, T2, TEAM] }, async (r) => {
      await r.addDelegation('targets', team, [TEAM.key]);
      await r.addTargets([target('team/a', 4)], { role: 'team' });
    });
    // The next version of team, signed by a key targets does not list for it.
    const next = (
      await staged(gun, [TEAM], (r) => r.addTargets([target('team/b', 5)], { role: 'team' }))
    ).get('team') as Metadata;
    expect(await refused(gun, [['team', await signedBy(next, [STRANGER])]])).toEqual({
      status: 400,
      code: 'THRESHOLD',
    });
    // targets hands team to TEAM_2 in the same upload: team signed by the old key is refused...
    const handed = await staged(gun, [T1, T2, TEAM_2], async (r) => {
      await r.rotateDelegatedKeys('targets', 'team', { add: [TEAM_2.key], remove: [TEAM.keyid] });
      await r.addTargets([target('team/c', 6)], { role: 'team' });
    });
    const targets = handed.get('targets') as Metadata;
    const teamNext = handed.get('team') as Metadata;
    expect(
      (
        await refused(gun, [
          ['targets', targets],
          ['team', await signedBy(teamNext, [TEAM])],
        ])
      ).code,
    ).toBe('THRESHOLD');
    // ...and so is a delegator change to a stranger's key that targets' keys did not sign.
    const hijack = await staged(gun, [T1, T2, STRANGER], async (r) => {
      await r.rotateDelegatedKeys('targets', 'team', { add: [STRANGER.key], remove: [TEAM.keyid] });
      await r.addTargets([target('team/evil', 7)], { role: 'team' });
    });
    expect(
      (
        await refused(gun, [
          ['targets', await signedBy(hijack.get('targets') as Metadata, [STRANGER])],
          ['team', hijack.get('team') as Metadata],
        ])
      ).code,
    ).toBe('THRESHOLD');
    // Signed as the new delegation asks, the change is taken.
    await client.upload(gun, [
      { role: 'targets', metadata: targets },
      { role: 'team', metadata: teamNext },
    ]);
    expect(await found(gun, 'team/c')).toBe(6);
  });

  it('a hash bin signed by a key the succinct delegation does not name', async () => {
    const gun = 'refusals.test/bins';
    await created(gun);
    await client.publish(gun, { signers: [T1, T2, BINS] }, async (r) => {
      await r.setSuccinctDelegation('targets', { keys: [BINS.key], bitLength: 2, namePrefix: 'bins' });
      await r.addTargets([target('bin-a', 8)]);
    });
    expect(await found(gun, 'bin-a')).toBe(8);
    const next = await staged(gun, [BINS], (r) => r.addTargets([target('bin-b', 9)]));
    const [bin, md] = [...next][0] as [string, Metadata];
    expect(bin).toMatch(/^bins-/);
    expect(await refused(gun, [[bin, await signedBy(md, [STRANGER])]])).toEqual({
      status: 400,
      code: 'THRESHOLD',
    });
    await client.upload(gun, [{ role: bin, metadata: md }]);
    expect(await found(gun, 'bin-b')).toBe(9);
  });

  it('a root signed only by its new keys, or only by the old ones, or skipping a version', async () => {
    const gun = 'refusals.test/root';
    await created(gun);
    const up = (
      await staged(gun, [ROOT, NEW_ROOT], async (r) => {
        r.rotateKeys('root', { add: [NEW_ROOT.key], remove: [ROOT.key.keyid()] });
      })
    ).get('root') as Metadata;
    // 5.3.5: root 2 must carry a threshold of root 1's keys, and of its own.
    expect(await refused(gun, [['root', await signedBy(up, [NEW_ROOT])]])).toEqual({
      status: 400,
      code: 'THRESHOLD',
    });
    expect(await refused(gun, [['root', await signedBy(up, [ROOT])]])).toEqual({
      status: 400,
      code: 'THRESHOLD',
    });
    const skipped = nextVersion(up);
    expect((await refused(gun, [['root', await signedBy(skipped, [ROOT, NEW_ROOT])]])).code).toBe(
      'VERSION_MISMATCH',
    );
    await client.upload(gun, [{ role: 'root', metadata: up }]);
    const root = Metadata.fromBytes((await client.readFile(gun, 'metadata/root.json')) as Uint8Array, 'root');
    expect(root.signed.version).toBe(2);
    // Root 3 signed by the retired key alone, right after root 2 was taken.
    const third = (
      await staged(gun, [NEW_ROOT], async (r) => {
        r.rotateKeys('targets', { add: [STRANGER.key] });
      })
    ).get('root') as Metadata;
    expect((await refused(gun, [['root', await signedBy(third, [ROOT])]])).code).toBe('THRESHOLD');
  });

  it('a first root not signed by its own root keys', async () => {
    const gun = 'refusals.test/first';
    const online = await client.onlineKeys(gun, { create: true });
    const repo = await Repository.create(new MemoryRepositoryStorage(), {
      keys: {
        root: [ROOT.key],
        targets: [T1.key],
        snapshot: [online.snapshot],
        timestamp: [online.timestamp],
      },
      signers: [ROOT, T1],
      expiry: LONG,
    });
    const { prepared } = await repo.prepare({ allowPending: true });
    const root = prepared.get('root') as Metadata;
    const targets = prepared.get('targets') as Metadata;
    expect(
      await refused(gun, [
        ['root', await signedBy(root, [STRANGER])],
        ['targets', targets],
      ]),
    ).toEqual({ status: 400, code: 'THRESHOLD' });
    await client.upload(gun, [
      { role: 'root', metadata: root },
      { role: 'targets', metadata: targets },
    ]);
  });

  it('a role whose file would be a root version, in a repository without consistent snapshots', async () => {
    // Without consistent snapshots a role's file is ROLE.json: a delegated role named "2.root"
    // would be written to 2.root.json, the next root version, which every client probes for.
    const gun = 'refusals.test/plain-names';
    const online = await client.onlineKeys(gun, { create: true });
    const first = await Repository.create(new MemoryRepositoryStorage(), {
      keys: {
        root: [ROOT.key],
        targets: [T1.key],
        snapshot: [online.snapshot],
        timestamp: [online.timestamp],
      },
      signers: [ROOT, T1],
      expiry: LONG,
      consistentSnapshot: false,
    });
    const { files, prepared } = await first.prepare({ allowPending: true });
    await client.upload(
      gun,
      files
        .filter((f) => f.role === 'root' || f.role === 'targets')
        .map((f) => ({ role: f.role, metadata: prepared.get(f.role) as Metadata })),
    );
    // Built by hand: tufa's own Repository refuses to stage such a role.
    const expires = new Date(Date.now() + 86_400_000);
    const role = new DelegatedRole({
      name: '2.root',
      keyids: [TEAM.keyid],
      threshold: 1,
      terminating: true,
      paths: ['x/*'],
    });
    const targets = new Metadata(
      new Targets({
        version: 2,
        specVersion: SPECIFICATION_VERSION,
        expires,
        targets: new Map(),
        delegations: new Delegations({ keys: new Map([[TEAM.keyid, TEAM.key]]), roles: [role] }),
      }),
    );
    await targets.sign(T1);
    const delegated = new Metadata(
      new Targets({
        version: 1,
        specVersion: SPECIFICATION_VERSION,
        expires,
        targets: new Map([['x/a', target('x/a', 1)]]),
      }),
    );
    await delegated.sign(TEAM);
    expect(
      await refused(gun, [
        ['targets', targets],
        ['2.root', delegated],
      ]),
    ).toEqual({ status: 400, code: 'UNSAFE_NAME' });
    expect(await client.readFile(gun, 'metadata/2.root.json')).toBeUndefined();
  });
});
