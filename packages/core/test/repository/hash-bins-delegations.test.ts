/**
 * Hash bins in a repository whose `targets` already lists delegated roles (ADR 0025): the bins go
 * under a role `bins` listed after them; the delegated roles keep their tags and are searched
 * first (TUF 5.6.7), so a tag they sign or end the search for never goes into a bin.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { PrivateKeySigner } from '../../src/crypto/signer.js';
import { TargetFile } from '../../src/metadata/files.js';
import { DelegatedRole } from '../../src/metadata/roles.js';
import { applyHashBinPolicy, HASH_BIN_PARENT } from '../../src/repository/hash-bins.js';
import { Repository } from '../../src/repository/repository.js';
import { MemoryRepositoryStorage } from '../../src/repository/storage.js';
import { fixedSigner } from '../helpers/keys.js';
import { client } from './helpers.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const N = 60;

const tag = (name: string, n = 1) =>
  new TargetFile(name, n, new Map([['sha256', n.toString(16).padStart(64, '0')]]));
const appTags = Array.from({ length: N }, (_, i) => tag(`example.com/app:${i}`, i + 1));

let storage: MemoryRepositoryStorage;
let keys: Record<'root' | 'targets' | 'snapshot' | 'timestamp' | 'team' | 'vault', PrivateKeySigner>;

const open = () => Repository.open(storage, { signers: Object.values(keys), now: () => NOW });

function delegation(name: string, key: PrivateKeySigner, paths: string[], terminating = false) {
  return new DelegatedRole({ name, keyids: [key.key.keyid()], threshold: 1, terminating, paths });
}

/** Every `delegations` object of every metadata file in storage. */
function allDelegations(): { file: string; delegations: Record<string, unknown> }[] {
  const out: { file: string; delegations: Record<string, unknown> }[] = [];
  for (const [file, bytes] of storage.files) {
    if (!file.startsWith('metadata/')) continue;
    const d = JSON.parse(new TextDecoder().decode(bytes)).signed.delegations;
    if (d) out.push({ file, delegations: d });
  }
  return out;
}

/** The storage paths whose bytes differ (or are new) after `fn`. */
async function changedFiles(fn: () => Promise<void>): Promise<string[]> {
  const before = new Map(storage.files);
  await fn();
  return [...storage.files]
    .filter(([p, b]) => !before.has(p) || Buffer.compare(before.get(p) as Uint8Array, b) !== 0)
    .map(([p]) => p)
    .sort();
}

