/**
 * `tufa notary` on collections signed to order (core's test builder), read from a trust
 * directory: what Docker Content Trust refuses is refused with its reason, and a trust directory
 * read alone leaves no version record behind. Runs the built CLI (npx tsc -b first).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILT_GUN, buildCollection, type CollectionSpec } from '../../core/test/notary/builder.js';
import { expectExit, Sandbox } from './helpers/cli.js';

const sandbox = new Sandbox('tufa-notary-dct-');
afterAll(() => sandbox.cleanup());
const AS_OF = '2030-01-01T00:00:00Z';

/** Writes the collection as a notary client's trust directory: TRUST/tuf/GUN/metadata/ROLE.json. */
function trustDir(name: string, spec: CollectionSpec): string {
  const dir = sandbox.path(name);
  const metadata = join(dir, 'tuf', BUILT_GUN, 'metadata');
  for (const [file, bytes] of buildCollection(spec).files) {
    if (/^\d+\.root\.json$/.test(file)) continue; // a client cache keeps the newest root only
    mkdirSync(dirname(join(metadata, file)), { recursive: true });
    writeFileSync(join(metadata, file), bytes);
  }
  return dir;
}

describe('tufa notary: what Docker Content Trust refuses', () => {
  const dir = trustDir('nested', {
    roles: {
      targets: {
        targets: { v1: 'top', v2: 'top 2', shared: 'top 3' },
        delegations: [{ name: 'targets/releases' }, { name: 'targets/team' }],
      },
      'targets/releases': { delegations: [{ name: 'targets/releases/qa' }] },
      'targets/releases/qa': { targets: { v1: 'qa' } },
      'targets/team': { targets: { team: 'team' } },
    },
  });
  const notary = (...args: string[]) =>
    sandbox.tufa(['notary', ...args, '--trust-dir', dir, '--as-of', AS_OF]);

  it('verify: a tag a delegation below targets/releases signs is refused, even though targets signs it', async () => {
    const r = await notary('verify', `${BUILT_GUN}:v1`);
    expectExit(r, 5);
    expect(r.stderr).toMatch(
      /^Error: Docker Content Trust refuses example\.com\/notary\/app:v1: targets\/releases\/qa signs it first/m,
    );
    const team = await notary('verify', `${BUILT_GUN}:team`);
    expectExit(team, 5);
    expect(team.stderr).toMatch(/only targets\/team signs it/);
    expectExit(await notary('verify', `${BUILT_GUN}:v2`), 0);
  });

  it('list shows only what Docker resolves', async () => {
    const r = await sandbox.tufa([
      '--json',
      'notary',
      'list',
      BUILT_GUN,
      '--trust-dir',
      dir,
      '--as-of',
      AS_OF,
    ]);
    expectExit(r, 0);
    expect(JSON.parse(r.stdout).tags.map((t: { tag: string }) => t.tag)).toEqual(['shared', 'v2']);
  });

  it('a trust directory read alone is neither checked against nor recorded in $TUFA_HOME', () => {
    expect(existsSync(join(sandbox.home, 'trust'))).toBe(false);
  });
});
