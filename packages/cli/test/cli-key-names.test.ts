/**
 * Keys a release pipeline can name ahead of time: `tufa key rotate` names a generated key
 * `<gun-slug>-<role>-<n>` (or `--name`), never a timestamp; `TUFA_PASSPHRASE_<GUN_SLUG>_<ROLE>`
 * unlocks a role's key whatever it is called, after the key's own variable and before
 * TUFA_PASSPHRASE; `tufa key list` says which repositories and roles use each key.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, expectError, expectExit, expectJson, Sandbox } from './helpers/cli.js';

const sandbox = new Sandbox('tufa-key-names-');
const GUN = 'registry.example.com/team/app';
const SLUG = 'registry-example-com-team-app';
const ROLE_VAR = 'TUFA_PASSPHRASE_REGISTRY_EXAMPLE_COM_TEAM_APP_TARGETS';
const GENERAL = 'general-Passphrase-1234';
const TARGETS = 'targets-Passphrase-5678';
const ROOT = `offline/root-${SLUG}.json`;
let tag = 0;

/** Signs a new tag with only `env`'s passphrases (TUFA_PASSPHRASE as given there). */
function sign(env: Record<string, string | undefined>) {
  const t = `v${++tag}`;
  return sandbox.tufa(['sign', `${GUN}:${t}`, '--digest', digestOf(t), '--size', '1'], {
    env: { TUFA_PASSPHRASE: undefined, ...env },
  });
}

beforeAll(async () => {
  // The targets key gets its own passphrase through the role's variable; the others the general one.
  expectExit(
    await sandbox.tufa(['init', GUN, '--publish-root', 'pub', '--root-key-out', 'offline'], {
      env: { TUFA_PASSPHRASE: GENERAL, [ROLE_VAR]: TARGETS },
    }),
    0,
  );
});
afterAll(() => sandbox.cleanup());

describe('TUFA_PASSPHRASE_<GUN_SLUG>_<ROLE>', () => {
  it('unlocks the role key: init encrypted it with that passphrase, not TUFA_PASSPHRASE', async () => {
    expectExit(await sign({ TUFA_PASSPHRASE: GENERAL, [ROLE_VAR]: TARGETS }), 0);
    expectExit(await sign({ TUFA_PASSPHRASE: GENERAL }), 6);
  });

  it("is the variable of the key init made: <gun-slug>-targets's own name", () => {
    // So one variable covers the role before and after rotations.
    expect(ROLE_VAR).toBe(`TUFA_PASSPHRASE_${SLUG.toUpperCase().replace(/-/g, '_')}_TARGETS`);
  });

  it('survives a rotation, and a rotated key is named <gun-slug>-<role>-2, then -3', async () => {
    const env = { TUFA_PASSPHRASE: GENERAL, [ROLE_VAR]: TARGETS };
    expectExit(await sandbox.tufa(['key', 'rotate', GUN, 'targets', '--root-key', ROOT], { env }), 0);
    expect(existsSync(sandbox.path('home', 'keys', `${SLUG}-targets-2.json`))).toBe(true);
    expectExit(await sign(env), 0);
    expectExit(await sandbox.tufa(['key', 'rotate', GUN, 'targets', '--root-key', ROOT], { env }), 0);
    expect(existsSync(sandbox.path('home', 'keys', `${SLUG}-targets-3.json`))).toBe(true);
    expectExit(await sign(env), 0);
  });

  it("the key's own variable wins over the role's", async () => {
    const own = `TUFA_PASSPHRASE_${SLUG.toUpperCase().replace(/-/g, '_')}_TARGETS_3`;
    expectExit(
      await sign({ TUFA_PASSPHRASE: GENERAL, [own]: TARGETS, [ROLE_VAR]: 'wrong-Passphrase-0000' }),
      0,
    );
    expectExit(
      await sign({ TUFA_PASSPHRASE: GENERAL, [own]: 'wrong-Passphrase-0000', [ROLE_VAR]: TARGETS }),
      6,
    );
  });
});

describe('tufa key rotate: names', () => {
  it('--name names the generated key; with --key it is refused', async () => {
    const env = { TUFA_PASSPHRASE: GENERAL, [ROLE_VAR]: TARGETS };
    expectExit(
      await sandbox.tufa(['key', 'rotate', GUN, 'snapshot', '--root-key', ROOT, '--name', 'snap-2027'], {
        env,
      }),
      0,
    );
    expect(existsSync(sandbox.path('home', 'keys', 'snap-2027.json'))).toBe(true);
    expectError(
      await sandbox.tufa(
        ['key', 'rotate', GUN, 'snapshot', '--root-key', ROOT, '--name', 'x', '--key', 'y'],
        { env },
      ),
      2,
      '--name names a generated key: give --key or --name, not both',
    );
  });

  it('a new root key goes to root-<gun-slug>-2.json beside the first', async () => {
    expectExit(
      await sandbox.tufa(
        ['key', 'rotate', GUN, 'root', '--root-key', ROOT, '--new-root-key-out', 'offline'],
        {
          env: { TUFA_PASSPHRASE: GENERAL, [ROLE_VAR]: TARGETS },
        },
      ),
      0,
    );
    expect(existsSync(sandbox.path('offline', `root-${SLUG}-2.json`))).toBe(true);
  });
});

describe('tufa key list: who uses each key', () => {
  it('names the repository and role of each key, and none for a retired key', async () => {
    const v = expectJson<{ keys: { name: string; usedBy: { gun: string; role: string }[] }[] }>(
      await sandbox.tufa(['--json', 'key', 'list']),
    );
    const by = Object.fromEntries(v.keys.map((k) => [k.name, k.usedBy]));
    expect(by[`${SLUG}-targets-3`]).toEqual([{ gun: GUN, role: 'targets' }]);
    expect(by[`${SLUG}-targets`]).toEqual([]);
    expect(by['snap-2027']).toEqual([{ gun: GUN, role: 'snapshot' }]);
    const text = expectExit(await sandbox.tufa(['key', 'list']), 0).stdout;
    expect(text).toContain(`${SLUG}-targets-3`);
    expect(text).toContain(`    used by ${GUN} (targets)\n`);
    expect(text).toContain('    used by no repository set up here\n');
  });
});
