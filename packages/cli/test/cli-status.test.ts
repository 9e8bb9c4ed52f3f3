/**
 * `tufa status` over the whole delegation tree (delegated roles and hash bins) and
 * `status --check` for cron and monitoring: exit 9 when a role is expired or expires within its
 * warning period, exit 3 when a role's signatures no longer meet its threshold.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLI_DIR,
  digestOf,
  expectError,
  expectExit,
  expectJson,
  metadataDir,
  Sandbox,
} from './helpers/cli.js';

const sandbox = new Sandbox('tufa-status-');
const GUN = 'registry.example.com/team/app';
const BINNED = 'registry.example.com/team/binned';
const DAY = 86_400;

/** Runs `tufa ARGS` with the clock `seconds` ahead. */
function later(seconds: number, args: string[]) {
  const preload = pathToFileURL(join(CLI_DIR, 'test', 'helpers', 'clock-offset.mjs')).href;
  return sandbox.tufa(args, {
    env: { NODE_OPTIONS: `--import=${preload}`, TEST_CLOCK_OFFSET_S: String(seconds) },
  });
}

interface Status {
  roles: {
    role: string;
    delegatedBy: string | null;
    hashBin: boolean;
    due: boolean;
    expired: boolean;
    expiresIn: number;
  }[];
  check?: { ok: boolean; due: string[]; unverified: string[] };
}

beforeAll(async () => {
  for (const gun of [GUN, BINNED]) {
    expectExit(await sandbox.tufa(['init', gun, '--publish-root', 'pub', '--root-key-out', 'offline']), 0);
  }
  expectExit(await sandbox.tufa(['key', 'generate', 'team-bot']), 0);
  expectExit(
    await sandbox.tufa(['delegation', 'add', GUN, 'team', '--key', 'team-bot', '--paths', 'team-*']),
    0,
  );
  expectExit(
    await sandbox.tufa(['sign', `${GUN}:team-1`, '--role', 'team', '--digest', digestOf('t'), '--size', '1']),
    0,
  );
  const bulk = ['b1', 'b2', 'b3', 'b4'].map((t) => `${t} ${digestOf(t)} 2`).join('\n');
  expectExit(
    await sandbox.tufa(['sign', BINNED, '--bulk', '-'], {
      input: bulk,
      env: { TUFA_HASH_BIN_THRESHOLD: '3' },
    }),
    0,
  );
});
afterAll(() => sandbox.cleanup());

describe('tufa status: the whole delegation tree', () => {
  it('lists delegated roles after the top-level ones, with who delegates to them', async () => {
    const v = expectJson<Status>(await sandbox.tufa(['--json', 'status', GUN]));
    expect(v.roles.map((r) => [r.role, r.delegatedBy])).toEqual([
      ['root', null],
      ['targets', null],
      ['snapshot', null],
      ['timestamp', null],
      ['team', 'targets'],
    ]);
    expect(v.check).toBeUndefined();
  });

  it('lists every hash bin in JSON and sums them up in one line for people', async () => {
    const v = expectJson<Status>(await sandbox.tufa(['--json', 'status', BINNED]));
    const bins = v.roles.filter((r) => r.hashBin);
    expect(bins.length).toBeGreaterThan(1);
    expect(bins.every((r) => r.delegatedBy === 'targets' && /^bins-[0-9a-f]+$/.test(r.role))).toBe(true);
    const text = expectExit(await sandbox.tufa(['status', BINNED]), 0).stdout;
    expect(text).toMatch(
      new RegExp(
        `\\n  ${bins.length} hash bins \\(${bins[0]?.role} … ${bins.at(-1)?.role}\\), delegated by targets: the first expires \\S+ \\(in \\d+ days\\)\\n`,
      ),
    );
    expect(text).not.toMatch(/^ {2}bins-/m);
  });
});

