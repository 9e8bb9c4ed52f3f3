/**
 * `tufa sign` above TUFA_HASH_BIN_THRESHOLD: the tags move into TAP 15 hash bins (said on
 * stderr), clients still find them; a repository whose targets delegates gets them under a role
 * `bins` listed after its delegations (ADR 0025), and a tag a delegated role signs is refused
 * there; a threshold that is not a whole number is refused before anything is signed.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  digestOf,
  expectError,
  expectExit,
  expectJson,
  metadataDir,
  newestVersion,
  readJson,
  Sandbox,
  show,
} from './helpers/cli.js';

const sandbox = new Sandbox('tufa-bins-');
const FLAT = 'registry.example.com/team/flat';
const DELEGATING = 'registry.example.com/team/delegating';
const BULK = 'registry.example.com/team/bulk';
const THRESHOLD = { TUFA_HASH_BIN_THRESHOLD: '3' };

function newestTargets(gun: string) {
  const md = metadataDir(sandbox.path('pub'), gun);
  return readJson(join(md, `${newestVersion(md, 'targets')}.targets.json`)).signed;
}

function bulk(...tags: string[]): string {
  return tags.map((t) => `${t} ${digestOf(t)} ${t.length}`).join('\n');
}

beforeAll(async () => {
  for (const gun of [FLAT, DELEGATING, BULK]) {
    expectExit(await sandbox.tufa(['init', gun, '--publish-root', 'pub', '--root-key-out', 'offline']), 0);
  }
  expectExit(await sandbox.tufa(['key', 'generate', 'team-bot']), 0);
  expectExit(
    await sandbox.tufa(['delegation', 'add', DELEGATING, 'team', '--key', 'team-bot', '--paths', 'team-*']),
    0,
  );
});
afterAll(() => sandbox.cleanup());

describe('tufa sign: hash bins', () => {
  it('a bulk past the threshold into an empty repository goes straight into bins sized for it', async () => {
    const tags = Array.from({ length: 300 }, (_, i) => `b${i}`);
    const r = await sandbox.tufa(['--json', 'sign', BULK, '--bulk', '-'], {
      env: THRESHOLD,
      input: bulk(...tags),
    });
    const v = expectJson<{ hashBins: { action: string }; written: string[]; signed: unknown[] }>(r);
    expect(v.hashBins.action).toBe('move');
    expect(v.signed).toHaveLength(300);
    // About √300 bins (defaultBitLength(300) = 4: 16), each written once, before the one
    // targets, snapshot and timestamp that list them; targets itself signs no tag.
    const bins = v.written.filter((w) => /\/1\.bins-[0-9a-f]\.json$/.test(w));
    expect(bins).toHaveLength(16);
    expect(v.written.slice(16).map((w) => w.replace(/^.*\//, ''))).toEqual([
      '2.targets.json',
      '2.snapshot.json',
      'timestamp.json',
    ]);
    expect(newestTargets(BULK).targets).toEqual({});
    const root = join(metadataDir(sandbox.path('pub'), BULK), '1.root.json');
    const found = expectJson<{ digest: string; role: string }>(
      await sandbox.tufa(['--json', 'verify', '--server', 'pub', '--root', root, `${BULK}:b299`]),
    );
    expect(found).toMatchObject({ digest: digestOf('b299'), role: expect.stringMatching(/^bins-/) });
  });

  it('a later bulk that its bins are too few for re-bins every tag, said on stderr (ADR 0031)', async () => {
    // The bulk above left 300 tags in 16 bins (4 bits); √2048 calls for 64 (6 bits).
    const tags = Array.from({ length: 2048 }, (_, i) => `c${i}`);
    const r = expectExit(
      await sandbox.tufa(['sign', BULK, '--bulk', '-'], { env: THRESHOLD, input: bulk(...tags) }),
      0,
    );
    expect(r.stderr).toBe(
      `${BULK}: at least 2048 tags in 16 hash bins, where about √N calls for 64: re-binned, every tag signed again in its new bin\n`,
    );
    const top = newestTargets(BULK);
    expect(top.delegations.succinct_roles).toMatchObject({ bit_length: 6, name_prefix: 'bins' });
    const root = join(metadataDir(sandbox.path('pub'), BULK), '1.root.json');
    for (const tag of ['b0', 'b299', 'c2047']) {
      const v = expectJson<{ digest: string; role: string }>(
        await sandbox.tufa(['--json', 'verify', '--server', 'pub', '--root', root, `${BULK}:${tag}`]),
      );
      expect(v).toMatchObject({ digest: digestOf(tag), role: expect.stringMatching(/^bins-[0-9a-f]{2}$/) });
    }
  });

  it('at the threshold the tags stay in targets, silently', async () => {
    const r = await sandbox.tufa(['--json', 'sign', FLAT, '--bulk', '-'], {
      env: THRESHOLD,
      input: bulk('a1', 'a2', 'a3'),
    });
    const v = expectJson<{ hashBins: { action: string; reason: string } }>(r);
    expect(v.hashBins).toEqual({ action: 'stay', reason: 'targets signs 3 tag(s), no more than 3' });
    expect(r.stderr).toBe('');
    expect(newestTargets(FLAT).delegations).toBeUndefined();
  });

  it('above it they move into hash bins, said on stderr, and clients find them there', async () => {
    const r = expectExit(
      await sandbox.tufa(['sign', `${FLAT}:a4`, '--digest', digestOf('a4'), '--size', '2'], {
        env: THRESHOLD,
      }),
      0,
    );
    expect(r.stderr).toBe(
      `${FLAT}: moved the tags into hash bins (TAP 15): targets signs 4 tags, more than 3\n`,
    );
    const top = newestTargets(FLAT);
    expect(top.targets).toEqual({});
    expect(top.delegations.succinct_roles).toMatchObject({ name_prefix: 'bins' });
    const root = join(metadataDir(sandbox.path('pub'), FLAT), '1.root.json');
    for (const tag of ['a1', 'a4']) {
      const v = expectJson<{ role: string; digest: string }>(
        await sandbox.tufa(['--json', 'verify', '--server', 'pub', '--root', root, `${FLAT}:${tag}`]),
      );
      expect(v.digest).toBe(digestOf(tag));
      expect(v.role).toMatch(/^bins-/);
    }
  });

  it('a tag already in its bin signs again (renewed in place)', async () => {
    const r = await sandbox.tufa(
      ['--json', 'sign', `${FLAT}:a1`, '--digest', digestOf('a1'), '--size', '2'],
      {
        env: THRESHOLD,
      },
    );
    const v = expectJson<{ signed: { role: string }[] }>(r);
    expect(v.signed[0]?.role).toMatch(/^bins-/);
  });

  it('once in bins, later signatures say nothing more', async () => {
    const r = await sandbox.tufa(['--json', 'sign', FLAT, '--bulk', '-'], {
      env: THRESHOLD,
      input: bulk('a5', 'a6'),
    });
    expect(expectJson<{ hashBins: { action: string } }>(r).hashBins.action).toBe('stay');
    expect(r.stderr, show(r)).toBe('');
  });

  it('targets delegates: the tags move into bins under role bins, listed after team', async () => {
    const r = expectExit(
      await sandbox.tufa(['sign', DELEGATING, '--bulk', '-'], {
        env: THRESHOLD,
        input: bulk('b1', 'b2', 'b3', 'b4'),
      }),
      0,
    );
    expect(r.stderr).toBe(
      `${DELEGATING}: moved the tags into hash bins (TAP 15): targets signs 4 tags, more than 3; its delegated roles come first, the bins go under role bins listed after them\n`,
    );
    const top = newestTargets(DELEGATING);
    expect(top.targets).toEqual({});
    expect(top.delegations.succinct_roles).toBeUndefined();
    expect(top.delegations.roles.map((d: { name: string }) => d.name)).toEqual(['team', 'bins']);
    const md = metadataDir(sandbox.path('pub'), DELEGATING);
    const bins = readJson(join(md, `${newestVersion(md, 'bins')}.bins.json`)).signed;
    expect(bins.delegations.roles).toBeUndefined();
    expect(bins.delegations.succinct_roles).toMatchObject({ name_prefix: 'bins' });
  });

  it('signing into a delegated role leaves the layout of targets alone', async () => {
    const v = expectJson<{ hashBins: unknown }>(
      await sandbox.tufa(
        [
          '--json',
          'sign',
          `${DELEGATING}:team-1`,
          '--digest',
          digestOf('t'),
          '--size',
          '1',
          '--role',
          'team',
        ],
        { env: THRESHOLD },
      ),
    );
    expect(v.hashBins).toBeNull();
  });

  it('later tags go to their bin; the delegated role still answers for its own tags', async () => {
    expectExit(
      await sandbox.tufa(['sign', `${DELEGATING}:b5`, '--digest', digestOf('b5'), '--size', '2'], {
        env: THRESHOLD,
      }),
      0,
    );
    const root = join(metadataDir(sandbox.path('pub'), DELEGATING), '1.root.json');
    const verify = async (tag: string) =>
      expectJson<{ role: string; digest: string }>(
        await sandbox.tufa(['--json', 'verify', '--server', 'pub', '--root', root, `${DELEGATING}:${tag}`]),
      );
    for (const tag of ['b1', 'b5']) {
      const v = await verify(tag);
      expect(v.digest).toBe(digestOf(tag));
      expect(v.role).toMatch(/^bins-/);
    }
    expect(await verify('team-1')).toMatchObject({ role: 'team', digest: digestOf('t') });
  });

  it('a tag the delegated role signs cannot go into a bin: clients would find team first', async () => {
    const md = metadataDir(sandbox.path('pub'), DELEGATING);
    const before = newestVersion(md, 'snapshot');
    for (const force of [[], ['--force']]) {
      const r = await sandbox.tufa(
        ['sign', `${DELEGATING}:team-1`, '--digest', digestOf('u'), '--size', '1', ...force],
        { env: THRESHOLD },
      );
      expectError(
        r,
        2,
        `team-1 cannot go into the hash bins of ${DELEGATING}: clients search team first, and it signs it`,
        `tufa sign ${DELEGATING}:team-1 --role team`,
      );
    }
    expect(newestVersion(md, 'snapshot')).toBe(before);
  });

  it('unsign finds a tag in its bin under role bins; status sums the bins up under bins', async () => {
    const md = metadataDir(sandbox.path('pub'), DELEGATING);
    const signed = expectJson<{ signed: { role: string }[] }>(
      await sandbox.tufa(['--json', 'sign', `${DELEGATING}:b6`, '--digest', digestOf('b6'), '--size', '2'], {
        env: THRESHOLD,
      }),
    );
    const bin = signed.signed[0]?.role as string;
    expect(bin).toMatch(/^bins-/);
    const binTargets = () => readJson(join(md, `${newestVersion(md, bin)}.${bin}.json`)).signed.targets;
    expect(Object.keys(binTargets())).toContain('b6');
    expectExit(await sandbox.tufa(['unsign', DELEGATING, 'b6'], { env: THRESHOLD }), 0);
    expect(Object.keys(binTargets())).not.toContain('b6');
    const status = expectExit(await sandbox.tufa(['status', DELEGATING]), 0);
    expect(status.stdout).toMatch(/^ {2}bins {9}v\d/m);
    expect(status.stdout).toMatch(/ 2 hash bins \(bins-0 … bins-1\), delegated by bins:/);
  });

  for (const bad of ['abc', '0', '-1', '1.5', '1e3', ' 7']) {
    it(`TUFA_HASH_BIN_THRESHOLD=${JSON.stringify(bad)} is refused with exit 2, nothing published`, async () => {
      const before = newestVersion(metadataDir(sandbox.path('pub'), FLAT), 'targets');
      const r = await sandbox.tufa(['sign', `${FLAT}:x`, '--digest', digestOf('x'), '--size', '1'], {
        env: { TUFA_HASH_BIN_THRESHOLD: bad },
      });
      expectError(
        r,
        2,
        `TUFA_HASH_BIN_THRESHOLD must be a whole number of at least 1 (found ${JSON.stringify(bad)})`,
        'TUFA_HASH_BIN_THRESHOLD=2000',
      );
      expect(newestVersion(metadataDir(sandbox.path('pub'), FLAT), 'targets')).toBe(before);
    });
  }
});