beforeEach(async () => {
  storage = new MemoryRepositoryStorage();
  keys = {
    root: fixedSigner(111),
    targets: fixedSigner(112),
    snapshot: fixedSigner(113),
    timestamp: fixedSigner(114),
    team: fixedSigner(115),
    vault: fixedSigner(116),
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
  await repo.addDelegation('targets', delegation('team', keys.team, ['team/*']), [keys.team.key]);
  await repo.addTargets([tag('team/a', 1), tag('team/b', 2)], { role: 'team' });
  await repo.addTargets(appTags);
  // Under team's paths but not signed by team: the search passes team and reaches the bins.
  await repo.addTargets([tag('team/c', 3)]);
  await repo.publish();
});

describe('hash bins with delegations present', () => {
  it('moves the tags of targets into bins under a role listed after the delegations', async () => {
    const repo = await open();
    const d = await applyHashBinPolicy(repo, 10);
    expect(d.action).toBe('move');
    expect(d.reason).toContain(`bins go under role ${HASH_BIN_PARENT} listed after them`);
    await repo.publish();

    const top = await repo.getTargets('targets');
    expect(top.targets.size).toBe(0);
    expect(top.delegations?.succinctRoles).toBeUndefined();
    expect(top.delegations?.roles?.map((r) => r.name)).toEqual(['team', HASH_BIN_PARENT]);
    const parent = top.delegations?.roles?.[1] as DelegatedRole;
    expect(parent.terminating).toBe(false);
    expect(parent.paths).toBeUndefined();
    expect(parent.pathHashPrefixes).toEqual([...'0123456789abcdef']);
    expect(parent.keyids).toEqual([keys.targets.key.keyid()]);
    const bins = (await repo.getTargets(HASH_BIN_PARENT)).delegations;
    expect(bins?.roles).toBeUndefined();
    expect(bins?.succinctRoles?.keyids).toEqual([keys.targets.key.keyid()]);
    expect(d.bins).toEqual([...(bins?.succinctRoles?.getRoles() ?? [])]);
    expect([...(await repo.getTargets('team')).targets.keys()]).toEqual(['team/a', 'team/b']);

    // python-tuf's layout: consistent snapshots, N.ROLE.json for every role.
    for (const role of ['targets', HASH_BIN_PARENT, ...d.bins]) {
      expect(
        storage.files.has(`metadata/1.${role}.json`) || storage.files.has(`metadata/2.${role}.json`),
        role,
      ).toBe(true);
    }
    // python-tuf refuses a delegations object with both roles and succinct_roles: never written.
    const all = allDelegations();
    expect(all.some((x) => 'succinct_roles' in x.delegations)).toBe(true);
    for (const { file, delegations } of all) {
      expect('roles' in delegations && 'succinct_roles' in delegations, file).toBe(false);
    }

    const { updater } = await client(storage, { now: NOW });
    await updater.refresh();
    for (const t of [...appTags, tag('team/c', 3)]) {
      const info = await updater.getTargetInfo(t.path);
      expect(info?.role, t.path).toBe(await repo.roleForTarget(t.path));
      expect(info?.role, t.path).toMatch(/^bins-/);
      expect(info?.target.length, t.path).toBe(t.length);
    }
    for (const path of ['team/a', 'team/b']) expect((await updater.getTargetInfo(path))?.role).toBe('team');
  });

  it('adding and removing one tag re-signs only its bin, snapshot and timestamp', async () => {
    const moved = await open();
    await applyHashBinPolicy(moved, 10);
    await moved.publish();
    const { updater, store } = await client(storage, { now: NOW });
    await updater.refresh();

    const added = tag('example.com/app:new', 99);
    let bin = '';
    const addedFiles = await changedFiles(async () => {
      const repo = await open();
      await repo.addTargets([added]);
      bin = await repo.roleForTarget(added.path);
      await repo.publish();
    });
    expect(bin).toMatch(/^bins-/);
    expect(addedFiles).toEqual(
      [`metadata/2.${bin}.json`, 'metadata/3.snapshot.json', 'metadata/timestamp.json'].sort(),
    );
    const after = (await client(storage, { now: NOW, store })).updater;
    await after.refresh();
    expect((await after.getTargetInfo(added.path))?.role).toBe(bin);

    const removedFiles = await changedFiles(async () => {
      const repo = await open();
      await repo.removeTarget(added.path);
      await repo.publish();
    });
    expect(removedFiles).toEqual(
      [`metadata/3.${bin}.json`, 'metadata/4.snapshot.json', 'metadata/timestamp.json'].sort(),
    );
    const last = (await client(storage, { now: NOW, store })).updater;
    await last.refresh();
    expect(await last.getTargetInfo(added.path)).toBeUndefined();
    expect((await last.getTargetInfo('example.com/app:7'))?.role).toMatch(/^bins-/);
  });

  it('a delegation added later is listed before the bins, and its tags resolve through it', async () => {
    const repo = await open();
    await applyHashBinPolicy(repo, 10);
    await repo.addDelegation('targets', delegation('late', keys.team, ['late/*']), [keys.team.key]);
    expect((await repo.getTargets('targets')).delegations?.roles?.map((r) => r.name)).toEqual([
      'team',
      'late',
      HASH_BIN_PARENT,
    ]);
    await repo.addTargets([tag('late/x', 5)], { role: 'late' });
    await repo.addTargets([tag('team/d', 6)], { role: 'team' });
    await repo.publish();
    const { updater } = await client(storage, { now: NOW });
    await updater.refresh();
    expect((await updater.getTargetInfo('late/x'))?.role).toBe('late');
    expect((await updater.getTargetInfo('team/d'))?.role).toBe('team');
    expect((await updater.getTargetInfo('example.com/app:3'))?.role).toMatch(/^bins-/);
  });

  it('refuses a tag into the bins that a terminating delegation searched first would hide', async () => {
    const repo = await open();
    await applyHashBinPolicy(repo, 10);
    await repo.addDelegation('targets', delegation('vault', keys.vault, ['vault/*'], true), [keys.vault.key]);
    await expect(repo.addTargets([tag('vault/secret', 7)])).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('clients search "vault" first and stop there (vault is a terminating'),
    });
    // A tag team signs already: into a bin it would never be found (team answers first).
    await expect(repo.addTargets([tag('team/a', 9)])).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('(team signs it)'),
    });
    await repo.addTargets([tag('vault/secret', 7)], { role: 'vault' });
    await repo.publish();
    const { updater } = await client(storage, { now: NOW });
    await updater.refresh();
    expect((await updater.getTargetInfo('vault/secret'))?.role).toBe('vault');
    expect((await updater.getTargetInfo('team/a'))?.target.length).toBe(1);
  });

  it('keeps the tags in targets when an earlier delegation would hide one of them', async () => {
    for (const [setup, reason] of [
      [
        async (repo: Repository) => {
          await repo.addDelegation('targets', delegation('vault', keys.vault, ['vault/*'], true), [
            keys.vault.key,
          ]);
          await repo.addTargets([tag('vault/x', 4)]);
        },
        'clients search "vault" before the hash bins and it is a terminating delegation for it: "vault/x"',
      ],
      [
        // targets overrides team for team/a today; in a bin, team's entry would win instead.
        async (repo: Repository) => {
          await repo.addTargets([tag('team/a', 8)]);
        },
        'clients search "team" before the hash bins and it also signs it: "team/a"',
      ],
    ] as const) {
      const repo = await open();
      await setup(repo);
      const size = (await repo.getTargets('targets')).targets.size;
      const d = await applyHashBinPolicy(repo, 10);
      expect(d).toMatchObject({ action: 'cannot-move', bins: [] });
      expect(d.reason).toContain(reason);
      const top = await repo.getTargets('targets');
      expect(top.targets.size).toBe(size);
      expect(top.delegations?.roles?.map((r) => r.name)).not.toContain(HASH_BIN_PARENT);
      await expect(repo.useHashBins({ keys: [keys.targets.key] })).rejects.toMatchObject({ code: 'USAGE' });
      expect((await repo.getTargets('targets')).targets.size).toBe(size);
    }
  });

  it('searchedBeforeBins: nothing is searched before bins that targets delegates to itself', async () => {
    const repo = await open();
    await repo.removeDelegation('targets', 'team');
    await repo.useHashBins({ keys: [keys.targets.key] });
    expect(await repo.searchedBeforeBins('example.com/app:1')).toBeUndefined();
    // Signing a tag again into its bin is allowed.
    await repo.addTargets([tag('example.com/app:1', 2)]);
    expect(
      (await repo.getTargets(await repo.roleForTarget('example.com/app:1'))).targets.get('example.com/app:1')
        ?.length,
    ).toBe(2);
  });

  it('a tag already in its bin under role bins signs again', async () => {
    const repo = await open();
    await applyHashBinPolicy(repo, 10);
    expect(await repo.searchedBeforeBins('example.com/app:1')).toBeUndefined();
    await repo.addTargets([tag('example.com/app:1', 2)]);
    await repo.publish();
    const { updater } = await client(storage, { now: NOW });
    await updater.refresh();
    expect((await updater.getTargetInfo('example.com/app:1'))?.target.length).toBe(2);
  });

  it('refuses a second move, a role named like the bins (listed or left over), too many bits', async () => {
    const repo = await open();
    await repo.addDelegation('targets', delegation(HASH_BIN_PARENT, keys.team, ['x/*']), [keys.team.key]);
    await expect(repo.useHashBins({ keys: [keys.targets.key] })).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining(`targets already delegates to "${HASH_BIN_PARENT}"`),
    });
    // Refused before anything is staged: targets lists team alone, as before.
    const tooMany = await open();
    await expect(tooMany.useHashBins({ keys: [keys.targets.key], bitLength: 17 })).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('bit_length 17'),
    });
    expect((await tooMany.getTargets('targets')).delegations?.roles?.map((r) => r.name)).toEqual(['team']);
    expect((await tooMany.getTargets('targets')).targets.size).toBe(N + 1);
    const fresh = await open();
    await fresh.useHashBins({ keys: [keys.targets.key] });
    await expect(fresh.useHashBins({ keys: [keys.targets.key] })).rejects.toMatchObject({
      code: 'USAGE',
      message: 'targets already uses hash bins',
    });
    // A role named bins delegated once and removed: its file would come back with its tags.
    await repo.addTargets([tag('x/old', 1)], { role: HASH_BIN_PARENT });
    await repo.publish();
    const removed = await open();
    await removed.removeDelegation('targets', HASH_BIN_PARENT);
    await removed.publish();
    await expect((await open()).useHashBins({ keys: [keys.targets.key] })).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('(delegated once, now unlisted)'),
    });
  });
});