describe('tufa status --check', () => {
  it('exits 0 when every role is signed and far from expiry', async () => {
    const r = expectExit(await sandbox.tufa(['status', GUN, '--check']), 0);
    expect(r.stdout).toContain('check: every role is signed and none expires within its warning period\n');
    const v = expectJson<Status>(await sandbox.tufa(['--json', 'status', GUN, '--check']));
    expect(v.check).toEqual({ ok: true, due: [], unverified: [] });
  });

  it('exits 9 and names the role when one expires within --within', async () => {
    const r = expectExit(await sandbox.tufa(['status', GUN, '--check', '--within', 'timestamp=2d']), 9);
    expect(r.stdout).toMatch(/^ {2}timestamp .* DUE {2}1\/1 signatures$/m);
    expect(r.stdout).toContain('check: 1 role needs attention: timestamp\n');
  });

  it('--within a delegated role by name, or every delegated role (hash bins too) as "delegated"', async () => {
    const one = expectJson<Status>(
      await sandbox.tufa(['--json', 'status', GUN, '--check', '--within', 'team=3650d']),
      9,
    );
    expect(one.check?.due).toEqual(['team']);
    const all = expectJson<Status>(
      await sandbox.tufa(['--json', 'status', BINNED, '--check', '--within', 'delegated=3650d']),
      9,
    );
    const bins = all.roles.filter((r) => r.hashBin).map((r) => r.role);
    expect(all.check?.due).toEqual(bins);
  });

  it('uses the documented defaults: the timestamp is due six hours before it expires', async () => {
    // The timestamp lives a day: 19 hours later it has 5 hours left, inside its 6-hour period.
    const v = expectJson<Status>(await later(19 * 3600, ['--json', 'status', GUN, '--check']), 9);
    expect(v.check?.due).toEqual(['timestamp']);
    const early = expectJson<Status>(await later(17 * 3600, ['--json', 'status', GUN, '--check']));
    expect(early.check?.ok).toBe(true);
  });

  it('an expired role says EXPIRED with how long ago, bins included, and exits 9', async () => {
    const r = expectExit(await later(400 * DAY, ['status', BINNED, '--check']), 9);
    expect(r.stdout).toMatch(/^ {2}timestamp .* \(\d+ days ago\) EXPIRED/m);
    expect(r.stdout).toMatch(/^ {2}bins-[0-9a-f]+ .* EXPIRED/m);
    const v = expectJson<Status>(await later(400 * DAY, ['--json', 'status', BINNED, '--check']), 9);
    expect(v.roles.every((x) => x.expired && x.due && x.expiresIn < 0)).toBe(true);
  });

  it('exits 3 when a role no longer meets its threshold', async () => {
    const other = 'registry.example.com/team/broken';
    expectExit(await sandbox.tufa(['init', other, '--publish-root', 'pub', '--root-key-out', 'offline']), 0);
    const file = join(metadataDir(sandbox.path('pub'), other), 'timestamp.json');
    const ts = JSON.parse(readFileSync(file, 'utf8'));
    ts.signatures = [];
    writeFileSync(file, JSON.stringify(ts));
    const v = expectJson<Status>(await sandbox.tufa(['--json', 'status', other, '--check']), 3);
    expect(v.check).toEqual({ ok: false, due: [], unverified: ['timestamp'] });
  });

  it('refuses a bad --within, and --within without --check (exit 2)', async () => {
    expectError(
      await sandbox.tufa(['status', GUN, '--check', '--within', 'timestamp=6 hours']),
      2,
      '--within timestamp: expected a duration such as 6h, 14d or 2w (a whole number and one of s m h d w), found "6 hours"',
      'tufa status GUN --check --within timestamp=6h',
    );
    expectError(
      await sandbox.tufa(['status', GUN, '--check', '--within', '6h']),
      2,
      '--within: expected ROLE=DURATION, found "6h"',
    );
    expectError(
      await sandbox.tufa(['status', GUN, '--within', 'timestamp=6h']),
      2,
      '--within applies to --check only',
    );
  });
});

describe('expired metadata on the client side says who has to act', () => {
  it("an expired timestamp names the publisher's timestamp job; an expired root names the root holders", async () => {
    const root = join(metadataDir(sandbox.path('pub'), GUN), '1.root.json');
    const verify = ['verify', '--server', 'pub', '--root', root, `${GUN}:team-1`];
    expectExit(await sandbox.tufa(verify), 0);
    const ts = await later(2 * DAY, verify);
    expectError(ts, 3, 'timestamp version');
    expect(ts.stderr).toContain("Hint: the publisher's timestamp job has stopped");
    const json = expectJson<{ error: { code: string; hint: string } }>(
      await later(2 * DAY, ['--json', ...verify]),
      3,
    );
    expect(json.error).toMatchObject({
      code: 'EXPIRED',
      hint: expect.stringContaining('tufa timestamp GUN'),
    });
    const rootExpired = await later(800 * DAY, verify);
    expectError(rootExpired, 3, 'root version 1 expired');
    expect(rootExpired.stderr).toContain('Hint: the root holders must sign a new root version');
  });
});
