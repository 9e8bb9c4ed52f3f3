import { describe, expect, it } from 'vitest';
import { TufError } from '../../src/errors.js';
import { TargetFile } from '../../src/metadata/files.js';
import {
  checkRoleFileName,
  hashPrefixedTargetPath,
  LATEST_ROOT_FILE_NAME,
  METADATA_DIR,
  metadataPath,
  metaFileName,
  roleStoragePath,
  roleUrlName,
  rootFileName,
  TIMESTAMP_FILE_NAME,
} from '../../src/metadata/layout.js';
import { DelegatedRole } from '../../src/metadata/roles.js';
import { Repository } from '../../src/repository/repository.js';
import { MemoryRepositoryStorage } from '../../src/repository/storage.js';
import { fixedSigner } from '../helpers/keys.js';
import { client } from '../repository/helpers.js';

describe('file names of a published repository', () => {
  it('root, timestamp and the latest root', () => {
    expect(rootFileName(1)).toBe('1.root.json');
    expect(rootFileName(42)).toBe('42.root.json');
    expect(TIMESTAMP_FILE_NAME).toBe('timestamp.json');
    expect(LATEST_ROOT_FILE_NAME).toBe('root.json');
    expect(METADATA_DIR).toBe('metadata');
    expect(metadataPath(rootFileName(3))).toBe('metadata/3.root.json');
  });

  // role, version, consistent_snapshot → what a client fetches, where the repository stores it
  it.each([
    ['snapshot', 7, true, '7.snapshot.json', 'metadata/7.snapshot.json'],
    ['snapshot', 7, false, 'snapshot.json', 'metadata/snapshot.json'],
    ['targets', 3, true, '3.targets.json', 'metadata/3.targets.json'],
    ['targets', 3, false, 'targets.json', 'metadata/targets.json'],
    ['bins-0f', 1, true, '1.bins-0f.json', 'metadata/1.bins-0f.json'],
    ['a b', 2, true, '2.a%20b.json', 'metadata/2.a b.json'],
    ['100%', 2, false, '100%25.json', 'metadata/100%.json'],
    ['..x', 5, true, '5...x.json', 'metadata/5...x.json'],
    ['é?#', 1, true, '1.%C3%A9%3F%23.json', 'metadata/1.é?#.json'],
    ['__proto__', 1, false, '__proto__.json', 'metadata/__proto__.json'],
  ])('%j version %i, consistent %j: %s and %s', (role, version, consistent, url, path) => {
    expect(roleUrlName(role, version, consistent)).toBe(url);
    expect(roleStoragePath(role, version, consistent)).toBe(path);
    // A static server decodes what the client asks for back to the file the repository wrote.
    expect(metadataPath(decodeURIComponent(url))).toBe(path);
  });

  it('snapshot meta lists a role under its name as is, never encoded', () => {
    expect(metaFileName('targets')).toBe('targets.json');
    expect(metaFileName('a b/c')).toBe('a b/c.json');
  });

  it.each([
    ['app', 'ab12', 'ab12.app'],
    ['registry.example.com/team/app%3A1.0', 'ff', 'registry.example.com/team/ff.app%3A1.0'],
  ])('a target %s with consistent snapshots is fetched as %s…', (urlPath, digest, expected) => {
    expect(hashPrefixedTargetPath(urlPath, digest)).toBe(expected);
  });

  it('storage refuses role names that are not one safe file name', () => {
    for (const name of ['a/b', '..', '.', 'x\\y', 'nl\nx', 'del\x7f', '', 'x'.repeat(201)]) {
      let e: unknown;
      try {
        roleStoragePath(name, 1, true);
      } catch (x) {
        e = x;
      }
      expect((e as TufError).code).toBe('UNSAFE_NAME');
      expect(() => checkRoleFileName(name)).toThrow(TufError);
    }
    expect(checkRoleFileName('x'.repeat(40))).toBe('x'.repeat(40));
  });

  it("refuses, without consistent snapshots, a role whose file would be a root version's", () => {
    // ROLE.json of a role "3.root" is 3.root.json: root version 3, which clients probe for.
    expect(() => roleStoragePath('3.root', 1, false)).toThrow(/root version 3/);
    expect(roleStoragePath('3.root', 1, true)).toBe('metadata/1.3.root.json');
    expect(roleStoragePath('03.root', 1, false)).toBe('metadata/03.root.json');
    expect(roleStoragePath('3.roots', 1, false)).toBe('metadata/3.roots.json');
  });
});

describe('the repository writes, and the client fetches, the names the layout gives', () => {
  it.each([true, false])('consistent_snapshot %j', async (consistentSnapshot) => {
    const NOW = new Date('2030-01-01T00:00:00Z');
    const root = fixedSigner(201);
    const targets = fixedSigner(202);
    const snapshot = fixedSigner(203);
    const timestamp = fixedSigner(204);
    const team = fixedSigner(205);
    const storage = new MemoryRepositoryStorage();
    const repo = await Repository.create(storage, {
      keys: {
        root: [root.key],
        targets: [targets.key],
        snapshot: [snapshot.key],
        timestamp: [timestamp.key],
      },
      signers: [root, targets, snapshot, timestamp, team],
      consistentSnapshot,
      now: () => NOW,
    });
    const role = 'team a%';
    await repo.addDelegation(
      'targets',
      new DelegatedRole({ name: role, keyids: [team.keyid], threshold: 1, terminating: true, paths: ['*'] }),
      [team.key],
    );
    await repo.addTargets([new TargetFile('app', 1, new Map([['sha256', 'ab']]))], { role });
    const { written } = await repo.publish();
    expect(written).toEqual([
      metadataPath(rootFileName(1)),
      roleStoragePath('targets', 1, consistentSnapshot),
      roleStoragePath(role, 1, consistentSnapshot),
      roleStoragePath('snapshot', 1, consistentSnapshot),
      metadataPath(LATEST_ROOT_FILE_NAME),
      metadataPath(TIMESTAMP_FILE_NAME),
    ]);

    const { updater, fetcher } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('app')).toMatchObject({ role });
    // The test fetcher decodes the URL as a static server would; it records what it served.
    expect(fetcher.requests).toEqual([
      metadataPath(rootFileName(2)),
      metadataPath(TIMESTAMP_FILE_NAME),
      metadataPath(decodeURIComponent(roleUrlName('snapshot', 1, consistentSnapshot))),
      metadataPath(decodeURIComponent(roleUrlName('targets', 1, consistentSnapshot))),
      metadataPath(decodeURIComponent(roleUrlName(role, 1, consistentSnapshot))),
    ]);
  });
});
